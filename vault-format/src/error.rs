//! Typed errors of the vault format: a stable code, the place that failed, and what to do next.

use std::fmt;
use std::path::PathBuf;

/// Where in a vault a problem was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The file as a whole (SQLite structure, tables).
    File,
    /// The header row.
    Header,
    /// A key slot, by its number.
    Slot(u32),
    /// The manifest (commit record).
    Manifest,
    /// A whole stream.
    Stream { name: String },
    /// One chunk of a stream.
    Chunk { stream: String, chunk: u64 },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File => write!(f, "file"),
            Location::Header => write!(f, "header"),
            Location::Slot(n) => write!(f, "key slot {n}"),
            Location::Manifest => write!(f, "manifest"),
            Location::Stream { name } => write!(f, "stream \"{name}\""),
            Location::Chunk { stream, chunk } => write!(f, "stream \"{stream}\" chunk {chunk}"),
        }
    }
}

/// Every way reading, writing or checking a vault can fail.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("SQLite refused the file: {source}")]
    Sqlite {
        #[source]
        source: rusqlite::Error,
    },
    #[error("not a vault file: {reason}")]
    NotAVault { reason: String },
    #[error("format version {found} is not supported (this build reads versions 1 to {supported})")]
    UnsupportedVersion { found: u16, supported: u16 },
    #[error("unknown {field} algorithm id {id}")]
    UnsupportedAlgorithm { field: &'static str, id: u8 },
    #[error("key slot {slot} asks for a key derivation above the allowed maximum: {detail}")]
    KdfTooCostly { slot: u32, detail: String },
    #[error("wrong key: {detail}")]
    WrongKey { detail: String },
    #[error(
        "header-tampered: the header does not match its MAC (the header was edited or a key slot forged)"
    )]
    HeaderTampered,
    #[error("incomplete vault: it has no manifest, so the writer never finished")]
    Incomplete,
    #[error("truncated: {location}: {detail}")]
    Truncated { location: Location, detail: String },
    #[error("length out of bounds: {location}: {detail}")]
    LengthOutOfBounds { location: Location, detail: String },
    #[error("damaged: {location}: {detail}")]
    Damaged { location: Location, detail: String },
    #[error("no stream named \"{name}\" in this vault")]
    StreamNotFound { name: String },
    #[error("invalid use of the vault writer: {detail}")]
    Usage { detail: String },
    #[error("{} already exists; refusing to overwrite it", path.display())]
    AlreadyExists { path: PathBuf },
    #[error("key slot {slot} does not exist")]
    SlotNotFound { slot: u32 },
    #[error("refusing to remove key slot {slot}: {reason}")]
    SlotRemovalRefused { slot: u32, reason: String },
    #[error("invalid key file {}: {reason}", path.display())]
    InvalidKeyFile { path: PathBuf, reason: String },
    #[error("invalid passphrase: {reason}")]
    InvalidPassphrase { reason: String },
}

/// The broad class of an error, for mapping to exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The vault is damaged, tampered, truncated or incomplete.
    Damaged,
    /// The key material does not open this vault.
    WrongKey,
    /// The file is of a version or kind this build does not read.
    Unsupported,
    /// The caller asked for something impossible (bad arguments, a missing stream).
    Usage,
    /// A safety rule refused the request (removing the last key slot).
    Refused,
    /// The operating system refused a read or write.
    Io,
}

