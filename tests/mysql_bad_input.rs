//! Bad input on MariaDB/MySQL through the real binary: each case gets one clear message, its
//! documented exit code, and leaves the database as it was (rows and triggers).

mod common;

use std::sync::Arc;

use common::mysql::{self, Db, Site};
use common::{flip_chunk_byte, key_file, s};
use vault::config::DatabaseUrl;
use vault::guard::UrlTarget;

const SCHEMA: &str = "
CREATE TABLE app_user (user_id integer PRIMARY KEY, login varchar(20) NOT NULL, note text);
CREATE TABLE stamp_log (user_id integer, at_insert datetime(6));
CREATE TRIGGER app_user_log AFTER INSERT ON app_user FOR EACH ROW INSERT INTO stamp_log VALUES (NEW.user_id, NOW(6));
INSERT INTO app_user VALUES (1, 'alice', 'first'), (2, 'bob', NULL), (3, 'carol-the-long', 'third');
DELETE FROM stamp_log;
";

const CONFIG: &str = "[[preserve]]\ntable = \"app_user\"\n";

/// A database with the table, a site configured for it, and a vault
/// captured from it; then the table changes, as a refresh would change it.
fn captured(server: &Arc<mysql::Server>, label: &str) -> (Db, Site) {
    let db = server.database(label);
    db.exec(SCHEMA);
    let site = Site::with_url(&db.url());
    site.configure(CONFIG);
    site.capture().expect(0);
    db.exec("UPDATE app_user SET login = 'zed', note = 'production' WHERE user_id = 1; DELETE FROM app_user WHERE user_id = 3;");
    (db, site)
}

/// The rows, and the triggers, which a failed restore must have put back.
fn state(db: &Db) -> (Vec<String>, Vec<String>) {
    (
        db.table("app_user"),
        db.rows("SELECT trigger_name FROM information_schema.triggers WHERE trigger_schema = DATABASE() ORDER BY 1"),
    )
}

fn restore(site: &Site, code: i32) -> common::Run {
    site.restore(&["--steps", "restore"]).expect(code)
}

#[test]
fn a_dropped_column_is_schema_drift() {
    let Some(server) = mysql::server("a_dropped_column_is_schema_drift") else {
        return;
    };
    let (db, site) = captured(&server, "dropped");
    db.exec("ALTER TABLE app_user DROP COLUMN note");
    let before = state(&db);
    let run = restore(&site, 2);
    let error = run.error_line();
    assert!(error.starts_with("schema drift: "), "{error}");
    assert!(error.contains("app_user.note (text)"), "{error}");
    assert!(error.contains("nothing was changed"), "{error}");
    assert_eq!(state(&db), before);
}

#[test]
fn a_type_that_cannot_hold_the_values_is_schema_drift() {
    let Some(server) = mysql::server("a_type_that_cannot_hold_the_values_is_schema_drift") else {
        return;
    };
    let (db, site) = captured(&server, "retyped");
    db.exec("UPDATE app_user SET login = LENGTH(login); ALTER TABLE app_user MODIFY login integer NOT NULL");
    let before = state(&db);
    let run = restore(&site, 2);
    let error = run.error_line();
    assert!(
        error.starts_with(
            "schema drift: column app_user.login was captured as varchar(20) and is int"
        ),
        "{error}"
    );
    assert!(error.contains("error 1366"), "{error}");
    assert!(error.contains("nothing was changed"), "{error}");
    assert!(
        !error.contains("alice"),
        "no captured value in the message: {error}"
    );
    assert_eq!(state(&db), before);
    assert_eq!(db.one("SELECT COUNT(*) FROM stamp_log"), "0");
}

#[test]
fn a_narrowed_type_that_would_truncate_is_schema_drift() {
    let Some(server) = mysql::server("a_narrowed_type_that_would_truncate_is_schema_drift") else {
        return;
    };
    let (db, site) = captured(&server, "narrowed");
    db.exec("ALTER TABLE app_user MODIFY login varchar(5) NOT NULL");
    let before = state(&db);
    let run = restore(&site, 2);
    let error = run.error_line();
    assert!(
        error.contains("was captured as varchar(20) and is varchar(5) in the target; a captured value does not fit"),
        "{error}"
    );
    assert!(!error.contains("carol"), "{error}");
    assert_eq!(state(&db), before);
}

