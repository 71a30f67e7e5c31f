//! `vault init` on PostgreSQL, through the real binary: a clinic schema's accounts, 2FA and settings proposed with their keys, the application's role found from the ACLs, the file accepted by `vault capture` and the same on every run; rows compared with production; pagila's `staff` proposed and `customer.email` a sanitize candidate; a server that does not answer writes nothing.

mod common;

use common::pg::{self, ACC_URL_ENV, Db, Site};
use common::{Run, s, vault};

const PROD_ENV: &str = "PROD_DATABASE_URL";
const SAMPLED_EMAIL: &str = "zeb.sampled@clinic.example";

fn clinic(db: &Db, role: &str) {
    db.exec(&format!(
        "CREATE SCHEMA camis;
         CREATE TABLE camis.app_user (user_id int PRIMARY KEY, login text NOT NULL, password_hash text);
         CREATE TABLE camis.user_webauthn (user_id int, credential_id text, PRIMARY KEY (user_id, credential_id));
         CREATE TABLE camis.app_parameter (name text PRIMARY KEY, value text);
         CREATE TABLE camis.patient (patient_id int PRIMARY KEY, email text, birth_date date, notes text);
         CREATE TABLE camis.assessment (assessment_id int PRIMARY KEY, patient_id int, taken_at timestamptz NOT NULL);
         CREATE TABLE camis.mer_document (doc_id int PRIMARY KEY, body bytea);
         INSERT INTO camis.app_user VALUES (1, 'tester', 'h1'), (2, 'nurse', 'h2');
         INSERT INTO camis.user_webauthn VALUES (1, 'cred-1');
         INSERT INTO camis.app_parameter VALUES ('environment', 'acceptance');
         INSERT INTO camis.patient VALUES (1, '{SAMPLED_EMAIL}', '1980-01-01', 'patient reports mild pain'),
                                          (2, 'bo@clinic.example', NULL, NULL);
         GRANT USAGE ON SCHEMA camis TO {role};
         GRANT SELECT, UPDATE ON camis.app_user TO {role};"
    ));
}

fn init(site_url: &str, extra: &[&str], env: &[(&str, &str)]) -> Run {
    let mut args = vec!["init", "--url-env", ACC_URL_ENV];
    args.extend_from_slice(extra);
    let mut all = vec![(ACC_URL_ENV, site_url)];
    all.extend_from_slice(env);
    vault(args, &all)
}

