//! Sanitize can run, proven before anything commits (MariaDB/MySQL): production's triggers arrive with a definer acceptance lacks; `vault restore` (and its dry run) stops before the restore with nothing changed, naming the trigger, its definer and the fix; a statement that still fails with error 1449 names the triggers that run as the missing account.

mod common;

use common::mysql::{self, Db, Server, Site};
use common::s;

const SCHEMA: &str = "
CREATE TABLE app_user (user_id int PRIMARY KEY, login varchar(20) NOT NULL);
CREATE TABLE patient (id int PRIMARY KEY, name varchar(40) NOT NULL, is_real bool NOT NULL);
CREATE TABLE visit (id int PRIMARY KEY, patient_id int NOT NULL,
    FOREIGN KEY (patient_id) REFERENCES patient (id) ON DELETE CASCADE);
";

/// The rules: real patients go, and their visits with them (ON DELETE CASCADE).
const CONFIG: &str = "[[preserve]]\ntable = \"app_user\"\n\n\
[[sanitize]]\ntable = \"patient\"\ndelete_where = \"is_real\"\nallow_triggers = true\n";

/// Every table's rows, to tell that nothing changed.
fn state(db: &Db) -> Vec<Vec<String>> {
    ["app_user", "patient", "visit"]
        .iter()
        .map(|t| db.table(t))
        .collect()
}

/// An account of production's, dropped with the guard.
struct Missing<'a> {
    server: &'a Server,
    name: String,
}

impl Missing<'_> {
    fn create(&self, database: &str) {
        self.server.admin(&format!(
            "CREATE USER '{0}'@'%' ACCOUNT LOCK; GRANT ALL ON `{database}`.* TO '{0}'@'%'",
            self.name
        ));
    }
}

impl Drop for Missing<'_> {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.server
                .admin(&format!("DROP USER IF EXISTS '{}'@'%'", self.name))
        }));
    }
}

#[test]
fn a_trigger_whose_definer_is_missing_stops_the_run_before_the_restore() {
    let Some(server) =
        mysql::server("a_trigger_whose_definer_is_missing_stops_the_run_before_the_restore")
    else {
        return;
    };
    let prod_app = Missing {
        server: &server,
        name: format!("prod_app{}", std::process::id()),
    };
    let acceptance = server.database("definer_a");
    let production = server.database("definer_p");
    acceptance.exec(SCHEMA);
    acceptance.exec("INSERT INTO app_user VALUES (4, 'trial.portal')");
    production.exec(SCHEMA);
    production.exec(
        "INSERT INTO app_user VALUES (4, 'dr.visser');
         INSERT INTO patient VALUES (1, 'Johanna de Vries', true), (2, 'Test Patient', false);
         INSERT INTO visit VALUES (10, 1), (20, 2);",
    );
    // Production's trigger on a table the rule reaches through its foreign key.
    production.exec(&format!(
        "CREATE DEFINER = '{}'@'%' TRIGGER visit_audit BEFORE DELETE ON visit
         FOR EACH ROW SET @gone = OLD.id",
        prod_app.name
    ));
    let site = Site::with_url(&acceptance.url());
    site.configure(CONFIG);
    site.capture().expect(0);
    server.refresh(&acceptance, &production);
    let refreshed = state(&acceptance);

    for extra in [&["--dry-run"][..], &[][..]] {
        let run = site.restore(extra).expect(1);
        let said = format!("{}{}", run.stdout, run.stderr);
        for part in [
            "sanitize could not run",
            "visit_audit (BEFORE DELETE)",
            &format!("'{}'@'%' does not exist", prod_app.name),
            "nothing was restored",
            &format!("create the account '{}'@'%'", prod_app.name),
        ] {
            assert!(said.contains(part), "{part:?} missing in {run:#?}");
        }
        assert!(!said.contains("Johanna"), "a value in {run:#?}");
        assert_eq!(state(&acceptance), refreshed, "nothing changed ({extra:?})");
    }

    // Once the DBA creates the account, the same run restores and sanitizes.
    prod_app.create(&acceptance.name);
    let run = site.restore(&[]);
    assert!(run.code == 0 || run.code == 3, "{run:#?}");
    assert_eq!(
        acceptance.rows("SELECT login FROM app_user"),
        ["trial.portal"]
    );
    assert_eq!(
        acceptance.rows("SELECT name FROM patient"),
        ["Test Patient"]
    );
    assert_eq!(acceptance.rows("SELECT id FROM visit"), ["20"]);
}

