//! Peak memory of capture and restore when one value is large: a 200 MiB
//! `bytea` on PostgreSQL and a 48 MiB LONGBLOB on MariaDB/MySQL, each among
//! a few small rows, captured, the acceptance database refreshed the way
//! DBAs do (dropped and created again from a dump of production, which holds
//! its own version of the value), and restored. Every restore is checked
//! byte for byte (MD5 in the server) before the figures are printed.
//!
//! Target: a peak resident set (`/usr/bin/time -v`) of at most 256 MiB for
//! `vault capture` and `vault restore`, whatever the size of one value. The
//! times of `pg_dump -Fc` / `mariadb-dump` of the same table, and of the
//! refresh's `pg_restore` / `mariadb` load, are printed for context.
//!
//! Run: `cargo bench --bench large_values` (servers: `VAULT_TEST_POSTGRES_URL`,
//! default `postgres://postgres@127.0.0.1:5432/postgres`, and
//! `VAULT_TEST_MYSQL_URL`, default `mysql://root@127.0.0.1:3306/mysql`;
//! sizes: `VAULT_BENCH_PG_MIB`, default 200, and `VAULT_BENCH_MYSQL_MIB`,
//! default 48). MariaDB is skipped, with the reason printed, when its server
//! cannot be reached. The PostgreSQL server needs pgcrypto, MariaDB
//! RANDOM_BYTES (10.10+); the MariaDB part raises the global
//! `max_allowed_packet` for its run and sets it back afterwards.

#[path = "common/timing.rs"]
mod timing;

use std::path::{Path, PathBuf};
use std::process::Command;

use timing::{Timing, timed};

/// The peak the capture and the restore must stay under.
const TARGET_MIB: f64 = 256.0;

const PG_ACC: &str = "vault_bench_large_acc";
const PG_PROD: &str = "vault_bench_large_prod";
const MY_ACC: &str = "vault_bench_large_acc";
const MY_PROD: &str = "vault_bench_large_prod";

fn main() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let vault = env!("CARGO_BIN_EXE_vault");
    let key = dir.path().join("bench.key");
    run_ok(Command::new(vault).args(["keygen", "--out"]).arg(&key));
    let mib = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(default)
    };
    postgres(dir.path(), &key, mib("VAULT_BENCH_PG_MIB", 200));
    mariadb(dir.path(), &key, mib("VAULT_BENCH_MYSQL_MIB", 48));
}

/// One engine's figures.
struct Figures {
    engine: &'static str,
    mib: u64,
    dump_tool: &'static str,
    dump: Timing,
    capture: Timing,
    load_tool: &'static str,
    load: Timing,
    restore: Timing,
    vault_mib: f64,
}

impl Figures {
    fn print(&self) {
        let verdict = |t: &Timing| {
            if t.peak_mib <= TARGET_MIB {
                "within"
            } else {
                "OVER"
            }
        };
        println!(
            "{}: one {} MiB value among a few small rows; restored byte for byte (MD5)",
            self.engine, self.mib
        );
        println!(
            "  capture: peak {:4.0} MiB (target <= {TARGET_MIB:.0} MiB, {})   vault {:6.2} s   {} {:6.2} s (peak {:.0} MiB)",
            self.capture.peak_mib,
            verdict(&self.capture),
            self.capture.secs,
            self.dump_tool,
            self.dump.secs,
            self.dump.peak_mib
        );
        println!(
            "  restore: peak {:4.0} MiB (target <= {TARGET_MIB:.0} MiB, {})   vault {:6.2} s   {} {:6.2} s (peak {:.0} MiB)",
            self.restore.peak_mib,
            verdict(&self.restore),
            self.restore.secs,
            self.load_tool,
            self.load.secs,
            self.load.peak_mib
        );
        println!("  vault file: {:.1} MiB", self.vault_mib);
    }
}

fn size_mib(path: &Path) -> f64 {
    std::fs::metadata(path).map_or(0, |m| m.len()) as f64 / (1024.0 * 1024.0)
}

/// `vault capture` and `vault restore --target-differs --steps restore`.
fn vault_capture(config: &Path, out: &Path, key: &Path, env: &[(&str, &str)]) -> Timing {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vault"));
    command
        .args(["capture", "--config"])
        .arg(config)
        .arg("--out")
        .arg(out)
        .env("VAULT_KEY_FILE", key);
    for (name, value) in env {
        command.env(name, value);
    }
    timed(&mut command)
}

