//! The quarantine on PostgreSQL: testers are kept out of acceptance from the start of `vault restore` until verify passes; a run whose sanitize fails leaves them out and says how to let them in, and `vault quarantine open` does.

mod common;

use std::process::Command;

use common::pg::{self, Db, Site};
use common::s;

const SCHEMA: &str = "
CREATE TABLE app_user (user_id int PRIMARY KEY, login text NOT NULL);
CREATE TABLE patient (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE visit (id int PRIMARY KEY, patient_id int NOT NULL REFERENCES patient);
INSERT INTO app_user VALUES (1, 'alice'), (2, 'tester');
INSERT INTO patient VALUES (1, 'Johanna de Vries'), (2, 'Pieter Bakker');
";

/// `url` as another user.
fn as_user(url: &str, user: &str) -> String {
    let at = url.find("://").unwrap() + 3;
    let end = url[at..].find('@').unwrap() + at;
    format!("{}{user}{}", &url[..at], &url[end..])
}

/// Whether `user` can open a session in the database.
fn can_connect(db: &Db, user: &str) -> bool {
    Command::new("psql")
        .args([
            "-X",
            "-q",
            "-At",
            "-d",
            &as_user(&db.url(), user),
            "-c",
            "SELECT 1",
        ])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn config(role: &str, rule: &str) -> String {
    format!(
        "[grants]\nroles = [\"{role}\"]\n\n[[preserve]]\ntable = \"app_user\"\n\n[[sanitize]]\ntable = \"{rule}\"\ndelete_all = true\n"
    )
}

#[test]
fn a_failed_sanitize_leaves_testers_out_until_the_quarantine_is_opened() {
    let Some(server) =
        pg::server("a_failed_sanitize_leaves_testers_out_until_the_quarantine_is_opened")
    else {
        return;
    };
    let tester = server.role("q_tester");
    server.admin(&format!("ALTER ROLE {} LOGIN", tester.name));
    let db = server.database("quarantine_fail");
    db.exec(SCHEMA);
    db.exec(&format!(
        "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}",
        tester.name
    ));
    assert!(can_connect(&db, &tester.name));
    let site = Site::new(&db);
    // Deleting every patient fails on the visits that refer to them.
    site.configure(&config(&tester.name, "patient"));
    site.capture().expect(0);
    db.exec("DELETE FROM app_user WHERE user_id = 2; INSERT INTO visit VALUES (1, 1)");

    let run = site.restore(&[]).expect(1);
    assert!(
        run.stdout.contains("quarantine: acceptance stays CLOSED"),
        "{run:#?}"
    );
    assert!(
        run.stdout.contains("vault quarantine open --config"),
        "{run:#?}"
    );
    assert!(!can_connect(&db, &tester.name), "the tester is kept out");
    assert_eq!(
        db.table("app_user").len(),
        2,
        "the restore itself committed"
    );

    let opened = site
        .vault_with(&["quarantine", "open", "--config", s(&site.config)])
        .expect(0);
    assert!(
        opened.stdout.contains("granted to PUBLIC again"),
        "{opened:#?}"
    );
    assert!(can_connect(&db, &tester.name), "{opened:#?}");
    let again = site
        .vault_with(&["quarantine", "open", "--config", s(&site.config)])
        .expect(0);
    assert!(again.stdout.contains("was not quarantined"), "{again:#?}");
}

#[test]
fn a_clean_run_lets_testers_in_again_and_the_report_records_it() {
    let Some(server) = pg::server("a_clean_run_lets_testers_in_again_and_the_report_records_it")
    else {
        return;
    };
    let tester = server.role("q_ok");
    server.admin(&format!("ALTER ROLE {} LOGIN", tester.name));
    let db = server.database("quarantine_ok");
    db.exec(SCHEMA);
    // Acceptance had closed PUBLIC out itself: only the tester may connect.
    db.exec(&format!(
        "REVOKE CONNECT ON DATABASE {0} FROM PUBLIC; GRANT CONNECT ON DATABASE {0} TO {1}",
        db.name, tester.name
    ));
    let site = Site::new(&db);
    site.configure(&config(&tester.name, "visit"));
    site.capture().expect(0);
    let report = site.dir.path().join("report");
    let run = site.restore(&["--report-dir", s(&report)]).expect(0);
    assert!(run.stdout.contains("after verify passed"), "{run:#?}");
    assert!(
        run.stdout
            .contains(&format!("revoked from {}", tester.name)),
        "{run:#?}"
    );
    assert!(can_connect(&db, &tester.name));
    // PUBLIC did not hold CONNECT before, and does not now.
    let acl = db.one("SELECT datacl::text FROM pg_database WHERE datname = current_database()");
    let public_connect = acl
        .trim_matches(['{', '}'])
        .split(',')
        .any(|entry| entry.starts_with('=') && entry.split('/').next().unwrap().contains('c'));
    assert!(!public_connect, "PUBLIC has no CONNECT: {acl}");
    let json = std::fs::read_to_string(report.join("report.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    let quarantine = &report["sections"]["quarantine"];
    assert!(quarantine["opened_at"].is_string(), "{quarantine:#}");
    assert_eq!(quarantine["roles"][0], tester.name.as_str());
}

#[test]
fn an_open_session_of_a_tester_is_ended() {
    let Some(server) = pg::server("an_open_session_of_a_tester_is_ended") else {
        return;
    };
    let tester = server.role("q_session");
    server.admin(&format!("ALTER ROLE {} LOGIN", tester.name));
    let db = server.database("quarantine_session");
    db.exec(SCHEMA);
    let site = Site::new(&db);
    site.configure(&config(&tester.name, "visit"));
    site.capture().expect(0);
    let mut session = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-d",
            &as_user(&db.url(), &tester.name),
            "-c",
            "SELECT pg_sleep(30)",
        ])
        .spawn()
        .unwrap();
    for _ in 0..50 {
        let open = db.one(&format!(
            "SELECT count(*)::text FROM pg_stat_activity WHERE usename = '{}'",
            tester.name
        ));
        if open == "1" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let run = site.restore(&[]).expect(0);
    assert!(run.stdout.contains("1 sessions ended"), "{run:#?}");
    let ended = session.wait().unwrap();
    assert!(!ended.success(), "the tester's session was ended");
}
