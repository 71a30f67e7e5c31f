//! The demo's sample databases as two databases on a MariaDB or MySQL 8 server; the refresh re-creates acceptance's tables and copies production's rows with INSERT ... SELECT.
//!
//! The databases have fixed names and are dropped and re-created on every
//! run; a table `vault_demo_marker` marks them as the demo's, and a database
//! of either name without it is never dropped.

use std::time::Duration;

use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Row};

use super::{Fingerprints, PRESERVED, Sample, Side};
use crate::cli::UrlArg;
use crate::config::{DatabaseUrl, EngineKind};
use crate::env_vars::{VAULT_DEMO_ACCEPTANCE_URL, VAULT_DEMO_MYSQL_URL, VAULT_DEMO_PRODUCTION_URL};
use crate::exit::ToolError;

/// The demo's acceptance database.
pub const ACCEPTANCE: &str = "vault_demo_acceptance";
/// The demo's production database.
pub const PRODUCTION: &str = "vault_demo_production";
/// The table that marks a database as made by the demo.
const MARKER_TABLE: &str = "vault_demo_marker";

/// How long the server may take to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The demo's tables, parents first.
const TABLES: [&str; 10] = [
    "app_user",
    "user_2fa",
    "app_role",
    "user_role",
    "app_setting",
    "patient",
    "assessment",
    "mer_document",
    "portal_trial",
    "portal_document",
];

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
set = { name = \"CONCAT('Patient ', patient_id)\" }
[[sanitize]]
table = \"patient\"
pseudonymize = { born = { kind = \"date_shift\", days = 30 } }
";

/// The hospital schema of the SQLite demo in MariaDB/MySQL types. The
/// trigger stamps updated rows; a restore must not let it touch restored ones.
const SCHEMA: &str = "
CREATE TABLE app_user (
  user_id INT PRIMARY KEY AUTO_INCREMENT,
  login VARCHAR(64) NOT NULL UNIQUE,
  password_hash VARCHAR(255) NOT NULL,
  active BOOLEAN NOT NULL DEFAULT 1,
  updated_at VARCHAR(64)
);
CREATE TRIGGER app_user_stamp BEFORE UPDATE ON app_user
FOR EACH ROW SET NEW.updated_at = 'stamped by trigger';
CREATE TABLE user_2fa (
  user_id INT PRIMARY KEY,
  totp_secret VARBINARY(20) NOT NULL,
  enrolled_on DATE NOT NULL,
  FOREIGN KEY (user_id) REFERENCES app_user(user_id) ON DELETE CASCADE
);
CREATE TABLE app_role (role_id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(64) NOT NULL UNIQUE);
CREATE TABLE user_role (
  user_id INT NOT NULL,
  role_id INT NOT NULL,
  PRIMARY KEY (user_id, role_id),
  FOREIGN KEY (user_id) REFERENCES app_user(user_id) ON DELETE CASCADE,
  FOREIGN KEY (role_id) REFERENCES app_role(role_id)
);
CREATE TABLE app_setting (name VARCHAR(64) PRIMARY KEY, value TEXT);
CREATE TABLE patient (patient_id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, born DATE NOT NULL);
CREATE TABLE assessment (
  assessment_id INT PRIMARY KEY AUTO_INCREMENT,
  patient_id INT NOT NULL,
  assessed_on DATE NOT NULL,
  outcome VARCHAR(64),
  FOREIGN KEY (patient_id) REFERENCES patient(patient_id)
);
CREATE TABLE mer_document (
  doc_id INT PRIMARY KEY AUTO_INCREMENT,
  patient_id INT NOT NULL,
  file_ref VARCHAR(255),
  content MEDIUMBLOB,
  FOREIGN KEY (patient_id) REFERENCES patient(patient_id)
);
CREATE TABLE portal_trial (trial_id INT PRIMARY KEY, name VARCHAR(100) NOT NULL);
CREATE TABLE portal_document (
  doc_id INT PRIMARY KEY AUTO_INCREMENT,
  trial_id INT NOT NULL,
  title VARCHAR(200) NOT NULL,
  content MEDIUMBLOB NOT NULL,
  FOREIGN KEY (trial_id) REFERENCES portal_trial(trial_id)
);
";

/// The server that holds the two sample databases.
pub struct Server {
    /// The URL as given, its database part ignored.
    url: DatabaseUrl,
    runtime: tokio::runtime::Runtime,
}

impl Server {
    /// Reaches the server and checks that neither database name belongs to
    /// a database the demo did not make. Changes nothing.
    pub fn open(arg: &UrlArg) -> Result<Self, ToolError> {
        let url = DatabaseUrl::parse(&arg.0).map_err(|why| {
            ToolError::usage(format!("--mysql-url: {why}"))
                .hint("write it as mysql://USER@HOST:PORT/ (or mariadb://...)")
        })?;
        if url.engine() != EngineKind::Mysql {
            return Err(
                ToolError::usage(format!("--mysql-url {url}: not a MariaDB/MySQL URL"))
                    .hint("write it as mysql://USER@HOST:PORT/ (or mariadb://...)"),
            );
        }
        let server = Server {
            url,
            runtime: crate::runtime::current_thread()?,
        };
        server.runtime.block_on(async {
            let mut conn = server.connect(None).await?;
            for name in [ACCEPTANCE, PRODUCTION] {
                server.require_ours(&mut conn, name).await?;
            }
            conn.close().await.map_err(|e| server.error(e))
        })?;
        Ok(server)
    }

    /// The URL of `database` (the server's root when `None`), with its password.
    fn url_of(&self, database: Option<&str>) -> String {
        with_database(self.url.expose(), database.unwrap_or(""))
    }

    /// The server as the narration names it, without a password.
    fn shown(&self) -> String {
        with_database(self.url.redacted(), "")
    }

    fn has_password(&self) -> bool {
        self.url.redacted().contains("***")
    }

    async fn connect(&self, database: Option<&str>) -> Result<MySqlConnection, ToolError> {
        let unreachable = |cause: String| {
            ToolError::failed(format!(
                "cannot reach a MariaDB/MySQL server at {}: {cause}",
                self.shown()
            ))
            .hint(format!(
                "start one, or name a server where this user may create databases with \
                 --mysql-url URL (or {VAULT_DEMO_MYSQL_URL}); `vault demo` without --engine needs no server"
            ))
        };
        let options: MySqlConnectOptions = self.url_of(database).parse().map_err(|_| {
            ToolError::usage(format!(
                "--mysql-url {}: not a valid MySQL/MariaDB URL",
                self.shown()
            ))
            .hint("write it as mysql://USER@HOST:PORT/ (or mariadb://...)")
        })?;
        let mut conn = match tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await {
            Err(_) => {
                return Err(unreachable(format!(
                    "no answer within {} s",
                    CONNECT_TIMEOUT.as_secs()
                )));
            }
            Ok(Err(e)) => return Err(unreachable(crate::db::mysql::describe_error(&e))),
            Ok(Ok(conn)) => conn,
        };
        sqlx::raw_sql("SET NAMES utf8mb4, time_zone = '+00:00'")
            .execute(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(conn)
    }

    fn error(&self, error: sqlx::Error) -> ToolError {
        ToolError::failed(format!(
            "demo database on {}: {}",
            self.shown(),
            crate::db::mysql::describe_error(&error)
        ))
    }

    /// Refuses (exit 2) when `name` exists without the demo's marker table.
    async fn require_ours(&self, conn: &mut MySqlConnection, name: &str) -> Result<(), ToolError> {
        let exists: Option<String> = sqlx::query_scalar(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name = ?",
        )
        .bind(name)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| self.error(e))?;
        if exists.is_none() {
            return Ok(());
        }
        let marked: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        )
        .bind(name)
        .bind(MARKER_TABLE)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| self.error(e))?;
        if marked == 0 {
            return Err(ToolError::usage(format!(
                "database {name} on {} exists and was not made by `vault demo`",
                self.shown()
            ))
            .hint(format!(
                "the demo drops and re-creates {ACCEPTANCE} and {PRODUCTION}; rename or drop that \
                 database yourself, or give another server with --mysql-url"
            )));
        }
        Ok(())
    }

    /// Runs a script of statements in `database`.
    fn script(&self, database: Option<&str>, sql: &str) -> Result<(), ToolError> {
        self.runtime.block_on(async {
            let mut conn = self.connect(database).await?;
            sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
                .execute(&mut conn)
                .await
                .map_err(|e| self.error(e))?;
            conn.close().await.map_err(|e| self.error(e))
        })
    }

    /// The one number each query gives, in `database`.
    fn counts<const N: usize>(
        &self,
        database: &str,
        queries: [&str; N],
    ) -> Result<[i64; N], ToolError> {
        self.runtime.block_on(async {
            let mut conn = self.connect(Some(database)).await?;
            let mut counts = [0; N];
            for (count, sql) in counts.iter_mut().zip(queries) {
                *count = sqlx::query_scalar(AssertSqlSafe(sql))
                    .fetch_one(&mut conn)
                    .await
                    .map_err(|e| self.error(e))?;
            }
            conn.close().await.map_err(|e| self.error(e))?;
            Ok(counts)
        })
    }

    fn database(side: Side) -> &'static str {
        match side {
            Side::Acceptance => ACCEPTANCE,
            Side::Production => PRODUCTION,
        }
    }

    /// Drops (when the demo made it) and re-creates one database with its marker, schema and rows.
    fn build_database(&self, side: Side) -> Result<(), ToolError> {
        let name = Self::database(side);
        self.runtime.block_on(async {
            let mut conn = self.connect(None).await?;
            self.require_ours(&mut conn, name).await?;
            sqlx::raw_sql(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS `{name}`;
                 CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
                 CREATE TABLE `{name}`.{MARKER_TABLE} (note VARCHAR(200) NOT NULL);
                 INSERT INTO `{name}`.{MARKER_TABLE} VALUES ('made by vault demo; dropped and re-created by its next run');"
            )))
            .execute(&mut conn)
            .await
            .map_err(|e| self.error(e))?;
            conn.close().await.map_err(|e| self.error(e))
        })?;
        self.script(Some(name), &format!("{SCHEMA}\n{}", sample_rows(side)))
    }
}

