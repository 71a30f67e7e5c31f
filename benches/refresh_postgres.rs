//! Benchmark of the real refresh day on PostgreSQL: capture acceptance,
//! refresh it from a production that really differs (drop, re-create from
//! `pg_dump -Fc`, `pg_restore`), then put acceptance's rows back. Measured in
//! the same run against the DBA's manual way (TRUNCATE + `pg_restore
//! --data-only --single-transaction` of a dump taken before the refresh) and
//! against the floor (TRUNCATE + binary `COPY FROM` of the same rows), and the
//! capture against binary `COPY TO` and `pg_dump -Fc`.
//!
//! Data at scale 1.0: 300,000 accounts and 400 documents of 256 KiB that
//! refer to them. Production changed every account and has 30,000 more;
//! half the documents are rewritten, 50 are gone and 50 are new. The
//! account table is referenced by production's documents, so its restore
//! keeps those references valid; the document table is referenced by
//! nothing. Run: `cargo bench --bench refresh_postgres` (server:
//! `VAULT_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`;
//! `VAULT_BENCH_SCALE`, default 1.0; 10 gives 3 million accounts and 4,000
//! documents).

#[path = "common/timing.rs"]
mod timing;

use std::path::{Path, PathBuf};
use std::process::Command;

use timing::{Timing, timed};

