//! `vault keygen`, `vault key add` and `vault key remove` through the real binary.

mod common;

use common::{key_file, make_vault, passphrase, s, text_file, vault};
use vault::env_vars::{VAULT_KEY_FILE, VAULT_NEW_PASSPHRASE, VAULT_PASSPHRASE};

fn slots_of(file: &std::path::Path) -> Vec<serde_json::Value> {
    let run = vault(["inspect", "--json", s(file)], &[]).expect(0);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    json["key_slots"].as_array().unwrap().clone()
}

fn public_key_of(file: &std::path::Path) -> serde_json::Value {
    let run = vault(["inspect", "--json", s(file)], &[]).expect(0);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    json["public_key"].clone()
}

#[test]
fn keygen_writes_a_private_key_file_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("acc.key");

    let run = vault(["keygen", "--out", s(&path)], &[]).expect(0);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("vault-key-v1:") && text.ends_with('\n'),
        "{text}"
    );
    let key = vault_format::FileKey::parse(&text).unwrap();
    let fingerprint = hex::encode(key.fingerprint());
    assert!(
        run.stdout.starts_with(&format!(
            "wrote key file {} (fingerprint {fingerprint})",
            path.display()
        )),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains(text.trim()), "the key is not printed");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    }

    let run = vault(["keygen", "--out", s(&path)], &[]).expect(2);
    assert_eq!(
        run.error_line(),
        format!(
            "{} already exists; refusing to overwrite a key file",
            path.display()
        )
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "untouched");
}

#[test]
fn keygen_needs_out() {
    let run = vault(["keygen"], &[]).expect(2);
    assert!(run.stderr.contains("--out <KEYFILE>"), "{}", run.stderr);
}

#[test]
fn a_key_file_slot_added_opens_the_vault() {
    let dir = tempfile::tempdir().unwrap();
    let (old_path, old) = key_file(dir.path(), "old.key");
    let file = dir.path().join("a.vault");
    make_vault(&file, &[&old]);
    let new_path = dir.path().join("new.key");
    vault(["keygen", "--out", s(&new_path)], &[]).expect(0);
    let public_key_before = public_key_of(&file);

    // Before: the new key does not open it.
    vault(
        ["check", "--read-data", "--key-file", s(&new_path), s(&file)],
        &[],
    )
    .expect(1);
    let run = vault(
        ["key", "add", s(&file), "--new-key-file", s(&new_path)],
        &[(VAULT_KEY_FILE, s(&old_path))],
    )
    .expect(0);
    assert!(
        run.stdout.starts_with("added key slot 2 (key file "),
        "{}",
        run.stdout
    );
    vault(
        ["check", "--read-data", "--key-file", s(&new_path), s(&file)],
        &[],
    )
    .expect(0);
    vault(
        ["check", "--read-data", "--key-file", s(&old_path), s(&file)],
        &[],
    )
    .expect(0);
    assert_eq!(slots_of(&file).len(), 2);
    // The public key that checks the vault's reports is the same: every
    // slot opens the same data key, from which it is derived.
    assert_eq!(public_key_of(&file), public_key_before);
    assert_eq!(public_key_before.as_str().map(str::len), Some(64));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_passphrase_slot_added_opens_the_vault() {
    let dir = tempfile::tempdir().unwrap();
    let (key_path, key) = key_file(dir.path(), "k");
    let file = dir.path().join("a.vault");
    make_vault(&file, &[&key]);
    let secret = "a long acceptance passphrase";

    // Default Argon2id costs here (64 MiB): the one slow test.
    let run = vault(
        ["key", "add", s(&file), "--key-file", s(&key_path)],
        &[(VAULT_NEW_PASSPHRASE, secret)],
    )
    .expect(0);
    assert_eq!(
        run.stdout,
        format!("added key slot 2 (passphrase) to {}\n", file.display())
    );
    assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret));
    let slots = slots_of(&file);
    assert_eq!(slots[1]["kind"], "passphrase");
    assert_eq!(slots[1]["m_cost_kib"], 65536);
    vault(
        ["check", "--read-data", s(&file)],
        &[(VAULT_PASSPHRASE, secret)],
    )
    .expect(0);
}

#[test]
fn a_new_passphrase_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.vault");
    make_vault(&file, &[&passphrase("old pass")]);
    let old = text_file(dir.path(), "old", "old pass\n");
    let (new_key, _) = key_file(dir.path(), "new.key");

    // Unlock with a passphrase file, add a key file.
    vault(
        [
            "key",
            "add",
            s(&file),
            "--passphrase-file",
            s(&old),
            "--new-key-file",
            s(&new_key),
        ],
        &[],
    )
    .expect(0);
    vault(
        ["check", "--read-data", "--key-file", s(&new_key), s(&file)],
        &[],
    )
    .expect(0);
}

#[test]
fn key_add_needs_both_keys() {
    let dir = tempfile::tempdir().unwrap();
    let (key_path, key) = key_file(dir.path(), "k");
    let file = dir.path().join("a.vault");
    make_vault(&file, &[&key]);
    let (new_path, _) = key_file(dir.path(), "new.key");

    let run = vault(["key", "add", s(&file), "--key-file", s(&key_path)], &[]).expect(2);
    assert_eq!(run.error_line(), "no new key given");
    let run = vault(
        ["key", "add", s(&file), "--new-key-file", s(&new_path)],
        &[],
    )
    .expect(2);
    assert_eq!(
        run.error_line(),
        "`vault key add` needs the vault's key, and none was given"
    );
    let run = vault(
        [
            "key",
            "add",
            s(&file),
            "--key-file",
            s(&key_path),
            "--new-key-file",
            s(&new_path),
        ],
        &[(VAULT_NEW_PASSPHRASE, "pw")],
    )
    .expect(2);
    assert_eq!(
        run.error_line(),
        "more than one key given (--new-key-file and VAULT_NEW_PASSPHRASE); give exactly one"
    );
    assert_eq!(slots_of(&file).len(), 1, "nothing changed");
}

