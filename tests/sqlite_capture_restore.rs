//! Capture -> refresh -> restore on SQLite files through the real binary: each mode, the
//! stored type of every value, generated columns, triggers, sequences, `--dry-run`, and the demo.

mod common;

use std::path::Path;

use common::workflow::{
    CLINIC_PRESERVED, Cell, Site, assert_unchanged, clinic_preserve, clinic_site, exec, query,
    rows, scalar, snapshot,
};
use common::{s, vault};

/// What every restore of the clinic leaves, whatever the mode: the triggers
/// are back and did not fire, production's other tables are untouched, the
/// references hold, and the next user gets a key above every restored one.
fn assert_clinic_invariants(site: &Site, schema_before: &[Vec<Cell>]) {
    assert_eq!(
        query(
            &site.acceptance,
            "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name"
        ),
        schema_before,
        "the schema, triggers included, is as before"
    );
    assert_eq!(
        rows(&site.acceptance, "audit_log", "event_id"),
        rows(&site.production, "audit_log", "event_id"),
        "no trigger fired during the restore"
    );
    assert_eq!(
        rows(&site.acceptance, "patient", "patient_id"),
        rows(&site.production, "patient", "patient_id"),
        "tables that are not preserved keep production's rows"
    );
    assert!(
        query(&site.acceptance, "SELECT * FROM pragma_foreign_key_check").is_empty(),
        "every reference holds"
    );
    assert_eq!(
        scalar(
            &site.acceptance,
            "SELECT seq FROM sqlite_sequence WHERE name = 'app_user'"
        ),
        1001
    );
    exec(
        &site.acceptance,
        "INSERT INTO app_user (login) VALUES ('newcomer')",
    );
    assert_eq!(
        query(
            &site.acceptance,
            "SELECT user_id, updated_at FROM app_user WHERE login = 'newcomer'"
        ),
        vec![row![1002, "set by trigger"]],
        "the next key comes after the restored ones, and the trigger works again"
    );
    assert_eq!(
        scalar(
            &site.acceptance,
            "SELECT count(*) FROM audit_log WHERE event = 'insert newcomer'"
        ),
        1
    );
}

fn schema(db: &Path) -> Vec<Vec<Cell>> {
    query(
        db,
        "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name",
    )
}

#[test]
fn replace_brings_back_every_preserved_row_exactly() {
    let site = clinic_site("replace");
    let before: Vec<_> = CLINIC_PRESERVED
        .iter()
        .map(|(table, order)| rows(&site.acceptance, table, order))
        .collect();
    let schema_before = schema(&site.acceptance);
    let trial_docs = "SELECT * FROM portal_document WHERE audience = 'trial' ORDER BY doc_id";
    let trial_before = query(&site.acceptance, trial_docs);

    let run = site.capture().expect(0);
    assert!(
        run.stdout.contains("\ncaptured 5 tables, 15 rows, "),
        "{}",
        run.stdout
    );
    vault(
        [
            "check",
            "--read-data",
            "--key-file",
            s(&site.key),
            s(&site.vault),
        ],
        &[],
    )
    .expect(0);

    site.refresh();
    assert_ne!(
        rows(&site.acceptance, "app_user", "user_id"),
        before[0],
        "the refresh overwrote acceptance's users"
    );

    let run = site.restore(&[]).expect(0);
    assert!(
        run.stdout
            .contains("restored 5 tables, 15 rows into sqlite "),
        "{}",
        run.stdout
    );
    for ((table, order), before) in CLINIC_PRESERVED.iter().zip(&before) {
        if *table == "portal_document" {
            continue;
        }
        assert_eq!(
            &rows(&site.acceptance, table, order),
            before,
            "{table} is back row for row"
        );
    }
    // Only the rows in the `where` scope were captured and replaced; row 10
    // was out of scope in production and is overwritten by the captured one
    // with the same key; row 14 is out of scope and stays.
    assert_eq!(query(&site.acceptance, trial_docs), trial_before);
    assert_eq!(
        rows(&site.acceptance, "portal_document", "doc_id"),
        vec![
            row![
                10,
                "trial",
                "acc trial ten",
                b"\x0a\x0a",
                2,
                "ACC TRIAL TEN"
            ],
            row![
                13,
                "trial",
                "acc trial thirteen",
                b"",
                0,
                "ACC TRIAL THIRTEEN"
            ],
            row![
                14,
                "patient",
                "prod patient fourteen",
                b"\x14",
                1,
                "PROD PATIENT FOURTEEN"
            ],
        ]
    );
    // Production's sessions belonged to production's users, which replace
    // removed: ON DELETE CASCADE took them along.
    assert!(query(&site.acceptance, "SELECT * FROM session").is_empty());
    assert_clinic_invariants(&site, &schema_before);
}

