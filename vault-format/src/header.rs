//! The header (SPEC.md section 3): what a vault is, encoded and parsed byte for byte.

use crate::error::{Location, Result, VaultError};
use crate::signing::{PUBLIC_KEY_LEN, PublicKey};

/// The 8 bytes every vault header starts with.
pub const MAGIC: [u8; 8] = [0x89, b'V', b'L', b'T', b'\r', b'\n', 0x1a, b'\n'];
/// The format version this build writes.
pub const FORMAT_VERSION: u16 = 2;
/// The versions this build reads: version 1 has no public key.
pub const READABLE_VERSIONS: [u16; 2] = [1, 2];
/// Smallest and largest chunk sizes (plaintext bytes).
pub const MIN_CHUNK_SIZE: u32 = 4096;
pub const MAX_CHUNK_SIZE: u32 = 16 * 1024 * 1024;
/// The chunk size writers use unless told otherwise.
pub const DEFAULT_CHUNK_SIZE: u32 = 1024 * 1024;
const MAX_TOOL_VERSION: usize = 256;
const MAX_SOURCE: usize = 1024;
/// Bytes before `tool_version` in version 1: magic to chunk_size.
const FIXED_LEN_V1: usize = 42;
/// Bytes before `tool_version` in version 2: the signature id and public key follow chunk_size.
const FIXED_LEN: usize = FIXED_LEN_V1 + 1 + PUBLIC_KEY_LEN;
/// The longest header: both texts at their maximum (SPEC.md section 2.2).
pub(crate) const MAX_ENCODED_LEN: usize = FIXED_LEN + 2 + MAX_TOOL_VERSION + 2 + MAX_SOURCE;

const CIPHER_AES_256_GCM: u8 = 1;
const COMPRESSION_ZSTD: u8 = 1;
const DIGEST_SHA256: u8 = 1;
const SUBKEY_KDF_HKDF_SHA256: u8 = 1;
const SIGNATURE_ED25519: u8 = 1;

/// The parsed header of a vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub format_version: u16,
    pub vault_id: [u8; 16],
    pub created_unix: i64,
    pub chunk_size: u32,
    /// The Ed25519 public key (version 2); `None` in a version 1 vault.
    pub public_key: Option<PublicKey>,
    pub tool_version: String,
    pub source: String,
}

impl Header {
    /// The canonical bytes of section 3.
    pub fn encode(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(FIXED_LEN + 4 + self.tool_version.len() + self.source.len());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&self.format_version.to_be_bytes());
        out.extend_from_slice(&[
            CIPHER_AES_256_GCM,
            COMPRESSION_ZSTD,
            DIGEST_SHA256,
            SUBKEY_KDF_HKDF_SHA256,
        ]);
        out.extend_from_slice(&self.vault_id);
        out.extend_from_slice(&self.created_unix.to_be_bytes());
        out.extend_from_slice(&self.chunk_size.to_be_bytes());
        if let Some(public_key) = &self.public_key {
            out.push(SIGNATURE_ED25519);
            out.extend_from_slice(public_key.as_bytes());
        }
        put_str16(&mut out, &self.tool_version);
        put_str16(&mut out, &self.source);
        out
    }

    /// Parses and checks header bytes, in the order section 3 gives.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = ByteReader::new(bytes, Location::Header);
        if r.take(8).ok() != Some(&MAGIC[..]) {
            return Err(VaultError::NotAVault {
                reason: "the header does not start with the vault magic".into(),
            });
        }
        let format_version = r.u16()?;
        if !READABLE_VERSIONS.contains(&format_version) {
            return Err(VaultError::UnsupportedVersion {
                found: format_version,
                supported: FORMAT_VERSION,
            });
        }
        for (field, expected) in [
            ("cipher", CIPHER_AES_256_GCM),
            ("compression", COMPRESSION_ZSTD),
            ("digest", DIGEST_SHA256),
            ("subkey derivation", SUBKEY_KDF_HKDF_SHA256),
        ] {
            let id = r.u8()?;
            if id != expected {
                return Err(VaultError::UnsupportedAlgorithm { field, id });
            }
        }
        let vault_id = r.array::<16>()?;
        let created_unix = r.i64()?;
        let chunk_size = r.u32()?;
        if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&chunk_size) {
            return Err(VaultError::LengthOutOfBounds {
                location: Location::Header,
                detail: format!(
                    "chunk size {chunk_size} is outside {MIN_CHUNK_SIZE}..={MAX_CHUNK_SIZE}"
                ),
            });
        }
        let public_key = if format_version >= 2 {
            let id = r.u8()?;
            if id != SIGNATURE_ED25519 {
                return Err(VaultError::UnsupportedAlgorithm {
                    field: "signature",
                    id,
                });
            }
            Some(PublicKey::from_bytes(r.array()?))
        } else {
            None
        };
        let tool_version = r.str16(MAX_TOOL_VERSION)?;
        let source = r.str16(MAX_SOURCE)?;
        r.finish()?;
        Ok(Header {
            format_version,
            vault_id,
            created_unix,
            chunk_size,
            public_key,
            tool_version,
            source,
        })
    }

    /// Checks the lengths a writer is about to encode.
    pub(crate) fn validate_for_writing(&self) -> Result<()> {
        let has_key = self.public_key.is_some();
        if !READABLE_VERSIONS.contains(&self.format_version)
            || has_key != (self.format_version >= 2)
        {
            return Err(VaultError::Usage {
                detail: format!(
                    "format version {} cannot be written{}",
                    self.format_version,
                    if has_key {
                        " with a public key"
                    } else {
                        " without a public key"
                    }
                ),
            });
        }
        if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&self.chunk_size) {
            return Err(VaultError::Usage {
                detail: format!(
                    "chunk size must be within {MIN_CHUNK_SIZE}..={MAX_CHUNK_SIZE} bytes"
                ),
            });
        }
        if self.tool_version.len() > MAX_TOOL_VERSION || self.source.len() > MAX_SOURCE {
            return Err(VaultError::Usage {
                detail: format!(
                    "tool version (max {MAX_TOOL_VERSION} bytes) or source description (max {MAX_SOURCE} bytes) is too long"
                ),
            });
        }
        Ok(())
    }
}

