//! Reading a vault: the keyless view, unlocking, and streams verified as they are read (SPEC.md sections 5, 7, 9.3).

use std::io;
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use sha2::{Digest, Sha256};

use crate::bounded;
use crate::crypto::{self, FLAG_LAST, FLAG_ZSTD, KNOWN_FLAGS, TAG_LEN, VaultKeys};
use crate::error::{Location, Result, VaultError};
use crate::header::Header;
use crate::keys::KeyMaterial;
use crate::manifest::{Manifest, StreamEntry, StreamInfo};
use crate::signing::SigningKey;
use crate::slot::{KeySlot, SlotKind};

/// A vault opened without a key: header, key slots and the plaintext stream index.
pub struct Vault {
    pub(crate) conn: Connection,
    path: PathBuf,
    header: Header,
    pub(crate) header_bytes: Vec<u8>,
    header_mac: Vec<u8>,
    slots: Vec<KeySlot>,
    streams: Vec<StreamInfo>,
    committed: bool,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("path", &self.path)
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

impl Vault {
    /// Opens a vault read-only and parses what needs no key.
    pub fn open(path: &Path) -> Result<Self> {
        Vault::open_with(path, false)
    }

    pub(crate) fn open_with(path: &Path, writable: bool) -> Result<Self> {
        let conn = crate::container::open(path, writable)?;
        let (header_bytes, header_mac) = read_header_row(&conn)?;
        let header = Header::decode(&header_bytes)?;
        let slots = read_slots(&conn)?;
        let streams = read_stream_index(&conn)?;
        let committed: i64 =
            conn.query_row("SELECT count(*) FROM manifest", [], |row| row.get(0))?;
        Ok(Vault {
            conn,
            path: path.to_owned(),
            header,
            header_bytes,
            header_mac,
            slots,
            streams,
            committed: committed == 1,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    pub fn slots(&self) -> &[KeySlot] {
        &self.slots
    }

    /// The plaintext stream index, in stream order.
    pub fn streams(&self) -> &[StreamInfo] {
        &self.streams
    }

    /// Whether the manifest (the commit record) is present.
    pub fn is_committed(&self) -> bool {
        self.committed
    }

    /// Unlocks with a passphrase or key file, checks the header MAC, and
    /// decrypts and cross-checks the manifest.
    pub fn unlock(self, material: &KeyMaterial) -> Result<UnlockedVault> {
        if !self.committed {
            return Err(VaultError::Incomplete);
        }
        let mut opened = None;
        for slot in &self.slots {
            if let Some(data_key) = slot.unwrap_key(&self.header.vault_id, material)? {
                opened = Some((slot.number, data_key));
                break;
            }
        }
        let Some((slot_number, data_key)) = opened else {
            return Err(VaultError::WrongKey {
                detail: self.wrong_key_detail(material),
            });
        };
        let keys = VaultKeys::derive(&data_key, &self.header.vault_id);
        if !keys.header_mac_matches(&self.header_bytes, &self.header_mac) {
            return Err(VaultError::HeaderTampered);
        }
        // The MAC authenticated the public key; it must also be the one the
        // data key derives (SPEC.md section 5.4).
        if let Some(public_key) = self.header.public_key {
            if SigningKey::derive(&data_key, &self.header.vault_id).public_key() != public_key {
                return Err(VaultError::HeaderTampered);
            }
        }
        let manifest = read_manifest(&self.conn, &keys, &self.header.vault_id, &self.header_bytes)?;
        check_manifest_against_index(&manifest, &self.header, &self.streams)?;
        Ok(UnlockedVault {
            vault: self,
            keys,
            manifest,
            slot_number,
            data_key,
        })
    }

    fn wrong_key_detail(&self, material: &KeyMaterial) -> String {
        let same_kind = self
            .slots
            .iter()
            .filter(|s| s.kind.name() == material.kind_name())
            .count();
        let listing: Vec<String> = self
            .slots
            .iter()
            .map(|s| match &s.kind {
                SlotKind::KeyFile { fingerprint, .. } => {
                    format!("slot {} (key file {})", s.number, hex::encode(fingerprint))
                }
                SlotKind::Passphrase { .. } => format!("slot {} (passphrase)", s.number),
            })
            .collect();
        match material {
            _ if same_kind == 0 => format!(
                "this vault has no {} slot; its slots are: {}",
                material.kind_name(),
                listing.join(", ")
            ),
            KeyMaterial::KeyFile(key) => format!(
                "the key file (fingerprint {}) opens none of this vault's slots: {}",
                hex::encode(key.fingerprint()),
                listing.join(", ")
            ),
            KeyMaterial::Passphrase(_) => {
                format!("the passphrase opens none of this vault's {same_kind} passphrase slot(s)")
            }
        }
    }
}

/// A vault whose key has been checked: its manifest and its streams.
pub struct UnlockedVault {
    pub(crate) vault: Vault,
    pub(crate) keys: VaultKeys,
    manifest: Manifest,
    slot_number: u32,
    pub(crate) data_key: crate::keys::DataKey,
}

impl std::fmt::Debug for UnlockedVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnlockedVault")
            .field("vault", &self.vault)
            .field("slot", &self.slot_number)
            .finish()
    }
}

impl UnlockedVault {
    /// An unlocked vault from a vault whose key was already checked.
    pub(crate) fn from_parts(
        vault: Vault,
        data_key: &crate::keys::DataKey,
        manifest: Manifest,
        slot_number: u32,
    ) -> Self {
        let keys = VaultKeys::derive(data_key, &vault.header.vault_id);
        let data_key = crate::keys::DataKey(data_key.0.clone());
        UnlockedVault {
            vault,
            keys,
            manifest,
            slot_number,
            data_key,
        }
    }

    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// A 256-bit key for the caller's own use, derived from the data key with
    /// HKDF-SHA256 (salt: the vault id; info: `"vault-v1 caller " || purpose`).
    /// Distinct purposes give independent keys; none of them can decrypt the
    /// vault. The tool signs its run reports with one.
    pub fn derive_key(&self, purpose: &str) -> zeroize::Zeroizing<[u8; 32]> {
        let mut info = b"vault-v1 caller ".to_vec();
        info.extend_from_slice(purpose.as_bytes());
        crate::crypto::derive(
            self.data_key.0.as_ref(),
            &self.vault.header().vault_id,
            &info,
        )
    }

