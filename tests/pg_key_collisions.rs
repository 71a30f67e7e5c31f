//! Keys that collide after a refresh (PostgreSQL): acceptance's test account 4 and production's doctor 4 share an id. The test account must not inherit the doctor's role or 2FA secret; the collision is a finding that names tables and counts, never a value; `on_collision` stops or accepts it.

mod common;

use common::pg::{self, Db, Site};

const SCHEMA: &str = "
CREATE TABLE account (id int PRIMARY KEY, login text NOT NULL UNIQUE, is_test boolean NOT NULL);
CREATE TABLE account_role (account_id int NOT NULL REFERENCES account, role text NOT NULL,
                           PRIMARY KEY (account_id, role));
CREATE TABLE totp (account_id int PRIMARY KEY REFERENCES account, secret text NOT NULL);
CREATE TABLE assessment (id int PRIMARY KEY, signed_by int NOT NULL REFERENCES account, note text);";

const PRESERVE: &str = r#"
[[preserve]]
table = "account"
where = "is_test"

[[preserve]]
table = "account_role"
where = "account_id IN (SELECT id FROM account WHERE is_test)"

[[preserve]]
table = "totp"
where = "account_id IN (SELECT id FROM account WHERE is_test)"
"#;

/// Acceptance (test account 4) and production (doctor 4, an admin with a
/// 2FA secret who signed 30 assessments).
fn databases(server: &std::sync::Arc<pg::Server>) -> (Db, Db) {
    let acceptance = server.database("collide_acc");
    let production = server.database("collide_prod");
    for db in [&acceptance, &production] {
        db.exec(SCHEMA);
    }
    acceptance.exec(
        "INSERT INTO account VALUES (1, 'jansen', false), (4, 'trial.portal', true);
         INSERT INTO account_role VALUES (4, 'tester');
         INSERT INTO totp VALUES (4, 'ACCEPTANCE-SECRET');",
    );
    production.exec(
        "INSERT INTO account VALUES (1, 'jansen', false), (4, 'dr.visser', false);
         INSERT INTO account_role VALUES (4, 'admin');
         INSERT INTO totp VALUES (4, 'PRODUCTION-SECRET');
         INSERT INTO assessment SELECT n, 4, 'signed' FROM generate_series(1, 30) n;",
    );
    (acceptance, production)
}

fn site(acceptance: &Db, extra: &str) -> Site {
    let site = Site::new(acceptance);
    site.configure(&format!("{PRESERVE}{extra}"));
    site
}

#[test]
fn a_test_account_never_inherits_a_production_role_through_a_colliding_key() {
    let Some(server) =
        pg::server("a_test_account_never_inherits_a_production_role_through_a_colliding_key")
    else {
        return;
    };
    let (acceptance, production) = databases(&server);
    let site = site(&acceptance, "");
    site.capture().expect(0);
    server.refresh(&acceptance, &production);

    let run = site.restore(&["--steps", "restore"]).expect(3);
    assert_eq!(
        acceptance.rows("SELECT role FROM account_role WHERE account_id = 4 ORDER BY role"),
        ["tester"],
        "the scope of account_role is judged once account 4 is acceptance's again: {run:#?}"
    );
    assert_eq!(
        acceptance.one("SELECT secret FROM totp WHERE account_id = 4"),
        "ACCEPTANCE-SECRET"
    );
    assert_eq!(
        acceptance.one("SELECT login FROM account WHERE id = 4"),
        "trial.portal"
    );
    let out = format!("{}{}", run.stdout, run.stderr);
    assert!(
        out.contains("key collision: public.account: 1 captured key already names another row")
            || out.contains("key collision: account: 1 captured key already names another row"),
        "{run:#?}"
    );
    assert!(out.contains("outside its where"), "{run:#?}");
    assert!(out.contains("assessment (30 rows)"), "{run:#?}");
    for value in [
        "dr.visser",
        "trial.portal",
        "PRODUCTION-SECRET",
        "ACCEPTANCE-SECRET",
    ] {
        assert!(!out.contains(value), "no value in the output: {value}");
    }
}

#[test]
fn on_collision_stop_refuses_before_any_change_and_replace_accepts() {
    let Some(server) =
        pg::server("on_collision_stop_refuses_before_any_change_and_replace_accepts")
    else {
        return;
    };
    let (acceptance, production) = databases(&server);
    let stop = site(&acceptance, "");
    stop.capture().expect(0);
    server.refresh(&acceptance, &production);
    // The same vault, with the identity rule and on_collision set.
    stop.configure(&PRESERVE.replacen(
        "where = \"is_test\"\n",
        "where = \"is_test\"\nidentity = [\"login\"]\non_collision = \"stop\"\n",
        1,
    ));
    let before = acceptance.table("account");
    let roles = acceptance.table("account_role");
    let run = stop.restore(&["--steps", "restore"]).expect(4);
    assert!(run.error_line().contains("key collision"), "{run:#?}");
    assert!(
        run.error_line().contains("identity login differs"),
        "{run:#?}"
    );
    assert!(run.error_line().contains("nothing was changed"), "{run:#?}");
    assert_eq!(acceptance.table("account"), before);
    assert_eq!(acceptance.table("account_role"), roles);

    stop.configure(&PRESERVE.replacen(
        "where = \"is_test\"\n",
        "where = \"is_test\"\non_collision = \"replace\"\n",
        1,
    ));
    let run = stop.restore(&["--steps", "restore"]).expect(0);
    assert!(run.stdout.contains("key collision"), "{run:#?}");
    assert_eq!(
        acceptance.rows("SELECT role FROM account_role WHERE account_id = 4"),
        ["tester"]
    );
}

/// The whole table preserved (no `where`): only an identity column can tell
/// that captured key 4 now names another account.
#[test]
fn identity_finds_collisions_in_a_table_preserved_whole() {
    let Some(server) = pg::server("identity_finds_collisions_in_a_table_preserved_whole") else {
        return;
    };
    let (acceptance, production) = databases(&server);
    let site = site(&acceptance, "");
    site.configure("[[preserve]]\ntable = \"account\"\nidentity = [\"login\"]\n");
    site.capture().expect(0);
    server.refresh(&acceptance, &production);
    let run = site.restore(&["--steps", "restore", "--dry-run"]).expect(3);
    assert!(
        run.stdout.contains("identity login differs")
            && run.stdout.contains("assessment (30 rows)"),
        "{run:#?}"
    );
    assert_eq!(
        acceptance.one("SELECT login FROM account WHERE id = 4"),
        "dr.visser",
        "a dry run changes nothing"
    );
}
