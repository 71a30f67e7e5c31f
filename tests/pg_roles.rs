//! `[roles]` on PostgreSQL: acceptance's own logins survive a physical copy of production (re-created or put back exactly, verifier included, never shown), production's own logins are listed and locked with `lock_others`, a capturing account that may not read verifiers is refused, and a database created again from a dump gets its default privileges, settings and PUBLIC's privileges back, with the kept logins out until verify passed.

mod common;

use std::path::Path;

use common::cluster::{self, Cluster};
use common::pg::{self, Site};
use common::s;

const SCHEMA: &str = "
CREATE TABLE app_user (user_id int PRIMARY KEY, login text NOT NULL);
CREATE TABLE patient (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE visit (id int PRIMARY KEY, patient_id int NOT NULL REFERENCES patient);
INSERT INTO app_user VALUES (1, 'dr.visser'), (2, 'dr.jansen');
INSERT INTO patient VALUES (1, 'Johanna de Vries'), (2, 'Pieter Bakker');
";

/// Everything the cluster holds about a role that `[roles]` keeps, as one
/// line: attributes, verifier, validity, limit, settings, memberships.
fn role_line(cluster: &Cluster, role: &str) -> String {
    cluster.psql(
        "camis",
        &format!(
            "SELECT (a.rolsuper, a.rolinherit, a.rolcreaterole, a.rolcreatedb, a.rolcanlogin,
                     a.rolreplication, a.rolbypassrls, a.rolconnlimit, a.rolpassword,
                     a.rolvaliduntil)::text
                    || ' settings=' || coalesce((SELECT array_agg(s ORDER BY s)::text
                        FROM pg_db_role_setting r, unnest(r.setconfig) s
                        WHERE r.setrole = a.oid AND r.setdatabase = 0), '')
                    || ' member_of=' || coalesce((SELECT string_agg(g.rolname || ':' || m.admin_option, ',' ORDER BY g.rolname)
                        FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                        WHERE m.member = a.oid), '')
             FROM pg_authid a WHERE a.rolname = '{role}'"
        ),
    )
}

/// Every file under `dir`, read as text (lossy), with its path.
fn files(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            found.push((path.display().to_string(), text));
        }
    }
    found
}

