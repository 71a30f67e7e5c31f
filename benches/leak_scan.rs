//! Benchmark of the leak scan on PostgreSQL: `vault sanitize` with the scan (fingerprints before, the search of every text column after) against the same sanitize with `[leak_scan] enabled = false`, and the scan's own time against `pg_dump --data-only` of the same database (the standard tool that reads every row once), in the same run: wall time and peak memory (`/usr/bin/time -v`).
//!
//! Data: 200,000 patients (name, e-mail, free-text notes), a history table
//! with a copy of each name, and 200,000 JSON audit rows quoting a tenth of
//! them. Run: `cargo bench --bench leak_scan` (server:
//! `VAULT_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`; scale with
//! `VAULT_BENCH_SCALE`, default 1.0).

#[path = "common/timing.rs"]
mod timing;

use std::process::Command;

use timing::{print_against, timed};

const DB: &str = "vault_bench_leak_scan";

fn main() {
    let server = std::env::var("VAULT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let scale: f64 = std::env::var("VAULT_BENCH_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0);
    let base = server
        .rsplit_once('/')
        .map_or(server.as_str(), |(b, _)| b)
        .to_owned();
    let url = format!("{base}/{DB}");
    let dir = tempfile::tempdir().expect("temporary folder");
    let vault = env!("CARGO_BIN_EXE_vault");
    let n = ((200_000.0 * scale) as u64).max(10);

    let build = || {
        psql(&server, &format!("DROP DATABASE IF EXISTS {DB}"));
        psql(&server, &format!("CREATE DATABASE {DB}"));
        psql(
            &url,
            &format!(
                "CREATE TABLE patient (id bigint PRIMARY KEY, name text, email text, notes text);
                 INSERT INTO patient SELECT i, 'Name' || i || ' Surname' || (i * 7919 % 100003),
                   'p' || i || '@mail.example', 'seen on ward ' || (i % 40) || ' for routine follow up, no complaints'
                 FROM generate_series(1, {n}) i;
                 CREATE TABLE patient_history (id bigint PRIMARY KEY, patient_id bigint, name text);
                 INSERT INTO patient_history SELECT id, id, name FROM patient;
                 CREATE TABLE audit (id bigint PRIMARY KEY, payload jsonb);
                 INSERT INTO audit SELECT i, jsonb_build_object('event', 'open', 'who',
                   CASE WHEN i % 10 = 0 THEN (SELECT name FROM patient WHERE id = i) ELSE 'nurse ' || (i % 50) END)
                 FROM generate_series(1, {n}) i;
                 ANALYZE;"
            ),
        );
    };
    let config = |enabled: bool| {
        let path = dir.path().join(format!("vault-{enabled}.toml"));
        std::fs::write(
            &path,
            format!(
                "[acceptance]\nurl_env = \"ACC_DATABASE_URL\"\n\n[leak_scan]\nenabled = {enabled}\n\n[[sanitize]]\ntable = \"patient\"\nset = {{ name = \"'patient ' || id\" }}\n\n[[sanitize]]\ntable = \"patient\"\nset_null = [\"email\"]\n"
            ),
        )
        .unwrap();
        path
    };
    let sanitize = |enabled: bool| {
        let mut command = Command::new(vault);
        command
            .args(["sanitize", "--config"])
            .arg(config(enabled))
            .env("ACC_DATABASE_URL", &url);
        command
    };

    eprintln!("building {DB} with {n} patients");
    build();
    let dump = timed(
        Command::new("pg_dump")
            .args(["--data-only", "-f", "/dev/null"])
            .arg(format!("--dbname={url}")),
    );
    let without = timed_allowing_findings(&mut sanitize(false));
    build();
    let with = timed_allowing_findings(&mut sanitize(true));
    let scan = timing::Timing {
        secs: (with.secs - without.secs).max(0.0),
        peak_mib: with.peak_mib,
    };
    println!("leak scan on {n} patients, {n} history rows, {n} audit rows (PostgreSQL)");
    print_against(
        "sanitize",
        &with,
        "sanitize without scan",
        "no scan",
        &without,
        2.0,
    );
    print_against("scan", &scan, "pg_dump --data-only", "pg_dump", &dump, 2.0);
    psql(&server, &format!("DROP DATABASE IF EXISTS {DB}"));
}

/// `timed`, for a sanitize that ends with exit 3 (the copies are found).
fn timed_allowing_findings(command: &mut Command) -> timing::Timing {
    let mut wrapped = Command::new("sh");
    wrapped
        .arg("-c")
        .arg("\"$0\" \"$@\"; code=$?; [ $code -eq 0 ] || [ $code -eq 3 ]")
        .arg(command.get_program())
        .args(command.get_args());
    for (key, value) in command.get_envs() {
        if let Some(value) = value {
            wrapped.env(key, value);
        }
    }
    timed(&mut wrapped)
}

fn psql(url: &str, sql: &str) {
    let status = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
        .status()
        .expect("psql runs");
    assert!(status.success(), "psql failed: {sql}");
}
