//! vault: keep what an acceptance database owns across a refresh from production.
//!
//! The binary (`src/main.rs`) parses the command line with [`cli`] and hands
//! it to [`run`]; each subcommand lives in [`commands`] and calls the
//! `vault-format` library for everything that touches a vault file. Errors
//! are [`exit::ToolError`]s that carry their exit code and a hint.

pub mod capture;
pub mod cli;
pub mod commands;
pub mod compare;
pub mod config;
pub mod db;
pub mod demo;
pub mod engine;
pub mod env_vars;
pub mod exit;
pub mod extras;
pub mod fragment;
pub mod guard;
pub mod health;
pub mod hooks;
pub mod init;
pub mod interrupt;
pub mod jobs;
pub mod keys;
pub mod leak_scan;
pub mod links;
pub mod names;
pub mod objects;
pub mod personal_data;
pub mod private_file;
pub mod progress;
pub mod pseudonym;
pub mod quarantine;
pub mod redact;
pub mod report;
pub mod restore;
pub mod roles;
pub mod rowcodec;
pub mod runtime;
pub mod sanitize;
pub mod units;
pub mod workflow;

use std::io::Write;

use exit::{Exit, ToolError};

/// Runs a parsed command line, writing its report to `out` and reading key
/// material from the process environment.
pub fn run(cli: cli::Cli, out: &mut dyn Write) -> Result<Exit, ToolError> {
    commands::run(cli.command, out, &keys::process_env)
}
