//! `vault init` on SQLite files, through the real binary: the proposed vault.toml names what acceptance owns with its reasons, shows sanitize candidates with match rates and never a sampled value, is the same text on every run, and is accepted unchanged by `vault capture`; with production, differing tables come first; bad input writes nothing to stdout.

mod common;

use std::path::{Path, PathBuf};

use common::workflow::exec;
use common::{Run, key_file, s, vault};

const ACC_ENV: &str = "ACC_DATABASE_URL";
const PROD_ENV: &str = "PROD_DATABASE_URL";

/// Values that must never appear in the output: they are sampled.
const SAMPLED_EMAIL: &str = "ann.sampled@clinic.example";
const SAMPLED_NAME: &str = "Zebediah";

const TABLES: &str = "
CREATE TABLE app_user (user_id INTEGER PRIMARY KEY, username TEXT NOT NULL, password_hash TEXT);
CREATE TABLE user_totp (user_id INTEGER PRIMARY KEY, secret TEXT NOT NULL);
CREATE TABLE app_setting (name TEXT PRIMARY KEY, value TEXT);
CREATE TABLE audit_log (line TEXT);
CREATE TABLE patient (
    patient_id INTEGER PRIMARY KEY, first_name TEXT NOT NULL, contact TEXT,
    phone TEXT, birth_date DATE, admitted_at TIMESTAMP);
CREATE TABLE portal_document (doc_id INTEGER PRIMARY KEY, content BLOB NOT NULL);
CREATE TABLE film (film_id INTEGER PRIMARY KEY, title TEXT NOT NULL);
";

fn rows() -> String {
    format!(
        "INSERT INTO app_user VALUES (1, 'tester', 'h1'), (2, 'nurse', 'h2');
         INSERT INTO user_totp VALUES (1, 'JBSWY3DP');
         INSERT INTO app_setting VALUES ('environment', 'acceptance');
         INSERT INTO patient VALUES
           (1, '{SAMPLED_NAME}', '{SAMPLED_EMAIL}', '+31 20 555 0101', '1980-01-01', '2024-01-01'),
           (2, 'Mary', 'mary@clinic.example', '+31 20 555 0102', '1990-02-02', '2024-02-01'),
           (3, 'Room 7', 'not an address', '555', NULL, NULL),
           (4, 'Piet', 'piet@clinic.example', '020-5550104', NULL, NULL);
         INSERT INTO portal_document VALUES (1, x'00ff');
         INSERT INTO film VALUES (1, 'Academy Dinosaur');"
    )
}

struct Files {
    dir: tempfile::TempDir,
    acceptance: PathBuf,
    key: PathBuf,
}

impl Files {
    fn new() -> Files {
        let dir = tempfile::tempdir().unwrap();
        let acceptance = dir.path().join("acceptance.db");
        exec(&acceptance, TABLES);
        exec(&acceptance, &rows());
        let (key, _) = key_file(dir.path(), "acc.key");
        Files {
            dir,
            acceptance,
            key,
        }
    }

    fn url(path: &Path) -> String {
        format!("sqlite:{}", s(path))
    }

    fn init(&self, extra: &[&str], env: &[(&str, &str)]) -> Run {
        let mut args = vec!["init", "--url-env", ACC_ENV];
        args.extend_from_slice(extra);
        vault(args, env)
    }

    fn init_acceptance(&self) -> Run {
        self.init(&[], &[(ACC_ENV, &Files::url(&self.acceptance))])
    }
}

/// The text of the `[[preserve]]` entry of `table`, up to the blank line.
fn preserve_entry<'a>(toml: &'a str, table: &str) -> &'a str {
    let marker = format!("[[preserve]]\ntable = \"{table}\"\n");
    let start = toml
        .find(&marker)
        .unwrap_or_else(|| panic!("no [[preserve]] of {table} in:\n{toml}"));
    let end = toml[start..].find("\n\n").map_or(toml.len(), |e| start + e);
    &toml[start..end]
}

/// The comment lines just above the `[[preserve]]` entry of `table`.
fn reason_of<'a>(toml: &'a str, table: &str) -> &'a str {
    let marker = format!("[[preserve]]\ntable = \"{table}\"\n");
    let start = toml.find(&marker).unwrap();
    let block_start = toml[..start].rfind("\n\n").map_or(0, |b| b + 2);
    &toml[block_start..start]
}