/// Expected rows shared by upsert and insert-missing.
fn user_roles_union() -> Vec<Vec<Cell>> {
    vec![
        row![1, "physician"],
        row![2, "admin"],
        row![2, "nurse"],
        row![3, "admin"],
        row![3, "reader"],
        row![1001, "tester"],
    ]
}

#[test]
fn upsert_lets_captured_rows_win_by_key_and_keeps_the_others() {
    let site = clinic_site("upsert");
    // The acceptance URL comes from the environment this time.
    let url = format!("sqlite:{}", s(&site.acceptance));
    site.write_config(&format!(
        "[acceptance]\nurl_env = \"VAULT_TEST_ACC_URL\"\n\n[production]\nurl = \"sqlite:{}\"\n\n{}",
        s(&site.production),
        clinic_preserve("upsert")
    ));
    let schema_before = schema(&site.acceptance);
    let with_key = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--config", s(&site.config), "--key-file", s(&site.key)]);
        vault(all, &[("VAULT_TEST_ACC_URL", url.as_str())])
    };

    with_key(&["capture", "--out", s(&site.vault)]).expect(0);
    site.refresh();
    let run = with_key(&["restore", s(&site.vault)]).expect(0);
    assert!(run.stdout.contains("restored 5 tables"), "{}", run.stdout);

    let acc = &site.acceptance;
    assert_eq!(
        rows(acc, "app_user", "user_id"),
        vec![
            row![1, "staff.one", 1, "2025 prod"],
            row![2, "acc.two", 1, "2026-01-02 acc"],
            row![3, "acc.three", 0, Cell::Null],
            row![4, "acc.four", 1, "2026-01-04 acc"],
            row![1001, "tester1001", 1, "2026-02-01 acc"],
        ],
        "updated rows keep their captured updated_at: the update trigger did not fire"
    );
    assert_eq!(
        rows(acc, "user_2fa", "user_id"),
        vec![
            row![1, b"\x01"],
            row![2, b"\xa2\xa2"],
            row![4, b"\xa4\xa4"],
            row![1001, b"\xa1\xa1"],
        ]
    );
    assert_eq!(rows(acc, "user_role", "user_id, role"), user_roles_union());
    assert_eq!(
        rows(acc, "app_setting", "name"),
        vec![
            row!["audit_level", "full"],
            row!["banner", "TEST DATA ONLY"],
            row!["environment", "acceptance"],
            row!["mail_relay", "smtp.acc.example"],
        ]
    );
    assert_eq!(
        rows(acc, "portal_document", "doc_id"),
        vec![
            row![
                10,
                "trial",
                "acc trial ten",
                b"\x0a\x0a",
                2,
                "ACC TRIAL TEN"
            ],
            row![
                12,
                "trial",
                "prod trial twelve",
                b"\x12",
                1,
                "PROD TRIAL TWELVE"
            ],
            row![
                13,
                "trial",
                "acc trial thirteen",
                b"",
                0,
                "ACC TRIAL THIRTEEN"
            ],
            row![
                14,
                "patient",
                "prod patient fourteen",
                b"\x14",
                1,
                "PROD PATIENT FOURTEEN"
            ],
        ]
    );
    assert_eq!(
        rows(acc, "session", "session_id"),
        rows(&site.production, "session", "session_id"),
        "upsert removes nothing, so nothing cascades"
    );
    assert_clinic_invariants(&site, &schema_before);
}

