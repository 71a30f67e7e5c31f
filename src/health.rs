//! `vault health`: the invalid objects a refresh leaves behind, found, and with `fix` repaired and checked again.
//!
//! Each engine implements [`HealthCheck`] in its own module
//! (`db/postgres/health.rs`, `db/sqlite/health.rs`): it lists what it finds
//! as [`Finding`]s, each with the statement that repairs it when there is
//! one. [`health`] runs the checks, the repairs (each in its own statement,
//! so one that fails leaves the others done) and the checks again, and
//! returns a [`HealthSummary`] that the command prints and the run report
//! serializes. docs/health.md lists every check per engine.

use std::fmt;

use serde::Serialize;

use crate::engine::Engine;
use crate::exit::{Exit, ToolError};

/// What kind of problem a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// PostgreSQL: an index marked invalid (`pg_index.indisvalid`).
    InvalidIndex,
    /// PostgreSQL: a constraint added `NOT VALID` and never validated.
    UnvalidatedConstraint,
    /// PostgreSQL: a materialized view created or left `WITH NO DATA`.
    UnpopulatedMaterializedView,
    /// A view that fails when it is read.
    BrokenView,
    /// PostgreSQL: a function or procedure whose body names a table, view
    /// or function that does not exist.
    BrokenFunction,
    /// SQLite: a trigger whose body names a table or column that does not exist.
    BrokenTrigger,
    /// PostgreSQL: a sequence or identity column that would hand out a key
    /// its table already holds.
    SequenceBehind,
    /// SQLite: `PRAGMA integrity_check` reports damage.
    Integrity,
    /// SQLite: `PRAGMA foreign_key_check` finds rows whose parent is missing.
    ForeignKeyViolation,
    /// PostgreSQL with pg_cron: a scheduled job, listed for review; it does
    /// not by itself make the run end with 3.
    ScheduledJob,
    /// PostgreSQL: rows of an `oid` (or `lo`) column that refer to a large
    /// object that does not exist: documents a refresh removed.
    DanglingLargeObject,
    /// MariaDB/MySQL: a trigger that a restore dropped and did not create
    /// again (killed, or its connection lost); its definition is in the
    /// record beside the vault.
    MissingTrigger,
    /// PostgreSQL: large objects that no `oid`, `lo` or declared column
    /// refers to: documents nobody can reach, still readable.
    UnreferencedLargeObject,
}

impl FindingKind {
    /// The kebab-case name used in the output and the JSON.
    pub fn name(self) -> &'static str {
        match self {
            FindingKind::InvalidIndex => "invalid-index",
            FindingKind::UnvalidatedConstraint => "unvalidated-constraint",
            FindingKind::UnpopulatedMaterializedView => "unpopulated-materialized-view",
            FindingKind::BrokenView => "broken-view",
            FindingKind::BrokenFunction => "broken-function",
            FindingKind::BrokenTrigger => "broken-trigger",
            FindingKind::SequenceBehind => "sequence-behind",
            FindingKind::Integrity => "integrity",
            FindingKind::ForeignKeyViolation => "foreign-key-violation",
            FindingKind::ScheduledJob => "scheduled-job",
            FindingKind::DanglingLargeObject => "dangling-large-object",
            FindingKind::MissingTrigger => "missing-trigger",
            FindingKind::UnreferencedLargeObject => "unreferenced-large-object",
        }
    }

    /// False for what is only listed for review (scheduled jobs).
    pub fn is_problem(self) -> bool {
        self != FindingKind::ScheduledJob
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One problem, named by its object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    /// The object, `schema.name` on PostgreSQL (a constraint is
    /// `schema.table.constraint`, a function `schema.name(arguments)`).
    pub object: String,
    /// What is wrong; after a failed repair, also why it failed.
    pub detail: String,
    /// How it was found (a catalog query, a test read, the server's validator, plpgsql_check).
    pub method: String,
    /// The statement that repairs it, when there is one.
    pub repair: Option<String>,
    /// True once `--fix` repaired it and the check no longer finds it.
    pub repaired: bool,
    /// What the operator should do when it is not repaired.
    pub what_to_do: String,
    /// For a scheduled job: its name as the vault's record of jobs names it.
    #[serde(skip)]
    pub job: Option<String>,
}

impl Finding {
    /// A finding that is not repaired yet.
    pub fn new(
        kind: FindingKind,
        object: impl Into<String>,
        detail: impl Into<String>,
        method: impl Into<String>,
    ) -> Self {
        Finding {
            kind,
            object: object.into(),
            detail: detail.into(),
            method: method.into(),
            repair: None,
            repaired: false,
            what_to_do: String::new(),
            job: None,
        }
    }

    /// The scheduled job's name, as `jobs` records it.
    pub fn job(mut self, name: impl Into<String>) -> Self {
        self.job = Some(name.into());
        self
    }

    /// The statement that repairs it.
    pub fn repair(mut self, statement: impl Into<String>) -> Self {
        self.repair = Some(statement.into());
        self
    }

    /// What to do when it is not repaired.
    pub fn what_to_do(mut self, text: impl Into<String>) -> Self {
        self.what_to_do = text.into();
        self
    }

    /// A problem that remains: not repaired, and not only listed for review.
    pub fn remains(&self) -> bool {
        !self.repaired && self.kind.is_problem()
    }

