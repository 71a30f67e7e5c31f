//! Acceptance's own code objects on PostgreSQL across a drop-and-create refresh (`pg_dump` | `pg_restore`): the views, functions, procedures and triggers the refresh removed or changed are listed in the output and the report, the `[objects] keep` ones are re-created in the restore transaction with their privileges, and nothing is listed when nothing changed.

mod common;

use common::pg::{self, Db, Site};
use common::s;

const SCHEMA: &str = "
CREATE TABLE app_user (user_id int PRIMARY KEY, login text NOT NULL, role text NOT NULL);
CREATE TABLE audit (line text);";

/// What only acceptance has: a test-data procedure, a view, a trigger and
/// its function, a function nobody keeps; and a view production defines
/// otherwise.
const OWN: &str = "
CREATE PROCEDURE reset_testdata() LANGUAGE sql AS $$ UPDATE app_user SET login = 'tester' WHERE user_id = 1 $$;
CREATE VIEW v_testers AS SELECT login FROM app_user WHERE role = 'test';
CREATE VIEW v_logins AS SELECT login FROM app_user WHERE role <> 'admin';
CREATE FUNCTION audit_fn() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO audit VALUES ('secret-literal'); RETURN NEW; END $$;
CREATE TRIGGER trg_audit AFTER INSERT ON app_user FOR EACH ROW EXECUTE FUNCTION audit_fn();
CREATE FUNCTION only_acceptance(n int) RETURNS int LANGUAGE sql AS $$ SELECT n + 1 $$;
CREATE FUNCTION note_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
CREATE EVENT TRIGGER vault_t_note_ddl ON ddl_command_end EXECUTE FUNCTION note_ddl();";

fn databases(server: &std::sync::Arc<pg::Server>) -> (Db, Db) {
    let acceptance = server.database("obj_a");
    let production = server.database("obj_p");
    acceptance.exec(SCHEMA);
    acceptance.exec("INSERT INTO app_user VALUES (1, 'tester', 'test'), (2, 'root', 'admin')");
    acceptance.exec(OWN);
    production.exec(SCHEMA);
    production.exec(
        "INSERT INTO app_user VALUES (7, 'dr.visser', 'doctor');
         CREATE VIEW v_logins AS SELECT login FROM app_user;",
    );
    (acceptance, production)
}

#[test]
fn a_dump_refresh_s_removed_objects_are_listed_and_the_kept_ones_re_created() {
    let Some(server) =
        pg::server("a_dump_refresh_s_removed_objects_are_listed_and_the_kept_ones_re_created")
    else {
        return;
    };
    let reader = server.role("obj_reader");
    let (acceptance, production) = databases(&server);
    // Production has its own audit trigger and function of the same names.
    production.exec(
        "CREATE FUNCTION audit_fn() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO audit VALUES ('production'); RETURN NEW; END $$;
         CREATE TRIGGER trg_audit BEFORE INSERT ON app_user FOR EACH ROW EXECUTE FUNCTION audit_fn();",
    );
    acceptance.exec(&format!("GRANT SELECT ON v_testers TO {}", reader.name));
    let site = Site::new(&acceptance);
    site.configure(
        "[[preserve]]\ntable = \"app_user\"\n\n[objects]\nkeep = [\"public.reset_testdata\", \"public.v_testers\", \"public.v_logins\", \"public.audit_fn\", \"public.trg_audit\"]\n",
    );
    let captured = site.capture().expect(0);
    assert!(
        captured.stdout.contains("objects: 5 kept whole"),
        "{captured:#?}"
    );
    server.refresh_from_dump(&acceptance, &production);
    let dry = site.restore(&["--steps", "restore", "--dry-run"]);
    assert_eq!(dry.code, 0, "{dry:#?}");
    assert!(
        dry.stdout.contains(
            "would be re-created procedure public.reset_testdata() (removed by the refresh)"
        ),
        "{dry:#?}"
    );
    assert_eq!(
        acceptance.one("SELECT count(*)::text FROM pg_proc WHERE proname = 'reset_testdata'"),
        "0",
        "the rehearsal was rolled back"
    );

    let report = site.dir.path().join("report");
    let run = site.restore(&["--steps", "restore", "--report-dir", s(&report)]);
    assert_eq!(run.code, 0, "{run:#?}");
    for line in [
        "re-created function public.audit_fn() (changed by the refresh)",
        "re-created procedure public.reset_testdata() (removed by the refresh)",
        "re-created view public.v_logins (changed by the refresh)",
        "re-created view public.v_testers (removed by the refresh)",
        "re-created trigger public.trg_audit on public.app_user (changed by the refresh)",
        "note: acceptance's own objects removed by the refresh, not kept: event trigger vault_t_note_ddl, function public.note_ddl(), function public.only_acceptance(n integer)",
    ] {
        assert!(run.stdout.contains(line), "{line}\n{run:#?}");
    }
    assert!(!run.stdout.contains("secret-literal"), "{run:#?}");
    // What a DBA checks: the view shows acceptance's rows, the procedure
    // runs, the trigger fires, the grant is back.
    assert_eq!(acceptance.rows("SELECT login FROM v_testers"), ["tester"]);
    assert_eq!(
        acceptance.rows("SELECT login FROM v_logins ORDER BY 1"),
        ["tester"]
    );
    acceptance.exec("UPDATE app_user SET login = 'x' WHERE user_id = 1; CALL reset_testdata()");
    assert_eq!(
        acceptance.one("SELECT login FROM app_user WHERE user_id = 1"),
        "tester"
    );
    acceptance.exec("INSERT INTO app_user VALUES (3, 'new', 'test')");
    assert_eq!(
        acceptance.rows("SELECT line FROM audit"),
        ["secret-literal"]
    );
    assert_eq!(
        acceptance.one(&format!(
            "SELECT has_table_privilege('{}', 'v_testers', 'SELECT')::text",
            reader.name
        )),
        "true"
    );
    let markdown = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(markdown.contains("Acceptance's own objects"), "{markdown}");
    assert!(markdown.contains("only\\_acceptance"), "{markdown}");
    assert!(!markdown.contains("secret-literal"), "{markdown}");
}

