//! The two levels of check (SPEC.md section 9): structure without a key, every byte with one.

use std::path::Path;

use crate::bounded;
use crate::crypto::VaultKeys;
use crate::crypto::{self, FLAG_LAST, KNOWN_FLAGS, TAG_LEN};
use crate::error::{Location, Result, VaultError};
use crate::keys::KeyMaterial;
use crate::manifest::Manifest;
use crate::reader::Vault;

/// What a successful check covered.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CheckReport {
    pub streams: u64,
    pub chunks: u64,
    pub rows: u64,
    /// Bytes of ciphertext checked.
    pub stored_bytes: u64,
    /// Bytes of plaintext the streams hold.
    pub plain_bytes: u64,
    /// Whether every chunk was decrypted and every digest matched.
    pub read_data: bool,
}

/// The structural check of section 9.1, without a key.
pub fn check_structure(path: &Path) -> Result<CheckReport> {
    let vault = Vault::open(path)?;
    check_structure_of(&vault)
}

/// The deep check of section 9.2: structure, key, manifest, then every chunk.
pub fn check_deep(path: &Path, key: &KeyMaterial) -> Result<CheckReport> {
    let vault = Vault::open(path)?;
    let mut report = check_structure_of(&vault)?;
    let unlocked = vault.unlock(key)?;
    for entry in &unlocked.manifest().streams {
        let mut reader = unlocked.stream(&entry.name)?;
        while reader.next_chunk()?.is_some() {}
    }
    report.read_data = true;
    Ok(report)
}

pub(crate) fn check_structure_of(vault: &Vault) -> Result<CheckReport> {
    let conn = &vault.conn;
    let verdict: String = conn.query_row("PRAGMA quick_check", [], |row| row.get(0))?;
    if verdict != "ok" {
        return Err(VaultError::damaged(
            Location::File,
            format!("SQLite quick_check: {verdict}"),
        ));
    }
    if !vault.is_committed() {
        return Err(VaultError::Incomplete);
    }
    let (ciphertext, checksum) = crate::reader::read_manifest_row(conn)?;
    if crypto::sha256(&ciphertext)[..] != checksum[..] {
        return Err(VaultError::damaged(
            Location::Manifest,
            "its checksum does not match",
        ));
    }
    let strays: i64 = conn.query_row(
        "SELECT count(*) FROM chunk WHERE stream_index NOT IN (SELECT stream_index FROM stream)",
        [],
        |row| row.get(0),
    )?;
    if strays != 0 {
        return Err(VaultError::damaged(
            Location::File,
            format!("{strays} chunk(s) belong to no stream"),
        ));
    }
    let chunk_size = u64::from(vault.header().chunk_size);
    let ciphertext_column = bounded::chunk_ciphertext(vault.header().chunk_size);
    let mut report = CheckReport::default();
    for stream in vault.streams() {
        let at = |chunk: u64| Location::Chunk {
            stream: stream.name.clone(),
            chunk,
        };
        let mut query = conn.prepare_cached(&format!(
            "SELECT {}, {}, {}, typeof(ciphertext), {}, typeof(checksum), {}
             FROM chunk WHERE stream_index = ?1 ORDER BY chunk_index",
            bounded::CHUNK_INDEX.select(),
            bounded::CHUNK_FLAGS.select(),
            bounded::CHUNK_PLAIN_LEN.select(),
            ciphertext_column.select_length(),
            bounded::CHUNK_CHECKSUM.select_length(),
        ))?;
        let mut rows = query.query([stream.index])?;
        let (mut expected, mut plain_sum, mut stored_sum, mut saw_last) = (0u64, 0u64, 0u64, false);
        while let Some(row) = rows.next()? {
            let here = at(expected);
            let index = bounded::CHUNK_INDEX.get(row, 0, &here)?;
            let flags = bounded::CHUNK_FLAGS.get(row, 2, &here)?;
            let plain_len = bounded::CHUNK_PLAIN_LEN.get(row, 4, &here)?;
            if saw_last {
                return Err(VaultError::damaged(
                    at(expected),
                    "a chunk follows the last chunk",
                ));
            }
            if index != expected as i64 {
                return Err(VaultError::damaged(at(expected), "this chunk is missing"));
            }
            if flags < 0 || flags & !i64::from(KNOWN_FLAGS) != 0 {
                return Err(VaultError::damaged(
                    at(expected),
                    format!("unknown flags {flags}"),
                ));
            }
            if plain_len < 0 || plain_len as u64 > chunk_size {
                return Err(VaultError::LengthOutOfBounds {
                    location: at(expected),
                    detail: format!(
                        "plaintext length {plain_len} exceeds the chunk size {chunk_size}"
                    ),
                });
            }
            // The bytes themselves are hashed afterwards, on every core.
            let is_blob = |i| {
                row.get_ref(i)
                    .map(|value| value.as_str() == Ok("blob"))
                    .unwrap_or(false)
            };
            if !is_blob(6) || !is_blob(8) {
                return Err(column_error_blob(here));
            }
            let stored_len = ciphertext_column.length(row, 7, &here)? as u64;
            bounded::CHUNK_CHECKSUM.length(row, 9, &here)?;
            if stored_len < TAG_LEN as u64 {
                return Err(VaultError::LengthOutOfBounds {
                    location: here,
                    detail: format!(
                        "chunk.ciphertext holds {stored_len} bytes, fewer than the {TAG_LEN} of its tag"
                    ),
                });
            }
            saw_last = flags as u8 & FLAG_LAST != 0;
            if !saw_last && plain_len as u64 != chunk_size {
                return Err(VaultError::damaged(
                    at(expected),
                    "a chunk before the last one is not full",
                ));
            }
            plain_sum += plain_len as u64;
            stored_sum += stored_len;
            expected += 1;
        }
        if !saw_last {
            return Err(VaultError::Truncated {
                location: Location::Stream {
                    name: stream.name.clone(),
                },
                detail: format!("the stream ends after {expected} chunk(s) without its last chunk"),
            });
        }
        if expected != stream.chunk_count
            || plain_sum != stream.plain_len
            || stored_sum != stream.stored_len
        {
            return Err(VaultError::damaged(
                Location::Stream {
                    name: stream.name.clone(),
                },
                "its chunks do not add up to the counts and lengths in the stream index",
            ));
        }
        report.streams += 1;
        report.chunks += expected;
        report.rows += stream.row_count;
        report.plain_bytes += plain_sum;
        report.stored_bytes += stored_sum;
    }
    if let Some((stream_index, chunk)) = first_checksum_mismatch(vault)? {
        let stream = vault
            .streams()
            .iter()
            .find(|s| s.index == stream_index)
            .map_or_else(|| stream_index.to_string(), |s| s.name.clone());
        return Err(VaultError::damaged(
            Location::Chunk { stream, chunk },
            "its checksum does not match: the stored bytes changed",
        ));
    }
    Ok(report)
}

