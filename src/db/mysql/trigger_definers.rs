//! Triggers whose DEFINER account does not exist on this server: found before a sanitize writes anything, and named when a statement fails with error 1449.
//!
//! A trigger runs with its definer's privileges; when that account is
//! missing (production's `prod_app` after a refresh), every statement that
//! fires the trigger fails with error 1449, whose text names the account
//! but not the trigger. Accounts are read from `mysql.user`; a definer
//! without a host (a MariaDB role) is not checked; when the account running
//! vault cannot read `mysql.user`, nothing is reported here (the statement
//! itself then fails, naming the trigger's candidates).

use std::collections::HashSet;

use sqlx::Row;
use sqlx::mysql::{MySqlConnection, MySqlDatabaseError};

use super::mysql_error;
use crate::exit::ToolError;
use crate::sanitize::UnrunnableTrigger;

/// The server's error for a missing definer: ER_NO_SUCH_USER.
const NO_SUCH_DEFINER: u16 = 1449;

/// Every account of the server as (user, host in lower case); `None` when
/// the account running vault cannot read `mysql.user`.
pub(super) async fn accounts(
    conn: &mut MySqlConnection,
) -> Result<Option<HashSet<(String, String)>>, ToolError> {
    let rows = sqlx::query("SELECT CAST(user AS CHAR), CAST(host AS CHAR) FROM mysql.user")
        .fetch_all(&mut *conn)
        .await;
    match rows {
        Ok(rows) => Ok(Some(
            rows.into_iter()
                .map(|r| (r.get(0), r.get::<String, _>(1).to_lowercase()))
                .collect(),
        )),
        Err(sqlx::Error::Database(_)) => Ok(None),
        Err(e) => Err(mysql_error("mysql.user", e)),
    }
}

/// The triggers on `tables` (schema, table) whose definer does not exist.
pub(super) async fn unrunnable(
    conn: &mut MySqlConnection,
    tables: &[(String, String)],
) -> Result<Vec<UnrunnableTrigger>, ToolError> {
    let Some(accounts) = accounts(conn).await? else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    for (schema, table) in tables {
        let rows = sqlx::query(
            "SELECT CAST(trigger_name AS CHAR), CAST(definer AS CHAR),
                    CAST(concat(action_timing, ' ', event_manipulation) AS CHAR)
             FROM information_schema.triggers
             WHERE event_object_schema = ? AND event_object_table = ? ORDER BY 1",
        )
        .bind(schema)
        .bind(table)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| mysql_error(&format!("{schema}.{table}"), e))?;
        for row in rows {
            let (name, definer, when): (String, String, String) =
                (row.get(0), row.get(1), row.get(2));
            let Some((user, host)) = definer.rsplit_once('@') else {
                continue;
            };
            if accounts.contains(&(user.to_owned(), host.to_lowercase())) {
                continue;
            }
            found.push(UnrunnableTrigger {
                table: format!("{schema}.{table}"),
                trigger: format!("{schema}.{name} ({when})"),
                problem: format!(
                    "its definer '{user}'@'{host}' does not exist on this server (error 1449)"
                ),
                fix: format!(
                    "create the account '{user}'@'{host}' with the privileges the trigger needs, or drop the trigger and create it again with an existing DEFINER"
                ),
            });
        }
    }
    Ok(found)
}

/// For an error 1449, the triggers of `schema` that run as the missing
/// account, as a sentence to add to the error; `None` for other errors.
pub(super) async fn name_failed_triggers(
    conn: &mut MySqlConnection,
    schema: &str,
    error: &sqlx::Error,
) -> Option<String> {
    let db = error
        .as_database_error()
        .and_then(|e| e.try_downcast_ref::<MySqlDatabaseError>())?;
    if db.number() != NO_SUCH_DEFINER {
        return None;
    }
    let definer = definer_in(db.message())?;
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(concat(trigger_name, ' (', action_timing, ' ', event_manipulation, ' on ',
                            event_object_table, ')') AS CHAR)
         FROM information_schema.triggers WHERE trigger_schema = ? AND definer = ? ORDER BY 1",
    )
    .bind(schema)
    .bind(&definer)
    .fetch_all(&mut *conn)
    .await
    .ok()?;
    let (user, host) = definer.rsplit_once('@')?;
    Some(if names.is_empty() {
        format!(
            "no trigger of {schema} runs as '{user}'@'{host}': a routine or view the statement uses does; `vault health` lists them"
        )
    } else {
        format!(
            "the statement fires trigger(s) run as '{user}'@'{host}', which does not exist: {}; create the account, or drop each trigger and create it again with an existing DEFINER",
            names
                .iter()
                .map(|n| format!("{schema}.{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// `user@host` from error 1449's text (`... definer ('user'@'host') ...`),
/// as information_schema spells a DEFINER.
fn definer_in(message: &str) -> Option<String> {
    let start = message.find("('")? + 2;
    let rest = &message[start..];
    let end = rest.find("')")?;
    let (user, host) = rest[..end].split_once("'@'")?;
    Some(format!("{user}@{host}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_definer_is_read_from_the_servers_text() {
        assert_eq!(
            definer_in("The user specified as a definer ('prod_app'@'%') does not exist")
                .as_deref(),
            Some("prod_app@%")
        );
        assert_eq!(definer_in("something else"), None);
    }
}
