//! `vault demo --engine mariadb`: the whole walkthrough on two databases of the test server, the refusal to drop a database the demo did not make, a server URL with a password, and the clear errors when there is no server.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use common::mysql::{Server, server};
use common::{s, vault};
use sqlx::mysql::MySqlConnection;
use sqlx::{AssertSqlSafe, Connection, Row};
use vault::env_vars::{VAULT_DEMO_ACCEPTANCE_URL, VAULT_DEMO_MYSQL_URL};

const ACCEPTANCE: &str = "vault_demo_acceptance";
const PRODUCTION: &str = "vault_demo_production";
const PRESERVED: [&str; 6] = [
    "app_user",
    "user_2fa",
    "app_role",
    "user_role",
    "app_setting",
    "portal_document",
];

/// The demo's databases have fixed names: one test at a time uses them
/// (nextest runs MariaDB tests one at a time; `cargo test` runs threads).
static DEMO_DATABASES: Mutex<()> = Mutex::new(());

/// The server with neither demo database on it, held for one test; both
/// are dropped again when the test ends.
struct Clean {
    server: Arc<Server>,
    _lock: MutexGuard<'static, ()>,
}

impl Clean {
    fn new(test: &str) -> Option<Self> {
        let server = server(test)?;
        let lock = DEMO_DATABASES.lock().unwrap_or_else(|e| e.into_inner());
        let clean = Clean {
            server,
            _lock: lock,
        };
        clean.drop_databases();
        Some(clean)
    }

    fn drop_databases(&self) {
        self.server.admin(&format!(
            "DROP DATABASE IF EXISTS {ACCEPTANCE}; DROP DATABASE IF EXISTS {PRODUCTION}"
        ));
    }

    /// The first column of each row of `sql`, as text.
    fn rows(&self, sql: &str) -> Vec<String> {
        let url = self.server.url("mysql");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut conn = MySqlConnection::connect(&url).await.unwrap();
            let rows = sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
                .fetch_all(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            rows.iter()
                .map(|row| {
                    let bytes: Option<Vec<u8>> = row.try_get_unchecked(0).unwrap();
                    bytes.map_or("NULL".into(), |b| String::from_utf8_lossy(&b).into_owned())
                })
                .collect()
        })
    }

    fn tables(&self, database: &str) -> Vec<String> {
        self.rows(&format!(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = '{database}' ORDER BY 1"
        ))
    }
}

impl Drop for Clean {
    fn drop(&mut self) {
        self.drop_databases();
    }
}

fn demo(dir: &Path, url: &str) -> common::Run {
    vault(
        [
            "demo",
            "--engine",
            "mariadb",
            "--dir",
            s(dir),
            "--mysql-url",
            url,
        ],
        &[],
    )
}

