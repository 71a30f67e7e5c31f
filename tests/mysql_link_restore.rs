//! `vault restore` on MariaDB puts acceptance's links back after a dump refresh: its
//! `mysql.servers` entries (CREATE OR REPLACE SERVER) and its FEDERATED tables, created
//! again with acceptance's definition (their CONNECTION cannot be altered), after the data
//! commit. Checked as a DBA would: `mysql.servers`, SHOW CREATE TABLE, reading the table,
//! and no password in the output or the report.
//!
//! `mysql.servers` is server-wide: these tests hold the lock that tests/mysql_links.rs holds.

mod common;

use std::sync::Arc;

use common::mysql::{self, Db, Site};
use common::{Run, s};
use sqlx::Connection;
use sqlx::mysql::MySqlConnection;

const CONFIG: &str = "[[preserve]]\ntable = \"app_user\"\n";

/// Holds the server-wide lock on `mysql.servers`.
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

/// Server entries, a login and the far databases of one test; dropped with the guard.
struct Far {
    server: Arc<mysql::Server>,
    servers: Vec<String>,
    login: String,
    password: String,
    acc: Db,
    prod: Db,
}

impl Drop for Far {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for name in &self.servers {
                self.server
                    .admin(&format!("DROP SERVER IF EXISTS `{name}`"));
            }
            self.server
                .admin(&format!("DROP USER IF EXISTS '{}'@'%'", self.login));
        }));
    }
}

/// True when the FEDERATED engine is there, loading FederatedX when it is not.
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
            "skipped {test}: the FEDERATED engine is not loaded and INSTALL SONAME 'ha_federatedx' failed ({why})"
        );
        return false;
    }
    loaded(db)
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

/// Acceptance and production, each with a server entry and two FEDERATED tables (one
/// through its server, one by URL) reading its own far database, and a table both read
/// through acceptance's server; acceptance captured; then refreshed from production by
/// dump, and acceptance's server entry changed by `server_options` (ALTER SERVER), as a
/// copy of production's `mysql.servers` leaves it.
struct Refreshed {
    server: Arc<mysql::Server>,
    acc: Db,
    site: Site,
    far: Far,
    acc_server: String,
    prod_server: String,
    _prod: Db,
    _lock: ServersLock,
}

fn refreshed(test: &str, server_options: &str) -> Option<Refreshed> {
    let server = mysql::server(test)?;
    let acc = server.database("lr_acc");
    if !federated_engine(&acc, test) {
        return None;
    }
    let lock = ServersLock::take(&server);
    let prod = server.database("lr_prod");
    let far = Far {
        server: Arc::clone(&server),
        servers: Vec::new(),
        login: format!("lr{}_login", std::process::id()),
        password: "far-secret-4711".into(),
        acc: server.database("lr_far_acc"),
        prod: server.database("lr_far_prod"),
    };
    let mut far = far;
    server.admin(&format!(
        "CREATE USER '{}'@'%' IDENTIFIED BY '{}'",
        far.login, far.password
    ));
    for (db, who) in [(&far.acc, "acceptance"), (&far.prod, "production")] {
        db.exec(&format!(
            "CREATE TABLE cases (id int PRIMARY KEY, who varchar(20));
             INSERT INTO cases VALUES (1, '{who} case');
             CREATE TABLE labs (id int PRIMARY KEY, who varchar(20));
             INSERT INTO labs VALUES (1, '{who} lab');"
        ));
        server.admin(&format!(
            "GRANT ALL ON `{}`.* TO '{}'@'%'",
            db.name, far.login
        ));
    }
    let port = url_port(&acc.url());
    let acc_server = format!("lr{}_acc", std::process::id());
    let prod_server = format!("lr{}_prod", std::process::id());
    for (name, db) in [(&acc_server, &far.acc), (&prod_server, &far.prod)] {
        server.admin(&format!(
            "CREATE SERVER `{name}` FOREIGN DATA WRAPPER mysql OPTIONS (HOST '127.0.0.1', PORT {port}, DATABASE '{}', USER '{}', PASSWORD '{}')",
            db.name, far.login, far.password
        ));
        far.servers.push(name.clone());
    }
    for (db, name, far_db) in [
        (&acc, &acc_server, &far.acc),
        (&prod, &prod_server, &far.prod),
    ] {
        db.exec(&format!(
            "CREATE TABLE app_user (user_id int PRIMARY KEY, login varchar(50) NOT NULL);
             INSERT INTO app_user VALUES (1, 'tester');
             CREATE TABLE remote_case (id int PRIMARY KEY, who varchar(20)) ENGINE=FEDERATED
               CONNECTION='{name}/cases';
             CREATE TABLE remote_lab (id int PRIMARY KEY, who varchar(20)) ENGINE=FEDERATED
               CONNECTION='mysql://{}:{}@127.0.0.1:{port}/{}/labs';
             CREATE TABLE remote_note (id int PRIMARY KEY, who varchar(20)) ENGINE=FEDERATED
               CONNECTION='{acc_server}/cases';",
            far.login, far.password, far_db.name
        ));
    }
    let site = Site::with_url(&acc.url());
    site.configure(CONFIG);
    site.capture().expect(0);
    server.refresh(&acc, &prod);
    // What a copy of production's mysql.servers does to acceptance's entry.
    server.admin(&format!(
        "ALTER SERVER `{acc_server}` OPTIONS ({server_options})"
    ));
    Some(Refreshed {
        server,
        acc,
        site,
        far,
        acc_server,
        prod_server,
        _prod: prod,
        _lock: lock,
    })
}

