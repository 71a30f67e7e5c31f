//! A public third-party schema on MariaDB, sakila (MySQL's sample: views, procedures, functions, triggers, a FULLTEXT MyISAM table, ENUM and SET columns; BSD licences, tests/fixtures/sakila/): health, links and compare find nothing that is not there, and a capture, a refresh by `mariadb-dump | mariadb` and a restore leave it as healthy as before.

mod common;

use std::path::Path;

use common::mysql::{self, Db, Site};
use common::s;

/// Builds sakila into `db` with the fixture's own script.
fn sakila(db: &Db) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sakila/build.sh");
    let status = std::process::Command::new(&script)
        .arg(db.url())
        .status()
        .expect("the fixture script runs");
    assert!(status.success(), "the sakila fixture did not build");
}

#[test]
fn sakila_health_links_and_compare_find_nothing_that_is_not_there() {
    let Some(server) =
        mysql::server("sakila_health_links_and_compare_find_nothing_that_is_not_there")
    else {
        return;
    };
    let acceptance = server.database("sakila_acc");
    let production = server.database("sakila_prod");
    sakila(&acceptance);
    sakila(&production);
    let site = Site::with_url(&acceptance.url());
    site.configure(&format!("[production]\nurl = \"{}\"\n", production.url()));
    let health = site
        .vault_with(&["health", "--config", s(&site.config)])
        .expect(0);
    assert!(health.stdout.contains("no problem found"), "{health:#?}");
    let links = site
        .vault_with(&["links", "--config", s(&site.config)])
        .expect(0);
    assert!(links.stdout.contains("no links"), "{links:#?}");
    let compare = site
        .vault_with(&["compare", "--config", s(&site.config)])
        .expect(0);
    assert!(compare.stdout.contains("no difference"), "{compare:#?}");
}

#[test]
fn sakila_survives_a_capture_a_refresh_by_dump_and_a_restore() {
    let Some(server) = mysql::server("sakila_survives_a_capture_a_refresh_by_dump_and_a_restore")
    else {
        return;
    };
    let acceptance = server.database("sakila_acc");
    let production = server.database("sakila_prod");
    sakila(&acceptance);
    sakila(&production);
    acceptance.exec(
        "INSERT INTO actor (actor_id, first_name, last_name) VALUES (900, 'TEST', 'ACTOR');
         INSERT INTO film_actor (actor_id, film_id) VALUES (900, 1);",
    );
    production.exec("UPDATE actor SET last_name = 'PRODUCTION' WHERE actor_id = 2");
    let site = Site::with_url(&acceptance.url());
    site.configure(&format!(
        "[production]\nurl = \"{}\"\n\n\
         [[preserve]]\ntable = \"actor\"\nwhere = \"actor_id >= 900\"\n\n\
         [[preserve]]\ntable = \"film_actor\"\nwhere = \"actor_id >= 900\"\n",
        production.url()
    ));
    site.capture().expect(0);
    server.refresh(&acceptance, &production);
    let run = site.restore(&["--steps", "restore,health"]).expect(0);
    assert_eq!(
        acceptance.rows("SELECT last_name FROM actor WHERE actor_id IN (2, 900) ORDER BY actor_id"),
        ["PRODUCTION", "ACTOR"],
        "{run:#?}"
    );
    assert_eq!(
        acceptance.one(
            "SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_schema = DATABASE()"
        ),
        "3",
        "sakila's triggers are all there"
    );
}
