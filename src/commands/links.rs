//! `vault links`: list every link of acceptance, say which point at production or differ from what acceptance had.

use std::io::Write;

use crate::cli::LinksArgs;
use crate::commands::config_file::{config_error, load_config, text_env};
use crate::exit::{Exit, ToolError};
use crate::keys::{EnvLookup, require_unlock_key};
use crate::links::{LinksSummary, Verdict};

pub fn run(args: &LinksArgs, out: &mut dyn Write, env: EnvLookup<'_>) -> Result<Exit, ToolError> {
    let config = load_config(&args.config)?;
    let env_text = text_env(env);
    let url = config.acceptance_url(&env_text).map_err(config_error)?;
    let production = config.production_url(&env_text).map_err(config_error)?;
    let vault = match &args.vault {
        Some(path) => {
            super::require_file(path)?;
            let key = require_unlock_key(&args.key, env, "`vault links --vault`")?;
            Some(vault_format::Vault::open(path)?.unlock(&key)?)
        }
        None if args.key.key_file.is_some() || args.key.passphrase_file.is_some() => {
            return Err(ToolError::usage("a key is used only with --vault")
                .hint("give --vault FILE.vault to compare with acceptance's definitions, or leave the key out"));
        }
        None => None,
    };
    let runtime = crate::runtime::current_thread()?;
    let summary = runtime.block_on(async {
        let db = crate::db::any::connect(&url).await?;
        crate::db::any::closing(db, async |db| {
            crate::links::links(db, &config, production.as_ref(), vault.as_ref()).await
        })
        .await
    })?;
    match args.json {
        true => crate::exit::write_json(out, &summary)?,
        false => print(&summary, out)?,
    }
    Ok(summary.exit())
}

/// The readable table: one line per link, then why and what to do for each finding.
pub fn print(summary: &LinksSummary, out: &mut dyn Write) -> std::io::Result<()> {
    if let Some(none) = &summary.no_link_objects {
        writeln!(out, "{}: {none}", summary.database)?;
        return Ok(());
    }
    let compared = if summary.compared_with_vault {
        " (compared with the vault's acceptance definitions)"
    } else {
        ""
    };
    writeln!(out, "links in {}{compared}", summary.database)?;
    for note in &summary.notes {
        writeln!(out, "note: {note}")?;
    }
    if summary.links.is_empty() {
        writeln!(
            out,
            "no links: no foreign servers, user mappings or subscriptions, and no connection strings in views, functions or procedures"
        )?;
        return Ok(());
    }
    writeln!(
        out,
        "  {:<10}  {:<17}  {:<40}  POINTS TO",
        "VERDICT", "KIND", "OBJECT"
    )?;
    for link in &summary.links {
        let points_to = link
            .points_to
            .as_ref()
            .map_or("(could not be read)".to_owned(), |e| e.to_string());
        writeln!(
            out,
            "  {:<10}  {:<17}  {:<40}  {}",
            link.verdict.label(),
            link.kind.label(),
            crate::units::printable(&link.object),
            crate::units::printable(&points_to)
        )?;
        if link.verdict == Verdict::Ok {
            continue;
        }
        writeln!(out, "      found in:   {}", link.where_found)?;
        if let Some(why) = &link.why {
            writeln!(out, "      why:        {}", crate::units::printable(why))?;
        }
        if let Some(todo) = &link.what_to_do {
            writeln!(out, "      what to do: {todo}")?;
        }
    }
    writeln!(
        out,
        "{} links: {} to production, {} differ from acceptance, {} unchecked, {} ok",
        summary.links.len(),
        summary.production,
        summary.differs,
        summary.unchecked,
        summary.ok
    )?;
    Ok(())
}
