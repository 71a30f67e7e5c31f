//! `vault check` through the real binary: good, damaged and incomplete vaults, folders of
//! them, keys right and wrong, and every bad-usage case with its exit code.

mod common;

use common::{
    USER_ROWS, chunk_count, drop_manifest, flip_chunk_byte, key_file, make_vault, passphrase, s,
    swap_chunks, text_file, vault,
};
use vault::env_vars::{VAULT_KEY_FILE, VAULT_PASSPHRASE};

#[test]
fn an_intact_vault_is_ok_without_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let (_, key) = key_file(dir.path(), "k");
    let file = dir.path().join("a.vault");
    make_vault(&file, &[&key]);

    let run = vault(["check", s(&file)], &[]).expect(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", run.stdout);
    assert!(lines[0].starts_with("ok "), "{}", lines[0]);
    assert!(lines[0].contains(s(&file)));
    assert!(lines[0].contains("2 streams, "), "{}", lines[0]);
    assert!(
        lines[0].contains(&format!("{} rows", USER_ROWS + 1)),
        "{}",
        lines[0]
    );
    assert_eq!(
        lines[1],
        "1 checked (structure only, no key): 1 intact, 0 damaged, 0 wrong key, 0 could not be read"
    );
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

#[test]
fn a_flipped_byte_is_damage_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let (_, key) = key_file(dir.path(), "k");
    let file = dir.path().join("a.vault");
    make_vault(&file, &[&key]);
    flip_chunk_byte(&file, 0, 1);

    let run = vault(["check", s(&file)], &[]).expect(3);
    let first = run.stdout.lines().next().unwrap();
    assert!(first.starts_with("DAMAGED "), "{first}");
    assert!(
        first.ends_with(
            "[damaged] stream \"camis.app_user\" chunk 1: its checksum does not match: the stored bytes changed"
        ),
        "{first}"
    );
    assert!(
        run.stdout
            .contains("1 checked (structure only, no key): 0 intact, 1 damaged")
    );
}

#[test]
fn a_folder_is_checked_vault_by_vault_with_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let (_, key) = key_file(dir.path(), "k");
    let store = dir.path().join("store");
    std::fs::create_dir(&store).unwrap();
    make_vault(&store.join("1-good.vault"), &[&key]);
    make_vault(&store.join("2-damaged.vault"), &[&key]);
    flip_chunk_byte(&store.join("2-damaged.vault"), 1, 0);
    make_vault(&store.join("3-incomplete.vault"), &[&key]);
    drop_manifest(&store.join("3-incomplete.vault"));
    text_file(&store, "4-not-a-vault.vault", "just text\n");
    text_file(&store, "notes.txt", "not checked: wrong extension\n");
    std::fs::create_dir(store.join("archive")).unwrap();
    make_vault(&store.join("archive/old.vault"), &[&key]);
    flip_chunk_byte(&store.join("archive/old.vault"), 0, 0);

    let run = vault(["check", s(&store)], &[]).expect(3);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines.len(),
        5,
        "sub-folders and other files are skipped: {}",
        run.stdout
    );
    assert!(lines[0].starts_with("ok ") && lines[0].contains("1-good.vault"));
    assert!(lines[1].starts_with("DAMAGED ") && lines[1].contains("2-damaged.vault"));
    assert!(lines[1].contains("[damaged] stream \"portal.document\" chunk 0"));
    assert!(lines[2].starts_with("DAMAGED ") && lines[2].contains("[incomplete]"));
    assert!(lines[3].starts_with("DAMAGED ") && lines[3].contains("[not-a-vault]"));
    assert_eq!(
        lines[4],
        "4 checked (structure only, no key): 1 intact, 3 damaged, 0 wrong key, 0 could not be read"
    );
}

#[test]
fn read_data_with_the_right_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let (key_path, key) = key_file(dir.path(), "k");
    let file = dir.path().join("a.vault");
    make_vault(&file, &[&key]);

    let run = vault(
        ["check", "--read-data", "--key-file", s(&key_path), s(&file)],
        &[],
    )
    .expect(0);
    assert!(run.stdout.starts_with("ok "), "{}", run.stdout);
    assert!(run.stdout.contains(
        "1 checked (structure and every chunk decrypted): 1 intact, 0 damaged, 0 wrong key"
    ));
    // The same key from the environment.
    vault(
        ["check", "--read-data", s(&file)],
        &[(VAULT_KEY_FILE, s(&key_path))],
    )
    .expect(0);
}

