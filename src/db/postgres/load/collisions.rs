//! Key collisions on PostgreSQL: captured keys that already name another row in the refreshed target (outside the table's `where`, or another identity), found in the staged copy before any row changes.

use sqlx::Row;
use sqlx::postgres::PgConnection;

use super::{RestoreState, key_match};
use crate::db::postgres::{pg_error, qualified};
use crate::engine::{CapturedTable, KeyCollision};
use crate::exit::ToolError;
use crate::names::{TableName, quote_ident};

/// The foreign keys that refer to `$1`, from tables not among `$2`:
/// referring table, its columns, the referred columns.
const REFERRING: &str = "
SELECT c.conrelid::regclass::text,
       (SELECT array_agg(a.attname::text ORDER BY k.o)
          FROM unnest(c.conkey) WITH ORDINALITY AS k(n, o)
          JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n),
       (SELECT array_agg(a.attname::text ORDER BY k.o)
          FROM unnest(c.confkey) WITH ORDINALITY AS k(n, o)
          JOIN pg_catalog.pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n)
FROM pg_catalog.pg_constraint c
WHERE c.contype = 'f' AND c.confrelid = $1::regclass
  AND c.conrelid <> ALL ($2::text[]::regclass[])
ORDER BY 1";

pub(in crate::db::postgres) async fn find(
    conn: &mut PgConnection,
    state: &RestoreState,
    captured: &CapturedTable,
    restored: &[TableName],
) -> Result<Option<KeyCollision>, ToolError> {
    // A table that was empty when staged holds no row to collide with.
    let Some(staged) = state.staged(&captured.table) else {
        return Ok(None);
    };
    let at = captured.table.to_string();
    let identity = &captured.identity;
    let table = qualified(&captured.table);
    let matches = key_match(&table, captured, staged);
    let mut conditions = Vec::new();
    let mut criteria = Vec::new();
    if let Some(filter) = &captured.filter {
        conditions.push(format!(
            "(EXISTS (SELECT 1 FROM {} vault_stage WHERE {matches}) AND NOT coalesce(({filter}), false))",
            staged.name
        ));
        criteria.push("outside its where".to_owned());
    }
    if !identity.is_empty() {
        let differs: Vec<String> = identity
            .iter()
            .map(|name| {
                let i = captured
                    .columns
                    .iter()
                    .position(|c| &c.name == name)
                    .expect("identity columns are captured columns");
                format!(
                    "{table}.{} IS DISTINCT FROM {}",
                    quote_ident(name),
                    staged.exprs[i]
                )
            })
            .collect();
        conditions.push(format!(
            "EXISTS (SELECT 1 FROM {} vault_stage WHERE {matches} AND ({}))",
            staged.name,
            differs.join(" OR ")
        ));
        criteria.push(format!("identity {} differs", identity.join(", ")));
    }
    if conditions.is_empty() {
        return Ok(None);
    }
    let colliding = conditions.join(" OR ");
    let keys: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM {table} WHERE {colliding}"
    )))
    .persistent(false)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| pg_error(&at, e))?;
    if keys == 0 {
        return Ok(None);
    }
    let others: Vec<String> = restored.iter().map(qualified).collect();
    let foreign_keys = sqlx::query(REFERRING)
        .bind(&table)
        .bind(&others)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| pg_error(&at, e))?;
    let mut referring = Vec::new();
    for fk in foreign_keys {
        let (by, columns, referred): (String, Vec<String>, Vec<String>) =
            (fk.get(0), fk.get(1), fk.get(2));
        // Only references to the key itself follow the key.
        let mut ordered = Vec::new();
        for key in &captured.key {
            match referred.iter().position(|r| r == key) {
                Some(i) => ordered.push(quote_ident(&columns[i])),
                None => break,
            }
        }
        if ordered.len() != captured.key.len() || referred.len() != captured.key.len() {
            continue;
        }
        let key_columns: Vec<String> = captured
            .key
            .iter()
            .map(|k| format!("{table}.{}", quote_ident(k)))
            .collect();
        let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {by} vault_referring WHERE ({}) IN (SELECT {} FROM {table} WHERE {colliding})",
            ordered
                .iter()
                .map(|c| format!("vault_referring.{c}"))
                .collect::<Vec<_>>()
                .join(", "),
            key_columns.join(", ")
        )))
        .persistent(false)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| pg_error(&at, e))?;
        if rows > 0 {
            referring.push((by, rows as u64));
        }
    }
    Ok(Some(KeyCollision {
        table: at,
        keys: keys as u64,
        criteria: criteria.join("; "),
        referring,
        accepted: false,
    }))
}