#[test]
fn kept_logins_survive_a_physical_copy_and_production_logins_are_listed_then_locked() {
    let test = "kept_logins_survive_a_physical_copy_and_production_logins_are_listed_then_locked";
    let Some(bin) = cluster::binaries(test) else {
        return;
    };
    // Every statement is logged, with errors: the verifiers must not be.
    let production = Cluster::with_settings(
        &bin,
        &[
            ("log_statement", "all"),
            ("log_min_error_statement", "error"),
        ],
    );
    production.psql("postgres", "CREATE DATABASE camis");
    production.psql("camis", SCHEMA);
    production.psql(
        "camis",
        "CREATE ROLE app_login LOGIN PASSWORD 'Production-Pw-1180' VALID UNTIL '2020-01-01 00:00:00+00';
         CREATE ROLE testers NOLOGIN; CREATE ROLE auditors NOLOGIN;",
    );
    // Acceptance was made from production by the last refresh, then given
    // its own passwords, validity, limits, settings and testers.
    let acceptance = production.physical_copy();
    acceptance.psql(
        "camis",
        "ALTER ROLE app_login PASSWORD 'Acceptance-Pw-6604' VALID UNTIL '2031-05-01 12:00:00+00'
                           CONNECTION LIMIT 7 CREATEDB;
         ALTER ROLE app_login SET statement_timeout = '5s';
         ALTER ROLE app_login SET search_path = app, \"my schema\", public;
         GRANT testers TO app_login WITH ADMIN OPTION;
         CREATE ROLE acc_tester LOGIN PASSWORD 'Tester-Pw-3391' CONNECTION LIMIT 2;
         GRANT testers TO acc_tester;
         GRANT SELECT ON app_user TO acc_tester;
         INSERT INTO app_user VALUES (3, 'tester');",
    );
    let app_login = role_line(&acceptance, "app_login");
    let acc_tester = role_line(&acceptance, "acc_tester");
    let verifiers: Vec<String> = ["app_login", "acc_tester"]
        .iter()
        .map(|r| {
            acceptance.psql(
                "camis",
                &format!("SELECT rolpassword FROM pg_authid WHERE rolname = '{r}'"),
            )
        })
        .collect();
    assert!(
        verifiers.iter().all(|v| v.starts_with("SCRAM-SHA-256$")),
        "{verifiers:?}"
    );

    let mut site = Site::with_url(&acceptance.url("camis"));
    site.configure(&format!(
        "[production]\nurl = \"{}\"\n\n[roles]\nkeep = [\"app_login\", \"acc_tester\"]\n\n[[preserve]]\ntable = \"app_user\"\n",
        production.url("camis")
    ));
    let capture = site.capture().expect(0);
    assert!(
        capture
            .stdout
            .contains("roles: 2 kept logins with their password verifiers"),
        "{capture:#?}"
    );
    let inspect = site.vault_with(&["inspect", s(&site.vault)]).expect(0);
    assert!(
        inspect
            .stdout
            .contains("kept logins  app_login, acc_tester"),
        "{inspect:#?}"
    );

    // Production meanwhile got a login of its own.
    production.psql(
        "camis",
        "CREATE ROLE prod_doctor LOGIN PASSWORD 'Doctor-Pw-5520'",
    );
    // The refresh: a physical copy of production. The refreshed cluster runs
    // on another port only because the test cannot swap data directories
    // under a running server; hence --target-differs.
    let refreshed = production.physical_copy();
    assert_ne!(
        role_line(&refreshed, "app_login"),
        app_login,
        "the copy brought production's login"
    );
    assert_eq!(
        role_line(&refreshed, "acc_tester"),
        "",
        "the copy has no acc_tester"
    );
    site.set_acceptance_url(&refreshed.url("camis"));
    let report = site.dir.path().join("report");
    let run = site
        .restore(&["--target-differs", "--report-dir", s(&report)])
        .expect(0);
    assert!(
        run.stdout.contains("roles: acc_tester: created"),
        "{run:#?}"
    );
    assert!(
        run.stdout.contains("roles: app_login: attributes, password, valid until, connection limit, settings, memberships put back"),
        "{run:#?}"
    );
    assert_eq!(role_line(&refreshed, "app_login"), app_login);
    assert_eq!(role_line(&refreshed, "acc_tester"), acc_tester);
    assert_eq!(
        refreshed.psql(
            "camis",
            "SELECT has_table_privilege('acc_tester', 'app_user', 'SELECT')::text"
        ),
        "true",
        "the kept login's privileges came back with it"
    );
    assert!(
        run.stdout
            .contains("roles: production's logins that acceptance never had: prod_doctor"),
        "{run:#?}"
    );
    assert!(
        run.stdout.contains("lock_others = true locks them"),
        "{run:#?}"
    );
    let can_login = |role: &str| {
        refreshed.psql(
            "camis",
            &format!("SELECT rolcanlogin::text FROM pg_roles WHERE rolname = '{role}'"),
        )
    };
    assert_eq!(can_login("prod_doctor"), "true");

    // No verifier and no password anywhere: outputs, report, the vault's
    // folder; and no verifier in either server's log (the test's own
    // statements put the plain passwords there, vault's never did).
    let mut secrets: Vec<&str> = verifiers.iter().map(String::as_str).collect();
    secrets.extend([
        "Acceptance-Pw-6604",
        "Tester-Pw-3391",
        "Production-Pw-1180",
        "Doctor-Pw-5520",
    ]);
    for secret in &secrets {
        for run in [&capture, &run, &inspect] {
            assert!(
                !run.stdout.contains(secret) && !run.stderr.contains(secret),
                "{secret} in {run:#?}"
            );
        }
        for (path, text) in files(site.dir.path()) {
            assert!(!text.contains(secret), "{secret} in {path}");
        }
    }
    for verifier in &verifiers {
        for (name, cluster) in [("acceptance", &acceptance), ("refreshed", &refreshed)] {
            assert!(
                !cluster.log().contains(verifier.as_str()),
                "a verifier in the {name} server's log"
            );
        }
    }
    assert!(
        refreshed.log().contains("statement:"),
        "the server does log statements"
    );

    // With lock_others, production's login can no longer log in; the
    // restoring user is never locked.
    let text = std::fs::read_to_string(&site.config).unwrap();
    std::fs::write(
        &site.config,
        text.replace("[roles]\n", "[roles]\nlock_others = true\n"),
    )
    .unwrap();
    let locked = site
        .restore(&["--target-differs", "--steps", "restore"])
        .expect(0);
    assert!(
        locked.stdout.contains(
            "roles: prod_doctor locked (lock_others); to unlock: ALTER ROLE \"prod_doctor\" LOGIN"
        ),
        "{locked:#?}"
    );
    assert_eq!(can_login("prod_doctor"), "false");
    assert_eq!(can_login("postgres"), "true");
    assert!(
        locked.stdout.contains("roles: app_login as captured"),
        "{locked:#?}"
    );
}