#[test]
fn read_data_finds_what_the_structure_cannot() {
    let dir = tempfile::tempdir().unwrap();
    let (key_path, key) = key_file(dir.path(), "k");
    let file = dir.path().join("a.vault");
    make_vault(&file, &[&key]);
    assert!(chunk_count(&file, 0) >= 3, "the test needs two full chunks");
    swap_chunks(&file, 0, 0, 1);

    vault(["check", s(&file)], &[]).expect(0);
    let run = vault(
        ["check", "--read-data", "--key-file", s(&key_path), s(&file)],
        &[],
    )
    .expect(3);
    let first = run.stdout.lines().next().unwrap();
    assert!(first.starts_with("DAMAGED "), "{first}");
    assert!(
        first.contains("[damaged] stream \"camis.app_user\" chunk 0: fails authentication"),
        "{first}"
    );
}

#[test]
fn a_wrong_key_says_wrong_key_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let (_, key) = key_file(dir.path(), "k");
    let (other_path, _) = key_file(dir.path(), "other");
    let file = dir.path().join("a.vault");
    make_vault(&file, &[&key]);

    let run = vault(
        [
            "check",
            "--read-data",
            "--key-file",
            s(&other_path),
            s(&file),
        ],
        &[],
    )
    .expect(1);
    let first = run.stdout.lines().next().unwrap();
    assert!(first.starts_with("WRONG KEY "), "{first}");
    assert!(
        first.contains("[wrong-key] wrong key: the key file (fingerprint "),
        "{first}"
    );
    assert!(
        !run.stdout.to_lowercase().contains("damaged:"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains(": 0 intact, 0 damaged, 1 wrong key, 0 could not be read")
    );
}

#[test]
fn damage_outranks_a_wrong_key() {
    let dir = tempfile::tempdir().unwrap();
    let (key_path, key) = key_file(dir.path(), "k");
    let (_, other) = key_file(dir.path(), "other");
    let store = dir.path().join("store");
    std::fs::create_dir(&store).unwrap();
    make_vault(&store.join("a.vault"), &[&key]);
    flip_chunk_byte(&store.join("a.vault"), 0, 0);
    make_vault(&store.join("b.vault"), &[&other]);

    let run = vault(
        [
            "check",
            "--read-data",
            "--key-file",
            s(&key_path),
            s(&store),
        ],
        &[],
    )
    .expect(3);
    assert!(
        run.stdout
            .contains(": 0 intact, 1 damaged, 1 wrong key, 0 could not be read")
    );
}

#[test]
fn passphrases_from_the_environment_and_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.vault");
    make_vault(&file, &[&passphrase("correct horse battery staple")]);
    let pass_file = text_file(dir.path(), "pass", "correct horse battery staple\n");

    vault(
        ["check", "--read-data", s(&file)],
        &[(VAULT_PASSPHRASE, "correct horse battery staple")],
    )
    .expect(0);
    vault(
        [
            "check",
            "--read-data",
            "--passphrase-file",
            s(&pass_file),
            s(&file),
        ],
        &[],
    )
    .expect(0);
}

#[test]
fn a_wrong_passphrase_is_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.vault");
    make_vault(&file, &[&passphrase("correct horse battery staple")]);
    let secret = "Tr0ub4dor&3-wrong";

    let run = vault(
        ["check", "--read-data", s(&file)],
        &[(VAULT_PASSPHRASE, secret)],
    )
    .expect(1);
    assert!(run.stdout.contains("WRONG KEY"), "{}", run.stdout);
    assert!(
        run.stdout.contains("wrong key: the passphrase opens none"),
        "{}",
        run.stdout
    );
    for output in [&run.stdout, &run.stderr] {
        assert!(!output.contains(secret), "the passphrase leaked: {output}");
        assert!(
            !output.contains("correct horse"),
            "the passphrase leaked: {output}"
        );
    }
    // The same for a command that stops on the wrong key.
    let (new_key, _) = key_file(dir.path(), "new");
    let run = vault(
        ["key", "add", s(&file), "--new-key-file", s(&new_key)],
        &[(VAULT_PASSPHRASE, secret)],
    )
    .expect(1);
    assert!(
        run.error_line().starts_with("wrong key: "),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(secret) && !run.stdout.contains(secret));
}

