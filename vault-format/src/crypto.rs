//! Subkeys, nonces and associated data of SPEC.md sections 5 and 6, and the AES-256-GCM calls.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::keys::{DataKey, KEY_LEN};

/// GCM tag length.
pub const TAG_LEN: usize = 16;
/// Stream index reserved for the manifest nonce.
pub(crate) const MANIFEST_STREAM_INDEX: u32 = u32::MAX;

/// Flag bit: last chunk of a stream.
pub const FLAG_LAST: u8 = 1;
/// Flag bit: stored bytes are zstd-compressed.
pub const FLAG_ZSTD: u8 = 2;
pub(crate) const KNOWN_FLAGS: u8 = FLAG_LAST | FLAG_ZSTD;

/// HKDF-SHA256 expansion of a 32-byte subkey.
pub(crate) fn derive(ikm: &[u8], salt: &[u8], info: &[u8]) -> Zeroizing<[u8; KEY_LEN]> {
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    hkdf::Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, out.as_mut())
        .expect("32 bytes is a valid HKDF output length");
    out
}

/// The keys a vault uses, derived from its data key.
pub(crate) struct VaultKeys {
    pub(crate) payload: Aes256Gcm,
    header_mac: Zeroizing<[u8; KEY_LEN]>,
}

impl VaultKeys {
    pub(crate) fn derive(data_key: &DataKey, vault_id: &[u8; 16]) -> Self {
        let payload_key = derive(data_key.0.as_ref(), vault_id, b"vault-v1 payload");
        let payload = Aes256Gcm::new_from_slice(payload_key.as_ref()).expect("key length is 32");
        let header_mac = derive(data_key.0.as_ref(), vault_id, b"vault-v1 header mac");
        VaultKeys {
            payload,
            header_mac,
        }
    }

    pub(crate) fn header_mac(&self, header: &[u8]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.header_mac.as_ref())
            .expect("any key length");
        mac.update(header);
        mac.finalize().into_bytes().into()
    }

    pub(crate) fn header_mac_matches(&self, header: &[u8], tag: &[u8]) -> bool {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.header_mac.as_ref())
            .expect("any key length");
        mac.update(header);
        mac.verify_slice(tag).is_ok()
    }
}

/// The 12-byte nonce of a chunk, or of the manifest.
pub(crate) fn chunk_nonce(stream_index: u32, chunk_index: u64) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce[..4].copy_from_slice(&stream_index.to_be_bytes());
    nonce[4..].copy_from_slice(&chunk_index.to_be_bytes());
    nonce
}

/// The associated data of a chunk (SPEC.md section 6.3).
pub(crate) fn chunk_ad(
    vault_id: &[u8; 16],
    stream_index: u32,
    chunk_index: u64,
    flags: u8,
    plain_len: u32,
) -> Vec<u8> {
    let mut ad = Vec::with_capacity(14 + 16 + 4 + 8 + 1 + 4);
    ad.extend_from_slice(b"vault-v1 chunk");
    ad.extend_from_slice(vault_id);
    ad.extend_from_slice(&stream_index.to_be_bytes());
    ad.extend_from_slice(&chunk_index.to_be_bytes());
    ad.push(flags);
    ad.extend_from_slice(&plain_len.to_be_bytes());
    ad
}

/// The associated data of the manifest (SPEC.md section 7).
pub(crate) fn manifest_ad(vault_id: &[u8; 16], header: &[u8]) -> Vec<u8> {
    let mut ad = Vec::with_capacity(17 + 16 + 32);
    ad.extend_from_slice(b"vault-v1 manifest");
    ad.extend_from_slice(vault_id);
    ad.extend_from_slice(&Sha256::digest(header));
    ad
}

/// AES-256-GCM encryption with associated data.
pub(crate) fn seal(cipher: &Aes256Gcm, nonce: &[u8; 12], plaintext: &[u8], ad: &[u8]) -> Vec<u8> {
    cipher
        .encrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: plaintext,
                aad: ad,
            },
        )
        .expect("AES-GCM encryption fails only past 64 GiB per message")
}

/// AES-256-GCM decryption; `None` when the tag does not authenticate.
pub(crate) fn open(
    cipher: &Aes256Gcm,
    nonce: &[u8; 12],
    ciphertext: &[u8],
    ad: &[u8],
) -> Option<Vec<u8>> {
    cipher
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: ad,
            },
        )
        .ok()
}

/// SHA-256 of a byte string.
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

#[cfg(test)]
mod tests {
    fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}

    #[test]
    fn the_aes_key_schedule_is_wiped_on_drop() {
        // The payload key and every key-encryption key live on as the round
        // keys of an `Aes256` inside `Aes256Gcm`. This holds only with the
        // `zeroize` feature of `aes` (workspace Cargo.toml; the one of
        // `aes-gcm` does not turn it on): without it this does not compile.
        wiped_on_drop::<aes_gcm::aes::Aes256>();
    }
}
