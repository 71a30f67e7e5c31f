//! `vault sanitize`: guard the target, apply the `[[sanitize]]` rules in one transaction, verify them in another.

use std::io::Write;

use crate::cli::SanitizeArgs;
use crate::commands::config_file::load_config;
use crate::exit::{Exit, ToolError};
use crate::keys::EnvLookup;
use crate::sanitize::{SanitizeSummary, VerifySummary};

pub fn run(
    args: &SanitizeArgs,
    out: &mut dyn Write,
    env: EnvLookup<'_>,
) -> Result<Exit, ToolError> {
    let config = load_config(&args.config)?;
    // Before anything connects: a bad key file changes nothing.
    let key = crate::sanitize::pseudonym_key(&config)?;
    // With --json, stdout holds the JSON alone: notes go to stderr.
    let mut stderr = std::io::stderr();
    let notes: &mut dyn Write = if args.json { &mut stderr } else { &mut *out };
    let (url, production) = super::guarded::guarded_urls(&config, env, notes)?;
    if config.sanitize.is_empty() {
        if args.json {
            let empty = SanitizeSummary {
                dry_run: args.dry_run,
                ..SanitizeSummary::default()
            };
            write_json(out, &url, &empty, None, None, None)?;
            return Ok(Exit::Success);
        }
        writeln!(
            out,
            "no [[sanitize]] rules in {}: nothing to do",
            args.config.display()
        )?;
        return Ok(Exit::Success);
    }
    let runtime = crate::runtime::current_thread()?;
    let (mut db, summary, prints) = runtime.block_on(async {
        let mut db = super::guarded::connect_acceptance(
            &url,
            production.as_ref(),
            super::guarded::Access::Writes,
            notes,
        )
        .await?;
        crate::engine::Engine::declare_large_objects(&mut db, &config);
        // The leak scan's fingerprints, under a key of this run only: they
        // live in memory until the scan after the verification.
        let prints = if config.leak_scan_enabled() && !args.dry_run {
            let mut key = zeroize::Zeroizing::new([0u8; 32]);
            getrandom::fill(key.as_mut()).map_err(|e| {
                ToolError::failed(format!("no randomness for the leak scan's key: {e}"))
            })?;
            Some(crate::leak_scan::fingerprint(&mut db, &config, &key).await?)
        } else {
            None
        };
        let summary =
            crate::sanitize::sanitize(&mut db, &config, key.as_ref(), args.dry_run).await?;
        Ok::<_, ToolError>((db, summary, prints))
    })?;
    if args.json {
        if summary.dry_run {
            write_json(out, &url, &summary, None, None, None)?;
            return Ok(Exit::Success);
        }
        let verified = runtime.block_on(crate::sanitize::verify(&mut db, &config));
        let scanned = match &verified {
            Ok(_) => Some(runtime.block_on(crate::leak_scan::scan_and_cover(
                &mut db,
                &config,
                prints.as_ref(),
            ))),
            Err(_) => None,
        };
        return match verified {
            Ok(verified) => {
                let (scanned, covered) = scanned.expect("scanned after a verification")?;
                write_json(
                    out,
                    &url,
                    &summary,
                    Some(&verified),
                    scanned.as_ref(),
                    Some(&covered),
                )?;
                Ok(exit_of(&verified, scanned.as_ref(), &covered))
            }
            Err(error) => {
                write_json(out, &url, &summary, None, None, None)?;
                Err(ToolError {
                    message: format!(
                        "the sanitize was committed, and its verification failed: {}",
                        error.message
                    ),
                    ..error
                })
            }
        };
    }
    if summary.dry_run {
        runtime.block_on(db.close());
        print(out, &summary, None)?;
        writeln!(
            out,
            "dry run: the rules ran in a transaction that was rolled back; nothing was changed in {url}"
        )?;
        return Ok(Exit::Success);
    }
    let verified = runtime.block_on(crate::sanitize::verify(&mut db, &config));
    let scanned = match &verified {
        Ok(_) => Some(runtime.block_on(crate::leak_scan::scan_and_cover(
            &mut db,
            &config,
            prints.as_ref(),
        ))),
        Err(_) => None,
    };
    runtime.block_on(db.close());
    let verified = match verified {
        Ok(verified) => verified,
        Err(error) => {
            print(out, &summary, None)?;
            return Err(ToolError {
                message: format!(
                    "the sanitize was committed, and its verification failed: {}",
                    error.message
                ),
                ..error
            });
        }
    };
    print(out, &summary, Some(&verified))?;
    let (scanned, covered) = scanned.expect("scanned after a verification")?;
    if let Some(scanned) = &scanned {
        print_leak_scan(out, scanned)?;
    }
    if covered.personal > 0 {
        writeln!(out, "{}", covered.line())?;
    }
    let left = verified.rows_left();
    let objects = verified.objects_left.unwrap_or(0);
    if objects > 0 {
        writeln!(
            out,
            "verification found {objects} large object(s) that nothing refers to: documents still readable (run `vault health` to list them, `vault health --fix` to unlink them)"
        )?;
    }
    if left == 0 {
        writeln!(
            out,
            "sanitized {url}: {} rules in one transaction, committed; verified: no row left",
            summary.rules.len()
        )?;
    } else {
        writeln!(
            out,
            "sanitized {url}: {} rules in one transaction, committed; verification found {left} rows left",
            summary.rules.len()
        )?;
    }
    Ok(exit_of(&verified, scanned.as_ref(), &covered))
}

