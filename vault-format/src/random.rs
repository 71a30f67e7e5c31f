//! Random bytes from the operating system.

use crate::error::{Result, VaultError};

/// Fills `buf` from the operating system's generator.
pub(crate) fn fill(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|e| VaultError::Io {
        path: "<random source>".into(),
        source: std::io::Error::other(e.to_string()),
    })
}

/// A fresh random array.
pub(crate) fn array<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    fill(&mut out)?;
    Ok(out)
}
