//! `vault quarantine open`: let the quarantined roles or accounts into acceptance again, after a run that left it closed (never on production).

use std::io::Write;

use crate::cli::QuarantineOpenArgs;
use crate::commands::config_file::load_config;
use crate::exit::{Exit, ToolError};
use crate::keys::EnvLookup;
use crate::quarantine::Quarantine;

pub fn open(
    args: &QuarantineOpenArgs,
    out: &mut dyn Write,
    env: EnvLookup<'_>,
) -> Result<Exit, ToolError> {
    let config = load_config(&args.config)?;
    let (url, production) = super::guarded::guarded_urls(&config, env, out)?;
    // By hand, every quarantined account that is locked is unlocked
    // (PostgreSQL gives back what its record in the database says).
    let roles = config.quarantine_roles();
    let opened = crate::runtime::current_thread()?.block_on(async {
        let db = super::guarded::connect_acceptance(
            &url,
            production.as_ref(),
            super::guarded::Access::Writes,
            out,
        )
        .await?;
        crate::db::any::closing(db, async |db| db.open_quarantine(&roles).await).await
    })?;
    if opened.is_empty() {
        writeln!(out, "{url} was not quarantined: nothing to open")?;
    }
    for line in &opened {
        writeln!(out, "  {line}")?;
    }
    if !opened.is_empty() {
        writeln!(out, "quarantine opened: {url}")?;
    }
    Ok(Exit::Success)
}
