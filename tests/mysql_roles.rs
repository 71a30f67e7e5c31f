//! `[roles]` on MariaDB after a refresh that brings production's accounts (a physical copy, played here as `mariadb-dump | mariadb` plus DROP USER and ALTER USER): kept accounts come back whole (SHOW CREATE USER, role grants, privileges) and stay locked until verify passes; production's own accounts are listed and locked with `lock_others`, never the restoring account; a capturing account that may not read the definitions is refused; no authentication string reaches any output or file.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::mysql::{self, Db, Server, Site};
use common::{Run, s};

/// Tests of this file that create accounts run one at a time: a restore
/// lists (and with `lock_others` locks) every account it did not see at
/// capture. The server's named lock is held by the returned session and
/// released when it closes.
fn one_at_a_time(server: &Server) -> Turn {
    use sqlx::Connection;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let conn = runtime.block_on(async {
        let mut conn = sqlx::mysql::MySqlConnection::connect(&server.url("mysql"))
            .await
            .unwrap();
        let got: Option<i64> =
            sqlx::query_scalar("SELECT GET_LOCK('vault-mysql-roles-tests', 300)")
                .fetch_one(&mut conn)
                .await
                .unwrap();
        assert_eq!(got, Some(1), "the tests' lock");
        conn
    });
    Turn {
        _conn: conn,
        _runtime: runtime,
    }
}

struct Turn {
    _conn: sqlx::mysql::MySqlConnection,
    _runtime: tokio::runtime::Runtime,
}

/// A role, dropped with the guard.
struct Role {
    name: String,
    server: Arc<Server>,
}

impl Role {
    fn new(server: &Arc<Server>, label: &str) -> Role {
        let name = format!("vrr_{}_{label}", std::process::id());
        server.admin(&format!("CREATE ROLE `{name}`"));
        Role {
            name,
            server: Arc::clone(server),
        }
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.server
                .admin(&format!("DROP ROLE IF EXISTS `{}`", self.name))
        }));
    }
}

const SCHEMA: &str = "
CREATE TABLE app_user (id int PRIMARY KEY, login varchar(40) NOT NULL);
CREATE TABLE patient (id int PRIMARY KEY, name varchar(60) NOT NULL);
";

fn show_create(db: &Db, account: &str) -> Vec<String> {
    db.rows(&format!("SHOW CREATE USER {account}"))
}

fn grants_of(db: &Db, account: &str) -> Vec<String> {
    let mut rows = db.rows(&format!("SHOW GRANTS FOR {account}"));
    rows.sort();
    rows
}

fn locked(db: &Db, account: &str) -> bool {
    show_create(db, account).join(" ").contains("ACCOUNT LOCK")
}

/// The password hash of an account, to look for in outputs and files.
fn hash_of(db: &Db, name: &str) -> String {
    db.one(&format!(
        "SELECT JSON_VALUE(Priv, '$.authentication_string') FROM mysql.global_priv WHERE User = '{name}' AND Host = '%'"
    ))
}

/// Every file under `dir`, as bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            found.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    found
}

/// No secret in the runs' outputs nor in any file of the site.
fn no_secret(runs: &[&Run], dir: &Path, secrets: &[&str]) {
    for secret in secrets {
        assert!(secret.len() > 8, "a secret worth looking for: {secret:?}");
        for run in runs {
            assert!(
                !run.stdout.contains(secret) && !run.stderr.contains(secret),
                "{secret} in the output of {run:#?}"
            );
        }
        for (path, bytes) in files(dir) {
            let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
            assert!(!found, "{secret} in {path}");
        }
    }
}

