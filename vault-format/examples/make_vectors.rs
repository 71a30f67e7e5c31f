//! Regenerates the committed test vectors in `tests/vectors/` (SPEC.md section 12).
//!
//! ```text
//! cargo run -p vault-format --example make_vectors [-- OUTPUT_FOLDER]
//! ```
//!
//! Each case is a vault written by this crate and then damaged with plain
//! rusqlite, as an attacker or a bad disk would, plus `NAME.toml` stating the
//! key to use and the outcome expected from the structural check, from
//! unlocking, and from reading every stream. The expectations are written
//! here from SPEC.md, never by running the reader. `tests/vectors.rs` checks
//! them all. Vault ids, salts and nonces are random, so every run gives other
//! bytes but the same outcomes; the key files and passphrases are fixed.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use vault_format::{
    FORMAT_VERSION, FileKey, KdfParams, KeyMaterial, Passphrase, VaultWriter, WriterOptions,
};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// Test keys, public on purpose: they protect nothing but these vectors.
const KEYS: [(&str, &str); 4] = [
    (
        "keyfile",
        "vault-key-v1:9b2d2c61cde1d4335cbf2e6082c7461c5f5cbd6ccafb1e6e140e7e50e5a441f1\n",
    ),
    (
        "other-keyfile",
        "vault-key-v1:f88772abda2570fe01bebbc5e320f2d81fd5eeec8a93d8adaabd2b68c3581ef8\n",
    ),
    ("passphrase", "correct horse battery staple\n"),
    ("other-passphrase", "not the passphrase of any vector\n"),
];

/// Plaintext bytes per chunk: the smallest the format allows, to keep files small.
const CHUNK_SIZE: usize = 4096;

/// Stream indexes of the standard vault.
const APP_USER: i64 = 0;
const DOCUMENT: i64 = 1;
const AUDIT: i64 = 2;

/// One test vector: how it is made and what must happen to it.
struct Case {
    name: &'static str,
    /// What was done to the file, for the toml and the README.
    what: &'static str,
    key: &'static str,
    structure: &'static str,
    unlock: &'static str,
    read: &'static str,
    /// A phrase the error of `read` must contain, where the code alone is ambiguous.
    read_message: Option<&'static str>,
    /// The header's format version that a good case must have.
    version: u16,
    make: fn(&Maker, &Path) -> Res<Vec<Stream>>,
}

/// A stream as written: the vectors of good cases record its digest.
struct Stream {
    name: &'static str,
    metadata: serde_json::Value,
    rows: u64,
    bytes: Vec<u8>,
}

