//! `vault completions` and `vault man`: the shell completion scripts and manual pages, generated from the clap definitions.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::exit::{Exit, ToolError};

/// Prints the completion script of one shell.
pub fn completions(args: &CompletionsArgs, out: &mut dyn Write) -> Result<Exit, ToolError> {
    let mut command = Cli::command();
    clap_complete::generate(args.shell, &mut command, "vault", out);
    out.flush()?;
    Ok(Exit::Success)
}

/// Prints vault(1), or writes every command's page into `--dir`.
pub fn man(args: &ManArgs, out: &mut dyn Write) -> Result<Exit, ToolError> {
    let command = Cli::command();
    match &args.dir {
        None => {
            clap_mangen::Man::new(command).render(out)?;
            Ok(Exit::Success)
        }
        Some(dir) => {
            if !dir.is_dir() {
                return Err(
                    ToolError::usage(format!("{} is not a folder", dir.display()))
                        .hint("create the folder first, for example /usr/local/share/man/man1"),
                );
            }
            clap_mangen::generate_to(command, dir).map_err(|e| {
                ToolError::failed(format!(
                    "cannot write the manual pages into {}: {e}",
                    dir.display()
                ))
            })?;
            writeln!(out, "wrote the manual pages into {}", dir.display())?;
            Ok(Exit::Success)
        }
    }
}
