//! Adding and removing key slots without re-encrypting the payload, by atomic replacement (SPEC.md section 8).

use std::path::Path;

use crate::atomic::PartialFile;
use crate::error::{Result, VaultError};
use crate::keys::{KdfParams, KeyMaterial};
use crate::reader::Vault;
use crate::slot::KeySlot;

/// Adds a slot for `new_key`, after unlocking with `unlock`. Returns the new slot's number.
pub fn add_key_slot(
    path: &Path,
    unlock: &KeyMaterial,
    new_key: &KeyMaterial,
    kdf: KdfParams,
) -> Result<u32> {
    let partial = PartialFile::copy_of(path)?;
    let vault = Vault::open_with(partial.path(), true)?;
    crate::check::check_structure_of(&vault)?;
    if vault.slots().len() >= crate::slot::MAX_KEY_SLOTS as usize {
        return Err(VaultError::Usage {
            detail: format!(
                "the vault already has {} key slots, the most it may have; remove one first",
                crate::slot::MAX_KEY_SLOTS
            ),
        });
    }
    let number = vault.slots().iter().map(|s| s.number).max().unwrap_or(0) + 1;
    let vault_id = vault.header().vault_id;
    let unlocked = vault.unlock(unlock)?;
    let slot = KeySlot::create(number, &vault_id, &unlocked.data_key, new_key, kdf)?;
    crate::writer::insert_slot(&unlocked.vault.conn, &slot)?;
    finish_edit(unlocked.vault, partial, path)?;
    Ok(number)
}

/// Removes slot `slot`. `unlock` must open another slot, so that the vault
/// stays openable by the one removing it; the last slot is never removed.
pub fn remove_key_slot(path: &Path, unlock: &KeyMaterial, slot: u32) -> Result<()> {
    let partial = PartialFile::copy_of(path)?;
    let vault = Vault::open_with(partial.path(), true)?;
    crate::check::check_structure_of(&vault)?;
    if !vault.slots().iter().any(|s| s.number == slot) {
        return Err(VaultError::SlotNotFound { slot });
    }
    if vault.slots().len() == 1 {
        return Err(VaultError::SlotRemovalRefused {
            slot,
            reason: "it is the vault's last key slot".into(),
        });
    }
    // Unlock first: a key that opens no slot at all is a wrong key.
    let vault_id = vault.header().vault_id;
    let unlocked = vault.unlock(unlock)?;
    if unlocked.opened_slot() == slot {
        let opens_another = unlocked
            .vault
            .slots()
            .iter()
            .filter(|s| s.number != slot)
            .map(|s| s.unwrap_key(&vault_id, unlock).map(|k| k.is_some()))
            .collect::<Result<Vec<bool>>>()?
            .into_iter()
            .any(|opens| opens);
        if !opens_another {
            return Err(VaultError::SlotRemovalRefused {
                slot,
                reason: "the key given opens only this slot; give a key of a slot that stays"
                    .into(),
            });
        }
    }
    unlocked
        .vault
        .conn
        .execute("DELETE FROM key_slot WHERE slot = ?1", [slot])?;
    finish_edit(unlocked.vault, partial, path)
}

fn finish_edit(vault: Vault, partial: PartialFile, path: &Path) -> Result<()> {
    let Vault { conn, .. } = vault;
    conn.close().map_err(|(_, e)| VaultError::from(e))?;
    let edited = Vault::open(partial.path())?;
    crate::check::check_structure_of(&edited)?;
    drop(edited);
    partial.publish(path, true)
}
