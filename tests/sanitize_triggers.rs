//! A sanitize leaves no copy: a history trigger on a sanitized table, or on a table its deletes cascade to, never copies the values being removed (PostgreSQL and SQLite keep the triggers quiet and put them back); MariaDB, which cannot, stops before sanitizing unless the rule allows its triggers.

mod common;

use common::mysql;
use common::pg::{self, Site};
use common::{s, vault};

const PG_SCHEMA: &str = "
CREATE TABLE patient (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE visit (id int PRIMARY KEY, patient_id int REFERENCES patient ON DELETE CASCADE, note text);
CREATE TABLE patient_history (name text);
CREATE TABLE visit_history (note text);
CREATE FUNCTION keep_patient() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO patient_history VALUES (OLD.name); RETURN OLD; END $$;
CREATE FUNCTION keep_visit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO visit_history VALUES (OLD.note); RETURN OLD; END $$;
CREATE TRIGGER patient_keep AFTER DELETE ON patient FOR EACH ROW EXECUTE FUNCTION keep_patient();
CREATE TRIGGER visit_keep AFTER DELETE ON visit FOR EACH ROW EXECUTE FUNCTION keep_visit();
ALTER TABLE visit ENABLE ALWAYS TRIGGER visit_keep;
INSERT INTO patient VALUES (1, 'Johanna de Vries'), (2, 'Pieter Bakker');
INSERT INTO visit VALUES (1, 1, 'seen by dr. Jansen'), (2, 2, 'follow-up');
";

#[test]
fn postgres_history_triggers_copy_nothing_and_are_put_back() {
    let Some(server) = pg::server("postgres_history_triggers_copy_nothing_and_are_put_back") else {
        return;
    };
    let db = server.database("sanitize_triggers");
    db.exec(PG_SCHEMA);
    let site = Site::new(&db);
    site.configure("[[sanitize]]\ntable = \"patient\"\ndelete_all = true\n");
    let run = site
        .vault_with(&["sanitize", "--config", s(&site.config)])
        .expect(0);
    assert_eq!(db.one("SELECT count(*)::text FROM patient"), "0");
    assert_eq!(db.one("SELECT count(*)::text FROM visit"), "0", "cascaded");
    assert_eq!(
        db.one("SELECT count(*)::text FROM patient_history"),
        "0",
        "{run:#?}"
    );
    assert_eq!(
        db.one("SELECT count(*)::text FROM visit_history"),
        "0",
        "{run:#?}"
    );
    assert!(
        run.stdout
            .contains("triggers kept quiet during the sanitize"),
        "{run:#?}"
    );
    assert!(run.stdout.contains("patient: patient_keep"), "{run:#?}");
    assert!(run.stdout.contains("visit: visit_keep"), "{run:#?}");
    // Put back as they were: enabled, one of them ALWAYS.
    assert_eq!(
        db.rows("SELECT tgname::text || '=' || tgenabled::text FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1"),
        ["patient_keep=O", "visit_keep=A"]
    );
    db.exec("INSERT INTO patient VALUES (3, 'x'); DELETE FROM patient WHERE id = 3");
    assert_eq!(
        db.one("SELECT count(*)::text FROM patient_history"),
        "1",
        "working again"
    );
}

#[test]
fn sqlite_history_triggers_copy_nothing_and_are_put_back() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("acc.db");
    let conn = rusqlite::Connection::open(&file).unwrap();
    conn.execute_batch(
        "PRAGMA foreign_keys = ON;
         CREATE TABLE patient (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
         CREATE TABLE visit (id INTEGER PRIMARY KEY, patient_id INTEGER REFERENCES patient(id) ON DELETE CASCADE, note TEXT);
         CREATE TABLE patient_history (name TEXT);
         CREATE TABLE visit_history (note TEXT);
         CREATE TRIGGER patient_keep AFTER DELETE ON patient BEGIN INSERT INTO patient_history VALUES (OLD.name); END;
         CREATE TRIGGER visit_keep AFTER DELETE ON visit BEGIN INSERT INTO visit_history VALUES (OLD.note); END;
         INSERT INTO patient VALUES (1, 'Johanna de Vries'), (2, 'Pieter Bakker');
         INSERT INTO visit VALUES (1, 1, 'seen by dr. Jansen'), (2, 2, 'follow-up');",
    )
    .unwrap();
    drop(conn);
    let config = dir.path().join("vault.toml");
    std::fs::write(
        &config,
        format!(
            "[acceptance]\nurl = \"sqlite:{}\"\n\n[[sanitize]]\ntable = \"patient\"\ndelete_all = true\n",
            s(&file)
        ),
    )
    .unwrap();
    let run = vault(["sanitize", "--config", s(&config)], &[]).expect(0);
    let conn = rusqlite::Connection::open(&file).unwrap();
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(count("SELECT count(*) FROM visit"), 0, "cascaded");
    assert_eq!(count("SELECT count(*) FROM patient_history"), 0, "{run:#?}");
    assert_eq!(count("SELECT count(*) FROM visit_history"), 0, "{run:#?}");
    assert!(run.stdout.contains("patient: patient_keep"), "{run:#?}");
    assert!(run.stdout.contains("visit: visit_keep"), "{run:#?}");
    assert_eq!(
        count("SELECT count(*) FROM sqlite_schema WHERE type = 'trigger'"),
        2
    );
}

#[test]
fn mariadb_triggers_stop_the_sanitize_unless_allowed() {
    let Some(server) = mysql::server("mariadb_triggers_stop_the_sanitize_unless_allowed") else {
        return;
    };
    let db = server.database("sanitize_triggers");
    db.exec(
        "CREATE TABLE patient (id int PRIMARY KEY, name varchar(40) NOT NULL);
         CREATE TABLE patient_history (name varchar(40));
         CREATE TRIGGER patient_keep AFTER DELETE ON patient FOR EACH ROW INSERT INTO patient_history VALUES (OLD.name);
         INSERT INTO patient VALUES (1, 'Johanna de Vries'), (2, 'Pieter Bakker');",
    );
    let site = mysql::Site::with_url(&db.url());
    site.configure("[[sanitize]]\ntable = \"patient\"\ndelete_all = true\n");
    let run = site
        .vault_with(&["sanitize", "--config", s(&site.config)])
        .expect(3);
    let error = run.error_line();
    assert!(error.contains("patient: patient_keep"), "{run:#?}");
    assert!(error.contains("nothing was sanitized"), "{run:#?}");
    assert!(run.stderr.contains("allow_triggers = true"), "{run:#?}");
    assert_eq!(db.one("SELECT COUNT(*) FROM patient"), "2");
    assert_eq!(db.one("SELECT COUNT(*) FROM patient_history"), "0");

    site.configure("[[sanitize]]\ntable = \"patient\"\ndelete_all = true\nallow_triggers = true\n");
    // Allowed, the trigger copies each name into the history while the
    // rule deletes it: verify's count says nothing is left, the leak scan
    // finds the copies (exit 3).
    let run = site
        .vault_with(&["sanitize", "--config", s(&site.config)])
        .expect(3);
    assert!(run.stdout.contains("ran during the sanitize"), "{run:#?}");
    assert!(run.stdout.contains("verified: no row left"), "{run:#?}");
    assert!(
        run.stdout
            .contains("patient_history.name: 2 values hold a value a rule removed or changed"),
        "{run:#?}"
    );
    assert_eq!(db.one("SELECT COUNT(*) FROM patient"), "0");
}
