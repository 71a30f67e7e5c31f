//! Bad input on PostgreSQL through the real binary: each case gets one clear message, its
//! documented exit code, and leaves the database as it was.

mod common;

use common::pg::{self, Db, Site};
use common::{flip_chunk_byte, key_file, s};
use vault::config::DatabaseUrl;
use vault::guard::UrlTarget;

const SCHEMA: &str = "
CREATE TABLE app_user (user_id integer PRIMARY KEY, login varchar(20) NOT NULL, note text);
INSERT INTO app_user VALUES (1, 'alice', 'first'), (2, 'bob', NULL), (3, 'carol-the-long', 'third');
";

const CONFIG: &str = "[[preserve]]\ntable = \"app_user\"\n";

/// A database with the table, a site configured for it, and a vault
/// captured from it; then the table changes, as a refresh would change it.
fn captured(server: &std::sync::Arc<pg::Server>, label: &str) -> (Db, Site) {
    let db = server.database(label);
    db.exec(SCHEMA);
    let site = Site::new(&db);
    site.configure(CONFIG);
    site.capture().expect(0);
    db.exec("UPDATE app_user SET login = 'zed', note = 'production' WHERE user_id = 1; DELETE FROM app_user WHERE user_id = 3;");
    (db, site)
}

fn rows(db: &Db) -> Vec<String> {
    db.table("app_user")
}

#[test]
fn a_dropped_column_is_schema_drift() {
    let Some(server) = pg::server("a_dropped_column_is_schema_drift") else {
        return;
    };
    let (db, site) = captured(&server, "dropped");
    db.exec("ALTER TABLE app_user DROP COLUMN note");
    let before = rows(&db);
    let run = site.restore(&[]).expect(2);
    let error = run.error_line();
    assert!(error.starts_with("schema drift: "), "{error}");
    assert!(error.contains("app_user.note (text)"), "{error}");
    assert!(error.contains("nothing was changed"), "{error}");
    assert_eq!(rows(&db), before);
}

#[test]
fn a_type_that_cannot_hold_the_values_is_schema_drift() {
    let Some(server) = pg::server("a_type_that_cannot_hold_the_values_is_schema_drift") else {
        return;
    };
    let (db, site) = captured(&server, "retyped");
    db.exec("ALTER TABLE app_user ALTER COLUMN login TYPE integer USING length(login)");
    let before = rows(&db);
    let run = site.restore(&[]).expect(2);
    let error = run.error_line();
    assert!(
        error.starts_with("schema drift: column app_user.login was captured as character varying(20) and is integer in the target"),
        "{error}"
    );
    assert!(error.contains("SQLSTATE 22P02"), "{error}");
    assert!(
        !error.contains("alice"),
        "no captured value in the message: {error}"
    );
    assert_eq!(rows(&db), before);
}

#[test]
fn a_narrowed_type_that_would_truncate_is_schema_drift() {
    let Some(server) = pg::server("a_narrowed_type_that_would_truncate_is_schema_drift") else {
        return;
    };
    let (db, site) = captured(&server, "narrowed");
    db.exec("ALTER TABLE app_user ALTER COLUMN login TYPE varchar(5) USING left(login, 5)");
    let before = rows(&db);
    let run = site.restore(&[]).expect(2);
    let error = run.error_line();
    assert!(
        error.contains("was captured as character varying(20) and is character varying(5) in the target; 1 of the captured values would change"),
        "{error}"
    );
    assert_eq!(rows(&db), before);
}

#[test]
fn widened_types_restore_exactly() {
    let Some(server) = pg::server("widened_types_restore_exactly") else {
        return;
    };
    let db = server.database("widened");
    db.exec(SCHEMA);
    let want = rows(&db);
    let site = Site::new(&db);
    site.configure(CONFIG);
    site.capture().expect(0);
    db.exec(
        "DELETE FROM app_user;
         ALTER TABLE app_user ALTER COLUMN login TYPE varchar(40), ALTER COLUMN user_id TYPE bigint;
         ALTER TABLE app_user ADD COLUMN created date DEFAULT '2000-01-01';",
    );
    let run = site.restore(&[]).expect(0);
    assert!(
        run.stdout
            .contains("note: app_user.created: a new column (date)"),
        "{run:#?}"
    );
    assert_eq!(
        db.rows("SELECT (user_id, login, note)::text FROM app_user ORDER BY user_id"),
        want
    );
}

