//! `vault links` on MariaDB through the real binary: `mysql.servers` entries and FEDERATED
//! tables (by URL and through a server), against `[production].hosts` and, with `--vault`,
//! acceptance's captured definitions. No password ever reaches the output.
//!
//! `mysql.servers` is server-wide: the tests that create servers, and the one that counts
//! them, hold a server lock so that they do not see each other's.

mod common;

use std::io::Write;
use std::sync::Arc;

use common::mysql::{self, Db, Site};
use common::{Run, cheap_kdf, s};
use sqlx::Connection;
use sqlx::mysql::MySqlConnection;
use vault_format::{FileKey, KeyMaterial, VaultWriter, WriterOptions};

/// Host patterns that mean production in every test here.
const PRODUCTION: &str = "[production]\nurl = \"mysql://root@prod-main.example.org/emr\"\nhosts = [\"prod-db*.example.org\"]\n";

/// A preserved table, so that the configuration is a whole one.
const SCHEMA: &str = "CREATE TABLE app_user (user_id int PRIMARY KEY, login varchar(50) NOT NULL);
INSERT INTO app_user VALUES (1, 'acc_tester');";

const PRESERVE: &str = "[[preserve]]\ntable = \"app_user\"\n";

/// Holds the server-wide lock on `mysql.servers` for the tests of this file.
struct ServersLock {
    runtime: tokio::runtime::Runtime,
    conn: Option<MySqlConnection>,
}

impl ServersLock {
    fn take(server: &mysql::Server) -> ServersLock {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let conn = runtime.block_on(async {
            let mut conn = MySqlConnection::connect(&server.url("mysql"))
                .await
                .unwrap();
            let got: Option<i64> =
                sqlx::query_scalar("SELECT GET_LOCK('vault_tests_mysql_servers', 120)")
                    .fetch_one(&mut conn)
                    .await
                    .unwrap();
            assert_eq!(got, Some(1), "the mysql.servers test lock was not granted");
            conn
        });
        ServersLock {
            runtime,
            conn: Some(conn),
        }
    }
}

impl Drop for ServersLock {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let _ = self.runtime.block_on(conn.close());
        }
    }
}

/// A server of `mysql.servers` with a name no other test uses; dropped with the guard.
struct ServerEntry {
    name: String,
    server: Arc<mysql::Server>,
}

impl ServerEntry {
    fn create(server: &Arc<mysql::Server>, label: &str, options: &str) -> ServerEntry {
        let name = format!("vl{}_{label}", std::process::id());
        server.admin(&format!(
            "CREATE SERVER `{name}` FOREIGN DATA WRAPPER mysql OPTIONS ({options})"
        ));
        ServerEntry {
            name,
            server: Arc::clone(server),
        }
    }
}

impl Drop for ServerEntry {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.server
                .admin(&format!("DROP SERVER IF EXISTS `{}`", self.name))
        }));
    }
}

/// A login with a password (FEDERATED tables connect with it); dropped with the guard.
struct Login {
    name: String,
    password: &'static str,
    server: Arc<mysql::Server>,
}

impl Login {
    fn create(server: &Arc<mysql::Server>, password: &'static str, grants_on: &[&Db]) -> Login {
        let name = format!("vl{}_login", std::process::id());
        server.admin(&format!(
            "CREATE USER '{name}'@'%' IDENTIFIED BY '{password}'"
        ));
        for db in grants_on {
            server.admin(&format!("GRANT ALL ON `{}`.* TO '{name}'@'%'", db.name));
        }
        Login {
            name,
            password,
            server: Arc::clone(server),
        }
    }

    /// `url` with this login as its user.
    fn url(&self, url: &str) -> String {
        let (scheme, rest) = url.split_once("://").unwrap();
        let host = rest.split_once('@').map_or(rest, |(_, host)| host);
        format!("{scheme}://{}:{}@{host}", self.name, self.password)
    }
}

impl Drop for Login {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.server
                .admin(&format!("DROP USER IF EXISTS '{}'@'%'", self.name))
        }));
    }
}

/// True when the FEDERATED engine is there, loading FederatedX when it is not;
/// prints why `test` skips its FEDERATED part when it cannot be loaded.
fn federated_engine(db: &Db, test: &str) -> bool {
    let loaded = |db: &Db| {
        db.rows("SELECT ENGINE FROM information_schema.ENGINES WHERE SUPPORT IN ('YES', 'DEFAULT')")
            .iter()
            .any(|e| e.eq_ignore_ascii_case("FEDERATED"))
    };
    if loaded(db) {
        return true;
    }
    if let Err(why) = db.try_exec("INSTALL SONAME 'ha_federatedx'") {
        println!(
            "{test}: FEDERATED part skipped: the engine is not loaded and INSTALL SONAME 'ha_federatedx' failed ({why})"
        );
        return false;
    }
    loaded(db)
}