const TABLES: [&str; 2] = ["bench.account", "bench.document"];
const ACCEPTANCE: &str = "vault_refresh_acc";
const PRODUCTION: &str = "vault_refresh_prod";
const REFRESHED: &str = "vault_refresh_refreshed";
/// One refreshed copy per way of putting acceptance back.
const BY_VAULT: &str = "vault_refresh_by_vault";
const BY_PG_RESTORE: &str = "vault_refresh_by_pg_restore";
const BY_COPY: &str = "vault_refresh_by_copy";
const ACCOUNTS_BY_VAULT: &str = "vault_refresh_accounts_by_vault";
const ACCOUNTS_BY_COPY: &str = "vault_refresh_accounts_by_copy";
const ALL: [&str; 8] = [
    ACCEPTANCE,
    PRODUCTION,
    REFRESHED,
    BY_VAULT,
    BY_PG_RESTORE,
    BY_COPY,
    ACCOUNTS_BY_VAULT,
    ACCOUNTS_BY_COPY,
];

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
    let file = |name: &str| dir.path().join(name);
    let vault = env!("CARGO_BIN_EXE_vault");
    let n = |rows: f64| ((rows * scale) as u64).max(1);
    let (accounts, documents) = (n(300_000.0), n(400.0));
    let (new_accounts, churned_documents) = (n(30_000.0), n(50.0));

    eprintln!("building {ACCEPTANCE} and {PRODUCTION} (scale {scale})");
    for db in ALL {
        psql(&server, &format!("DROP DATABASE IF EXISTS {db}"));
    }
    psql(&server, &format!("CREATE DATABASE {ACCEPTANCE}"));
    psql(
        &url(ACCEPTANCE),
        &format!(
            "CREATE EXTENSION IF NOT EXISTS pgcrypto;
             CREATE SCHEMA bench;
             CREATE TABLE bench.account (account_id bigint PRIMARY KEY, login text NOT NULL, email text,
               full_name text, password_hash text, created_at timestamptz, active boolean, prefs jsonb);
             CREATE TABLE bench.document (doc_id bigint PRIMARY KEY,
               account_id bigint NOT NULL REFERENCES bench.account, title text, content bytea);
             CREATE INDEX ON bench.document (account_id);
             INSERT INTO bench.account SELECT g, 'tester' || g, 'tester' || g || '@acceptance.example',
               'Tester ' || md5(g::text), '$argon2id$v=19$' || md5(random()::text) || md5(random()::text),
               now() - g * interval '1 minute', g % 7 <> 0,
               jsonb_build_object('theme', CASE WHEN g % 2 = 0 THEN 'dark' ELSE 'light' END, 'lang', 'nl', 'page', g % 50)
               FROM generate_series(1, {accounts}) g;
             INSERT INTO bench.document SELECT g, 1 + (g * 7919) % {accounts}, 'trial document ' || g,
               (SELECT string_agg(gen_random_bytes(1024), ''::bytea) FROM generate_series(1, 256) WHERE g > 0)
               FROM generate_series(1, {documents}) g;",
        ),
    );
    psql(&url(ACCEPTANCE), "VACUUM ANALYZE");
    // Production: every account changed, more accounts; half the documents
    // rewritten, some gone, some new (all referring to accounts both sides have).
    psql(
        &server,
        &format!("CREATE DATABASE {PRODUCTION} TEMPLATE {ACCEPTANCE}"),
    );
    psql(
        &url(PRODUCTION),
        &format!(
            "UPDATE bench.account SET email = 'patient' || account_id || '@hospital.example',
               full_name = 'Patient ' || md5(account_id::text || 'p'),
               password_hash = '$argon2id$v=19$' || md5(random()::text),
               prefs = prefs || '{{\"lang\": \"en\"}}';
             INSERT INTO bench.account SELECT g, 'doctor' || g, 'doctor' || g || '@hospital.example',
               'Doctor ' || md5(g::text), '$argon2id$v=19$' || md5(random()::text), now(), true, '{{}}'
               FROM generate_series({first_new}, {last_new}) g;
             UPDATE bench.document SET title = 'production ' || doc_id,
               content = (SELECT string_agg(gen_random_bytes(1024), ''::bytea) FROM generate_series(1, 256) WHERE doc_id > 0)
               WHERE doc_id % 2 = 0;
             DELETE FROM bench.document WHERE doc_id % 2 = 1 AND doc_id <= {gone_below};
             INSERT INTO bench.document SELECT g, 1 + (g * 7919) % {accounts}, 'production document ' || g,
               (SELECT string_agg(gen_random_bytes(1024), ''::bytea) FROM generate_series(1, 256) WHERE g > 0)
               FROM generate_series({first_doc}, {last_doc}) g;",
            first_new = accounts + 1,
            last_new = accounts + new_accounts,
            gone_below = churned_documents * 2,
            first_doc = documents + 1,
            last_doc = documents + churned_documents,
        ),
    );
    psql(&url(PRODUCTION), "VACUUM ANALYZE");

    // Before the refresh: vault captures; the DBA's manual way dumps; the
    // floor reads the same rows by binary COPY.
    let key = file("bench.key");
    run_ok(Command::new(vault).args(["keygen", "--out"]).arg(&key));
    let config = |db: &str, tables: &[&str]| {
        let path = file(&format!("{db}.toml"));
        let mut text = format!("[acceptance]\nurl = \"{}\"\n", url(db));
        for table in tables {
            text.push_str(&format!("\n[[preserve]]\ntable = \"{table}\"\n"));
        }
        std::fs::write(&path, text).unwrap();
        path
    };
    let vault_file = file("acceptance.vault");
    let dump = file("acceptance.dump");
    let capture = timed(
        Command::new(vault)
            .args(["capture", "--config"])
            .arg(config(ACCEPTANCE, &TABLES))
            .arg("--out")
            .arg(&vault_file)
            .env("VAULT_KEY_FILE", &key),
    );
    let mut pg_dump = Command::new("pg_dump");
    pg_dump.args(["-Fc", "--data-only", "-f"]).arg(&dump);
    for table in TABLES {
        pg_dump.args(["-t", table]);
    }
    let dumped = timed(pg_dump.arg(url(ACCEPTANCE)));
    // The referenced table alone, for its own figure against the floor.
    let accounts_file = file("accounts.vault");
    run_ok(
        Command::new(vault)
            .args(["capture", "--config"])
            .arg(config(ACCEPTANCE, &TABLES[..1]))
            .arg("--out")
            .arg(&accounts_file)
            .env("VAULT_KEY_FILE", &key),
    );
    let copy_out = timed(&mut psql_script(
        &url(ACCEPTANCE),
        &file("copy_out.sql"),
        &TABLES
            .iter()
            .map(|t| format!("\\copy {t} TO '/dev/null' (FORMAT binary)"))
            .collect::<Vec<_>>()
            .join("\n"),
    ));
    let rows_file = |table: &str| file(&format!("{table}.copy"));
    for table in TABLES {
        run_ok(&mut psql_script(
            &url(ACCEPTANCE),
            &file("export.sql"),
            &format!(
                "\\copy {table} TO '{}' (FORMAT binary)",
                rows_file(table).display()
            ),
        ));
    }

    // The refresh, as a DBA does it: production's dump restored into a
    // database created again; one physical copy of it per way of loading.
    eprintln!("refreshing from a dump of {PRODUCTION}");
    let production_dump = file("production.dump");
    run_ok(
        Command::new("pg_dump")
            .args(["-Fc", "-f"])
            .arg(&production_dump)
            .arg(url(PRODUCTION)),
    );
    psql(&server, &format!("CREATE DATABASE {REFRESHED}"));
    run_ok(
        Command::new("pg_restore")
            .args(["--no-owner", "-d"])
            .arg(url(REFRESHED))
            .arg(&production_dump),
    );
    psql(&url(REFRESHED), "VACUUM ANALYZE");
    for db in [
        BY_VAULT,
        BY_PG_RESTORE,
        BY_COPY,
        ACCOUNTS_BY_VAULT,
        ACCOUNTS_BY_COPY,
    ] {
        psql(
            &server,
            &format!("CREATE DATABASE {db} TEMPLATE {REFRESHED}"),
        );
    }

    let restore = |db: &str, tables: &[&str]| {
        let captured = if tables.len() == TABLES.len() {
            &vault_file
        } else {
            &accounts_file
        };
        timed(
            Command::new(vault)
                .arg("restore")
                .arg(captured)
                .arg("--config")
                .arg(config(db, tables))
                .arg("--target-differs")
                // The data step alone, as pg_restore does: no sanitize, health or links.
                .args(["--steps", "restore"])
                .env("VAULT_KEY_FILE", &key),
        )
    };
    let copy_in = |db: &str, tables: &[&str]| {
        let mut script = format!("TRUNCATE {};\n", TABLES.join(", "));
        for table in tables {
            script.push_str(&format!(
                "\\copy {table} FROM '{}' (FORMAT binary)\n",
                rows_file(table).display()
            ));
        }
        timed(
            psql_script(&url(db), &file(&format!("{db}.sql")), &script).arg("--single-transaction"),
        )
    };
    eprintln!("restoring");
    let by_vault = restore(BY_VAULT, &TABLES);
    let by_pg_restore = timed(Command::new("bash").arg("-c").arg(format!(
        "set -e; psql -X -q -v ON_ERROR_STOP=1 -d '{db}' -c 'TRUNCATE {tables}'; \
                 pg_restore --data-only --single-transaction -d '{db}' '{dump}'",
        db = url(BY_PG_RESTORE),
        tables = TABLES.join(", "),
        dump = dump.display()
    )));
    let by_copy = copy_in(BY_COPY, &TABLES);
    // The referenced table alone: vault keeps production's documents'
    // references valid; the floor loads the same rows into an emptied table.
    let accounts_by_vault = restore(ACCOUNTS_BY_VAULT, &TABLES[..1]);
    let accounts_by_copy = copy_in(ACCOUNTS_BY_COPY, &TABLES[..1]);

    let digest = |db: &str, table: &str| {
        psql_value(
            &url(db),
            &format!("SELECT md5(string_agg(md5(t::text), '' ORDER BY t)) FROM {table} t"),
        )
    };
    for table in TABLES {
        let expected = digest(ACCEPTANCE, table);
        for db in [BY_VAULT, BY_PG_RESTORE, BY_COPY] {
            assert_eq!(
                digest(db, table),
                expected,
                "{table} in {db} differs from acceptance"
            );
        }
    }
    for db in [ACCOUNTS_BY_VAULT, ACCOUNTS_BY_COPY] {
        assert_eq!(digest(db, TABLES[0]), digest(ACCEPTANCE, TABLES[0]));
    }
    let documents_left: u64 = psql_value(
        &url(ACCOUNTS_BY_VAULT),
        "SELECT count(*) FROM bench.document",
    )
    .parse()
    .unwrap();
    assert_eq!(
        documents_left, documents,
        "production's documents stay with the accounts restored"
    );

    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0) as f64 / 1048576.0;
    println!(
        "data: {accounts} accounts and {documents} documents of 256 KiB; production changed every account, \
         added {new_accounts}, rewrote half the documents, dropped {churned_documents}, added {churned_documents}; \
         refreshed by pg_dump -Fc | pg_restore into a new database; every restore checked equal to acceptance"
    );
    line(
        "restore (both tables)",
        &by_vault,
        "TRUNCATE + pg_restore",
        &by_pg_restore,
        0.8,
    );
    line(
        "restore (both tables)",
        &by_vault,
        "TRUNCATE + binary COPY",
        &by_copy,
        1.5,
    );
    line(
        "restore (referenced accounts only)",
        &accounts_by_vault,
        "TRUNCATE + binary COPY",
        &accounts_by_copy,
        2.0,
    );
    line(
        "capture",
        &capture,
        "binary COPY TO /dev/null",
        &copy_out,
        2.0,
    );
    line("capture", &capture, "pg_dump -Fc", &dumped, 1.0);
    println!(
        "size:     vault {:7.1} MiB   pg_dump -Fc {:7.1} MiB   ratio {:.2} (target <= 1.00)",
        size(&vault_file),
        size(&dump),
        size(&vault_file) / size(&dump)
    );
    if std::env::var_os("VAULT_BENCH_KEEP").is_none() {
        for db in ALL {
            psql(&server, &format!("DROP DATABASE IF EXISTS {db}"));
        }
    }
}

/// One result line: vault's time and peak against a reference's, with the ratio's target.
fn line(step: &str, vault: &Timing, tool: &str, reference: &Timing, target: f64) {
    println!(
        "{step:<35} vault {:6.2} s   {tool:<24} {:6.2} s   ratio {:.2} (target <= {target:.2})   peak {:.0} MiB ({:.0} MiB)",
        vault.secs,
        reference.secs,
        vault.secs / reference.secs,
        vault.peak_mib,
        reference.peak_mib
    );
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

/// `psql -f` of a script written to `path` (for `\copy`, which `-c` runs alone).
fn psql_script(url: &str, path: &PathBuf, script: &str) -> Command {
    std::fs::write(path, script).unwrap();
    let mut command = Command::new("psql");
    command
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f"])
        .arg(path);
    command
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
