//! Faults on MariaDB/MySQL: a trigger that the restoring account could drop but not create again (another DEFINER, no SET USER) stops the restore before any change, naming the trigger, its definer and the privilege.

mod common;

use common::mysql::{self, Site};
use common::s;

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

/// 300,000 accounts with an insert trigger, captured, then changed as a
/// refresh changes them: a restore that takes a while and drops a trigger.
fn refreshed_with_a_trigger(
    server: &std::sync::Arc<mysql::Server>,
    label: &str,
) -> (mysql::Db, Site) {
    let db = server.database(label);
    db.exec(
        "SET SESSION max_recursive_iterations = 1000000;
         CREATE TABLE app_user (id int PRIMARY KEY, login varchar(40), note varchar(200));
         CREATE TABLE audit (what varchar(20));
         CREATE TRIGGER app_user_audit AFTER INSERT ON app_user FOR EACH ROW INSERT INTO audit VALUES ('insert');
         INSERT INTO app_user WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 300000)
           SELECT x, CONCAT('user', x), REPEAT('n', 150) FROM n;",
    );
    let site = Site::with_url(&db.url());
    site.configure("[[preserve]]\ntable = \"app_user\"\n");
    site.capture().expect(0);
    db.exec("UPDATE app_user SET login = 'prod' WHERE id % 2 = 0");
    (db, site)
}