#[test]
fn key_add_refuses_a_key_file_that_already_has_a_slot() {
    let dir = tempfile::tempdir().unwrap();
    let (key_path, key) = key_file(dir.path(), "k");
    let file = dir.path().join("a.vault");
    make_vault(&file, &[&key]);

    let run = vault(
        [
            "key",
            "add",
            s(&file),
            "--key-file",
            s(&key_path),
            "--new-key-file",
            s(&key_path),
        ],
        &[],
    )
    .expect(2);
    assert!(
        run.error_line()
            .starts_with("the new key file (fingerprint ")
            && run.error_line().contains("already opens key slot 1 of"),
        "{}",
        run.stderr
    );
}

#[test]
fn key_add_on_a_missing_vault() {
    let dir = tempfile::tempdir().unwrap();
    let (key_path, _) = key_file(dir.path(), "k");
    let missing = dir.path().join("missing.vault");
    let run = vault(
        [
            "key",
            "add",
            s(&missing),
            "--key-file",
            s(&key_path),
            "--new-key-file",
            s(&key_path),
        ],
        &[],
    )
    .expect(2);
    assert_eq!(
        run.error_line(),
        format!("{} does not exist", missing.display())
    );
}

#[test]
fn rotate_a_key_with_add_then_remove() {
    let dir = tempfile::tempdir().unwrap();
    let (old_path, old) = key_file(dir.path(), "old.key");
    let file = dir.path().join("a.vault");
    make_vault(&file, &[&old]);
    let (new_path, _) = key_file(dir.path(), "new.key");

    vault(
        [
            "key",
            "add",
            s(&file),
            "--key-file",
            s(&old_path),
            "--new-key-file",
            s(&new_path),
        ],
        &[],
    )
    .expect(0);
    let run = vault(
        ["key", "remove", s(&file), "1", "--key-file", s(&new_path)],
        &[],
    )
    .expect(0);
    assert!(
        run.stdout.starts_with(&format!(
            "removed key slot 1 from {}; remaining: slot 2 (key file ",
            file.display()
        )),
        "{}",
        run.stdout
    );
    let slots = slots_of(&file);
    assert_eq!(slots.len(), 1);
    assert_eq!(slots[0]["slot"], 2);
    vault(
        ["check", "--read-data", "--key-file", s(&new_path), s(&file)],
        &[],
    )
    .expect(0);
    let run = vault(
        ["check", "--read-data", "--key-file", s(&old_path), s(&file)],
        &[],
    )
    .expect(1);
    assert!(run.stdout.starts_with("WRONG KEY "), "{}", run.stdout);
}

#[test]
fn the_last_slot_is_never_removed() {
    let dir = tempfile::tempdir().unwrap();
    let (key_path, key) = key_file(dir.path(), "k");
    let file = dir.path().join("a.vault");
    make_vault(&file, &[&key]);

    let run = vault(
        ["key", "remove", s(&file), "1", "--key-file", s(&key_path)],
        &[],
    )
    .expect(4);
    assert_eq!(
        run.error_line(),
        "refusing to remove key slot 1: it is the vault's last key slot"
    );
    assert!(
        run.stderr.contains("hint: add another slot first"),
        "{}",
        run.stderr
    );
    assert_eq!(slots_of(&file).len(), 1);
}

#[test]
fn the_slot_of_the_only_key_given_is_not_removed() {
    let dir = tempfile::tempdir().unwrap();
    let (a_path, a) = key_file(dir.path(), "a.key");
    let (_, b) = key_file(dir.path(), "b.key");
    let file = dir.path().join("a.vault");
    make_vault(&file, &[&a, &b]);

    let run = vault(
        ["key", "remove", s(&file), "1", "--key-file", s(&a_path)],
        &[],
    )
    .expect(4);
    assert_eq!(
        run.error_line(),
        "refusing to remove key slot 1: the key given opens only this slot; give a key of a slot that stays"
    );
    assert_eq!(slots_of(&file).len(), 2);
}

#[test]
fn key_remove_bad_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let (a_path, a) = key_file(dir.path(), "a.key");
    let (_, b) = key_file(dir.path(), "b.key");
    let (other_path, _) = key_file(dir.path(), "other.key");
    let file = dir.path().join("a.vault");
    make_vault(&file, &[&a, &b]);

    let run = vault(
        ["key", "remove", s(&file), "7", "--key-file", s(&a_path)],
        &[],
    )
    .expect(2);
    assert_eq!(run.error_line(), "key slot 7 does not exist");
    assert!(
        run.stderr
            .contains("hint: list the key slots with `vault inspect`")
    );

    let run = vault(
        ["key", "remove", s(&file), "2", "--key-file", s(&other_path)],
        &[],
    )
    .expect(1);
    assert!(
        run.error_line().starts_with("wrong key: "),
        "{}",
        run.stderr
    );

    let run = vault(["key", "remove", s(&file), "2"], &[]).expect(2);
    assert_eq!(
        run.error_line(),
        "`vault key remove` needs the vault's key, and none was given"
    );

    let run = vault(
        ["key", "remove", s(&file), "two", "--key-file", s(&a_path)],
        &[],
    )
    .expect(2);
    assert!(run.stderr.contains("invalid value 'two'"), "{}", run.stderr);
    assert_eq!(slots_of(&file).len(), 2, "nothing changed");
}
