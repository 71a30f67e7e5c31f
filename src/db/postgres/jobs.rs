//! PostgreSQL's scheduled jobs: pg_cron jobs that run in the URL's database (`cron.job`, when the extension is there) and the database's subscriptions, listed with a digest of their definition and disabled by `cron.alter_job` and `ALTER SUBSCRIPTION ... DISABLE`.
//!
//! A subscription's connection string (which may hold a password) is never
//! read: its digest covers its publications and slot only.

use sqlx::{AssertSqlSafe, Row};

use super::{Postgres, pg_error};
use crate::exit::ToolError;
use crate::jobs::{Job, ScheduledJobs};
use crate::names::quote_ident;

impl ScheduledJobs for Postgres {
    async fn scheduled_jobs(&mut self) -> Result<Vec<Job>, ToolError> {
        let mut jobs = Vec::new();
        let cron: Option<String> = sqlx::query_scalar("SELECT to_regclass('cron.job')::text")
            .fetch_one(&mut self.conn)
            .await
            .map_err(|e| pg_error("", e))?;
        if cron.is_some() {
            let rows = sqlx::query(
                "SELECT jobid::text, coalesce(jobname, 'job ' || jobid), schedule, command, active
                 FROM cron.job WHERE database = current_database() ORDER BY jobid",
            )
            .fetch_all(&mut self.conn)
            .await
            .map_err(|e| pg_error("cron.job", e))?;
            for row in rows {
                let (name, schedule, command): (String, String, String) =
                    (row.get(1), row.get(2), row.get(3));
                jobs.push(Job {
                    kind: "cron-job".into(),
                    digest: Job::digest_of(&[&schedule, &command]),
                    name,
                    schedule,
                    enabled: row.get(4),
                });
            }
        }
        let rows = sqlx::query(
            "SELECT subname::text, subenabled, array_to_string(subpublications, ','),
                    coalesce(subslotname::text, '')
             FROM pg_subscription
             WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())
             ORDER BY subname",
        )
        .fetch_all(&mut self.conn)
        .await
        .map_err(|e| pg_error("pg_subscription", e))?;
        for row in rows {
            let (name, enabled, publications, slot): (String, bool, String, String) =
                (row.get(0), row.get(1), row.get(2), row.get(3));
            jobs.push(Job {
                kind: "subscription".into(),
                digest: Job::digest_of(&[&publications, &slot]),
                name,
                schedule: String::new(),
                enabled,
            });
        }
        Ok(jobs)
    }

    async fn disable_job(&mut self, job: &Job) -> Result<(), ToolError> {
        let done = match job.kind.as_str() {
            "cron-job" => {
                sqlx::query(
                    "SELECT cron.alter_job(jobid, active := false) FROM cron.job
                     WHERE database = current_database() AND coalesce(jobname, 'job ' || jobid) = $1",
                )
                .bind(&job.name)
                .execute(&mut self.conn)
                .await
            }
            "subscription" => {
                sqlx::raw_sql(AssertSqlSafe(format!(
                    "ALTER SUBSCRIPTION {} DISABLE",
                    quote_ident(&job.name)
                )))
                .execute(&mut self.conn)
                .await
            }
            _ => return Ok(()),
        };
        done.map(|_| ())
            .map_err(|e| pg_error("", e))
            .map_err(|e| ToolError {
                message: format!("{} {}: {}", job.kind, job.name, e.message),
                ..e
            })
    }
}