/// The engine of a table, as information_schema has it.
fn engine_of(db: &Db, table: &str) -> String {
    db.one(&format!(
        "SELECT ENGINE FROM information_schema.TABLES
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{table}'"
    ))
}

/// The CONNECTION of a FEDERATED table, as SHOW CREATE TABLE has it.
fn connection_of(server: &mysql::Server, db: &Db, table: &str) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let create: String = runtime.block_on(async {
        let mut conn = MySqlConnection::connect(&server.url(&db.name))
            .await
            .unwrap();
        let row: (String, String) =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SHOW CREATE TABLE `{table}`")))
                .fetch_one(&mut conn)
                .await
                .unwrap();
        conn.close().await.unwrap();
        row.1
    });
    let at = create
        .find("CONNECTION='")
        .unwrap_or_else(|| panic!("no CONNECTION in the definition of {table}"));
    let rest = &create[at + "CONNECTION='".len()..];
    rest[..rest.find('\'').unwrap()].to_owned()
}

/// No secret in the run's output nor in the report folder beside the vault.
fn no_secret(run: &Run, site: &Site, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "a password appears in the output:\n{}\n{}",
            run.stdout.replace(secret, "<SECRET>"),
            run.stderr.replace(secret, "<SECRET>")
        );
    }
    for entry in walk(site.dir.path()) {
        if entry
            .extension()
            .is_some_and(|e| e == "vault" || e == "key")
        {
            continue;
        }
        let bytes = std::fs::read(&entry).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for secret in secrets {
            assert!(
                !text.contains(secret),
                "a password appears in {}",
                entry.display()
            );
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
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

/// `vault links` compared with the site's vault.
fn links_with_vault(site: &Site) -> Run {
    site.vault_with(&[
        "links",
        "--config",
        s(&site.config),
        "--vault",
        s(&site.vault),
        "--key-file",
        s(&site.key),
    ])
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

#[test]
fn a_restore_puts_acceptances_servers_and_federated_tables_back() {
    let Some(r) = refreshed(
        "mysql_link_restore_back",
        "DATABASE 'PROD', PASSWORD 'prod-srv-secret'",
    ) else {
        return;
    };
    let (acc, far) = (&r.acc, &r.far);
    // The far account can read production's far table too: with production's password
    // the table through the server reads production (and the server keeps it open).
    r.server.admin(&format!(
        "ALTER SERVER `{}` OPTIONS (DATABASE '{}', PASSWORD '{}')",
        r.acc_server, far.prod.name, far.password
    ));
    assert_eq!(acc.one("SELECT who FROM remote_note"), "production case");
    r.server.admin(&format!(
        "ALTER SERVER `{}` OPTIONS (DATABASE '{}', PASSWORD 'prod-srv-secret')",
        r.acc_server, far.prod.name
    ));
    // After the refresh the tables read production's far tables.
    assert_eq!(
        connection_of(&r.server, acc, "remote_case"),
        format!("{}/cases", r.prod_server)
    );
    assert_eq!(acc.one("SELECT who FROM remote_lab"), "production lab");

    // What a restore killed in the middle of a swap leaves: the next one drops them.
    let port = url_port(&acc.url());
    for name in [
        "vault_link_new_0123456789abcdef",
        "vault_link_old_0123456789abcdef",
    ] {
        acc.exec(&format!(
            "CREATE TABLE {name} (id int PRIMARY KEY, who varchar(20)) ENGINE=FEDERATED
               CONNECTION='mysql://{}:{}@127.0.0.1:{port}/{}/cases'",
            far.login, far.password, far.prod.name
        ));
    }

    // Before the restore, `vault links` says what the restore puts back, and what runs
    // by hand on MariaDB 10.11 (no ALTER TABLE ... CONNECTION: error 1031).
    let before = links_with_vault(&r.site).expect(0);
    let table = entry(&before, "remote_case (FEDERATED table)");
    assert!(table.contains("DIFFERS"), "{table}");
    assert!(
        table.contains("`vault restore` puts back acceptance's definition"),
        "{table}"
    );
    assert!(table.contains("RENAME TABLE `remote_case` TO"), "{table}");
    assert!(!table.contains("ALTER TABLE `remote_case`"), "{table}");
    let entry_of_server = entry(&before, &r.acc_server);
    assert!(
        entry_of_server.contains("`vault restore` puts back"),
        "{entry_of_server}"
    );
    assert!(
        entry_of_server.contains("ALTER SERVER"),
        "{entry_of_server}"
    );
    let leftover = entry(&before, "vault_link_old_0123456789abcdef (FEDERATED table)");
    assert!(leftover.contains("the next restore drops it"), "{leftover}");
    no_secret(&before, &r.site, &[&far.password, "prod-srv-secret"]);

    let run = r.site.restore(&["--steps", "restore,links"]).expect(0);
    assert!(
        run.stdout
            .contains(&format!("mysql.servers entry {}", r.acc_server)),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("FEDERATED table remote_case: created again"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "links: vault_link_old_0123456789abcdef, left by an interrupted restore, dropped after the commit"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("FEDERATED table remote_lab: created again"),
        "{}",
        run.stdout
    );

    // mysql.servers holds acceptance's entry again, password included.
    let row = r.server_row(&r.acc_server);
    assert_eq!(row[..3], ["127.0.0.1", &far.acc.name[..], &far.login[..]]);
    assert!(
        row[3] == far.password,
        "the server's password is not acceptance's"
    );
    // The tables' CONNECTIONs are acceptance's, and they read acceptance's far tables.
    assert_eq!(
        connection_of(&r.server, acc, "remote_case"),
        format!("{}/cases", r.acc_server)
    );
    assert!(
        connection_of(&r.server, acc, "remote_lab").ends_with(&format!("/{}/labs", far.acc.name)),
        "remote_lab does not read acceptance's far table"
    );
    assert_eq!(acc.one("SELECT who FROM remote_case"), "acceptance case");
    assert_eq!(acc.one("SELECT who FROM remote_lab"), "acceptance lab");
    // Only its server was put back: the table reads acceptance's far table again.
    assert!(
        !run.stdout.contains("FEDERATED table remote_note:"),
        "{}",
        run.stdout
    );
    assert_eq!(acc.one("SELECT who FROM remote_note"), "acceptance case");
    assert_eq!(engine_of(acc, "remote_case"), "FEDERATED");
    assert_eq!(
        acc.one("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'vault%'"),
        "0"
    );
    no_secret(&run, &r.site, &[&far.password, "prod-srv-secret"]);

    // `vault links` with the vault: every link is acceptance's again.
    let links = links_with_vault(&r.site).expect(0);
    assert!(
        links
            .stdout
            .contains("0 to production, 0 differ from acceptance"),
        "{}",
        links.stdout
    );

    // A second restore finds nothing to put back.
    let again = r.site.restore(&["--steps", "restore"]).expect(0);
    assert!(!again.stdout.contains("created again"), "{}", again.stdout);
    assert!(
        !again.stdout.contains("mysql.servers entry"),
        "{}",
        again.stdout
    );
}

#[test]
fn every_link_is_tried_and_each_failure_named_with_the_table_left_as_it_was() {
    let Some(r) = refreshed(
        "mysql_link_restore_failure",
        "HOST 'prod-db2.example.org', DATABASE 'emr', PASSWORD 'prod-srv-secret'",
    ) else {
        return;
    };
    let (acc, far) = (&r.acc, &r.far);
    // Acceptance's far table of remote_lab is gone: it cannot be created again.
    far.acc.exec("DROP TABLE labs");

    let run = r.site.restore(&["--steps", "restore"]);
    assert_ne!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stderr
            .contains("FEDERATED table remote_lab was not put back"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("the rows were restored and committed"),
        "{}",
        run.stderr
    );
    // The other links were put back all the same.
    assert_eq!(r.server_row(&r.acc_server)[1], far.acc.name);
    assert_eq!(
        connection_of(&r.server, acc, "remote_case"),
        format!("{}/cases", r.acc_server)
    );
    assert_eq!(acc.one("SELECT who FROM remote_case"), "acceptance case");
    // The table that failed is as the refresh left it, not lost.
    assert!(
        connection_of(&r.server, acc, "remote_lab").ends_with(&format!("/{}/labs", far.prod.name)),
        "remote_lab was changed"
    );
    assert_eq!(acc.one("SELECT who FROM remote_lab"), "production lab");
    assert_eq!(
        acc.one("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'vault%'"),
        "0"
    );
    no_secret(&run, &r.site, &[&far.password, "prod-srv-secret"]);
}

impl Refreshed {
    /// Host, Db, Username and Password of a `mysql.servers` entry.
    fn server_row(&self, name: &str) -> Vec<String> {
        self.acc.rows(&format!(
            "SELECT v FROM (
               SELECT 1 AS n, Host AS v FROM mysql.servers WHERE Server_name = '{name}'
               UNION ALL SELECT 2, Db FROM mysql.servers WHERE Server_name = '{name}'
               UNION ALL SELECT 3, Username FROM mysql.servers WHERE Server_name = '{name}'
               UNION ALL SELECT 4, Password FROM mysql.servers WHERE Server_name = '{name}'
             ) AS r ORDER BY n"
        ))
    }
}

/// A restore whose session dies in the middle of a swap (after acceptance's table was
/// created beside production's, before the RENAME) loses nothing: the table is still there
/// as the refresh left it, and the next restore drops the leftover and swaps again.
#[test]
fn a_restore_killed_in_the_middle_of_a_swap_loses_nothing() {
    use std::time::{Duration, Instant};
    let test = "mysql_link_restore_killed";
    let Some(r) = refreshed(test, "DATABASE 'PROD', PASSWORD 'prod-srv-secret'") else {
        return;
    };
    let (acc, far) = (&r.acc, &r.far);
    // A reader holds remote_case open in a transaction: the restore's RENAME waits for it.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut reader = runtime.block_on(async {
        let mut conn = MySqlConnection::connect(&acc.url()).await.unwrap();
        sqlx::raw_sql("START TRANSACTION; SELECT * FROM remote_case")
            .execute(&mut conn)
            .await
            .unwrap();
        conn
    });
    let mut child = r.site.spawn_restore(&["--steps", "restore"]);
    let start = Instant::now();
    let killed = loop {
        let ids = acc.rows(&format!(
            "SELECT ID FROM information_schema.PROCESSLIST
             WHERE DB = '{}' AND ID <> CONNECTION_ID() AND INFO LIKE 'RENAME TABLE%'",
            acc.name
        ));
        if let Some(id) = ids.first()
            && acc.try_exec(&format!("KILL {id}")).is_ok()
        {
            break true;
        }
        if start.elapsed() > Duration::from_secs(60) || child.try_wait().unwrap().is_some() {
            break false;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = child.wait_with_output().unwrap();
    runtime.block_on(async {
        sqlx::raw_sql("COMMIT").execute(&mut reader).await.unwrap();
        reader.close().await.unwrap();
    });
    if !killed {
        println!("skipped {test}: the restore never waited in its RENAME TABLE");
        return;
    }
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_ne!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("FEDERATED table remote_case was not put back"),
        "{stderr}"
    );
    for secret in [&far.password[..], "prod-srv-secret"] {
        assert!(
            !stderr.contains(secret) && !stdout.contains(secret),
            "a password appears in the output"
        );
    }
    // Nothing lost: the table is there, as the refresh left it; acceptance's copy waits beside it.
    assert_eq!(
        connection_of(&r.server, acc, "remote_case"),
        format!("{}/cases", r.prod_server)
    );
    assert_eq!(acc.one("SELECT who FROM remote_case"), "production case");
    let leftovers = acc.rows(
        "SELECT TABLE_NAME FROM information_schema.TABLES
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'vault\\_link\\_%'",
    );
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    assert!(leftovers[0].starts_with("vault_link_new_"), "{leftovers:?}");

    // The next restore drops it, says so, and puts acceptance's table in place.
    let run = r.site.restore(&["--steps", "restore"]).expect(0);
    assert!(
        run.stdout.contains(&format!(
            "links: {}, left by an interrupted restore",
            leftovers[0]
        )),
        "{}",
        run.stdout
    );
    assert_eq!(
        connection_of(&r.server, acc, "remote_case"),
        format!("{}/cases", r.acc_server)
    );
    assert_eq!(acc.one("SELECT who FROM remote_case"), "acceptance case");
    assert_eq!(
        acc.one("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'vault%'"),
        "0"
    );
    no_secret(&run, &r.site, &[&far.password, "prod-srv-secret"]);
}
