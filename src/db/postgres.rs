//! PostgreSQL through sqlx: COPY out of one read-only repeatable-read snapshot, COPY into staging tables and one statement per mode inside one restore transaction.
//!
//! The SQL of each part lives in a submodule: `load` (the restore
//! transaction: staging, schema drift, modes, sequences, triggers),
//! `grants` (the `[grants]` roles' privileges) and `links` (foreign
//! servers and user mappings). docs/postgres.md explains the choices.

mod compare;
mod database_state;
mod grants;
mod health;
mod hooks;
mod init;
mod instance;
mod jobs;
mod large_objects;
mod large_values;
mod leak_scan;
mod link_check;
mod links;
mod load;
mod objects;
mod pseudonymize;
mod quarantine;
mod roles;
mod row_hash;
mod sanitize;
mod settings;

use std::cell::RefCell;
use std::io::Read;
use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgDatabaseError};
use sqlx::{AssertSqlSafe, ConnectOptions, Row};
use vault_format::{StreamWriter, UnlockedVault, VaultWriter};

use crate::config::{Config, DatabaseUrl, EngineKind};
use crate::engine::{CapturedTable, Engine, KeyCollision, LoadCounts, TableCaptured};
use crate::exit::ToolError;
use crate::guard::UrlTarget;
use crate::names::{Column, Identity, TableInfo, TableName, quote_ident};
use large_values::{Sliced, Slicer};

pub use instance::destination;

/// How PostgreSQL table streams encode rows: the bytes of `COPY ... TO STDOUT`
/// in text format, one line per row.
pub const ROW_ENCODING: &str = "pg-copy-text";

/// How long a server may take to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// How many connections a capture reads tables with at once, all in the
/// same exported snapshot.
const PARALLEL_READERS: usize = 4;

/// Session settings that fix how COPY's text format spells values, so that
/// what one session writes another reads back exactly, whatever the server's
/// defaults: ISO dates, shortest-exact floats, hex bytea, UTC time stamps,
/// and backslashes that are plain characters in literals.
const SESSION_SETTINGS: &str = "SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; \
     SET extra_float_digits = 3; SET bytea_output = 'hex'; SET TimeZone = 'UTC'; \
     SET standard_conforming_strings = on; SET client_min_messages = warning";

/// A connection to one PostgreSQL database.
pub struct Postgres {
    conn: PgConnection,
    /// For the extra connections of a parallel capture.
    options: PgConnectOptions,
    /// Host and port as the URL names them (see [`Postgres::identity`]).
    target: UrlTarget,
    /// The capture snapshot, exported for the extra readers to import.
    snapshot: Option<String>,
    /// Extra connections reading in the capture snapshot.
    readers: Vec<PgConnection>,
    restore: load::RestoreState,
    /// Triggers a sanitize keeps quiet: table (quoted), trigger, and how
    /// it was enabled (`pg_trigger.tgenabled`).
    quieted: Vec<(String, String, String)>,
    /// Columns of another type that the configuration says hold large-object ids.
    declared_objects: Vec<(TableName, String)>,
    /// The large objects of the open restore transaction.
    objects: large_objects::restore::Restoring,
    /// The kept code objects the open restore re-created.
    recreated: Vec<crate::objects::ObjectChange>,
}

impl Postgres {
    /// Ends every session of this engine cleanly.
    pub(crate) async fn close(self) {
        for reader in self.readers {
            let _ = sqlx::Connection::close(reader).await;
        }
        let _ = sqlx::Connection::close(self.conn).await;
    }

    /// Connects to the database a `postgres://` URL names. A server that
    /// does not answer is one error naming the URL without its password.
    pub async fn connect(url: &DatabaseUrl) -> Result<Self, ToolError> {
        let options = instance::options(url)?.application_name("vault");
        let unreachable = |cause: String| {
            ToolError::failed(format!("{url}: cannot connect to PostgreSQL: {cause}")).hint(
                "check that the server is running and that the URL's host, port, user and database are right",
            )
        };
        let mut conn = match tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await {
            Err(_) => {
                return Err(unreachable(format!(
                    "the server did not answer within {} s",
                    CONNECT_TIMEOUT.as_secs()
                )));
            }
            Ok(Err(e)) => return Err(unreachable(describe_error(&e))),
            Ok(Ok(conn)) => conn,
        };
        sqlx::raw_sql(SESSION_SETTINGS)
            .execute(&mut conn)
            .await
            .map_err(|e| pg_error("", e))?;
        Ok(Postgres {
            conn,
            options,
            target: UrlTarget::of(url),
            snapshot: None,
            readers: Vec::new(),
            restore: load::RestoreState::default(),
            quieted: Vec::new(),
            declared_objects: Vec::new(),
            objects: Default::default(),
            recreated: Vec::new(),
        })
    }

