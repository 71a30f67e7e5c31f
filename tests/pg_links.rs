//! `vault links` on PostgreSQL through the real binary: foreign servers and user mappings,
//! connection strings in views and functions, subscriptions; against `[production].hosts`,
//! the production URL and, with `--vault`, acceptance's captured definitions. No password
//! ever reaches the output.

mod common;

use std::sync::Arc;

use common::pg::{self, Db, Site};
use common::{Run, s};

/// Host patterns that mean production in every test here.
const PRODUCTION: &str = "[production]\nurl = \"postgres://postgres@prod-main.example.org/emr\"\nhosts = [\"prod-db*.example.org\"]\n";

/// A preserved table, so that `vault capture` has something to capture.
const SCHEMA: &str = "CREATE SCHEMA camis;
CREATE TABLE camis.app_user (user_id int PRIMARY KEY, login text NOT NULL);
INSERT INTO camis.app_user VALUES (1, 'acc_tester');";

const PRESERVE: &str = "[[preserve]]\ntable = \"camis.app_user\"\n";

/// A database with the schema and a site whose configuration has `production`.
fn setup(test: &str, production: &str) -> Option<(Arc<pg::Server>, Db, Site)> {
    let server = pg::server(test)?;
    let acc = server.database("links");
    acc.exec(SCHEMA);
    let site = Site::new(&acc);
    site.configure(&format!("{production}\n{PRESERVE}"));
    Some((server, acc, site))
}

fn links(site: &Site, extra: &[&str]) -> Run {
    let mut args = vec!["links", "--config", s(&site.config)];
    args.extend_from_slice(extra);
    site.vault_with(&args)
}

fn with_vault(site: &Site) -> Run {
    links(
        site,
        &["--vault", s(&site.vault), "--key-file", s(&site.key)],
    )
}

/// The report line of `object`, with the indented lines that explain it.
fn entry(run: &Run, object: &str) -> String {
    let lines: Vec<&str> = run.stdout.lines().collect();
    let column = format!("  {object}  ");
    let at = lines
        .iter()
        .position(|l| !l.starts_with("      ") && l.contains(&column))
        .unwrap_or_else(|| panic!("no line for {object} in\n{}", run.stdout));
    let more = lines[at + 1..]
        .iter()
        .take_while(|l| l.starts_with("      "))
        .count();
    lines[at..=at + more].join("\n")
}

fn no_secret(run: &Run, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "{secret} appears in {run:#?}"
        );
    }
}

#[test]
fn a_foreign_server_and_its_user_mapping_to_production_are_found() {
    let Some((_server, acc, site)) = setup("links_fdw", PRODUCTION) else {
        return;
    };
    acc.exec(
        "CREATE EXTENSION postgres_fdw;
         CREATE SERVER emr_link FOREIGN DATA WRAPPER postgres_fdw
           OPTIONS (host 'prod-db1.example.org', port '5432', dbname 'emr');
         CREATE USER MAPPING FOR PUBLIC SERVER emr_link OPTIONS (user 'emr_reader', password 'prod-map-secret');
         CREATE FOREIGN TABLE camis.remote_case (id int) SERVER emr_link;",
    );
    let run = links(&site, &[]).expect(3);
    let server = entry(&run, "emr_link");
    assert!(server.contains("PRODUCTION"), "{server}");
    assert!(server.contains("foreign server"), "{server}");
    assert!(
        server.contains("host=prod-db1.example.org port=5432 dbname=emr"),
        "{server}"
    );
    assert!(server.contains("prod-db*.example.org"), "{server}");
    assert!(server.contains("ALTER SERVER"), "{server}");
    assert!(
        server.contains("1 foreign table read through it"),
        "{server}"
    );
    let mapping = entry(&run, "public on emr_link (remote user emr_reader)");
    assert!(mapping.contains("PRODUCTION"), "{mapping}");
    assert!(mapping.contains("user mapping"), "{mapping}");
    assert!(
        mapping.contains("its server points at production"),
        "{mapping}"
    );
    assert!(
        run.stdout.contains("2 links: 2 to production"),
        "{}",
        run.stdout
    );
    no_secret(&run, &["prod-map-secret"]);
}

