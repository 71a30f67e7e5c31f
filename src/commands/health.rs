//! `vault health`: check acceptance for invalid objects; with `--fix` repair what can be repaired (never on production).

use std::io::Write;

use crate::cli::HealthArgs;
use crate::commands::config_file::{config_error, load_config, text_env};
use crate::exit::{Exit, ToolError};
use crate::health::{Finding, HealthSummary};
use crate::keys::{EnvLookup, unlock_key};

pub fn run(args: &HealthArgs, out: &mut dyn Write, env: EnvLookup<'_>) -> Result<Exit, ToolError> {
    let config = load_config(&args.config)?;
    let env_text = text_env(env);
    let url = config.acceptance_url(&env_text).map_err(config_error)?;
    // Only a repair writes: then production is refused.
    let production = match args.fix {
        true => config.production_url(&env_text).map_err(config_error)?,
        false => None,
    };
    // With --json, stdout holds the JSON alone: notes go to stderr.
    let mut stderr = std::io::stderr();
    let notes: &mut dyn Write = if args.json { &mut stderr } else { &mut *out };
    if args.fix {
        super::guarded::refuse_production_urls(&config, &url, production.as_ref(), notes)?;
    }
    // With the vault's key, acceptance's recorded jobs are known.
    let unlocked = match (&args.vault, unlock_key(&args.key, env)?) {
        (Some(path), Some(key)) => Some(vault_format::Vault::open(path)?.unlock(&key)?),
        (None, Some(_)) if args.key.key_file.is_some() || args.key.passphrase_file.is_some() => {
            return Err(ToolError::usage("a key is used only with --vault").hint(
                "give --vault FILE.vault to leave acceptance's recorded jobs alone, or leave the key out",
            ));
        }
        _ => None,
    };
    let summary = crate::runtime::current_thread()?.block_on(async {
        let db = super::guarded::connect_acceptance(
            &url,
            production.as_ref(),
            super::guarded::Access::Writes,
            notes,
        )
        .await?;
        crate::db::any::closing(db, async |db| {
            if let Some(vault) = &args.vault {
                crate::engine::Engine::keep_recovery_in(db, vault);
            }
            crate::engine::Engine::declare_large_objects(db, &config);
            let own = match &unlocked {
                Some(vault) => crate::jobs::own_jobs(db, vault).await?,
                None => Vec::new(),
            };
            // With --fix and the vault, privileges the restore could not
            // give back (their object was missing then) are given back now.
            if let (true, Some(vault)) = (args.fix, &unlocked) {
                for line in crate::engine::Engine::reapply_grants(db, vault).await? {
                    writeln!(notes, "{line}")?;
                }
            }
            crate::health::health_keeping(db, args.fix, &own).await
        })
        .await
    })?;
    match args.json {
        true => crate::exit::write_json(out, &summary)?,
        false => print(&summary, out)?,
    }
    Ok(summary.exit())
}

fn state(finding: &Finding, fix: bool) -> &'static str {
    if finding.repaired {
        "repaired"
    } else if !finding.kind.is_problem() {
        "listed"
    } else if fix {
        "REMAINS"
    } else {
        "found"
    }
}

/// One line per finding (state, kind, object), its detail and what to do beneath.
pub fn print(summary: &HealthSummary, out: &mut dyn Write) -> std::io::Result<()> {
    let mode = if summary.fix {
        "checked, repaired what can be, checked again"
    } else {
        "checked only; nothing was changed"
    };
    writeln!(out, "health of {} ({mode})", summary.target)?;
    if !summary.findings.is_empty() {
        writeln!(out, "  {:<9} {:<30} OBJECT", "STATE", "KIND")?;
    }
    for finding in &summary.findings {
        writeln!(
            out,
            "  {:<9} {:<30} {}",
            state(finding, summary.fix),
            finding.kind.name(),
            finding.object
        )?;
        writeln!(out, "            {}", finding.detail)?;
        writeln!(out, "            found by: {}", finding.method)?;
        match (&finding.repair, finding.repaired) {
            (Some(statement), true) => writeln!(out, "            repaired with: {statement}")?,
            _ if !finding.what_to_do.is_empty() => {
                writeln!(out, "            what to do: {}", finding.what_to_do)?
            }
            _ => {}
        }
    }
    for note in &summary.notes {
        writeln!(out, "note: {note}")?;
    }
    let remaining = summary.remaining();
    let listed = summary
        .findings
        .iter()
        .filter(|f| !f.kind.is_problem())
        .count();
    let problems = summary.findings.len() - listed;
    if problems == 0 {
        writeln!(out, "no problem found")?;
    } else if summary.fix {
        writeln!(
            out,
            "{problems} problems found: {} repaired, {remaining} remain",
            summary.repaired()
        )?;
    } else {
        writeln!(
            out,
            "{problems} problems found; `vault health --fix` repairs those that say how"
        )?;
    }
    match summary.disabled_jobs() {
        0 if listed > 0 => writeln!(out, "{listed} scheduled jobs listed for review")?,
        0 => {}
        disabled => writeln!(
            out,
            "{listed} scheduled jobs listed for review, {disabled} of them disabled by --fix"
        )?,
    }
    Ok(())
}
