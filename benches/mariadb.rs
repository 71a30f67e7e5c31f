//! Benchmark of capture and restore on MariaDB/MySQL against `mariadb-dump
//! --single-transaction | zstd -3` and `zstd -dc | mariadb` of the same
//! tables, in the same run, on the same server: wall time, peak memory
//! (`/usr/bin/time -v`) and file sizes.
//!
//! Data: about 1 million account-like rows in three tables, and 2,000
//! document blobs of 256 KiB (as `benches/postgres.rs`). Run: `cargo bench
//! --bench mariadb` (server: `VAULT_TEST_MYSQL_URL`, default
//! `mysql://root@127.0.0.1:3306/mysql`; scale with `VAULT_BENCH_SCALE`,
//! default 1.0; `VAULT_BENCH_KEEP=1` leaves the databases in place for
//! profiling). Needs `mariadb`/`mariadb-dump` (or MySQL's `mysql`/
//! `mysqldump`), `zstd`, `bash` and `/usr/bin/time`; the server must have
//! RANDOM_BYTES (MariaDB 10.10+, MySQL 8).

#[path = "common/timing.rs"]
mod timing;

use std::path::Path;
use std::process::Command;

use timing::{print_against, timed};

const TABLES: [&str; 4] = ["account", "account_setting", "account_2fa", "document"];
const SOURCE: &str = "vault_bench_acc";
const DUMP_TARGET: &str = "vault_bench_dump_load";
const VAULT_TARGET: &str = "vault_bench_vault_restore";
const REFRESHED_TARGET: &str = "vault_bench_refreshed";

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
    let (accounts, settings, enrolled, documents) =
        (n(600_000.0), n(150_000.0), n(100_000.0), n(2_000.0));

    eprintln!("building {SOURCE} (scale {scale})");
    for db in [SOURCE, DUMP_TARGET, VAULT_TARGET, REFRESHED_TARGET] {
        server.sql("mysql", &format!("DROP DATABASE IF EXISTS {db}"));
    }
    server.sql(
        "mysql",
        &format!("CREATE DATABASE {SOURCE} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"),
    );
    let levels = (accounts.max(settings).max(enrolled).max(documents).max(256) as f64)
        .log10()
        .ceil()
        .max(1.0) as u32;
    server.sql(
        SOURCE,
        &format!(
            "CREATE TABLE account (account_id BIGINT PRIMARY KEY, login VARCHAR(64) NOT NULL, email VARCHAR(128),
               full_name VARCHAR(128), password_hash VARCHAR(128), created_at TIMESTAMP(6) NULL, active BOOLEAN, prefs JSON);
             CREATE TABLE account_setting (account_id BIGINT, name VARCHAR(32), value VARCHAR(64),
               PRIMARY KEY (account_id, name), FOREIGN KEY (account_id) REFERENCES account (account_id));
             CREATE TABLE account_2fa (account_id BIGINT PRIMARY KEY, totp_secret VARBINARY(20) NOT NULL,
               enrolled_at TIMESTAMP(6) NOT NULL, FOREIGN KEY (account_id) REFERENCES account (account_id));
             CREATE TABLE document (doc_id BIGINT PRIMARY KEY, account_id BIGINT, title VARCHAR(128), content LONGBLOB,
               FOREIGN KEY (account_id) REFERENCES account (account_id));
             CREATE TABLE seq (n BIGINT PRIMARY KEY);
             INSERT INTO seq SELECT n FROM ({numbers}) all_n WHERE n <= {seq};
             INSERT INTO account SELECT n, CONCAT('user', n), CONCAT('user', n, '@example.org'),
               CONCAT('Name ', MD5(n)), CONCAT('$argon2id$v=19$', MD5(RAND()), MD5(RAND())),
               NOW(6) - INTERVAL n MINUTE, n % 7 <> 0,
               JSON_OBJECT('theme', IF(n % 2 = 0, 'dark', 'light'), 'lang', 'nl', 'page', n % 50)
               FROM seq WHERE n <= {accounts};
             INSERT INTO account_setting SELECT n, CONCAT('setting', s), MD5(n * s)
               FROM seq, (SELECT 1 AS s UNION ALL SELECT 2) two WHERE n <= {settings};
             INSERT INTO account_2fa SELECT n, RANDOM_BYTES(20), NOW(6) FROM seq WHERE n <= {enrolled};
             SET SESSION group_concat_max_len = 1048576;
             INSERT INTO document SELECT d.n, d.n, CONCAT('document ', d.n),
               (SELECT GROUP_CONCAT(RANDOM_BYTES(1024) SEPARATOR '') FROM seq k WHERE k.n <= 256 AND d.n > 0)
               FROM seq d WHERE d.n <= {documents};
             DROP TABLE seq;
             ANALYZE TABLE account, account_setting, account_2fa, document;",
            numbers = numbers(levels),
            seq = accounts.max(256),
        ),
    );
    let rows: u64 = TABLES
        .iter()
        .map(|t| {
            server
                .value(SOURCE, &format!("SELECT count(*) FROM {t}"))
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    let table_bytes: u64 = server
        .value(
            SOURCE,
            "SELECT sum(data_length + index_length) FROM information_schema.tables WHERE table_schema = DATABASE()",
        )
        .parse()
        .unwrap();
    // Two empty copies for the two loaders, and one that still holds every row (a refreshed acceptance).
    for db in [DUMP_TARGET, VAULT_TARGET, REFRESHED_TARGET] {
        let mut script = format!(
            "CREATE DATABASE {db} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci; USE {db};"
        );
        for table in TABLES {
            script.push_str(&format!(" CREATE TABLE {table} LIKE {SOURCE}.{table};"));
        }
        // LIKE copies no foreign keys: add them as the source has them.
        for table in ["account_setting", "account_2fa", "document"] {
            script.push_str(&format!(
                " ALTER TABLE {table} ADD FOREIGN KEY (account_id) REFERENCES account (account_id);"
            ));
        }
        if db == REFRESHED_TARGET {
            for table in TABLES {
                script.push_str(&format!(
                    " INSERT INTO {table} SELECT * FROM {SOURCE}.{table};"
                ));
            }
        }
        server.sql("mysql", &script);
    }

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
    let dump = dir.path().join("bench.sql.zst");
    let vault_file = dir.path().join("bench.vault");

    let mut dump_command = Command::new("bash");
    dump_command.arg("-c").arg(format!(
        "set -o pipefail; {} --single-transaction --no-create-info {} {SOURCE} {} | zstd -3 -q -o {}",
        dump_tool(),
        server.client_args(),
        TABLES.join(" "),
        shell_word(dump.to_str().unwrap())
    ));
    server.with_password(&mut dump_command);
    let dump_run = timed(&mut dump_command);
    let capture_run = timed(
        vault_command(SOURCE)
            .args(["capture", "--config"])
            .arg(config(SOURCE))
            .arg("--out")
            .arg(&vault_file),
    );
    let mut load_command = Command::new("bash");
    load_command.arg("-c").arg(format!(
        "set -o pipefail; zstd -dc {} | {} {} {DUMP_TARGET}",
        shell_word(dump.to_str().unwrap()),
        client_tool(),
        server.client_args()
    ));
    server.with_password(&mut load_command);
    let load_run = timed(&mut load_command);
    let restore_vault_run = timed(
        vault_command(VAULT_TARGET)
            .arg("restore")
            .arg(&vault_file)
            .arg("--config")
            .arg(config(VAULT_TARGET))
            .arg("--target-differs")
            // The data step alone, as loading a dump does: no sanitize, health or links.
            .args(["--steps", "restore"]),
    );
    let refreshed_run = timed(
        vault_command(REFRESHED_TARGET)
            .arg("restore")
            .arg(&vault_file)
            .arg("--config")
            .arg(config(REFRESHED_TARGET))
            .arg("--target-differs")
            .args(["--steps", "restore"]),
    );
    let sums: Vec<String> = [SOURCE, DUMP_TARGET, VAULT_TARGET, REFRESHED_TARGET]
        .iter()
        .map(|db| server.checksums(db))
        .collect();
    assert!(
        sums.iter().all(|sum| sum == &sums[0]),
        "restored data differs from the source (CHECKSUM TABLE): {sums:?}"
    );

    let size =
        |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0) as f64 / (1024.0 * 1024.0);
    println!(
        "data: {rows} rows in {} tables, {:.0} MiB on disk in MariaDB/MySQL; every restore checked equal to the source (CHECKSUM TABLE)",
        TABLES.len(),
        table_bytes as f64 / (1024.0 * 1024.0)
    );
    print_against(
        "capture",
        &capture_run,
        "mariadb-dump | zstd -3",
        "dump",
        &dump_run,
        0.5,
    );
    print_against(
        "restore",
        &restore_vault_run,
        "zstd -dc | mariadb    ",
        "load",
        &load_run,
        1.0,
    );
    println!(
        "restore into a refreshed copy (every row replaced): vault {:6.2} s   ratio to loading the dump into empty tables {:.2}   peak {:.0} MiB",
        refreshed_run.secs,
        refreshed_run.secs / load_run.secs,
        refreshed_run.peak_mib
    );
    println!(
        "size:     vault {:7.1} MiB   mariadb-dump | zstd -3 {:7.1} MiB   ratio {:.2}",
        size(&vault_file),
        size(&dump),
        size(&vault_file) / size(&dump)
    );
    if std::env::var_os("VAULT_BENCH_KEEP").is_some() {
        eprintln!(
            "kept for profiling (VAULT_BENCH_KEEP): {SOURCE}, {DUMP_TARGET}, {VAULT_TARGET}, {REFRESHED_TARGET}"
        );
        return;
    }
    for db in [SOURCE, DUMP_TARGET, VAULT_TARGET, REFRESHED_TARGET] {
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
