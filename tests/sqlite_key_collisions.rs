//! Keys that collide after a refresh (SQLite file copy): acceptance's test account 4 and production's doctor 4 share an id; the test account must not inherit the doctor's role, and the collision is a finding with counts only.

mod common;

use common::workflow::{Cell, Site, exec, query};

const SCHEMA: &str = "
CREATE TABLE account (id INTEGER PRIMARY KEY, login TEXT NOT NULL UNIQUE, is_test INTEGER NOT NULL);
CREATE TABLE account_role (account_id INTEGER NOT NULL REFERENCES account, role TEXT NOT NULL,
                           PRIMARY KEY (account_id, role));
CREATE TABLE assessment (id INTEGER PRIMARY KEY, signed_by INTEGER NOT NULL REFERENCES account(id));";

fn site() -> Site {
    let site = Site::new();
    exec(&site.acceptance, SCHEMA);
    exec(&site.production, SCHEMA);
    exec(
        &site.acceptance,
        "INSERT INTO account VALUES (1, 'jansen', 0), (4, 'trial.portal', 1);
         INSERT INTO account_role VALUES (4, 'tester');",
    );
    exec(
        &site.production,
        "INSERT INTO account VALUES (1, 'jansen', 0), (4, 'dr.visser', 0);
         INSERT INTO account_role VALUES (4, 'admin');
         WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 30)
         INSERT INTO assessment SELECT x, 4 FROM n;",
    );
    site
}

#[test]
fn a_test_account_never_inherits_a_production_role_through_a_colliding_key() {
    let site = site();
    site.configure(
        r#"
[[preserve]]
table = "account"
where = "is_test = 1"

[[preserve]]
table = "account_role"
where = "account_id IN (SELECT id FROM account WHERE is_test = 1)"
"#,
    );
    site.capture().expect(0);
    site.refresh();
    let run = site.restore(&["--steps", "restore"]).expect(3);
    let roles = query(
        &site.acceptance,
        "SELECT role FROM account_role WHERE account_id = 4",
    );
    assert_eq!(roles.len(), 1, "{run:#?}");
    assert!(roles[0][0] == Cell::Text("tester".into()), "{run:#?}");
    assert!(
        run.stdout.contains("key collision: account: 1 captured key already names another row in the target (outside its where); referred to by assessment (30 rows)"),
        "{run:#?}"
    );
    assert!(!run.stdout.contains("dr.visser") && !run.stdout.contains("trial.portal"));
}

#[test]
fn identity_finds_collisions_in_a_table_preserved_whole() {
    let site = site();
    site.configure(
        "[[preserve]]\ntable = \"account\"\nidentity = [\"login\"]\non_collision = \"stop\"\n",
    );
    site.capture().expect(0);
    site.refresh();
    let run = site.restore(&["--steps", "restore"]).expect(4);
    assert!(
        run.error_line().contains("identity login differs")
            && run.error_line().contains("assessment (30 rows)"),
        "{run:#?}"
    );
    let login = query(&site.acceptance, "SELECT login FROM account WHERE id = 4");
    assert!(
        login[0][0] == Cell::Text("dr.visser".into()),
        "nothing changed"
    );
}
