//! The restore transaction on PostgreSQL: user triggers held off, rows staged by COPY and checked against the target's types (or COPYed straight into a table that was empty or is emptied), one statement per mode, sequences moved ahead, triggers back, commit.

mod collisions;
mod matviews;

use std::io::Read;

use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Row};

use super::{describe_error, execute, pg_error, qualified};
use crate::config::Mode;
use crate::engine::{CapturedTable, LoadCounts};
use crate::names::{TableInfo, TableName, quote_ident};

use crate::exit::{Exit, ToolError};
pub(super) use collisions::find as key_collisions;
pub(super) use matviews::refresh_dependent as refresh_matviews;

/// How much of a vault stream one COPY message carries.
const COPY_CHUNK: usize = 256 * 1024;

/// What the open restore transaction changed that must be put back before
/// it commits.
#[derive(Default)]
pub(super) struct RestoreState {
    staged: Vec<Staged>,
    /// Tables that were empty, with the captured column types: their rows
    /// are COPYed straight into the table when it is loaded, never staged.
    direct: Vec<TableName>,
    /// Tables among `direct` that held rows: replaced whole and referenced
    /// by no foreign key, they are emptied by `clear_scope` first.
    emptied: Vec<TableName>,
    /// User triggers switched off: table (SQL), trigger, its `tgenabled` mode.
    triggers: Vec<(String, String, String)>,
    /// Identity GENERATED ALWAYS columns outside the primary key, made BY
    /// DEFAULT for the restore so that an update can write them: table (SQL), column.
    relaxed: Vec<(String, String)>,
    /// The tables the restore writes (SQL names), for the materialized
    /// views that read them.
    restored: Vec<String>,
}

/// One table's captured rows in a temporary table.
pub(super) struct Staged {
    table: TableName,
    /// `pg_temp."vault_stage_N"`.
    name: String,
    rows: u64,
    /// Per captured column, the expression that reads it from the staging
    /// table (alias `vault_stage`) in the target column's type.
    exprs: Vec<String>,
}

impl Staged {
    /// The temporary table, as SQL.
    pub(super) fn name(&self) -> &str {
        &self.name
    }
}

impl RestoreState {
    pub(super) fn staged(&self, table: &TableName) -> Option<&Staged> {
        self.staged.iter().find(|s| &s.table == table)
    }

    pub(super) fn is_direct(&self, table: &TableName) -> bool {
        self.direct.contains(table)
    }
}

/// Opens the transaction, defers what can be deferred, and switches off the
/// restored tables' user triggers: `ALTER TABLE ... DISABLE TRIGGER` is
/// transactional, and `commit` switches them back on in the same transaction.
pub(super) async fn begin(
    conn: &mut PgConnection,
    state: &mut RestoreState,
    tables: &[TableInfo],
) -> Result<(), ToolError> {
    *state = RestoreState {
        restored: tables.iter().map(|t| qualified(&t.name)).collect(),
        ..RestoreState::default()
    };
    execute(
        conn,
        "BEGIN; SET CONSTRAINTS ALL DEFERRED; SET LOCAL lock_timeout = '60s'",
    )
    .await?;
    // The merges join each staged table with its target by hash: with the
    // default 4 MiB of working memory a table of a few hundred thousand
    // rows spills the hash to disk in batches (3 million accounts: the
    // UPDATE took 33 s with 64 MiB, 19 s with 256 MiB). The server takes
    // only what a join needs, in this one session.
    execute(
        conn,
        "SELECT set_config('work_mem', '256MB', true) FROM pg_catalog.pg_settings
         WHERE name = 'work_mem' AND setting::bigint < 262144",
    )
    .await?;
    for table in tables {
        let at = table.name.to_string();
        let sql_name = qualified(&table.name);
        let triggers = sqlx::query(
            "SELECT tgname::text, tgenabled::text FROM pg_catalog.pg_trigger
             WHERE tgrelid = $1::regclass AND NOT tgisinternal AND tgenabled <> 'D'
             ORDER BY tgname",
        )
        .bind(&sql_name)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| pg_error(&at, e))?;
        for row in triggers {
            let (trigger, mode): (String, String) = (row.get(0), row.get(1));
            execute(
                conn,
                &format!(
                    "ALTER TABLE {sql_name} DISABLE TRIGGER {}",
                    quote_ident(&trigger)
                ),
            )
            .await
            .map_err(|e| at_table(&at, e))?;
            state.triggers.push((sql_name.clone(), trigger, mode));
        }
        let always: Vec<String> = sqlx::query_scalar(
            "SELECT attname::text FROM pg_catalog.pg_attribute
             WHERE attrelid = $1::regclass AND attidentity = 'a' AND attnum > 0 AND NOT attisdropped",
        )
        .bind(&sql_name)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| pg_error(&at, e))?;
        for column in always {
            if table.primary_key.contains(&column) {
                continue; // keys are inserted with OVERRIDING SYSTEM VALUE and never updated
            }
            execute(
                conn,
                &format!(
                    "ALTER TABLE {sql_name} ALTER COLUMN {} SET GENERATED BY DEFAULT",
                    quote_ident(&column)
                ),
            )
            .await
            .map_err(|e| at_table(&at, e))?;
            state.relaxed.push((sql_name.clone(), column));
        }
    }
    Ok(())
}