fn cases() -> Vec<Case> {
    vec![
        // Good vaults.
        Case {
            name: "good-keyfile",
            what: "A vault of three streams (compressible text of four full chunks and a partial one; two incompressible streams of 10000 bytes), one key-file slot. Nothing changed.",
            key: "keyfile",
            structure: "ok",
            unlock: "ok",
            read: "ok",
            read_message: None,
            version: 2,
            make: |m, path| m.standard(path, &["keyfile"]),
        },
        Case {
            name: "good-passphrase",
            what: "The standard three streams, one passphrase slot (Argon2id t=1, m=64 KiB, p=1). Nothing changed.",
            key: "passphrase",
            structure: "ok",
            unlock: "ok",
            read: "ok",
            read_message: None,
            version: 2,
            make: |m, path| m.standard(path, &["passphrase"]),
        },
        Case {
            name: "good-streams",
            what: "Five streams: empty (one empty last chunk), one byte, exactly two full chunks (no empty third chunk), text of several chunks, and an empty stream again with metadata. Nothing changed.",
            key: "keyfile",
            structure: "ok",
            unlock: "ok",
            read: "ok",
            read_message: None,
            version: 2,
            make: |m, path| {
                let streams = vec![
                    stream("empty", 0, Vec::new()),
                    stream("one-byte", 1, vec![0x2a]),
                    stream("exact-chunks", 2, noise(2 * CHUNK_SIZE, 7)),
                    stream("text", 900, text_rows(900)),
                    Stream {
                        metadata: serde_json::json!({"engine": "postgres", "columns": ["id", "email"]}),
                        ..stream("empty-with-metadata", 0, Vec::new())
                    },
                ];
                m.write(path, &["keyfile"], streams)
            },
        },
        Case {
            name: "good-two-slots",
            what: "The standard three streams with a key-file slot (1) and a passphrase slot (2), opened with the passphrase. Nothing changed.",
            key: "passphrase",
            structure: "ok",
            unlock: "ok",
            read: "ok",
            read_message: None,
            version: 2,
            make: |m, path| m.standard(path, &["keyfile", "passphrase"]),
        },
        Case {
            name: "good-v1-keyfile",
            what: "The standard three streams in a version 1 vault (no signature algorithm and no public key in the header: tool_version at offset 42), one key-file slot. A version 2 reader opens it. Nothing changed.",
            key: "keyfile",
            structure: "ok",
            unlock: "ok",
            read: "ok",
            read_message: None,
            version: 1,
            make: |m, path| m.write_version(path, &["keyfile"], standard_streams(), 1),
        },
        // Keys.
        Case {
            name: "wrong-keyfile",
            what: "A good key-file vault, opened with another key file.",
            key: "other-keyfile",
            structure: "ok",
            unlock: "wrong-key",
            read: "wrong-key",
            read_message: None,
            version: 2,
            make: |m, path| m.damaged(path, &["keyfile"], |_| Ok(())),
        },
        Case {
            name: "wrong-passphrase",
            what: "A good passphrase vault, opened with another passphrase.",
            key: "other-passphrase",
            structure: "ok",
            unlock: "wrong-key",
            read: "wrong-key",
            read_message: None,
            version: 2,
            make: |m, path| m.damaged(path, &["passphrase"], |_| Ok(())),
        },
        Case {
            name: "keyfile-for-passphrase-vault",
            what: "A good passphrase vault, opened with a key file: it has no key-file slot.",
            key: "keyfile",
            structure: "ok",
            unlock: "wrong-key",
            read: "wrong-key",
            read_message: Some("no key file slot"),
            version: 2,
            make: |m, path| m.damaged(path, &["passphrase"], |_| Ok(())),
        },
        Case {
            name: "slot-from-other-vault",
            what: "The key_slot row replaced by the slot of another vault made with the same key file. The wrap's associated data binds the vault id, so the slot does not open here.",
            key: "keyfile",
            structure: "ok",
            unlock: "wrong-key",
            read: "wrong-key",
            read_message: None,
            version: 2,
            make: |m, path| {
                let other = m.scratch("slot-donor.vault");
                m.standard(&other, &["keyfile"])?;
                m.damaged(path, &["keyfile"], |conn| {
                    let donor = Connection::open(&other)?;
                    let (body, checksum): (Vec<u8>, Vec<u8>) = donor.query_row(
                        "SELECT body, checksum FROM key_slot WHERE slot = 1",
                        [],
                        |row| Ok((row.get(0)?, row.get(1)?)),
                    )?;
                    conn.execute(
                        "UPDATE key_slot SET body = ?1, checksum = ?2 WHERE slot = 1",
                        params![body, checksum],
                    )?;
                    Ok(())
                })
            },
        },
        Case {
            name: "bad-slot-checksum",
            what: "One byte of the key slot's wrapped key flipped, its checksum left as it was.",
            key: "keyfile",
            structure: "damaged",
            unlock: "damaged",
            read: "damaged",
            read_message: Some("key slot 1"),
            version: 2,
            make: |m, path| {
                m.damaged(path, &["keyfile"], |conn| {
                    edit_slot(conn, 1, false, |body| {
                        let last = body.len() - 1;
                        body[last] ^= 0x01;
                    })
                })
            },
        },
        // Key-derivation bounds.
        Case {
            name: "hostile-kdf-memory",
            what: "The passphrase slot's m_cost set to 4194304 KiB (4 GiB) and the slot checksum recomputed, so only the bound check (max 1 GiB) stops it.",
            key: "passphrase",
            structure: "kdf-too-costly",
            unlock: "kdf-too-costly",
            read: "kdf-too-costly",
            read_message: None,
            version: 2,
            make: |m, path| {
                m.damaged(path, &["passphrase"], |conn| {
                    edit_slot(conn, 1, true, |body| {
                        body[5..9].copy_from_slice(&(4u32 * 1024 * 1024).to_be_bytes());
                    })
                })
            },
        },
        Case {
            name: "hostile-kdf-time",
            what: "The passphrase slot's t_cost set to 4294967295 and the slot checksum recomputed (max 16).",
            key: "passphrase",
            structure: "kdf-too-costly",
            unlock: "kdf-too-costly",
            read: "kdf-too-costly",
            read_message: None,
            version: 2,
            make: |m, path| {
                m.damaged(path, &["passphrase"], |conn| {
                    edit_slot(conn, 1, true, |body| {
                        body[1..5].copy_from_slice(&u32::MAX.to_be_bytes());
                    })
                })
            },
        },
        Case {
            name: "hostile-kdf-parallelism",
            what: "The passphrase slot's parallelism set to 0 and the slot checksum recomputed (allowed 1..=16).",
            key: "passphrase",
            structure: "kdf-too-costly",
            unlock: "kdf-too-costly",
            read: "kdf-too-costly",
            read_message: None,
            version: 2,
            make: |m, path| {
                m.damaged(path, &["passphrase"], |conn| {
                    edit_slot(conn, 1, true, |body| {
                        body[9..13].copy_from_slice(&0u32.to_be_bytes());
                    })
                })
            },
        },
        // The header.
        Case {
            name: "unknown-version",
            what: "Header format_version (offset 8) set to 3, a version no reader knows; the MAC left as it was.",
            key: "keyfile",
            structure: "unsupported-version",
            unlock: "unsupported-version",
            read: "unsupported-version",
            read_message: None,
            version: 2,
            make: |m, path| m.damaged(path, &["keyfile"], |conn| edit_header(conn, |h| h[9] = 3)),
        },
        Case {
            name: "unknown-algorithm",
            what: "Header cipher id (offset 10) set to 2; the MAC left as it was.",
            key: "keyfile",
            structure: "unsupported-algorithm",
            unlock: "unsupported-algorithm",
            read: "unsupported-algorithm",
            read_message: None,
            version: 2,
            make: |m, path| m.damaged(path, &["keyfile"], |conn| edit_header(conn, |h| h[10] = 2)),
        },
        Case {
            name: "unknown-signature-algorithm",
            what: "Header signature algorithm id (offset 42) set to 2; the MAC left as it was.",
            key: "keyfile",
            structure: "unsupported-algorithm",
            unlock: "unsupported-algorithm",
            read: "unsupported-algorithm",
            read_message: None,
            version: 2,
            make: |m, path| m.damaged(path, &["keyfile"], |conn| edit_header(conn, |h| h[42] = 2)),
        },
        Case {
            name: "tampered-public-key",
            what: "One byte of the header's public key (offset 43) flipped, the header MAC left as it was: a forger's key put in place of the vault's.",
            key: "keyfile",
            structure: "ok",
            unlock: "header-tampered",
            read: "header-tampered",
            read_message: None,
            version: 2,
            make: |m, path| {
                m.damaged(path, &["keyfile"], |conn| {
                    edit_header(conn, |h| h[43] ^= 0x01)
                })
            },
        },
        Case {
            name: "bad-magic",
            what: "The first byte of the header magic changed.",
            key: "keyfile",
            structure: "not-a-vault",
            unlock: "not-a-vault",
            read: "not-a-vault",
            read_message: None,
            version: 2,
            make: |m, path| {
                m.damaged(path, &["keyfile"], |conn| {
                    edit_header(conn, |h| h[0] = b'P')
                })
            },
        },
        Case {
            name: "tampered-header",
            what: "The header's source text edited (\"acceptance\" became \"production\", same length), the header MAC left as it was.",
            key: "keyfile",
            structure: "ok",
            unlock: "header-tampered",
            read: "header-tampered",
            read_message: None,
            version: 2,
            make: |m, path| {
                m.damaged(path, &["keyfile"], |conn| {
                    edit_header(conn, |h| {
                        let at = find(h, b"acceptance").expect("the source names the database");
                        h[at..at + 10].copy_from_slice(b"production");
                    })
                })
            },
        },
        // Chunks.
        Case {
            name: "bad-tag",
            what: "A byte of stream \"document\" chunk 1's ciphertext flipped AND its checksum recomputed, so only authentication catches it.",
            key: "keyfile",
            structure: "ok",
            unlock: "ok",
            read: "damaged",
            read_message: Some("fails authentication"),
            version: 2,
            make: |m, path| {
                m.damaged(path, &["keyfile"], |conn| {
                    edit_chunk(conn, DOCUMENT, 1, true, |c| c[100] ^= 0x40)
                })
            },
        },
        Case {
            name: "bad-checksum",
            what: "A byte of stream \"document\" chunk 1's ciphertext flipped, its checksum left as it was.",
            key: "keyfile",
            structure: "damaged",
            unlock: "ok",
            read: "damaged",
            read_message: Some("checksum does not match"),
            version: 2,
            make: |m, path| {
                m.damaged(path, &["keyfile"], |conn| {
                    edit_chunk(conn, DOCUMENT, 1, false, |c| c[100] ^= 0x40)
                })
            },
        },
        Case {
            name: "truncated",
            what: "The last chunk row of stream \"document\" deleted; the stream table left as it was.",
            key: "keyfile",
            structure: "truncated",
            unlock: "ok",
            read: "truncated",
            read_message: None,
            version: 2,
            make: |m, path| {
                m.damaged(path, &["keyfile"], |conn| {
                    conn.execute(
                        "DELETE FROM chunk WHERE stream_index = ?1 AND chunk_index = 2",
                        [DOCUMENT],
                    )?;
                    Ok(())
                })
            },
        },
        Case {
            name: "truncated-counts-lowered",
            what: "The last chunk row of stream \"document\" deleted, and its chunk_count, plain_len and stored_len in the stream table lowered to match the chunks left. The structural check still sees no last chunk; the manifest disagrees with the index.",
            key: "keyfile",
            structure: "truncated",
            unlock: "damaged",
            read: "damaged",
            read_message: None,
            version: 2,
            make: |m, path| {
                m.damaged(path, &["keyfile"], |conn| {
                    conn.execute(
                        "DELETE FROM chunk WHERE stream_index = ?1 AND chunk_index = 2",
                        [DOCUMENT],
                    )?;
                    fix_stream_counts(conn, DOCUMENT)
                })
            },
        },
        Case {
            name: "truncated-last-flag-forged",
            what: "The last chunk row of stream \"document\" deleted, the last flag set on the chunk before it, and the stream table counts lowered to match: the structure is consistent again, but the manifest disagrees with the index (and the forged flag would fail authentication).",
            key: "keyfile",
            structure: "ok",
            unlock: "damaged",
            read: "damaged",
            read_message: None,
            version: 2,
            make: |m, path| {
                m.damaged(path, &["keyfile"], |conn| {
                    conn.execute(
                        "DELETE FROM chunk WHERE stream_index = ?1 AND chunk_index = 2",
                        [DOCUMENT],
                    )?;
                    conn.execute(
                        "UPDATE chunk SET flags = flags | 1 WHERE stream_index = ?1 AND chunk_index = 1",
                        [DOCUMENT],
                    )?;
                    fix_stream_counts(conn, DOCUMENT)
                })
            },
        },
        Case {
            name: "swapped-chunks",
            what: "The rows of chunks 1 and 2 of stream \"app_user\" exchanged (both full, both compressed), so counts and checksums still add up.",
            key: "keyfile",
            structure: "ok",
            unlock: "ok",
            read: "damaged",
            read_message: Some("fails authentication"),
            version: 2,
            make: |m, path| {
                m.damaged(path, &["keyfile"], |conn| {
                    for (from, to) in [(1, -1), (2, 1), (-1, 2)] {
                        conn.execute(
                            "UPDATE chunk SET chunk_index = ?3 WHERE stream_index = ?1 AND chunk_index = ?2",
                            params![APP_USER, from, to],
                        )?;
                    }
                    Ok(())
                })
            },
        },
        Case {
            name: "chunk-from-other-stream",
            what: "Chunk 0 of stream \"audit\" overwritten with chunk 0 of stream \"document\" (flags, plain_len, ciphertext and checksum; same lengths), so the structure is consistent.",
            key: "keyfile",
            structure: "ok",
            unlock: "ok",
            read: "damaged",
            read_message: Some("fails authentication"),
            version: 2,
            make: |m, path| {
                m.damaged(path, &["keyfile"], |conn| {
                    let chunk = read_chunk(conn, DOCUMENT, 0)?;
                    write_chunk(conn, AUDIT, 0, &chunk)
                })
            },
        },
        Case {
            name: "chunk-from-other-vault",
            what: "Chunk 1 of stream \"document\" overwritten with the same chunk of another vault holding the same plaintext under the same key file.",
            key: "keyfile",
            structure: "ok",
            unlock: "ok",
            read: "damaged",
            read_message: Some("fails authentication"),
            version: 2,
            make: |m, path| {
                let other = m.scratch("chunk-donor.vault");
                m.standard(&other, &["keyfile"])?;
                m.damaged(path, &["keyfile"], |conn| {
                    let chunk = read_chunk(&Connection::open(&other)?, DOCUMENT, 1)?;
                    write_chunk(conn, DOCUMENT, 1, &chunk)
                })
            },
        },
        Case {
            name: "unknown-chunk-flags",
            what: "Flag bit 2 (value 4, reserved) set on chunk 0 of stream \"document\".",
            key: "keyfile",
            structure: "damaged",
            unlock: "ok",
            read: "damaged",
            read_message: Some("unknown flags"),
            version: 2,
            make: |m, path| {
                m.damaged(path, &["keyfile"], |conn| {
                    conn.execute(
                        "UPDATE chunk SET flags = flags | 4 WHERE stream_index = ?1 AND chunk_index = 0",
                        [DOCUMENT],
                    )?;
                    Ok(())
                })
            },
        },
        // Lengths.
        Case {
            name: "oversized-plain-len",
            what: "chunk.plain_len of stream \"document\" chunk 0 set to 4097, above the chunk size of 4096.",
            key: "keyfile",
            structure: "length-out-of-bounds",
            unlock: "ok",
            read: "length-out-of-bounds",
            read_message: None,
            version: 2,
            make: |m, path| {
                m.damaged(path, &["keyfile"], |conn| {
                    conn.execute(
                        "UPDATE chunk SET plain_len = 4097 WHERE stream_index = ?1 AND chunk_index = 0",
                        [DOCUMENT],
                    )?;
                    Ok(())
                })
            },
        },
        Case {
            name: "oversized-ciphertext",
            what: "Stream \"document\" chunk 0's ciphertext extended to 4113 bytes (chunk size + tag + 1) and its checksum recomputed.",
            key: "keyfile",
            structure: "length-out-of-bounds",
            unlock: "ok",
            read: "length-out-of-bounds",
            read_message: None,
            version: 2,
            make: |m, path| {
                m.damaged(path, &["keyfile"], |conn| {
                    edit_chunk(conn, DOCUMENT, 0, true, |c| c.resize(CHUNK_SIZE + 17, 0))
                })
            },
        },
        // The manifest and the stream index.
        Case {
            name: "no-manifest",
            what: "The manifest row deleted, as if the writer had stopped before its commit record.",
            key: "keyfile",
            structure: "incomplete",
            unlock: "incomplete",
            read: "incomplete",
            read_message: None,
            version: 2,
            make: |m, path| {
                m.damaged(path, &["keyfile"], |conn| {
                    conn.execute("DELETE FROM manifest", [])?;
                    Ok(())
                })
            },
        },
        Case {
            name: "manifest-from-other-vault",
            what: "The manifest row replaced by the manifest of another vault with the same streams and key file.",
            key: "keyfile",
            structure: "ok",
            unlock: "damaged",
            read: "damaged",
            read_message: Some("fails authentication"),
            version: 2,
            make: |m, path| {
                let other = m.scratch("manifest-donor.vault");
                m.standard(&other, &["keyfile"])?;
                m.damaged(path, &["keyfile"], |conn| {
                    let donor = Connection::open(&other)?;
                    let (ciphertext, checksum): (Vec<u8>, Vec<u8>) = donor.query_row(
                        "SELECT ciphertext, checksum FROM manifest",
                        [],
                        |row| Ok((row.get(0)?, row.get(1)?)),
                    )?;
                    conn.execute(
                        "UPDATE manifest SET ciphertext = ?1, checksum = ?2",
                        params![ciphertext, checksum],
                    )?;
                    Ok(())
                })
            },
        },
        Case {
            name: "dropped-stream",
            what: "The last stream (\"audit\") dropped: its stream row and all its chunk rows deleted. Only the manifest notices.",
            key: "keyfile",
            structure: "ok",
            unlock: "damaged",
            read: "damaged",
            read_message: None,
            version: 2,
            make: |m, path| m.damaged(path, &["keyfile"], |conn| drop_stream(conn, AUDIT)),
        },
        Case {
            name: "dropped-middle-stream",
            what: "The middle stream (\"document\") dropped: its stream row and all its chunk rows deleted, leaving a gap in the stream indexes.",
            key: "keyfile",
            structure: "damaged",
            unlock: "damaged",
            read: "damaged",
            read_message: None,
            version: 2,
            make: |m, path| m.damaged(path, &["keyfile"], |conn| drop_stream(conn, DOCUMENT)),
        },
        Case {
            name: "stream-index-edited",
            what: "The row_count of stream \"app_user\" in the plaintext stream table changed from 600 to 601.",
            key: "keyfile",
            structure: "ok",
            unlock: "damaged",
            read: "damaged",
            read_message: None,
            version: 2,
            make: |m, path| {
                m.damaged(path, &["keyfile"], |conn| {
                    conn.execute(
                        "UPDATE stream SET row_count = row_count + 1 WHERE stream_index = ?1",
                        [APP_USER],
                    )?;
                    Ok(())
                })
            },
        },
        // Not vaults at all.
        Case {
            name: "not-a-vault-sqlite",
            what: "A plain SQLite database with one table of notes (application_id 0).",
            key: "keyfile",
            structure: "not-a-vault",
            unlock: "not-a-vault",
            read: "not-a-vault",
            read_message: None,
            version: 2,
            make: |_, path| {
                let conn = Connection::open(path)?;
                conn.execute_batch(
                    "CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
                     INSERT INTO note (body) VALUES ('this is not a vault');",
                )?;
                Ok(Vec::new())
            },
        },
        Case {
            name: "not-a-vault-random",
            what: "4096 pseudo-random bytes.",
            key: "keyfile",
            structure: "not-a-vault",
            unlock: "not-a-vault",
            read: "not-a-vault",
            read_message: None,
            version: 2,
            make: |_, path| {
                std::fs::write(path, noise(4096, 99))?;
                Ok(Vec::new())
            },
        },
        Case {
            name: "computed-column",
            what: "The key_slot table rebuilt with `body` as a generated column, `zeroblob(100000000)`, the real bodies kept in another column: SQLite would build a 100 MB value for every slot read. The columns differ from the schema.",
            key: "keyfile",
            structure: "not-a-vault",
            unlock: "not-a-vault",
            read: "not-a-vault",
            read_message: None,
            version: 2,
            make: |m, path| {
                m.damaged(path, &["keyfile"], |conn| {
                    conn.execute_batch(
                        "ALTER TABLE key_slot RENAME TO original_slot;
                         CREATE TABLE key_slot (
                           slot      INTEGER PRIMARY KEY,
                           real_body BLOB NOT NULL,
                           body      BLOB GENERATED ALWAYS AS (zeroblob(100000000)) VIRTUAL,
                           checksum  BLOB NOT NULL
                         );
                         INSERT INTO key_slot (slot, real_body, checksum)
                           SELECT slot, body, checksum FROM original_slot;
                         DROP TABLE original_slot;",
                    )?;
                    Ok(())
                })
            },
        },
        Case {
            name: "not-a-vault-missing-table",
            what: "A good vault whose manifest table was dropped.",
            key: "keyfile",
            structure: "not-a-vault",
            unlock: "not-a-vault",
            read: "not-a-vault",
            read_message: None,
            version: 2,
            make: |m, path| {
                m.damaged(path, &["keyfile"], |conn| {
                    conn.execute_batch("DROP TABLE manifest;")?;
                    Ok(())
                })
            },
        },
    ]
}