#[test]
fn init_proposes_what_acceptance_owns_with_reasons_and_capture_accepts_it() {
    let files = Files::new();
    let run = files.init_acceptance().expect(0);
    let toml = &run.stdout;
    assert!(toml.contains("[acceptance]\nurl_env = \"ACC_DATABASE_URL\"\n"));
    assert!(!toml.contains("[production]"));

    assert_eq!(
        preserve_entry(toml, "app_user"),
        "[[preserve]]\ntable = \"app_user\"\nkey = [\"user_id\"]\nmode = \"replace\""
    );
    let reason = reason_of(toml, "app_user");
    assert!(
        reason.contains("accounts: table name matches \"user\""),
        "{reason}"
    );
    assert!(
        reason.contains("credentials: column password_hash matches \"password\""),
        "{reason}"
    );
    assert!(
        reason_of(toml, "user_totp").contains("two-factor enrollment: table name matches \"totp\"")
    );
    assert!(preserve_entry(toml, "app_setting").ends_with("mode = \"upsert\""));
    assert!(reason_of(toml, "portal_document").contains("portal or trial setup"));
    assert!(!toml.contains("table = \"film\""), "{toml}");
    assert!(!toml.contains("table = \"audit_log\""), "{toml}");
    assert!(toml.contains("# [grants]: SQLite has no roles or grants"));

    // Sanitize candidates, commented out, with evidence.
    for line in [
        "#   first_name (TEXT): name (name matches \"first_name\"); person-name pattern matched 75% of 4 sampled values",
        "#   contact (TEXT): e-mail (by its values); e-mail pattern matched 75% of 4 sampled values",
        "#   phone (TEXT): phone (name matches \"phone\"); phone-number pattern matched 75% of 4 sampled values",
        "#   birth_date (DATE): birth date (name matches \"birth\"); by its type",
        "# patient: clinical-looking table (name matches \"patient\"); dates for a cut-off: admitted_at (TIMESTAMP)",
        "# portal_document: documents in content (BLOB)",
    ] {
        assert!(
            toml.lines().any(|l| l == line),
            "no line {line:?} in:\n{toml}"
        );
    }
    assert!(!toml.lines().any(|l| l == "[[sanitize]]"), "{toml}");
    for value in [
        SAMPLED_EMAIL,
        SAMPLED_NAME,
        "mary@clinic.example",
        "555 0101",
    ] {
        assert!(
            !run.stdout.contains(value) && !run.stderr.contains(value),
            "{value} shown"
        );
    }

    // The file is a configuration `vault capture` takes unchanged.
    let config = files.dir.path().join("vault.toml");
    std::fs::write(&config, toml).unwrap();
    let out = files.dir.path().join("acc.vault");
    let capture = vault(
        [
            "capture",
            "--config",
            s(&config),
            "--out",
            s(&out),
            "--key-file",
            s(&files.key),
        ],
        &[(ACC_ENV, &Files::url(&files.acceptance))],
    )
    .expect(0);
    for table in ["app_user", "user_totp", "app_setting", "portal_document"] {
        assert!(
            capture.stdout.contains(table),
            "{table} not captured: {capture:#?}"
        );
    }

    // Uncommented, the sanitize candidates are valid configuration too.
    let uncommented: String = toml
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest)
                if rest.starts_with("[[sanitize]]")
                    || rest.starts_with("table = ")
                    || rest.starts_with("set_null = ")
                    || rest.starts_with("set = ")
                    || rest.starts_with("delete_all = ")
                    || rest.starts_with("delete_where = ") =>
            {
                rest.to_owned()
            }
            _ => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(uncommented.contains("\n[[sanitize]]\ntable = \"patient\"\nset_null = [\"contact\", \"phone\", \"birth_date\"]"), "{uncommented}");
    std::fs::write(&config, &uncommented).unwrap();
    let inspect = vault(["inspect", s(&out)], &[]).expect(0);
    assert!(inspect.stdout.contains("app_user"));
    let sanitize_dry = vault(
        ["sanitize", "--config", s(&config), "--dry-run"],
        &[(ACC_ENV, &Files::url(&files.acceptance))],
    );
    // The configuration parses (a validation failure would be exit 2); the
    // cut-off's placeholder date is the operator's to choose.
    assert_ne!(sanitize_dry.code, 2, "{sanitize_dry:#?}");
}

