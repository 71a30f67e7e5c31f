//! `vault sanitize` on MariaDB/MySQL: every rule kind, foreign keys with and without cascade, dry run, rollback, verification, and the bad inputs that change nothing.

mod common;

use common::Run;
use common::mysql::{Db, Site, server};
use common::sanitize::figures;

/// Patients, assessments (ON DELETE NO ACTION), notes (CASCADE), audit rows
/// on notes (RESTRICT), documents (SET NULL); a view, a MyISAM table and a
/// stored function that is not deterministic.
const CLINIC: &str = "
    CREATE TABLE patient (id int PRIMARY KEY, name varchar(40) NOT NULL, email varchar(80),
        phone varchar(20), file_ref varchar(20)) ENGINE = InnoDB;
    CREATE TABLE assessment (id int PRIMARY KEY, patient_id int, assessed_on date NOT NULL,
        CONSTRAINT assessment_patient_fk FOREIGN KEY (patient_id) REFERENCES patient (id) ON DELETE NO ACTION);
    CREATE TABLE note (id int PRIMARY KEY, assessment_id int, body text,
        CONSTRAINT note_assessment_fk FOREIGN KEY (assessment_id) REFERENCES assessment (id) ON DELETE CASCADE);
    CREATE TABLE audit (id int PRIMARY KEY, note_id int, what text,
        CONSTRAINT audit_note_fk FOREIGN KEY (note_id) REFERENCES note (id) ON DELETE RESTRICT);
    CREATE TABLE document (id int PRIMARY KEY, patient_id int, body blob,
        CONSTRAINT document_patient_fk FOREIGN KEY (patient_id) REFERENCES patient (id) ON DELETE SET NULL);
    INSERT INTO patient VALUES
        (1, 'Ann', 'ann@mail.example', '0611', 'f/1'),
        (2, 'Bob', 'bob@mail.example', '0622', 'f/2'),
        (3, 'Patient 3', 'cid@mail.example', NULL, NULL);
    INSERT INTO assessment VALUES
        (1, 1, '2019-05-01'), (2, 1, '2024-02-01'), (3, 2, '2024-03-01'), (4, 3, '2018-01-01');
    INSERT INTO note VALUES (1, 2, 'n1'), (2, 2, 'n2'), (3, 3, 'n3'), (4, 4, 'n4');
    INSERT INTO document VALUES (1, 1, x'01'), (2, 2, x'02');
    CREATE VIEW recent AS SELECT patient_id, assessed_on FROM assessment;
    CREATE TABLE legacy_log (id int PRIMARY KEY, what text) ENGINE = MyISAM;
    INSERT INTO legacy_log VALUES (1, 'x');
    CREATE FUNCTION pseudonym(n int) RETURNS varchar(40) NOT DETERMINISTIC NO SQL
        RETURN concat('p', n, '-', floor(rand() * 1000));
";

fn clinic(test: &str) -> Option<Db> {
    let server = server(test)?;
    let db = server.database(test);
    db.exec(CLINIC);
    Some(db)
}

fn site_with(db: &Db, rules: &str) -> Site {
    let site = Site::with_url(&db.url());
    site.configure(rules);
    site
}

fn sanitize(site: &Site, extra: &[&str]) -> Run {
    let config = site.config.to_str().unwrap();
    let mut args = vec!["sanitize", "--config", config];
    args.extend_from_slice(extra);
    site.vault_with(&args)
}

/// Every table's rows, to compare before and after.
fn state(db: &Db) -> Vec<Vec<String>> {
    [
        "patient",
        "assessment",
        "note",
        "audit",
        "document",
        "legacy_log",
    ]
    .iter()
    .map(|t| db.table(t))
    .collect()
}

fn assert_error(run: &Run, fragments: &[&str]) {
    let error = run.error_line();
    for fragment in fragments {
        assert!(error.contains(fragment), "{fragment:?} in {error}");
    }
}

fn assert_out(run: &Run, line: &str) {
    assert!(run.stdout.contains(line), "{line:?} in\n{}", run.stdout);
}

