//! The demo's sample databases as two SQLite files in its folder; the refresh is a file copy.

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use sha2::{Digest, Sha256};

use super::{Fingerprints, PRESERVED, Sample, Side};
use crate::exit::ToolError;

/// What testers must not see after the refresh: recent assessments, the
/// medical-record files, and real patient names.
const SANITIZE: &str = "
[[sanitize]]
table = \"assessment\"
delete_where = \"assessed_on >= '2024-01-01'\"

[[sanitize]]
table = \"mer_document\"
set_null = [\"file_ref\", \"content\"]

[[sanitize]]
table = \"patient\"
set = { name = \"'Patient ' || patient_id\" }
[[sanitize]]
table = \"patient\"
pseudonymize = { born = { kind = \"date_shift\", days = 30 } }
";

const SCHEMA: &str = "
CREATE TABLE app_user (
  user_id INTEGER PRIMARY KEY AUTOINCREMENT,
  login TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  active INTEGER NOT NULL DEFAULT 1,
  updated_at TEXT
);
CREATE TRIGGER app_user_stamp AFTER UPDATE ON app_user
BEGIN UPDATE app_user SET updated_at = 'stamped by trigger' WHERE user_id = NEW.user_id; END;
CREATE TABLE user_2fa (
  user_id INTEGER PRIMARY KEY REFERENCES app_user(user_id) ON DELETE CASCADE,
  totp_secret BLOB NOT NULL,
  enrolled_on TEXT NOT NULL
);
CREATE TABLE app_role (role_id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE user_role (
  user_id INTEGER NOT NULL REFERENCES app_user(user_id) ON DELETE CASCADE,
  role_id INTEGER NOT NULL REFERENCES app_role(role_id),
  PRIMARY KEY (user_id, role_id)
);
CREATE TABLE app_setting (name TEXT PRIMARY KEY, value TEXT);
CREATE TABLE patient (patient_id INTEGER PRIMARY KEY, name TEXT NOT NULL, born TEXT NOT NULL);
CREATE TABLE assessment (
  assessment_id INTEGER PRIMARY KEY,
  patient_id INTEGER NOT NULL REFERENCES patient(patient_id),
  assessed_on TEXT NOT NULL,
  outcome TEXT
);
CREATE TABLE mer_document (
  doc_id INTEGER PRIMARY KEY,
  patient_id INTEGER NOT NULL REFERENCES patient(patient_id),
  file_ref TEXT,
  content BLOB
);
CREATE TABLE portal_trial (trial_id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE portal_document (
  doc_id INTEGER PRIMARY KEY,
  trial_id INTEGER NOT NULL REFERENCES portal_trial(trial_id),
  title TEXT NOT NULL,
  content BLOB NOT NULL
);
";

/// acceptance.db and production.db in the demo's folder.
pub struct Files {
    dir: PathBuf,
    acceptance: PathBuf,
    production: PathBuf,
}

impl Files {
    pub fn new(dir: &Path) -> Self {
        Files {
            dir: dir.to_owned(),
            acceptance: dir.join("acceptance.db"),
            production: dir.join("production.db"),
        }
    }

    fn path(&self, side: Side) -> &Path {
        match side {
            Side::Acceptance => &self.acceptance,
            Side::Production => &self.production,
        }
    }
}

impl Sample for Files {
    fn built(&self) -> String {
        format!("Built two SQLite databases in {}:", self.dir.display())
    }

    fn name(&self, side: Side) -> String {
        match side {
            Side::Acceptance => "acceptance.db".into(),
            Side::Production => "production.db".into(),
        }
    }

    fn build(&mut self) -> Result<(), ToolError> {
        build_database(&self.acceptance, Side::Acceptance).map_err(demo_error)?;
        build_database(&self.production, Side::Production).map_err(demo_error)
    }

    fn describe(&mut self, side: Side) -> Result<String, ToolError> {
        describe(self.path(side)).map_err(demo_error)
    }

    fn url_line(&self, side: Side) -> String {
        format!("url = \"sqlite:{}\"", self.path(side).display())
    }

    fn config_note(&self) -> Option<String> {
        None
    }

    fn url_env(&self, _name: &str) -> Option<String> {
        None
    }

    fn sanitize_rules(&self) -> &'static str {
        SANITIZE
    }

    fn fingerprints(&mut self) -> Result<Fingerprints, ToolError> {
        fingerprints(&self.acceptance).map_err(demo_error)
    }

    fn refresh(&mut self) -> Result<&'static str, ToolError> {
        std::fs::copy(&self.production, &self.acceptance)
            .map_err(|e| ToolError::failed(format!("refresh copy: {e}")))?;
        Ok("file copy")
    }

    fn exposed(&mut self) -> Result<(i64, i64, i64), ToolError> {
        exposed(&self.acceptance).map_err(demo_error)
    }
}

fn build_database(path: &Path, side: Side) -> rusqlite::Result<()> {
    let mut conn = Connection::open(path)?;
    conn.execute_batch(SCHEMA)?;
    let tx = conn.transaction()?;
    let (users, patients, prefix) = match side {
        Side::Acceptance => (40, 200, "tester"),
        Side::Production => (300, 5000, "staff"),
    };
    for role in ["reader", "nurse", "physician", "admin"] {
        tx.execute("INSERT INTO app_role (name) VALUES (?1)", [role])?;
    }
    if side == Side::Production {
        tx.execute("INSERT INTO app_role (name) VALUES ('auditor')", [])?;
    }
    for i in 1..=users {
        tx.execute(
            "INSERT INTO app_user (user_id, login, password_hash, active) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![
                i + if side == Side::Acceptance { 1000 } else { 0 },
                format!("{prefix}{i}"),
                format!("$argon2id$v=19${prefix}{i:08x}"),
                i % 7 != 0
            ],
        )?;
    }
    tx.execute(
        "INSERT INTO user_2fa SELECT user_id, randomblob(20), '2026-0' || (1 + user_id % 9) || '-15' FROM app_user WHERE user_id % 3 <> 0",
        [],
    )?;
    tx.execute(
        "INSERT INTO user_role SELECT user_id, 1 + user_id % 4 FROM app_user",
        [],
    )?;
    let settings: &[(&str, &str)] = match side {
        Side::Acceptance => &[
            ("environment", "acceptance"),
            ("mail_relay", "smtp.acc.hospital.example"),
            ("banner", "TEST DATA ONLY"),
        ],
        Side::Production => &[
            ("environment", "production"),
            ("mail_relay", "smtp.hospital.example"),
            ("banner", ""),
            ("audit_level", "full"),
        ],
    };
    for (name, value) in settings {
        tx.execute("INSERT INTO app_setting VALUES (?1, ?2)", [name, value])?;
    }
    for i in 1..=patients {
        tx.execute(
            "INSERT INTO patient VALUES (?1, ?2, ?3)",
            rusqlite::params![
                i,
                match side {
                    Side::Acceptance => format!("Patient {i}"),
                    Side::Production => format!(
                        "{} {}",
                        ["Jansen", "de Vries", "Bakker", "Visser"][i as usize % 4],
                        i
                    ),
                },
                format!("19{:02}-0{}-1{}", 30 + i % 70, 1 + i % 9, i % 10)
            ],
        )?;
        tx.execute(
            "INSERT INTO assessment (patient_id, assessed_on, outcome) VALUES (?1, ?2, 'stable')",
            rusqlite::params![i, format!("202{}-0{}-01", i % 7, 1 + i % 9)],
        )?;
    }
    tx.execute(
        "INSERT INTO mer_document (patient_id, file_ref, content) SELECT patient_id, 'mer/' || patient_id || '.pdf', randomblob(2048) FROM patient WHERE patient_id % 5 = 0",
        [],
    )?;
    if side == Side::Acceptance {
        tx.execute(
            "INSERT INTO portal_trial VALUES (1, 'Portal trial: outpatient check-in')",
            [],
        )?;
        tx.execute(
            "INSERT INTO portal_document (trial_id, title, content) SELECT 1, 'Trial leaflet ' || value, randomblob(64 * 1024) FROM generate_series(1, 12)",
            [],
        )
        .or_else(|_| {
            for i in 1..=12 {
                tx.execute(
                    "INSERT INTO portal_document (trial_id, title, content) VALUES (1, ?1, randomblob(65536))",
                    [format!("Trial leaflet {i}")],
                )?;
            }
            Ok::<usize, rusqlite::Error>(12)
        })?;
    } else {
        tx.execute(
            "INSERT INTO portal_trial VALUES (1, 'Portal trial: outpatient check-in')",
            [],
        )?;
    }
    tx.commit()
}

fn describe(path: &Path) -> rusqlite::Result<String> {
    let conn = Connection::open(path)?;
    let count = |table: &str| -> rusqlite::Result<i64> {
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
            row.get(0)
        })
    };
    Ok(format!(
        "{} users, {} 2FA enrollments, {} portal documents, {} patients, {} assessments",
        count("app_user")?,
        count("user_2fa")?,
        count("portal_document")?,
        count("patient")?,
        count("assessment")?
    ))
}

/// Rows that sanitizing must have removed or masked: recent assessments,
/// medical-record files, patient names that are not masked.
fn exposed(path: &Path) -> rusqlite::Result<(i64, i64, i64)> {
    let conn = Connection::open(path)?;
    let count = |sql: &str| -> rusqlite::Result<i64> { conn.query_row(sql, [], |row| row.get(0)) };
    Ok((
        count("SELECT count(*) FROM assessment WHERE assessed_on >= '2024-01-01'")?,
        count(
            "SELECT count(*) FROM mer_document WHERE file_ref IS NOT NULL OR content IS NOT NULL",
        )?,
        count("SELECT count(*) FROM patient WHERE name IS NOT 'Patient ' || patient_id")?,
    ))
}

/// A SHA-256 over every row of each preserved table, in key order.
fn fingerprints(path: &Path) -> rusqlite::Result<std::collections::BTreeMap<String, String>> {
    let conn = Connection::open(path)?;
    let mut out = std::collections::BTreeMap::new();
    for (table, order) in PRESERVED {
        let mut query = conn.prepare(&format!("SELECT * FROM {table} ORDER BY {order}"))?;
        let columns = query.column_count();
        let mut rows = query.query([])?;
        let mut hasher = Sha256::new();
        while let Some(row) = rows.next()? {
            for i in 0..columns {
                let value = row.get_ref(i)?;
                hasher.update(format!("{:?}\u{1f}", value).as_bytes());
            }
            hasher.update(b"\x1e");
        }
        out.insert(table.to_owned(), hex::encode(hasher.finalize()));
    }
    Ok(out)
}

fn demo_error(error: rusqlite::Error) -> ToolError {
    ToolError::failed(format!("demo database: {error}"))
}
