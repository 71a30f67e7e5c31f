//! A dry run of the whole day says what it did not run; compare counts what vault itself did (its cascades) as expected.

mod common;

use common::workflow::refreshed_clinic;

#[test]
fn steps_after_a_rehearsed_restore_say_they_did_not_run() {
    let site = refreshed_clinic();
    let run = site.restore(&["--dry-run"]).expect(0);
    for step in ["sanitize", "verify", "health", "links", "compare"] {
        let line = run
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(step) && l.contains("skipped"))
            .unwrap_or_else(|| panic!("{step} is not skipped: {run:#?}"));
        assert!(line.contains("before the restore, not after it"), "{line}");
    }
}

/// Rows that sanitize's own `cascade = true` removed from a table that
/// refers to a sanitized one (a plain foreign key, no ON DELETE action) are
/// expected in compare, with that reason.
#[test]
fn rows_removed_by_the_rules_cascade_are_expected_in_compare() {
    use common::workflow::{Site, exec};
    let site = Site::new();
    let schema = "CREATE TABLE patient (id INTEGER PRIMARY KEY, name TEXT);
        CREATE TABLE visit (id INTEGER PRIMARY KEY, patient_id INTEGER REFERENCES patient(id));
        INSERT INTO patient VALUES (1, 'Real Patient');
        INSERT INTO visit VALUES (1, 1);";
    exec(&site.acceptance, schema);
    exec(&site.production, schema);
    site.configure("[[sanitize]]\ntable = \"patient\"\ndelete_all = true\ncascade = true\n");
    common::vault(["sanitize", "--config", common::s(&site.config)], &[]).expect(0);
    let run = common::vault(
        ["compare", "--json", "--config", common::s(&site.config)],
        &[],
    );
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("compare --json");
    let visit = json["differences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["object"] == "visit")
        .unwrap_or_else(|| panic!("{run:#?}"))
        .clone();
    assert_eq!(visit["class"], "expected", "{run:#?}");
    assert!(
        visit["reason"].as_str().unwrap().contains("cascade = true"),
        "{run:#?}"
    );
    assert_eq!(run.code, 0, "{run:#?}");
}
