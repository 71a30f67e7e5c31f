//! The leak scan and the coverage gate on SQLite files, through the whole `vault restore` pipeline after a real refresh (a file copy): copies of sanitized values in history and audit tables, whole or inside text and JSON, are found and named by table and column, never shown; the gate names unclassified personal columns.

mod common;

use common::s;
use common::workflow::{Site, exec};

/// Production: patients, a history table that earlier updates filled with
/// their names, and an audit log that quotes them in text and JSON.
const PRODUCTION: &str = "
    CREATE TABLE app_user (id INTEGER PRIMARY KEY, login TEXT NOT NULL);
    CREATE TABLE patient (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT, birth_date TEXT);
    CREATE TABLE patient_history (id INTEGER PRIMARY KEY, patient_id INTEGER, name TEXT, changed_at TEXT);
    CREATE TABLE audit_log (id INTEGER PRIMARY KEY, payload TEXT);
    CREATE TABLE ward (id INTEGER PRIMARY KEY, label TEXT);
    INSERT INTO app_user VALUES (1, 'dr.visser');
    INSERT INTO patient VALUES
        (1, 'Johanna Plantinga', 'j.plantinga@mail.example', '1961-03-04'),
        (2, 'Pieter Bakkenist', 'p.bakkenist@mail.example', '1975-11-30');
    INSERT INTO patient_history VALUES
        (1, 1, 'Johanna Plantinga', '2024-01-01'), (2, 2, 'Pieter Bakkenist', '2024-02-01');
    INSERT INTO audit_log VALUES
        (1, 'record of JOHANNA PLANTINGA opened by dr.visser'),
        (2, '{\"event\": \"mail\", \"to\": \"p.bakkenist@mail.example\"}'),
        (3, 'nothing personal here');
    INSERT INTO ward VALUES (1, 'Cardiology');
";

const SECRETS: [&str; 4] = [
    "Johanna Plantinga",
    "Pieter Bakkenist",
    "j.plantinga@mail.example",
    "p.bakkenist@mail.example",
];

const PRESERVE_AND_RULES: &str = "
[[preserve]]
table = \"app_user\"

[[sanitize]]
table = \"patient\"
set = { name = \"'patient ' || id\" }

[[sanitize]]
table = \"patient\"
set_null = [\"email\"]
";

fn site() -> Site {
    let site = Site::new();
    exec(&site.production, PRODUCTION);
    exec(&site.acceptance, PRODUCTION);
    exec(
        &site.acceptance,
        "INSERT INTO app_user VALUES (2, 'tester')",
    );
    site
}

/// Every file of the site's folder as text, the databases aside.
fn report_texts(site: &Site) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in walk(site.dir.path()) {
        let name = entry.display().to_string();
        if name.ends_with(".db") {
            continue;
        }
        out.push((
            name,
            String::from_utf8_lossy(&std::fs::read(&entry).unwrap()).into_owned(),
        ));
    }
    out
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn copies_in_history_and_audit_tables_are_found_named_and_never_shown() {
    let site = site();
    site.configure(PRESERVE_AND_RULES);
    site.capture().expect(0);
    site.refresh();
    let report = site.path("report");
    let run = site.restore(&["--report-dir", s(&report)]).expect(3);
    // The rules themselves did their work: verify's own counts are zero.
    assert!(
        run.stdout.contains("2 rules checked, 0 rows left"),
        "{run:#?}"
    );
    assert!(
        run.stdout.contains("leak scan: 4 values left in"),
        "{run:#?}"
    );
    assert!(
        run.stdout
            .contains("patient_history.name: 2 values hold a value a rule removed or changed"),
        "{run:#?}"
    );
    assert!(
        run.stdout
            .contains("audit_log.payload: 2 values hold a value a rule removed or changed"),
        "{run:#?}"
    );
    assert!(!run.stdout.contains("ward.label"), "{run:#?}");
    assert!(
        run.stdout.contains("quarantine") || !run.stdout.contains("opened"),
        "{run:#?}"
    );
    for secret in SECRETS {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "{secret}: {run:#?}"
        );
        for (path, text) in report_texts(&site) {
            assert!(!text.contains(secret), "{secret} in {path}");
        }
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("report.json")).unwrap())
            .unwrap();
    let scan = &json["sections"]["verify"]["leak_scan"];
    assert_eq!(scan["values_fingerprinted"], 4, "{scan:#}");
    assert_eq!(scan["remaining"].as_array().unwrap().len(), 2, "{scan:#}");
    let markdown = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(markdown.contains("Leak scan: 4 values left"), "{markdown}");
    let verified = common::vault(
        ["report", "verify", s(&report), "--key-file", s(&site.key)],
        &[],
    );
    assert_eq!(verified.code, 0, "{verified:#?}");
}

