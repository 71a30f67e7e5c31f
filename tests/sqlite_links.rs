//! `vault links` on SQLite: there are no link objects; the command says so and exits 0.

mod common;

use common::workflow::{Site, exec};
use common::{s, vault};

#[test]
fn sqlite_has_no_link_objects() {
    let site = Site::new();
    exec(
        &site.acceptance,
        "CREATE TABLE app_user (id INTEGER PRIMARY KEY, login TEXT);",
    );
    exec(
        &site.production,
        "CREATE TABLE app_user (id INTEGER PRIMARY KEY, login TEXT);",
    );
    site.configure("[[preserve]]\ntable = \"app_user\"\n");
    let run = vault(["links", "--config", s(&site.config)], &[]).expect(0);
    assert!(
        run.stdout.contains("SQLite has no link objects"),
        "{run:#?}"
    );

    site.capture().expect(0);
    let run = vault(
        [
            "links",
            "--config",
            s(&site.config),
            "--vault",
            s(&site.vault),
            "--key-file",
            s(&site.key),
        ],
        &[],
    )
    .expect(0);
    assert!(
        run.stdout.contains("SQLite has no link objects"),
        "{run:#?}"
    );
}
