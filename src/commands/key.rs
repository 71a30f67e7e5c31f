//! `vault key add` and `vault key remove`: edit a vault's key slots without re-encrypting its data.
//!
//! The library does the edit (on a copy, renamed over the original when
//! complete and checked); this module resolves the keys and refuses a key
//! file that already has a slot.

use std::io::Write;
use std::path::Path;

use vault_format::{KdfParams, KeyMaterial, SlotKind, Vault, add_key_slot, remove_key_slot};

use crate::cli::{KeyAddArgs, KeyRemoveArgs};
use crate::exit::{Exit, ToolError};
use crate::keys::{EnvLookup, new_key, require_unlock_key};

pub fn add(args: &KeyAddArgs, out: &mut dyn Write, env: EnvLookup<'_>) -> Result<Exit, ToolError> {
    super::require_file(&args.file)?;
    let unlock = require_unlock_key(&args.key, env, "`vault key add`")?;
    let new = new_key(&args.new_key, env)?;
    refuse_known_key_file(&args.file, &new)?;
    let number = add_key_slot(&args.file, &unlock, &new, KdfParams::default())?;
    writeln!(
        out,
        "added key slot {number} ({}) to {}",
        describe(&new),
        args.file.display()
    )?;
    Ok(Exit::Success)
}

pub fn remove(
    args: &KeyRemoveArgs,
    out: &mut dyn Write,
    env: EnvLookup<'_>,
) -> Result<Exit, ToolError> {
    super::require_file(&args.file)?;
    let unlock = require_unlock_key(&args.key, env, "`vault key remove`")?;
    remove_key_slot(&args.file, &unlock, args.slot)?;
    let remaining: Vec<String> = Vault::open(&args.file)?
        .slots()
        .iter()
        .map(|s| format!("slot {} ({})", s.number, describe_slot(&s.kind)))
        .collect();
    writeln!(
        out,
        "removed key slot {} from {}; remaining: {}",
        args.slot,
        args.file.display(),
        remaining.join(", ")
    )?;
    Ok(Exit::Success)
}

/// A second slot for the same key file adds nothing and hides mistakes.
fn refuse_known_key_file(path: &Path, new: &KeyMaterial) -> Result<(), ToolError> {
    let KeyMaterial::KeyFile(key) = new else {
        return Ok(());
    };
    let fingerprint = key.fingerprint();
    let vault = Vault::open(path)?;
    let existing = vault.slots().iter().find(
        |slot| matches!(&slot.kind, SlotKind::KeyFile { fingerprint: f, .. } if *f == fingerprint),
    );
    match existing {
        Some(slot) => Err(ToolError::usage(format!(
            "the new key file (fingerprint {}) already opens key slot {} of {}",
            hex::encode(fingerprint),
            slot.number,
            path.display()
        ))
        .hint("give another key file, made by `vault keygen`")),
        None => Ok(()),
    }
}

fn describe(material: &KeyMaterial) -> String {
    match material {
        KeyMaterial::KeyFile(key) => format!("key file {}", hex::encode(key.fingerprint())),
        KeyMaterial::Passphrase(_) => "passphrase".to_owned(),
    }
}

fn describe_slot(kind: &SlotKind) -> String {
    match kind {
        SlotKind::KeyFile { fingerprint, .. } => format!("key file {}", hex::encode(fingerprint)),
        SlotKind::Passphrase { .. } => "passphrase".to_owned(),
    }
}
