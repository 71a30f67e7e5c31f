//! MySQL/MariaDB's side of `vault health`: broken views, routines and triggers (missing tables, missing definers), production events, AUTO_INCREMENT behind.
//!
//! Everything is read from information_schema and `CHECK TABLE` on views;
//! nothing changes until `repair_finding` runs a finding's own statement
//! (each one DDL, which MySQL commits by itself). Only the URL's database
//! is checked. Routine and trigger bodies are in `bodies`, their definers
//! in `definers`, AUTO_INCREMENT counters in `auto_increment`. docs/health.md describes each check.

mod auto_increment;
mod bodies;
mod definers;

use sqlx::mysql::MySqlConnection;
use sqlx::{AssertSqlSafe, Row};

use super::{Mysql, describe_error, mysql_error, quote_ident};
use crate::exit::ToolError;
use crate::health::{Finding, FindingKind, HealthCheck, Inspection};

/// The error `CHECK TABLE` and every read report for a view whose tables,
/// columns or functions are gone: ER_VIEW_INVALID.
const VIEW_INVALID: &str = "references invalid table(s) or column(s) or function(s)";

impl HealthCheck for Mysql {
    async fn inspect_health(&mut self) -> Result<Inspection, ToolError> {
        let schema = self.database.clone();
        let conn = &mut self.conn;
        let mut out = Inspection::default();
        broken_views(conn, &schema, &mut out).await?;
        bodies::check(conn, &schema, &mut out).await?;
        auto_increment::behind(conn, &schema, self.flavor, &mut out).await?;
        events(conn, &schema, &mut out).await?;
        definers::missing_definers(conn, &schema, &mut out).await?;
        if let Some(vault) = self.restore.record_dir.clone() {
            recorded_triggers(conn, &vault, &mut out).await?;
        }
        Ok(out)
    }

    async fn repair_finding(&mut self, finding: &Finding) -> Result<Option<String>, ToolError> {
        if finding.kind == FindingKind::MissingTrigger {
            let Some(vault) = self.restore.record_dir.clone() else {
                return Ok(None);
            };
            return match super::load::recreate_recorded(&mut self.conn, &vault).await {
                Ok(_) => Ok(None),
                Err(e) => Ok(Some(e.message)),
            };
        }
        let Some(statement) = &finding.repair else {
            return Ok(None);
        };
        // DDL: its own transaction, committed by the server.
        match sqlx::raw_sql(AssertSqlSafe(statement.clone()))
            .execute(&mut self.conn)
            .await
        {
            Ok(_) => Ok(None),
            Err(e @ sqlx::Error::Database(_)) => Ok(Some(describe_error(&e))),
            Err(e) => Err(mysql_error(&finding.object, e)),
        }
    }
}

/// Triggers that a restore of `vault` dropped and did not create again,
/// from the record it keeps beside the vault (`vault health --vault FILE`).
async fn recorded_triggers(
    conn: &mut MySqlConnection,
    vault: &std::path::Path,
    out: &mut Inspection,
) -> Result<(), ToolError> {
    let record = super::load::record_path(vault);
    for trigger in super::load::missing_recorded(conn, vault).await? {
        let mut finding = Finding::new(
            FindingKind::MissingTrigger,
            format!("{}.{}", trigger.schema, trigger.name),
            "dropped by a restore that did not finish, and not created again",
            format!("the record {}", record.display()),
        );
        finding.repair = Some(format!(
            "the CREATE TRIGGER statement kept in {}",
            record.display()
        ));
        finding.what_to_do = "run `vault health --fix --vault FILE`, or `vault restore` of the same vault, to create it again".into();
        out.findings.push(finding);
    }
    Ok(())
}

/// `schema.name`, quoted for SQL.
fn quoted(schema: &str, name: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(name))
}

/// A string literal (backslashes doubled: they escape by default).
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

