//! `pseudonymize` on MariaDB/MySQL: the pseudonyms are computed in the server with SHA2() and equal, byte for byte, the reference derivation (which SQLite and PostgreSQL give too); stable across tables and a refresh by dump, other under another key, NULL kept.

mod common;

use common::mysql::{Db, Site, server};
use common::pseudonyms::{RULES, expected, inserts, write_key};
use common::sanitize::figures;
use common::{Run, s};

const SCHEMA: &str = "
    CREATE TABLE person (id int PRIMARY KEY, name varchar(100), first varchar(40), last text,
        email varchar(200), phone varchar(40), mrn varchar(40), born date)
        ENGINE = InnoDB CHARACTER SET utf8mb4;
    CREATE TABLE visitor (id int PRIMARY KEY, name varchar(100)) ENGINE = InnoDB CHARACTER SET utf8mb4;
";

fn sanitize(site: &Site, extra: &[&str]) -> Run {
    let mut args = vec!["sanitize", "--config", s(&site.config)];
    args.extend_from_slice(extra);
    site.vault_with(&args)
}

fn pseudonymized(db: &Db) -> Vec<String> {
    let mut rows = db.rows(
        "SELECT CONCAT(id, '|', COALESCE(name, 'NULL'), '|', COALESCE(first, 'NULL'), '|', COALESCE(last, 'NULL'),
            '|', COALESCE(email, 'NULL'), '|', COALESCE(phone, 'NULL'), '|', COALESCE(mrn, 'NULL'),
            '|', COALESCE(DATE_FORMAT(born, '%Y-%m-%d'), 'NULL')) FROM person ORDER BY id",
    );
    rows.extend(db.rows("SELECT CONCAT(id, '|', COALESCE(name, 'NULL')) FROM visitor ORDER BY id"));
    rows
}

#[test]
fn pseudonyms_are_computed_in_the_server_stable_across_a_refresh_and_equal_everywhere() {
    let Some(server) = server("pseudonyms_stable") else {
        return;
    };
    let production = server.database("pseudo_prod");
    production.exec(&format!("{SCHEMA}{}", inserts()));
    let acceptance = server.database("pseudo_acc");
    server.refresh(&acceptance, &production);
    let site = Site::with_url(&acceptance.url());
    site.configure(RULES);
    write_key(site.dir.path(), 7);
    let run = sanitize(&site, &[]).expect(0);
    assert_eq!(figures(&run, 1), ["3", "0"], "{}", run.stdout);
    assert_eq!(figures(&run, 2), ["2", "0"], "{}", run.stdout);
    let first = pseudonymized(&acceptance);
    // The reference is what SQLite computes and PostgreSQL equals
    // (tests/sqlite_pseudonyms.rs, tests/pg_pseudonyms.rs).
    assert_eq!(first, expected(7), "MariaDB against the reference");
    assert_eq!(first[1], "2|NULL|NULL|NULL|NULL|NULL|NULL|NULL");

    server.refresh(&acceptance, &production);
    assert!(pseudonymized(&acceptance)[0].contains("Ann Jansen"));
    sanitize(&site, &[]).expect(0);
    assert_eq!(pseudonymized(&acceptance), first);

    server.refresh(&acceptance, &production);
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
fn an_unknown_kind_changes_nothing() {
    let Some(server) = server("pseudonyms_bad_kind") else {
        return;
    };
    let db = server.database("pseudo_bad_kind");
    db.exec(&format!("{SCHEMA}{}", inserts()));
    let site = Site::with_url(&db.url());
    site.configure(&RULES.replace("\"last_name\"", "\"surname\""));
    write_key(site.dir.path(), 7);
    let before = (db.table("person"), db.table("visitor"));
    let run = sanitize(&site, &[]).expect(2);
    assert!(
        run.error_line().contains("unknown kind \"surname\""),
        "{}",
        run.stderr
    );
    assert_eq!((db.table("person"), db.table("visitor")), before);
}