impl Sample for Server {
    fn built(&self) -> String {
        format!("Built two MariaDB/MySQL databases on {}:", self.shown())
    }

    fn name(&self, side: Side) -> String {
        Self::database(side).to_owned()
    }

    fn build(&mut self) -> Result<(), ToolError> {
        self.build_database(Side::Acceptance)?;
        self.build_database(Side::Production)
    }

    fn describe(&mut self, side: Side) -> Result<String, ToolError> {
        let [users, enrolled, documents, patients, assessments] = self.counts(
            Self::database(side),
            [
                "SELECT count(*) FROM app_user",
                "SELECT count(*) FROM user_2fa",
                "SELECT count(*) FROM portal_document",
                "SELECT count(*) FROM patient",
                "SELECT count(*) FROM assessment",
            ],
        )?;
        Ok(format!(
            "{users} users, {enrolled} 2FA enrollments, {documents} portal documents, {patients} patients, {assessments} assessments"
        ))
    }

    fn url_line(&self, side: Side) -> String {
        if self.has_password() {
            let variable = match side {
                Side::Acceptance => VAULT_DEMO_ACCEPTANCE_URL,
                Side::Production => VAULT_DEMO_PRODUCTION_URL,
            };
            format!("url_env = \"{variable}\"")
        } else {
            format!("url = \"{}\"", self.url_of(Some(Self::database(side))))
        }
    }

