//! The run report on PostgreSQL: written by `vault restore` against a server reached
//! with a password in its URL, it holds the target without the password anywhere.

mod common;

use common::pg::{Site, server};
use common::s;

const PASSWORD: &str = "s3cr3t-Pw-in-url";

#[test]
fn the_report_never_holds_the_urls_password() {
    let Some(server) = server("the_report_never_holds_the_urls_password") else {
        return;
    };
    let acceptance = server.database("report_pw");
    acceptance.exec(
        "CREATE TABLE app_user (id int PRIMARY KEY, login text NOT NULL);
         INSERT INTO app_user VALUES (1, 'acc.one'), (2, 'acc.two');",
    );
    // Trust authentication ignores the password, so the URL still connects.
    let url = acceptance.url();
    let (scheme, rest) = url.split_once("://").unwrap();
    let (user, host) = rest
        .split_once('@')
        .expect("a user in the test server's URL");
    let user = user.split(':').next().unwrap();
    let with_password = format!("{scheme}://{user}:{PASSWORD}@{host}");
    let site = Site::with_url(&with_password);
    site.configure("[[preserve]]\ntable = \"app_user\"\n");
    site.capture().expect(0);
    acceptance.exec("DELETE FROM app_user WHERE id = 2");

    let dir = site.dir.path().join("report");
    let run = site.restore(&["--report-dir", s(&dir)]).expect(0);
    assert!(!run.stdout.contains(PASSWORD) && !run.stderr.contains(PASSWORD));
    assert_eq!(
        acceptance.rows("SELECT login FROM app_user ORDER BY id"),
        ["acc.one", "acc.two"]
    );
    for name in ["report.json", "report.md", "report.html"] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        assert!(
            !text.contains(PASSWORD),
            "{name} holds the password:\n{text}"
        );
        // Markdown escapes the underscores of the name.
        let shown = if name == "report.md" {
            acceptance.name.replace('_', "\\_")
        } else {
            acceptance.name.clone()
        };
        assert!(text.contains(&shown), "{name} names the target:\n{text}");
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let target_url = report["target"]["url"].as_str().unwrap();
    assert!(target_url.starts_with("postgres"), "{target_url}");
    assert!(target_url.contains(&acceptance.name), "{target_url}");
    assert_eq!(report["outcome"], "ok", "{report:#}");
    site.vault_with(&["report", "verify", s(&dir), "--key-file", s(&site.key)])
        .expect(0);
}

#[test]
fn the_report_holds_no_row_key_no_body_and_no_secret_and_only_its_owner_reads_it() {
    use std::os::unix::fs::PermissionsExt;
    let Some(server) =
        server("the_report_holds_no_row_key_no_body_and_no_secret_and_only_its_owner_reads_it")
    else {
        return;
    };
    const KEY: &str = "987654321";
    const SECRET: &str = "Dbl1nk-S3cret";
    let production = server.database("report_prod");
    production.exec(&format!(
        "CREATE TABLE app_user (id int PRIMARY KEY, login text NOT NULL);
         INSERT INTO app_user VALUES (1, 'prod.one');
         CREATE FUNCTION sync() RETURNS text LANGUAGE sql AS $$ SELECT 'host=prod password={SECRET}'::text $$;"
    ));
    let acceptance = server.database("report_acc");
    acceptance.exec(&format!(
        "CREATE TABLE app_user (id int PRIMARY KEY, login text NOT NULL);
         INSERT INTO app_user VALUES (1, 'acc.one'), ({KEY}, 'acc.two');
         CREATE FUNCTION sync() RETURNS text LANGUAGE sql AS $$ SELECT 'host=acc password={SECRET}-acc'::text $$;"
    ));
    let site = Site::new(&acceptance);
    site.configure(&format!(
        "[production]\nurl = \"{}\"\n\n[[preserve]]\ntable = \"app_user\"\n",
        production.url()
    ));
    site.capture().expect(0);
    let dir = site.dir.path().join("report");
    let run = site.restore(&["--report-dir", s(&dir)]).expect(3);
    assert!(run.stdout.contains("function"), "{run:#?}");
    for output in [&run.stdout, &run.stderr] {
        assert!(
            !output.contains(KEY) && !output.contains(SECRET),
            "{run:#?}"
        );
    }
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    for name in ["report.json", "report.md", "report.html"] {
        let path = dir.join(name);
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600,
            "{name}"
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(KEY), "{name} holds a row key:\n{text}");
        assert!(!text.contains(SECRET), "{name} holds the secret:\n{text}");
    }
    let json = std::fs::read_to_string(dir.join("report.json")).unwrap();
    assert!(json.contains("\"k:"), "the JSON holds key digests:\n{json}");
    assert!(
        json.contains("sha256:"),
        "the JSON holds the body's digest:\n{json}"
    );
}