fn vault_restore(config: &Path, file: &Path, key: &Path, env: &[(&str, &str)]) -> Timing {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vault"));
    command
        .arg("restore")
        .arg(file)
        .arg("--config")
        .arg(config)
        .arg("--target-differs")
        // The data step alone, as loading a dump does.
        .args(["--steps", "restore"])
        .env("VAULT_KEY_FILE", key);
    for (name, value) in env {
        command.env(name, value);
    }
    timed(&mut command)
}

// ---------------------------------------------------------------- PostgreSQL

fn postgres(dir: &Path, key: &Path, mib: u64) {
    let server = std::env::var("VAULT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let base = server
        .rsplit_once('/')
        .map_or(server.as_str(), |(b, _)| b)
        .to_owned();
    let url = |db: &str| format!("{base}/{db}");
    for db in [PG_ACC, PG_PROD] {
        psql(
            &server,
            &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
        );
        psql(&server, &format!("CREATE DATABASE {db}"));
    }
    eprintln!("building {PG_ACC} and {PG_PROD} (one {mib} MiB bytea each)");
    // Random bytes: pglz gives up on them, so the value is stored as it is.
    let large = format!(
        "(SELECT string_agg(gen_random_bytes(1024), ''::bytea) FROM generate_series(1, {mib} * 1024))"
    );
    let schema = "CREATE EXTENSION IF NOT EXISTS pgcrypto; CREATE SCHEMA bench;
         CREATE TABLE bench.document (doc_id bigint PRIMARY KEY, title text, content bytea);";
    psql(
        &url(PG_ACC),
        &format!(
            "{schema}
             INSERT INTO bench.document VALUES (1, 'small', gen_random_bytes(1000)),
               (3, 'empty', ''::bytea), (4, 'null', NULL), (5, 'tiny', '\\x00ff'::bytea);
             INSERT INTO bench.document SELECT 2, 'large', {large};"
        ),
    );
    psql(
        &url(PG_PROD),
        &format!(
            "{schema}
             INSERT INTO bench.document VALUES (1, 'production', gen_random_bytes(999)),
               (9, 'production only', gen_random_bytes(10));
             INSERT INTO bench.document SELECT 2, 'production large', {large};"
        ),
    );
    let digest = "SELECT md5(string_agg(doc_id || ':' || coalesce(title, '-') || ':' || coalesce(md5(content), '-'), ',' ORDER BY doc_id)) FROM bench.document";
    let before = psql_value(&url(PG_ACC), digest);

    let config = dir.join("pg.toml");
    std::fs::write(
        &config,
        format!(
            "[acceptance]\nurl = \"{}\"\n\n[[preserve]]\ntable = \"bench.document\"\n",
            url(PG_ACC)
        ),
    )
    .unwrap();
    let table_dump = dir.join("document.dump");
    let dump = timed(
        Command::new("pg_dump")
            .args(["-Fc", "--data-only", "-t", "bench.document", "-f"])
            .arg(&table_dump)
            .arg(url(PG_ACC)),
    );
    let file = dir.join("pg.vault");
    let capture = vault_capture(&config, &file, key, &[]);

    // The refresh: production dumped, acceptance dropped, created and loaded.
    let production_dump = dir.join("production.dump");
    run_ok(
        Command::new("pg_dump")
            .args(["-Fc", "--no-owner", "-f"])
            .arg(&production_dump)
            .arg(url(PG_PROD)),
    );
    psql(&server, &format!("DROP DATABASE {PG_ACC} WITH (FORCE)"));
    psql(&server, &format!("CREATE DATABASE {PG_ACC}"));
    let load = timed(
        Command::new("pg_restore")
            .args(["--no-owner", "--exit-on-error", "-d"])
            .arg(url(PG_ACC))
            .arg(&production_dump),
    );
    assert_ne!(
        psql_value(&url(PG_ACC), digest),
        before,
        "the refresh replaced the value"
    );
    let restore = vault_restore(&config, &file, key, &[]);
    assert_eq!(
        psql_value(&url(PG_ACC), digest),
        before,
        "the restored table differs from the captured one"
    );
    Figures {
        engine: "PostgreSQL",
        mib,
        dump_tool: "pg_dump -Fc",
        dump,
        capture,
        load_tool: "pg_restore (the refresh)",
        load,
        restore,
        vault_mib: size_mib(&file),
    }
    .print();
    for db in [PG_ACC, PG_PROD] {
        psql(
            &server,
            &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
        );
    }
}

fn psql(url: &str, sql: &str) {
    run_ok(Command::new("psql").args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql]));
}

