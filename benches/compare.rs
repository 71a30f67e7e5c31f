//! Benchmark of the data compare on PostgreSQL: two databases of 1 million rows each that
//! differ in 10 rows, `vault compare` against streaming both tables out with
//! `COPY ... TO STDOUT` into `sha256sum` (both at once), in the same run, on the same server.
//!
//! Run: `cargo bench --bench compare` (server: `VAULT_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`; scale with `VAULT_BENCH_SCALE`, default 1.0).

#[path = "common/timing.rs"]
mod timing;

use std::process::Command;

use timing::{Timing, print_against, timed};

const PRODUCTION: &str = "vault_bench_cmp_prod";
const ACCEPTANCE: &str = "vault_bench_cmp_acc";
const TABLE: &str = "bench.account";
/// How many runs of each side; the report gives the best of each.
const RUNS: usize = 3;

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
    let rows = ((1_000_000.0 * scale) as u64).max(100);

    eprintln!("building {PRODUCTION} and {ACCEPTANCE} ({rows} rows each)");
    for db in [ACCEPTANCE, PRODUCTION] {
        psql(&server, &format!("DROP DATABASE IF EXISTS {db}"));
    }
    psql(&server, &format!("CREATE DATABASE {PRODUCTION}"));
    psql(
        &url(PRODUCTION),
        &format!(
            "CREATE SCHEMA bench;
             CREATE TABLE {TABLE} (account_id bigint PRIMARY KEY, login text NOT NULL, email text,
               full_name text, password_hash text, created_at timestamptz, active boolean, prefs jsonb);
             INSERT INTO {TABLE} SELECT g, 'user' || g, 'user' || g || '@example.org',
               'Name ' || md5(g::text), '$argon2id$v=19$' || md5(g::text) || md5((g * 7)::text),
               timestamptz '2026-01-01' - g * interval '1 minute', g % 7 <> 0,
               jsonb_build_object('theme', CASE WHEN g % 2 = 0 THEN 'dark' ELSE 'light' END, 'lang', 'nl', 'page', g % 50)
               FROM generate_series(1, {rows}) g;"
        ),
    );
    psql(&url(PRODUCTION), &format!("VACUUM ANALYZE {TABLE}"));
    psql(
        &server,
        &format!("CREATE DATABASE {ACCEPTANCE} TEMPLATE {PRODUCTION}"),
    );
    // Ten rows differ: 4 changed, 3 missing from acceptance, 3 extra in it.
    psql(
        &url(ACCEPTANCE),
        &format!(
            "UPDATE {TABLE} SET email = 'changed@example.org' WHERE account_id IN (11, 222, 3333, 44444);
             DELETE FROM {TABLE} WHERE account_id IN (5, 66, 777);
             INSERT INTO {TABLE} (account_id, login) VALUES ({a}, 'extra1'), ({b}, 'extra2'), ({c}, 'extra3');",
            a = rows + 1,
            b = rows + 2,
            c = rows + 3
        ),
    );
    psql(&url(ACCEPTANCE), &format!("VACUUM ANALYZE {TABLE}"));

    let config = dir.path().join("vault.toml");
    std::fs::write(
        &config,
        format!(
            "[acceptance]\nurl = \"{}\"\n\n[production]\nurl = \"{}\"\n\n\
             [compare]\nignore = [{{ object = \"{TABLE}\", reason = \"the benchmark's ten rows\" }}]\n",
            url(ACCEPTANCE),
            url(PRODUCTION)
        ),
    )
    .unwrap();
    let compare = || {
        let mut command = Command::new(vault);
        command.args(["compare", "--json", "--config"]).arg(&config);
        command
    };
    // The compare must find exactly the ten rows.
    let output = compare().output().expect("vault compare");
    assert!(output.status.success(), "{output:?}");
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let data = summary["differences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "data")
        .and_then(|d| d.get("data"))
        .expect("a data difference")
        .clone();
    assert_eq!(
        (&data["changed"], &data["missing"], &data["extra"]),
        (&4.into(), &3.into(), &3.into()),
        "{summary:#}"
    );

    let reference_script = format!(
        "psql -X -q -d '{a}' -c 'COPY {TABLE} TO STDOUT' | sha256sum > /dev/null &
         psql -X -q -d '{p}' -c 'COPY {TABLE} TO STDOUT' | sha256sum > /dev/null &
         wait",
        a = url(ACCEPTANCE),
        p = url(PRODUCTION)
    );
    let best = |a: Timing, b: Timing| if b.secs < a.secs { b } else { a };
    let mut reference = timed(Command::new("sh").args(["-c", &reference_script]));
    let mut vault_run = timed(&mut compare());
    for _ in 1..RUNS {
        reference = best(
            reference,
            timed(Command::new("sh").args(["-c", &reference_script])),
        );
        vault_run = best(vault_run, timed(&mut compare()));
    }
    println!(
        "data: {TABLE}, {rows} rows in each database, 10 differ (4 changed, 3 missing, 3 extra), all found by key"
    );
    print_against(
        "compare",
        &vault_run,
        "COPY | sha256sum of both",
        "psql",
        &reference,
        0.5,
    );
    println!("(best of {RUNS} runs each)");
    for db in [ACCEPTANCE, PRODUCTION] {
        psql(&server, &format!("DROP DATABASE IF EXISTS {db}"));
    }
}

fn psql(url: &str, sql: &str) {
    let output = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
        .output()
        .expect("psql");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