#[test]
fn init_proposes_the_clinic_and_its_role_and_capture_accepts_it() {
    let Some(server) = pg::server("init_proposes_the_clinic_and_its_role_and_capture_accepts_it")
    else {
        return;
    };
    let role = server.role("init_app");
    let db = server.database("init_clinic");
    clinic(&db, &role.name);
    let run = init(&db.url(), &[], &[]).expect(0);
    let toml = &run.stdout;
    for entry in [
        "[[preserve]]\ntable = \"camis.app_user\"\nkey = [\"user_id\"]\nmode = \"replace\"\n",
        "[[preserve]]\ntable = \"camis.user_webauthn\"\nkey = [\"user_id\", \"credential_id\"]\nmode = \"replace\"\n",
        "[[preserve]]\ntable = \"camis.app_parameter\"\nkey = [\"name\"]\nmode = \"upsert\"\n",
    ] {
        assert!(toml.contains(entry), "no {entry:?} in:\n{toml}");
    }
    assert!(toml.contains("two-factor enrollment: table name matches \"webauthn\""));
    assert!(!toml.contains("table = \"camis.patient\"\nkey"), "{toml}");
    assert!(
        toml.contains(&format!("[grants]\nroles = [\"{}\"]\n", role.name)),
        "{toml}"
    );
    for line in [
        "#   email (text): e-mail (name matches \"email\"); e-mail pattern matched 100% of 2 sampled values",
        "#   birth_date (date): birth date (name matches \"birth\"); by its type",
        "# camis.mer_document: documents in body (bytea)",
        "# camis.assessment: clinical-looking table (name matches \"assessment\"); dates for a cut-off: taken_at (timestamp with time zone)",
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

    // Read-only: the survey changed nothing, and capture takes the file as is.
    let site = Site::new(&db);
    std::fs::write(&site.config, toml).unwrap();
    let capture = site.capture().expect(0);
    assert!(capture.stdout.contains("camis.app_user"), "{capture:#?}");
}

#[test]
fn with_production_the_differing_accounts_come_first() {
    let Some(server) = pg::server("with_production_the_differing_accounts_come_first") else {
        return;
    };
    let role = server.role("init_prod");
    let acceptance = server.database("init_acc");
    let production = server.database("init_prod");
    clinic(&acceptance, &role.name);
    clinic(&production, &role.name);
    production.exec(
        "INSERT INTO camis.app_user VALUES (3, 'doctor', 'h3');
         CREATE TABLE camis.prod_only (id int PRIMARY KEY);",
    );
    acceptance.exec("CREATE TABLE camis.test_log (id int PRIMARY KEY, line text);");
    let run = init(
        &acceptance.url(),
        &["--production-url-env", PROD_ENV],
        &[(PROD_ENV, &production.url())],
    )
    .expect(0);
    let toml = &run.stdout;
    let first = toml.find("[[preserve]]").unwrap();
    assert!(
        toml[first..].starts_with("[[preserve]]\ntable = \"camis.app_user\""),
        "{toml}"
    );
    assert!(toml.contains("# production: the rows differ (acceptance 2 rows, production 3 rows)\n[[preserve]]\ntable = \"camis.app_user\""), "{toml}");
    assert!(toml.contains("# production: the same 1 rows"), "{toml}");
    assert!(
        toml.contains("(production has no table of these names) ----\n# camis.test_log\n"),
        "{toml}"
    );
    assert!(!toml.contains("prod_only"), "{toml}");

    let site = Site::new(&acceptance);
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
    let run = init("postgres://vault:s3cret-pw@127.0.0.1:1/acc", &[], &[]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stdout.is_empty());
    assert!(
        run.error_line()
            .starts_with("postgres://vault:***@127.0.0.1:1/acc: cannot connect"),
        "{run:#?}"
    );
    assert!(!run.stderr.contains("s3cret-pw"));
}

/// Builds pagila into `db` with the fixture's own script.
fn pagila(db: &Db) {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pagila/build.sh");
    let status = std::process::Command::new(&script)
        .arg(db.url())
        .status()
        .expect("the fixture script runs");
    assert!(status.success(), "the pagila fixture did not build");
}

#[test]
fn pagila_staff_is_preserved_and_customer_email_is_a_sanitize_candidate() {
    let Some(server) =
        pg::server("pagila_staff_is_preserved_and_customer_email_is_a_sanitize_candidate")
    else {
        return;
    };
    let db = server.database("init_pagila");
    pagila(&db);
    // People in pagila's own shapes (the fixture holds films and actors
    // only); foreign keys held off, as pagila's own data load does.
    db.exec(
        "SET session_replication_role = replica;
         INSERT INTO public.address (address_id, address, district, city_id, postal_code, phone)
         SELECT i, i || ' Fixture Lane', 'District', 1, lpad(i::text, 5, '0'), '1400' || lpad(i::text, 6, '0')
         FROM generate_series(1, 250) i;
         INSERT INTO public.staff (staff_id, first_name, last_name, address_id, email, store_id, username, password)
         VALUES (1, 'Ada', 'Fixture', 1, 'Ada.Fixture@sakilastaff.example', 1, 'Ada', 'h1'),
                (2, 'Ben', 'Fixture', 2, 'Ben.Fixture@sakilastaff.example', 1, 'Ben', 'h2');
         INSERT INTO public.store (store_id, manager_staff_id, address_id) VALUES (1, 1, 1);
         INSERT INTO public.customer (customer_id, store_id, first_name, last_name, email, address_id)
         SELECT i, 1, 'FIRST', 'LAST', 'CUSTOMER' || i || '@sakilacustomer.example', i
         FROM generate_series(1, 250) i;
         SET session_replication_role = DEFAULT;",
    );
    let run = init(&db.url(), &[], &[]).expect(0);
    let toml = &run.stdout;
    assert!(
        toml.contains("# accounts: table name matches \"staff\"; credentials: column password matches \"password\"\n[[preserve]]\ntable = \"public.staff\"\nkey = [\"staff_id\"]\nmode = \"replace\"\n"),
        "{toml}"
    );
    assert!(
        toml.lines().any(|l| l.starts_with("#   email (text): e-mail (name matches \"email\"); e-mail pattern matched 100% of 200 sampled values")),
        "{toml}"
    );
    assert!(toml.contains("# public.customer: columns that may hold personal data"));
    assert!(
        toml.contains("#   phone (text): phone (name matches \"phone\"); phone-number pattern matched 100% of 200 sampled values"),
        "{toml}"
    );
    assert!(
        toml.contains("# public.staff: documents in picture (bytea)"),
        "{toml}"
    );
    assert!(!toml.contains("table = \"public.film\"\nkey"), "{toml}");
    let site = Site::new(&db);
    std::fs::write(&site.config, toml).unwrap();
    site.capture().expect(0);
}
