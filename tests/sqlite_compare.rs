//! `vault compare` on SQLite: identical files give no difference; tables, columns, indexes, views, triggers and foreign keys that differ are found and named; rows changed, missing and extra found by key; a table without a key; differences classified from a configuration.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::{s, text_file, vault};
use vault::compare::{Class, CompareSummary};
use vault::config::Config;

fn database(dir: &Path, name: &str, sql: &str) -> PathBuf {
    let path = dir.join(name);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(sql).unwrap();
    path
}

fn config(acceptance: &Path, production: &Path, rest: &str) -> String {
    format!(
        "[acceptance]\nurl = \"sqlite:{}\"\n\n[production]\nurl = \"sqlite:{}\"\n\n{rest}",
        acceptance.display(),
        production.display()
    )
}

fn compare(acceptance: &Path, production: &Path, rest: &str) -> CompareSummary {
    let config = Config::parse(&config(acceptance, production, rest)).unwrap();
    vault::runtime::current_thread()
        .unwrap()
        .block_on(vault::commands::compare::compare(&config, &|_| None))
        .unwrap()
}

const BASE: &str = "
CREATE TABLE parent(id INTEGER PRIMARY KEY, code TEXT);
CREATE TABLE item(id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id), name TEXT NOT NULL, qty INTEGER DEFAULT 0);
CREATE TABLE log(msg TEXT);
CREATE INDEX item_name ON item(name);
CREATE VIEW v_item AS SELECT id, name FROM item;
CREATE TRIGGER item_log AFTER INSERT ON item BEGIN INSERT INTO log VALUES (new.name); END;
INSERT INTO parent VALUES (1, 'a'), (2, 'b');
INSERT INTO item WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
    SELECT i, 1, 'n' || i, i FROM n;
INSERT INTO log VALUES ('x'), ('y');
";

#[test]
fn identical_files_give_no_difference() {
    let dir = tempfile::tempdir().unwrap();
    let a = database(dir.path(), "a.db", BASE);
    let p = database(dir.path(), "p.db", BASE);
    let summary = compare(&a, &p, "");
    assert!(summary.differences.is_empty(), "{:#?}", summary.differences);
    assert_eq!(summary.relations_compared, 3);
}

#[test]
fn schema_differences_are_found_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let a = database(dir.path(), "a.db", BASE);
    let p = database(
        dir.path(),
        "p.db",
        &format!(
            "{BASE}
CREATE TABLE extra_table(id INTEGER PRIMARY KEY);
ALTER TABLE parent ADD COLUMN label TEXT;
CREATE INDEX item_qty ON item(qty);
DROP VIEW v_item;
CREATE VIEW v_item AS SELECT id, name, qty FROM item;
DROP TRIGGER item_log;
CREATE TRIGGER item_log AFTER UPDATE ON item BEGIN INSERT INTO log VALUES (new.name); END;
CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id));
CREATE TABLE dose(id INTEGER PRIMARY KEY, mg INTEGER CHECK (mg > 0),
                  CONSTRAINT sane CHECK (mg < 1000));
"
        ),
    );
    database(
        dir.path(),
        "a.db",
        "CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER);
         CREATE TABLE dose(id INTEGER PRIMARY KEY, mg INTEGER CHECK (mg > 0),
                           CONSTRAINT sane CHECK (mg < 5000));",
    );
    let summary = compare(&a, &p, "");
    let got: BTreeSet<(String, String, String)> = summary
        .differences
        .iter()
        .map(|d| (d.kind.clone(), d.object.clone(), d.what.clone()))
        .collect();
    let expected: BTreeSet<(String, String, String)> = [
        ("table", "extra_table", "only in production"),
        ("column", "extra_table.id", "only in production"),
        ("column", "parent.label", "only in production"),
        ("index", "item_qty", "only in production"),
        ("view", "v_item", "definition"),
        ("trigger", "item_log", "definition"),
        (
            "constraint",
            "child.fk(parent_id) -> parent",
            "only in production",
        ),
        ("constraint", "dose.sane", "check"),
    ]
    .into_iter()
    .map(|(k, o, w)| (k.to_owned(), o.to_owned(), w.to_owned()))
    .collect();
    assert_eq!(got, expected);
    assert_eq!(summary.exit(), vault::exit::Exit::Problem);
}