/// Runs `CHECK TABLE` on every view: a view over a missing table, column or
/// function gives error 1356, with the missing object in the line before.
async fn broken_views(
    conn: &mut MySqlConnection,
    schema: &str,
    out: &mut Inspection,
) -> Result<(), ToolError> {
    let views: Vec<String> = sqlx::query_scalar(
        "SELECT table_name FROM information_schema.tables
         WHERE table_schema = ? AND table_type = 'VIEW' ORDER BY table_name",
    )
    .bind(schema)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| mysql_error("", e))?;
    for view in views {
        let object = format!("{schema}.{view}");
        // The text protocol: CHECK TABLE is not a preparable statement everywhere.
        let rows = sqlx::raw_sql(AssertSqlSafe(format!(
            "CHECK TABLE {}",
            quoted(schema, &view)
        )))
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| mysql_error(&object, e))?;
        let mut errors: Vec<String> = Vec::new();
        for row in rows {
            let kind: String = row.try_get(2).map_err(|e| mysql_error(&object, e))?;
            let text: String = row.try_get(3).map_err(|e| mysql_error(&object, e))?;
            if kind.eq_ignore_ascii_case("error") && text != "Corrupt" {
                errors.push(text);
            }
        }
        if errors.is_empty() {
            continue;
        }
        // The cause first (`Table 'd.gone' doesn't exist`), then 1356.
        let cause = errors
            .iter()
            .find(|e| !e.contains(VIEW_INVALID))
            .unwrap_or(&errors[0]);
        // A missing definer (error 1449) is no missing table: say so.
        let (method, what_to_do) = match missing_definer(cause) {
            Some(definer) => (
                "CHECK TABLE on the view (error 1449: its DEFINER account does not exist)".to_owned(),
                format!(
                    "create the account {definer}, or re-create the view with an existing DEFINER (ALTER DEFINER = ... VIEW {object} AS its definition)"
                ),
            ),
            None => (
                "CHECK TABLE on the view (error 1356: references invalid tables, columns or functions)".to_owned(),
                "recreate the table, column or function it reads, or re-create the view (CREATE OR REPLACE VIEW) with its corrected definition".to_owned(),
            ),
        };
        out.findings.push(
            Finding::new(
                FindingKind::BrokenView,
                object,
                format!("fails when read: {cause}"),
                method,
            )
            .what_to_do(what_to_do),
        );
    }
    Ok(())
}

/// The account (`'user'@'host'`) that `CHECK TABLE` says is a missing
/// definer (`The user specified as a definer ('u'@'h') does not exist`).
fn missing_definer(text: &str) -> Option<&str> {
    let start = text.find("as a definer (")? + "as a definer (".len();
    let end = start + text[start..].find(") does not exist")?;
    Some(&text[start..end])
}

/// Enabled events of the schema, listed for review; `--fix` disables them,
/// keeping their definer (a plain ALTER EVENT would make the tool's
/// account the definer).
async fn events(
    conn: &mut MySqlConnection,
    schema: &str,
    out: &mut Inspection,
) -> Result<(), ToolError> {
    let scheduler: Option<String> =
        sqlx::query_scalar("SELECT CAST(@@global.event_scheduler AS CHAR)")
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| mysql_error("", e))?;
    let scheduler = scheduler.unwrap_or_default().to_ascii_uppercase();
    let rows = sqlx::query(
        "SELECT event_name, definer, event_type, CAST(execute_at AS CHAR),
                CAST(interval_value AS CHAR), interval_field, event_definition
         FROM information_schema.events
         WHERE event_schema = ? AND status = 'ENABLED' ORDER BY event_name",
    )
    .bind(schema)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| mysql_error("", e))?;
    for row in rows {
        let (name, definer, kind): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        let (at, every, field): (Option<String>, Option<String>, Option<String>) =
            (row.get(3), row.get(4), row.get(5));
        let body: String = row.get(6);
        let schedule = match (kind.as_str(), at, every, field) {
            ("ONE TIME", Some(at), _, _) => format!("once at {at}"),
            (_, _, Some(every), Some(field)) => {
                format!("every {every} {}", field.to_ascii_lowercase())
            }
            _ => kind.to_ascii_lowercase(),
        };
        // A literal may be a patient's data or a password: not shown.
        let body = crate::redact::mask_values(&body, crate::redact::Dialect::Mysql)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let shown: String = body.chars().take(80).collect();
        let running = if scheduler == "ON" {
            "the event scheduler is ON: it runs".to_owned()
        } else {
            format!(
                "the event scheduler is {scheduler} on this server: it runs once the scheduler is turned on"
            )
        };
        let definer_sql = match definer.rsplit_once('@') {
            Some((user, host)) => format!("{}@{}", literal(user), literal(host)),
            None => literal(&definer),
        };
        let repair = format!(
            "ALTER DEFINER = {definer_sql} EVENT {} DISABLE",
            quoted(schema, &name)
        );
        out.findings.push(
            Finding::new(
                FindingKind::ScheduledJob,
                format!("{schema}.{name}"),
                format!(
                    "enabled event, {schedule}, as {definer} ({running}): {shown}{}",
                    if shown.len() < body.len() { "..." } else { "" }
                ),
                "information_schema.EVENTS (status ENABLED)",
            )
            .what_to_do(format!(
                "check that it belongs to acceptance; if it came from production, disable it: {repair} (vault health --fix does)"
            ))
            .repair(repair)
            .job(name),
        );
    }
    Ok(())
}