    fn same_object(&self, other: &Finding) -> bool {
        self.kind == other.kind && self.object == other.object
    }
}

/// What one pass of the checks found.
#[derive(Debug, Default)]
pub struct Inspection {
    pub findings: Vec<Finding>,
    /// Checks that could not run, and why (an extension that is not
    /// installed, a view that took too long to read).
    pub notes: Vec<String>,
}

/// The outcome of `vault health`, for the command's table and the run report.
#[derive(Debug, Clone, Serialize)]
pub struct HealthSummary {
    /// The database checked, as `Identity` prints it.
    pub target: String,
    /// Whether repairs were asked for.
    pub fix: bool,
    /// Every finding of the first pass, with `repaired` set for what the
    /// second pass no longer found, then any that only the second pass found.
    pub findings: Vec<Finding>,
    pub notes: Vec<String>,
}

impl HealthSummary {
    /// Problems repaired (scheduled jobs disabled by `--fix` are not counted: see [`Self::disabled_jobs`]).
    pub fn repaired(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.repaired && f.kind.is_problem())
            .count()
    }

    /// Scheduled jobs listed for review that `--fix` disabled (MySQL events).
    pub fn disabled_jobs(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.repaired && !f.kind.is_problem())
            .count()
    }

    /// Problems that remain (scheduled jobs are not counted).
    pub fn remaining(&self) -> usize {
        self.findings.iter().filter(|f| f.remains()).count()
    }

    /// 3 when problems remain, 0 otherwise.
    pub fn exit(&self) -> Exit {
        if self.remaining() > 0 {
            Exit::Problem
        } else {
            Exit::Success
        }
    }
}

/// One engine's health checks and repairs.
#[allow(async_fn_in_trait)]
pub trait HealthCheck: Engine {
    /// Runs every check of this engine; changes nothing.
    async fn inspect_health(&mut self) -> Result<Inspection, ToolError>;

    /// Runs a finding's repair statement in its own transaction. `Ok(None)`
    /// when it ran, `Ok(Some(reason))` when the database refused it (a
    /// constraint that rows violate); `Err` when the connection failed.
    async fn repair_finding(&mut self, finding: &Finding) -> Result<Option<String>, ToolError>;
}

/// Checks the database; with `fix`, repairs what can be repaired and checks
/// again. Without `fix` nothing changes.
pub async fn health<E: HealthCheck>(db: &mut E, fix: bool) -> Result<HealthSummary, ToolError> {
    health_keeping(db, fix, &[]).await
}

/// [`health`], leaving alone the scheduled jobs named in `own_jobs`:
/// acceptance's, recorded in the vault at capture (`jobs`); they are
/// listed, never disabled.
pub async fn health_keeping<E: HealthCheck>(
    db: &mut E,
    fix: bool,
    own_jobs: &[String],
) -> Result<HealthSummary, ToolError> {
    let target = db.identity().await?.to_string();
    let mut first = db.inspect_health().await?;
    for finding in first.findings.iter_mut().filter(|f| {
        f.kind == FindingKind::ScheduledJob && f.job.as_ref().is_some_and(|j| own_jobs.contains(j))
    }) {
        finding.repair = None;
        finding.what_to_do =
            "acceptance's own job, recorded in the vault at capture: left as it is".into();
    }
    if !fix || first.findings.iter().all(|f| f.repair.is_none()) {
        return Ok(HealthSummary {
            target,
            fix,
            findings: first.findings,
            notes: first.notes,
        });
    }
    let mut refused: Vec<(usize, String)> = Vec::new();
    for (i, finding) in first.findings.iter().enumerate() {
        if finding.repair.is_none() {
            continue;
        }
        if let Some(reason) = db.repair_finding(finding).await? {
            refused.push((i, reason));
        }
    }
    let second = db.inspect_health().await?;
    let mut findings = first.findings;
    for (i, finding) in findings.iter_mut().enumerate() {
        match second.findings.iter().find(|f| f.same_object(finding)) {
            Some(again) => {
                // The second pass has the newest detail (a count after a
                // failed validation).
                finding.detail = again.detail.clone();
                if let Some((_, reason)) = refused.iter().find(|(j, _)| *j == i) {
                    finding.detail = format!("{}; the repair failed: {reason}", finding.detail);
                }
            }
            None => finding.repaired = finding.repair.is_some(),
        }
    }
    let new: Vec<Finding> = second
        .findings
        .into_iter()
        .filter(|f| !findings.iter().any(|g| g.same_object(f)))
        .collect();
    findings.extend(new);
    Ok(HealthSummary {
        target,
        fix,
        findings,
        notes: second.notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduled_jobs_are_listed_not_counted() {
        let job = Finding::new(FindingKind::ScheduledJob, "cron.job 1", "x", "catalog");
        let index = Finding::new(FindingKind::InvalidIndex, "public.i", "x", "catalog");
        let summary = HealthSummary {
            target: "t".into(),
            fix: false,
            findings: vec![job, index.clone()],
            notes: vec![],
        };
        assert_eq!(summary.remaining(), 1);
        assert_eq!(summary.exit(), Exit::Problem);
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(json["findings"][1]["kind"], "invalid-index");
        let mut index = index;
        index.repaired = true;
        assert!(!index.remains());
    }
}
