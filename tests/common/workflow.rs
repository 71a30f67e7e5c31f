//! Helpers for capture and restore tests on SQLite: a site with acceptance and production
//! files, a key and a vault.toml; the real binary's capture, refresh and restore; and rows
//! read back with their stored types, to compare before and after.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use sha2::{Digest, Sha256};

use super::{Run, key_file, s, vault};

/// One temp folder holding an acceptance and a production database, a key
/// file, a configuration and the vault a capture writes.
pub struct Site {
    pub dir: tempfile::TempDir,
    pub acceptance: PathBuf,
    pub production: PathBuf,
    pub key: PathBuf,
    pub config: PathBuf,
    pub vault: PathBuf,
}

impl Site {
    /// An empty site with a key file; the databases are not made yet.
    pub fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let (key, _) = key_file(dir.path(), "acc.key");
        Site {
            acceptance: dir.path().join("acceptance.db"),
            production: dir.path().join("production.db"),
            config: dir.path().join("vault.toml"),
            vault: dir.path().join("acc.vault"),
            key,
            dir,
        }
    }

    /// A path inside the site's folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes vault.toml: `[acceptance]` is the acceptance file, `[production]`
    /// the production file, then `rest` (the `[[preserve]]` sections).
    pub fn configure(&self, rest: &str) {
        self.configure_urls(&self.acceptance, Some(&self.production), rest);
    }

    /// Writes vault.toml with the given acceptance and production files.
    pub fn configure_urls(&self, acceptance: &Path, production: Option<&Path>, rest: &str) {
        let mut text = format!("[acceptance]\nurl = \"sqlite:{}\"\n", s(acceptance));
        if let Some(production) = production {
            text.push_str(&format!(
                "\n[production]\nurl = \"sqlite:{}\"\n",
                s(production)
            ));
        }
        text.push('\n');
        text.push_str(rest);
        self.write_config(&text);
    }

    /// Writes vault.toml as given.
    pub fn write_config(&self, text: &str) {
        std::fs::write(&self.config, text).unwrap();
    }

    /// `vault capture` of the configuration into the site's vault.
    pub fn capture(&self) -> Run {
        vault(
            [
                "capture",
                "--config",
                s(&self.config),
                "--out",
                s(&self.vault),
                "--key-file",
                s(&self.key),
            ],
            &[],
        )
    }

    /// The DBAs' refresh: production's file copied over acceptance's.
    pub fn refresh(&self) {
        std::fs::copy(&self.production, &self.acceptance).unwrap();
    }

    /// `vault restore` of the site's vault with the configuration, plus `extra` arguments.
    pub fn restore(&self, extra: &[&str]) -> Run {
        let mut args = vec![
            "restore",
            s(&self.vault),
            "--config",
            s(&self.config),
            "--key-file",
            s(&self.key),
        ];
        args.extend_from_slice(extra);
        vault(args, &[])
    }
}

/// Runs SQL statements on a database file, creating it when missing.
pub fn exec(db: &Path, sql: &str) {
    Connection::open(db)
        .unwrap()
        .execute_batch(sql)
        .unwrap_or_else(|e| panic!("{}: {e}\n{sql}", db.display()));
}

/// One stored value: its storage class (what `typeof()` says) and its exact
/// content. A real is kept as its bits, so -0.0, subnormals and the last
/// digit all count.
#[derive(Clone, PartialEq, Eq)]
pub enum Cell {
    Null,
    Integer(i64),
    Real(u64),
    Text(String),
    Blob(Vec<u8>),
}

impl Cell {
    pub fn real(value: f64) -> Cell {
        Cell::Real(value.to_bits())
    }

    /// What SQLite's `typeof()` says of this value.
    pub fn type_name(&self) -> &'static str {
        match self {
            Cell::Null => "null",
            Cell::Integer(_) => "integer",
            Cell::Real(_) => "real",
            Cell::Text(_) => "text",
            Cell::Blob(_) => "blob",
        }
    }
}

impl From<ValueRef<'_>> for Cell {
    fn from(value: ValueRef<'_>) -> Cell {
        match value {
            ValueRef::Null => Cell::Null,
            ValueRef::Integer(v) => Cell::Integer(v),
            ValueRef::Real(v) => Cell::real(v),
            ValueRef::Text(v) => Cell::Text(String::from_utf8(v.to_vec()).expect("UTF-8 text")),
            ValueRef::Blob(v) => Cell::Blob(v.to_vec()),
        }
    }
}

impl From<i64> for Cell {
    fn from(v: i64) -> Cell {
        Cell::Integer(v)
    }
}

impl From<f64> for Cell {
    fn from(v: f64) -> Cell {
        Cell::real(v)
    }
}