/// A database with the schema and a site whose configuration has `production`.
fn setup(test: &str, production: &str) -> Option<(Arc<mysql::Server>, Db, Site)> {
    let server = mysql::server(test)?;
    let acc = server.database("links");
    acc.exec(SCHEMA);
    let site = Site::with_url(&acc.url());
    site.configure(&format!("{production}\n{PRESERVE}"));
    Some((server, acc, site))
}

fn links(site: &Site, extra: &[&str]) -> Run {
    let mut args = vec!["links", "--config", s(&site.config)];
    args.extend_from_slice(extra);
    site.vault_with(&args)
}

fn with_vault(site: &Site) -> Run {
    links(
        site,
        &["--vault", s(&site.vault), "--key-file", s(&site.key)],
    )
}

/// The report line of `object`, with the indented lines that explain it.
fn entry(run: &Run, object: &str) -> String {
    let lines: Vec<&str> = run.stdout.lines().collect();
    let column = format!("  {object}  ");
    let at = lines
        .iter()
        .position(|l| !l.starts_with("      ") && l.contains(&column))
        .unwrap_or_else(|| panic!("no line for {object} in\n{}", run.stdout));
    let more = lines[at + 1..]
        .iter()
        .take_while(|l| l.starts_with("      "))
        .count();
    lines[at..=at + more].join("\n")
}

fn no_secret(run: &Run, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "{secret} appears in {run:#?}"
        );
    }
}

/// Writes the site's vault holding `links` as the capture's "mysql-servers" stream (none when `None`).
fn write_vault(site: &Site, links: Option<serde_json::Value>) {
    let key = KeyMaterial::KeyFile(FileKey::read_file(&site.key).unwrap());
    let options = WriterOptions {
        source: "mysql tests".into(),
        tool_version: "vault tests".into(),
        kdf: cheap_kdf(),
        ..WriterOptions::default()
    };
    let _ = std::fs::remove_file(&site.vault);
    let writer = VaultWriter::create(&site.vault, options, &[&key]).unwrap();
    if let Some(links) = links {
        let mut stream = writer
            .stream(
                "extras/mysql-servers",
                serde_json::json!({"kind": "mysql-servers", "encoding": "json"}),
            )
            .unwrap();
        stream
            .write_all(&serde_json::to_vec(&links).unwrap())
            .unwrap();
        stream.finish().unwrap();
    }
    writer.finish().unwrap();
}

#[test]
fn servers_to_production_are_found_without_the_federated_engine() {
    let Some((server, _acc, site)) = setup("links_servers", PRODUCTION) else {
        return;
    };
    let _lock = ServersLock::take(&server);
    let prod = ServerEntry::create(
        &server,
        "emr",
        "HOST 'prod-db1.example.org', PORT 3307, DATABASE 'emr', USER 'emr_reader', PASSWORD 'srv-secret'",
    );
    let neighbour = ServerEntry::create(
        &server,
        "neighbour",
        "HOST 'acc-neighbour.example', DATABASE 'acc_emr', USER 'acc', PASSWORD 'acc-secret'",
    );
    let run = links(&site, &[]).expect(3);
    let line = entry(&run, &prod.name);
    assert!(line.contains("PRODUCTION"), "{line}");
    assert!(line.contains("foreign server"), "{line}");
    assert!(
        line.contains("host=prod-db1.example.org port=3307 dbname=emr"),
        "{line}"
    );
    assert!(line.contains("prod-db*.example.org"), "{line}");
    assert!(line.contains("mysql.servers (server-wide"), "{line}");
    assert!(line.contains("ALTER SERVER"), "{line}");
    let line = entry(&run, &neighbour.name);
    assert!(line.contains("ok"), "{line}");
    assert!(
        line.contains("host=acc-neighbour.example port=3306 dbname=acc_emr"),
        "{line}"
    );
    no_secret(&run, &["srv-secret", "acc-secret"]);
}

