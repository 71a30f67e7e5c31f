//! Acceptance's own logins kept across a refresh (`[roles]`): the vault's record of each kept login, and the lines a restore says about logins.
//!
//! Each engine captures and restores its logins in `src/db/<engine>/roles.rs`
//! (PostgreSQL roles with their password verifiers, settings and
//! memberships; MariaDB/MySQL accounts from `SHOW CREATE USER`). What they
//! share lives here: one stream per kept login, named `roles/NAME` so that
//! `vault inspect` lists the kept logins by name without a key while the
//! definitions (verifiers included) stay encrypted; the stream that lists
//! every login acceptance had, so that production's own logins are told
//! apart after a physical copy; and the restore's wording.

use std::io::{Read, Write};

use serde::Serialize;
use serde::de::DeserializeOwned;
use vault_format::{UnlockedVault, Vault, VaultWriter};

use crate::exit::{Exit, ToolError};

/// The prefix of a kept login's stream name.
pub const STREAM_PREFIX: &str = "roles/";

/// The `kind` of the stream that lists every login acceptance had.
pub const LOGINS_KIND: &str = "logins";

/// The stream that lists every login acceptance had.
const LOGINS_STREAM: &str = "extras/logins";

/// The kept logins of a vault, by name, read from its plaintext stream
/// index (no key needed).
pub fn kept_in(vault: &Vault) -> Vec<String> {
    vault
        .streams()
        .iter()
        .filter_map(|s| s.name.strip_prefix(STREAM_PREFIX).map(str::to_owned))
        .collect()
}

/// Writes one kept login's definition into its own stream.
pub fn write_definition<T: Serialize>(
    writer: &VaultWriter,
    kind: &str,
    name: &str,
    definition: &T,
) -> Result<(), ToolError> {
    let metadata = serde_json::json!({"kind": kind, "encoding": "json"});
    let mut stream = writer.stream(&format!("{STREAM_PREFIX}{name}"), metadata)?;
    let bytes = serde_json::to_vec(definition).expect("a login's definition serializes");
    stream.write_all(&bytes)?;
    stream.add_rows(1);
    stream.finish()?;
    Ok(())
}

/// Every kept login's definition of `kind`, in stream order.
pub fn read_definitions<T: DeserializeOwned>(
    vault: &UnlockedVault,
    kind: &str,
) -> Result<Vec<T>, ToolError> {
    let mut out = Vec::new();
    for entry in &vault.manifest().streams {
        if !entry.name.starts_with(STREAM_PREFIX)
            || entry.metadata.get("kind").and_then(|k| k.as_str()) != Some(kind)
        {
            continue;
        }
        let mut bytes = Vec::new();
        vault
            .stream(&entry.name)?
            .read_to_end(&mut bytes)
            .map_err(|e| ToolError::from(vault_format::vault_error_of(e)))?;
        out.push(serde_json::from_slice(&bytes).map_err(|e| {
            ToolError::new(
                Exit::Problem,
                format!(
                    "the vault's stream {} is not a login's definition: {e}",
                    entry.name
                ),
            )
            .hint("restore only vaults written by `vault capture`")
        })?);
    }
    Ok(out)
}

/// Writes the names of every login acceptance had at capture.
pub fn write_logins(writer: &VaultWriter, logins: &[String]) -> Result<(), ToolError> {
    let metadata = serde_json::json!({"kind": LOGINS_KIND, "encoding": "json"});
    let mut stream = writer.stream(LOGINS_STREAM, metadata)?;
    stream.write_all(&serde_json::to_vec(logins).expect("names serialize"))?;
    stream.add_rows(logins.len() as u64);
    stream.finish()?;
    Ok(())
}

/// The logins acceptance had at capture; `None` for a vault captured
/// without `[roles]`.
pub fn read_logins(vault: &UnlockedVault) -> Result<Option<Vec<String>>, ToolError> {
    crate::extras::read_json(vault, LOGINS_KIND)
}

/// The refusal when the capturing account may not read password verifiers.
pub fn verifiers_unreadable(privilege: &str) -> ToolError {
    ToolError::usage(format!(
        "roles: the capturing account may not read the kept logins' password verifiers ({privilege})"
    ))
    .hint("capture as an account that may, or set [roles] passwords = false to keep the logins without their passwords")
}

/// What the restore says about production's own logins: each listed, and,
/// with `lock_others`, how to unlock the ones it locked.
pub fn production_only_lines(found: &[String], locked: &[(String, String)]) -> Vec<String> {
    let mut lines = Vec::new();
    if found.is_empty() {
        return lines;
    }
    lines.push(format!(
        "roles: production's logins that acceptance never had: {}",
        found.join(", ")
    ));
    for (login, unlock) in locked {
        lines.push(format!(
            "roles: {login} locked (lock_others); to unlock: {unlock}"
        ));
    }
    if locked.is_empty() {
        lines.push(
            "roles: they can still log in; [roles] lock_others = true locks them at the next restore"
                .to_owned(),
        );
    }
    lines
}