/// Makes vaults in a scratch folder.
struct Maker {
    scratch: tempfile::TempDir,
}

impl Maker {
    fn scratch(&self, name: &str) -> PathBuf {
        self.scratch.path().join(name)
    }

    /// The standard vault: text of several chunks and two incompressible streams.
    fn standard(&self, path: &Path, keys: &[&str]) -> Res<Vec<Stream>> {
        self.write(path, keys, standard_streams())
    }

    /// A standard vault, then changed by `tamper` through rusqlite.
    fn damaged(
        &self,
        path: &Path,
        keys: &[&str],
        tamper: impl FnOnce(&Connection) -> Res<()>,
    ) -> Res<Vec<Stream>> {
        self.standard(path, keys)?;
        let conn = Connection::open(path)?;
        conn.execute_batch("PRAGMA secure_delete = ON;")?;
        tamper(&conn)?;
        conn.close().map_err(|(_, e)| e)?;
        Ok(Vec::new())
    }

    fn write(&self, path: &Path, keys: &[&str], streams: Vec<Stream>) -> Res<Vec<Stream>> {
        self.write_version(path, keys, streams, FORMAT_VERSION)
    }

    fn write_version(
        &self,
        path: &Path,
        keys: &[&str],
        streams: Vec<Stream>,
        format_version: u16,
    ) -> Res<Vec<Stream>> {
        let options = WriterOptions {
            format_version,
            source: "sqlite demo/acceptance.db".into(),
            tool_version: "vault-format make_vectors".into(),
            chunk_size: CHUNK_SIZE as u32,
            compression_level: 3,
            kdf: KdfParams {
                t_cost: 1,
                m_cost_kib: 64,
                parallelism: 1,
            },
        };
        let materials: Vec<KeyMaterial> =
            keys.iter().map(|k| key_material(k)).collect::<Res<_>>()?;
        let refs: Vec<&KeyMaterial> = materials.iter().collect();
        let writer = VaultWriter::create(path, options, &refs)?;
        for s in &streams {
            let mut w = writer.stream(s.name, s.metadata.clone())?;
            w.write_all(&s.bytes)?;
            w.add_rows(s.rows);
            w.finish()?;
        }
        writer.finish()?;
        Ok(streams)
    }
}

