//! `vault restore`: check the vault, guard the target, restore in one transaction.

use std::io::Write;

use crate::cli::RestoreArgs;
use crate::commands::capture::progress;
use crate::commands::config_file::load_config;
use crate::engine::Engine;
use crate::exit::{Exit, ToolError};
use crate::keys::{EnvLookup, require_unlock_key};
use crate::report::resume::Resume;
use crate::workflow::Step;

/// Step names joined with commas, or `none`.
fn names(steps: &[Step]) -> String {
    if steps.is_empty() {
        return "none".into();
    }
    steps
        .iter()
        .map(|s| s.name())
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn run(args: &RestoreArgs, out: &mut dyn Write, env: EnvLookup<'_>) -> Result<Exit, ToolError> {
    super::require_file(&args.vault)?;
    let config = load_config(&args.config)?;
    // Before anything connects: a bad key file changes nothing.
    let pseudonym_key = crate::sanitize::pseudonym_key(&config)?;
    let key = require_unlock_key(&args.key, env, "restore")?;
    // With --json, stdout holds the JSON alone: notes go to stderr.
    let mut stderr = std::io::stderr();
    let notes: &mut dyn Write = if args.json { &mut stderr } else { &mut *out };
    let (url, production) = super::guarded::guarded_urls(&config, env, notes)?;
    if args.dry_run {
        // A real restore authenticates every chunk as it loads it (and rolls
        // back on damage); a dry run reads no rows, so it checks them here.
        vault_format::check_structure(&args.vault)?;
    }
    let vault = vault_format::Vault::open(&args.vault)?.unlock(&key)?;
    let captured = crate::restore::captured_tables(&vault)?;
    if !args.vault_scope {
        crate::restore::check_scope(&captured, &config)?;
    }
    let vault_sha256 = crate::report::file_sha256(&args.vault)?;
    let resume = args
        .resume
        .as_deref()
        .map(|dir| Resume::load(dir, &vault, &vault_sha256, args.dry_run))
        .transpose()?;
    let steps = match &args.steps {
        _ if resume.is_some() => resume
            .as_ref()
            .map(|r| r.remaining.clone())
            .unwrap_or_default(),
        Some(text) => crate::workflow::parse_steps(text).map_err(|message| {
            ToolError::usage(format!("--steps: {message}"))
                .hint("name steps from: restore, sanitize, verify, health, links, compare")
        })?,
        None => crate::workflow::Step::DEFAULT.to_vec(),
    };
    let report_dir = match &args.report_dir {
        Some(dir) => {
            crate::report::require_free(dir)?;
            dir.clone()
        }
        None => crate::report::default_dir(&args.vault),
    };
    crate::report::prepare_folder(&report_dir)?;
    let started = crate::report::now();
    let runtime = crate::runtime::current_thread()?;
    let mut progress = progress();
    let mut target_identity = String::new();
    let mut target_instance = Vec::new();
    let (summary, failure) = runtime
        .block_on(async {
            let db = super::guarded::connect_acceptance(
                &url,
                production.as_ref(),
                super::guarded::Access::Writes,
                notes,
            )
            .await?;
            crate::db::any::closing(db, async |db| {
                crate::engine::Engine::declare_large_objects(db, &config);
                let target = db.identity().await?;
                target_identity = target.to_string();
                let instance = crate::guard::ServerInstance::instance(db).await?;
                let recorded = crate::guard::record::read_record(&vault)?;
                target_instance = crate::guard::record::describe(recorded.as_ref(), &instance);
                for change in target_instance
                    .iter()
                    .filter(|l| l.starts_with("changed: "))
                {
                    writeln!(notes, "note: acceptance's server {change}")?;
                }
                if let Some(resume) = &resume {
                    resume.require_target(&target_identity)?;
                    writeln!(
                        notes,
                        "resuming the failed run of {}: {} done then, running {}",
                        resume.dir.display(),
                        names(&resume.done),
                        names(&resume.remaining)
                    )?;
                }
                if let Some((first, _)) = captured.first() {
                    crate::guard::require_same_database(
                        &first.source,
                        &target,
                        args.target_differs,
                    )?;
                }
                if !args.dry_run {
                    // What a killed or failed restore of this vault left undone.
                    for line in db.recover_from(&args.vault).await? {
                        writeln!(notes, "{line}")?;
                    }
                    db.keep_recovery_in(&args.vault);
                }
                let run = crate::workflow::Run {
                    vault: &vault,
                    config: &config,
                    target: &target,
                    production: production.as_ref(),
                    steps: &steps,
                    dry_run: args.dry_run,
                    config_path: &args.config,
                    pseudonym_key: pseudonym_key.as_ref(),
                };
                Ok::<_, ToolError>(crate::workflow::run(db, &run, &mut progress).await)
            })
            .await
        })
        .inspect_err(|_| {
            // Stopped before the pipeline ran: no report, so no empty folder.
            let _ = std::fs::remove_dir(&report_dir);
        })?;
    // The status line is erased before the summary lists every table once.
    drop(progress);
    let mut report = crate::report::Report::new(
        crate::report::RunInfo {
            vault_path: std::fs::canonicalize(&args.vault).unwrap_or_else(|_| args.vault.clone()),
            vault_sha256,
            header: vault.vault().header().clone(),
            target_identity,
            target_url: url.redacted().to_owned(),
            target_instance,
            operator: crate::report::operator(env),
            started,
            finished: crate::report::now(),
            dry_run: args.dry_run,
            steps_asked: match &resume {
                Some(resume) => resume
                    .done
                    .iter()
                    .chain(&resume.remaining)
                    .copied()
                    .collect(),
                None => steps.clone(),
            },
        },
        &summary,
        failure.as_ref(),
    )?;
    if let Some(resume) = &resume {
        report.carry_over(&resume.earlier, &resume.done, &resume.dir);
    }
    let step_lines = report.steps.clone();
    let for_json = args.json.then(|| report.clone());
    let report_written = report.write(&report_dir, &crate::report::ReportKeys::of(&vault));
    if let Some(report) = &for_json {
        let written = report_written.as_ref().ok().map(|()| report_dir.as_path());
        write_json(out, report, written)?;
    } else {
        print_summary(out, &summary, &step_lines)?;
        match &report_written {
            Ok(()) => writeln!(out, "report: {}", report_dir.display())?,
            Err(error) if failure.is_some() => {
                writeln!(out, "the report could not be written: {error}")?
            }
            Err(_) => {}
        }
    }
    if let Some(mut error) = failure {
        let done: Vec<&str> = step_lines
            .iter()
            .filter(|s| {
                matches!(
                    s.outcome,
                    crate::workflow::Outcome::Ok | crate::workflow::Outcome::Findings
                )
            })
            .map(|s| s.step.as_str())
            .collect();
        if !args.dry_run && report_written.is_ok() {
            let committed = match done.is_empty() {
                true => "no step was committed".to_owned(),
                false => format!("committed: {}", done.join(", ")),
            };
            let go_on = format!(
                "{committed}; after fixing the cause, go on with the same key: vault restore {} --config {} --resume {}",
                args.vault.display(),
                args.config.display(),
                report_dir.display()
            );
            error.hint = Some(match error.hint.take() {
                Some(hint) => format!("{hint}; {go_on}"),
                None => go_on,
            });
        }
        return Err(error);
    }
    report_written?;
    Ok(summary.exit())
}

/// Each step's table, then the summary of the steps.
fn print_summary(
    out: &mut dyn Write,
    summary: &crate::workflow::PipelineSummary,
    step_lines: &[crate::report::StepLine],
) -> Result<(), ToolError> {
    if let Some(restored) = &summary.restore {
        print_restore(out, restored)?;
    }
    if let Some(sanitized) = &summary.sanitize {
        writeln!(out)?;
        crate::commands::sanitize::print(out, sanitized, summary.verify.as_ref())?;
    }
    if let Some(scanned) = &summary.leak_scan {
        crate::commands::sanitize::print_leak_scan(out, scanned)?;
    }
    if let Some(covered) = &summary.coverage
        && covered.personal > 0
    {
        writeln!(out, "{}", covered.line())?;
    }
    if let Some(health) = &summary.health {
        writeln!(out)?;
        crate::commands::health::print(health, out)?;
    }
    if let Some(links) = &summary.links {
        writeln!(out)?;
        crate::commands::links::print(links, out)?;
    }
    if let Some(compare) = &summary.compare {
        writeln!(out)?;
        crate::commands::compare::print(compare, out)?;
    }
    if let Some(quarantine) = &summary.quarantine {
        writeln!(out)?;
        writeln!(out, "quarantine: {}", quarantine.line())?;
    }
    if let Some(jobs) = &summary.jobs {
        writeln!(out, "jobs: {}", jobs.line())?;
    }
    for hook in &summary.hooks {
        writeln!(out, "{}", hook.line())?;
    }
    writeln!(out)?;
    writeln!(out, "steps:")?;
    for step in step_lines {
        let outcome = match step.outcome {
            crate::workflow::Outcome::Ok => "ok",
            crate::workflow::Outcome::Findings => "FINDINGS",
            crate::workflow::Outcome::Failed => "FAILED",
            crate::workflow::Outcome::Skipped => "skipped",
        };
        writeln!(out, "  {:<9} {:<9} {}", step.step, outcome, step.figures)?;
    }
    Ok(())
}

/// `vault restore --json` (docs/json.md): the run's outcome, its steps and
/// each step's section, as report.json holds them, and where the report is.
fn write_json(
    out: &mut dyn Write,
    report: &crate::report::Report,
    report_dir: Option<&std::path::Path>,
) -> Result<(), ToolError> {
    #[derive(serde::Serialize)]
    struct RestoreJson<'a> {
        outcome: &'a crate::workflow::Outcome,
        error: Option<&'a str>,
        dry_run: bool,
        vault_id: &'a str,
        target: &'a crate::report::TargetInfo,
        steps: &'a [crate::report::StepLine],
        sections: &'a crate::report::Sections,
        report_dir: Option<String>,
    }
    let json = RestoreJson {
        outcome: &report.outcome,
        error: report.error.as_deref(),
        dry_run: report.dry_run,
        vault_id: &report.vault.id,
        target: &report.target,
        steps: &report.steps,
        sections: &report.sections,
        report_dir: report_dir.map(|d| d.display().to_string()),
    };
    crate::exit::write_json(out, &json)
}

