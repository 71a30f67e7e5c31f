//! Grants after a real refresh (PostgreSQL): privileges on objects that production brought and acceptance never had are left as the refresh brought them, PUBLIC's included; acceptance's own objects get their captured privileges back.

mod common;

use common::pg::{self, Site};

#[test]
fn public_keeps_execute_on_a_function_acceptance_never_had() {
    let Some(server) = pg::server("public_keeps_execute_on_a_function_acceptance_never_had") else {
        return;
    };
    let tester = server.role("pubfn_tester");
    let acceptance = server.database("pubfn_acc");
    let production = server.database("pubfn_prod");
    let schema = "CREATE TABLE app_user (id int PRIMARY KEY, login text);
                  CREATE FUNCTION shared_check() RETURNS int LANGUAGE sql AS 'SELECT 1';";
    acceptance.exec(schema);
    production.exec(schema);
    acceptance.exec(&format!(
        "INSERT INTO app_user VALUES (1, 'tester');
         REVOKE EXECUTE ON FUNCTION shared_check() FROM PUBLIC;
         GRANT SELECT ON app_user TO {};",
        tester.name
    ));
    // A function shipped to production first: acceptance never had it.
    production.exec("CREATE FUNCTION new_release() RETURNS int LANGUAGE sql AS 'SELECT 2';");
    let site = Site::new(&acceptance);
    site.configure(&format!(
        "[[preserve]]\ntable = \"app_user\"\n\n[grants]\nroles = [\"public\", \"{}\"]\n",
        tester.name
    ));
    site.capture().expect(0);
    server.refresh(&acceptance, &production);

    let run = site.restore(&["--steps", "restore"]).expect(0);
    let public_may = |function: &str| {
        acceptance.one(&format!(
            "SELECT has_function_privilege('public', '{function}()', 'EXECUTE')::text"
        ))
    };
    assert_eq!(public_may("new_release"), "true", "{run:#?}");
    assert_eq!(
        public_may("shared_check"),
        "false",
        "acceptance's own revoke is back"
    );
    assert_eq!(
        acceptance.one(&format!(
            "SELECT has_table_privilege('{}', 'app_user', 'SELECT')::text",
            tester.name
        )),
        "true"
    );
    assert!(run.stdout.contains("did not have at capture"), "{run:#?}");
}

/// A view the refresh lost: the restore cannot give its privilege back and
/// says so; once the view is created again, `vault health --fix --vault`
/// with the vault's key gives it back.
#[test]
fn a_privilege_on_an_object_that_returns_is_given_back_by_health_fix() {
    let Some(server) =
        pg::server("a_privilege_on_an_object_that_returns_is_given_back_by_health_fix")
    else {
        return;
    };
    let tester = server.role("back_tester");
    let acceptance = server.database("back_acc");
    let production = server.database("back_prod");
    let schema = "CREATE TABLE app_user (id int PRIMARY KEY, login text);
                  CREATE VIEW user_list AS SELECT id, login FROM app_user;";
    acceptance.exec(schema);
    production.exec(schema);
    acceptance.exec(&format!("GRANT SELECT ON user_list TO {}", tester.name));
    let site = Site::new(&acceptance);
    site.configure(&format!(
        "[[preserve]]\ntable = \"app_user\"\n\n[grants]\nroles = [\"{}\"]\n",
        tester.name
    ));
    site.capture().expect(0);
    server.refresh_from_dump(&acceptance, &production);
    acceptance.exec("DROP VIEW user_list");
    let run = site.restore(&["--steps", "restore"]).expect(0);
    assert!(run.stdout.contains("no longer exists"), "{run:#?}");
    acceptance.exec("CREATE VIEW user_list AS SELECT id, login FROM app_user");
    let may_read = || {
        acceptance.one(&format!(
            "SELECT has_table_privilege('{}', 'user_list', 'SELECT')::text",
            tester.name
        ))
    };
    assert_eq!(may_read(), "false");
    let vault = site.vault.display().to_string();
    let key = site.key.display().to_string();
    let fixed = site.vault_with(&[
        "health",
        "--fix",
        "--config",
        common::s(&site.config),
        "--vault",
        &vault,
        "--key-file",
        &key,
    ]);
    assert_eq!(may_read(), "true", "{fixed:#?}");
}