#[test]
fn changed_missing_and_extra_rows_are_found_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let a = database(
        dir.path(),
        "a.db",
        &format!(
            "{BASE}
UPDATE item SET name = 'zz-new-name' WHERE id = 5;
DELETE FROM item WHERE id = 7;
INSERT INTO item VALUES (2000, 1, 'new', 0);
INSERT INTO log VALUES ('z');
"
        ),
    );
    let p = database(dir.path(), "p.db", BASE);
    let summary = compare(&a, &p, "");
    assert_eq!(summary.differences.len(), 2, "{:#?}", summary.differences);
    let item = summary
        .differences
        .iter()
        .find(|d| d.object == "item")
        .unwrap();
    let data = item.data.as_ref().unwrap();
    assert_eq!((data.acceptance_rows, data.production_rows), (500, 500));
    assert_eq!((data.missing, data.extra, data.changed), (1, 1, 1));
    assert_eq!(data.sample_keys, vec!["2000", "5", "7"]);
    let log = summary
        .differences
        .iter()
        .find(|d| d.object == "log")
        .unwrap();
    // The trigger logged the new item too: log has two more rows.
    let data = log.data.as_ref().unwrap();
    assert!(!data.keyed);
    assert_eq!((data.acceptance_rows, data.production_rows), (504, 502));
    assert!(
        summary
            .notes
            .iter()
            .any(|n| n.starts_with("log: no primary key"))
    );
    let json = serde_json::to_string(&summary).unwrap();
    assert!(!json.contains("zz-new-name"), "{json}");
}

#[test]
fn expected_differences_follow_the_configuration_and_set_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let a = database(
        dir.path(),
        "a.db",
        &format!(
            "{BASE}\nDELETE FROM item WHERE id > 400;\nUPDATE parent SET code = 'tester' WHERE id = 2;\nCREATE INDEX local_idx ON log(msg);"
        ),
    );
    let p = database(dir.path(), "p.db", BASE);
    let rest = "[[preserve]]\ntable = \"parent\"\n\n[[sanitize]]\ntable = \"item\"\ndelete_where = \"id > 400\"\n\n\
                [compare]\nignore = [{ object = \"local_*\", reason = \"acceptance's own index\" }]\n";
    let summary = compare(&a, &p, rest);
    assert_eq!(summary.differences.len(), 3, "{:#?}", summary.differences);
    assert!(
        summary
            .differences
            .iter()
            .all(|d| d.class == Class::Expected)
    );
    let path = text_file(dir.path(), "vault.toml", &config(&a, &p, rest));
    let run = vault(["compare", "--config", s(&path)], &[]).expect(0);
    assert!(
        run.stdout
            .contains("3 differences: 3 expected, 0 unexpected"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("why: sanitized table item"),
        "{}",
        run.stdout
    );
    // Without the ignore entry the index is unexpected: exit 3.
    let path = text_file(
        dir.path(),
        "strict.toml",
        &config(&a, &p, "[[preserve]]\ntable = \"parent\"\n"),
    );
    let run = vault(["compare", "--config", s(&path), "--json"], &[]).expect(3);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let classes: BTreeSet<String> = json["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| format!("{} {}", d["object"], d["class"]))
        .collect();
    assert!(
        classes.contains("\"local_idx\" \"unexpected\""),
        "{classes:?}"
    );
    assert!(classes.contains("\"parent\" \"expected\""), "{classes:?}");
}

#[test]
fn an_ignore_entry_needs_a_reason() {
    let error = Config::parse(
        "[acceptance]\nurl = \"sqlite:a.db\"\n[compare]\nignore = [{ object = \"t\", reason = \"\" }]\n",
    )
    .unwrap_err();
    assert!(error.to_string().contains("compare.ignore[0]"), "{error}");
    let error = Config::parse(
        "[acceptance]\nurl = \"sqlite:a.db\"\n[compare]\nignore = [{ object = \"t\", why = \"x\" }]\n",
    )
    .unwrap_err();
    assert!(error.to_string().contains("why"), "{error}");
}

#[test]
fn show_keys_is_refused_when_the_output_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("vault.toml");
    std::fs::write(
        &config,
        "[acceptance]\nurl = \"sqlite:acc.db\"\n\n[production]\nurl = \"sqlite:prod.db\"\n",
    )
    .unwrap();
    let run = common::vault(
        [
            "compare",
            "--config",
            config.to_str().unwrap(),
            "--show-keys",
        ],
        &[],
    )
    .expect(2);
    assert!(
        run.error_line().contains("only a terminal may show"),
        "{run:#?}"
    );
}