#[test]
fn a_scale_that_would_round_is_schema_drift() {
    let Some(server) = mysql::server("a_scale_that_would_round_is_schema_drift") else {
        return;
    };
    let db = server.database("rounded");
    db.exec("CREATE TABLE price (item integer PRIMARY KEY, amount decimal(10,2)); INSERT INTO price VALUES (1, 1.25), (2, 3.50);");
    let site = Site::with_url(&db.url());
    site.configure("[[preserve]]\ntable = \"price\"\n");
    site.capture().expect(0);
    // The server only warns when it rounds 1.25 to one decimal.
    db.exec("ALTER TABLE price MODIFY amount decimal(10,1)");
    let before = db.table("price");
    let run = restore(&site, 2);
    assert!(
        run.error_line().contains(
            "column price.amount was captured as decimal(10,2) and is decimal(10,1) in the target; captured values would change in the conversion"
        ),
        "{run:#?}"
    );
    assert_eq!(db.table("price"), before);
}

#[test]
fn widened_types_restore_exactly() {
    let Some(server) = mysql::server("widened_types_restore_exactly") else {
        return;
    };
    let db = server.database("widened");
    db.exec(SCHEMA);
    let want = db.rows("SELECT CONCAT_WS('|', user_id, login, IFNULL(note, 'NULL')) FROM app_user ORDER BY user_id");
    let site = Site::with_url(&db.url());
    site.configure(CONFIG);
    site.capture().expect(0);
    db.exec(
        "DELETE FROM app_user;
         ALTER TABLE app_user MODIFY login varchar(40) NOT NULL, MODIFY user_id bigint;
         ALTER TABLE app_user ADD COLUMN created date DEFAULT '2000-01-01';",
    );
    let run = restore(&site, 0);
    assert!(
        run.stdout
            .contains("note: app_user.created: a new column (date)"),
        "{run:#?}"
    );
    assert_eq!(
        db.rows("SELECT CONCAT_WS('|', user_id, login, IFNULL(note, 'NULL')) FROM app_user ORDER BY user_id"),
        want
    );
}

#[test]
fn a_failure_in_a_later_table_changes_nothing() {
    let Some(server) = mysql::server("a_failure_in_a_later_table_changes_nothing") else {
        return;
    };
    let db = server.database("midway");
    db.exec(SCHEMA);
    db.exec("CREATE TABLE zz_setting (name varchar(20) PRIMARY KEY, value varchar(20)); INSERT INTO zz_setting VALUES ('theme', 'a-long-value');");
    let site = Site::with_url(&db.url());
    site.configure(&format!("{CONFIG}\n[[preserve]]\ntable = \"zz_setting\"\n"));
    site.capture().expect(0);
    // The first table loads; the second cannot hold its captured value.
    db.exec(
        "DELETE FROM app_user WHERE user_id = 1;
         UPDATE zz_setting SET value = 'abc'; ALTER TABLE zz_setting MODIFY value varchar(3);",
    );
    let before = (state(&db), db.table("zz_setting"));
    let run = restore(&site, 2);
    assert!(run.error_line().contains("zz_setting.value"), "{run:#?}");
    assert_eq!((state(&db), db.table("zz_setting")), before);
    assert_eq!(db.one("SELECT COUNT(*) FROM stamp_log"), "0");
    // The trigger is back and fires again.
    db.exec("INSERT INTO app_user VALUES (7, 'new', NULL)");
    assert_eq!(db.one("SELECT COUNT(*) FROM stamp_log"), "1");
}

