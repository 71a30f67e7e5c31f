//! `vault init` on MariaDB/MySQL, through the real binary: accounts, 2FA and settings proposed with their keys, the account holding privileges on the database found for `[grants]` (root left out), BLOB documents and e-mail columns as sanitize candidates without a value shown, the same text on every run, accepted unchanged by `vault capture`; with production, differing tables first.

mod common;

use common::mysql::{self, ACC_URL_ENV, Db, Site};
use common::{Run, s, vault};

const PROD_ENV: &str = "PROD_DATABASE_URL";
const SAMPLED_EMAIL: &str = "zeb.sampled@clinic.example";

fn clinic(db: &Db) {
    db.exec(&format!(
        "CREATE TABLE app_user (user_id INT PRIMARY KEY, login VARCHAR(50) NOT NULL, password_hash VARCHAR(100));
         CREATE TABLE user_mfa (user_id INT PRIMARY KEY, secret VARCHAR(64) NOT NULL);
         CREATE TABLE app_config (name VARCHAR(64) PRIMARY KEY, value TEXT);
         CREATE TABLE patient (patient_id INT PRIMARY KEY, email VARCHAR(200), date_of_birth DATE);
         CREATE TABLE portal_document (doc_id INT PRIMARY KEY, body LONGBLOB NOT NULL);
         INSERT INTO app_user VALUES (1, 'tester', 'h1'), (2, 'nurse', 'h2');
         INSERT INTO user_mfa VALUES (1, 'JBSWY3DP');
         INSERT INTO app_config VALUES ('environment', 'acceptance');
         INSERT INTO patient VALUES (1, '{SAMPLED_EMAIL}', '1980-01-01'), (2, 'bo@clinic.example', NULL);
         INSERT INTO portal_document VALUES (1, X'00FF');"
    ));
}

fn init(url: &str, extra: &[&str], env: &[(&str, &str)]) -> Run {
    let mut args = vec!["init", "--url-env", ACC_URL_ENV];
    args.extend_from_slice(extra);
    let mut all = vec![(ACC_URL_ENV, url)];
    all.extend_from_slice(env);
    vault(args, &all)
}

#[test]
fn init_proposes_the_clinic_and_its_account_and_capture_accepts_it() {
    let Some(server) =
        mysql::server("init_proposes_the_clinic_and_its_account_and_capture_accepts_it")
    else {
        return;
    };
    let account = server.account("init_app");
    let db = server.database("init_clinic");
    clinic(&db);
    server.admin(&format!(
        "GRANT SELECT, UPDATE ON `{}`.app_user TO '{}'@'%'",
        db.name, account.name
    ));
    let run = init(&db.url(), &[], &[]).expect(0);
    let toml = &run.stdout;
    for entry in [
        "[[preserve]]\ntable = \"app_user\"\nkey = [\"user_id\"]\nmode = \"replace\"\n",
        "[[preserve]]\ntable = \"user_mfa\"\nkey = [\"user_id\"]\nmode = \"replace\"\n",
        "[[preserve]]\ntable = \"app_config\"\nkey = [\"name\"]\nmode = \"upsert\"\n",
        "[[preserve]]\ntable = \"portal_document\"\nkey = [\"doc_id\"]\nmode = \"replace\"\n",
    ] {
        assert!(toml.contains(entry), "no {entry:?} in:\n{toml}");
    }
    assert!(
        toml.contains(&format!("[grants]\nroles = [\"'{}'@'%'\"]\n", account.name)),
        "{toml}"
    );
    assert!(!toml.contains("'root'"), "{toml}");
    for line in [
        "#   email (varchar(200)): e-mail (name matches \"email\"); e-mail pattern matched 100% of 2 sampled values",
        "#   date_of_birth (date): birth date (name matches \"birth\"); by its type",
        "# portal_document: documents in body (longblob)",
    ] {
        assert!(
            toml.lines().any(|l| l == line),
            "no line {line:?} in:\n{toml}"
        );
    }
    assert!(!toml.contains(SAMPLED_EMAIL) && !run.stderr.contains(SAMPLED_EMAIL));
    assert_eq!(
        init(&db.url(), &[], &[]).expect(0).stdout,
        *toml,
        "not deterministic"
    );

    let site = Site::with_url(&db.url());
    std::fs::write(&site.config, toml).unwrap();
    let capture = site.capture().expect(0);
    assert!(capture.stdout.contains("app_user"), "{capture:#?}");
}

#[test]
fn with_production_the_differing_accounts_come_first() {
    let Some(server) = mysql::server("with_production_the_differing_accounts_come_first") else {
        return;
    };
    let acceptance = server.database("init_acc");
    let production = server.database("init_prod");
    clinic(&acceptance);
    clinic(&production);
    production.exec("INSERT INTO app_user VALUES (3, 'doctor', 'h3');");
    acceptance.exec("CREATE TABLE test_log (id INT PRIMARY KEY, line TEXT);");
    let run = init(
        &acceptance.url(),
        &["--production-url-env", PROD_ENV],
        &[(PROD_ENV, &production.url())],
    )
    .expect(0);
    let toml = &run.stdout;
    let first = toml.find("[[preserve]]").unwrap();
    assert!(
        toml[first..].starts_with("[[preserve]]\ntable = \"app_user\""),
        "{toml}"
    );
    assert!(
        toml.contains("# production: the rows differ (acceptance 2 rows, production 3 rows)"),
        "{toml}"
    );
    assert!(toml.contains("# production: the same 1 rows"), "{toml}");
    assert!(
        toml.contains("(production has no table of these names) ----\n# test_log\n"),
        "{toml}"
    );
    let site = Site::with_url(&acceptance.url());
    std::fs::write(&site.config, toml).unwrap();
    vault(
        [
            "capture",
            "--config",
            s(&site.config),
            "--out",
            s(&site.vault),
            "--key-file",
            s(&site.key),
        ],
        &[
            (ACC_URL_ENV, acceptance.url().as_str()),
            (PROD_ENV, production.url().as_str()),
        ],
    )
    .expect(0);
}

#[test]
fn a_server_that_does_not_answer_writes_nothing() {
    let run = init("mysql://vault:s3cret-pw@127.0.0.1:1/acc", &[], &[]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stdout.is_empty());
    assert!(run.error_line().contains("127.0.0.1:1"), "{run:#?}");
    assert!(!run.stderr.contains("s3cret-pw"));
}
