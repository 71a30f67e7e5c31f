//! The quarantine on MariaDB/MySQL: the application's accounts are locked from the start of `vault restore` until verify passes; a run whose sanitize fails leaves them locked and says how to unlock them; an account locked before the run stays locked.

mod common;

use common::mysql::{self, Db, Site};
use common::s;

const SCHEMA: &str = "
CREATE TABLE app_user (user_id int PRIMARY KEY, login varchar(20) NOT NULL);
CREATE TABLE patient (id int PRIMARY KEY, name varchar(40) NOT NULL);
CREATE TABLE visit (id int PRIMARY KEY, patient_id int NOT NULL, FOREIGN KEY (patient_id) REFERENCES patient(id));
INSERT INTO app_user VALUES (1, 'alice'), (2, 'tester');
INSERT INTO patient VALUES (1, 'Johanna de Vries'), (2, 'Pieter Bakker');
";

fn locked(db: &Db, account: &str) -> bool {
    db.one(&format!("SHOW CREATE USER '{account}'@'%'"))
        .contains("ACCOUNT LOCK")
}

fn config(accounts: &[&str], rule: &str) -> String {
    let roles: Vec<String> = accounts.iter().map(|a| format!("\"'{a}'@'%'\"")).collect();
    format!(
        "[quarantine]\nroles = [{}]\n\n[[preserve]]\ntable = \"app_user\"\n\n[[sanitize]]\ntable = \"{rule}\"\ndelete_all = true\n",
        roles.join(", ")
    )
}

#[test]
fn accounts_are_locked_until_verify_passes() {
    let Some(server) = mysql::server("accounts_are_locked_until_verify_passes") else {
        return;
    };
    let tester = server.account("q_tester");
    let already = server.account("q_locked");
    server.admin(&format!("ALTER USER '{}'@'%' ACCOUNT UNLOCK", tester.name));
    let db = server.database("quarantine");
    db.exec(SCHEMA);
    let site = Site::with_url(&db.url());

    // Deleting every patient fails on the visits that refer to them.
    site.configure(&config(&[&tester.name, &already.name], "patient"));
    site.capture().expect(0);
    db.exec("INSERT INTO visit VALUES (1, 1)");
    let run = site.restore(&[]).expect(1);
    assert!(
        run.stdout.contains("quarantine: acceptance stays CLOSED"),
        "{run:#?}"
    );
    assert!(locked(&db, &tester.name), "the tester is kept out");
    let opened = site
        .vault_with(&["quarantine", "open", "--config", s(&site.config)])
        .expect(0);
    assert!(
        opened
            .stdout
            .contains(&format!("'{}'@'%' unlocked", tester.name)),
        "{opened:#?}"
    );
    assert!(!locked(&db, &tester.name));
    server.admin(&format!("ALTER USER '{}'@'%' ACCOUNT LOCK", already.name));

    // A clean run locks, then unlocks only what it locked.
    site.configure(&config(&[&tester.name, &already.name], "visit"));
    let run = site.restore(&[]).expect(0);
    assert!(run.stdout.contains("after verify passed"), "{run:#?}");
    assert!(run.stdout.contains("already locked"), "{run:#?}");
    assert!(!locked(&db, &tester.name));
    assert!(
        locked(&db, &already.name),
        "locked before the run, locked after"
    );
}
