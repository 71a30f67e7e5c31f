//! Writing a vault: named streams in, chunked, compressed, encrypted and committed (SPEC.md sections 6 to 8).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{Connection, params};
use sha2::{Digest, Sha256};

use crate::atomic::PartialFile;
use crate::crypto::{self, FLAG_LAST, FLAG_ZSTD, VaultKeys};
use crate::error::{Location, Result, VaultError};
use crate::header::{DEFAULT_CHUNK_SIZE, FORMAT_VERSION, Header};
use crate::keys::{DataKey, KdfParams, KeyMaterial};
use crate::manifest::{Manifest, StreamEntry};
use crate::slot::KeySlot;

/// How a new vault is written.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// Where the data came from (engine, host, port, database); no password, no data.
    pub source: String,
    /// The program that writes the vault, with its version.
    pub tool_version: String,
    /// Plaintext bytes per chunk.
    pub chunk_size: u32,
    /// zstd level.
    pub compression_level: i32,
    /// Argon2id costs of passphrase slots.
    pub kdf: KdfParams,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            source: String::new(),
            tool_version: format!("vault-format {}", env!("CARGO_PKG_VERSION")),
            chunk_size: DEFAULT_CHUNK_SIZE,
            compression_level: 3,
            kdf: KdfParams::default(),
        }
    }
}

/// What a finished vault holds.
#[derive(Debug, Clone)]
pub struct VaultSummary {
    pub path: PathBuf,
    pub vault_id: [u8; 16],
    pub streams: Vec<StreamEntry>,
}

struct StreamState {
    name: String,
    metadata: serde_json::Value,
    finished: Option<StreamEntry>,
}

struct Shared {
    conn: Connection,
    streams: Vec<StreamState>,
    failure: Option<String>,
}

/// What every stream of one vault shares.
struct StreamContext {
    keys: VaultKeys,
    vault_id: [u8; 16],
    chunk_size: usize,
    compression_level: i32,
}

/// Writes one vault. Streams may be written one after the other or at the
/// same time from several threads. Nothing appears under the final name
/// until [`VaultWriter::finish`] has verified the file.
pub struct VaultWriter {
    shared: Arc<Mutex<Shared>>,
    context: Arc<StreamContext>,
    header_bytes: Vec<u8>,
    final_path: PathBuf,
    partial: PartialFile,
}

impl VaultWriter {
    /// Starts a vault that will be published at `path`, openable by each of `keys`.
    pub fn create(path: &Path, options: WriterOptions, keys: &[&KeyMaterial]) -> Result<Self> {
        if keys.is_empty() {
            return Err(VaultError::Usage {
                detail: "a vault needs at least one key".into(),
            });
        }
        if path.exists() {
            return Err(VaultError::AlreadyExists {
                path: path.to_owned(),
            });
        }
        let header = Header {
            format_version: FORMAT_VERSION,
            vault_id: crate::random::array::<16>()?,
            created_unix: now_unix(),
            chunk_size: options.chunk_size,
            tool_version: options.tool_version.clone(),
            source: options.source.clone(),
        };
        header.validate_for_writing()?;
        let partial = PartialFile::create_beside(path)?;
        let conn = crate::container::create(partial.path())?;
        let data_key = DataKey::generate()?;
        let vault_keys = VaultKeys::derive(&data_key, &header.vault_id);
        let header_bytes = header.encode();
        conn.execute(
            "INSERT INTO vault_header (id, header, header_mac) VALUES (1, ?1, ?2)",
            params![header_bytes, vault_keys.header_mac(&header_bytes)],
        )?;
        for (number, material) in (1u32..).zip(keys) {
            let slot = KeySlot::create(number, &header.vault_id, &data_key, material, options.kdf)?;
            insert_slot(&conn, &slot)?;
        }
        let context = StreamContext {
            keys: vault_keys,
            vault_id: header.vault_id,
            chunk_size: header.chunk_size as usize,
            compression_level: options.compression_level,
        };
        Ok(VaultWriter {
            shared: Arc::new(Mutex::new(Shared {
                conn,
                streams: Vec::new(),
                failure: None,
            })),
            context: Arc::new(context),
            header_bytes,
            final_path: path.to_owned(),
            partial,
        })
    }

    /// The random id of the vault being written.
    pub fn vault_id(&self) -> [u8; 16] {
        self.context.vault_id
    }

