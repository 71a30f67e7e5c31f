//! Every MariaDB/MySQL column type a preserved table can hold round-trips exactly through
//! capture and restore, loaded straight (replace) and through the staging table (upsert):
//! integer extremes signed and unsigned, DECIMAL, FLOAT and DOUBLE to the bit, BIT, utf8mb4
//! text with emoji, binary strings up to a multi-megabyte LONGBLOB, dates and times
//! (negative and fractional TIME, TIMESTAMP written under a non-UTC session zone), YEAR,
//! JSON, ENUM, SET, and NULL in every column.

mod common;

use common::mysql::{self, Db, Site};

const SCHEMA: &str = r#"
CREATE TABLE matrix (
  id int PRIMARY KEY,
  ti tinyint, tiu tinyint unsigned, si smallint, siu smallint unsigned,
  mi mediumint, miu mediumint unsigned, i int, iu int unsigned,
  bi bigint, biu bigint unsigned,
  dec_small decimal(20,6), dec_wide decimal(65,30),
  f float, d double,
  b1 bit(1), b5 bit(5), b64 bit(64),
  ch char(5), vc varchar(50), tx text, mtx mediumtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
  bn binary(4), vb varbinary(20), bl blob, lb longblob,
  dt date, tm time(6), dtm datetime(6), ts timestamp(6) NULL DEFAULT NULL, yr year,
  js json, en enum('sad', 'ok', 'it''s, "complicated"'), st set('a', 'b', 'c'),
  bo boolean
);
"#;

/// Written in a session whose time zone is not UTC: TIMESTAMP literals are
/// read in that zone, and must come back as the same instants.
const ROWS: &str = r#"
SET time_zone = '+05:00';
INSERT INTO matrix VALUES (
  1, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0,
  -99999999999999.999999, -99999999999999999999999999999999999.999999999999999999999999999999,
  -3.40282e38, -1.7976931348623157e308,
  b'0', b'00000', b'0',
  'ab', '🙂 emoji é ß 中文', 'tab\there\nnewline \\ backslash \'quote\'', '',
  x'00010203', x'', x'00', x'',
  '1000-01-01', '-838:59:59.000000', '1000-01-01 00:00:00.000000', '1970-01-01 05:00:01.000000', 1901,
  '{"a": [1, 2.5, "x"], "b": null, "u": "\u00e9"}', 'it''s, "complicated"', '', 0
);
INSERT INTO matrix VALUES (
  2, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295,
  9223372036854775807, 18446744073709551615,
  99999999999999.999999, 0.000000000000000000000000000001,
  1.17549e-38, 4.9e-324,
  b'1', b'10101', b'1111111111111111111111111111111111111111111111111111111111111111',
  'abcde', REPEAT('🙂', 50), REPEAT('x', 60000), 'Ünïcödé',
  x'ffffffff', x'00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff', x'ff00', x'00ff',
  '9999-12-31', '838:59:59.999999', '9999-12-31 23:59:59.999999', '2038-01-19 08:14:07.999999', 2155,
  '[]', 'sad', 'a,c', 1
);
INSERT INTO matrix (id, f, d, tm, dt, dtm, ts, yr, dec_small, biu, lb, js, st) VALUES (
  3, 0.1, 0.30000000000000004, '12:34:56.5', '2024-02-29', '2024-03-31 01:59:59.5',
  '2024-03-31 06:59:59.5', 0, 1.5, 9223372036854775808,
  REPEAT(UNHEX(SHA2('several megabytes', 256)), 200000), '{"nested": {"deep": [true, false]}}', 'a,b,c'
);
INSERT INTO matrix (id, d, f, tm, dt, dtm, ts) VALUES
  (5, -0.0, 3.14159274, '-00:00:00.000001', '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00');
INSERT INTO matrix (id) VALUES (4);
"#;

/// Each row's cells as hex, plus the TIMESTAMP as an instant (zone-free).
fn snapshot(db: &Db) -> Vec<String> {
    let mut rows = db.table("matrix");
    rows.extend(db.rows(
        "SELECT CONCAT(id, ' ', IFNULL(UNIX_TIMESTAMP(ts), 'NULL')) FROM matrix ORDER BY id",
    ));
    rows
}