#[test]
fn a_table_missing_at_capture_is_named() {
    let Some(server) = pg::server("a_table_missing_at_capture_is_named") else {
        return;
    };
    let db = server.database("missing");
    db.exec(SCHEMA);
    let site = Site::new(&db);
    site.configure("[[preserve]]\ntable = \"camis.nope\"\n");
    let run = site.capture().expect(2);
    let error = run.error_line();
    assert!(
        error.contains("the table camis.nope does not exist in the acceptance database"),
        "{error}"
    );
    assert!(!site.vault.exists(), "no vault is left behind");
}

#[test]
fn another_database_needs_target_differs() {
    let Some(server) = pg::server("another_database_needs_target_differs") else {
        return;
    };
    let (source, mut site) = captured(&server, "source");
    let other = server.database("other");
    other.exec(SCHEMA);
    other.exec("DELETE FROM app_user WHERE user_id = 2");
    let before = rows(&other);
    site.set_acceptance_url(&other.url());

    let run = site.restore(&[]).expect(4);
    let error = run.error_line();
    assert!(
        error.contains(&format!("/{}, and the target is ", source.name)),
        "{error}"
    );
    assert!(error.contains(&other.name), "{error}");
    assert_eq!(rows(&other), before, "nothing changed");

    site.restore(&["--target-differs"]).expect(0);
    assert_eq!(rows(&other), server_rows_of_schema(&server));
}

/// The rows SCHEMA inserts.
fn server_rows_of_schema(server: &std::sync::Arc<pg::Server>) -> Vec<String> {
    let fresh = server.database("fresh");
    fresh.exec(SCHEMA);
    rows(&fresh)
}

#[test]
fn a_production_host_is_refused() {
    let Some(server) = pg::server("a_production_host_is_refused") else {
        return;
    };
    let (db, site) = captured(&server, "prodhost");
    let host = UrlTarget::of(&DatabaseUrl::parse(&db.url()).unwrap()).host;
    site.configure(&format!(
        "[production]\nurl = \"postgres://vault@prod-db.example/camis\"\nhosts = [\"prod-db*\", \"{host}\"]\n\n{CONFIG}"
    ));
    let before = rows(&db);
    let run = site.restore(&["--target-differs"]).expect(4);
    assert!(
        run.error_line()
            .contains(&format!("the acceptance host {host} (")),
        "{run:#?}"
    );
    assert_eq!(rows(&db), before);
}

#[test]
fn a_server_that_does_not_answer_is_named_without_its_password() {
    // Needs no server: nothing listens on port 1.
    let mut site = Site::with_url("postgres://vault:s3cret-pw@127.0.0.1:1/acc");
    site.configure(CONFIG);
    let run = site.capture().expect(1);
    let error = run.error_line();
    assert!(
        error.starts_with("postgres://vault:***@127.0.0.1:1/acc: cannot connect to PostgreSQL: "),
        "{error}"
    );
    assert!(!run.stderr.contains("s3cret-pw"), "{run:#?}");
    assert!(!site.vault.exists());

    // A restore gets as far as connecting, with the same message.
    let Some(server) = pg::server("a_server_that_does_not_answer_is_named_without_its_password")
    else {
        return;
    };
    let db = server.database("noanswer");
    db.exec(SCHEMA);
    site.set_acceptance_url(&db.url());
    site.capture().expect(0);
    site.set_acceptance_url("postgres://vault:s3cret-pw@127.0.0.1:1/acc");
    let run = site.restore(&["--target-differs"]).expect(1);
    assert!(
        run.error_line()
            .starts_with("postgres://vault:***@127.0.0.1:1/acc: cannot connect"),
        "{run:#?}"
    );
    assert!(!run.stderr.contains("s3cret-pw"));
}

#[test]
fn a_wrong_key_changes_nothing() {
    let Some(server) = pg::server("a_wrong_key_changes_nothing") else {
        return;
    };
    let (db, site) = captured(&server, "wrongkey");
    let (other_key, _) = key_file(site.dir.path(), "other.key");
    let before = rows(&db);
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
    assert_eq!(rows(&db), before);
}

#[test]
fn a_damaged_vault_changes_nothing() {
    let Some(server) = pg::server("a_damaged_vault_changes_nothing") else {
        return;
    };
    let (db, site) = captured(&server, "damaged");
    flip_chunk_byte(&site.vault, 0, 0);
    let before = rows(&db);
    let run = site.restore(&[]).expect(3);
    assert!(run.error_line().contains("chunk 0"), "{run:#?}");
    assert_eq!(rows(&db), before);
}

