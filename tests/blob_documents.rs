//! MariaDB/MySQL and SQLite keep documents inline as BLOBs (they have no large objects): a document of several MiB comes back byte for byte after a refresh, and production's document in its place is gone.

mod common;

use common::mysql;
use common::workflow::{Site, exec};

/// A 4 MiB document whose bytes depend on `seed` (MariaDB SQL).
fn mariadb_document(seed: &str) -> String {
    format!("REPEAT(UNHEX(SHA2('{seed}', 256)), 131072)")
}

#[test]
fn a_blob_document_of_several_mib_survives_a_mariadb_refresh() {
    let Some(server) = mysql::server("a_blob_document_of_several_mib_survives_a_mariadb_refresh")
    else {
        return;
    };
    let schema = "CREATE TABLE portal_document (id int PRIMARY KEY, body longblob);";
    let acceptance = server.database("blob_acc");
    acceptance.exec(schema);
    acceptance.exec(&format!(
        "INSERT INTO portal_document VALUES (1, {}), (2, x'')",
        mariadb_document("acceptance trial")
    ));
    let production = server.database("blob_prod");
    production.exec(schema);
    production.exec(&format!(
        "INSERT INTO portal_document VALUES (1, {})",
        mariadb_document("production patient")
    ));
    let site = mysql::Site::with_url(&acceptance.url());
    site.configure("[[preserve]]\ntable = \"portal_document\"\n");
    site.capture().expect(0);
    server.refresh(&acceptance, &production);
    site.restore(&["--steps", "restore"]).expect(0);
    assert_eq!(
        acceptance.rows(&format!(
            "SELECT CONCAT(id, ' ', LENGTH(body), ' ', body = {}) FROM portal_document ORDER BY id",
            mariadb_document("acceptance trial")
        )),
        ["1 4194304 1", "2 0 0"]
    );
}

#[test]
fn a_blob_document_of_several_mib_survives_a_sqlite_refresh() {
    let site = Site::new();
    let schema = "CREATE TABLE portal_document (id INTEGER PRIMARY KEY, body BLOB);";
    let document: Vec<u8> = (0..4 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    exec(&site.acceptance, schema);
    exec(&site.production, schema);
    exec(
        &site.production,
        "INSERT INTO portal_document VALUES (1, randomblob(3 * 1024 * 1024))",
    );
    let conn = rusqlite::Connection::open(&site.acceptance).unwrap();
    conn.execute(
        "INSERT INTO portal_document VALUES (1, ?1), (2, x'')",
        [&document],
    )
    .unwrap();
    drop(conn);
    site.configure("[[preserve]]\ntable = \"portal_document\"\n");
    site.capture().expect(0);
    site.refresh();
    site.restore(&["--steps", "restore"]).expect(0);
    let conn = rusqlite::Connection::open(&site.acceptance).unwrap();
    let body = |id: i64| -> Vec<u8> {
        conn.query_row(
            "SELECT body FROM portal_document WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert!(body(1) == document, "the document came back byte for byte");
    assert!(body(2).is_empty());
    let count: i64 = conn
        .query_row("SELECT count(*) FROM portal_document", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 2, "production's document went with its row");
}