impl From<&str> for Cell {
    fn from(v: &str) -> Cell {
        Cell::Text(v.to_owned())
    }
}

impl<const N: usize> From<&[u8; N]> for Cell {
    fn from(v: &[u8; N]) -> Cell {
        Cell::Blob(v.to_vec())
    }
}

impl fmt::Debug for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Null => f.write_str("NULL"),
            Cell::Integer(v) => write!(f, "{v}"),
            Cell::Real(bits) => write!(f, "{:?}r(bits {bits:#018x})", f64::from_bits(*bits)),
            Cell::Text(v) if v.len() > 200 => {
                write!(
                    f,
                    "text({} bytes, sha256 {})",
                    v.len(),
                    short_digest(v.as_bytes())
                )
            }
            Cell::Text(v) => write!(f, "{v:?}"),
            Cell::Blob(v) if v.len() > 64 => {
                write!(f, "blob({} bytes, sha256 {})", v.len(), short_digest(v))
            }
            Cell::Blob(v) => write!(f, "x'{}'", hex::encode(v)),
        }
    }
}

fn short_digest(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..8])
}

/// A row of cells: `row![1, "text", 2.5, b"\x00", Cell::Null]`.
#[macro_export]
macro_rules! row {
    ($($value:expr),* $(,)?) => {
        vec![$($crate::common::workflow::Cell::from($value)),*]
    };
}

fn open_read_only(db: &Path) -> Connection {
    Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap_or_else(|e| panic!("{}: {e}", db.display()))
}

/// The rows a query returns, each value with its stored type.
pub fn query(db: &Path, sql: &str) -> Vec<Vec<Cell>> {
    let conn = open_read_only(db);
    query_on(&conn, sql)
}

fn query_on(conn: &Connection, sql: &str) -> Vec<Vec<Cell>> {
    let mut statement = conn.prepare(sql).unwrap_or_else(|e| panic!("{e}\n{sql}"));
    let columns = statement.column_count();
    let mut rows = statement.query([]).unwrap();
    let mut out = Vec::new();
    while let Some(row) = rows.next().unwrap() {
        out.push(
            (0..columns)
                .map(|i| Cell::from(row.get_ref(i).unwrap()))
                .collect(),
        );
    }
    out
}

/// Every column of a table (generated ones included), in `order`.
pub fn rows(db: &Path, table: &str, order: &str) -> Vec<Vec<Cell>> {
    query(db, &format!("SELECT * FROM \"{table}\" ORDER BY {order}"))
}

/// One integer a query returns.
pub fn scalar(db: &Path, sql: &str) -> i64 {
    match query(db, sql).as_slice() {
        [row] => match row.as_slice() {
            [Cell::Integer(v)] => *v,
            other => panic!("{sql}: expected one integer, got {other:?}"),
        },
        other => panic!("{sql}: expected one row, got {other:?}"),
    }
}

/// A database's whole state: the file's SHA-256, its schema (tables,
/// indexes, triggers) and every row of every table, `sqlite_sequence` included.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    pub file_sha256: String,
    pub content: BTreeMap<String, Vec<Vec<Cell>>>,
}

/// Takes a [`Snapshot`] without changing anything.
pub fn snapshot(db: &Path) -> Snapshot {
    let file_sha256 = hex::encode(Sha256::digest(std::fs::read(db).unwrap()));
    let conn = open_read_only(db);
    let mut content = BTreeMap::new();
    content.insert(
        "sqlite_schema".to_owned(),
        query_on(
            &conn,
            "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name",
        ),
    );
    let tables = query_on(
        &conn,
        "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name",
    );
    for table in tables {
        let Cell::Text(name) = &table[0] else {
            unreachable!()
        };
        let columns = query_on(
            &conn,
            &format!("SELECT count(*) FROM pragma_table_xinfo('{name}')"),
        )[0][0]
            .clone();
        let Cell::Integer(columns) = columns else {
            unreachable!()
        };
        let order: Vec<String> = (1..=columns).map(|i| i.to_string()).collect();
        let sql = format!("SELECT * FROM \"{name}\" ORDER BY {}", order.join(", "));
        content.insert(name.clone(), query_on(&conn, &sql));
    }
    Snapshot {
        file_sha256,
        content,
    }
}

/// Asserts that a database is exactly as `before` says, file bytes included.
pub fn assert_unchanged(db: &Path, before: &Snapshot) {
    let now = snapshot(db);
    assert_eq!(
        now.content,
        before.content,
        "the rows or schema of {} changed",
        db.display()
    );
    assert_eq!(
        now.file_sha256,
        before.file_sha256,
        "the file {} changed",
        db.display()
    );
}