#[test]
fn every_rule_kind_is_applied_and_verified() {
    let Some(db) = clinic("every_rule") else {
        return;
    };
    let site = site_with(
        &db,
        r#"
[[sanitize]]
table = "assessment"
delete_where = "assessed_on >= DATE '2024-01-01'"

[[sanitize]]
table = "document"
delete_all = true

[[sanitize]]
table = "patient"
set_null = ["phone", "file_ref"]
where = "id <> 3"

[[sanitize]]
table = "patient"
set = { email = "concat('user', id, '@example.org')", name = "concat('Patient ', id)" }

[[sanitize]]
table = "patient"
set = { phone = "left(md5(rand()), 8)" }
where = "id = 3"

[[sanitize]]
table = "assessment"
set = { assessed_on = "DATE(NOW()) - INTERVAL 3650 DAY" }
where = "id = 1"

[[sanitize]]
table = "patient"
set = { file_ref = "pseudonym(id)" }
where = "id = 3"

[[sanitize]]
table = "patient"
set = { name = "concat('Patient ', id)" }
"#,
    );
    let run = sanitize(&site, &[]).expect(0);
    assert_eq!(figures(&run, 1), ["2", "0"], "{}", run.stdout);
    assert_out(
        &run,
        "note: 3 rows deleted by ON DELETE CASCADE, foreign key note_assessment_fk",
    );
    assert_eq!(figures(&run, 2), ["2", "0"]);
    assert_eq!(figures(&run, 3), ["2", "0"]);
    assert_eq!(figures(&run, 4), ["3", "0"]);
    assert_eq!(figures(&run, 5), ["1", "n/v"]);
    assert_eq!(figures(&run, 6), ["1", "n/v"]);
    assert_eq!(figures(&run, 7), ["1", "n/v"]);
    // Rule 4 already set these names: rows matched count, changed or not,
    // as on PostgreSQL (MySQL alone would report 0 changed rows).
    assert_eq!(figures(&run, 8), ["3", "0"]);
    assert_out(
        &run,
        "not verifiable: column phone: the expression calls rand(), whose value changes",
    );
    assert_out(
        &run,
        "not verifiable: column assessed_on: the expression reads the clock (NOW())",
    );
    assert_out(&run, "declared NOT DETERMINISTIC");
    assert_out(&run, "verified: no row left");
    assert_eq!(db.one("SELECT count(*) FROM note"), "1");
    assert_eq!(db.one("SELECT count(*) FROM document"), "0");
    assert_eq!(
        db.one("SELECT group_concat(concat(email, ' ', name, ' ', coalesce(file_ref, '-')) ORDER BY id SEPARATOR ', ') FROM patient WHERE id < 3"),
        "user1@example.org Patient 1 -, user2@example.org Patient 2 -"
    );
    assert_eq!(
        db.one("SELECT assessed_on <> '2019-05-01' FROM assessment WHERE id = 1"),
        "1"
    );
}

#[test]
fn a_foreign_key_conflict_names_table_and_constraint_and_changes_nothing() {
    let Some(db) = clinic("fk_conflict") else {
        return;
    };
    let site = site_with(
        &db,
        r#"
[[sanitize]]
table = "patient"
set_null = ["phone"]

[[sanitize]]
table = "patient"
delete_where = "id = 1"
"#,
    );
    let before = state(&db);
    let run = sanitize(&site, &[]).expect(1);
    assert_error(
        &run,
        &[
            "rule 2",
            "2 rows of assessment",
            "assessment_patient_fk",
            "NO ACTION",
            "rolled back: nothing was changed",
        ],
    );
    assert_eq!(state(&db), before);
}

