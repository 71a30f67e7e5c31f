//! `vault keygen`: a new random key file, mode 0600, never over an existing file.

use std::io::Write;

use vault_format::{FileKey, VaultError};

use crate::cli::KeygenArgs;
use crate::exit::{Exit, ToolError};

pub fn run(args: &KeygenArgs, out: &mut dyn Write) -> Result<Exit, ToolError> {
    let key = FileKey::generate()?;
    key.write_new_file(&args.out).map_err(|error| match error {
        VaultError::AlreadyExists { path } => ToolError::usage(format!(
            "{} already exists; refusing to overwrite a key file",
            path.display()
        ))
        .hint("choose another path; a key file that is overwritten can no longer open its vaults"),
        other => ToolError::from(other),
    })?;
    writeln!(
        out,
        "wrote key file {} (fingerprint {})",
        args.out.display(),
        hex::encode(key.fingerprint())
    )?;
    writeln!(
        out,
        "keep a copy somewhere safe: without it, the vaults it opens cannot be read"
    )?;
    Ok(Exit::Success)
}
