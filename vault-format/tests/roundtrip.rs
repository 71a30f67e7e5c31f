//! Writing then reading gives back the same bytes, the same metadata and the same counts.

use std::io::{Read, Write};

use vault_format::{
    FileKey, KdfParams, KeyMaterial, Passphrase, Vault, VaultWriter, WriterOptions, check_deep,
    check_structure,
};

fn options() -> WriterOptions {
    WriterOptions {
        source: "sqlite demo/acceptance.db".into(),
        chunk_size: 4096,
        kdf: KdfParams {
            t_cost: 1,
            m_cost_kib: 64,
            parallelism: 1,
        },
        ..WriterOptions::default()
    }
}

fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

#[test]
fn streams_come_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("round.vault");
    let key = KeyMaterial::KeyFile(FileKey::generate().unwrap());
    let text: Vec<u8> = (0..3000)
        .flat_map(|i| format!("{i}\tuser{i}@example.org\tactive\n").into_bytes())
        .collect();
    let blob = pseudo_random(10_000, 42);
    let exact = vec![7u8; 8192];

    let writer = VaultWriter::create(&path, options(), &[&key]).unwrap();
    let mut rows = writer
        .stream(
            "camis.app_user",
            serde_json::json!({"table": "camis.app_user"}),
        )
        .unwrap();
    rows.write_all(&text).unwrap();
    rows.add_rows(3000);
    rows.finish().unwrap();
    let mut blobs = writer
        .stream("portal.document", serde_json::json!({"blob": true}))
        .unwrap();
    blobs.write_all(&blob).unwrap();
    blobs.add_rows(1);
    blobs.finish().unwrap();
    writer
        .stream("empty", serde_json::Value::Null)
        .unwrap()
        .finish()
        .unwrap();
    let mut full = writer
        .stream("exact-chunks", serde_json::Value::Null)
        .unwrap();
    full.write_all(&exact).unwrap();
    full.finish().unwrap();
    let summary = writer.finish().unwrap();
    assert_eq!(summary.streams.len(), 4);

    let report = check_structure(&path).unwrap();
    assert_eq!((report.streams, report.rows), (4, 3001));
    assert!(check_deep(&path, &key).unwrap().read_data);

    let unlocked = Vault::open(&path).unwrap().unlock(&key).unwrap();
    for (name, expected) in [
        ("camis.app_user", &text),
        ("portal.document", &blob),
        ("exact-chunks", &exact),
    ] {
        let mut got = Vec::new();
        unlocked
            .stream(name)
            .unwrap()
            .read_to_end(&mut got)
            .unwrap();
        assert_eq!(&got, expected, "stream {name}");
    }
    let mut empty = Vec::new();
    unlocked
        .stream("empty")
        .unwrap()
        .read_to_end(&mut empty)
        .unwrap();
    assert!(empty.is_empty());
    let entry = &unlocked.manifest().streams[0];
    assert_eq!(entry.metadata["table"], "camis.app_user");
    assert_eq!(entry.row_count, 3000);
    assert_eq!(
        unlocked.manifest().streams[3].chunk_count,
        2,
        "8192 bytes are two full chunks, no empty third"
    );
}

#[test]
fn a_passphrase_vault_opens_with_the_passphrase_and_not_another() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pass.vault");
    let key = KeyMaterial::Passphrase(Passphrase::new("correct horse battery".into()).unwrap());
    let writer = VaultWriter::create(&path, options(), &[&key]).unwrap();
    let mut s = writer.stream("settings", serde_json::Value::Null).unwrap();
    s.write_all(b"theme=dark").unwrap();
    s.finish().unwrap();
    writer.finish().unwrap();
    assert!(check_deep(&path, &key).is_ok());
    let other = KeyMaterial::Passphrase(Passphrase::new("wrong horse".into()).unwrap());
    assert_eq!(check_deep(&path, &other).unwrap_err().code(), "wrong-key");
    let file_key = KeyMaterial::KeyFile(FileKey::generate().unwrap());
    let error = check_deep(&path, &file_key).unwrap_err();
    assert_eq!(error.code(), "wrong-key");
    assert!(error.to_string().contains("no key file slot"), "{error}");
}

