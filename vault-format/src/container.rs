//! The SQLite container (SPEC.md section 2): pragmas, tables, and opening a file as a vault.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::error::{Result, VaultError};

/// `PRAGMA application_id` of every vault ("VAUL").
pub const APPLICATION_ID: i32 = 0x5641_554C;
const PAGE_SIZE: u32 = 65536;

const SCHEMA: &str = "
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

/// Creates the tables in a new, empty partial file.
pub(crate) fn create(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    conn.execute_batch(&format!(
        "PRAGMA page_size = {PAGE_SIZE};
         PRAGMA journal_mode = OFF;
         PRAGMA synchronous = OFF;
         PRAGMA secure_delete = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA application_id = {APPLICATION_ID};
         PRAGMA user_version = {};",
        crate::header::FORMAT_VERSION
    ))?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

/// Opens an existing vault read-only, or read-write for a key-slot edit of a
/// partial copy. Checks the application id and the tables.
pub(crate) fn open(path: &Path, writable: bool) -> Result<Connection> {
    let flags = if writable {
        OpenFlags::SQLITE_OPEN_READ_WRITE
    } else {
        OpenFlags::SQLITE_OPEN_READ_ONLY
    } | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if !path.is_file() {
        return match std::fs::metadata(path) {
            Err(e) => Err(VaultError::io(path, e)),
            Ok(_) => Err(VaultError::NotAVault {
                reason: "it is not a regular file".into(),
            }),
        };
    }
    let conn = Connection::open_with_flags(path, flags)?;
    let pragmas = "PRAGMA secure_delete = ON; PRAGMA temp_store = MEMORY;";
    conn.execute_batch(pragmas).map_err(not_a_vault)?;
    let application_id: i32 = conn
        .query_row("PRAGMA application_id", [], |row| row.get(0))
        .map_err(not_a_vault)?;
    if application_id != APPLICATION_ID {
        return Err(VaultError::NotAVault {
            reason: format!(
                "it is a SQLite file with application_id {application_id:#x}, not a vault"
            ),
        });
    }
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
        check_columns(&conn, table, columns)?;
    }
    Ok(conn)
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

/// A file that SQLite cannot read as a database is not a vault.
fn not_a_vault(error: rusqlite::Error) -> VaultError {
    match error.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) => VaultError::NotAVault {
            reason: "it is not a SQLite database".into(),
        },
        _ => VaultError::from(error),
    }
}