fn site_for(db: &Db, mode: &str) -> Site {
    let site = Site::with_url(&db.url());
    site.configure(&format!(
        "[[preserve]]\ntable = \"matrix\"\nmode = \"{mode}\"\n"
    ));
    site
}

#[test]
fn every_type_round_trips_exactly() {
    let Some(server) = mysql::server("every_type_round_trips_exactly") else {
        return;
    };
    let db = server.database("types");
    db.exec(SCHEMA);
    db.exec(ROWS);
    let before = snapshot(&db);
    assert_eq!(
        db.one("SELECT LENGTH(lb) FROM matrix WHERE id = 3"),
        "6400000"
    );
    assert_eq!(
        db.one("SELECT UNIX_TIMESTAMP(ts) FROM matrix WHERE id = 1"),
        "1.000000",
        "the +05:00 literal is the instant 1 s after the epoch"
    );
    let site = site_for(&db, "replace");
    site.capture().expect(0);
    // Rows lost, changed and added, as a refresh would.
    db.exec(
        "DELETE FROM matrix WHERE id IN (2, 4);
         UPDATE matrix SET tx = 'changed', lb = x'00', d = 1, js = '1', ts = NULL WHERE id IN (1, 3);
         INSERT INTO matrix (id, tx) VALUES (99, 'production only');",
    );
    assert_ne!(snapshot(&db), before);
    let restore = site.restore(&["--steps", "restore"]).expect(0);
    assert!(
        restore.stdout.contains("restored 1 tables, 5 rows"),
        "{restore:#?}"
    );
    let after = snapshot(&db);
    for (want, got) in before.iter().zip(&after) {
        assert_eq!(got, want);
    }
    assert_eq!(after.len(), before.len());
}

#[test]
fn every_type_round_trips_through_the_staging_table() {
    let Some(server) = mysql::server("every_type_round_trips_through_the_staging_table") else {
        return;
    };
    let db = server.database("staged");
    db.exec(SCHEMA);
    db.exec(ROWS);
    let before = snapshot(&db);
    let site = site_for(&db, "upsert");
    site.capture().expect(0);
    // Every row is still there with other values: upsert updates them all.
    db.exec(
        "UPDATE matrix SET ti = 1, biu = 1, f = 1, d = 1, b64 = b'1', vc = 'x', lb = x'01', tm = '01:00:00',
                          ts = '2001-01-01', yr = 2000, js = '{}', en = 'ok', st = 'b', bo = NULL, dec_wide = 1",
    );
    let restore = site.restore(&["--steps", "restore"]).expect(0);
    assert!(
        restore.stdout.contains("0 inserted, 5 updated, 0 kept"),
        "{restore:#?}"
    );
    assert_eq!(snapshot(&db), before);
}

#[test]
fn nulls_round_trip_in_every_type() {
    let Some(server) = mysql::server("nulls_round_trip_in_every_type") else {
        return;
    };
    let db = server.database("nulls");
    db.exec(SCHEMA);
    db.exec("INSERT INTO matrix (id) VALUES (1), (2)");
    let site = site_for(&db, "upsert");
    site.capture().expect(0);
    db.exec("UPDATE matrix SET tx = 'x', i = 7, lb = x'01', js = '[]', b1 = b'1', ts = NOW(), en = 'ok'");
    site.restore(&["--steps", "restore"]).expect(0);
    let columns = db.rows(
        "SELECT column_name FROM information_schema.columns
         WHERE table_schema = DATABASE() AND table_name = 'matrix' AND column_name <> 'id'",
    );
    assert_eq!(columns.len(), 34);
    let nulls = columns
        .iter()
        .map(|c| format!("(`{c}` IS NULL)"))
        .collect::<Vec<_>>()
        .join(" + ");
    assert_eq!(
        db.rows(&format!(
            "SELECT CONCAT(id, ' ', {nulls}) FROM matrix ORDER BY id"
        )),
        ["1 34", "2 34"],
        "every column is NULL again"
    );
}