#[test]
fn a_capturing_account_that_may_not_read_verifiers_is_refused_unless_passwords_is_false() {
    let Some(server) = pg::server(
        "a_capturing_account_that_may_not_read_verifiers_is_refused_unless_passwords_is_false",
    ) else {
        return;
    };
    let kept = server.role("kept");
    let capturer = server.role("capturer");
    server.admin(&format!(
        "ALTER ROLE {} LOGIN PASSWORD 'Kept-Pw-2207'; ALTER ROLE {} LOGIN",
        kept.name, capturer.name
    ));
    let db = server.database("roles_refused");
    db.exec(SCHEMA);
    db.exec(&format!(
        "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}",
        capturer.name
    ));
    let url = db.url();
    let at = url.find("://").unwrap() + 3;
    let end = url[at..].find('@').unwrap() + at;
    let capturer_url = format!("{}{}{}", &url[..at], capturer.name, &url[end..]);
    let mut site = Site::with_url(&capturer_url);
    site.configure(&format!(
        "[roles]\nkeep = [\"{}\"]\n\n[[preserve]]\ntable = \"app_user\"\n",
        kept.name
    ));
    let refused = site.capture().expect(2);
    assert!(
        refused.error_line().contains(
            "may not read the kept logins' password verifiers (SELECT on pg_catalog.pg_authid"
        ),
        "{refused:#?}"
    );
    assert!(refused.stderr.contains("passwords = false"), "{refused:#?}");
    assert!(!site.vault.exists(), "no vault was written");

    site.configure(&format!(
        "[roles]\nkeep = [\"{}\"]\npasswords = false\n\n[[preserve]]\ntable = \"app_user\"\n",
        kept.name
    ));
    let capture = site.capture().expect(0);
    assert!(
        capture
            .stdout
            .contains("without passwords (passwords = false)"),
        "{capture:#?}"
    );
    // The refresh took the login's validity; the restore (as the server's
    // superuser) puts it back and leaves the password as it finds it.
    server.admin(&format!(
        "ALTER ROLE {} VALID UNTIL '2020-01-01'",
        kept.name
    ));
    site.set_acceptance_url(&url);
    let run = site.restore(&["--steps", "restore"]).expect(0);
    assert!(
        run.stdout
            .contains(&format!("roles: {}: valid until put back", kept.name)),
        "{run:#?}"
    );
    assert_eq!(
        db.one(&format!("SELECT (rolvaliduntil IS NULL OR rolvaliduntil = 'infinity')::text FROM pg_roles WHERE rolname = '{}'", kept.name)),
        "true"
    );
    assert_eq!(
        db.one(&format!(
            "SELECT (rolpassword IS NOT NULL)::text FROM pg_authid WHERE rolname = '{}'",
            kept.name
        )),
        "true",
        "the password was left alone"
    );
}

