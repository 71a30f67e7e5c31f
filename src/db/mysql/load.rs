//! The restore on MariaDB/MySQL: triggers dropped before and re-created after one data transaction, foreign keys checked by query before COMMIT, rows loaded by multi-row INSERTs, AUTO_INCREMENT moved ahead after.
//!
//! MySQL commits implicitly around DDL, so nothing inside the data
//! transaction is DDL: the triggers of the restored tables are dropped before
//! START TRANSACTION and re-created after COMMIT (or after ROLLBACK), and
//! AUTO_INCREMENT is fixed after COMMIT, as are grants and links
//! (`link_restore`). Temporary tables (staging) are the
//! one exception both servers allow inside a transaction. docs/mysql.md
//! explains the choices.

mod collisions;
mod insert;
mod references;
mod triggers;

use std::io::Read;

use sqlx::AssertSqlSafe;
use sqlx::mysql::MySqlConnection;

use super::{mysql_error, quote_ident};
use crate::config::Mode;
use crate::engine::{CapturedTable, LoadCounts};
use crate::exit::ToolError;
use crate::names::{TableInfo, TableName};
pub(super) use collisions::find as key_collisions;
use insert::insert_rows;
use references::check_references;
use triggers::{SavedTrigger, recreate_triggers, triggers_of};
pub(super) use triggers::{missing_recorded, record_path, recreate_recorded};

/// The most value bytes one INSERT carries (less when the server's
/// `max_allowed_packet` is small).
const BATCH_BYTES: usize = 4 << 20;

/// What an open restore changed that must be put back, and how it loads.
#[derive(Default)]
pub(super) struct RestoreState {
    /// Triggers dropped before the transaction, re-created after it.
    triggers: Vec<SavedTrigger>,
    /// Tables whose captured rows wait in a temporary table.
    staged: Vec<Staged>,
    /// The session's foreign_key_checks before the restore, while it is off.
    foreign_key_checks: Option<i64>,
    batch_bytes: usize,
    /// Kept accounts created or altered after the data commit, before the grants.
    pub(super) role_statements: Vec<super::roles::Statement>,
    /// GRANT and REVOKE statements to run after the data commit.
    pub(super) grant_statements: Vec<String>,
    /// Acceptance's servers and FEDERATED tables, put back after the grants.
    pub(super) links: super::link_restore::LinkPlan,
    /// Kept code objects to re-create after the data commit.
    pub(super) kept_objects: Vec<crate::objects::KeptObject>,
    /// Those re-created.
    pub(super) recreated: Vec<crate::objects::ObjectChange>,
    /// The data transaction has committed: nothing is left to roll back.
    committed: bool,
    /// The vault whose side keeps the dropped triggers' definitions until
    /// they are created again.
    pub(super) record_dir: Option<std::path::PathBuf>,
}

struct Staged {
    table: TableName,
    /// The temporary table, quoted.
    name: String,
    rows: u64,
}

impl RestoreState {
    fn staged(&self, table: &TableName) -> Option<&Staged> {
        self.staged.iter().find(|s| &s.table == table)
    }
}

/// The table's name for SQL, schema-qualified and quoted.
fn qualified(schema: &str, table: &TableName) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(&table.name))
}

async fn run(conn: &mut MySqlConnection, at: &str, sql: String) -> Result<u64, ToolError> {
    let done = sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(&mut *conn)
        .await
        .map_err(|e| mysql_error(at, e))?;
    Ok(done.rows_affected())
}

/// Saves and drops the restored tables' triggers (DDL: before the
/// transaction), switches foreign-key checks off for the session and opens
/// the data transaction.
pub(super) async fn begin(
    conn: &mut MySqlConnection,
    state: &mut RestoreState,
    database: &str,
    tables: &[TableInfo],
) -> Result<(), ToolError> {
    *state = RestoreState {
        record_dir: state.record_dir.take(),
        ..RestoreState::default()
    };
    let packet: i64 = sqlx::query_scalar("SELECT CAST(@@max_allowed_packet AS SIGNED)")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| mysql_error("", e))?;
    state.batch_bytes = BATCH_BYTES.min(
        usize::try_from(packet / 4)
            .unwrap_or(BATCH_BYTES)
            .max(1 << 16),
    );
    let checks: i64 = sqlx::query_scalar("SELECT CAST(@@SESSION.foreign_key_checks AS SIGNED)")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| mysql_error("", e))?;
    let mut saved = Vec::new();
    for table in tables {
        let schema = table.name.schema.as_deref().unwrap_or(database);
        saved.extend(triggers_of(conn, schema, &table.name).await?);
    }
    triggers::require_recreatable(conn, &saved).await?;
    if let Some(dir) = &state.record_dir
        && !saved.is_empty()
    {
        triggers::write_record(dir, &saved)?;
    }
    for (i, trigger) in saved.iter().enumerate() {
        let drop = format!(
            "DROP TRIGGER {}.{}",
            quote_ident(&trigger.schema),
            quote_ident(&trigger.name)
        );
        if let Err(error) = run(conn, "", drop).await {
            state.triggers = saved.drain(..i).collect();
            let _ = recreate_triggers(conn, state).await;
            return Err(
                error.hint("the restoring user needs the TRIGGER privilege on the restored tables")
            );
        }
    }
    state.triggers = saved;
    state.foreign_key_checks = Some(checks);
    let opened = run(
        conn,
        "",
        "SET SESSION foreign_key_checks = 0, SESSION innodb_lock_wait_timeout = 60".into(),
    )
    .await;
    let opened = match opened {
        Ok(_) => run(conn, "", "START TRANSACTION".into()).await,
        Err(e) => Err(e),
    };
    if let Err(error) = opened {
        let _ = finish(conn, state).await;
        return Err(error);
    }
    Ok(())
}