/// The standard vault's streams: text of several chunks and two incompressible streams.
fn standard_streams() -> Vec<Stream> {
    vec![
        Stream {
            metadata: serde_json::json!({"table": "app_user", "columns": ["id", "email", "state"]}),
            ..stream("app_user", 600, text_rows(600))
        },
        stream("document", 3, noise(10_000, 1)),
        stream("audit", 2, noise(10_000, 2)),
    ]
}

fn stream(name: &'static str, rows: u64, bytes: Vec<u8>) -> Stream {
    Stream {
        name,
        metadata: serde_json::Value::Null,
        rows,
        bytes,
    }
}

fn key_material(name: &str) -> Res<KeyMaterial> {
    let text = key_text(name)?;
    Ok(if name.ends_with("keyfile") {
        KeyMaterial::KeyFile(FileKey::parse(text)?)
    } else {
        KeyMaterial::Passphrase(Passphrase::new(text.to_owned())?)
    })
}

fn key_text(name: &str) -> Res<&'static str> {
    KEYS.iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
        .ok_or_else(|| format!("no key named {name}").into())
}

/// Tab-separated rows that zstd compresses well.
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

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

fn edit_header(conn: &Connection, edit: impl FnOnce(&mut Vec<u8>)) -> Res<()> {
    let mut header: Vec<u8> =
        conn.query_row("SELECT header FROM vault_header", [], |row| row.get(0))?;
    edit(&mut header);
    conn.execute("UPDATE vault_header SET header = ?1", [header])?;
    Ok(())
}

