//! MariaDB and MySQL 8: one connection through sqlx, sessions fixed to UTC, utf8mb4 and strict ANSI-quoted SQL.
//!
//! The session settings make the SQL that the shared step modules build
//! (double-quoted identifiers, single-quoted strings) mean the same here as
//! on PostgreSQL and SQLite, and make values travel without a time-zone shift.

mod capture;
mod compare;
mod grants;
mod health;
mod hooks;
mod init;
mod instance;
mod jobs;
mod leak_scan;
mod link_check;
mod link_restore;
mod linked;
mod load;
mod objects;
mod parallel_capture;
mod pseudonymize;
mod quarantine;
mod roles;
mod sanitize;
mod trigger_definers;

use std::io::Read;
use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlDatabaseError};
use sqlx::{AssertSqlSafe, ConnectOptions, Row};
use vault_format::{StreamWriter, UnlockedVault, VaultWriter};

use crate::config::{Config, DatabaseUrl, EngineKind};
use crate::engine::{
    CapturedTable, Engine, KeyCollision, LoadCounts, TableCaptured, capture_one_after_another,
};
use crate::exit::ToolError;
use crate::guard::UrlTarget;
use crate::names::{Column, Identity, TableInfo, TableName};
use crate::rowcodec;

pub use instance::destination;

/// How long a server may take to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// Session settings: values in UTC (TIMESTAMP columns are not shifted),
/// utf8mb4 on the wire, strict modes (a value that does not fit is an
/// error, never a silent truncation), double quotes for identifiers, and
/// no automatic values for an explicit zero in an AUTO_INCREMENT column.
const SESSION_SETTINGS: &str = "SET time_zone = '+00:00', NAMES utf8mb4, \
     sql_mode = 'STRICT_ALL_TABLES,ANSI_QUOTES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION,\
     ERROR_FOR_DIVISION_BY_ZERO,NO_ZERO_IN_DATE'";

/// Which server answered: the two differ in a few catalog tables and functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    MariaDb,
    MySql,
}

/// A connection to one MariaDB or MySQL database (schema).
pub struct Mysql {
    conn: MySqlConnection,
    /// For extra connections (a parallel capture).
    options: MySqlConnectOptions,
    /// How the last capture's snapshot was read, for its summary.
    snapshot_line: Option<String>,
    /// Host and port as the URL names them (see [`Engine::identity`]).
    target: UrlTarget,
    /// The database (schema) the URL names; every object lives there.
    database: String,
    flavor: Flavor,
    /// The server's version string, as `SELECT version()` gives it.
    version: String,
    /// What an open restore must put back (see `load`).
    restore: load::RestoreState,
    /// Kept accounts the restore holds locked for the quarantine, and
    /// whether acceptance had them locked (see `roles::opening`).
    kept_opening: Vec<(String, bool)>,
}

