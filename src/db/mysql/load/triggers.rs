//! The restored tables' triggers: saved with `SHOW CREATE TRIGGER` and dropped before the data transaction, created again after it (MySQL cannot switch a trigger off).

use sqlx::mysql::MySqlConnection;
use sqlx::{AssertSqlSafe, Row};

use super::{RestoreState, run};
use crate::db::mysql::{SESSION_SETTINGS, mysql_error, quote_ident};
use crate::exit::ToolError;
use crate::names::TableName;

/// A trigger as `SHOW CREATE TRIGGER` gave it.
#[derive(serde::Serialize, serde::Deserialize)]
pub(in crate::db::mysql) struct SavedTrigger {
    pub(in crate::db::mysql) schema: String,
    pub(in crate::db::mysql) name: String,
    sql_mode: String,
    collation_connection: String,
    statement: String,
}

/// The file beside the vault (`FILE.vault.mariadb-triggers.json`) that
/// keeps the definitions of the triggers a restore drops until they exist
/// again: any later restore of that vault finds it, even after a kill.
pub(in crate::db::mysql) fn record_path(vault: &std::path::Path) -> std::path::PathBuf {
    let mut name = vault.as_os_str().to_owned();
    name.push(".mariadb-triggers.json");
    std::path::PathBuf::from(name)
}

/// Writes the definitions durably (0600, synced) before any is dropped: a
/// kill or a lost connection cannot lose them.
pub(super) fn write_record(
    vault: &std::path::Path,
    saved: &[SavedTrigger],
) -> Result<(), ToolError> {
    use crate::private_file::{Existing, write_whole};
    let path = record_path(vault);
    let bytes = serde_json::to_vec(saved).expect("saved triggers serialize");
    write_whole(&path, &bytes, Existing::Replace).map_err(|e| {
        ToolError::failed(format!(
            "cannot keep the triggers' definitions in {} before dropping them ({e}); nothing was changed",
            path.display()
        ))
    })
}

/// The triggers of the record beside `vault` that do not exist: what a
/// killed or failed restore dropped and did not create again. Empty when
/// there is no record.
pub(in crate::db::mysql) async fn missing_recorded(
    conn: &mut MySqlConnection,
    vault: &std::path::Path,
) -> Result<Vec<SavedTrigger>, ToolError> {
    let path = record_path(vault);
    let Ok(bytes) = std::fs::read(&path) else {
        return Ok(Vec::new());
    };
    let saved: Vec<SavedTrigger> = serde_json::from_slice(&bytes).map_err(|e| {
        ToolError::failed(format!("{}: not a record of triggers: {e}", path.display()))
    })?;
    let mut missing = Vec::new();
    for trigger in saved {
        let exists: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM information_schema.triggers WHERE trigger_schema = ? AND trigger_name = ?",
        )
        .bind(&trigger.schema)
        .bind(&trigger.name)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| mysql_error("", e))?;
        if exists.is_none() {
            missing.push(trigger);
        }
    }
    Ok(missing)
}

/// Creates again every trigger of the record beside `vault` that does not
/// exist, then removes the record. A line per trigger.
pub(in crate::db::mysql) async fn recreate_recorded(
    conn: &mut MySqlConnection,
    vault: &std::path::Path,
) -> Result<Vec<String>, ToolError> {
    let path = record_path(vault);
    let missing = missing_recorded(conn, vault).await?;
    let lines: Vec<String> = missing
        .iter()
        .map(|t| {
            format!(
                "trigger {}.{} created again from {}",
                t.schema,
                t.name,
                path.display()
            )
        })
        .collect();
    let mut state = RestoreState {
        triggers: missing,
        ..RestoreState::default()
    };
    recreate_triggers(conn, &mut state).await?;
    let _ = std::fs::remove_file(&path);
    Ok(lines)
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
        if let Some(vault) = &state.record_dir {
            let _ = std::fs::remove_file(record_path(vault));
        }
        return Ok(());
    }
    if let Some(vault) = &state.record_dir {
        return Err(ToolError::failed(format!(
            "the trigger(s) dropped for the restore could not be created again: {}",
            failed.join("; ")
        ))
        .hint(format!(
            "their definitions are kept in {}; once the cause is fixed, the next restore of {} creates the missing ones again",
            record_path(vault).display(),
            vault.display()
        )));
    }
    Err(ToolError::failed(format!(
        "the trigger(s) dropped for the restore could not be created again: {}",
        failed.join("; ")
    ))
    .hint("create them again from `vault compare` or production's definitions"))
}

/// Refuses, before any trigger is dropped, a trigger whose DEFINER is
/// another account when the restoring account may not create triggers for
/// another definer (SUPER, or MariaDB's SET USER, or MySQL's SET_USER_ID):
/// the restore could drop it and never create it again.
pub(super) async fn require_recreatable(
    conn: &mut MySqlConnection,
    saved: &[SavedTrigger],
) -> Result<(), ToolError> {
    if saved.is_empty() {
        return Ok(());
    }
    let current: String = sqlx::query_scalar("SELECT CAST(CURRENT_USER() AS CHAR)")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| mysql_error("", e))?;
    let grantee = match current.rsplit_once('@') {
        Some((user, host)) => format!("'{user}'@'{host}'"),
        None => format!("'{current}'"),
    };
    let may_set_definer: Option<String> = sqlx::query_scalar(
        "SELECT CAST(privilege_type AS CHAR) FROM information_schema.user_privileges
         WHERE grantee = ? AND privilege_type IN ('SUPER', 'SET USER', 'SET_USER_ID') LIMIT 1",
    )
    .bind(&grantee)
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| mysql_error("", e))?;
    if may_set_definer.is_some() {
        return Ok(());
    }
    for trigger in saved {
        let definer: Option<String> = sqlx::query_scalar(
            "SELECT CAST(definer AS CHAR) FROM information_schema.triggers
             WHERE trigger_schema = ? AND trigger_name = ?",
        )
        .bind(&trigger.schema)
        .bind(&trigger.name)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| mysql_error("", e))?;
        let Some(definer) = definer else { continue };
        if !definer.eq_ignore_ascii_case(&current) {
            return Err(ToolError::failed(format!(
                "trigger {}.{} has DEFINER {definer}, and the restoring account {current} may not create a trigger for another account: the restore drops the triggers of the restored tables and creates them again; nothing was changed",
                trigger.schema, trigger.name
            ))
            .hint("restore as an account with SET USER (MariaDB) or SET_USER_ID (MySQL), or as the trigger's definer"));
        }
    }
    Ok(())
}