/// Edits a slot body; with `recompute`, its checksum is made to match again.
fn edit_slot(
    conn: &Connection,
    slot: u32,
    recompute: bool,
    edit: impl FnOnce(&mut Vec<u8>),
) -> Res<()> {
    let mut body: Vec<u8> =
        conn.query_row("SELECT body FROM key_slot WHERE slot = ?1", [slot], |row| {
            row.get(0)
        })?;
    edit(&mut body);
    conn.execute(
        "UPDATE key_slot SET body = ?1 WHERE slot = ?2",
        params![body, slot],
    )?;
    if recompute {
        conn.execute(
            "UPDATE key_slot SET checksum = ?1 WHERE slot = ?2",
            params![sha256(&body), slot],
        )?;
    }
    Ok(())
}

/// Edits a chunk's ciphertext; with `recompute`, its checksum is made to match again.
fn edit_chunk(
    conn: &Connection,
    stream: i64,
    chunk: i64,
    recompute: bool,
    edit: impl FnOnce(&mut Vec<u8>),
) -> Res<()> {
    let mut row = read_chunk(conn, stream, chunk)?;
    edit(&mut row.ciphertext);
    if recompute {
        row.checksum = sha256(&row.ciphertext);
    }
    write_chunk(conn, stream, chunk, &row)
}