impl Mysql {
    /// Connects to the database a `mysql://` or `mariadb://` URL names. A
    /// server that does not answer is one error naming the URL without its
    /// password.
    pub async fn connect(url: &DatabaseUrl) -> Result<Self, ToolError> {
        let options = instance::options(url)?;
        let unreachable = |cause: String| {
            ToolError::failed(format!("{url}: cannot connect to MySQL/MariaDB: {cause}")).hint(
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
            .map_err(|e| mysql_error("", e))?;
        let row = sqlx::query("SELECT DATABASE(), version()")
            .fetch_one(&mut conn)
            .await
            .map_err(|e| mysql_error("", e))?;
        let database: Option<String> = row.try_get(0).map_err(|e| mysql_error("", e))?;
        let version: String = row.try_get(1).map_err(|e| mysql_error("", e))?;
        let Some(database) = database else {
            return Err(
                ToolError::usage(format!("{url}: the URL names no database"))
                    .hint("write it as mysql://USER@HOST:PORT/DATABASE"),
            );
        };
        let flavor = if version.to_ascii_lowercase().contains("mariadb") {
            Flavor::MariaDb
        } else {
            Flavor::MySql
        };
        Ok(Mysql {
            conn,
            options,
            target: UrlTarget::of(url),
            database,
            flavor,
            version,
            snapshot_line: None,
            restore: load::RestoreState::default(),
            kept_opening: Vec::new(),
        })
    }

    /// MariaDB or MySQL.
    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// The server's version string.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The database (schema) every object of this connection lives in.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// Runs statements that return nothing.
    async fn execute(&mut self, sql: &str) -> Result<(), ToolError> {
        sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
            .execute(&mut self.conn)
            .await
            .map_err(|e| mysql_error("", e))?;
        Ok(())
    }

    /// Ends the session cleanly (COM_QUIT): no aborted connection logged.
    pub(crate) async fn close(self) {
        let _ = sqlx::Connection::close(self.conn).await;
    }

    /// The schema a table lives in: the URL's database unless it is named.
    fn schema_of<'a>(&'a self, table: &'a TableName) -> &'a str {
        table.schema.as_deref().unwrap_or(&self.database)
    }
}

/// Another session on the same server, with the same settings (for the
/// extra connections of a parallel capture).
pub(super) async fn open_session(
    options: &MySqlConnectOptions,
) -> Result<MySqlConnection, ToolError> {
    let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, options.connect())
        .await
        .map_err(|_| ToolError::failed("the server did not answer in time"))?
        .map_err(|e| mysql_error("", e))?;
    sqlx::raw_sql(SESSION_SETTINGS)
        .execute(&mut conn)
        .await
        .map_err(|e| mysql_error("", e))?;
    Ok(conn)
}

/// Quotes an identifier with backticks (valid whatever the sql_mode).
pub fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// An error from the server, naming the table when there is one.
pub(crate) fn mysql_error(table: &str, error: sqlx::Error) -> ToolError {
    let at = if table.is_empty() {
        String::new()
    } else {
        format!("table {table}: ")
    };
    ToolError::failed(format!("{at}MySQL/MariaDB: {}", describe_error(&error)))
}

/// The server's message, without the values that data errors quote.
///
/// Errors about a value (truncation, out of range, a duplicate key, an
/// incorrect value for a type) name the value in their text; a value may be
/// a patient's data, so those are reported by error number only.
pub(crate) fn describe_error(error: &sqlx::Error) -> String {
    let Some(db) = error
        .as_database_error()
        .and_then(|e| e.try_downcast_ref::<MySqlDatabaseError>())
    else {
        return error.to_string();
    };
    // Only errors known to quote no value are shown as the server words
    // them: a value error (1292, 1366, 1411, ...) quotes the row's value,
    // and a syntax error quotes the statement from the failing point.
    if VALUE_FREE_ERRORS.contains(&db.number()) {
        return db.message().to_owned();
    }
    format!(
        "error {} (SQLSTATE {}); its text is not shown, as it may quote a value of the data (the server's manual or `perror {}` explains the number)",
        db.number(),
        db.code().unwrap_or("HY000"),
        db.number()
    )
}

/// Server errors whose text names objects, accounts or privileges only,
/// never a value: access denied (1044, 1045, 1142, 1143, 1227, 1370),
/// unknown or existing objects (1046, 1049, 1050, 1051, 1054, 1091, 1146,
/// 1305, 1356, 1359, 1360, 1449), a column that needs a value (1048, 1364),
/// locks and deadlocks (1205, 1213), foreign keys (1216, 1217, 1451, 1452),
/// interrupted (1317), accounts (1396, 1133, 1141), read-only (1290, 1792,
/// 1836), and lost or closed sessions (1927, 4031).
const VALUE_FREE_ERRORS: [u16; 36] = [
    1044, 1045, 1142, 1143, 1227, 1370, 1046, 1049, 1050, 1051, 1054, 1091, 1146, 1305, 1356, 1359,
    1360, 1449, 1048, 1364, 1205, 1213, 1216, 1217, 1451, 1452, 1317, 1396, 1133, 1141, 1290, 1792,
    1836, 1927, 4031, 1419,
];

impl Engine for Mysql {
    fn kind(&self) -> EngineKind {
        EngineKind::Mysql
    }

    fn row_encoding(&self) -> &'static str {
        rowcodec::ENCODING
    }

    /// Host and port are the URL's (localhost and ::1 read as 127.0.0.1),
    /// like the production guard's; the database is `DATABASE()`.
    async fn identity(&mut self) -> Result<Identity, ToolError> {
        Ok(Identity {
            engine: EngineKind::Mysql,
            host: self.target.host.clone(),
            port: self.target.port,
            database: self.database.clone(),
            system_identifier: None,
        })
    }