impl VaultError {
    /// The stable code of SPEC.md section 10.
    pub fn code(&self) -> &'static str {
        match self {
            VaultError::Io { .. } => "io",
            VaultError::Sqlite { source } => {
                if sqlite_is_io(source) {
                    "io"
                } else {
                    "damaged"
                }
            }
            VaultError::NotAVault { .. } => "not-a-vault",
            VaultError::UnsupportedVersion { .. } => "unsupported-version",
            VaultError::UnsupportedAlgorithm { .. } => "unsupported-algorithm",
            VaultError::KdfTooCostly { .. } => "kdf-too-costly",
            VaultError::WrongKey { .. } => "wrong-key",
            VaultError::HeaderTampered => "header-tampered",
            VaultError::Incomplete => "incomplete",
            VaultError::Truncated { .. } => "truncated",
            VaultError::LengthOutOfBounds { .. } => "length-out-of-bounds",
            VaultError::Damaged { .. } => "damaged",
            VaultError::StreamNotFound { .. } => "stream-not-found",
            VaultError::Usage { .. } => "usage",
            VaultError::AlreadyExists { .. } => "already-exists",
            VaultError::SlotNotFound { .. } => "slot-not-found",
            VaultError::SlotRemovalRefused { .. } => "slot-removal-refused",
            VaultError::InvalidKeyFile { .. } => "invalid-key-file",
            VaultError::InvalidPassphrase { .. } => "invalid-passphrase",
        }
    }

    /// The class of the error, for exit codes.
    pub fn class(&self) -> ErrorClass {
        match self.code() {
            "io" => ErrorClass::Io,
            "not-a-vault"
            | "damaged"
            | "header-tampered"
            | "incomplete"
            | "truncated"
            | "length-out-of-bounds"
            | "kdf-too-costly" => ErrorClass::Damaged,
            "unsupported-version" | "unsupported-algorithm" => ErrorClass::Unsupported,
            "wrong-key" => ErrorClass::WrongKey,
            "slot-removal-refused" => ErrorClass::Refused,
            _ => ErrorClass::Usage,
        }
    }

    /// What the operator should do next.
    pub fn hint(&self) -> &'static str {
        match self.code() {
            "io" => "check the path, its permissions and the free disk space",
            "not-a-vault" => "check the path: this file was not written by vault",
            "unsupported-version" | "unsupported-algorithm" => {
                "read this file with the vault release that wrote it (see `vault inspect`)"
            }
            "kdf-too-costly" => {
                "do not trust this file: a vault writer never sets such costs; use another copy"
            }
            "wrong-key" => {
                "give the key file or passphrase this vault was made with (`vault inspect` lists its key slots)"
            }
            "header-tampered" | "damaged" | "truncated" | "length-out-of-bounds" => {
                "do not restore from this file; use another copy of the vault, or capture again"
            }
            "incomplete" => "the capture that wrote it did not finish; capture again",
            "stream-not-found" => "list the streams with `vault inspect`",
            "already-exists" => "choose another path or move the existing file away",
            "slot-not-found" => "list the key slots with `vault inspect`",
            "slot-removal-refused" => {
                "add another slot first (`vault key add`), then remove this one with a key of a slot that stays"
            }
            "invalid-key-file" => "give a key file made by `vault keygen`",
            "invalid-passphrase" => "give a non-empty passphrase",
            _ => "this is a bug in the caller of vault-format; please report it",
        }
    }

    /// The place in the vault that failed, for errors that have one.
    pub fn location(&self) -> Option<&Location> {
        match self {
            VaultError::Truncated { location, .. }
            | VaultError::LengthOutOfBounds { location, .. }
            | VaultError::Damaged { location, .. } => Some(location),
            VaultError::KdfTooCostly { .. } | VaultError::HeaderTampered => Some(&Location::Header),
            _ => None,
        }
    }

    pub(crate) fn damaged(location: Location, detail: impl Into<String>) -> Self {
        VaultError::Damaged {
            location,
            detail: detail.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        VaultError::Io {
            path: path.into(),
            source,
        }
    }
}

impl From<rusqlite::Error> for VaultError {
    fn from(source: rusqlite::Error) -> Self {
        if source.sqlite_error_code() == Some(rusqlite::ErrorCode::TooBig) {
            return VaultError::LengthOutOfBounds {
                location: Location::File,
                detail: "SQLite refused to read a value over its length limit, longer than any a vault holds (SPEC.md section 2.2)".into(),
            };
        }
        VaultError::Sqlite { source }
    }
}

fn sqlite_is_io(error: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::*;
    match error.sqlite_error_code() {
        Some(code) => matches!(
            code,
            CannotOpen
                | SystemIoFailure
                | PermissionDenied
                | ReadOnly
                | DiskFull
                | FileLockingProtocolFailed
        ),
        None => false,
    }
}

/// Result with a [`VaultError`].
pub type Result<T, E = VaultError> = std::result::Result<T, E>;
