//! Values of MiBs on MariaDB/MySQL (a LONGBLOB and a LONGTEXT above the 64 KiB the capture gathers before writing, which go from the row straight to the vault stream): they come back exactly after a refresh from a dump, beside NULL, empty and small ones.

mod common;

use common::mysql::{self, Db, Site};

const SCHEMA: &str = "CREATE TABLE document (id int PRIMARY KEY, title varchar(64), content longblob, note longtext);";

/// Every row's id and the MD5 of each of its fields.
fn digest(db: &Db) -> String {
    db.one(
        "SELECT MD5(GROUP_CONCAT(CONCAT_WS(':', id, COALESCE(MD5(title), '-'), COALESCE(MD5(content), '-'),
                COALESCE(MD5(note), '-')) ORDER BY id SEPARATOR ','))
         FROM document",
    )
}

#[test]
fn values_of_mibs_round_trip_exactly_through_a_refresh_from_a_dump() {
    let Some(server) = mysql::server("values_of_mibs_round_trip_exactly") else {
        return;
    };
    let acceptance = server.database("large_acc");
    acceptance.exec(SCHEMA);
    // 3 MiB of random bytes and 1.8 MiB of multi-byte text in row 2, the
    // same large value beside small fields in row 5.
    let digit = "(SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
                  UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)";
    acceptance.exec(&format!(
        "SET SESSION group_concat_max_len = 16777216;
         INSERT INTO document VALUES (1, 'small', X'0001FF', 'a'), (3, 'null and empty', NULL, ''),
           (4, 'empty and null', '', NULL);
         INSERT INTO document SELECT 2, 'large',
           (SELECT GROUP_CONCAT(RANDOM_BYTES(1024) SEPARATOR '') FROM {digit} a, {digit} b, {digit} c, {digit} d
             WHERE a.n + 10 * b.n + 100 * c.n + 1000 * d.n < 3072),
           REPEAT('é🙂 tab\tnewline\n', 98304);
         INSERT INTO document SELECT 5, 'large beside small', content, 'small' FROM document WHERE id = 2;"
    ));
    assert_eq!(
        acceptance.one("SELECT LENGTH(content) FROM document WHERE id = 2"),
        (3 << 20).to_string()
    );
    let captured = digest(&acceptance);
    let site = Site::with_url(&acceptance.url());
    site.configure("[[preserve]]\ntable = \"document\"\n");
    site.capture().expect(0);

    let production = server.database("large_prod");
    production.exec(SCHEMA);
    production.exec(
        "INSERT INTO document VALUES (1, 'production', X'01', NULL), (2, 'production large', REPEAT(X'AB', 2000000), 'p'),
           (9, 'production only', NULL, NULL);",
    );
    server.refresh(&acceptance, &production);
    assert_ne!(digest(&acceptance), captured);

    site.restore(&["--steps", "restore"]).expect(0);
    assert_eq!(
        digest(&acceptance),
        captured,
        "every value came back exactly"
    );
}