#[test]
fn federated_tables_to_production_are_found_by_url_and_through_a_server() {
    let test = "links_federated";
    let Some((server, acc, site)) = setup(test, PRODUCTION) else {
        return;
    };
    if !federated_engine(&acc, test) {
        return;
    }
    let _lock = ServersLock::take(&server);
    let remote = server.database("links_remote");
    remote.exec("CREATE TABLE cases (id int PRIMARY KEY); CREATE TABLE labs (id int PRIMARY KEY)");
    let login = Login::create(&server, "url-secret", &[&remote]);
    let (host, port) = ("127.0.0.1", url_port(&acc.url()));
    // FederatedX connects when a table is created: the server points at the
    // real remote first, then at production.
    let through = ServerEntry::create(
        &server,
        "emr",
        &format!(
            "HOST '{host}', PORT {port}, DATABASE '{}', USER '{}', PASSWORD '{}'",
            remote.name, login.name, login.password
        ),
    );
    acc.exec(&format!(
        "CREATE TABLE remote_case (id int PRIMARY KEY) ENGINE=FEDERATED CONNECTION='{}/cases';
         CREATE TABLE remote_lab (id int PRIMARY KEY) ENGINE=FEDERATED
           CONNECTION='mysql://{}:{}@{host}:{port}/{}/labs';",
        through.name, login.name, login.password, remote.name
    ));
    server.admin(&format!(
        "ALTER SERVER `{}` OPTIONS (HOST 'prod-db2.example.org', PASSWORD 'srv-secret')",
        through.name
    ));
    let run = links(&site, &[]).expect(3);
    let table = entry(&run, "remote_case (FEDERATED table)");
    assert!(table.contains("PRODUCTION"), "{table}");
    assert!(
        table.contains(&format!("through server {}", through.name)),
        "{table}"
    );
    assert!(table.contains("host=prod-db2.example.org"), "{table}");
    assert!(
        table.contains(
            "RENAME TABLE `remote_case` TO `remote_case_old`, `remote_case_new` TO `remote_case`"
        ),
        "{table}"
    );
    let server_line = entry(&run, &through.name);
    assert!(server_line.contains("PRODUCTION"), "{server_line}");
    assert!(
        server_line.contains("1 FEDERATED table of this database reads through it"),
        "{server_line}"
    );
    let url_table = entry(&run, "remote_lab (FEDERATED table)");
    assert!(url_table.contains("ok"), "{url_table}");
    assert!(
        url_table.contains(&format!(
            "host=127.0.0.1 port={port} dbname={}",
            remote.name
        )),
        "{url_table}"
    );
    no_secret(&run, &["url-secret", "srv-secret"]);

    // The URL table is production once its host matches a pattern.
    site.configure(&format!(
        "[production]\nurl = \"mysql://root@prod-main.example.org/emr\"\nhosts = [\"127.0.0.*\"]\n\n{PRESERVE}"
    ));
    let run = links(&site, &[]).expect(3);
    let url_table = entry(&run, "remote_lab (FEDERATED table)");
    assert!(url_table.contains("PRODUCTION"), "{url_table}");
    assert!(
        url_table.contains("FEDERATED table, CONNECTION 'mysql://"),
        "{url_table}"
    );
    assert!(url_table.contains(":***@127.0.0.1"), "{url_table}");
    no_secret(&run, &["url-secret", "srv-secret"]);
}

/// The port of a `mysql://` URL (3306 when it names none).
fn url_port(url: &str) -> u16 {
    let rest = url.split_once("://").unwrap().1;
    let authority = rest.split('/').next().unwrap();
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    hostport
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(3306)
}

