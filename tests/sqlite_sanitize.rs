//! `vault sanitize` on SQLite files: every rule kind, foreign keys with and without cascade, dry run, rollback, verification and exit codes.

mod common;

use common::sanitize::figures;
use common::workflow::{Site, assert_one_error, assert_unchanged, exec, scalar, snapshot};
use common::{Run, s, vault};

/// Patients, their assessments (NO ACTION), notes on assessments (ON
/// DELETE CASCADE), audit rows on notes (RESTRICT), documents.
const CLINIC: &str = "
    PRAGMA foreign_keys = ON;
    CREATE TABLE patient (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT, phone TEXT, file_ref TEXT);
    CREATE TABLE assessment (id INTEGER PRIMARY KEY,
        patient_id INTEGER REFERENCES patient(id), assessed_on TEXT NOT NULL);
    CREATE TABLE note (id INTEGER PRIMARY KEY,
        assessment_id INTEGER REFERENCES assessment(id) ON DELETE CASCADE, body TEXT);
    CREATE TABLE audit (id INTEGER PRIMARY KEY,
        note_id INTEGER REFERENCES note(id) ON DELETE RESTRICT, what TEXT);
    CREATE TABLE document (id INTEGER PRIMARY KEY, body BLOB);
    INSERT INTO patient VALUES
        (1, 'Ann', 'ann@mail.example', '0611', 'f/1'),
        (2, 'Bob', 'bob@mail.example', '0622', 'f/2'),
        (3, 'Cid', 'cid@mail.example', NULL, NULL);
    INSERT INTO assessment VALUES
        (1, 1, '2019-05-01'), (2, 1, '2024-02-01'), (3, 2, '2024-03-01'), (4, 3, '2018-01-01');
    INSERT INTO note VALUES (1, 2, 'n1'), (2, 2, 'n2'), (3, 3, 'n3'), (4, 4, 'n4');
    INSERT INTO document VALUES (1, x'01'), (2, x'02');
";

fn clinic(rules: &str) -> Site {
    let site = Site::new();
    exec(&site.acceptance, CLINIC);
    site.configure_urls(&site.acceptance, None, rules);
    site
}

fn sanitize(site: &Site, extra: &[&str]) -> Run {
    let mut args = vec!["sanitize", "--config", s(&site.config)];
    args.extend_from_slice(extra);
    vault(args, &[])
}

fn count(site: &Site, sql: &str) -> i64 {
    scalar(&site.acceptance, sql)
}

#[test]
fn every_rule_kind_is_applied_and_verified() {
    let site = clinic(
        r#"
[[sanitize]]
table = "assessment"
delete_where = "assessed_on >= '2024-01-01'"

[[sanitize]]
table = "document"
delete_all = true

[[sanitize]]
table = "patient"
set_null = ["phone", "file_ref"]
where = "id <> 3"

[[sanitize]]
table = "patient"
set = { email = "'user' || id || '@example.org'", name = "'Patient ' || id" }
"#,
    );
    let run = sanitize(&site, &[]).expect(0);
    // Rule 1: two assessments, and their three notes through ON DELETE CASCADE.
    assert_eq!(figures(&run, 1), ["2", "0"], "{}", run.stdout);
    assert!(
        run.stdout
            .contains("note: 3 rows deleted by ON DELETE CASCADE"),
        "{}",
        run.stdout
    );
    assert_eq!(figures(&run, 2), ["2", "0"]);
    assert_eq!(figures(&run, 3), ["2", "0"]);
    assert_eq!(figures(&run, 4), ["3", "0"]);
    assert!(
        run.stdout.contains("verified: no row left"),
        "{}",
        run.stdout
    );
    assert_eq!(count(&site, "SELECT count(*) FROM assessment"), 2);
    assert_eq!(count(&site, "SELECT count(*) FROM note"), 1);
    assert_eq!(count(&site, "SELECT count(*) FROM document"), 0);
    assert_eq!(
        count(
            &site,
            "SELECT count(*) FROM patient WHERE phone IS NOT NULL OR file_ref IS NOT NULL"
        ),
        0
    );
    assert_eq!(
        count(
            &site,
            "SELECT count(*) FROM patient WHERE email = 'user' || id || '@example.org' AND name = 'Patient ' || id"
        ),
        3
    );
}

