//! Capture, refresh (`mariadb-dump | mariadb`) and restore on MariaDB/MySQL through the real
//! binary, once per mode: the preserved tables come back row for row with foreign keys
//! between them, AUTO_INCREMENT ends ahead of keys above production's, triggers leave the
//! rows alone and are back afterwards, generated columns are recomputed, and (replace) the
//! `[grants]` accounts' privileges are acceptance's again.

mod common;

use std::collections::BTreeMap;

use common::mysql::{self, Account, Db, Site};

/// Both databases: preserved tables with foreign keys between them, an
/// AUTO_INCREMENT key, a generated column, stamping triggers, a table whose
/// key has no unique index, a production table that refers to a preserved
/// one, and a procedure (for routine privileges).
const SCHEMA: &str = r#"
CREATE TABLE app_user (
  user_id bigint AUTO_INCREMENT PRIMARY KEY,
  login varchar(40) NOT NULL UNIQUE,
  active tinyint(1) NOT NULL DEFAULT 1,
  login_upper varchar(40) GENERATED ALWAYS AS (upper(login)) STORED,
  updated_at datetime(6) NOT NULL DEFAULT '2000-01-01 00:00:00'
);
CREATE TRIGGER app_user_stamp BEFORE INSERT ON app_user
  FOR EACH ROW SET NEW.updated_at = NOW(6);
CREATE TRIGGER app_user_stamp_again BEFORE UPDATE ON app_user
  FOR EACH ROW SET NEW.updated_at = NOW(6);
CREATE TABLE user_2fa (
  user_id bigint PRIMARY KEY,
  totp_secret varbinary(64) NOT NULL,
  enrolled_on date NOT NULL,
  CONSTRAINT user_2fa_user FOREIGN KEY (user_id) REFERENCES app_user (user_id) ON DELETE CASCADE
);
CREATE TABLE user_role (
  user_id bigint NOT NULL,
  role_name varchar(40) NOT NULL,
  PRIMARY KEY (user_id, role_name),
  CONSTRAINT user_role_user FOREIGN KEY (user_id) REFERENCES app_user (user_id)
);
CREATE TABLE role_audit (role_user bigint NOT NULL, note text);
CREATE TRIGGER user_role_audit AFTER INSERT ON user_role
  FOR EACH ROW INSERT INTO role_audit VALUES (NEW.user_id, 'granted');
CREATE TABLE app_setting (setting_id int AUTO_INCREMENT PRIMARY KEY, name varchar(40) NOT NULL UNIQUE, value text);
CREATE TABLE user_pref (user_id bigint NOT NULL, pref varchar(40) NOT NULL, value text);
CREATE TABLE assessment (
  assessment_id int AUTO_INCREMENT PRIMARY KEY,
  user_id bigint NOT NULL,
  note text,
  CONSTRAINT assessment_user FOREIGN KEY (user_id) REFERENCES app_user (user_id)
);
CREATE PROCEDURE touch_user(IN id bigint) UPDATE app_user SET active = active WHERE user_id = id;
"#;

/// Acceptance's own rows: keys above production's AUTO_INCREMENT.
const ACCEPTANCE: &str = r#"
INSERT INTO app_user (login) VALUES ('alice'), ('bob'), ('tester1');
INSERT INTO app_user (user_id, login, active) VALUES (500, 'acc_admin', 1), (501, 'acc_tester', 0);
INSERT INTO user_2fa VALUES (1, x'00ff', '2024-01-01'), (500, x'deadbeef', '2024-02-02'), (501, x'', '2024-03-03');
INSERT INTO user_role VALUES (1, 'reader'), (500, 'admin'), (501, 'tester');
INSERT INTO app_setting VALUES (1, 'theme', 'acc-dark'), (2, 'mail_host', 'acc-mail'), (40, 'acc_only', 'yes');
INSERT INTO user_pref VALUES (1, 'lang', 'nl'), (500, 'lang', 'en');
INSERT INTO assessment (user_id, note) VALUES (1, 'acceptance note');
DELETE FROM role_audit;
"#;