/// Reads one table's rows into a temporary table, unless the table is
/// loaded straight from the stream: a replace without `where` (the table is
/// emptied first) or an empty table.
pub(super) async fn stage(
    conn: &mut MySqlConnection,
    state: &mut RestoreState,
    schema: &str,
    captured: &CapturedTable,
    target: &TableInfo,
    rows: &mut dyn Read,
) -> Result<(), ToolError> {
    let at = captured.table.to_string();
    let table = qualified(schema, &captured.table);
    let empty = sqlx::raw_sql(AssertSqlSafe(format!("SELECT 1 FROM {table} LIMIT 1")))
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| mysql_error(&at, e))?
        .is_none();
    // (A table whose collisions are looked for by identity is staged: the
    // captured rows must be compared with the target's before it changes.)
    if empty
        || (captured.mode == Mode::Replace
            && captured.filter.is_none()
            && captured.identity.is_empty())
    {
        return Ok(()); // loaded straight from the stream
    }
    let name = quote_ident(&format!("vault_stage_{}", state.staged.len() + 1));
    let columns: Vec<String> = captured
        .columns
        .iter()
        .map(|c| quote_ident(&c.name))
        .collect();
    let index: Vec<String> = captured
        .key
        .iter()
        .map(|k| {
            let long = target.column(k).is_some_and(|c| {
                let t = c.data_type.to_ascii_lowercase();
                t.contains("text") || t.contains("blob") || t.starts_with("json")
            });
            if long {
                format!("{}(255)", quote_ident(k))
            } else {
                quote_ident(k)
            }
        })
        .collect();
    let index = if index.is_empty() {
        String::new()
    } else {
        format!("(INDEX ({})) ", index.join(", "))
    };
    run(
        conn,
        &at,
        format!(
            "CREATE TEMPORARY TABLE {name} {index}ENGINE = InnoDB SELECT {} FROM {table} LIMIT 0",
            columns.join(", ")
        ),
    )
    .await?;
    state.staged.push(Staged {
        table: captured.table.clone(),
        name: name.clone(),
        rows: 0,
    });
    let staged = insert_rows(conn, state.batch_bytes, captured, target, &name, rows).await?;
    if let Some(s) = state.staged.last_mut() {
        s.rows = staged;
    }
    Ok(())
}

/// Replace mode: deletes the target rows in scope, except (when staged) the
/// rows whose key was captured, which the load overwrites in place.
pub(super) async fn clear_scope(
    conn: &mut MySqlConnection,
    state: &RestoreState,
    schema: &str,
    captured: &CapturedTable,
) -> Result<u64, ToolError> {
    let at = captured.table.to_string();
    let table = qualified(schema, &captured.table);
    let mut conditions = Vec::new();
    if let Some(filter) = &captured.filter {
        conditions.push(format!("({filter})"));
    }
    if let Some(staged) = state.staged(&captured.table) {
        conditions.push(format!(
            "NOT EXISTS (SELECT 1 FROM {} vault_stage WHERE {})",
            staged.name,
            key_match(&table, captured)
        ));
    }
    let mut sql = format!("DELETE FROM {table}");
    if !conditions.is_empty() {
        sql.push_str(&format!(" WHERE {}", conditions.join(" AND ")));
    }
    // The recorded filter goes only through a prepared statement: one
    // statement, whatever the text holds.
    let done = sqlx::query(AssertSqlSafe(sql))
        .persistent(false)
        .execute(&mut *conn)
        .await
        .map_err(|e| mysql_error(&at, e))?;
    Ok(done.rows_affected())
}

