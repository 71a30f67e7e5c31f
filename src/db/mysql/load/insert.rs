//! Rows from a vault stream into a table by multi-row INSERTs with bound values, in batches; a value that no longer fits a changed column is schema drift.

use std::io::{BufReader, Read};

use sqlx::mysql::{MySqlArguments, MySqlConnection, MySqlDatabaseError};
use sqlx::{AssertSqlSafe, MySql, Row};

use crate::db::mysql::{describe_error, mysql_error, quote_ident};
use crate::engine::CapturedTable;
use crate::exit::{Exit, ToolError};
use crate::names::{Column, TableInfo};
use crate::rowcodec::{self, Value};

/// The most rows one INSERT carries.
const BATCH_ROWS: usize = 1000;
/// The most placeholders one prepared statement may have.
const MAX_PLACEHOLDERS: usize = 65_535;

/// Columns whose type changed since the capture: (name, captured, now).
fn changed_types<'a>(
    captured: &'a CapturedTable,
    target: &'a TableInfo,
) -> Vec<(&'a Column, &'a Column)> {
    captured
        .columns
        .iter()
        .filter_map(|c| target.column(&c.name).map(|now| (c, now)))
        .filter(|(c, now)| !c.data_type.eq_ignore_ascii_case(&now.data_type))
        .collect()
}

/// Reads the stream's rows and writes them into `into` by multi-row
/// INSERTs with bound values, in batches; returns the rows written.
pub(super) async fn insert_rows(
    conn: &mut MySqlConnection,
    batch_bytes: usize,
    captured: &CapturedTable,
    target: &TableInfo,
    into: &str,
    rows: &mut dyn Read,
) -> Result<u64, ToolError> {
    let at = captured.table.to_string();
    let width = captured.columns.len();
    let batch_rows = BATCH_ROWS.min(MAX_PLACEHOLDERS / width.max(1)).max(1);
    let changed = changed_types(captured, target);
    let head = format!(
        "INSERT INTO {into} ({}) VALUES ",
        captured
            .columns
            .iter()
            .map(|c| quote_ident(&c.name))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let tuple = format!("({})", vec!["?"; width].join(", "));
    let statement = |n: usize| format!("{head}{}", vec![tuple.as_str(); n].join(", "));
    let full = statement(batch_rows);
    let mut input = BufReader::with_capacity(256 * 1024, rows);
    let mut batch: Vec<Vec<Value>> = Vec::with_capacity(batch_rows);
    let mut bytes = 0usize;
    let mut written = 0u64;
    loop {
        let row = rowcodec::read_row(&mut input, width).map_err(|e| stream_error(&at, e))?;
        let end = row.is_none();
        if let Some(row) = row {
            bytes += row.iter().map(value_size).sum::<usize>();
            batch.push(row);
        }
        if batch.is_empty() || (!end && batch.len() < batch_rows && bytes < batch_bytes) {
            if end {
                break;
            }
            continue;
        }
        let n = batch.len();
        let sql = if n == batch_rows {
            full.clone()
        } else {
            statement(n)
        };
        let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(n == batch_rows);
        for value in batch.drain(..).flatten() {
            query = bind(query, value);
        }
        query
            .execute(&mut *conn)
            .await
            .map_err(|e| value_error(&at, &changed, e))?;
        if !changed.is_empty() {
            // A changed type may round or cut a value with only a warning.
            // Read in one text-protocol statement: a prepare would reset the count.
            let row = sqlx::raw_sql("SELECT @@warning_count")
                .fetch_one(&mut *conn)
                .await
                .map_err(|e| mysql_error(&at, e))?;
            let warnings: Vec<u8> = row.try_get_unchecked(0).map_err(|e| mysql_error(&at, e))?;
            if warnings != b"0" {
                return Err(drift(
                    &at,
                    &changed,
                    "captured values would change in the conversion",
                ));
            }
        }
        written += n as u64;
        bytes = 0;
        if end {
            break;
        }
    }
    Ok(written)
}

fn value_size(value: &Value) -> usize {
    match value {
        Value::Text(s) => s.len() + 8,
        Value::Blob(b) => b.len() + 8,
        _ => 9,
    }
}

type Query<'q> = sqlx::query::Query<'q, MySql, MySqlArguments>;

fn bind(query: Query<'_>, value: Value) -> Query<'_> {
    match value {
        Value::Null => query.bind(None::<String>),
        Value::Integer(v) => query.bind(v),
        Value::Real(v) => query.bind(v),
        Value::Text(v) => query.bind(v),
        Value::Blob(v) => query.bind(v),
    }
}

/// A failed INSERT: a value that does not fit a column whose type changed
/// since the capture is schema drift (exit 2); anything else is the server's error.
fn value_error(at: &str, changed: &[(&Column, &Column)], error: sqlx::Error) -> ToolError {
    let number = error
        .as_database_error()
        .and_then(|e| e.try_downcast_ref::<MySqlDatabaseError>())
        .map(|e| e.number());
    const VALUE_ERRORS: [u16; 8] = [1264, 1265, 1292, 1366, 1406, 3140, 4025, 1367];
    match number {
        Some(n) if !changed.is_empty() && VALUE_ERRORS.contains(&n) => drift(
            at,
            changed,
            &format!("a captured value does not fit ({})", describe_error(&error)),
        ),
        _ => mysql_error(at, error),
    }
}

/// A schema-drift error (exit 2) naming the changed columns.
fn drift(at: &str, changed: &[(&Column, &Column)], problem: &str) -> ToolError {
    let columns: Vec<String> = changed
        .iter()
        .map(|(c, now)| {
            format!(
                "column {at}.{} was captured as {} and is {} in the target",
                c.name, c.data_type, now.data_type
            )
        })
        .collect();
    ToolError::usage(format!(
        "schema drift: {}; {problem}; nothing was changed",
        columns.join(", ")
    ))
    .hint("change the target column back to a type that holds the captured values, or capture again from the current schema")
}

/// A vault stream that could not be read: damaged (exit 3), wrong key, or I/O.
fn stream_error(at: &str, error: std::io::Error) -> ToolError {
    let error = vault_format::vault_error_of(error);
    let exit = match crate::exit::exit_for(&error) {
        Exit::Success => Exit::Failed,
        exit => exit,
    };
    ToolError::new(exit, format!("table {at}: {error}")).hint(error.hint())
}
