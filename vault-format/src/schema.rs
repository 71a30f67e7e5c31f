//! What a vault's `sqlite_schema` may hold (SPEC.md sections 2 and 2.1): the five tables as the format defines them, the two indexes SQLite makes for them, and nothing else.

use rusqlite::Connection;

use crate::error::{Result, VaultError};

/// The tables of a vault, as a writer creates them.
pub(crate) const SCHEMA: &str = "
CREATE TABLE vault_header (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  header     BLOB NOT NULL,
  header_mac BLOB NOT NULL
);
CREATE TABLE key_slot (
  slot     INTEGER PRIMARY KEY,
  body     BLOB NOT NULL,
  checksum BLOB NOT NULL
);
CREATE TABLE stream (
  stream_index INTEGER PRIMARY KEY,
  name         TEXT NOT NULL UNIQUE,
  chunk_count  INTEGER NOT NULL,
  row_count    INTEGER NOT NULL,
  plain_len    INTEGER NOT NULL,
  stored_len   INTEGER NOT NULL
);
CREATE TABLE chunk (
  stream_index INTEGER NOT NULL,
  chunk_index  INTEGER NOT NULL,
  flags        INTEGER NOT NULL,
  plain_len    INTEGER NOT NULL,
  ciphertext   BLOB NOT NULL,
  checksum     BLOB NOT NULL,
  PRIMARY KEY (stream_index, chunk_index)
);
CREATE TABLE manifest (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  ciphertext BLOB NOT NULL,
  checksum   BLOB NOT NULL
);
";

/// Each table of [`SCHEMA`] with its columns, in order.
const TABLES: [(&str, &[&str]); 5] = [
    ("vault_header", &["id", "header", "header_mac"]),
    ("key_slot", &["slot", "body", "checksum"]),
    (
        "stream",
        &[
            "stream_index",
            "name",
            "chunk_count",
            "row_count",
            "plain_len",
            "stored_len",
        ],
    ),
    (
        "chunk",
        &[
            "stream_index",
            "chunk_index",
            "flags",
            "plain_len",
            "ciphertext",
            "checksum",
        ],
    ),
    ("manifest", &["id", "ciphertext", "checksum"]),
];

/// The indexes SQLite makes for the UNIQUE and PRIMARY KEY constraints of
/// [`SCHEMA`], with their tables. They have no SQL of their own.
const INDEXES: [(&str, &str); 2] = [
    ("sqlite_autoindex_stream_1", "stream"),
    ("sqlite_autoindex_chunk_1", "chunk"),
];

/// The longest table definition read back to be compared; a vault's are a
/// few hundred bytes.
const MAX_DEFINITION_LEN: usize = 4096;

/// Refuses a file whose schema holds anything a vault does not have, lacks
/// one of its tables, or defines one otherwise. Reads no row of a table.
pub(crate) fn check(conn: &Connection) -> Result<()> {
    check_nothing_else(conn)?;
    for (table, columns) in TABLES {
        let found: i64 = conn.query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1",
            [table],
            |row| row.get(0),
        )?;
        if found != 1 {
            return Err(VaultError::NotAVault {
                reason: format!("the table {table} is missing"),
            });
        }
        check_columns(conn, table, columns)?;
        check_definition(conn, table)?;
    }
    Ok(())
}

