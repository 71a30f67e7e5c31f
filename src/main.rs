//! The `vault` binary: parse, run, print `error:` and `hint:` lines, exit with the documented code.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = vault::cli::Cli::parse();
    if let Err(error) = vault::interrupt::install() {
        eprintln!("error: {}", error.message);
        return error.class.into();
    }
    let mut stdout = std::io::stdout().lock();
    let result = vault::run(cli, &mut stdout);
    let _ = stdout.flush();
    match result {
        Ok(exit) => exit.into(),
        // `vault inspect ... | head`: the reader has what it wanted.
        Err(error) if error.class == vault::exit::Exit::BrokenPipe => error.class.into(),
        Err(error) => {
            eprintln!("error: {}", error.message);
            if let Some(hint) = &error.hint {
                eprintln!("hint: {hint}");
            }
            error.class.into()
        }
    }
}
