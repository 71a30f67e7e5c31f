//! Benchmark of capture and restore on PostgreSQL against `pg_dump -Fc` and
//! `pg_restore --single-transaction` of the same tables, in the same run, on
//! the same server: wall time, peak memory (`/usr/bin/time -v`) and file sizes.
//!
//! Data: about 1 million account-like rows (roughly 200 MB) in three tables,
//! and 2,000 document blobs of 256 KiB. Run: `cargo bench --bench postgres`
//! (server: `VAULT_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`; scale with
//! `VAULT_BENCH_SCALE`, default 1.0).

#[path = "common/timing.rs"]
mod timing;

use std::path::Path;
use std::process::Command;

use timing::{print_against, timed};

const TABLES: [&str; 4] = [
    "bench.account",
    "bench.account_setting",
    "bench.account_2fa",
    "bench.document",
];
const SOURCE: &str = "vault_bench_acc";
const DUMP_TARGET: &str = "vault_bench_pg_restore";
const VAULT_TARGET: &str = "vault_bench_vault_restore";
const REFRESHED_TARGET: &str = "vault_bench_refreshed";

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
    let url = |db: &str| format!("{base}/{db}");
    let dir = tempfile::tempdir().expect("temporary folder");
    let vault = env!("CARGO_BIN_EXE_vault");

    eprintln!("building {SOURCE} (scale {scale})");
    for db in [SOURCE, DUMP_TARGET, VAULT_TARGET, REFRESHED_TARGET] {
        psql(&server, &format!("DROP DATABASE IF EXISTS {db}"));
    }
    psql(&server, &format!("CREATE DATABASE {SOURCE}"));
    let n = |rows: f64| ((rows * scale) as u64).max(1);
    psql(
        &url(SOURCE),
        &format!(
            "CREATE EXTENSION IF NOT EXISTS pgcrypto;
             CREATE SCHEMA bench;
             CREATE TABLE bench.account (account_id bigint PRIMARY KEY, login text NOT NULL, email text,
               full_name text, password_hash text, created_at timestamptz, active boolean, prefs jsonb);
             CREATE TABLE bench.account_setting (account_id bigint REFERENCES bench.account, name text,
               value text, PRIMARY KEY (account_id, name));
             CREATE TABLE bench.account_2fa (account_id bigint PRIMARY KEY REFERENCES bench.account,
               totp_secret bytea NOT NULL, enrolled_at timestamptz NOT NULL);
             CREATE TABLE bench.document (doc_id bigint PRIMARY KEY, account_id bigint REFERENCES bench.account,
               title text, content bytea);
             INSERT INTO bench.account SELECT g, 'user' || g, 'user' || g || '@example.org',
               'Name ' || md5(g::text), '$argon2id$v=19$' || md5(random()::text) || md5(random()::text),
               now() - g * interval '1 minute', g % 7 <> 0,
               jsonb_build_object('theme', CASE WHEN g % 2 = 0 THEN 'dark' ELSE 'light' END, 'lang', 'nl', 'page', g % 50)
               FROM generate_series(1, {accounts}) g;
             INSERT INTO bench.account_setting SELECT a, 'setting' || s, md5((a * s)::text)
               FROM generate_series(1, {settings}) a, generate_series(1, 2) s;
             INSERT INTO bench.account_2fa SELECT g, gen_random_bytes(20), now() FROM generate_series(1, {enrolled}) g;
             INSERT INTO bench.document SELECT g, g, 'document ' || g,
               (SELECT string_agg(gen_random_bytes(1024), ''::bytea) FROM generate_series(1, 256) WHERE g > 0)
               FROM generate_series(1, {documents}) g;",
            accounts = n(600_000.0),
            settings = n(150_000.0),
            enrolled = n(100_000.0),
            documents = n(2_000.0),
        ),
    );
    psql(&url(SOURCE), "VACUUM ANALYZE");
    let rows: u64 = TABLES
        .iter()
        .map(|t| {
            psql_value(&url(SOURCE), &format!("SELECT count(*) FROM {t}"))
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    let table_bytes: u64 = psql_value(
        &url(SOURCE),
        "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'bench' AND c.relkind = 'r'",
    )
    .parse()
    .unwrap();
    // Two empty copies for the two loaders, and one that still holds every row (a refreshed acceptance).
    for db in [DUMP_TARGET, VAULT_TARGET, REFRESHED_TARGET] {
        psql(&server, &format!("CREATE DATABASE {db} TEMPLATE {SOURCE}"));
    }
    for db in [DUMP_TARGET, VAULT_TARGET] {
        psql(&url(db), &format!("TRUNCATE {}", TABLES.join(", ")));
    }

    let key = dir.path().join("bench.key");
    run_ok(Command::new(vault).args(["keygen", "--out"]).arg(&key));
    let config = |db: &str| {
        let path = dir.path().join(format!("{db}.toml"));
        let mut text = format!("[acceptance]\nurl = \"{}\"\n", url(db));
        for table in TABLES {
            text.push_str(&format!("\n[[preserve]]\ntable = \"{table}\"\n"));
        }
        std::fs::write(&path, text).unwrap();
        path
    };
    let dump = dir.path().join("bench.dump");
    let vault_file = dir.path().join("bench.vault");

    let mut pg_dump = Command::new("pg_dump");
    pg_dump.args(["-Fc", "--data-only", "-f"]).arg(&dump);
    for table in TABLES {
        pg_dump.args(["-t", table]);
    }
    pg_dump.arg(url(SOURCE));
    let dump_run = timed(&mut pg_dump);
    let capture_run = timed(
        Command::new(vault)
            .args(["capture", "--config"])
            .arg(config(SOURCE))
            .arg("--out")
            .arg(&vault_file)
            .env("VAULT_KEY_FILE", &key),
    );
    let restore_dump_run = timed(
        Command::new("pg_restore")
            .args(["--data-only", "--single-transaction", "-d"])
            .arg(url(DUMP_TARGET))
            .arg(&dump),
    );
    let restore_vault_run = timed(
        Command::new(vault)
            .arg("restore")
            .arg(&vault_file)
            .arg("--config")
            .arg(config(VAULT_TARGET))
            .arg("--target-differs")
            // The data step alone, as pg_restore does: no sanitize, health or links.
            .args(["--steps", "restore"])
            .env("VAULT_KEY_FILE", &key),
    );
    let refreshed_run = timed(
        Command::new(vault)
            .arg("restore")
            .arg(&vault_file)
            .arg("--config")
            .arg(config(REFRESHED_TARGET))
            .arg("--target-differs")
            // The data step alone, as pg_restore does: no sanitize, health or links.
            .args(["--steps", "restore"])
            .env("VAULT_KEY_FILE", &key),
    );
    let same: Vec<String> = [SOURCE, DUMP_TARGET, VAULT_TARGET, REFRESHED_TARGET]
        .iter()
        .map(|db| {
            psql_value(
                &url(db),
                "SELECT md5(string_agg(t::text, '' ORDER BY t)) FROM (
                   SELECT md5(a::text) AS t FROM bench.account a UNION ALL
                   SELECT md5(s::text) FROM bench.account_setting s UNION ALL
                   SELECT md5(f::text) FROM bench.account_2fa f UNION ALL
                   SELECT md5(d::text) FROM bench.document d) x",
            )
        })
        .collect();
    assert!(
        same.iter().all(|h| h == &same[0]),
        "restored data differs from the source: {same:?}"
    );

    let size =
        |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0) as f64 / (1024.0 * 1024.0);
    println!(
        "data: {rows} rows in {} tables, {:.0} MiB on disk in PostgreSQL; every restore checked equal to the source",
        TABLES.len(),
        table_bytes as f64 / (1024.0 * 1024.0)
    );
    print_against(
        "capture",
        &capture_run,
        "pg_dump -Fc",
        "pg_dump",
        &dump_run,
        0.5,
    );
    print_against(
        "restore",
        &restore_vault_run,
        "pg_restore ",
        "pg_restore",
        &restore_dump_run,
        1.0,
    );
    println!(
        "restore into a refreshed copy (every row replaced): vault {:6.2} s   ratio to pg_restore into empty tables {:.2}   peak {:.0} MiB",
        refreshed_run.secs,
        refreshed_run.secs / restore_dump_run.secs,
        refreshed_run.peak_mib
    );
    println!(
        "size:     vault {:7.1} MiB   pg_dump -Fc {:7.1} MiB   ratio {:.2} (target <= 1.00)",
        size(&vault_file),
        size(&dump),
        size(&vault_file) / size(&dump)
    );
    for db in [SOURCE, DUMP_TARGET, VAULT_TARGET, REFRESHED_TARGET] {
        psql(&server, &format!("DROP DATABASE IF EXISTS {db}"));
    }
}

fn run_ok(command: &mut Command) {
    let output = command.output().expect("run");
    assert!(
        output.status.success(),
        "{:?}: {}",
        command.get_program(),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn psql(url: &str, sql: &str) {
    run_ok(Command::new("psql").args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql]));
}

fn psql_value(url: &str, sql: &str) -> String {
    let output = Command::new("psql")
        .args(["-X", "-A", "-t", "-d", url, "-c", sql])
        .output()
        .expect("psql");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}
