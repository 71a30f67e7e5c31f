//! PostgreSQL for the tests: the server at `VAULT_TEST_POSTGRES_URL` or a skip, databases
//! and roles with unique names that a guard drops, SQL through sqlx, and a site (key file,
//! vault.toml) to run the real binary's capture and restore against them.

use std::path::PathBuf;
use std::sync::Arc;

use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection};
use vault::env_vars::VAULT_TEST_POSTGRES_URL;

use super::{Run, key_file, s, vault};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The environment variable that the test configurations name in `url_env`.
pub const ACC_URL_ENV: &str = "ACC_DATABASE_URL";

/// The test server, reached through its maintenance database.
pub struct Server {
    base: String,
    runtime: tokio::runtime::Runtime,
}

/// The server, or `None` after printing why `test` is skipped. With
/// `VAULT_TEST_REQUIRE_SERVERS=1` a missing server fails the test instead.
pub fn server(test: &str) -> Option<Arc<Server>> {
    let (base, runtime) = super::reach_server::<PgConnection>(
        test,
        "PostgreSQL",
        VAULT_TEST_POSTGRES_URL,
        DEFAULT_URL,
    )?;
    Some(Arc::new(Server { base, runtime }))
}

impl Server {
    /// The URL of `database` on this server.
    pub fn url(&self, database: &str) -> String {
        super::database_url(&self.base, database)
    }

