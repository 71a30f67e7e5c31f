//! SQLite: files on disk through sqlx, one read transaction for a capture, one write transaction for a restore.

mod checks;
mod collisions;
mod compare;
mod health;
mod hooks;
mod init;
mod instance;
mod jobs;
mod leak_scan;
mod link_check;
mod objects;
mod pseudonymize;
mod quarantine;
mod sanitize;

use std::io::Read;
use std::path::PathBuf;

use futures_util::TryStreamExt;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteRow};
use sqlx::{AssertSqlSafe, ConnectOptions, Row, SqlSafeStr, SqlStr, TypeInfo, ValueRef};
use vault_format::StreamWriter;

use crate::config::{DatabaseUrl, EngineKind, Mode};
use crate::engine::{CapturedTable, Engine, KeyCollision, LoadCounts};
use crate::exit::{Exit, ToolError};
use crate::names::{Column, Identity, TableInfo, TableName, quote_ident, quote_table};
use crate::rowcodec::{self, Value};

pub use instance::destination;

/// A connection to one SQLite database file.
pub struct Sqlite {
    conn: SqliteConnection,
    path: PathBuf,
    saved_triggers: Vec<(String, String)>,
    /// The kept code objects the open restore creates again before it commits.
    kept_objects: Vec<crate::objects::KeptObject>,
    /// Those it re-created.
    recreated: Vec<crate::objects::ObjectChange>,
}

impl Sqlite {
    /// Closes the file's connection.
    pub(crate) async fn close(self) {
        let _ = sqlx::Connection::close(self.conn).await;
    }

    /// Opens an existing database file; never creates one.
    pub async fn connect(url: &DatabaseUrl) -> Result<Self, ToolError> {
        let options: SqliteConnectOptions = url
            .expose()
            .parse()
            .map_err(|e| ToolError::usage(format!("{url}: not a SQLite URL: {e}")))?;
        let options = options.create_if_missing(false).foreign_keys(true);
        let path = options.get_filename().to_owned();
        if !path.is_file() {
            return Err(ToolError::failed(format!(
                "{url}: the database file {} does not exist",
                path.display()
            ))
            .hint("check the URL in the configuration (sqlite:PATH)"));
        }
        let cannot_open = |e: sqlx::Error| {
            ToolError::failed(format!("{url}: cannot open the database: {e}"))
                .hint("check that the URL in the configuration names a SQLite database file")
        };
        let mut conn = options.connect().await.map_err(cannot_open)?;
        // SQLite opens any file lazily; reading the schema proves it is a database.
        sqlx::raw_sql("SELECT count(*) FROM sqlite_schema")
            .execute(&mut conn)
            .await
            .map_err(cannot_open)?;
        let path = std::fs::canonicalize(&path).unwrap_or(path);
        Ok(Sqlite {
            conn,
            path,
            saved_triggers: Vec::new(),
            kept_objects: Vec::new(),
            recreated: Vec::new(),
        })
    }

    /// The triggers of `tables`: `(table, name, sql)`.
    async fn triggers_of(
        &mut self,
        tables: &[TableName],
    ) -> Result<Vec<(TableName, String, String)>, ToolError> {
        let mut found = Vec::new();
        for table in tables {
            let triggers = sqlx::query(AssertSqlSafe(format!(
                "SELECT name, sql FROM {}.sqlite_schema WHERE type = 'trigger' AND tbl_name = ?1 ORDER BY name",
                quote_ident(schema_of(table))
            )))
            .bind(&table.name)
            .fetch_all(&mut self.conn)
            .await
            .map_err(|e| query_error(&table.to_string(), e))?;
            for trigger in triggers {
                let name: String = trigger.get(0);
                // The same table may be reached by two spellings.
                let seen = found
                    .iter()
                    .any(|(t, n, _)| n == &name && schema_of(t) == schema_of(table));
                if !seen {
                    found.push((table.clone(), name, trigger.get(1)));
                }
            }
        }
        Ok(found)
    }

    /// SQLite cannot switch triggers off for a session. Its DDL is
    /// transactional, so inside the open transaction the triggers of
    /// `tables` are dropped, kept in `saved_triggers`, and created again by
    /// [`Sqlite::recreate_triggers`] before it commits.
    async fn drop_triggers(&mut self, tables: &[TableName]) -> Result<(), ToolError> {
        self.saved_triggers.clear();
        for (table, name, sql) in self.triggers_of(tables).await? {
            let drop = format!(
                "DROP TRIGGER {}.{}",
                quote_ident(schema_of(&table)),
                quote_ident(&name)
            );
            self.execute(&drop).await?;
            self.saved_triggers
                .push((schema_of(&table).to_owned(), sql));
        }
        Ok(())
    }

