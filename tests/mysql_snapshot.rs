//! The MariaDB/MySQL capture's one snapshot on several connections: writes committed while
//! the capture runs never leave the tables out of step with each other, and the capture falls
//! back to one connection (and says why) when it may not or cannot lock the tables.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::mysql::{self, Db, Site};
use sqlx::mysql::MySqlConnection;
use sqlx::{AssertSqlSafe, Connection};

/// Two tables written together in every transaction: `entry` always holds a
/// row for each `batch` row. `entry` is the larger, so it is read first, but
/// its stream must still follow `batch`'s (its parent).
const SCHEMA: &str = "
CREATE TABLE batch (batch_id bigint PRIMARY KEY, label varchar(40) NOT NULL);
CREATE TABLE entry (
  entry_id bigint PRIMARY KEY,
  batch_id bigint NOT NULL,
  pad varchar(200) NOT NULL,
  CONSTRAINT entry_batch FOREIGN KEY (batch_id) REFERENCES batch (batch_id)
);
CREATE TABLE digit (d int PRIMARY KEY);
INSERT INTO digit VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9);
INSERT INTO batch
  SELECT n, CONCAT('batch ', n) FROM (
    SELECT 1 + a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * f.d AS n
    FROM digit a, digit b, digit c, digit e, digit f) numbers
  WHERE n <= 20000;
INSERT INTO entry SELECT batch_id, batch_id, REPEAT(MD5(batch_id), 6) FROM batch;
";

const CONFIG: &str = "[[preserve]]\ntable = \"batch\"\n\n[[preserve]]\ntable = \"entry\"\n";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A session that commits a `batch` row and its `entry` row in one
/// transaction, again and again, until it is told to stop; returns how many
/// it committed.
struct Writer {
    stop: Arc<AtomicBool>,
    commits: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl Writer {
    fn start(db: &Db) -> Writer {
        let url = db.url();
        let stop = Arc::new(AtomicBool::new(false));
        let commits = Arc::new(AtomicU64::new(0));
        let (stop_seen, counted) = (Arc::clone(&stop), Arc::clone(&commits));
        let thread = std::thread::spawn(move || {
            runtime().block_on(async {
                let mut conn = MySqlConnection::connect(&url).await.unwrap();
                let mut id = 1_000_000u64;
                while !stop_seen.load(Ordering::SeqCst) {
                    let sql = format!(
                        "START TRANSACTION; INSERT INTO batch VALUES ({id}, 'during'); \
                         INSERT INTO entry VALUES ({id}, {id}, 'during'); COMMIT"
                    );
                    sqlx::raw_sql(AssertSqlSafe(sql))
                        .execute(&mut conn)
                        .await
                        .unwrap();
                    counted.fetch_add(1, Ordering::SeqCst);
                    id += 1;
                }
            })
        });
        // Writing before the capture starts.
        while commits.load(Ordering::SeqCst) < 20 {
            std::thread::sleep(Duration::from_millis(5));
        }
        Writer {
            stop,
            commits,
            thread,
        }
    }

    fn commits(&self) -> u64 {
        self.commits.load(Ordering::SeqCst)
    }

    fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap();
    }
}

/// After the capture, what it holds: the tables are restored from the vault
/// (replace), which leaves them exactly as captured.
fn captured_ids(site: &Site, db: &Db) -> (Vec<String>, Vec<String>) {
    site.restore(&["--steps", "restore"]).expect(0);
    (
        db.rows("SELECT batch_id FROM batch ORDER BY 1"),
        db.rows("SELECT batch_id FROM entry ORDER BY 1"),
    )
}

#[test]
fn tables_read_on_several_connections_share_one_snapshot() {
    let Some(server) = mysql::server("tables_read_on_several_connections_share_one_snapshot")
    else {
        return;
    };
    let db = server.database("snapshot");
    db.exec(SCHEMA);
    let site = Site::with_url(&db.url());
    site.configure(CONFIG);
    let writer = Writer::start(&db);
    let before = writer.commits();
    let run = site.capture().expect(0);
    let during = writer.commits() - before;
    writer.stop();
    assert!(
        run.stdout
            .contains("snapshot: read on 2 connections, opened together under a momentary LOCK TABLES ... READ"),
        "{run:#?}"
    );
    assert!(during > 0, "no transaction committed during the capture");
    let inspect = site
        .vault_with(&["inspect", common::s(&site.vault)])
        .expect(0);
    let (batch_at, entry_at) = (
        inspect.stdout.find("batch").unwrap(),
        inspect.stdout.find("entry").unwrap(),
    );
    assert!(
        batch_at < entry_at,
        "streams out of plan order: {inspect:#?}"
    );

    let (batches, entries) = captured_ids(&site, &db);
    assert!(batches.len() >= 20_020, "{} batches", batches.len());
    assert_eq!(
        batches.len(),
        entries.len(),
        "the two tables were read at different instants"
    );
    assert_eq!(batches, entries);
}

#[test]
fn without_the_lock_tables_privilege_the_capture_reads_on_one_connection() {
    let Some(server) =
        mysql::server("without_the_lock_tables_privilege_the_capture_reads_on_one_connection")
    else {
        return;
    };
    let db = server.database("nolock");
    db.exec(SCHEMA);
    let account = server.account("nolock");
    let password = "select-Only-7x";
    server.admin(&format!(
        "ALTER USER {user} IDENTIFIED BY '{password}' ACCOUNT UNLOCK;
         GRANT SELECT ON `{db}`.* TO {user}",
        user = account.spec(),
        db = db.name
    ));
    let root = server.url(&db.name);
    let (_, host) = root.split_once('@').expect("the test URL names user@host");
    let mut site = Site::with_url(&db.url());
    site.set_acceptance_url(&format!("mysql://{}:{password}@{host}", account.name));
    site.configure(CONFIG);
    let writer = Writer::start(&db);
    let run = site.capture().expect(0);
    writer.stop();
    assert!(
        run.stdout
            .contains("snapshot: read on one connection (LOCK TABLES was refused: "),
        "{run:#?}"
    );
    assert!(!run.stdout.contains(password) && !run.stderr.contains(password));

    site.set_acceptance_url(&db.url());
    let (batches, entries) = captured_ids(&site, &db);
    assert_eq!(batches, entries);
}

#[test]
fn an_open_transaction_on_a_table_makes_the_capture_read_on_one_connection() {
    let Some(server) =
        mysql::server("an_open_transaction_on_a_table_makes_the_capture_read_on_one_connection")
    else {
        return;
    };
    let db = server.database("busy");
    db.exec(SCHEMA);
    let site = Site::with_url(&db.url());
    site.configure(CONFIG);
    let runtime = runtime();
    let mut open = runtime.block_on(async {
        let mut conn = MySqlConnection::connect(&db.url()).await.unwrap();
        sqlx::raw_sql("START TRANSACTION; INSERT INTO batch VALUES (-1, 'uncommitted')")
            .execute(&mut conn)
            .await
            .unwrap();
        conn
    });
    let run = site.capture().expect(0);
    assert!(
        run.stdout.contains(
            "snapshot: read on one connection (LOCK TABLES waited 2 s for transactions writing to the tables)"
        ),
        "{run:#?}"
    );
    runtime.block_on(async {
        sqlx::raw_sql("ROLLBACK").execute(&mut open).await.unwrap();
        open.close().await.unwrap();
    });
    let (batches, entries) = captured_ids(&site, &db);
    assert_eq!(batches.len(), 20_000, "the uncommitted row was captured");
    assert_eq!(batches, entries);
}
