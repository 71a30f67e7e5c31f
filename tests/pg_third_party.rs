//! A public third-party schema, pagila v3.1.0 (partitions, a custom aggregate, an enum, domains, triggers on every table; MIT licence, tests/fixtures/pagila/): health, links and compare find nothing that is not there, and find what truly is broken (`get_customer_balance()` calls MySQL's `IF()`); a capture, a refresh by dump and a restore leave it as healthy as before.

mod common;

use std::path::Path;

use common::pg::{self, Db, Site};
use common::s;

/// Builds pagila into `db` with the fixture's own script.
fn pagila(db: &Db) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pagila/build.sh");
    let status = std::process::Command::new(&script)
        .arg(db.url())
        .status()
        .expect("the fixture script runs");
    assert!(status.success(), "the pagila fixture did not build");
}

/// The configuration of a site on `acceptance` with `production` named.
fn with_production(site: &Site, production: &Db, rest: &str) {
    site.configure(&format!(
        "[production]\nurl = \"{}\"\n\n{rest}",
        production.url()
    ));
}

/// `vault health` of the site: exit code and every finding's kind and object.
fn health(site: &Site) -> (i32, Vec<String>, String) {
    let run = site.vault_with(&["health", "--config", s(&site.config)]);
    let findings = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("  found") || l.starts_with("  REMAINS"))
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    (run.code, findings, run.stdout)
}

const TRULY_BROKEN: &str = "broken-function public.get_customer_balance(p_customer_id";

#[test]
fn pagila_health_finds_only_what_is_truly_broken() {
    let Some(server) = pg::server("pagila_health_finds_only_what_is_truly_broken") else {
        return;
    };
    if !server.require_extension(
        "pagila_health_finds_only_what_is_truly_broken",
        "plpgsql_check",
    ) {
        return;
    }
    let db = server.database("pagila");
    pagila(&db);
    let site = Site::new(&db);
    site.configure("");
    let (code, findings, stdout) = health(&site);
    assert_eq!(code, 3, "{stdout}");
    assert_eq!(findings.len(), 1, "{stdout}");
    assert!(findings[0].starts_with(TRULY_BROKEN), "{stdout}");
    // The trigger functions are checked with their triggers' context.
    assert!(!stdout.contains("could not be parsed"), "{stdout}");
    assert!(!stdout.contains("not checked"), "{stdout}");
}

#[test]
fn pagila_links_and_compare_find_no_difference_between_twins() {
    let Some(server) = pg::server("pagila_links_and_compare_find_no_difference_between_twins")
    else {
        return;
    };
    let acceptance = server.database("pagila_acc");
    let production = server.database("pagila_prod");
    pagila(&acceptance);
    pagila(&production);
    let site = Site::new(&acceptance);
    with_production(&site, &production, "");
    let links = site
        .vault_with(&["links", "--config", s(&site.config)])
        .expect(0);
    assert!(links.stdout.contains("no links"), "{links:#?}");
    let compare = site.vault_with(&["compare", "--config", s(&site.config)]);
    assert_eq!(compare.code, 0, "{compare:#?}");
}

#[test]
fn pagila_survives_a_capture_a_refresh_by_dump_and_a_restore() {
    let Some(server) = pg::server("pagila_survives_a_capture_a_refresh_by_dump_and_a_restore")
    else {
        return;
    };
    let has_check = server.has_extension("plpgsql_check");
    let acceptance = server.database("pagila_acc");
    let production = server.database("pagila_prod");
    pagila(&acceptance);
    pagila(&production);
    // Acceptance's own actor and film roles; production's differ.
    acceptance.exec(
        "INSERT INTO actor (actor_id, first_name, last_name) VALUES (900, 'TEST', 'ACTOR');
         INSERT INTO film_actor (actor_id, film_id) VALUES (900, 2);",
    );
    production.exec("UPDATE actor SET last_name = 'PRODUCTION' WHERE actor_id = 2");
    let site = Site::new(&acceptance);
    with_production(
        &site,
        &production,
        "[[preserve]]\ntable = \"actor\"\nwhere = \"actor_id >= 900\"\n\n\
         [[preserve]]\ntable = \"film_actor\"\nwhere = \"actor_id >= 900\"\n",
    );
    site.capture().expect(0);
    server.refresh_from_dump(&acceptance, &production);
    let run = site
        .restore(&["--steps", "restore,health"])
        .expect(if has_check { 3 } else { 0 });
    assert_eq!(
        acceptance.rows("SELECT last_name FROM actor WHERE actor_id IN (2, 900) ORDER BY actor_id"),
        ["PRODUCTION", "ACTOR"],
        "{run:#?}"
    );
    assert!(!run.stdout.contains("key collision"), "{run:#?}");
    let (_, findings, stdout) = health(&site);
    match has_check {
        true => assert!(
            findings.len() == 1 && findings[0].starts_with(TRULY_BROKEN),
            "{stdout}"
        ),
        false => assert!(findings.is_empty(), "{stdout}"),
    }
}
