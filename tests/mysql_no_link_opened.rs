//! No step opens a link: with a FEDERATED table whose far account no longer exists, `vault health`, `links`, `sanitize` and `compare` complete, and the far server sees no connection and no failed login.
//!
//! The far server is this same server, reached through a door of the
//! test's own (a local port forwarded to the server) that counts every
//! connection made through it: the FEDERATED table's connection goes
//! through the door, nothing else does. At the end, reading the table
//! proves the door is watched: a connection and a failed login appear.

mod common;

use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::mysql::{Db, Server, Site, server};
use common::{Run, s};

/// Forwards connections on a local port to the server, counting them.
struct Door {
    port: u16,
    opened: Arc<AtomicUsize>,
}

impl Door {
    fn to(target: u16) -> Door {
        use std::io::{Read, Write};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let opened = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&opened);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                count.fetch_add(1, Ordering::SeqCst);
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let pipe = |mut from: TcpStream, mut to: TcpStream| {
                    std::thread::spawn(move || {
                        let mut buffer = [0u8; 16384];
                        while let Ok(n) = from.read(&mut buffer) {
                            if n == 0 || to.write_all(&buffer[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    })
                };
                pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                pipe(server, client);
            }
        });
        Door { port, opened }
    }

    fn opened(&self) -> usize {
        self.opened.load(Ordering::SeqCst)
    }
}

/// True when the FEDERATED engine is there, loading FederatedX when it is
/// not; prints why `test` skips when it cannot be loaded.
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

/// The server's count of failed logins.
fn failed_logins(db: &Db) -> u64 {
    db.one(
        "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS
         WHERE VARIABLE_NAME = 'ACCESS_DENIED_ERRORS'",
    )
    .parse()
    .unwrap()
}

/// The port of the server's URL.
fn port_of(url: &str) -> u16 {
    let rest = url.split_once("://").unwrap().1;
    let authority = rest.split('/').next().unwrap();
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    hostport
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(3306)
}

/// A clinic whose cases live on the far server, behind a FEDERATED table.
fn clinic(db: &Db, connection: &str) {
    db.exec(&format!(
        "CREATE TABLE patient (id int AUTO_INCREMENT PRIMARY KEY, name varchar(40));
         CREATE TABLE visit (id int AUTO_INCREMENT PRIMARY KEY, patient_id int,
             FOREIGN KEY (patient_id) REFERENCES patient (id) ON DELETE CASCADE);
         INSERT INTO patient (name) VALUES ('Ann'), ('Bo'), ('Cy');
         INSERT INTO visit (patient_id) VALUES (1), (2), (3);
         CREATE VIEW patient_names AS SELECT name FROM patient;
         CREATE TABLE remote_case (id int PRIMARY KEY) ENGINE = FEDERATED
             CONNECTION = '{connection}'"
    ));
}

fn run(site: &Site, command: &str, extra: &[&str]) -> Run {
    let mut args = vec![command, "--config", s(&site.config)];
    args.extend_from_slice(extra);
    site.vault_with(&args)
}

/// The far account, dropped with the guard if the test stops first.
struct FarAccount<'a>(&'a Server, String);

impl Drop for FarAccount<'_> {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.0
                .admin(&format!("DROP USER IF EXISTS '{}'@'%'", self.1))
        }));
    }
}

#[test]
fn no_step_connects_through_a_federated_table_whose_account_is_gone() {
    let test = "no_step_connects_through_a_federated_table_whose_account_is_gone";
    let Some(server) = server(test) else {
        return;
    };
    let acceptance = server.database("nolink_a");
    if !federated_engine(&acceptance, test) {
        return;
    }
    let production = server.database("nolink_p");
    let far = server.database("nolink_far");
    far.exec("CREATE TABLE cases (id int PRIMARY KEY); INSERT INTO cases VALUES (7)");
    let account = format!("vfar{}", std::process::id());
    let far_account = FarAccount(&server, account.clone());
    server.admin(&format!(
        "CREATE USER '{account}'@'%' IDENTIFIED BY 'far-secret';
         GRANT SELECT ON `{}`.* TO '{account}'@'%'",
        far.name
    ));
    let door = Door::to(port_of(&acceptance.url()));
    let connection = format!(
        "mysql://{account}:far-secret@127.0.0.1:{}/{}/cases",
        door.port, far.name
    );
    clinic(&acceptance, &connection);
    clinic(&production, &connection);
    // The link works while the account exists ...
    assert_eq!(acceptance.one("SELECT count(*) FROM remote_case"), "1");
    // ... and then the far account is gone, as when production's link
    // credentials are not acceptance's.
    drop(far_account);
    acceptance.exec("FLUSH TABLES");
    let (opened, failed) = (door.opened(), failed_logins(&acceptance));

    let site = Site::with_url(&acceptance.url());
    site.configure(&format!(
        "[production]\nurl = \"{}\"\nhosts = [\"prod-db*.example.org\"]\n\n\
         [[preserve]]\ntable = \"patient\"\n\n\
         [[sanitize]]\ntable = \"patient\"\ndelete_where = \"name = 'Bo'\"\n",
        production.url()
    ));
    let health = run(&site, "health", &[]);
    assert!(
        health.code == 0 || health.code == 3,
        "health did not complete: {health:#?}"
    );
    let links = run(&site, "links", &[]);
    assert!(
        links.code == 0 || links.code == 3,
        "links did not complete: {links:#?}"
    );
    run(&site, "sanitize", &[]).expect(0);
    assert_eq!(
        acceptance.rows("SELECT name FROM patient ORDER BY id"),
        ["Ann", "Cy"]
    );
    assert_eq!(
        acceptance.rows("SELECT patient_id FROM visit ORDER BY id"),
        ["1", "3"]
    );
    let compare = run(&site, "compare", &[]);
    assert!(
        compare.code == 0 || compare.code == 3,
        "compare did not complete: {compare:#?}"
    );

    assert_eq!(door.opened(), opened, "a step connected to the far server");
    println!(
        "{test}: failed logins on the server during the steps: {} (other tests may add to it)",
        failed_logins(&acceptance) - failed
    );
    // The door is watched: reading the table logs in, and fails.
    assert!(acceptance.try_exec("SELECT * FROM remote_case").is_err());
    assert!(door.opened() > opened);
    assert!(failed_logins(&acceptance) > failed);
}