    /// The vault's Ed25519 signing key (SPEC.md section 5.4), derived again
    /// from the data key; `None` for a version 1 vault, which has no public
    /// key. Its signatures verify under `header().public_key`.
    pub fn signing_key(&self) -> Option<SigningKey> {
        self.vault
            .header
            .public_key
            .map(|_| SigningKey::derive(&self.data_key, &self.vault.header.vault_id))
    }

    /// The number of the slot that the key material opened.
    pub fn opened_slot(&self) -> u32 {
        self.slot_number
    }

    /// A reader of one stream's bytes, authenticated as they are read.
    pub fn stream(&self, name: &str) -> Result<StreamReader<'_>> {
        let entry = self
            .manifest
            .streams
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| VaultError::StreamNotFound {
                name: name.to_owned(),
            })?;
        Ok(StreamReader::new(self, entry))
    }
}

/// A chunk row as stored, not yet authenticated.
struct StoredChunk {
    flags: i64,
    plain_len: i64,
    ciphertext: Vec<u8>,
    checksum: Vec<u8>,
}

/// Reads one stream chunk by chunk; see SPEC.md section 9.3.
pub struct StreamReader<'a> {
    vault: &'a UnlockedVault,
    entry: &'a StreamEntry,
    next_chunk: u64,
    buf: Vec<u8>,
    pos: usize,
    hasher: Sha256,
    done: bool,
    decompressor: zstd::bulk::Decompressor<'static>,
}

impl<'a> StreamReader<'a> {
    fn new(vault: &'a UnlockedVault, entry: &'a StreamEntry) -> Self {
        StreamReader {
            vault,
            entry,
            next_chunk: 0,
            buf: Vec::new(),
            pos: 0,
            hasher: Sha256::new(),
            done: false,
            decompressor: zstd::bulk::Decompressor::new().expect("zstd context"),
        }
    }

