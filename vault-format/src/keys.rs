//! Key material: passphrases, key files and the data key, zeroized on drop and never printed.

use std::fmt;
use std::io::Write;
use std::path::Path;

use zeroize::Zeroizing;

use crate::error::{Result, VaultError};

/// Bytes in every key of the format.
pub const KEY_LEN: usize = 32;
const KEY_FILE_PREFIX: &str = "vault-key-v1:";

/// The most bytes that a key file or a passphrase file may hold. Both hold
/// one short line; a larger file (a device, a log given by mistake) is
/// refused rather than read into memory.
pub const KEY_SOURCE_LIMIT: u64 = 64 * 1024;

/// Reads a key or passphrase file of at most [`KEY_SOURCE_LIMIT`] bytes into
/// a buffer that is wiped when dropped (allocated once, so never copied).
fn read_small_text(path: &Path) -> Result<Zeroizing<String>> {
    use std::io::Read;
    use zeroize::Zeroize;
    let invalid = |what: String| {
        VaultError::io(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidData, what),
        )
    };
    let file = std::fs::File::open(path).map_err(|e| VaultError::io(path, e))?;
    let capacity = usize::try_from(KEY_SOURCE_LIMIT + 1).unwrap_or(usize::MAX);
    let mut bytes = Zeroizing::new(Vec::with_capacity(capacity));
    file.take(KEY_SOURCE_LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| VaultError::io(path, e))?;
    if bytes.len() as u64 > KEY_SOURCE_LIMIT {
        return Err(invalid(format!(
            "it is larger than {} KiB, and a key or passphrase file holds one short line",
            KEY_SOURCE_LIMIT / 1024
        )));
    }
    match String::from_utf8(std::mem::take(&mut *bytes)) {
        Ok(text) => Ok(Zeroizing::new(text)),
        Err(error) => {
            error.into_bytes().zeroize();
            Err(invalid("it is not UTF-8 text".into()))
        }
    }
}

/// The random 256-bit key that encrypts a vault's payload (SPEC.md section 4).
pub(crate) struct DataKey(pub(crate) Zeroizing<[u8; KEY_LEN]>);

impl DataKey {
    pub(crate) fn generate() -> Result<Self> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        crate::random::fill(key.as_mut())?;
        Ok(DataKey(key))
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

/// A passphrase, held in memory that is zeroed on drop.
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    /// Wraps a passphrase. Surrounding line breaks are removed; an empty
    /// passphrase is refused.
    pub fn new(text: String) -> Result<Self> {
        let text = Zeroizing::new(text);
        let trimmed = text.trim_end_matches(['\r', '\n']);
        if trimmed.is_empty() {
            return Err(VaultError::InvalidPassphrase {
                reason: "it is empty".into(),
            });
        }
        Ok(Passphrase(Zeroizing::new(trimmed.to_owned())))
    }

