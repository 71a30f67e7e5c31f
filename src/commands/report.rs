//! `vault report verify DIR`: check a run report's signatures and renderings, with the vault's key or without it.
//!
//! With key material, the HMAC (and the Ed25519 signature of a version 2
//! vault) is checked, as a key holder can. Without it, the Ed25519 signature
//! is checked with the public key from `--vault`'s header, or from
//! `--public-key` with no vault at all: what a change-ticket reviewer does.

use std::io::Write;
use std::path::PathBuf;

use vault_format::PublicKey;

use crate::cli::ReportVerifyArgs;
use crate::exit::{Exit, ToolError};
use crate::keys::{EnvLookup, unlock_key};
use crate::report::{self, Report};

pub fn verify(
    args: &ReportVerifyArgs,
    out: &mut dyn Write,
    env: EnvLookup<'_>,
) -> Result<Exit, ToolError> {
    let (report, text) = report::read(&args.dir)?;
    if let Some(hex) = &args.public_key {
        let public_key = PublicKey::from_hex(hex).map_err(|reason| {
            ToolError::usage(format!("--public-key: {reason}"))
                .hint("give the public key that `vault inspect` prints for the vault")
        })?;
        if report::signature::public_key_signature(&report).is_none() {
            return Err(no_public_key_signature(args, &report));
        }
        let problems = report::verify_keyless(&args.dir, &report, &text, &public_key);
        let verified = format!(
            "report verified without a key: {} is signed with public key {public_key} (the report names vault {})",
            args.dir.display(),
            crate::units::printable(&report.vault.id)
        );
        return conclude(out, args, &problems, &verified);
    }

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
    // Another vault cannot verify the signature: say which vault the report
    // is of, rather than call it edited. (The same file under an edited id
    // is an edit, found below.)
    if id != report.vault.id && report::file_sha256(&vault_path)? != report.vault.sha256 {
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
    let public_key = vault.header().public_key;
    let (mut problems, verified) = match unlock_key(&args.key, env)? {
        Some(key) => {
            let unlocked = vault.unlock(&key)?;
            let hmac_key = unlocked.derive_key(report::KEY_PURPOSE);
            let problems =
                report::verify(&args.dir, &report, &text, &hmac_key, public_key.as_ref());
            let verified = format!(
                "report verified: {} is signed by vault {id} and report.md and report.html are its renderings",
                args.dir.display()
            );
            (problems, verified)
        }
        None => {
            let Some(public_key) = public_key else {
                return Err(predates_keyless(&vault_path, vault.header().format_version));
            };
            let problems = report::verify_keyless(&args.dir, &report, &text, &public_key);
            let verified = format!(
                "report verified without a key: {} is signed with the public key of vault {id} ({public_key}) and report.md and report.html are its renderings",
                args.dir.display()
            );
            (problems, verified)
        }
    };
    if id != report.vault.id {
        problems.push(format!(
            "the report names vault {}, but {} is vault {id}",
            crate::units::printable(&report.vault.id),
            vault_path.display()
        ));
    }
    conclude(out, args, &problems, &verified)
}

/// Prints the verdict: 0 when nothing was edited, else each problem and 3.
fn conclude(
    out: &mut dyn Write,
    args: &ReportVerifyArgs,
    problems: &[String],
    verified: &str,
) -> Result<Exit, ToolError> {
    if problems.is_empty() {
        writeln!(out, "{verified}")?;
        return Ok(Exit::Success);
    }
    for problem in problems {
        writeln!(out, "EDITED  {problem}")?;
    }
    writeln!(
        out,
        "the report in {} was edited; do not attach it as evidence",
        args.dir.display()
    )?;
    Ok(Exit::Problem)
}

/// A vault of format version 1 has no public key: only its key checks its reports (exit 1).
fn predates_keyless(vault_path: &std::path::Path, version: u16) -> ToolError {
    ToolError::failed(format!(
        "{} is a vault of format version {version}, which predates keyless verification: it has no public key, and its reports carry only an HMAC, which needs the vault's key",
        vault_path.display()
    ))
    .hint(format!(
        "verify with the vault's key (--key-file, --passphrase-file, {} or {}); vaults captured by this release are verified without one",
        crate::env_vars::VAULT_KEY_FILE,
        crate::env_vars::VAULT_PASSPHRASE
    ))
}

/// `--public-key` and a report with no Ed25519 signature (exit 1).
fn no_public_key_signature(args: &ReportVerifyArgs, report: &Report) -> ToolError {
    ToolError::failed(format!(
        "the report in {} carries no Ed25519 signature, only an HMAC: it was made from a vault that predates keyless verification (format version 1), or its signature was removed",
        args.dir.display()
    ))
    .hint(format!(
        "check it with --vault FILE (the report names {}) and the vault's key",
        crate::units::printable(&report.vault.path)
    ))
}
