//! `vault health` on MariaDB/MySQL: broken views, routines and triggers and an enabled event are found (nothing changes), the event is disabled by `--fix`, a clean database gives no finding, and `--fix` never touches production.

mod common;

use common::health::{check, finding, found};
use common::mysql::{Db, Site, server};
use common::s;

/// Every kind of finding that can be made with SQL, each named in the
/// comment that makes it.
const BROKEN: &str = "
CREATE TABLE orders (id int AUTO_INCREMENT PRIMARY KEY, code varchar(10), qty int);
INSERT INTO orders (code, qty) VALUES ('a', 1), ('b', 2);
CREATE TABLE gone (x int);
CREATE TABLE gone_log (msg text);
CREATE TABLE stock (id int PRIMARY KEY, qty int);
CREATE FUNCTION helper() RETURNS int DETERMINISTIC RETURN 1;
CREATE PROCEDURE old_proc() SELECT 1;
-- Views over a dropped table, over that view, over a dropped column, over a dropped function.
CREATE VIEW gone_view AS SELECT x FROM gone;
CREATE VIEW gone_view_view AS SELECT * FROM gone_view;
CREATE VIEW stock_view AS SELECT id, qty FROM stock;
CREATE VIEW helper_view AS SELECT helper() AS h;
-- Routines over a dropped table, a dropped procedure, a schema that does not exist.
CREATE PROCEDURE gone_count(OUT n int) BEGIN SELECT count(*) INTO n FROM gone; END;
CREATE FUNCTION gone_total() RETURNS int READS SQL DATA RETURN (SELECT sum(x) FROM `gone`);
CREATE PROCEDURE call_old() BEGIN CALL old_proc(); END;
CREATE PROCEDURE elsewhere() SELECT * FROM no_such_schema_here.t;
-- A trigger that inserts into a dropped table: every insert into orders fails.
CREATE TRIGGER orders_log AFTER INSERT ON orders FOR EACH ROW INSERT INTO gone_log VALUES (NEW.code);
-- Production's accounts, missing here: a procedure, a trigger, and a
-- procedure with a missing table too (one finding); an invoker's routine is fine.
CREATE DEFINER = 'left_company'@'%' PROCEDURE orphaned() SELECT 1;
CREATE DEFINER = 'left_company'@'%' TRIGGER stock_touch BEFORE UPDATE ON stock FOR EACH ROW SET NEW.id = NEW.id;
CREATE DEFINER = 'left_company'@'%' PROCEDURE doubly_broken() SELECT * FROM gone;
CREATE DEFINER = 'left_company'@'%' PROCEDURE invoker_only() SQL SECURITY INVOKER SELECT 1;
DROP TABLE gone, gone_log;
ALTER TABLE stock DROP COLUMN qty;
DROP FUNCTION helper;
DROP PROCEDURE old_proc;
-- An event that came from production (listed; --fix disables it), and a disabled one (not listed).
CREATE EVENT purge_orders ON SCHEDULE EVERY 1 DAY DO DELETE FROM orders WHERE qty < 0 OR code = 'secret-code';
CREATE EVENT old_purge ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM orders;
";

fn broken(db: &Db) {
    db.exec(BROKEN);
    // The event keeps its definer through --fix: make it another account.
    db.exec(&format!(
        "ALTER DEFINER = 'root'@'localhost' EVENT `{}`.purge_orders ENABLE",
        db.name
    ));
}

/// `kind database.object` for each of `items`.
fn named(db: &Db, items: &[&str]) -> Vec<String> {
    items
        .iter()
        .map(|item| {
            let (kind, rest) = item.split_once(' ').unwrap();
            format!("{kind} {}.{rest}", db.name)
        })
        .collect()
}