#[test]
fn rules_for_the_copies_leave_nothing_and_the_scan_says_so() {
    let site = site();
    site.configure(&format!(
        "{PRESERVE_AND_RULES}
[[sanitize]]
table = \"patient_history\"
delete_all = true

[[sanitize]]
table = \"audit_log\"
set = {{ payload = \"'redacted'\" }}
"
    ));
    site.capture().expect(0);
    site.refresh();
    let run = site.restore(&[]).expect(0);
    assert!(
        run.stdout.contains("leak scan: 0 values left in"),
        "{run:#?}"
    );
    assert!(run.stdout.contains("0 values left in"), "{run:#?}");
}

#[test]
fn ignored_columns_are_not_searched_and_are_listed() {
    let site = site();
    site.configure(&format!(
        "{PRESERVE_AND_RULES}
[[sanitize]]
table = \"patient_history\"
delete_all = true

[leak_scan]
ignore = [\"audit_log.payload\"]
"
    ));
    site.capture().expect(0);
    site.refresh();
    let run = site.restore(&[]).expect(0);
    assert!(run.stdout.contains("leak scan: 0 values left"), "{run:#?}");
    assert!(
        run.stdout
            .contains("not searched ([leak_scan] ignore): audit_log.payload"),
        "{run:#?}"
    );
    // Off, there is no scan at all.
    let text = std::fs::read_to_string(&site.config).unwrap();
    std::fs::write(
        &site.config,
        text.replace("[leak_scan]\n", "[leak_scan]\nenabled = false\n"),
    )
    .unwrap();
    site.refresh();
    let off = site.restore(&[]).expect(0);
    assert!(!off.stdout.contains("leak scan:"), "{off:#?}");
}

#[test]
fn strict_coverage_fails_on_a_personal_column_no_rule_or_keep_accounts_for() {
    let site = site();
    let rules = format!(
        "{PRESERVE_AND_RULES}
[[sanitize]]
table = \"patient_history\"
delete_all = true

[[sanitize]]
table = \"audit_log\"
delete_all = true
"
    );
    site.configure(&format!("{rules}\n[coverage]\nstrict = true\n"));
    site.capture().expect(0);
    site.refresh();
    let run = site.restore(&[]).expect(3);
    assert!(
        run.stdout
            .contains("1 not classified: patient.birth_date (birth date)"),
        "{run:#?}"
    );
    assert!(
        run.stdout
            .contains("1 columns of personal data not classified"),
        "{run:#?}"
    );

    site.configure(&format!(
        "{rules}\n[coverage]\nstrict = true\nkeep = [\"patient.birth_date\"]\n"
    ));
    site.refresh();
    let kept = site.restore(&[]).expect(0);
    assert!(kept.stdout.contains("0 not classified"), "{kept:#?}");
}

#[test]
fn bad_scan_and_coverage_settings_are_refused_before_anything_runs() {
    let site = site();
    for (setting, fragment) in [
        (
            "[leak_scan]\nmin_length = 2\n",
            "leak_scan.min_length: 2 is outside 3..=100",
        ),
        (
            "[leak_scan]\nignore = [\"payload\"]\n",
            "leak_scan.ignore: \"payload\" is not table.column",
        ),
        (
            "[coverage]\nkeep = [\"birth_date\"]\n",
            "coverage.keep: \"birth_date\" is not table.column",
        ),
    ] {
        site.configure(&format!("{PRESERVE_AND_RULES}\n{setting}"));
        let run = site.capture().expect(2);
        assert!(run.error_line().contains(fragment), "{run:#?}");
        assert!(!site.vault.exists());
    }
}

#[test]
fn vault_sanitize_alone_scans_too_under_a_key_of_its_run() {
    let site = site();
    site.configure(PRESERVE_AND_RULES);
    let run = common::vault(["sanitize", "--config", s(&site.config)], &[]);
    assert_eq!(run.code, 3, "{run:#?}");
    assert!(run.stdout.contains("verified: no row left"), "{run:#?}");
    assert!(
        run.stdout
            .contains("patient_history.name: 2 values hold a value a rule removed or changed"),
        "{run:#?}"
    );
    let json = common::vault(["sanitize", "--config", s(&site.config), "--json"], &[]);
    // The first run replaced the names: the second looks for the new ones
    // ('patient 1'), which only the column the rule writes holds, and that
    // column is verify's to check.
    assert_eq!(json.code, 0, "{json:#?}");
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["leak_scan"]["values_fingerprinted"], 2, "{value:#}");
    assert_eq!(
        value["leak_scan"]["remaining"],
        serde_json::json!([]),
        "{value:#}"
    );
    assert_eq!(
        value["leak_scan"]["written_by_rules"][0], "patient.name",
        "{value:#}"
    );
    assert!(
        value["coverage"]["columns_checked"].as_u64().unwrap() > 0,
        "{value:#}"
    );
    for secret in SECRETS {
        assert!(
            !run.stdout.contains(secret) && !json.stdout.contains(secret),
            "{secret}"
        );
    }
}

#[test]
fn pseudonymized_names_left_in_the_history_are_found() {
    let site = site();
    let key = site.path("pseudonym.key");
    std::fs::write(&key, [7u8; 32]).unwrap();
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    site.configure(&format!(
        "[[preserve]]\ntable = \"app_user\"\n\n[pseudonym]\nkey_file = \"{}\"\n\n[[sanitize]]\ntable = \"patient\"\npseudonymize = {{ name = \"name\" }}\n",
        s(&key)
    ));
    site.capture().expect(0);
    site.refresh();
    let run = site
        .restore(&["--steps", "restore,sanitize,verify"])
        .expect(3);
    assert!(
        run.stdout
            .contains("patient_history.name: 2 values hold a value a rule removed or changed"),
        "{run:#?}"
    );
    assert!(run.stdout.contains("leak scan: 3 values left"), "{run:#?}");
}