#[test]
fn a_kept_account_dropped_by_the_refresh_comes_back_whole_locked_until_verify() {
    let Some(server) = mysql::server("a_kept_account_dropped_by_the_refresh") else {
        return;
    };
    let _turn = one_at_a_time(&server);
    let role = Role::new(&server, "reader");
    let tester = server.account("kept_tester");
    let t = tester.spec();
    let acceptance = server.database("roles_acc");
    let production = server.database("roles_prod");
    // Records, when sanitize deletes a patient, whether the tester is locked.
    let watch = format!(
        "CREATE TABLE lock_log (state varchar(10));
         CREATE TRIGGER patient_watch BEFORE DELETE ON patient FOR EACH ROW
           INSERT INTO lock_log SELECT IFNULL(JSON_EXTRACT(Priv, '$.account_locked'), 'false')
           FROM mysql.global_priv WHERE User = '{}' AND Host = '%';",
        tester.name
    );
    for db in [&acceptance, &production] {
        db.exec(SCHEMA);
        db.exec(&watch);
    }
    acceptance.exec("INSERT INTO app_user VALUES (1, 'tester')");
    production.exec("INSERT INTO app_user VALUES (7, 'dr.visser'); INSERT INTO patient VALUES (1, 'Johanna de Vries')");
    server.admin(&format!(
        "ALTER USER {t} IDENTIFIED BY 'Kept-Tester-Pa55-8812' WITH MAX_USER_CONNECTIONS 3 MAX_QUERIES_PER_HOUR 500 PASSWORD EXPIRE INTERVAL 90 DAY ACCOUNT UNLOCK;
         GRANT `{r}` TO {t}; SET DEFAULT ROLE `{r}` FOR {t};
         GRANT SELECT, UPDATE ON `{db}`.`app_user` TO {t};",
        r = role.name,
        db = acceptance.name
    ));
    let before = show_create(&acceptance, &t);
    let grants_before = grants_of(&acceptance, &t);
    let hash = hash_of(&acceptance, &tester.name);
    let site = Site::with_url(&acceptance.url());
    site.configure(&format!(
        "[[preserve]]\ntable = \"app_user\"\n\n[[sanitize]]\ntable = \"patient\"\ndelete_all = true\nallow_triggers = true\n\n[roles]\nkeep = [\"{t}\"]\n"
    ));
    let capture = site.capture().expect(0);
    assert!(
        capture
            .stdout
            .contains("roles: 1 accounts kept with their authentication strings"),
        "{capture:#?}"
    );
    assert!(
        kept_definition(&site, &t).contains(&hash),
        "the vault keeps the hash, encrypted"
    );
    // A physical copy brings production's user table: the tester is gone.
    server.refresh(&acceptance, &production);
    server.admin(&format!("DROP USER {t}"));

    let dry = site.restore(&["--dry-run"]).expect(0);
    assert!(
        dry.stdout.contains(&format!(
            "planned: roles: {t} is missing after the refresh: CREATE USER"
        )),
        "{dry:#?}"
    );
    assert!(
        acceptance
            .rows(&format!(
                "SELECT 1 FROM mysql.user WHERE User = '{}'",
                tester.name
            ))
            .is_empty(),
        "a dry run creates nothing"
    );

    let report = site.dir.path().join("report");
    let run = site.restore(&["--report-dir", s(&report)]).expect(0);
    assert!(
        run.stdout.contains("is missing after the refresh"),
        "{run:#?}"
    );
    assert!(
        run.stdout.contains("locked until the quarantine opens"),
        "{run:#?}"
    );
    assert!(run.stdout.contains("after verify passed"), "{run:#?}");
    let opened = format!("{t} unlocked");
    assert!(
        files(&report)
            .iter()
            .any(|(_, bytes)| String::from_utf8_lossy(bytes).contains(&opened)),
        "the report records the opening"
    );
    assert_eq!(
        acceptance.rows("SELECT state FROM lock_log"),
        ["true"],
        "locked while sanitize ran: {run:#?}"
    );
    assert_eq!(show_create(&acceptance, &t), before, "{run:#?}");
    assert_eq!(grants_of(&acceptance, &t), grants_before, "{run:#?}");
    assert!(!locked(&acceptance, &t));
    no_secret(
        &[&capture, &dry, &run],
        site.dir.path(),
        &[&hash, &hash[1..], "Kept-Tester-Pa55-8812"],
    );
}

