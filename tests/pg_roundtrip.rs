//! Capture, refresh (`CREATE DATABASE acc TEMPLATE prod`) and restore on PostgreSQL through
//! the real binary, once per mode: the preserved tables come back row for row, sequences end
//! up ahead, triggers leave the rows alone, and (replace) the grants and the foreign servers
//! are acceptance's again.

mod common;

use std::collections::BTreeMap;

use common::pg::{self, Db, Role, Site};

/// Both databases: preserved tables with foreign keys between them (one
/// deferrable), an identity ALWAYS key, a generated column, a stamping
/// trigger and a disabled one, a serial key, a table whose key has no
/// unique index, and a production table that refers to a preserved one.
const SCHEMA: &str = r#"
CREATE SCHEMA camis;
CREATE TABLE camis.app_user (
  user_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  login text NOT NULL UNIQUE,
  active boolean NOT NULL DEFAULT true,
  login_upper text GENERATED ALWAYS AS (upper(login)) STORED,
  updated_at timestamptz NOT NULL DEFAULT '2000-01-01'
);
CREATE FUNCTION camis.stamp() RETURNS trigger LANGUAGE plpgsql
  AS $$ BEGIN NEW.updated_at := clock_timestamp(); RETURN NEW; END $$;
CREATE TRIGGER app_user_stamp BEFORE INSERT OR UPDATE ON camis.app_user
  FOR EACH ROW EXECUTE FUNCTION camis.stamp();
CREATE TRIGGER app_user_off BEFORE UPDATE ON camis.app_user
  FOR EACH ROW EXECUTE FUNCTION camis.stamp();
ALTER TABLE camis.app_user DISABLE TRIGGER app_user_off;
CREATE TABLE camis.user_2fa (
  user_id bigint PRIMARY KEY REFERENCES camis.app_user ON DELETE CASCADE,
  totp_secret bytea NOT NULL,
  enrolled_on date NOT NULL
);
CREATE TABLE camis.user_role (
  user_id bigint NOT NULL REFERENCES camis.app_user DEFERRABLE,
  role_name text NOT NULL,
  PRIMARY KEY (user_id, role_name)
);
CREATE TABLE camis.app_setting (setting_id serial PRIMARY KEY, name text NOT NULL UNIQUE, value text);
CREATE TABLE camis.user_pref (user_id bigint NOT NULL, pref text NOT NULL, value text);
CREATE TABLE camis.assessment (
  assessment_id serial PRIMARY KEY,
  user_id bigint NOT NULL REFERENCES camis.app_user,
  note text
);
"#;

/// Acceptance's own rows: keys above production's sequences.
const ACCEPTANCE: &str = r#"
INSERT INTO camis.app_user (login) VALUES ('alice'), ('bob'), ('tester1');
INSERT INTO camis.app_user (user_id, login, active) OVERRIDING SYSTEM VALUE
  VALUES (500, 'acc_admin', true), (501, 'acc_tester', false);
SELECT setval(pg_get_serial_sequence('camis.app_user', 'user_id'), 501);
INSERT INTO camis.user_2fa VALUES (1, '\x00ff', '2024-01-01'), (500, '\xdeadbeef', '2024-02-02'), (501, '', '2024-03-03');
INSERT INTO camis.user_role VALUES (1, 'reader'), (500, 'admin'), (501, 'tester');
INSERT INTO camis.app_setting VALUES (1, 'theme', 'acc-dark'), (2, 'mail_host', 'acc-mail'), (40, 'acc_only', 'yes');
SELECT setval('camis.app_setting_setting_id_seq', 40);
INSERT INTO camis.user_pref VALUES (1, 'lang', 'nl'), (500, 'lang', 'en');
INSERT INTO camis.assessment (user_id, note) VALUES (1, 'acceptance note');
"#;

const PRODUCTION: &str = r#"
INSERT INTO camis.app_user (login) VALUES ('alice'), ('bob_prod'), ('carol'), ('dave'), ('erin');
INSERT INTO camis.user_2fa VALUES (1, '\x01', '2023-01-01'), (4, '\x04', '2023-04-04');
INSERT INTO camis.user_role VALUES (1, 'reader'), (2, 'clerk'), (4, 'clerk');
INSERT INTO camis.app_setting (name, value) VALUES ('theme', 'prod-light'), ('mail_host', 'prod-mail'), ('prod_only', 'x');
INSERT INTO camis.user_pref VALUES (1, 'lang', 'fr'), (4, 'lang', 'de');
INSERT INTO camis.assessment (user_id, note) VALUES (1, 'about alice'), (2, 'about bob');
"#;

