//! Adversarial tests: single-byte changes anywhere in the file, truncation at
//! every chunk boundary, and chunks moved between streams and vaults.
//!
//! The rule under test (SPEC.md section 9.3): a reader either refuses with an
//! error or returns exactly the bytes written; never other bytes, never a panic.

use std::io::{Read, Seek, SeekFrom, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

use proptest::prelude::*;
use rusqlite::{Connection, params};
use sha2::Digest;
use vault_format::{
    FileKey, KdfParams, KeyMaterial, Vault, VaultWriter, WriterOptions, check_structure,
    vault_error_of,
};

const KEY: &str = "vault-key-v1:3f1c0d2e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d";

fn key() -> &'static KeyMaterial {
    static KEY_MATERIAL: OnceLock<KeyMaterial> = OnceLock::new();
    KEY_MATERIAL.get_or_init(|| KeyMaterial::KeyFile(FileKey::parse(KEY).unwrap()))
}

/// Bytes that zstd compresses well, several chunks of them.
fn text_rows(rows: usize) -> Vec<u8> {
    (0..rows)
        .flat_map(|i| format!("{i}\tuser{i}@example.org\tactive\n").into_bytes())
        .collect()
}

/// Incompressible bytes from a fixed seed (xorshift64).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

type Streams = Vec<(String, Vec<u8>)>;

/// Stream indexes of [`streams`].
const TEXT: i64 = 0;
const DOCUMENT: i64 = 1;
const AUDIT: i64 = 2;

/// Three streams: text of three compressed chunks, and two incompressible
/// streams of the same shape (two full chunks and a partial one), and an empty one.
fn streams() -> Streams {
    vec![
        ("text".into(), text_rows(350)),
        ("document".into(), noise(10_000, 1)),
        ("audit".into(), noise(10_000, 2)),
        ("empty".into(), Vec::new()),
    ]
}

fn write_vault(path: &Path, streams: &Streams) {
    let options = WriterOptions {
        source: "sqlite demo/acceptance.db".into(),
        chunk_size: 4096,
        kdf: KdfParams {
            t_cost: 1,
            m_cost_kib: 64,
            parallelism: 1,
        },
        ..WriterOptions::default()
    };
    let writer = VaultWriter::create(path, options, &[key()]).unwrap();
    for (name, bytes) in streams {
        let mut stream = writer.stream(name, serde_json::Value::Null).unwrap();
        stream.write_all(bytes).unwrap();
        stream.add_rows(1);
        stream.finish().unwrap();
    }
    writer.finish().unwrap();
}

/// A vault written once per test binary, kept as bytes.
struct Original {
    _dir: tempfile::TempDir,
    path: PathBuf,
    bytes: Vec<u8>,
    streams: Streams,
}

impl Original {
    fn write(streams: Streams) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("original.vault");
        write_vault(&path, &streams);
        let bytes = std::fs::read(&path).unwrap();
        Original {
            _dir: dir,
            path,
            bytes,
            streams,
        }
    }
}

/// The vault of [`streams`], for truncating and moving chunks.
fn original() -> &'static Original {
    static ORIGINAL: OnceLock<Original> = OnceLock::new();
    ORIGINAL.get_or_init(|| Original::write(streams()))
}

/// A vault with little ciphertext, for changing every byte: two compressed
/// chunks of text, a short raw chunk and an empty stream. Decryption is
/// slow in a debug build of this crate, so the fewer ciphertext bytes, the
/// more positions the sweep can afford.
fn small() -> &'static Original {
    static SMALL: OnceLock<Original> = OnceLock::new();
    SMALL.get_or_init(|| {
        Original::write(vec![
            ("text".into(), text_rows(250)),
            ("blob".into(), noise(100, 3)),
            ("empty".into(), Vec::new()),
        ])
    })
}

/// Opens, unlocks and reads every stream. `Ok` when every byte came back
/// exactly, `Err(code)` when the vault was refused; panics when a stream
/// came back with other bytes or the manifest lists other streams.
fn read_back(path: &Path, streams: &Streams) -> Result<(), String> {
    let unlocked = Vault::open(path)
        .and_then(|vault| vault.unlock(key()))
        .map_err(|e| e.code().to_owned())?;
    let listed: Vec<&str> = unlocked
        .manifest()
        .streams
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    let written: Vec<&str> = streams.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(listed, written, "an unlocked vault lists other streams");
    for (name, expected) in streams {
        let mut got = Vec::new();
        let mut reader = unlocked.stream(name).map_err(|e| e.code().to_owned())?;
        match reader.read_to_end(&mut got) {
            Ok(_) => assert!(
                got == *expected,
                "stream {name} came back with other bytes ({} bytes, {} written)",
                got.len(),
                expected.len()
            ),
            Err(error) => {
                // An error is final: reading on never looks like a clean end.
                let again = reader.read(&mut [0u8; 64]);
                assert!(
                    again.is_err(),
                    "stream {name}: a read after \"{error}\" gave {again:?}"
                );
                return Err(vault_error_of(error).code().to_owned());
            }
        }
    }
    Ok(())
}