    fn config_note(&self) -> Option<String> {
        self.has_password().then(|| {
            format!(
                "The server URL holds a password, so vault.toml reads the URLs from \
                 {VAULT_DEMO_ACCEPTANCE_URL} and {VAULT_DEMO_PRODUCTION_URL}."
            )
        })
    }

    fn url_env(&self, name: &str) -> Option<String> {
        match name {
            VAULT_DEMO_ACCEPTANCE_URL => Some(self.url_of(Some(ACCEPTANCE))),
            VAULT_DEMO_PRODUCTION_URL => Some(self.url_of(Some(PRODUCTION))),
            _ => None,
        }
    }

    fn sanitize_rules(&self) -> &'static str {
        SANITIZE
    }

    fn fingerprints(&mut self) -> Result<Fingerprints, ToolError> {
        self.runtime.block_on(async {
            let mut conn = self.connect(Some(ACCEPTANCE)).await?;
            let mut out = Fingerprints::new();
            for (table, order) in PRESERVED {
                let mut hasher = Sha256::new();
                let sql = format!("SELECT * FROM {table} ORDER BY {order}");
                // The text protocol: every value as the server spells it, exactly.
                let mut rows = sqlx::raw_sql(AssertSqlSafe(sql)).fetch(&mut conn);
                while let Some(row) = rows.try_next().await.map_err(|e| self.error(e))? {
                    for i in 0..row.len() {
                        let value: Option<Vec<u8>> =
                            row.try_get_unchecked(i).map_err(|e| self.error(e))?;
                        match value {
                            None => hasher.update(b"N"),
                            Some(bytes) => {
                                hasher.update(b"V");
                                hasher.update((bytes.len() as u64).to_le_bytes());
                                hasher.update(&bytes);
                            }
                        }
                    }
                    hasher.update(b"\x1e");
                }
                drop(rows);
                out.insert(table.to_owned(), hex::encode(hasher.finalize()));
            }
            conn.close().await.map_err(|e| self.error(e))?;
            Ok(out)
        })
    }

    fn refresh(&mut self) -> Result<&'static str, ToolError> {
        let mut script = String::from("SET FOREIGN_KEY_CHECKS = 0;\n");
        let dropped: Vec<&str> = TABLES.iter().rev().copied().collect();
        script.push_str(&format!("DROP TABLE IF EXISTS {};\n", dropped.join(", ")));
        script.push_str(SCHEMA);
        for table in TABLES {
            script.push_str(&format!(
                "INSERT INTO {table} SELECT * FROM `{PRODUCTION}`.{table};\n"
            ));
        }
        script.push_str("SET FOREIGN_KEY_CHECKS = 1;\n");
        self.script(Some(ACCEPTANCE), &script)?;
        Ok("tables re-created, rows copied with INSERT ... SELECT")
    }

    fn exposed(&mut self) -> Result<(i64, i64, i64), ToolError> {
        let [recent, files, names] = self.counts(
            ACCEPTANCE,
            [
                "SELECT count(*) FROM assessment WHERE assessed_on >= '2024-01-01'",
                "SELECT count(*) FROM mer_document WHERE file_ref IS NOT NULL OR content IS NOT NULL",
                "SELECT count(*) FROM patient WHERE NOT (name <=> CONCAT('Patient ', patient_id))",
            ],
        )?;
        Ok((recent, files, names))
    }
}