struct ChunkRow {
    flags: i64,
    plain_len: i64,
    ciphertext: Vec<u8>,
    checksum: Vec<u8>,
}

fn read_chunk(conn: &Connection, stream: i64, chunk: i64) -> Res<ChunkRow> {
    conn.query_row(
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
    .optional()?
    .ok_or_else(|| format!("no chunk {stream}/{chunk}").into())
}

fn write_chunk(conn: &Connection, stream: i64, chunk: i64, row: &ChunkRow) -> Res<()> {
    conn.execute(
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
    )?;
    Ok(())
}

/// Sets a stream's counts in the plaintext index to what its chunk rows add up to.
fn fix_stream_counts(conn: &Connection, stream: i64) -> Res<()> {
    conn.execute(
        "UPDATE stream SET
           chunk_count = (SELECT count(*) FROM chunk WHERE stream_index = ?1),
           plain_len = (SELECT sum(plain_len) FROM chunk WHERE stream_index = ?1),
           stored_len = (SELECT sum(length(ciphertext)) FROM chunk WHERE stream_index = ?1)
         WHERE stream_index = ?1",
        [stream],
    )?;
    Ok(())
}

fn drop_stream(conn: &Connection, stream: i64) -> Res<()> {
    conn.execute("DELETE FROM chunk WHERE stream_index = ?1", [stream])?;
    conn.execute("DELETE FROM stream WHERE stream_index = ?1", [stream])?;
    Ok(())
}

fn toml_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

fn case_toml(case: &Case, streams: &[Stream]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Test vector {}: see README.md. Made by examples/make_vectors.rs.",
        case.name
    );
    let _ = writeln!(out, "description = {}", toml_string(case.what));
    let _ = writeln!(out, "key = {}", toml_string(case.key));
    let _ = writeln!(out, "\n[expect]");
    let _ = writeln!(out, "structure = {}", toml_string(case.structure));
    let _ = writeln!(out, "unlock = {}", toml_string(case.unlock));
    let _ = writeln!(out, "read = {}", toml_string(case.read));
    if let Some(message) = case.read_message {
        let _ = writeln!(out, "read_message = {}", toml_string(message));
    }
    if case.read == "ok" {
        let _ = writeln!(out, "format_version = {}", case.version);
    }
    if !streams.is_empty() {
        let _ = writeln!(
            out,
            "\n# SHA-256 of each stream's plaintext, in stream order.\n[streams]"
        );
        for s in streams {
            let _ = writeln!(
                out,
                "{} = {}",
                toml_string(s.name),
                toml_string(&hex::encode(sha256(&s.bytes)))
            );
        }
    }
    out
}