#[test]
fn a_kept_account_the_refresh_changed_is_put_back_and_production_accounts_are_locked() {
    let Some(server) = mysql::server("a_kept_account_the_refresh_changed") else {
        return;
    };
    let _turn = one_at_a_time(&server);
    let role = Role::new(&server, "clerk");
    let tester = server.account("changed_tester");
    let t = tester.spec();
    let acceptance = server.database("changed_acc");
    acceptance.exec(SCHEMA);
    acceptance.exec("INSERT INTO app_user VALUES (1, 'tester')");
    server.admin(&format!(
        "ALTER USER {t} IDENTIFIED BY 'Changed-Tester-Pa55-4417' REQUIRE SSL WITH MAX_USER_CONNECTIONS 2 ACCOUNT UNLOCK;
         GRANT `{r}` TO {t};",
        r = role.name
    ));
    let before = show_create(&acceptance, &t);
    let grants_before = grants_of(&acceptance, &t);
    let site = Site::with_url(&acceptance.url());
    site.configure(&format!(
        "[[preserve]]\ntable = \"app_user\"\n\n[roles]\nkeep = [\"{t}\"]\nlock_others = true\n"
    ));
    site.capture().expect(0);

    // Production's copy of the account, and production's own accounts.
    server.admin(&format!(
        "ALTER USER {t} IDENTIFIED BY 'Production-Pa55-9931' REQUIRE NONE WITH MAX_USER_CONNECTIONS 50 ACCOUNT LOCK;
         REVOKE `{r}` FROM {t};",
        r = role.name
    ));
    let production_hash = hash_of(&acceptance, &tester.name);
    let dr = server.account("prod_doctor");
    server.admin(&format!(
        "ALTER USER {} IDENTIFIED BY 'Doctor-Pa55-1234' ACCOUNT UNLOCK",
        dr.spec()
    ));
    let asleep = server.account("prod_asleep");
    // The restore runs as an account acceptance never had: never locked.
    let restorer = server.account("restorer");
    server.admin(&format!(
        "ALTER USER {r} IDENTIFIED BY 'Restorer-Pa55-7777' ACCOUNT UNLOCK; GRANT ALL PRIVILEGES ON *.* TO {r} WITH GRANT OPTION;
         GRANT `{role}` TO {r} WITH ADMIN OPTION",
        r = restorer.spec(),
        role = role.name
    ));
    let mut site = site;
    let url = acceptance.url().replacen(
        "root@",
        &format!("{}:Restorer-Pa55-7777@", restorer.name),
        1,
    );
    assert_ne!(url, acceptance.url(), "the test server's URL names root");
    site.set_acceptance_url(&url);

    let run = site.restore(&["--steps", "restore"]).expect(0);
    // Accounts created meanwhile by other tests on the server are theirs:
    // unlocked again at once.
    for line in run.stdout.lines() {
        if let Some((_, unlock)) = line.split_once("to unlock: ")
            && !unlock.contains(&dr.name)
        {
            server.admin(unlock);
        }
    }
    assert!(
        run.stdout.contains(&format!(
            "{t} was changed by the refresh (authentication, TLS requirements, resource limits)"
        )),
        "{run:#?}"
    );
    assert!(!run.stdout.contains("Pa55"), "{run:#?}");
    assert_eq!(show_create(&acceptance, &t), before, "{run:#?}");
    assert_eq!(grants_of(&acceptance, &t), grants_before, "{run:#?}");
    assert!(
        run.stdout
            .contains("roles: production's logins that acceptance never had:")
            && run.stdout.contains(&dr.spec()),
        "{run:#?}"
    );
    assert!(
        run.stdout.contains(&format!(
            "roles: {} locked (lock_others); to unlock: ALTER USER {} ACCOUNT UNLOCK",
            dr.spec(),
            dr.spec()
        )),
        "{run:#?}"
    );
    assert!(
        locked(&acceptance, &dr.spec()),
        "production's doctor is locked"
    );
    assert!(
        run.stdout.contains("already locked") && run.stdout.contains(&asleep.spec()),
        "{run:#?}"
    );
    assert!(
        !locked(&acceptance, &restorer.spec()),
        "the restoring account is never locked"
    );
    assert!(!run.stdout.contains(&restorer.name), "{run:#?}");
    no_secret(
        &[&run],
        site.dir.path(),
        &[
            &production_hash[1..],
            &hash_of(&acceptance, &tester.name)[1..],
        ],
    );

    // Nothing changed since: a second restore leaves the account alone.
    let again = site.restore(&["--steps", "restore"]).expect(0);
    for line in again.stdout.lines() {
        if let Some((_, unlock)) = line.split_once("to unlock: ") {
            server.admin(unlock);
        }
    }
    assert!(
        again.stdout.contains(&format!(
            "roles: {t} is as acceptance had it: left as it is"
        )),
        "{again:#?}"
    );
    assert_eq!(show_create(&acceptance, &t), before);
}

