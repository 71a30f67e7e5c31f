//! `vault compare` on MariaDB: pairs of databases that differ in one object of each kind (every difference found and named, nothing else), identical pairs, rows changed, missing and extra found by key, values of every type compared exactly, a table without a key, and differences classified from a configuration.

mod common;

use std::collections::BTreeSet;

use common::mysql::{Db, server};
use common::{s, text_file, vault};
use vault::compare::{Class, CompareSummary, DataDifference};
use vault::config::Config;

fn config(acceptance: &Db, production: &Db, rest: &str) -> String {
    format!(
        "[acceptance]\nurl = \"{}\"\n\n[production]\nurl = \"{}\"\n\n{rest}",
        acceptance.url(),
        production.url()
    )
}

fn compare(acceptance: &Db, production: &Db, rest: &str) -> CompareSummary {
    let config = Config::parse(&config(acceptance, production, rest)).unwrap();
    vault::runtime::current_thread()
        .unwrap()
        .block_on(vault::commands::compare::compare(&config, &|_| None))
        .unwrap()
}

fn found(summary: &CompareSummary) -> BTreeSet<(String, String)> {
    summary
        .differences
        .iter()
        .map(|d| (d.kind.clone(), d.object.clone()))
        .collect()
}

fn data<'a>(summary: &'a CompareSummary, object: &str) -> &'a DataDifference {
    summary
        .differences
        .iter()
        .find(|d| d.kind == "data" && d.object == object)
        .unwrap_or_else(|| {
            panic!(
                "no data difference for {object}: {:#?}",
                summary.differences
            )
        })
        .data
        .as_ref()
        .unwrap()
}

const BASE: &str = "
CREATE TABLE parent(id int PRIMARY KEY, code varchar(20), label varchar(50), flag varchar(10),
                    CONSTRAINT parent_code UNIQUE (code));
CREATE TABLE item(id int PRIMARY KEY, parent_id int, name varchar(50) NOT NULL, qty int DEFAULT 0,
                  note varchar(20), n int AS (qty * 2) STORED,
                  CONSTRAINT item_parent FOREIGN KEY (parent_id) REFERENCES parent(id) ON DELETE CASCADE,
                  CONSTRAINT item_qty CHECK (qty >= 0));
CREATE TABLE pkless(a int NOT NULL);
CREATE TABLE kept(id int PRIMARY KEY) ENGINE=InnoDB;
CREATE INDEX item_name ON item(name);
CREATE VIEW v_item AS SELECT id, name FROM item;
CREATE FUNCTION f(a int) RETURNS int DETERMINISTIC RETURN a + 1;
CREATE FUNCTION g() RETURNS int DETERMINISTIC RETURN 1;
CREATE FUNCTION h() RETURNS int DETERMINISTIC RETURN 1;
CREATE PROCEDURE p() BEGIN SELECT 1; END;
CREATE TRIGGER item_trg BEFORE INSERT ON item FOR EACH ROW SET NEW.qty = NEW.qty;
CREATE EVENT ev ON SCHEDULE EVERY 1 DAY DO DELETE FROM pkless WHERE a = 0;
";

#[test]
fn identical_databases_give_no_difference() {
    let Some(server) = server("identical_databases_give_no_difference") else {
        return;
    };
    let acceptance = server.database("cmp_same_a");
    let production = server.database("cmp_same_p");
    // Column order and row order do not count.
    acceptance.exec(BASE);
    acceptance.exec(
        "CREATE TABLE ordered(a int PRIMARY KEY, b varchar(5)); INSERT INTO ordered VALUES (1, 'x'), (2, 'y')",
    );
    production.exec(BASE);
    production.exec(
        "CREATE TABLE ordered(b varchar(5), a int PRIMARY KEY); INSERT INTO ordered VALUES ('y', 2), ('x', 1)",
    );
    let summary = compare(&acceptance, &production, "");
    assert!(summary.differences.is_empty(), "{:#?}", summary.differences);
    assert!(summary.objects_compared > 25, "{summary:#?}");
    assert_eq!(summary.relations_compared, 5, "{summary:#?}");
    assert_eq!(summary.exit(), vault::exit::Exit::Success);
}

