//! The production guard on PostgreSQL, tried as a hostile user would: every other spelling of production's URL (loopback names, the machine's name, a socket, query parameters, percent-encoding, the environment's PG* defaults, a port forwarder) is refused with exit 4 by every command that writes or captures, and production stays byte for byte as it was; another database of the same server is not production.

mod common;

use common::pg::{self, Db, Site};
use common::{Run, forward_port, s, vault};

const SCHEMA: &str = "
CREATE TABLE app_user (user_id serial PRIMARY KEY, login text NOT NULL);
CREATE TABLE patient (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE audit (at timestamptz DEFAULT now(), what text);
CREATE FUNCTION audit_patient() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO audit(what) VALUES (TG_OP); RETURN NULL; END $$;
CREATE TRIGGER patient_audit AFTER INSERT OR UPDATE OR DELETE ON patient
  FOR EACH ROW EXECUTE FUNCTION audit_patient();
INSERT INTO app_user(login) VALUES ('alice'), ('bob');
INSERT INTO patient(name) VALUES ('Johanna de Vries'), ('Pieter Bakker');
";

const RULES: &str = "
[[preserve]]
table = \"app_user\"

[[sanitize]]
table = \"patient\"
delete_all = true
";

/// Production and acceptance on one server, and a vault captured from
/// acceptance with `[production]` naming production's URL as written.
struct Setup {
    production: Db,
    acceptance: Db,
    site: Site,
}

fn setup(server: &std::sync::Arc<pg::Server>, label: &str) -> Setup {
    let production = server.database(&format!("{label}_prod"));
    production.exec(SCHEMA);
    let acceptance = server.database(&format!("{label}_acc"));
    acceptance.exec(SCHEMA);
    acceptance.exec("INSERT INTO app_user(login) VALUES ('tester')");
    let site = Site::new(&acceptance);
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

/// Everything a write to production would change: rows, sequences, triggers.
fn state(db: &Db) -> Vec<String> {
    let mut state = db.table("app_user");
    state.extend(db.table("patient"));
    state.extend(db.table("audit"));
    state.extend(db.rows(
        "SELECT last_value::text FROM app_user_user_id_seq UNION ALL SELECT last_value::text FROM patient_id_seq",
    ));
    state.extend(db.rows("SELECT tgname::text FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1"));
    state
}

/// `url` with its `host:port` replaced.
fn with_authority(url: &str, authority: &str) -> String {
    let start = url.find('@').expect("the test URL names a user") + 1;
    let end = start
        + url[start..]
            .find('/')
            .expect("the test URL names a database");
    format!("{}{authority}{}", &url[..start], &url[end..])
}

/// The host and port of the test server, when they are the loopback
/// address the aliases below stand for.
fn local_port(url: &str) -> Option<u16> {
    let start = url.find('@')? + 1;
    let end = start + url[start..].find('/')?;
    let (host, port) = url[start..end].rsplit_once(':')?;
    matches!(host, "127.0.0.1" | "localhost")
        .then(|| port.parse().ok())
        .flatten()
}

/// A refusal: exit 4, one message naming both URLs as one database.
fn assert_refused(run: Run, alias: &str) {
    let run = run.expect(4);
    let error = run.error_line();
    assert!(
        error.contains("never writes to production"),
        "{alias}: {run:#?}"
    );
    assert!(
        error.contains("same database") || error.contains("same server instance"),
        "{alias}: {run:#?}"
    );
}

#[test]
fn every_spelling_of_production_is_refused() {
    let Some(server) = pg::server("every_spelling_of_production_is_refused") else {
        return;
    };
    let mut setup = setup(&server, "spell");
    let url = setup.production.url();
    let Some(port) = local_port(&url) else {
        println!("skipped the aliases: the test server is not on 127.0.0.1 or localhost");
        return;
    };
    let name = &setup.production.name;
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let encoded = name.replace('_', "%5F");
    let aliases = [
        with_authority(&url, &format!("localhost:{port}")),
        with_authority(&url, &format!("LOCALHOST:{port}")),
        with_authority(&url, &format!("[::1]:{port}")),
        with_authority(&url, &format!("localhost.:{port}")),
        with_authority(&url, &format!("{}:{port}", hostname.trim())),
        with_authority(&url, &format!("%2Fvar%2Frun%2Fpostgresql:{port}")),
        with_authority(
            &format!(
                "{}?host=127.0.0.1&port={port}&dbname={name}",
                url.replace(name, "acc")
            ),
            "acc-db.invalid:1",
        ),
        with_authority(
            &format!(
                "{}?hostaddr=127.0.0.1&dbname={name}",
                url.replace(name, "acc")
            ),
            &format!("acc-db.invalid:{port}"),
        ),
        url.replace(name, &encoded),
    ];
    let before = state(&setup.production);
    for alias in &aliases {
        setup.site.set_acceptance_url(alias);
        // --target-differs never overrides production.
        assert_refused(setup.site.restore(&["--target-differs"]), alias);
        assert_eq!(state(&setup.production), before, "{alias}");
    }

    // A URL that leaves host, port and database to PGHOST, PGPORT and
    // PGDATABASE reaches production too.
    let env_url = "postgres:///";
    setup.site.set_acceptance_url(env_url);
    let port_text = port.to_string();
    let run = vault(
        [
            "restore",
            s(&setup.site.vault),
            "--config",
            s(&setup.site.config),
            "--key-file",
            s(&setup.site.key),
            "--target-differs",
        ],
        &[
            (pg::ACC_URL_ENV, env_url),
            ("PGHOST", "127.0.0.1"),
            ("PGUSER", "postgres"),
            ("PGPORT", &port_text),
            ("PGDATABASE", name),
        ],
    );
    assert_refused(run, env_url);
    assert_eq!(state(&setup.production), before);
    drop(setup.acceptance);
}

#[test]
fn every_command_that_writes_or_captures_refuses_production() {
    let Some(server) = pg::server("every_command_that_writes_or_captures_refuses_production")
    else {
        return;
    };
    let mut setup = setup(&server, "cmds");
    let url = setup.production.url();
    let Some(port) = local_port(&url) else {
        println!("skipped: the test server is not on 127.0.0.1 or localhost");
        return;
    };
    let alias = with_authority(&url, &format!("localhost:{port}"));
    setup.site.set_acceptance_url(&alias);
    let before = state(&setup.production);
    let config = s(&setup.site.config).to_owned();
    let key = s(&setup.site.key).to_owned();
    let other_vault = setup.site.dir.path().join("production.vault");
    for args in [
        vec![
            "restore",
            s(&setup.site.vault),
            "--config",
            &config,
            "--key-file",
            &key,
            "--dry-run",
        ],
        vec!["sanitize", "--config", &config],
        vec!["sanitize", "--config", &config, "--dry-run"],
        vec!["health", "--config", &config, "--fix"],
        vec![
            "capture",
            "--config",
            &config,
            "--out",
            s(&other_vault),
            "--key-file",
            &key,
        ],
    ] {
        assert_refused(setup.site.vault_with(&args), &args.join(" "));
        assert_eq!(state(&setup.production), before, "{args:?}");
    }
    assert!(!other_vault.exists(), "no vault of production's data");
}

#[test]
fn production_reached_through_a_forwarded_port_is_refused_after_connecting() {
    let Some(server) =
        pg::server("production_reached_through_a_forwarded_port_is_refused_after_connecting")
    else {
        return;
    };
    let mut setup = setup(&server, "tunnel");
    let url = setup.production.url();
    let Some(port) = local_port(&url) else {
        println!("skipped: the test server is not on 127.0.0.1 or localhost");
        return;
    };
    let tunnel = with_authority(&url, &format!("127.0.0.1:{}", forward_port(port)));
    setup.site.set_acceptance_url(&tunnel);
    let before = state(&setup.production);
    let run = setup.site.restore(&["--target-differs"]).expect(4);
    let error = run.error_line();
    assert!(error.contains("same server instance"), "{run:#?}");
    assert!(error.contains("server started"), "{run:#?}");
    assert_eq!(state(&setup.production), before);
}

#[test]
fn another_database_of_the_same_server_is_not_production() {
    let Some(server) = pg::server("another_database_of_the_same_server_is_not_production") else {
        return;
    };
    let setup = setup(&server, "other");
    setup
        .acceptance
        .exec("DELETE FROM app_user WHERE login = 'tester'");
    let before = state(&setup.production);
    let run = setup
        .site
        .restore(&["--steps", "restore,sanitize"])
        .expect(0);
    assert!(!run.stdout.contains("note: no [production]"), "{run:#?}");
    assert_eq!(
        setup.acceptance.table("app_user"),
        ["(1,alice)", "(2,bob)", "(3,tester)"]
    );
    assert_eq!(
        setup.acceptance.one("SELECT count(*)::text FROM patient"),
        "0"
    );
    assert_eq!(state(&setup.production), before);
}

#[test]
fn without_a_production_url_a_note_says_what_the_guard_cannot_do() {
    let Some(server) = pg::server("without_a_production_url_a_note_says_what_the_guard_cannot_do")
    else {
        return;
    };
    let setup = setup(&server, "noprod");
    setup.site.configure(RULES);
    let run = setup.site.restore(&["--steps", "restore"]).expect(0);
    let notes: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("note: no [production]"))
        .collect();
    assert_eq!(notes.len(), 1, "{run:#?}");
    assert!(notes[0].contains("url_env"), "{run:#?}");
    assert!(notes[0].contains("--target-differs"), "{run:#?}");
}

#[test]
fn a_production_host_pattern_matches_a_trailing_dot_and_an_ipv6_literal_without_a_port() {
    // Needs no server: both are refused before any connection.
    for (acceptance, production, hosts) in [
        ("postgres://vault@PROD-DB./camis", None, "[\"prod-db\"]"),
        (
            "postgres://vault@[2001:db8::10]/camis",
            None,
            "[\"2001:db8::10\"]",
        ),
        (
            "postgres://vault@[2001:DB8::10]/camis",
            Some("postgres://vault@[2001:db8::10]:5432/camis"),
            "[]",
        ),
    ] {
        let mut site = Site::with_url(acceptance);
        let production = format!(
            "url = \"{}\"\n",
            production.unwrap_or("postgres://vault@prod-elsewhere.invalid:5432/other")
        );
        site.configure(&format!(
            "[production]\n{production}hosts = {hosts}\n{RULES}"
        ));
        site.set_acceptance_url(acceptance);
        let run = site.capture().expect(4);
        assert!(
            run.error_line().contains("never writes to production"),
            "{run:#?}"
        );
    }
}