    /// Opens up to `wanted` extra connections that import the capture
    /// snapshot. A server short of connections gets fewer; the main
    /// connection alone can read everything.
    async fn open_readers(&mut self, wanted: usize) {
        let Some(snapshot) = self.snapshot.clone() else {
            return;
        };
        while self.readers.len() < wanted {
            match open_in_snapshot(&self.options, &snapshot).await {
                Ok(conn) => self.readers.push(conn),
                Err(_) => break,
            }
        }
    }

    /// Runs statements that return nothing.
    async fn execute(&mut self, sql: &str) -> Result<(), ToolError> {
        execute(&mut self.conn, sql).await
    }

    /// The table's OID and kind; `None` when there is no such relation.
    async fn relation(&mut self, table: &TableName) -> Result<Option<(i64, String)>, ToolError> {
        let row = sqlx::query(
            "SELECT c.oid::int8, c.relkind::text FROM pg_catalog.pg_class c
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1 AND c.relname = $2",
        )
        .bind(schema_of(table))
        .bind(&table.name)
        .fetch_optional(&mut self.conn)
        .await
        .map_err(|e| pg_error(&table.to_string(), e))?;
        Ok(row.map(|row| (row.get(0), row.get(1))))
    }
}

/// A new connection that reads in the capture's exported snapshot, its
/// session set as the main connection's.
async fn open_in_snapshot(
    options: &PgConnectOptions,
    snapshot: &str,
) -> Result<PgConnection, sqlx::Error> {
    let opened = async {
        let mut conn = options.connect().await?;
        sqlx::raw_sql(SESSION_SETTINGS).execute(&mut conn).await?;
        sqlx::raw_sql(AssertSqlSafe(format!(
            "SET SESSION default_transaction_read_only = on; SET SESSION row_security = off; BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT '{snapshot}'"
        )))
        .execute(&mut conn)
        .await?;
        Ok::<_, sqlx::Error>(conn)
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, opened).await {
        Ok(result) => result,
        Err(_) => Err(sqlx::Error::PoolTimedOut),
    }
}

/// The schema of a configured name: an unqualified name means `public`,
/// whatever the session's search_path (docs/postgres.md).
pub(crate) fn schema_of(table: &TableName) -> &str {
    table.schema.as_deref().unwrap_or("public")
}

/// The table's name for SQL, always schema-qualified and quoted.
pub(crate) fn qualified(table: &TableName) -> String {
    format!(
        "{}.{}",
        quote_ident(schema_of(table)),
        quote_ident(&table.name)
    )
}

/// The bytes and metadata of the vault stream whose metadata `kind` is
/// `kind` (grants, foreign servers); `None` when the vault has none.
fn read_extra(
    vault: &UnlockedVault,
    kind: &str,
) -> Result<Option<(serde_json::Value, Vec<u8>)>, ToolError> {
    crate::extras::read(vault, kind)
}

/// Whether this session's user is a superuser (who may change the server's
/// logging settings for a transaction).
async fn is_superuser(conn: &mut PgConnection) -> Result<bool, ToolError> {
    sqlx::query_scalar("SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user")
        .fetch_one(conn)
        .await
        .map_err(|e| pg_error("", e))
}

/// Runs statements that return nothing.
async fn execute(conn: &mut PgConnection, sql: &str) -> Result<(), ToolError> {
    sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
        .execute(conn)
        .await
        .map_err(|e| pg_error("", e))?;
    Ok(())
}

/// An error from the server, naming the table when there is one.
///
/// Data exceptions (SQLSTATE class 22) quote the offending value in their
/// message; a value may be a patient's data, so those are reported by code
/// and column only.
pub(crate) fn pg_error(table: &str, error: sqlx::Error) -> ToolError {
    let at = if table.is_empty() {
        String::new()
    } else {
        format!("table {table}: ")
    };
    ToolError::failed(format!("{at}PostgreSQL: {}", describe_error(&error)))
}

