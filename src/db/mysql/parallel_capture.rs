//! A capture read on several connections at once, in one snapshot: each connection opens its snapshot while a momentary `LOCK TABLES … READ` holds the tables still.
//!
//! MySQL and MariaDB cannot hand a snapshot to another connection (as
//! PostgreSQL's `pg_export_snapshot` does). Two consistent snapshots opened
//! at two instants see the same rows of a table when nothing was committed
//! to it in between, and a `LOCK TABLES … READ` held by a separate
//! connection makes sure of that: taking it waits for every open
//! transaction that wrote to those tables, and it blocks new writes until
//! it is released, once every reader has its snapshot (milliseconds). The
//! reading, which is what takes time, happens after the lock is gone.
//!
//! The lock takes the captured tables and, when a table has a `where`
//! (which may read any other table), every base table of their schemas.
//! When it cannot be taken within [`LOCK_WAIT_SECONDS`] (no LOCK TABLES
//! privilege, or a long transaction writing to a table), nothing has been
//! read yet and the caller reads on its one connection instead.
//!
//! Each extra connection runs on a thread of its own, so that decoding one
//! table's rows overlaps with reading another's. Streams are opened in plan
//! order before any reading starts (the vault keeps parents before
//! children); the largest tables are read first.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use sqlx::{AssertSqlSafe, Connection, Row};
use tokio::sync::{mpsc, oneshot};
use vault_format::{StreamWriter, VaultWriter};

use super::capture::{begin_snapshot, capture_rows};
use super::{describe_error, mysql_error, open_session, quote_ident};
use crate::engine::{CapturedTable, TableCaptured};
use crate::exit::ToolError;

/// How long the lock may wait for transactions writing to the tables.
pub(super) const LOCK_WAIT_SECONDS: u32 = 2;

/// How long the extra connections may take to open their snapshots.
const READERS_WAIT: Duration = Duration::from_secs(30);

/// How many connections read at once: one per core, 2 to 4, at most one per table.
pub(super) fn connections_for(tables: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    cores.clamp(2, 4).min(tables)
}

/// One table to read, its stream already open.
struct Job {
    position: usize,
    schema: String,
    plan: CapturedTable,
    stream: StreamWriter,
}

/// What a connection reports of one table it read.
struct Finished {
    position: usize,
    rows: u64,
    bytes: u64,
    seconds: f64,
}

type Queue = Arc<Mutex<VecDeque<Job>>>;
type Door = Arc<Mutex<Option<usize>>>;
type Outcome = Result<Finished, ToolError>;