fn psql_value(url: &str, sql: &str) -> String {
    let output = Command::new("psql")
        .args(["-X", "-A", "-t", "-d", url, "-c", sql])
        .output()
        .expect("psql");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

// ------------------------------------------------------------- MariaDB/MySQL

/// Host, port, user and password of the server, for the command-line clients.
struct MyServer {
    host: String,
    port: String,
    user: String,
    password: Option<String>,
    /// `scheme://userinfo@host:port`, without a database.
    root: String,
}

impl MyServer {
    fn parse(url: &str) -> MyServer {
        let (scheme, rest) = url.split_once("://").expect("a mysql:// URL");
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        let (userinfo, hostport) = authority.rsplit_once('@').unwrap_or(("root", authority));
        let (user, password) = match userinfo.split_once(':') {
            Some((user, password)) => (user.to_owned(), Some(password.to_owned())),
            None => (userinfo.to_owned(), None),
        };
        let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "3306"));
        MyServer {
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

    /// A client or dump command with the connection options (the password in `MYSQL_PWD`).
    fn command(&self, tool: &str) -> Command {
        let mut command = Command::new(tool);
        command
            .args(["-h", &self.host, "-P", &self.port, "-u", &self.user])
            .arg("--max-allowed-packet=1G");
        if let Some(password) = &self.password {
            command.env("MYSQL_PWD", password);
        }
        command
    }

    /// The output of SQL statements run in `database`, or the client's error.
    fn try_sql(&self, database: &str, sql: &str) -> Result<String, String> {
        let output = self
            .command(client_tool())
            .args(["-N", "-B", database, "-e", sql])
            .output()
            .map_err(|e| format!("{}: {e}", client_tool()))?;
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).trim().to_owned());
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    fn sql(&self, database: &str, sql: &str) -> String {
        self.try_sql(database, sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

/// Sets the server's global `max_allowed_packet` back when dropped.
struct PacketGuard<'a> {
    server: &'a MyServer,
    before: String,
}

impl Drop for PacketGuard<'_> {
    fn drop(&mut self) {
        let _ = self.server.try_sql(
            "mysql",
            &format!("SET GLOBAL max_allowed_packet = {}", self.before),
        );
    }
}

fn mariadb(dir: &Path, key: &Path, mib: u64) {
    let url = std::env::var("VAULT_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/mysql".into());
    let server = MyServer::parse(&url);
    if !which(client_tool()) {
        println!("MariaDB: skipped: no mariadb or mysql client on PATH");
        return;
    }
    let before = match server.try_sql("mysql", "SELECT @@GLOBAL.max_allowed_packet") {
        Ok(value) => value,
        Err(why) => {
            println!(
                "MariaDB: skipped: the server at {} cannot be reached: {why}",
                server.root
            );
            return;
        }
    };
    // The value travels in one row: the server sends it only under a
    // max_allowed_packet that holds it.
    let wanted = (mib + 16) << 20;
    let guard = if before.parse::<u64>().is_ok_and(|b| b >= wanted) {
        None
    } else {
        if let Err(why) = server.try_sql(
            "mysql",
            &format!("SET GLOBAL max_allowed_packet = {wanted}"),
        ) {
            println!(
                "MariaDB: skipped: max_allowed_packet cannot be raised to hold the value: {why}"
            );
            return;
        }
        Some(PacketGuard {
            server: &server,
            before,
        })
    };
    for db in [MY_ACC, MY_PROD] {
        server.sql("mysql", &format!("DROP DATABASE IF EXISTS {db}"));
        server.sql(
            "mysql",
            &format!("CREATE DATABASE {db} CHARACTER SET utf8mb4"),
        );
    }
    eprintln!("building {MY_ACC} and {MY_PROD} (one {mib} MiB LONGBLOB each)");
    // 1 KiB random pieces glued together by GROUP_CONCAT over a digit cross join.
    let digits = "(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 \
                  UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 \
                  UNION ALL SELECT 8 UNION ALL SELECT 9)";
    let pieces = mib * 1024;
    let large = format!(
        "(SELECT GROUP_CONCAT(RANDOM_BYTES(1024) SEPARATOR '') FROM {digits} a, {digits} b, {digits} c, {digits} d, {digits} e
          WHERE a.d + 10 * b.d + 100 * c.d + 1000 * d.d + 10000 * e.d < {pieces})"
    );
    let schema = format!(
        "SET SESSION group_concat_max_len = {wanted};
         CREATE TABLE document (doc_id BIGINT PRIMARY KEY, title VARCHAR(64), content LONGBLOB);"
    );
    server.sql(
        MY_ACC,
        &format!(
            "{schema}
             INSERT INTO document VALUES (1, 'small', RANDOM_BYTES(1000)), (3, 'empty', ''),
               (4, 'null', NULL), (5, 'tiny', X'00FF');
             INSERT INTO document SELECT 2, 'large', {large};"
        ),
    );
    server.sql(
        MY_PROD,
        &format!(
            "{schema}
             INSERT INTO document VALUES (1, 'production', RANDOM_BYTES(999)),
               (9, 'production only', RANDOM_BYTES(10));
             INSERT INTO document SELECT 2, 'production large', {large};"
        ),
    );
    let digest = "SELECT MD5(GROUP_CONCAT(CONCAT_WS(':', doc_id, COALESCE(title, '-'), COALESCE(MD5(content), '-')) ORDER BY doc_id SEPARATOR ','))
         FROM document";
    let before = server.sql(MY_ACC, digest);
    let large_length = server.sql(
        MY_ACC,
        "SELECT LENGTH(content) FROM document WHERE doc_id = 2",
    );
    assert_eq!(
        large_length,
        (mib << 20).to_string(),
        "the large value was built"
    );

    let config = dir.join("mysql.toml");
    let acceptance_url = server.url(MY_ACC);
    let acceptance = match &server.password {
        // vault.toml never holds a password: the URL comes from the environment.
        Some(_) => "url_env = \"VAULT_BENCH_ACCEPTANCE_URL\"".to_owned(),
        None => format!("url = \"{acceptance_url}\""),
    };
    std::fs::write(
        &config,
        format!("[acceptance]\n{acceptance}\n\n[[preserve]]\ntable = \"document\"\n"),
    )
    .unwrap();
    let env = [("VAULT_BENCH_ACCEPTANCE_URL", acceptance_url.as_str())];
    let table_dump = dir.join("document.sql");
    let dump = timed(
        server
            .command(dump_tool())
            .args(["--single-transaction", "--no-create-info", "--result-file"])
            .arg(&table_dump)
            .args([MY_ACC, "document"]),
    );
    let file = dir.join("mysql.vault");
    let capture = vault_capture(&config, &file, key, &env);

    // The refresh: production dumped, acceptance dropped, created and loaded.
    let production_dump: PathBuf = dir.join("production.sql");
    run_ok(
        server
            .command(dump_tool())
            .args(["--single-transaction", "--result-file"])
            .arg(&production_dump)
            .arg(MY_PROD),
    );
    server.sql("mysql", &format!("DROP DATABASE {MY_ACC}"));
    server.sql(
        "mysql",
        &format!("CREATE DATABASE {MY_ACC} CHARACTER SET utf8mb4"),
    );
    let mut load_command = Command::new("bash");
    load_command.arg("-c").arg(format!(
        "{} -h {} -P {} -u {} --max-allowed-packet=1G {MY_ACC} < {}",
        client_tool(),
        shell_word(&server.host),
        shell_word(&server.port),
        shell_word(&server.user),
        shell_word(production_dump.to_str().unwrap())
    ));
    if let Some(password) = &server.password {
        load_command.env("MYSQL_PWD", password);
    }
    let load = timed(&mut load_command);
    assert_ne!(
        server.sql(MY_ACC, digest),
        before,
        "the refresh replaced the value"
    );
    let restore = vault_restore(&config, &file, key, &env);
    assert_eq!(
        server.sql(MY_ACC, digest),
        before,
        "the restored table differs from the captured one"
    );
    Figures {
        engine: "MariaDB",
        mib,
        dump_tool: "mariadb-dump",
        dump,
        capture,
        load_tool: "mariadb < dump (the refresh)",
        load,
        restore,
        vault_mib: size_mib(&file),
    }
    .print();
    for db in [MY_ACC, MY_PROD] {
        server.sql("mysql", &format!("DROP DATABASE IF EXISTS {db}"));
    }
    drop(guard);
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
