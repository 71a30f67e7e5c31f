//! The run report of `vault restore` on SQLite: the three files, their
//! content, the signature that `vault report verify` checks, a failed step,
//! escaping, and no row value of a preserved or sanitized table.

mod common;

use std::path::{Path, PathBuf};

use common::demo::{OPERATOR, Refreshed};
use common::{s, vault};
use serde_json::Value;

/// Restores into `run-report/` (the demo itself wrote `report/`) and returns its path.
fn restore_with_report(site: &Refreshed, code: i32) -> PathBuf {
    site.restore_with_report("run-report", &[], code)
}

fn json(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

fn step<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == name)
        .unwrap_or_else(|| panic!("no step {name} in {report:#}"))
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

/// Replaces the first `from` in `dir/name` with `to`.
fn edit(dir: &Path, name: &str, from: &str, to: &str) {
    let text = read(dir, name);
    assert!(text.contains(from), "{from:?} not in {name}");
    std::fs::write(dir.join(name), text.replacen(from, to, 1)).unwrap();
}

#[test]
fn a_restore_writes_the_three_files_and_the_json_holds_the_run() {
    let site = Refreshed::new();
    let dir = restore_with_report(&site, 0);
    for name in ["report.json", "report.md", "report.html"] {
        assert!(dir.join(name).is_file(), "{name}");
    }
    let report = json(&dir);
    assert_eq!(report["report_version"], 1);
    assert_eq!(report["outcome"], "ok");
    assert_eq!(report["error"], Value::Null);
    assert_eq!(report["operator"], OPERATOR);
    assert_eq!(report["dry_run"], false);
    assert!(report["tool"].as_str().unwrap().starts_with("vault "));
    let started = report["started"].as_str().unwrap();
    let finished = report["finished"].as_str().unwrap();
    assert!(started.ends_with('Z') && finished.ends_with('Z'));
    assert!(started <= finished);

    let names: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "restore", "sanitize", "verify", "health", "links", "compare"
        ]
    );
    for name in &names {
        assert_eq!(step(&report, name)["outcome"], "ok", "{name}");
    }
    let compare = &report["sections"]["compare"];
    let differences = compare["differences"].as_array().unwrap();
    assert!(!differences.is_empty(), "{compare:#}");
    assert!(
        differences.iter().all(|d| d["class"] == "expected"),
        "every difference of the demo is explained: {compare:#}"
    );
    assert!(
        step(&report, "verify")["figures"]
            .as_str()
            .unwrap()
            .contains("4 rules checked, 0 rows left")
    );

    let header = vault_format::Vault::open(&site.path("acceptance.vault"))
        .unwrap()
        .header()
        .clone();
    assert_eq!(report["vault"]["id"], hex::encode(header.vault_id));
    assert_eq!(report["vault"]["source"], header.source);
    assert!(report["vault"]["captured"].as_str().unwrap().ends_with('Z'));
    assert_eq!(report["vault"]["sha256"].as_str().unwrap().len(), 64);
    assert!(
        report["vault"]["path"]
            .as_str()
            .unwrap()
            .ends_with("acceptance.vault")
    );
    assert!(
        report["target"]["identity"]
            .as_str()
            .unwrap()
            .contains("acceptance.db")
    );
    assert!(
        report["target"]["url"]
            .as_str()
            .unwrap()
            .starts_with("sqlite:")
    );

    let tables: Vec<&str> = report["sections"]["restore"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["table"].as_str().unwrap())
        .collect();
    for table in ["app_user", "user_2fa", "app_setting", "portal_document"] {
        assert!(tables.contains(&table), "{table} in {tables:?}");
    }
    let app_user = &report["sections"]["restore"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "app_user")
        .unwrap();
    assert!(app_user["captured_rows"].as_u64().unwrap() > 0);
    let rules = report["sections"]["sanitize"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 4);
    assert_eq!(rules[0]["table"], "assessment");
    assert!(rules[0]["rows"].as_u64().unwrap() > 0, "{rules:#?}");
    let checks = report["sections"]["verify"]["rules"].as_array().unwrap();
    // A date shift cannot be verified (a shifted date looks like any date).
    assert!(
        checks
            .iter()
            .all(|c| c["rows_left"] == 0 || c["rows_left"].is_null()),
        "{checks:#?}"
    );
    assert!(report["sections"]["health"].is_object());
    assert!(report["sections"]["links"].is_object());
    assert_eq!(report["signature"]["algorithm"], "HMAC-SHA256");

    let markdown = read(&dir, "report.md");
    assert!(markdown.starts_with("# vault restore report"));
    assert!(markdown.contains("| restore | ok |"), "{markdown}");
    assert!(markdown.contains(OPERATOR));
    let app_user_line = markdown
        .lines()
        .find(|l| l.starts_with("| app\\_user |"))
        .unwrap_or_else(|| panic!("no app_user row in {markdown}"));
    assert!(!app_user_line.contains(" - "), "{app_user_line}");

    site.verify(&dir, &[]).expect(0);
}

