//! The vault's Ed25519 key pair (SPEC.md section 5.4): derived from the data key, its public half in the header.
//!
//! The secret half is never stored: [`SigningKey`] is made again from the data
//! key when a key holder signs, is wiped on drop, and prints as `<redacted>`.
//! [`PublicKey`] needs no key: anyone checks a signature with it.

use std::fmt;

use ed25519_dalek::Signer;

use crate::keys::DataKey;

/// Bytes of an Ed25519 public key.
pub const PUBLIC_KEY_LEN: usize = 32;
/// Bytes of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;
/// The HKDF info of the signing seed.
const SIGNING_INFO: &[u8] = b"vault-v2 signing key";

/// A vault's Ed25519 public key, as its header holds it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey([u8; PUBLIC_KEY_LEN]);

impl PublicKey {
    pub fn from_bytes(bytes: [u8; PUBLIC_KEY_LEN]) -> Self {
        PublicKey(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.0
    }

    /// 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits (either case, surrounding whitespace ignored).
    /// The error says what is wrong with the text, in words for a user.
    pub fn from_hex(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.len() != 2 * PUBLIC_KEY_LEN {
            return Err(format!(
                "an Ed25519 public key is {} hex digits, and this is {} characters long",
                2 * PUBLIC_KEY_LEN,
                text.chars().count()
            ));
        }
        let mut bytes = [0u8; PUBLIC_KEY_LEN];
        hex::decode_to_slice(text, &mut bytes)
            .map_err(|_| "an Ed25519 public key is hex digits only (0-9, a-f)".to_owned())?;
        Ok(PublicKey(bytes))
    }

    /// Whether `signature` is this key's Ed25519 signature of `message`
    /// (RFC 8032, strict: canonical `S`, no small-order key). A key that is
    /// not a point of the curve verifies nothing.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(signature) = ed25519_dalek::Signature::from_slice(signature) else {
            return false;
        };
        let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&self.0) else {
            return false;
        };
        key.verify_strict(message, &signature).is_ok()
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// A vault's Ed25519 signing key: derived from the data key, wiped on drop,
/// never printed, never cloned, never stored.
pub struct SigningKey(ed25519_dalek::SigningKey);

impl SigningKey {
    /// The key pair of SPEC.md section 5.4.
    pub(crate) fn derive(data_key: &DataKey, vault_id: &[u8; 16]) -> Self {
        let seed = crate::crypto::derive(data_key.0.as_ref(), vault_id, SIGNING_INFO);
        SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// The public half, as the header holds it.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key().to_bytes())
    }

    /// The Ed25519 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.0.sign(message).to_bytes()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeroize::Zeroizing;

    fn key(byte: u8) -> SigningKey {
        SigningKey::derive(&DataKey(Zeroizing::new([byte; 32])), &[9; 16])
    }

    #[test]
    fn a_signature_verifies_under_its_public_key_only() {
        let signer = key(1);
        let signature = signer.sign(b"report bytes");
        assert!(signer.public_key().verifies(b"report bytes", &signature));
        assert!(!signer.public_key().verifies(b"report bytez", &signature));
        assert!(!key(2).public_key().verifies(b"report bytes", &signature));
        assert!(
            !signer
                .public_key()
                .verifies(b"report bytes", &signature[..63])
        );
    }

    #[test]
    fn the_pair_depends_on_the_data_key_and_the_vault_id() {
        assert_eq!(key(1).public_key(), key(1).public_key());
        assert_ne!(key(1).public_key(), key(2).public_key());
        let other_vault = SigningKey::derive(&DataKey(Zeroizing::new([1; 32])), &[8; 16]);
        assert_ne!(key(1).public_key(), other_vault.public_key());
    }

    #[test]
    fn the_secret_never_prints_and_is_wiped() {
        fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        wiped_on_drop::<ed25519_dalek::SigningKey>();
        assert_eq!(format!("{:?}", key(1)), "SigningKey(<redacted>)");
    }

    #[test]
    fn hex_input_is_checked() {
        let public = key(1).public_key();
        assert_eq!(PublicKey::from_hex(&public.to_hex()), Ok(public));
        assert_eq!(
            PublicKey::from_hex(&format!(" {} \n", public.to_hex().to_uppercase())),
            Ok(public)
        );
        assert!(
            PublicKey::from_hex("abcd")
                .unwrap_err()
                .contains("64 hex digits")
        );
        assert!(
            PublicKey::from_hex(&"g".repeat(64))
                .unwrap_err()
                .contains("hex digits only")
        );
    }
}
