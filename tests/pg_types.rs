//! Every PostgreSQL column type a preserved table can hold round-trips exactly through
//! capture and restore: edge values, NaN and infinities, awkward text, empty and
//! multi-megabyte bytea, arrays, enums, domains, network types, and NULL in every column.

mod common;

use common::pg::{self, Site};

const SCHEMA: &str = r#"
CREATE TYPE mood AS ENUM ('sad', 'ok', 'it''s, "complicated"');
CREATE DOMAIN positive AS integer CHECK (VALUE > 0);
CREATE TABLE matrix (
  id integer PRIMARY KEY,
  i2 smallint, i4 integer, i8 bigint,
  num numeric(14,4), num_free numeric,
  r4 real, r8 double precision,
  txt text, ch char(5), vc varchar(12),
  bin bytea,
  flag boolean,
  d date, t time, ttz timetz, ts timestamp, tstz timestamptz, ts3 timestamp(3), iv interval,
  u uuid, j json, jb jsonb,
  ai integer[], atxt text[], a2 integer[][], ats timestamptz[],
  m mood, p positive, mp mood[],
  ip inet, net cidr, mac macaddr,
  rng int4range, bits bit varying(10), pt point
);
"#;

/// Every column but `bin`, whose digest is compared instead.
const COLUMNS: &str = "i2, i4, i8, num, num_free, r4, r8, txt, ch, vc, flag, d, t, ttz, ts, tstz, ts3, iv, \
     u, j, jb, ai, atxt, a2, ats, m, p, mp, ip, net, mac, rng, bits, pt";

const ROWS: &str = r#"
INSERT INTO matrix VALUES (
  1, -32768, -2147483648, -9223372036854775808, -1234567890.1234, 'NaN', 'NaN', 'Infinity',
  E'tab\there\nnewline\\backslash\rcarriage \\N not null', 'ab', 'héllo wörld',
  '\x', true,
  '4713-01-01 BC', '00:00:00', '23:59:59.999999+14', '1970-01-01 00:00:00.000001',
  '2024-03-31 01:59:59.999999+02', '2000-02-29 12:34:56.789', '1 year 2 mons 3 days 04:05:06.789',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"b": 1,   "a": [1, 2], "s": "x\ty"}',
  '{"b": 1, "a": [1, 2], "u": "\u00e9"}',
  '{1,NULL,3}', ARRAY['a,b', 'quo"te', 'back\slash', NULL, 'NULL', '', ' spaced ', '{braces}'],
  '{{1,2},{3,4}}', ARRAY['2024-01-01 00:00:00+00'::timestamptz, 'infinity'],
  'it''s, "complicated"', 1, ARRAY['sad', 'it''s, "complicated"']::mood[],
  '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03',
  '[1,10)', B'1010', '(1.5,-2.25)'
);
INSERT INTO matrix VALUES (
  2, 32767, 2147483647, 9223372036854775807, 9999999999.9999, '-0.000000000000000000001',
  '-Infinity', '-0', E'🙂 Ünïcödé 中文 \u0001 control', 'abcde', '',
  (SELECT decode(string_agg(lpad(to_hex(g), 2, '0'), ''), 'hex') FROM generate_series(0, 255) g), false,
  'infinity', '24:00:00', '00:00:00-15:59', '-infinity', 'infinity', '294276-12-31 23:59:59.999',
  '-178000000 years', '00000000-0000-0000-0000-000000000000', '[]', '{}',
  '{}', '{}', '{}', '{}', 'sad', 2147483647, '{}',
  '::1/128', '2001:db8::/32', 'ff:ff:ff:ff:ff:ff', 'empty', B'', '(0,0)'
);
INSERT INTO matrix (id, r4, r8, num_free, txt, bin) VALUES
  (3, 3.4028235e38, 1.7976931348623157e308, '1e-100', repeat('x', 100000),
   (SELECT decode(string_agg(md5(g::text), ''), 'hex') FROM generate_series(1, 200000) g)),
  (5, 0.1, 0.30000000000000004, '0.1', E'\\', '\x00');
INSERT INTO matrix (id) VALUES (4);
"#;

fn snapshot(db: &pg::Db) -> Vec<String> {
    db.rows(&format!(
        "SELECT id || ' ' || coalesce(md5(bin) || ' ' || length(bin), 'NULL') || ' ' || row({COLUMNS})::text
         FROM matrix ORDER BY id"
    ))
}