/// The kept objects re-created, a line each, then the objects the refresh
/// removed or changed and nothing re-created, as notes.
fn print_objects(
    out: &mut dyn Write,
    summary: &crate::restore::RestoreSummary,
) -> Result<(), ToolError> {
    let Some(objects) = &summary.objects else {
        return Ok(());
    };
    for change in objects.changes.iter().filter(|c| c.recreated) {
        let line = change.recreated_line();
        match summary.dry_run {
            true => writeln!(out, "  would be {line}")?,
            false => writeln!(out, "  {line}")?,
        }
    }
    for note in objects.notes() {
        writeln!(out, "note: {note}")?;
    }
    Ok(())
}

fn print_restore(
    out: &mut dyn Write,
    summary: &crate::restore::RestoreSummary,
) -> Result<(), ToolError> {
    for note in &summary.notes {
        writeln!(out, "note: {note}")?;
    }
    if summary.dry_run && !summary.rehearsed {
        writeln!(
            out,
            "dry run: nothing was changed in {}; the restore would load:",
            summary.target
        )?;
        for table in &summary.tables {
            writeln!(
                out,
                "  {:<32} {:>10} rows ({})",
                table.table, table.captured_rows, table.mode
            )?;
        }
        // Planned by reading only: accounts, grants and links it would change.
        for extra in &summary.extras {
            writeln!(out, "  planned: {extra}")?;
        }
        print_objects(out, summary)?;
    } else {
        if summary.rehearsed {
            writeln!(
                out,
                "dry run: the restore was rehearsed in its transaction and rolled back; nothing was changed in {}. It would do:",
                summary.target
            )?;
        }
        for table in &summary.tables {
            let counts = &table.counts;
            writeln!(
                out,
                "  {:<32} {:>10} rows  {} inserted, {} updated, {} kept, {} removed first ({})",
                table.table,
                table.captured_rows,
                counts.inserted,
                counts.updated,
                counts.skipped,
                counts.deleted,
                table.mode
            )?;
        }
        for collision in &summary.collisions {
            let note = match collision.accepted {
                true => " (accepted: on_collision = \"replace\")",
                false => "",
            };
            writeln!(out, "  {collision}{note}")?;
        }
        // A dry run's extras are what its rehearsal did with large objects.
        for extra in &summary.extras {
            writeln!(out, "  {extra}")?;
        }
        print_objects(out, summary)?;
        if summary.dry_run {
            return Ok(());
        }
        let rows: u64 = summary.tables.iter().map(|t| t.captured_rows).sum();
        writeln!(
            out,
            "restored {} tables, {rows} rows into {} in one transaction",
            summary.tables.len(),
            summary.target
        )?;
    }
    Ok(())
}