#[test]
fn one_difference_of_each_object_kind_is_found_and_named() {
    let Some(server) = server("one_difference_of_each_object_kind_is_found_and_named") else {
        return;
    };
    let acceptance = server.database("cmp_kinds_a");
    let production = server.database("cmp_kinds_p");
    acceptance.exec(BASE);
    production.exec(BASE);
    production.exec(
        "
CREATE TABLE prodonly(id int);
ALTER TABLE kept ENGINE=MyISAM;
ALTER TABLE pkless COLLATE utf8mb4_bin;
ALTER TABLE item MODIFY note varchar(50);
ALTER TABLE item ALTER qty SET DEFAULT 1;
ALTER TABLE parent MODIFY flag varchar(10) NOT NULL;
ALTER TABLE parent MODIFY label varchar(50) COLLATE utf8mb4_bin;
ALTER TABLE item MODIFY name varchar(50) CHARACTER SET latin1 NOT NULL;
ALTER TABLE item MODIFY n int AS (qty * 3) STORED;
ALTER TABLE item DROP CONSTRAINT item_qty;
ALTER TABLE item ADD CONSTRAINT item_qty CHECK (qty >= 1);
ALTER TABLE item DROP FOREIGN KEY item_parent;
ALTER TABLE item ADD CONSTRAINT item_parent FOREIGN KEY (parent_id) REFERENCES parent(id) ON DELETE SET NULL;
ALTER TABLE parent DROP INDEX parent_code;
ALTER TABLE pkless ADD PRIMARY KEY (a);
CREATE INDEX item_qty ON item(qty);
DROP INDEX item_name ON item;
CREATE INDEX item_name ON item(name(10));
CREATE OR REPLACE VIEW v_item AS SELECT id, name, qty FROM item;
DROP FUNCTION f;
CREATE FUNCTION f(a int) RETURNS int DETERMINISTIC RETURN a + 2;
ALTER FUNCTION h SQL SECURITY INVOKER;
DROP FUNCTION g;
CREATE FUNCTION g() RETURNS int NOT DETERMINISTIC RETURN 1;
DROP PROCEDURE p;
CREATE PROCEDURE p() BEGIN SELECT 2; END;
DROP TRIGGER item_trg;
CREATE TRIGGER item_trg AFTER INSERT ON item FOR EACH ROW SET @x = 1;
ALTER EVENT ev ON SCHEDULE EVERY 2 DAY;
",
    );
    let summary = compare(&acceptance, &production, "");
    let expected: BTreeSet<(String, String)> = [
        ("table", "prodonly"),
        ("column", "prodonly.id"),
        ("table", "kept"),
        ("table", "pkless"),
        ("column", "item.note"),
        ("column", "item.qty"),
        ("column", "parent.flag"),
        ("column", "parent.label"),
        ("column", "item.name"),
        ("column", "item.n"),
        ("constraint", "item.item_qty"),
        ("constraint", "item.item_parent"),
        ("constraint", "parent.parent_code"),
        ("index", "parent.parent_code"),
        ("constraint", "pkless.PRIMARY"),
        ("index", "pkless.PRIMARY"),
        ("index", "item.item_qty"),
        ("index", "item.item_name"),
        ("view", "v_item"),
        ("function", "f"),
        ("function", "g"),
        ("function", "h"),
        ("procedure", "p"),
        ("trigger", "item.item_trg"),
        ("event", "ev"),
    ]
    .into_iter()
    .map(|(k, o)| (k.to_owned(), o.to_owned()))
    .collect();
    let got = found(&summary);
    let missing: Vec<_> = expected.difference(&got).collect();
    let surplus: Vec<_> = got.difference(&expected).collect();
    assert!(
        missing.is_empty() && surplus.is_empty(),
        "not found: {missing:#?}\nnot expected: {surplus:#?}\nall: {:#?}",
        summary.differences
    );
    let what = |kind: &str, object: &str| -> BTreeSet<String> {
        summary
            .differences
            .iter()
            .filter(|d| d.kind == kind && d.object == object)
            .map(|d| d.what.clone())
            .collect()
    };
    assert!(what("table", "kept").contains("engine"));
    assert!(what("table", "pkless").contains("collation"));
    assert!(what("table", "prodonly").contains("only in production"));
    assert!(what("column", "item.note").contains("type"));
    assert!(what("column", "item.qty").contains("default"));
    assert!(what("column", "parent.flag").contains("nullable"));
    assert!(what("column", "parent.label").contains("collation"));
    assert!(what("column", "item.name").contains("charset"));
    assert!(what("column", "item.n").contains("generated"));
    assert!(what("constraint", "item.item_qty").contains("check"));
    assert!(what("constraint", "item.item_parent").contains("on_delete"));
    assert!(what("constraint", "parent.parent_code").contains("only in acceptance"));
    assert!(what("index", "item.item_name").contains("columns"));
    assert!(what("view", "v_item").contains("definition"));
    assert!(what("function", "f").contains("body"));
    assert!(what("function", "g").contains("deterministic"));
    assert!(what("function", "h").contains("security"));
    assert!(what("procedure", "p").contains("body"));
    assert!(what("trigger", "item.item_trg").contains("timing"));
    assert!(what("event", "ev").contains("every"));
    let rule = summary
        .differences
        .iter()
        .find(|d| d.object == "item.item_parent" && d.what == "on_delete")
        .unwrap();
    assert_eq!(rule.acceptance.as_deref(), Some("CASCADE"));
    assert_eq!(rule.production.as_deref(), Some("SET NULL"));
    for d in &summary.differences {
        assert_eq!(d.class, Class::Unexpected, "{d:?}");
    }
    assert_eq!(summary.exit(), vault::exit::Exit::Problem);
}