#[test]
fn insert_missing_adds_only_absent_keys() {
    let site = clinic_site("insert-missing");
    let schema_before = schema(&site.acceptance);
    site.capture().expect(0);
    site.refresh();
    site.restore(&[]).expect(0);

    let acc = &site.acceptance;
    assert_eq!(
        rows(acc, "app_user", "user_id"),
        vec![
            row![1, "staff.one", 1, "2025 prod"],
            row![2, "staff.two", 1, "2025 prod"],
            row![3, "staff.three", 1, "2025 prod"],
            row![4, "acc.four", 1, "2026-01-04 acc"],
            row![1001, "tester1001", 1, "2026-02-01 acc"],
        ],
        "inserted rows keep their captured updated_at: the insert trigger did not fire"
    );
    assert_eq!(
        rows(acc, "user_2fa", "user_id"),
        vec![
            row![1, b"\x01"],
            row![2, b"\x02"],
            row![4, b"\xa4\xa4"],
            row![1001, b"\xa1\xa1"],
        ]
    );
    assert_eq!(rows(acc, "user_role", "user_id, role"), user_roles_union());
    assert_eq!(
        rows(acc, "app_setting", "name"),
        vec![
            row!["audit_level", "full"],
            row!["banner", ""],
            row!["environment", "production"],
            row!["mail_relay", "smtp.acc.example"],
        ]
    );
    // Key 10 exists in production (out of the `where` scope): it is kept.
    assert_eq!(
        rows(acc, "portal_document", "doc_id"),
        vec![
            row![
                10,
                "patient",
                "prod patient ten",
                b"\x10",
                1,
                "PROD PATIENT TEN"
            ],
            row![
                12,
                "trial",
                "prod trial twelve",
                b"\x12",
                1,
                "PROD TRIAL TWELVE"
            ],
            row![
                13,
                "trial",
                "acc trial thirteen",
                b"",
                0,
                "ACC TRIAL THIRTEEN"
            ],
            row![
                14,
                "patient",
                "prod patient fourteen",
                b"\x14",
                1,
                "PROD PATIENT FOURTEEN"
            ],
        ]
    );
    assert_eq!(
        rows(acc, "session", "session_id"),
        rows(&site.production, "session", "session_id")
    );
    assert_clinic_invariants(&site, &schema_before);
}

/// Columns of every affinity SQLite knows, and one without a type.
const MATRIX_COLUMNS: [(&str, &str); 10] = [
    ("i", "INTEGER"),
    ("big", "BIGINT"),
    ("r", "REAL"),
    ("dbl", "DOUBLE PRECISION"),
    ("t", "TEXT"),
    ("vc", "VARCHAR(16)"),
    ("b", "BLOB"),
    ("n", "NUMERIC"),
    ("flag", "BOOLEAN"),
    ("u", ""),
];

/// Bytes that do not compress, so that a big value spans several chunks.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

fn matrix_table() -> String {
    let columns: Vec<String> = MATRIX_COLUMNS
        .iter()
        .map(|(name, ty)| format!("{name} {ty}"))
        .collect();
    format!(
        "CREATE TABLE matrix (id INTEGER PRIMARY KEY, label TEXT NOT NULL, {});",
        columns.join(", ")
    )
}

