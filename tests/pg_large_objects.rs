//! Documents kept as PostgreSQL large objects: captured with their bytes, owners and privileges; restored readable across a refresh from a dump (their ids kept when free, rewritten when not); released by sanitize; checked by health. Each test reads every document back byte for byte and counts the objects left.

mod common;

use common::health::{check, finding, found};
use common::pg::{self, Db, Site};
use common::s;

/// A document of about `mib` MiB whose bytes depend on `seed`: every byte
/// value occurs, so that a text conversion anywhere would show.
fn document(seed: &str, mib: u32) -> String {
    format!(
        "(SELECT string_agg(decode(md5('{seed}' || g::text) || md5(g::text || '{seed}') || repeat('00ff7f80', 120), 'hex'), ''::bytea)
          FROM generate_series(1, {mib} * 1024 * 1024 / 512) g)"
    )
}

/// Every object in the database.
fn objects(db: &Db) -> u64 {
    db.one("SELECT count(*)::text FROM pg_largeobject_metadata")
        .parse()
        .unwrap()
}

/// `true` when the object a row refers to holds exactly `expected` (SQL).
fn holds(db: &Db, reference: &str, expected: &str) -> bool {
    db.one(&format!(
        "SELECT (lo_get(({reference})::oid) = {expected})::text"
    )) == "true"
}

