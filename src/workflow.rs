//! The post-refresh pipeline that `vault restore` runs: restore, sanitize, verify, health, links, compare, in that order.
//!
//! An error that stops a step stops the pipeline there. Findings (rows left
//! after sanitizing, unrepaired health findings, links to production) do not:
//! every later step still runs, and the run ends with exit 3.
//!
//! Before anything is written, a run that sanitizes proves that every
//! trigger its rules fire can fire (`sanitize::check_runnable`).
//!
//! Then, before the data steps, production's scheduled jobs are disabled
//! (`jobs::stop_arrived`): those not in the vault's record of acceptance's.
//!
//! Around the data steps runs the quarantine: closed before the first of
//! restore, sanitize and verify, opened only once verify has passed (or, with
//! no `[[sanitize]]` rules, once the data steps are done), left closed
//! otherwise.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// One step of the pipeline, in the order the pipeline runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    Restore,
    Sanitize,
    Verify,
    Health,
    Links,
    Compare,
}

impl Step {
    /// The steps `vault restore` runs when `--steps` is not given: all.
    pub const DEFAULT: [Step; 6] = Step::ALL;

    /// Every step, in pipeline order.
    pub const ALL: [Step; 6] = [
        Step::Restore,
        Step::Sanitize,
        Step::Verify,
        Step::Health,
        Step::Links,
        Step::Compare,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Step::Restore => "restore",
            Step::Sanitize => "sanitize",
            Step::Verify => "verify",
            Step::Health => "health",
            Step::Links => "links",
            Step::Compare => "compare",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Step {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Step::ALL
            .into_iter()
            .find(|s| s.name() == text.trim())
            .ok_or_else(|| {
                let names: Vec<&str> = Step::ALL.iter().map(|s| s.name()).collect();
                format!(
                    "unknown step \"{}\"; the steps are {}",
                    text.trim(),
                    names.join(", ")
                )
            })
    }
}

/// Parses `--steps restore,sanitize,...`: any subset, run in pipeline order.
pub fn parse_steps(text: &str) -> Result<Vec<Step>, String> {
    let mut steps = text
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(Step::from_str)
        .collect::<Result<Vec<_>, _>>()?;
    if steps.is_empty() {
        return Err("--steps names no step".into());
    }
    steps.sort();
    steps.dedup();
    Ok(steps)
}

/// How one step of a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Done, nothing left to look at.
    Ok,
    /// Done, with findings that need a look (exit 3 at the end).
    Findings,
    /// An error stopped it, and the pipeline with it.
    Failed,
    /// Not run: not asked for, or an earlier step failed.
    Skipped,
}

/// One line of the pipeline's summary.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub step: Step,
    pub outcome: Outcome,
    /// The step's key figures, in a sentence.
    pub figures: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_run_in_pipeline_order_whatever_the_order_given() {
        assert_eq!(
            parse_steps("links, restore,links").unwrap(),
            vec![Step::Restore, Step::Links]
        );
        assert!(
            parse_steps("restore,report")
                .unwrap_err()
                .contains("report")
        );
        assert_eq!(
            parse_steps("compare").unwrap(),
            vec![Step::Compare],
            "compare runs when named"
        );
        assert!(parse_steps(",").is_err());
    }
}

/// Everything one run of the pipeline produced, step by step.
#[derive(Debug, Default, Serialize)]
pub struct PipelineSummary {
    pub steps: Vec<StepReport>,
    pub restore: Option<crate::restore::RestoreSummary>,
    pub sanitize: Option<crate::sanitize::SanitizeSummary>,
    pub verify: Option<crate::sanitize::VerifySummary>,
    pub health: Option<crate::health::HealthSummary>,
    pub links: Option<crate::links::LinksSummary>,
    pub compare: Option<crate::compare::CompareSummary>,
    pub quarantine: Option<crate::quarantine::QuarantineRecord>,
    /// Production's scheduled jobs disabled at the start of the run.
    pub jobs: Option<crate::jobs::JobsSummary>,
    /// The search for sanitized values left anywhere (part of verify).
    pub leak_scan: Option<crate::leak_scan::LeakScanSummary>,
    /// The columns that look like personal data, accounted for or not
    /// (part of verify).
    pub coverage: Option<crate::leak_scan::CoverageSummary>,
    /// The fingerprints taken before sanitize, for verify's scan; only in
    /// memory.
    #[serde(skip)]
    pub fingerprints: Option<crate::leak_scan::Fingerprints>,
    /// Every `[[hook]]` that ran (or would have), in order.
    pub hooks: Vec<crate::hooks::HookRun>,
}

