//! The vault's extras streams (grants, links, jobs, objects, the instance), found by their metadata `kind` and read whole: they are small.

use std::io::Read;

use vault_format::UnlockedVault;

use crate::exit::{Exit, ToolError};

/// The metadata and bytes of the stream whose metadata `kind` is `kind`;
/// `None` when the vault has none (written before that kind existed).
pub fn read(
    vault: &UnlockedVault,
    kind: &str,
) -> Result<Option<(serde_json::Value, Vec<u8>)>, ToolError> {
    let Some(entry) = vault
        .manifest()
        .streams
        .iter()
        .find(|e| e.metadata.get("kind").and_then(|k| k.as_str()) == Some(kind))
    else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    vault
        .stream(&entry.name)?
        .read_to_end(&mut bytes)
        .map_err(|e| ToolError::from(vault_format::vault_error_of(e)))?;
    Ok(Some((entry.metadata.clone(), bytes)))
}

/// The stream of `kind` as one JSON value; a stream that does not parse is
/// a vault this tool did not write (exit 3).
pub fn read_json<T: serde::de::DeserializeOwned>(
    vault: &UnlockedVault,
    kind: &str,
) -> Result<Option<T>, ToolError> {
    let Some((_, bytes)) = read(vault, kind)? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        ToolError::new(
            Exit::Problem,
            format!("the vault's {kind} stream is not valid: {e}"),
        )
        .hint("restore only vaults written by `vault capture`")
    })
}