/// COPYs a table's captured rows into a temporary table whose columns have
/// the captured types, then checks every column whose type changed since
/// the capture: each value must convert to the target's type and back
/// unchanged, or the restore stops with a schema-drift error.
pub(super) async fn stage(
    conn: &mut PgConnection,
    state: &mut RestoreState,
    captured: &CapturedTable,
    target: &TableInfo,
    rows: &mut dyn Read,
) -> Result<(), ToolError> {
    let at = captured.table.to_string();
    let name = format!(
        "pg_temp.{}",
        quote_ident(&format!("vault_stage_{}", state.staged.len() + 1))
    );
    let mut definitions = Vec::new();
    let mut exprs = Vec::new();
    let mut changed = Vec::new();
    for column in &captured.columns {
        let quoted = quote_ident(&column.name);
        let now = target.column(&column.name).ok_or_else(|| {
            drift(format!(
                "the vault holds column {at}.{} ({}), which the target table does not have",
                column.name, column.data_type
            ))
        })?;
        if now.data_type == column.data_type {
            definitions.push(format!("{quoted} {}", now.data_type));
            exprs.push(format!("vault_stage.{quoted}"));
            continue;
        }
        // The captured type name comes from the vault: it is written into
        // SQL only once the server has read it as exactly one type name.
        let known: Option<bool> = sqlx::query_scalar("SELECT to_regtype($1) IS NOT NULL")
            .bind(&column.data_type)
            .fetch_one(&mut *conn)
            .await
            .ok();
        if known != Some(true) {
            return Err(drift(format!(
                "column {at}.{} was captured as {}, a type the target database does not have; it is now {}",
                column.name, column.data_type, now.data_type
            )));
        }
        definitions.push(format!("{quoted} {}", column.data_type));
        exprs.push(format!("vault_stage.{quoted}::{}", now.data_type));
        changed.push((column, now));
    }
    // An empty table whose column types are the captured ones needs neither
    // a type check nor a comparison of keys: its rows go straight in by COPY
    // when it is loaded, once every table has been cleared.
    let table = qualified(&captured.table);
    if changed.is_empty() {
        let empty: bool = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT NOT EXISTS (SELECT 1 FROM {table})"
        )))
        .persistent(false)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| pg_error(&at, e))?;
        if empty {
            state.direct.push(captured.table.clone());
            return Ok(());
        }
        if replaced_whole(captured) && may_empty(conn, &at, &table).await? {
            state.direct.push(captured.table.clone());
            state.emptied.push(captured.table.clone());
            return Ok(());
        }
    }
    execute(
        conn,
        &format!(
            "CREATE TEMP TABLE {name} ({}) ON COMMIT DROP",
            definitions.join(", ")
        ),
    )
    .await
    .map_err(|e| at_table(&at, e))?;
    let columns: Vec<String> = captured
        .columns
        .iter()
        .map(|c| quote_ident(&c.name))
        .collect();
    let staged_rows = copy_in(
        conn,
        &at,
        &format!("COPY {name} ({}) FROM STDIN", columns.join(", ")),
        rows,
    )
    .await?;
    for (column, now) in changed {
        let quoted = quote_ident(&column.name);
        let check = format!(
            "SELECT count(*) FROM {name} vault_stage
             WHERE (vault_stage.{quoted}::{target})::{source}::text IS DISTINCT FROM vault_stage.{quoted}::text",
            target = now.data_type,
            source = column.data_type
        );
        let changed_values: Result<i64, _> = sqlx::query_scalar(AssertSqlSafe(check))
            .persistent(false)
            .fetch_one(&mut *conn)
            .await;
        let problem = match changed_values {
            Ok(0) => continue,
            Ok(n) => format!("{n} of the captured values would change in the conversion"),
            Err(e) => format!("the captured values do not convert: {}", describe_error(&e)),
        };
        return Err(drift(format!(
            "column {at}.{} was captured as {} and is {} in the target; {problem}",
            column.name, column.data_type, now.data_type
        )));
    }
    state.staged.push(Staged {
        table: captured.table.clone(),
        name,
        rows: staged_rows,
        exprs,
    });
    Ok(())
}

