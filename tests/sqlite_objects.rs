//! Acceptance's own views and triggers on SQLite: recorded at capture, listed after a refresh that removed or changed them, the `[objects] keep` ones created again inside the restore transaction, and nothing listed when nothing changed.

mod common;

use common::workflow::{Cell, Site, exec, query};
use common::{s, vault};

const SCHEMA: &str = "
CREATE TABLE app_user (user_id INTEGER PRIMARY KEY, login TEXT NOT NULL, role TEXT NOT NULL);
CREATE TABLE audit (line TEXT);";

/// Acceptance with its own view, trigger and second view; production without them.
fn site(keep: &str) -> Site {
    let site = Site::new();
    exec(&site.acceptance, SCHEMA);
    exec(
        &site.acceptance,
        "INSERT INTO app_user VALUES (1, 'tester', 'test'), (2, 'admin', 'admin');
         CREATE VIEW v_testers AS SELECT login FROM app_user WHERE role = 'test';
         CREATE VIEW v_logins AS SELECT login FROM app_user;
         CREATE TRIGGER trg_audit AFTER INSERT ON app_user BEGIN INSERT INTO audit VALUES ('secret-literal'); END;",
    );
    exec(&site.production, SCHEMA);
    exec(
        &site.production,
        "INSERT INTO app_user VALUES (7, 'dr.visser', 'doctor');
         CREATE VIEW v_logins AS SELECT login || '!' AS login FROM app_user;",
    );
    site.configure(&format!(
        "[[preserve]]\ntable = \"app_user\"\n\n[objects]\nkeep = [{keep}]\n"
    ));
    site
}

#[test]
fn removed_and_changed_objects_are_listed_and_the_kept_ones_created_again() {
    let site = site("\"main.v_testers\", \"main.trg_audit\"");
    let captured = site.capture().expect(0);
    assert!(
        captured
            .stdout
            .contains("objects: 3 views, routines, triggers and events recorded"),
        "{captured:#?}"
    );
    assert!(
        captured.stdout.contains(
            "objects: 2 kept whole: trigger main.trg_audit on main.app_user, view main.v_testers"
        ),
        "{captured:#?}"
    );
    site.refresh();
    let dry = site.restore(&["--steps", "restore", "--dry-run"]).expect(0);
    assert!(
        dry.stdout
            .contains("would be re-created view main.v_testers (removed by the refresh)"),
        "{dry:#?}"
    );
    assert!(
        query(
            &site.acceptance,
            "SELECT name FROM sqlite_schema WHERE name = 'v_testers'"
        )
        .is_empty(),
        "the dry run changed nothing"
    );
    let report = site.path("report");
    let run = site
        .restore(&["--steps", "restore", "--report-dir", s(&report)])
        .expect(0);
    assert!(
        run.stdout
            .contains("re-created view main.v_testers (removed by the refresh)"),
        "{run:#?}"
    );
    assert!(
        run.stdout.contains(
            "re-created trigger main.trg_audit on main.app_user (removed by the refresh)"
        ),
        "{run:#?}"
    );
    assert!(
        run.stdout.contains(
            "note: acceptance's own objects changed by the refresh, not kept: view main.v_logins"
        ),
        "{run:#?}"
    );
    assert!(!run.stdout.contains("secret-literal"), "{run:#?}");
    // The kept view shows acceptance's rows; the kept trigger fires.
    assert_eq!(
        query(&site.acceptance, "SELECT login FROM v_testers"),
        vec![vec![Cell::from("tester")]]
    );
    exec(
        &site.acceptance,
        "INSERT INTO app_user VALUES (3, 'new', 'test')",
    );
    assert_eq!(
        query(&site.acceptance, "SELECT line FROM audit"),
        vec![vec![Cell::from("secret-literal")]]
    );
    let markdown = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(markdown.contains("Acceptance's own objects"), "{markdown}");
    for name in [
        "view main.v_testers",
        "trigger main.trg_audit on main.app_user",
        "view main.v_logins",
    ] {
        // Markdown escapes the underscores.
        let shown = name.replace('_', "\\_");
        assert!(markdown.contains(&shown), "{shown} in {markdown}");
    }
    assert!(!markdown.contains("secret-literal"), "{markdown}");
    // The section is signed with the rest of the report.
    vault(
        ["report", "verify", s(&report), "--key-file", s(&site.key)],
        &[],
    )
    .expect(0);
}

#[test]
fn nothing_is_listed_when_the_refresh_changed_no_object() {
    let site = site("\"main.v_testers\"");
    site.capture().expect(0);
    let report = site.path("report");
    let run = site
        .restore(&["--steps", "restore", "--report-dir", s(&report)])
        .expect(0);
    assert!(!run.stdout.contains("re-created"), "{run:#?}");
    assert!(!run.stdout.contains("by the refresh"), "{run:#?}");
    let markdown = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(
        markdown.contains("The refresh removed or changed none"),
        "{markdown}"
    );
}

#[test]
fn a_kept_object_that_does_not_exist_stops_the_capture() {
    let site = site("\"main.v_nowhere\"");
    let run = site.capture().expect(2);
    assert!(run.stderr.contains("main.v_nowhere"), "{run:#?}");
    assert!(!site.vault.exists(), "no vault is left behind");
}
