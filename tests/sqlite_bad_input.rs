//! Bad input to capture and restore on SQLite, through the real binary: each case ends with
//! its documented exit code, one clear `error:` line, and the database exactly as it was.

mod common;

use common::workflow::{
    CLINIC_PRESERVED, CLINIC_TABLES, Site, assert_one_error, assert_unchanged, clinic_preserve,
    clinic_site, clinic_site_with, exec, files_in, refreshed_clinic, rows, snapshot, stream_index,
    tamper_chunk,
};
use common::{flip_chunk_byte, key_file, s, vault};

/// `vault capture` into `out` with the site's configuration and key.
fn capture_to(site: &Site, out: &std::path::Path) -> common::Run {
    vault(
        [
            "capture",
            "--config",
            s(&site.config),
            "--out",
            s(out),
            "--key-file",
            s(&site.key),
        ],
        &[],
    )
}

/// Configurations that fail validation: refused before any connection, by
/// capture and restore alike.
#[test]
fn configs_that_fail_validation_are_refused_before_anything_is_read() {
    let site = refreshed_clinic();
    let acceptance = format!("[acceptance]\nurl = \"sqlite:{}\"\n", s(&site.acceptance));
    let cases: [(&str, String, &[&str]); 6] = [
        (
            "unknown key",
            format!("{acceptance}[[preserve]]\ntable = \"app_user\"\nkeys = [\"user_id\"]\n"),
            &["vault.toml: line 4", "unknown field `keys`"],
        ),
        (
            "unknown section",
            format!("{acceptance}[[keep]]\ntable = \"app_user\"\n"),
            &["unknown field `keep`"],
        ),
        (
            "mode that does not exist",
            format!("{acceptance}[[preserve]]\ntable = \"app_user\"\nmode = \"merge\"\n"),
            &["unknown variant `merge`", "upsert"],
        ),
        (
            "password in the file",
            "[acceptance]\nurl = \"postgres://app:s3cret@acc-db/camis\"\n[[preserve]]\ntable = \"app_user\"\n"
                .to_owned(),
            &["acceptance.url", "contains a password", "url_env"],
        ),
        (
            "url_env that is not set",
            "[acceptance]\nurl_env = \"VAULT_TEST_UNSET_URL\"\n[[preserve]]\ntable = \"app_user\"\n"
                .to_owned(),
            &["acceptance.url_env", "VAULT_TEST_UNSET_URL is not set"],
        ),
        (
            "url and url_env",
            format!(
                "{acceptance}url_env = \"ACC_URL\"\n[[preserve]]\ntable = \"app_user\"\n"
            ),
            &["acceptance", "either url_env or url"],
        ),
    ];
    let before = snapshot(&site.acceptance);
    for (case, text, fragments) in cases {
        site.write_config(&text);
        let out = site.path("new.vault");
        let run = capture_to(&site, &out).expect(2);
        assert_one_error(&run, fragments);
        assert!(!run.stderr.contains("s3cret"), "{case}: {}", run.stderr);
        assert!(!out.exists(), "{case}: no vault is written");

        let run = site.restore(&[]).expect(2);
        assert_one_error(&run, fragments);
        assert!(!run.stderr.contains("s3cret"), "{case}: {}", run.stderr);
        assert_unchanged(&site.acceptance, &before);
    }
}

/// Configurations that the acceptance schema refutes: the capture stops
/// before it writes a vault.
#[test]
fn configs_the_schema_refutes_stop_the_capture() {
    let site = clinic_site("replace");
    let cases: [(&str, &[&str]); 4] = [
        (
            "[[preserve]]\ntable = \"no_such_table\"\n",
            &["preserve[0]", "the table no_such_table does not exist"],
        ),
        (
            "[[preserve]]\ntable = \"app_setting\"\nkey = [\"setting_name\"]\n",
            &[
                "preserve[0]",
                "key column setting_name is not a column of app_setting",
            ],
        ),
        (
            "[[preserve]]\ntable = \"app_user\"\n\n[[preserve]]\ntable = \"app_setting\"\n",
            &["preserve[1]", "app_setting has no primary key", "`key`"],
        ),
        (
            "[[preserve]]\ntable = \"portal_document\"\nkey = [\"size\"]\n",
            &["key column size of portal_document is generated"],
        ),
    ];
    let before = snapshot(&site.acceptance);
    for (preserve, fragments) in cases {
        site.configure(preserve);
        let run = site.capture().expect(2);
        assert_one_error(&run, fragments);
        assert_eq!(
            files_in(site.dir.path()),
            ["acc.key", "acceptance.db", "production.db", "vault.toml"]
        );
        assert_unchanged(&site.acceptance, &before);
    }
}

