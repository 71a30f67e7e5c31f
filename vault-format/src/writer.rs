//! Writing a vault: named streams in, chunked, compressed, encrypted and committed (SPEC.md sections 6 to 8).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{Connection, params};
use sha2::{Digest, Sha256};

use crate::atomic::PartialFile;
use crate::crypto::{self, VaultKeys};
use crate::error::{Result, VaultError};
use crate::header::{DEFAULT_CHUNK_SIZE, FORMAT_VERSION, Header};
use crate::keys::{DataKey, KdfParams, KeyMaterial};
use crate::manifest::{MAX_STREAM_NAME_LEN, Manifest, StreamEntry};
use crate::sealer::{SealContext, Sealer, StreamProgress};
use crate::signing::SigningKey;
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
    /// zstd level: 1 by default, which on table rows and hex-encoded
    /// documents compresses about as well as 3 in a third of the time.
    pub compression_level: i32,
    /// Argon2id costs of passphrase slots.
    pub kdf: KdfParams,
    /// The format version to write: [`FORMAT_VERSION`], or 1 for a vault
    /// without a public key that older readers open (SPEC.md section 11).
    pub format_version: u16,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            source: String::new(),
            tool_version: format!("vault-format {}", env!("CARGO_PKG_VERSION")),
            chunk_size: DEFAULT_CHUNK_SIZE,
            compression_level: 1,
            kdf: KdfParams::default(),
            format_version: FORMAT_VERSION,
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
    /// Plaintext bytes handed to the sealing workers so far.
    written: Arc<AtomicU64>,
}

type Registry = Arc<Mutex<Vec<StreamState>>>;

/// A view of how far each stream of a vault being written has got, for a
/// progress display on another thread.
#[derive(Clone)]
pub struct WriteProgress {
    registry: Registry,
}

/// One stream in a [`WriteProgress`] view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamProgressView {
    pub name: String,
    /// Plaintext bytes written so far (advances a chunk at a time).
    pub bytes: u64,
    /// The row count, once the stream is finished.
    pub finished_rows: Option<u64>,
}

impl WriteProgress {
    /// Every stream opened so far, in the order they were opened.
    pub fn streams(&self) -> Vec<StreamProgressView> {
        let Ok(registry) = self.registry.lock() else {
            return Vec::new();
        };
        registry
            .iter()
            .map(|state| StreamProgressView {
                name: state.name.clone(),
                bytes: state
                    .finished
                    .as_ref()
                    .map_or_else(|| state.written.load(Ordering::Relaxed), |e| e.plain_len),
                finished_rows: state.finished.as_ref().map(|e| e.row_count),
            })
            .collect()
    }
}

/// Writes one vault. Streams may be written one after the other or at the
/// same time from several threads; their chunks are sealed on every core.
/// Nothing appears under the final name until [`VaultWriter::finish`] has
/// read the file back.
pub struct VaultWriter {
    conn: Arc<Mutex<Connection>>,
    registry: Registry,
    sealer: Arc<Sealer>,
    context: Arc<SealContext>,
    header_bytes: Vec<u8>,
    final_path: PathBuf,
    partial: PartialFile,
}