    /// Runs statements in the maintenance database.
    pub fn admin(&self, sql: &str) {
        self.script(&self.base, sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// The first column of each row of a query that returns text.
    fn query(&self, url: &str, sql: &str) -> Result<Vec<Option<String>>, String> {
        self.runtime.block_on(async {
            let mut conn = PgConnection::connect(url)
                .await
                .map_err(|e| e.to_string())?;
            let rows = sqlx::query_scalar::<_, Option<String>>(AssertSqlSafe(sql.to_owned()))
                .persistent(false)
                .fetch_all(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            conn.close().await.map_err(|e| e.to_string())?;
            Ok(rows)
        })
    }

    fn script(&self, url: &str, sql: &str) -> Result<(), String> {
        self.runtime.block_on(async {
            let mut conn = PgConnection::connect(url)
                .await
                .map_err(|e| e.to_string())?;
            sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
                .execute(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            conn.close().await.map_err(|e| e.to_string())
        })
    }

    /// A new empty database; dropped with the guard.
    pub fn database(self: &Arc<Self>, label: &str) -> Db {
        let name = unique("vault_t", label);
        self.admin(&format!("CREATE DATABASE {name}"));
        Db {
            name,
            server: Arc::clone(self),
        }
    }

    /// A new role that cannot log in; dropped with the guard. Create roles
    /// before the databases that grant them privileges, so that the
    /// databases are dropped first.
    pub fn role(self: &Arc<Self>, label: &str) -> Role {
        let name = unique("vault_r", label);
        self.admin(&format!("CREATE ROLE {name} NOLOGIN"));
        Role {
            name,
            server: Arc::clone(self),
        }
    }

    /// The DBAs' refresh: acceptance becomes a copy of production.
    pub fn refresh(&self, acceptance: &Db, production: &Db) {
        self.admin(&format!("DROP DATABASE {} WITH (FORCE)", acceptance.name));
        self.admin(&format!(
            "CREATE DATABASE {} TEMPLATE {}",
            acceptance.name, production.name
        ));
    }

    /// The DBAs' logical refresh: production dumped with `pg_dump -Fc`
    /// (large objects included), acceptance dropped, created again and
    /// restored from the dump with `pg_restore`.
    pub fn refresh_from_dump(&self, acceptance: &Db, production: &Db) {
        let dir = tempfile::tempdir().unwrap();
        let dump = dir.path().join("production.dump");
        let status = std::process::Command::new("pg_dump")
            .args(["-Fc", "--no-owner", "-f"])
            .arg(&dump)
            .arg(format!("--dbname={}", production.url()))
            .status()
            .expect("pg_dump runs");
        assert!(status.success(), "pg_dump failed");
        self.admin(&format!("DROP DATABASE {} WITH (FORCE)", acceptance.name));
        self.admin(&format!("CREATE DATABASE {}", acceptance.name));
        let status = std::process::Command::new("pg_restore")
            .args(["--no-owner", "--exit-on-error"])
            .arg(format!("--dbname={}", acceptance.url()))
            .arg(&dump)
            .status()
            .expect("pg_restore runs");
        assert!(status.success(), "pg_restore failed");
    }

    /// Whether `test` can use an extension; when it cannot, prints why it
    /// is skipped, or fails with `VAULT_TEST_REQUIRE_SERVERS=1` (`.ci/run`
    /// installs every extension the tests use).
    pub fn require_extension(&self, test: &str, name: &str) -> bool {
        use vault::env_vars::VAULT_TEST_REQUIRE_SERVERS;
        if self.has_extension(name) {
            return true;
        }
        let line = format!("{test}: the PostgreSQL server has no {name} extension");
        if std::env::var(VAULT_TEST_REQUIRE_SERVERS).as_deref() == Ok("1") {
            panic!("{line}; {VAULT_TEST_REQUIRE_SERVERS}=1 requires it (.ci/run installs it)");
        }
        println!("skipped {line}; install its Debian package to run it");
        false
    }

    /// Whether an extension can be created on this server.
    pub fn has_extension(&self, name: &str) -> bool {
        let found = self
            .query(
                &self.base,
                &format!("SELECT name::text FROM pg_available_extensions WHERE name = '{name}'"),
            )
            .unwrap();
        !found.is_empty()
    }
}

/// A name no other test uses (at most 63 bytes, the server's limit).
fn unique(prefix: &str, label: &str) -> String {
    super::unique_name(prefix, label, 63)
}

/// A test database.
pub struct Db {
    pub name: String,
    server: Arc<Server>,
}

impl Db {
    pub fn url(&self) -> String {
        self.server.url(&self.name)
    }

    /// Runs a script of statements; panics with the error.
    pub fn exec(&self, sql: &str) {
        self.try_exec(sql)
            .unwrap_or_else(|e| panic!("in {}: {e}\n{sql}", self.name));
    }

    pub fn try_exec(&self, sql: &str) -> Result<(), String> {
        self.server.script(&self.url(), sql)
    }

    /// The first column of every row (the query casts it to text).
    pub fn rows(&self, sql: &str) -> Vec<String> {
        self.server
            .query(&self.url(), sql)
            .unwrap_or_else(|e| panic!("in {}: {e}\n{sql}", self.name))
            .into_iter()
            .map(|v| v.unwrap_or_else(|| "NULL".into()))
            .collect()
    }

    /// The one value a query returns, as text.
    pub fn one(&self, sql: &str) -> String {
        let rows = self.rows(sql);
        assert_eq!(rows.len(), 1, "{sql} returned {rows:?}");
        rows.into_iter().next().unwrap()
    }

    /// Every row of a table as text, ordered: to compare before and after.
    pub fn table(&self, table: &str) -> Vec<String> {
        self.rows(&format!("SELECT t::text FROM {table} t ORDER BY 1"))
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let base = self.server.base.clone();
        let _ = self.server.script(
            &base,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// A test role.
pub struct Role {
    pub name: String,
    server: Arc<Server>,
}

impl Drop for Role {
    fn drop(&mut self) {
        let base = self.server.base.clone();
        let _ = self
            .server
            .script(&base, &format!("DROP ROLE IF EXISTS {}", self.name));
    }
}

/// A temp folder with a key file and vault.toml whose acceptance URL is in
/// [`ACC_URL_ENV`].
pub struct Site {
    pub dir: tempfile::TempDir,
    pub key: PathBuf,
    pub config: PathBuf,
    pub vault: PathBuf,
    acceptance_url: String,
}

impl Site {
    pub fn new(acceptance: &Db) -> Site {
        Site::with_url(&acceptance.url())
    }

    pub fn with_url(acceptance_url: &str) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let (key, _) = key_file(dir.path(), "acc.key");
        Site {
            config: dir.path().join("vault.toml"),
            vault: dir.path().join("acc.vault"),
            key,
            dir,
            acceptance_url: acceptance_url.to_owned(),
        }
    }

    /// Writes vault.toml: `[acceptance]` from the environment, then `rest`.
    pub fn configure(&self, rest: &str) {
        let text = format!("[acceptance]\nurl_env = \"{ACC_URL_ENV}\"\n\n{rest}");
        std::fs::write(&self.config, text).unwrap();
    }

    /// The acceptance URL the binary is given (to point it elsewhere).
    pub fn set_acceptance_url(&mut self, url: &str) {
        self.acceptance_url = url.to_owned();
    }

    /// `vault capture` into the site's vault.
    pub fn capture(&self) -> Run {
        self.vault_with(&[
            "capture",
            "--config",
            s(&self.config),
            "--out",
            s(&self.vault),
            "--key-file",
            s(&self.key),
        ])
    }

    /// `vault restore` of the site's vault, with `extra` arguments.
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
        self.vault_with(&args)
    }

    /// Starts `vault restore` of the site's vault with `extra` arguments, in
    /// the background (output piped): for a test that interrupts or kills it.
    pub fn spawn_restore(&self, extra: &[&str]) -> std::process::Child {
        std::process::Command::new(env!("CARGO_BIN_EXE_vault"))
            .args(["restore", s(&self.vault), "--config", s(&self.config)])
            .args(["--key-file", s(&self.key)])
            .args(extra)
            .env(ACC_URL_ENV, &self.acceptance_url)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the vault binary starts")
    }

    /// Runs the binary with the acceptance URL in the environment.
    pub fn vault_with(&self, args: &[&str]) -> Run {
        vault(args, &[(ACC_URL_ENV, self.acceptance_url.as_str())])
    }
}