/// Loads one table with its mode: straight from the stream, or from its
/// staged copy in one or two statements.
pub(super) async fn load(
    conn: &mut MySqlConnection,
    state: &RestoreState,
    schema: &str,
    captured: &CapturedTable,
    target: &TableInfo,
    rows: &mut dyn Read,
) -> Result<LoadCounts, ToolError> {
    let at = captured.table.to_string();
    let table = qualified(schema, &captured.table);
    let Some(staged) = state.staged(&captured.table) else {
        let inserted = insert_rows(conn, state.batch_bytes, captured, target, &table, rows).await?;
        return Ok(LoadCounts {
            inserted,
            ..LoadCounts::default()
        });
    };
    let columns: Vec<String> = captured
        .columns
        .iter()
        .map(|c| quote_ident(&c.name))
        .collect();
    let matches = key_match(&table, captured);
    let insert = format!(
        "INSERT INTO {table} ({cols}) SELECT {cols} FROM {} vault_stage
         WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE {matches})",
        staged.name,
        cols = columns.join(", ")
    );
    let mut counts = LoadCounts::default();
    if captured.mode == Mode::InsertMissing {
        counts.inserted = run(conn, &at, insert).await?;
        counts.skipped = staged.rows.saturating_sub(counts.inserted);
        return Ok(counts);
    }
    let present: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM {} vault_stage WHERE EXISTS (SELECT 1 FROM {table} WHERE {matches})",
        staged.name
    )))
    .persistent(false)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| mysql_error(&at, e))?;
    let present = present as u64;
    counts.inserted = staged.rows.saturating_sub(present);
    // Rows already there are kept until the UPDATE below says which differed.
    counts.skipped = present;
    let updatable: Vec<String> = captured
        .columns
        .iter()
        .filter(|c| !captured.key.contains(&c.name))
        .map(|c| quote_ident(&c.name))
        .collect();
    let set: Vec<String> = updatable
        .iter()
        .map(|column| format!("{table}.{column} = vault_stage.{column}"))
        .collect();
    // Only rows whose stored bytes differ are written, so that the count is
    // of rows changed (sqlx asks the server for rows matched): compared as
    // bytes, since a collation calls 'a' and 'A' equal.
    let differs: Vec<String> = updatable
        .iter()
        .map(|column| {
            format!(
                "NOT (CAST({table}.{column} AS BINARY) <=> CAST(vault_stage.{column} AS BINARY))"
            )
        })
        .collect();
    if present > 0 && !set.is_empty() {
        counts.updated = run(
            conn,
            &at,
            format!(
                "UPDATE {table} JOIN {} vault_stage ON {matches} SET {} WHERE {}",
                staged.name,
                set.join(", "),
                differs.join(" OR ")
            ),
        )
        .await?;
        counts.skipped = present.saturating_sub(counts.updated);
    }
    if counts.inserted > 0 {
        run(conn, &at, insert).await?;
    }
    Ok(counts)
}