const PRODUCTION: &str = r#"
INSERT INTO app_user (login) VALUES ('alice'), ('bob_prod'), ('carol'), ('dave'), ('erin');
INSERT INTO user_2fa VALUES (1, x'01', '2023-01-01'), (4, x'04', '2023-04-04');
INSERT INTO user_role VALUES (1, 'reader'), (2, 'clerk'), (4, 'clerk');
INSERT INTO app_setting (name, value) VALUES ('theme', 'prod-light'), ('mail_host', 'prod-mail'), ('prod_only', 'x');
INSERT INTO user_pref VALUES (1, 'lang', 'fr'), (4, 'lang', 'de');
INSERT INTO assessment (user_id, note) VALUES (1, 'about alice'), (2, 'about bob');
DELETE FROM role_audit;
"#;

/// Preserved tables with the number of their leading key columns.
const PRESERVED: [(&str, usize); 5] = [
    ("app_user", 1),
    ("user_2fa", 1),
    ("user_role", 2),
    ("app_setting", 1),
    ("user_pref", 2),
];

fn preserve_sections(mode: &str) -> String {
    let mut text = String::new();
    for (table, _) in PRESERVED {
        text.push_str(&format!(
            "[[preserve]]\ntable = \"{table}\"\nmode = \"{mode}\"\n"
        ));
        if table == "user_pref" {
            text.push_str("key = [\"user_id\", \"pref\"]\n");
        }
        text.push('\n');
    }
    text
}

type Rows = BTreeMap<&'static str, BTreeMap<String, String>>;

/// Every preserved table's rows (hex of each cell) by key.
fn rows_by_key(db: &Db) -> Rows {
    PRESERVED
        .iter()
        .map(|&(table, key_len)| {
            let rows = db
                .table(table)
                .into_iter()
                .map(|row| {
                    let key: Vec<&str> = row.split('|').take(key_len).collect();
                    (key.join("|"), row)
                })
                .collect();
            (table, rows)
        })
        .collect()
}

/// What a restore should leave, table by table, from the rows before.
fn expected(acceptance: &Rows, production: &Rows, mode: &str) -> Rows {
    acceptance
        .iter()
        .map(|(&table, acc)| {
            let prod = &production[table];
            let rows = match mode {
                "replace" => acc.clone(),
                "upsert" => {
                    let mut rows = prod.clone();
                    rows.extend(acc.clone());
                    rows
                }
                _ => {
                    let mut rows = acc.clone();
                    rows.extend(prod.clone());
                    rows
                }
            };
            (table, rows)
        })
        .collect()
}

/// The accounts' privileges in the database, as sorted lines.
fn privileges(db: &Db, accounts: &[&Account]) -> Vec<String> {
    let names: Vec<String> = accounts.iter().map(|a| format!("'{}'", a.name)).collect();
    let grantees: Vec<String> = accounts
        .iter()
        .map(|a| format!("'''{}''@''%'''", a.name))
        .collect();
    let (names, grantees) = (names.join(", "), grantees.join(", "));
    db.rows(&format!(
        "SELECT x FROM (
           SELECT CONCAT_WS(' ', grantee, 'schema', privilege_type, is_grantable) AS x
           FROM information_schema.schema_privileges WHERE table_schema = DATABASE() AND grantee IN ({grantees})
           UNION ALL
           SELECT CONCAT_WS(' ', grantee, table_name, privilege_type, is_grantable)
           FROM information_schema.table_privileges WHERE table_schema = DATABASE() AND grantee IN ({grantees})
           UNION ALL
           SELECT CONCAT_WS(' ', grantee, table_name, column_name, privilege_type)
           FROM information_schema.column_privileges WHERE table_schema = DATABASE() AND grantee IN ({grantees})
           UNION ALL
           SELECT CONCAT_WS(' ', User, Routine_name, Routine_type, Proc_priv)
           FROM mysql.procs_priv WHERE Db = DATABASE() AND User IN ({names})
         ) p ORDER BY 1"
    ))
}

fn grants_fixture(acc: &Db, reader: &Account, writer: &Account) {
    let (r, w, db) = (reader.spec(), writer.spec(), &acc.name);
    acc.exec(&format!(
        "GRANT SHOW VIEW ON `{db}`.* TO {r};
         GRANT SELECT ON `{db}`.app_user TO {r} WITH GRANT OPTION;
         GRANT SELECT (user_id, note) ON `{db}`.assessment TO {r};
         GRANT EXECUTE ON PROCEDURE `{db}`.touch_user TO {r};
         GRANT SELECT, INSERT ON `{db}`.app_setting TO {w};"
    ));
}

