//! Hostile files that try to make a reader without a key build large values
//! or run SQL before anything is authenticated: values over their bounds
//! (SPEC.md section 2.2), and tables, indexes, views and triggers that a
//! vault does not have (section 2.1).
//!
//! Each file starts as a valid vault from the crate's writer and is then
//! changed with plain rusqlite, as an attacker would.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use vault_format::{
    FileKey, KeyMaterial, Vault, VaultError, VaultWriter, WriterOptions, check_deep,
    check_structure, vault_error_of,
};

const KEY: &str = "vault-key-v1:5d0c1e2f3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f";
const CHUNK_SIZE: u32 = 4096;

fn key() -> KeyMaterial {
    KeyMaterial::KeyFile(FileKey::parse(KEY).unwrap())
}

/// Writes a valid vault of two streams at `path`, the first named `first_name`.
fn write_vault(path: &Path, first_name: &str) {
    let options = WriterOptions {
        source: "sqlite demo/acceptance.db".into(),
        chunk_size: CHUNK_SIZE,
        ..WriterOptions::default()
    };
    let writer = VaultWriter::create(path, options, &[&key()]).unwrap();
    for (name, bytes) in [
        (first_name, b"id\tname\n".repeat(1000)),
        ("audit", b"x".repeat(10)),
    ] {
        let mut stream = writer.stream(name, serde_json::Value::Null).unwrap();
        stream.write_all(&bytes).unwrap();
        stream.finish().unwrap();
    }
    writer.finish().unwrap();
}

/// A valid vault in `dir`, changed by the SQL `change`.
fn hostile(dir: &Path, name: &str, change: &str) -> PathBuf {
    let path = dir.join(format!("{name}.vault"));
    write_vault(&path, "app_user");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(change)
        .unwrap_or_else(|e| panic!("{name}: {change}: {e}"));
    conn.close().unwrap();
    path
}

/// Opens, unlocks and reads every stream to its end.
fn read_all(path: &Path) -> Result<(), VaultError> {
    let unlocked = Vault::open(path)?.unlock(&key())?;
    for entry in &unlocked.manifest().streams {
        let mut sink = Vec::new();
        unlocked
            .stream(&entry.name)?
            .read_to_end(&mut sink)
            .map_err(vault_error_of)?;
    }
    Ok(())
}

/// The error of `result`, which must be `code` with a message holding every one of `phrases`.
fn assert_refused<T>(result: Result<T, VaultError>, code: &str, phrases: &[&str], what: &str) {
    let error = match result {
        Ok(_) => panic!("{what}: accepted, expected {code}"),
        Err(error) => error,
    };
    let text = error.to_string();
    assert_eq!(error.code(), code, "{what}: {text}");
    for phrase in phrases {
        assert!(
            text.contains(phrase),
            "{what}: \"{text}\" lacks \"{phrase}\""
        );
    }
}

#[test]
fn a_key_slot_checksum_of_300_mib_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = hostile(
        dir.path(),
        "big-slot-checksum",
        "UPDATE key_slot SET checksum = zeroblob(300 * 1024 * 1024) WHERE slot = 1",
    );
    let phrases = [
        "key slot 1",
        "key_slot.checksum",
        "314572800 bytes",
        "bound of 32",
    ];
    assert_refused(Vault::open(&path), "length-out-of-bounds", &phrases, "open");
    assert_refused(
        check_structure(&path),
        "length-out-of-bounds",
        &phrases,
        "check",
    );
    assert_refused(
        check_deep(&path, &key()),
        "length-out-of-bounds",
        &phrases,
        "check with the key",
    );
}

#[test]
fn every_value_over_its_bound_is_refused_naming_the_column_and_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    // (column, bound, SQL that stores one byte more)
    let cases = [
        (
            "vault_header.header",
            1359,
            "UPDATE vault_header SET header = zeroblob(1360)",
        ),
        (
            "vault_header.header_mac",
            32,
            "UPDATE vault_header SET header_mac = zeroblob(33)",
        ),
        (
            "key_slot.body",
            90,
            "UPDATE key_slot SET body = zeroblob(91)",
        ),
        (
            "key_slot.checksum",
            32,
            "UPDATE key_slot SET checksum = zeroblob(33)",
        ),
        (
            "stream.name",
            1024,
            "UPDATE stream SET name = replace(hex(zeroblob(1025)), '00', 'x') WHERE stream_index = 0",
        ),
        (
            "chunk.ciphertext",
            4112,
            "UPDATE chunk SET ciphertext = zeroblob(4113) WHERE stream_index = 0 AND chunk_index = 0",
        ),
        (
            "chunk.checksum",
            32,
            "UPDATE chunk SET checksum = zeroblob(33) WHERE stream_index = 1 AND chunk_index = 0",
        ),
        (
            "manifest.ciphertext",
            16 * 1024 * 1024 + 16,
            "UPDATE manifest SET ciphertext = zeroblob(16 * 1024 * 1024 + 17)",
        ),
        (
            "manifest.checksum",
            32,
            "UPDATE manifest SET checksum = zeroblob(33)",
        ),
    ];
    for (column, bound, change) in cases {
        let path = hostile(dir.path(), column, change);
        let bound = format!("bound of {bound}");
        let phrases = [column, bound.as_str()];
        assert_refused(
            check_structure(&path),
            "length-out-of-bounds",
            &phrases,
            &format!("{column}: check"),
        );
        assert_refused(
            read_all(&path),
            "length-out-of-bounds",
            &phrases,
            &format!("{column}: open, unlock and read"),
        );
    }
}