/// `table.k = vault_stage.k AND ...` over the key columns.
fn key_match(table: &str, captured: &CapturedTable) -> String {
    captured
        .key
        .iter()
        .map(|k| {
            // NULL matches NULL in a key (as the docs promise).
            let nullable = captured.columns.iter().any(|c| &c.name == k && c.nullable);
            let equals = if nullable { "<=>" } else { "=" };
            format!("{table}.{k} {equals} vault_stage.{k}", k = quote_ident(k))
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// Checks references, drops the staging tables and commits; then, outside
/// the transaction, moves AUTO_INCREMENT ahead, re-creates the triggers,
/// runs the grant statements and re-creates the kept code objects.
pub(super) async fn commit(
    conn: &mut MySqlConnection,
    state: &mut RestoreState,
    database: &str,
    tables: &[TableInfo],
) -> Result<(), ToolError> {
    check_references(conn, database, tables).await?;
    drop_staging(conn, state).await?;
    run(conn, "", "COMMIT".into()).await.map_err(|e| {
        ToolError::failed(format!(
            "the restore could not commit: {}; nothing was changed",
            e.message
        ))
    })?;
    state.committed = true;
    // From here the rows are in; every step runs, and their failures are
    // reported together.
    let mut failures = Vec::new();
    if let Err(e) = restore_foreign_key_checks(conn, state).await {
        failures.push(e.message);
    }
    for table in tables {
        let schema = table.name.schema.as_deref().unwrap_or(database);
        if let Err(e) = advance_auto_increment(conn, schema, table).await {
            failures.push(e.message);
        }
    }
    if let Err(e) = recreate_triggers(conn, state).await {
        failures.push(e.message);
    }
    // Every statement is tried: one that fails does not keep the others
    // from running, and each that did not run is named.
    let roles = std::mem::take(&mut state.role_statements);
    failures.extend(super::roles::apply(conn, roles).await);
    for statement in std::mem::take(&mut state.grant_statements) {
        if let Err(e) = run(conn, "", statement.clone()).await {
            failures.push(format!("grants: did not run {statement}: {}", e.message));
        }
    }
    let links = std::mem::take(&mut state.links);
    failures.extend(super::link_restore::apply(conn, database, links).await);
    let kept = std::mem::take(&mut state.kept_objects);
    let (recreated, failed) = super::objects::recreate(conn, database, &kept).await;
    state.recreated = recreated;
    failures.extend(failed);
    if failures.is_empty() {
        return Ok(());
    }
    Err(ToolError::failed(format!(
        "{} a step after the commit failed: {}",
        crate::restore::AFTER_COMMIT,
        failures.join("; ")
    ))
    .hint("fix the cause, then run the failed step by hand (see docs/mysql.md)"))
}

async fn restore_foreign_key_checks(
    conn: &mut MySqlConnection,
    state: &mut RestoreState,
) -> Result<(), ToolError> {
    if let Some(checks) = state.foreign_key_checks.take() {
        run(
            conn,
            "",
            format!(
                "SET SESSION foreign_key_checks = {}",
                i64::from(checks != 0)
            ),
        )
        .await?;
    }
    Ok(())
}

async fn drop_staging(
    conn: &mut MySqlConnection,
    state: &mut RestoreState,
) -> Result<(), ToolError> {
    for staged in std::mem::take(&mut state.staged) {
        run(
            conn,
            "",
            format!("DROP TEMPORARY TABLE IF EXISTS {}", staged.name),
        )
        .await?;
    }
    Ok(())
}

/// Rolls the data transaction back, then puts back what was changed
/// outside it (triggers, the session's foreign-key checks).
pub(super) async fn rollback(
    conn: &mut MySqlConnection,
    state: &mut RestoreState,
) -> Result<(), ToolError> {
    state.role_statements.clear();
    state.grant_statements.clear();
    state.links = Default::default();
    if std::mem::take(&mut state.committed) {
        // A step after the commit failed: the rows stay restored, and
        // the error says so.
        return Ok(());
    }
    let rolled = run(conn, "", "ROLLBACK".into()).await;
    let _ = drop_staging(conn, state).await;
    finish(conn, state).await?;
    rolled.map(|_| ())
}

/// Session checks back on, triggers back.
async fn finish(conn: &mut MySqlConnection, state: &mut RestoreState) -> Result<(), ToolError> {
    let checks = restore_foreign_key_checks(conn, state).await;
    recreate_triggers(conn, state).await?;
    checks
}

/// Sets the table's AUTO_INCREMENT past its column's largest value when
/// it is behind (InnoDB usually moved it already); never moves it back.
async fn advance_auto_increment(
    conn: &mut MySqlConnection,
    schema: &str,
    table: &TableInfo,
) -> Result<(), ToolError> {
    let at = table.name.to_string();
    let column: Option<String> = sqlx::query_scalar(
        "SELECT column_name FROM information_schema.columns
         WHERE table_schema = ? AND table_name = ? AND extra LIKE '%auto_increment%'",
    )
    .bind(schema)
    .bind(&table.name.name)
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| mysql_error(&at, e))?;
    let Some(column) = column else {
        return Ok(());
    };
    let name = qualified(schema, &table.name);
    let largest: Option<String> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT CAST(MAX({}) AS CHAR) FROM {name}",
        quote_ident(&column)
    )))
    .persistent(false)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| mysql_error(&at, e))?;
    let Some(largest) = largest.and_then(|v| v.parse::<i128>().ok()) else {
        return Ok(());
    };
    let counter = auto_increment_of(conn, schema, &table.name).await?;
    let next = largest + 1;
    if counter.is_some_and(|c| c >= next) || next > i128::from(u64::MAX) {
        return Ok(());
    }
    run(
        conn,
        &at,
        format!("ALTER TABLE {name} AUTO_INCREMENT = {next}"),
    )
    .await?;
    Ok(())
}

/// The table's next AUTO_INCREMENT value, read fresh (MySQL 8 caches
/// information_schema statistics unless told not to).
pub(super) async fn auto_increment_of(
    conn: &mut MySqlConnection,
    schema: &str,
    table: &TableName,
) -> Result<Option<i128>, ToolError> {
    let at = table.to_string();
    // Only MySQL 8 has the variable; MariaDB reads the value live.
    let _ = sqlx::raw_sql("SET SESSION information_schema_stats_expiry = 0")
        .execute(&mut *conn)
        .await;
    let value: Option<String> = sqlx::query_scalar(
        "SELECT CAST(auto_increment AS CHAR) FROM information_schema.tables
         WHERE table_schema = ? AND table_name = ?",
    )
    .bind(schema)
    .bind(&table.name)
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| mysql_error(&at, e))?
    .flatten();
    Ok(value.and_then(|v| v.parse().ok()))
}