#[test]
fn oid_and_lo_columns_come_back_readable_after_a_refresh_from_a_dump() {
    let test = "oid_and_lo_columns_come_back_readable_after_a_refresh_from_a_dump";
    let Some(server) = pg::server(test) else {
        return;
    };
    if !server.require_extension(test, "lo") {
        return;
    }
    let schema = "CREATE EXTENSION lo;
         CREATE TABLE portal_document (id int PRIMARY KEY, body oid, preview lo, title text);
         -- the lo extension's trigger, which unlinks a replaced preview itself
         CREATE TRIGGER preview_managed BEFORE UPDATE OR DELETE ON portal_document
           FOR EACH ROW EXECUTE FUNCTION lo_manage(preview);
         CREATE TABLE audit_attachment (id int PRIMARY KEY, blob oid);";
    let acceptance = server.database("lo_acc");
    acceptance.exec(schema);
    acceptance.exec(&format!(
        "INSERT INTO portal_document VALUES
           (1, lo_from_bytea(0, {}), lo_from_bytea(0, 'preview one'), 'consent'),
           (2, lo_from_bytea(0, ''), NULL, 'empty');
         -- row 3 shares row 1's document
         INSERT INTO portal_document SELECT 3, body, NULL, 'copy' FROM portal_document WHERE id = 1;",
        document("acc", 3)
    ));
    let ids_before =
        acceptance.rows("SELECT coalesce(body::text, '-') FROM portal_document ORDER BY id");
    let production = server.database("lo_prod");
    production.exec(schema);
    production.exec(
        "INSERT INTO portal_document VALUES
           (1, lo_from_bytea(0, 'production patient letter'), lo_from_bytea(0, 'prod preview'), 'real'),
           (9, lo_from_bytea(0, 'production scan'), NULL, 'real');
         INSERT INTO audit_attachment SELECT 1, body FROM portal_document WHERE id = 9;",
    );
    let site = Site::new(&acceptance);
    site.configure("[[preserve]]\ntable = \"portal_document\"\n");
    let run = site.capture().expect(0);
    assert!(
        run.stdout
            .contains("large objects of portal_document (body, preview): 3 object(s)"),
        "{run:#?}"
    );
    let inspect = site
        .vault_with(&["inspect", s(&site.vault), "--json"])
        .expect(0);
    let report: serde_json::Value = serde_json::from_str(&inspect.stdout).unwrap();
    let stream = report["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "large-objects/portal_document")
        .unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(stream["rows"], 3);
    assert!(stream["plain_bytes"].as_u64().unwrap() > 3 * 1024 * 1024);

    server.refresh_from_dump(&acceptance, &production);
    assert_eq!(objects(&acceptance), 3);
    let run = site.restore(&["--steps", "restore"]).expect(0);
    assert!(run.stdout.contains("large objects: 3 restored"), "{run:#?}");

    assert_eq!(
        acceptance.rows("SELECT coalesce(body::text, '-') FROM portal_document ORDER BY id"),
        ids_before,
        "the captured ids were free: they are kept"
    );
    let body = |id: i32| format!("SELECT body FROM portal_document WHERE id = {id}");
    assert!(holds(&acceptance, &body(1), &document("acc", 3)));
    assert!(holds(&acceptance, &body(2), "''::bytea"));
    assert!(holds(&acceptance, &body(3), &document("acc", 3)));
    assert!(holds(
        &acceptance,
        "SELECT preview FROM portal_document WHERE id = 1",
        "'preview one'::bytea"
    ));
    // Production's letter and preview went with the replaced rows; its scan
    // is still referred to by another table and stays.
    assert!(holds(
        &acceptance,
        "SELECT blob FROM audit_attachment",
        "'production scan'::bytea"
    ));
    assert_eq!(objects(&acceptance), 4, "3 restored + the scan");
    assert!(found(&check(&acceptance.url(), false)).is_empty());
}

#[test]
fn a_text_column_declared_as_holding_ids_and_a_taken_id() {
    let test = "a_text_column_declared_as_holding_ids_and_a_taken_id";
    let Some(server) = pg::server(test) else {
        return;
    };
    let schema = "CREATE TABLE saved_search (id int PRIMARY KEY, query text, label text);
         CREATE TABLE prod_note (id int PRIMARY KEY, doc oid);";
    let acceptance = server.database("lo_text_acc");
    acceptance.exec(schema);
    acceptance.exec(&format!(
        "INSERT INTO saved_search VALUES
           (1, lo_from_bytea(0, {})::text, 'big'),
           (2, lo_from_bytea(0, 'small query')::text, 'small'),
           (3, NULL, 'none');",
        document("text", 1)
    ));
    let taken = acceptance.one("SELECT query FROM saved_search WHERE id = 2");
    let production = server.database("lo_text_prod");
    production.exec(schema);
    // Production holds another document under the id acceptance's row 2 uses.
    production.exec(&format!(
        "INSERT INTO prod_note VALUES (1, lo_from_bytea({taken}, 'production document'));"
    ));
    let site = Site::new(&acceptance);
    site.configure("[[preserve]]\ntable = \"saved_search\"\nlarge_objects = [\"query\"]\n");
    site.capture().expect(0);
    server.refresh_from_dump(&acceptance, &production);
    let run = site.restore(&["--steps", "restore"]).expect(0);
    assert!(run.stdout.contains("1 under a new id"), "{run:#?}");

    let query = |id: i32| format!("SELECT query FROM saved_search WHERE id = {id}");
    assert!(holds(&acceptance, &query(1), &document("text", 1)));
    assert!(holds(&acceptance, &query(2), "'small query'::bytea"));
    assert_ne!(
        acceptance.one(&query(2)),
        taken,
        "the row refers to the new id"
    );
    assert_eq!(acceptance.one(&query(3)), "NULL");
    assert!(holds(
        &acceptance,
        "SELECT doc FROM prod_note",
        "'production document'::bytea"
    ));
    assert_eq!(objects(&acceptance), 3);
}

#[test]
fn owners_and_grants_of_large_objects_are_restored() {
    let test = "owners_and_grants_of_large_objects_are_restored";
    let Some(server) = pg::server(test) else {
        return;
    };
    let owner = server.role("lo_owner");
    let reader = server.role("lo_reader");
    let schema = "CREATE TABLE trial_document (id int PRIMARY KEY, body oid);";
    let acceptance = server.database("lo_acl_acc");
    acceptance.exec(schema);
    acceptance.exec(&format!(
        "INSERT INTO trial_document VALUES (1, lo_from_bytea(0, 'trial protocol'));
         DO $$ BEGIN
           EXECUTE format('ALTER LARGE OBJECT %s OWNER TO {owner}', (SELECT body FROM trial_document));
           EXECUTE format('GRANT SELECT ON LARGE OBJECT %s TO {reader}', (SELECT body FROM trial_document));
           EXECUTE format('GRANT UPDATE ON LARGE OBJECT %s TO {reader} WITH GRANT OPTION', (SELECT body FROM trial_document));
         END $$;",
        owner = owner.name,
        reader = reader.name
    ));
    let acl = "SELECT pg_get_userbyid(m.lomowner)::text || ' ' || m.lomacl::text
               FROM pg_largeobject_metadata m JOIN trial_document d ON d.body = m.oid";
    let before = acceptance.one(acl);
    assert!(before.contains(&reader.name), "{before}");
    let production = server.database("lo_acl_prod");
    production.exec(schema);
    let site = Site::new(&acceptance);
    site.configure("[[preserve]]\ntable = \"trial_document\"\n");
    site.capture().expect(0);
    server.refresh_from_dump(&acceptance, &production);
    site.restore(&["--steps", "restore"]).expect(0);
    assert_eq!(acceptance.one(acl), before);
    assert!(holds(
        &acceptance,
        "SELECT body FROM trial_document",
        "'trial protocol'::bytea"
    ));
    assert_eq!(objects(&acceptance), 1);
}

#[test]
fn a_dry_run_changes_nothing_and_a_resumed_run_restores_each_object_once() {
    let test = "a_dry_run_changes_nothing_and_a_resumed_run_restores_each_object_once";
    let Some(server) = pg::server(test) else {
        return;
    };
    let schema = "CREATE TABLE portal_document (id int PRIMARY KEY, body oid);";
    let acceptance = server.database("lo_dry_acc");
    acceptance.exec(schema);
    acceptance.exec("INSERT INTO portal_document VALUES (1, lo_from_bytea(0, 'kept one')), (2, lo_from_bytea(0, 'kept two'));");
    let production = server.database("lo_dry_prod");
    production.exec(schema);
    production
        .exec("INSERT INTO portal_document VALUES (7, lo_from_bytea(0, 'production letter'));");
    let site = Site::new(&acceptance);
    let preserve = "[[preserve]]\ntable = \"portal_document\"\n";
    site.configure(preserve);
    site.capture().expect(0);
    server.refresh_from_dump(&acceptance, &production);

    let before = acceptance.table("portal_document");
    let run = site.restore(&["--dry-run", "--steps", "restore"]).expect(0);
    assert!(run.stdout.contains("large objects: 2 restored"), "{run:#?}");
    assert!(
        run.stdout
            .contains("1 unlinked that no row refers to any more"),
        "{run:#?}"
    );
    assert_eq!(acceptance.table("portal_document"), before);
    assert_eq!(objects(&acceptance), 1, "the dry run changed nothing");
    assert!(holds(
        &acceptance,
        "SELECT body FROM portal_document",
        "'production letter'::bytea"
    ));

    // A run that fails at sanitize after the restore committed...
    site.configure(&format!(
        "{preserve}\n[[sanitize]]\ntable = \"portal_document\"\ndelete_where = \"no_such_function(id)\"\n"
    ));
    let first = site.dir.path().join("first");
    site.restore(&["--report-dir", s(&first)]).expect(1);
    assert_eq!(objects(&acceptance), 2);
    // ...resumed with the rule corrected: the objects are not restored twice.
    site.configure(&format!(
        "{preserve}\n[[sanitize]]\ntable = \"portal_document\"\ndelete_where = \"id = 2\"\n"
    ));
    let second = site.dir.path().join("second");
    let run = site
        .restore(&["--resume", s(&first), "--report-dir", s(&second)])
        .expect(0);
    assert!(!run.stdout.contains("restored ("), "{run:#?}");
    assert_eq!(objects(&acceptance), 1, "row 2's document went with it");
    assert!(holds(
        &acceptance,
        "SELECT body FROM portal_document WHERE id = 1",
        "'kept one'::bytea"
    ));
}

#[test]
fn sanitize_unlinks_the_documents_of_deleted_and_nulled_rows() {
    let Some(server) = pg::server("sanitize_unlinks_the_documents_of_deleted_and_nulled_rows")
    else {
        return;
    };
    let db = server.database("lo_sanitize");
    db.exec(
        "CREATE TABLE document (id int PRIMARY KEY, body oid, recent bool);
         CREATE TABLE attachment (id int PRIMARY KEY, document_id int REFERENCES document ON DELETE CASCADE, blob oid);
         CREATE TABLE mer (id int PRIMARY KEY, file_ref oid);
         CREATE TABLE template (id int PRIMARY KEY, body oid);
         INSERT INTO document VALUES (1, lo_from_bytea(0, 'old letter'), false), (2, lo_from_bytea(0, 'recent letter'), true);
         INSERT INTO attachment VALUES (1, 2, lo_from_bytea(0, 'recent scan')), (2, 1, lo_from_bytea(0, 'old scan'));
         INSERT INTO mer SELECT g, lo_from_bytea(0, ('record ' || g)::bytea) FROM generate_series(1, 40) g;
         -- a template shares record 1's document: it must stay
         INSERT INTO template SELECT 1, file_ref FROM mer WHERE id = 1;",
    );
    assert_eq!(objects(&db), 44);
    let site = Site::new(&db);
    site.configure(
        "[[sanitize]]\ntable = \"document\"\ndelete_where = \"recent\"\n\n\
         [[sanitize]]\ntable = \"mer\"\nset_null = [\"file_ref\"]\n",
    );
    let run = site
        .vault_with(&["sanitize", "--config", s(&site.config)])
        .expect(0);
    assert!(
        run.stdout.contains("unlinked 41 large object(s)"),
        "{run:#?}"
    );
    // Left: the old letter, the old scan and the template's document.
    assert_eq!(objects(&db), 3);
    assert!(holds(
        &db,
        "SELECT body FROM document",
        "'old letter'::bytea"
    ));
    assert!(holds(
        &db,
        "SELECT blob FROM attachment",
        "'old scan'::bytea"
    ));
    assert!(holds(&db, "SELECT body FROM template", "'record 1'::bytea"));

    // An object nothing refers to after a sanitize fails the verification.
    db.exec("SELECT lo_from_bytea(0, 'left behind')");
    let run = site
        .vault_with(&["sanitize", "--config", s(&site.config)])
        .expect(3);
    assert!(
        run.stdout
            .contains("1 large object(s) that nothing refers to"),
        "{run:#?}"
    );
}

#[test]
fn health_finds_dangling_references_and_unreferenced_objects() {
    let Some(server) = pg::server("health_finds_dangling_references_and_unreferenced_objects")
    else {
        return;
    };
    let acceptance = server.database("lo_health");
    acceptance.exec(
        "CREATE TABLE mer_document (id int PRIMARY KEY, file oid);
         INSERT INTO mer_document VALUES (1, lo_from_bytea(0, 'a')), (2, lo_from_bytea(0, 'b')), (3, NULL);",
    );
    assert!(found(&check(&acceptance.url(), false)).is_empty());
    // Rows copied without their objects, as a refresh of the rows alone
    // leaves them: the ids point at nothing.
    acceptance.exec("SELECT lo_unlink(file) FROM mer_document WHERE id = 2");
    // And documents that no row refers to.
    acceptance.exec("SELECT lo_from_bytea(0, 'orphan one'), lo_from_bytea(0, 'orphan two!')");
    let checked = check(&acceptance.url(), false);
    assert_eq!(
        found(&checked),
        [
            "dangling-large-object public.mer_document.file",
            "unreferenced-large-object pg_largeobject"
        ],
        "{checked:#?}"
    );
    let dangling = finding(&checked, "public.mer_document.file");
    assert!(dangling.detail.starts_with("1 row(s)"), "{dangling:#?}");
    let orphans = finding(&checked, "pg_largeobject");
    assert!(
        orphans.detail.starts_with("2 large object(s), 21 B"),
        "{orphans:#?}"
    );
    assert_eq!(checked.exit().code(), 3);

    let fixed = check(&acceptance.url(), true);
    assert!(finding(&fixed, "pg_largeobject").repaired, "{fixed:#?}");
    assert_eq!(objects(&acceptance), 1);
    assert!(holds(
        &acceptance,
        "SELECT file FROM mer_document WHERE id = 1",
        "'a'::bytea"
    ));
}

#[test]
fn compare_reads_documents_by_their_contents_not_their_ids() {
    let Some(server) = pg::server("compare_reads_documents_by_their_contents_not_their_ids") else {
        return;
    };
    let schema = "CREATE TABLE mer_document (id int PRIMARY KEY, file oid);";
    let acceptance = server.database("lo_cmp_a");
    let production = server.database("lo_cmp_p");
    acceptance.exec(schema);
    production.exec(schema);
    // The same documents under other ids, except row 2's.
    production.exec("SELECT lo_from_bytea(0, 'padding so that the ids differ')");
    for (db, second) in [
        (&acceptance, "the acceptance version"),
        (&production, "the production version"),
    ] {
        db.exec(&format!(
            "INSERT INTO mer_document VALUES (1, lo_from_bytea(0, 'same letter')), (2, lo_from_bytea(0, '{second}')), (3, NULL)"
        ));
    }
    assert_ne!(
        acceptance.one("SELECT file::text FROM mer_document WHERE id = 1"),
        production.one("SELECT file::text FROM mer_document WHERE id = 1")
    );
    let config = vault::config::Config::parse(&format!(
        "[acceptance]\nurl = \"{}\"\n\n[production]\nurl = \"{}\"\n",
        acceptance.url(),
        production.url()
    ))
    .unwrap();
    let summary = vault::runtime::current_thread()
        .unwrap()
        .block_on(vault::commands::compare::compare(&config, &|_| None))
        .unwrap();
    let data: Vec<_> = summary
        .differences
        .iter()
        .filter_map(|d| d.data.as_ref().map(|data| (d.object.clone(), data)))
        .collect();
    assert_eq!(data.len(), 1, "{:#?}", summary.differences);
    assert_eq!(data[0].0, "public.mer_document");
    assert_eq!(data[0].1.changed, 1);
    assert_eq!(data[0].1.sample_keys, vec!["(2)"]);
}

#[test]
fn a_reference_to_a_missing_object_is_a_capture_warning_and_a_health_finding() {
    let Some(server) =
        pg::server("a_reference_to_a_missing_object_is_a_capture_warning_and_a_health_finding")
    else {
        return;
    };
    let schema = "CREATE TABLE portal_document (id int PRIMARY KEY, body oid, secret text);";
    let acceptance = server.database("lo_missing_acc");
    acceptance.exec(schema);
    acceptance.exec(
        "INSERT INTO portal_document VALUES (1, lo_from_bytea(0, 'kept'), 'planted-value-1'), (2, lo_from_bytea(0, 'gone'), 'planted-value-2');
         SELECT lo_unlink(body) FROM portal_document WHERE id = 2;",
    );
    let missing = acceptance.one("SELECT body::text FROM portal_document WHERE id = 2");
    let production = server.database("lo_missing_prod");
    production.exec(schema);
    let site = Site::new(&acceptance);
    site.configure("[[preserve]]\ntable = \"portal_document\"\n");
    let run = site.capture().expect(0);
    assert!(
        run.stdout.contains(&format!(
            "warning: table portal_document, column body: 1 row(s) refer to large objects that do not exist (ids {missing})"
        )),
        "{run:#?}"
    );
    assert!(!run.stdout.contains("planted-value"), "{run:#?}");
    server.refresh_from_dump(&acceptance, &production);
    let run = site.restore(&["--steps", "restore"]).expect(0);
    assert!(
        run.stdout
            .contains("1 restored row(s) of portal_document.body refer to objects that did not exist at capture"),
        "{run:#?}"
    );
    assert!(holds(
        &acceptance,
        "SELECT body FROM portal_document WHERE id = 1",
        "'kept'::bytea"
    ));
    assert_eq!(
        found(&check(&acceptance.url(), false)),
        ["dangling-large-object public.portal_document.body"]
    );
    assert_eq!(objects(&acceptance), 1);
}

#[test]
fn insert_missing_leaves_no_document_of_a_row_it_kept_out() {
    let Some(server) = pg::server("insert_missing_leaves_no_document_of_a_row_it_kept_out") else {
        return;
    };
    let schema = "CREATE TABLE portal_document (id int PRIMARY KEY, body oid);";
    let acceptance = server.database("lo_missing_mode_acc");
    acceptance.exec(schema);
    acceptance.exec("INSERT INTO portal_document VALUES (1, lo_from_bytea(0, 'acceptance one')), (2, lo_from_bytea(0, 'acceptance two'))");
    let production = server.database("lo_missing_mode_prod");
    production.exec(schema);
    production.exec("INSERT INTO portal_document VALUES (1, lo_from_bytea(0, 'production one'))");
    let site = Site::new(&acceptance);
    site.configure("[[preserve]]\ntable = \"portal_document\"\nmode = \"insert-missing\"\n");
    site.capture().expect(0);
    server.refresh_from_dump(&acceptance, &production);
    let run = site.restore(&["--steps", "restore"]).expect(0);
    assert!(run.stdout.contains("large objects: 2 restored"), "{run:#?}");
    assert!(
        run.stdout
            .contains("1 unlinked that no row refers to any more"),
        "{run:#?}"
    );
    let body = |id: i32| format!("SELECT body FROM portal_document WHERE id = {id}");
    assert!(holds(&acceptance, &body(1), "'production one'::bytea"));
    assert!(holds(&acceptance, &body(2), "'acceptance two'::bytea"));
    assert_eq!(objects(&acceptance), 2);
}
