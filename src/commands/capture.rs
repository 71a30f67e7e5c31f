//! `vault capture`: load the configuration, connect to acceptance, write the vault.

use std::io::{IsTerminal, Write};

use crate::cli::CaptureArgs;
use crate::commands::config_file::load_config;
use crate::exit::{Exit, ToolError};
use crate::keys::{EnvLookup, require_unlock_key};

pub fn run(args: &CaptureArgs, out: &mut dyn Write, env: EnvLookup<'_>) -> Result<Exit, ToolError> {
    let config = load_config(&args.config)?;
    require_free_out(&args.out)?;
    let key = require_unlock_key(&args.key, env, "capture")?;
    // A vault of production's data under acceptance's name is the wrong
    // vault: capture refuses production as the writing commands do.
    let (url, production) = super::guarded::guarded_urls(&config, env, out)?;
    let runtime = crate::runtime::current_thread()?;
    // On a terminal, live bars show each table; the finished-table lines
    // would repeat them, so they go nowhere.
    let live_bars = std::io::stderr().is_terminal();
    let mut progress = std::io::sink();
    let summary = runtime.block_on(async {
        let db = super::guarded::connect_acceptance(
            &url,
            production.as_ref(),
            super::guarded::Access::Reads,
            out,
        )
        .await?;
        crate::db::any::closing(db, async |db| {
            crate::capture::capture(db, &config, &args.out, &key, &mut progress, live_bars).await
        })
        .await
    })?;
    for table in &summary.tables {
        writeln!(
            out,
            "  {:<32} {:>10} rows {:>10}",
            table.table,
            table.rows,
            crate::units::bytes(table.bytes)
        )?;
    }
    for extra in &summary.extras {
        writeln!(out, "  {extra}")?;
    }
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

/// `--out` must name a new file in an existing folder: checked before any
/// connection, and said with the operator's path (the vault is written under
/// a temporary name beside it, which is not theirs to know).
fn require_free_out(out: &std::path::Path) -> Result<(), ToolError> {
    if out.symlink_metadata().is_ok() {
        return Err(ToolError::usage(format!(
            "{} already exists; refusing to overwrite it",
            out.display()
        ))
        .hint("give --out a new file name; a vault is never overwritten"));
    }
    let folder = match out.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => std::path::Path::new("."),
    };
    if !folder.is_dir() {
        return Err(ToolError::usage(format!(
            "the folder of --out {} does not exist",
            out.display()
        ))
        .hint(format!(
            "create {} first, or give --out a path in an existing folder; nothing was read",
            folder.display()
        )));
    }
    Ok(())
}

/// Where per-table progress goes while a command runs: a status line on
/// stderr on a terminal (each line replaces the last and the last is erased,
/// since the report on stdout lists them all), nowhere otherwise (logs get
/// the report on stdout at the end, and a failed run's stderr holds only its
/// error).
pub(crate) fn progress() -> Box<dyn Write> {
    if std::io::stderr().is_terminal() {
        Box::new(crate::progress::StatusLine::new(std::io::stderr()))
    } else {
        Box::new(std::io::sink())
    }
}