#[test]
fn init_gives_the_same_text_on_every_run() {
    let files = Files::new();
    let first = files.init_acceptance().expect(0).stdout;
    let second = files.init_acceptance().expect(0).stdout;
    assert_eq!(first, second);
}

#[test]
fn with_production_differing_tables_come_first_and_acceptance_only_tables_are_listed() {
    let files = Files::new();
    let production = files.dir.path().join("production.db");
    exec(&production, TABLES);
    exec(&production, &rows());
    // Production's accounts differ; its 2FA and settings are the same; it
    // has no audit_log.
    exec(
        &production,
        "UPDATE app_user SET password_hash = 'prod' WHERE user_id = 2;
         INSERT INTO app_user VALUES (3, 'doctor', 'h3'); DROP TABLE audit_log;",
    );
    let run = files
        .init(
            &["--production-url-env", PROD_ENV],
            &[
                (ACC_ENV, &Files::url(&files.acceptance)),
                (PROD_ENV, &Files::url(&production)),
            ],
        )
        .expect(0);
    let toml = &run.stdout;
    assert!(toml.contains("[production]\nurl_env = \"PROD_DATABASE_URL\"\n"));
    let first = toml.find("[[preserve]]").unwrap();
    assert!(
        toml[first..].starts_with("[[preserve]]\ntable = \"app_user\""),
        "{toml}"
    );
    assert!(
        reason_of(toml, "app_user")
            .contains("# production: the rows differ (acceptance 2 rows, production 3 rows)")
    );
    assert!(reason_of(toml, "user_totp").contains("# production: the same 1 rows"));
    assert!(
        toml.contains("# ---- Tables only in acceptance (production has no table of these names) ----\n# audit_log\n"),
        "{toml}"
    );
    // Capture accepts it with both variables set.
    let config = files.dir.path().join("vault.toml");
    std::fs::write(&config, toml).unwrap();
    vault(
        [
            "capture",
            "--config",
            s(&config),
            "--out",
            s(&files.dir.path().join("acc.vault")),
            "--key-file",
            s(&files.key),
        ],
        &[
            (ACC_ENV, &Files::url(&files.acceptance)),
            (PROD_ENV, &Files::url(&production)),
        ],
    )
    .expect(0);
}

#[test]
fn bad_input_gets_one_message_its_exit_code_and_no_output() {
    let files = Files::new();
    let missing = files.dir.path().join("missing.db");
    let cases: Vec<(&str, Run, i32, &str)> = vec![
        (
            "missing variable",
            files.init(&[], &[]),
            2,
            "--url-env: the environment variable ACC_DATABASE_URL is not set",
        ),
        (
            "missing production variable",
            files.init(
                &["--production-url-env", PROD_ENV],
                &[(ACC_ENV, &Files::url(&files.acceptance))],
            ),
            2,
            "--production-url-env: the environment variable PROD_DATABASE_URL is not set",
        ),
        (
            "not a URL",
            files.init(&[], &[(ACC_ENV, "oracle://acc")]),
            2,
            "--url-env: the URL in ACC_DATABASE_URL: the scheme \"oracle\" is not supported",
        ),
        (
            "unreachable database",
            files.init(&[], &[(ACC_ENV, &Files::url(&missing))]),
            1,
            "does not exist",
        ),
        (
            "unknown flag",
            vault(
                ["init", "--url-env", ACC_ENV, "--url", "sqlite:/x.db"],
                &[(ACC_ENV, &Files::url(&files.acceptance))],
            ),
            2,
            "unexpected argument '--url'",
        ),
    ];
    for (case, run, code, message) in cases {
        assert_eq!(run.code, code, "{case}: {run:#?}");
        assert!(run.stdout.is_empty(), "{case}: stdout {:?}", run.stdout);
        assert!(run.error_line().contains(message), "{case}: {run:#?}");
        assert_eq!(
            run.stderr
                .lines()
                .filter(|l| l.starts_with("error:"))
                .count(),
            1,
            "{case}: {run:#?}"
        );
    }
    assert!(!missing.exists(), "init never creates a database");
}