/// Preserved tables with the SQL of their key, as text.
const PRESERVED: [(&str, &str); 5] = [
    ("camis.app_user", "user_id::text"),
    ("camis.user_2fa", "user_id::text"),
    ("camis.user_role", "format('%s/%s', user_id, role_name)"),
    ("camis.app_setting", "setting_id::text"),
    ("camis.user_pref", "format('%s/%s', user_id, pref)"),
];

fn preserve_sections(mode: &str) -> String {
    let mut text = String::new();
    for (table, _) in PRESERVED {
        text.push_str(&format!(
            "[[preserve]]\ntable = \"{table}\"\nmode = \"{mode}\"\n"
        ));
        if table == "camis.user_pref" {
            text.push_str("key = [\"user_id\", \"pref\"]\n");
        }
        text.push('\n');
    }
    text
}

/// Every preserved table's rows by key.
fn rows_by_key(db: &Db) -> BTreeMap<&'static str, BTreeMap<String, String>> {
    PRESERVED
        .iter()
        .map(|&(table, key)| {
            let rows = db.rows(&format!(
                "SELECT {key} || ' => ' || t::text FROM {table} t ORDER BY 1"
            ));
            let rows = rows
                .into_iter()
                .map(|line| {
                    let (k, v) = line.split_once(" => ").unwrap();
                    (k.to_owned(), v.to_owned())
                })
                .collect();
            (table, rows)
        })
        .collect()
}

/// The two roles' privileges on everything, as sorted text.
fn privileges(db: &Db, roles: &[&Role]) -> Vec<String> {
    let names: Vec<String> = roles.iter().map(|r| format!("'{}'", r.name)).collect();
    db.rows(&format!(
        "SELECT x FROM (
           SELECT format('%s %s %s', c.oid::regclass, a.privilege_type, a.is_grantable) AS x, a.grantee
           FROM pg_class c, aclexplode(c.relacl) a WHERE c.relnamespace = 'camis'::regnamespace
           UNION ALL
           SELECT format('%s.%s %s %s', c.oid::regclass, t.attname, a.privilege_type, a.is_grantable), a.grantee
           FROM pg_attribute t JOIN pg_class c ON c.oid = t.attrelid, aclexplode(t.attacl) a
           WHERE c.relnamespace = 'camis'::regnamespace
           UNION ALL
           SELECT format('schema %s %s %s', n.nspname, a.privilege_type, a.is_grantable), a.grantee
           FROM pg_namespace n, aclexplode(n.nspacl) a
           UNION ALL
           SELECT format('%s %s %s', p.oid::regprocedure, a.privilege_type, a.is_grantable), a.grantee
           FROM pg_proc p, aclexplode(p.proacl) a WHERE p.pronamespace = 'camis'::regnamespace
           UNION ALL
           SELECT format('database %s %s', a.privilege_type, a.is_grantable), a.grantee
           FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = current_database()
           UNION ALL
           SELECT format('server %s %s %s', s.srvname, a.privilege_type, a.is_grantable), a.grantee
           FROM pg_foreign_server s, aclexplode(s.srvacl) a
         ) p
         WHERE pg_get_userbyid(p.grantee) IN ({})
         ORDER BY 1",
        names.join(", ")
    ))
}

/// What a restore should leave, table by table, from the rows before.
fn expected(
    acceptance: &BTreeMap<&'static str, BTreeMap<String, String>>,
    production: &BTreeMap<&'static str, BTreeMap<String, String>>,
    mode: &str,
) -> BTreeMap<&'static str, BTreeMap<String, String>> {
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