/// Production's privileges, as a refresh that brings the grants along
/// would leave them (the grant tables are the server's, not the schema's).
fn production_grants(acc: &Db, reader: &Account, writer: &Account) {
    let (r, w, db) = (reader.spec(), writer.spec(), &acc.name);
    for statement in [
        format!("REVOKE SHOW VIEW ON `{db}`.* FROM {r}"),
        format!("REVOKE SELECT (user_id, note) ON `{db}`.assessment FROM {r}"),
        format!("GRANT SELECT ON `{db}`.assessment TO {r}"),
        format!("REVOKE GRANT OPTION ON `{db}`.app_user FROM {r}"),
        format!("REVOKE EXECUTE ON PROCEDURE `{db}`.touch_user FROM {r}"),
        format!("GRANT ALL ON `{db}`.app_setting TO {w}"),
        format!("GRANT SELECT ON `{db}`.user_pref TO {w}"),
    ] {
        // A privilege the refresh already took away cannot be revoked again.
        let _ = acc.try_exec(&statement);
    }
}

fn round_trip(test: &str, mode: &str, with_grants: bool) {
    let Some(server) = mysql::server(test) else {
        return;
    };
    let reader = server.account("reader");
    let writer = server.account("writer");
    let production = server.database("prod");
    let acceptance = server.database("acc");
    for db in [&acceptance, &production] {
        db.exec(SCHEMA);
    }
    acceptance.exec(ACCEPTANCE);
    production.exec(PRODUCTION);
    let mut config = preserve_sections(mode);
    if with_grants {
        grants_fixture(&acceptance, &reader, &writer);
        config.push_str(&format!(
            "[grants]\nroles = [\"{}\", \"{}\"]\n",
            reader.spec(),
            writer.spec()
        ));
    }
    let site = Site::with_url(&acceptance.url());
    site.configure(&config);

    let acc_before = rows_by_key(&acceptance);
    let prod_before = rows_by_key(&production);
    let privileges_before = privileges(&acceptance, &[&reader, &writer]);
    assert_eq!(privileges_before.len(), if with_grants { 7 } else { 0 });

    let capture = site.capture().expect(0);
    assert!(
        capture.stdout.contains("captured 5 tables, "),
        "{capture:#?}"
    );
    assert!(
        !with_grants
            || capture
                .stdout
                .contains("grants: 7 privileges of 2 accounts on 6 objects"),
        "{capture:#?}"
    );

    server.refresh(&acceptance, &production);
    assert_eq!(
        rows_by_key(&acceptance),
        prod_before,
        "the refresh copied production"
    );
    if with_grants {
        production_grants(&acceptance, &reader, &writer);
        assert_ne!(
            privileges(&acceptance, &[&reader, &writer]),
            privileges_before
        );
    }

    let restore = site.restore(&["--steps", "restore"]).expect(0);
    assert!(restore.stdout.contains("restored 5 tables"), "{restore:#?}");

    let after = rows_by_key(&acceptance);
    let want = expected(&acc_before, &prod_before, mode);
    for (table, rows) in &want {
        assert_eq!(&after[table], rows, "{table} after a {mode} restore");
    }
    if mode == "replace" {
        assert_eq!(
            after, acc_before,
            "every preserved table is acceptance's again"
        );
    }

    // AUTO_INCREMENT is ahead of every key: a new row gets a new key.
    acceptance.exec(
        "INSERT INTO app_user (login) VALUES ('new_after_restore');
         INSERT INTO app_setting (name) VALUES ('new_after_restore');",
    );
    let newest = acceptance.one("SELECT user_id FROM app_user WHERE login = 'new_after_restore'");
    assert!(
        newest.parse::<i64>().unwrap() > 501,
        "app_user's next key {newest}"
    );
    let newest =
        acceptance.one("SELECT setting_id FROM app_setting WHERE name = 'new_after_restore'");
    assert!(
        newest.parse::<i64>().unwrap() > 40,
        "app_setting's next key {newest}"
    );

    // The triggers are back, in their order; they did not fire during the restore.
    assert_eq!(
        acceptance.rows(
            "SELECT CONCAT(trigger_name, ' ', action_timing, ' ', event_manipulation, ' ', action_order)
             FROM information_schema.triggers WHERE trigger_schema = DATABASE() ORDER BY 1"
        ),
        [
            "app_user_stamp BEFORE INSERT 1",
            "app_user_stamp_again BEFORE UPDATE 1",
            "user_role_audit AFTER INSERT 1"
        ]
    );
    assert_eq!(
        acceptance.one("SELECT COUNT(*) FROM role_audit"),
        "0",
        "no trigger fired"
    );
    // Production's rows that refer to a preserved table are still there.
    assert_eq!(acceptance.one("SELECT COUNT(*) FROM assessment"), "2");
    // The session that loaded left foreign-key checks on for everyone.
    assert!(
        acceptance
            .try_exec("INSERT INTO user_role VALUES (99999, 'x')")
            .is_err()
    );

    if with_grants {
        assert!(restore.stdout.contains("grants: GRANT"), "{restore:#?}");
        assert!(restore.stdout.contains("grants: REVOKE"), "{restore:#?}");
        assert_eq!(
            privileges(&acceptance, &[&reader, &writer]),
            privileges_before,
            "the accounts' privileges are acceptance's"
        );
    }
}

