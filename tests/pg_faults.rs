//! Faults on PostgreSQL: the restoring session killed by the server (`pg_terminate_backend`) mid-restore leaves acceptance as it was, a message that says so, and a report.

mod common;

use std::time::{Duration, Instant};

use common::pg::{self, Site};
use common::s;

#[test]
fn a_restoring_session_killed_by_the_server_changes_nothing() {
    let Some(server) = pg::server("a_restoring_session_killed_by_the_server_changes_nothing")
    else {
        return;
    };
    let db = server.database("killed");
    // A check that takes its time on one row: the restore is still loading
    // when the session is terminated.
    db.exec(
        "CREATE FUNCTION slow_ok(n int) RETURNS boolean LANGUAGE sql IMMUTABLE AS
           'SELECT CASE WHEN n = 2 THEN pg_sleep(30) IS NOT NULL ELSE true END';
         CREATE TABLE app_user (id int PRIMARY KEY, login text);
         INSERT INTO app_user VALUES (1, 'a'), (2, 'b'), (3, 'c');
         ALTER TABLE app_user ADD CONSTRAINT slow CHECK (slow_ok(id)) NOT VALID;",
    );
    let site = Site::new(&db);
    site.configure("[[preserve]]\ntable = \"app_user\"\n");
    site.capture().expect(0);
    db.exec("DELETE FROM app_user");
    let before = db.table("app_user");
    let report = site.dir.path().join("report");
    let child = site.spawn_restore(&["--report-dir", s(&report)]);
    let start = Instant::now();
    loop {
        let killed = db.one(
            "SELECT count(pg_terminate_backend(pid))::text FROM pg_stat_activity
             WHERE wait_event = 'PgSleep' AND datname = current_database() AND pid <> pg_backend_pid()",
        );
        if killed != "0" {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the restore never reached the slow row"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("nothing was changed")
            || stderr.contains("discards the unfinished transaction"),
        "{stderr}"
    );
    assert_eq!(db.table("app_user"), before, "acceptance as it was");
    assert!(report.join("report.json").exists(), "the report is written");
}

/// A `[grants]` role that production gave a privilege WITH GRANT OPTION,
/// and that passed it on to a role outside `[grants]`: revoking it must not
/// take the other role's privilege along (no CASCADE). The restore stops,
/// names the privileges granted onward, and changes nothing.
#[test]
fn a_revoke_never_takes_privileges_of_roles_outside_grants() {
    let Some(server) = pg::server("a_revoke_never_takes_privileges_of_roles_outside_grants") else {
        return;
    };
    let tester = server.role("onward_tester");
    let auditor = server.role("onward_auditor");
    let db = server.database("onward");
    db.exec(
        "CREATE TABLE app_user (id int PRIMARY KEY, login text);
         CREATE TABLE assessment (id int PRIMARY KEY, note text);
         INSERT INTO app_user VALUES (1, 'a'), (2, 'b');",
    );
    let site = Site::new(&db);
    site.configure(&format!(
        "[[preserve]]\ntable = \"app_user\"\n\n[grants]\nroles = [\"{}\"]\n",
        tester.name
    ));
    site.capture().expect(0);
    // After the refresh, the tester holds SELECT with the grant option on
    // assessment, and passed it on to the auditor.
    db.exec(&format!(
        "DELETE FROM app_user WHERE id = 2;
         GRANT SELECT ON assessment TO {0} WITH GRANT OPTION;
         SET ROLE {0}; GRANT SELECT ON assessment TO {1}; RESET ROLE;",
        tester.name, auditor.name
    ));
    let before = db.table("app_user");
    let acl_before = db.one("SELECT relacl::text FROM pg_class WHERE relname = 'assessment'");

    let run = site.restore(&["--steps", "restore"]).expect(1);
    let error = run.error_line();
    assert!(error.contains("RESTRICT"), "{run:#?}");
    assert!(
        error.contains(&format!("SELECT to \"{}\"", auditor.name)),
        "{run:#?}"
    );
    assert!(error.contains("nothing was changed"), "{run:#?}");
    assert_eq!(db.table("app_user"), before, "nothing changed");
    assert_eq!(
        db.one("SELECT relacl::text FROM pg_class WHERE relname = 'assessment'"),
        acl_before,
        "the auditor keeps what the tester gave it"
    );

    // Once the DBA has revoked what was granted onward, the restore runs.
    db.exec(&format!(
        "SET ROLE {}; REVOKE SELECT ON assessment FROM {}; RESET ROLE;",
        tester.name, auditor.name
    ));
    site.restore(&["--steps", "restore"]).expect(0);
    assert_eq!(db.table("app_user").len(), 2);
}
