//! Production's jobs stopped first (PostgreSQL): acceptance's subscriptions are recorded at capture; a subscription that is not in that record is disabled by `vault restore` before any data step and listed, acceptance's own stays enabled, and the dry run only says which.
//!
//! A subscription comes with a physical copy of production (`pg_basebackup`);
//! the tests' refresh (`CREATE DATABASE ... TEMPLATE`) does not copy
//! subscriptions, so production's is created after the refresh, enabled, as
//! the copy would bring it. Its publisher is a port nobody listens on.

mod common;

use common::pg::{self, Db, Site};

/// Drops the database's subscriptions (a database with one cannot be dropped).
struct Subscriptions<'a>(&'a Db, Vec<&'static str>);

impl Drop for Subscriptions<'_> {
    fn drop(&mut self) {
        for name in &self.1 {
            let _ = self.0.try_exec(&format!(
                "ALTER SUBSCRIPTION {name} DISABLE;
                 ALTER SUBSCRIPTION {name} SET (slot_name = NONE);
                 DROP SUBSCRIPTION {name}"
            ));
        }
    }
}

fn subscribe(db: &Db, name: &str) {
    db.exec(&format!(
        "CREATE SUBSCRIPTION {name} CONNECTION 'host=127.0.0.1 port=1 dbname=nowhere connect_timeout=1'
         PUBLICATION feed WITH (connect = false);
         ALTER SUBSCRIPTION {name} ENABLE"
    ));
}

fn enabled(db: &Db, name: &str) -> String {
    db.one(&format!(
        "SELECT subenabled::text FROM pg_subscription WHERE subname = '{name}'"
    ))
}

#[test]
fn a_subscription_that_came_with_the_refresh_is_disabled_and_acceptance_s_kept() {
    let Some(server) =
        pg::server("a_subscription_that_came_with_the_refresh_is_disabled_and_acceptance_s_kept")
    else {
        return;
    };
    let acceptance = server.database("jobs_a");
    let production = server.database("jobs_p");
    let schema = "CREATE TABLE app_user (user_id int PRIMARY KEY, login text NOT NULL);";
    acceptance.exec(schema);
    acceptance.exec("INSERT INTO app_user VALUES (1, 'tester')");
    production.exec(schema);
    production.exec("INSERT INTO app_user VALUES (1, 'dr.visser')");
    let site = Site::new(&acceptance);
    site.configure("[[preserve]]\ntable = \"app_user\"\n");
    {
        let _own = Subscriptions(&acceptance, vec!["acc_feed"]);
        subscribe(&acceptance, "acc_feed");
        let captured = site.capture().expect(0);
        assert!(
            captured
                .stdout
                .contains("jobs: 1 scheduled jobs recorded (1 enabled)"),
            "{captured:#?}"
        );
    }
    server.refresh(&acceptance, &production);
    let _subs = Subscriptions(&acceptance, vec!["acc_feed", "prod_feed"]);
    subscribe(&acceptance, "acc_feed");
    subscribe(&acceptance, "prod_feed");

    let dry = site.restore(&["--dry-run"]);
    assert!(dry.code == 0 || dry.code == 3, "{dry:#?}");
    assert!(
        dry.stdout.contains(
            "1 of production's jobs would be disabled, 1 of acceptance's left as they were: subscription prod_feed"
        ),
        "{dry:#?}"
    );
    assert_eq!(enabled(&acceptance, "prod_feed"), "true");

    let run = site.restore(&[]);
    assert!(run.code == 0 || run.code == 3, "{run:#?}");
    assert!(
        run.stdout.contains(
            "1 of production's jobs disabled, 1 of acceptance's left as they were: subscription prod_feed"
        ),
        "{run:#?}"
    );
    assert_eq!(enabled(&acceptance, "prod_feed"), "false");
    assert_eq!(enabled(&acceptance, "acc_feed"), "true");
    assert_eq!(acceptance.rows("SELECT login FROM app_user"), ["tester"]);
}
