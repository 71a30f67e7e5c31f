//! Benchmark of `pseudonymize` on PostgreSQL against a plain `UPDATE ... SET col = md5(col)` of the same columns of the same rows, in the same run, on the same server.
//!
//! Data: 1 million patient-like rows (name, email, record number, birth
//! date) in two identical databases; one is pseudonymized by `vault
//! sanitize` (the HMAC in the server, then the verification's count), the
//! other by one `UPDATE` through `psql` that replaces each value with its
//! MD5. Run: `cargo bench --bench pseudonyms` (server:
//! `VAULT_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`; scale with
//! `VAULT_BENCH_SCALE`, default 1.0).

#[path = "common/timing.rs"]
mod timing;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use timing::{print_against, timed};

const SOURCE: &str = "vault_bench_pseudo_src";
const VAULT_TARGET: &str = "vault_bench_pseudo_vault";
const MD5_TARGET: &str = "vault_bench_pseudo_md5";

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
    let rows = ((1_000_000.0 * scale) as u64).max(1);

    eprintln!("building {SOURCE} ({rows} rows)");
    for db in [SOURCE, VAULT_TARGET, MD5_TARGET] {
        psql(&server, &format!("DROP DATABASE IF EXISTS {db}"));
    }
    psql(&server, &format!("CREATE DATABASE {SOURCE}"));
    psql(
        &url(SOURCE),
        &format!(
            "CREATE SCHEMA bench;
             CREATE TABLE bench.patient (id bigint PRIMARY KEY, full_name text, email text, mrn text, born date);
             INSERT INTO bench.patient SELECT g, 'Name ' || md5(g::text), 'p' || g || '@mail.example',
               'P' || lpad(g::text, 9, '0'), DATE '1930-01-01' + (g % 30000)
               FROM generate_series(1, {rows}) g;"
        ),
    );
    psql(&url(SOURCE), "VACUUM ANALYZE bench.patient");
    for db in [VAULT_TARGET, MD5_TARGET] {
        psql(&server, &format!("CREATE DATABASE {db} TEMPLATE {SOURCE}"));
    }

    let key = dir.path().join("pseudonym.key");
    std::fs::write(&key, [0x5au8; 32]).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let config = dir.path().join("vault.toml");
    std::fs::write(
        &config,
        format!(
            "[acceptance]\nurl = \"{}\"\n\n[pseudonym]\nkey_file = \"pseudonym.key\"\n\n[[sanitize]]\ntable = \"bench.patient\"\npseudonymize = {{ full_name = \"name\", email = \"email\", mrn = {{ kind = \"identifier\", pattern = \"MRN#########\" }}, born = {{ kind = \"date_shift\", days = 30 }} }}\n",
            url(VAULT_TARGET)
        ),
    )
    .unwrap();

    let md5_run = timed(Command::new("psql").args([
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-d",
        &url(MD5_TARGET),
        "-c",
        "UPDATE bench.patient SET full_name = md5(full_name), email = md5(email), mrn = md5(mrn), born = born + 1",
    ]));
    let vault_run = timed(
        Command::new(vault)
            .args(["sanitize", "--config"])
            .arg(&config),
    );
    let changed = psql_value(
        &url(VAULT_TARGET),
        "SELECT count(*) FROM bench.patient WHERE full_name LIKE 'Name %' OR email LIKE '%@mail.example' OR mrn LIKE 'P%'",
    );
    assert_eq!(changed, "0", "rows left unpseudonymized");

    println!("data: {rows} rows, 4 columns each (name, email, record number, date)");
    print_against(
        "pseudonymize",
        &vault_run,
        "UPDATE md5()",
        "psql",
        &md5_run,
        3.0,
    );
    for db in [SOURCE, VAULT_TARGET, MD5_TARGET] {
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
