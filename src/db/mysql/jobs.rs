//! MariaDB/MySQL's scheduled jobs: the events of the URL's database, listed with a digest of their schedule and body, and disabled keeping their definer.

use sqlx::mysql::MySqlConnection;
use sqlx::{AssertSqlSafe, Row};

use super::{Mysql, describe_error, mysql_error, quote_ident};
use crate::exit::ToolError;
use crate::jobs::{Job, ScheduledJobs};

impl ScheduledJobs for Mysql {
    async fn scheduled_jobs(&mut self) -> Result<Vec<Job>, ToolError> {
        events(&mut self.conn, &self.database).await
    }

    async fn disable_job(&mut self, job: &Job) -> Result<(), ToolError> {
        if job.kind != "event" {
            return Ok(());
        }
        let definer: Option<String> = sqlx::query_scalar(
            "SELECT CAST(definer AS CHAR) FROM information_schema.events
             WHERE event_schema = ? AND event_name = ?",
        )
        .bind(&self.database)
        .bind(&job.name)
        .fetch_optional(&mut self.conn)
        .await
        .map_err(|e| mysql_error("", e))?;
        let Some(definer) = definer else {
            return Ok(());
        };
        let statement = disable_statement(&self.database, &job.name, &definer);
        sqlx::raw_sql(AssertSqlSafe(statement))
            .execute(&mut self.conn)
            .await
            .map_err(|e| {
                ToolError::failed(format!(
                    "event {}.{}: {}",
                    self.database,
                    job.name,
                    describe_error(&e)
                ))
                .hint("the account running vault needs the EVENT privilege, and SET USER (MariaDB) or SUPER to keep the event's definer")
            })?;
        Ok(())
    }
}

/// Every event of `schema`, enabled or not.
async fn events(conn: &mut MySqlConnection, schema: &str) -> Result<Vec<Job>, ToolError> {
    let rows = sqlx::query(
        "SELECT CAST(event_name AS CHAR), CAST(event_type AS CHAR), CAST(execute_at AS CHAR),
                CAST(interval_value AS CHAR), CAST(interval_field AS CHAR),
                CAST(event_definition AS CHAR), CAST(status AS CHAR)
         FROM information_schema.events WHERE event_schema = ? ORDER BY event_name",
    )
    .bind(schema)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| mysql_error("", e))?;
    Ok(rows
        .iter()
        .map(|row| {
            let (name, kind): (String, String) = (row.get(0), row.get(1));
            let (at, every, field): (Option<String>, Option<String>, Option<String>) =
                (row.get(2), row.get(3), row.get(4));
            let (body, status): (String, String) = (row.get(5), row.get(6));
            let schedule = match (kind.as_str(), &at, &every, &field) {
                ("ONE TIME", Some(at), _, _) => format!("once at {at}"),
                (_, _, Some(every), Some(field)) => {
                    format!("every {every} {}", field.to_ascii_lowercase())
                }
                _ => kind.to_ascii_lowercase(),
            };
            Job {
                kind: "event".into(),
                digest: Job::digest_of(&[&schedule, &body]),
                name,
                schedule,
                enabled: status == "ENABLED",
            }
        })
        .collect())
}

/// `ALTER DEFINER = ... EVENT ... DISABLE`: a plain ALTER EVENT would make
/// the account running vault the event's definer.
pub(super) fn disable_statement(schema: &str, name: &str, definer: &str) -> String {
    let literal = |text: &str| format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''"));
    let definer_sql = match definer.rsplit_once('@') {
        Some((user, host)) => format!("{}@{}", literal(user), literal(host)),
        None => literal(definer),
    };
    format!(
        "ALTER DEFINER = {definer_sql} EVENT {}.{} DISABLE",
        quote_ident(schema),
        quote_ident(name)
    )
}