const ROWS: &str = "
CREATE TABLE patient(id int PRIMARY KEY, name varchar(20), born date);
INSERT INTO patient WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
    SELECT i, CONCAT('p', i), DATE '2000-01-01' + INTERVAL i DAY FROM n;
CREATE TABLE log(msg varchar(10));
INSERT INTO log VALUES ('a'), ('b');
CREATE TABLE same_log(msg varchar(10));
INSERT INTO same_log VALUES ('x');
ANALYZE TABLE patient;
";

#[test]
fn changed_missing_and_extra_rows_are_found_by_key() {
    let Some(server) = server("changed_missing_and_extra_rows_are_found_by_key") else {
        return;
    };
    let acceptance = server.database("cmp_rows_a");
    let production = server.database("cmp_rows_p");
    acceptance.exec(ROWS);
    production.exec(ROWS);
    acceptance.exec(
        "UPDATE patient SET name = 'zz-new-name' WHERE id = 5;
         DELETE FROM patient WHERE id = 7;
         INSERT INTO patient VALUES (2000, 'new', NULL);
         INSERT INTO log VALUES ('c');",
    );
    let summary = compare(&acceptance, &production, "");
    assert_eq!(summary.differences.len(), 2, "{:#?}", summary.differences);
    let patient = data(&summary, "patient");
    assert!(patient.keyed);
    assert_eq!(
        (patient.acceptance_rows, patient.production_rows),
        (1000, 1000)
    );
    assert_eq!((patient.missing, patient.extra, patient.changed), (1, 1, 1));
    assert_eq!(patient.sample_keys, vec!["(2000)", "(5)", "(7)"]);
    let json = serde_json::to_string(&summary).unwrap();
    assert!(
        !json.contains("zz-new-name") && !json.contains("p6"),
        "no row value in the output: {json}"
    );
    let log = data(&summary, "log");
    assert!(!log.keyed);
    assert_eq!((log.acceptance_rows, log.production_rows), (3, 2));
    assert!(
        summary
            .notes
            .iter()
            .any(|n| n.contains("log") && n.contains("no primary key")),
        "{:?}",
        summary.notes
    );
    assert!(
        summary.notes.iter().any(|n| n.contains("same_log")),
        "{:?}",
        summary.notes
    );
}

