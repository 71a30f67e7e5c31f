//! `vault health` on SQLite: views and triggers over dropped tables and columns, foreign-key and integrity damage, a clean database with no finding, and `--fix` that changes nothing it cannot mend.

mod common;

use common::health::{check, finding, found};
use common::workflow::{Site, exec};
use common::{s, vault};

/// A table dropped under a view and a trigger, a column missing from a
/// trigger's INSERT, rows whose parent is gone.
const BROKEN: &str = "
PRAGMA foreign_keys = OFF;
CREATE TABLE patient(id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE visit(id INTEGER PRIMARY KEY, patient_id INTEGER REFERENCES patient(id), note TEXT);
CREATE TABLE log(msg TEXT);
CREATE TABLE gone(x);
INSERT INTO patient VALUES (1, 'a');
INSERT INTO visit VALUES (1, 1, 'ok'), (2, 7, 'orphan'), (3, 8, 'orphan');
CREATE VIEW gone_view AS SELECT * FROM gone;
CREATE VIEW good_view AS SELECT p.name, v.note FROM patient p JOIN visit v ON v.patient_id = p.id;
CREATE TRIGGER visit_to_gone AFTER DELETE ON visit BEGIN INSERT INTO gone VALUES (old.id); END;
CREATE TRIGGER visit_bad_column AFTER UPDATE OF note ON visit BEGIN INSERT INTO log(nosuch) VALUES (new.note); END;
CREATE TRIGGER visit_log AFTER INSERT ON visit BEGIN INSERT INTO log VALUES (new.note); END;
DROP TABLE gone;
";

/// The schema as text: what must not change when nothing is repaired.
fn schema(db: &std::path::Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut statement = conn
        .prepare(
            "SELECT type || ' ' || name || ' ' || coalesce(sql, '') FROM sqlite_schema ORDER BY 1",
        )
        .unwrap();
    statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn url(db: &std::path::Path) -> String {
    format!("sqlite:{}", s(db))
}

#[test]
fn broken_views_triggers_and_orphans_are_found() {
    let site = Site::new();
    exec(&site.acceptance, BROKEN);
    let before = schema(&site.acceptance);
    let checked = check(&url(&site.acceptance), false);
    assert_eq!(
        found(&checked),
        [
            "broken-trigger visit_bad_column",
            "broken-trigger visit_to_gone",
            "broken-view gone_view",
            "foreign-key-violation visit",
        ],
        "{checked:#?}"
    );
    assert!(
        finding(&checked, "gone_view")
            .detail
            .contains("no such table")
    );
    assert!(
        finding(&checked, "visit_to_gone")
            .detail
            .contains("no such table: main.gone")
    );
    assert!(
        finding(&checked, "visit_bad_column")
            .detail
            .contains("nosuch")
    );
    let orphans = finding(&checked, "visit");
    assert!(
        orphans
            .detail
            .contains("2 rows refer through (patient_id) to rows of patient"),
        "{orphans:#?}"
    );
    assert_eq!(checked.exit().code(), 3);
    assert_eq!(
        schema(&site.acceptance),
        before,
        "the check changed nothing"
    );

    // Nothing here can be repaired: --fix leaves the database as it was.
    let fixed = check(&url(&site.acceptance), true);
    assert_eq!(fixed.repaired(), 0);
    assert_eq!(fixed.remaining(), 4);
    assert_eq!(schema(&site.acceptance), before);

    site.configure("");
    let run = vault(["health", "--config", s(&site.config), "--fix"], &[]).expect(3);
    assert!(
        run.stdout
            .contains("4 problems found: 0 repaired, 4 remain"),
        "{run:#?}"
    );
    assert!(
        run.stdout
            .contains("what to do: recreate the table or column it names")
    );
}

#[test]
fn a_damaged_index_is_reindexed() {
    let site = Site::new();
    exec(
        &site.acceptance,
        "CREATE TABLE t(a, b); CREATE INDEX t_a ON t(a); INSERT INTO t VALUES (1, 2), (3, 4);
         PRAGMA writable_schema = ON;
         UPDATE sqlite_schema SET sql = 'CREATE INDEX t_a ON t(b)' WHERE name = 't_a';
         PRAGMA writable_schema = OFF;",
    );
    let checked = check(&url(&site.acceptance), false);
    assert_eq!(found(&checked), ["integrity t_a"], "{checked:#?}");
    assert!(
        finding(&checked, "t_a")
            .detail
            .contains("missing from index t_a")
    );
    let fixed = check(&url(&site.acceptance), true);
    assert_eq!(found(&fixed), ["integrity t_a repaired"], "{fixed:#?}");
    assert_eq!(fixed.exit().code(), 0);
    assert!(check(&url(&site.acceptance), false).findings.is_empty());
}

#[test]
fn a_clean_database_has_no_finding() {
    let site = Site::new();
    exec(
        &site.acceptance,
        "CREATE TABLE patient(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL);
         CREATE TABLE visit(id INTEGER PRIMARY KEY, patient_id INTEGER REFERENCES patient(id) ON DELETE CASCADE,
                            note TEXT, total INTEGER GENERATED ALWAYS AS (id * 2) VIRTUAL);
         CREATE TABLE log(msg TEXT, at TEXT DEFAULT CURRENT_TIMESTAMP);
         CREATE INDEX visit_patient ON visit(patient_id);
         INSERT INTO patient(name) VALUES ('a'), ('b');
         INSERT INTO visit(patient_id, note) VALUES (1, 'x'), (2, 'y');
         CREATE VIEW recent AS SELECT p.name, v.note FROM patient p JOIN visit v ON v.patient_id = p.id;
         CREATE VIEW recent_names AS SELECT name FROM recent;
         CREATE TRIGGER visit_insert AFTER INSERT ON visit BEGIN INSERT INTO log(msg) VALUES (new.note); END;
         CREATE TRIGGER visit_note AFTER UPDATE OF note ON visit BEGIN UPDATE log SET msg = new.note WHERE msg = old.note; END;
         CREATE TRIGGER patient_delete BEFORE DELETE ON patient BEGIN DELETE FROM log WHERE msg IN (SELECT note FROM visit WHERE patient_id = old.id); END;
         CREATE TRIGGER recent_insert INSTEAD OF INSERT ON recent BEGIN INSERT INTO patient(name) VALUES (new.name); END;",
    );
    let before = schema(&site.acceptance);
    let checked = check(&url(&site.acceptance), false);
    assert!(checked.findings.is_empty(), "{checked:#?}");
    assert!(check(&url(&site.acceptance), true).findings.is_empty());
    assert_eq!(schema(&site.acceptance), before);
    site.configure("");
    let run = vault(["health", "--config", s(&site.config)], &[]).expect(0);
    assert!(run.stdout.contains("no problem found"), "{run:#?}");
}