    /// Creates again what [`Sqlite::drop_triggers`] dropped.
    async fn recreate_triggers(&mut self) -> Result<(), ToolError> {
        let triggers = std::mem::take(&mut self.saved_triggers);
        for (_schema, sql) in &triggers {
            self.execute(sql).await?;
        }
        Ok(())
    }

    /// Runs statements that return nothing.
    async fn execute(&mut self, sql: &str) -> Result<(), ToolError> {
        sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
            .execute(&mut self.conn)
            .await
            .map_err(|e| query_error("", e))?;
        Ok(())
    }
}

fn query_error(table: &str, error: sqlx::Error) -> ToolError {
    let at = if table.is_empty() {
        String::new()
    } else {
        format!("table {table}: ")
    };
    ToolError::failed(format!("{at}SQLite: {error}"))
}

fn schema_of(table: &TableName) -> &str {
    table.schema.as_deref().unwrap_or("main")
}

impl Engine for Sqlite {
    fn kind(&self) -> EngineKind {
        EngineKind::Sqlite
    }

    fn row_encoding(&self) -> &'static str {
        rowcodec::ENCODING
    }

    async fn identity(&mut self) -> Result<Identity, ToolError> {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "localhost".into());
        Ok(Identity {
            engine: EngineKind::Sqlite,
            host,
            port: None,
            database: self.path.display().to_string(),
            system_identifier: None,
        })
    }

    async fn describe(&mut self, table: &TableName) -> Result<Option<TableInfo>, ToolError> {
        let schema = schema_of(table);
        let rows = sqlx::query(
            "SELECT name, type, \"notnull\", dflt_value IS NOT NULL, pk, hidden FROM pragma_table_xinfo(?1, ?2) ORDER BY cid",
        )
        .bind(&table.name)
        .bind(schema)
        .fetch_all(&mut self.conn)
        .await
        .map_err(|e| query_error(&table.to_string(), e))?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut columns = Vec::new();
        let mut keyed: Vec<(i64, String)> = Vec::new();
        for row in rows {
            let name: String = row.get(0);
            let pk: i64 = row.get(4);
            let hidden: i64 = row.get(5);
            if hidden == 1 {
                continue;
            }
            if pk > 0 {
                keyed.push((pk, name.clone()));
            }
            columns.push(Column {
                data_type: row.get(1),
                nullable: row.get::<i64, _>(2) == 0 && pk == 0,
                has_default: row.get(3),
                generated: hidden >= 2,
                name,
            });
        }
        keyed.sort();
        let references =
            sqlx::query("SELECT DISTINCT \"table\" FROM pragma_foreign_key_list(?1, ?2)")
                .bind(&table.name)
                .bind(schema)
                .fetch_all(&mut self.conn)
                .await
                .map_err(|e| query_error(&table.to_string(), e))?
                .into_iter()
                .map(|row| TableName {
                    schema: table.schema.clone(),
                    name: row.get(0),
                })
                .collect();
        Ok(Some(TableInfo {
            name: table.clone(),
            columns,
            primary_key: keyed.into_iter().map(|(_, name)| name).collect(),
            references,
        }))
    }

    async fn begin_snapshot(&mut self) -> Result<(), ToolError> {
        // query_only refuses any write; the read transaction starts at the
        // first read and holds one snapshot until it ends.
        self.execute("PRAGMA query_only = ON; BEGIN; SELECT count(*) FROM sqlite_schema;")
            .await
    }

    async fn capture_rows(
        &mut self,
        plan: &CapturedTable,
        out: &mut StreamWriter,
    ) -> Result<u64, ToolError> {
        let table = plan.table.to_string();
        let columns: Vec<String> = plan.columns.iter().map(|c| quote_ident(&c.name)).collect();
        let mut sql = format!(
            "SELECT {} FROM {}",
            columns.join(", "),
            quote_table(&plan.table)
        );
        if let Some(filter) = &plan.filter {
            sql.push_str(&format!(" WHERE ({filter})"));
        }
        if !plan.key.is_empty() {
            let key: Vec<String> = plan.key.iter().map(|k| quote_ident(k)).collect();
            sql.push_str(&format!(" ORDER BY {}", key.join(", ")));
        }
        let mut rows = sqlx::query(AssertSqlSafe(sql)).fetch(&mut self.conn);
        let mut count = 0u64;
        let mut buf = Vec::with_capacity(64 * 1024);
        while let Some(row) = rows.try_next().await.map_err(|e| query_error(&table, e))? {
            crate::interrupt::check(&format!("while capturing table {table}"))?;
            for i in 0..plan.columns.len() {
                rowcodec::write_value(
                    &mut buf,
                    &value_at(&row, i).map_err(|e| query_error(&table, e))?,
                )
                .map_err(|e| ToolError::failed(format!("table {table}: {e}")))?;
            }
            count += 1;
            if buf.len() >= 60 * 1024 {
                out.write_bytes(&buf)?;
                buf.clear();
            }
        }
        out.write_bytes(&buf)?;
        out.add_rows(count);
        Ok(count)
    }

    async fn end_snapshot(&mut self) -> Result<(), ToolError> {
        self.execute("COMMIT; PRAGMA query_only = OFF;").await
    }

    async fn begin_restore(&mut self, tables: &[TableInfo]) -> Result<(), ToolError> {
        self.execute("BEGIN IMMEDIATE; PRAGMA defer_foreign_keys = ON;")
            .await?;
        // SQLite cannot switch triggers off for a session. Its DDL is
        // transactional, so the restored tables' triggers are dropped inside
        // the restore transaction and created again before it commits.
        let names: Vec<TableName> = tables.iter().map(|t| t.name.clone()).collect();
        self.drop_triggers(&names).await
    }

    async fn key_collisions(
        &mut self,
        captured: &CapturedTable,
        restored: &[TableName],
        rows: &mut dyn Read,
    ) -> Result<Option<KeyCollision>, ToolError> {
        collisions::find(&mut self.conn, captured, restored, rows).await
    }

    async fn clear_scope(&mut self, captured: &CapturedTable) -> Result<u64, ToolError> {
        let mut sql = format!("DELETE FROM {}", quote_table(&captured.table));
        if let Some(filter) = &captured.filter {
            sql.push_str(&format!(" WHERE ({filter})"));
        }
        let done = sqlx::query(AssertSqlSafe(sql))
            .execute(&mut self.conn)
            .await
            .map_err(|e| query_error(&captured.table.to_string(), e))?;
        Ok(done.rows_affected())
    }

    async fn load_rows(
        &mut self,
        captured: &CapturedTable,
        _target: &TableInfo,
        rows: &mut dyn Read,
    ) -> Result<LoadCounts, ToolError> {
        let table = captured.table.to_string();
        let quoted = quote_table(&captured.table);
        let names: Vec<&str> = captured.columns.iter().map(|c| c.name.as_str()).collect();
        let key_positions: Vec<usize> = captured
            .key
            .iter()
            .map(|k| {
                names
                    .iter()
                    .position(|n| n == k)
                    .expect("the key is among the captured columns")
            })
            .collect();
        let key_match: Vec<String> = captured
            .key
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{} IS ?{}", quote_ident(k), names.len() + i + 1))
            .collect();
        let insert = sql_str(format!(
            "INSERT INTO {quoted} ({}) VALUES ({})",
            names
                .iter()
                .map(|n| quote_ident(n))
                .collect::<Vec<_>>()
                .join(", "),
            (1..=names.len())
                .map(|i| format!("?{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        // Only a row whose stored values differ is written (SQLite counts a
        // row set to the values it holds as changed): compared bytewise and
        // by storage class, since a NOCASE column calls 'a' and 'A' equal.
        let update = sql_str(format!(
            "UPDATE {quoted} SET {} WHERE {} AND ({})",
            names
                .iter()
                .enumerate()
                .map(|(i, n)| format!("{} = ?{}", quote_ident(n), i + 1))
                .collect::<Vec<_>>()
                .join(", "),
            key_match.join(" AND "),
            names
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    let (column, value) = (quote_ident(n), i + 1);
                    format!(
                        "{column} IS NOT ?{value} COLLATE BINARY OR typeof({column}) IS NOT typeof(?{value})"
                    )
                })
                .collect::<Vec<_>>()
                .join(" OR ")
        ));
        let exists = sql_str(format!(
            "SELECT 1 FROM {quoted} WHERE {}",
            captured
                .key
                .iter()
                .enumerate()
                .map(|(i, k)| format!("{} IS ?{}", quote_ident(k), i + 1))
                .collect::<Vec<_>>()
                .join(" AND ")
        ));
        let mut counts = LoadCounts::default();
        // A replace without `where` has emptied the table: every row is new.
        let emptied = captured.mode == Mode::Replace && captured.filter.is_none();
        let mut rows = std::io::BufReader::with_capacity(256 * 1024, rows);
        while let Some(row) =
            rowcodec::read_row(&mut rows, names.len()).map_err(|e| stream_error(&table, e))?
        {
            let key: Vec<&Value> = key_positions.iter().map(|&i| &row[i]).collect();
            match captured.mode {
                Mode::InsertMissing => {
                    let present = key
                        .iter()
                        .fold(sqlx::query(exists.clone()), |q, v| bind(q, v));
                    let present = present
                        .fetch_optional(&mut self.conn)
                        .await
                        .map_err(|e| query_error(&table, e))?;
                    if present.is_some() {
                        counts.skipped += 1;
                        continue;
                    }
                }
                Mode::Replace if emptied => {}
                Mode::Replace | Mode::Upsert => {
                    let query = row
                        .iter()
                        .chain(key.iter().copied())
                        .fold(sqlx::query(update.clone()), |q, v| bind(q, v));
                    let done = query
                        .execute(&mut self.conn)
                        .await
                        .map_err(|e| query_error(&table, e))?;
                    if done.rows_affected() > 0 {
                        counts.updated += 1;
                        continue;
                    }
                    let present = key
                        .iter()
                        .fold(sqlx::query(exists.clone()), |q, v| bind(q, v));
                    let present = present
                        .fetch_optional(&mut self.conn)
                        .await
                        .map_err(|e| query_error(&table, e))?;
                    if present.is_some() {
                        counts.skipped += 1;
                        continue;
                    }
                }
            }
            let query = row
                .iter()
                .fold(sqlx::query(insert.clone()), |q, v| bind(q, v));
            query
                .execute(&mut self.conn)
                .await
                .map_err(|e| query_error(&table, e))?;
            counts.inserted += 1;
        }
        Ok(counts)
    }

    /// Views and triggers recorded (names and digests), and the kept ones whole.
    async fn capture_extras(
        &mut self,
        config: &crate::config::Config,
        writer: &vault_format::VaultWriter,
    ) -> Result<Vec<String>, ToolError> {
        crate::objects::capture(self, config, writer).await
    }

    /// The kept code objects, created again before the commit.
    async fn restore_extras(
        &mut self,
        vault: &vault_format::UnlockedVault,
        _config: &crate::config::Config,
    ) -> Result<Vec<String>, ToolError> {
        self.kept_objects = crate::objects::read_kept(vault)?;
        Ok(Vec::new())
    }

    /// SQLite's restore, triggers and `sqlite_sequence` included, is all
    /// inside its transaction.
    fn can_rehearse(&self) -> Result<(), &'static str> {
        Ok(())
    }

    /// The restored tables' own references, then (what the deferred check
    /// at COMMIT would find) rows of other tables that refer to restored
    /// tables' rows that are gone. Dangling references the database
    /// already had to or from a restored table are reported too.
    async fn check_restore(&mut self, tables: &[TableInfo]) -> Result<(), ToolError> {
        for table in tables {
            check_references(&mut self.conn, table).await?;
        }
        let broken: Vec<(String, String)> =
            sqlx::query_as("SELECT \"table\", parent FROM pragma_foreign_key_check")
                .fetch_all(&mut self.conn)
                .await
                .map_err(|e| query_error("", e))?;
        let restored = |name: &str| tables.iter().any(|t| t.name.name == name);
        match broken.into_iter().find(|(_, parent)| restored(parent)) {
            Some((child, parent)) => Err(removed_parents(&child, &parent)),
            None => Ok(()),
        }
    }

    async fn commit_restore(&mut self, tables: &[TableInfo]) -> Result<(), ToolError> {
        for table in tables {
            let schema = quote_ident(schema_of(&table.name));
            let has_sequence: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT 1 FROM {schema}.sqlite_schema WHERE type = 'table' AND name = 'sqlite_sequence'"
            )))
            .fetch_optional(&mut self.conn)
            .await
            .map_err(|e| query_error(&table.name.to_string(), e))?;
            // Only AUTOINCREMENT tables have a row in sqlite_sequence, and
            // they always have a rowid: a WITHOUT ROWID table has no max(rowid).
            let autoincrement: Option<i64> = match has_sequence {
                Some(_) => sqlx::query_scalar(AssertSqlSafe(format!(
                    "SELECT 1 FROM {schema}.sqlite_sequence WHERE name = ?1"
                )))
                .bind(&table.name.name)
                .fetch_optional(&mut self.conn)
                .await
                .map_err(|e| query_error(&table.name.to_string(), e))?,
                None => None,
            };
            if autoincrement.is_some() {
                // The next key must come after every restored one.
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE {schema}.sqlite_sequence SET seq = (SELECT max(rowid) FROM {t})
                     WHERE name = ?1 AND seq < (SELECT max(rowid) FROM {t})",
                    t = quote_table(&table.name)
                )))
                .bind(&table.name.name)
                .execute(&mut self.conn)
                .await
                .map_err(|e| query_error(&table.name.to_string(), e))?;
            }
            check_references(&mut self.conn, table).await?;
        }
        self.recreate_triggers().await?;
        let kept = std::mem::take(&mut self.kept_objects);
        self.recreated = objects::recreate(&mut self.conn, &kept).await?;
        if let Err(error) = sqlx::raw_sql("COMMIT").execute(&mut self.conn).await {
            // A deferred foreign key fails the COMMIT and leaves the
            // transaction open: name a table whose rows lost their parent.
            let broken =
                sqlx::query("SELECT \"table\", parent FROM pragma_foreign_key_check LIMIT 1")
                    .fetch_optional(&mut self.conn)
                    .await
                    .ok()
                    .flatten();
            return Err(match broken {
                Some(row) => {
                    let (child, parent): (String, String) = (row.get(0), row.get(1));
                    removed_parents(&child, &parent)
                }
                None => ToolError::failed(format!("the restore could not commit: {error}")),
            });
        }
        Ok(())
    }

    async fn rollback(&mut self) -> Result<(), ToolError> {
        self.saved_triggers.clear();
        self.kept_objects.clear();
        sqlx::raw_sql("ROLLBACK")
            .execute(&mut self.conn)
            .await
            .map_err(|e| query_error("", e))?;
        Ok(())
    }
}