/// Every type's value is compared by its exact text: a change in the last
/// microsecond, decimal place, bit or byte is found, and NULL is not ''.
#[test]
fn values_of_every_type_are_compared_exactly() {
    let Some(server) = server("values_of_every_type_are_compared_exactly") else {
        return;
    };
    let acceptance = server.database("cmp_types_a");
    let production = server.database("cmp_types_p");
    let schema = "
CREATE TABLE typed(id int PRIMARY KEY, ti tinyint, ub bigint unsigned, de decimal(10,3), fl float, do double,
  bi bit(5), ch char(5), vc varchar(20), tx text, bn binary(4), vb varbinary(10), bl longblob,
  da date, tm time(3), dt datetime(6), ts timestamp(6) NULL, yr year, js json, en enum('a','b'), st set('x','y'));
INSERT INTO typed (id) VALUES (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11), (12), (13), (14),
  (15), (16), (17), (18), (19), (20), (21), (22);
UPDATE typed SET ti = -5, ub = 18446744073709551615, de = 1.5, fl = 0.1, do = 0.1, bi = b'10101',
  ch = 'ab', vc = 'a,b', tx = 'emoji 😀', bn = 'ab', vb = x'00ff', bl = REPEAT('z', 100000), da = '2024-02-29',
  tm = '-12:00:00.125', dt = '2024-01-01 00:00:00.000001', ts = '2024-01-01 00:00:00.5', yr = 2024,
  js = '{\"a\": 1}', en = 'a', st = 'x,y' WHERE id > 1;
CREATE TABLE named(a varchar(10), b varchar(10), PRIMARY KEY (a, b));
INSERT INTO named VALUES ('a,b', 'c'), ('it''s', 'x');
";
    acceptance.exec(schema);
    production.exec(schema);
    // One column changed per row, by the smallest step its type has.
    acceptance.exec(
        "UPDATE typed SET ti = -4 WHERE id = 2;
         UPDATE typed SET ub = 18446744073709551614 WHERE id = 3;
         UPDATE typed SET de = 1.501 WHERE id = 4;
         UPDATE typed SET fl = 0.2 WHERE id = 5;
         UPDATE typed SET do = 0.1000000000000001 WHERE id = 6;
         UPDATE typed SET bi = b'10100' WHERE id = 7;
         UPDATE typed SET ch = 'aB' WHERE id = 8;
         UPDATE typed SET vc = 'a,b ' WHERE id = 9;
         UPDATE typed SET tx = 'emoji 😁' WHERE id = 10;
         UPDATE typed SET bn = 'ac' WHERE id = 11;
         UPDATE typed SET vb = x'00fe' WHERE id = 12;
         UPDATE typed SET bl = CONCAT(REPEAT('z', 99999), 'y') WHERE id = 13;
         UPDATE typed SET da = '2024-03-01' WHERE id = 14;
         UPDATE typed SET tm = '-12:00:00.126' WHERE id = 15;
         UPDATE typed SET dt = '2024-01-01 00:00:00.000002' WHERE id = 16;
         UPDATE typed SET ts = '2024-01-01 00:00:00.500001' WHERE id = 17;
         UPDATE typed SET yr = 2025 WHERE id = 18;
         UPDATE typed SET js = '{\"a\": 2}' WHERE id = 19;
         UPDATE typed SET en = 'b' WHERE id = 20;
         UPDATE typed SET st = 'x' WHERE id = 21;
         UPDATE typed SET vc = '' WHERE id = 1;
         DELETE FROM named WHERE a = 'a,b';
         INSERT INTO named VALUES ('a', 'b,c');",
    );
    let summary = compare(&acceptance, &production, "");
    let typed = data(&summary, "typed");
    assert_eq!((typed.missing, typed.extra), (0, 0), "{typed:?}");
    assert_eq!(typed.changed, 21, "{typed:?}");
    let unchanged: Vec<String> = (1..=22)
        .map(|i| format!("({i})"))
        .filter(|k| !typed.sample_keys.contains(k))
        .collect();
    assert!(
        typed.sample_keys.len() == 10 && unchanged.contains(&"(22)".to_owned()),
        "{typed:?}"
    );
    let named = data(&summary, "named");
    assert_eq!(
        (named.missing, named.extra, named.changed),
        (1, 1, 0),
        "{named:?}"
    );
    assert_eq!(named.sample_keys, vec!["('a','b,c')", "('a,b','c')"]);
}

