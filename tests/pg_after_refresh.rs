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
}