#[test]
fn nothing_is_listed_when_the_refresh_changed_no_object_and_a_missing_kept_name_stops_the_capture()
{
    let Some(server) = pg::server(
        "nothing_is_listed_when_the_refresh_changed_no_object_and_a_missing_kept_name_stops_the_capture",
    ) else {
        return;
    };
    let (acceptance, _production) = databases(&server);
    let site = Site::new(&acceptance);
    site.configure("[[preserve]]\ntable = \"app_user\"\n\n[objects]\nkeep = [\"public.v_gone\"]\n");
    let refused = site.capture().expect(2);
    assert!(refused.stderr.contains("public.v_gone"), "{refused:#?}");
    assert!(!site.vault.exists());

    site.configure(
        "[[preserve]]\ntable = \"app_user\"\n\n[objects]\nkeep = [\"public.v_testers\"]\n",
    );
    site.capture().expect(0);
    let run = site.restore(&["--steps", "restore"]).expect(0);
    assert!(!run.stdout.contains("re-created"), "{run:#?}");
    assert!(!run.stdout.contains("by the refresh"), "{run:#?}");
}

#[test]
fn objects_production_defines_the_same_are_not_listed_whatever_the_search_path() {
    let Some(server) =
        pg::server("objects_production_defines_the_same_are_not_listed_whatever_the_search_path")
    else {
        return;
    };
    let acceptance = server.database("obj_sp_a");
    let production = server.database("obj_sp_p");
    let shared = "
        CREATE SCHEMA app;
        CREATE TABLE app.app_user (user_id int PRIMARY KEY, login text NOT NULL);
        CREATE VIEW app.v_logins AS SELECT login FROM app.app_user;
        CREATE FUNCTION app.count_users() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM app.app_user $$;";
    acceptance.exec(shared);
    production.exec(shared);
    acceptance.exec("INSERT INTO app.app_user VALUES (1, 'tester')");
    // Acceptance's sessions see app first; the dump refresh drops that setting.
    server.admin(&format!(
        "ALTER DATABASE {} SET search_path = app, public",
        acceptance.name
    ));
    let site = Site::new(&acceptance);
    site.configure("[[preserve]]\ntable = \"app.app_user\"\n");
    site.capture().expect(0);
    server.refresh_from_dump(&acceptance, &production);
    let run = site.restore(&["--steps", "restore"]).expect(0);
    assert!(!run.stdout.contains("by the refresh"), "{run:#?}");
}
