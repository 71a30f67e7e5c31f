//! Production's scheduled jobs stopped first: the jobs acceptance had at capture are recorded in the vault, and at the start of `vault restore` every enabled job not in that record (production's, arrived with the refresh) is disabled before any data step.
//!
//! A job is what runs in the database without anyone asking: a MariaDB
//! event; on PostgreSQL a pg_cron job or a subscription. Each engine lists
//! and disables its own through [`ScheduledJobs`]; SQLite has none. A job is
//! acceptance's when the record holds one of the same kind and name whose
//! definition digest is the same; any other enabled job is production's
//! and is disabled, each named in the output and the report. vault never
//! enables a job, and leaves acceptance's recorded jobs as they are.

use std::io::Write;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use vault_format::{UnlockedVault, VaultWriter};

use crate::exit::ToolError;

/// The record's stream in the vault and its metadata kind.
const STREAM: &str = "extras/jobs";
const KIND: &str = "jobs";

/// One scheduled job as recorded: never its body or connection, only a
/// digest of its definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// `event`, `cron-job` or `subscription`.
    pub kind: String,
    /// Its name (a pg_cron job without a name: `job <id>`).
    pub name: String,
    /// How often it runs, as the engine spells it (`every 1 day`), or empty.
    pub schedule: String,
    /// SHA-256 (hex) of its schedule and definition.
    pub digest: String,
    pub enabled: bool,
}

impl Job {
    /// The digest of the parts that define a job.
    pub fn digest_of(parts: &[&str]) -> String {
        let mut hash = Sha256::new();
        for part in parts {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part.as_bytes());
        }
        hex::encode(hash.finalize())
    }
}

/// Lists and disables the database's scheduled jobs. Each engine implements it.
#[allow(async_fn_in_trait)]
pub trait ScheduledJobs {
    /// Every scheduled job of the database, enabled or not.
    async fn scheduled_jobs(&mut self) -> Result<Vec<Job>, ToolError>;

    /// Disables one job, in its own committed statement.
    async fn disable_job(&mut self, job: &Job) -> Result<(), ToolError>;
}

/// Writes acceptance's jobs into the vault; the capture's line.
pub fn write_record(writer: &VaultWriter, jobs: &[Job]) -> Result<String, ToolError> {
    let metadata = serde_json::json!({"kind": KIND, "encoding": "json"});
    let mut stream = writer.stream(STREAM, metadata)?;
    stream.write_all(&serde_json::to_vec(jobs).expect("jobs serialize"))?;
    stream.add_rows(jobs.len() as u64);
    stream.finish()?;
    let enabled = jobs.iter().filter(|j| j.enabled).count();
    Ok(format!(
        "jobs: {} scheduled jobs recorded ({enabled} enabled)",
        jobs.len()
    ))
}

/// Acceptance's jobs from the vault; `None` when the vault has no record
/// (written before jobs were recorded).
pub fn read_record(vault: &UnlockedVault) -> Result<Option<Vec<Job>>, ToolError> {
    crate::extras::read_json(vault, KIND)
}

/// The names of the database's jobs that the vault recorded as
/// acceptance's (same kind, name and digest); none without a record.
pub async fn own_jobs<J: ScheduledJobs>(
    db: &mut J,
    vault: &UnlockedVault,
) -> Result<Vec<String>, ToolError> {
    let Some(record) = read_record(vault)? else {
        return Ok(Vec::new());
    };
    Ok(db
        .scheduled_jobs()
        .await?
        .into_iter()
        .filter(|j| recorded(&record, j))
        .map(|j| j.name)
        .collect())
}

/// What the start of the restore did to the database's jobs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct JobsSummary {
    /// Production's jobs disabled (or, in a dry run, to be disabled), a line each.
    pub disabled: Vec<String>,
    /// Acceptance's recorded jobs, left as they were.
    pub kept: Vec<String>,
    /// Set when the vault has no record of acceptance's jobs.
    pub note: Option<String>,
    pub dry_run: bool,
}

impl JobsSummary {
    /// One line for the output.
    pub fn line(&self) -> String {
        if let Some(note) = &self.note {
            return note.clone();
        }
        let verb = if self.dry_run {
            "would be disabled"
        } else {
            "disabled"
        };
        let mut line = format!(
            "{} of production's jobs {verb}, {} of acceptance's left as they were",
            self.disabled.len(),
            self.kept.len()
        );
        if !self.disabled.is_empty() {
            line.push_str(&format!(": {}", self.disabled.join(", ")));
        }
        line
    }
}

/// Whether `job` is one acceptance recorded at capture.
fn recorded(record: &[Job], job: &Job) -> bool {
    record
        .iter()
        .any(|r| r.kind == job.kind && r.name == job.name && r.digest == job.digest)
}

/// The jobs to disable: enabled, and not acceptance's.
fn arrived<'a>(record: &[Job], now: &'a [Job]) -> Vec<&'a Job> {
    now.iter()
        .filter(|j| j.enabled && !recorded(record, j))
        .collect()
}

/// Disables every enabled job not in the vault's record (in a dry run,
/// only says which). Without a record nothing is disabled, and the
/// summary says why.
pub async fn stop_arrived<J: ScheduledJobs>(
    db: &mut J,
    vault: &UnlockedVault,
    dry_run: bool,
) -> Result<JobsSummary, ToolError> {
    let mut summary = JobsSummary {
        dry_run,
        ..JobsSummary::default()
    };
    let Some(record) = read_record(vault)? else {
        summary.note = Some(
            "the vault has no record of acceptance's jobs (captured before jobs were recorded): none disabled; `vault health` lists the enabled ones".into(),
        );
        return Ok(summary);
    };
    let now = db.scheduled_jobs().await?;
    for job in arrived(&record, &now) {
        if !dry_run {
            db.disable_job(job).await.map_err(|e| ToolError {
                message: format!(
                    "production's {} {} could not be disabled, so nothing was restored: {}",
                    job.kind, job.name, e.message
                ),
                ..e
            })?;
        }
        summary.disabled.push(format!("{} {}", job.kind, job.name));
    }
    summary.kept = now
        .iter()
        .filter(|j| recorded(&record, j))
        .map(|j| format!("{} {}", j.kind, j.name))
        .collect();
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(name: &str, body: &str, enabled: bool) -> Job {
        Job {
            kind: "event".into(),
            name: name.into(),
            schedule: "every 1 day".into(),
            digest: Job::digest_of(&["every 1 day", body]),
            enabled,
        }
    }

    #[test]
    fn only_enabled_jobs_not_recorded_are_production_s() {
        let record = vec![job("reset_testdata", "CALL reset()", true)];
        let now = vec![
            job("reset_testdata", "CALL reset()", true),
            job("reminders", "INSERT INTO reminder ...", true),
            job("old_purge", "DELETE ...", false),
            // Same name, production's definition.
            job("reset_testdata2", "x", true),
        ];
        let names: Vec<&str> = arrived(&record, &now)
            .iter()
            .map(|j| j.name.as_str())
            .collect();
        assert_eq!(names, ["reminders", "reset_testdata2"]);
        let changed = vec![job("reset_testdata", "DELETE FROM patient", true)];
        assert_eq!(
            arrived(&record, &changed).len(),
            1,
            "a changed body is production's"
        );
        assert_ne!(Job::digest_of(&["ab", "c"]), Job::digest_of(&["a", "bc"]));
    }
}
