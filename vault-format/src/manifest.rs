//! The manifest (SPEC.md section 7): the authenticated list of streams that commits a vault.

use serde::{Deserialize, Serialize};

/// The decrypted manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format_version: u16,
    pub vault_id: String,
    pub streams: Vec<StreamEntry>,
}

/// One stream as the manifest records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamEntry {
    pub index: u32,
    pub name: String,
    /// Caller-defined metadata (the tool: engine, table, columns, ...).
    pub metadata: serde_json::Value,
    pub chunk_count: u64,
    pub row_count: u64,
    pub plain_len: u64,
    pub stored_len: u64,
    /// SHA-256 of the stream's plaintext, in hex.
    pub sha256: String,
}

/// The largest manifest a reader accepts, in bytes.
pub const MAX_MANIFEST_LEN: usize = 16 * 1024 * 1024;

/// The longest stream name, in bytes of UTF-8 (SPEC.md section 7).
pub const MAX_STREAM_NAME_LEN: usize = 1024;

/// A stream as the plaintext `stream` table records it (readable without a key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamInfo {
    pub index: u32,
    pub name: String,
    pub chunk_count: u64,
    pub row_count: u64,
    pub plain_len: u64,
    pub stored_len: u64,
}

impl StreamEntry {
    /// The plaintext-index view of this entry, for comparison.
    pub fn info(&self) -> StreamInfo {
        StreamInfo {
            index: self.index,
            name: self.name.clone(),
            chunk_count: self.chunk_count,
            row_count: self.row_count,
            plain_len: self.plain_len,
            stored_len: self.stored_len,
        }
    }
}
