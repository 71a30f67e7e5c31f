//! `vault report verify DIR`: check a run report's signature and renderings.

use std::io::Write;
use std::path::PathBuf;

use crate::cli::ReportVerifyArgs;
use crate::exit::{Exit, ToolError};
use crate::keys::{EnvLookup, require_unlock_key};

pub fn verify(
    args: &ReportVerifyArgs,
    out: &mut dyn Write,
    env: EnvLookup<'_>,
) -> Result<Exit, ToolError> {
    let (report, text) = crate::report::read(&args.dir)?;
    let vault_path = args
        .vault
        .clone()
        .unwrap_or_else(|| PathBuf::from(&report.vault.path));
    super::require_file(&vault_path).map_err(|e| {
        if args.vault.is_none() {
            e.hint("the report names this vault file; give its current path with --vault FILE")
        } else {
            e
        }
    })?;
    let vault = vault_format::Vault::open(&vault_path)?;
    let id = hex::encode(vault.header().vault_id);
    // Another vault's key cannot verify the signature: say which vault the
    // report is of, rather than call it edited. (The same file under an
    // edited id is an edit, found below.)
    if id != report.vault.id && crate::report::file_sha256(&vault_path)? != report.vault.sha256 {
        return Err(ToolError::usage(format!(
            "the report in {} belongs to another vault: it was written by a restore of vault {}, and {} is vault {id}",
            args.dir.display(),
            crate::units::printable(&report.vault.id),
            vault_path.display()
        ))
        .hint(format!(
            "give the vault that run restored with --vault (it was {})",
            crate::units::printable(&report.vault.path)
        )));
    }
    let key = require_unlock_key(&args.key, env, "`vault report verify`")?;
    let unlocked = vault.unlock(&key)?;
    let signing_key = unlocked.derive_key(crate::report::KEY_PURPOSE);
    let mut problems = crate::report::verify(&args.dir, &report, &text, &signing_key);
    if id != report.vault.id {
        problems.push(format!(
            "the report names vault {}, but {} is vault {id}",
            crate::units::printable(&report.vault.id),
            vault_path.display()
        ));
    }
    if problems.is_empty() {
        writeln!(
            out,
            "report verified: {} is signed by vault {id} and report.md and report.html are its renderings",
            args.dir.display()
        )?;
        return Ok(Exit::Success);
    }
    for problem in &problems {
        writeln!(out, "EDITED  {problem}")?;
    }
    writeln!(
        out,
        "the report in {} was edited; do not attach it as evidence",
        args.dir.display()
    )?;
    Ok(Exit::Problem)
}
