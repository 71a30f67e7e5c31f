//! Acceptance exactly as it was after a real refresh (PostgreSQL): materialized views that read preserved tables show acceptance's rows again.

mod common;

use common::pg::{self, Site};

#[test]
fn a_materialized_view_over_a_preserved_table_shows_acceptance_again() {
    let Some(server) =
        pg::server("a_materialized_view_over_a_preserved_table_shows_acceptance_again")
    else {
        return;
    };
    let acceptance = server.database("mv_acc");
    let production = server.database("mv_prod");
    let schema = "CREATE SCHEMA portal;
        CREATE TABLE portal.consent (id int PRIMARY KEY, signer text NOT NULL, trial boolean NOT NULL);
        CREATE VIEW portal.trial_consent AS SELECT id, signer FROM portal.consent WHERE trial;
        CREATE MATERIALIZED VIEW portal.mv_trial_overview AS SELECT signer FROM portal.trial_consent;";
    acceptance.exec(schema);
    production.exec(schema);
    acceptance.exec(
        "INSERT INTO portal.consent VALUES (1, 'Test Signer', true);
         REFRESH MATERIALIZED VIEW portal.mv_trial_overview;",
    );
    production.exec(
        "INSERT INTO portal.consent VALUES (1, 'Johanna de Vries', true), (2, 'Piet Jansen', true);
         REFRESH MATERIALIZED VIEW portal.mv_trial_overview;",
    );
    let site = Site::new(&acceptance);
    site.configure("[[preserve]]\ntable = \"portal.consent\"\n");
    site.capture().expect(0);
    server.refresh_from_dump(&acceptance, &production);
    assert_eq!(
        acceptance.rows("SELECT signer FROM portal.mv_trial_overview ORDER BY 1"),
        ["Johanna de Vries", "Piet Jansen"]
    );
    let run = site.restore(&["--steps", "restore"]).expect(0);
    assert_eq!(
        acceptance.rows("SELECT signer FROM portal.mv_trial_overview"),
        ["Test Signer"],
        "{run:#?}"
    );
    assert!(
        run.stdout.contains(
            "materialized view portal.mv_trial_overview refreshed: it reads a restored table"
        ),
        "{run:#?}"
    );
    // The refresh by dump is visible: the database was created again.
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(said.contains("the database was created again"), "{run:#?}");
}