#[test]
fn differences_are_classified_from_the_configuration() {
    let Some(server) = server("differences_are_classified_from_the_configuration") else {
        return;
    };
    let acceptance = server.database("cmp_class_a");
    let production = server.database("cmp_class_p");
    let schema = "
CREATE TABLE app_user(id int PRIMARY KEY, name varchar(20));
INSERT INTO app_user VALUES (1, 'prod-user');
CREATE TABLE document(id int PRIMARY KEY, body text);
INSERT INTO document VALUES (1, 'secret'), (2, 'secret');
CREATE TABLE audit(id int PRIMARY KEY, at varchar(20));
CREATE TABLE other(id int PRIMARY KEY);
INSERT INTO other VALUES (1);
";
    acceptance.exec(schema);
    production.exec(schema);
    acceptance.exec(
        "INSERT INTO app_user VALUES (2, 'tester');
         DELETE FROM document;
         ALTER TABLE audit MODIFY at varchar(10);",
    );
    let rest = "[[preserve]]\ntable = \"app_user\"\n\n[[sanitize]]\ntable = \"document\"\ndelete_all = true\n\n\
                [compare]\nignore = [{ object = \"audit\", reason = \"acceptance audits its own way\" }]\n";
    let summary = compare(&acceptance, &production, rest);
    let reason = |object: &str| -> String {
        let d = summary
            .differences
            .iter()
            .find(|d| d.object == object)
            .unwrap_or_else(|| panic!("{object} not found in {:#?}", summary.differences));
        assert_eq!(d.class, Class::Expected, "{d:?}");
        d.reason.clone()
    };
    assert!(reason("app_user").contains("preserved"));
    assert!(reason("document").contains("sanitized"));
    assert!(reason("audit.at").contains("acceptance audits its own way"));
    assert_eq!(summary.unexpected(), 0, "{:#?}", summary.differences);

    // Through the binary: 0 when all is explained, 3 with one unexpected
    // difference, --json with stable names.
    let dir = tempfile::tempdir().unwrap();
    let path = text_file(
        dir.path(),
        "vault.toml",
        &config(&acceptance, &production, rest),
    );
    let run = vault(["compare", "--config", s(&path)], &[]).expect(0);
    assert!(run.stdout.contains("expected"), "{}", run.stdout);
    assert!(run.stdout.contains("0 unexpected"), "{}", run.stdout);
    acceptance.exec("INSERT INTO other VALUES (2)");
    let run = vault(["compare", "--config", s(&path), "--json"], &[]).expect(3);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let other = json["differences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["object"] == "other")
        .unwrap();
    assert_eq!(other["class"], "unexpected");
    assert_eq!(other["data"]["extra"], 1);
    // Keys reach the JSON only as keyed digests.
    assert!(other["data"].get("sample_keys").is_none(), "{other:#}");
    let digest = other["data"]["sample_key_digests"][0].as_str().unwrap();
    assert!(digest.starts_with("k:") && digest.len() == 18, "{digest}");
    assert!(!run.stdout.contains("\"(2)\""), "{}", run.stdout);
    assert!(!run.stdout.contains("prod-user") && !run.stdout.contains("secret"));

    // Without [production]: exit 2 and a clear message.
    let path = text_file(
        dir.path(),
        "no-prod.toml",
        &format!("[acceptance]\nurl = \"{}\"\n", acceptance.url()),
    );
    let run = vault(["compare", "--config", s(&path)], &[]).expect(2);
    assert!(run.error_line().contains("[production]"), "{}", run.stderr);
}

/// The compare only reads: after `read_only` its session cannot write,
/// and a whole compare changes nothing.
#[test]
fn the_compare_reads_only() {
    let Some(server) = server("the_compare_reads_only") else {
        return;
    };
    let acceptance = server.database("cmp_ro_a");
    let production = server.database("cmp_ro_p");
    acceptance.exec(ROWS);
    production.exec(ROWS);
    let url = vault::config::DatabaseUrl::parse(&acceptance.url()).unwrap();
    let refused = vault::runtime::current_thread().unwrap().block_on(async {
        use vault::compare::Compare;
        use vault::sanitize::Sanitizer;
        let mut db = vault::db::mysql::Mysql::connect(&url).await.unwrap();
        db.read_only().await.unwrap();
        db.sanitize_execute("UPDATE patient SET name = 'changed' WHERE id = 1")
            .await
    });
    let error = refused.expect_err("a write in the compare's session");
    assert!(error.to_string().contains("READ ONLY"), "{error}");
    let before = (acceptance.table("patient"), production.table("log"));
    let summary = compare(&acceptance, &production, "");
    assert!(summary.differences.is_empty(), "{:#?}", summary.differences);
    assert_eq!(
        before,
        (acceptance.table("patient"), production.table("log"))
    );
}

/// FEDERATED tables are links: their definitions are compared (a change is
/// expected: acceptance keeps its own), their rows are not, and a remote
/// server that cannot be reached does not stop the compare.
#[test]
fn federated_tables_are_compared_as_links_without_connecting() {
    let test = "federated_tables_are_compared_as_links_without_connecting";
    let Some(server) = server(test) else {
        return;
    };
    let acceptance = server.database("cmp_fed_a");
    let production = server.database("cmp_fed_p");
    let remote = server.database("cmp_fed_r");
    let engines = acceptance
        .rows("SELECT ENGINE FROM information_schema.ENGINES WHERE SUPPORT IN ('YES', 'DEFAULT')");
    if !engines.iter().any(|e| e.eq_ignore_ascii_case("FEDERATED"))
        && let Err(why) = acceptance.try_exec("INSTALL SONAME 'ha_federatedx'")
    {
        println!("skipped {test}: the FEDERATED engine is not loaded and cannot be ({why})");
        return;
    }
    remote.exec("CREATE TABLE cases (id int PRIMARY KEY); INSERT INTO cases VALUES (1)");
    let name = |label: &str| format!("vc{}_{label}", std::process::id());
    let (acc_server, prod_server) = (name("acc"), name("prod"));
    let root = |db: &Db| {
        let rest = db.url().split_once("://").unwrap().1.to_owned();
        let authority = rest.split('/').next().unwrap().to_owned();
        let (user, hostport) = authority.rsplit_once('@').unwrap_or(("root", &authority));
        let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "3306"));
        (user.to_owned(), host.to_owned(), port.to_owned())
    };
    let (user, host, port) = root(&remote);
    for server_name in [&acc_server, &prod_server] {
        acceptance.exec(&format!(
            "CREATE SERVER `{server_name}` FOREIGN DATA WRAPPER mysql
             OPTIONS (HOST '{host}', PORT {port}, USER '{user}', DATABASE '{}')",
            remote.name
        ));
    }
    let _drop = DropServers(&acceptance, vec![acc_server.clone(), prod_server.clone()]);
    acceptance.exec(&format!(
        "CREATE TABLE remote_case (id int PRIMARY KEY) ENGINE=FEDERATED CONNECTION='{acc_server}/cases'"
    ));
    production.exec(&format!(
        "CREATE TABLE remote_case (id int PRIMARY KEY) ENGINE=FEDERATED CONNECTION='{prod_server}/cases'"
    ));
    // Now neither server can be reached: opening the tables would fail.
    for server_name in [&acc_server, &prod_server] {
        acceptance.exec(&format!(
            "ALTER SERVER `{server_name}` OPTIONS (HOST 'unreachable.invalid')"
        ));
    }
    let summary = compare(&acceptance, &production, "");
    assert_eq!(summary.relations_compared, 0, "{summary:#?}");
    let link = summary
        .differences
        .iter()
        .find(|d| d.kind == "foreign-table" && d.object == "remote_case")
        .unwrap_or_else(|| panic!("{:#?}", summary.differences));
    assert_eq!(link.what, "connection");
    assert_eq!(
        link.acceptance.as_deref(),
        Some(format!("{acc_server}/cases").as_str())
    );
    assert_eq!(link.class, Class::Expected, "{link:?}");
    assert_eq!(summary.differences.len(), 1, "{:#?}", summary.differences);
}

/// Drops the test's servers (mysql.servers is server-wide).
struct DropServers<'a>(&'a Db, Vec<String>);

impl Drop for DropServers<'_> {
    fn drop(&mut self) {
        for name in &self.1 {
            let _ = self.0.try_exec(&format!("DROP SERVER IF EXISTS `{name}`"));
        }
    }
}

/// The DBAs' refresh (`mariadb-dump | mariadb`) gives a copy that compares
/// equal, though the database has another name.
#[test]
fn a_refreshed_copy_has_no_difference() {
    let Some(server) = server("a_refreshed_copy_has_no_difference") else {
        return;
    };
    let acceptance = server.database("cmp_refresh_a");
    let production = server.database("cmp_refresh_p");
    production.exec(BASE);
    production.exec(ROWS);
    server.refresh(&acceptance, &production);
    let summary = compare(&acceptance, &production, "");
    assert!(summary.differences.is_empty(), "{:#?}", summary.differences);
    assert_eq!(summary.relations_compared, 7, "{summary:#?}");
}