impl PipelineSummary {
    /// 3 when any step left findings, 0 otherwise (a failed step is an error instead).
    pub fn exit(&self) -> crate::exit::Exit {
        if self.steps.iter().any(|s| s.outcome == Outcome::Findings) {
            crate::exit::Exit::Problem
        } else {
            crate::exit::Exit::Success
        }
    }
}

/// What the pipeline needs of the acceptance database: every step's trait.
pub trait Pipeline:
    crate::engine::Engine
    + crate::sanitize::Sanitizer
    + crate::health::HealthCheck
    + crate::links::LinkCheck
    + crate::quarantine::Quarantine
    + crate::jobs::ScheduledJobs
    + crate::leak_scan::LeakScan
    + crate::hooks::HookRunner
{
}

impl<E> Pipeline for E where
    E: crate::engine::Engine
        + crate::sanitize::Sanitizer
        + crate::health::HealthCheck
        + crate::links::LinkCheck
        + crate::quarantine::Quarantine
        + crate::jobs::ScheduledJobs
        + crate::leak_scan::LeakScan
        + crate::hooks::HookRunner
{
}

/// The inputs of one run.
pub struct Run<'a> {
    pub vault: &'a vault_format::UnlockedVault,
    pub config: &'a crate::config::Config,
    pub target: &'a crate::names::Identity,
    pub production: Option<&'a crate::config::DatabaseUrl>,
    pub steps: &'a [Step],
    pub dry_run: bool,
    /// The configuration file, for the command that opens a quarantine.
    pub config_path: &'a std::path::Path,
    /// The key of the `pseudonymize` rules, read before anything connected.
    pub pseudonym_key: Option<&'a crate::pseudonym::PseudonymKey>,
}

/// What the key of the leak scan's fingerprints is derived for.
const LEAK_SCAN_KEY_PURPOSE: &str = "leak scan fingerprints";

/// What the key that digests row keys in the report is derived for.
const COMPARE_KEY_PURPOSE: &str = "compare row key digests";

/// The data steps: testers stay out until they are done and verified.
const DATA_STEPS: [Step; 3] = [Step::Restore, Step::Sanitize, Step::Verify];

/// Closes acceptance before the data steps, when the run has any and
/// `[quarantine]` (or `[grants]`) names roles.
async fn close_quarantine(
    db: &mut crate::db::any::AnyEngine,
    run: &Run<'_>,
) -> Result<Option<crate::quarantine::QuarantineRecord>, crate::exit::ToolError> {
    use crate::quarantine::Quarantine;
    let roles = run.config.quarantine_roles();
    if run.dry_run || roles.is_empty() || !run.steps.iter().any(|s| DATA_STEPS.contains(s)) {
        return Ok(None);
    }
    let closing = db.close_quarantine(&roles).await?;
    Ok(Some(crate::quarantine::QuarantineRecord {
        roles,
        closed_at: crate::units::now(),
        closed: closing.closed,
        sessions_ended: closing.sessions_ended,
        reopen: closing.reopen,
        opened_at: None,
        opened: Vec::new(),
        note: closing.unsupported,
    }))
}

/// Before anything is written (the quarantine, the restore), when the run
/// sanitizes: every trigger the rules will fire can fire, or the run stops
/// with nothing changed (dry runs included).
async fn sanitize_can_run(
    db: &mut crate::db::any::AnyEngine,
    run: &Run<'_>,
) -> Result<(), crate::exit::ToolError> {
    if !run.steps.contains(&Step::Sanitize) {
        return Ok(());
    }
    let when = if run.steps.contains(&Step::Restore) {
        "checked before the restore: nothing was restored or changed"
    } else {
        "nothing was changed"
    };
    crate::sanitize::check_runnable(db, run.config, when).await
}

/// Opens the quarantine once the data are clean: after verify passed, or
/// after the last data step when there are no rules to verify.
async fn open_quarantine_if_clean(
    db: &mut crate::db::any::AnyEngine,
    run: &Run<'_>,
    step: Step,
    outcome: &Outcome,
    record: &mut crate::quarantine::QuarantineRecord,
) -> Result<(), crate::exit::ToolError> {
    use crate::quarantine::Quarantine;
    if record.opened_at.is_some() || record.note.is_some() {
        return Ok(());
    }
    let last_data_step = run.steps.iter().rev().find(|s| DATA_STEPS.contains(s));
    let clean = (step == Step::Verify && *outcome == Outcome::Ok)
        || (run.config.sanitize.is_empty() && Some(&step) == last_data_step);
    if !clean {
        return Ok(());
    }
    record.opened = db.open_quarantine(&record.reopen).await?;
    record.opened_at = Some(crate::units::now());
    Ok(())
}

