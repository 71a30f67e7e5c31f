//! `pseudonymize` on PostgreSQL: the pseudonyms are computed in the server and equal, byte for byte, the reference derivation and SQLite's; stable across tables and a refresh from a dump, other under another key, NULL kept; a bad key file changes nothing.

mod common;

use common::pg::{Db, Site, server};
use common::pseudonyms::{RULES, expected, inserts, write_key};
use common::sanitize::figures;
use common::workflow::{self, exec};
use common::{Run, s, vault};

const SCHEMA: &str = "
    CREATE TABLE person (id int PRIMARY KEY, name text, first varchar(40), last text,
        email text, phone text, mrn text, born date);
    CREATE TABLE visitor (id int PRIMARY KEY, name text);
";

fn sanitize(site: &Site, extra: &[&str]) -> Run {
    let mut args = vec!["sanitize", "--config", s(&site.config)];
    args.extend_from_slice(extra);
    site.vault_with(&args)
}

/// The same rows as the SQLite test reads: `id|name|...|born`, then visitors.
fn pseudonymized(db: &Db) -> Vec<String> {
    let mut rows = db.rows(
        "SELECT id || '|' || coalesce(name, 'NULL') || '|' || coalesce(first, 'NULL') || '|' || coalesce(last, 'NULL')
            || '|' || coalesce(email, 'NULL') || '|' || coalesce(phone, 'NULL') || '|' || coalesce(mrn, 'NULL')
            || '|' || coalesce(to_char(born, 'YYYY-MM-DD'), 'NULL') FROM person ORDER BY id",
    );
    rows.extend(db.rows("SELECT id || '|' || coalesce(name, 'NULL') FROM visitor ORDER BY id"));
    rows
}

#[test]
fn pseudonyms_are_computed_in_the_server_stable_across_a_refresh_and_equal_to_sqlites() {
    let Some(server) = server("pseudonyms_stable") else {
        return;
    };
    let production = server.database("pseudo_prod");
    production.exec(&format!("{SCHEMA}{}", inserts()));
    let acceptance = server.database("pseudo_acc");
    server.refresh_from_dump(&acceptance, &production);
    let site = Site::new(&acceptance);
    site.configure(RULES);
    write_key(site.dir.path(), 7);
    let run = sanitize(&site, &[]).expect(0);
    assert_eq!(figures(&run, 1), ["3", "0"], "{}", run.stdout);
    assert_eq!(figures(&run, 2), ["2", "0"], "{}", run.stdout);
    let first = pseudonymized(&acceptance);
    assert_eq!(first, expected(7), "PostgreSQL against the reference");
    assert_eq!(first[1], "2|NULL|NULL|NULL|NULL|NULL|NULL|NULL");

    // The same rows in a SQLite file, the same key: the same bytes.
    let lite = workflow::Site::new();
    exec(
        &lite.acceptance,
        &format!(
            "CREATE TABLE person (id INTEGER PRIMARY KEY, name TEXT, first TEXT, last TEXT, email TEXT, phone TEXT, mrn TEXT, born TEXT);
             CREATE TABLE visitor (id INTEGER PRIMARY KEY, name TEXT);{}",
            inserts()
        ),
    );
    lite.configure_urls(&lite.acceptance, None, RULES);
    write_key(lite.dir.path(), 7);
    vault(["sanitize", "--config", s(&lite.config)], &[]).expect(0);
    let in_sqlite = common::workflow::query(
        &lite.acceptance,
        "SELECT id || '|' || name FROM visitor WHERE name IS NOT NULL ORDER BY id",
    );
    let in_postgres =
        acceptance.rows("SELECT id || '|' || name FROM visitor WHERE name IS NOT NULL ORDER BY id");
    let in_sqlite: Vec<String> = in_sqlite
        .into_iter()
        .map(|r| match &r[0] {
            common::workflow::Cell::Text(t) => t.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(in_sqlite, in_postgres);

    // The DBAs refresh again from production's dump; the same key gives
    // the same pseudonyms.
    server.refresh_from_dump(&acceptance, &production);
    assert!(pseudonymized(&acceptance)[0].contains("Ann Jansen"));
    sanitize(&site, &[]).expect(0);
    assert_eq!(pseudonymized(&acceptance), first);

    // Another key: every value changes to another pseudonym.
    server.refresh_from_dump(&acceptance, &production);
    write_key(site.dir.path(), 8);
    sanitize(&site, &[]).expect(0);
    let other = pseudonymized(&acceptance);
    assert_eq!(other, expected(8));
    for (a, b) in first.iter().zip(&other) {
        // Unrelated outputs: a row's fields may meet by chance (one name
        // in 96), a whole row does not.
        if !a.contains("NULL") {
            assert_ne!(a, b);
        }
    }
}

#[test]
fn a_pseudonym_that_a_later_rule_undoes_is_counted_by_verify() {
    let Some(server) = server("pseudonyms_verify") else {
        return;
    };
    let db = server.database("pseudo_verify");
    db.exec(&format!("{SCHEMA}{}", inserts()));
    let site = Site::new(&db);
    site.configure(&format!(
        "{RULES}
[[sanitize]]
table = \"person\"
set = {{ mrn = \"'X' || id\" }}
where = \"id = 4\"
[[sanitize]]
table = \"person\"
set = {{ name = \"'Ann Jansen'\" }}
where = \"id = 1\"
[[sanitize]]
table = \"person\"
set = {{ email = \"'ann@mail.example'\" }}
where = \"id = 3\"
"
    ));
    write_key(site.dir.path(), 7);
    let run = sanitize(&site, &[]).expect(3);
    // Rule 1's shapes no longer hold: the identifier of row 4, the name of
    // row 1, the email of row 3.
    assert_eq!(figures(&run, 1), ["3", "3"], "{}", run.stdout);
}

#[test]
fn a_missing_or_open_key_file_changes_nothing() {
    let Some(server) = server("pseudonyms_bad_key") else {
        return;
    };
    let db = server.database("pseudo_bad_key");
    db.exec(&format!("{SCHEMA}{}", inserts()));
    let site = Site::new(&db);
    site.configure(RULES);
    let before = (db.table("person"), db.table("visitor"));
    let run = sanitize(&site, &[]).expect(2);
    assert!(
        run.error_line()
            .contains("cannot read the pseudonym key file"),
        "{}",
        run.stderr
    );
    let key = write_key(site.dir.path(), 7);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o604)).unwrap();
    let run = sanitize(&site, &[]).expect(2);
    assert!(
        run.error_line().contains("readable by every user"),
        "{}",
        run.stderr
    );
    assert_eq!((db.table("person"), db.table("visitor")), before);
}