/// The server's message, without the values that data exceptions quote.
pub(crate) fn describe_error(error: &sqlx::Error) -> String {
    let Some(db) = error
        .as_database_error()
        .and_then(|e| e.try_downcast_ref::<PgDatabaseError>())
    else {
        return error.to_string();
    };
    if db.code().starts_with("22") {
        let column = db
            .column()
            .map(|c| format!(" in column {c}"))
            .unwrap_or_default();
        return format!(
            "a value does not fit its type{column} (SQLSTATE {}; the value is not shown)",
            db.code()
        );
    }
    db.message().to_owned()
}

impl Engine for Postgres {
    fn kind(&self) -> EngineKind {
        EngineKind::Postgres
    }

    fn row_encoding(&self) -> &'static str {
        ROW_ENCODING
    }

    /// Host and port are the URL's (localhost and ::1 read as 127.0.0.1),
    /// like the production guard's; the database is `current_database()`.
    async fn identity(&mut self) -> Result<Identity, ToolError> {
        let row = sqlx::query(
            "SELECT current_database()::text,
                    CASE WHEN has_function_privilege('pg_catalog.pg_control_system()', 'EXECUTE')
                         THEN (SELECT system_identifier::text FROM pg_catalog.pg_control_system())
                    END",
        )
        .fetch_one(&mut self.conn)
        .await
        .map_err(|e| pg_error("", e))?;
        Ok(Identity {
            engine: EngineKind::Postgres,
            host: self.target.host.clone(),
            port: self.target.port,
            database: row.get(0),
            system_identifier: row.get(1),
        })
    }

    async fn describe(&mut self, table: &TableName) -> Result<Option<TableInfo>, ToolError> {
        let at = table.to_string();
        let Some((oid, kind)) = self.relation(table).await? else {
            return Ok(None);
        };
        if kind != "r" && kind != "p" {
            return Err(ToolError::usage(format!(
                "{table} is a {}, not a table; only tables can be preserved",
                relation_kind(&kind)
            ))
            .hint("preserve the tables behind it"));
        }
        let columns = sqlx::query(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
                    a.atthasdef OR a.attidentity <> '', a.attgenerated <> ''
             FROM pg_catalog.pg_attribute a
             WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum",
        )
        .bind(oid)
        .fetch_all(&mut self.conn)
        .await
        .map_err(|e| pg_error(&at, e))?
        .into_iter()
        .map(|row| Column {
            name: row.get(0),
            data_type: row.get(1),
            nullable: row.get(2),
            has_default: row.get(3),
            generated: row.get(4),
        })
        .collect();
        let primary_key = sqlx::query_scalar(
            "SELECT a.attname::text
             FROM pg_catalog.pg_index i
             CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
             WHERE i.indrelid = $1::oid AND i.indisprimary
             ORDER BY k.ord",
        )
        .bind(oid)
        .fetch_all(&mut self.conn)
        .await
        .map_err(|e| pg_error(&at, e))?;
        let references = sqlx::query(
            "SELECT DISTINCT n.nspname::text, c.relname::text
             FROM pg_catalog.pg_constraint k
             JOIN pg_catalog.pg_class c ON c.oid = k.confrelid
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE k.conrelid = $1::oid AND k.contype = 'f'
             ORDER BY 1, 2",
        )
        .bind(oid)
        .fetch_all(&mut self.conn)
        .await
        .map_err(|e| pg_error(&at, e))?
        .into_iter()
        .map(|row| {
            let schema: String = row.get(0);
            // Spelled like the configuration spells its tables, so that the
            // capture can order parents before children.
            TableName {
                schema: (table.schema.is_some() || schema != "public").then_some(schema),
                name: row.get(1),
            }
        })
        .collect();
        Ok(Some(TableInfo {
            name: table.clone(),
            columns,
            primary_key,
            references,
        }))
    }

    /// A read-only repeatable-read transaction, its snapshot exported for
    /// the extra readers of `capture_tables`.
    async fn begin_snapshot(&mut self) -> Result<(), ToolError> {
        const BEGIN: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY";
        // Read-only for the session too, so that no statement after a COMMIT
        // could write; and every row, or an error, under row-level security.
        self.execute(
            "SET SESSION default_transaction_read_only = on; SET SESSION row_security = off",
        )
        .await?;
        self.execute(BEGIN).await?;
        let exported: Result<String, _> = sqlx::query_scalar("SELECT pg_export_snapshot()")
            .fetch_one(&mut self.conn)
            .await;
        self.snapshot = match exported {
            Ok(id) if id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') => Some(id),
            Ok(_) => None,
            Err(_) => {
                // A server that cannot export this snapshot: one connection reads all.
                self.execute(&format!("ROLLBACK; {BEGIN}")).await?;
                None
            }
        };
        Ok(())
    }

    async fn capture_rows(
        &mut self,
        plan: &CapturedTable,
        out: &mut StreamWriter,
    ) -> Result<u64, ToolError> {
        let mut slicer = Slicer::new(&self.options, self.snapshot.as_deref());
        let rows = copy_out(&mut self.conn, plan, out, &mut slicer).await;
        slicer.close().await;
        rows
    }

    /// Reads the tables with the main connection and the extra readers at
    /// once, each taking the next table of the plan when it is free. Streams
    /// are opened in plan order, so the vault keeps parents before children.
    async fn capture_tables(
        &mut self,
        tables: &[CapturedTable],
        writer: &VaultWriter,
        done: &mut dyn FnMut(TableCaptured<'_>),
    ) -> Result<(), ToolError> {
        self.open_readers(tables.len().min(PARALLEL_READERS).saturating_sub(1))
            .await;
        let queue = RefCell::new(tables.iter());
        let done = RefCell::new(done);
        let (options, snapshot) = (&self.options, self.snapshot.as_deref());
        let connections = std::iter::once(&mut self.conn).chain(self.readers.iter_mut());
        let workers = connections.map(|conn| {
            let (queue, done) = (&queue, &done);
            async move {
                // Each reader's own connection for large values, kept from
                // table to table.
                let mut slicer = Slicer::new(options, snapshot);
                let read = async {
                    loop {
                        let Some(captured) = queue.borrow_mut().next() else {
                            return Ok::<(), ToolError>(());
                        };
                        let started = Instant::now();
                        let mut stream =
                            writer.stream(&captured.table.to_string(), captured.metadata())?;
                        let rows = copy_out(&mut *conn, captured, &mut stream, &mut slicer).await?;
                        let entry = stream.finish()?;
                        (*done.borrow_mut())(TableCaptured {
                            table: captured,
                            rows,
                            bytes: entry.plain_len,
                            seconds: started.elapsed().as_secs_f64(),
                        });
                    }
                };
                let result = read.await;
                slicer.close().await;
                result
            }
        });
        futures_util::future::try_join_all(workers).await?;
        Ok(())
    }

    async fn capture_extras(
        &mut self,
        config: &Config,
        writer: &VaultWriter,
    ) -> Result<Vec<String>, ToolError> {
        let mut lines = Vec::new();
        if let Some(line) = roles::capture(&mut self.conn, config, writer).await? {
            lines.push(line);
        }
        if let Some(line) = grants::capture(&mut self.conn, config, writer).await? {
            lines.push(line);
        }
        if let Some(line) = database_state::capture(&mut self.conn, config, writer).await? {
            lines.push(line);
        }
        lines.push(links::capture(&mut self.conn, writer).await?);
        lines.extend(large_objects::capture::capture(&mut self.conn, config, writer).await?);
        let jobs = crate::jobs::ScheduledJobs::scheduled_jobs(self).await?;
        lines.push(crate::jobs::write_record(writer, &jobs)?);
        lines.extend(crate::objects::capture(self, config, writer).await?);
        Ok(lines)
    }

    async fn end_snapshot(&mut self) -> Result<(), ToolError> {
        for mut reader in std::mem::take(&mut self.readers) {
            let _ = sqlx::raw_sql("COMMIT").execute(&mut reader).await;
            let _ = sqlx::Connection::close(reader).await;
        }
        self.snapshot = None;
        self.execute("COMMIT").await
    }

    async fn begin_restore(&mut self, tables: &[TableInfo]) -> Result<(), ToolError> {
        self.objects = Default::default();
        load::begin(&mut self.conn, &mut self.restore, tables).await
    }

    async fn stage_rows(
        &mut self,
        captured: &CapturedTable,
        target: &TableInfo,
        rows: &mut dyn Read,
    ) -> Result<(), ToolError> {
        load::stage(&mut self.conn, &mut self.restore, captured, target, rows).await
    }

    async fn key_collisions(
        &mut self,
        captured: &CapturedTable,
        restored: &[TableName],
        _rows: &mut dyn Read,
    ) -> Result<Option<KeyCollision>, ToolError> {
        load::key_collisions(&mut self.conn, &self.restore, captured, restored).await
    }

    async fn clear_scope(&mut self, captured: &CapturedTable) -> Result<u64, ToolError> {
        load::clear_scope(&mut self.conn, &self.restore, captured).await
    }

    async fn load_rows(
        &mut self,
        captured: &CapturedTable,
        target: &TableInfo,
        rows: &mut dyn Read,
    ) -> Result<LoadCounts, ToolError> {
        if self.restore.staged(&captured.table).is_none()
            && !self.restore.is_direct(&captured.table)
        {
            load::stage(&mut self.conn, &mut self.restore, captured, target, rows).await?;
        }
        if self.restore.is_direct(&captured.table) {
            let counts = load::copy_direct(&mut self.conn, captured, rows).await?;
            // The table was empty: every row in it is a restored one.
            let table = qualified(&captured.table);
            large_objects::restore::rewrite(&mut self.conn, &self.objects, &table, target).await?;
            return Ok(counts);
        }
        if let Some(staged) = self.restore.staged(&captured.table) {
            let name = staged.name().to_owned();
            large_objects::restore::rewrite(&mut self.conn, &self.objects, &name, target).await?;
        }
        load::merge(&mut self.conn, &self.restore, captured).await
    }

    fn declare_large_objects(&mut self, config: &Config) {
        self.declared_objects = large_objects::declared(config);
    }

    async fn restore_large_objects(
        &mut self,
        vault: &UnlockedVault,
    ) -> Result<Vec<String>, ToolError> {
        let (objects, lines) =
            large_objects::restore::restore(&mut self.conn, vault, &self.declared_objects).await?;
        self.objects = objects;
        Ok(lines)
    }

    async fn release_large_objects(&mut self) -> Result<Vec<String>, ToolError> {
        large_objects::restore::release(&mut self.conn, &self.objects).await
    }

    async fn reapply_grants(&mut self, vault: &UnlockedVault) -> Result<Vec<String>, ToolError> {
        execute(&mut self.conn, "BEGIN").await?;
        match grants::restore(&mut self.conn, vault).await {
            Ok(lines) => {
                execute(&mut self.conn, "COMMIT").await?;
                Ok(lines)
            }
            Err(error) => {
                let _ = execute(&mut self.conn, "ROLLBACK").await;
                Err(error)
            }
        }
    }

    async fn restore_extras(
        &mut self,
        vault: &UnlockedVault,
        config: &Config,
    ) -> Result<Vec<String>, ToolError> {
        // Kept logins first, so that the grants below find them; then kept
        // code objects, so that the grants find them too.
        let mut lines = roles::restore(&mut self.conn, vault).await?;
        let kept = crate::objects::read_kept(vault)?;
        self.recreated = objects::recreate(&mut self.conn, &kept).await?;
        lines.extend(grants::restore(&mut self.conn, vault).await?);
        lines.extend(database_state::restore(&mut self.conn, vault).await?);
        lines.extend(links::restore(&mut self.conn, vault).await?);
        lines.extend(load::refresh_matviews(&mut self.conn, &self.restore).await?);
        lines.extend(roles::production_logins(&mut self.conn, vault, config).await?);
        let public = database_state::public_may_connect(vault)?;
        lines.extend(
            quarantine::withhold_connect(&mut self.conn, &config.privileged_roles(), public)
                .await?,
        );
        Ok(lines)
    }

    async fn commit_restore(&mut self, tables: &[TableInfo]) -> Result<(), ToolError> {
        load::commit(&mut self.conn, &mut self.restore, tables).await
    }

    /// Everything the restore does before its commit is transactional here
    /// (sequences are set at the commit, and a rehearsal stops before it).
    fn can_rehearse(&self) -> Result<(), &'static str> {
        Ok(())
    }

    async fn check_restore(&mut self, _tables: &[TableInfo]) -> Result<(), ToolError> {
        load::check_constraints(&mut self.conn).await
    }

    async fn rollback(&mut self) -> Result<(), ToolError> {
        // A lost connection needs no rollback: the server rolls back an
        // open transaction when its connection ends.
        self.restore = load::RestoreState::default();
        self.objects = Default::default();
        self.execute("ROLLBACK").await
    }
}