#[test]
fn every_finding_is_found_and_the_event_disabled_by_fix() {
    let Some(server) = server("every_finding_is_found_and_the_event_disabled_by_fix") else {
        return;
    };
    let db = server.database("health_broken");
    broken(&db);
    let remain = named(
        &db,
        &[
            "broken-function call_old()",
            "broken-function doubly_broken()",
            "broken-function elsewhere()",
            "broken-function gone_count()",
            "broken-function gone_total()",
            "broken-function orphaned()",
            "broken-trigger orders_log",
            "broken-trigger stock_touch",
            "broken-view gone_view",
            "broken-view gone_view_view",
            "broken-view helper_view",
            "broken-view stock_view",
        ],
    );
    let event = format!("scheduled-job {}.purge_orders", db.name);
    let mut all = remain.clone();
    all.push(event.clone());
    all.sort();

    let checked = check(&db.url(), false);
    assert_eq!(found(&checked), all, "{checked:#?}");
    assert_eq!(checked.remaining(), remain.len());
    assert_eq!(checked.exit().code(), 3);
    let d = &db.name;
    let gone = finding(&checked, &format!("{d}.gone_view"));
    assert!(gone.detail.contains("gone' doesn't exist"), "{gone:#?}");
    assert!(gone.method.contains("CHECK TABLE"), "{gone:#?}");
    assert!(gone.what_to_do.contains("re-create the view"), "{gone:#?}");
    assert!(
        finding(&checked, &format!("{d}.stock_view"))
            .detail
            .contains("Unknown column")
    );
    assert!(
        finding(&checked, &format!("{d}.helper_view"))
            .detail
            .contains("helper does not exist")
    );
    let procedure = finding(&checked, &format!("{d}.gone_count()"));
    assert!(
        procedure.detail.contains(&format!(
            "procedure refers to table or view {d}.gone, which does not exist"
        )),
        "{procedure:#?}"
    );
    assert!(
        finding(&checked, &format!("{d}.call_old()"))
            .detail
            .contains(&format!("procedure {d}.old_proc"))
    );
    assert!(
        finding(&checked, &format!("{d}.elsewhere()"))
            .detail
            .contains("no_such_schema_here.t")
    );
    let trigger = finding(&checked, &format!("{d}.orders_log"));
    assert!(
        trigger.detail.contains("every INSERT on orders fails"),
        "{trigger:#?}"
    );
    // And it does.
    assert!(
        db.try_exec("INSERT INTO orders (code, qty) VALUES ('c', 3)")
            .is_err()
    );
    let orphaned = finding(&checked, &format!("{d}.orphaned()"));
    assert!(
        orphaned
            .detail
            .contains("its definer 'left_company'@'%' does not exist on this server"),
        "{orphaned:#?}"
    );
    assert!(orphaned.detail.contains("error 1449"), "{orphaned:#?}");
    let doubly = finding(&checked, &format!("{d}.doubly_broken()"));
    assert!(
        doubly
            .detail
            .contains(&format!("{d}.gone, which does not exist"))
            && doubly.detail.contains("also, its definer"),
        "{doubly:#?}"
    );
    assert!(
        finding(&checked, &format!("{d}.stock_touch"))
            .detail
            .contains("every UPDATE on stock fails with error 1449")
    );
    // And they do.
    assert!(db.try_exec("CALL orphaned()").unwrap_err().contains("1449"));
    db.exec("CALL invoker_only()");
    let job = finding(&checked, &format!("{d}.purge_orders"));
    assert!(job.detail.contains("every 1 day"), "{job:#?}");
    assert!(job.detail.contains("DELETE FROM orders"), "{job:#?}");
    assert!(
        !job.detail.contains("secret-code"),
        "no literal is shown: {job:#?}"
    );
    assert!(job.what_to_do.contains("DISABLE"), "{job:#?}");
    // Without --fix nothing changed.
    let status = format!(
        "SELECT concat(status, ' ', definer) FROM information_schema.events
         WHERE event_schema = '{d}' AND event_name = 'purge_orders'"
    );
    assert_eq!(db.one(&status), "ENABLED root@localhost");

    let fixed = check(&db.url(), true);
    let mut expected = remain.clone();
    expected.push(format!("{event} repaired"));
    expected.sort();
    assert_eq!(found(&fixed), expected, "{fixed:#?}");
    assert_eq!(fixed.remaining(), remain.len());
    assert_eq!(fixed.exit().code(), 3);
    // Disabled, and still its definer's.
    assert_eq!(db.one(&status), "DISABLED root@localhost");
    let again = check(&db.url(), false);
    assert_eq!(found(&again), remain, "{again:#?}");
}

