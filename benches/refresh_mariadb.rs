//! Benchmark of `vault restore --steps restore` on MariaDB/MySQL after a
//! real refresh (production's version of every preserved table in place)
//! against the DBA's manual way: empty the tables and load a `mariadb-dump
//! --no-create-info` of acceptance taken before the refresh, in one
//! `mariadb` session. Wall time and peak memory (`/usr/bin/time -v`).
//!
//! Data at scale 1.0: acceptance holds 300,000 accounts and 400 documents
//! of 256 KiB (the document refers to its account). Production differs:
//! every account changed (email, name, password hash) and 30,000 more;
//! half the documents rewritten, 50 gone, 50 new. Acceptance is captured
//! with vault and dumped, then refreshed as DBAs do: the database dropped
//! and created again from a `mariadb-dump` of production. Each timed run
//! gets its own freshly refreshed copy. Run: `cargo bench --bench
//! refresh_mariadb` (server: `VAULT_TEST_MYSQL_URL`, default
//! `mysql://root@127.0.0.1:3306/mysql`; scale with `VAULT_BENCH_SCALE`,
//! default 1.0; `VAULT_BENCH_KEEP=1` leaves the databases in place). Needs
//! `mariadb`/`mariadb-dump` (or MySQL's `mysql`/`mysqldump`), `bash` and
//! `/usr/bin/time`; the server must have RANDOM_BYTES (MariaDB 10.10+,
//! MySQL 8).

#[path = "common/timing.rs"]
mod timing;

use std::path::Path;
use std::process::Command;

use timing::{print_against, timed};

/// Parents first: the order the dump is taken and the tables are emptied in reverse.
const TABLES: [&str; 2] = ["account", "document"];
/// Acceptance as captured, kept as it was for the comparisons.
const SOURCE: &str = "vault_rbench_acc";
const PRODUCTION: &str = "vault_rbench_prod";
/// Two refreshed copies of acceptance, one for each way back.
const VAULT_TARGET: &str = "vault_rbench_vault";
const DUMP_TARGET: &str = "vault_rbench_manual";
const DATABASES: [&str; 4] = [SOURCE, PRODUCTION, VAULT_TARGET, DUMP_TARGET];

/// Host, port, user and password of the server, for the command-line clients.
struct Server {
    host: String,
    port: String,
    user: String,
    password: Option<String>,
    /// `scheme://userinfo@host:port`, without a database.
    root: String,
}