#[test]
fn a_capture_changes_nothing_and_never_overwrites_a_file() {
    let site = clinic_site("replace");
    let before = snapshot(&site.acceptance);
    site.capture().expect(0);
    assert_unchanged(&site.acceptance, &before);

    let vault_bytes = std::fs::read(&site.vault).unwrap();
    let run = site.capture().expect(2);
    assert_one_error(&run, &["already exists; refusing to overwrite it"]);
    assert_eq!(std::fs::read(&site.vault).unwrap(), vault_bytes);
}

#[test]
fn a_where_the_database_rejects_leaves_no_vault() {
    let site = clinic_site("replace");
    site.configure(
        "[[preserve]]\ntable = \"app_user\"\n\n[[preserve]]\ntable = \"portal_document\"\nwhere = \"no_such_column = 1\"\n",
    );
    let before = snapshot(&site.acceptance);
    let run = site.capture().expect(1);
    assert_one_error(&run, &["portal_document", "no such column: no_such_column"]);
    assert_eq!(
        files_in(site.dir.path()),
        ["acc.key", "acceptance.db", "production.db", "vault.toml"],
        "no vault and no partial file"
    );
    assert_unchanged(&site.acceptance, &before);
}

#[test]
fn a_missing_vault_is_a_usage_error() {
    let site = refreshed_clinic();
    let before = snapshot(&site.acceptance);
    let missing = site.path("missing.vault");
    let run = vault(
        [
            "restore",
            s(&missing),
            "--config",
            s(&site.config),
            "--key-file",
            s(&site.key),
        ],
        &[],
    )
    .expect(2);
    assert_one_error(&run, &["missing.vault does not exist"]);
    assert_unchanged(&site.acceptance, &before);
}

#[test]
fn a_damaged_vault_is_refused_before_any_change() {
    let site = refreshed_clinic();
    let before = snapshot(&site.acceptance);
    flip_chunk_byte(&site.vault, 0, 0);
    let run = site.restore(&[]).expect(3);
    assert_one_error(&run, &["chunk 0", "checksum does not match"]);
    assert_unchanged(&site.acceptance, &before);
}

#[test]
fn a_chunk_altered_with_its_checksum_fails_mid_restore_and_rolls_back() {
    let site = refreshed_clinic();
    let before = snapshot(&site.acceptance);
    // The last table loaded: every other table is already restored in the
    // transaction when the altered chunk is read.
    tamper_chunk(&site.vault, stream_index(&site.vault, "portal_document"), 0);
    let run = site.restore(&[]).expect(3);
    assert_one_error(
        &run,
        &[
            "portal_document",
            "chunk 0",
            "the restore was rolled back: nothing was changed",
        ],
    );
    assert_unchanged(&site.acceptance, &before);
}

#[test]
fn a_wrong_key_is_refused_before_any_change() {
    let site = refreshed_clinic();
    let before = snapshot(&site.acceptance);
    let (other, _) = key_file(site.dir.path(), "other.key");
    let run = vault(
        [
            "restore",
            s(&site.vault),
            "--config",
            s(&site.config),
            "--key-file",
            s(&other),
        ],
        &[],
    )
    .expect(1);
    assert_one_error(&run, &["wrong key"]);
    assert_unchanged(&site.acceptance, &before);
}

#[test]
fn a_captured_column_missing_from_the_target_is_drift() {
    let site = refreshed_clinic();
    exec(
        &site.acceptance,
        "ALTER TABLE app_setting DROP COLUMN value",
    );
    let before = snapshot(&site.acceptance);
    let run = site.restore(&[]).expect(2);
    assert_one_error(
        &run,
        &["schema drift", "app_setting.value", "nothing was changed"],
    );
    assert_unchanged(&site.acceptance, &before);
}

#[test]
fn a_captured_table_missing_from_the_target_is_drift() {
    let site = refreshed_clinic();
    exec(&site.acceptance, "DROP TABLE portal_document");
    let before = snapshot(&site.acceptance);
    let run = site.restore(&[]).expect(2);
    assert_one_error(
        &run,
        &["schema drift", "portal_document", "not in the target"],
    );
    assert_unchanged(&site.acceptance, &before);
}

#[test]
fn a_new_required_column_without_default_is_drift() {
    let site = refreshed_clinic();
    exec(
        &site.acceptance,
        "CREATE TABLE app_setting_new (name TEXT NOT NULL, value TEXT, scope TEXT NOT NULL);
         INSERT INTO app_setting_new SELECT name, value, 'global' FROM app_setting;
         DROP TABLE app_setting;
         ALTER TABLE app_setting_new RENAME TO app_setting;",
    );
    let before = snapshot(&site.acceptance);
    let run = site.restore(&[]).expect(2);
    assert_one_error(
        &run,
        &[
            "schema drift",
            "app_setting.scope",
            "NOT NULL without a default",
        ],
    );
    assert_unchanged(&site.acceptance, &before);
}

