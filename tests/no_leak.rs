//! Nothing leaks from a whole refresh day: capture, a real refresh, and the full restore pipeline on PostgreSQL and on MariaDB, then every file of the run's folder (the vault, the report, any temporary file), stdout, stderr and, where the test can read it, the server's log are searched for the planted secrets: row values of preserved and sanitized tables, a row key, the passphrase, the URL's password and a user mapping's password.

mod common;

use std::path::Path;

use common::{Run, mysql, pg, s, vault};

/// Every file under `dir`, read as bytes, with its path.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            found.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    found
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// No secret in any output of the runs nor in any file under `dir` (the
/// configuration, which holds none, aside).
fn assert_nothing_leaked(runs: &[&Run], dir: &Path, secrets: &[&str]) {
    for secret in secrets {
        for run in runs {
            assert!(
                !run.stdout.contains(secret) && !run.stderr.contains(secret),
                "{secret} in the output of {run:#?}"
            );
        }
        for (path, bytes) in files(dir) {
            assert!(!contains(&bytes, secret), "{secret} in {path}");
        }
    }
}

/// `url` with a password, which the trust authentication of the test
/// server ignores.
fn with_password(url: &str, password: &str) -> String {
    let at = url.find("://").unwrap() + 3;
    let user_end = url[at..].find('@').unwrap() + at;
    let user = url[at..user_end].split(':').next().unwrap();
    format!("{}{user}:{password}{}", &url[..at], &url[user_end..])
}

const PASSPHRASE: &str = "Passphrase-0f-the-day-7731";
const URL_PASSWORD: &str = "Url-Pa55word-5519";
const LOGIN: &str = "tester.planted-4417";
const TOTP: &str = "TOTPSECRETPLANTED2291";
const PATIENT: &str = "Johanna Plantinga-de Vries";
const KEY: &str = "884422117";

fn run_day(
    dir: &Path,
    acceptance_url: &str,
    production_url: &str,
    refresh: impl FnOnce(),
) -> (Run, Run) {
    let config = dir.join("vault.toml");
    std::fs::write(
        &config,
        "[acceptance]\nurl_env = \"ACC_DATABASE_URL\"\n\n[production]\nurl_env = \"PROD_DATABASE_URL\"\n
[[preserve]]\ntable = \"app_user\"\n\n[[sanitize]]\ntable = \"patient\"\ndelete_all = true\n",
    )
    .unwrap();
    let out = dir.join("acc.vault");
    let env = [
        ("ACC_DATABASE_URL", acceptance_url),
        ("PROD_DATABASE_URL", production_url),
        ("VAULT_PASSPHRASE", PASSPHRASE),
    ];
    let capture = vault(["capture", "--config", s(&config), "--out", s(&out)], &env).expect(0);
    refresh();
    let report = dir.join("report");
    let restore = vault(
        [
            "restore",
            s(&out),
            "--config",
            s(&config),
            "--report-dir",
            s(&report),
        ],
        &env,
    );
    assert!(restore.code == 0 || restore.code == 3, "{restore:#?}");
    (capture, restore)
}