#[test]
fn the_markdown_and_html_are_the_renderings_of_the_json() {
    let site = Refreshed::new();
    let dir = restore_with_report(&site, 0);
    let mut report: vault::report::Report =
        serde_json::from_str(&read(&dir, "report.json")).unwrap();
    report.signature = None;
    report.renderings = Default::default();
    assert_eq!(
        vault::report::markdown::render(&report),
        read(&dir, "report.md")
    );
    assert_eq!(
        vault::report::html::render(&report),
        read(&dir, "report.html")
    );
}

#[test]
fn the_default_folder_is_new_and_dated_beside_the_vault() {
    let site = Refreshed::new();
    site.restore(&[]).expect(0);
    site.restore(&[]).expect(0);
    let mut folders: Vec<String> = std::fs::read_dir(&site.demo)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("acceptance.vault.report-"))
        .collect();
    folders.sort();
    assert_eq!(folders.len(), 2, "{folders:?}");
    for folder in &folders {
        assert!(site.path(folder).join("report.json").is_file());
        site.verify(&site.path(folder), &[]).expect(0);
    }
}

#[test]
fn an_existing_report_is_never_overwritten() {
    let site = Refreshed::new();
    let dir = restore_with_report(&site, 0);
    let before = read(&dir, "report.json");
    let run = site.restore(&["--report-dir", s(&dir)]).expect(2);
    assert!(
        run.error_line().contains("already holds a report"),
        "{run:#?}"
    );
    assert_eq!(read(&dir, "report.json"), before);
}

#[test]
fn an_edit_of_any_file_fails_verification_with_exit_3() {
    let site = Refreshed::new();
    let dir = restore_with_report(&site, 0);
    let pristine: Vec<(String, String)> = ["report.json", "report.md", "report.html"]
        .iter()
        .map(|n| (n.to_string(), read(&dir, n)))
        .collect();
    let restore_all = || {
        for (name, text) in &pristine {
            std::fs::write(dir.join(name), text).unwrap();
        }
    };
    let edits: [(&str, &str, &str); 6] = [
        ("report.json", OPERATOR, "report-oq"),
        (
            "report.json",
            "\"outcome\": \"ok\"",
            "\"outcome\": \"failed\"",
        ),
        ("report.json", "{\n", "{\n "),
        ("report.md", "| restore | ok |", "| restore | failed |"),
        ("report.html", "<h2>Summary</h2>", "<h2>Summery</h2>"),
        ("report.html", "</html>", "</html> "),
    ];
    for (name, from, to) in edits {
        restore_all();
        site.verify(&dir, &[]).expect(0);
        edit(&dir, name, from, to);
        let run = site.verify(&dir, &[]).expect(3);
        assert!(run.stdout.contains(name), "{name}: {run:#?}");
    }
    restore_all();
    std::fs::write(dir.join("report.json"), "{ not json").unwrap();
    site.verify(&dir, &[]).expect(3);
}

#[test]
fn a_wrong_key_is_exit_1_and_a_moved_vault_is_named_with_vault() {
    let site = Refreshed::new();
    let dir = restore_with_report(&site, 0);
    let other = site.path("other.key");
    vault(["keygen", "--out", s(&other)], &[]).expect(0);
    vault(
        ["report", "verify", s(&dir)],
        &[("VAULT_KEY_FILE", s(&other))],
    )
    .expect(1);
    // No key: the Ed25519 signature is checked with the vault's public key.
    vault(["report", "verify", s(&dir)], &[]).expect(0);

    let moved = site.path("moved.vault");
    std::fs::rename(site.path("acceptance.vault"), &moved).unwrap();
    site.verify(&dir, &[]).expect(2);
    site.verify(&dir, &["--vault", s(&moved)]).expect(0);
}

#[test]
fn a_failed_step_still_writes_a_signed_report() {
    let site = Refreshed::new();
    site.append_config(
        "\n[[sanitize]]\ntable = \"patient\"\ndelete_where = \"no_such_function(patient_id)\"\n",
    );
    let dir = restore_with_report(&site, 1);
    let report = json(&dir);
    assert_eq!(report["outcome"], "failed");
    assert!(
        report["error"]
            .as_str()
            .unwrap()
            .contains("no_such_function")
    );
    assert_eq!(step(&report, "restore")["outcome"], "ok");
    assert_eq!(step(&report, "sanitize")["outcome"], "failed");
    for name in ["verify", "health", "links"] {
        assert_eq!(step(&report, name)["outcome"], "skipped", "{name}");
    }
    assert!(report["sections"]["restore"].is_object());
    assert!(report["sections"].get("sanitize").is_none(), "{report:#}");
    let html = read(&dir, "report.html");
    assert!(html.contains("class=\"failed\""), "{html}");
    site.verify(&dir, &[]).expect(0);
}

