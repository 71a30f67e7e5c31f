//! MariaDB/MySQL: a restore counts as updated only the rows it wrote; rows that already held the captured values are kept, and a change of case under a case-insensitive collation is a change.

mod common;

use common::mysql::{self, Site};
use common::restore_count_lines;

const SCHEMA: &str = "
CREATE TABLE app_user (user_id int PRIMARY KEY, login varchar(40) COLLATE utf8mb4_general_ci NOT NULL,
  score decimal(6,2), seen datetime) ENGINE=InnoDB;
";

fn users(stdout: &str) -> String {
    restore_count_lines(stdout)
        .into_iter()
        .find(|l| l.starts_with("app_user "))
        .unwrap_or_else(|| panic!("no app_user line in {stdout}"))
}

#[test]
fn a_second_restore_keeps_what_it_would_not_change() {
    let Some(server) = mysql::server("a_second_restore_keeps_what_it_would_not_change") else {
        return;
    };
    let db = server.database("kept");
    db.exec(SCHEMA);
    db.exec(
        "INSERT INTO app_user VALUES (1, 'acc.one', 1.50, '2026-01-01 10:00:00'), (2, 'acc.two', NULL, NULL),
           (3, 'acc.three', 3, NULL)",
    );
    let site = Site::with_url(&db.url());
    site.configure("[[preserve]]\ntable = \"app_user\"\nmode = \"upsert\"\n");
    site.capture().expect(0);
    db.exec(
        "DELETE FROM app_user WHERE user_id = 3; UPDATE app_user SET score = 9 WHERE user_id = 1",
    );

    let first = site.restore(&["--steps", "restore"]).expect(0);
    assert!(
        users(&first.stdout).contains("1 inserted, 1 updated, 1 kept"),
        "{first:#?}"
    );

    let second = site.restore(&["--steps", "restore"]).expect(0);
    assert!(
        users(&second.stdout).contains("0 inserted, 0 updated, 3 kept"),
        "{second:#?}"
    );

    // 'ACC.TWO' = 'acc.two' under utf8mb4_general_ci, yet it is not what was captured.
    db.exec("UPDATE app_user SET login = 'ACC.TWO' WHERE user_id = 2");
    let third = site.restore(&["--steps", "restore"]).expect(0);
    assert!(
        users(&third.stdout).contains("0 inserted, 1 updated, 2 kept"),
        "{third:#?}"
    );
    assert_eq!(
        db.one("SELECT login FROM app_user WHERE user_id = 2"),
        "acc.two"
    );
}
