//! Documents kept as PostgreSQL large objects: until vault captures their contents, a preserved table with an `oid` or `lo` column is refused at capture (never a vault of bare ids, exit 0), and `vault health` finds rows that refer to large objects a refresh removed.

mod common;

use common::health::{check, finding, found};
use common::pg::{self, Site};

#[test]
fn a_table_of_large_object_ids_is_refused_at_capture() {
    let Some(server) = pg::server("a_table_of_large_object_ids_is_refused_at_capture") else {
        return;
    };
    let db = server.database("lo_capture");
    db.exec(
        "CREATE DOMAIN lo AS oid;
         CREATE TABLE portal_document (id int PRIMARY KEY, body oid, preview lo);
         INSERT INTO portal_document VALUES (1, lo_from_bytea(0, 'trial consent'), NULL);",
    );
    let site = Site::new(&db);
    site.configure("[[preserve]]\ntable = \"portal_document\"\n");
    let run = site.capture().expect(2);
    let error = run.error_line();
    assert!(
        error.contains("column(s) body, preview hold large-object ids"),
        "{run:#?}"
    );
    assert!(error.contains("nothing was captured"), "{run:#?}");
    assert!(!site.vault.exists());
}

#[test]
fn health_finds_references_to_large_objects_a_refresh_removed() {
    let Some(server) = pg::server("health_finds_references_to_large_objects_a_refresh_removed")
    else {
        return;
    };
    let acceptance = server.database("lo_acc");
    acceptance.exec(
        "CREATE TABLE mer_document (id int PRIMARY KEY, file oid);
         INSERT INTO mer_document VALUES (1, lo_from_bytea(0, 'a')), (2, lo_from_bytea(0, 'b')), (3, NULL);",
    );
    assert!(found(&check(&acceptance.url(), false)).is_empty());
    // Rows copied without their objects, as a refresh of the rows alone
    // leaves them: the ids point at nothing.
    acceptance.exec("SELECT lo_unlink(file) FROM mer_document WHERE id = 2");
    let checked = check(&acceptance.url(), false);
    assert_eq!(
        found(&checked),
        ["dangling-large-object public.mer_document.file"],
        "{checked:#?}"
    );
    let dangling = finding(&checked, "public.mer_document.file");
    assert!(dangling.detail.starts_with("1 row(s)"), "{dangling:#?}");
    assert_eq!(checked.exit().code(), 3);
}