#[test]
fn a_foreign_key_conflict_stops_and_changes_nothing() {
    let site = clinic(
        r#"
[[sanitize]]
table = "document"
delete_all = true

[[sanitize]]
table = "patient"
delete_where = "id = 1"
"#,
    );
    let before = snapshot(&site.acceptance);
    let run = sanitize(&site, &[]).expect(1);
    assert_one_error(
        &run,
        &[
            "rule 2",
            "2 rows of assessment",
            "assessment(patient_id) REFERENCES patient(id)",
            "NO ACTION",
            "rolled back: nothing was changed",
        ],
    );
    assert!(run.stderr.contains("cascade = true"), "{}", run.stderr);
    assert_unchanged(&site.acceptance, &before);
}

#[test]
fn cascade_deletes_the_dependents_first_and_reports_them() {
    // Patient 1's assessments have notes (CASCADE); one note has an audit
    // row (RESTRICT), which cascade = true deletes before its note.
    let site = clinic(
        r#"
[[sanitize]]
table = "patient"
delete_where = "id = 1"
cascade = true
"#,
    );
    exec(
        &site.acceptance,
        "INSERT INTO audit VALUES (1, 1, 'read'), (2, 3, 'read');",
    );
    let run = sanitize(&site, &[]).expect(0);
    assert_eq!(figures(&run, 1), ["1", "0"], "{}", run.stdout);
    for line in [
        "audit: 1 rows deleted first (cascade = true), foreign key audit(note_id) REFERENCES note(id)",
        "note: 2 rows deleted by ON DELETE CASCADE",
        "assessment: 2 rows deleted first (cascade = true), foreign key assessment(patient_id) REFERENCES patient(id)",
    ] {
        assert!(run.stdout.contains(line), "{line} in\n{}", run.stdout);
    }
    assert_eq!(count(&site, "SELECT count(*) FROM patient"), 2);
    assert_eq!(count(&site, "SELECT count(*) FROM assessment"), 2);
    assert_eq!(count(&site, "SELECT count(*) FROM note"), 2);
    assert_eq!(count(&site, "SELECT count(*) FROM audit"), 1);
    // Without cascade, the RESTRICT row below the cascading notes stops it.
    let site = clinic(
        r#"
[[sanitize]]
table = "assessment"
delete_where = "id = 2"
"#,
    );
    exec(&site.acceptance, "INSERT INTO audit VALUES (1, 1, 'read');");
    let before = snapshot(&site.acceptance);
    let run = sanitize(&site, &[]).expect(1);
    assert_one_error(
        &run,
        &[
            "1 rows of audit",
            "audit(note_id) REFERENCES note(id)",
            "RESTRICT",
        ],
    );
    assert_unchanged(&site.acceptance, &before);
}

#[test]
fn a_dry_run_reports_counts_and_changes_nothing() {
    let site = clinic(
        r#"
[[sanitize]]
table = "assessment"
delete_where = "assessed_on >= '2024-01-01'"

[[sanitize]]
table = "patient"
set_null = ["phone"]

[[sanitize]]
table = "patient"
delete_where = "id = 2"
cascade = true
"#,
    );
    let before = snapshot(&site.acceptance);
    let run = sanitize(&site, &["--dry-run"]).expect(0);
    assert!(run.stdout.contains("would touch"), "{}", run.stdout);
    assert_eq!(figures(&run, 1), ["2", "-"], "{}", run.stdout);
    assert_eq!(figures(&run, 2), ["2", "-"]);
    // Rule 1 already removed patient 2's assessment: nothing to cascade.
    assert_eq!(figures(&run, 3), ["1", "-"]);
    assert!(run.stdout.contains("nothing was changed"), "{}", run.stdout);
    assert_unchanged(&site.acceptance, &before);
}

