//! Exit codes, and the tool's error: what went wrong, what to do next, and the code the shell sees.
//!
//! `docs/exit-codes.md` documents each code; keep the two in step.

use vault_format::{ErrorClass, VaultError};

/// How a run ends, as the shell sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: the command did what it was asked.
    Success,
    /// 1: an error stopped the run (a wrong key, a file the system refused, an
    /// unsupported vault version, a database that cannot be opened or that
    /// rejected a restored row).
    Failed,
    /// 2: bad usage or configuration (a missing argument or key, two key
    /// sources, a path that does not exist, a file that would be overwritten,
    /// a vault.toml that fails validation, schema drift).
    Usage,
    /// 3: a check found a problem: a vault is damaged, truncated, incomplete
    /// or tampered with; rows are left after a sanitize.
    Problem,
    /// 4: refused by a safety guard (a restore into production or into another
    /// database than the vault's source, removing the last key slot, or the
    /// slot that the only key given opens).
    Refused,
    /// 130: stopped by SIGINT or SIGTERM, at a safe point (docs/exit-codes.md).
    Interrupted,
    /// 141: the reader of the output went away (`vault inspect ... | head`):
    /// the run stops quietly, with the code a shell gives a command that
    /// SIGPIPE ended (128 + 13), so that `set -o pipefail` still sees that
    /// the output was cut short.
    BrokenPipe,
}

impl Exit {
    /// The numeric exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::Problem => 3,
            Exit::Refused => 4,
            Exit::Interrupted => 130,
            Exit::BrokenPipe => 141,
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}

/// An error that stops a command: the exit class, one message saying what is
/// wrong, and optionally a hint saying what to do.
///
/// Messages never hold a passphrase or key bytes: they are built from paths,
/// slot numbers, fingerprints and the library's errors, which hold none.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ToolError {
    pub class: Exit,
    pub message: String,
    pub hint: Option<String>,
}

impl ToolError {
    pub fn new(class: Exit, message: impl Into<String>) -> Self {
        ToolError {
            class,
            message: message.into(),
            hint: None,
        }
    }

    /// Bad usage or configuration (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        ToolError::new(Exit::Usage, message)
    }

    /// An error that stopped the run (exit 1).
    pub fn failed(message: impl Into<String>) -> Self {
        ToolError::new(Exit::Failed, message)
    }

    /// Adds what the operator should do next.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// The exit class of a vault-format error.
///
/// A wrong key is exit 1, not 3: the vault may be intact, the key given is
/// not one of its keys. A refusal to remove a key slot is a safety guard (4).
pub fn exit_for(error: &VaultError) -> Exit {
    match error {
        VaultError::Usage { .. } => Exit::Failed,
        _ => match error.class() {
            ErrorClass::Damaged => Exit::Problem,
            ErrorClass::WrongKey | ErrorClass::Unsupported | ErrorClass::Io => Exit::Failed,
            ErrorClass::Usage => Exit::Usage,
            ErrorClass::Refused => Exit::Refused,
        },
    }
}

impl From<VaultError> for ToolError {
    fn from(error: VaultError) -> Self {
        // Messages may quote stream names from an untrusted file.
        let message = crate::units::printable(&error.to_string());
        ToolError::new(exit_for(&error), message).hint(error.hint())
    }
}

/// Output that cannot be written (a closed pipe, a full disk) stops the run;
/// a closed pipe stops it quietly ([`Exit::BrokenPipe`]).
impl From<std::io::Error> for ToolError {
    fn from(error: std::io::Error) -> Self {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            return ToolError::new(Exit::BrokenPipe, "the output was closed by its reader");
        }
        ToolError::failed(format!("cannot write the output: {error}"))
    }
}

/// Writes `value` as pretty JSON and a newline to `out`: the `--json` output of a command.
pub fn write_json<T: serde::Serialize + ?Sized>(
    out: &mut dyn std::io::Write,
    value: &T,
) -> Result<(), ToolError> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(|e| match e.io_error_kind() {
        Some(kind) => ToolError::from(std::io::Error::from(kind)),
        None => ToolError::failed(format!("cannot write the JSON: {e}")),
    })?;
    writeln!(out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use vault_format::Location;

    #[test]
    fn vault_errors_map_to_documented_codes() {
        let damaged = VaultError::Damaged {
            location: Location::Manifest,
            detail: "x".into(),
        };
        assert_eq!(exit_for(&damaged).code(), 3);
        assert_eq!(exit_for(&VaultError::Incomplete).code(), 3);
        assert_eq!(exit_for(&VaultError::HeaderTampered).code(), 3);
        let wrong = VaultError::WrongKey { detail: "x".into() };
        assert_eq!(exit_for(&wrong).code(), 1);
        let last = VaultError::SlotRemovalRefused {
            slot: 1,
            reason: "x".into(),
        };
        assert_eq!(exit_for(&last).code(), 4);
        assert_eq!(exit_for(&VaultError::SlotNotFound { slot: 9 }).code(), 2);
        let exists = VaultError::AlreadyExists { path: "k".into() };
        assert_eq!(exit_for(&exists).code(), 2);
        let unsupported = VaultError::UnsupportedVersion {
            found: 2,
            supported: 1,
        };
        assert_eq!(exit_for(&unsupported).code(), 1);
    }
}