/// 3 when rows, objects or sanitized values are left, or strict coverage
/// fails; 0 otherwise.
fn exit_of(
    verified: &VerifySummary,
    scanned: Option<&crate::leak_scan::LeakScanSummary>,
    covered: &crate::leak_scan::CoverageSummary,
) -> Exit {
    if scanned.is_some_and(|s| s.values_left() > 0) || covered.fails() {
        return Exit::Problem;
    }
    verified.exit()
}

/// `vault sanitize --json` (docs/json.md): the target, the rules' outcome
/// and, after a committed sanitize, the verification (`null` otherwise).
fn write_json(
    out: &mut dyn Write,
    url: &crate::config::DatabaseUrl,
    summary: &SanitizeSummary,
    verified: Option<&VerifySummary>,
    scanned: Option<&crate::leak_scan::LeakScanSummary>,
    covered: Option<&crate::leak_scan::CoverageSummary>,
) -> Result<(), ToolError> {
    #[derive(serde::Serialize)]
    struct SanitizeJson<'a> {
        target: String,
        sanitize: &'a SanitizeSummary,
        verify: Option<&'a VerifySummary>,
        leak_scan: Option<&'a crate::leak_scan::LeakScanSummary>,
        coverage: Option<&'a crate::leak_scan::CoverageSummary>,
    }
    let json = SanitizeJson {
        target: url.redacted().to_owned(),
        sanitize: summary,
        verify: verified,
        leak_scan: scanned,
        coverage: covered,
    };
    crate::exit::write_json(out, &json)
}

/// The table of rules: rows affected and, after verification, rows left.
pub(crate) fn print(
    out: &mut dyn Write,
    summary: &SanitizeSummary,
    verified: Option<&VerifySummary>,
) -> Result<(), ToolError> {
    let affected = if summary.dry_run {
        "would touch"
    } else {
        "affected"
    };
    writeln!(
        out,
        "  {:>4}  {:<28} {:<28} {:>12} {:>10}",
        "rule", "table", "action", affected, "left"
    )?;
    for rule in &summary.rules {
        let check = verified.and_then(|v| v.rules.iter().find(|c| c.rule == rule.rule));
        let left = match check {
            None => "-".to_owned(),
            Some(check) => match check.rows_left {
                Some(n) => n.to_string(),
                None => "n/v".to_owned(),
            },
        };
        writeln!(
            out,
            "  {:>4}  {:<28} {:<28} {:>12} {:>10}",
            rule.rule, rule.table, rule.action, rule.rows, left
        )?;
        for dependent in &rule.dependents {
            let how = match dependent.how {
                "deleted-first" => "deleted first (cascade = true)",
                "on-delete-cascade" => "deleted by ON DELETE CASCADE",
                "on-delete-set-null" => "set to NULL by ON DELETE SET NULL",
                _ => "set to default by ON DELETE SET DEFAULT",
            };
            writeln!(
                out,
                "          {}: {} rows {how}, foreign key {}",
                dependent.table, dependent.rows, dependent.constraint
            )?;
        }
        for why in check.iter().flat_map(|c| &c.not_verifiable) {
            writeln!(out, "          not verifiable: {why}")?;
        }
    }
    for view in &summary.refreshed {
        let verb = if summary.dry_run {
            "would refresh"
        } else {
            "refreshed"
        };
        writeln!(out, "  {verb} materialized view {view}")?;
    }
    if !summary.triggers.is_empty() {
        let how = match summary.triggers_quiet {
            true => "kept quiet during the sanitize (no copy of what it removed)",
            false => "ran during the sanitize (allow_triggers = true)",
        };
        writeln!(out, "  triggers {how}: {}", summary.triggers.join(", "))?;
    }
    if !summary.objects_unlinked.is_empty() {
        let verb = if summary.dry_run {
            "would unlink"
        } else {
            "unlinked"
        };
        let ids: Vec<String> = summary
            .objects_unlinked
            .iter()
            .map(|id| id.to_string())
            .collect();
        writeln!(
            out,
            "  {verb} {} large object(s) ({}) that no row refers to any more: {}",
            ids.len(),
            crate::units::bytes(summary.object_bytes_unlinked),
            ids.join(", ")
        )?;
    }
    Ok(())
}

/// The leak scan's line, then each column where values remain (counts only).
pub fn print_leak_scan(
    out: &mut dyn Write,
    scanned: &crate::leak_scan::LeakScanSummary,
) -> std::io::Result<()> {
    writeln!(out, "{}", scanned.line())?;
    for left in &scanned.remaining {
        writeln!(
            out,
            "  {}.{}: {} values hold a value a rule removed or changed",
            left.table, left.column, left.values
        )?;
    }
    if !scanned.ignored.is_empty() {
        writeln!(
            out,
            "  not searched ([leak_scan] ignore): {}",
            scanned.ignored.join(", ")
        )?;
    }
    Ok(())
}