/// A table whose every row the capture replaces: mode replace, no `where`,
/// and no `identity` to compare with what the refresh left.
fn replaced_whole(captured: &CapturedTable) -> bool {
    captured.mode == Mode::Replace && captured.filter.is_none() && captured.identity.is_empty()
}

/// Whether a table that holds rows may be emptied and loaded straight: no
/// foreign key of any table (itself included) refers to it, so no row
/// outside it can be left pointing at a removed row; it is a plain table
/// with no inheritance children (emptying it reaches those rows alone); and
/// no row-level security decides which of its rows the restoring user sees.
async fn may_empty(conn: &mut PgConnection, at: &str, table: &str) -> Result<bool, ToolError> {
    sqlx::query_scalar(
        "SELECT c.relkind = 'r' AND NOT c.relrowsecurity
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint f
                           WHERE f.contype = 'f' AND f.confrelid = c.oid)
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i WHERE i.inhparent = c.oid)
         FROM pg_catalog.pg_class c WHERE c.oid = $1::regclass",
    )
    .bind(table)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| pg_error(at, e))
}

/// Empties a table chosen by `may_empty`, inside the restore transaction:
/// TRUNCATE where the restoring user holds that privilege (it writes no
/// dead row), DELETE otherwise. Returns the rows removed.
async fn empty(conn: &mut PgConnection, at: &str, table: &str) -> Result<u64, ToolError> {
    let (rows, may_truncate): (i64, bool) = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT (SELECT count(*) FROM {table}), has_table_privilege($1, 'TRUNCATE')"
    )))
    .bind(table)
    .persistent(false)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| pg_error(at, e))?;
    if !may_truncate {
        return run(conn, at, format!("DELETE FROM {table}")).await;
    }
    run(conn, at, format!("TRUNCATE ONLY {table}")).await?;
    Ok(rows as u64)
}

/// Streams a vault stream into `COPY ... FROM STDIN`; returns the rows copied.
async fn copy_in(
    conn: &mut PgConnection,
    at: &str,
    statement: &str,
    rows: &mut dyn Read,
) -> Result<u64, ToolError> {
    let mut copy = conn
        .copy_in_raw(statement)
        .await
        .map_err(|e| pg_error(at, e))?;
    let mut buf = vec![0u8; COPY_CHUNK];
    loop {
        match rows.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                copy.send(&buf[..n]).await.map_err(|e| pg_error(at, e))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                let _ = copy.abort("the vault stream could not be read").await;
                return Err(stream_error(at, e));
            }
        }
    }
    copy.finish().await.map_err(|e| pg_error(at, e))
}

/// Loads an empty table straight from the vault stream with COPY, which
/// keeps identity values as given (like OVERRIDING SYSTEM VALUE).
pub(super) async fn copy_direct(
    conn: &mut PgConnection,
    captured: &CapturedTable,
    rows: &mut dyn Read,
) -> Result<LoadCounts, ToolError> {
    let columns: Vec<String> = captured
        .columns
        .iter()
        .map(|c| quote_ident(&c.name))
        .collect();
    let statement = format!(
        "COPY {} ({}) FROM STDIN",
        qualified(&captured.table),
        columns.join(", ")
    );
    let inserted = copy_in(conn, &captured.table.to_string(), &statement, rows).await?;
    Ok(LoadCounts {
        inserted,
        ..LoadCounts::default()
    })
}

