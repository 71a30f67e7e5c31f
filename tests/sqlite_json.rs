//! `--json` of check, health, links, sanitize and restore on SQLite, true counts on a second restore, and each table line printed once on a terminal.

mod common;

use std::process::Command;

use common::workflow::{clinic_preserve, clinic_site, exec, refreshed_clinic};
use common::{restore_count_lines, s, vault};

/// Values of the clinic's rows that no JSON output may hold.
const ROW_VALUES: [&str; 5] = [
    "acc.two",
    "TEST DATA ONLY",
    "smtp.acc.example",
    "Real Patient One",
    "acc trial ten",
];

fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}"))
}

fn assert_no_row_values(stdout: &str) {
    for value in ROW_VALUES {
        assert!(
            !stdout.contains(value),
            "the JSON holds a row value {value:?}:\n{stdout}"
        );
    }
}

#[test]
fn restore_json_is_the_pipeline_summary_alone_on_stdout() {
    let site = refreshed_clinic();
    let report = site.path("report");
    let run = site
        .restore(&["--json", "--report-dir", s(&report)])
        .expect(0);
    let summary = json(&run.stdout);
    assert_eq!(summary["outcome"], "ok");
    assert_eq!(summary["dry_run"], false);
    assert_eq!(summary["error"], serde_json::Value::Null);
    assert_eq!(summary["report_dir"], s(&report));
    assert_eq!(summary["vault_id"].as_str().unwrap().len(), 32);
    let steps: Vec<&str> = summary["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps[0], "restore");
    let tables = summary["sections"]["restore"]["tables"].as_array().unwrap();
    let user = tables.iter().find(|t| t["table"] == "app_user").unwrap();
    assert_eq!(user["inserted"], 4);
    assert_eq!(user["mode"], "replace");
    // What report.json holds for the step is what the JSON says.
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(written["sections"], summary["sections"]);
    assert_no_row_values(&run.stdout);
}

#[test]
fn a_second_restore_counts_unchanged_rows_as_kept() {
    let site = clinic_site("upsert");
    site.capture().expect(0);
    site.refresh();
    let first = site.restore(&["--steps", "restore"]).expect(0);
    let second = site.restore(&["--steps", "restore"]).expect(0);
    let lines = restore_count_lines(&second.stdout);
    assert_eq!(lines.len(), 5, "{second:#?}");
    for line in &lines {
        assert!(
            line.contains(" 0 inserted, 0 updated"),
            "{line}
first run:
{}",
            first.stdout
        );
    }
    let users = lines.iter().find(|l| l.starts_with("app_user ")).unwrap();
    assert!(users.contains(" 4 kept"), "{users}");

    // One changed row is one updated row; a change of case is a change.
    exec(
        &site.acceptance,
        "UPDATE app_user SET login = 'ACC.TWO' WHERE user_id = 2",
    );
    let third = site.restore(&["--steps", "restore"]).expect(0);
    let lines = restore_count_lines(&third.stdout);
    let users = lines.iter().find(|l| l.starts_with("app_user ")).unwrap();
    assert!(users.contains(" 1 updated, 3 kept"), "{users}");
}

#[test]
fn a_second_replace_on_sqlite_says_what_it_did() {
    // SQLite's replace of a whole table empties it and inserts every
    // captured row: the counts say so, and never "updated".
    let site = clinic_site("replace");
    site.capture().expect(0);
    site.refresh();
    site.restore(&["--steps", "restore"]).expect(0);
    let second = site.restore(&["--steps", "restore"]).expect(0);
    let lines = restore_count_lines(&second.stdout);
    let users = lines.iter().find(|l| l.starts_with("app_user ")).unwrap();
    assert!(
        users.contains("4 inserted, 0 updated, 0 kept, 4 removed first"),
        "{users}"
    );
}

#[test]
fn check_json_lists_each_vault_and_the_totals() {
    let site = refreshed_clinic();
    let damaged = site.path("damaged.vault");
    std::fs::copy(&site.vault, &damaged).unwrap();
    common::flip_chunk_byte(&damaged, 0, 0);
    let run = vault(["check", "--json", s(&site.vault), s(&damaged)], &[]).expect(3);
    let report = json(&run.stdout);
    assert_eq!(report["read_data"], false);
    let vaults = report["vaults"].as_array().unwrap();
    assert_eq!(vaults[0]["status"], "ok");
    assert!(vaults[0]["rows"].as_u64().unwrap() > 0);
    assert_eq!(vaults[1]["status"], "damaged");
    assert_eq!(vaults[1]["code"], "damaged");
    assert!(vaults[1]["message"].as_str().unwrap().contains("chunk 0"));
    assert_eq!(report["totals"]["checked"], 2);
    assert_eq!(report["totals"]["damaged"], 1);

    let run = vault(
        [
            "check",
            "--json",
            "--read-data",
            "--key-file",
            s(&site.key),
            s(&site.vault),
        ],
        &[],
    )
    .expect(0);
    let report = json(&run.stdout);
    assert_eq!(report["read_data"], true);
    assert_eq!(report["totals"]["intact"], 1);
    assert_no_row_values(&run.stdout);
}

#[test]
fn health_links_and_sanitize_json() {
    let site = refreshed_clinic();
    site.restore(&[]).expect(0);
    exec(
        &site.acceptance,
        "CREATE TABLE gone (id INTEGER); CREATE VIEW gone_view AS SELECT id FROM gone; DROP TABLE gone;",
    );
    let run = vault(["health", "--json", "--config", s(&site.config)], &[]).expect(3);
    let health = json(&run.stdout);
    assert_eq!(health["fix"], false);
    let finding = &health["findings"][0];
    assert_eq!(finding["kind"], "broken-view");
    assert_eq!(finding["object"], "gone_view");
    assert_eq!(finding["repaired"], false);

    let run = vault(["links", "--json", "--config", s(&site.config)], &[]).expect(0);
    let links = json(&run.stdout);
    assert_eq!(links["engine"], "sqlite");
    assert!(links["no_link_objects"].is_string());
    assert_eq!(links["production"], 0);

    site.configure(&format!(
        "{}\n[[sanitize]]\ntable = \"patient\"\nset = {{ name = \"'Patient ' || patient_id\" }}\n",
        clinic_preserve("replace")
    ));
    let run = vault(
        [
            "sanitize",
            "--json",
            "--dry-run",
            "--config",
            s(&site.config),
        ],
        &[],
    )
    .expect(0);
    let dry = json(&run.stdout);
    assert_eq!(dry["sanitize"]["dry_run"], true);
    assert_eq!(dry["verify"], serde_json::Value::Null);
    let run = vault(["sanitize", "--json", "--config", s(&site.config)], &[]).expect(0);
    let done = json(&run.stdout);
    assert!(done["target"].as_str().unwrap().starts_with("sqlite:"));
    let rule = &done["sanitize"]["rules"][0];
    assert_eq!(rule["table"], "patient");
    assert_eq!(rule["rows"], 2);
    assert_eq!(done["verify"]["rules"][0]["rows_left"], 0);
    assert_no_row_values(&run.stdout);
}

/// Runs a shell command line on a pseudo-terminal with `script`, giving
/// what the terminal showed; `None` when `script` is not installed.
fn on_a_terminal(command_line: &str) -> Option<(i32, String)> {
    let output = Command::new("script")
        .args(["-qec", command_line, "/dev/null"])
        .output()
        .ok()?;
    Some((
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    ))
}

#[test]
fn on_a_terminal_each_table_line_shows_once() {
    let site = refreshed_clinic();
    let line = format!(
        "{} restore {} --config {} --key-file {} --steps restore",
        env!("CARGO_BIN_EXE_vault"),
        s(&site.vault),
        s(&site.config),
        s(&site.key)
    );
    let Some((code, shown)) = on_a_terminal(&line) else {
        println!(
            "skipped: `script` (util-linux), which gives the run a terminal, is not installed"
        );
        return;
    };
    assert_eq!(code, 0, "{shown}");
    // What stays on the screen: the status line's lines are erased
    // (carriage return and erase-line) before the summary.
    let lasting: Vec<&str> = shown
        .split('\n')
        .map(|l| l.trim_end_matches('\r'))
        .map(|l| l.rsplit('\r').next().unwrap_or(l))
        .map(|l| l.trim_start_matches("\x1b[2K"))
        .collect();
    let tables: Vec<&&str> = lasting
        .iter()
        .filter(|l| l.contains(" rows  ") && l.contains(" removed first ("))
        .collect();
    assert_eq!(tables.len(), 5, "each of the 5 tables once:\n{shown:?}");
    let users = tables
        .iter()
        .filter(|l| l.trim_start().starts_with("app_user "))
        .count();
    assert_eq!(users, 1, "{shown:?}");
}
