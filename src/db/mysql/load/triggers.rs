//! The restored tables' triggers: saved with `SHOW CREATE TRIGGER` and dropped before the data transaction, created again after it (MySQL cannot switch a trigger off).

use sqlx::mysql::MySqlConnection;
use sqlx::{AssertSqlSafe, Row};

use super::{RestoreState, run};
use crate::db::TableName;
use crate::db::mysql::{SESSION_SETTINGS, mysql_error, quote_ident};
use crate::exit::ToolError;

/// A trigger as `SHOW CREATE TRIGGER` gave it.
pub(super) struct SavedTrigger {
    pub(super) schema: String,
    pub(super) name: String,
    sql_mode: String,
    collation_connection: String,
    statement: String,
}

/// The table's triggers in the order they fire, with their definitions.
pub(super) async fn triggers_of(
    conn: &mut MySqlConnection,
    schema: &str,
    table: &TableName,
) -> Result<Vec<SavedTrigger>, ToolError> {
    let at = table.to_string();
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT trigger_name FROM information_schema.triggers
         WHERE event_object_schema = ? AND event_object_table = ?
         ORDER BY action_timing, event_manipulation, action_order",
    )
    .bind(schema)
    .bind(&table.name)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| mysql_error(&at, e))?;
    let mut saved = Vec::new();
    for name in names {
        let row = sqlx::raw_sql(AssertSqlSafe(format!(
            "SHOW CREATE TRIGGER {}.{}",
            quote_ident(schema),
            quote_ident(&name)
        )))
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| mysql_error(&at, e))?;
        let text = |i: usize| -> Result<String, ToolError> {
            let bytes: Option<Vec<u8>> =
                row.try_get_unchecked(i).map_err(|e| mysql_error(&at, e))?;
            Ok(String::from_utf8_lossy(&bytes.unwrap_or_default()).into_owned())
        };
        saved.push(SavedTrigger {
            schema: schema.to_owned(),
            sql_mode: text(1)?,
            statement: text(2)?,
            collation_connection: text(4)?,
            name,
        });
    }
    Ok(saved)
}

/// Creates the saved triggers again, each under its own sql_mode and
/// connection collation, then puts the session's settings back.
pub(super) async fn recreate_triggers(
    conn: &mut MySqlConnection,
    state: &mut RestoreState,
) -> Result<(), ToolError> {
    let mut failed = Vec::new();
    for trigger in std::mem::take(&mut state.triggers) {
        let set = format!(
            "SET SESSION sql_mode = '{}', collation_connection = '{}'",
            trigger.sql_mode.replace('\'', "''"),
            trigger.collation_connection.replace('\'', "''")
        );
        let created = match run(conn, "", set).await {
            Ok(_) => run(conn, "", trigger.statement.clone()).await,
            Err(e) => Err(e),
        };
        if let Err(error) = created {
            failed.push(format!(
                "{}.{}: {}",
                trigger.schema, trigger.name, error.message
            ));
        }
    }
    run(conn, "", SESSION_SETTINGS.to_owned()).await?;
    if failed.is_empty() {
        return Ok(());
    }
    Err(ToolError::failed(format!(
        "the trigger(s) dropped for the restore could not be created again: {}",
        failed.join("; ")
    ))
    .hint("create them again from `vault compare` or production's definitions"))
}
