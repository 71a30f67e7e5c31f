//! Key slots (SPEC.md section 4): the data key wrapped under a passphrase or a key file.

use aes_gcm::{Aes256Gcm, KeyInit};
use zeroize::Zeroizing;

use crate::crypto;
use crate::error::{Location, Result, VaultError};
use crate::header::ByteReader;
use crate::keys::{DataKey, KEY_LEN, KdfParams, KeyMaterial};

/// The most key slots a vault may have (SPEC.md section 4): bounds the
/// key-derivation work of an unlock to 16 Argon2 runs at most.
pub const MAX_KEY_SLOTS: u32 = 16;

const KIND_PASSPHRASE: u8 = 1;
const KIND_KEY_FILE: u8 = 2;
const WRAPPED_LEN: usize = KEY_LEN + crypto::TAG_LEN;
/// t_cost, m_cost_kib, parallelism, salt, reserved byte.
const PASSPHRASE_PARAMS_LEN: usize = 4 + 4 + 4 + 16 + 1;
/// The longest slot body, a passphrase slot's (SPEC.md section 2.2).
pub(crate) const MAX_BODY_LEN: usize = 1 + PASSPHRASE_PARAMS_LEN + 12 + WRAPPED_LEN;

/// What a slot is unlocked with, and its public parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotKind {
    Passphrase {
        kdf: KdfParams,
        salt: [u8; 16],
    },
    KeyFile {
        fingerprint: [u8; 8],
        salt: [u8; 16],
    },
}

impl SlotKind {
    /// "passphrase" or "key file".
    pub fn name(&self) -> &'static str {
        match self {
            SlotKind::Passphrase { .. } => "passphrase",
            SlotKind::KeyFile { .. } => "key file",
        }
    }
}

/// One parsed key slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySlot {
    pub number: u32,
    pub kind: SlotKind,
    wrap_nonce: [u8; 12],
    wrapped_key: [u8; WRAPPED_LEN],
}

impl KeySlot {
    /// Wraps `data_key` for `material`; Argon2id runs here for a passphrase.
    pub(crate) fn create(
        number: u32,
        vault_id: &[u8; 16],
        data_key: &DataKey,
        material: &KeyMaterial,
        kdf: KdfParams,
    ) -> Result<Self> {
        let salt = crate::random::array::<16>()?;
        let kind = match material {
            KeyMaterial::Passphrase(_) => {
                kdf.check_bounds()
                    .map_err(|detail| VaultError::Usage { detail })?;
                SlotKind::Passphrase { kdf, salt }
            }
            KeyMaterial::KeyFile(key) => SlotKind::KeyFile {
                fingerprint: key.fingerprint(),
                salt,
            },
        };
        let wrap_nonce = crate::random::array::<12>()?;
        let mut slot = KeySlot {
            number,
            kind,
            wrap_nonce,
            wrapped_key: [0; WRAPPED_LEN],
        };
        let kek = slot
            .derive_kek(material)?
            .expect("the kind was made from this material");
        let cipher = Aes256Gcm::new_from_slice(kek.as_ref()).expect("key length is 32");
        let wrapped = crypto::seal(
            &cipher,
            &wrap_nonce,
            data_key.0.as_ref(),
            &slot.wrap_ad(vault_id),
        );
        slot.wrapped_key.copy_from_slice(&wrapped);
        Ok(slot)
    }

    /// Tries to unwrap the data key. `Ok(None)` when this slot is not for
    /// this key material.
    pub(crate) fn unwrap_key(
        &self,
        vault_id: &[u8; 16],
        material: &KeyMaterial,
    ) -> Result<Option<DataKey>> {
        let Some(kek) = self.derive_kek(material)? else {
            return Ok(None);
        };
        let cipher = Aes256Gcm::new_from_slice(kek.as_ref()).expect("key length is 32");
        let Some(plain) = crypto::open(
            &cipher,
            &self.wrap_nonce,
            &self.wrapped_key,
            &self.wrap_ad(vault_id),
        ) else {
            return Ok(None);
        };
        let plain = Zeroizing::new(plain);
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        key.copy_from_slice(&plain);
        Ok(Some(DataKey(key)))
    }

    /// The key-encryption key, or `None` when kinds or fingerprints differ.
    fn derive_kek(&self, material: &KeyMaterial) -> Result<Option<Zeroizing<[u8; KEY_LEN]>>> {
        match (&self.kind, material) {
            (SlotKind::Passphrase { kdf, salt }, KeyMaterial::Passphrase(passphrase)) => {
                kdf.check_bounds()
                    .map_err(|detail| VaultError::KdfTooCostly {
                        slot: self.number,
                        detail,
                    })?;
                let kek = crate::kdf::derive_kek(kdf, passphrase.bytes(), salt).map_err(|e| {
                    VaultError::KdfTooCostly {
                        slot: self.number,
                        detail: e.to_string(),
                    }
                })?;
                Ok(Some(kek))
            }
            (SlotKind::KeyFile { fingerprint, salt }, KeyMaterial::KeyFile(key)) => {
                if *fingerprint != key.fingerprint() {
                    return Ok(None);
                }
                Ok(Some(crypto::derive(
                    key.bytes(),
                    salt,
                    b"vault-v1 keyfile slot",
                )))
            }
            _ => Ok(None),
        }
    }

