//! PostgreSQL: a restore counts as updated only the rows it wrote; rows that already held the captured values are kept (in a table that other rows refer to: one that nothing refers to, replaced whole, is emptied and loaded, see pg_emptied_tables.rs).

mod common;

use common::pg::{self, Site};
use common::restore_count_lines;

const SCHEMA: &str = "
CREATE TABLE app_user (user_id int PRIMARY KEY, login text NOT NULL, score numeric, seen timestamptz);
CREATE TABLE app_session (session_id int PRIMARY KEY, user_id int REFERENCES app_user);
";
const ACCEPTANCE: &str = "
INSERT INTO app_user VALUES (1, 'acc.one', 1.50, '2026-01-01 10:00+00'), (2, 'acc.two', NULL, NULL),
  (3, 'acc.three', 3, '2026-01-03 10:00+00');
";
const PRODUCTION: &str =
    "INSERT INTO app_user VALUES (1, 'prod.one', 9, NULL), (7, 'prod.seven', 7, NULL);";

/// The app_user line of a restore's output.
fn users(stdout: &str) -> String {
    restore_count_lines(stdout)
        .into_iter()
        .find(|l| l.starts_with("app_user "))
        .unwrap_or_else(|| panic!("no app_user line in {stdout}"))
}

#[test]
fn a_second_restore_keeps_what_it_would_not_change() {
    let Some(server) = pg::server("a_second_restore_keeps_what_it_would_not_change") else {
        return;
    };
    for mode in ["upsert", "replace"] {
        let acceptance = server.database(&format!("acc_{mode}"));
        let production = server.database(&format!("prod_{mode}"));
        acceptance.exec(SCHEMA);
        production.exec(SCHEMA);
        acceptance.exec(ACCEPTANCE);
        production.exec(PRODUCTION);
        let site = Site::new(&acceptance);
        site.configure(&format!(
            "[[preserve]]\ntable = \"app_user\"\nmode = \"{mode}\"\n"
        ));
        site.capture().expect(0);
        server.refresh(&acceptance, &production);

        let first = site.restore(&["--steps", "restore"]).expect(0);
        assert!(
            users(&first.stdout).contains("2 inserted, 1 updated, 0 kept"),
            "{mode}: {first:#?}"
        );

        let second = site.restore(&["--steps", "restore"]).expect(0);
        assert!(
            users(&second.stdout).contains("0 inserted, 0 updated, 3 kept"),
            "{mode}: {second:#?}"
        );

        // 1.5 and 1.50 are equal numbers but not the captured value: written.
        acceptance.exec("UPDATE app_user SET score = 1.5 WHERE user_id = 1; UPDATE app_user SET login = 'ACC.TWO' WHERE user_id = 2");
        let third = site.restore(&["--steps", "restore"]).expect(0);
        assert!(
            users(&third.stdout).contains("0 inserted, 2 updated, 1 kept"),
            "{mode}: {third:#?}"
        );
        assert_eq!(
            acceptance.one("SELECT score::text FROM app_user WHERE user_id = 1"),
            "1.50"
        );
    }
}