#[test]
fn read_data_without_a_key_is_bad_usage() {
    let dir = tempfile::tempdir().unwrap();
    let (_, key) = key_file(dir.path(), "k");
    let file = dir.path().join("a.vault");
    make_vault(&file, &[&key]);

    let run = vault(["check", "--read-data", s(&file)], &[]).expect(2);
    assert_eq!(
        run.error_line(),
        "`vault check --read-data` needs the vault's key, and none was given"
    );
    assert!(
        run.stderr.contains("hint: give --key-file PATH"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "nothing is checked: {}", run.stdout);
}

#[test]
fn a_key_option_without_read_data_is_bad_usage() {
    let dir = tempfile::tempdir().unwrap();
    let (key_path, key) = key_file(dir.path(), "k");
    let file = dir.path().join("a.vault");
    make_vault(&file, &[&key]);

    let run = vault(["check", "--key-file", s(&key_path), s(&file)], &[]).expect(2);
    assert_eq!(run.error_line(), "--key-file is used only with --read-data");
    // A variable set for other commands is not an error.
    vault(["check", s(&file)], &[(VAULT_KEY_FILE, s(&key_path))]).expect(0);
}

#[test]
fn bad_paths_are_bad_usage_before_anything_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let (_, key) = key_file(dir.path(), "k");
    let file = dir.path().join("a.vault");
    make_vault(&file, &[&key]);
    let missing = dir.path().join("missing.vault");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();

    let run = vault(["check", s(&file), s(&missing)], &[]).expect(2);
    assert_eq!(
        run.error_line(),
        format!("{} does not exist", missing.display())
    );
    assert!(run.stdout.is_empty(), "{}", run.stdout);

    let run = vault(["check", s(&empty)], &[]).expect(2);
    assert_eq!(
        run.error_line(),
        format!("{} holds no .vault files", empty.display())
    );

    let run = vault(["check"], &[]).expect(2);
    assert!(
        run.stderr.contains("<PATH>"),
        "clap names the missing argument: {}",
        run.stderr
    );
}

#[test]
fn two_key_sources_are_bad_usage() {
    let dir = tempfile::tempdir().unwrap();
    let (key_path, key) = key_file(dir.path(), "k");
    let file = dir.path().join("a.vault");
    make_vault(&file, &[&key]);
    let pass_file = text_file(dir.path(), "pass", "pw\n");

    let run = vault(
        ["check", "--read-data", "--key-file", s(&key_path), s(&file)],
        &[(VAULT_PASSPHRASE, "pw")],
    )
    .expect(2);
    assert_eq!(
        run.error_line(),
        "more than one key given (--key-file and VAULT_PASSPHRASE); give exactly one"
    );
    let run = vault(
        [
            "check",
            "--read-data",
            "--key-file",
            s(&key_path),
            "--passphrase-file",
            s(&pass_file),
            s(&file),
        ],
        &[],
    )
    .expect(2);
    assert_eq!(
        run.error_line(),
        "more than one key given (--key-file and --passphrase-file); give exactly one"
    );
}

#[test]
fn a_passphrase_is_never_an_argument() {
    let dir = tempfile::tempdir().unwrap();
    let (_, key) = key_file(dir.path(), "k");
    let file = dir.path().join("a.vault");
    make_vault(&file, &[&key]);
    let run = vault(
        ["check", "--read-data", "--passphrase", "pw", s(&file)],
        &[],
    )
    .expect(2);
    assert!(
        run.stderr.contains("unexpected argument '--passphrase'"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_missing_or_invalid_key_file_is_bad_usage() {
    let dir = tempfile::tempdir().unwrap();
    let (_, key) = key_file(dir.path(), "k");
    let file = dir.path().join("a.vault");
    make_vault(&file, &[&key]);
    let missing = dir.path().join("no-such-key");
    let garbage = text_file(dir.path(), "garbage", "not a key\n");

    let run = vault(
        ["check", "--read-data", "--key-file", s(&missing), s(&file)],
        &[],
    )
    .expect(2);
    assert!(
        run.error_line().starts_with(&format!(
            "cannot read the key file {} (from --key-file): ",
            missing.display()
        )),
        "{}",
        run.stderr
    );
    let run = vault(
        ["check", "--read-data", s(&file)],
        &[(VAULT_KEY_FILE, s(&garbage))],
    )
    .expect(2);
    assert!(
        run.error_line()
            .starts_with(&format!("invalid key file {}: ", garbage.display())),
        "{}",
        run.stderr
    );
    assert!(
        run.error_line().ends_with("(from VAULT_KEY_FILE)"),
        "{}",
        run.stderr
    );
}
