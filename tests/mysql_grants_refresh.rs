//! Grants after a real refresh (MariaDB, `mariadb-dump | mariadb`): a privilege on a view the refresh could not create is left in the grant tables (it serves the view when it is created again), never revoked.

mod common;

use common::mysql::{self, Site};

#[test]
fn a_privilege_on_a_view_lost_in_the_refresh_is_kept() {
    let Some(server) = mysql::server("a_privilege_on_a_view_lost_in_the_refresh_is_kept") else {
        return;
    };
    let tester = server.account("lostview_tester");
    let acceptance = server.database("lostview_acc");
    let production = server.database("lostview_prod");
    for db in [&acceptance, &production] {
        db.exec(
            "CREATE TABLE app_user (id int PRIMARY KEY, login varchar(20));
             CREATE VIEW user_list AS SELECT id, login FROM app_user;",
        );
    }
    acceptance.exec("INSERT INTO app_user VALUES (1, 'a')");
    let t = tester.spec();
    acceptance.exec(&format!(
        "GRANT SELECT ON `{0}`.user_list TO {t}; GRANT SELECT ON `{0}`.app_user TO {t}",
        acceptance.name
    ));
    let site = Site::with_url(&acceptance.url());
    site.configure(&format!(
        "[[preserve]]\ntable = \"app_user\"\n\n[grants]\nroles = [\"{t}\"]\n"
    ));
    site.capture().expect(0);
    server.refresh(&acceptance, &production);
    // The view could not be created by the dump load (error 1449 in real
    // life): it is missing, its privilege row is still in the grant tables.
    acceptance.exec("DROP VIEW user_list");
    let privilege = || {
        acceptance.rows(&format!(
            "SELECT Table_priv FROM mysql.tables_priv WHERE Db = '{}' AND Table_name = 'user_list' AND User = '{}'",
            acceptance.name, tester.name
        ))
    };
    assert_eq!(privilege(), ["Select"]);

    let run = site.restore(&["--steps", "restore"]).expect(0);
    assert_eq!(privilege(), ["Select"], "{run:#?}");
    assert!(
        run.stdout
            .contains("does not exist in the target; privileges on it were left as they are"),
        "{run:#?}"
    );
    // Created again, the view serves the tester as before the refresh.
    acceptance.exec("CREATE VIEW user_list AS SELECT id, login FROM app_user");
    assert_eq!(
        acceptance.one(&format!(
            "SELECT COUNT(*) FROM information_schema.table_privileges WHERE table_schema = '{}' AND table_name = 'user_list'",
            acceptance.name
        )),
        "1"
    );
}