#[test]
fn a_broken_reference_rolls_everything_back() {
    let Some(server) = mysql::server("a_broken_reference_rolls_everything_back") else {
        return;
    };
    let db = server.database("fk");
    db.exec(
        "CREATE TABLE parent (id integer PRIMARY KEY);
         CREATE TABLE child (id integer PRIMARY KEY, parent_id integer, CONSTRAINT child_parent FOREIGN KEY (parent_id) REFERENCES parent (id));
         INSERT INTO parent VALUES (1), (2);
         INSERT INTO child VALUES (10, 1), (20, 2);",
    );
    let site = Site::with_url(&db.url());
    // Only the child is preserved: its rows refer to a parent row that the
    // refresh removed.
    site.configure("[[preserve]]\ntable = \"child\"\n");
    site.capture().expect(0);
    db.exec(
        "DELETE FROM child; DELETE FROM parent WHERE id = 2; INSERT INTO child VALUES (30, 1);",
    );
    let before = db.table("child");
    let run = restore(&site, 1);
    let error = run.error_line();
    assert!(
        error.starts_with("table child: restored rows refer to rows of parent"),
        "{error}"
    );
    assert!(error.contains("foreign key child_parent"), "{error}");
    assert!(error.contains("nothing was changed"), "{error}");
    assert_eq!(db.table("child"), before);
    // The session's checks were never switched off for anyone else.
    assert!(db.try_exec("INSERT INTO child VALUES (40, 99)").is_err());
}

#[test]
fn rows_that_lose_their_parent_roll_everything_back() {
    let Some(server) = mysql::server("rows_that_lose_their_parent_roll_everything_back") else {
        return;
    };
    let db = server.database("orphans");
    db.exec(
        "CREATE TABLE parent (id integer PRIMARY KEY);
         CREATE TABLE child (id integer PRIMARY KEY, parent_id integer, CONSTRAINT child_parent FOREIGN KEY (parent_id) REFERENCES parent (id));
         INSERT INTO parent VALUES (1);",
    );
    let site = Site::with_url(&db.url());
    site.configure("[[preserve]]\ntable = \"parent\"\n");
    site.capture().expect(0);
    // Production has a parent 2 with a child; replacing parent removes it.
    db.exec("INSERT INTO parent VALUES (2); INSERT INTO child VALUES (20, 2);");
    let before = db.table("parent");
    let run = restore(&site, 1);
    let error = run.error_line();
    assert!(
        error.starts_with("table child: rows refer to rows of parent that the restore removed"),
        "{error}"
    );
    assert_eq!(db.table("parent"), before);
}

#[test]
fn a_missing_database_and_a_url_without_one_are_named() {
    let Some(server) = mysql::server("a_missing_database_and_a_url_without_one_are_named") else {
        return;
    };
    let site = Site::with_url(&server.url("vault_no_such_database"));
    site.configure(CONFIG);
    let run = site.capture().expect(1);
    let error = run.error_line();
    assert!(
        error.contains("/vault_no_such_database: cannot connect to MySQL/MariaDB: "),
        "{error}"
    );
    assert!(error.contains("Unknown database"), "{error}");
    assert!(!site.vault.exists());

    let mut site = site;
    let url = server.url("");
    site.set_acceptance_url(url.trim_end_matches('/'));
    let run = site.capture().expect(2);
    assert!(
        run.error_line().contains("the URL names no database"),
        "{run:#?}"
    );
    assert!(!site.vault.exists());
}

#[test]
fn a_server_that_does_not_answer_is_named_without_its_password() {
    // Needs no server: nothing listens on port 1.
    let site = Site::with_url("mysql://vault:s3cret-pw@127.0.0.1:1/acc");
    site.configure(CONFIG);
    let run = site.capture().expect(1);
    let error = run.error_line();
    assert!(
        error.starts_with("mysql://vault:***@127.0.0.1:1/acc: cannot connect to MySQL/MariaDB: "),
        "{error}"
    );
    assert!(!run.stderr.contains("s3cret-pw"), "{run:#?}");
    assert!(!site.vault.exists());
}

#[test]
fn a_production_host_is_refused() {
    let Some(server) = mysql::server("a_production_host_is_refused") else {
        return;
    };
    let (db, site) = captured(&server, "prodhost");
    let host = UrlTarget::of(&DatabaseUrl::parse(&db.url()).unwrap()).host;
    site.configure(&format!(
        "[production]\nurl = \"mysql://vault@prod-db.example/camis\"\nhosts = [\"prod-db*\", \"{host}\"]\n\n{CONFIG}"
    ));
    let before = state(&db);
    let run = site.restore(&["--target-differs"]).expect(4);
    assert!(
        run.error_line()
            .contains(&format!("the acceptance host {host} (")),
        "{run:#?}"
    );
    assert_eq!(state(&db), before);
}

