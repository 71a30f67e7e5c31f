//! Faults on MariaDB/MySQL: a trigger that the restoring account could drop but not create again (another DEFINER, no SET USER) stops the restore before any change, naming the trigger, its definer and the privilege.

mod common;

use common::mysql::{self, Site};

#[test]
fn a_trigger_of_another_definer_stops_the_restore_before_any_change() {
    let Some(server) =
        mysql::server("a_trigger_of_another_definer_stops_the_restore_before_any_change")
    else {
        return;
    };
    let restorer = server.account("restorer");
    let db = server.database("definer");
    db.exec(
        "CREATE TABLE app_user (id int PRIMARY KEY, login varchar(20));
         CREATE TABLE audit (what varchar(20));
         CREATE DEFINER = 'root'@'localhost' TRIGGER app_user_audit AFTER INSERT ON app_user
           FOR EACH ROW INSERT INTO audit VALUES ('insert');
         INSERT INTO app_user VALUES (1, 'a'), (2, 'b');",
    );
    server.admin(&format!(
        "ALTER USER '{0}'@'%' ACCOUNT UNLOCK; GRANT ALL ON `{1}`.* TO '{0}'@'%'",
        restorer.name, db.name
    ));
    let url = db.url();
    let at = url.find("://").unwrap() + 3;
    let user_end = url[at..].find('@').unwrap() + at;
    let as_restorer = format!("{}{}{}", &url[..at], restorer.name, &url[user_end..]);
    let mut site = Site::with_url(&url);
    site.configure("[[preserve]]\ntable = \"app_user\"\n");
    site.capture().expect(0);
    db.exec("DELETE FROM app_user WHERE id = 2");
    let before = db.table("app_user");

    site.set_acceptance_url(&as_restorer);
    let run = site.restore(&["--steps", "restore"]).expect(1);
    let error = run.error_line();
    assert!(error.contains("app_user_audit"), "{run:#?}");
    assert!(error.contains("root@localhost"), "{run:#?}");
    assert!(run.stderr.contains("SET USER"), "{run:#?}");
    assert_eq!(db.table("app_user"), before, "nothing changed");
    assert_eq!(
        db.one(
            "SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_schema = DATABASE()"
        ),
        "1",
        "the trigger is still there"
    );

    site.set_acceptance_url(&url);
    site.restore(&["--steps", "restore"]).expect(0);
    assert_eq!(db.table("app_user").len(), 2);
}