/// Asserts a failed run's stderr: exactly one `error:` line that contains
/// every fragment, at most one `hint:` line, and nothing else.
pub fn assert_one_error(run: &Run, fragments: &[&str]) {
    let lines: Vec<&str> = run.stderr.lines().collect();
    let errors = lines.iter().filter(|l| l.starts_with("error: ")).count();
    let hints = lines.iter().filter(|l| l.starts_with("hint: ")).count();
    assert!(
        errors == 1 && hints <= 1 && lines.len() == errors + hints,
        "expected one error line and at most one hint on stderr, got:\n{}",
        run.stderr
    );
    let error = run.error_line();
    for fragment in fragments {
        assert!(
            error.contains(fragment),
            "the error line lacks {fragment:?}: {error}"
        );
    }
}

/// The clinic: the shape of the mission on a small scale. Parents and
/// children with `ON DELETE CASCADE`, an AUTOINCREMENT table, triggers that
/// stamp rows and write an audit log, a table without a primary key, a
/// WITHOUT ROWID table, generated columns, and tables that are not preserved.
pub const CLINIC_TABLES: &str = "
CREATE TABLE app_user (
  user_id INTEGER PRIMARY KEY AUTOINCREMENT,
  login TEXT NOT NULL UNIQUE,
  active INTEGER NOT NULL DEFAULT 1,
  updated_at TEXT
);
CREATE TABLE user_2fa (
  user_id INTEGER PRIMARY KEY REFERENCES app_user(user_id) ON DELETE CASCADE,
  secret BLOB NOT NULL
);
CREATE TABLE user_role (
  user_id INTEGER NOT NULL REFERENCES app_user(user_id) ON DELETE CASCADE,
  role TEXT NOT NULL,
  PRIMARY KEY (user_id, role)
) WITHOUT ROWID;
CREATE TABLE app_setting (name TEXT NOT NULL, value TEXT);
CREATE TABLE portal_document (
  doc_id INTEGER PRIMARY KEY,
  audience TEXT NOT NULL,
  title TEXT NOT NULL,
  content BLOB NOT NULL,
  size INTEGER GENERATED ALWAYS AS (length(content)) VIRTUAL,
  title_key TEXT GENERATED ALWAYS AS (upper(title)) STORED
);
CREATE TABLE session (
  session_id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES app_user(user_id) ON DELETE CASCADE
);
CREATE TABLE audit_log (event_id INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL);
CREATE TABLE patient (patient_id INTEGER PRIMARY KEY, name TEXT NOT NULL);
";

/// Triggers that would alter restored rows and log them; made after the rows.
pub const CLINIC_TRIGGERS: &str = "
CREATE TRIGGER app_user_inserted AFTER INSERT ON app_user BEGIN
  UPDATE app_user SET updated_at = 'set by trigger' WHERE user_id = NEW.user_id;
  INSERT INTO audit_log (event) VALUES ('insert ' || NEW.login);
END;
CREATE TRIGGER app_user_updated AFTER UPDATE ON app_user BEGIN
  UPDATE app_user SET updated_at = 'set by trigger' WHERE user_id = NEW.user_id;
  INSERT INTO audit_log (event) VALUES ('update ' || NEW.login);
END;
CREATE TRIGGER app_setting_logged BEFORE INSERT ON app_setting BEGIN
  INSERT INTO audit_log (event) VALUES ('setting ' || NEW.name);
END;
";

/// What acceptance owns. Its users' keys (up to 1001) are above production's
/// AUTOINCREMENT sequence (3).
pub const CLINIC_ACCEPTANCE_ROWS: &str = "
INSERT INTO app_user VALUES
  (2, 'acc.two', 1, '2026-01-02 acc'), (3, 'acc.three', 0, NULL),
  (4, 'acc.four', 1, '2026-01-04 acc'), (1001, 'tester1001', 1, '2026-02-01 acc');
INSERT INTO user_2fa VALUES (2, x'a2a2'), (4, x'a4a4'), (1001, x'a1a1');
INSERT INTO user_role VALUES (2, 'admin'), (3, 'reader'), (1001, 'tester');
INSERT INTO app_setting VALUES
  ('environment', 'acceptance'), ('banner', 'TEST DATA ONLY'), ('mail_relay', 'smtp.acc.example');
INSERT INTO portal_document (doc_id, audience, title, content) VALUES
  (10, 'trial', 'acc trial ten', x'0a0a'), (11, 'patient', 'acc patient eleven', x'0b'),
  (13, 'trial', 'acc trial thirteen', x'');
INSERT INTO session VALUES (100, 2);
INSERT INTO patient VALUES (1, 'Acc Test Patient');
";