    fn params_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + PASSPHRASE_PARAMS_LEN);
        match &self.kind {
            SlotKind::Passphrase { kdf, salt } => {
                out.push(KIND_PASSPHRASE);
                out.extend_from_slice(&kdf.t_cost.to_be_bytes());
                out.extend_from_slice(&kdf.m_cost_kib.to_be_bytes());
                out.extend_from_slice(&kdf.parallelism.to_be_bytes());
                out.extend_from_slice(salt);
                out.push(0);
            }
            SlotKind::KeyFile { fingerprint, salt } => {
                out.push(KIND_KEY_FILE);
                out.extend_from_slice(fingerprint);
                out.extend_from_slice(salt);
            }
        }
        out
    }

    fn wrap_ad(&self, vault_id: &[u8; 16]) -> Vec<u8> {
        let mut ad = b"vault-v1 key slot".to_vec();
        ad.extend_from_slice(vault_id);
        ad.extend_from_slice(&self.params_bytes());
        ad.extend_from_slice(&self.wrap_nonce);
        ad
    }

    /// The canonical body bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.params_bytes();
        out.extend_from_slice(&self.wrap_nonce);
        out.extend_from_slice(&self.wrapped_key);
        out
    }

    /// Parses a slot body; KDF bounds are checked here, before any derivation.
    pub fn decode(number: u32, body: &[u8]) -> Result<Self> {
        let mut r = ByteReader::new(body, Location::Slot(number));
        let kind = match r.u8()? {
            KIND_PASSPHRASE => {
                let kdf = KdfParams {
                    t_cost: r.u32()?,
                    m_cost_kib: r.u32()?,
                    parallelism: r.u32()?,
                };
                let salt = r.array::<16>()?;
                if r.u8()? != 0 {
                    return Err(VaultError::damaged(
                        Location::Slot(number),
                        "reserved byte is not zero",
                    ));
                }
                kdf.check_bounds()
                    .map_err(|detail| VaultError::KdfTooCostly {
                        slot: number,
                        detail,
                    })?;
                SlotKind::Passphrase { kdf, salt }
            }
            KIND_KEY_FILE => SlotKind::KeyFile {
                fingerprint: r.array::<8>()?,
                salt: r.array::<16>()?,
            },
            other => {
                return Err(VaultError::damaged(
                    Location::Slot(number),
                    format!("unknown slot kind {other}"),
                ));
            }
        };
        let wrap_nonce = r.array::<12>()?;
        let wrapped_key = r.array::<WRAPPED_LEN>()?;
        r.finish()?;
        Ok(KeySlot {
            number,
            kind,
            wrap_nonce,
            wrapped_key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{FileKey, Passphrase};

    fn cheap() -> KdfParams {
        KdfParams {
            t_cost: 1,
            m_cost_kib: 64,
            parallelism: 1,
        }
    }

    #[test]
    fn a_slot_opens_with_its_own_key_only() {
        let vault_id = [1; 16];
        let data_key = DataKey::generate().unwrap();
        let right = KeyMaterial::KeyFile(FileKey::generate().unwrap());
        let wrong = KeyMaterial::KeyFile(FileKey::generate().unwrap());
        let slot = KeySlot::create(1, &vault_id, &data_key, &right, cheap()).unwrap();
        let parsed = KeySlot::decode(1, &slot.encode()).unwrap();
        let opened = parsed.unwrap_key(&vault_id, &right).unwrap().unwrap();
        assert_eq!(*opened.0, *data_key.0);
        assert!(parsed.unwrap_key(&vault_id, &wrong).unwrap().is_none());
        assert!(
            parsed.unwrap_key(&[2; 16], &right).unwrap().is_none(),
            "bound to the vault id"
        );
    }

    #[test]
    fn a_passphrase_slot_needs_the_same_passphrase() {
        let vault_id = [1; 16];
        let data_key = DataKey::generate().unwrap();
        let right = KeyMaterial::Passphrase(Passphrase::new("correct horse".into()).unwrap());
        let wrong = KeyMaterial::Passphrase(Passphrase::new("battery staple".into()).unwrap());
        let slot = KeySlot::create(1, &vault_id, &data_key, &right, cheap()).unwrap();
        assert!(slot.unwrap_key(&vault_id, &right).unwrap().is_some());
        assert!(slot.unwrap_key(&vault_id, &wrong).unwrap().is_none());
    }

    #[test]
    fn the_longest_body_is_the_bound_of_section_2_2() {
        let (vault_id, data_key) = ([1; 16], DataKey::generate().unwrap());
        let passphrase = KeyMaterial::Passphrase(Passphrase::new("pw".into()).unwrap());
        let key_file = KeyMaterial::KeyFile(FileKey::generate().unwrap());
        let body_len = |material| {
            KeySlot::create(1, &vault_id, &data_key, material, cheap())
                .unwrap()
                .encode()
                .len()
        };
        assert_eq!(body_len(&passphrase), MAX_BODY_LEN);
        assert_eq!(body_len(&key_file), 85);
        assert_eq!(MAX_BODY_LEN, 90);
    }

    #[test]
    fn hostile_costs_are_refused_while_parsing() {
        let vault_id = [1; 16];
        let data_key = DataKey::generate().unwrap();
        let material = KeyMaterial::Passphrase(Passphrase::new("pw".into()).unwrap());
        let slot = KeySlot::create(1, &vault_id, &data_key, &material, cheap()).unwrap();
        let mut body = slot.encode();
        body[5..9].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(
            KeySlot::decode(1, &body).unwrap_err().code(),
            "kdf-too-costly"
        );
    }
}
