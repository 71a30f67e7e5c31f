//! PostgreSQL's health checks: invalid indexes, NOT VALID constraints, unpopulated materialized views, views that fail, broken function bodies, sequences behind, pg_cron jobs; and their repairs.
//!
//! Every check reads the catalogs (or, for views, reads the view once in a
//! read-only transaction that is rolled back); nothing changes until
//! `repair_finding` runs a finding's own statement, each in its own
//! transaction. Constraints are in `constraints`, sequences in
//! `sequences`, function bodies in `bodies`. docs/health.md
//! describes each check.

mod bodies;
mod constraints;
mod large_objects;
mod sequences;

use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Row};

use super::{Postgres, describe_error, pg_error};
use crate::exit::ToolError;
use crate::health::{Finding, FindingKind, HealthCheck, Inspection};
use crate::names::quote_ident;

/// Schemas the checks leave alone: the system's and other sessions' temporary ones.
const USER_SCHEMA: &str = "n.nspname <> ALL (ARRAY['pg_catalog', 'information_schema']) \
     AND n.nspname !~ '^pg_(toast|temp_)'";

/// How long one view may take to return its first row.
const VIEW_TIMEOUT_MS: u32 = 10_000;

const CATALOG: &str = "catalog";

impl HealthCheck for Postgres {
    async fn inspect_health(&mut self) -> Result<Inspection, ToolError> {
        let declared = self.declared_objects.clone();
        let conn = &mut self.conn;
        let mut out = Inspection::default();
        invalid_indexes(conn, &mut out).await?;
        constraints::unvalidated_constraints(conn, &mut out).await?;
        unpopulated_materialized_views(conn, &mut out).await?;
        broken_views(conn, &mut out).await?;
        bodies::check(conn, &mut out).await?;
        sequences::sequences_behind(conn, &mut out).await?;
        large_objects::dangling(conn, &declared, &mut out).await?;
        large_objects::unreferenced(conn, &declared, &mut out).await?;
        scheduled_jobs(conn, &mut out).await?;
        Ok(out)
    }

    async fn repair_finding(&mut self, finding: &Finding) -> Result<Option<String>, ToolError> {
        let Some(statement) = &finding.repair else {
            return Ok(None);
        };
        // One statement outside any transaction block: its own transaction.
        match sqlx::raw_sql(AssertSqlSafe(statement.clone()))
            .execute(&mut self.conn)
            .await
        {
            Ok(_) => Ok(None),
            Err(e @ sqlx::Error::Database(_)) => Ok(Some(describe_error(&e))),
            Err(e) => Err(pg_error(&finding.object, e)),
        }
    }
}

/// `schema.name`, quoted for SQL.
fn quoted(schema: &str, name: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(name))
}

/// A string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

async fn invalid_indexes(conn: &mut PgConnection, out: &mut Inspection) -> Result<(), ToolError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT n.nspname::text, c.relname::text, t.relname::text
         FROM pg_catalog.pg_index i
         JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
         JOIN pg_catalog.pg_class t ON t.oid = i.indrelid
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE NOT i.indisvalid AND {USER_SCHEMA}
         ORDER BY 1, 2"
    )))
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| pg_error("", e))?;
    for row in rows {
        let (schema, index, table): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        let repair = format!("REINDEX INDEX {}", quoted(&schema, &index));
        out.findings.push(
            Finding::new(
                FindingKind::InvalidIndex,
                format!("{schema}.{index}"),
                format!("index on {schema}.{table} is invalid: queries do not use it and a unique one does not enforce its key"),
                format!("{CATALOG} (pg_index.indisvalid)"),
            )
            .what_to_do(format!(
                "run {repair}; if it fails on duplicate keys, remove the duplicates first, or drop the index"
            ))
            .repair(repair),
        );
    }
    Ok(())
}

/// Not members of an extension (an extension's objects are its own affair).
fn not_extension_member(class: &str, oid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                     WHERE d.classid = '{class}'::regclass AND d.objid = {oid} AND d.deptype = 'e')"
    )
}

async fn unpopulated_materialized_views(
    conn: &mut PgConnection,
    out: &mut Inspection,
) -> Result<(), ToolError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT n.nspname::text, c.relname::text
         FROM pg_catalog.pg_class c
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind = 'm' AND NOT c.relispopulated AND {USER_SCHEMA}
         ORDER BY 1, 2"
    )))
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| pg_error("", e))?;
    for row in rows {
        let (schema, name): (String, String) = (row.get(0), row.get(1));
        let repair = format!("REFRESH MATERIALIZED VIEW {}", quoted(&schema, &name));
        out.findings.push(
            Finding::new(
                FindingKind::UnpopulatedMaterializedView,
                format!("{schema}.{name}"),
                "materialized view holds no data: reading it fails",
                format!("{CATALOG} (pg_class.relispopulated)"),
            )
            .what_to_do(format!(
                "run {repair}; if it fails, repair what its query reads first"
            ))
            .repair(repair),
        );
    }
    Ok(())
}