#[test]
fn an_integer_column_holding_bytes_is_refused_naming_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "stream.row_count",
            "UPDATE stream SET row_count = zeroblob(1000) WHERE stream_index = 0",
        ),
        (
            "chunk.flags",
            "UPDATE chunk SET flags = zeroblob(1000) WHERE stream_index = 0 AND chunk_index = 1",
        ),
    ];
    for (column, change) in cases {
        let path = hostile(dir.path(), column, change);
        let phrases = [column, "blob value"];
        assert_refused(
            check_structure(&path),
            "damaged",
            &phrases,
            &format!("{column}: check"),
        );
        assert_refused(
            read_all(&path),
            "damaged",
            &phrases,
            &format!("{column}: open, unlock and read"),
        );
    }
}

#[test]
fn a_value_over_sqlites_length_limit_is_refused_wherever_sqlite_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    // 20 MiB of text (not digits, which SQLite would store as a number) in
    // an integer column: `quick_check` reads it to see whether it looks like
    // a number, before the checks of the format.
    let path = hostile(
        dir.path(),
        "big-text-flags",
        "UPDATE chunk SET flags = replace(hex(zeroblob(10 * 1024 * 1024)), '0', 'x')
         WHERE stream_index = 0 AND chunk_index = 0",
    );
    assert_refused(
        check_structure(&path),
        "length-out-of-bounds",
        &["over its length limit"],
        "check",
    );
}

#[test]
fn anything_in_the_schema_that_a_vault_does_not_have_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "trigger",
            "CREATE TRIGGER keep_slots BEFORE DELETE ON key_slot BEGIN SELECT RAISE(ABORT, 'kept'); END",
            "trigger \"keep_slots\"",
        ),
        (
            "view",
            "CREATE VIEW big AS SELECT zeroblob(300 * 1024 * 1024) AS value",
            "view \"big\"",
        ),
        ("table", "CREATE TABLE notes (note TEXT)", "table \"notes\""),
        (
            "index",
            "CREATE INDEX chunk_by_flags ON chunk (flags)",
            "index \"chunk_by_flags\"",
        ),
        (
            "expression-index",
            "CREATE INDEX slot_padded ON key_slot (length(body || zeroblob(1000000)))",
            "index \"slot_padded\"",
        ),
        (
            "check-constraint",
            "CREATE TABLE key_slot_new (
               slot     INTEGER PRIMARY KEY,
               body     BLOB NOT NULL,
               checksum BLOB NOT NULL CHECK (length(zeroblob(16000000)) > 0)
             );
             INSERT INTO key_slot_new SELECT * FROM key_slot;
             DROP TABLE key_slot;
             ALTER TABLE key_slot_new RENAME TO key_slot;",
            "the table key_slot is not defined as a vault defines it",
        ),
    ];
    for (name, change, phrase) in cases {
        let path = hostile(dir.path(), name, change);
        assert_refused(
            Vault::open(&path),
            "not-a-vault",
            &[phrase],
            &format!("{name}: open"),
        );
        assert_refused(
            check_structure(&path),
            "not-a-vault",
            &[phrase],
            &format!("{name}: check"),
        );
    }
}

#[test]
fn a_stream_name_of_1024_bytes_is_written_and_read_and_a_longer_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    let longest = "n".repeat(1024);
    let path = dir.path().join("longest-name.vault");
    write_vault(&path, &longest);
    assert_eq!(Vault::open(&path).unwrap().streams()[0].name, longest);
    check_deep(&path, &key()).unwrap();

    let writer = VaultWriter::create(
        &dir.path().join("too-long.vault"),
        WriterOptions::default(),
        &[&key()],
    )
    .unwrap();
    assert_refused(
        writer.stream(&"n".repeat(1025), serde_json::Value::Null),
        "usage",
        &["1025 bytes", "1024"],
        "a name of 1025 bytes",
    );
}