/// The whole rule for one file: no panic anywhere, exact bytes or an error.
fn survives(path: &Path, streams: &Streams) -> Result<(), String> {
    let _ = check_structure(path);
    read_back(path, streams)
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "a panic".into())
}

// (a) Single-byte changes.

/// Where a single-byte change can matter: every byte that is not zero and
/// its neighbours (the SQLite file header, page headers, cell pointers,
/// records, ciphertext), the first 256 bytes of every page, and one byte in
/// 257 of the rest, which is zero-filled free space inside pages. On the
/// small vault that is about one byte in seventy of its 512 KiB, and every
/// byte that holds anything.
fn positions(bytes: &[u8]) -> Vec<usize> {
    const PAGE: usize = 65536;
    let near_content = |i: usize| {
        bytes[i.saturating_sub(8)..(i + 9).min(bytes.len())]
            .iter()
            .any(|&b| b != 0)
    };
    (0..bytes.len())
        .filter(|&i| i % PAGE < 256 || i % 257 == 0 || near_content(i))
        .collect()
}

#[test]
fn a_single_changed_byte_never_yields_other_bytes() {
    let original = small();
    assert_eq!(read_back(&original.path, &original.streams), Ok(()));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("changed.vault");
    std::fs::write(&path, &original.bytes).unwrap();
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let mut put = |at: usize, byte: u8| {
        file.seek(SeekFrom::Start(at as u64)).unwrap();
        file.write_all(&[byte]).unwrap();
    };

    let positions = positions(&original.bytes);
    let started = Instant::now();
    let (mut refused, mut intact, mut failures) = (0usize, 0usize, Vec::new());
    for &at in &positions {
        let byte = original.bytes[at];
        put(at, byte ^ (1 << (at % 8)));
        match catch_unwind(AssertUnwindSafe(|| survives(&path, &original.streams))) {
            Ok(Ok(())) => intact += 1,
            Ok(Err(_)) => refused += 1,
            Err(panic) => failures.push(format!("byte {at}: {}", panic_text(&*panic))),
        }
        put(at, byte);
    }
    println!(
        "{} of {} bytes changed in {:.1?}: {refused} refused, {intact} read back intact",
        positions.len(),
        original.bytes.len(),
        started.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} changed bytes broke the rule:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
    assert!(refused > 0, "no change was detected at all");
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1000,
        // Failing inputs are kept beside this file (cargo runs tests in the crate folder).
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::Direct("tests/tamper.proptest-regressions"),
        )),
        ..ProptestConfig::default()
    })]

    /// Any new value, at any position or (half the time) at a byte that holds something.
    #[test]
    fn any_single_byte_change_is_refused_or_harmless(
        anywhere in any::<bool>(),
        pick in any::<prop::sample::Index>(),
        new in any::<u8>(),
    ) {
        let original = small();
        let at = if anywhere {
            pick.index(original.bytes.len())
        } else {
            let content = content_positions();
            content[pick.index(content.len())]
        };
        let mut bytes = original.bytes.clone();
        prop_assume!(bytes[at] != new);
        bytes[at] = new;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("changed.vault");
        std::fs::write(&path, &bytes).unwrap();
        let _ = survives(&path, &original.streams);
    }
}

/// The positions of the small vault's bytes that are not zero.
fn content_positions() -> &'static [usize] {
    static CONTENT: OnceLock<Vec<usize>> = OnceLock::new();
    CONTENT.get_or_init(|| {
        let bytes = &small().bytes;
        (0..bytes.len()).filter(|&i| bytes[i] != 0).collect()
    })
}

// (b) Truncation at every chunk boundary.

/// A copy of the original vault, changed through rusqlite.
fn tampered(dir: &Path, name: &str, tamper: impl FnOnce(&Connection)) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, &original().bytes).unwrap();
    let conn = Connection::open(&path).unwrap();
    tamper(&conn);
    conn.close().unwrap();
    path
}

fn chunk_count(stream: i64) -> i64 {
    let conn = Connection::open(&original().path).unwrap();
    conn.query_row(
        "SELECT count(*) FROM chunk WHERE stream_index = ?1",
        [stream],
        |row| row.get(0),
    )
    .unwrap()
}