/// Everything the three modes share; `with_extras` adds grants and foreign servers.
fn round_trip(test: &str, mode: &str, with_extras: bool) {
    let Some(server) = pg::server(test) else {
        return;
    };
    let reader = server.role("reader");
    let writer = server.role("writer");
    let production = server.database("prod");
    let acceptance = server.database("acc");
    for db in [&acceptance, &production] {
        db.exec(SCHEMA);
    }
    acceptance.exec(ACCEPTANCE);
    production.exec(PRODUCTION);
    let mut config = preserve_sections(mode);
    let mut wrapper = String::new();
    if with_extras {
        wrapper = links_fixture(&server, &acceptance, &production, &reader, &writer);
        grants_fixture(&acceptance, &production, &reader, &writer);
        config.push_str(&format!(
            "[grants]\nroles = [\"{}\", \"{}\"]\n",
            reader.name, writer.name
        ));
    }
    let site = Site::new(&acceptance);
    site.configure(&config);

    let acc_before = rows_by_key(&acceptance);
    let prod_before = rows_by_key(&production);
    let privileges_before = privileges(&acceptance, &[&reader, &writer]);
    let servers_before = servers(&acceptance);
    let mappings_before = mappings(&acceptance);

    let capture = site.capture().expect(0);
    assert!(
        capture.stdout.contains("captured 5 tables, "),
        "{capture:#?}"
    );

    server.refresh(&acceptance, &production);
    assert_eq!(
        rows_by_key(&acceptance),
        prod_before,
        "the refresh copied production"
    );

    // A dry run rehearses the restore in its transaction and rolls back:
    // rows, sequences and triggers are as the refresh left them.
    let state = |db: &Db| {
        (
            rows_by_key(db),
            db.rows("SELECT last_value::text FROM camis.app_setting_setting_id_seq"),
            db.rows("SELECT tgname::text || ' ' || tgenabled::text FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1"),
        )
    };
    let refreshed = state(&acceptance);
    let dry_run = site.restore(&["--dry-run", "--steps", "restore"]).expect(0);
    assert!(
        dry_run
            .stdout
            .contains("dry run: the restore was rehearsed in its transaction and rolled back"),
        "{dry_run:#?}"
    );
    assert_eq!(state(&acceptance), refreshed, "the dry run changed nothing");

    let restore = site.restore(&[]).expect(0);
    assert!(restore.stdout.contains("restored 5 tables"), "{restore:#?}");
    let rehearsed = common::restore_count_lines(&dry_run.stdout);
    assert_eq!(rehearsed.len(), 5, "{dry_run:#?}");
    assert_eq!(
        rehearsed,
        common::restore_count_lines(&restore.stdout),
        "the dry run's counts are the restore's"
    );
    assert!(
        mode != "replace"
            || (restore.stdout.contains("grants: GRANT")
                && restore.stdout.contains("user mapping for")),
        "the restore reports the grants and link definitions it put back: {restore:#?}"
    );

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

    // Sequences are ahead of every key, and never went back.
    for (table, column) in [
        ("camis.app_user", "user_id"),
        ("camis.app_setting", "setting_id"),
    ] {
        let ahead = acceptance.one(&format!(
            "SELECT (nextval(pg_get_serial_sequence('{table}', '{column}')) > max({column}))::text FROM {table}"
        ));
        assert_eq!(ahead, "true", "the sequence of {table}.{column} is ahead");
    }
    // Triggers are back as they were: one on, one off.
    assert_eq!(
        acceptance.rows(
            "SELECT tgname || ' ' || tgenabled::text FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1"
        ),
        ["app_user_off D", "app_user_stamp O"]
    );
    // Production's rows that refer to a preserved table are still there.
    assert_eq!(
        acceptance.one("SELECT count(*)::text FROM camis.assessment"),
        "2"
    );

    if with_extras {
        assert_eq!(
            privileges(&acceptance, &[&reader, &writer]),
            privileges_before,
            "the roles' privileges are acceptance's"
        );
        let mut servers_want = servers_before.clone();
        servers_want.push(format!("prod_only {wrapper} {{host=prod-lab.example}}"));
        servers_want.sort();
        assert_eq!(servers(&acceptance), servers_want, "foreign servers");
        assert_eq!(mappings(&acceptance), mappings_before, "user mappings");
        for run in [&capture, &restore] {
            for secret in ["acc-link-secret", "prod-link-secret"] {
                assert!(
                    !run.stdout.contains(secret) && !run.stderr.contains(secret),
                    "{run:#?}"
                );
            }
        }
        let bytes = std::fs::read(&site.vault).unwrap();
        assert!(
            !bytes.windows(15).any(|w| w == b"acc-link-secret"),
            "the password is not in the vault in plaintext"
        );
    }
}