#[test]
fn a_view_over_dblink_to_production_is_found_by_name() {
    let Some((_server, acc, site)) = setup("links_view", PRODUCTION) else {
        return;
    };
    acc.exec(
        "CREATE EXTENSION dblink;
         CREATE VIEW camis.remote_cases AS
           SELECT * FROM dblink('host=prod-db2.example.org dbname=emr user=etl password=view-secret',
                                'SELECT id FROM emr.mer') AS t(id int);
         CREATE MATERIALIZED VIEW camis.remote_stats AS
           SELECT * FROM dblink('postgresql://prod-db2.example.org/emr', 'SELECT 1') AS t(n int)
           WITH NO DATA;",
    );
    let run = links(&site, &[]).expect(3);
    let view = entry(&run, "camis.remote_cases");
    assert!(view.contains("PRODUCTION"), "{view}");
    assert!(view.contains("view "), "{view}");
    assert!(view.contains("host=prod-db2.example.org"), "{view}");
    assert!(view.contains("in the view definition, line"), "{view}");
    assert!(view.contains("vault cannot put back"), "{view}");
    assert!(view.contains("CREATE OR REPLACE VIEW"), "{view}");
    let matview = entry(&run, "camis.remote_stats");
    assert!(matview.contains("PRODUCTION"), "{matview}");
    assert!(matview.contains("materialized view"), "{matview}");
    assert!(
        matview.contains("host=prod-db2.example.org dbname=emr"),
        "{matview}"
    );
    assert!(matview.contains("DROP MATERIALIZED VIEW"), "{matview}");
    no_secret(&run, &["view-secret"]);
}

#[test]
fn functions_and_procedures_with_connection_strings_are_found() {
    let Some((_server, acc, site)) = setup("links_func", PRODUCTION) else {
        return;
    };
    acc.exec(
        "CREATE EXTENSION dblink;
         CREATE FUNCTION camis.pull_cases(since date) RETURNS void LANGUAGE plpgsql AS $$
         BEGIN
           -- 'host=prod-db9.example.org' in a comment is not a connection
           PERFORM dblink_connect('emr', 'postgresql://etl:fn-secret@prod-db3.example.org:5433/emr');
         END $$;
         CREATE PROCEDURE camis.sync() LANGUAGE sql
           AS $$ SELECT dblink_exec('host=acc-lab.example dbname=lab', 'SELECT 1') $$;
         CREATE FUNCTION camis.atomic_count() RETURNS bigint LANGUAGE sql
           BEGIN ATOMIC
             SELECT count(*) FROM dblink('hostaddr=10.9.8.7 dbname=emr', 'SELECT 1') AS t(n int);
           END;",
    );
    let run = links(&site, &[]).expect(3);
    let function = entry(&run, "camis.pull_cases(since date)");
    assert!(function.contains("PRODUCTION"), "{function}");
    assert!(function.contains("function"), "{function}");
    assert!(
        function.contains("host=prod-db3.example.org port=5433 dbname=emr"),
        "{function}"
    );
    assert!(
        function.contains("in the function body, line 4"),
        "{function}"
    );
    assert!(
        function.contains("CREATE OR REPLACE FUNCTION"),
        "{function}"
    );
    let procedure = entry(&run, "camis.sync()");
    assert!(procedure.contains("ok"), "{procedure}");
    assert!(procedure.contains("procedure"), "{procedure}");
    assert!(
        !run.stdout.contains("prod-db9"),
        "comments are skipped: {}",
        run.stdout
    );
    no_secret(&run, &["fn-secret"]);
}

