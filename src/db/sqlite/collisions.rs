//! Key collisions on SQLite: captured keys that already name another row in the refreshed target (outside the table's `where`, or another identity), found row by row before any row changes.

use std::io::Read;

use sqlx::Row;
use sqlx::sqlite::SqliteConnection;

use super::{bind, query_error, sql_str, stream_error};
use crate::engine::{CapturedTable, KeyCollision};
use crate::exit::ToolError;
use crate::names::{TableName, quote_ident, quote_table};
use crate::rowcodec;

/// Where the colliding keys wait while their references are counted.
const COLLIDING: &str = "temp.vault_colliding_keys";

pub(super) async fn find(
    conn: &mut SqliteConnection,
    captured: &CapturedTable,
    restored: &[TableName],
    rows: &mut dyn Read,
) -> Result<Option<KeyCollision>, ToolError> {
    let at = captured.table.to_string();
    let table = quote_table(&captured.table);
    let position = |name: &String| {
        captured
            .columns
            .iter()
            .position(|c| &c.name == name)
            .expect("key and identity columns are captured columns")
    };
    let key_at: Vec<usize> = captured.key.iter().map(position).collect();
    let identity_at: Vec<usize> = captured.identity.iter().map(position).collect();
    let mut tests = Vec::new();
    let mut criteria = Vec::new();
    if let Some(filter) = &captured.filter {
        tests.push(format!("NOT coalesce(({filter}), 0)"));
        criteria.push("outside its where".to_owned());
    }
    if !identity_at.is_empty() {
        let differs: Vec<String> = captured
            .identity
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{} IS NOT ?{}", quote_ident(c), key_at.len() + i + 1))
            .collect();
        tests.push(format!("({})", differs.join(" OR ")));
        criteria.push(format!("identity {} differs", captured.identity.join(", ")));
    }
    if tests.is_empty() {
        return Ok(None);
    }
    let key_list: Vec<String> = captured.key.iter().map(|k| quote_ident(k)).collect();
    let key_list = key_list.join(", ");
    let matches: Vec<String> = captured
        .key
        .iter()
        .enumerate()
        .map(|(i, k)| format!("{} IS ?{}", quote_ident(k), i + 1))
        .collect();
    let probe = sql_str(format!(
        "SELECT {} FROM {table} WHERE {}",
        tests.join(" OR "),
        matches.join(" AND ")
    ));
    execute(conn, &at, format!("DROP TABLE IF EXISTS {COLLIDING}")).await?;
    execute(
        conn,
        &at,
        format!("CREATE TABLE {COLLIDING} AS SELECT {key_list} FROM {table} WHERE 0"),
    )
    .await?;
    let remember = sql_str(format!(
        "INSERT INTO {COLLIDING} VALUES ({})",
        (1..=key_at.len())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let mut found = 0u64;
    let mut reader = std::io::BufReader::with_capacity(256 * 1024, rows);
    while let Some(row) =
        rowcodec::read_row(&mut reader, captured.columns.len()).map_err(|e| stream_error(&at, e))?
    {
        let values = key_at.iter().chain(&identity_at).map(|&i| &row[i]);
        let probe = values.fold(sqlx::query(probe.clone()), bind);
        let collides: Option<bool> = probe
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| query_error(&at, e))?
            .map(|r| {
                r.try_get::<Option<bool>, _>(0)
                    .ok()
                    .flatten()
                    .unwrap_or(false)
            });
        if collides == Some(true) {
            let insert = key_at
                .iter()
                .fold(sqlx::query(remember.clone()), |q, &i| bind(q, &row[i]));
            insert
                .execute(&mut *conn)
                .await
                .map_err(|e| query_error(&at, e))?;
            found += 1;
        }
    }
    let mut referring = Vec::new();
    if found > 0 {
        for (by, columns) in foreign_keys(conn, captured, restored).await? {
            let sql = sql_str(format!(
                "SELECT count(*) FROM {} WHERE ({}) IN (SELECT * FROM {COLLIDING})",
                quote_ident(&by),
                columns
                    .iter()
                    .map(|c| quote_ident(c))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            let rows: i64 = sqlx::query_scalar(sql)
                .fetch_one(&mut *conn)
                .await
                .map_err(|e| query_error(&at, e))?;
            if rows > 0 {
                referring.push((by, rows as u64));
            }
        }
    }
    execute(conn, &at, format!("DROP TABLE IF EXISTS {COLLIDING}")).await?;
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

async fn execute(conn: &mut SqliteConnection, at: &str, sql: String) -> Result<(), ToolError> {
    sqlx::query(sql_str(sql))
        .execute(&mut *conn)
        .await
        .map_err(|e| query_error(at, e))?;
    Ok(())
}

/// A foreign key: referring table, its id in `pragma_foreign_key_list`.
type ConstraintId = (String, i64);
/// A referring column and the column it refers to (none: the primary key).
type ColumnPair = (String, Option<String>);

/// The foreign keys that refer to the captured table's key, from tables not
/// restored: the referring table and its columns in key order.
async fn foreign_keys(
    conn: &mut SqliteConnection,
    captured: &CapturedTable,
    restored: &[TableName],
) -> Result<Vec<(String, Vec<String>)>, ToolError> {
    let rows = sqlx::query(
        "SELECT m.name, f.id, f.\"from\", f.\"to\" FROM sqlite_master m, pragma_foreign_key_list(m.name) f
         WHERE m.type = 'table' AND f.\"table\" = ? COLLATE NOCASE ORDER BY m.name, f.id, f.seq",
    )
    .bind(&captured.table.name)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| query_error(&captured.table.to_string(), e))?;
    let mut grouped: Vec<(ConstraintId, Vec<ColumnPair>)> = Vec::new();
    for row in rows {
        let id = (row.get::<String, _>(0), row.get::<i64, _>(1));
        let pair = (row.get::<String, _>(2), row.get::<Option<String>, _>(3));
        match grouped.last_mut() {
            Some((last, pairs)) if *last == id => pairs.push(pair),
            _ => grouped.push((id, vec![pair])),
        }
    }
    let mut out = Vec::new();
    for ((by, _), pairs) in grouped {
        if restored.iter().any(|t| t.name.eq_ignore_ascii_case(&by))
            || pairs.len() != captured.key.len()
        {
            continue;
        }
        // A reference without columns names the parent's primary key.
        let ordered: Option<Vec<String>> = captured
            .key
            .iter()
            .enumerate()
            .map(|(i, k)| {
                pairs
                    .iter()
                    .enumerate()
                    .find(|(j, (_, to))| match to {
                        Some(to) => to.eq_ignore_ascii_case(k),
                        None => *j == i,
                    })
                    .map(|(_, (from, _))| from.clone())
            })
            .collect();
        if let Some(columns) = ordered {
            out.push((by, columns));
        }
    }
    Ok(out)
}