/// Refuses any table, index, view or trigger that a vault does not have:
/// SQLite would run a view's query or answer a query from an index whose
/// content `quick_check` does not compare with its table.
fn check_nothing_else(conn: &Connection) -> Result<()> {
    let mut query = conn.prepare("SELECT type, name, tbl_name, sql IS NULL FROM sqlite_schema")?;
    let mut rows = query.query([])?;
    while let Some(row) = rows.next()? {
        let (kind, name, table, no_sql): (String, String, String, bool) =
            (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
        let known = match kind.as_str() {
            "table" => name == table && TABLES.iter().any(|(known, _)| *known == name),
            "index" => no_sql && INDEXES.contains(&(name.as_str(), table.as_str())),
            _ => false,
        };
        if !known {
            let what = match kind.as_str() {
                "table" | "view" | "trigger" => format!("a {kind}"),
                "index" => "an index".to_owned(),
                other => format!("an entry of type {}", shown(other)),
            };
            let on = if table == name {
                String::new()
            } else {
                format!(" on {}", shown(&table))
            };
            return Err(VaultError::NotAVault {
                reason: format!(
                    "its schema holds {what} {}{on}, which a vault does not have (SPEC.md section 2.1)",
                    shown(&name)
                ),
            });
        }
    }
    Ok(())
}

/// A name from the file for a message: quoted, escaped, and cut short.
fn shown(name: &str) -> String {
    const SHOWN_CHARS: usize = 64;
    let start: String = name.chars().take(SHOWN_CHARS).collect();
    if start.len() < name.len() {
        format!("{start:?}...")
    } else {
        format!("{start:?}")
    }
}

/// Refuses a table whose columns differ from the schema. A generated column
/// in particular would be computed by SQLite as it is read, so a small file
/// could make the reader build values of any size (SPEC.md section 2).
fn check_columns(conn: &Connection, table: &str, columns: &[&str]) -> Result<()> {
    let mut query = conn.prepare("SELECT name, hidden FROM pragma_table_xinfo(?1) ORDER BY cid")?;
    let found = query
        .query_map([table], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let same = found.len() == columns.len()
        && found
            .iter()
            .zip(columns)
            .all(|((name, hidden), expected)| name == expected && *hidden == 0);
    if same {
        Ok(())
    } else {
        Err(VaultError::NotAVault {
            reason: format!("the table {table} does not have the columns of a vault"),
        })
    }
}

/// Refuses a table whose SQL differs from [`SCHEMA`] in more than whitespace
/// and comments: a CHECK constraint, evaluated by `quick_check`, or a default
/// value, computed for a row stored without the column, would run SQL of the
/// file's choosing.
fn check_definition(conn: &Connection, table: &str) -> Result<()> {
    let stored: Option<String> = conn.query_row(
        &format!(
            "SELECT CASE WHEN typeof(sql) = 'text' AND octet_length(sql) <= {MAX_DEFINITION_LEN}
                    THEN sql END
             FROM sqlite_schema WHERE type = 'table' AND name = ?1"
        ),
        [table],
        |row| row.get(0),
    )?;
    if stored.as_deref().map(normalized) == Some(normalized(definition(table))) {
        Ok(())
    } else {
        Err(VaultError::NotAVault {
            reason: format!(
                "the table {table} is not defined as a vault defines it (SPEC.md section 2)"
            ),
        })
    }
}

/// The statement of [`SCHEMA`] that creates `table`.
fn definition(table: &str) -> &'static str {
    let start = format!("CREATE TABLE {table} (");
    SCHEMA
        .split(';')
        .find(|statement| statement.trim_start().starts_with(&start))
        .expect("every table of TABLES is created by SCHEMA")
}

/// A definition without `--` comments and with every run of whitespace made
/// one space, as SPEC.md section 2.1 compares them.
fn normalized(sql: &str) -> String {
    sql.lines()
        .map(|line| line.split_once("--").map_or(line, |(code, _comment)| code))
        .flat_map(str::split_whitespace)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The statements of an SQL text, normalized, in order.
    fn statements(sql: &str) -> Vec<String> {
        sql.split(';')
            .map(normalized)
            .filter(|statement| !statement.is_empty())
            .collect()
    }

    #[test]
    fn the_spec_and_the_writer_define_the_same_tables() {
        let spec = include_str!("../SPEC.md");
        let (_, from_sql_block) = spec
            .split_once("```sql\n")
            .expect("SPEC.md section 2 has an sql block");
        let (spec_sql, _) = from_sql_block.split_once("```").unwrap();
        assert_eq!(statements(spec_sql), statements(SCHEMA));
        for (table, _) in TABLES {
            assert!(normalized(definition(table)).starts_with(&format!("CREATE TABLE {table} (")));
        }
    }

    #[test]
    fn only_whitespace_and_comments_are_ignored() {
        let written = "CREATE TABLE t (\n  id   INTEGER, -- a comment\n  b BLOB\n)";
        assert_eq!(normalized(written), "CREATE TABLE t ( id INTEGER, b BLOB )");
        assert_ne!(
            normalized(written),
            normalized("CREATE TABLE t ( id INTEGER, b BLOB CHECK (1) )")
        );
    }
}