#[test]
fn an_unfinished_writer_leaves_nothing_under_the_final_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("never.vault");
    let key = KeyMaterial::KeyFile(FileKey::generate().unwrap());
    {
        let writer = VaultWriter::create(&path, options(), &[&key]).unwrap();
        let mut s = writer.stream("a", serde_json::Value::Null).unwrap();
        s.write_all(&[1; 10_000]).unwrap();
        let unfinished = writer.stream("b", serde_json::Value::Null).unwrap();
        s.finish().unwrap();
        drop(unfinished);
        assert_eq!(writer.finish().unwrap_err().code(), "usage");
    }
    assert!(!path.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "the partial file is removed"
    );
}

#[test]
fn an_existing_file_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("taken.vault");
    std::fs::write(&path, b"precious").unwrap();
    let key = KeyMaterial::KeyFile(FileKey::generate().unwrap());
    let error = VaultWriter::create(&path, options(), &[&key])
        .err()
        .unwrap();
    assert_eq!(error.code(), "already-exists");
    assert_eq!(std::fs::read(&path).unwrap(), b"precious");
}

#[test]
fn reading_ahead_gives_the_same_bytes_and_the_same_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ahead.vault");
    let key = KeyMaterial::KeyFile(FileKey::generate().unwrap());
    let blob = pseudo_random(50_000, 7);
    let writer = VaultWriter::create(&path, options(), &[&key]).unwrap();
    let mut stream = writer.stream("blobs", serde_json::Value::Null).unwrap();
    stream.write_all(&blob).unwrap();
    stream.finish().unwrap();
    writer
        .stream("empty", serde_json::Value::Null)
        .unwrap()
        .finish()
        .unwrap();
    writer.finish().unwrap();

    let unlocked = Vault::open(&path).unwrap().unlock(&key).unwrap();
    let mut got = Vec::new();
    unlocked
        .stream_read_ahead("blobs")
        .unwrap()
        .read_to_end(&mut got)
        .unwrap();
    assert_eq!(got, blob);
    let mut empty = Vec::new();
    unlocked
        .stream_read_ahead("empty")
        .unwrap()
        .read_to_end(&mut empty)
        .unwrap();
    assert!(empty.is_empty());
    assert_eq!(
        unlocked.stream_read_ahead("nope").err().unwrap().code(),
        "stream-not-found"
    );
    drop(unlocked);

    // A chunk altered with its checksum recomputed: the error arrives in place,
    // and the reader never reports a clean end afterwards.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mut ciphertext: Vec<u8> = conn
        .query_row(
            "SELECT ciphertext FROM chunk WHERE stream_index = 0 AND chunk_index = 5",
            [],
            |r| r.get(0),
        )
        .unwrap();
    ciphertext[3] ^= 1;
    let checksum = sha2_digest(&ciphertext);
    conn.execute(
        "UPDATE chunk SET ciphertext = ?1, checksum = ?2 WHERE stream_index = 0 AND chunk_index = 5",
        rusqlite::params![ciphertext, checksum],
    )
    .unwrap();
    drop(conn);
    let unlocked = Vault::open(&path).unwrap().unlock(&key).unwrap();
    let mut reader = unlocked.stream_read_ahead("blobs").unwrap();
    let mut got = Vec::new();
    let error = reader.read_to_end(&mut got).unwrap_err();
    assert_eq!(vault_format::vault_error_of(error).code(), "damaged");
    assert_eq!(
        got.len(),
        5 * 4096,
        "only the authenticated chunks before the bad one"
    );
    assert!(
        reader.read(&mut [0u8; 16]).is_err(),
        "no clean end after an error"
    );
}

fn sha2_digest(bytes: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).to_vec()
}