#[test]
fn a_table_dropped_after_capture_is_schema_drift() {
    let Some(server) = pg::server("a_table_dropped_after_capture_is_schema_drift") else {
        return;
    };
    let (db, site) = captured(&server, "droppedtable");
    db.exec("ALTER TABLE app_user RENAME TO app_user_old");
    let run = site.restore(&[]).expect(2);
    assert!(
        run.error_line()
            .contains("the table app_user is in the vault but not in the target database"),
        "{run:#?}"
    );
    assert_eq!(db.table("app_user_old").len(), 2);
}

#[test]
fn a_broken_reference_rolls_everything_back() {
    let Some(server) = pg::server("a_broken_reference_rolls_everything_back") else {
        return;
    };
    // Checked as each row arrives, and (DEFERRABLE) at the end.
    for deferrable in ["", " DEFERRABLE"] {
        let db = server.database("fk");
        db.exec(&format!(
            "CREATE TABLE parent (id integer PRIMARY KEY);
             CREATE TABLE child (id integer PRIMARY KEY, parent_id integer REFERENCES parent{deferrable});
             INSERT INTO parent VALUES (1), (2);
             INSERT INTO child VALUES (10, 1), (20, 2);"
        ));
        let site = Site::new(&db);
        // Only the child is preserved: its rows refer to a parent row that the
        // refresh removed.
        site.configure("[[preserve]]\ntable = \"child\"\n");
        site.capture().expect(0);
        db.exec(
            "DELETE FROM child; DELETE FROM parent WHERE id = 2; INSERT INTO child VALUES (30, 1);",
        );
        let before = db.table("child");
        // The dry run's rehearsal runs the deferred checks too.
        for args in [&["--dry-run", "--steps", "restore"][..], &[]] {
            let run = site.restore(args).expect(1);
            let error = run.error_line();
            let case = format!("{deferrable:?} {args:?}");
            assert!(error.contains("child"), "{case}: {error}");
            assert!(error.contains("foreign key"), "{case}: {error}");
            assert!(error.ends_with("nothing was changed"), "{case}: {error}");
            assert_eq!(db.table("child"), before, "{case}");
        }
    }
}

#[test]
fn a_bad_where_is_named_with_its_table() {
    let Some(server) = pg::server("a_bad_where_is_named_with_its_table") else {
        return;
    };
    let db = server.database("badwhere");
    db.exec(SCHEMA);
    db.exec("CREATE TABLE app_setting (name text PRIMARY KEY); CREATE TABLE app_role (name text PRIMARY KEY);");
    let site = Site::new(&db);
    site.configure(
        "[[preserve]]\ntable = \"app_setting\"\n\n[[preserve]]\ntable = \"app_user\"\nwhere = \"no_such_column > 1\"\n\n[[preserve]]\ntable = \"app_role\"\n",
    );
    let run = site.capture().expect(1);
    assert_eq!(
        run.error_line(),
        "table app_user: PostgreSQL: column \"no_such_column\" does not exist"
    );
    assert!(
        run.stderr.contains("hint: check the table's `where`"),
        "{run:#?}"
    );
    assert!(!site.vault.exists());
}

#[test]
fn a_scope_changed_since_capture_is_refused_unless_the_vault_scope_is_asked_for() {
    let Some(server) =
        pg::server("a_scope_changed_since_capture_is_refused_unless_the_vault_scope_is_asked_for")
    else {
        return;
    };
    let (db, site) = captured(&server, "scope");
    let before = rows(&db);
    for (config, why) in [
        (
            "[[preserve]]\ntable = \"app_user\"\nwhere = \"user_id < 3\"\n",
            "its `where` is now \"user_id < 3\" and was (none: all rows) at capture",
        ),
        (
            "[[preserve]]\ntable = \"app_user\"\nmode = \"upsert\"\n",
            "its mode is now upsert and was replace at capture",
        ),
        ("", "it is no longer in [[preserve]]"),
    ] {
        site.configure(config);
        let run = site.restore(&["--steps", "restore"]).expect(2);
        assert!(run.error_line().contains(why), "{run:#?}");
        assert!(run.stderr.contains("--vault-scope"), "{run:#?}");
        assert_eq!(rows(&db), before, "nothing changed");
    }
    site.restore(&["--steps", "restore", "--vault-scope"])
        .expect(0);
    assert_eq!(rows(&db).len(), 3, "the vault's scope: every row back");
}