/// Tables, views, routines, triggers and events that are all fine, written
/// the ways that a careless check mistakes for problems.
const CLEAN: &str = "
CREATE TABLE customer (id int AUTO_INCREMENT PRIMARY KEY, name varchar(40), email varchar(80));
CREATE TABLE visit (id bigint unsigned AUTO_INCREMENT PRIMARY KEY, customer_id int, score int,
    at datetime DEFAULT CURRENT_TIMESTAMP, FOREIGN KEY (customer_id) REFERENCES customer (id));
CREATE TABLE audit (at datetime, what text);
CREATE TABLE `Mixed Case` (id int AUTO_INCREMENT PRIMARY KEY);
CREATE TABLE empty (id int AUTO_INCREMENT PRIMARY KEY);
INSERT INTO customer (name, email) VALUES ('a', 'a@x'), ('b', 'b@x');
INSERT INTO visit (customer_id, score) VALUES (1, 3), (2, 4);
INSERT INTO `Mixed Case` VALUES (7);
-- MyISAM counts per group here: the table's AUTO_INCREMENT (1) says nothing.
CREATE TABLE grouped (grp int, id int AUTO_INCREMENT, PRIMARY KEY (grp, id)) ENGINE = MyISAM;
INSERT INTO grouped (grp) VALUES (1), (1), (1), (2);
-- A MERGE table's rows live in its parts.
CREATE TABLE part1 (id int AUTO_INCREMENT, KEY (id)) ENGINE = MyISAM;
CREATE TABLE part2 (id int AUTO_INCREMENT, KEY (id)) ENGINE = MyISAM;
CREATE TABLE merged (id int AUTO_INCREMENT, KEY (id)) ENGINE = MRG_MyISAM UNION = (part1, part2) INSERT_METHOD = LAST;
INSERT INTO part1 VALUES (90);
CREATE VIEW recent AS SELECT c.name, v.at FROM customer c JOIN visit v ON v.customer_id = c.id;
CREATE VIEW recent_names AS SELECT name FROM recent;
CREATE FUNCTION double_it(n int) RETURNS int DETERMINISTIC RETURN n * 2;
CREATE VIEW doubled AS SELECT double_it(score) AS d FROM visit;
CREATE PROCEDURE stats(IN p_customer int, OUT n int)
BEGIN
  DECLARE done int DEFAULT 0;
  DECLARE v_score int;
  DECLARE cur CURSOR FOR SELECT score FROM visit WHERE customer_id = p_customer;
  DECLARE CONTINUE HANDLER FOR NOT FOUND SET done = 1;
  CREATE TEMPORARY TABLE IF NOT EXISTS scratch (a int);
  INSERT INTO scratch VALUES (1);
  WITH recent_visits AS (SELECT * FROM visit WHERE customer_id = p_customer)
    SELECT count(*) INTO n FROM recent_visits;
  SELECT EXTRACT(YEAR FROM now()), TRIM(LEADING 'x' FROM 'xab'), SUBSTRING('abc' FROM 2) INTO @y, @t, @s;
  SELECT 'it''s FROM nowhere', \"also FROM nowhere\" INTO @a, @b;
  SET @sql = 'SELECT * FROM no_such_table_in_dynamic_sql';
  PREPARE s FROM @sql;
  DEALLOCATE PREPARE s;
  INSERT INTO audit (at, what) VALUES (now(), 'stats') ON DUPLICATE KEY UPDATE what = 'again';
  SELECT * FROM customer WHERE id = p_customer FOR UPDATE;
  UPDATE customer c JOIN visit v ON v.customer_id = c.id SET c.name = upper(c.name) WHERE v.score > 100;
  DELETE v FROM visit v JOIN customer c ON c.id = v.customer_id WHERE c.email IS NULL;
  DELETE FROM v1 USING visit AS v1 JOIN customer AS c1 USING (id) WHERE c1.email = '';
  SELECT count(*) INTO @m FROM `Mixed Case`;
  CALL cleanup(30);
  DROP TEMPORARY TABLE scratch;