/// Replace mode: deletes the target rows in scope, except (once staged) the
/// rows whose key was captured, which `merge` overwrites in place. Rows of
/// other tables that refer to those keys stay valid.
pub(super) async fn clear_scope(
    conn: &mut PgConnection,
    state: &RestoreState,
    captured: &CapturedTable,
) -> Result<u64, ToolError> {
    let at = captured.table.to_string();
    let table = qualified(&captured.table);
    if state.emptied.contains(&captured.table) {
        return empty(conn, &at, &table).await;
    }
    if state.is_direct(&captured.table) {
        return Ok(0); // it was empty when staged
    }
    let mut conditions = Vec::new();
    if let Some(filter) = &captured.filter {
        conditions.push(format!("({filter})"));
    }
    if let Some(staged) = state.staged(&captured.table) {
        conditions.push(format!(
            "NOT EXISTS (SELECT 1 FROM {} vault_stage WHERE {})",
            staged.name,
            key_match(&table, captured, staged)
        ));
    }
    let mut sql = format!("DELETE FROM {table}");
    if !conditions.is_empty() {
        sql.push_str(&format!(" WHERE {}", conditions.join(" AND ")));
    }
    run(conn, &at, sql).await
}

/// Loads the staged rows with the table's mode, in one or two statements.
pub(super) async fn merge(
    conn: &mut PgConnection,
    state: &RestoreState,
    captured: &CapturedTable,
) -> Result<LoadCounts, ToolError> {
    let at = captured.table.to_string();
    let staged = state.staged(&captured.table).ok_or_else(|| {
        ToolError::failed(format!(
            "table {at}: the rows were not staged before loading"
        ))
    })?;
    let table = qualified(&captured.table);
    let columns: Vec<String> = captured
        .columns
        .iter()
        .map(|c| quote_ident(&c.name))
        .collect();
    let matches = key_match(&table, captured, staged);
    let insert = format!(
        "INSERT INTO {table} ({}) OVERRIDING SYSTEM VALUE SELECT {} FROM {} vault_stage",
        columns.join(", "),
        staged.exprs.join(", "),
        staged.name
    );
    let absent = format!(" WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE {matches})");
    let mut counts = LoadCounts::default();
    if captured.mode == Mode::InsertMissing {
        counts.inserted = run(conn, &at, format!("{insert}{absent}")).await?;
        counts.skipped = staged.rows - counts.inserted;
        return Ok(counts);
    }
    // Identity ALWAYS columns left ALWAYS (those of the primary key) cannot
    // be updated; they are only ever part of the key or left as they are.
    let always: Vec<String> = sqlx::query_scalar(
        "SELECT attname::text FROM pg_catalog.pg_attribute
         WHERE attrelid = $1::regclass AND attidentity = 'a' AND attnum > 0 AND NOT attisdropped",
    )
    .bind(&table)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| pg_error(&at, e))?;
    let relaxed = |name: &String| state.relaxed.iter().any(|(t, c)| t == &table && c == name);
    let updatable: Vec<usize> = (0..captured.columns.len())
        .filter(|&i| {
            let name = &captured.columns[i].name;
            let fixed = always.contains(name) && !relaxed(name);
            !captured.key.contains(name) && !fixed
        })
        .collect();
    // The rows already there are updated first, then the new ones
    // inserted: the insert's count tells how many were there, so the
    // staged rows are joined with the table twice, not three times.
    if !updatable.is_empty() {
        // Only rows whose values differ are written: a refreshed table
        // that already holds the captured rows costs a comparison, not a rewrite.
        let comparable = natively_comparable(conn, &at, &table).await?;
        let set: Vec<String> = updatable
            .iter()
            .map(|&i| format!("{} = {}", columns[i], staged.exprs[i]))
            .collect();
        let differs: Vec<String> = updatable
            .iter()
            .map(|&i| {
                let (column, value) = (format!("{table}.{}", columns[i]), &staged.exprs[i]);
                if comparable.contains(&captured.columns[i].name) {
                    format!("{column} IS DISTINCT FROM {value}")
                } else {
                    format!("{column}::text IS DISTINCT FROM ({value})::text")
                }
            })
            .collect();
        counts.updated = run(
            conn,
            &at,
            format!(
                "UPDATE {table} SET {} FROM {} vault_stage WHERE {matches} AND ({})",
                set.join(", "),
                staged.name,
                differs.join(" OR ")
            ),
        )
        .await?;
    }
    counts.inserted = run(conn, &at, format!("{insert}{absent}")).await?;
    let present = staged.rows.saturating_sub(counts.inserted);
    counts.skipped = present.saturating_sub(counts.updated);
    Ok(counts)
}