#[test]
fn a_statement_failing_on_a_missing_definer_names_the_trigger() {
    let Some(server) = mysql::server("a_statement_failing_on_a_missing_definer_names_the_trigger")
    else {
        return;
    };
    let gone = format!("prod_etl{}", std::process::id());
    let db = server.database("definer_chain");
    db.exec(SCHEMA);
    // A trigger of a sanitized table writes to a log whose own trigger runs
    // as a missing account: not on a table the rules reach, so the statement
    // itself fails with error 1449.
    db.exec(&format!(
        "CREATE TABLE patient_log (id int, at_ts timestamp NULL);
         INSERT INTO patient VALUES (1, 'Johanna de Vries', true);
         CREATE TRIGGER patient_gone AFTER DELETE ON patient
           FOR EACH ROW INSERT INTO patient_log (id) VALUES (OLD.id);
         CREATE DEFINER = '{gone}'@'%' TRIGGER patient_log_stamp BEFORE INSERT ON patient_log
           FOR EACH ROW SET NEW.at_ts = now()"
    ));
    let before = state(&db);
    let site = Site::with_url(&db.url());
    site.configure(CONFIG);
    let run = site
        .vault_with(&["sanitize", "--config", s(&site.config)])
        .expect(1);
    for part in [
        "does not exist",
        &format!("run as '{gone}'@'%'"),
        "patient_log_stamp (BEFORE INSERT on patient_log)",
    ] {
        assert!(run.stderr.contains(part), "{part:?} missing in {run:#?}");
    }
    assert!(!run.stderr.contains("Johanna"), "a value in {run:#?}");
    assert_eq!(state(&db), before, "the sanitize was rolled back");
}

#[test]
fn a_view_whose_definer_is_missing_is_reported_as_such() {
    let Some(server) = mysql::server("a_view_whose_definer_is_missing_is_reported_as_such") else {
        return;
    };
    let gone = format!("prod_rep{}", std::process::id());
    let db = server.database("definer_view");
    db.exec(SCHEMA);
    db.exec(&format!(
        "CREATE DEFINER = '{gone}'@'%' VIEW real_patients AS SELECT name FROM patient WHERE is_real"
    ));
    let summary = common::health::check(&db.url(), false);
    let finding = common::health::finding(&summary, &format!("{}.real_patients", db.name));
    assert!(
        finding.detail.contains(&format!("'{gone}'@'%'")),
        "{finding:#?}"
    );
    assert!(finding.method.contains("error 1449"), "{finding:#?}");
    assert!(
        finding
            .what_to_do
            .starts_with(&format!("create the account '{gone}'@'%'")),
        "{finding:#?}"
    );
    assert!(
        !finding.what_to_do.contains("recreate the table"),
        "{finding:#?}"
    );
}

/// A trigger the rules do not allow would make the sanitize refuse (MariaDB
/// cannot keep triggers quiet): that refusal comes before the restore too.
#[test]
fn a_trigger_the_rules_do_not_allow_stops_the_run_before_the_restore() {
    let Some(server) =
        mysql::server("a_trigger_the_rules_do_not_allow_stops_the_run_before_the_restore")
    else {
        return;
    };
    let acceptance = server.database("definer_allow_a");
    let production = server.database("definer_allow_p");
    acceptance.exec(SCHEMA);
    acceptance.exec("INSERT INTO app_user VALUES (4, 'trial.portal')");
    production.exec(SCHEMA);
    production.exec(
        "INSERT INTO app_user VALUES (4, 'dr.visser');
         INSERT INTO patient VALUES (1, 'Johanna de Vries', true);
         CREATE TRIGGER patient_copy BEFORE DELETE ON patient FOR EACH ROW SET @gone = OLD.id",
    );
    let site = Site::with_url(&acceptance.url());
    site.configure(&CONFIG.replace("allow_triggers = true\n", ""));
    site.capture().expect(0);
    server.refresh(&acceptance, &production);
    let refreshed = state(&acceptance);
    let run = site.restore(&[]).expect(3);
    assert!(run.stderr.contains("patient: patient_copy"), "{run:#?}");
    assert!(run.stderr.contains("nothing was restored"), "{run:#?}");
    assert_eq!(state(&acceptance), refreshed, "nothing changed");
}