#[test]
fn a_capturing_account_that_may_not_read_definitions_is_refused() {
    let Some(server) = mysql::server("a_capturing_account_that_may_not_read_definitions") else {
        return;
    };
    let _turn = one_at_a_time(&server);
    let tester = server.account("unread_tester");
    let capturer = server.account("unread_capturer");
    let acceptance = server.database("unread_acc");
    acceptance.exec(SCHEMA);
    server.admin(&format!(
        "ALTER USER {c} IDENTIFIED BY 'Capturer-Pa55-2468' ACCOUNT UNLOCK;
         GRANT ALL ON `{db}`.* TO {c}; GRANT SELECT ON mysql.user TO {c}; GRANT SELECT ON mysql.procs_priv TO {c};",
        c = capturer.spec(),
        db = acceptance.name
    ));
    let url = acceptance.url().replacen(
        "root@",
        &format!("{}:Capturer-Pa55-2468@", capturer.name),
        1,
    );
    let site = Site::with_url(&url);
    for passwords in ["", "passwords = false\n"] {
        site.configure(&format!(
            "[[preserve]]\ntable = \"app_user\"\n\n[roles]\nkeep = [\"{}\"]\n{passwords}",
            tester.spec()
        ));
        let run = site.capture().expect(2);
        assert!(
            run.stderr
                .contains("GRANT SELECT ON mysql.* TO the capturing account"),
            "{run:#?}"
        );
        assert!(!site.vault.exists(), "no vault");
        let left: Vec<_> = std::fs::read_dir(site.dir.path())
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name().to_string_lossy().contains("vault") && e.path() != site.config
            })
            .collect();
        assert!(left.is_empty(), "no partial vault: {left:?}");
    }
    site.configure("[[preserve]]\ntable = \"app_user\"\n\n[roles]\nkeep = [\"''@'%'\"]\n");
    let bad = site.capture().expect(2);
    assert!(
        bad.stderr
            .contains("roles.keep: \"''@'%'\" is not an account"),
        "{bad:#?}"
    );
}

