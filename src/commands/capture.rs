//! `vault capture`: load the configuration, connect to acceptance, write the vault.

use std::io::Write;

use crate::cli::CaptureArgs;
use crate::config::Config;
use crate::exit::{Exit, ToolError};
use crate::keys::{EnvLookup, require_unlock_key};

pub fn run(args: &CaptureArgs, out: &mut dyn Write, env: EnvLookup<'_>) -> Result<Exit, ToolError> {
    let config = load_config(&args.config)?;
    let key = require_unlock_key(&args.key, env, "capture")?;
    let url = config
        .acceptance_url(&text_env(env))
        .map_err(config_error)?;
    let runtime = crate::runtime()?;
    let mut progress = std::io::stderr();
    let summary = runtime.block_on(async {
        let mut db = crate::db::any::connect(&url).await?;
        crate::capture::capture(&mut db, &config, &args.out, &key, &mut progress).await
    })?;
    let rows: u64 = summary.tables.iter().map(|t| t.rows).sum();
    let bytes: u64 = summary.tables.iter().map(|t| t.bytes).sum();
    writeln!(
        out,
        "captured {} tables, {rows} rows, {} from {} into {} in {:.1}s",
        summary.tables.len(),
        crate::units::bytes(bytes),
        summary.source,
        summary.vault,
        summary.seconds
    )?;
    Ok(Exit::Success)
}

/// Reads and validates vault.toml; a problem is exit 2.
pub(crate) fn load_config(path: &std::path::Path) -> Result<Config, ToolError> {
    Config::load(path).map_err(config_error)
}

pub(crate) fn config_error(error: crate::config::ConfigError) -> ToolError {
    ToolError::usage(format!("configuration: {error}"))
        .hint("correct the configuration; nothing was changed")
}

/// The environment as text, for `url_env` look-ups.
pub(crate) fn text_env(env: EnvLookup<'_>) -> impl Fn(&str) -> Option<String> + '_ {
    move |name| env(name).and_then(|v| v.into_string().ok())
}