/// Every value kind, each written into every column: SQLite applies the
/// column's affinity once, and what it stored must come back as stored.
fn fill_matrix(db: &Path) {
    use rusqlite::types::Value;
    let values: Vec<(&str, Value)> = vec![
        ("null", Value::Null),
        ("int 0", Value::Integer(0)),
        ("int -1", Value::Integer(-1)),
        ("int min", Value::Integer(i64::MIN)),
        ("int max", Value::Integer(i64::MAX)),
        ("int 2^53+1", Value::Integer((1 << 53) + 1)),
        ("real 0.5", Value::Real(0.5)),
        ("real -0.0", Value::Real(-0.0)),
        ("real 3.0", Value::Real(3.0)),
        ("real pi", Value::Real(std::f64::consts::PI)),
        ("real large", Value::Real(1.0e308)),
        ("real most negative", Value::Real(f64::MIN)),
        ("real tiny", Value::Real(1.0e-300)),
        ("real subnormal", Value::Real(5e-324)),
        ("real 1e20", Value::Real(1.0e20)),
        ("real 0.1+0.2", Value::Real(0.1 + 0.2)),
        ("text empty", Value::Text(String::new())),
        ("text tab", Value::Text("a\tb\t".into())),
        (
            "text newlines",
            Value::Text("line 1\nline 2\r\nline 3\n".into()),
        ),
        (
            "text unicode",
            Value::Text("é ß Ω 中文 עברית \u{200b} \u{feff}".into()),
        ),
        ("text emoji", Value::Text("🙂 👩‍⚕️ 🇳🇱".into())),
        (
            "text quotes",
            Value::Text("'single' \"double\" \\back\\slash, comma; {x}".into()),
        ),
        ("text 12a", Value::Text("12a".into())),
        ("text 42", Value::Text("42".into())),
        ("text 4.5", Value::Text("4.5".into())),
        ("text spaced 7", Value::Text(" 7 ".into())),
        ("text 0x1F", Value::Text("0x1F".into())),
        ("text NULL", Value::Text("NULL".into())),
        ("text -0.0", Value::Text("-0.0".into())),
        ("blob empty", Value::Blob(Vec::new())),
        ("blob bytes", Value::Blob((0..=255).collect())),
        ("blob utf8", Value::Blob(b"looks like text".to_vec())),
    ];
    let mut conn = rusqlite::Connection::open(db).unwrap();
    let tx = conn.transaction().unwrap();
    let every_column = vec!["?3"; MATRIX_COLUMNS.len()].join(", ");
    for (id, (label, value)) in values.iter().enumerate() {
        tx.execute(
            &format!("INSERT INTO matrix VALUES (?1, ?2, {every_column})"),
            rusqlite::params![id as i64 + 1, label, value],
        )
        .unwrap();
    }
    // Multi-megabyte values, in the columns that keep them as they are.
    tx.execute(
        "INSERT INTO matrix (id, label, b, u) VALUES (1000, 'blob 5 MiB', ?1, ?1)",
        [noise(5 << 20, 7)],
    )
    .unwrap();
    let text: String = noise(3 << 20, 11)
        .into_iter()
        .map(|b| char::from(b'a' + b % 26))
        .collect();
    tx.execute(
        "INSERT INTO matrix (id, label, t, u, vc) VALUES (1001, 'text 3 MiB', ?1, ?1, ?1)",
        [text],
    )
    .unwrap();
    tx.commit().unwrap();
}

