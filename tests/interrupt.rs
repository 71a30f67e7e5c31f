//! SIGINT stops a run at its next safe point: a capture leaves no partial file and no vault; a restore pipeline rolls the running step back, writes its report with the step marked, says what was committed and how to go on, exits 130, and `--resume` then completes the run.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::pg::{self, Site};
use common::{key_file, s};

fn interrupt(child: &Child) {
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// Waits for `ready`, at most 60 s.
fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{what} never happened"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn finish(child: Child) -> (i32, String, String) {
    let output = child.wait_with_output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn partial_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial"))
        .collect()
}

#[test]
fn an_interrupted_capture_leaves_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("acc.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "CREATE TABLE document (id INTEGER PRIMARY KEY, body BLOB);
         WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 400000)
         INSERT INTO document SELECT x, randomblob(400) FROM n;",
    )
    .unwrap();
    drop(conn);
    let (key, _) = key_file(dir.path(), "acc.key");
    let config = dir.path().join("vault.toml");
    std::fs::write(
        &config,
        format!(
            "[acceptance]\nurl = \"sqlite:{}\"\n\n[[preserve]]\ntable = \"document\"\n",
            s(&db)
        ),
    )
    .unwrap();
    let out = dir.path().join("acc.vault");
    let child = Command::new(env!("CARGO_BIN_EXE_vault"))
        .args([
            "capture",
            "--config",
            s(&config),
            "--out",
            s(&out),
            "--key-file",
            s(&key),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the partial vault", || {
        !partial_files(dir.path()).is_empty()
    });
    std::thread::sleep(Duration::from_millis(100));
    interrupt(&child);
    let (code, _, stderr) = finish(child);
    assert_eq!(code, 130, "{stderr}");
    assert!(stderr.contains("interrupted by a signal"), "{stderr}");
    assert!(
        partial_files(dir.path()).is_empty(),
        "no partial file is left"
    );
    assert!(!out.exists(), "no vault under the final name");
}

#[test]
fn an_interrupted_pipeline_writes_its_report_and_resumes() {
    let Some(server) = pg::server("an_interrupted_pipeline_writes_its_report_and_resumes") else {
        return;
    };
    let db = server.database("interrupted");
    db.exec(
        "CREATE TABLE app_user (id int PRIMARY KEY, login text);
         CREATE TABLE patient (id int PRIMARY KEY, name text);
         CREATE TABLE note (id int PRIMARY KEY, body text);
         INSERT INTO app_user VALUES (1, 'tester');",
    );
    let site = Site::new(&db);
    // The first rule sleeps long enough to be interrupted while it runs.
    site.configure(
        "[[preserve]]\ntable = \"app_user\"\n
[[sanitize]]\ntable = \"patient\"\ndelete_where = \"pg_sleep(1.5) IS NOT NULL\"\n
[[sanitize]]\ntable = \"note\"\ndelete_all = true\n",
    );
    site.capture().expect(0);
    db.exec(
        "DELETE FROM app_user; INSERT INTO patient VALUES (1, 'Johanna'); INSERT INTO note VALUES (1, 'n')",
    );
    let report = site.dir.path().join("report");
    let child = site.spawn_restore(&["--report-dir", s(&report)]);
    wait_for("the sleeping rule", || {
        db.one("SELECT count(*)::text FROM pg_stat_activity WHERE query LIKE '%pg_sleep(1.5)%' AND pid <> pg_backend_pid()") != "0"
    });
    interrupt(&child);
    let (code, stdout, stderr) = finish(child);
    assert_eq!(code, 130, "{stdout}\n{stderr}");
    assert!(
        stderr.contains("interrupted by a signal during the sanitize"),
        "{stderr}"
    );
    assert!(stderr.contains("committed: restore"), "{stderr}");
    assert!(stderr.contains("--resume"), "{stderr}");
    assert_eq!(
        db.one("SELECT count(*)::text FROM patient"),
        "1",
        "rolled back"
    );
    assert_eq!(
        db.one("SELECT count(*)::text FROM app_user"),
        "1",
        "the restore committed"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("report.json")).unwrap())
            .unwrap();
    let sanitize = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "sanitize")
        .unwrap();
    assert_eq!(sanitize["outcome"], "failed", "{json:#}");
    assert!(
        sanitize["figures"]
            .as_str()
            .unwrap()
            .contains("interrupted")
    );

    let resumed = site.dir.path().join("resumed");
    site.restore(&["--resume", s(&report), "--report-dir", s(&resumed)])
        .expect(0);
    assert_eq!(db.one("SELECT count(*)::text FROM patient"), "0");
    assert_eq!(db.one("SELECT count(*)::text FROM note"), "0");
}