/// `COPY (SELECT ... ORDER BY key) TO STDOUT` in text format, streamed into
/// the vault as it arrives; rows are the lines it ends. A table with `bytea`
/// columns has its values above `large_values::THRESHOLD` read in slices by
/// `slicer`'s connection, into the same bytes.
async fn copy_out(
    conn: &mut PgConnection,
    plan: &CapturedTable,
    out: &mut StreamWriter,
    slicer: &mut Slicer<'_>,
) -> Result<u64, ToolError> {
    let at = plan.table.to_string();
    let columns: Vec<(String, &str)> = plan
        .columns
        .iter()
        .map(|c| (quote_ident(&c.name), c.data_type.as_str()))
        .collect();
    let (sliced, list) = match Sliced::plan(slicer, qualified(&plan.table), &columns).await {
        Some((sliced, list)) => (Some(sliced), list),
        None => (None, columns.into_iter().map(|(name, _)| name).collect()),
    };
    let mut select = format!("SELECT {} FROM {}", list.join(", "), qualified(&plan.table));
    if let Some(filter) = &plan.filter {
        select.push_str(&format!(" WHERE ({filter})"));
    }
    if !plan.key.is_empty() {
        let key: Vec<String> = plan.key.iter().map(|k| quote_ident(k)).collect();
        select.push_str(&format!(" ORDER BY {}", key.join(", ")));
    }
    let filtered = |e: sqlx::Error| {
        let hidden_by_policy = e
            .as_database_error()
            .is_some_and(|d| d.message().contains("row-level security"));
        let error = pg_error(&at, e);
        match &plan.filter {
            _ if hidden_by_policy => ToolError {
                message: format!(
                    "{}: row-level security policies hide rows of this table from the capturing user, and a vault with some of its rows would delete the others at restore",
                    error.message
                ),
                ..error
            }
            .hint("capture as the table's owner or as a role with BYPASSRLS (ALTER ROLE ... BYPASSRLS), as pg_dump needs"),
            Some(_) => error.hint("check the table's `where` in the configuration"),
            None => error,
        }
    };
    // COPY goes through the simple-query protocol, which runs every
    // statement of its text: the query is first prepared alone through
    // the extended protocol, which takes one statement and no more.
    if plan.filter.is_some() {
        sqlx::query(AssertSqlSafe(format!("{select} LIMIT 0")))
            .persistent(false)
            .execute(&mut *conn)
            .await
            .map_err(filtered)?;
    }
    let sql = format!("COPY ({select}) TO STDOUT");
    let mut copy = conn.copy_out_raw(&sql).await.map_err(filtered)?;
    let mut rows = 0u64;
    // The start of a line that a message did not finish (the server sends
    // one message per row, so this stays empty in practice).
    let mut partial: Vec<u8> = Vec::new();
    while let Some(chunk) = copy.try_next().await.map_err(|e| pg_error(&at, e))? {
        crate::interrupt::check(&format!("while capturing table {at}"))?;
        // The text format escapes newlines inside values: each row is one line.
        let Some(sliced) = &sliced else {
            rows += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
            out.write_bytes(&chunk)?;
            continue;
        };
        let mut rest: &[u8] = &chunk;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            let (line, after) = rest.split_at(end + 1);
            rest = after;
            if partial.is_empty() {
                sliced.write_line(slicer, &at, line, out).await?;
            } else {
                partial.extend_from_slice(line);
                sliced.write_line(slicer, &at, &partial, out).await?;
                partial.clear();
            }
            rows += 1;
        }
        partial.extend_from_slice(rest);
    }
    if !partial.is_empty() {
        return Err(ToolError::failed(format!(
            "table {at}: COPY ended inside a row"
        )));
    }
    out.add_rows(rows);
    Ok(rows)
}

fn relation_kind(kind: &str) -> &'static str {
    match kind {
        "v" => "view",
        "m" => "materialized view",
        "f" => "foreign table",
        "S" => "sequence",
        "i" | "I" => "index",
        "c" => "composite type",
        _ => "relation",
    }
}