#[test]
fn a_failing_rule_rolls_every_rule_back() {
    let site = clinic(
        r#"
[[sanitize]]
table = "document"
delete_all = true

[[sanitize]]
table = "patient"
set_null = ["phone"]

[[sanitize]]
table = "patient"
set = { name = "NULL" }
"#,
    );
    let before = snapshot(&site.acceptance);
    let run = sanitize(&site, &[]).expect(1);
    assert_one_error(
        &run,
        &[
            "sanitize rule 3 (table patient)",
            "NOT NULL",
            "rolled back: nothing was changed",
        ],
    );
    assert_unchanged(&site.acceptance, &before);
    // A fragment the database cannot compile fails the same way.
    site.configure_urls(
        &site.acceptance,
        None,
        "[[sanitize]]\ntable = \"document\"\ndelete_all = true\n\n[[sanitize]]\ntable = \"patient\"\nset = { email = \"no_such_function(id)\" }\n",
    );
    let run = sanitize(&site, &[]).expect(1);
    assert_one_error(&run, &["rule 2", "no_such_function", "rolled back"]);
    assert_unchanged(&site.acceptance, &before);
}

#[test]
fn leftovers_found_by_verification_exit_3() {
    // Rule 2 puts a real address back on a row that rule 1 masked; a
    // trigger that would put back the phone number that rule 3 removes is
    // kept quiet during the sanitize.
    let site = clinic(
        r#"
[[sanitize]]
table = "patient"
set = { email = "'user' || id || '@example.org'" }

[[sanitize]]
table = "patient"
set = { email = "'ann@mail.example'" }
where = "id = 1"

[[sanitize]]
table = "patient"
set_null = ["phone"]
"#,
    );
    exec(
        &site.acceptance,
        "CREATE TRIGGER keep_phone AFTER UPDATE OF phone ON patient WHEN NEW.phone IS NULL AND NEW.id = 2
         BEGIN UPDATE patient SET phone = OLD.phone WHERE id = NEW.id; END;",
    );
    let run = sanitize(&site, &[]).expect(3);
    assert_eq!(figures(&run, 1), ["3", "1"], "{}", run.stdout);
    assert_eq!(figures(&run, 2), ["1", "0"]);
    assert_eq!(figures(&run, 3), ["2", "0"]);
    assert!(run.stdout.contains("patient: keep_phone"), "{}", run.stdout);
    assert!(
        run.stdout.contains("verification found 1 rows left"),
        "{}",
        run.stdout
    );
    // The changes are committed: the verification reports, it does not undo.
    assert_eq!(
        count(
            &site,
            "SELECT count(*) FROM patient WHERE email LIKE 'user%'"
        ),
        2
    );
}

