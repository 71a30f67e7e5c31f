//! The leak scan on MariaDB after a refresh by dump: a history trigger that sanitize lets run (`allow_triggers = true`) copies each real name into a history table while the rule replaces it; verify's own count says nothing is left, and the scan names the history column with its count, never a value.

mod common;

use common::mysql::{Site, server};
use common::s;

const SCHEMA: &str = "
CREATE TABLE app_user (id int PRIMARY KEY, login varchar(40) NOT NULL);
CREATE TABLE patient (id int PRIMARY KEY, name varchar(80) NOT NULL, notes json);
CREATE TABLE patient_history (id int AUTO_INCREMENT PRIMARY KEY, patient_id int, name varchar(80));
CREATE TRIGGER patient_history BEFORE UPDATE ON patient FOR EACH ROW
  INSERT INTO patient_history (patient_id, name) VALUES (OLD.id, OLD.name);
INSERT INTO app_user VALUES (1, 'dr.visser');
INSERT INTO patient VALUES (1, 'Johanna Plantinga', '{\"seen_by\": \"dr.visser\"}'),
                           (2, 'Pieter Bakkenist', NULL);
";

#[test]
fn a_history_trigger_that_copies_names_during_sanitize_is_caught() {
    let Some(server) = server("a_history_trigger_that_copies_names_during_sanitize_is_caught")
    else {
        return;
    };
    let production = server.database("leak_prod");
    production.exec(SCHEMA);
    let acceptance = server.database("leak_acc");
    acceptance.exec(SCHEMA);
    acceptance.exec("INSERT INTO app_user VALUES (2, 'tester')");
    let site = Site::with_url(&acceptance.url());
    let rules = "[[preserve]]\ntable = \"app_user\"\n\n[[sanitize]]\ntable = \"patient\"\nset = { name = \"concat('patient ', id)\" }\nallow_triggers = true\n";
    site.configure(rules);
    site.capture().expect(0);
    server.refresh(&acceptance, &production);
    assert_eq!(acceptance.one("SELECT count(*) FROM patient_history"), "0");
    let report = site.dir.path().join("report");
    let run = site.restore(&["--report-dir", s(&report)]).expect(3);
    assert!(
        run.stdout.contains("1 rules checked, 0 rows left"),
        "{run:#?}"
    );
    assert!(
        run.stdout
            .contains("patient_history.name: 2 values hold a value a rule removed or changed"),
        "{run:#?}"
    );
    assert_eq!(
        acceptance.one("SELECT count(*) FROM patient_history"),
        "2",
        "the trigger did copy them"
    );
    for secret in ["Johanna Plantinga", "Pieter Bakkenist"] {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "{secret}"
        );
        for file in ["report.json", "report.md", "report.html"] {
            let text = std::fs::read_to_string(report.join(file)).unwrap();
            assert!(!text.contains(secret), "{secret} in {file}");
        }
    }
}
