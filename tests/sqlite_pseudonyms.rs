//! `pseudonymize` on SQLite files: every kind equals the reference derivation, the same value gives the same pseudonym in two tables and after a refresh, another key gives others, NULL stays NULL, and bad configurations change nothing.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::pseudonyms::{RULES, expected, inserts, write_key};
use common::sanitize::figures;
use common::workflow::{Site, assert_one_error, assert_unchanged, exec, query, snapshot};
use common::{Run, s, vault};

const SCHEMA: &str = "
    CREATE TABLE person (id INTEGER PRIMARY KEY, name TEXT, first TEXT COLLATE NOCASE, last TEXT,
        email TEXT, phone TEXT, mrn TEXT, born TEXT);
    CREATE TABLE visitor (id INTEGER PRIMARY KEY, name TEXT);
";

/// A site whose acceptance file holds the people, configured with `rules`.
fn people(rules: &str) -> Site {
    let site = Site::new();
    exec(&site.acceptance, &format!("{SCHEMA}{}", inserts()));
    site.configure_urls(&site.acceptance, None, rules);
    site
}

fn sanitize(site: &Site, extra: &[&str]) -> Run {
    let mut args = vec!["sanitize", "--config", s(&site.config)];
    args.extend_from_slice(extra);
    vault(args, &[])
}

/// `id|name|first|last|email|phone|mrn|born` of every person, then `id|name` of every visitor.
pub fn pseudonymized(db: &std::path::Path) -> Vec<String> {
    let text = |sql: &str| -> Vec<String> {
        query(db, sql)
            .into_iter()
            .map(|row| match &row[0] {
                common::workflow::Cell::Text(t) => t.clone(),
                other => panic!("{other:?}"),
            })
            .collect()
    };
    let mut rows = text(
        "SELECT id || '|' || coalesce(name, 'NULL') || '|' || coalesce(first, 'NULL') || '|' || coalesce(last, 'NULL')
            || '|' || coalesce(email, 'NULL') || '|' || coalesce(phone, 'NULL') || '|' || coalesce(mrn, 'NULL')
            || '|' || coalesce(born, 'NULL') FROM person ORDER BY id",
    );
    rows.extend(text(
        "SELECT id || '|' || coalesce(name, 'NULL') FROM visitor ORDER BY id",
    ));
    rows
}

#[test]
fn every_kind_is_the_reference_pseudonym_stable_across_tables_and_refreshes() {
    let site = people(RULES);
    write_key(site.dir.path(), 7);
    let run = sanitize(&site, &[]).expect(0);
    // Rows 1, 3 and 4 held values; row 2 only NULLs.
    assert_eq!(figures(&run, 1), ["3", "0"], "{}", run.stdout);
    assert_eq!(figures(&run, 2), ["2", "0"], "{}", run.stdout);
    assert!(
        run.stdout
            .contains("not verifiable: column born: a shifted date looks like any other date"),
        "{}",
        run.stdout
    );
    let first = pseudonymized(&site.acceptance);
    assert_eq!(first, expected(7));
    // Equal inputs, equal outputs: rows 1 and 3, and the visitor of the same name.
    assert_eq!(first[0][2..], first[2][2..]);
    assert_eq!(first[4].split('|').nth(1), first[3].split('|').nth(1));
    assert_eq!(first[1], "2|NULL|NULL|NULL|NULL|NULL|NULL|NULL");
    assert!(first[0].contains("|MRN-"), "{}", first[0]);
    assert!(
        !first
            .iter()
            .any(|r| r.contains("Jansen|") || r.contains("mail.example"))
    );

    // A refresh brings the originals back; the same key gives the same pseudonyms.
    std::fs::remove_file(&site.acceptance).unwrap();
    exec(&site.acceptance, &format!("{SCHEMA}{}", inserts()));
    sanitize(&site, &[]).expect(0);
    assert_eq!(pseudonymized(&site.acceptance), first);

    // Another key: other pseudonyms, for every value.
    std::fs::remove_file(&site.acceptance).unwrap();
    exec(&site.acceptance, &format!("{SCHEMA}{}", inserts()));
    write_key(site.dir.path(), 8);
    sanitize(&site, &[]).expect(0);
    let other = pseudonymized(&site.acceptance);
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
fn a_dry_run_and_a_failing_rule_leave_the_file_as_it_was() {
    let site = people(RULES);
    write_key(site.dir.path(), 7);
    let before = snapshot(&site.acceptance);
    let run = sanitize(&site, &["--dry-run"]).expect(0);
    assert_eq!(figures(&run, 1), ["3", "-"], "{}", run.stdout);
    assert_unchanged(&site.acceptance, &before);
    site.configure_urls(
        &site.acceptance,
        None,
        &format!(
            "{RULES}\n[[sanitize]]\ntable = \"person\"\npseudonymize = {{ name = {{ kind = \"date_shift\", days = 3 }} }}\n"
        ),
    );
    // Rule 3 shifts names as dates: the whole sanitize is rolled back.
    let run = sanitize(&site, &[]).expect(1);
    assert_one_error(
        &run,
        &[
            "sanitize rule 3 (table person): column name: a value is not a date",
            "the value is not shown",
            "rolled back",
        ],
    );
    assert!(!run.stderr.contains("Jansen"), "{}", run.stderr);
    assert_unchanged(&site.acceptance, &before);
}

#[test]
fn bad_configurations_and_key_files_are_refused_with_exit_2_and_no_change() {
    let cases: [(&str, &[&str]); 4] = [
        (
            "[pseudonym]\nkey_file = \"pseudonym.key\"\n[[sanitize]]\ntable = \"person\"\npseudonymize = { name = \"nickname\" }\n",
            &[
                "pseudonymize.name: unknown kind \"nickname\"",
                "name, first_name",
            ],
        ),
        (
            "[pseudonym]\nkey_file = \"pseudonym.key\"\n[[sanitize]]\ntable = \"person\"\npseudonymize = { mrn = { kind = \"identifier\", pattern = \"MRN'##\" } }\n",
            &["pseudonymize.mrn: pattern \"MRN'##\"", "cannot be written"],
        ),
        (
            "[[sanitize]]\ntable = \"person\"\npseudonymize = { name = \"name\" }\n",
            &["pseudonymize needs a key: add [pseudonym] with key_file"],
        ),
        (
            "[pseudonym]\nkey_file = \"no-such.key\"\n[[sanitize]]\ntable = \"person\"\npseudonymize = { name = \"name\" }\n",
            &["cannot read the pseudonym key file", "no-such.key"],
        ),
    ];
    for (rules, fragments) in cases {
        let site = people(rules);
        write_key(site.dir.path(), 7);
        let before = snapshot(&site.acceptance);
        let run = sanitize(&site, &[]).expect(2);
        assert_one_error(&run, fragments);
        assert_unchanged(&site.acceptance, &before);
    }
    // A key file that every user may read, or a short one.
    let site = people(RULES);
    let key = write_key(site.dir.path(), 7);
    let before = snapshot(&site.acceptance);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = sanitize(&site, &[]).expect(2);
    assert_one_error(&run, &["is readable by every user (mode 0644)"]);
    assert!(run.stderr.contains("hint: `chmod 600"), "{}", run.stderr);
    std::fs::write(&key, b"short").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let run = sanitize(&site, &[]).expect(2);
    assert_one_error(&run, &["holds 5 bytes; it needs at least 32"]);
    assert_unchanged(&site.acceptance, &before);
}