#[test]
fn every_type_round_trips_exactly() {
    let Some(server) = pg::server("every_type_round_trips_exactly") else {
        return;
    };
    let acceptance = server.database("types");
    acceptance.exec(SCHEMA);
    acceptance.exec(ROWS);
    let site = Site::new(&acceptance);
    site.configure("[[preserve]]\ntable = \"matrix\"\n");
    let before = snapshot(&acceptance);
    assert_eq!(before.len(), 5);
    assert!(
        before[2].contains(" 3200000 "),
        "a multi-megabyte bytea: {}",
        &before[2][..80]
    );

    site.capture().expect(0);
    // Rows lost, changed and added, as a refresh would.
    acceptance.exec(
        "DELETE FROM matrix WHERE id IN (2, 4);
         UPDATE matrix SET txt = 'changed', bin = '\\x00', r8 = 1, atxt = '{}', j = '1' WHERE id IN (1, 3);
         INSERT INTO matrix (id, txt) VALUES (99, 'production only');",
    );
    assert_ne!(snapshot(&acceptance), before);

    let restore = site.restore(&[]).expect(0);
    assert!(
        restore.stdout.contains("restored 1 tables, 5 rows"),
        "{restore:#?}"
    );
    let after = snapshot(&acceptance);
    for (want, got) in before.iter().zip(&after) {
        assert_eq!(got, want);
    }
    assert_eq!(after.len(), before.len());
}

#[test]
fn nulls_round_trip_in_every_type() {
    let Some(server) = pg::server("nulls_round_trip_in_every_type") else {
        return;
    };
    let acceptance = server.database("nulls");
    acceptance.exec(SCHEMA);
    acceptance.exec("INSERT INTO matrix (id) VALUES (1), (2)");
    let site = Site::new(&acceptance);
    site.configure("[[preserve]]\ntable = \"public.matrix\"\nmode = \"upsert\"\n");
    site.capture().expect(0);
    acceptance.exec("UPDATE matrix SET txt = 'x', i4 = 7, bin = '\\x01', jb = '[]', ai = '{1}'");
    site.restore(&[]).expect(0);
    let nulls = acceptance.rows(&format!(
        "SELECT id || ' ' || (num_nulls(bin, {COLUMNS}))::text FROM matrix ORDER BY id"
    ));
    assert_eq!(nulls, ["1 35", "2 35"], "every column is NULL again");
}

#[test]
fn values_equal_to_the_target_but_written_differently_come_back_as_captured() {
    let Some(server) = pg::server("values_equal_but_written_differently") else {
        return;
    };
    let acceptance = server.database("equal");
    acceptance.exec(SCHEMA);
    acceptance.exec(
        "INSERT INTO matrix (id, num_free, r8, iv, jb, atxt, ts) VALUES
           (1, '1.00', '-0', '1 day', '{\"a\": 1.0}', '{x}', '2024-01-01 00:00:00')",
    );
    let site = Site::new(&acceptance);
    site.configure("[[preserve]]\ntable = \"matrix\"\nmode = \"upsert\"\n");
    let before = snapshot(&acceptance);
    site.capture().expect(0);
    // Equal by `=` in PostgreSQL, yet stored differently: the restore must
    // still write the captured form.
    acceptance.exec(
        "UPDATE matrix SET num_free = '1.0', r8 = '0', iv = '24 hours', jb = '{\"a\": 1}' WHERE id = 1",
    );
    assert_ne!(snapshot(&acceptance), before);
    site.restore(&[]).expect(0);
    assert_eq!(snapshot(&acceptance), before);
}

#[test]
fn an_emptied_table_is_loaded_straight_by_copy_exactly() {
    let Some(server) = pg::server("an_emptied_table_is_loaded_straight_by_copy") else {
        return;
    };
    let acceptance = server.database("emptied");
    acceptance.exec(SCHEMA);
    acceptance.exec(ROWS);
    let site = Site::new(&acceptance);
    site.configure("[[preserve]]\ntable = \"matrix\"\n");
    let before = snapshot(&acceptance);
    site.capture().expect(0);
    acceptance.exec("DELETE FROM matrix");
    let restore = site.restore(&[]).expect(0);
    assert!(
        restore.stdout.contains("5 inserted, 0 updated"),
        "{restore:#?}"
    );
    assert_eq!(snapshot(&acceptance), before);
}