#[test]
fn without_passwords_a_dropped_account_comes_back_with_its_plugin_and_no_password() {
    let Some(server) = mysql::server("without_passwords_a_dropped_account") else {
        return;
    };
    let _turn = one_at_a_time(&server);
    let tester = server.account("nopw_tester");
    let t = tester.spec();
    let acceptance = server.database("nopw_acc");
    acceptance.exec(SCHEMA);
    server.admin(&format!(
        "ALTER USER {t} IDENTIFIED BY 'NoPw-Tester-Pa55-3579' WITH MAX_USER_CONNECTIONS 4"
    ));
    let hash = hash_of(&acceptance, &tester.name);
    let site = Site::with_url(&acceptance.url());
    site.configure(&format!(
        "[[preserve]]\ntable = \"app_user\"\n\n[roles]\nkeep = [\"{t}\"]\npasswords = false\n\n[quarantine]\nenabled = false\n"
    ));
    let capture = site.capture().expect(0);
    assert!(
        capture
            .stdout
            .contains("WITHOUT their authentication strings"),
        "{capture:#?}"
    );
    server.admin(&format!("DROP USER {t}"));
    let run = site.restore(&["--steps", "restore"]).expect(0);
    assert!(
        run.stdout.contains("is created WITHOUT a password"),
        "{run:#?}"
    );
    assert_eq!(
        show_create(&acceptance, &t),
        [format!(
            "CREATE USER `{}`@`%` WITH MAX_USER_CONNECTIONS 4 ACCOUNT LOCK",
            tester.name
        )],
        "{run:#?}"
    );
    // The vault never held the hash: its stream, decrypted, names the plugin only.
    let definition = kept_definition(&site, &t);
    assert!(definition.contains("mysql_native_password"), "{definition}");
    assert!(!definition.contains(&hash[1..]), "{definition}");
    no_secret(&[&capture, &run], site.dir.path(), &[&hash[1..]]);
}

/// The decrypted stream of a kept account.
fn kept_definition(site: &Site, account: &str) -> String {
    use std::io::Read;
    let key = vault_format::FileKey::read_file(&site.key).unwrap();
    let vault = vault_format::Vault::open(&site.vault)
        .unwrap()
        .unlock(&vault_format::KeyMaterial::KeyFile(key))
        .unwrap();
    let mut text = String::new();
    vault
        .stream(&format!("roles/{account}"))
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    text
}

#[test]
fn a_statement_that_fails_is_named_without_its_authentication_string() {
    let Some(server) = mysql::server("a_statement_that_fails_is_named") else {
        return;
    };
    let _turn = one_at_a_time(&server);
    let tester = server.account("failed_tester");
    let t = tester.spec();
    let acceptance = server.database("failed_acc");
    acceptance.exec(SCHEMA);
    server.admin(&format!(
        "ALTER USER {t} IDENTIFIED BY 'Failed-Tester-Pa55-1357'"
    ));
    let hash = hash_of(&acceptance, &tester.name);
    let mut site = Site::with_url(&acceptance.url());
    site.configure(&format!(
        "[[preserve]]\ntable = \"app_user\"\n\n[roles]\nkeep = [\"{t}\"]\n"
    ));
    let capture = site.capture().expect(0);
    server.admin(&format!("DROP USER {t}"));
    // A restoring account that may read accounts but not create them.
    let restorer = server.account("nocreate");
    server.admin(&format!(
        "ALTER USER {r} IDENTIFIED BY 'NoCreate-Pa55-8642' ACCOUNT UNLOCK;
         GRANT ALL ON `{db}`.* TO {r}; GRANT SELECT ON mysql.* TO {r};",
        r = restorer.spec(),
        db = acceptance.name
    ));
    site.set_acceptance_url(&acceptance.url().replacen(
        "root@",
        &format!("{}:NoCreate-Pa55-8642@", restorer.name),
        1,
    ));
    let report = site.dir.path().join("report");
    let run = site
        .restore(&["--steps", "restore", "--report-dir", s(&report)])
        .expect(1);
    assert!(
        run.stderr.contains(&format!(
            "roles: did not run CREATE USER {t} IDENTIFIED BY PASSWORD <hidden>"
        )),
        "{run:#?}"
    );
    assert!(run.stderr.contains("CREATE USER privilege"), "{run:#?}");
    no_secret(&[&capture, &run], site.dir.path(), &[&hash, &hash[1..]]);
}
