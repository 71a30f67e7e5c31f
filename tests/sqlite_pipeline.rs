//! `vault restore` runs the post-refresh pipeline on SQLite: restore, sanitize,
//! verify, health, links; `--steps` picks a subset; findings do not stop it,
//! a failed step does.

mod common;

use common::demo::Refreshed;

const RECENT: &str = "SELECT count(*) FROM assessment WHERE assessed_on >= '2024-01-01'";
const TESTERS: &str = "SELECT count(*) FROM app_user WHERE login LIKE 'tester%'";

fn step_line<'a>(run: &'a common::Run, step: &str) -> &'a str {
    run.stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(step) && l.starts_with("  "))
        .unwrap_or_else(|| panic!("no {step} line in the steps summary:\n{}", run.stdout))
}

fn outcome<'a>(run: &'a common::Run, step: &str) -> &'a str {
    let after_steps = run
        .stdout
        .rsplit_once("\nsteps:\n")
        .expect("a steps summary")
        .1;
    after_steps
        .lines()
        .find(|l| l.split_whitespace().next() == Some(step))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or_else(|| panic!("no {step} in:\n{after_steps}"))
}

#[test]
fn the_whole_pipeline_restores_sanitizes_and_verifies() {
    let site = Refreshed::new();
    assert!(
        site.count(RECENT) > 0,
        "production brought recent assessments"
    );
    let run = site.restore(&[]).expect(0);
    for step in ["restore", "sanitize", "verify", "health", "links"] {
        assert_eq!(outcome(&run, step), "ok", "{step}: {}", run.stdout);
    }
    assert!(
        step_line(&run, "verify").contains("4 rules checked, 0 rows left"),
        "{}",
        run.stdout
    );
    assert_eq!(site.count(RECENT), 0);
    assert_eq!(site.count(TESTERS), 40, "the acceptance accounts are back");
}

#[test]
fn steps_runs_only_the_steps_named() {
    let site = Refreshed::new();
    let run = site.restore(&["--steps", "restore"]).expect(0);
    assert_eq!(outcome(&run, "restore"), "ok");
    for step in ["sanitize", "verify", "health", "links"] {
        assert_eq!(outcome(&run, step), "skipped", "{step}");
    }
    assert!(site.count(RECENT) > 0, "nothing was sanitized");
    assert_eq!(site.count(TESTERS), 40);

    // The rest later, without restoring again: the rows are already back.
    let run = site.restore(&["--steps", "verify,sanitize"]).expect(0);
    assert_eq!(outcome(&run, "restore"), "skipped");
    assert_eq!(outcome(&run, "sanitize"), "ok");
    assert_eq!(site.count(RECENT), 0);

    let run = site.restore(&["--steps", "restore,report"]).expect(2);
    assert!(
        run.error_line().contains("unknown step \"report\""),
        "{run:#?}"
    );
}

#[test]
fn findings_do_not_stop_the_pipeline_and_end_with_exit_3() {
    let site = Refreshed::new();
    // A view over a table that is gone: health finds it and cannot repair it.
    site.exec("CREATE TABLE scratch (x); CREATE VIEW broken AS SELECT x FROM scratch; DROP TABLE scratch;");
    let run = site.restore(&[]).expect(3);
    assert_eq!(outcome(&run, "health"), "FINDINGS", "{}", run.stdout);
    assert_eq!(outcome(&run, "links"), "ok", "later steps still run");
    assert_eq!(outcome(&run, "verify"), "ok");
    assert_eq!(site.count(RECENT), 0);
}

#[test]
fn a_failed_step_stops_the_pipeline_there() {
    let site = Refreshed::new();
    site.append_config(
        "\n[[sanitize]]\ntable = \"patient\"\ndelete_where = \"no_such_function(patient_id)\"\n",
    );
    let run = site.restore(&[]).expect(1);
    assert_eq!(outcome(&run, "restore"), "ok");
    assert_eq!(outcome(&run, "sanitize"), "FAILED");
    for step in ["verify", "health", "links"] {
        assert_eq!(outcome(&run, step), "skipped", "{step}");
    }
    assert!(run.error_line().contains("no_such_function"), "{run:#?}");
    assert_eq!(
        site.count(TESTERS),
        40,
        "the restore committed before the sanitize failed"
    );
    assert!(
        site.count(RECENT) > 0,
        "the failed sanitize changed nothing"
    );
}

#[test]
fn sqlite_says_it_cannot_quarantine() {
    let site = Refreshed::new();
    let config = site.path("vault.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{text}\n[quarantine]\nroles = [\"tester\"]\n"),
    )
    .unwrap();
    let run = site.restore(&[]).expect(0);
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("quarantine: "))
        .unwrap_or_else(|| panic!("no quarantine line: {run:#?}"));
    assert!(line.contains("SQLite has no accounts"), "{line}");
}