/// The summary of a run stopped by a signal before `step`: that step and
/// the later asked ones are left for `--resume`.
fn interrupted(
    mut summary: PipelineSummary,
    run: &Run<'_>,
    step: Step,
    error: crate::exit::ToolError,
) -> (PipelineSummary, Option<crate::exit::ToolError>) {
    for later in Step::ALL.into_iter().filter(|s| *s >= step) {
        let (outcome, figures) = match (later == step, run.steps.contains(&later)) {
            (true, _) => (Outcome::Failed, "interrupted before it began".to_owned()),
            (false, true) => (Outcome::Skipped, "not run: interrupted".to_owned()),
            (false, false) => (Outcome::Skipped, "not asked for".to_owned()),
        };
        summary.steps.push(StepReport {
            step: later,
            outcome,
            figures,
        });
    }
    if let Some(record) = summary.quarantine.as_mut() {
        left_closed(record, "the run was interrupted", run);
    }
    (summary, Some(error))
}

/// Marks every step skipped before any ran: those asked for with `why`.
fn skip_every_step(summary: &mut PipelineSummary, run: &Run<'_>, why: &str) {
    for step in Step::ALL {
        let figures = match run.steps.contains(&step) {
            true => why.to_owned(),
            false => "not asked for".to_owned(),
        };
        summary.steps.push(StepReport {
            step,
            outcome: Outcome::Skipped,
            figures,
        });
    }
}

/// The note of a quarantine that stays closed: why, and how to open it.
fn left_closed(record: &mut crate::quarantine::QuarantineRecord, why: &str, run: &Run<'_>) {
    if record.opened_at.is_none() && record.note.is_none() {
        record.note = Some(format!(
            "acceptance stays CLOSED to {} because {why}; once the data are clean (vault restore --steps verify passes), open it with: {}",
            record.roles.join(", "),
            crate::quarantine::open_command(run.config_path)
        ));
    }
}

/// Runs the asked steps in order. Returns the summary so far and, when a
/// step failed, the error that stopped the pipeline there.
pub async fn run(
    db: &mut crate::db::any::AnyEngine,
    run: &Run<'_>,
    progress: &mut dyn std::io::Write,
) -> (PipelineSummary, Option<crate::exit::ToolError>) {
    let mut summary = PipelineSummary::default();
    if let Err(error) = sanitize_can_run(db, run).await {
        skip_every_step(
            &mut summary,
            run,
            "not run: sanitize could not run (a trigger it fires cannot)",
        );
        return (summary, Some(error));
    }
    match close_quarantine(db, run).await {
        Ok(record) => summary.quarantine = record,
        Err(error) => {
            skip_every_step(
                &mut summary,
                run,
                "not run: the quarantine could not be closed",
            );
            let message = format!(
                "the quarantine could not be closed, so nothing was restored: {}",
                error.message
            );
            return (summary, Some(crate::exit::ToolError { message, ..error }));
        }
    }
    if run.steps.iter().any(|s| DATA_STEPS.contains(s)) {
        match crate::jobs::stop_arrived(db, run.vault, run.dry_run).await {
            Ok(jobs) => summary.jobs = Some(jobs),
            Err(error) => {
                skip_every_step(
                    &mut summary,
                    run,
                    "not run: production's jobs could not be stopped",
                );
                if let Some(record) = summary.quarantine.as_mut() {
                    left_closed(record, "production's jobs could not be stopped", run);
                }
                return (summary, Some(error));
            }
        }
    }
    for step in Step::ALL {
        if run.steps.contains(&step)
            && let Err(error) = crate::interrupt::check(&format!("before {step}"))
        {
            return interrupted(summary, run, step, error);
        }
        if !run.steps.contains(&step) {
            summary.steps.push(StepReport {
                step,
                outcome: Outcome::Skipped,
                figures: "not asked for".into(),
            });
            continue;
        }
        let ran = match crate::hooks::run_hooks(
            db,
            &run.config.hook,
            &format!("before {step}"),
            run.dry_run,
            &mut summary.hooks,
        )
        .await
        {
            Ok(()) => run_step(db, run, step, &mut summary, progress).await,
            Err(error) => Err(error),
        };
        // After-hooks run before the quarantine opens.
        let ran = match ran {
            Ok(done) => crate::hooks::run_hooks(
                db,
                &run.config.hook,
                &format!("after {step}"),
                run.dry_run,
                &mut summary.hooks,
            )
            .await
            .map(|()| done),
            Err(error) => Err(error),
        };
        match ran {
            Ok((outcome, figures)) => {
                if let Some(record) = summary.quarantine.as_mut()
                    && let Err(error) =
                        open_quarantine_if_clean(db, run, step, &outcome, record).await
                {
                    let why = format!("it could not be opened: {}", error.message);
                    left_closed(record, &why, run);
                }
                summary.steps.push(StepReport {
                    step,
                    outcome,
                    figures,
                });
            }
            Err(error) => {
                if let Some(record) = summary.quarantine.as_mut() {
                    left_closed(record, &format!("{step} failed"), run);
                }
                summary.steps.push(StepReport {
                    step,
                    outcome: Outcome::Failed,
                    figures: error.message.clone(),
                });
                for later in Step::ALL.into_iter().filter(|s| *s > step) {
                    let figures = if run.steps.contains(&later) {
                        format!("not run: {step} failed")
                    } else {
                        "not asked for".into()
                    };
                    summary.steps.push(StepReport {
                        step: later,
                        outcome: Outcome::Skipped,
                        figures,
                    });
                }
                return (summary, Some(error));
            }
        }
    }
    if let Some(record) = summary.quarantine.as_mut() {
        let why = match &summary.verify {
            Some(verify) if verify.rows_left() > 0 => "verify found rows left",
            Some(verify) if verify.objects_left.unwrap_or(0) > 0 => {
                "verify found large objects that nothing refers to"
            }
            Some(_)
                if summary
                    .leak_scan
                    .as_ref()
                    .is_some_and(|s| s.values_left() > 0) =>
            {
                "the leak scan found sanitized values left"
            }
            Some(_) if summary.coverage.as_ref().is_some_and(|c| c.fails()) => {
                "columns of personal data are not classified ([coverage] strict)"
            }
            _ => "verify did not run and pass in this run",
        };
        left_closed(record, why, run);
    }
    (summary, None)
}