    async fn describe(&mut self, table: &TableName) -> Result<Option<TableInfo>, ToolError> {
        let at = table.to_string();
        let schema = self.schema_of(table).to_owned();
        let kind: Option<String> = sqlx::query_scalar(
            "SELECT table_type FROM information_schema.tables
             WHERE table_schema = ? AND table_name = ?",
        )
        .bind(&schema)
        .bind(&table.name)
        .fetch_optional(&mut self.conn)
        .await
        .map_err(|e| mysql_error(&at, e))?;
        let Some(kind) = kind else {
            return Ok(None);
        };
        if kind != "BASE TABLE" {
            return Err(ToolError::usage(format!(
                "{table} is a {}, not a table; only tables can be preserved",
                kind.to_ascii_lowercase()
            ))
            .hint("preserve the tables behind it"));
        }
        let columns = sqlx::query(
            "SELECT column_name, column_type, is_nullable = 'YES',
                    column_default IS NOT NULL OR extra LIKE '%auto_increment%',
                    extra LIKE '%GENERATED%' OR extra LIKE '%PERSISTENT%' OR extra LIKE '%VIRTUAL%'
             FROM information_schema.columns
             WHERE table_schema = ? AND table_name = ?
             ORDER BY ordinal_position",
        )
        .bind(&schema)
        .bind(&table.name)
        .fetch_all(&mut self.conn)
        .await
        .map_err(|e| mysql_error(&at, e))?
        .into_iter()
        .map(|row| {
            Ok(Column {
                name: row.try_get(0)?,
                data_type: row.try_get(1)?,
                nullable: row.try_get::<i64, _>(2)? != 0,
                has_default: row.try_get::<i64, _>(3)? != 0,
                generated: row.try_get::<i64, _>(4)? != 0,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(|e| mysql_error(&at, e))?;
        let primary_key = sqlx::query_scalar(
            "SELECT column_name FROM information_schema.key_column_usage
             WHERE table_schema = ? AND table_name = ? AND constraint_name = 'PRIMARY'
             ORDER BY ordinal_position",
        )
        .bind(&schema)
        .bind(&table.name)
        .fetch_all(&mut self.conn)
        .await
        .map_err(|e| mysql_error(&at, e))?;
        let references = sqlx::query(
            "SELECT DISTINCT referenced_table_schema, referenced_table_name
             FROM information_schema.key_column_usage
             WHERE table_schema = ? AND table_name = ? AND referenced_table_name IS NOT NULL
             ORDER BY 1, 2",
        )
        .bind(&schema)
        .bind(&table.name)
        .fetch_all(&mut self.conn)
        .await
        .map_err(|e| mysql_error(&at, e))?
        .into_iter()
        .map(|row| {
            let ref_schema: String = row.try_get(0)?;
            // Spelled like the configuration spells its tables, so that the
            // capture can order parents before children.
            Ok(TableName {
                schema: (table.schema.is_some() || ref_schema != self.database)
                    .then_some(ref_schema),
                name: row.try_get(1)?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(|e| mysql_error(&at, e))?;
        Ok(Some(TableInfo {
            name: table.clone(),
            columns,
            primary_key,
            references,
        }))
    }

    /// `SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ`, then
    /// `START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY`.
    async fn begin_snapshot(&mut self) -> Result<(), ToolError> {
        capture::begin_snapshot(&mut self.conn).await
    }

    async fn capture_rows(
        &mut self,
        plan: &CapturedTable,
        out: &mut StreamWriter,
    ) -> Result<u64, ToolError> {
        let schema = self.schema_of(&plan.table).to_owned();
        let never = std::sync::atomic::AtomicBool::new(false);
        capture::capture_rows(&mut self.conn, &schema, plan, out, &never).await
    }

    /// Reads several tables at once when the tables can be locked for the
    /// instant the extra connections open their snapshots (see
    /// `parallel_capture`), one after the other on this connection otherwise.
    async fn capture_tables(
        &mut self,
        tables: &[CapturedTable],
        writer: &VaultWriter,
        done: &mut dyn FnMut(TableCaptured<'_>),
    ) -> Result<(), ToolError> {
        self.snapshot_line = None;
        if parallel_capture::connections_for(tables.len()) < 2 {
            return capture_one_after_another(self, tables, writer, done).await;
        }
        let parallel = parallel_capture::capture_tables(
            &mut self.conn,
            &self.options,
            &self.database,
            tables,
            writer,
            done,
        )
        .await?;
        match parallel {
            Ok(line) => {
                self.snapshot_line = Some(line);
                Ok(())
            }
            Err(why) => {
                self.snapshot_line = Some(format!("snapshot: read on one connection ({why})"));
                capture_one_after_another(self, tables, writer, done).await
            }
        }
    }

    async fn capture_extras(
        &mut self,
        config: &Config,
        writer: &VaultWriter,
    ) -> Result<Vec<String>, ToolError> {
        let mut lines: Vec<String> = self.snapshot_line.take().into_iter().collect();
        // Kept accounts first: one that cannot be read refuses the capture
        // before any extras are written.
        lines.extend(roles::capture(&mut self.conn, self.flavor, config, writer).await?);
        lines.extend(grants::capture(&mut self.conn, &self.database, config, writer).await?);
        lines.push(capture::capture_links(&mut self.conn, &self.database, writer).await?);
        let jobs = crate::jobs::ScheduledJobs::scheduled_jobs(self).await?;
        lines.push(crate::jobs::write_record(writer, &jobs)?);
        lines.extend(crate::objects::capture(self, config, writer).await?);
        Ok(lines)
    }

    async fn end_snapshot(&mut self) -> Result<(), ToolError> {
        self.execute("COMMIT").await
    }

    fn keep_recovery_in(&mut self, dir: &std::path::Path) {
        self.restore.record_dir = Some(dir.to_owned());
    }

    async fn recover_from(&mut self, dir: &std::path::Path) -> Result<Vec<String>, ToolError> {
        load::recreate_recorded(&mut self.conn, dir).await
    }

    async fn begin_restore(&mut self, tables: &[TableInfo]) -> Result<(), ToolError> {
        load::begin(&mut self.conn, &mut self.restore, &self.database, tables).await
    }

    async fn stage_rows(
        &mut self,
        captured: &CapturedTable,
        target: &TableInfo,
        rows: &mut dyn Read,
    ) -> Result<(), ToolError> {
        let schema = self.schema_of(&captured.table).to_owned();
        load::stage(
            &mut self.conn,
            &mut self.restore,
            &schema,
            captured,
            target,
            rows,
        )
        .await
    }

    async fn key_collisions(
        &mut self,
        captured: &CapturedTable,
        restored: &[TableName],
        _rows: &mut dyn Read,
    ) -> Result<Option<KeyCollision>, ToolError> {
        load::key_collisions(
            &mut self.conn,
            &self.restore,
            &self.database,
            captured,
            restored,
        )
        .await
    }

    async fn clear_scope(&mut self, captured: &CapturedTable) -> Result<u64, ToolError> {
        let schema = self.schema_of(&captured.table).to_owned();
        load::clear_scope(&mut self.conn, &self.restore, &schema, captured).await
    }

    async fn load_rows(
        &mut self,
        captured: &CapturedTable,
        target: &TableInfo,
        rows: &mut dyn Read,
    ) -> Result<LoadCounts, ToolError> {
        let schema = self.schema_of(&captured.table).to_owned();
        load::load(
            &mut self.conn,
            &self.restore,
            &schema,
            captured,
            target,
            rows,
        )
        .await
    }

    /// Plans the grant and link changes inside the data transaction; they
    /// run after the commit, since GRANT, REVOKE, CREATE SERVER and CREATE
    /// TABLE commit implicitly.
    async fn restore_extras(
        &mut self,
        vault: &UnlockedVault,
        config: &Config,
    ) -> Result<Vec<String>, ToolError> {
        // Kept accounts are created or brought back before the grants run.
        let kept = roles::plan(&mut self.conn, self.flavor, vault, config).await?;
        self.restore.role_statements = kept.statements;
        self.kept_opening = kept.opening;
        let (statements, grant_lines) =
            grants::plan_restore(&mut self.conn, &self.database, vault, &kept.created).await?;
        let mut lines = kept.lines;
        lines.extend(grant_lines);
        self.restore.grant_statements = statements;
        let (links, link_lines) =
            link_restore::plan(&mut self.conn, &self.database, self.flavor, vault).await?;
        self.restore.links = links;
        lines.extend(link_lines);
        self.restore.kept_objects = crate::objects::read_kept(vault)?;
        Ok(lines)
    }

    async fn commit_restore(&mut self, tables: &[TableInfo]) -> Result<(), ToolError> {
        load::commit(&mut self.conn, &mut self.restore, &self.database, tables).await
    }

    async fn reapply_grants(&mut self, vault: &UnlockedVault) -> Result<Vec<String>, ToolError> {
        let (statements, lines) =
            grants::plan_restore(&mut self.conn, &self.database, vault, &[]).await?;
        // GRANT and REVOKE commit by themselves: each runs, each failure is named.
        let mut failures = Vec::new();
        for statement in statements {
            if let Err(e) = sqlx::raw_sql(sqlx::AssertSqlSafe(statement.clone()))
                .execute(&mut self.conn)
                .await
            {
                failures.push(format!(
                    "grants: did not run {statement}: {}",
                    describe_error(&e)
                ));
            }
        }
        if !failures.is_empty() {
            return Err(ToolError::failed(failures.join("; ")));
        }
        Ok(lines)
    }

    fn can_rehearse(&self) -> Result<(), &'static str> {
        Err(
            "on MariaDB/MySQL the restore drops and re-creates triggers (DDL commits) and its inserts move AUTO_INCREMENT counters, which a rollback does not undo",
        )
    }

    async fn rollback(&mut self) -> Result<(), ToolError> {
        load::rollback(&mut self.conn, &mut self.restore).await
    }
}

/// A step this build cannot do on MySQL/MariaDB yet (exit 2, nothing changed).
#[allow(dead_code)] // every step is built now; kept for the next one that is not
pub(crate) fn not_built(step: &str) -> ToolError {
    ToolError::usage(format!("{step} on MySQL/MariaDB is not in this build yet"))
        .hint("use a postgres: or sqlite: database for this step")
}
