//! `vault demo`: sample acceptance and production databases on SQLite, and the whole capture, refresh and restore on them.

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use sha2::{Digest, Sha256};
use vault_format::{FileKey, KeyMaterial};

use crate::config::Config;
use crate::db::Engine;
use crate::db::sqlite::Sqlite;
use crate::exit::{Exit, ToolError};

const MARKER: &str = ".vault-demo";

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
";

/// The tables the demo preserves, with the columns that order their rows.
const PRESERVED: [(&str, &str); 6] = [
    ("app_user", "user_id"),
    ("user_2fa", "user_id"),
    ("app_role", "role_id"),
    ("user_role", "user_id, role_id"),
    ("app_setting", "name"),
    ("portal_document", "doc_id"),
];

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

/// Runs the demo in `dir` and narrates it to `out`.
pub fn run(dir: &Path, out: &mut dyn Write) -> Result<Exit, ToolError> {
    prepare_folder(dir)?;
    let acceptance = dir.join("acceptance.db");
    let production = dir.join("production.db");
    let key_path = dir.join("demo.key");
    let vault_path = dir.join("acceptance.vault");
    let config_path = dir.join("vault.toml");
    build_database(&acceptance, Side::Acceptance).map_err(demo_error)?;
    build_database(&production, Side::Production).map_err(demo_error)?;
    writeln!(out, "1. Built two SQLite databases in {}:", dir.display())?;
    writeln!(
        out,
        "   acceptance.db  {}",
        describe(&acceptance).map_err(demo_error)?
    )?;
    writeln!(
        out,
        "   production.db  {}",
        describe(&production).map_err(demo_error)?
    )?;

    let key = FileKey::generate()?;
    key.write_new_file(&key_path)?;
    let mut config_text = format!(
        "[acceptance]\nurl = \"sqlite:{}\"\n\n[production]\nurl = \"sqlite:{}\"\nhosts = [\"prod-db*.hospital.example\"]\n",
        acceptance.display(),
        production.display()
    );
    for (table, _) in PRESERVED {
        let _ = write!(config_text, "\n[[preserve]]\ntable = \"{table}\"\n");
    }
    config_text.push_str(SANITIZE);
    std::fs::write(&config_path, &config_text)
        .map_err(|e| ToolError::failed(format!("{}: {e}", config_path.display())))?;
    let config = Config::parse(&config_text)
        .map_err(|e| ToolError::failed(format!("demo configuration: {e}")))?;
    let before = fingerprints(&acceptance).map_err(demo_error)?;
    writeln!(
        out,
        "2. Wrote a key file (demo.key) and vault.toml preserving {} tables.",
        PRESERVED.len()
    )?;

    let key = KeyMaterial::KeyFile(key);
    let runtime = crate::runtime()?;
    let url = config
        .acceptance_url(&|_| None)
        .map_err(|e| ToolError::failed(e.to_string()))?;
    writeln!(
        out,
        "3. vault capture --config vault.toml --out acceptance.vault"
    )?;
    let summary = runtime.block_on(async {
        let mut db = Sqlite::connect(&url).await?;
        crate::capture::capture(&mut db, &config, &vault_path, &key, out, false).await
    })?;
    let report = vault_format::check_deep(&vault_path, &key)?;
    writeln!(
        out,
        "   {} tables, {} rows, vault {}; vault check --read-data: intact ({} chunks)",
        summary.tables.len(),
        report.rows,
        crate::units::bytes(std::fs::metadata(&vault_path).map(|m| m.len()).unwrap_or(0)),
        report.chunks
    )?;

    std::fs::copy(&production, &acceptance)
        .map_err(|e| ToolError::failed(format!("refresh copy: {e}")))?;
    let lost = PRESERVED
        .iter()
        .filter(|(t, _)| {
            before.get(*t)
                != fingerprints(&acceptance)
                    .ok()
                    .and_then(|f| f.get(*t).cloned())
                    .as_ref()
        })
        .count();
    writeln!(
        out,
        "4. Refreshed acceptance from production (file copy): {lost} of {} preserved tables lost their acceptance rows.",
        PRESERVED.len()
    )?;

    writeln!(
        out,
        "5. vault restore acceptance.vault --config vault.toml  (restore, sanitize, verify, health, links, compare)"
    )?;
    let unlocked = vault_format::Vault::open(&vault_path)?.unlock(&key)?;
    let production_url = config
        .production_url(&|_| None)
        .map_err(|e| ToolError::failed(e.to_string()))?;
    let started = crate::report::now();
    let mut target_identity = String::new();
    let (pipeline, failure) = runtime.block_on(async {
        let mut db = crate::db::any::connect(&url).await?;
        let target = db.identity().await?;
        target_identity = target.to_string();
        let source = crate::restore::captured_tables(&unlocked)?
            .first()
            .map(|(c, _)| c.source.clone());
        if let Some(source) = source {
            crate::guard::require_same_database(&source, &target, false)?;
        }
        let run = crate::workflow::Run {
            vault: &unlocked,
            config: &config,
            target: &target,
            production: production_url.as_ref(),
            steps: &crate::workflow::Step::ALL,
            dry_run: false,
        };
        Ok::<_, ToolError>(crate::workflow::run(&mut db, &run, out).await)
    })?;
    for step in &pipeline.steps {
        writeln!(out, "   {:<9} {}", step.step.name(), step.figures)?;
    }
    let report_dir = dir.join("report");
    let report = crate::report::Report::new(
        crate::report::RunInfo {
            vault_path: vault_path.clone(),
            vault_sha256: crate::report::file_sha256(&vault_path)?,
            header: unlocked.vault().header().clone(),
            target_identity,
            target_url: url.redacted().to_owned(),
            operator: crate::report::operator(&|name| std::env::var_os(name)),
            started,
            finished: crate::report::now(),
            dry_run: false,
            steps_asked: crate::workflow::Step::ALL.to_vec(),
        },
        &pipeline,
        failure.as_ref(),
    )?;
    report.write(
        &report_dir,
        &unlocked.derive_key(crate::report::KEY_PURPOSE),
    )?;
    if let Some(error) = failure {
        return Err(error);
    }
    let after = fingerprints(&acceptance).map_err(demo_error)?;
    writeln!(
        out,
        "6. Preserved tables compared row for row with acceptance before the refresh:"
    )?;
    let mut all_same = true;
    for (table, _) in PRESERVED {
        let same = before.get(table) == after.get(table);
        all_same &= same;
        writeln!(
            out,
            "   {table:<16} {}",
            if same { "identical" } else { "DIFFERENT" }
        )?;
    }
    writeln!(
        out,
        "   production's patients stay: acceptance.db now {}",
        describe(&acceptance).map_err(demo_error)?
    )?;
    let exposed = exposed(&acceptance).map_err(demo_error)?;
    writeln!(
        out,
        "7. What testers must not see: {} assessments since 2024, {} medical-record files, {} real patient names",
        exposed.0, exposed.1, exposed.2
    )?;
    writeln!(
        out,
        "8. Signed run report for the change ticket: {}",
        report_dir.join(crate::report::HTML_FILE).display()
    )?;
    writeln!(
        out,
        "   (report.json, report.md, report.html; check it with: vault report verify {} --key-file {})",
        report_dir.display(),
        key_path.display()
    )?;
    all_same &= exposed == (0, 0, 0) && pipeline.exit() == Exit::Success;
    if all_same {
        writeln!(
            out,
            "Demo complete: every preserved row is back. Files are in {}.",
            dir.display()
        )?;
        Ok(Exit::Success)
    } else {
        Err(ToolError::new(
            Exit::Problem,
            "the demo found preserved tables that differ after the restore",
        ))
    }
}

fn prepare_folder(dir: &Path) -> Result<(), ToolError> {
    if dir.exists() {
        let empty = std::fs::read_dir(dir)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !empty && !dir.join(MARKER).exists() {
            return Err(ToolError::usage(format!(
                "{} exists and was not made by `vault demo`",
                dir.display()
            ))
            .hint("give an empty or new folder with --dir"));
        }
        std::fs::remove_dir_all(dir)
            .map_err(|e| ToolError::failed(format!("{}: {e}", dir.display())))?;
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| ToolError::failed(format!("{}: {e}", dir.display())))?;
    std::fs::write(
        dir.join(MARKER),
        "made by vault demo; removed by the next run\n",
    )
    .map_err(|e| ToolError::failed(format!("{}: {e}", dir.display())))?;
    Ok(())
}

/// The folder the demo uses when none is given.
pub fn default_dir() -> PathBuf {
    PathBuf::from("vault-demo")
}

#[derive(Clone, Copy, PartialEq)]
enum Side {
    Acceptance,
    Production,
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