/// Reads the first row of every view, in a read-only transaction with a
/// statement timeout, rolled back. `LIMIT 0` would not do: the executor
/// then evaluates nothing, and a function that fails is never called.
async fn broken_views(conn: &mut PgConnection, out: &mut Inspection) -> Result<(), ToolError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT n.nspname::text, c.relname::text
         FROM pg_catalog.pg_class c
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind = 'v' AND {USER_SCHEMA} AND {}
         ORDER BY 1, 2",
        not_extension_member("pg_class", "c.oid")
    )))
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| pg_error("", e))?;
    for row in rows {
        let (schema, name): (String, String) = (row.get(0), row.get(1));
        let object = format!("{schema}.{name}");
        sqlx::raw_sql(AssertSqlSafe(format!(
            "BEGIN READ ONLY; SET LOCAL statement_timeout = {VIEW_TIMEOUT_MS}"
        )))
        .execute(&mut *conn)
        .await
        .map_err(|e| pg_error(&object, e))?;
        // The row as text: every column is computed (its output function
        // runs), and the result's one column is of a type the driver knows,
        // so reading a view of enums or domains needs no type lookup (which
        // would replace the unnamed prepared statement mid-read).
        let read = sqlx::query(AssertSqlSafe(format!(
            "SELECT vault_view::text FROM {} AS vault_view LIMIT 1",
            quoted(&schema, &name)
        )))
        .persistent(false)
        .fetch_optional(&mut *conn)
        .await;
        sqlx::raw_sql("ROLLBACK")
            .execute(&mut *conn)
            .await
            .map_err(|e| pg_error(&object, e))?;
        let Err(error) = read else { continue };
        let code = error
            .as_database_error()
            .and_then(|e| e.code())
            .map(|c| c.into_owned())
            .unwrap_or_default();
        match code.as_str() {
            "" => return Err(pg_error(&object, error)),
            "57014" => out.notes.push(format!(
                "view {object}: its first row took longer than {} s; not checked",
                VIEW_TIMEOUT_MS / 1000
            )),
            "25006" => out.notes.push(format!(
                "view {object}: reading it writes, which a read-only check does not do; not checked"
            )),
            _ => out.findings.push(
                Finding::new(
                    FindingKind::BrokenView,
                    object,
                    format!("fails when read: {}", describe_error(&error)),
                    "test read (its first row as text, in a read-only transaction, rolled back)",
                )
                .what_to_do(
                    "recreate what the view reads (a table, a function, a populated materialized view), or fix the view with CREATE OR REPLACE VIEW",
                ),
            ),
        }
    }
    Ok(())
}

/// pg_cron's jobs, listed for review; a note when pg_cron is not installed.
async fn scheduled_jobs(conn: &mut PgConnection, out: &mut Inspection) -> Result<(), ToolError> {
    let installed: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_cron'")
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| pg_error("", e))?;
    if installed.is_none() {
        out.notes
            .push("pg_cron is not installed in this database: no scheduled jobs to list".into());
        return Ok(());
    }
    let inactive: i64 = sqlx::query_scalar("SELECT count(*) FROM cron.job WHERE NOT active")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| pg_error("cron.job", e))?;
    if inactive > 0 {
        out.notes.push(format!(
            "pg_cron: {inactive} inactive jobs (they do not run; not listed)"
        ));
    }
    // Active jobs only: an inactive one runs nothing, and one that --fix
    // made inactive is then repaired.
    let jobs = sqlx::query(
        "SELECT jobid::int8, coalesce(jobname, ''), schedule, database, username, active, command
         FROM cron.job WHERE active ORDER BY jobid",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| pg_error("cron.job", e))?;
    for job in jobs {
        let (id, name, schedule, database, user, active): (
            i64,
            String,
            String,
            String,
            String,
            bool,
        ) = (
            job.get(0),
            job.get(1),
            job.get(2),
            job.get(3),
            job.get(4),
            job.get(5),
        );
        let command: String = job.get(6);
        // A command may hold a connection string or a patient's data: its
        // literals and passwords are not shown.
        let command: String =
            crate::redact::mask_values(&command, crate::redact::Dialect::Postgres)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
        let shown: String = command.chars().take(80).collect();
        let mut finding = Finding::new(
            FindingKind::ScheduledJob,
            format!("cron.job {id}{}", if name.is_empty() { String::new() } else { format!(" ({name})") }),
            format!(
                "{} job \"{schedule}\" runs in database {database} as {user}: {shown}{}",
                if active { "active" } else { "inactive" },
                if shown.len() < command.len() { "..." } else { "" }
            ),
            format!("{CATALOG} (cron.job)"),
        )
        .what_to_do(format!(
            "check that it belongs to acceptance; if it came from production, remove it with SELECT cron.unschedule({id}); after --fix made it inactive, SELECT cron.alter_job({id}, active := true) runs it again"
        ))
        .job(if name.is_empty() { format!("job {id}") } else { name.clone() });
        // --fix makes the job inactive (it stays, to be re-enabled): what
        // MariaDB's events get too.
        finding.repair = Some(format!("SELECT cron.alter_job({id}, active := false)"));
        out.findings.push(finding);
    }
    Ok(())
}
