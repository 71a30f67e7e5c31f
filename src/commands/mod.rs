//! One module per subcommand: each turns parsed arguments into calls to the
//! vault-format library and prints the outcome.

use std::io::Write;
use std::path::Path;

use crate::cli::{Command, KeyCommand, QuarantineCommand, ReportCommand};
use crate::exit::{Exit, ToolError};
use crate::keys::EnvLookup;

pub mod capture;
pub mod check;
pub mod compare;
pub mod config_file;
pub mod guarded;
pub mod health;
pub mod init;
pub mod inspect;
pub mod key;
pub mod keygen;
pub mod links;
pub mod quarantine;
pub mod report;
pub mod restore;
pub mod sanitize;
pub mod shell;

/// Runs one command, writing its report to `out`. `Ok` carries the exit
/// status of a command that ran to the end (a check that found damage ends
/// with [`Exit::Problem`]); `Err` is an error that stopped it.
pub fn run(command: Command, out: &mut dyn Write, env: EnvLookup<'_>) -> Result<Exit, ToolError> {
    match command {
        Command::Keygen(args) => keygen::run(&args, out),
        Command::Inspect(args) => inspect::run(&args, out),
        Command::Check(args) => check::run(&args, out, env),
        Command::Key(KeyCommand::Add(args)) => key::add(&args, out, env),
        Command::Key(KeyCommand::Remove(args)) => key::remove(&args, out, env),
        Command::Init(args) => init::run(&args, out, env),
        Command::Capture(args) => capture::run(&args, out, env),
        Command::Restore(args) => restore::run(&args, out, env),
        Command::Report(ReportCommand::Verify(args)) => report::verify(&args, out, env),
        Command::Sanitize(args) => sanitize::run(&args, out, env),
        Command::Links(args) => links::run(&args, out, env),
        Command::Health(args) => health::run(&args, out, env),
        Command::Compare(args) => compare::run(&args, out, env),
        Command::Demo(args) => crate::demo::run(&args, out),
        Command::Quarantine(QuarantineCommand::Open(args)) => quarantine::open(&args, out, env),
        Command::Completions(args) => shell::completions(&args, out),
        Command::Man(args) => shell::man(&args, out),
    }
}

/// A path the user named as a vault file must exist and be a file (exit 2 otherwise).
pub(crate) fn require_file(path: &Path) -> Result<(), ToolError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(()),
        Ok(_) => Err(
            ToolError::usage(format!("{} is not a file", path.display()))
                .hint("give the path of a vault file"),
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(ToolError::usage(format!(
            "{} does not exist",
            path.display()
        ))
        .hint("check the path")),
        Err(e) => Err(ToolError::failed(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}
