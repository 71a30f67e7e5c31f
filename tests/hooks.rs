//! `[[hook]]` on SQLite files through `vault restore`'s pipeline: hooks before and after steps in their own transactions, recorded with rows and duration in the output and the signed report; `on_error = "warn"` goes on, `"stop"` stops the run with the hook rolled back; one statement unless `statements = "many"`; bad hooks refused before anything runs.

mod common;

use common::s;
use common::workflow::{Site, exec, scalar};

const DATA: &str = "
    CREATE TABLE app_user (id INTEGER PRIMARY KEY, login TEXT NOT NULL);
    CREATE TABLE app_setting (name TEXT PRIMARY KEY, value TEXT);
    CREATE TABLE patient (id INTEGER PRIMARY KEY, name TEXT);
    INSERT INTO app_user VALUES (1, 'dr.visser');
    INSERT INTO app_setting VALUES ('environment', 'production'), ('banner', '');
    INSERT INTO patient VALUES (1, 'Johanna Plantinga');
";

const PRESERVE: &str =
    "[[preserve]]\ntable = \"app_user\"\n\n[[sanitize]]\ntable = \"patient\"\ndelete_all = true\n";

fn site() -> Site {
    let site = Site::new();
    exec(&site.production, DATA);
    exec(&site.acceptance, DATA);
    site
}

#[test]
fn hooks_run_around_steps_and_are_recorded_in_the_report() {
    let site = site();
    std::fs::write(
        site.path("banner.sql"),
        "UPDATE app_setting SET value = 'ACCEPTANCE' WHERE name = 'banner';\nINSERT INTO app_setting VALUES ('refreshed', 'yes');\n",
    )
    .unwrap();
    site.configure(&format!(
        "{PRESERVE}
[[hook]]
name = \"mark acceptance\"
after = \"restore\"
sql = \"UPDATE app_setting SET value = 'acceptance' WHERE name = 'environment'\"

[[hook]]
before = \"sanitize\"
file = \"banner.sql\"
statements = \"many\"
"
    ));
    site.capture().expect(0);
    site.refresh();
    let report = site.path("report");
    // Compare would rightly call the hook's settings unexpected: not asked.
    let steps = ["--steps", "restore,sanitize,verify"];
    let run = site
        .restore(&[steps[0], steps[1], "--report-dir", s(&report)])
        .expect(0);
    assert!(
        run.stdout
            .contains("hook mark acceptance (after restore): ok, 1 rows"),
        "{run:#?}"
    );
    assert!(
        run.stdout
            .contains("hook before sanitize (before sanitize): ok"),
        "{run:#?}"
    );
    assert_eq!(
        scalar(
            &site.acceptance,
            "SELECT count(*) FROM app_setting WHERE name = 'environment' AND value = 'acceptance'"
        ),
        1
    );
    assert_eq!(
        scalar(
            &site.acceptance,
            "SELECT count(*) FROM app_setting WHERE value = 'ACCEPTANCE'"
        ),
        1
    );
    assert_eq!(
        scalar(
            &site.acceptance,
            "SELECT count(*) FROM app_setting WHERE name = 'refreshed'"
        ),
        1
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("report.json")).unwrap())
            .unwrap();
    let hooks = json["sections"]["hooks"].as_array().unwrap();
    assert_eq!(hooks.len(), 2, "{hooks:#?}");
    assert_eq!(hooks[0]["name"], "mark acceptance");
    assert_eq!(hooks[0]["rows"], 1);
    assert!(hooks[0]["seconds"].is_number());
    let markdown = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(
        markdown.contains("## Hooks") && markdown.contains("mark acceptance"),
        "{markdown}"
    );
    let verified = common::vault(
        ["report", "verify", s(&report), "--key-file", s(&site.key)],
        &[],
    );
    assert_eq!(verified.code, 0, "{verified:#?}");
    // A dry run lists the hooks and runs none.
    let dry = site.restore(&["--dry-run", steps[0], steps[1]]).expect(0);
    assert!(
        dry.stdout
            .contains("hook mark acceptance (after restore): skipped"),
        "{dry:#?}"
    );
}

#[test]
fn a_failing_hook_warns_or_stops_the_run_with_its_transaction_rolled_back() {
    let site = site();
    let failing = "UPDATE app_setting SET value = 'x' WHERE no_such_column = 1";
    site.configure(&format!(
        "{PRESERVE}
[[hook]]
name = \"optional\"
after = \"restore\"
sql = \"{failing}\"
on_error = \"warn\"
"
    ));
    site.capture().expect(0);
    site.refresh();
    let warned = site
        .restore(&["--steps", "restore,sanitize,verify"])
        .expect(0);
    assert!(
        warned
            .stdout
            .contains("hook optional (after restore): warned"),
        "{warned:#?}"
    );
    assert!(warned.stdout.contains("sanitize  ok"), "{warned:#?}");

    site.configure(&format!(
        "{PRESERVE}
[[hook]]
name = \"required\"
before = \"sanitize\"
sql = \"DELETE FROM app_setting WHERE name = 'banner' AND no_such_column = 1\"
"
    ));
    site.refresh();
    let stopped = site.restore(&[]).expect(1);
    assert!(
        stopped
            .error_line()
            .contains("hook required (before sanitize) failed, and was rolled back"),
        "{stopped:#?}"
    );
    assert!(stopped.stdout.contains("verify    skipped"), "{stopped:#?}");
    assert_eq!(
        scalar(&site.acceptance, "SELECT count(*) FROM patient"),
        1,
        "sanitize did not run"
    );
}

#[test]
fn bad_hooks_are_refused_before_anything_runs() {
    let site = site();
    for (hook, fragment) in [
        (
            "after = \"restore\"\nsql = \"UPDATE app_setting SET value = 'a'; DELETE FROM patient\"",
            "hook[0]: the hook's SQL is not one statement: it holds `;` outside a string",
        ),
        (
            "after = \"cleanup\"\nsql = \"SELECT 1\"",
            "hook[0]: \"cleanup\" is not a step",
        ),
        ("sql = \"SELECT 1\"", "hook[0]: give one of before"),
        ("after = \"restore\"", "hook[0]: give one of sql"),
        (
            "after = \"restore\"\nsql = \"SELECT 1\"\non_error = \"ignore\"",
            "on_error = \"ignore\": use \"stop\" or \"warn\"",
        ),
        (
            "after = \"restore\"\nfile = \"missing.sql\"",
            "cannot read the hook's file",
        ),
    ] {
        site.configure(&format!("{PRESERVE}\n[[hook]]\n{hook}\n"));
        let run = site.capture().expect(2);
        assert!(run.error_line().contains(fragment), "{fragment}: {run:#?}");
    }
    assert!(!site.vault.exists());
}
