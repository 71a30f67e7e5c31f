//! SQLite's pseudonyms: computed by the tool (`pseudonym::derive`), inside the sanitize transaction, since sqlx registers no SQL function without unsafe code.
//!
//! SQLite is a file the tool opens itself, so no value crosses a network:
//! each distinct value of a column is copied into a temporary table of
//! this connection (`temp.vault_pseudonym_N`, created inside the
//! transaction, dropped before it ends, gone with a rollback), its
//! pseudonym computed in batches and written beside it, and then one
//! `UPDATE` replaces every value by its pseudonym. Equal values are
//! matched byte for byte (the temporary column's BINARY collation), not by
//! the column's own collation.

use sqlx::{AssertSqlSafe, Row};

use super::{Sqlite, query_error};
use crate::exit::ToolError;
use crate::names::{TableName, quote_ident, quote_table};
use crate::pseudonym::{Kind, NotADate, PseudonymKey, derive};

/// Values read and written back per round trip.
const BATCH: i64 = 2000;

pub(super) async fn pseudonymize(
    db: &mut Sqlite,
    table: &TableName,
    columns: &[(&String, Kind)],
    filter: Option<&str>,
    key: &PseudonymKey,
) -> Result<u64, ToolError> {
    let sql_table = quote_table(table);
    let filter_and = filter.map(|f| format!("({f}) AND ")).unwrap_or_default();
    let held: Vec<String> = columns
        .iter()
        .map(|(c, _)| format!("{} IS NOT NULL", quote_ident(c)))
        .collect();
    let selected = format!("{filter_and}({})", held.join(" OR "));
    let rows: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT count(*) FROM {sql_table} WHERE {selected}"
    )))
    .fetch_one(&mut db.conn)
    .await
    .map_err(|e| query_error("", e))?;
    let mut sets = Vec::new();
    for (i, (column, kind)) in columns.iter().enumerate() {
        let map = format!("temp.vault_pseudonym_{i}");
        let quoted = quote_ident(column);
        db.execute(&format!(
            "DROP TABLE IF EXISTS {map}; CREATE TEMP TABLE vault_pseudonym_{i} (old UNIQUE, new)"
        ))
        .await?;
        sqlx::query(AssertSqlSafe(format!(
            "INSERT OR IGNORE INTO {map} (old) SELECT {quoted} FROM {sql_table} WHERE {filter_and}{quoted} IS NOT NULL"
        )))
        .execute(&mut db.conn)
        .await
        .map_err(|e| query_error("", e))?;
        fill(db, &map, column, kind, key).await?;
        // `+` strips the column's affinity and collation: the values are
        // matched exactly as they were copied, through the map's index.
        sets.push(format!(
            "{quoted} = (SELECT m.new FROM {map} AS m WHERE m.old = +{sql_table}.{quoted})"
        ));
    }
    sqlx::query(AssertSqlSafe(format!(
        "UPDATE {sql_table} SET {} WHERE {selected}",
        sets.join(", ")
    )))
    .execute(&mut db.conn)
    .await
    .map_err(|e| query_error("", e))?;
    for i in 0..columns.len() {
        db.execute(&format!("DROP TABLE temp.vault_pseudonym_{i}"))
            .await?;
    }
    Ok(rows.max(0) as u64)
}

/// Writes each value's pseudonym beside it in the map, a batch at a time.
async fn fill(
    db: &mut Sqlite,
    map: &str,
    column: &str,
    kind: &Kind,
    key: &PseudonymKey,
) -> Result<(), ToolError> {
    let mut after = 0i64;
    loop {
        let batch = sqlx::query(AssertSqlSafe(format!(
            "SELECT rowid, CAST(old AS TEXT) FROM {map} WHERE rowid > ?1 ORDER BY rowid LIMIT ?2"
        )))
        .bind(after)
        .bind(BATCH)
        .fetch_all(&mut db.conn)
        .await
        .map_err(|e| query_error("", e))?;
        let Some(last) = batch.last() else {
            return Ok(());
        };
        after = last.get(0);
        for row in batch {
            let rowid: i64 = row.get(0);
            let value: String = row.get(1);
            let new = derive(key, kind, &value).map_err(|NotADate| {
                ToolError::failed(format!(
                    "column {column}: a value is not a date (YYYY-MM-DD, optionally followed by a time); the value is not shown"
                ))
                .hint("limit the rule with `where` to the rows that hold dates, or correct the values")
            })?;
            sqlx::query(AssertSqlSafe(format!(
                "UPDATE {map} SET new = ?1 WHERE rowid = ?2"
            )))
            .bind(new)
            .bind(rowid)
            .execute(&mut db.conn)
            .await
            .map_err(|e| query_error("", e))?;
        }
    }
}

/// True when the column holds a value no pseudonym of `kind` has. SQLite
/// has no regular expressions: names are looked up in the lists, a pattern
/// becomes an exact GLOB, an email is matched by a looser GLOB.
pub(super) fn misshapen(column: &str, kind: &Kind) -> Option<String> {
    use crate::pseudonym::{FIRST, LAST};
    let q = quote_ident(column);
    let list = |names: &[&str]| {
        let items: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
        format!("({})", items.join(","))
    };
    let shape = match kind {
        Kind::FirstName => format!("{q} IN {}", list(&FIRST)),
        Kind::LastName => format!("{q} IN {}", list(&LAST)),
        Kind::Name => format!(
            "substr({q}, 1, instr({q}, ' ') - 1) IN {} AND substr({q}, instr({q}, ' ') + 1) IN {}",
            list(&FIRST),
            list(&LAST)
        ),
        Kind::Email => format!("{q} GLOB '[a-z]*.[a-z]*[0-9]@example.org'"),
        Kind::Phone(p) | Kind::Identifier(p) => format!("{q} GLOB '{}'", p.glob()),
        Kind::DateShift { .. } => return None,
    };
    Some(format!("({q} IS NOT NULL AND NOT ({shape}))"))
}
