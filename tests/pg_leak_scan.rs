//! The leak scan on PostgreSQL after a refresh by `pg_dump`/`pg_restore`: production's history table (filled by its own trigger), a JSONB audit log and a text[] column keep copies of the names the rules replace; verify's counts say nothing is left, the scan names each column with its count and never a value, and rules for the copies bring it to zero.

mod common;

use common::pg::{self, Site};
use common::s;

const SCHEMA: &str = "
CREATE TABLE app_user (id int PRIMARY KEY, login text NOT NULL);
CREATE TABLE patient (id int PRIMARY KEY, name text NOT NULL, mrn bigint);
CREATE TABLE patient_history (id serial PRIMARY KEY, patient_id int, name varchar(80));
CREATE TABLE audit (id int PRIMARY KEY, payload jsonb, tags text[]);
CREATE FUNCTION keep_history() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN INSERT INTO patient_history (patient_id, name) VALUES (OLD.id, OLD.name); RETURN NEW; END$$;
CREATE TRIGGER patient_history BEFORE UPDATE ON patient FOR EACH ROW EXECUTE FUNCTION keep_history();
INSERT INTO app_user VALUES (1, 'dr.visser');
INSERT INTO patient VALUES (1, 'Johanna Plantinga', 884422117), (2, 'Pieter Bakkenist', 993311442);
UPDATE patient SET mrn = mrn;
INSERT INTO audit VALUES
  (1, '{\"opened\": {\"patient\": \"Johanna Plantinga\", \"mrn\": 884422117}}', '{}'),
  (2, '{\"event\": \"login\"}', '{\"Pieter Bakkenist\", \"ward 3\"}');
";

#[test]
fn copies_left_by_production_are_found_in_history_json_and_arrays() {
    let Some(server) = pg::server("copies_left_by_production_are_found_in_history_json_and_arrays")
    else {
        return;
    };
    let production = server.database("leak_prod");
    production.exec(SCHEMA);
    let acceptance = server.database("leak_acc");
    acceptance.exec(SCHEMA);
    acceptance.exec("INSERT INTO app_user VALUES (2, 'tester')");
    let site = Site::new(&acceptance);
    let rules = "[[preserve]]\ntable = \"app_user\"\n\n[[sanitize]]\ntable = \"patient\"\nset = { name = \"'patient ' || id\" }\n\n[[sanitize]]\ntable = \"patient\"\nset_null = [\"mrn\"]\n";
    site.configure(rules);
    site.capture().expect(0);
    server.refresh_from_dump(&acceptance, &production);
    let report = site.dir.path().join("report");
    let run = site.restore(&["--report-dir", s(&report)]).expect(3);
    assert!(
        run.stdout.contains("2 rules checked, 0 rows left"),
        "{run:#?}"
    );
    for line in [
        "public.patient_history.name: 2 values hold a value a rule removed or changed",
        "public.audit.payload: 1 values hold a value a rule removed or changed",
        "public.audit.tags: 1 values hold a value a rule removed or changed",
    ] {
        assert!(run.stdout.contains(line), "{line}: {run:#?}");
    }
    assert!(
        run.stdout.contains("stays CLOSED") || !run.stdout.contains("after verify passed"),
        "{run:#?}"
    );
    for secret in [
        "Johanna Plantinga",
        "Pieter Bakkenist",
        "884422117",
        "993311442",
    ] {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "{secret}"
        );
        for file in ["report.json", "report.md", "report.html"] {
            let text = std::fs::read_to_string(report.join(file)).unwrap();
            assert!(!text.contains(secret), "{secret} in {file}");
        }
    }

    site.configure(&format!(
        "{rules}\n[[sanitize]]\ntable = \"patient_history\"\ndelete_all = true\n\n[[sanitize]]\ntable = \"audit\"\ndelete_all = true\n"
    ));
    server.refresh_from_dump(&acceptance, &production);
    let clean = site.restore(&[]).expect(0);
    assert!(
        clean.stdout.contains("leak scan: 0 values left in"),
        "{clean:#?}"
    );
}
