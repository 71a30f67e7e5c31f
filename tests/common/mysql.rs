//! MariaDB/MySQL for the tests: the server at `VAULT_TEST_MYSQL_URL` or a skip, databases
//! with unique names that a guard drops, SQL through sqlx, and the refresh as DBAs do it
//! (`mariadb-dump | mariadb`). Sites (key file, vault.toml) are [`super::pg::Site`]'s.

use std::process::{Command, Stdio};
use std::sync::Arc;

use sqlx::mysql::MySqlConnection;
use sqlx::{AssertSqlSafe, Connection, Row};
use vault::env_vars::VAULT_TEST_MYSQL_URL;

#[allow(unused_imports)] // for the test files that build sites
pub use super::pg::{ACC_URL_ENV, Site};

const DEFAULT_URL: &str = "mysql://root@127.0.0.1:3306/mysql";

/// The test server, reached through its `mysql` database.
pub struct Server {
    base: String,
    runtime: tokio::runtime::Runtime,
}

/// The server, or `None` after printing why `test` is skipped. With
/// `VAULT_TEST_REQUIRE_SERVERS=1` a missing server fails the test instead.
pub fn server(test: &str) -> Option<Arc<Server>> {
    let (base, runtime) = super::reach_server::<MySqlConnection>(
        test,
        "MariaDB/MySQL",
        VAULT_TEST_MYSQL_URL,
        DEFAULT_URL,
    )?;
    Some(Arc::new(Server { base, runtime }))
}

impl Server {
    /// The URL of `database` on this server.
    pub fn url(&self, database: &str) -> String {
        super::database_url(&self.base, database)
    }

    /// Runs statements in the `mysql` database.
    pub fn admin(&self, sql: &str) {
        self.script(&self.base, sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// The first column of each row, as the server's text protocol spells it.
    fn query(&self, url: &str, sql: &str) -> Result<Vec<Option<String>>, String> {
        self.runtime.block_on(async {
            let mut conn = MySqlConnection::connect(url)
                .await
                .map_err(|e| e.to_string())?;
            sqlx::raw_sql("SET time_zone = '+00:00'")
                .execute(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            let rows = sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
                .fetch_all(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            let values = rows
                .iter()
                .map(|row| {
                    row.try_get_unchecked::<Option<Vec<u8>>, _>(0)
                        .map(|v| v.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())?;
            conn.close().await.map_err(|e| e.to_string())?;
            Ok(values)
        })
    }

    fn script(&self, url: &str, sql: &str) -> Result<(), String> {
        self.runtime.block_on(async {
            let mut conn = MySqlConnection::connect(url)
                .await
                .map_err(|e| e.to_string())?;
            sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
                .execute(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            conn.close().await.map_err(|e| e.to_string())
        })
    }

    /// A new empty database (utf8mb4); dropped with the guard.
    pub fn database(self: &Arc<Self>, label: &str) -> Db {
        let name = unique("vault_t", label);
        self.admin(&format!(
            "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        ));
        Db {
            name,
            server: Arc::clone(self),
        }
    }

    /// A new account `'name'@'%'` that cannot log in; dropped with the guard.
    pub fn account(self: &Arc<Self>, label: &str) -> Account {
        let name = unique("vr", label);
        let name = name[..name.len().min(32)].to_owned();
        self.admin(&format!("CREATE USER '{name}'@'%' ACCOUNT LOCK"));
        Account {
            name,
            server: Arc::clone(self),
        }
    }

    /// The DBAs' refresh: acceptance becomes a copy of production, by
    /// `mariadb-dump --routines --triggers --events | mariadb`.
    pub fn refresh(&self, acceptance: &Db, production: &Db) {
        self.admin(&format!("DROP DATABASE `{}`", acceptance.name));
        self.admin(&format!(
            "CREATE DATABASE `{}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
            acceptance.name
        ));
        let (host, port, user) = self.connection_args();
        let mut dump = Command::new(dump_tool())
            .args(["-h", &host, "-P", &port, "-u", &user])
            .args([
                "--single-transaction",
                "--routines",
                "--triggers",
                "--events",
            ])
            .arg("--skip-tz-utc")
            .arg(&production.name)
            .stdout(Stdio::piped())
            .spawn()
            .expect("run mariadb-dump");
        let load = Command::new(client_tool())
            .args(["-h", &host, "-P", &port, "-u", &user, &acceptance.name])
            .stdin(dump.stdout.take().expect("dump output"))
            .status()
            .expect("run mariadb");
        let dumped = dump.wait().expect("wait for mariadb-dump");
        assert!(dumped.success(), "dumping {} failed", production.name);
        assert!(
            load.success(),
            "loading the dump into {} failed",
            acceptance.name
        );
    }

    /// Host, port and user of the base URL, for the command-line clients.
    fn connection_args(&self) -> (String, String, String) {
        let after = self.base.split_once("://").map_or("", |(_, r)| r);
        let authority = after.split('/').next().unwrap_or("");
        let (user, hostport) = authority.rsplit_once('@').unwrap_or(("root", authority));
        let user = user.split(':').next().unwrap_or("root").to_owned();
        let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "3306"));
        (host.to_owned(), port.to_owned(), user)
    }
}

/// `mariadb-dump` where it exists, else MySQL's `mysqldump`.
pub fn dump_tool() -> &'static str {
    if which("mariadb-dump") {
        "mariadb-dump"
    } else {
        "mysqldump"
    }
}

/// `mariadb` where it exists, else MySQL's `mysql`.
pub fn client_tool() -> &'static str {
    if which("mariadb") { "mariadb" } else { "mysql" }
}

fn which(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
}

/// A name no other test uses (at most 64 bytes, the server's limit).
fn unique(prefix: &str, label: &str) -> String {
    super::unique_name(prefix, label, 64)
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

    /// The first column of every row as text (`NULL` for NULL), in UTC.
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

    /// Every row of a table, each row's columns as exact hex-and-text, ordered:
    /// to compare before and after.
    pub fn table(&self, table: &str) -> Vec<String> {
        let columns = self.rows(&format!(
            "SELECT column_name FROM information_schema.columns
             WHERE table_schema = DATABASE() AND table_name = '{table}' ORDER BY ordinal_position"
        ));
        assert!(!columns.is_empty(), "no table {table} in {}", self.name);
        let cells = columns
            .iter()
            .map(|c| format!("IFNULL(HEX(`{c}`), 'NULL')"))
            .collect::<Vec<_>>()
            .join(", '|', ");
        self.rows(&format!("SELECT CONCAT({cells}) FROM `{table}` ORDER BY 1"))
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let base = self.server.base.clone();
        let _ = self
            .server
            .script(&base, &format!("DROP DATABASE IF EXISTS `{}`", self.name));
    }
}

/// A test account.
pub struct Account {
    pub name: String,
    server: Arc<Server>,
}

impl Account {
    /// As `[grants]` and GRANT name it: `'name'@'%'`.
    pub fn spec(&self) -> String {
        format!("'{}'@'%'", self.name)
    }
}

impl Drop for Account {
    fn drop(&mut self) {
        let base = self.server.base.clone();
        let _ = self
            .server
            .script(&base, &format!("DROP USER IF EXISTS '{}'@'%'", self.name));
    }
}
