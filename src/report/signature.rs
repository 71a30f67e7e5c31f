//! The report's signatures: an HMAC that key holders check, and an Ed25519 signature anyone checks with the vault's public key.
//!
//! Both cover the same bytes, [`super::Report::canonical_bytes`]. The HMAC
//! key is `UnlockedVault::derive_key("report")`; the Ed25519 key is the
//! vault's signing key (vault-format SPEC.md section 5.4), whose public half
//! `vault inspect` prints without a key. A vault of format version 1 has no
//! public key: its reports carry the HMAC only.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use vault_format::{PublicKey, SigningKey, UnlockedVault};
use zeroize::Zeroizing;

use super::{JSON_FILE, Report};

/// The algorithm names written in `report.json`.
pub const HMAC_ALGORITHM: &str = "HMAC-SHA256";
pub const ED25519_ALGORITHM: &str = "Ed25519";

/// The signatures over the canonical bytes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// Always `HMAC-SHA256`.
    pub algorithm: String,
    /// How the key was made: `HKDF-SHA256(data key, vault id, "vault-v1 caller report")`.
    pub key: String,
    /// Hex.
    pub value: String,
    /// The Ed25519 signature that needs no key to check; absent in reports
    /// of a vault of format version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key_signature: Option<PublicKeySignature>,
}

/// An Ed25519 signature and the public key it verifies under.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PublicKeySignature {
    /// Always `Ed25519`.
    pub algorithm: String,
    /// The vault's public key, hex (as `vault inspect` prints it).
    pub public_key: String,
    /// Hex, 64 bytes.
    pub value: String,
}

/// What signs a report: the HMAC key and, for a vault of format version 2,
/// the Ed25519 signing key. Both wiped on drop; neither ever printed.
pub struct ReportKeys {
    hmac: Zeroizing<[u8; 32]>,
    signer: Option<SigningKey>,
}

impl std::fmt::Debug for ReportKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReportKeys(<redacted>)")
    }
}

impl ReportKeys {
    /// The keys of an unlocked vault.
    pub fn of(vault: &UnlockedVault) -> Self {
        ReportKeys {
            hmac: vault.derive_key(super::KEY_PURPOSE),
            signer: vault.signing_key(),
        }
    }

    /// The HMAC key, for the checks that key holders run.
    pub fn hmac_key(&self) -> &[u8; 32] {
        &self.hmac
    }

    #[cfg(test)]
    pub(super) fn hmac_only(key: [u8; 32]) -> Self {
        ReportKeys {
            hmac: Zeroizing::new(key),
            signer: None,
        }
    }
}

fn mac(report: &Report, key: &[u8; 32]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(&report.canonical_bytes());
    mac
}

/// Signs `report` over its canonical bytes, replacing any signature.
pub fn sign(report: &mut Report, keys: &ReportKeys) {
    report.signature = None;
    let bytes = report.canonical_bytes();
    let value = hex::encode(mac(report, &keys.hmac).finalize().into_bytes());
    let public_key_signature = keys.signer.as_ref().map(|signer| PublicKeySignature {
        algorithm: ED25519_ALGORITHM.into(),
        public_key: signer.public_key().to_hex(),
        value: hex::encode(signer.sign(&bytes)),
    });
    report.signature = Some(Signature {
        algorithm: HMAC_ALGORITHM.into(),
        key: "HKDF-SHA256(vault data key, vault id, \"vault-v1 caller report\")".into(),
        value,
        public_key_signature,
    });
}

/// Whether the HMAC matches (constant-time comparison).
pub fn hmac_matches(report: &Report, key: &[u8; 32]) -> bool {
    let Some(signature) = &report.signature else {
        return false;
    };
    let Ok(bytes) = hex::decode(&signature.value) else {
        return false;
    };
    signature.algorithm == HMAC_ALGORITHM && mac(report, key).verify_slice(&bytes).is_ok()
}

/// The report's Ed25519 signature, if it has one.
pub fn public_key_signature(report: &Report) -> Option<&PublicKeySignature> {
    report
        .signature
        .as_ref()
        .and_then(|s| s.public_key_signature.as_ref())
}

/// What is wrong with the report's Ed25519 signature under `public_key`;
/// `None` when it verifies. `None` is never returned for a report without one.
pub fn ed25519_problem(report: &Report, public_key: &PublicKey) -> Option<String> {
    let Some(signature) = public_key_signature(report) else {
        return Some(format!(
            "{JSON_FILE} has no Ed25519 signature (removed, or written without one)"
        ));
    };
    if signature.algorithm != ED25519_ALGORITHM {
        return Some(format!(
            "{JSON_FILE}: the public-key signature's algorithm is {}, not {ED25519_ALGORITHM}",
            crate::units::printable(&signature.algorithm)
        ));
    }
    if !signature
        .public_key
        .eq_ignore_ascii_case(&public_key.to_hex())
    {
        return Some(format!(
            "{JSON_FILE} names public key {}, not {public_key}: it was signed with another vault's key, or edited",
            crate::units::printable(&signature.public_key)
        ));
    }
    let verifies = hex::decode(&signature.value)
        .map(|value| public_key.verifies(&report.canonical_bytes(), &value))
        .unwrap_or(false);
    if verifies {
        None
    } else {
        Some(format!(
            "{JSON_FILE}: the Ed25519 signature does not match its content under public key {public_key} (edited)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_keys_print_redacted() {
        let keys = ReportKeys::hmac_only([7; 32]);
        assert_eq!(format!("{keys:?}"), "ReportKeys(<redacted>)");
    }
}