#[test]
fn cascade_deletes_dependents_first_and_reports_them() {
    let Some(db) = clinic("cascade") else { return };
    db.exec("INSERT INTO audit VALUES (1, 1, 'read'), (2, 3, 'read')");
    let site = site_with(
        &db,
        "[[sanitize]]\ntable = \"patient\"\ndelete_where = \"id = 1\"\ncascade = true\n",
    );
    let run = sanitize(&site, &[]).expect(0);
    assert_eq!(figures(&run, 1), ["1", "0"], "{}", run.stdout);
    for line in [
        "audit: 1 rows deleted first (cascade = true), foreign key audit_note_fk",
        "note: 2 rows deleted by ON DELETE CASCADE, foreign key note_assessment_fk",
        "assessment: 2 rows deleted first (cascade = true), foreign key assessment_patient_fk",
        "document: 1 rows set to NULL by ON DELETE SET NULL, foreign key document_patient_fk",
    ] {
        assert_out(&run, line);
    }
    assert_eq!(db.one("SELECT count(*) FROM assessment"), "2");
    assert_eq!(db.one("SELECT count(*) FROM audit"), "1");
    assert_eq!(
        db.one("SELECT count(*) FROM document WHERE patient_id IS NULL"),
        "1"
    );

    // Without cascade the RESTRICT key below the cascading notes stops it.
    let Some(db) = clinic("restrict") else { return };
    db.exec("INSERT INTO audit VALUES (1, 1, 'read')");
    let site = site_with(
        &db,
        "[[sanitize]]\ntable = \"assessment\"\ndelete_where = \"id = 2\"\n",
    );
    let before = state(&db);
    let run = sanitize(&site, &[]).expect(1);
    assert_error(
        &run,
        &["1 rows of audit", "from note", "audit_note_fk", "RESTRICT"],
    );
    assert_eq!(state(&db), before);
}

#[test]
fn a_table_that_refers_to_itself_is_deleted_level_by_level() {
    let Some(db) = clinic("self_reference") else {
        return;
    };
    db.exec(
        "CREATE TABLE employee (id int PRIMARY KEY, manager_id int, ward varchar(10),
            CONSTRAINT employee_manager_fk FOREIGN KEY (manager_id) REFERENCES employee (id));
         INSERT INTO employee VALUES (1, NULL, 'a'), (2, 1, 'b'), (3, 2, 'b'), (4, NULL, 'a'), (5, 4, 'c');",
    );
    let site = site_with(
        &db,
        "[[sanitize]]\ntable = \"employee\"\ndelete_where = \"ward = 'a'\"\ncascade = true\n",
    );
    let run = sanitize(&site, &[]).expect(0);
    assert_eq!(figures(&run, 1), ["2", "0"], "{}", run.stdout);
    assert_out(
        &run,
        "employee: 1 rows deleted first (cascade = true), foreign key employee_manager_fk",
    );
    assert_eq!(db.one("SELECT count(*) FROM employee"), "0");

    // InnoDB checks a key row by row: rows of one delete that refer to each
    // other fail it (documented), and the whole run is rolled back.
    db.exec("INSERT INTO employee VALUES (1, NULL, 'a'), (2, 1, 'a'), (3, NULL, 'b')");
    let before = db.table("employee");
    let run = sanitize(&site, &[]).expect(1);
    assert_error(
        &run,
        &["employee_manager_fk", "rolled back: nothing was changed"],
    );
    assert_eq!(db.table("employee"), before);
}

#[test]
fn a_dry_run_reports_counts_and_changes_nothing() {
    let Some(db) = clinic("dry_run") else { return };
    let site = site_with(
        &db,
        r#"
[[sanitize]]
table = "assessment"
delete_where = "assessed_on >= DATE '2024-01-01'"

[[sanitize]]
table = "patient"
set = { email = "concat('user', id, '@example.org')" }

[[sanitize]]
table = "patient"
set_null = ["phone"]
"#,
    );
    let before = state(&db);
    let run = sanitize(&site, &["--dry-run"]).expect(0);
    assert_eq!(figures(&run, 1), ["2", "-"], "{}", run.stdout);
    assert_out(
        &run,
        "note: 3 rows deleted by ON DELETE CASCADE, foreign key note_assessment_fk",
    );
    assert_eq!(figures(&run, 2), ["3", "-"]);
    assert_eq!(figures(&run, 3), ["2", "-"]);
    assert_out(&run, "nothing was changed");
    assert_eq!(state(&db), before);
}