    /// Reads a passphrase from the first line of a file.
    pub fn read_file(path: &Path) -> Result<Self> {
        let text = read_small_text(path)?;
        let first_line = text.lines().next().unwrap_or("");
        Passphrase::new(first_line.to_owned())
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// How many characters the passphrase has (its strength is the caller's
    /// judgement; the text itself is never shown).
    pub fn char_count(&self) -> usize {
        self.0.chars().count()
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

/// The 256-bit key held in a key file (SPEC.md section 4, "Key files").
pub struct FileKey(Zeroizing<[u8; KEY_LEN]>);

impl FileKey {
    /// A new random key.
    pub fn generate() -> Result<Self> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        crate::random::fill(key.as_mut())?;
        Ok(FileKey(key))
    }

    /// Parses the text of a key file.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let body = text
            .trim()
            .strip_prefix(KEY_FILE_PREFIX)
            .ok_or_else(|| format!("it does not start with \"{KEY_FILE_PREFIX}\""))?;
        if body.len() != 2 * KEY_LEN || !body.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "it must hold {} hex digits after the prefix",
                2 * KEY_LEN
            ));
        }
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        hex::decode_to_slice(body, key.as_mut()).map_err(|_| "bad hex digits".to_string())?;
        Ok(FileKey(key))
    }

    /// Reads and parses a key file.
    pub fn read_file(path: &Path) -> Result<Self> {
        let text = read_small_text(path)?;
        FileKey::parse(&text).map_err(|reason| VaultError::InvalidKeyFile {
            path: path.to_owned(),
            reason,
        })
    }

    /// The text of the key file, newline included.
    pub fn to_text(&self) -> Zeroizing<String> {
        let mut text = Zeroizing::new(String::with_capacity(
            KEY_FILE_PREFIX.len() + 2 * KEY_LEN + 1,
        ));
        text.push_str(KEY_FILE_PREFIX);
        text.push_str(&hex::encode(self.0.as_ref()));
        text.push('\n');
        text
    }

    /// Writes the key to a new file with mode 0600; refuses to overwrite.
    pub fn write_new_file(&self, path: &Path) -> Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => VaultError::AlreadyExists {
                path: path.to_owned(),
            },
            _ => VaultError::io(path, e),
        })?;
        let written = file
            .write_all(self.to_text().as_bytes())
            .and_then(|()| file.sync_all());
        if let Err(e) = written {
            let _ = std::fs::remove_file(path);
            return Err(VaultError::io(path, e));
        }
        Ok(())
    }

    /// The 8-byte fingerprint that names this key in key slots.
    pub fn fingerprint(&self) -> [u8; 8] {
        let mut out = [0u8; 8];
        hkdf::Hkdf::<sha2::Sha256>::new(Some(&[]), self.0.as_ref())
            .expand(b"vault-v1 keyfile fingerprint", &mut out)
            .expect("8 bytes is a valid HKDF output length");
        out
    }

    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for FileKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "FileKey(fingerprint {})",
            hex::encode(self.fingerprint())
        )
    }
}

/// What opens a vault: a passphrase or a key file.
#[derive(Debug)]
pub enum KeyMaterial {
    Passphrase(Passphrase),
    KeyFile(FileKey),
}

impl KeyMaterial {
    /// "passphrase" or "key file", for messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            KeyMaterial::Passphrase(_) => "passphrase",
            KeyMaterial::KeyFile(_) => "key file",
        }
    }
}

/// Argon2id cost parameters of a passphrase slot (SPEC.md section 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    pub t_cost: u32,
    pub m_cost_kib: u32,
    pub parallelism: u32,
}

impl Default for KdfParams {
    /// RFC 9106's second recommended option: t=3, m=64 MiB, p=4.
    fn default() -> Self {
        KdfParams {
            t_cost: 3,
            m_cost_kib: 64 * 1024,
            parallelism: 4,
        }
    }
}

/// The largest Argon2id costs a reader accepts (SPEC.md section 4).
pub const MAX_T_COST: u32 = 16;
/// 1 GiB, in KiB.
pub const MAX_M_COST_KIB: u32 = 1024 * 1024;
pub const MAX_PARALLELISM: u32 = 16;

impl KdfParams {
    /// Refuses parameters outside the documented bounds, before any work.
    pub fn check_bounds(&self) -> std::result::Result<(), String> {
        if !(1..=MAX_T_COST).contains(&self.t_cost) {
            return Err(format!(
                "t_cost {} is outside 1..={MAX_T_COST}",
                self.t_cost
            ));
        }
        if !(1..=MAX_PARALLELISM).contains(&self.parallelism) {
            return Err(format!(
                "parallelism {} is outside 1..={MAX_PARALLELISM}",
                self.parallelism
            ));
        }
        let min_memory = 8 * self.parallelism;
        if !(min_memory..=MAX_M_COST_KIB).contains(&self.m_cost_kib) {
            return Err(format!(
                "memory {} KiB is outside {min_memory}..={MAX_M_COST_KIB} KiB",
                self.m_cost_kib
            ));
        }
        Ok(())
    }
}