/// Hashes every chunk's stored bytes against its checksum, on one thread
/// per core, each reading its share of the chunks through a connection of
/// its own. Returns the first chunk (by stream index, then chunk index)
/// whose checksum does not match.
fn first_checksum_mismatch(vault: &Vault) -> Result<Option<(u32, u64)>> {
    let chunks: u64 = vault.streams().iter().map(|s| s.chunk_count).sum();
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 8)
        .min(usize::try_from(chunks).unwrap_or(usize::MAX))
        .max(1);
    let share = |conn: &rusqlite::Connection, part: usize| -> Result<Option<(u32, u64)>> {
        let mut query = conn.prepare(
            "SELECT stream_index, chunk_index, ciphertext, checksum FROM chunk
             WHERE (stream_index + chunk_index) % ?1 = ?2
             ORDER BY stream_index, chunk_index",
        )?;
        let mut rows = query.query([threads as i64, part as i64])?;
        while let Some(row) = rows.next()? {
            let (stream_index, chunk_index): (i64, i64) = (row.get(0)?, row.get(1)?);
            let (ciphertext, checksum) = (row.get_ref(2)?.as_blob(), row.get_ref(3)?.as_blob());
            let matches = match (ciphertext, checksum) {
                (Ok(ciphertext), Ok(checksum)) => crypto::sha256(ciphertext)[..] == checksum[..],
                _ => false,
            };
            if !matches {
                return Ok(Some((stream_index as u32, chunk_index as u64)));
            }
        }
        Ok(None)
    };
    if threads == 1 {
        return share(&vault.conn, 0);
    }
    let path = vault.path();
    let found: Vec<Result<Option<(u32, u64)>>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|part| {
                scope.spawn(move || {
                    let conn = crate::container::open(path, false)?;
                    share(&conn, part)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker.join().unwrap_or_else(|_| {
                    Err(VaultError::Usage {
                        detail: "a checking thread panicked".into(),
                    })
                })
            })
            .collect()
    });
    let mut first = None;
    for result in found {
        if let Some(at) = result? {
            first = Some(first.map_or(at, |earlier: (u32, u64)| earlier.min(at)));
        }
    }
    Ok(first)
}

fn column_error_blob(location: Location) -> VaultError {
    VaultError::damaged(location, "a column holds a value of the wrong type")
}

/// The read-back of a freshly written partial file (SPEC.md section 8 step 5).
pub(crate) fn verify_written(path: &Path, keys: &VaultKeys, written: &Manifest) -> Result<()> {
    let vault = Vault::open(path)?;
    check_structure_of(&vault)?;
    let manifest = crate::reader::read_manifest(
        &vault.conn,
        keys,
        &vault.header().vault_id,
        &vault.header_bytes,
    )?;
    if manifest != *written {
        return Err(VaultError::damaged(
            Location::Manifest,
            "the manifest read back differs from the one written",
        ));
    }
    crate::reader::check_manifest_against_index(&manifest, vault.header(), vault.streams())
}
