//! `[[hook]]` on PostgreSQL after a refresh by dump: a script hook after the restore and a one-statement hook before sanitize run in transactions of their own; a failing hook that stops the run leaves nothing of itself behind.

mod common;

use common::pg::{self, Site};

const SCHEMA: &str = "
CREATE TABLE app_user (id int PRIMARY KEY, login text NOT NULL);
CREATE TABLE app_setting (name text PRIMARY KEY, value text);
CREATE TABLE patient (id int PRIMARY KEY, name text);
INSERT INTO app_user VALUES (1, 'dr.visser');
INSERT INTO app_setting VALUES ('environment', 'production'), ('mail_host', 'smtp.prod.example');
INSERT INTO patient VALUES (1, 'Johanna Plantinga');
";

#[test]
fn hooks_run_in_their_own_transactions_around_the_steps() {
    let Some(server) = pg::server("hooks_run_in_their_own_transactions_around_the_steps") else {
        return;
    };
    let production = server.database("hooks_prod");
    production.exec(SCHEMA);
    let acceptance = server.database("hooks_acc");
    acceptance.exec(SCHEMA);
    let site = Site::new(&acceptance);
    let base = "[[preserve]]\ntable = \"app_user\"\n\n[[sanitize]]\ntable = \"patient\"\ndelete_all = true\n";
    site.configure(&format!(
        "{base}
[[hook]]
name = \"point at acceptance\"
after = \"restore\"
statements = \"many\"
sql = \"UPDATE app_setting SET value = 'acceptance' WHERE name = 'environment'; UPDATE app_setting SET value = 'smtp.acc.example' WHERE name = 'mail_host'\"

[[hook]]
before = \"sanitize\"
sql = \"INSERT INTO app_setting VALUES ('refreshed', 'yes')\"
"
    ));
    site.capture().expect(0);
    server.refresh_from_dump(&acceptance, &production);
    let run = site
        .restore(&["--steps", "restore,sanitize,verify"])
        .expect(0);
    assert!(
        run.stdout
            .contains("hook point at acceptance (after restore): ok"),
        "{run:#?}"
    );
    assert!(
        run.stdout
            .contains("hook before sanitize (before sanitize): ok, 1 rows"),
        "{run:#?}"
    );
    assert_eq!(
        acceptance
            .one("SELECT string_agg(name || '=' || value, ',' ORDER BY name) FROM app_setting"),
        "environment=acceptance,mail_host=smtp.acc.example,refreshed=yes"
    );

    // A stopping hook whose second statement fails: its first is rolled back.
    site.configure(&format!(
        "{base}
[[hook]]
name = \"broken\"
after = \"restore\"
statements = \"many\"
sql = \"DELETE FROM app_setting; SELECT no_such_column FROM app_setting\"
"
    ));
    server.refresh_from_dump(&acceptance, &production);
    let stopped = site
        .restore(&["--steps", "restore,sanitize,verify"])
        .expect(1);
    assert!(
        stopped
            .error_line()
            .contains("hook broken (after restore) failed, and was rolled back"),
        "{stopped:#?}"
    );
    assert_eq!(
        acceptance.one("SELECT count(*)::text FROM app_setting"),
        "2",
        "the hook's DELETE was rolled back"
    );
    assert_eq!(
        acceptance.one("SELECT count(*)::text FROM patient"),
        "1",
        "sanitize did not run"
    );
}
