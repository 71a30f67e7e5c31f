//! Keys that collide after a refresh (MariaDB, `mariadb-dump | mariadb`): acceptance's test account 4 and production's doctor 4 share an id. The test account must not inherit the doctor's role or 2FA secret; the collision is a finding with counts only; `on_collision = "stop"` refuses before any change.

mod common;

use common::mysql::{self, Db, Site};

const SCHEMA: &str = "
CREATE TABLE account (id int PRIMARY KEY, login varchar(40) NOT NULL UNIQUE, is_test boolean NOT NULL);
CREATE TABLE account_role (account_id int NOT NULL, role varchar(20) NOT NULL,
  PRIMARY KEY (account_id, role), FOREIGN KEY (account_id) REFERENCES account (id));
CREATE TABLE totp (account_id int PRIMARY KEY, secret varchar(40) NOT NULL,
  FOREIGN KEY (account_id) REFERENCES account (id));
CREATE TABLE assessment (id int PRIMARY KEY, signed_by int NOT NULL,
  FOREIGN KEY (signed_by) REFERENCES account (id));";

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

fn databases(server: &std::sync::Arc<mysql::Server>) -> (Db, Db) {
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
        "SET SESSION max_recursive_iterations = 1000;
         INSERT INTO account VALUES (1, 'jansen', false), (4, 'dr.visser', false);
         INSERT INTO account_role VALUES (4, 'admin');
         INSERT INTO totp VALUES (4, 'PRODUCTION-SECRET');
         INSERT INTO assessment WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 30)
           SELECT x, 4 FROM n;",
    );
    (acceptance, production)
}

#[test]
fn a_test_account_never_inherits_a_production_role_through_a_colliding_key() {
    let Some(server) =
        mysql::server("a_test_account_never_inherits_a_production_role_through_a_colliding_key")
    else {
        return;
    };
    let (acceptance, production) = databases(&server);
    let site = Site::with_url(&acceptance.url());
    site.configure(PRESERVE);
    site.capture().expect(0);
    server.refresh(&acceptance, &production);

    let run = site.restore(&["--steps", "restore"]).expect(3);
    assert_eq!(
        acceptance.rows("SELECT role FROM account_role WHERE account_id = 4"),
        ["tester"],
        "{run:#?}"
    );
    assert_eq!(
        acceptance.one("SELECT secret FROM totp WHERE account_id = 4"),
        "ACCEPTANCE-SECRET"
    );
    assert!(
        run.stdout.contains("captured key already names another row in the target (outside its where); referred to by")
            && run.stdout.contains("assessment (30 rows)"),
        "{run:#?}"
    );
    for value in ["dr.visser", "trial.portal", "SECRET"] {
        assert!(!run.stdout.contains(value) && !run.stderr.contains(value));
    }
}

#[test]
fn on_collision_stop_refuses_before_any_change() {
    let Some(server) = mysql::server("on_collision_stop_refuses_before_any_change") else {
        return;
    };
    let (acceptance, production) = databases(&server);
    let site = Site::with_url(&acceptance.url());
    site.configure(
        "[[preserve]]\ntable = \"account\"\nidentity = [\"login\"]\non_collision = \"stop\"\n",
    );
    site.capture().expect(0);
    server.refresh(&acceptance, &production);
    let before = acceptance.table("account");
    let run = site.restore(&["--steps", "restore"]).expect(4);
    assert!(
        run.error_line().contains("identity login differs")
            && run.error_line().contains("assessment (30 rows)"),
        "{run:#?}"
    );
    assert_eq!(acceptance.table("account"), before, "nothing changed");
}