/// The columns of `table` whose equality means identical stored values, so
/// `IS DISTINCT FROM` finds every change: integers, booleans, bytea, uuid,
/// enums, dates and timestamps, and text under a deterministic collation
/// (and domains over these). The others are compared as text: numeric
/// (1.0 = 1.00), floats (-0 = 0), intervals ('1 day' = '24 hours'), jsonb,
/// json, arrays and the rest would call different values equal, or have no
/// equality at all.
async fn natively_comparable(
    conn: &mut PgConnection,
    at: &str,
    table: &str,
) -> Result<Vec<String>, ToolError> {
    sqlx::query_scalar(
        "SELECT a.attname::text FROM pg_catalog.pg_attribute a
         JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
         LEFT JOIN pg_catalog.pg_type b ON b.oid = t.typbasetype AND t.typtype = 'd'
         LEFT JOIN pg_catalog.pg_collation c ON c.oid = a.attcollation
         WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
           AND coalesce(c.collisdeterministic, true)
           AND (coalesce(b.typtype, t.typtype) = 'e'
                OR coalesce(b.typname, t.typname) IN ('int2', 'int4', 'int8', 'bool', 'bytea', 'uuid',
                   'date', 'timestamp', 'timestamptz', 'time', 'text', 'varchar', 'bpchar'))",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| pg_error(at, e))
}

/// `target.k = vault_stage.k AND ...` over the key columns.
fn key_match(table: &str, captured: &CapturedTable, staged: &Staged) -> String {
    captured
        .key
        .iter()
        .map(|k| {
            let i = captured
                .columns
                .iter()
                .position(|c| &c.name == k)
                .expect("the key is among the captured columns");
            // NULL matches NULL in a key (as the docs promise); `=` where
            // the column cannot hold NULL, so that joins can hash.
            let equals = match captured.columns[i].nullable {
                true => "IS NOT DISTINCT FROM",
                false => "=",
            };
            format!("{table}.{} {equals} {}", quote_ident(k), staged.exprs[i])
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// Checks the deferred constraints, moves sequences ahead of the restored
/// keys, switches triggers back on, and commits.
/// Runs the deferred constraint checks now (what COMMIT would run).
pub(super) async fn check_constraints(conn: &mut PgConnection) -> Result<(), ToolError> {
    execute(conn, "SET CONSTRAINTS ALL IMMEDIATE")
        .await
        .map_err(|e| {
            ToolError::failed(format!(
                "the restored rows break a constraint: {}; nothing was changed",
                e.message.trim_start_matches("PostgreSQL: ")
            ))
            .hint("preserve the parent table too, or narrow the `where` of the table whose rows refer to it")
        })
}

pub(super) async fn commit(
    conn: &mut PgConnection,
    state: &mut RestoreState,
    tables: &[TableInfo],
) -> Result<(), ToolError> {
    // Deferred checks run now, so that their failure names the constraint
    // before anything else, and so that no trigger event is pending when
    // the tables are altered back.
    check_constraints(conn).await?;
    for table in tables {
        advance_sequences(conn, table).await?;
    }
    for (table, trigger, mode) in std::mem::take(&mut state.triggers) {
        let enable = match mode.as_str() {
            "A" => "ENABLE ALWAYS",
            "R" => "ENABLE REPLICA",
            _ => "ENABLE",
        };
        execute(
            conn,
            &format!(
                "ALTER TABLE {table} {enable} TRIGGER {}",
                quote_ident(&trigger)
            ),
        )
        .await?;
    }
    for (table, column) in std::mem::take(&mut state.relaxed) {
        execute(
            conn,
            &format!(
                "ALTER TABLE {table} ALTER COLUMN {} SET GENERATED ALWAYS",
                quote_ident(&column)
            ),
        )
        .await?;
    }
    state.staged.clear();
    execute(conn, "COMMIT").await.map_err(|e| {
        ToolError::failed(format!(
            "the restore could not commit: {}; nothing was changed",
            e.message
        ))
    })
}

/// Sets every sequence that feeds an integer column of the table (identity,
/// serial, or a `nextval` default) past the column's largest value. A
/// sequence already ahead, or counting down, is left alone.
async fn advance_sequences(conn: &mut PgConnection, table: &TableInfo) -> Result<(), ToolError> {
    let at = table.name.to_string();
    let sql_name = qualified(&table.name);
    let sequences = sqlx::query(
        "WITH t AS (SELECT $1::regclass::oid AS oid)
         SELECT a.attname::text, seq.oid::regclass::text, s.seqincrement
         FROM t JOIN pg_catalog.pg_depend d ON d.refobjid = t.oid
         JOIN pg_catalog.pg_class seq ON seq.oid = d.objid AND seq.relkind = 'S'
         JOIN pg_catalog.pg_sequence s ON s.seqrelid = seq.oid
         JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
         WHERE d.classid = 'pg_catalog.pg_class'::regclass
           AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.deptype IN ('a', 'i')
           AND a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)
         UNION
         SELECT a.attname::text, seq.oid::regclass::text, s.seqincrement
         FROM t JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = t.oid
         JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_attrdef'::regclass
           AND d.objid = ad.oid AND d.refclassid = 'pg_catalog.pg_class'::regclass
         JOIN pg_catalog.pg_class seq ON seq.oid = d.refobjid AND seq.relkind = 'S'
         JOIN pg_catalog.pg_sequence s ON s.seqrelid = seq.oid
         JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid AND a.attnum = ad.adnum
         WHERE a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)",
    )
    .bind(&sql_name)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| pg_error(&at, e))?;
    for row in sequences {
        let (column, sequence, increment): (String, String, i64) =
            (row.get(0), row.get(1), row.get(2));
        if increment <= 0 {
            continue;
        }
        // `sequence` is the server's own quoting of the sequence's name.
        sqlx::query(AssertSqlSafe(format!(
            "SELECT setval($1::regclass, m.v)
             FROM (SELECT max({column})::int8 AS v FROM {sql_name}) m, {sequence} s
             WHERE m.v IS NOT NULL
               AND m.v::numeric >= CASE WHEN s.is_called THEN s.last_value::numeric + $2
                                        ELSE s.last_value::numeric END",
            column = quote_ident(&column)
        )))
        .persistent(false)
        .bind(&sequence)
        .bind(increment)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| pg_error(&at, e))?;
    }
    Ok(())
}

/// Runs one data statement; returns the rows it touched.
async fn run(conn: &mut PgConnection, at: &str, sql: String) -> Result<u64, ToolError> {
    let done = sqlx::query(AssertSqlSafe(sql))
        .persistent(false)
        .execute(&mut *conn)
        .await
        .map_err(|e| pg_error(at, e))?;
    Ok(done.rows_affected())
}

/// Prefixes an error with the table it concerns.
fn at_table(at: &str, error: ToolError) -> ToolError {
    ToolError {
        message: format!("table {at}: {}", error.message),
        ..error
    }
}

/// A schema-drift error (exit 2): the restore changed nothing.
fn drift(what: String) -> ToolError {
    ToolError::usage(format!("schema drift: {what}; nothing was changed")).hint(
        "change the target column back to a type that holds the captured values, or capture again from the current schema",
    )
}

/// A vault stream that could not be read: damaged (exit 3), wrong key, or I/O.
fn stream_error(at: &str, error: std::io::Error) -> ToolError {
    let error = vault_format::vault_error_of(error);
    let exit = match crate::exit::exit_for(&error) {
        Exit::Success => Exit::Failed,
        exit => exit,
    };
    ToolError::new(exit, format!("table {at}: {error}")).hint(error.hint())
}
