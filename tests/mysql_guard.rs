//! The production guard on MariaDB/MySQL, tried as a hostile user would: production's schema reached as `localhost`, in capitals, through the server's socket, percent-encoded or through a forwarded port is refused with exit 4, and production stays as it was (rows and triggers); another schema of the same server is not production.

mod common;

use std::sync::Arc;

use common::mysql::{self, Db, Site};
use common::{Run, forward_port};

const SCHEMA: &str = "
CREATE TABLE app_user (user_id integer PRIMARY KEY, login varchar(20) NOT NULL);
CREATE TABLE patient (id integer PRIMARY KEY AUTO_INCREMENT, name varchar(40) NOT NULL);
CREATE TABLE audit (what varchar(10));
CREATE TRIGGER patient_audit AFTER DELETE ON patient FOR EACH ROW INSERT INTO audit VALUES ('delete');
INSERT INTO app_user VALUES (1, 'alice'), (2, 'bob');
INSERT INTO patient(name) VALUES ('Johanna de Vries'), ('Pieter Bakker');
";

const RULES: &str = "
[[preserve]]
table = \"app_user\"

[[sanitize]]
table = \"patient\"
delete_all = true
allow_triggers = true
";

struct Setup {
    production: Db,
    acceptance: Db,
    site: Site,
}

fn setup(server: &Arc<mysql::Server>, label: &str) -> Setup {
    let production = server.database(&format!("{label}_prod"));
    production.exec(SCHEMA);
    let acceptance = server.database(&format!("{label}_acc"));
    acceptance.exec(SCHEMA);
    acceptance.exec("INSERT INTO app_user VALUES (3, 'tester')");
    let site = Site::with_url(&acceptance.url());
    site.configure(&format!(
        "[production]\nurl = \"{}\"\n{RULES}",
        production.url()
    ));
    site.capture().expect(0);
    Setup {
        production,
        acceptance,
        site,
    }
}

fn state(db: &Db) -> Vec<String> {
    let mut state = db.table("app_user");
    state.extend(db.table("patient"));
    state.extend(db.table("audit"));
    state.extend(db.rows(
        "SELECT trigger_name FROM information_schema.triggers WHERE trigger_schema = DATABASE() ORDER BY 1",
    ));
    state
}

/// `url` with its `host:port` replaced; `None` when the test server is not
/// on this machine's loopback address.
fn alias(url: &str, authority: impl Fn(u16) -> String) -> Option<String> {
    let start = url.find('@')? + 1;
    let end = start + url[start..].find('/')?;
    let (host, port) = url[start..end].rsplit_once(':')?;
    if !matches!(host, "127.0.0.1" | "localhost") {
        return None;
    }
    let port = port.parse().ok()?;
    Some(format!(
        "{}{}{}",
        &url[..start],
        authority(port),
        &url[end..]
    ))
}

fn assert_refused(run: Run, alias: &str) {
    let run = run.expect(4);
    let error = run.error_line();
    assert!(
        error.contains("never writes to production"),
        "{alias}: {run:#?}"
    );
}

#[test]
fn every_spelling_of_production_is_refused() {
    let Some(server) = mysql::server("every_spelling_of_production_is_refused") else {
        return;
    };
    let mut setup = setup(&server, "spell");
    let url = setup.production.url();
    let name = setup.production.name.clone();
    let Some(localhost) = alias(&url, |port| format!("localhost:{port}")) else {
        println!("skipped the aliases: the test server is not on 127.0.0.1 or localhost");
        return;
    };
    let socket = setup.production.one("SELECT @@socket");
    let mut aliases = vec![
        localhost.clone(),
        alias(&url, |port| format!("LOCALHOST.:{port}")).unwrap(),
        alias(&url, |port| format!("[::1]:{port}")).unwrap(),
        url.replace(&name, &name.replace('_', "%5F")),
        url.replace(&name, &name.to_uppercase()),
    ];
    if std::path::Path::new(&socket).exists() {
        aliases.push(format!(
            "{}?socket={socket}",
            alias(&url, |_| "acc-db.invalid:1".into()).unwrap()
        ));
    }
    let before = state(&setup.production);
    for alias in &aliases {
        setup.site.set_acceptance_url(alias);
        assert_refused(setup.site.restore(&["--target-differs"]), alias);
        assert_eq!(state(&setup.production), before, "{alias}");
    }
    // The same through a forwarded port: told apart only after connecting.
    let tunnel = alias(&url, |port| format!("127.0.0.1:{}", forward_port(port))).unwrap();
    setup.site.set_acceptance_url(&tunnel);
    let run = setup.site.restore(&["--target-differs"]).expect(4);
    assert!(
        run.error_line().contains("same server instance"),
        "{run:#?}"
    );
    assert!(run.error_line().contains("data directory"), "{run:#?}");
    assert_eq!(state(&setup.production), before);
    drop(setup.acceptance);
}

#[test]
fn another_schema_of_the_same_server_is_not_production() {
    let Some(server) = mysql::server("another_schema_of_the_same_server_is_not_production") else {
        return;
    };
    let setup = setup(&server, "other");
    setup
        .acceptance
        .exec("DELETE FROM app_user WHERE user_id = 3");
    let before = state(&setup.production);
    setup
        .site
        .restore(&["--steps", "restore,sanitize"])
        .expect(0);
    assert_eq!(setup.acceptance.table("app_user").len(), 3);
    assert_eq!(setup.acceptance.one("SELECT COUNT(*) FROM patient"), "0");
    assert_eq!(state(&setup.production), before);
}