fn put_str16(out: &mut Vec<u8>, text: &str) {
    let len = u16::try_from(text.len()).expect("lengths are validated before encoding");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(text.as_bytes());
}

/// A bounds-checked cursor over a binary structure.
pub(crate) struct ByteReader<'a> {
    bytes: &'a [u8],
    pos: usize,
    location: Location,
}

impl<'a> ByteReader<'a> {
    pub(crate) fn new(bytes: &'a [u8], location: Location) -> Self {
        ByteReader {
            bytes,
            pos: 0,
            location,
        }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len());
        match end {
            Some(end) => {
                let out = &self.bytes[self.pos..end];
                self.pos = end;
                Ok(out)
            }
            None => Err(VaultError::damaged(
                self.location.clone(),
                "the structure ends too early",
            )),
        }
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    fn str16(&mut self, max: usize) -> Result<String> {
        let len = usize::from(self.u16()?);
        if len > max {
            return Err(VaultError::LengthOutOfBounds {
                location: self.location.clone(),
                detail: format!("a text field of {len} bytes exceeds its maximum of {max}"),
            });
        }
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| VaultError::damaged(self.location.clone(), "a text field is not UTF-8"))
    }

    /// Fails when bytes are left over.
    pub(crate) fn finish(self) -> Result<()> {
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            Err(VaultError::damaged(
                self.location,
                "unexpected bytes after the end of the structure",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Header {
        Header {
            format_version: FORMAT_VERSION,
            vault_id: [7; 16],
            created_unix: 1_790_000_000,
            chunk_size: DEFAULT_CHUNK_SIZE,
            public_key: Some(PublicKey::from_bytes([5; 32])),
            tool_version: "vault 0.1.0".into(),
            source: "postgres acc-db:5432/camis".into(),
        }
    }

    #[test]
    fn decode_then_encode_gives_the_same_bytes() {
        let bytes = sample().encode();
        assert_eq!(Header::decode(&bytes).unwrap().encode(), bytes);
    }

    #[test]
    fn unknown_version_is_its_own_error() {
        let mut bytes = sample().encode();
        bytes[9] = 3;
        assert_eq!(
            Header::decode(&bytes).unwrap_err().code(),
            "unsupported-version"
        );
    }

    #[test]
    fn the_longest_header_is_the_bound_of_section_2_2() {
        let longest = Header {
            tool_version: "v".repeat(MAX_TOOL_VERSION),
            source: "s".repeat(MAX_SOURCE),
            ..sample()
        };
        longest.validate_for_writing().unwrap();
        assert_eq!(longest.encode().len(), MAX_ENCODED_LEN);
        assert_eq!(MAX_ENCODED_LEN, 1359);
    }

    #[test]
    fn version_1_has_no_public_key_and_still_parses() {
        let v1 = Header {
            format_version: 1,
            public_key: None,
            ..sample()
        };
        v1.validate_for_writing().unwrap();
        let bytes = v1.encode();
        assert_eq!(bytes.len(), sample().encode().len() - 33);
        assert_eq!(&bytes[42..44], &11u16.to_be_bytes());
        assert_eq!(Header::decode(&bytes).unwrap(), v1);
    }

    #[test]
    fn the_public_key_sits_at_offset_43_after_its_algorithm_id() {
        let bytes = sample().encode();
        assert_eq!(bytes[42], SIGNATURE_ED25519);
        assert_eq!(&bytes[43..75], &[5; 32]);
        let mut unknown = bytes.clone();
        unknown[42] = 2;
        assert_eq!(
            Header::decode(&unknown).unwrap_err().code(),
            "unsupported-algorithm"
        );
    }

    #[test]
    fn a_version_and_a_key_that_disagree_are_not_written() {
        let keyless_v2 = Header {
            public_key: None,
            ..sample()
        };
        assert!(keyless_v2.validate_for_writing().is_err());
        let keyed_v1 = Header {
            format_version: 1,
            ..sample()
        };
        assert!(keyed_v1.validate_for_writing().is_err());
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut bytes = sample().encode();
        bytes.push(0);
        assert_eq!(Header::decode(&bytes).unwrap_err().code(), "damaged");
    }
}