/// `url` with its database part replaced by `database` (its query kept).
fn with_database(url: &str, database: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, format!("?{query}")),
        None => (url, String::new()),
    };
    let after_scheme = head.find("://").map_or(0, |i| i + 3);
    let root = match head[after_scheme..].find('/') {
        Some(slash) => &head[..after_scheme + slash],
        None => head,
    };
    format!("{root}/{database}{query}")
}

/// The numbers 1 to `count` (at most 10,000) as a derived table `seq(n)`: a
/// cross join of digit lists, which MariaDB and MySQL 8 both run without a
/// recursion limit or the Sequence engine.
fn numbers(count: u32) -> String {
    let digits = "(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 \
                  UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 \
                  UNION ALL SELECT 8 UNION ALL SELECT 9)";
    format!(
        "(SELECT n FROM (SELECT 1 + a.d + 10 * b.d + 100 * c.d + 1000 * e.d AS n \
         FROM {digits} a, {digits} b, {digits} c, {digits} e) all_n WHERE n <= {count}) seq"
    )
}

/// The INSERTs that fill one side: as the SQLite demo, acceptance has 40
/// testers (ids from 1001), 200 masked patients and a portal trial with 12
/// documents of 64 KiB; production has 300 staff, 5,000 patients with real
/// names and an empty trial. Bytes come from SHA-2 of RAND(), which both
/// MariaDB and MySQL have (RANDOM_BYTES is MariaDB 10.10+ only).
fn sample_rows(side: Side) -> String {
    let (users, patients, prefix, offset) = match side {
        Side::Acceptance => (40, 200, "tester", 1000),
        Side::Production => (300, 5000, "staff", 0),
    };
    let roles = match side {
        Side::Acceptance => "('reader'), ('nurse'), ('physician'), ('admin')",
        Side::Production => "('reader'), ('nurse'), ('physician'), ('admin'), ('auditor')",
    };
    let settings = match side {
        Side::Acceptance => {
            "('environment', 'acceptance'), ('mail_relay', 'smtp.acc.hospital.example'), ('banner', 'TEST DATA ONLY')"
        }
        Side::Production => {
            "('environment', 'production'), ('mail_relay', 'smtp.hospital.example'), ('banner', ''), ('audit_level', 'full')"
        }
    };
    let name = match side {
        Side::Acceptance => "CONCAT('Patient ', n)",
        Side::Production => {
            "CONCAT(ELT(1 + n % 4, 'Jansen', 'de Vries', 'Bakker', 'Visser'), ' ', n)"
        }
    };
    let portal = match side {
        Side::Acceptance => format!(
            "INSERT INTO portal_document (trial_id, title, content)
               SELECT 1, CONCAT('Trial leaflet ', n), REPEAT(UNHEX(SHA2(CONCAT(RAND(), n), 512)), 1024)
               FROM {} ORDER BY n;",
            numbers(12)
        ),
        Side::Production => String::new(),
    };
    format!(
        "INSERT INTO app_role (name) VALUES {roles};
         INSERT INTO app_user (user_id, login, password_hash, active)
           SELECT n + {offset}, CONCAT('{prefix}', n), CONCAT('$argon2id$v=19${prefix}', LPAD(HEX(n), 8, '0')), n % 7 <> 0
           FROM {users_seq} ORDER BY n;
         INSERT INTO user_2fa
           SELECT user_id, UNHEX(SHA1(CONCAT(RAND(), user_id))), CONCAT('2026-0', 1 + user_id % 9, '-15')
           FROM app_user WHERE user_id % 3 <> 0;
         INSERT INTO user_role SELECT user_id, 1 + user_id % 4 FROM app_user;
         INSERT INTO app_setting VALUES {settings};
         INSERT INTO patient
           SELECT n, {name}, CONCAT('19', 30 + n % 70, '-0', 1 + n % 9, '-1', n % 10)
           FROM {patients_seq} ORDER BY n;
         INSERT INTO assessment (patient_id, assessed_on, outcome)
           SELECT n, CONCAT('202', n % 7, '-0', 1 + n % 9, '-01'), 'stable' FROM {patients_seq} ORDER BY n;
         INSERT INTO mer_document (patient_id, file_ref, content)
           SELECT patient_id, CONCAT('mer/', patient_id, '.pdf'), REPEAT(UNHEX(SHA2(CONCAT(RAND(), patient_id), 512)), 32)
           FROM patient WHERE patient_id % 5 = 0 ORDER BY patient_id;
         INSERT INTO portal_trial VALUES (1, 'Portal trial: outpatient check-in');
         {portal}",
        users_seq = numbers(users),
        patients_seq = numbers(patients),
    )
}