/// A restore killed after it dropped the restored tables' triggers: their
/// definitions wait beside the vault (0600); `vault health --vault` finds
/// them missing and `--fix` creates them again.
#[test]
fn triggers_dropped_by_a_killed_restore_are_created_again_by_the_next() {
    use std::os::unix::fs::PermissionsExt;
    use std::time::{Duration, Instant};
    let Some(server) =
        mysql::server("triggers_dropped_by_a_killed_restore_are_created_again_by_the_next")
    else {
        return;
    };
    let (db, site) = refreshed_with_a_trigger(&server, "killed");
    let triggers = || {
        db.one("SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_schema = DATABASE()")
    };
    let mut child = site.spawn_restore(&["--steps", "restore"]);
    let start = Instant::now();
    while triggers() != "0" {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the restore never dropped the trigger"
        );
        if child.try_wait().unwrap().is_some() {
            println!("skipped the kill: the restore finished before the trigger was seen dropped");
            return;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    if triggers() != "0" {
        println!("skipped: the restore had already created the trigger again when it was killed");
        return;
    }
    let record =
        std::path::PathBuf::from(format!("{}.mariadb-triggers.json", site.vault.display()));
    assert!(record.exists(), "the definitions wait beside the vault");
    assert_eq!(
        std::fs::metadata(&record).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // `vault health` finds the trigger missing from the record; `--fix`
    // creates it again (the next restore would too: see the test below).
    let vault = site.vault.display().to_string();
    let check = site
        .vault_with(&["health", "--config", s(&site.config), "--vault", &vault])
        .expect(3);
    assert!(
        check.stdout.contains("missing-trigger") && check.stdout.contains("app_user_audit"),
        "{check:#?}"
    );
    let fix = site
        .vault_with(&[
            "health",
            "--fix",
            "--config",
            s(&site.config),
            "--vault",
            &vault,
        ])
        .expect(0);
    assert!(fix.stdout.contains("repaired"), "{fix:#?}");
    assert_eq!(triggers(), "1");
    assert!(
        !record.exists(),
        "the record is removed once the triggers exist"
    );
}

/// The server ends the restoring session (`KILL`) while it loads: the data
/// transaction is rolled back by the server, the message says so, and the
/// triggers the restore had dropped come back with the next restore.
#[test]
fn a_restoring_session_killed_by_the_server_is_rolled_back_and_its_triggers_come_back() {
    use std::time::{Duration, Instant};
    let Some(server) = mysql::server(
        "a_restoring_session_killed_by_the_server_is_rolled_back_and_its_triggers_come_back",
    ) else {
        return;
    };
    let (db, site) = refreshed_with_a_trigger(&server, "server_kill");
    let before = db.one("SELECT SUM(CRC32(CONCAT(id, login))) FROM app_user");
    let mut child = site.spawn_restore(&["--steps", "restore"]);
    let start = Instant::now();
    let killed = loop {
        let ids = db.rows(&format!(
            "SELECT ID FROM information_schema.PROCESSLIST
             WHERE DB = '{}' AND COMMAND IN ('Query', 'Execute') AND ID <> CONNECTION_ID()
               AND (INFO LIKE 'INSERT%' OR INFO LIKE 'DELETE%' OR INFO LIKE 'UPDATE%')",
            db.name
        ));
        if let Some(id) = ids.first() {
            if db.try_exec(&format!("KILL {id}")).is_ok() {
                break true;
            }
        }
        if start.elapsed() > Duration::from_secs(60) || child.try_wait().unwrap().is_some() {
            break false;
        }
    };
    let output = child.wait_with_output().unwrap();
    if !killed {
        println!("skipped: the restore finished before its session could be killed");
        return;
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(
        db.one("SELECT SUM(CRC32(CONCAT(id, login))) FROM app_user"),
        before,
        "rolled back: {stderr}"
    );
    let run = site.restore(&["--steps", "restore"]).expect(0);
    assert_eq!(
        db.one(
            "SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_schema = DATABASE()"
        ),
        "1",
        "{run:#?}"
    );
}

/// Grants run after the commit on MariaDB (GRANT commits implicitly): one
/// that fails must not keep the others from running, grants come before
/// revokes, and every statement that did not run is named.
#[test]
fn a_grant_statement_that_fails_does_not_stop_the_others() {
    let Some(server) = mysql::server("a_grant_statement_that_fails_does_not_stop_the_others")
    else {
        return;
    };
    let restorer = server.account("grant_restorer");
    let reader = server.account("grant_reader");
    let db = server.database("grantfail");
    db.exec(
        "CREATE TABLE app_user (id int PRIMARY KEY, login varchar(20));
         CREATE TABLE app_note (id int PRIMARY KEY, body varchar(20));
         INSERT INTO app_user VALUES (1, 'a');",
    );
    let (r, name) = (reader.spec(), &db.name);
    db.exec(&format!("GRANT SELECT ON `{name}`.app_user TO {r}"));
    // The restoring account may grant on app_user only.
    server.admin(&format!(
        "ALTER USER '{0}'@'%' ACCOUNT UNLOCK;
         GRANT ALL ON `{1}`.* TO '{0}'@'%';
         GRANT SELECT ON mysql.* TO '{0}'@'%';
         GRANT SELECT ON `{1}`.app_user TO '{0}'@'%' WITH GRANT OPTION",
        restorer.name, name
    ));
    let url = db.url();
    let at = url.find("://").unwrap() + 3;
    let user_end = url[at..].find('@').unwrap() + at;
    let as_restorer = format!("{}{}{}", &url[..at], restorer.name, &url[user_end..]);
    let mut site = Site::with_url(&url);
    site.configure(&format!(
        "[[preserve]]\ntable = \"app_user\"\n\n[grants]\nroles = [\"{r}\"]\n"
    ));
    site.capture().expect(0);

    // The refresh takes SELECT on app_user away and gives DELETE on
    // app_note, which the restoring account cannot revoke.
    db.exec(&format!(
        "REVOKE SELECT ON `{name}`.app_user FROM {r}; GRANT DELETE ON `{name}`.app_note TO {r}"
    ));
    site.set_acceptance_url(&as_restorer);
    let run = site.restore(&["--steps", "restore"]).expect(1);
    let error = run.error_line();
    assert!(error.contains("committed"), "{run:#?}");
    assert!(
        error.contains("did not run REVOKE DELETE ON") && error.contains("app_note"),
        "{run:#?}"
    );
    let held = db.rows(&format!(
        "SELECT CONCAT(table_name, ' ', privilege_type) FROM information_schema.table_privileges
         WHERE table_schema = DATABASE() AND grantee = \"{}\" ORDER BY 1",
        r.replace('"', "")
    ));
    assert_eq!(
        held,
        ["app_note DELETE", "app_user SELECT"],
        "the grant ran though the revoke before it failed"
    );
}

/// MariaDB's dry run cannot rehearse the load, but it plans the grants:
/// accounts of `[grants]` that the target lacks fail it, every one named.
#[test]
fn the_dry_run_names_every_missing_account() {
    let Some(server) = mysql::server("the_dry_run_names_every_missing_account") else {
        return;
    };
    let first = server.account("dry_first");
    let second = server.account("dry_second");
    let db = server.database("dryacc");
    db.exec("CREATE TABLE app_user (id int PRIMARY KEY, login varchar(20)); INSERT INTO app_user VALUES (1, 'a');");
    let (a, b) = (first.spec(), second.spec());
    db.exec(&format!(
        "GRANT SELECT ON `{0}`.app_user TO {a}; GRANT SELECT ON `{0}`.app_user TO {b}",
        db.name
    ));
    let site = Site::with_url(&db.url());
    site.configure(&format!(
        "[[preserve]]\ntable = \"app_user\"\n\n[grants]\nroles = [\"{a}\", \"{b}\"]\n"
    ));
    site.capture().expect(0);
    server.admin(&format!("DROP USER {a}; DROP USER {b}"));
    let run = site.restore(&["--steps", "restore", "--dry-run"]).expect(1);
    let error = run.error_line();
    assert!(
        error.contains(&first.name) && error.contains(&second.name),
        "{run:#?}"
    );
}
