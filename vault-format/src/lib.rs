//! The vault file: named streams of bytes, compressed with zstd, encrypted with
//! AES-256-GCM and checksummed with SHA-256, in one SQLite file.
//!
//! `SPEC.md` beside this crate is the normative description of the bytes.
//! This crate knows nothing of databases: the tool decides what a stream
//! holds and what its metadata says.
//!
//! * [`VaultWriter`] writes a vault; each [`StreamWriter`] takes one stream's
//!   bytes incrementally, and nothing appears under the final name until the
//!   file has been read back.
//! * [`Vault::open`] reads what needs no key; [`Vault::unlock`] checks the
//!   key and the manifest; [`UnlockedVault::stream`] yields a stream's bytes,
//!   authenticated as they are read.
//! * [`check_structure`] and [`check_deep`] are the two levels of check.
//! * [`add_key_slot`] and [`remove_key_slot`] edit key slots atomically.
//! * [`UnlockedVault::signing_key`] signs for a key holder; the header's
//!   [`PublicKey`] checks the signature without a key.

mod atomic;
mod bounded;
mod check;
mod container;
mod crypto;
mod error;
mod header;
mod kdf;
mod keys;
mod keyslots;
mod manifest;
mod random;
mod read_ahead;
mod reader;
mod schema;
mod sealer;
mod signing;
mod slot;
mod writer;

pub use check::{CheckReport, check_deep, check_structure};
pub use container::APPLICATION_ID;
pub use error::{ErrorClass, Location, Result, VaultError};
pub use header::{
    DEFAULT_CHUNK_SIZE, FORMAT_VERSION, Header, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, READABLE_VERSIONS,
};
pub use keys::{
    FileKey, KEY_SOURCE_LIMIT, KdfParams, KeyMaterial, MAX_M_COST_KIB, MAX_PARALLELISM, MAX_T_COST,
    Passphrase,
};
pub use keyslots::{add_key_slot, remove_key_slot};
pub use manifest::{MAX_MANIFEST_LEN, MAX_STREAM_NAME_LEN, Manifest, StreamEntry, StreamInfo};
pub use read_ahead::ReadAhead;
pub use reader::{StreamReader, UnlockedVault, Vault, vault_error_of};
pub use signing::{PUBLIC_KEY_LEN, PublicKey, SIGNATURE_LEN, SigningKey};
pub use slot::{KeySlot, MAX_KEY_SLOTS, SlotKind};
pub use writer::{
    StreamProgressView, StreamWriter, VaultSummary, VaultWriter, WriteProgress, WriterOptions,
};