#[test]
fn replace_brings_back_rows_and_grants() {
    round_trip("replace_brings_back_rows_and_grants", "replace", true);
}

#[test]
fn upsert_overwrites_captured_keys_and_keeps_the_rest() {
    round_trip(
        "upsert_overwrites_captured_keys_and_keeps_the_rest",
        "upsert",
        false,
    );
}

#[test]
fn insert_missing_adds_only_absent_keys() {
    round_trip(
        "insert_missing_adds_only_absent_keys",
        "insert-missing",
        false,
    );
}

#[test]
fn counts_are_reported_per_mode() {
    let Some(server) = mysql::server("counts_are_reported_per_mode") else {
        return;
    };
    let db = server.database("counts");
    db.exec(
        "CREATE TABLE ticket (code varchar(8) PRIMARY KEY, title text);
         INSERT INTO ticket VALUES ('A', 'first'), ('B', 'second'), ('C', 'third');",
    );
    let site = Site::with_url(&db.url());
    for (mode, line) in [
        (
            "replace",
            "3 inserted, 0 updated, 0 kept, 3 removed first (replace)",
        ),
        (
            "upsert",
            "1 inserted, 2 updated, 0 kept, 0 removed first (upsert)",
        ),
        (
            "insert-missing",
            "1 inserted, 0 updated, 2 kept, 0 removed first (insert-missing)",
        ),
    ] {
        site.configure(&format!(
            "[[preserve]]\ntable = \"ticket\"\nmode = \"{mode}\"\n"
        ));
        let _ = std::fs::remove_file(&site.vault);
        site.capture().expect(0);
        db.exec(
            "DELETE FROM ticket;
             INSERT INTO ticket VALUES ('C', 'prod third'), ('B', 'prod second'), ('Z', 'prod only');",
        );
        let run = site.restore(&["--steps", "restore"]).expect(0);
        assert!(run.stdout.contains(line), "{mode}: {run:#?}");
        db.exec("DELETE FROM ticket; INSERT INTO ticket VALUES ('A', 'first'), ('B', 'second'), ('C', 'third');");
    }
}

#[test]
fn a_replace_with_where_keeps_the_rows_outside_it() {
    let Some(server) = mysql::server("a_replace_with_where_keeps_the_rows_outside_it") else {
        return;
    };
    let db = server.database("scoped");
    db.exec(
        "CREATE TABLE document (doc_id int PRIMARY KEY, audience varchar(10) NOT NULL, body blob);
         INSERT INTO document VALUES (1, 'trial', x'01'), (2, 'trial', x'02'), (3, 'all', x'03');",
    );
    let site = Site::with_url(&db.url());
    site.configure(
        "[[preserve]]\ntable = \"document\"\nwhere = \"audience = 'trial'\"\non_collision = \"replace\"\n",
    );
    site.capture().expect(0);
    db.exec(
        "DELETE FROM document;
         INSERT INTO document VALUES (2, 'all', x'22'), (3, 'all', x'33'), (4, 'trial', x'44');",
    );
    let run = site.restore(&["--steps", "restore"]).expect(0);
    // Row 4 is in scope and was not captured: removed. Row 2 is outside
    // the scope now, but its key was captured: overwritten.
    assert!(
        run.stdout
            .contains("1 inserted, 1 updated, 0 kept, 1 removed first"),
        "{run:#?}"
    );
    assert_eq!(
        db.rows(
            "SELECT CONCAT(doc_id, ' ', audience, ' ', HEX(body)) FROM document ORDER BY doc_id"
        ),
        ["1 trial 01", "2 trial 02", "3 all 33"]
    );
}
