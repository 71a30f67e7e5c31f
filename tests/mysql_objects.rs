//! Acceptance's own code objects on MariaDB/MySQL across a dump refresh (`mariadb-dump | mariadb` into a re-created database): the views, routines, triggers and events the refresh removed or changed are listed, the `[objects] keep` ones re-created after the data commit under their own `sql_mode`, and nothing is listed when nothing changed.

mod common;

use common::mysql::{self, Db, Site};
use common::s;

const SCHEMA: &str = "
CREATE TABLE app_user (user_id int PRIMARY KEY, login varchar(20) NOT NULL, role varchar(10) NOT NULL);
CREATE TABLE audit (line varchar(40));";

/// What only acceptance has (production has its own `v_logins` and
/// `reset_testdata`).
const OWN: &[&str] = &[
    "CREATE PROCEDURE reset_testdata() UPDATE app_user SET login = 'tester' WHERE user_id = 1",
    "CREATE VIEW v_testers AS SELECT login FROM app_user WHERE role = 'test'",
    "CREATE VIEW v_logins AS SELECT login FROM app_user WHERE role <> 'admin'",
    "CREATE TRIGGER trg_audit AFTER INSERT ON app_user FOR EACH ROW INSERT INTO audit VALUES ('secret-literal')",
    "CREATE EVENT ev_cleanup ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' DO DELETE FROM audit",
    "CREATE FUNCTION only_acceptance(n int) RETURNS int DETERMINISTIC RETURN n + 1",
];

fn databases(server: &std::sync::Arc<mysql::Server>) -> (Db, Db) {
    let acceptance = server.database("obj_a");
    let production = server.database("obj_p");
    acceptance.exec(SCHEMA);
    acceptance.exec("INSERT INTO app_user VALUES (1, 'tester', 'test'), (2, 'root', 'admin')");
    for statement in OWN {
        acceptance.exec(statement);
    }
    production.exec(SCHEMA);
    production.exec("INSERT INTO app_user VALUES (7, 'dr.visser', 'doctor')");
    production.exec("CREATE VIEW v_logins AS SELECT login FROM app_user");
    production.exec("CREATE PROCEDURE reset_testdata() DELETE FROM app_user WHERE user_id < 0");
    (acceptance, production)
}

#[test]
fn a_dump_refresh_s_removed_objects_are_listed_and_the_kept_ones_re_created() {
    let Some(server) =
        mysql::server("a_dump_refresh_s_removed_objects_are_listed_and_the_kept_ones_re_created")
    else {
        return;
    };
    let tester = server.account("obj_exec");
    let (acceptance, production) = databases(&server);
    // Production has its own audit trigger of the same name.
    production.exec(
        "CREATE TRIGGER trg_audit BEFORE INSERT ON app_user FOR EACH ROW INSERT INTO audit VALUES ('production')",
    );
    let db = &acceptance.name;
    acceptance.exec(&format!(
        "GRANT EXECUTE ON PROCEDURE {db}.reset_testdata TO {}",
        tester.spec()
    ));
    let site = Site::with_url(&acceptance.url());
    site.configure(&format!(
        "[[preserve]]\ntable = \"app_user\"\n\n[objects]\nkeep = [\"{db}.reset_testdata\", \"{db}.v_testers\", \"{db}.v_logins\", \"{db}.trg_audit\", \"{db}.ev_cleanup\"]\n"
    ));
    let captured = site.capture().expect(0);
    assert!(
        captured.stdout.contains("objects: 5 kept whole"),
        "{captured:#?}"
    );
    server.refresh(&acceptance, &production);

    let report = site.dir.path().join("report");
    let run = site.restore(&["--steps", "restore", "--report-dir", s(&report)]);
    assert_eq!(run.code, 0, "{run:#?}");
    for line in [
        format!("re-created procedure {db}.reset_testdata (changed by the refresh)"),
        format!("re-created view {db}.v_testers (removed by the refresh)"),
        format!("re-created view {db}.v_logins (changed by the refresh)"),
        format!("re-created trigger {db}.trg_audit on {db}.app_user (changed by the refresh)"),
        format!("re-created event {db}.ev_cleanup (removed by the refresh)"),
        format!(
            "note: acceptance's own objects removed by the refresh, not kept: function {db}.only_acceptance"
        ),
    ] {
        assert!(run.stdout.contains(&line), "{line}\n{run:#?}");
    }
    assert!(!run.stdout.contains("secret-literal"), "{run:#?}");
    assert_eq!(acceptance.rows("SELECT login FROM v_testers"), ["tester"]);
    assert_eq!(acceptance.rows("SELECT login FROM v_logins"), ["tester"]);
    acceptance.exec("UPDATE app_user SET login = 'x' WHERE user_id = 1");
    acceptance.exec("CALL reset_testdata()");
    assert_eq!(
        acceptance.one("SELECT login FROM app_user WHERE user_id = 1"),
        "tester"
    );
    acceptance.exec("INSERT INTO app_user VALUES (3, 'new', 'test')");
    assert_eq!(
        acceptance.rows("SELECT line FROM audit"),
        ["secret-literal"]
    );
    assert_eq!(
        acceptance.one(
            "SELECT event_name FROM information_schema.events WHERE event_schema = DATABASE()"
        ),
        "ev_cleanup"
    );
    let markdown = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(markdown.contains("Acceptance's own objects"), "{markdown}");
    assert!(markdown.contains("only\\_acceptance"), "{markdown}");
    assert!(!markdown.contains("secret-literal"), "{markdown}");
}