    /// Opens a new stream. Its bytes go through the returned writer, which
    /// must be [`finish`](StreamWriter::finish)ed before the vault is.
    pub fn stream(&self, name: &str, metadata: serde_json::Value) -> Result<StreamWriter> {
        let mut shared = lock(&self.shared)?;
        if shared.streams.iter().any(|s| s.name == name) {
            return Err(VaultError::Usage {
                detail: format!("stream \"{name}\" is written twice"),
            });
        }
        let index = u32::try_from(shared.streams.len())
            .ok()
            .filter(|&i| i < crypto::MANIFEST_STREAM_INDEX)
            .ok_or_else(|| VaultError::Usage {
                detail: "too many streams".into(),
            })?;
        shared.streams.push(StreamState {
            name: name.to_owned(),
            metadata,
            finished: None,
        });
        let compressor =
            zstd::bulk::Compressor::new(self.context.compression_level).map_err(|e| {
                VaultError::Usage {
                    detail: format!("zstd level: {e}"),
                }
            })?;
        Ok(StreamWriter {
            shared: Arc::clone(&self.shared),
            context: Arc::clone(&self.context),
            index,
            name: name.to_owned(),
            pending: Vec::with_capacity(self.context.chunk_size),
            compressed: Vec::with_capacity(zstd::zstd_safe::compress_bound(
                self.context.chunk_size,
            )),
            compressor,
            chunk_index: 0,
            hasher: Sha256::new(),
            plain_len: 0,
            stored_len: 0,
            rows: 0,
        })
    }

    /// Writes the manifest, reads the file back, and publishes it under
    /// its final name. Fails if any stream was left unfinished.
    pub fn finish(self) -> Result<VaultSummary> {
        let VaultWriter {
            shared,
            context,
            header_bytes,
            final_path,
            partial,
        } = self;
        let shared = Arc::try_unwrap(shared)
            .map_err(|_| VaultError::Usage {
                detail: "a stream writer is still open".into(),
            })?
            .into_inner()
            .map_err(|_| VaultError::Usage {
                detail: "a stream writer panicked".into(),
            })?;
        if let Some(failure) = shared.failure {
            return Err(VaultError::Usage {
                detail: format!("a stream failed earlier: {failure}"),
            });
        }
        let mut streams = Vec::with_capacity(shared.streams.len());
        for state in shared.streams {
            let entry = state.finished.ok_or_else(|| VaultError::Usage {
                detail: format!("stream \"{}\" was not finished", state.name),
            })?;
            streams.push(StreamEntry {
                metadata: state.metadata,
                ..entry
            });
        }
        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            vault_id: hex::encode(context.vault_id),
            streams,
        };
        let json = serde_json::to_vec(&manifest).expect("the manifest serializes");
        let nonce = crypto::chunk_nonce(crypto::MANIFEST_STREAM_INDEX, 0);
        let ad = crypto::manifest_ad(&context.vault_id, &header_bytes);
        let ciphertext = crypto::seal(&context.keys.payload, &nonce, &json, &ad);
        shared.conn.execute(
            "INSERT INTO manifest (id, ciphertext, checksum) VALUES (1, ?1, ?2)",
            params![ciphertext, crypto::sha256(&ciphertext)],
        )?;
        shared.conn.close().map_err(|(_, e)| VaultError::from(e))?;

        crate::reader::verify_written(partial.path(), &context.keys, &manifest)?;
        partial.publish(&final_path, false)?;
        Ok(VaultSummary {
            path: final_path,
            vault_id: context.vault_id,
            streams: manifest.streams,
        })
    }
}

/// Writes the bytes of one stream; see [`VaultWriter::stream`].
pub struct StreamWriter {
    shared: Arc<Mutex<Shared>>,
    context: Arc<StreamContext>,
    index: u32,
    name: String,
    pending: Vec<u8>,
    compressed: Vec<u8>,
    compressor: zstd::bulk::Compressor<'static>,
    chunk_index: u64,
    hasher: Sha256,
    plain_len: u64,
    stored_len: u64,
    rows: u64,
}

impl StreamWriter {
    /// Counts rows for the plaintext index and the manifest.
    pub fn add_rows(&mut self, rows: u64) {
        self.rows += rows;
    }