#[test]
fn a_link_to_the_production_url_is_found_without_a_host_pattern() {
    let Some(server) = pg::server("links_url") else {
        return;
    };
    let prod = server.database("links_prod");
    let acc = server.database("links_acc");
    acc.exec(SCHEMA);
    let site = Site::new(&acc);
    site.configure(&format!(
        "[production]\nurl = \"{}\"\n\n{PRESERVE}",
        prod.url()
    ));
    acc.exec(&format!(
        "CREATE EXTENSION dblink;
         CREATE VIEW camis.local_prod AS
           SELECT * FROM dblink('dbname={prod}', 'SELECT 1') AS t(n int);
         CREATE VIEW camis.local_acc AS
           SELECT * FROM dblink('host=localhost port=5432 dbname={acc}', 'SELECT 1') AS t(n int);",
        prod = prod.name,
        acc = acc.name
    ));
    let run = links(&site, &[]).expect(3);
    let local = entry(&run, "camis.local_prod");
    assert!(local.contains("PRODUCTION"), "{local}");
    assert!(local.contains("the [production] URL's"), "{local}");
    assert!(
        entry(&run, "camis.local_acc").contains("ok"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_server_at_acceptances_neighbour_is_ok() {
    let Some((_server, acc, site)) = setup("links_ok", PRODUCTION) else {
        return;
    };
    acc.exec(
        "CREATE EXTENSION postgres_fdw;
         CREATE SERVER neighbour FOREIGN DATA WRAPPER postgres_fdw
           OPTIONS (host 'acc-neighbour.example', dbname 'acc_emr');
         CREATE USER MAPPING FOR CURRENT_USER SERVER neighbour OPTIONS (user 'acc', password 'acc-secret');",
    );
    let run = links(&site, &[]).expect(0);
    assert!(entry(&run, "neighbour").contains("ok"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("2 links: 0 to production, 0 differ from acceptance, 0 unchecked, 2 ok"),
        "{}",
        run.stdout
    );
    no_secret(&run, &["acc-secret"]);
}

#[test]
fn with_the_vault_a_server_changed_since_capture_differs_from_acceptance() {
    let Some((server, acc, mut site)) = setup("links_vault", PRODUCTION) else {
        return;
    };
    acc.exec(
        "CREATE EXTENSION postgres_fdw;
         CREATE SERVER neighbour FOREIGN DATA WRAPPER postgres_fdw
           OPTIONS (host 'acc-neighbour.example', dbname 'acc_emr');
         CREATE SERVER lab FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'acc-lab.example');
         CREATE USER MAPPING FOR PUBLIC SERVER neighbour OPTIONS (user 'acc', password 'old-secret');",
    );
    site.capture().expect(0);
    let same = with_vault(&site).expect(0);
    assert!(
        same.stdout.contains("0 differ from acceptance"),
        "{}",
        same.stdout
    );
    acc.exec(
        "ALTER SERVER neighbour OPTIONS (SET host 'other-neighbour.example', ADD port '5433');
         ALTER USER MAPPING FOR PUBLIC SERVER neighbour OPTIONS (SET password 'new-secret');
         DROP SERVER lab;
         CREATE SERVER reports FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'prod-db4.example.org');",
    );
    let run = with_vault(&site).expect(3);
    let neighbour = entry(&run, "neighbour");
    assert!(neighbour.contains("DIFFERS"), "{neighbour}");
    assert!(
        neighbour.contains("host other-neighbour.example (acceptance: acc-neighbour.example)"),
        "{neighbour}"
    );
    assert!(
        neighbour.contains("port 5433 (acceptance: (none))"),
        "{neighbour}"
    );
    assert!(
        neighbour.contains("`vault restore` puts back"),
        "{neighbour}"
    );
    let mapping = entry(&run, "public on neighbour (remote user acc)");
    assert!(mapping.contains("DIFFERS"), "{mapping}");
    assert!(mapping.contains("password *** (changed)"), "{mapping}");
    let lab = entry(&run, "lab");
    assert!(
        lab.contains("DIFFERS") && lab.contains("it is gone"),
        "{lab}"
    );
    let reports = entry(&run, "reports");
    assert!(reports.contains("PRODUCTION"), "{reports}");
    assert!(reports.contains("acceptance did not have it"), "{reports}");
    assert!(
        run.stdout.contains("compared with the vault"),
        "{}",
        run.stdout
    );
    no_secret(&run, &["old-secret", "new-secret"]);

    let other = server.database("links_other");
    site.set_acceptance_url(&other.url());
    let run = with_vault(&site).expect(0);
    assert!(
        run.stdout.contains("note: the vault was captured from"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("3 differ from acceptance"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_clean_database_has_no_finding() {
    let Some((_server, acc, site)) = setup("links_clean", PRODUCTION) else {
        return;
    };
    // Code that mentions hosts but holds no connection string.
    acc.exec(
        "CREATE VIEW camis.logins AS SELECT login, 'host=' || login AS label FROM camis.app_user;
         CREATE FUNCTION camis.greet(who text) RETURNS text LANGUAGE sql
           AS $$ SELECT 'hello ' || who || ', see https://prod-db1.example.org/help' $$;",
    );
    let run = links(&site, &[]).expect(0);
    assert!(run.stdout.contains("no links"), "{}", run.stdout);
    assert!(!run.stdout.contains("PRODUCTION"), "{}", run.stdout);
}

#[test]
fn subscriptions_are_checked_and_unreadable_ones_are_said_so() {
    let Some((server, acc, site)) = setup("links_sub", PRODUCTION) else {
        return;
    };
    let reader = server.role("links_reader");
    server.admin(&format!("ALTER ROLE {} LOGIN", reader.name));
    acc.exec(
        "CREATE SUBSCRIPTION emr_sub
           CONNECTION 'host=prod-db5.example.org dbname=emr user=repl password=sub-secret'
           PUBLICATION emr_pub WITH (connect = false, enabled = false, create_slot = false, slot_name = NONE);",
    );
    let _drop = DropSubscription(&acc);
    let run = links(&site, &[]).expect(3);
    let sub = entry(&run, "emr_sub");
    assert!(sub.contains("PRODUCTION"), "{sub}");
    assert!(sub.contains("subscription"), "{sub}");
    assert!(sub.contains("ALTER SUBSCRIPTION"), "{sub}");
    no_secret(&run, &["sub-secret"]);

    let mut as_reader = Site::new(&acc);
    as_reader.configure(&format!("{PRODUCTION}\n{PRESERVE}"));
    as_reader.set_acceptance_url(&with_user(&acc.url(), &reader.name));
    let run = links(&as_reader, &[]).expect(0);
    let sub = entry(&run, "emr_sub");
    assert!(sub.contains("UNCHECKED"), "{sub}");
    assert!(sub.contains("(could not be read)"), "{sub}");
    assert!(run.stdout.contains("superuser"), "{}", run.stdout);
}

/// Drops the test's subscription, which would keep its database from being dropped.
struct DropSubscription<'a>(&'a Db);

impl Drop for DropSubscription<'_> {
    fn drop(&mut self) {
        let _ = self.0.try_exec("DROP SUBSCRIPTION IF EXISTS emr_sub");
    }
}

/// The URL with another user name.
fn with_user(url: &str, user: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let host = rest.split_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{user}@{host}")
}

#[test]
fn usage_errors_are_exit_2() {
    let Some((_server, _acc, site)) = setup("links_usage", PRODUCTION) else {
        return;
    };
    let run = links(&site, &["--key-file", s(&site.key)]).expect(2);
    assert!(run.error_line().contains("only with --vault"), "{run:#?}");
    let missing = site.dir.path().join("missing.vault");
    let run = links(&site, &["--vault", s(&missing), "--key-file", s(&site.key)]).expect(2);
    assert!(run.error_line().contains("does not exist"), "{run:#?}");
    site.capture().expect(0);
    let run = links(&site, &["--vault", s(&site.vault)]).expect(2);
    assert!(
        run.error_line().contains("needs the vault's key"),
        "{run:#?}"
    );
    std::fs::write(
        &site.config,
        "[acceptance]\nurl_env = \"ACC_DATABASE_URL\"\nbogus = 1\n",
    )
    .unwrap();
    links(&site, &[]).expect(2);
}

/// The server's log, when this test may read it (Debian's layout).
fn server_log() -> Option<String> {
    let dir = std::fs::read_dir("/var/log/postgresql").ok()?;
    let mut text = String::new();
    for entry in dir.flatten() {
        if let Ok(log) = std::fs::read_to_string(entry.path()) {
            text.push_str(&log);
        }
    }
    (!text.is_empty()).then_some(text)
}

#[test]
fn a_user_mapping_that_cannot_be_recreated_leaves_its_password_in_no_log() {
    let Some((server, acc, site)) = setup("links_mapping_fails", PRODUCTION) else {
        return;
    };
    // Unique to this run: the server log keeps earlier runs' lines.
    let secret = format!("Map-S3cret-{}-{}", std::process::id(), acc.name);
    let secret = secret.as_str();
    let log_before = server_log().map_or(0, |log| log.len());
    let tester = server.role("mapping_user");
    let production = server.database("links_prod");
    site.configure(&format!(
        "[production]\nurl = \"{}\"\n\n{PRESERVE}",
        production.url()
    ));
    acc.exec(&format!(
        "CREATE EXTENSION postgres_fdw;
         CREATE SERVER neighbour FOREIGN DATA WRAPPER postgres_fdw
           OPTIONS (host 'acc-neighbour.example', dbname 'acc_emr');
         CREATE USER MAPPING FOR {} SERVER neighbour OPTIONS (user 'acc', password '{secret}');",
        tester.name
    ));
    site.capture().expect(0);
    // The refresh brought production's roles: the mapping's user is gone.
    acc.exec(&format!(
        "DROP USER MAPPING FOR {} SERVER neighbour",
        tester.name
    ));
    server.admin(&format!("DROP ROLE {}", tester.name));
    let run = site.restore(&["--steps", "restore"]).expect(1);
    assert!(
        run.error_line().contains("could not be created"),
        "{run:#?}"
    );
    no_secret(&run, &[secret]);
    match server_log() {
        Some(log) => assert!(
            !log.get(log_before..).unwrap_or(&log).contains(secret),
            "the server log holds the password"
        ),
        None => println!(
            "a_user_mapping_that_cannot_be_recreated_leaves_its_password_in_no_log: the server log is not readable here; checked the output only"
        ),
    }
}