/// Reads `tables` on `main` and on up to [`connections_for`]` - 1` more
/// connections, all in one snapshot, and tells `done` of each table as it
/// completes. `Ok(Err(why))`: the lock could not be taken and nothing was
/// read; `Ok(Ok(line))`: every table was read, and the line says how.
pub(super) async fn capture_tables(
    main: &mut MySqlConnection,
    options: &MySqlConnectOptions,
    database: &str,
    tables: &[CapturedTable],
    writer: &VaultWriter,
    done: &mut dyn FnMut(TableCaptured<'_>),
) -> Result<Result<String, String>, ToolError> {
    let schema_of = |plan: &CapturedTable| plan.table.schema.clone().unwrap_or(database.into());
    let sizes = estimated_sizes(main, tables, &schema_of).await?;
    let locked = tables_to_lock(main, tables, &schema_of).await?;
    let lock = match TableLock::take(options, &locked).await {
        Ok(lock) => lock,
        Err(why) => return Ok(Err(why)),
    };
    // The main connection's snapshot began before the lock: begin it again
    // under the lock (nothing has been read in it).
    let restarted = async {
        sqlx::raw_sql("COMMIT")
            .execute(&mut *main)
            .await
            .map_err(|e| mysql_error("", e))?;
        begin_snapshot(main).await
    };
    if let Err(error) = restarted.await {
        lock.release().await;
        return Err(error);
    }
    let mut jobs = Vec::with_capacity(tables.len());
    for (position, plan) in tables.iter().enumerate() {
        let stream = match writer.stream(&plan.table.to_string(), plan.metadata()) {
            Ok(stream) => stream,
            Err(error) => {
                lock.release().await;
                return Err(error.into());
            }
        };
        jobs.push(Job {
            position,
            schema: schema_of(plan),
            plan: plan.clone(),
            stream,
        });
    }
    jobs.sort_by_key(|job| std::cmp::Reverse(sizes[job.position]));
    let queue: Queue = Arc::new(Mutex::new(jobs.into()));
    let cancel = Arc::new(AtomicBool::new(false));
    // How many readers opened their snapshot while the lock is held; `None`
    // once it is released.
    let door: Door = Arc::new(Mutex::new(Some(0)));
    let (results, mut outcomes) = mpsc::unbounded_channel::<Outcome>();

    let mut threads = Vec::new();
    let mut readies = Vec::new();
    for n in 1..connections_for(tables.len()) {
        let (ready, is_ready) = oneshot::channel();
        let reader = Reader {
            options: options.clone(),
            queue: Arc::clone(&queue),
            cancel: Arc::clone(&cancel),
            door: Arc::clone(&door),
            results: results.clone(),
        };
        let spawned = std::thread::Builder::new()
            .name(format!("vault-read-{n}"))
            .spawn(move || reader.run(ready));
        if let Ok(thread) = spawned {
            threads.push(thread);
            readies.push(is_ready);
        }
    }
    let _ = tokio::time::timeout(READERS_WAIT, futures_util::future::join_all(readies)).await;
    // A reader that opens its snapshot from here on would not be under the
    // lock: it finds the door shut and leaves.
    let joined = door.lock().map_or(0, |mut door| door.take().unwrap_or(0));
    lock.release().await;

    let main_reads = async {
        let results = results;
        work(main, &queue, &cancel, &results).await;
    };
    let mut first_error = None;
    let report = async {
        while let Some(outcome) = outcomes.recv().await {
            match outcome {
                Ok(table) => done(TableCaptured {
                    table: &tables[table.position],
                    rows: table.rows,
                    bytes: table.bytes,
                    seconds: table.seconds,
                }),
                Err(error) => {
                    cancel.store(true, Ordering::SeqCst);
                    first_error.get_or_insert(error);
                }
            }
        }
    };
    futures_util::future::join(main_reads, report).await;
    for thread in threads {
        let _ = thread.join();
    }
    if let Some(error) = first_error {
        return Err(error);
    }
    Ok(Ok(match joined {
        0 => "snapshot: read on one connection (no second connection could open)".to_owned(),
        n => format!(
            "snapshot: read on {} connections, opened together under a momentary LOCK TABLES ... READ",
            n + 1
        ),
    }))
}

/// Takes tables off the queue and reads them until it is empty or a table failed.
async fn work(
    conn: &mut MySqlConnection,
    queue: &Queue,
    cancel: &AtomicBool,
    results: &mpsc::UnboundedSender<Outcome>,
) {
    loop {
        if cancel.load(Ordering::SeqCst) {
            return;
        }
        let next = queue.lock().map(|mut queue| queue.pop_front());
        let Ok(Some(mut job)) = next else { return };
        let started = Instant::now();
        let read = capture_rows(conn, &job.schema, &job.plan, &mut job.stream, cancel).await;
        let outcome = read.and_then(|rows| {
            let entry = job.stream.finish()?;
            Ok(Finished {
                position: job.position,
                rows,
                bytes: entry.plain_len,
                seconds: started.elapsed().as_secs_f64(),
            })
        });
        let failed = outcome.is_err();
        if results.send(outcome).is_err() || failed {
            return;
        }
    }
}

/// An extra connection, on its own thread with its own runtime.
struct Reader {
    options: MySqlConnectOptions,
    queue: Queue,
    cancel: Arc<AtomicBool>,
    door: Door,
    results: mpsc::UnboundedSender<Outcome>,
}

impl Reader {
    /// Opens the snapshot, says on `ready` whether it joined the capture, and reads.
    fn run(self, ready: oneshot::Sender<bool>) {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            let _ = ready.send(false);
            return;
        };
        runtime.block_on(async move {
            let opened = async {
                let mut conn = open_session(&self.options).await?;
                begin_snapshot(&mut conn).await?;
                Ok::<_, ToolError>(conn)
            };
            let Ok(mut conn) = opened.await else {
                let _ = ready.send(false);
                return;
            };
            // Entered after the snapshot began: while the door is open, the
            // lock is still held.
            let entered = self.door.lock().is_ok_and(|mut door| match door.as_mut() {
                Some(joined) => {
                    *joined += 1;
                    true
                }
                None => false,
            });
            let _ = ready.send(entered);
            if !entered {
                let _ = conn.close().await;
                return;
            }
            work(&mut conn, &self.queue, &self.cancel, &self.results).await;
            let _ = sqlx::raw_sql("COMMIT").execute(&mut conn).await;
            let _ = conn.close().await;
        });
    }
}

