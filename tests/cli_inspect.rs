//! `vault inspect` through the real binary: text, JSON, incomplete vaults, files that are not vaults.

mod common;

use common::{
    USER_ROWS, chunk_count, drop_manifest, key_file, make_vault, make_vault_version, passphrase, s,
    text_file, vault,
};

#[test]
fn inspect_shows_the_plaintext_structure() {
    let dir = tempfile::tempdir().unwrap();
    let (_, key) = key_file(dir.path(), "k");
    let file = dir.path().join("a.vault");
    make_vault(&file, &[&key, &passphrase("pw")]);

    let run = vault(["inspect", s(&file)], &[]).expect(0);
    let text = &run.stdout;
    for expected in [
        "format       version 2",
        "written by   vault tests",
        "source       sqlite tests/acceptance.db",
        "chunk size   4.0 KiB",
        "state        committed",
        "streams (2)",
        "camis.app_user",
        "portal.document",
        "key slots (2)",
        "slot 1  key file    fingerprint ",
        "slot 2  passphrase  argon2id t=1 m=64.0 KiB p=1",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    let created = text.lines().find(|l| l.starts_with("created ")).unwrap();
    assert!(created.ends_with('Z') && created.contains('T'), "{created}");
    // The public key is shown without a key, and it is the one the vault's
    // key derives (the one that checks its reports).
    let unlocked = vault_format::Vault::open(&file)
        .unwrap()
        .unlock(&key)
        .unwrap();
    let public_key = unlocked.signing_key().unwrap().public_key().to_hex();
    assert!(
        text.contains(&format!("public key   {public_key}\n")),
        "{public_key} not in\n{text}"
    );
}

#[test]
fn inspect_says_a_version_1_vault_has_no_public_key() {
    let dir = tempfile::tempdir().unwrap();
    let (_, key) = key_file(dir.path(), "k");
    let file = dir.path().join("old.vault");
    make_vault_version(&file, &[&key], 1);

    let text = vault(["inspect", s(&file)], &[]).expect(0).stdout;
    assert!(text.contains("format       version 1"), "{text}");
    assert!(
        text.contains(
            "public key   none (format version 1: its reports are verified with the vault's key)"
        ),
        "{text}"
    );
    let run = vault(["inspect", "--json", s(&file)], &[]).expect(0);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["format_version"], 1);
    assert_eq!(json["public_key"], serde_json::Value::Null);
}

#[test]
fn inspect_json_has_stable_fields_and_exact_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (key_path, key) = key_file(dir.path(), "k");
    let file = dir.path().join("a.vault");
    make_vault(&file, &[&key, &passphrase("pw")]);

    let run = vault(["inspect", "--json", s(&file)], &[]).expect(0);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["format_version"], 2);
    assert_eq!(json["public_key"].as_str().unwrap().len(), 64);
    assert_eq!(json["vault_id"].as_str().unwrap().len(), 32);
    assert_eq!(json["tool_version"], "vault tests");
    assert_eq!(json["source"], "sqlite tests/acceptance.db");
    assert_eq!(json["chunk_size"], 4096);
    assert_eq!(json["committed"], true);
    let created = json["created"].as_str().unwrap();
    assert!(created.ends_with('Z'), "{created}");
    assert!(json["created_unix"].as_i64().unwrap() > 1_700_000_000);

    let streams = json["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 2);
    assert_eq!(streams[0]["index"], 0);
    assert_eq!(streams[0]["name"], "camis.app_user");
    assert_eq!(streams[0]["rows"], USER_ROWS);
    assert_eq!(streams[0]["chunks"], chunk_count(&file, 0));
    assert_eq!(streams[1]["name"], "portal.document");
    assert_eq!(streams[1]["plain_bytes"], "%PDF-1.7 trial document".len());
    assert_eq!(
        streams[1]["stored_bytes"],
        "%PDF-1.7 trial document".len() + 16
    );
    assert_eq!(json["totals"]["rows"], USER_ROWS + 1);
    assert_eq!(json["totals"]["streams"], 2);

    let slots = json["key_slots"].as_array().unwrap();
    assert_eq!(slots[0]["kind"], "key-file");
    assert_eq!(slots[0]["slot"], 1);
    let key_text = std::fs::read_to_string(&key_path).unwrap();
    let vault_format::KeyMaterial::KeyFile(parsed) = key else {
        unreachable!()
    };
    assert_eq!(slots[0]["fingerprint"], hex::encode(parsed.fingerprint()));
    assert!(
        !run.stdout.contains(key_text.trim()),
        "no key bytes in the output"
    );
    assert_eq!(slots[1]["kind"], "passphrase");
    assert_eq!(slots[1]["slot"], 2);
    assert_eq!(slots[1]["t_cost"], 1);
    assert_eq!(slots[1]["m_cost_kib"], 64);
    assert_eq!(slots[1]["parallelism"], 1);
}

#[test]
fn inspect_shows_an_incomplete_vault_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let (_, key) = key_file(dir.path(), "k");
    let file = dir.path().join("a.vault");
    make_vault(&file, &[&key]);
    drop_manifest(&file);

    let run = vault(["inspect", s(&file)], &[]).expect(0);
    assert!(
        run.stdout.contains("state        INCOMPLETE"),
        "{}",
        run.stdout
    );
    let run = vault(["inspect", "--json", s(&file)], &[]).expect(0);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["committed"], false);
}

#[test]
fn inspect_refuses_what_is_not_a_vault() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.vault");
    let run = vault(["inspect", s(&missing)], &[]).expect(2);
    assert_eq!(
        run.error_line(),
        format!("{} does not exist", missing.display())
    );

    let text = text_file(dir.path(), "notes.vault", "hello\n");
    let run = vault(["inspect", s(&text)], &[]).expect(3);
    assert_eq!(
        run.error_line(),
        "not a vault file: it is not a SQLite database"
    );
    assert!(
        run.stderr.contains("hint: check the path"),
        "{}",
        run.stderr
    );
}