/// The run ended with every preserved table identical and a report that verifies.
fn assert_complete(run: &common::Run, dir: &Path) {
    for table in PRESERVED {
        assert!(
            run.stdout
                .lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == [table, "identical"]),
            "{table} identical in:\n{}",
            run.stdout
        );
    }
    assert!(!run.stdout.contains("DIFFERENT"), "{}", run.stdout);
    let report = dir.join("report");
    assert!(
        run.stdout.contains(&format!(
            "Signed run report for the change ticket: {}",
            report.join("report.html").display()
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("Demo complete: every preserved row is back."),
        "{}",
        run.stdout
    );
    let key = dir.join("demo.key");
    vault(["report", "verify", s(&report), "--key-file", s(&key)], &[]).expect(0);
}

#[test]
fn the_demo_runs_on_mariadb_and_replaces_its_earlier_databases() {
    let Some(clean) = Clean::new("the_demo_runs_on_mariadb_and_replaces_its_earlier_databases")
    else {
        return;
    };
    // What an earlier run left: a marked database with a table the new run must not keep.
    clean.server.admin(&format!(
        "CREATE DATABASE {ACCEPTANCE};
         CREATE TABLE {ACCEPTANCE}.vault_demo_marker (note text);
         CREATE TABLE {ACCEPTANCE}.leftover (x int)"
    ));
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("demo");
    // The URL's database part is ignored.
    let run = demo(&folder, &clean.server.url("mysql")).expect(0);
    assert_complete(&run, &folder);
    assert!(
        run.stdout.contains(
            "4. Refreshed acceptance from production (tables re-created, rows copied with INSERT ... SELECT): 6 of 6 preserved tables lost their acceptance rows."
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("7. What testers must not see: 0 assessments since 2024, 0 medical-record files, 0 real patient names"),
        "{}",
        run.stdout
    );
    let tables = clean.tables(ACCEPTANCE);
    assert!(!tables.contains(&"leftover".to_owned()), "{tables:?}");
    assert!(
        tables.contains(&"vault_demo_marker".to_owned()),
        "{tables:?}"
    );
    assert!(
        clean
            .tables(PRODUCTION)
            .contains(&"vault_demo_marker".to_owned())
    );
    // Acceptance kept its testers and got production's patients, masked.
    assert_eq!(
        clean.rows(&format!(
            "SELECT count(*) FROM {ACCEPTANCE}.app_user WHERE login LIKE 'staff%'"
        )),
        ["0"]
    );
    assert_eq!(
        clean.rows(&format!(
            "SELECT count(*) FROM {ACCEPTANCE}.patient WHERE name = CONCAT('Patient ', patient_id)"
        )),
        ["5000"]
    );
    // The trigger that stamps updated users did not touch the restored ones.
    assert_eq!(
        clean.rows(&format!(
            "SELECT count(*) FROM {ACCEPTANCE}.app_user WHERE updated_at IS NOT NULL"
        )),
        ["0"]
    );
    let config = std::fs::read_to_string(folder.join("vault.toml")).unwrap();
    assert!(
        config.contains(&format!("url = \"{}\"", clean.server.url(ACCEPTANCE))),
        "{config}"
    );
}

#[test]
fn a_database_the_demo_did_not_make_is_never_dropped() {
    let Some(clean) = Clean::new("a_database_the_demo_did_not_make_is_never_dropped") else {
        return;
    };
    clean.server.admin(&format!(
        "CREATE DATABASE {PRODUCTION};
         CREATE TABLE {PRODUCTION}.keep_me (x int);
         INSERT INTO {PRODUCTION}.keep_me VALUES (7)"
    ));
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("demo");
    let run = demo(&folder, &clean.server.url("")).expect(2);
    assert!(
        run.error_line().contains(&format!(
            "database {PRODUCTION} on {} exists and was not made by `vault demo`",
            clean.server.url("")
        )),
        "{run:#?}"
    );
    assert!(run.stderr.contains("--mysql-url"), "{run:#?}");
    // Nothing changed: the foreign database, no acceptance database, no folder.
    assert_eq!(
        clean.rows(&format!("SELECT x FROM {PRODUCTION}.keep_me")),
        ["7"]
    );
    assert!(clean.tables(ACCEPTANCE).is_empty());
    assert!(!folder.exists());
}

#[test]
fn a_server_url_with_a_password_stays_out_of_files_and_output() {
    let Some(clean) = Clean::new("a_server_url_with_a_password_stays_out_of_files_and_output")
    else {
        return;
    };
    let user = "vault_demo_pw";
    let password = "demo-Pw-93kq";
    clean.server.admin(&format!(
        "DROP USER IF EXISTS '{user}'@'%';
         CREATE USER '{user}'@'%' IDENTIFIED BY '{password}';
         GRANT ALL ON `vault\\_demo\\_%`.* TO '{user}'@'%'"
    ));
    struct DropUser<'a>(&'a Clean, &'a str);
    impl Drop for DropUser<'_> {
        fn drop(&mut self) {
            self.0
                .server
                .admin(&format!("DROP USER IF EXISTS '{}'@'%'", self.1));
        }
    }
    let _user = DropUser(&clean, user);
    let root = clean.server.url("");
    let (_, host) = root.split_once('@').expect("the test URL names user@host");
    let url = format!("mysql://{user}:{password}@{host}");
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("demo");
    let run = vault(
        ["demo", "--engine", "mariadb", "--dir", s(&folder)],
        &[(VAULT_DEMO_MYSQL_URL, url.as_str())],
    )
    .expect(0);
    assert_complete(&run, &folder);
    assert!(!run.stdout.contains(password) && !run.stderr.contains(password));
    assert!(
        run.stdout.contains(&format!("mysql://{user}:***@")),
        "{}",
        run.stdout
    );
    let config = std::fs::read_to_string(folder.join("vault.toml")).unwrap();
    assert!(
        config.contains(&format!("url_env = \"{VAULT_DEMO_ACCEPTANCE_URL}\"")),
        "{config}"
    );
    for entry in walk(&folder) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !bytes
                .windows(password.len())
                .any(|w| w == password.as_bytes()),
            "{} holds the password",
            entry.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn no_server_is_one_clear_error_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("demo");
    // Port 1: nothing listens there.
    let run = vault(
        ["demo", "--engine", "mariadb", "--dir", s(&folder)],
        &[(VAULT_DEMO_MYSQL_URL, "mysql://root:hush-93kq@127.0.0.1:1/")],
    )
    .expect(1);
    assert!(
        run.error_line()
            .starts_with("cannot reach a MariaDB/MySQL server at mysql://root:***@127.0.0.1:1/"),
        "{run:#?}"
    );
    assert!(!run.stderr.contains("hush-93kq"), "{run:#?}");
    assert!(
        run.stderr.contains("--mysql-url") && run.stderr.contains(VAULT_DEMO_MYSQL_URL),
        "{run:#?}"
    );
    assert!(!folder.exists());
}

#[test]
fn a_url_of_another_engine_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("demo");
    for url in ["postgres://postgres@127.0.0.1:5432/postgres", "not a url"] {
        let run = demo(&folder, url).expect(2);
        assert!(run.error_line().starts_with("--mysql-url"), "{run:#?}");
        assert!(!folder.exists());
    }
}
