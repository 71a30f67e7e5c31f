//! On PostgreSQL, a `where` that tries to leave its expression is refused before any connection; a capture under row-level security is an error, never a partial vault; a key over a nullable column matches NULL to NULL, so upserts never duplicate rows.

mod common;

use common::pg::{self, Site};

#[test]
fn a_where_that_carries_statements_is_refused_and_changes_nothing() {
    let Some(server) = pg::server("a_where_that_carries_statements_is_refused_and_changes_nothing")
    else {
        return;
    };
    let db = server.database("where_escape");
    db.exec(
        "CREATE TABLE users (id int PRIMARY KEY, password_hash text);
         INSERT INTO users VALUES (1, 'h1'), (2, 'h2');",
    );
    let site = Site::new(&db);
    for filter in [
        r#"true) ORDER BY "id") TO STDOUT; COMMIT; UPDATE users SET password_hash = 'x'; COPY (SELECT 1 AS id WHERE (true"#,
        "true; DROP TABLE users",
        "id > 0 --",
    ] {
        site.configure(&format!(
            "[[preserve]]\ntable = \"users\"\nwhere = {filter:?}\n"
        ));
        let run = site.capture().expect(2);
        let error = run.error_line();
        assert!(error.contains("preserve[0]"), "{run:#?}");
        assert!(
            error.contains("`where` is not one SQL expression"),
            "{run:#?}"
        );
        assert!(!site.vault.exists());
        assert_eq!(db.table("users"), ["(1,h1)", "(2,h2)"]);
    }
}

#[test]
fn rows_hidden_by_row_level_security_stop_the_capture() {
    let Some(server) = pg::server("rows_hidden_by_row_level_security_stop_the_capture") else {
        return;
    };
    let reader = server.role("rls_reader");
    server.admin(&format!("ALTER ROLE {} LOGIN", reader.name));
    let db = server.database("rls");
    db.exec(&format!(
        "CREATE TABLE app_user (id int PRIMARY KEY, login text);
         INSERT INTO app_user SELECT g, 'user' || g FROM generate_series(1, 10) g;
         ALTER TABLE app_user ENABLE ROW LEVEL SECURITY;
         CREATE POLICY half ON app_user FOR SELECT USING (id <= 5);
         GRANT SELECT ON app_user TO {0};",
        reader.name
    ));
    let url = db.url();
    let at = url.find("://").unwrap() + 3;
    let user_end = url[at..].find('@').unwrap() + at;
    let as_reader = format!("{}{}{}", &url[..at], reader.name, &url[user_end..]);
    let site = Site::with_url(&as_reader);
    site.configure("[[preserve]]\ntable = \"app_user\"\n");
    let run = site.capture().expect(1);
    let error = run.error_line();
    assert!(error.contains("row-level security"), "{run:#?}");
    assert!(run.stderr.contains("BYPASSRLS"), "{run:#?}");
    assert!(!site.vault.exists(), "no vault with half the rows");
}

#[test]
fn a_nullable_key_matches_null_to_null_and_upserts_never_duplicate() {
    let Some(server) =
        pg::server("a_nullable_key_matches_null_to_null_and_upserts_never_duplicate")
    else {
        return;
    };
    let db = server.database("nullable_key");
    db.exec(
        "CREATE TABLE app_setting (scope text, name text NOT NULL, value text);
         INSERT INTO app_setting VALUES (NULL, 'mail', 'acc'), ('site', 'mail', 'acc2');",
    );
    let site = Site::new(&db);
    site.configure(
        "[[preserve]]\ntable = \"app_setting\"\nkey = [\"scope\", \"name\"]\nmode = \"upsert\"\n",
    );
    site.capture().expect(0);
    for _ in 0..3 {
        site.restore(&["--steps", "restore"]).expect(0);
    }
    assert_eq!(
        db.table("app_setting"),
        ["(,mail,acc)", "(site,mail,acc2)"],
        "each row once"
    );
}