#[test]
fn another_database_needs_target_differs() {
    let Some(server) = mysql::server("another_database_needs_target_differs") else {
        return;
    };
    let (source, mut site) = captured(&server, "source");
    let other = server.database("other");
    other.exec(SCHEMA);
    other.exec("DELETE FROM app_user WHERE user_id = 2");
    let before = state(&other);
    site.set_acceptance_url(&other.url());
    let run = restore(&site, 4);
    assert!(
        run.error_line()
            .contains(&format!("/{}, and the target is ", source.name)),
        "{run:#?}"
    );
    assert_eq!(state(&other), before, "nothing changed");
    site.restore(&["--steps", "restore", "--target-differs"])
        .expect(0);
    assert_eq!(other.table("app_user").len(), 3);
}

#[test]
fn a_wrong_key_and_a_damaged_vault_change_nothing() {
    let Some(server) = mysql::server("a_wrong_key_and_a_damaged_vault_change_nothing") else {
        return;
    };
    let (db, site) = captured(&server, "wrongkey");
    let (other_key, _) = key_file(site.dir.path(), "other.key");
    let before = state(&db);
    let run = site
        .vault_with(&[
            "restore",
            s(&site.vault),
            "--config",
            s(&site.config),
            "--key-file",
            s(&other_key),
        ])
        .expect(1);
    assert!(run.error_line().starts_with("wrong key"), "{run:#?}");
    assert_eq!(state(&db), before);

    flip_chunk_byte(&site.vault, 0, 0);
    let run = restore(&site, 3);
    assert!(run.error_line().contains("chunk 0"), "{run:#?}");
    assert_eq!(state(&db), before);
}

#[test]
fn a_bad_where_and_an_unknown_account_are_named() {
    let Some(server) = mysql::server("a_bad_where_and_an_unknown_account_are_named") else {
        return;
    };
    let db = server.database("badwhere");
    db.exec(SCHEMA);
    let site = Site::with_url(&db.url());
    site.configure("[[preserve]]\ntable = \"app_user\"\nwhere = \"no_such_column > 1\"\n");
    let run = site.capture().expect(1);
    assert!(
        run.error_line()
            .starts_with("table app_user: MySQL/MariaDB: Unknown column 'no_such_column'"),
        "{run:#?}"
    );
    assert!(
        run.stderr.contains("hint: check the table's `where`"),
        "{run:#?}"
    );
    assert!(!site.vault.exists());

    site.configure(&format!(
        "{CONFIG}\n[grants]\nroles = [\"'vault_nobody_here'@'%'\"]\n"
    ));
    let run = site.capture().expect(2);
    assert!(
        run.error_line()
            .contains("grants.roles: the account 'vault_nobody_here'@'%' does not exist"),
        "{run:#?}"
    );
    assert!(!site.vault.exists());
}

#[test]
fn a_dry_run_lists_the_load_without_rehearsing_it_and_changes_nothing() {
    let Some(server) =
        mysql::server("a_dry_run_lists_the_load_without_rehearsing_it_and_changes_nothing")
    else {
        return;
    };
    let (db, site) = captured(&server, "dryrun");
    let before = state(&db);
    let auto_increment = || {
        db.one("SELECT IFNULL(auto_increment, 'none') FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'app_user'")
    };
    let counter = auto_increment();
    let run = site.restore(&["--dry-run", "--steps", "restore"]).expect(0);
    assert!(
        run.stdout
            .contains("note: the dry run did not rehearse the load: on MariaDB/MySQL the restore drops and re-creates triggers"),
        "{run:#?}"
    );
    assert!(
        run.stdout
            .contains("dry run: nothing was changed in mysql "),
        "{run:#?}"
    );
    assert!(
        run.stdout
            .lines()
            .any(|l| l.trim_start().starts_with("app_user") && l.contains(" 3 rows (replace)")),
        "{run:#?}"
    );
    assert_eq!(state(&db), before);
    assert_eq!(auto_increment(), counter);
}