impl VaultWriter {
    /// Starts a vault that will be published at `path`, openable by each of `keys`.
    pub fn create(path: &Path, options: WriterOptions, keys: &[&KeyMaterial]) -> Result<Self> {
        if keys.len() > crate::slot::MAX_KEY_SLOTS as usize {
            return Err(VaultError::Usage {
                detail: format!(
                    "a vault has at most {} key slots",
                    crate::slot::MAX_KEY_SLOTS
                ),
            });
        }
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
        let data_key = DataKey::generate()?;
        let vault_id = crate::random::array::<16>()?;
        let public_key = (options.format_version >= 2)
            .then(|| SigningKey::derive(&data_key, &vault_id).public_key());
        let header = Header {
            format_version: options.format_version,
            vault_id,
            created_unix: now_unix(),
            chunk_size: options.chunk_size,
            public_key,
            tool_version: options.tool_version.clone(),
            source: options.source.clone(),
        };
        header.validate_for_writing()?;
        zstd::bulk::Compressor::new(options.compression_level).map_err(|e| VaultError::Usage {
            detail: format!("zstd level {}: {e}", options.compression_level),
        })?;
        let partial = PartialFile::create_beside(path)?;
        let conn = crate::container::create(partial.path(), header.format_version)?;
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
        let context = Arc::new(SealContext {
            keys: vault_keys,
            vault_id: header.vault_id,
            chunk_size: header.chunk_size as usize,
            compression_level: options.compression_level,
            format_version: header.format_version,
        });
        let conn = Arc::new(Mutex::new(conn));
        let sealer = Arc::new(Sealer::start(Arc::clone(&context), Arc::clone(&conn))?);
        Ok(VaultWriter {
            conn,
            registry: Arc::default(),
            sealer,
            context,
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
        if name.len() > MAX_STREAM_NAME_LEN {
            let start: String = name.chars().take(40).collect();
            return Err(VaultError::Usage {
                detail: format!(
                    "the stream name \"{start}...\" is {} bytes, more than the {MAX_STREAM_NAME_LEN} a vault allows; give a shorter name",
                    name.len()
                ),
            });
        }
        let mut registry = lock(&self.registry)?;
        if registry.iter().any(|s| s.name == name) {
            return Err(VaultError::Usage {
                detail: format!("stream \"{name}\" is written twice"),
            });
        }
        let index = u32::try_from(registry.len())
            .ok()
            .filter(|&i| i < crypto::MANIFEST_STREAM_INDEX)
            .ok_or_else(|| VaultError::Usage {
                detail: "too many streams".into(),
            })?;
        let written = Arc::new(AtomicU64::new(0));
        registry.push(StreamState {
            name: name.to_owned(),
            metadata,
            finished: None,
            written: Arc::clone(&written),
        });
        Ok(StreamWriter {
            conn: Arc::clone(&self.conn),
            registry: Arc::clone(&self.registry),
            sealer: Arc::clone(&self.sealer),
            progress: StreamProgress::new(name),
            chunk_size: self.context.chunk_size,
            index,
            name: name.to_owned(),
            pending: self.sealer.buffer(),
            chunk_index: 0,
            hasher: Sha256::new(),
            plain_len: 0,
            rows: 0,
            written,
        })
    }

    /// A handle that reports each stream's progress while this writer runs.
    pub fn progress(&self) -> WriteProgress {
        WriteProgress {
            registry: Arc::clone(&self.registry),
        }
    }

    /// Writes the manifest, reads the file back, and publishes it under
    /// its final name. Fails if any stream was left unfinished.
    pub fn finish(self) -> Result<VaultSummary> {
        let VaultWriter {
            conn,
            registry,
            sealer,
            context,
            header_bytes,
            final_path,
            partial,
        } = self;
        let states = std::mem::take(&mut *lock(&registry)?);
        let mut streams = Vec::with_capacity(states.len());
        for state in states {
            let entry = state.finished.ok_or_else(|| VaultError::Usage {
                detail: format!("stream \"{}\" was not finished", state.name),
            })?;
            streams.push(entry);
        }
        let mut sealer = Arc::try_unwrap(sealer).map_err(|_| VaultError::Usage {
            detail: "a stream writer is still open".into(),
        })?;
        sealer.stop();
        let conn = Arc::try_unwrap(conn)
            .map_err(|_| VaultError::Usage {
                detail: "a stream writer is still open".into(),
            })?
            .into_inner()
            .map_err(|_| VaultError::Usage {
                detail: "a sealing worker panicked".into(),
            })?;
        let manifest = Manifest {
            format_version: context.format_version,
            vault_id: hex::encode(context.vault_id),
            streams,
        };
        let json = serde_json::to_vec(&manifest).expect("the manifest serializes");
        let nonce = crypto::chunk_nonce(crypto::MANIFEST_STREAM_INDEX, 0);
        let ad = crypto::manifest_ad(&context.vault_id, &header_bytes);
        let ciphertext = crypto::seal(&context.keys.payload, &nonce, &json, &ad);
        conn.execute(
            "INSERT INTO manifest (id, ciphertext, checksum) VALUES (1, ?1, ?2)",
            params![ciphertext, crypto::sha256(&ciphertext)],
        )?;
        conn.close().map_err(|(_, e)| VaultError::from(e))?;

        crate::check::verify_written(partial.path(), &context.keys, &manifest)?;
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
    conn: Arc<Mutex<Connection>>,
    registry: Registry,
    sealer: Arc<Sealer>,
    progress: Arc<StreamProgress>,
    chunk_size: usize,
    index: u32,
    name: String,
    pending: Vec<u8>,
    chunk_index: u64,
    hasher: Sha256,
    plain_len: u64,
    rows: u64,
    written: Arc<AtomicU64>,
}

impl StreamWriter {
    /// Counts rows for the plaintext index and the manifest.
    pub fn add_rows(&mut self, rows: u64) {
        self.rows += rows;
    }

    /// Appends bytes to the stream.
    pub fn write_bytes(&mut self, mut bytes: &[u8]) -> Result<()> {
        while !bytes.is_empty() {
            if self.pending.len() == self.chunk_size {
                self.hand_over(false)?;
            }
            let take = (self.chunk_size - self.pending.len()).min(bytes.len());
            self.pending.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
        }
        Ok(())
    }

    /// Seals the last chunk, waits until every chunk is in the file, and
    /// records the stream as complete.
    pub fn finish(mut self) -> Result<StreamEntry> {
        self.hand_over(true)?;
        let stored_len = self.progress.wait_settled()?;
        let mut registry = lock(&self.registry)?;
        let state = &mut registry[self.index as usize];
        let entry = StreamEntry {
            index: self.index,
            name: self.name.clone(),
            metadata: state.metadata.clone(),
            chunk_count: self.chunk_index,
            row_count: self.rows,
            plain_len: self.plain_len,
            stored_len,
            sha256: hex::encode(self.hasher.clone().finalize()),
        };
        lock(&self.conn)?.execute(
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
        state.finished = Some(entry.clone());
        Ok(entry)
    }

    /// Hashes the pending chunk in stream order and gives it to the sealing workers.
    fn hand_over(&mut self, last: bool) -> Result<()> {
        if let Some(error) = self.progress.take_failure() {
            return Err(error);
        }
        self.hasher.update(&self.pending);
        self.plain_len += self.pending.len() as u64;
        self.written.store(self.plain_len, Ordering::Relaxed);
        let plain = std::mem::replace(&mut self.pending, self.sealer.buffer());
        self.sealer
            .submit(&self.progress, self.index, self.chunk_index, last, plain)?;
        self.chunk_index += 1;
        Ok(())
    }
}

impl io::Write for StreamWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.pending.len() == self.chunk_size {
            self.hand_over(false).map_err(io::Error::other)?;
        }
        let take = (self.chunk_size - self.pending.len()).min(buf.len());
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

fn lock<T>(mutex: &Mutex<T>) -> Result<MutexGuard<'_, T>> {
    mutex.lock().map_err(|_| VaultError::Usage {
        detail: "a writer thread panicked".into(),
    })
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
