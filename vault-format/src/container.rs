//! The SQLite container (SPEC.md section 2): pragmas, and opening a file as a vault through a connection hardened against hostile files.

use std::path::Path;

use rusqlite::config::DbConfig;
use rusqlite::limits::Limit;
use rusqlite::{Connection, OpenFlags};

use crate::crypto::TAG_LEN;
use crate::error::{Result, VaultError};
use crate::header::MAX_CHUNK_SIZE;
use crate::manifest::MAX_MANIFEST_LEN;

/// `PRAGMA application_id` of every vault ("VAUL").
pub const APPLICATION_ID: i32 = 0x5641_554C;
const PAGE_SIZE: u32 = 65536;

/// The largest value a vault holds: the ciphertext of a chunk of the
/// largest chunk size, or of the largest manifest (SPEC.md section 2.2).
const LARGEST_VALUE: usize = if MAX_CHUNK_SIZE as usize > MAX_MANIFEST_LEN {
    MAX_CHUNK_SIZE as usize
} else {
    MAX_MANIFEST_LEN
} + TAG_LEN;

/// SQLite's length limit on the connections that read a vault: the largest
/// value and room for the rest of its row, which a sort may build. SQLite
/// refuses to build any longer string or blob, wherever it is read.
pub(crate) const SQLITE_LENGTH_LIMIT: usize = LARGEST_VALUE + 1024;

/// Creates the tables in a new, empty partial file.
pub(crate) fn create(path: &Path, format_version: u16) -> Result<Connection> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    conn.execute_batch(&format!(
        "PRAGMA page_size = {PAGE_SIZE};
         PRAGMA journal_mode = OFF;
         PRAGMA synchronous = OFF;
         PRAGMA secure_delete = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA application_id = {APPLICATION_ID};
         PRAGMA user_version = {format_version};"
    ))?;
    conn.execute_batch(crate::schema::SCHEMA)?;
    Ok(conn)
}

/// Opens an existing vault read-only, or read-write for a key-slot edit of a
/// partial copy. Hardens the connection before anything is read, then checks
/// the application id and the schema.
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
    // Read by the system first, so that an unreadable file says so (SQLite
    // says only "unable to open database file"), and an empty one is named.
    let length = std::fs::File::open(path)
        .and_then(|file| file.metadata())
        .map_err(|e| VaultError::io(path, e))?
        .len();
    if length == 0 {
        return Err(VaultError::NotAVault {
            reason: "it is an empty file (0 bytes)".into(),
        });
    }
    let conn = Connection::open_with_flags(path, flags)?;
    harden(&conn)?;
    let pragmas =
        "PRAGMA trusted_schema = OFF; PRAGMA secure_delete = ON; PRAGMA temp_store = MEMORY;";
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
    crate::schema::check(&conn)?;
    Ok(conn)
}

/// Limits what a hostile file can make SQLite do (SPEC.md sections 2.1 and
/// 2.2): no value longer than [`SQLITE_LENGTH_LIMIT`], and defensive mode,
/// which refuses to let SQL corrupt the file (`writable_schema` and the
/// like). Set before the first statement, so before SQLite reads the schema.
fn harden(conn: &Connection) -> Result<()> {
    let limit = i32::try_from(SQLITE_LENGTH_LIMIT).expect("the limit fits SQLite's int");
    conn.set_limit(Limit::SQLITE_LIMIT_LENGTH, limit)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_length_limit_is_the_figure_of_the_spec() {
        assert_eq!(LARGEST_VALUE, 16 * 1024 * 1024 + 16);
        assert_eq!(SQLITE_LENGTH_LIMIT, 16_778_256);
    }

    #[test]
    fn reading_and_editing_connections_are_hardened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.vault");
        std::fs::File::create(&path).unwrap();
        create(&path, crate::header::FORMAT_VERSION)
            .unwrap()
            .close()
            .unwrap();
        for writable in [false, true] {
            let conn = open(&path, writable).unwrap();
            let limit = conn.limit(Limit::SQLITE_LIMIT_LENGTH).unwrap();
            assert_eq!(limit as usize, SQLITE_LENGTH_LIMIT, "writable {writable}");
            let defensive = conn.db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE);
            assert!(defensive.unwrap(), "writable {writable}");
            let trusted: i64 = conn
                .query_row("PRAGMA trusted_schema", [], |row| row.get(0))
                .unwrap();
            assert_eq!(trusted, 0, "writable {writable}");
        }
    }
}
