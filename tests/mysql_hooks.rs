//! `[[hook]]` on MariaDB after a refresh by dump: a hook after the restore runs in a transaction of its own and is recorded; a hook of two statements without `statements = "many"` is refused before anything runs.

mod common;

use common::mysql::{Site, server};

const SCHEMA: &str = "
CREATE TABLE app_user (id int PRIMARY KEY, login varchar(40) NOT NULL);
CREATE TABLE app_setting (name varchar(40) PRIMARY KEY, value varchar(80));
INSERT INTO app_user VALUES (1, 'dr.visser');
INSERT INTO app_setting VALUES ('environment', 'production');
";

#[test]
fn a_hook_after_the_restore_marks_acceptance() {
    let Some(server) = server("a_hook_after_the_restore_marks_acceptance") else {
        return;
    };
    let production = server.database("hooks_prod");
    production.exec(SCHEMA);
    let acceptance = server.database("hooks_acc");
    acceptance.exec(SCHEMA);
    let site = Site::with_url(&acceptance.url());
    site.configure(
        "[[preserve]]\ntable = \"app_user\"\n\n[[hook]]\nname = \"mark\"\nafter = \"restore\"\nsql = \"UPDATE app_setting SET value = 'acceptance' WHERE name = 'environment'\"\n",
    );
    site.capture().expect(0);
    server.refresh(&acceptance, &production);
    let run = site.restore(&["--steps", "restore"]).expect(0);
    assert!(
        run.stdout.contains("hook mark (after restore): ok, 1 rows"),
        "{run:#?}"
    );
    assert_eq!(
        acceptance.one("SELECT value FROM app_setting WHERE name = 'environment'"),
        "acceptance"
    );

    site.configure(
        "[[preserve]]\ntable = \"app_user\"\n\n[[hook]]\nafter = \"restore\"\nsql = \"UPDATE app_setting SET value = 'a'; DROP TABLE app_user\"\n",
    );
    let refused = site.restore(&["--steps", "restore"]).expect(2);
    assert!(
        refused.error_line().contains("is not one statement"),
        "{refused:#?}"
    );
    assert_eq!(acceptance.one("SELECT count(*) FROM app_user"), "1");
}
