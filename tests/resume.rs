//! `vault restore --resume DIR` on SQLite: after an injected failure the resumed run does
//! the remaining steps only, and a report that cannot be resumed is refused with no change.

mod common;

use std::path::PathBuf;

use common::demo::Refreshed;
use common::s;
use common::workflow::{assert_one_error, assert_unchanged, snapshot};
use serde_json::Value;

const BROKEN_RULE: &str = "no_such_function(patient_id)";
const RECENT: &str = "SELECT count(*) FROM assessment WHERE assessed_on >= '2024-01-01'";
/// A change made between the failed run and its resume, to a preserved
/// table: a restore run again would put the captured value back.
const AFTER_FAILURE: &str = "INSERT OR REPLACE INTO app_setting VALUES ('resume.marker', 'kept')";
const MARKER: &str = "SELECT count(*) FROM app_setting WHERE name = 'resume.marker'";

fn json(dir: &std::path::Path) -> Value {
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

/// A demo site whose restore failed at sanitize (an unknown SQL function in
/// a rule); returns the failed run's report folder.
fn failed_at_sanitize() -> (Refreshed, PathBuf) {
    let site = Refreshed::new();
    site.append_config(&format!(
        "\n[[sanitize]]\ntable = \"patient\"\ndelete_where = \"{BROKEN_RULE}\"\n"
    ));
    let dir = site.restore_with_report("first", &[], 1);
    let report = json(&dir);
    assert_eq!(step(&report, "restore")["outcome"], "ok");
    assert_eq!(step(&report, "sanitize")["outcome"], "failed");
    assert!(
        site.count(RECENT) > 0,
        "the failed sanitize was rolled back"
    );
    (site, dir)
}

#[test]
fn a_resumed_run_does_the_failed_step_and_the_later_ones_only() {
    let (site, first) = failed_at_sanitize();
    site.exec(AFTER_FAILURE);
    site.edit_config(BROKEN_RULE, "patient_id < 0");

    let second = site.path("second");
    let run = site
        .restore(&["--resume", s(&first), "--report-dir", s(&second)])
        .expect(0);
    assert!(
        run.stdout.contains(&format!(
            "resuming the failed run of {}: restore done then, running sanitize, verify, health, links, compare",
            first.display()
        )),
        "{run:#?}"
    );
    assert_eq!(site.count(MARKER), 1, "the restore was not run again");
    assert_eq!(site.count(RECENT), 0, "sanitize ran");

    let report = json(&second);
    assert_eq!(report["outcome"], "ok", "{report:#}");
    let restore = step(&report, "restore");
    assert_eq!(restore["outcome"], "ok");
    assert!(
        restore["figures"].as_str().unwrap().contains("earlier run"),
        "{restore}"
    );
    for name in ["sanitize", "verify", "health", "links", "compare"] {
        assert_eq!(step(&report, name)["outcome"], "ok", "{name}: {report:#}");
    }
    let earlier = json(&first);
    assert_eq!(
        report["sections"]["restore"], earlier["sections"]["restore"],
        "the restore's details are the failed run's"
    );
    assert!(report["sections"]["sanitize"].is_object());
    let resumed = &report["resumed_from"];
    assert_eq!(resumed["report"], s(&first));
    assert_eq!(resumed["signature"], earlier["signature"]["value"]);
    assert_eq!(resumed["steps"], serde_json::json!(["restore"]));
    assert_eq!(
        report["steps_asked"],
        serde_json::json!([
            "restore", "sanitize", "verify", "health", "links", "compare"
        ])
    );
    let markdown = std::fs::read_to_string(second.join("report.md")).unwrap();
    assert!(
        markdown.contains("This run resumed the failed run"),
        "{markdown}"
    );
    site.verify(&second, &[]).expect(0);
    site.verify(&first, &[]).expect(0);

    // The resumed run finished: nothing is left to resume.
    let third = site.path("third");
    let refused = site
        .restore(&["--resume", s(&second), "--report-dir", s(&third)])
        .expect(2);
    assert_one_error(&refused, &["nothing to resume", "did not fail"]);
}

#[test]
fn a_report_that_cannot_be_resumed_is_refused_with_no_change() {
    let (site, first) = failed_at_sanitize();
    site.edit_config(BROKEN_RULE, "patient_id < 0");
    let acceptance = site.path("acceptance.db");
    let before = snapshot(&acceptance);
    let elsewhere = site.path("elsewhere");

    // --steps and --resume together.
    let run = site.restore(&["--resume", s(&first), "--steps", "sanitize"]);
    assert_eq!(run.code, 2, "{run:#?}");

    // An edited report.
    let edited = site.path("edited");
    std::fs::create_dir(&edited).unwrap();
    for name in ["report.json", "report.md", "report.html"] {
        std::fs::copy(first.join(name), edited.join(name)).unwrap();
    }
    let json_path = edited.join("report.json");
    let text = std::fs::read_to_string(&json_path).unwrap();
    std::fs::write(&json_path, text.replacen("\"failed\"", "\"ok\"", 1)).unwrap();
    let run = site
        .restore(&["--resume", s(&edited), "--report-dir", s(&elsewhere)])
        .expect(3);
    assert_one_error(&run, &["was edited", "cannot be resumed"]);

    // A folder without a report.
    let run = site
        .restore(&[
            "--resume",
            s(&site.path("nowhere")),
            "--report-dir",
            s(&elsewhere),
        ])
        .expect(2);
    assert_one_error(&run, &["report.json", "does not exist"]);

    // A dry run cannot resume a real run.
    let run = site
        .restore(&[
            "--resume",
            s(&first),
            "--dry-run",
            "--report-dir",
            s(&elsewhere),
        ])
        .expect(2);
    assert_one_error(&run, &["real run", "dry run"]);

    // Another target than the one the failed run changed.
    let other = site.path("other.db");
    std::fs::copy(&acceptance, &other).unwrap();
    site.edit_config(s(&acceptance), s(&other));
    let run = site
        .restore(&[
            "--resume",
            s(&first),
            "--target-differs",
            "--report-dir",
            s(&elsewhere),
        ])
        .expect(4);
    assert_one_error(&run, &["reports a run on", "other.db"]);
    site.edit_config(s(&other), s(&acceptance));

    // The vault file changed since the failed run.
    let vault = site.path("acceptance.vault");
    let original = std::fs::read(&vault).unwrap();
    let capture = site.run(vec![
        "capture".into(),
        "--config".into(),
        s(&site.path("vault.toml")).into(),
        "--out".into(),
        s(&site.path("again.vault")).into(),
    ]);
    assert_eq!(capture.code, 0, "{capture:#?}");
    std::fs::copy(site.path("again.vault"), &vault).unwrap();
    let run = site
        .restore(&["--resume", s(&first), "--report-dir", s(&elsewhere)])
        .expect(2);
    assert_one_error(&run, &["not of this vault"]);
    std::fs::write(&vault, original).unwrap();

    assert_unchanged(&acceptance, &before);
    assert!(!elsewhere.exists(), "no report for a refused resume");
}