#[test]
fn volatile_expressions_are_reported_not_verifiable() {
    let site = clinic(
        r#"
[[sanitize]]
table = "patient"
set = { email = "hex(randomblob(8)) || '@example.org'", name = "'P' || id" }

[[sanitize]]
table = "assessment"
set = { assessed_on = "date('now')" }

[[sanitize]]
table = "patient"
set = { phone = "substr(phone, 1, 2) || 'xx'" }
"#,
    );
    let run = sanitize(&site, &[]).expect(0);
    assert_eq!(figures(&run, 1), ["3", "0"], "{}", run.stdout);
    assert_eq!(figures(&run, 2), ["4", "n/v"], "{}", run.stdout);
    assert!(
        run.stdout
            .contains("not verifiable: column email: the expression calls randomblob()"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("reads the clock"), "{}", run.stdout);
    // A value computed from the value it replaces cannot be computed again.
    assert_eq!(figures(&run, 3), ["3", "n/v"], "{}", run.stdout);
    assert!(
        run.stdout
            .contains("column phone: the expression reads phone, which the rule changes"),
        "{}",
        run.stdout
    );
}

#[test]
fn unknown_tables_and_columns_are_configuration_errors() {
    let site = clinic(
        "[[sanitize]]\ntable = \"document\"\ndelete_all = true\n\n[[sanitize]]\ntable = \"patients\"\ndelete_all = true\n",
    );
    let before = snapshot(&site.acceptance);
    let run = sanitize(&site, &[]).expect(2);
    assert_one_error(&run, &["sanitize rule 2", "patients does not exist"]);
    site.configure_urls(
        &site.acceptance,
        None,
        "[[sanitize]]\ntable = \"document\"\ndelete_all = true\n\n[[sanitize]]\ntable = \"patient\"\nset_null = [\"fax\"]\n",
    );
    let run = sanitize(&site, &[]).expect(2);
    assert_one_error(&run, &["sanitize rule 2", "patient.fax does not exist"]);
    assert_unchanged(&site.acceptance, &before);
}

#[test]
fn production_is_refused() {
    let site = clinic("[[sanitize]]\ntable = \"document\"\ndelete_all = true\n");
    site.configure_urls(
        &site.acceptance,
        Some(&site.acceptance),
        "[[sanitize]]\ntable = \"document\"\ndelete_all = true\n",
    );
    let before = snapshot(&site.acceptance);
    let run = sanitize(&site, &[]).expect(4);
    assert_one_error(&run, &["production"]);
    assert_unchanged(&site.acceptance, &before);
}

#[test]
fn a_table_that_refers_to_itself() {
    // Staff 2 reports to 1, 3 to 2; 4 reports to nobody.
    let site = Site::new();
    exec(
        &site.acceptance,
        "CREATE TABLE staff (id INTEGER PRIMARY KEY, manager_id INTEGER REFERENCES staff(id));
         INSERT INTO staff VALUES (1, NULL), (2, 1), (3, 2), (4, NULL);",
    );
    let rules = |predicate: &str, cascade: bool| {
        format!(
            "[[sanitize]]\ntable = \"staff\"\ndelete_where = \"{predicate}\"\n{}",
            if cascade { "cascade = true\n" } else { "" }
        )
    };
    // Rows that go together are no conflict.
    site.configure_urls(&site.acceptance, None, &rules("id IN (2, 3)", false));
    let run = sanitize(&site, &[]).expect(0);
    assert_eq!(figures(&run, 1), ["2", "0"], "{}", run.stdout);
    exec(&site.acceptance, "INSERT INTO staff VALUES (2, 1), (3, 2);");
    site.configure_urls(&site.acceptance, None, &rules("id = 1", false));
    let before = snapshot(&site.acceptance);
    let run = sanitize(&site, &[]).expect(1);
    assert_one_error(
        &run,
        &["1 rows of staff", "staff(manager_id) REFERENCES staff(id)"],
    );
    assert_unchanged(&site.acceptance, &before);
    // With cascade: 3, then 2, then 1.
    site.configure_urls(&site.acceptance, None, &rules("id = 1", true));
    let run = sanitize(&site, &[]).expect(0);
    assert_eq!(figures(&run, 1), ["1", "0"], "{}", run.stdout);
    assert_eq!(
        run.stdout.matches("staff: 1 rows deleted first").count(),
        2,
        "{}",
        run.stdout
    );
    assert_eq!(count(&site, "SELECT count(*) FROM staff"), 1);
}

#[test]
fn a_fragment_that_carries_a_second_statement_is_refused() {
    for (key, fragment) in [
        ("delete_where", "0); DELETE FROM patient; SELECT (1"),
        ("delete_where", "id = 1; DELETE FROM patient"),
        ("set", "'x'; DELETE FROM patient"),
    ] {
        let rule = match key {
            "set" => {
                format!("[[sanitize]]\ntable = \"document\"\nset = {{ body = {fragment:?} }}\n")
            }
            _ => format!("[[sanitize]]\ntable = \"assessment\"\n{key} = {fragment:?}\n"),
        };
        let site = clinic(&rule);
        let before = snapshot(&site.acceptance);
        let run = sanitize(&site, &[]).expect(2);
        assert_one_error(&run, &["sanitize[0]", "is not one SQL expression"]);
        assert_unchanged(&site.acceptance, &before);
        assert_eq!(count(&site, "SELECT count(*) FROM patient"), 3);
    }
}
