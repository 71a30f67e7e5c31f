//! PostgreSQL: a table replaced whole that no foreign key refers to is emptied and loaded straight after a real refresh; one that production's rows refer to is merged in place; emptying stays inside the one restore transaction.

mod common;

use common::pg::{self, Db, Site};
use common::restore_count_lines;

const SCHEMA: &str = "
CREATE TABLE app_user (user_id int PRIMARY KEY, login text NOT NULL);
CREATE TABLE app_session (session_id int PRIMARY KEY, user_id int NOT NULL REFERENCES app_user);
CREATE TABLE app_setting (name text PRIMARY KEY, value text NOT NULL);
";
const ACCEPTANCE: &str = "
INSERT INTO app_user VALUES (1, 'tester.one'), (2, 'tester.two');
INSERT INTO app_setting VALUES ('mail.host', 'smtp.acceptance.example'), ('theme', 'test');
";
const PRODUCTION: &str = "
INSERT INTO app_user VALUES (1, 'doctor.one'), (2, 'doctor.two'), (3, 'doctor.three');
INSERT INTO app_session VALUES (10, 1), (11, 2);
INSERT INTO app_setting VALUES ('mail.host', 'smtp.hospital.example'), ('prod.only', 'x'), ('audit', 'on');
";

/// The output line of one table's restore counts.
fn counts(stdout: &str, table: &str) -> String {
    restore_count_lines(stdout)
        .into_iter()
        .find(|l| l.starts_with(&format!("{table} ")))
        .unwrap_or_else(|| panic!("no {table} line in {stdout}"))
}

/// Acceptance and production with the schema and their rows, the vault
/// captured, and acceptance refreshed from a dump of production.
fn refreshed(server: &std::sync::Arc<pg::Server>, label: &str) -> (Db, Site) {
    let acceptance = server.database(&format!("acc_{label}"));
    let production = server.database(&format!("prod_{label}"));
    for db in [&acceptance, &production] {
        db.exec(SCHEMA);
    }
    acceptance.exec(ACCEPTANCE);
    production.exec(PRODUCTION);
    let site = Site::new(&acceptance);
    site.configure("[[preserve]]\ntable = \"app_user\"\n\n[[preserve]]\ntable = \"app_setting\"\n");
    site.capture().expect(0);
    server.refresh_from_dump(&acceptance, &production);
    (acceptance, site)
}

#[test]
fn an_unreferenced_table_is_emptied_and_a_referenced_one_merged() {
    let Some(server) = pg::server("an_unreferenced_table_is_emptied_and_a_referenced_one_merged")
    else {
        return;
    };
    let (acceptance, site) = refreshed(&server, "emptied");
    let restored = site.restore(&["--steps", "restore"]).expect(0);
    // Nothing refers to app_setting: production's three rows go, and
    // acceptance's two are loaded straight.
    assert!(
        counts(&restored.stdout, "app_setting")
            .contains("2 inserted, 0 updated, 0 kept, 3 removed first"),
        "{restored:#?}"
    );
    // Production's sessions refer to app_user: its rows are updated in
    // place, and the row no session refers to is removed.
    assert!(
        counts(&restored.stdout, "app_user")
            .contains("0 inserted, 2 updated, 0 kept, 1 removed first"),
        "{restored:#?}"
    );
    assert_eq!(
        acceptance.table("app_setting"),
        ["(mail.host,smtp.acceptance.example)", "(theme,test)"]
    );
    assert_eq!(
        acceptance.table("app_user"),
        ["(1,tester.one)", "(2,tester.two)"]
    );
    assert_eq!(acceptance.table("app_session"), ["(10,1)", "(11,2)"]);
}

#[test]
fn a_failed_load_leaves_the_emptied_table_as_the_refresh_left_it() {
    let Some(server) = pg::server("a_failed_load_leaves_the_emptied_table_as_the_refresh_left_it")
    else {
        return;
    };
    let (acceptance, site) = refreshed(&server, "failed");
    // Production's schema now refuses one of acceptance's rows: the COPY
    // into the emptied table fails after the table was emptied.
    acceptance.exec("ALTER TABLE app_setting ADD CONSTRAINT no_test_theme CHECK (value <> 'test')");
    let before = (
        acceptance.table("app_setting"),
        acceptance.table("app_user"),
    );
    let failed = site.restore(&["--steps", "restore"]);
    assert_ne!(failed.code, 0, "{failed:#?}");
    assert!(
        failed.stderr.contains("no_test_theme") && failed.stderr.contains("nothing was changed"),
        "{failed:#?}"
    );
    assert_eq!(
        (
            acceptance.table("app_setting"),
            acceptance.table("app_user")
        ),
        before
    );
}

#[test]
fn without_the_truncate_privilege_the_rows_are_deleted() {
    let Some(server) = pg::server("without_the_truncate_privilege_the_rows_are_deleted") else {
        return;
    };
    let restorer = server.role("no_truncate");
    let (acceptance, mut site) = refreshed(&server, "no_truncate");
    server.admin(&format!("ALTER ROLE {} LOGIN", restorer.name));
    acceptance.exec(&format!(
        "GRANT CREATE, TEMPORARY ON DATABASE {db} TO {role};
         GRANT SELECT, INSERT, UPDATE, DELETE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public TO {role};",
        db = acceptance.name,
        role = restorer.name
    ));
    let url = acceptance
        .url()
        .replacen("postgres@", &format!("{}@", restorer.name), 1);
    site.set_acceptance_url(&url);
    let restored = site.restore(&["--steps", "restore"]).expect(0);
    assert!(
        counts(&restored.stdout, "app_setting")
            .contains("2 inserted, 0 updated, 0 kept, 3 removed first"),
        "{restored:#?}"
    );
    assert_eq!(
        acceptance.table("app_setting"),
        ["(mail.host,smtp.acceptance.example)", "(theme,test)"]
    );
}