#[test]
fn the_html_is_self_contained_and_escapes_names() {
    let site = Refreshed::new();
    site.exec_both("CREATE TABLE \"x<script>alert(1)</script>\" (id INTEGER PRIMARY KEY); INSERT INTO \"x<script>alert(1)</script>\" VALUES (1);");
    site.append_config(
        "\n[[sanitize]]\ntable = \"x<script>alert(1)</script>\"\ndelete_all = true\n",
    );
    let dir = restore_with_report(&site, 0);
    let report = json(&dir);
    assert!(
        report["sections"]["sanitize"]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["table"].as_str().unwrap().contains("<script>")),
        "{report:#}"
    );
    let html = read(&dir, "report.html");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<style>"));
    for external in [
        "http://", "https://", "src=", "href=", "<link", "<script", "@import",
    ] {
        assert!(!html.contains(external), "{external} in the page:\n{html}");
    }
    assert!(
        html.contains("x&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    let markdown = read(&dir, "report.md");
    assert!(!markdown.contains("<script>"), "{markdown}");
    site.verify(&dir, &[]).expect(0);
}

#[test]
fn no_row_value_of_a_preserved_or_sanitized_table_reaches_the_report() {
    let site = Refreshed::new();
    let sanitized: Vec<String> = {
        let conn = rusqlite::Connection::open(site.path("acceptance.db")).unwrap();
        let mut statement = conn.prepare("SELECT name FROM patient").unwrap();
        statement
            .query_map([], |row| row.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let dir = restore_with_report(&site, 0);
    let conn = rusqlite::Connection::open(site.path("acceptance.db")).unwrap();
    let mut values = sanitized;
    for sql in [
        "SELECT login FROM app_user",
        "SELECT password_hash FROM app_user",
        "SELECT title FROM portal_document",
        "SELECT value FROM app_setting WHERE name <> 'environment'",
    ] {
        let mut statement = conn.prepare(sql).unwrap();
        values.extend(
            statement
                .query_map([], |row| row.get::<_, String>(0))
                .unwrap()
                .map(Result::unwrap),
        );
    }
    let values: Vec<String> = values.into_iter().filter(|v| v.len() >= 6).collect();
    assert!(values.len() > 50, "{values:?}");
    for name in ["report.json", "report.md", "report.html"] {
        let text = read(&dir, name);
        for value in &values {
            assert!(!text.contains(value.as_str()), "{value:?} is in {name}");
        }
    }
}

/// The page as headless Chromium renders it (`--dump-dom`), or `None`
/// without Chromium (a failure under `VAULT_TEST_REQUIRE_SERVERS=1`).
fn chromium_dom(page: &Path) -> Option<String> {
    let Ok(found) = std::process::Command::new("chromium")
        .arg("--version")
        .output()
    else {
        let line = "no chromium on this machine: the HTML rendering test is skipped";
        if std::env::var(vault::env_vars::VAULT_TEST_REQUIRE_SERVERS).as_deref() == Ok("1") {
            panic!("{line}; VAULT_TEST_REQUIRE_SERVERS=1 requires it");
        }
        eprintln!("{line}");
        return None;
    };
    assert!(found.status.success());
    let profile = tempfile::tempdir().unwrap();
    let output = std::process::Command::new("timeout")
        .args([
            "120",
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
        ])
        .arg(format!("--user-data-dir={}", s(profile.path())))
        .arg("--dump-dom")
        .arg(format!("file://{}", s(page)))
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    Some(String::from_utf8(output.stdout).unwrap())
}

#[test]
fn chromium_renders_the_summary_and_no_injected_element() {
    let site = Refreshed::new();
    site.exec_both("CREATE TABLE \"x<script>alert(1)</script>\" (id INTEGER PRIMARY KEY);");
    site.append_config(
        "\n[[sanitize]]\ntable = \"x<script>alert(1)</script>\"\ndelete_all = true\n",
    );
    let dir = restore_with_report(&site, 0);
    let Some(dom) = chromium_dom(&dir.join("report.html")) else {
        return;
    };
    assert!(dom.contains("<h2>Summary</h2>"), "{dom}");
    assert!(dom.contains("id=\"outcome\">ok</span>"), "{dom}");
    for step in ["restore", "sanitize", "verify", "health", "links"] {
        assert!(
            dom.contains(&format!("<td>{step}</td><td class=\"ok\">ok</td>")),
            "{step} in the rendered summary:\n{dom}"
        );
    }
    assert!(!dom.contains("<script"), "{dom}");
    assert!(
        dom.contains("x&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{dom}"
    );
}

#[test]
fn a_dry_run_writes_a_report_that_says_so() {
    let site = Refreshed::new();
    let dir = site.path("dry");
    site.restore(&["--dry-run", "--report-dir", s(&dir)])
        .expect(0);
    let report = json(&dir);
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["sections"]["restore"]["dry_run"], true);
    // SQLite rehearses: the report holds the counts the restore would have.
    assert_eq!(report["sections"]["restore"]["rehearsed"], true);
    let inserted: u64 = report["sections"]["restore"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["inserted"].as_u64().unwrap())
        .sum();
    assert!(inserted > 0, "{report:#}");
    site.verify(&dir, &[]).expect(0);
}
