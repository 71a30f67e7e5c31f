//! `vault check`: one line per vault and a summary, over files and folders of vaults.
//!
//! Without `--read-data` it runs the library's keyless structural check; with
//! it, the deep check that decrypts every chunk. Every path is resolved, and
//! the key read, before the first vault is checked, so a usage error (exit 2)
//! never comes after a partial report.

use std::io::Write;
use std::path::{Path, PathBuf};

use vault_format::{CheckReport, ErrorClass, VaultError, check_deep, check_structure};

use crate::cli::CheckArgs;
use crate::exit::{Exit, ToolError, exit_for};
use crate::keys::{EnvLookup, require_unlock_key};
use crate::units;

/// The extension that marks a vault in a folder.
pub const VAULT_EXTENSION: &str = "vault";

pub fn run(args: &CheckArgs, out: &mut dyn Write, env: EnvLookup<'_>) -> Result<Exit, ToolError> {
    let files = vault_files(&args.paths)?;
    let key = if args.read_data {
        Some(require_unlock_key(
            &args.key,
            env,
            "`vault check --read-data`",
        )?)
    } else {
        refuse_unused_key_options(args)?;
        None
    };
    let mut tally = Tally::default();
    let mut checked = Vec::new();
    for file in &files {
        let outcome = match &key {
            Some(key) => check_deep(file, key),
            None => check_structure(file),
        };
        match args.json {
            true => checked.push(json_of(file, &outcome)),
            false => writeln!(out, "{}", line(file, &outcome))?,
        }
        tally.count(&outcome);
    }
    if args.json {
        let report = CheckJson {
            read_data: args.read_data,
            vaults: checked,
            totals: tally.totals(),
        };
        crate::exit::write_json(out, &report)?;
        return Ok(tally.exit());
    }
    let mode = if args.read_data {
        "structure and every chunk decrypted"
    } else {
        "structure only, no key"
    };
    writeln!(out, "{}", tally.summary(mode))?;
    Ok(tally.exit())
}

/// `vault check --json` (docs/json.md).
#[derive(Debug, serde::Serialize)]
struct CheckJson {
    read_data: bool,
    vaults: Vec<VaultJson>,
    totals: Totals,
}