fn fix_stream_counts(conn: &Connection, stream: i64) {
    conn.execute(
        "UPDATE stream SET
           chunk_count = (SELECT count(*) FROM chunk WHERE stream_index = ?1),
           plain_len = (SELECT coalesce(sum(plain_len), 0) FROM chunk WHERE stream_index = ?1),
           stored_len = (SELECT coalesce(sum(length(ciphertext)), 0) FROM chunk WHERE stream_index = ?1)
         WHERE stream_index = ?1",
        [stream],
    )
    .unwrap();
}

fn code<T>(result: Result<T, vault_format::VaultError>) -> String {
    match result {
        Ok(_) => "ok".into(),
        Err(error) => error.code().into(),
    }
}

#[test]
fn truncation_at_every_chunk_boundary_is_detected() {
    let original = original();
    let dir = tempfile::tempdir().unwrap();
    let mut tried = 0;
    for stream in [TEXT, DOCUMENT, AUDIT, 3] {
        let chunks = chunk_count(stream);
        for keep in 0..chunks {
            let cut = |conn: &Connection| {
                conn.execute(
                    "DELETE FROM chunk WHERE stream_index = ?1 AND chunk_index >= ?2",
                    [stream, keep],
                )
                .unwrap();
            };
            let at = format!("stream {stream} cut to {keep} of {chunks} chunks");

            let plain = tampered(dir.path(), "cut.vault", cut);
            assert_eq!(code(check_structure(&plain)), "truncated", "{at}");
            assert_eq!(
                read_back(&plain, &original.streams),
                Err("truncated".into()),
                "{at}"
            );

            let counted = tampered(dir.path(), "cut-counted.vault", |conn| {
                cut(conn);
                fix_stream_counts(conn, stream);
            });
            assert_eq!(
                code(check_structure(&counted)),
                "truncated",
                "{at}, counts fixed"
            );
            assert_eq!(
                read_back(&counted, &original.streams),
                Err("damaged".into()),
                "{at}, counts fixed: the manifest disagrees with the index"
            );

            if keep > 0 {
                // The strongest forgery without the key: the new final chunk
                // claims to be the last, and every count agrees. Only the
                // authenticated data can tell.
                let forged = tampered(dir.path(), "cut-forged.vault", |conn| {
                    cut(conn);
                    conn.execute(
                        "UPDATE chunk SET flags = flags | 1 WHERE stream_index = ?1 AND chunk_index = ?2",
                        [stream, keep - 1],
                    )
                    .unwrap();
                    fix_stream_counts(conn, stream);
                });
                assert_eq!(
                    read_back(&forged, &original.streams),
                    Err("damaged".into()),
                    "{at}, last flag forged"
                );
            }
            tried += 1;
        }
    }
    assert!(tried >= 10, "only {tried} cuts tried");
}

// (c) Chunks from elsewhere.

struct ChunkRow {
    flags: i64,
    plain_len: i64,
    ciphertext: Vec<u8>,
    checksum: Vec<u8>,
}

fn read_chunk(path: &Path, stream: i64, chunk: i64) -> ChunkRow {
    Connection::open(path)
        .unwrap()
        .query_row(
            "SELECT flags, plain_len, ciphertext, checksum FROM chunk
             WHERE stream_index = ?1 AND chunk_index = ?2",
            [stream, chunk],
            |row| {
                Ok(ChunkRow {
                    flags: row.get(0)?,
                    plain_len: row.get(1)?,
                    ciphertext: row.get(2)?,
                    checksum: row.get(3)?,
                })
            },
        )
        .unwrap()
}

/// A copy of the original vault with one chunk row's content replaced.
fn with_chunk(dir: &Path, stream: i64, chunk: i64, row: &ChunkRow) -> PathBuf {
    tampered(dir, "moved.vault", |conn| {
        let changed = conn
            .execute(
                "UPDATE chunk SET flags = ?3, plain_len = ?4, ciphertext = ?5, checksum = ?6
                 WHERE stream_index = ?1 AND chunk_index = ?2",
                params![
                    stream,
                    chunk,
                    row.flags,
                    row.plain_len,
                    row.ciphertext,
                    row.checksum
                ],
            )
            .unwrap();
        assert_eq!(changed, 1);
    })
}

/// The foreign chunk has the same lengths, so the keyless check passes and
/// only authentication can catch it.
fn assert_caught(path: &Path, what: &str) {
    assert_eq!(code(check_structure(path)), "ok", "{what}: structure");
    let error = Vault::open(path)
        .and_then(|vault| vault.unlock(key()))
        .and_then(|unlocked| {
            for entry in &unlocked.manifest().streams {
                let mut sink = Vec::new();
                unlocked
                    .stream(&entry.name)?
                    .read_to_end(&mut sink)
                    .map_err(vault_error_of)?;
            }
            Ok(())
        })
        .expect_err(what);
    assert_eq!(error.code(), "damaged", "{what}: {error}");
    assert!(
        error.to_string().contains("fails authentication"),
        "{what}: {error}"
    );
}

