//! A full disk never costs data or evidence: a capture onto a full file system fails with one clear message and leaves neither a vault nor a partial file; a restore whose report folder cannot take the report stops before it changes anything. The tests mount a small tmpfs of their own (root only; they say why they skip elsewhere).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{key_file, s, vault};

/// A tmpfs of `size` mounted on a new folder, unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(test: &str, size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "tmpfs",
                s(dir.path()),
            ])
            .output();
        match mounted {
            Ok(out) if out.status.success() => Some(SmallDisk { dir }),
            Ok(out) => {
                println!(
                    "skipped {test}: cannot mount a small tmpfs here (needs root): {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                None
            }
            Err(e) => {
                println!("skipped {test}: no mount command ({e})");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// A SQLite acceptance with `megabytes` of documents, and its vault.toml.
fn acceptance(dir: &Path, megabytes: u32) -> (PathBuf, PathBuf) {
    let db = dir.join("acc.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(&format!(
        "CREATE TABLE document (id INTEGER PRIMARY KEY, body BLOB);
         WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < {megabytes})
         INSERT INTO document SELECT x, randomblob(1048576) FROM n;"
    ))
    .unwrap();
    let config = dir.join("vault.toml");
    std::fs::write(
        &config,
        format!(
            "[acceptance]\nurl = \"sqlite:{}\"\n\n[[preserve]]\ntable = \"document\"\n",
            s(&db)
        ),
    )
    .unwrap();
    (db, config)
}

#[test]
fn a_capture_onto_a_full_disk_leaves_nothing() {
    let test = "a_capture_onto_a_full_disk_leaves_nothing";
    let Some(disk) = SmallDisk::mount(test, "1m") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let (_, config) = acceptance(work.path(), 3);
    let (key, _) = key_file(work.path(), "acc.key");
    let out = disk.path().join("acc.vault");
    let run = vault(
        [
            "capture",
            "--config",
            s(&config),
            "--out",
            s(&out),
            "--key-file",
            s(&key),
        ],
        &[],
    );
    assert_ne!(run.code, 0, "{run:#?}");
    assert_eq!(
        run.stderr
            .lines()
            .filter(|l| l.starts_with("error: "))
            .count(),
        1,
        "{run:#?}"
    );
    let left: Vec<_> = std::fs::read_dir(disk.path()).unwrap().flatten().collect();
    assert!(left.is_empty(), "the full disk holds {left:?}");
}

#[test]
fn a_report_folder_without_room_stops_the_restore_before_any_change() {
    let test = "a_report_folder_without_room_stops_the_restore_before_any_change";
    let Some(disk) = SmallDisk::mount(test, "256k") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let (db, config) = acceptance(work.path(), 1);
    let (key, _) = key_file(work.path(), "acc.key");
    let out = work.path().join("acc.vault");
    vault(
        [
            "capture",
            "--config",
            s(&config),
            "--out",
            s(&out),
            "--key-file",
            s(&key),
        ],
        &[],
    )
    .expect(0);
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("DELETE FROM document").unwrap();
    drop(conn);
    let report = disk.path().join("report");
    let run = vault(
        [
            "restore",
            s(&out),
            "--config",
            s(&config),
            "--key-file",
            s(&key),
            "--report-dir",
            s(&report),
        ],
        &[],
    )
    .expect(1);
    assert!(
        run.error_line().contains("cannot take the report"),
        "{run:#?}"
    );
    assert!(run.error_line().contains("nothing was changed"), "{run:#?}");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM document", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 0, "nothing was restored");
    let left: Vec<_> = std::fs::read_dir(&report)
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "no partial report file: {left:?}");
}