#[test]
fn new_optional_columns_are_notes_and_get_their_defaults() {
    let site = refreshed_clinic();
    exec(
        &site.acceptance,
        "ALTER TABLE app_setting ADD COLUMN scope TEXT;
         ALTER TABLE app_user ADD COLUMN locale TEXT NOT NULL DEFAULT 'nl';",
    );
    // The restore fills them; the compare at the end of the pipeline then
    // finds acceptance's schema no longer production's (exit 3).
    let run = site.restore(&[]).expect(3);
    for column in ["app_setting.scope", "app_user.locale"] {
        assert!(
            run.stdout
                .lines()
                .any(|l| l.contains("UNEXPECTED column") && l.contains(column)),
            "{}",
            run.stdout
        );
    }
    assert!(
        run.stdout
            .contains("note: app_setting.scope: a new column (TEXT) that the vault does not hold"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("note: app_user.locale: "),
        "{}",
        run.stdout
    );
    assert_eq!(
        rows(&site.acceptance, "app_setting", "name"),
        vec![
            row!["banner", "TEST DATA ONLY", common::workflow::Cell::Null],
            row!["environment", "acceptance", common::workflow::Cell::Null],
            row![
                "mail_relay",
                "smtp.acc.example",
                common::workflow::Cell::Null
            ],
        ]
    );
    assert_eq!(
        rows(&site.acceptance, "app_user", "user_id")
            .iter()
            .map(|r| r[4].clone())
            .collect::<Vec<_>>(),
        vec![common::workflow::Cell::from("nl"); 4]
    );
}

#[test]
fn another_database_than_the_source_needs_target_differs() {
    let site = clinic_site("replace");
    let captured: Vec<_> = CLINIC_PRESERVED
        .iter()
        .map(|(table, order)| rows(&site.acceptance, table, order))
        .collect();
    site.capture().expect(0);
    site.refresh();
    let other = site.path("other-acceptance.db");
    std::fs::copy(&site.production, &other).unwrap();
    site.configure_urls(&other, Some(&site.production), &clinic_preserve("replace"));
    let acceptance_before = snapshot(&site.acceptance);
    let other_before = snapshot(&other);

    let run = site.restore(&[]).expect(4);
    assert_one_error(
        &run,
        &[
            "the vault was captured from sqlite ",
            "acceptance.db",
            "other-acceptance.db",
        ],
    );
    assert!(run.stderr.contains("--target-differs"), "{}", run.stderr);
    assert_unchanged(&other, &other_before);
    let run = site.restore(&["--dry-run"]).expect(4);
    assert_one_error(&run, &["the vault was captured from"]);
    assert_unchanged(&other, &other_before);

    site.restore(&["--target-differs"]).expect(0);
    for ((table, order), captured) in CLINIC_PRESERVED.iter().zip(&captured) {
        if *table != "portal_document" {
            assert_eq!(&rows(&other, table, order), captured, "{table}");
        }
    }
    assert_unchanged(&site.acceptance, &acceptance_before);
}

#[test]
fn production_reached_through_a_link_is_refused() {
    let site = refreshed_clinic();
    let link = site.path("production-link.db");
    std::os::unix::fs::symlink(&site.acceptance, &link).unwrap();
    site.configure_urls(&site.acceptance, Some(&link), &clinic_preserve("replace"));
    let before = snapshot(&site.acceptance);
    let run = site.restore(&["--target-differs"]).expect(4);
    assert_one_error(&run, &["lead to the same database"]);
    assert_unchanged(&site.acceptance, &before);
}

#[test]
fn a_production_url_that_cannot_be_resolved_stops_the_restore() {
    let site = refreshed_clinic();
    site.write_config(&format!(
        "[acceptance]\nurl = \"sqlite:{}\"\n\n[production]\nurl_env = \"VAULT_TEST_UNSET_PROD_URL\"\n\n{}",
        s(&site.acceptance),
        clinic_preserve("replace")
    ));
    let before = snapshot(&site.acceptance);
    let run = site.restore(&[]).expect(2);
    assert_one_error(
        &run,
        &["production.url_env", "VAULT_TEST_UNSET_PROD_URL is not set"],
    );
    assert_unchanged(&site.acceptance, &before);
}

#[test]
fn production_is_refused_even_with_target_differs() {
    let site = refreshed_clinic();
    // [production] names the very file that [acceptance] names.
    site.configure_urls(
        &site.acceptance,
        Some(&site.acceptance),
        &clinic_preserve("replace"),
    );
    let before = snapshot(&site.acceptance);
    for extra in [
        &[][..],
        &["--target-differs"],
        &["--dry-run", "--target-differs"],
    ] {
        let run = site.restore(extra).expect(4);
        assert_one_error(
            &run,
            &["lead to the same database", "never writes to production"],
        );
        assert_unchanged(&site.acceptance, &before);
    }
}

#[test]
fn a_database_file_that_does_not_exist_is_not_created() {
    let site = refreshed_clinic();
    let missing = site.path("no-such.db");
    site.configure_urls(
        &missing,
        Some(&site.production),
        &clinic_preserve("replace"),
    );
    let out = site.path("new.vault");
    let run = capture_to(&site, &out).expect(1);
    assert_one_error(&run, &["no-such.db", "does not exist"]);
    assert!(!out.exists());
    let run = site.restore(&["--target-differs"]).expect(1);
    assert_one_error(&run, &["no-such.db", "does not exist"]);
    assert!(!missing.exists(), "the database file is not created");
}

#[test]
fn a_file_that_is_not_a_database_is_a_clear_error() {
    let site = refreshed_clinic();
    let notes = site.path("notes.db");
    std::fs::write(
        &notes,
        "these are not the tables you are looking for\n".repeat(100),
    )
    .unwrap();
    let bytes = std::fs::read(&notes).unwrap();
    site.configure_urls(&notes, None, &clinic_preserve("replace"));
    let run = capture_to(&site, &site.path("new.vault")).expect(1);
    assert_one_error(&run, &["notes.db", "not a database"]);
    let run = site.restore(&["--target-differs"]).expect(1);
    assert_one_error(&run, &["notes.db", "not a database"]);
    assert_eq!(std::fs::read(&notes).unwrap(), bytes);
}

#[test]
fn a_row_the_target_rejects_rolls_the_whole_restore_back() {
    // After the capture, production gained a rule that one captured document breaks.
    let site = clinic_site_with(
        &CLINIC_TABLES.replace(
            "content BLOB NOT NULL,",
            "content BLOB NOT NULL CHECK (length(content) > 0),",
        ),
        "replace",
    );
    site.capture().expect(0);
    site.refresh();
    let before = snapshot(&site.acceptance);
    let run = site.restore(&[]).expect(1);
    assert_one_error(
        &run,
        &[
            "portal_document",
            "CHECK constraint failed",
            "nothing was changed",
        ],
    );
    assert_unchanged(&site.acceptance, &before);
}

#[test]
fn rows_left_pointing_at_removed_rows_roll_the_whole_restore_back() {
    // Production's sessions refer to its users without ON DELETE CASCADE:
    // replacing the users would leave them dangling.
    let site = clinic_site_with(
        &CLINIC_TABLES.replace(
            "REFERENCES app_user(user_id) ON DELETE CASCADE\n);\nCREATE TABLE audit_log",
            "REFERENCES app_user(user_id)\n);\nCREATE TABLE audit_log",
        ),
        "replace",
    );
    site.capture().expect(0);
    site.refresh();
    let before = snapshot(&site.acceptance);
    // The dry run's rehearsal finds them too, with the same message.
    for args in [&["--dry-run", "--steps", "restore"][..], &[]] {
        let run = site.restore(args).expect(1);
        assert_one_error(
            &run,
            &[
                "could not commit: rows of session refer to rows of app_user that the restore removed",
                "the restore was rolled back: nothing was changed",
            ],
        );
        assert!(
            run.stderr.contains("hint: preserve session too"),
            "{args:?}: {}",
            run.stderr
        );
        assert_unchanged(&site.acceptance, &before);
    }
}

#[test]
fn production_spelled_with_percent_encoding_or_dots_is_refused() {
    let site = refreshed_clinic();
    let file = site.acceptance.file_name().unwrap().to_str().unwrap();
    let folder = site.acceptance.parent().unwrap();
    std::fs::create_dir(folder.join("sub")).unwrap();
    let encoded = file.replace('.', "%2E");
    let before = snapshot(&site.acceptance);
    for spelling in [
        format!("{}/{encoded}", s(folder)),
        format!("{}/sub/../{file}", s(folder)),
        format!("{}//./{file}", s(folder)),
    ] {
        // [production] names the acceptance file as it is; [acceptance]
        // names it another way.
        site.write_config(&format!(
            "[acceptance]\nurl = \"sqlite:{spelling}\"\n\n[production]\nurl = \"sqlite:{}\"\n\n{}",
            s(&site.acceptance),
            clinic_preserve("replace")
        ));
        let run = site.restore(&["--target-differs"]).expect(4);
        assert_one_error(
            &run,
            &[
                "lead to the same database",
                "the same file",
                "never writes to production",
            ],
        );
        assert_unchanged(&site.acceptance, &before);
    }
}