    /// Appends bytes to the stream.
    pub fn write_bytes(&mut self, mut bytes: &[u8]) -> Result<()> {
        while !bytes.is_empty() {
            if self.pending.len() == self.context.chunk_size {
                self.seal_pending(false)?;
            }
            let room = self.context.chunk_size - self.pending.len();
            let take = room.min(bytes.len());
            self.pending.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
        }
        Ok(())
    }

    /// Seals the last chunk and records the stream as complete.
    pub fn finish(mut self) -> Result<StreamEntry> {
        self.seal_pending(true)?;
        let entry = StreamEntry {
            index: self.index,
            name: self.name.clone(),
            metadata: serde_json::Value::Null,
            chunk_count: self.chunk_index,
            row_count: self.rows,
            plain_len: self.plain_len,
            stored_len: self.stored_len,
            sha256: hex::encode(self.hasher.clone().finalize()),
        };
        let mut shared = lock(&self.shared)?;
        shared.conn.execute(
            "INSERT INTO stream (stream_index, name, chunk_count, row_count, plain_len, stored_len)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                entry.index,
                entry.name,
                entry.chunk_count as i64,
                entry.row_count as i64,
                entry.plain_len as i64,
                entry.stored_len as i64
            ],
        )?;
        let state = &mut shared.streams[self.index as usize];
        state.finished = Some(StreamEntry {
            metadata: state.metadata.clone(),
            ..entry.clone()
        });
        Ok(StreamEntry {
            metadata: state.metadata.clone(),
            ..entry
        })
    }

    fn seal_pending(&mut self, last: bool) -> Result<()> {
        let result = self.seal_pending_inner(last);
        if let Err(error) = &result {
            if let Ok(mut shared) = self.shared.lock() {
                shared
                    .failure
                    .get_or_insert_with(|| format!("stream \"{}\": {error}", self.name));
            }
        }
        result
    }

    fn seal_pending_inner(&mut self, last: bool) -> Result<()> {
        let plain = &self.pending;
        self.hasher.update(plain);
        let plain_len = u32::try_from(plain.len()).expect("chunks are at most 16 MiB");
        self.compressed.clear();
        self.compressor
            .compress_to_buffer(plain, &mut self.compressed)
            .map_err(|e| {
                VaultError::damaged(
                    Location::Chunk {
                        stream: self.name.clone(),
                        chunk: self.chunk_index,
                    },
                    format!("zstd failed: {e}"),
                )
            })?;
        let (mut flags, stored) = if self.compressed.len() < plain.len() {
            (FLAG_ZSTD, &self.compressed)
        } else {
            (0, plain)
        };
        if last {
            flags |= FLAG_LAST;
        }
        let nonce = crypto::chunk_nonce(self.index, self.chunk_index);
        let ad = crypto::chunk_ad(
            &self.context.vault_id,
            self.index,
            self.chunk_index,
            flags,
            plain_len,
        );
        let ciphertext = crypto::seal(&self.context.keys.payload, &nonce, stored, &ad);
        let checksum = crypto::sha256(&ciphertext);
        {
            let shared = lock(&self.shared)?;
            let mut insert = shared.conn.prepare_cached(
                "INSERT INTO chunk (stream_index, chunk_index, flags, plain_len, ciphertext, checksum)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            insert.execute(params![
                self.index,
                self.chunk_index as i64,
                flags,
                plain_len,
                ciphertext,
                checksum
            ])?;
        }
        self.plain_len += u64::from(plain_len);
        self.stored_len += ciphertext.len() as u64;
        self.chunk_index += 1;
        self.pending.clear();
        Ok(())
    }
}

impl io::Write for StreamWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.pending.len() == self.context.chunk_size {
            self.seal_pending(false).map_err(io::Error::other)?;
        }
        let take = (self.context.chunk_size - self.pending.len()).min(buf.len());
        self.pending.extend_from_slice(&buf[..take]);
        Ok(take)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

pub(crate) fn insert_slot(conn: &Connection, slot: &KeySlot) -> Result<()> {
    let body = slot.encode();
    conn.execute(
        "INSERT INTO key_slot (slot, body, checksum) VALUES (?1, ?2, ?3)",
        params![slot.number, body, crypto::sha256(&body)],
    )?;
    Ok(())
}

fn lock(shared: &Mutex<Shared>) -> Result<MutexGuard<'_, Shared>> {
    shared.lock().map_err(|_| VaultError::Usage {
        detail: "a stream writer panicked".into(),
    })
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