/// One vault's outcome: its figures when intact, its error otherwise.
#[derive(Debug, serde::Serialize)]
struct VaultJson {
    path: String,
    /// `ok`, `damaged`, `wrong-key`, `unsupported` or `error`.
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    streams: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    chunks: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rows: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    plain_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stored_bytes: Option<u64>,
    /// The error's stable code (`damaged`, `not-a-vault`, `wrong-key`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

#[derive(Debug, serde::Serialize)]
struct Totals {
    checked: u64,
    intact: u64,
    damaged: u64,
    wrong_key: u64,
    unreadable: u64,
}

fn json_of(path: &Path, outcome: &Result<CheckReport, VaultError>) -> VaultJson {
    let status = match Status::of(outcome) {
        Status::Intact => "ok",
        Status::Damaged => "damaged",
        Status::WrongKey => "wrong-key",
        Status::Unsupported => "unsupported",
        Status::Unreadable => "error",
    };
    let mut json = VaultJson {
        path: path.display().to_string(),
        status,
        streams: None,
        chunks: None,
        rows: None,
        plain_bytes: None,
        stored_bytes: None,
        code: None,
        message: None,
    };
    match outcome {
        Ok(report) => {
            json.streams = Some(report.streams);
            json.chunks = Some(report.chunks);
            json.rows = Some(report.rows);
            json.plain_bytes = Some(report.plain_bytes);
            json.stored_bytes = Some(report.stored_bytes);
        }
        Err(error) => {
            json.code = Some(error.code());
            json.message = Some(units::printable(&describe(error)));
        }
    }
    json
}

/// A key option without `--read-data` would not be used: say so rather than
/// let the operator believe the data was decrypted. (The environment
/// variables are ignored here: they may be set for other commands.)
fn refuse_unused_key_options(args: &CheckArgs) -> Result<(), ToolError> {
    let given = [
        ("--key-file", args.key.key_file.is_some()),
        ("--passphrase-file", args.key.passphrase_file.is_some()),
    ];
    match given.iter().find(|(_, present)| *present) {
        Some((option, _)) => Err(ToolError::usage(format!(
            "{option} is used only with --read-data"
        ))
        .hint(format!(
            "add --read-data to decrypt every chunk with the key, or drop {option}"
        ))),
        None => Ok(()),
    }
}

/// The vault files named by `paths`: files as given, folders by their
/// `*.vault` files (sorted by name, sub-folders not searched).
pub fn vault_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ToolError> {
    let mut files = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                ToolError::usage(format!("{} does not exist", path.display()))
                    .hint("give vault files or folders that hold them")
            }
            _ => ToolError::failed(format!("cannot read {}: {e}", path.display())),
        })?;
        if meta.is_dir() {
            let found = folder_vaults(path)?;
            if found.is_empty() {
                return Err(ToolError::usage(format!(
                    "{} holds no .{VAULT_EXTENSION} files",
                    path.display()
                ))
                .hint(
                    "check the path; sub-folders are not searched, give them as paths of their own",
                ));
            }
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn folder_vaults(folder: &Path) -> Result<Vec<PathBuf>, ToolError> {
    let unreadable = |e: std::io::Error| {
        ToolError::failed(format!("cannot list the folder {}: {e}", folder.display()))
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(folder).map_err(unreadable)? {
        let path = entry.map_err(unreadable)?.path();
        let is_vault = path.extension().is_some_and(|ext| ext == VAULT_EXTENSION);
        if is_vault && path.is_file() {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

/// One line: status, path, then the figures or the error's code, place and message.
fn line(path: &Path, outcome: &Result<CheckReport, VaultError>) -> String {
    let detail = match outcome {
        Ok(report) => format!(
            "{} streams, {} chunks, {} rows, {} plain, {} stored",
            report.streams,
            report.chunks,
            report.rows,
            units::bytes(report.plain_bytes),
            units::bytes(report.stored_bytes)
        ),
        Err(error) => units::printable(&describe(error)),
    };
    format!(
        "{:<11} {}  {detail}",
        Status::of(outcome).label(),
        path.display()
    )
}

/// What one vault's check came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Intact,
    Damaged,
    WrongKey,
    Unsupported,
    Unreadable,
}

impl Status {
    fn of(outcome: &Result<CheckReport, VaultError>) -> Status {
        match outcome {
            Ok(_) => Status::Intact,
            Err(error) if exit_for(error) == Exit::Problem => Status::Damaged,
            Err(error) => match error.class() {
                ErrorClass::WrongKey => Status::WrongKey,
                ErrorClass::Unsupported => Status::Unsupported,
                _ => Status::Unreadable,
            },
        }
    }

    fn label(self) -> &'static str {
        match self {
            Status::Intact => "ok",
            Status::Damaged => "DAMAGED",
            Status::WrongKey => "WRONG KEY",
            Status::Unsupported => "UNSUPPORTED",
            Status::Unreadable => "ERROR",
        }
    }
}

/// `[code] location: detail` where the error names a place, else `[code] message`.
fn describe(error: &VaultError) -> String {
    let code = error.code();
    match error {
        VaultError::Damaged { location, detail }
        | VaultError::Truncated { location, detail }
        | VaultError::LengthOutOfBounds { location, detail } => {
            format!("[{code}] {location}: {detail}")
        }
        _ => format!("[{code}] {error}"),
    }
}

#[derive(Debug, Default)]
struct Tally {
    intact: u64,
    damaged: u64,
    wrong_key: u64,
    unreadable: u64,
}

impl Tally {
    fn count(&mut self, outcome: &Result<CheckReport, VaultError>) {
        match Status::of(outcome) {
            Status::Intact => self.intact += 1,
            Status::Damaged => self.damaged += 1,
            Status::WrongKey => self.wrong_key += 1,
            Status::Unsupported | Status::Unreadable => self.unreadable += 1,
        }
    }

    fn totals(&self) -> Totals {
        Totals {
            checked: self.intact + self.damaged + self.wrong_key + self.unreadable,
            intact: self.intact,
            damaged: self.damaged,
            wrong_key: self.wrong_key,
            unreadable: self.unreadable,
        }
    }

    fn summary(&self, mode: &str) -> String {
        let checked = self.intact + self.damaged + self.wrong_key + self.unreadable;
        format!(
            "{checked} checked ({mode}): {} intact, {} damaged, {} wrong key, {} could not be read",
            self.intact, self.damaged, self.wrong_key, self.unreadable
        )
    }

    /// Damage outranks everything (3); then a vault that could not be
    /// checked (a wrong key, a refused read, an unsupported version) stops a
    /// clean bill (1); otherwise 0.
    fn exit(&self) -> Exit {
        if self.damaged > 0 {
            Exit::Problem
        } else if self.wrong_key + self.unreadable > 0 {
            Exit::Failed
        } else {
            Exit::Success
        }
    }
}