impl Server {
    fn parse(url: &str) -> Server {
        let (scheme, rest) = url.split_once("://").expect("a mysql:// URL");
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        let (userinfo, hostport) = authority.rsplit_once('@').unwrap_or(("root", authority));
        let (user, password) = match userinfo.split_once(':') {
            Some((user, password)) => (user.to_owned(), Some(password.to_owned())),
            None => (userinfo.to_owned(), None),
        };
        let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "3306"));
        Server {
            host: host.to_owned(),
            port: port.to_owned(),
            user,
            password,
            root: format!("{scheme}://{authority}"),
        }
    }

    fn url(&self, database: &str) -> String {
        format!("{}/{database}", self.root)
    }

    /// The client's connection options, as shell words (the password goes in `MYSQL_PWD`).
    fn client_args(&self) -> String {
        format!(
            "-h {} -P {} -u {}",
            shell_word(&self.host),
            shell_word(&self.port),
            shell_word(&self.user)
        )
    }

    fn client(&self, database: &str) -> Command {
        let mut command = Command::new(client_tool());
        command
            .args(["-h", &self.host, "-P", &self.port, "-u", &self.user])
            .args(["-N", "-B", database]);
        self.with_password(&mut command);
        command
    }

    fn with_password(&self, command: &mut Command) {
        if let Some(password) = &self.password {
            command.env("MYSQL_PWD", password);
        }
    }

    /// Runs SQL statements in `database`.
    fn sql(&self, database: &str, sql: &str) {
        run_ok(self.client(database).args(["-e", sql]));
    }

    /// The output of a query, trimmed.
    fn value(&self, database: &str, sql: &str) -> String {
        let output = self
            .client(database)
            .args(["-e", sql])
            .output()
            .expect("run the client");
        assert!(
            output.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// CHECKSUM TABLE of every benchmark table, without the database name.
    fn checksums(&self, database: &str) -> String {
        self.value(database, &format!("CHECKSUM TABLE {}", TABLES.join(", ")))
            .lines()
            .map(|line| {
                line.split_once('.')
                    .map_or(line, |(_, rest)| rest)
                    .to_owned()
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// A shell pipeline in `bash -c` with pipefail, the password in its environment.
    fn pipeline(&self, script: &str) -> Command {
        let mut command = Command::new("bash");
        command.arg("-c").arg(format!("set -o pipefail; {script}"));
        self.with_password(&mut command);
        command
    }

    /// Refreshes `database` as DBAs do: dropped, created again and loaded
    /// from production's dump.
    fn refresh(&self, database: &str, production_dump: &Path) {
        self.sql(
            "mysql",
            &format!(
                "DROP DATABASE IF EXISTS {database};
                 CREATE DATABASE {database} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            ),
        );
        run_ok(&mut self.pipeline(&format!(
            "{} {} {database} < {}",
            client_tool(),
            self.client_args(),
            shell_word(production_dump.to_str().unwrap())
        )));
    }
}

/// `n` digits tables cross-joined: the numbers 1 to 10^n as `n`, without
/// recursion limits (MySQL's cte_max_recursion_depth) or MariaDB's Sequence engine.
fn numbers(levels: u32) -> String {
    let digits = "(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 \
                  UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 \
                  UNION ALL SELECT 8 UNION ALL SELECT 9)";
    let sum: Vec<String> = (0..levels)
        .map(|i| format!("{} * d{i}.d", 10u64.pow(i)))
        .collect();
    let from: Vec<String> = (0..levels).map(|i| format!("{digits} d{i}")).collect();
    format!(
        "SELECT 1 + {} AS n FROM {}",
        sum.join(" + "),
        from.join(", ")
    )
}

/// 256 KiB of random bytes, computed once per row of `d` (the correlation keeps it from being computed once).
const BLOB: &str = "(SELECT GROUP_CONCAT(RANDOM_BYTES(1024) SEPARATOR '') FROM seq k WHERE k.n <= 256 AND d.n > 0)";

fn main() {
    let server_url = std::env::var("VAULT_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/mysql".into());
    let scale: f64 = std::env::var("VAULT_BENCH_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0);
    let server = Server::parse(&server_url);
    let dir = tempfile::tempdir().expect("temporary folder");
    let vault = env!("CARGO_BIN_EXE_vault");
    let n = |rows: f64| ((rows * scale) as u64).max(1);
    let (accounts, new_accounts, documents, churn) = (n(300_000.0), n(30_000.0), n(400.0), n(50.0));

    eprintln!("building {SOURCE} and {PRODUCTION} (scale {scale})");
    for db in DATABASES {
        server.sql("mysql", &format!("DROP DATABASE IF EXISTS {db}"));
    }
    for db in [SOURCE, PRODUCTION] {
        server.sql(
            "mysql",
            &format!("CREATE DATABASE {db} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"),
        );
    }
    let all = accounts + new_accounts;
    let levels = (all.max(documents + churn).max(256) as f64)
        .log10()
        .ceil()
        .max(1.0) as u32;
    let schema = "CREATE TABLE account (account_id BIGINT PRIMARY KEY, login VARCHAR(64) NOT NULL,
                    email VARCHAR(128), full_name VARCHAR(128), password_hash VARCHAR(128),
                    created_at TIMESTAMP(6) NULL, active BOOLEAN, prefs JSON);
                  CREATE TABLE document (doc_id BIGINT PRIMARY KEY, account_id BIGINT,
                    title VARCHAR(128), content LONGBLOB,
                    FOREIGN KEY (account_id) REFERENCES account (account_id));";
    server.sql(
        SOURCE,
        &format!(
            "{schema}
             CREATE TABLE seq (n BIGINT PRIMARY KEY);
             INSERT INTO seq SELECT n FROM ({numbers}) all_n WHERE n <= {seq};
             INSERT INTO account SELECT n, CONCAT('user', n), CONCAT('user', n, '@example.org'),
               CONCAT('Name ', MD5(n)), CONCAT('$argon2id$v=19$', MD5(RAND()), MD5(RAND())),
               NOW(6) - INTERVAL n MINUTE, n % 7 <> 0,
               JSON_OBJECT('theme', IF(n % 2 = 0, 'dark', 'light'), 'lang', 'nl', 'page', n % 50)
               FROM seq WHERE n <= {accounts};
             SET SESSION group_concat_max_len = 1048576;
             INSERT INTO document SELECT d.n, d.n, CONCAT('document ', d.n), {BLOB}
               FROM seq d WHERE d.n <= {documents};
             ANALYZE TABLE account, document;",
            numbers = numbers(levels),
            seq = all.max(documents + churn).max(256),
        ),
    );
    // Production: every account changed and more of them; half the
    // documents rewritten, `churn` gone and `churn` new.
    server.sql(
        PRODUCTION,
        &format!(
            "{schema}
             INSERT INTO account SELECT account_id, login, CONCAT('prod.', login, '@example.com'),
               CONCAT('Production ', MD5(account_id + 1)), CONCAT('$argon2id$v=19$', MD5(RAND()), MD5(RAND())),
               created_at, active, prefs
               FROM {SOURCE}.account;
             INSERT INTO account SELECT n, CONCAT('user', n), CONCAT('user', n, '@example.com'),
               CONCAT('Name ', MD5(n)), CONCAT('$argon2id$v=19$', MD5(RAND()), MD5(RAND())),
               NOW(6) - INTERVAL n MINUTE, TRUE, JSON_OBJECT('theme', 'light', 'lang', 'en', 'page', 1)
               FROM {SOURCE}.seq WHERE n > {accounts} AND n <= {all};
             SET SESSION group_concat_max_len = 1048576;
             INSERT INTO document SELECT doc_id, account_id, title, content FROM {SOURCE}.document
               WHERE doc_id > {churn} AND doc_id % 2 = 1;
             INSERT INTO document SELECT d.n, d.n, CONCAT('document ', d.n, ' (production)'),
               (SELECT GROUP_CONCAT(RANDOM_BYTES(1024) SEPARATOR '') FROM {SOURCE}.seq k WHERE k.n <= 256 AND d.n > 0)
               FROM {SOURCE}.seq d WHERE d.n > {churn} AND d.n <= {documents} AND d.n % 2 = 0;
             INSERT INTO document SELECT d.n, {accounts} + d.n - {documents}, CONCAT('document ', d.n),
               (SELECT GROUP_CONCAT(RANDOM_BYTES(1024) SEPARATOR '') FROM {SOURCE}.seq k WHERE k.n <= 256 AND d.n > 0)
               FROM {SOURCE}.seq d WHERE d.n > {documents} AND d.n <= {documents} + {churn};
             ANALYZE TABLE account, document;"
        ),
    );
    server.sql(SOURCE, "DROP TABLE seq");
    let count = |db: &str, table: &str| -> u64 {
        server
            .value(db, &format!("SELECT count(*) FROM {table}"))
            .parse()
            .unwrap()
    };
    let rows: Vec<u64> = TABLES.iter().map(|t| count(SOURCE, t)).collect();
    let production_rows: Vec<u64> = TABLES.iter().map(|t| count(PRODUCTION, t)).collect();
    let table_bytes: u64 = server
        .value(
            SOURCE,
            "SELECT sum(data_length + index_length) FROM information_schema.tables WHERE table_schema = DATABASE()",
        )
        .parse()
        .unwrap();

    // Before the refresh: vault captures acceptance, and the DBA dumps it.
    let key = dir.path().join("bench.key");
    run_ok(Command::new(vault).args(["keygen", "--out"]).arg(&key));
    let config = |db: &str| {
        let path = dir.path().join(format!("{db}.toml"));
        let mut text = match &server.password {
            // vault.toml never holds a password: the URL comes from the environment.
            Some(_) => "[acceptance]\nurl_env = \"VAULT_BENCH_ACCEPTANCE_URL\"\n".to_owned(),
            None => format!("[acceptance]\nurl = \"{}\"\n", server.url(db)),
        };
        for table in TABLES {
            text.push_str(&format!("\n[[preserve]]\ntable = \"{table}\"\n"));
        }
        std::fs::write(&path, text).unwrap();
        path
    };
    let vault_command = |db: &str| {
        let mut command = Command::new(vault);
        command
            .env("VAULT_KEY_FILE", &key)
            .env("VAULT_BENCH_ACCEPTANCE_URL", server.url(db));
        command
    };
    let vault_file = dir.path().join("acceptance.vault");
    eprintln!("capturing {SOURCE} with vault and mariadb-dump");
    run_ok(
        vault_command(SOURCE)
            .args(["capture", "--config"])
            .arg(config(SOURCE))
            .arg("--out")
            .arg(&vault_file),
    );
    let acceptance_dump = dir.path().join("acceptance.sql");
    run_ok(&mut server.pipeline(&format!(
        "{} --single-transaction --no-create-info {} {SOURCE} {} > {}",
        dump_tool(),
        server.client_args(),
        TABLES.join(" "),
        shell_word(acceptance_dump.to_str().unwrap())
    )));
    let production_dump = dir.path().join("production.sql");
    run_ok(&mut server.pipeline(&format!(
        "{} --single-transaction {} {PRODUCTION} {} > {}",
        dump_tool(),
        server.client_args(),
        TABLES.join(" "),
        shell_word(production_dump.to_str().unwrap())
    )));

    // (a) vault on a refreshed copy.
    eprintln!("refreshing {VAULT_TARGET} from production; vault restore");
    server.refresh(VAULT_TARGET, &production_dump);
    let vault_run = timed(
        vault_command(VAULT_TARGET)
            .arg("restore")
            .arg(&vault_file)
            .arg("--config")
            .arg(config(VAULT_TARGET))
            .arg("--target-differs")
            // The data step alone, as loading a dump does: no sanitize, health or links.
            .args(["--steps", "restore"]),
    );
    // (b) the manual way on another: the tables emptied (children first)
    // and the dump loaded, in one session.
    eprintln!("refreshing {DUMP_TARGET} from production; emptied and the dump loaded");
    server.refresh(DUMP_TARGET, &production_dump);
    let empty: Vec<String> = TABLES
        .iter()
        .rev()
        .map(|t| format!("TRUNCATE TABLE {t};"))
        .collect();
    let manual_run = timed(&mut server.pipeline(&format!(
        "{{ echo 'SET FOREIGN_KEY_CHECKS = 0; {}'; cat {}; }} | {} {} {DUMP_TARGET}",
        empty.join(" "),
        shell_word(acceptance_dump.to_str().unwrap()),
        client_tool(),
        server.client_args()
    )));

    let sums: Vec<String> = [SOURCE, VAULT_TARGET, DUMP_TARGET]
        .iter()
        .map(|db| server.checksums(db))
        .collect();
    assert!(
        sums.iter().all(|sum| sum == &sums[0]),
        "restored data differs from the source (CHECKSUM TABLE): {sums:?}"
    );
    assert_ne!(
        sums[0],
        server.checksums(PRODUCTION),
        "production must differ from acceptance"
    );

    let size =
        |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0) as f64 / (1024.0 * 1024.0);
    println!(
        "data: acceptance {} accounts and {} documents ({:.0} MiB in InnoDB), production {} and {}; both restores checked equal to acceptance (CHECKSUM TABLE)",
        rows[0],
        rows[1],
        table_bytes as f64 / (1024.0 * 1024.0),
        production_rows[0],
        production_rows[1],
    );
    print_against(
        "restore",
        &vault_run,
        "TRUNCATE + mariadb < dump",
        "load",
        &manual_run,
        0.80,
    );
    println!(
        "size:     vault {:7.1} MiB   mariadb-dump --no-create-info (not compressed) {:7.1} MiB",
        size(&vault_file),
        size(&acceptance_dump),
    );
    if std::env::var_os("VAULT_BENCH_KEEP").is_some() {
        let kept = dir.keep();
        eprintln!(
            "kept for profiling (VAULT_BENCH_KEEP): {} and the files in {}",
            DATABASES.join(", "),
            kept.display()
        );
        return;
    }
    for db in DATABASES {
        server.sql("mysql", &format!("DROP DATABASE IF EXISTS {db}"));
    }
}

fn run_ok(command: &mut Command) {
    let output = command.output().expect("run");
    assert!(
        output.status.success(),
        "{:?}: {}",
        command.get_program(),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `mariadb-dump` where it exists, else MySQL's `mysqldump`.
fn dump_tool() -> &'static str {
    if which("mariadb-dump") {
        "mariadb-dump"
    } else {
        "mysqldump"
    }
}

/// `mariadb` where it exists, else MySQL's `mysql`.
fn client_tool() -> &'static str {
    if which("mariadb") { "mariadb" } else { "mysql" }
}

fn which(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
}

/// `text` quoted for bash.
fn shell_word(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}
