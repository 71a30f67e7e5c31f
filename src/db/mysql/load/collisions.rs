//! Key collisions on MariaDB/MySQL: captured keys that already name another row in the refreshed target (outside the table's `where`, or another identity), found against the staged copy before any row changes.

use sqlx::mysql::MySqlConnection;
use sqlx::{AssertSqlSafe, Row};

use super::{RestoreState, key_match, qualified, run};
use crate::db::mysql::{mysql_error, quote_ident};
use crate::engine::{CapturedTable, KeyCollision};
use crate::exit::ToolError;
use crate::names::TableName;

/// The colliding keys wait here while their references are counted (a
/// temporary table may appear only once in a MySQL statement).
const COLLIDING: &str = "vault_colliding_keys";

pub(in crate::db::mysql) async fn find(
    conn: &mut MySqlConnection,
    state: &RestoreState,
    database: &str,
    captured: &CapturedTable,
    restored: &[TableName],
) -> Result<Option<KeyCollision>, ToolError> {
    // A table that was empty when staged holds no row to collide with.
    let Some(staged) = state.staged(&captured.table) else {
        return Ok(None);
    };
    let at = captured.table.to_string();
    let schema = captured.table.schema.as_deref().unwrap_or(database);
    let table = qualified(schema, &captured.table);
    let matches = key_match(&table, captured);
    let keys: Vec<String> = captured
        .key
        .iter()
        .map(|k| format!("{table}.{}", quote_ident(k)))
        .collect();
    let keys = keys.join(", ");
    let mut selects = Vec::new();
    let mut criteria = Vec::new();
    if let Some(filter) = &captured.filter {
        selects.push(format!(
            "SELECT {keys} FROM {table} WHERE EXISTS (SELECT 1 FROM {} vault_stage WHERE {matches}) AND NOT coalesce(({filter}), FALSE)",
            staged.name
        ));
        criteria.push("outside its where".to_owned());
    }
    if !captured.identity.is_empty() {
        let differs: Vec<String> = captured
            .identity
            .iter()
            .map(|c| {
                let c = quote_ident(c);
                format!("NOT ({table}.{c} <=> vault_stage.{c})")
            })
            .collect();
        selects.push(format!(
            "SELECT {keys} FROM {table} WHERE EXISTS (SELECT 1 FROM {} vault_stage WHERE {matches} AND ({}))",
            staged.name,
            differs.join(" OR ")
        ));
        criteria.push(format!("identity {} differs", captured.identity.join(", ")));
    }
    if selects.is_empty() {
        return Ok(None);
    }
    run(
        conn,
        &at,
        format!("DROP TEMPORARY TABLE IF EXISTS {COLLIDING}"),
    )
    .await?;
    let mut first = true;
    for select in selects {
        let sql = match first {
            true => format!("CREATE TEMPORARY TABLE {COLLIDING} {select}"),
            false => format!("INSERT INTO {COLLIDING} {select}"),
        };
        first = false;
        // The recorded filter goes only through a prepared statement.
        sqlx::query(AssertSqlSafe(sql))
            .persistent(false)
            .execute(&mut *conn)
            .await
            .map_err(|e| mysql_error(&at, e))?;
    }
    let found = count(
        conn,
        &at,
        format!("SELECT COUNT(*) FROM (SELECT DISTINCT * FROM {COLLIDING}) k"),
    )
    .await?;
    let mut referring = Vec::new();
    if found > 0 {
        for (by, columns) in foreign_keys(conn, schema, captured, restored).await? {
            let list: Vec<String> = columns
                .iter()
                .map(|c| format!("vault_referring.{}", quote_ident(c)))
                .collect();
            let rows = count(
                conn,
                &at,
                format!(
                    "SELECT COUNT(*) FROM {by} vault_referring WHERE ({}) IN (SELECT * FROM {COLLIDING})",
                    list.join(", ")
                ),
            )
            .await?;
            if rows > 0 {
                referring.push((by.replace('`', ""), rows));
            }
        }
    }
    run(
        conn,
        &at,
        format!("DROP TEMPORARY TABLE IF EXISTS {COLLIDING}"),
    )
    .await?;
    if found == 0 {
        return Ok(None);
    }
    Ok(Some(KeyCollision {
        table: at,
        keys: found,
        criteria: criteria.join("; "),
        referring,
        accepted: false,
    }))
}

async fn count(conn: &mut MySqlConnection, at: &str, sql: String) -> Result<u64, ToolError> {
    let n: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
        .persistent(false)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| mysql_error(at, e))?;
    Ok(n as u64)
}

/// A foreign key: schema, table, constraint name.
type ConstraintId = (String, String, String);
/// A referring column and the column it refers to.
type ColumnPair = (String, String);

/// The foreign keys that refer to the captured table's key, from tables not
/// restored: the referring table (quoted) and its columns in key order.
async fn foreign_keys(
    conn: &mut MySqlConnection,
    schema: &str,
    captured: &CapturedTable,
    restored: &[TableName],
) -> Result<Vec<(String, Vec<String>)>, ToolError> {
    let rows = sqlx::query(
        "SELECT table_schema, table_name, constraint_name, column_name, referenced_column_name
         FROM information_schema.key_column_usage
         WHERE referenced_table_schema = ? AND referenced_table_name = ?
         ORDER BY table_schema, table_name, constraint_name, ordinal_position",
    )
    .bind(schema)
    .bind(&captured.table.name)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| mysql_error(&captured.table.to_string(), e))?;
    // (schema, table, constraint) -> [(column, referenced column)]
    let mut grouped: Vec<(ConstraintId, Vec<ColumnPair>)> = Vec::new();
    for row in rows {
        let text = |i: usize| -> String {
            row.try_get::<String, _>(i)
                .or_else(|_| {
                    row.try_get::<Vec<u8>, _>(i)
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                })
                .unwrap_or_default()
        };
        let id = (text(0), text(1), text(2));
        let pair = (text(3), text(4));
        match grouped.last_mut() {
            Some((last, pairs)) if *last == id => pairs.push(pair),
            _ => grouped.push((id, vec![pair])),
        }
    }
    let mut out = Vec::new();
    for ((by_schema, by_table, _), pairs) in grouped {
        let is_restored = restored
            .iter()
            .any(|t| t.name == by_table && t.schema.as_deref().unwrap_or(schema) == by_schema);
        if is_restored || pairs.len() != captured.key.len() {
            continue;
        }
        let ordered: Option<Vec<String>> = captured
            .key
            .iter()
            .map(|k| pairs.iter().find(|(_, r)| r == k).map(|(c, _)| c.clone()))
            .collect();
        if let Some(columns) = ordered {
            out.push((
                format!("{}.{}", quote_ident(&by_schema), quote_ident(&by_table)),
                columns,
            ));
        }
    }
    Ok(out)
}