/// Foreign servers and user mappings on both sides; returns the wrapper's name.
fn links_fixture(server: &pg::Server, acc: &Db, prod: &Db, reader: &Role, writer: &Role) -> String {
    let wrapper = if server.has_extension("postgres_fdw") {
        for db in [acc, prod] {
            db.exec("CREATE EXTENSION postgres_fdw");
        }
        "postgres_fdw"
    } else {
        println!(
            "note: postgres_fdw is not available on this server; the foreign servers use a wrapper without handler"
        );
        for db in [acc, prod] {
            db.exec("CREATE FOREIGN DATA WRAPPER vault_test_fdw");
        }
        "vault_test_fdw"
    };
    let (r, w) = (&reader.name, &writer.name);
    acc.exec(&format!(
        "CREATE SERVER neighbour FOREIGN DATA WRAPPER {wrapper} OPTIONS (host 'acc-neighbour.example', dbname 'acc_emr');
         CREATE SERVER acc_only FOREIGN DATA WRAPPER {wrapper} OPTIONS (host 'acc-lab.example');
         CREATE USER MAPPING FOR {r} SERVER neighbour OPTIONS (user 'acc_link', password 'acc-link-secret');
         CREATE USER MAPPING FOR PUBLIC SERVER neighbour OPTIONS (user 'acc_public');
         GRANT USAGE ON FOREIGN SERVER neighbour TO {r};"
    ));
    prod.exec(&format!(
        "CREATE SERVER neighbour FOREIGN DATA WRAPPER {wrapper} OPTIONS (host 'prod-neighbour.example', dbname 'prod_emr', port '5433');
         CREATE SERVER prod_only FOREIGN DATA WRAPPER {wrapper} OPTIONS (host 'prod-lab.example');
         CREATE USER MAPPING FOR {r} SERVER neighbour OPTIONS (user 'prod_link', password 'prod-link-secret');
         CREATE USER MAPPING FOR {w} SERVER neighbour OPTIONS (user 'prod_w');"
    ));
    wrapper.to_owned()
}

fn grants_fixture(acc: &Db, prod: &Db, reader: &Role, writer: &Role) {
    let (r, w) = (&reader.name, &writer.name);
    acc.exec(&format!(
        "GRANT USAGE ON SCHEMA camis TO {r};
         GRANT SELECT ON camis.app_user TO {r} WITH GRANT OPTION;
         GRANT SELECT (user_id, note) ON camis.assessment TO {r};
         GRANT USAGE ON SEQUENCE camis.app_setting_setting_id_seq TO {r};
         GRANT EXECUTE ON FUNCTION camis.stamp() TO {r};
         GRANT TEMPORARY ON DATABASE {db} TO {r};
         GRANT SELECT, INSERT ON camis.app_setting TO {w};",
        db = acc.name
    ));
    prod.exec(&format!(
        "GRANT SELECT ON camis.assessment TO {r};
         GRANT SELECT ON camis.app_user TO {r};
         GRANT ALL ON camis.app_setting TO {w};
         GRANT USAGE ON FOREIGN SERVER neighbour TO {w};"
    ));
}

fn servers(db: &Db) -> Vec<String> {
    db.rows(
        "SELECT format('%s %s %s', s.srvname, w.fdwname, s.srvoptions) FROM pg_foreign_server s
         JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw ORDER BY 1",
    )
}

fn mappings(db: &Db) -> Vec<String> {
    db.rows(
        "SELECT format('%s %s %s', srvname, usename, umoptions) FROM pg_user_mappings ORDER BY 1",
    )
}

#[test]
fn replace_brings_back_rows_grants_and_links() {
    round_trip("replace_brings_back_rows_grants_and_links", "replace", true);
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
fn an_identity_always_column_outside_the_key_keeps_its_values() {
    let Some(server) = pg::server("an_identity_always_column_outside_the_key_keeps_its_values")
    else {
        return;
    };
    let db = server.database("ticket");
    db.exec(
        "CREATE TABLE ticket (
           code text PRIMARY KEY,
           seq_no integer GENERATED ALWAYS AS IDENTITY (START WITH 100),
           title text
         );
         INSERT INTO ticket (code, title) VALUES ('A', 'first'), ('B', 'second'), ('C', 'third');",
    );
    let before = db.table("ticket");
    let site = Site::new(&db);
    site.configure("[[preserve]]\ntable = \"ticket\"\nmode = \"upsert\"\n");
    site.capture().expect(0);
    // As after a refresh: other numbers for the same codes.
    db.exec(
        "DELETE FROM ticket;
         INSERT INTO ticket (code, title) VALUES ('C', 'prod third'), ('B', 'prod second'), ('Z', 'prod only');",
    );
    site.restore(&[]).expect(0);
    let mut want = before.clone();
    want.push(db.one("SELECT t::text FROM ticket t WHERE code = 'Z'"));
    want.sort();
    assert_eq!(db.table("ticket"), want);
    assert_eq!(
        db.one("SELECT attidentity::text FROM pg_attribute WHERE attrelid = 'ticket'::regclass AND attname = 'seq_no'"),
        "a",
        "the column is GENERATED ALWAYS again"
    );
    let next = db.one("INSERT INTO ticket (code) VALUES ('N') RETURNING seq_no::text");
    assert!(
        next.parse::<i32>().unwrap() > 105,
        "the identity is ahead: {next}"
    );
}