#[test]
fn every_stored_type_and_value_comes_back_exactly() {
    let site = Site::new();
    exec(&site.acceptance, &matrix_table());
    fill_matrix(&site.acceptance);
    exec(
        &site.production,
        &format!(
            "{} INSERT INTO matrix (id, label, i, u) VALUES (1, 'production', 1, 'p'), (5000, 'production only', 2, x'00');",
            matrix_table()
        ),
    );
    site.configure("[[preserve]]\ntable = \"matrix\"\n");
    let types_sql = format!(
        "SELECT id, {} FROM matrix ORDER BY id",
        MATRIX_COLUMNS
            .iter()
            .map(|(name, _)| format!("typeof({name})"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let before = rows(&site.acceptance, "matrix", "id");
    let types_before = query(&site.acceptance, &types_sql);

    // The matrix holds what it claims: affinities applied, odd values kept.
    let at = |label: &str, column: &str| {
        query(
            &site.acceptance,
            &format!("SELECT {column} FROM matrix WHERE label = '{label}'"),
        )[0][0]
            .clone()
    };
    assert_eq!(at("text 12a", "i"), Cell::from("12a"));
    assert_eq!(at("text 42", "i"), Cell::Integer(42));
    assert_eq!(at("text 42", "t"), Cell::from("42"));
    assert_eq!(at("int 0", "t"), Cell::from("0"));
    assert_eq!(at("real 3.0", "i"), Cell::Integer(3));
    assert_eq!(at("real 0.5", "i"), Cell::real(0.5));
    assert_eq!(at("real -0.0", "u"), Cell::real(-0.0));
    assert_eq!(at("real subnormal", "r"), Cell::real(5e-324));
    assert_eq!(
        at("blob utf8", "t"),
        Cell::Blob(b"looks like text".to_vec())
    );

    site.capture().expect(0);
    site.refresh();
    site.restore(&[]).expect(0);

    assert_eq!(query(&site.acceptance, &types_sql), types_before);
    let after = rows(&site.acceptance, "matrix", "id");
    assert_eq!(after.len(), before.len());
    for (a, b) in after.iter().zip(&before) {
        assert_eq!(a, b, "row {:?}", b[1]);
    }
}

#[test]
fn generated_columns_are_computed_by_the_target_not_written() {
    let site = Site::new();
    let table = |expression: &str| {
        format!(
            "CREATE TABLE doc (id INTEGER PRIMARY KEY, title TEXT NOT NULL,
               shout TEXT GENERATED ALWAYS AS ({expression}) STORED,
               len INTEGER GENERATED ALWAYS AS (length(title)) VIRTUAL);"
        )
    };
    exec(
        &site.acceptance,
        &format!(
            "{} INSERT INTO doc (id, title) VALUES (1, 'hello'), (2, 'ünïcode');",
            table("upper(title)")
        ),
    );
    // Production computes `shout` another way: the restored rows follow it.
    exec(
        &site.production,
        &format!(
            "{} INSERT INTO doc (id, title) VALUES (7, 'prod');",
            table("'v2 ' || upper(title)")
        ),
    );
    site.configure("[[preserve]]\ntable = \"doc\"\n");
    site.capture().expect(0);
    site.refresh();
    let run = site.restore(&[]).expect(0);
    assert!(!run.stdout.contains("note:"), "{}", run.stdout);
    assert_eq!(
        rows(&site.acceptance, "doc", "id"),
        vec![
            row![1, "hello", "v2 HELLO", 5],
            row![2, "ünïcode", "v2 üNïCODE", 7],
        ]
    );
}

#[test]
fn dry_run_rehearses_the_restore_changes_nothing_and_counts_what_it_would_do() {
    let site = clinic_site("replace");
    site.capture().expect(0);
    site.refresh();
    let before = snapshot(&site.acceptance);

    let run = site.restore(&["--dry-run", "--steps", "restore"]).expect(0);
    assert!(
        run.stdout.contains(
            "dry run: the restore was rehearsed in its transaction and rolled back; nothing was changed in sqlite "
        ),
        "{}",
        run.stdout
    );
    for (table, count) in [
        ("app_user", 4),
        ("user_2fa", 3),
        ("user_role", 3),
        ("app_setting", 3),
        ("portal_document", 2),
    ] {
        assert!(
            run.stdout
                .lines()
                .any(|l| l.trim_start().starts_with(table) && l.contains(&format!(" {count} rows"))),
            "{table} with {count} rows in:\n{}",
            run.stdout
        );
    }
    assert_unchanged(&site.acceptance, &before);

    // The counts are those of the real restore.
    let rehearsed = common::restore_count_lines(&run.stdout);
    assert_eq!(rehearsed.len(), 5, "{}", run.stdout);
    let real = site.restore(&["--steps", "restore"]).expect(0);
    assert_eq!(
        rehearsed,
        common::restore_count_lines(&real.stdout),
        "{}",
        real.stdout
    );
}

#[test]
fn the_demo_restores_every_preserved_table() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let run = vault(["demo", "--dir", s(&demo)], &[]).expect(0);
    for table in [
        "app_user",
        "user_2fa",
        "app_role",
        "user_role",
        "app_setting",
        "portal_document",
    ] {
        assert!(
            run.stdout
                .lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == [table, "identical"]),
            "{table} identical in:\n{}",
            run.stdout
        );
    }
    assert!(!run.stdout.contains("DIFFERENT"), "{}", run.stdout);
    // It ends with the signed report and its path, which verifies.
    let report = demo.join("report");
    assert!(
        run.stdout.contains(&format!(
            "Signed run report for the change ticket: {}",
            report.join("report.html").display()
        )),
        "{}",
        run.stdout
    );
    let key = demo.join("demo.key");
    vault(["report", "verify", s(&report), "--key-file", s(&key)], &[]).expect(0);
    assert!(
        run.stdout
            .contains("Demo complete: every preserved row is back."),
        "{}",
        run.stdout
    );
    // Its last line is the auditor's command: no key, the public key that
    // `vault inspect` shows; run as printed, it verifies.
    let inspected = vault(
        ["inspect", "--json", s(&demo.join("acceptance.vault"))],
        &[],
    )
    .expect(0);
    let inspected: serde_json::Value = serde_json::from_str(&inspected.stdout).unwrap();
    let public_key = inspected["public_key"].as_str().unwrap();
    let last = run.stdout.lines().last().unwrap();
    assert_eq!(
        last,
        format!(
            "vault report verify {} --public-key {public_key}",
            report.display()
        )
    );
    let printed: Vec<&str> = last.split(' ').skip(1).collect();
    let checked = vault(&printed, &[]).expect(0);
    assert!(
        checked.stdout.contains("report verified without a key"),
        "{checked:#?}"
    );
    // A second run into the same folder starts afresh; a folder it did not make is refused.
    vault(["demo", "--dir", s(&demo)], &[]).expect(0);
    let foreign = dir.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "mine").unwrap();
    let run = vault(["demo", "--dir", s(&foreign)], &[]).expect(2);
    assert!(run.error_line().contains("was not made by `vault demo`"));
    assert!(foreign.join("notes.txt").exists());
}

#[test]
fn names_that_need_quoting_round_trip() {
    let site = Site::new();
    let table = r#"CREATE TABLE "select" ("order" INTEGER NOT NULL, "two words" TEXT, "quote""d" BLOB, "émoji 🙂" REAL);"#;
    exec(
        &site.acceptance,
        &format!(
            r#"{table} INSERT INTO "select" VALUES (1, 'kept', x'01', 1.5), (2, 'kept', NULL, -2.5), (3, 'not captured', x'03', 0.0);"#
        ),
    );
    exec(
        &site.production,
        &format!(
            r#"{table} INSERT INTO "select" VALUES (1, 'kept', x'ff', 9.0), (4, 'kept', x'04', 4.0);"#
        ),
    );
    site.configure(
        r#"[[preserve]]
table = "select"
key = ["order"]
where = "\"two words\" = 'kept'"
"#,
    );
    site.capture().expect(0);
    site.refresh();
    site.restore(&[]).expect(0);
    assert_eq!(
        rows(&site.acceptance, "select", "\"order\""),
        vec![
            row![1, "kept", b"\x01", 1.5],
            row![2, "kept", Cell::Null, -2.5],
        ]
    );
}