fn stream_error(table: &str, error: std::io::Error) -> ToolError {
    let error = vault_format::vault_error_of(error);
    let exit = crate::exit::exit_for(&error);
    ToolError::new(
        if exit == Exit::Success {
            Exit::Failed
        } else {
            exit
        },
        format!("table {table}: {error}"),
    )
    .hint(error.hint())
}

/// Statements built from quoted identifiers and the operator's own predicates.
fn sql_str(sql: String) -> SqlStr {
    AssertSqlSafe(sql).into_sql_str()
}

type Query<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>;

fn bind<'q>(query: Query<'q>, value: &Value) -> Query<'q> {
    match value {
        Value::Null => query.bind(None::<i64>),
        Value::Integer(v) => query.bind(*v),
        Value::Real(v) => query.bind(*v),
        Value::Text(v) => query.bind(v.clone()),
        Value::Blob(v) => query.bind(v.clone()),
    }
}

/// Reads a column as its stored type, whatever the declared one.
fn value_at(row: &SqliteRow, i: usize) -> Result<Value, sqlx::Error> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let type_name = raw.type_info().name().to_ascii_uppercase();
    Ok(match type_name.as_str() {
        "INTEGER" | "INT" | "INT8" | "BIGINT" | "BOOLEAN" => {
            Value::Integer(row.try_get_unchecked(i)?)
        }
        "REAL" | "FLOAT" | "DOUBLE" => Value::Real(row.try_get_unchecked(i)?),
        "BLOB" => Value::Blob(row.try_get_unchecked(i)?),
        _ => Value::Text(row.try_get_unchecked(i)?),
    })
}

/// Fails naming the first restored row of `table` whose parent is missing.
async fn check_references(conn: &mut SqliteConnection, table: &TableInfo) -> Result<(), ToolError> {
    let broken =
        sqlx::query("SELECT \"table\", parent FROM pragma_foreign_key_check(?1, ?2) LIMIT 1")
            .bind(&table.name.name)
            .bind(schema_of(&table.name))
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| query_error(&table.name.to_string(), e))?;
    match broken {
        Some(row) => {
            let (child, parent): (String, String) = (row.get(0), row.get(1));
            Err(ToolError::failed(format!(
                "table {child}: restored rows refer to rows of {parent} that are not there"
            ))
            .hint("preserve the parent table too, or narrow this table's `where`"))
        }
        None => Ok(()),
    }
}

/// Rows of `child` refer to rows of `parent` that the restore removed.
fn removed_parents(child: &str, parent: &str) -> ToolError {
    ToolError::failed(format!(
        "the restore could not commit: rows of {child} refer to rows of {parent} that the restore removed"
    ))
    .hint(format!(
        "preserve {child} too, or narrow the `where` of {parent} to the rows acceptance owns (a mode that removes no row would keep production's rows, credentials included)"
    ))
}