async fn run_step(
    db: &mut crate::db::any::AnyEngine,
    run: &Run<'_>,
    step: Step,
    summary: &mut PipelineSummary,
    progress: &mut dyn std::io::Write,
) -> Result<(Outcome, String), crate::exit::ToolError> {
    // A dry run rehearses the restore and rolls it back: a later step would
    // read the database as the refresh left it, not as the restore leaves
    // it, and its figures would mislead. It says so and shows nothing.
    if run.dry_run && step != Step::Restore && run.steps.contains(&Step::Restore) {
        return Ok((
            Outcome::Skipped,
            "not run in a dry run after the restore: it would read the database before the restore, not after it".into(),
        ));
    }
    Ok(match step {
        Step::Restore => {
            let restored = crate::restore::restore(
                db,
                run.vault,
                run.config,
                run.target,
                run.dry_run,
                progress,
            )
            .await?;
            let rows: u64 = restored.tables.iter().map(|t| t.captured_rows).sum();
            let sum = |f: fn(&crate::engine::LoadCounts) -> u64| -> u64 {
                restored.tables.iter().map(|t| f(&t.counts)).sum()
            };
            let counts = format!(
                "{} inserted, {} updated, {} kept, {} removed first",
                sum(|c| c.inserted),
                sum(|c| c.updated),
                sum(|c| c.skipped),
                sum(|c| c.deleted)
            );
            let tables = restored.tables.len();
            let figures = match (run.dry_run, restored.rehearsed) {
                (true, true) => format!(
                    "{tables} tables, {rows} rows would be restored: {counts} (dry run, rehearsed and rolled back)"
                ),
                (true, false) => {
                    format!("{tables} tables, {rows} rows would be restored (dry run)")
                }
                _ => format!("{tables} tables, {rows} rows: {counts}"),
            };
            // Keys that named other rows: a finding unless the
            // configuration accepted the overwrite (on_collision = "replace").
            let collisions = restored.unaccepted_collisions();
            let outcome = match collisions {
                0 => Outcome::Ok,
                _ => Outcome::Findings,
            };
            let figures = match collisions {
                0 => figures,
                n => format!(
                    "{figures}; key collisions in {n} {}: captured keys named other rows of the target",
                    if n == 1 { "table" } else { "tables" }
                ),
            };
            summary.restore = Some(restored);
            (outcome, figures)
        }
        Step::Sanitize => {
            if run.config.sanitize.is_empty() {
                return Ok((Outcome::Ok, "no [[sanitize]] rules".into()));
            }
            if run.config.leak_scan_enabled() && !run.dry_run {
                let key = run.vault.derive_key(LEAK_SCAN_KEY_PURPOSE);
                summary.fingerprints =
                    Some(crate::leak_scan::fingerprint(db, run.config, &key).await?);
            }
            let done =
                crate::sanitize::sanitize(db, run.config, run.pseudonym_key, run.dry_run).await?;
            let rows: u64 = done.rules.iter().map(|r| r.rows).sum();
            let figures = format!(
                "{} rules, {rows} rows {}, {} materialized views refreshed",
                done.rules.len(),
                if run.dry_run {
                    "would be touched (dry run)"
                } else {
                    "touched"
                },
                done.refreshed.len()
            );
            summary.sanitize = Some(done);
            (Outcome::Ok, figures)
        }
        Step::Verify => {
            if run.config.sanitize.is_empty() {
                return Ok((Outcome::Ok, "no [[sanitize]] rules to verify".into()));
            }
            if run.dry_run {
                return Ok((
                    Outcome::Ok,
                    "not run in a dry run: nothing was sanitized".into(),
                ));
            }
            let checked = crate::sanitize::verify(db, run.config).await?;
            let prints = summary.fingerprints.take();
            let (scanned, covered) =
                crate::leak_scan::scan_and_cover(db, run.config, prints.as_ref()).await?;
            let left = checked.rows_left();
            let unverifiable = checked
                .rules
                .iter()
                .filter(|r| r.rows_left.is_none())
                .count();
            let objects = checked.objects_left.unwrap_or(0);
            let mut figures = format!(
                "{} rules checked, {left} rows left{}{}",
                checked.rules.len(),
                if objects > 0 {
                    format!(", {objects} large objects that nothing refers to")
                } else {
                    String::new()
                },
                if unverifiable > 0 {
                    format!(", {unverifiable} not verifiable")
                } else {
                    String::new()
                }
            );
            let leaked = scanned.as_ref().map_or(0, |s| s.values_left());
            if let Some(scanned) = &scanned {
                figures.push_str(&format!(
                    ", {leaked} values left in {} columns",
                    scanned.columns_scanned
                ));
            }
            let unclassified = covered.fails();
            if unclassified {
                figures.push_str(&format!(
                    ", {} columns of personal data not classified",
                    covered.unclassified.len()
                ));
            }
            summary.verify = Some(checked);
            summary.leak_scan = scanned;
            summary.coverage = Some(covered);
            (
                if left > 0 || objects > 0 || leaked > 0 || unclassified {
                    Outcome::Findings
                } else {
                    Outcome::Ok
                },
                figures,
            )
        }
        Step::Health => {
            // Acceptance's own jobs (recorded at capture) stay as they are.
            let own: Vec<String> = summary
                .jobs
                .iter()
                .flat_map(|j| j.kept.iter())
                .filter_map(|k| k.split_once(' ').map(|(_, name)| name.to_owned()))
                .collect();
            let checked = crate::health::health_keeping(db, !run.dry_run, &own).await?;
            let figures = format!(
                "{} findings, {} repaired, {} remain",
                checked.findings.len(),
                checked.repaired(),
                checked.remaining()
            );
            let outcome = if checked.remaining() > 0 {
                Outcome::Findings
            } else {
                Outcome::Ok
            };
            summary.health = Some(checked);
            (outcome, figures)
        }
        Step::Links => {
            let checked =
                crate::links::links(db, run.config, run.production, Some(run.vault)).await?;
            let figures = match &checked.no_link_objects {
                Some(why) => why.clone(),
                None => format!(
                    "{} links: {} to production, {} differ from acceptance, {} unchecked",
                    checked.links.len(),
                    checked.production,
                    checked.differs,
                    checked.unchecked
                ),
            };
            let outcome = if checked.production > 0 {
                Outcome::Findings
            } else {
                Outcome::Ok
            };
            summary.links = Some(checked);
            (outcome, figures)
        }
        Step::Compare => {
            let Some(url) = run.production else {
                return Ok((
                    Outcome::Ok,
                    "no [production] URL configured: nothing to compare with".into(),
                ));
            };
            let production = crate::db::any::connect(url).await?;
            let mut compared = crate::db::any::closing(production, async |production| {
                crate::compare::compare_databases(run.config, url, db, production).await
            })
            .await?;
            // Row keys reach the report as digests under a key of the vault:
            // the same row gives the same digest in every report of it.
            compared.seal_keys(&run.vault.derive_key(COMPARE_KEY_PURPOSE), false);
            let figures = format!(
                "{} differences: {} expected, {} unexpected",
                compared.differences.len(),
                compared.expected(),
                compared.unexpected()
            );
            let outcome = if compared.unexpected() > 0 {
                Outcome::Findings
            } else {
                Outcome::Ok
            };
            summary.compare = Some(compared);
            (outcome, figures)
        }
    })
}
