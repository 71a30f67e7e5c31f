//! On MariaDB/MySQL, a column hidden from the capturing account by a column privilege is an error, never a vault without it; a key over a nullable column matches NULL to NULL, so upserts never duplicate rows.

mod common;

use common::mysql::{self, Site};

#[test]
fn a_column_hidden_by_a_column_privilege_stops_the_capture() {
    let Some(server) = mysql::server("a_column_hidden_by_a_column_privilege_stops_the_capture")
    else {
        return;
    };
    let reader = server.account("col_reader");
    let db = server.database("column_grant");
    db.exec(
        "CREATE TABLE app_user (id int PRIMARY KEY, login varchar(20), totp_secret varchar(40));
         INSERT INTO app_user VALUES (1, 'alice', 's1'), (2, 'bob', 's2');",
    );
    server.admin(&format!(
        "ALTER USER '{0}'@'%' ACCOUNT UNLOCK; GRANT SELECT (id, login) ON `{1}`.app_user TO '{0}'@'%'",
        reader.name, db.name
    ));
    let url = db.url();
    let at = url.find("://").unwrap() + 3;
    let user_end = url[at..].find('@').unwrap() + at;
    let as_reader = format!("{}{}{}", &url[..at], reader.name, &url[user_end..]);
    let site = Site::with_url(&as_reader);
    site.configure("[[preserve]]\ntable = \"app_user\"\n");
    let run = site.capture().expect(1);
    assert!(
        run.error_line().contains("may not read every column"),
        "{run:#?}"
    );
    assert!(!site.vault.exists(), "no vault without totp_secret");
}

#[test]
fn a_nullable_key_matches_null_to_null_and_upserts_never_duplicate() {
    let Some(server) =
        mysql::server("a_nullable_key_matches_null_to_null_and_upserts_never_duplicate")
    else {
        return;
    };
    let db = server.database("nullable_key");
    db.exec(
        "CREATE TABLE app_setting (scope varchar(20), name varchar(20) NOT NULL, value varchar(20));
         INSERT INTO app_setting VALUES (NULL, 'mail', 'acc'), ('site', 'mail', 'acc2');",
    );
    let site = Site::with_url(&db.url());
    site.configure(
        "[[preserve]]\ntable = \"app_setting\"\nkey = [\"scope\", \"name\"]\nmode = \"upsert\"\n",
    );
    site.capture().expect(0);
    let before = db.table("app_setting");
    for _ in 0..3 {
        site.restore(&["--steps", "restore"]).expect(0);
    }
    assert_eq!(db.table("app_setting"), before, "each row once");
}