    /// The manifest entry of this stream (metadata, counts, digest).
    pub fn entry(&self) -> &'a StreamEntry {
        self.entry
    }

    /// The next chunk's plaintext, or `None` at the verified end of the stream.
    pub fn next_chunk(&mut self) -> Result<Option<&[u8]>> {
        if self.done {
            return Ok(None);
        }
        self.load_chunk()?;
        self.pos = self.buf.len();
        Ok(Some(&self.buf))
    }

    fn location(&self) -> Location {
        Location::Chunk {
            stream: self.entry.name.clone(),
            chunk: self.next_chunk,
        }
    }

    fn load_chunk(&mut self) -> Result<()> {
        let chunk_size = self.vault.vault.header.chunk_size;
        let index = self.entry.index;
        let Some(StoredChunk {
            flags,
            plain_len,
            ciphertext,
            checksum,
        }) = self.read_chunk_row(chunk_size)?
        else {
            return Err(VaultError::Truncated {
                location: self.location(),
                detail: format!(
                    "the stream ends after {} of its {} chunks",
                    self.next_chunk, self.entry.chunk_count
                ),
            });
        };
        let flags = u8::try_from(flags)
            .ok()
            .filter(|f| f & !KNOWN_FLAGS == 0)
            .ok_or_else(|| {
                VaultError::damaged(self.location(), format!("unknown flags {flags}"))
            })?;
        let plain_len = u32::try_from(plain_len)
            .ok()
            .filter(|&n| n <= chunk_size)
            .ok_or_else(|| VaultError::LengthOutOfBounds {
                location: self.location(),
                detail: format!("plaintext length {plain_len} exceeds the chunk size {chunk_size}"),
            })?;
        let nonce = crypto::chunk_nonce(index, self.next_chunk);
        let ad = crypto::chunk_ad(
            &self.vault.vault.header.vault_id,
            index,
            self.next_chunk,
            flags,
            plain_len,
        );
        let Some(stored) = crypto::open(&self.vault.keys.payload, &nonce, &ciphertext, &ad) else {
            let detail = if crypto::sha256(&ciphertext)[..] == checksum[..] {
                "fails authentication: it was altered and its checksum recomputed, or moved from another vault, stream or position"
            } else {
                "its checksum does not match: the stored bytes changed"
            };
            return Err(VaultError::damaged(self.location(), detail));
        };
        self.buf.clear();
        if flags & FLAG_ZSTD != 0 {
            self.buf.reserve(plain_len as usize);
            self.decompressor
                .decompress_to_buffer(&stored, &mut self.buf)
                .map_err(|e| VaultError::damaged(self.location(), format!("zstd: {e}")))?;
        } else {
            self.buf.extend_from_slice(&stored);
        }
        if self.buf.len() != plain_len as usize {
            return Err(VaultError::damaged(
                self.location(),
                format!("holds {} bytes, the index says {plain_len}", self.buf.len()),
            ));
        }
        let last = flags & FLAG_LAST != 0;
        if !last && plain_len != chunk_size {
            return Err(VaultError::damaged(
                self.location(),
                "a chunk before the last one is not full",
            ));
        }
        self.hasher.update(&self.buf);
        self.next_chunk += 1;
        if last {
            if self.next_chunk != self.entry.chunk_count {
                return Err(VaultError::damaged(
                    self.location(),
                    format!(
                        "marked last, but the manifest lists {} chunks",
                        self.entry.chunk_count
                    ),
                ));
            }
            let digest = hex::encode(self.hasher.clone().finalize());
            if digest != self.entry.sha256 {
                return Err(VaultError::damaged(
                    Location::Stream {
                        name: self.entry.name.clone(),
                    },
                    "the plaintext digest does not match the manifest",
                ));
            }
            self.done = true;
        }
        Ok(())
    }

    /// The next chunk's flags, plaintext length, ciphertext and checksum,
    /// each checked before it is read (SPEC.md section 2.2); `None` when
    /// the chunk is missing.
    fn read_chunk_row(&self, chunk_size: u32) -> Result<Option<StoredChunk>> {
        let ciphertext = bounded::chunk_ciphertext(chunk_size);
        let mut query = self.vault.vault.conn.prepare_cached(&format!(
            "SELECT {}, {}, {}, {} FROM chunk WHERE stream_index = ?1 AND chunk_index = ?2",
            bounded::CHUNK_FLAGS.select(),
            bounded::CHUNK_PLAIN_LEN.select(),
            ciphertext.select(),
            bounded::CHUNK_CHECKSUM.select()
        ))?;
        let mut rows = query.query(rusqlite::params![self.entry.index, self.next_chunk as i64])?;
        let Some(row) = rows.next()? else {
            return Ok(None);
        };
        let at = self.location();
        Ok(Some(StoredChunk {
            flags: bounded::CHUNK_FLAGS.get(row, 0, &at)?,
            plain_len: bounded::CHUNK_PLAIN_LEN.get(row, 2, &at)?,
            ciphertext: ciphertext.bytes(row, 4, &at)?,
            checksum: bounded::CHUNK_CHECKSUM.bytes(row, 6, &at)?,
        }))
    }
}

