//! Reaching acceptance for a command that writes to it or captures it: refused before connecting when its URL leads to production, and after connecting when it reached production's server instance.

use std::io::Write;

use crate::commands::config_file::{config_error, text_env};
use crate::config::{Config, DatabaseUrl, EngineKind};
use crate::db::any::AnyEngine;
use crate::exit::{Exit, ToolError};
use crate::guard::ServerInstance;
use crate::keys::EnvLookup;

/// The acceptance and production URLs of the configuration, read from the
/// environment where it names them, and checked by [`refuse_production_urls`]
/// before any connection.
pub fn guarded_urls(
    config: &Config,
    env: EnvLookup<'_>,
    out: &mut dyn Write,
) -> Result<(DatabaseUrl, Option<DatabaseUrl>), ToolError> {
    let env_text = text_env(env);
    let url = config.acceptance_url(&env_text).map_err(config_error)?;
    let production = config.production_url(&env_text).map_err(config_error)?;
    refuse_production_urls(config, &url, production.as_ref(), out)?;
    Ok((url, production))
}

/// Where the URLs lead, checked before any connection: exit 4 when
/// acceptance is production. Without a production URL, a note says what
/// the guard then cannot do.
pub fn refuse_production_urls(
    config: &Config,
    url: &DatabaseUrl,
    production: Option<&DatabaseUrl>,
    out: &mut dyn Write,
) -> Result<(), ToolError> {
    let target = crate::db::any::destination(url)?;
    let production = production
        .map(|p| crate::db::any::destination(p).map(|d| (p, d)))
        .transpose()?;
    crate::guard::refuse_production(
        config,
        url,
        &target,
        production.as_ref().map(|(url, d)| (*url, d)),
    )?;
    if let Some(note) = crate::guard::without_production_note(config) {
        writeln!(out, "{note}")?;
    }
    Ok(())
}

/// What the command does to acceptance.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// It writes: production must be reached and told apart, or nothing runs.
    Writes,
    /// It reads (a capture): a production that cannot be reached leaves the
    /// URL comparison alone, and a note says so.
    Reads,
}

/// Connects to acceptance; with a production URL, also to production (to
/// read only its instance) and refuses when both reached one server
/// instance and database, whatever the URLs say. A SQLite file was already
/// compared by device and inode before connecting.
pub async fn connect_acceptance(
    url: &DatabaseUrl,
    production: Option<&DatabaseUrl>,
    access: Access,
    out: &mut dyn Write,
) -> Result<AnyEngine, ToolError> {
    let mut db = crate::db::any::connect(url).await?;
    let Some(production_url) = production.filter(|p| p.engine() != EngineKind::Sqlite) else {
        return Ok(db);
    };
    let target = db.instance().await?;
    let mut production_db = match crate::db::any::connect(production_url).await {
        Ok(production_db) => production_db,
        Err(e) if access == Access::Reads => {
            writeln!(
                out,
                "note: production ({production_url}) could not be reached ({}); the guard compared the URLs only",
                e.message
            )?;
            return Ok(db);
        }
        Err(e) => {
            return Err(ToolError::new(
                Exit::Refused,
                format!(
                    "cannot reach production to prove that acceptance is not production: {}",
                    e.message
                ),
            )
            .hint("vault compares the server it reached with production's before it writes; make the [production] URL reachable, or remove it to rely on [production].hosts alone"));
        }
    };
    let production = production_db.instance().await;
    production_db.close().await;
    match production
        .and_then(|p| crate::guard::refuse_production_instance(url, &target, production_url, &p))
    {
        Ok(()) => Ok(db),
        Err(error) => {
            db.close().await;
            Err(error)
        }
    }
}