#[test]
fn a_database_created_again_gets_its_default_privileges_settings_and_public_back() {
    let Some(server) =
        pg::server("a_database_created_again_gets_its_default_privileges_settings_and_public_back")
    else {
        return;
    };
    let reader = server.role("reader");
    let tester = server.role("tester");
    server.admin(&format!(
        "ALTER ROLE {} LOGIN; ALTER ROLE {} LOGIN PASSWORD 'Tester-Pw-8800'",
        reader.name, tester.name
    ));
    let production = server.database("roles_db_prod");
    production.exec(SCHEMA);
    let acceptance = server.database("roles_db_acc");
    acceptance.exec(SCHEMA);
    acceptance.exec(&format!(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {reader};
         ALTER DEFAULT PRIVILEGES GRANT USAGE ON SEQUENCES TO {reader};
         GRANT SELECT ON ALL TABLES IN SCHEMA public TO {reader}, {tester};
         ALTER DATABASE {db} SET statement_timeout = '7s';
         ALTER DATABASE {db} SET search_path = app, public;
         ALTER ROLE {reader} IN DATABASE {db} SET work_mem = '8MB';
         REVOKE CONNECT ON DATABASE {db} FROM PUBLIC;
         GRANT CONNECT ON DATABASE {db} TO {reader}, {tester};",
        reader = reader.name,
        tester = tester.name,
        db = acceptance.name
    ));
    let default_acl = "SELECT coalesce(string_agg(e, ' ' ORDER BY e), '') FROM (SELECT pg_get_userbyid(defaclrole) || ':' || CASE WHEN defaclnamespace = 0 THEN '-' ELSE defaclnamespace::regnamespace::text END || ':' || defaclobjtype::text || ':' || defaclacl::text AS e FROM pg_default_acl) d";
    let settings = "SELECT coalesce(string_agg(e, ' ' ORDER BY e), '') FROM (SELECT coalesce(r.rolname, '-') || ':' || s AS e FROM pg_db_role_setting c LEFT JOIN pg_roles r ON r.oid = c.setrole, unnest(c.setconfig) s WHERE c.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())) d";
    let public = "SELECT coalesce(string_agg(privilege_type, ',' ORDER BY privilege_type), '') FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a WHERE d.datname = current_database() AND a.grantee = 0";
    let before = (
        acceptance.one(default_acl),
        acceptance.one(settings),
        acceptance.one(public),
    );
    assert!(!before.0.is_empty() && !before.1.is_empty(), "{before:?}");
    assert_eq!(before.2, "TEMPORARY");

    let site = Site::new(&acceptance);
    // Deleting every patient fails on the visits: the run stops at sanitize
    // and acceptance stays closed.
    site.configure(&format!(
        "[grants]\nroles = [\"{}\"]\n\n[roles]\nkeep = [\"{}\"]\n\n[[preserve]]\ntable = \"app_user\"\n\n[[sanitize]]\ntable = \"patient\"\ndelete_all = true\n",
        reader.name, tester.name
    ));
    site.capture().expect(0);
    production.exec("INSERT INTO visit VALUES (1, 1)");
    server.refresh_from_dump(&acceptance, &production);
    assert_ne!(
        acceptance.one(default_acl),
        before.0,
        "the refresh lost them"
    );
    assert_ne!(acceptance.one(public), before.2);

    let run = site.restore(&[]).expect(1);
    assert!(
        run.stdout.contains("quarantine: acceptance stays CLOSED"),
        "{run:#?}"
    );
    assert_eq!(acceptance.one(default_acl), before.0, "{run:#?}");
    // The quarantine keeps its record among the settings while it is closed.
    let without_record = |text: String| {
        text.split(' ')
            .filter(|s| !s.starts_with("-:vault.quarantine="))
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(without_record(acceptance.one(settings)), before.1);
    let may_connect = |role: &str| {
        acceptance.one(&format!(
            "SELECT has_database_privilege('{role}', current_database(), 'CONNECT')::text"
        ))
    };
    assert_eq!(
        may_connect(&tester.name),
        "false",
        "the kept login waits for verify"
    );
    assert_eq!(
        may_connect(&reader.name),
        "false",
        "the [grants] role waits for verify"
    );
    assert_eq!(
        acceptance.one(public),
        "TEMPORARY",
        "PUBLIC may not connect either"
    );

    // Sanitize fixed; the quarantine opens after verify.
    production.exec("DELETE FROM visit");
    acceptance.exec("DELETE FROM visit");
    let opened = site.restore(&[]).expect(0);
    assert!(opened.stdout.contains("after verify passed"), "{opened:#?}");
    assert_eq!(may_connect(&tester.name), "true", "{opened:#?}");
    assert_eq!(may_connect(&reader.name), "true", "{opened:#?}");
    assert_eq!(
        acceptance.one(public),
        before.2,
        "PUBLIC did not get CONNECT back"
    );
    assert_eq!(acceptance.one(settings), before.1);
    // The default privileges work: a table of the next release is readable.
    acceptance.exec("CREATE TABLE next_release (id int)");
    assert_eq!(
        acceptance.one(&format!(
            "SELECT has_table_privilege('{}', 'next_release', 'SELECT')::text",
            reader.name
        )),
        "true"
    );
}