END;
CREATE PROCEDURE cleanup(days int) DELETE FROM visit WHERE at < now() - INTERVAL days DAY;
CREATE PROCEDURE uses_scratch() SELECT * FROM scratch;
CREATE TRIGGER visit_audit AFTER INSERT ON visit FOR EACH ROW
  INSERT INTO audit VALUES (now(), concat('visit ', NEW.id));
CREATE TRIGGER customer_email BEFORE UPDATE ON customer FOR EACH ROW SET NEW.email = lower(NEW.email);
CREATE EVENT nightly ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM audit;
";

#[test]
fn a_clean_database_has_no_finding() {
    let Some(server) = server("a_clean_database_has_no_finding") else {
        return;
    };
    let db = server.database("health_clean");
    db.exec(CLEAN);
    let checked = check(&db.url(), false);
    assert!(checked.findings.is_empty(), "{checked:#?}");
    assert!(checked.notes.is_empty(), "{checked:#?}");
    assert_eq!(checked.exit().code(), 0);
    let fixed = check(&db.url(), true);
    assert!(fixed.findings.is_empty(), "{fixed:#?}");

    let site = Site::with_url(&db.url());
    site.configure("");
    let run = site
        .vault_with(&["health", "--config", s(&site.config)])
        .expect(0);
    assert!(run.stdout.contains("no problem found"), "{run:#?}");
}

#[test]
fn the_command_reports_exits_3_and_never_repairs_production() {
    let Some(server) = server("the_command_reports_exits_3_and_never_repairs_production") else {
        return;
    };
    let db = server.database("health_cli");
    broken(&db);
    let site = Site::with_url(&db.url());
    let status = format!(
        "SELECT status FROM information_schema.events
         WHERE event_schema = '{}' AND event_name = 'purge_orders'",
        db.name
    );

    // A host pattern that names this server: reading is allowed, repairing is not.
    site.configure(
        "[production]\nurl = \"mysql://root@127.0.0.1:3306/production\"\nhosts = [\"127.0.0.1\", \"localhost\"]\n",
    );
    let run = site
        .vault_with(&["health", "--config", s(&site.config)])
        .expect(3);
    assert!(
        run.stdout.lines().any(|l| l.contains("found")
            && l.contains("broken-view")
            && l.contains(&format!("{}.gone_view", db.name))),
        "{run:#?}"
    );
    assert!(run.stdout.contains("12 problems found"), "{}", run.stdout);
    assert!(
        run.stdout.contains("1 scheduled jobs listed for review"),
        "{}",
        run.stdout
    );
    let refused = site
        .vault_with(&["health", "--config", s(&site.config), "--fix"])
        .expect(4);
    assert!(refused.error_line().contains("production"), "{refused:#?}");
    assert_eq!(db.one(&status), "ENABLED");

    site.configure("");
    let fixed = site
        .vault_with(&["health", "--config", s(&site.config), "--fix"])
        .expect(3);
    assert!(fixed.stdout.contains("12 remain"), "{}", fixed.stdout);
    assert!(
        fixed.stdout.contains(&format!(
            "repaired with: ALTER DEFINER = 'root'@'localhost' EVENT `{}`.`purge_orders` DISABLE",
            db.name
        )),
        "{}",
        fixed.stdout
    );
    assert!(
        fixed
            .stdout
            .contains("what to do: recreate the missing objects")
    );
    assert_eq!(db.one(&status), "DISABLED");
}