/// What production holds; a refresh brings it into acceptance.
pub const CLINIC_PRODUCTION_ROWS: &str = "
INSERT INTO app_user VALUES
  (1, 'staff.one', 1, '2025 prod'), (2, 'staff.two', 1, '2025 prod'), (3, 'staff.three', 1, '2025 prod');
INSERT INTO user_2fa VALUES (1, x'01'), (2, x'02');
INSERT INTO user_role VALUES (1, 'physician'), (2, 'nurse'), (3, 'admin');
INSERT INTO app_setting VALUES ('environment', 'production'), ('banner', ''), ('audit_level', 'full');
INSERT INTO portal_document (doc_id, audience, title, content) VALUES
  (10, 'patient', 'prod patient ten', x'10'), (12, 'trial', 'prod trial twelve', x'12'),
  (14, 'patient', 'prod patient fourteen', x'14');
INSERT INTO session VALUES (1, 1), (2, 2), (3, 3);
INSERT INTO audit_log (event) VALUES ('prod event');
INSERT INTO patient VALUES (1, 'Real Patient One'), (2, 'Real Patient Two');
";

/// The preserved tables, children listed before their parents on purpose;
/// every one in `mode`. Production's document 2 shares its key with a
/// captured trial document: an overwrite the configuration accepts.
pub fn clinic_preserve(mode: &str) -> String {
    format!(
        "[[preserve]]\ntable = \"user_2fa\"\nmode = \"{mode}\"\n\n\
         [[preserve]]\ntable = \"user_role\"\nmode = \"{mode}\"\n\n\
         [[preserve]]\ntable = \"app_user\"\nmode = \"{mode}\"\n\n\
         [[preserve]]\ntable = \"app_setting\"\nkey = [\"name\"]\nmode = \"{mode}\"\n\n\
         [[preserve]]\ntable = \"portal_document\"\nwhere = \"audience = 'trial'\"\nmode = \"{mode}\"\n\
         on_collision = \"replace\"\n"
    )
}

/// The preserved tables with the columns that order their rows.
pub const CLINIC_PRESERVED: [(&str, &str); 5] = [
    ("app_user", "user_id"),
    ("user_2fa", "user_id"),
    ("user_role", "user_id, role"),
    ("app_setting", "name"),
    ("portal_document", "doc_id"),
];

/// A site with the clinic in both databases (production's tables given by
/// `production_tables`), configured to preserve in `mode`.
pub fn clinic_site_with(production_tables: &str, mode: &str) -> Site {
    let site = Site::new();
    exec(
        &site.acceptance,
        &format!("{CLINIC_TABLES}{CLINIC_ACCEPTANCE_ROWS}{CLINIC_TRIGGERS}"),
    );
    exec(
        &site.production,
        &format!("{production_tables}{CLINIC_PRODUCTION_ROWS}{CLINIC_TRIGGERS}"),
    );
    site.configure(&clinic_preserve(mode));
    site
}

/// A site with the same clinic schema on both sides.
pub fn clinic_site(mode: &str) -> Site {
    clinic_site_with(CLINIC_TABLES, mode)
}

/// A clinic site in replace mode, captured and refreshed: ready to restore.
pub fn refreshed_clinic() -> Site {
    let site = clinic_site("replace");
    site.capture().expect(0);
    site.refresh();
    site
}

/// Flips a byte of a chunk and recomputes its checksum: the structural check
/// passes, and only decryption, in the middle of a restore, finds it.
pub fn tamper_chunk(vault: &Path, stream_index: u32, chunk_index: u64) {
    let conn = Connection::open(vault).unwrap();
    let mut ciphertext: Vec<u8> = conn
        .query_row(
            "SELECT ciphertext FROM chunk WHERE stream_index = ?1 AND chunk_index = ?2",
            rusqlite::params![stream_index, chunk_index as i64],
            |row| row.get(0),
        )
        .unwrap();
    ciphertext[3] ^= 0x40;
    let checksum = Sha256::digest(&ciphertext).to_vec();
    conn.execute(
        "UPDATE chunk SET ciphertext = ?1, checksum = ?2 WHERE stream_index = ?3 AND chunk_index = ?4",
        rusqlite::params![ciphertext, checksum, stream_index, chunk_index as i64],
    )
    .unwrap();
}

/// The index of a stream in a vault, by name.
pub fn stream_index(vault: &Path, name: &str) -> u32 {
    let index: i64 = Connection::open_with_flags(vault, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap()
        .query_row(
            "SELECT stream_index FROM stream WHERE name = ?1",
            [name],
            |row| row.get(0),
        )
        .unwrap();
    index as u32
}

/// The files in a folder, by name.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