/// The first part of `tests/vectors/README.md`; the table of cases follows.
const README_HEAD: &str = r#"# Test vectors

Small vaults, good and damaged, each with its expected outcome (SPEC.md
section 12, FORMAT.md R12). `tests/vectors.rs` runs every `NAME.toml` here
against its `NAME.vault`; a new case is a new pair of files, not new code.

This file and all the cases below are written by
`cargo run -p vault-format --example make_vectors`. Vault ids, salts and
nonces are random, so a new run gives other bytes but the same outcomes.
Every vault has chunk_size 4096 and, for passphrase slots, Argon2id t=1,
m=64 KiB, p=1. The damage is done with plain rusqlite, as an attacker would.

## What a case states

* `key`: `keyfile` and `other-keyfile` are the key files `keyfile.txt` and
  `other-keyfile.txt`; `passphrase` and `other-passphrase` are the first
  lines of `passphrase.txt` and `other-passphrase.txt`. They are public
  test keys.
* `[expect]`: the code of SPEC.md section 10, or `ok`, for three operations,
  each starting from the file: `structure` is `check_structure`; `unlock` is
  `Vault::open` then `unlock`; `read` is open, unlock, then reading every
  stream of the manifest to its end, so a failure to open or unlock is also
  the outcome of `read`. `read_message`, when present, is a phrase the error
  of `read` must contain.