#[test]
fn nothing_is_listed_when_the_refresh_changed_no_object() {
    let Some(server) = mysql::server("nothing_is_listed_when_the_refresh_changed_no_object") else {
        return;
    };
    let (acceptance, _production) = databases(&server);
    let site = Site::with_url(&acceptance.url());
    site.configure(&format!(
        "[[preserve]]\ntable = \"app_user\"\n\n[objects]\nkeep = [\"{}.v_gone\"]\n",
        acceptance.name
    ));
    let refused = site.capture().expect(2);
    assert!(refused.stderr.contains("v_gone"), "{refused:#?}");
    site.configure(&format!(
        "[[preserve]]\ntable = \"app_user\"\n\n[objects]\nkeep = [\"{}.v_testers\"]\n",
        acceptance.name
    ));
    site.capture().expect(0);
    let run = site.restore(&["--steps", "restore"]).expect(0);
    assert!(!run.stdout.contains("re-created"), "{run:#?}");
    assert!(!run.stdout.contains("by the refresh"), "{run:#?}");
}

#[test]
fn a_kept_object_that_cannot_be_re_created_is_named_and_the_others_still_are() {
    let Some(server) =
        mysql::server("a_kept_object_that_cannot_be_re_created_is_named_and_the_others_still_are")
    else {
        return;
    };
    let (acceptance, production) = databases(&server);
    let db = &acceptance.name;
    // A view over a table only acceptance has: production's dump has no such table.
    acceptance.exec("CREATE TABLE test_case (id int PRIMARY KEY, note varchar(20))");
    acceptance
        .exec("CREATE VIEW v_cases AS SELECT note FROM test_case WHERE note <> 'secret-literal'");
    let site = Site::with_url(&acceptance.url());
    site.configure(&format!(
        "[[preserve]]\ntable = \"app_user\"\n\n[objects]\nkeep = [\"{db}.v_cases\", \"{db}.v_testers\"]\n"
    ));
    site.capture().expect(0);
    server.refresh(&acceptance, &production);
    let run = site.restore(&["--steps", "restore"]).expect(1);
    assert!(
        run.stderr.contains("the rows were restored and committed")
            && run
                .stderr
                .contains(&format!("objects: view {db}.v_cases was not re-created")),
        "{run:#?}"
    );
    assert!(!run.stderr.contains("secret-literal"), "{run:#?}");
    // The rows are in, and the other kept view was re-created.
    assert_eq!(
        acceptance.rows("SELECT login FROM app_user ORDER BY user_id"),
        ["tester", "root"]
    );
    assert_eq!(acceptance.rows("SELECT login FROM v_testers"), ["tester"]);
}
