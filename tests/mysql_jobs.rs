//! Production's jobs stopped first (MariaDB/MySQL): acceptance's events are recorded at capture; after a dump refresh, `vault restore` disables the events that came from production before any data step, lists each, and leaves acceptance's own as they were; its dry run only says which.

mod common;

use common::mysql::{self, Db, Site};

const SCHEMA: &str = "
CREATE TABLE app_user (user_id int PRIMARY KEY, login varchar(20) NOT NULL);
CREATE TABLE reminder (id int AUTO_INCREMENT PRIMARY KEY, patient varchar(40));
";

/// Acceptance's own event, shipped with the application: production has it too.
const OWN_EVENT: &str =
    "CREATE EVENT reset_testdata ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00'
    DO DELETE FROM reminder WHERE patient LIKE 'test%'";

/// The event's status: ENABLED, DISABLED (or SLAVESIDE_DISABLED).
fn status(db: &Db, event: &str) -> String {
    db.one(&format!(
        "SELECT status FROM information_schema.events
         WHERE event_schema = DATABASE() AND event_name = '{event}'"
    ))
}

fn definer(db: &Db, event: &str) -> String {
    db.one(&format!(
        "SELECT definer FROM information_schema.events
         WHERE event_schema = DATABASE() AND event_name = '{event}'"
    ))
}

#[test]
fn production_s_events_are_disabled_before_the_data_steps_and_acceptance_s_left_alone() {
    let Some(server) = mysql::server(
        "production_s_events_are_disabled_before_the_data_steps_and_acceptance_s_left_alone",
    ) else {
        return;
    };
    let acceptance = server.database("jobs_a");
    let production = server.database("jobs_p");
    acceptance.exec(SCHEMA);
    acceptance.exec("INSERT INTO app_user VALUES (1, 'tester')");
    acceptance.exec(OWN_EVENT);
    production.exec(SCHEMA);
    production.exec("INSERT INTO app_user VALUES (1, 'dr.visser')");
    production.exec(OWN_EVENT);
    // Production's: reminders for real patients, starting far ahead so that
    // it never runs during the test.
    production.exec(
        "CREATE EVENT patient_reminders ON SCHEDULE EVERY 1 MINUTE STARTS '2030-01-01 00:00:00'
         DO INSERT INTO reminder (patient) VALUES ('Johanna de Vries')",
    );
    let site = Site::with_url(&acceptance.url());
    site.configure("[[preserve]]\ntable = \"app_user\"\n");
    let captured = site.capture().expect(0);
    assert!(
        captured
            .stdout
            .contains("jobs: 1 scheduled jobs recorded (1 enabled)"),
        "{captured:#?}"
    );
    server.refresh(&acceptance, &production);
    assert_eq!(status(&acceptance, "patient_reminders"), "ENABLED");
    let definer_before = definer(&acceptance, "patient_reminders");

    let dry = site.restore(&["--dry-run"]);
    assert!(dry.code == 0 || dry.code == 3, "{dry:#?}");
    assert!(
        dry.stdout
            .contains("1 of production's jobs would be disabled, 1 of acceptance's left as they were: event patient_reminders"),
        "{dry:#?}"
    );
    assert_eq!(
        status(&acceptance, "patient_reminders"),
        "ENABLED",
        "a dry run changes nothing"
    );

    let run = site.restore(&[]);
    assert!(run.code == 0 || run.code == 3, "{run:#?}");
    assert!(
        run.stdout
            .contains("1 of production's jobs disabled, 1 of acceptance's left as they were: event patient_reminders"),
        "{run:#?}"
    );
    assert!(!run.stdout.contains("Johanna"), "a value in {run:#?}");
    assert_eq!(status(&acceptance, "patient_reminders"), "DISABLED");
    assert_eq!(status(&acceptance, "reset_testdata"), "ENABLED");
    assert_eq!(
        definer(&acceptance, "patient_reminders"),
        definer_before,
        "the definer stays the event's"
    );
    assert_eq!(acceptance.rows("SELECT login FROM app_user"), ["tester"]);

    // Compare counts vault's own change as expected.
    site.configure(&format!(
        "[production]\nurl = \"{}\"\n\n[[preserve]]\ntable = \"app_user\"\n",
        production.url()
    ));
    let compared = site.vault_with(&["compare", "--config", common::s(&site.config), "--json"]);
    let json: serde_json::Value =
        serde_json::from_str(&compared.stdout).unwrap_or_else(|e| panic!("{e}: {compared:#?}"));
    let event = json["differences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "event" && d["object"] == "patient_reminders")
        .unwrap_or_else(|| panic!("{json:#}"));
    assert_eq!(event["what"], "status", "{event:#}");
    assert_eq!(event["class"], "expected", "{event:#}");
}

#[test]
fn health_fix_with_the_vault_leaves_acceptance_s_recorded_events_alone() {
    let Some(server) =
        mysql::server("health_fix_with_the_vault_leaves_acceptance_s_recorded_events_alone")
    else {
        return;
    };
    let acceptance = server.database("jobs_health_a");
    let production = server.database("jobs_health_p");
    for db in [&acceptance, &production] {
        db.exec(SCHEMA);
        db.exec(OWN_EVENT);
    }
    production.exec(
        "CREATE EVENT patient_reminders ON SCHEDULE EVERY 1 MINUTE STARTS '2030-01-01 00:00:00'
         DO INSERT INTO reminder (patient) VALUES ('Johanna de Vries')",
    );
    let site = Site::with_url(&acceptance.url());
    site.configure("[[preserve]]\ntable = \"app_user\"\n");
    site.capture().expect(0);
    server.refresh(&acceptance, &production);

    let config = common::s(&site.config);
    let (vault, key) = (common::s(&site.vault), common::s(&site.key));
    let run = site.vault_with(&[
        "health",
        "--config",
        config,
        "--fix",
        "--vault",
        vault,
        "--key-file",
        key,
    ]);
    assert!(run.code == 0 || run.code == 3, "{run:#?}");
    assert!(
        run.stdout
            .contains("acceptance's own job, recorded in the vault at capture: left as it is"),
        "{run:#?}"
    );
    assert_eq!(status(&acceptance, "patient_reminders"), "DISABLED");
    assert_eq!(status(&acceptance, "reset_testdata"), "ENABLED");
}