/// Two identical schemas, one database with its own search_path: compare
/// finds no difference (definitions are read fully qualified on both sides).
#[test]
fn compare_reads_definitions_qualified_whatever_the_search_path() {
    let Some(server) = pg::server("compare_reads_definitions_qualified_whatever_the_search_path")
    else {
        return;
    };
    let acceptance = server.database("sp_acc");
    let production = server.database("sp_prod");
    let schema = "CREATE SCHEMA camis;
        CREATE SEQUENCE camis.x_seq;
        CREATE TABLE camis.patient (id int PRIMARY KEY DEFAULT nextval('camis.x_seq'), name text);
        CREATE TABLE camis.visit (id int PRIMARY KEY, patient_id int REFERENCES camis.patient);
        CREATE VIEW camis.visit_list AS SELECT v.id, p.name FROM camis.visit v JOIN camis.patient p ON p.id = v.patient_id;
        CREATE FUNCTION camis.touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
        CREATE TRIGGER touch BEFORE UPDATE ON camis.patient FOR EACH ROW EXECUTE FUNCTION camis.touch();";
    acceptance.exec(schema);
    production.exec(schema);
    acceptance.exec(&format!(
        "ALTER DATABASE {} SET search_path = camis, public",
        acceptance.name
    ));
    let site = Site::new(&acceptance);
    site.configure(&format!("[production]\nurl = \"{}\"\n", production.url()));
    let run = site.vault_with(&["compare", "--config", common::s(&site.config)]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(run.stdout.contains("no difference"), "{run:#?}");
}

/// Roles of `[grants]` missing after a physical copy: the dry run fails as
/// the restore would, naming every missing role at once.
#[test]
fn the_dry_run_names_every_missing_role() {
    let Some(server) = pg::server("the_dry_run_names_every_missing_role") else {
        return;
    };
    let first = server.role("dry_first");
    let second = server.role("dry_second");
    let db = server.database("dry_roles");
    db.exec(&format!(
        "CREATE TABLE app_user (id int PRIMARY KEY, login text);
         INSERT INTO app_user VALUES (1, 'a');
         GRANT SELECT ON app_user TO {0}, {1};",
        first.name, second.name
    ));
    let site = Site::new(&db);
    site.configure(&format!(
        "[[preserve]]\ntable = \"app_user\"\n\n[grants]\nroles = [\"{}\", \"{}\"]\n",
        first.name, second.name
    ));
    site.capture().expect(0);
    db.exec(&format!(
        "DELETE FROM app_user; REVOKE ALL ON app_user FROM {0}, {1}; DROP ROLE {0}; DROP ROLE {1};",
        first.name, second.name
    ));
    for extra in [&["--dry-run"][..], &[]] {
        let mut args = vec!["--steps", "restore"];
        args.extend_from_slice(extra);
        let run = site.restore(&args).expect(1);
        let error = run.error_line();
        assert!(
            error.contains(&first.name) && error.contains(&second.name),
            "{run:#?}"
        );
        assert_eq!(
            db.one("SELECT count(*)::text FROM app_user"),
            "0",
            "nothing changed"
        );
    }
}

/// Compare classifies by what vault itself does and what the configuration
/// names: column privileges of `[grants]` roles are expected, options are
/// compared as sets, and a link that reaches production is never expected.
#[test]
fn compare_classifies_column_privileges_option_order_and_links_to_production() {
    let Some(server) =
        pg::server("compare_classifies_column_privileges_option_order_and_links_to_production")
    else {
        return;
    };
    let tester = server.role("cls_tester");
    let acceptance = server.database("cls_acc");
    let production = server.database("cls_prod");
    let schema = "CREATE EXTENSION postgres_fdw;
        CREATE TABLE patient (id int PRIMARY KEY, name text);";
    acceptance.exec(schema);
    production.exec(schema);
    acceptance.exec(&format!(
        "GRANT SELECT (id) ON patient TO {};
         CREATE SERVER registry FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'acc-registry', port '5432', dbname 'reg');
         CREATE SERVER left_behind FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'prod-db.example', dbname 'camis');",
        tester.name
    ));
    production.exec(
        "CREATE SERVER registry FOREIGN DATA WRAPPER postgres_fdw OPTIONS (dbname 'reg', host 'acc-registry', port '5432');
         CREATE SERVER left_behind FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'prod-mirror.example', dbname 'camis');",
    );
    let site = Site::new(&acceptance);
    site.configure(&format!(
        "[production]\nurl = \"{}\"\nhosts = [\"prod-db*\"]\n\n[grants]\nroles = [\"{}\"]\n",
        production.url(),
        tester.name
    ));
    let run = site.vault_with(&["compare", "--json", "--config", common::s(&site.config)]);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("compare --json");
    let differences = json["differences"].as_array().expect("differences");
    let class_of = |kind: &str, object_part: &str| -> Vec<String> {
        differences
            .iter()
            .filter(|d| d["kind"] == kind && d["object"].as_str().unwrap().contains(object_part))
            .map(|d| d["class"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        class_of("column-privilege", "patient.id"),
        ["expected"],
        "{run:#?}"
    );
    assert!(
        class_of("foreign-server", "registry").is_empty(),
        "options compare as a set: {run:#?}"
    );
    assert_eq!(
        class_of("foreign-server", "left_behind"),
        ["unexpected"],
        "{run:#?}"
    );
    assert_eq!(run.code, 3, "{run:#?}");
}

/// A constraint that vault health validated in acceptance, NOT VALID in
/// production: vault's own repair, expected.
#[test]
fn a_constraint_health_validated_is_expected() {
    let Some(server) = pg::server("a_constraint_health_validated_is_expected") else {
        return;
    };
    let acceptance = server.database("val_acc");
    let production = server.database("val_prod");
    let schema = "CREATE TABLE visit (id int PRIMARY KEY, n int);
        ALTER TABLE visit ADD CONSTRAINT positive CHECK (n > 0) NOT VALID;";
    acceptance.exec(schema);
    production.exec(schema);
    let site = Site::new(&acceptance);
    site.configure(&format!("[production]\nurl = \"{}\"\n", production.url()));
    site.vault_with(&["health", "--fix", "--config", common::s(&site.config)])
        .expect(0);
    let run = site.vault_with(&["compare", "--json", "--config", common::s(&site.config)]);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("compare --json");
    let found = json["differences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "constraint")
        .unwrap_or_else(|| panic!("{run:#?}"))
        .clone();
    assert_eq!(found["what"], "validated", "{run:#?}");
    assert_eq!(found["class"], "expected", "{run:#?}");
    assert_eq!(run.code, 0, "{run:#?}");
}

/// Grant lines name objects with their schema, whatever the database's
/// search_path.
#[test]
fn grant_lines_are_qualified_whatever_the_search_path() {
    let Some(server) = pg::server("grant_lines_are_qualified_whatever_the_search_path") else {
        return;
    };
    let tester = server.role("qual_tester");
    let db = server.database("qual");
    db.exec(&format!(
        "CREATE SCHEMA camis;
         CREATE TABLE camis.assessment (id int PRIMARY KEY);
         ALTER DATABASE {} SET search_path = camis, public;
         GRANT SELECT ON camis.assessment TO {};",
        db.name, tester.name
    ));
    let site = Site::new(&db);
    site.configure(&format!(
        "[[preserve]]\ntable = \"camis.assessment\"\n\n[grants]\nroles = [\"{}\"]\n",
        tester.name
    ));
    site.capture().expect(0);
    db.exec(&format!(
        "REVOKE SELECT ON camis.assessment FROM {}",
        tester.name
    ));
    let run = site.restore(&["--steps", "restore"]).expect(0);
    assert!(
        run.stdout
            .contains("grants: GRANT SELECT ON TABLE camis.assessment TO"),
        "{run:#?}"
    );
}