#[test]
fn a_failing_third_rule_rolls_everything_back() {
    let Some(db) = clinic("failing_rule") else {
        return;
    };
    let site = site_with(
        &db,
        r#"
[[sanitize]]
table = "document"
delete_all = true

[[sanitize]]
table = "patient"
set_null = ["phone"]

[[sanitize]]
table = "patient"
set = { email = "no_such_function(id)" }
"#,
    );
    let before = state(&db);
    let run = sanitize(&site, &[]).expect(1);
    assert_error(
        &run,
        &[
            "sanitize rule 3 (table patient)",
            "no_such_function",
            "rolled back: nothing was changed",
        ],
    );
    assert_eq!(state(&db), before);

    // A value that does not fit is reported by number, without the value.
    site.configure(
        "[[sanitize]]\ntable = \"document\"\ndelete_all = true\n\n[[sanitize]]\ntable = \"patient\"\nset = { phone = \"concat(email, email)\" }\n",
    );
    let run = sanitize(&site, &[]).expect(1);
    assert_error(&run, &["sanitize rule 2", "error 1406", "rolled back"]);
    assert!(!run.stderr.contains("mail.example"), "{run:#?}");
    assert_eq!(state(&db), before);

    // A function that quotes the value it could not read (1411): the
    // number, never the value.
    site.configure(
        "[[sanitize]]\ntable = \"patient\"\nset = { phone = \"DATE_FORMAT(STR_TO_DATE(name, '%Y-%m-%d'), '%Y')\" }\n",
    );
    let run = sanitize(&site, &[]).expect(1);
    assert_error(&run, &["sanitize rule 1", "error 1411", "rolled back"]);
    assert!(!run.stderr.contains("Ann"), "{run:#?}");
    assert!(!run.stderr.contains("Patient 3"), "{run:#?}");
    assert_eq!(state(&db), before);
}

#[test]
fn bad_names_are_configuration_errors_and_change_nothing() {
    let Some(db) = clinic("bad_names") else {
        return;
    };
    let before = state(&db);
    let first = "[[sanitize]]\ntable = \"document\"\ndelete_all = true\n\n";
    let cases = [
        (
            "[[sanitize]]\ntable = \"patients\"\ndelete_all = true\n",
            vec!["sanitize rule 2", "the table patients does not exist"],
        ),
        (
            "[[sanitize]]\ntable = \"patient\"\nset_null = [\"fax\"]\n",
            vec!["sanitize rule 2", "the column patient.fax does not exist"],
        ),
        (
            "[[sanitize]]\ntable = \"recent\"\ndelete_all = true\n",
            vec!["recent is a view, not a table"],
        ),
        (
            "[[sanitize]]\ntable = \"legacy_log\"\ndelete_all = true\n",
            vec!["legacy_log uses the MyISAM storage engine, which has no transactions"],
        ),
    ];
    for (rule, fragments) in cases {
        let site = site_with(&db, &format!("{first}{rule}"));
        let run = sanitize(&site, &[]).expect(2);
        assert_error(&run, &fragments);
        assert_eq!(state(&db), before);
    }
}

#[test]
fn leftovers_found_by_verification_exit_3() {
    let Some(db) = clinic("leftovers") else {
        return;
    };
    // Rule 4 puts a real address back on a row that rule 1 masked.
    let site = site_with(
        &db,
        r#"
[[sanitize]]
table = "patient"
set = { email = "concat('user', id, '@example.org')" }

[[sanitize]]
table = "assessment"
delete_where = "assessed_on < DATE '2020-01-01'"
cascade = true

[[sanitize]]
table = "assessment"
delete_where = "id > rand() * 10"

[[sanitize]]
table = "patient"
set = { email = "'bob@mail.example'" }
where = "id = 2"
"#,
    );
    let run = sanitize(&site, &[]).expect(3);
    assert_eq!(figures(&run, 1), ["3", "1"], "{}", run.stdout);
    assert_eq!(figures(&run, 2), ["2", "0"]);
    assert_eq!(figures(&run, 3)[1], "n/v");
    assert_eq!(figures(&run, 4), ["1", "0"]);
    assert_out(&run, "not verifiable: the predicate calls rand()");
    assert_out(&run, "verification found 1 rows left");
    assert_eq!(
        db.one("SELECT email FROM patient WHERE id = 2"),
        "bob@mail.example"
    );
}