#[test]
fn a_chunk_from_another_vault_is_detected() {
    let original = original();
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other.vault");
    write_vault(&other, &original.streams);
    let mut tried = 0;
    for stream in [TEXT, DOCUMENT, AUDIT, 3] {
        for chunk in 0..chunk_count(stream) {
            let foreign = read_chunk(&other, stream, chunk);
            let path = with_chunk(dir.path(), stream, chunk, &foreign);
            assert_caught(
                &path,
                &format!(
                    "stream {stream} chunk {chunk} from another vault with the same plaintext and key"
                ),
            );
            tried += 1;
        }
    }
    assert!(tried >= 10);
}

#[test]
fn a_chunk_from_another_stream_or_position_is_detected() {
    let original = original();
    let dir = tempfile::tempdir().unwrap();
    // "document" and "audit" have chunks of the same lengths at each index.
    for chunk in 0..chunk_count(DOCUMENT) {
        for (from, to) in [(DOCUMENT, AUDIT), (AUDIT, DOCUMENT)] {
            let moved = read_chunk(&original.path, from, chunk);
            let path = with_chunk(dir.path(), to, chunk, &moved);
            assert_caught(
                &path,
                &format!("chunk {chunk} of stream {from} copied into stream {to}"),
            );
        }
    }
    // Full chunks of one stream, copied over another position of the same stream.
    for (from, to) in [(0, 1), (1, 0)] {
        let moved = read_chunk(&original.path, DOCUMENT, from);
        let path = with_chunk(dir.path(), DOCUMENT, to, &moved);
        assert_caught(
            &path,
            &format!("chunk {from} of stream document copied over chunk {to}"),
        );
    }
}

// (d) Lengths over their bounds that are too large for a committed vector.

#[test]
fn a_manifest_over_its_bound_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // One byte over 16 MiB of JSON plus the tag, with a matching checksum.
    let path = tampered(dir.path(), "big-manifest.vault", |conn| {
        let big = vec![0x5a; vault_format::MAX_MANIFEST_LEN + 16 + 1];
        let checksum = sha2::Sha256::digest(&big).to_vec();
        conn.execute(
            "UPDATE manifest SET ciphertext = ?1, checksum = ?2",
            params![big, checksum],
        )
        .unwrap();
    });
    assert_eq!(code(check_structure(&path)), "length-out-of-bounds");
    assert_eq!(
        code(Vault::open(&path).and_then(|vault| vault.unlock(key()))),
        "length-out-of-bounds"
    );
}

#[test]
fn more_than_sixteen_key_slots_are_refused_before_any_derivation() {
    let dir = tempfile::tempdir().unwrap();
    let path = tampered(dir.path(), "slots.vault", |conn| {
        for number in 2..=17 {
            conn.execute(
                "INSERT INTO key_slot (slot, body, checksum) SELECT ?1, body, checksum FROM key_slot WHERE slot = 1",
                [number],
            )
            .unwrap();
        }
    });
    assert_eq!(code(vault_format::check_structure(&path)), "kdf-too-costly");
    assert_eq!(code(Vault::open(&path)), "kdf-too-costly");
}

#[test]
fn of_several_changed_chunks_the_first_by_stream_and_position_is_named() {
    let dir = tempfile::tempdir().unwrap();
    // Checksums are checked on every core in any order; the error must still
    // name the first damaged chunk (SPEC 9.1 step 8).
    let flip = |conn: &Connection, stream: i64, chunk: i64| {
        let changed = conn
            .execute(
                "UPDATE chunk SET checksum = zeroblob(32) WHERE stream_index = ?1 AND chunk_index = ?2",
                [stream, chunk],
            )
            .unwrap();
        assert_eq!(changed, 1);
    };
    let last_text = chunk_count(TEXT) - 1;
    let path = tampered(dir.path(), "two.vault", |conn| {
        flip(conn, DOCUMENT, 0);
        flip(conn, TEXT, last_text);
    });
    let error = check_structure(&path).expect_err("two chunks changed");
    assert_eq!(error.code(), "damaged", "{error}");
    let text = error.to_string();
    assert!(
        text.contains("\"text\"") && text.contains(&format!("chunk {last_text}")),
        "{text}"
    );
    assert!(text.contains("checksum does not match"), "{text}");
}
