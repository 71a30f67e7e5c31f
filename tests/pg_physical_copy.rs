//! A refreshed acceptance that is a physical copy of production (same PostgreSQL system identifier, same databases and OIDs, another running server) is told apart from production and restored; production itself, reached by another name, is still refused.

mod common;

use common::cluster::{self, Cluster};
use common::pg::Site;

const SCHEMA: &str = "
CREATE TABLE app_user (user_id int PRIMARY KEY, login text NOT NULL);
CREATE TABLE patient (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO app_user VALUES (1, 'alice'), (2, 'bob');
INSERT INTO patient VALUES (1, 'Johanna de Vries'), (2, 'Pieter Bakker');
";

const RULES: &str = "
[[preserve]]
table = \"app_user\"

[[sanitize]]
table = \"patient\"
delete_all = true
";

#[test]
fn a_physical_copy_of_production_is_acceptance_and_production_stays_refused() {
    let test = "a_physical_copy_of_production_is_acceptance_and_production_stays_refused";
    let Some(bin) = cluster::binaries(test) else {
        return;
    };
    let production = Cluster::new(&bin);
    production.psql("postgres", "CREATE DATABASE camis");
    production.psql("camis", SCHEMA);
    let acceptance = production.physical_copy();
    let system = "SELECT system_identifier::text FROM pg_control_system()";
    assert_eq!(
        production.psql("camis", system),
        acceptance.psql("camis", system)
    );
    let oid = "SELECT oid::text FROM pg_database WHERE datname = 'camis'";
    assert_eq!(production.psql("camis", oid), acceptance.psql("camis", oid));

    // Acceptance's own account, captured before the next refresh.
    acceptance.psql("camis", "INSERT INTO app_user VALUES (3, 'tester')");
    let mut site = Site::with_url(&acceptance.url("camis"));
    site.configure(&format!(
        "[production]\nurl = \"{}\"\n{RULES}",
        production.url("camis")
    ));
    site.capture().expect(0);
    acceptance.psql("camis", "DELETE FROM app_user WHERE user_id = 3");

    let run = site.restore(&["--steps", "restore,sanitize"]).expect(0);
    assert!(!run.stderr.contains("production"), "{run:#?}");
    assert_eq!(
        acceptance.psql(
            "camis",
            "SELECT string_agg(login, ',' ORDER BY user_id) FROM app_user"
        ),
        "alice,bob,tester"
    );
    assert_eq!(
        acceptance.psql("camis", "SELECT count(*) FROM patient"),
        "0"
    );
    let production_rows =
        "SELECT (SELECT count(*) FROM app_user) || ' ' || (SELECT count(*) FROM patient)";
    assert_eq!(production.psql("camis", production_rows), "2 2");

    // Production itself, written `localhost`, is refused.
    site.set_acceptance_url(&format!(
        "postgres://postgres@localhost:{}/camis",
        production.port
    ));
    let run = site.restore(&["--target-differs"]).expect(4);
    assert!(
        run.error_line().contains("never writes to production"),
        "{run:#?}"
    );
    assert_eq!(production.psql("camis", production_rows), "2 2");
}