* `format_version` (good cases): the header's version. A version 2 vault
  must have a public key, and a signature made with the signing key that
  unlocking derives must verify under it (SPEC.md section 5.4); a version 1
  vault has neither.
* `[streams]` (good cases): the SHA-256 of every stream's plaintext; `read`
  must give exactly these streams and bytes.

The standard vault has three streams: `app_user` (index 0: 600 rows of text,
four full compressed chunks and a partial one), `document` (index 1) and
`audit` (index 2), each 10000 incompressible bytes in chunks of 4096, 4096
and 1808 bytes.

## Size

The format fixes `page_size` at 65536 and a vault has at least eight pages
(schema, five tables, two indexes), so even a tiny vault is 512 KiB on disk,
almost all zeros (a few tens of KiB once compressed, as git stores it). For
the same reason a manifest over its 16 MiB bound is no vector: that case is
built at run time by `tests/tamper.rs` (`a_manifest_over_its_bound_is_refused`),
as are truncation at every chunk boundary, chunks moved from every position,
and single-byte changes anywhere in a vault. `tests/hostile.rs` builds the
files that try to make a reader without a key build large values or run SQL:
a 300 MiB key-slot checksum, every value one byte over its bound (SPEC.md
section 2.2), and triggers, views, tables and indexes a vault does not have
(section 2.1).

## Adding a case

Add a `Case` to `examples/make_vectors.rs` and run it, or put a hand-made
`NAME.vault` here with its `NAME.toml` (and a line in this table).

## Cases

| case | key | what was done | structure | unlock | read |
|---|---|---|---|---|---|
"#;

fn readme(cases: &[Case]) -> String {
    let mut out = String::from(README_HEAD);
    for case in cases {
        let read = match case.read_message {
            Some(message) => format!("{} (\"{message}\")", case.read),
            None => case.read.to_owned(),
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} |",
            case.name,
            case.key,
            case.what.replace('|', "\\|"),
            case.structure,
            case.unlock,
            read
        );
    }
    out
}

/// Rewrites a SQLite file with 4 KiB pages so the committed vectors stay
/// small; rows are unchanged, so every outcome is the same (SPEC.md section
/// 2: readers accept any page size). Files SQLite cannot open stay as made.
fn compact(path: &Path) {
    if let Ok(conn) = Connection::open(path) {
        let _ = conn.execute_batch("PRAGMA page_size = 4096; VACUUM;");
    }
}

fn main() -> Res<()> {
    let output = match std::env::args_os().nth(1) {
        Some(folder) => PathBuf::from(folder),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors"),
    };
    std::fs::create_dir_all(&output)?;
    let maker = Maker {
        scratch: tempfile::tempdir()?,
    };
    for (name, text) in KEYS {
        std::fs::write(output.join(format!("{name}.txt")), text)?;
    }
    let cases = cases();
    for case in &cases {
        let made = maker.scratch(&format!("{}.vault", case.name));
        let streams = (case.make)(&maker, &made).map_err(|e| format!("{}: {e}", case.name))?;
        assert_eq!(
            case.read == "ok",
            !streams.is_empty(),
            "{}: good cases, and only they, record their streams",
            case.name
        );
        compact(&made);
        let target = output.join(format!("{}.vault", case.name));
        std::fs::copy(&made, &target)?;
        std::fs::write(
            output.join(format!("{}.toml", case.name)),
            case_toml(case, &streams),
        )?;
        let size = std::fs::metadata(&target)?.len();
        let _ = writeln!(std::io::stdout(), "{:<32} {:>8} bytes", case.name, size);
    }
    std::fs::write(output.join("README.md"), readme(&cases))?;
    Ok(())
}