/// A connection holding `LOCK TABLES … READ`.
struct TableLock {
    conn: MySqlConnection,
}

impl TableLock {
    /// Locks `tables` (schema, name); the error says why it could not.
    async fn take(
        options: &MySqlConnectOptions,
        tables: &[(String, String)],
    ) -> Result<TableLock, String> {
        let mut conn = open_session(options)
            .await
            .map_err(|e| format!("a second connection could not open: {}", e.message))?;
        let list: Vec<String> = tables
            .iter()
            .map(|(schema, name)| format!("{}.{} READ", quote_ident(schema), quote_ident(name)))
            .collect();
        let sql = format!(
            "SET SESSION lock_wait_timeout = {LOCK_WAIT_SECONDS}; LOCK TABLES {}",
            list.join(", ")
        );
        match sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn).await {
            Ok(_) => Ok(TableLock { conn }),
            Err(error) => {
                let _ = conn.close().await;
                Err(lock_refused(&error))
            }
        }
    }

    async fn release(mut self) {
        let _ = sqlx::raw_sql("UNLOCK TABLES").execute(&mut self.conn).await;
        let _ = self.conn.close().await;
    }
}

/// Why `LOCK TABLES` failed, for the capture's summary line.
fn lock_refused(error: &sqlx::Error) -> String {
    let code = error
        .as_database_error()
        .and_then(|e| e.code())
        .map(|c| c.into_owned());
    match code.as_deref() {
        Some("HY000") | Some("40001")
            if describe_error(error)
                .to_ascii_lowercase()
                .contains("lock wait timeout") =>
        {
            format!(
                "LOCK TABLES waited {LOCK_WAIT_SECONDS} s for transactions writing to the tables"
            )
        }
        _ => format!("LOCK TABLES was refused: {}", describe_error(error)),
    }
}

/// Each table's data length by the catalog's estimate, in plan order (0 when unknown).
async fn estimated_sizes(
    conn: &mut MySqlConnection,
    tables: &[CapturedTable],
    schema_of: &dyn Fn(&CapturedTable) -> String,
) -> Result<Vec<u64>, ToolError> {
    let mut sizes = Vec::with_capacity(tables.len());
    for plan in tables {
        let size: Option<u64> = sqlx::query_scalar(
            "SELECT CAST(data_length AS UNSIGNED) FROM information_schema.tables
             WHERE table_schema = ? AND table_name = ?",
        )
        .bind(schema_of(plan))
        .bind(&plan.table.name)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| mysql_error(&plan.table.to_string(), e))?
        .flatten();
        sizes.push(size.unwrap_or(0));
    }
    Ok(sizes)
}

/// The tables the lock must hold: the captured ones, and every base table
/// of their schemas when a `where` might read others.
async fn tables_to_lock(
    conn: &mut MySqlConnection,
    tables: &[CapturedTable],
    schema_of: &dyn Fn(&CapturedTable) -> String,
) -> Result<Vec<(String, String)>, ToolError> {
    let mut locked: Vec<(String, String)> = tables
        .iter()
        .map(|plan| (schema_of(plan), plan.table.name.clone()))
        .collect();
    if tables.iter().any(|plan| plan.filter.is_some()) {
        let mut schemas: Vec<String> = tables.iter().map(schema_of).collect();
        schemas.sort();
        schemas.dedup();
        for schema in schemas {
            let rows = sqlx::query(
                "SELECT table_name FROM information_schema.tables
                 WHERE table_schema = ? AND table_type = 'BASE TABLE'",
            )
            .bind(&schema)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| mysql_error("", e))?;
            for row in rows {
                let name: String = row.try_get(0).map_err(|e| mysql_error("", e))?;
                locked.push((schema.clone(), name));
            }
        }
    }
    locked.sort();
    locked.dedup();
    Ok(locked)
}
