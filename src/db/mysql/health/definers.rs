//! Routines, triggers and events whose DEFINER account does not exist on this server: they fail with error 1449 when they run.
//!
//! A refresh copies production's objects with production's definers, and
//! acceptance often lacks those accounts. A view with such a definer is
//! already reported by `CHECK TABLE`; routines declared `SQL SECURITY
//! INVOKER` do not need theirs. Accounts are read from `mysql.user`; when
//! the account running `vault` cannot read it, a note says the check did
//! not run. A definer without a host (a MariaDB role) is not checked.

use sqlx::Row;
use sqlx::mysql::MySqlConnection;

use crate::db::mysql::mysql_error;
use crate::exit::ToolError;
use crate::health::{Finding, FindingKind, Inspection};

const METHOD: &str = "information_schema DEFINER looked up in mysql.user";

pub(super) async fn missing_definers(
    conn: &mut MySqlConnection,
    schema: &str,
    out: &mut Inspection,
) -> Result<(), ToolError> {
    let Some(accounts) = crate::db::mysql::trigger_definers::accounts(conn).await? else {
        out.notes
            .push("definers not checked: the account running vault cannot read mysql.user".into());
        return Ok(());
    };
    let objects = sqlx::query(
        "SELECT 'routine', routine_name, lower(routine_type), definer FROM information_schema.routines
         WHERE routine_schema = ? AND security_type = 'DEFINER'
         UNION ALL
         SELECT 'trigger', trigger_name, concat(event_manipulation, ' on ', event_object_table), definer
         FROM information_schema.triggers WHERE trigger_schema = ?
         UNION ALL
         SELECT 'event', event_name, 'event', definer FROM information_schema.events
         WHERE event_schema = ? AND status = 'ENABLED'
         ORDER BY 1, 2",
    )
    .bind(schema)
    .bind(schema)
    .bind(schema)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| mysql_error("", e))?;
    for row in objects {
        let (class, name, what, definer): (String, String, String, String) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        let Some((user, host)) = definer.rsplit_once('@') else {
            continue;
        };
        if accounts.contains(&(user.to_owned(), host.to_lowercase())) {
            continue;
        }
        let gone = format!("its definer '{user}'@'{host}' does not exist on this server");
        let (kind, object, detail, what_to_do) = match class.as_str() {
            "routine" => (
                FindingKind::BrokenFunction,
                format!("{schema}.{name}()"),
                format!("{what}: {gone}: it fails with error 1449 when it runs"),
                format!(
                    "create the account '{user}'@'{host}' with the privileges the {what} needs, or re-create the {what} with an existing DEFINER"
                ),
            ),
            "trigger" => (
                FindingKind::BrokenTrigger,
                format!("{schema}.{name}"),
                format!(
                    "trigger ({what}): {gone}: every {what} fails with error 1449 while it is there"
                ),
                format!(
                    "create the account '{user}'@'{host}', or drop the trigger and create it again with an existing DEFINER"
                ),
            ),
            _ => (
                FindingKind::ScheduledJob,
                format!("{schema}.{name}"),
                format!("{gone}: it fails with error 1449 each time it fires"),
                String::new(),
            ),
        };
        // One finding per object: a body that names missing tables and a
        // missing definer is one broken routine.
        match out
            .findings
            .iter_mut()
            .find(|f| f.kind == kind && f.object == object)
        {
            Some(finding) => {
                finding.detail = format!("{}; also, {gone}", finding.detail);
                finding.method = format!("{}; {METHOD}", finding.method);
            }
            None => out
                .findings
                .push(Finding::new(kind, object, detail, METHOD).what_to_do(what_to_do)),
        }
    }
    Ok(())
}