impl io::Read for StreamReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.buf.len() {
            if self.done {
                return Ok(0);
            }
            self.load_chunk().map_err(io::Error::other)?;
            self.pos = 0;
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Recovers the [`VaultError`] that a stream reader wrapped in an `io::Error`.
pub fn vault_error_of(error: io::Error) -> VaultError {
    match error.get_ref().map(|inner| inner.is::<VaultError>()) {
        Some(true) => *error
            .into_inner()
            .expect("checked")
            .downcast::<VaultError>()
            .expect("checked"),
        _ => VaultError::Io {
            path: PathBuf::from("<stream>"),
            source: error,
        },
    }
}

/// The header and its MAC, each refused unread when over its bound.
fn read_header_row(conn: &Connection) -> Result<(Vec<u8>, Vec<u8>)> {
    let mut query = conn.prepare(&format!(
        "SELECT {}, {} FROM vault_header WHERE id = 1",
        bounded::HEADER.select(),
        bounded::HEADER_MAC.select()
    ))?;
    let mut rows = query.query([])?;
    let row = rows
        .next()?
        .ok_or_else(|| VaultError::damaged(Location::Header, "the header row is missing"))?;
    Ok((
        bounded::HEADER.bytes(row, 0, &Location::Header)?,
        bounded::HEADER_MAC.bytes(row, 2, &Location::Header)?,
    ))
}

fn read_slots(conn: &Connection) -> Result<Vec<KeySlot>> {
    let count: i64 = conn.query_row("SELECT count(*) FROM key_slot", [], |row| row.get(0))?;
    if count > i64::from(crate::slot::MAX_KEY_SLOTS) {
        return Err(VaultError::KdfTooCostly {
            slot: 0,
            detail: format!(
                "the vault has {count} key slots, more than the {} a writer makes",
                crate::slot::MAX_KEY_SLOTS
            ),
        });
    }
    // `slot` is the rowid, always an integer.
    let mut query = conn.prepare(&format!(
        "SELECT slot, {}, {} FROM key_slot ORDER BY slot",
        bounded::SLOT_BODY.select(),
        bounded::SLOT_CHECKSUM.select()
    ))?;
    let mut rows = query.query([])?;
    let mut slots = Vec::new();
    while let Some(row) = rows.next()? {
        let number: i64 = row.get(0)?;
        let number = u32::try_from(number).map_err(|_| {
            VaultError::damaged(
                Location::File,
                format!("key slot number {number} is invalid"),
            )
        })?;
        let at = Location::Slot(number);
        let body = bounded::SLOT_BODY.bytes(row, 1, &at)?;
        let checksum = bounded::SLOT_CHECKSUM.bytes(row, 3, &at)?;
        if crypto::sha256(&body)[..] != checksum[..] {
            return Err(VaultError::damaged(
                Location::Slot(number),
                "its checksum does not match",
            ));
        }
        slots.push(KeySlot::decode(number, &body)?);
    }
    if slots.is_empty() {
        return Err(VaultError::damaged(
            Location::File,
            "the vault has no key slot",
        ));
    }
    Ok(slots)
}

fn read_stream_index(conn: &Connection) -> Result<Vec<StreamInfo>> {
    // `stream_index` is the rowid, always an integer.
    let mut query = conn.prepare(&format!(
        "SELECT stream_index, {}, {}, {}, {}, {} FROM stream ORDER BY stream_index",
        bounded::STREAM_NAME.select(),
        bounded::STREAM_CHUNK_COUNT.select(),
        bounded::STREAM_ROW_COUNT.select(),
        bounded::STREAM_PLAIN_LEN.select(),
        bounded::STREAM_STORED_LEN.select(),
    ))?;
    let mut rows = query.query([])?;
    let mut streams = Vec::new();
    while let Some(row) = rows.next()? {
        let index: i64 = row.get(0)?;
        let name = bounded::STREAM_NAME.text(row, 1, &Location::File)?;
        let at = Location::Stream { name: name.clone() };
        let chunk_count = bounded::STREAM_CHUNK_COUNT.get(row, 3, &at)?;
        let row_count = bounded::STREAM_ROW_COUNT.get(row, 5, &at)?;
        let plain_len = bounded::STREAM_PLAIN_LEN.get(row, 7, &at)?;
        let stored_len = bounded::STREAM_STORED_LEN.get(row, 9, &at)?;
        let bad = |what: &str| {
            VaultError::damaged(
                Location::Stream { name: name.clone() },
                format!("invalid {what}"),
            )
        };
        let expected = streams.len() as i64;
        if index != expected {
            return Err(VaultError::damaged(
                Location::File,
                format!(
                    "stream indexes are not contiguous: found {index} where {expected} was expected"
                ),
            ));
        }
        streams.push(StreamInfo {
            index: index as u32,
            chunk_count: u64::try_from(chunk_count).map_err(|_| bad("chunk count"))?,
            row_count: u64::try_from(row_count).map_err(|_| bad("row count"))?,
            plain_len: u64::try_from(plain_len).map_err(|_| bad("length"))?,
            stored_len: u64::try_from(stored_len).map_err(|_| bad("stored length"))?,
            name,
        });
    }
    Ok(streams)
}

/// The manifest's ciphertext and checksum. A missing manifest is
/// `incomplete`; a ciphertext shorter than its tag, or either value over its
/// bound, is refused before it is read (SPEC.md sections 2.2 and 7).
pub(crate) fn read_manifest_row(conn: &Connection) -> Result<(Vec<u8>, Vec<u8>)> {
    let mut query = conn.prepare(&format!(
        "SELECT {}, {} FROM manifest WHERE id = 1",
        bounded::MANIFEST_CIPHERTEXT.select(),
        bounded::MANIFEST_CHECKSUM.select()
    ))?;
    let mut rows = query.query([])?;
    let row = rows.next()?.ok_or(VaultError::Incomplete)?;
    let at = Location::Manifest;
    let length = bounded::MANIFEST_CIPHERTEXT.length(row, 0, &at)?;
    if length < TAG_LEN {
        return Err(VaultError::LengthOutOfBounds {
            location: at,
            detail: format!(
                "manifest.ciphertext holds {length} bytes, fewer than the {TAG_LEN} of its tag"
            ),
        });
    }
    Ok((
        bounded::MANIFEST_CIPHERTEXT.bytes(row, 0, &at)?,
        bounded::MANIFEST_CHECKSUM.bytes(row, 2, &at)?,
    ))
}

/// Reads, bounds and decrypts the manifest.
pub(crate) fn read_manifest(
    conn: &Connection,
    keys: &VaultKeys,
    vault_id: &[u8; 16],
    header: &[u8],
) -> Result<Manifest> {
    let (ciphertext, checksum) = read_manifest_row(conn)?;
    let nonce = crypto::chunk_nonce(crypto::MANIFEST_STREAM_INDEX, 0);
    let ad = crypto::manifest_ad(vault_id, header);
    let json = crypto::open(&keys.payload, &nonce, &ciphertext, &ad).ok_or_else(|| {
        let detail = if crypto::sha256(&ciphertext)[..] == checksum[..] {
            "fails authentication: it was replaced or altered with a recomputed checksum"
        } else {
            "its checksum does not match: the stored bytes changed"
        };
        VaultError::damaged(Location::Manifest, detail)
    })?;
    serde_json::from_slice(&json).map_err(|e| {
        VaultError::damaged(
            Location::Manifest,
            format!("authenticated, but not a valid manifest: {e}"),
        )
    })
}

/// Section 7: the manifest must agree with the header and the plaintext index.
pub(crate) fn check_manifest_against_index(
    manifest: &Manifest,
    header: &Header,
    index: &[StreamInfo],
) -> Result<()> {
    if manifest.format_version != header.format_version
        || manifest.vault_id != hex::encode(header.vault_id)
    {
        return Err(VaultError::damaged(
            Location::Manifest,
            "its version or vault id differs from the header",
        ));
    }
    if manifest.streams.len() != index.len() {
        return Err(VaultError::damaged(
            Location::Manifest,
            format!(
                "it lists {} streams, the plaintext index {}",
                manifest.streams.len(),
                index.len()
            ),
        ));
    }
    for (entry, info) in manifest.streams.iter().zip(index) {
        if entry.info() != *info {
            return Err(VaultError::damaged(
                Location::Stream {
                    name: info.name.clone(),
                },
                "the plaintext index differs from the authenticated manifest",
            ));
        }
    }
    Ok(())
}