#[test]
fn with_the_vault_servers_changed_since_capture_differ_from_acceptance() {
    let Some((server, _acc, site)) = setup("links_vault", PRODUCTION) else {
        return;
    };
    let _lock = ServersLock::take(&server);
    let neighbour = ServerEntry::create(
        &server,
        "neighbour",
        "HOST 'acc-neighbour.example', DATABASE 'acc_emr', USER 'acc', PASSWORD 'new-secret', PORT 3307",
    );
    let same = ServerEntry::create(&server, "same", "HOST 'acc-same.example', DATABASE 'x'");
    let reports = ServerEntry::create(&server, "reports", "HOST 'prod-db4.example.org'");
    let lab = format!("vl{}_lab", std::process::id());
    write_vault(
        &site,
        Some(serde_json::json!({
            "servers": [
                {"name": neighbour.name, "host": "other-neighbour.example", "database": "acc_emr",
                 "username": "acc", "password": "old-secret", "wrapper": "mysql"},
                {"name": same.name, "host": "acc-same.example", "database": "x", "wrapper": "mysql"},
                {"name": lab, "host": "acc-lab.example", "wrapper": "mysql"},
            ],
            "federated_tables": [
                {"table": "old_remote", "connection": "mysql://etl:table-secret@acc-lab.example/lab/t"},
            ],
        })),
    );
    let run = with_vault(&site).expect(3);
    assert!(
        run.stdout.contains("compared with the vault"),
        "{}",
        run.stdout
    );
    let line = entry(&run, &neighbour.name);
    assert!(line.contains("DIFFERS"), "{line}");
    assert!(
        line.contains("host acc-neighbour.example (acceptance: other-neighbour.example)"),
        "{line}"
    );
    assert!(line.contains("port 3307 (acceptance: 3306)"), "{line}");
    assert!(line.contains("password *** (changed)"), "{line}");
    assert!(entry(&run, &same.name).contains("ok"), "{}", run.stdout);
    let line = entry(&run, &lab);
    assert!(
        line.contains("DIFFERS") && line.contains("it is gone"),
        "{line}"
    );
    assert!(line.contains("CREATE SERVER"), "{line}");
    let line = entry(&run, "old_remote (FEDERATED table)");
    assert!(
        line.contains("DIFFERS") && line.contains("it is gone"),
        "{line}"
    );
    assert!(
        line.contains("mysql://etl:***@acc-lab.example/lab/t"),
        "{line}"
    );
    let line = entry(&run, &reports.name);
    assert!(line.contains("PRODUCTION"), "{line}");
    assert!(line.contains("acceptance did not have it"), "{line}");
    no_secret(&run, &["old-secret", "new-secret", "table-secret"]);

    // A vault without the stream: said so, and judged against production only.
    write_vault(&site, None);
    let run = with_vault(&site).expect(3);
    assert!(
        run.stdout
            .contains("the vault holds no server or FEDERATED table definitions"),
        "{}",
        run.stdout
    );
    assert!(
        entry(&run, &neighbour.name).contains("ok"),
        "{}",
        run.stdout
    );
}

#[test]
fn federated_tables_changed_since_capture_differ_from_acceptance() {
    let test = "links_vault_federated";
    let Some((server, acc, site)) = setup(test, PRODUCTION) else {
        return;
    };
    if !federated_engine(&acc, test) {
        return;
    }
    let _lock = ServersLock::take(&server);
    let remote = server.database("links_remote");
    remote.exec("CREATE TABLE cases (id int PRIMARY KEY)");
    let login = Login::create(&server, "url-secret", &[&remote]);
    let port = url_port(&acc.url());
    let connection = format!(
        "mysql://{}:{}@127.0.0.1:{port}/{}/cases",
        login.name, login.password, remote.name
    );
    acc.exec(&format!(
        "CREATE TABLE same_remote (id int PRIMARY KEY) ENGINE=FEDERATED CONNECTION='{connection}';
         CREATE TABLE moved_remote (id int PRIMARY KEY) ENGINE=FEDERATED CONNECTION='{connection}';"
    ));
    write_vault(
        &site,
        Some(serde_json::json!({
            "servers": [],
            "federated_tables": [
                {"table": "same_remote", "connection": connection},
                {"table": "moved_remote", "connection": connection.replace("/cases", "/old_cases")
                    .replace("url-secret", "old-secret")},
            ],
        })),
    );
    let run = with_vault(&site).expect(0);
    assert!(
        entry(&run, "same_remote (FEDERATED table)").contains("ok"),
        "{}",
        run.stdout
    );
    let line = entry(&run, "moved_remote (FEDERATED table)");
    assert!(line.contains("DIFFERS"), "{line}");
    assert!(
        line.contains("table cases (acceptance: old_cases)"),
        "{line}"
    );
    assert!(line.contains("password *** (changed)"), "{line}");
    no_secret(&run, &["url-secret", "old-secret"]);
}