#[test]
fn a_postgres_refresh_day_leaks_nothing() {
    let Some(server) = pg::server("a_postgres_refresh_day_leaks_nothing") else {
        return;
    };
    const MAPPING: &str = "Mapping-Pa55-8812";
    let production = server.database("leak_prod");
    production.exec(&format!(
        "CREATE TABLE app_user (id int PRIMARY KEY, login text NOT NULL, totp text);
         CREATE TABLE patient (id int PRIMARY KEY, name text NOT NULL);
         INSERT INTO app_user VALUES (1, 'dr.visser', 'PRODTOTP');
         INSERT INTO patient VALUES (1, '{PATIENT}');
         CREATE EXTENSION postgres_fdw;
         CREATE SERVER neighbour FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'prod-neighbour', dbname 'emr');"
    ));
    let acceptance = server.database("leak_acc");
    acceptance.exec(&format!(
        "CREATE TABLE app_user (id int PRIMARY KEY, login text NOT NULL, totp text);
         CREATE TABLE patient (id int PRIMARY KEY, name text NOT NULL);
         INSERT INTO app_user VALUES (1, 'acc.admin', 'ACCTOTP'), ({KEY}, '{LOGIN}', '{TOTP}');
         CREATE EXTENSION postgres_fdw;
         CREATE SERVER neighbour FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'acc-neighbour', dbname 'emr');
         CREATE USER MAPPING FOR CURRENT_USER SERVER neighbour OPTIONS (user 'acc', password '{MAPPING}');"
    ));
    let log_before = std::fs::read_to_string("/var/log/postgresql/postgresql-15-main.log")
        .map(|l| l.len())
        .ok();
    let dir = tempfile::tempdir().unwrap();
    let (capture, restore) = run_day(
        dir.path(),
        &with_password(&acceptance.url(), URL_PASSWORD),
        &with_password(&production.url(), URL_PASSWORD),
        || server.refresh(&acceptance, &production),
    );
    assert_eq!(
        acceptance.one(&format!("SELECT login FROM app_user WHERE id = {KEY}")),
        LOGIN,
        "the run did restore"
    );
    let secrets = [PASSPHRASE, URL_PASSWORD, LOGIN, TOTP, PATIENT, KEY, MAPPING];
    assert_nothing_leaked(&[&capture, &restore], dir.path(), &secrets);
    match (
        log_before,
        std::fs::read_to_string("/var/log/postgresql/postgresql-15-main.log"),
    ) {
        (Some(before), Ok(log)) => {
            let new = log.get(before..).unwrap_or(&log);
            for secret in secrets {
                assert!(!new.contains(secret), "{secret} in the server log");
            }
        }
        _ => println!(
            "a_postgres_refresh_day_leaks_nothing: the server log is not readable here; checked the files and outputs only"
        ),
    }
}

#[test]
fn a_mariadb_refresh_day_leaks_nothing() {
    let Some(server) = mysql::server("a_mariadb_refresh_day_leaks_nothing") else {
        return;
    };
    let production = server.database("leak_prod");
    production.exec(&format!(
        "CREATE TABLE app_user (id int PRIMARY KEY, login varchar(40) NOT NULL, totp varchar(40));
         CREATE TABLE patient (id int PRIMARY KEY, name varchar(60) NOT NULL);
         INSERT INTO app_user VALUES (1, 'dr.visser', 'PRODTOTP');
         INSERT INTO patient VALUES (1, '{PATIENT}');"
    ));
    let acceptance = server.database("leak_acc");
    acceptance.exec(&format!(
        "CREATE TABLE app_user (id int PRIMARY KEY, login varchar(40) NOT NULL, totp varchar(40));
         CREATE TABLE patient (id int PRIMARY KEY, name varchar(60) NOT NULL);
         INSERT INTO app_user VALUES (1, 'acc.admin', 'ACCTOTP'), ({KEY}, '{LOGIN}', '{TOTP}');"
    ));
    // An account with a password, so that the URL's password is real.
    let account = server.account("leak_user");
    server.admin(&format!(
        "ALTER USER '{0}'@'%' IDENTIFIED BY '{URL_PASSWORD}' ACCOUNT UNLOCK;
         GRANT ALL ON `{1}`.* TO '{0}'@'%'; GRANT ALL ON `{2}`.* TO '{0}'@'%';",
        account.name, acceptance.name, production.name
    ));
    let as_account = |url: &str| {
        let at = url.find("://").unwrap() + 3;
        let user_end = url[at..].find('@').unwrap() + at;
        format!(
            "{}{}:{URL_PASSWORD}{}",
            &url[..at],
            account.name,
            &url[user_end..]
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let (capture, restore) = run_day(
        dir.path(),
        &as_account(&acceptance.url()),
        &as_account(&production.url()),
        || server.refresh(&acceptance, &production),
    );
    assert_eq!(
        acceptance.one(&format!("SELECT login FROM app_user WHERE id = {KEY}")),
        LOGIN,
        "the run did restore"
    );
    let secrets = [PASSPHRASE, URL_PASSWORD, LOGIN, TOTP, PATIENT, KEY];
    assert_nothing_leaked(&[&capture, &restore], dir.path(), &secrets);
}
