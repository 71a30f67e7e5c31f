//! pg_cron for real, on a server of the test's own started with `shared_preload_libraries = pg_cron`: production's jobs that a physical copy brings are stopped at the start of the restore, acceptance's own recorded job is left as it was, and `vault health` lists jobs and with `--fix` makes them inactive (kept, to be re-enabled).

mod common;

use common::cluster::{self, Cluster};
use common::pg::Site;
use common::s;

const SETTINGS: [(&str, &str); 2] = [
    ("shared_preload_libraries", "pg_cron"),
    ("cron.database_name", "camis"),
];

/// A cluster with pg_cron in database camis, one table and one job.
fn cluster_with_job(bin: &std::path::Path, job: &str) -> Option<Cluster> {
    let lib = bin.parent()?.join("lib/pg_cron.so");
    if !lib.exists() {
        use vault::env_vars::VAULT_TEST_REQUIRE_SERVERS;
        let line = "pg_cron is not installed (Debian: postgresql-15-cron)";
        if std::env::var(VAULT_TEST_REQUIRE_SERVERS).as_deref() == Ok("1") {
            panic!("{line}; {VAULT_TEST_REQUIRE_SERVERS}=1 requires it (.ci/run installs it)");
        }
        println!("skipped: {line}");
        return None;
    }
    let server = Cluster::with_settings(bin, &SETTINGS);
    server.psql("postgres", "CREATE DATABASE camis");
    server.psql(
        "camis",
        &format!(
            "CREATE EXTENSION pg_cron;
             CREATE TABLE app_user (id int PRIMARY KEY, login text);
             INSERT INTO app_user VALUES (1, 'alice');
             SELECT cron.schedule('{job}', '0 3 * * *', 'SELECT 1');"
        ),
    );
    Some(server)
}

fn active(server: &Cluster, job: &str) -> String {
    server.psql(
        "camis",
        &format!("SELECT active::text FROM cron.job WHERE jobname = '{job}'"),
    )
}

#[test]
fn production_jobs_are_stopped_first_and_health_fix_makes_jobs_inactive() {
    let test = "production_jobs_are_stopped_first_and_health_fix_makes_jobs_inactive";
    let Some(bin) = cluster::binaries(test) else {
        return;
    };
    let Some(acceptance) = cluster_with_job(&bin, "acc_cleanup") else {
        return;
    };
    let Some(production) = cluster_with_job(&bin, "patient_reminders") else {
        return;
    };
    // Acceptance runs production's cleanup too, as the copy will.
    production.psql(
        "camis",
        "SELECT cron.schedule('acc_cleanup', '0 3 * * *', 'SELECT 1')",
    );
    let site = Site::with_url(&acceptance.url("camis"));
    site.configure("[[preserve]]\ntable = \"app_user\"\n");
    site.capture().expect(0);

    // The refresh: a physical copy of production becomes acceptance.
    let refreshed = production.physical_copy();
    let mut site = site;
    site.set_acceptance_url(&refreshed.url("camis"));
    let run = site
        .restore(&["--steps", "restore", "--target-differs"])
        .expect(0);
    assert_eq!(active(&refreshed, "patient_reminders"), "false", "{run:#?}");
    assert_eq!(active(&refreshed, "acc_cleanup"), "true", "{run:#?}");
    assert!(run.stdout.contains("patient_reminders"), "{run:#?}");
    // The physical copy is visible: another system identifier.
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(
        said.contains("note: acceptance's server changed: system identifier"),
        "{run:#?}"
    );

    // Health on production's own copy lists its active job; --fix makes it
    // inactive, and says how to run it again.
    let site = Site::with_url(&production.url("camis"));
    site.configure("");
    let listed = site
        .vault_with(&["health", "--config", s(&site.config)])
        .expect(0);
    assert!(listed.stdout.contains("patient_reminders"), "{listed:#?}");
    let fixed = site
        .vault_with(&["health", "--fix", "--config", s(&site.config)])
        .expect(0);
    assert!(fixed.stdout.contains("cron.alter_job"), "{fixed:#?}");
    assert_eq!(active(&production, "patient_reminders"), "false");
    assert_eq!(active(&production, "acc_cleanup"), "false");
}