#[test]
fn unreadable_servers_are_said_so_and_their_tables_unchecked() {
    let test = "links_unreadable";
    let Some((server, acc, site)) = setup(test, PRODUCTION) else {
        return;
    };
    let login = Login::create(&server, "reader-secret", &[&acc]);
    let mut as_reader = Site::with_url(&acc.url());
    as_reader.configure(&format!("{PRODUCTION}\n{PRESERVE}"));
    as_reader.set_acceptance_url(&login.url(&acc.url()));
    let federated = federated_engine(&acc, test);
    if federated {
        let _lock = ServersLock::take(&server);
        let remote = server.database("links_remote");
        remote.exec("CREATE TABLE cases (id int PRIMARY KEY)");
        server.admin(&format!(
            "GRANT ALL ON `{}`.* TO '{}'@'%'",
            remote.name, login.name
        ));
        let through = ServerEntry::create(
            &server,
            "hidden",
            &format!(
                "HOST '127.0.0.1', PORT {}, DATABASE '{}', USER '{}', PASSWORD '{}'",
                url_port(&acc.url()),
                remote.name,
                login.name,
                login.password
            ),
        );
        acc.exec(&format!(
            "CREATE TABLE remote_case (id int PRIMARY KEY) ENGINE=FEDERATED CONNECTION='{}/cases'",
            through.name
        ));
        let run = links(&as_reader, &[]).expect(0);
        let line = entry(&run, "remote_case (FEDERATED table)");
        assert!(line.contains("UNCHECKED"), "{line}");
        assert!(line.contains("(could not be read)"), "{line}");
        assert!(line.contains("mysql.servers could not be read"), "{line}");
        assert!(
            !run.stdout.contains(&format!("  {}  ", through.name)),
            "{}",
            run.stdout
        );
        // With the privilege, the same table is read through its server.
        let run = links(&site, &[]).expect(0);
        assert!(
            entry(&run, "remote_case (FEDERATED table)").contains("ok"),
            "{}",
            run.stdout
        );
    }
    // Its server is gone now: the table cannot be opened, and is unchecked.
    let run = links(&as_reader, &[]).expect(0);
    assert!(
        run.stdout.contains(
            "note: mysql.servers could not be read (the user needs SELECT on mysql.servers)"
        ),
        "{}",
        run.stdout
    );
    if federated {
        let line = entry(&run, "remote_case (FEDERATED table)");
        assert!(line.contains("UNCHECKED"), "{line}");
        assert!(line.contains("could not be read"), "{line}");
        assert!(line.contains("doesn't exist"), "{line}");
    }
    no_secret(&run, &["reader-secret"]);
}

#[test]
fn a_clean_database_has_no_finding() {
    let Some((server, acc, site)) = setup("links_clean", PRODUCTION) else {
        return;
    };
    let _lock = ServersLock::take(&server);
    // Code and comments that mention connections are not links.
    acc.exec(
        "CREATE VIEW logins AS SELECT login, CONCAT('mysql://', login, '@prod-db1.example.org/emr') AS label FROM app_user;
         CREATE TABLE notes (id int PRIMARY KEY) COMMENT 'CONNECTION=''mysql://x@prod-db1.example.org/emr/t''';",
    );
    // mysql.servers is server-wide: entries of other suites are listed
    // too (read before and after, as they may come and go), but nothing
    // of this database is.
    let mut servers = acc.rows("SELECT Server_name FROM mysql.servers");
    let run = links(&site, &[]);
    servers.extend(acc.rows("SELECT Server_name FROM mysql.servers"));
    if servers.is_empty() {
        let run = run.expect(0);
        assert!(run.stdout.contains("no links"), "{}", run.stdout);
        assert!(!run.stdout.contains("PRODUCTION"), "{}", run.stdout);
        return;
    }
    println!("links_clean: servers of other suites are listed too: {servers:?}");
    let listed: Vec<Vec<&str>> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("      ") && !l.contains("VERDICT"))
        .map(|l| l.split_whitespace().collect())
        .collect();
    for line in listed {
        assert_eq!(line[1..3], ["foreign", "server"], "{}", run.stdout);
        assert!(servers.iter().any(|s| s == line[3]), "{}", run.stdout);
    }
}

#[test]
fn usage_errors_are_exit_2() {
    let Some((_server, _acc, site)) = setup("links_usage", PRODUCTION) else {
        return;
    };
    let run = links(&site, &["--key-file", s(&site.key)]).expect(2);
    assert!(run.error_line().contains("only with --vault"), "{run:#?}");
    let missing = site.dir.path().join("missing.vault");
    let run = links(&site, &["--vault", s(&missing), "--key-file", s(&site.key)]).expect(2);
    assert!(run.error_line().contains("does not exist"), "{run:#?}");
    write_vault(&site, None);
    let run = links(&site, &["--vault", s(&site.vault)]).expect(2);
    assert!(
        run.error_line().contains("needs the vault's key"),
        "{run:#?}"
    );
    std::fs::write(
        &site.config,
        "[acceptance]\nurl_env = \"ACC_DATABASE_URL\"\nbogus = 1\n",
    )
    .unwrap();
    links(&site, &[]).expect(2);
}

/// A vault stream that is not what the capture writes is damage (exit 3), not a crash.
#[test]
fn a_damaged_servers_stream_is_exit_3() {
    let Some((_server, _acc, site)) = setup("links_damaged", PRODUCTION) else {
        return;
    };
    write_vault(&site, Some(serde_json::json!({"servers": "not a list"})));
    let run = with_vault(&site).expect(3);
    assert!(
        run.error_line()
            .contains("mysql-servers stream is not valid"),
        "{run:#?}"
    );
}
