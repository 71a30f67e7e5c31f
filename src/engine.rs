//! The trait capture and restore are written against: what every database engine does to move preserved rows.
//!
//! The engines implement [`Engine`] in `src/db/<engine>/`; the dispatcher
//! `db::any::AnyEngine` forwards it. This module names no engine.

use std::fmt;
use std::io::Read;

use serde::{Deserialize, Serialize};
use vault_format::{StreamWriter, UnlockedVault, VaultWriter};

use crate::config::{Config, EngineKind, Mode};
use crate::exit::ToolError;
use crate::names::{Column, Identity, TableInfo, TableName};

/// What one preserved table's stream records (its metadata in the vault).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapturedTable {
    pub engine: EngineKind,
    pub table: TableName,
    /// The captured columns, in stream order (generated columns are left out).
    pub columns: Vec<Column>,
    pub key: Vec<String>,
    pub filter: Option<String>,
    pub mode: Mode,
    /// How the stream's bytes encode rows ("vault-rows-v1", "pg-copy-text").
    pub encoding: String,
    pub source: Identity,
    /// Columns that tell one entity from another besides the key, from the
    /// configuration at restore (`[[preserve]] identity`); never recorded.
    #[serde(default, skip_serializing)]
    pub identity: Vec<String>,
}

impl CapturedTable {
    /// The stream metadata that records this table in a vault.
    pub fn metadata(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a captured table serializes")
    }
}

/// One table streamed into a vault by [`Engine::capture_tables`].
#[derive(Debug, Clone, Copy)]
pub struct TableCaptured<'a> {
    pub table: &'a CapturedTable,
    pub rows: u64,
    /// Bytes of the stream before compression.
    pub bytes: u64,
    pub seconds: f64,
}

/// What a restore did to one table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LoadCounts {
    /// Target rows removed before loading (replace mode).
    pub deleted: u64,
    pub inserted: u64,
    pub updated: u64,
    /// Captured rows left as they were: their key already existed and
    /// (insert-missing) the mode keeps the target's row, or (upsert, replace)
    /// the target's row already held the captured values. Shown as "kept".
    pub skipped: u64,
}

/// Captured keys that name another entity in the target as the refresh
/// left it: a target row with that key lies outside the table's `where`, or
/// differs in an `identity` column (the login, say). Restoring overwrites
/// that row, and every row that referred to it then refers to acceptance's.
/// Never holds a value: only names and counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyCollision {
    pub table: String,
    /// How many captured keys collide.
    pub keys: u64,
    /// What made them collide (`outside where`, `identity login differs`).
    pub criteria: String,
    /// Tables that are not restored and hold rows referring to those keys,
    /// with the number of such rows.
    pub referring: Vec<(String, u64)>,
    /// True when the configuration says `on_collision = "replace"`.
    pub accepted: bool,
}

impl fmt::Display for KeyCollision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "key collision: {}: {} captured {} already name{} another row in the target ({})",
            self.table,
            self.keys,
            if self.keys == 1 { "key" } else { "keys" },
            if self.keys == 1 { "s" } else { "" },
            self.criteria
        )?;
        if self.referring.is_empty() {
            f.write_str("; no other table refers to them")
        } else {
            let list: Vec<String> = self
                .referring
                .iter()
                .map(|(table, rows)| format!("{table} ({rows} rows)"))
                .collect();
            write!(f, "; referred to by {}", list.join(", "))
        }
    }
}

/// One database engine. Methods run in the order capture and restore call
/// them; a restore's changes stay in one transaction until `commit`.
#[allow(async_fn_in_trait)]
pub trait Engine {
    fn kind(&self) -> EngineKind;

    /// How this engine's table streams encode rows (recorded in each stream's metadata).
    fn row_encoding(&self) -> &'static str;

    /// Engine, host, port, database and, where it exists, the system identifier.
    async fn identity(&mut self) -> Result<Identity, ToolError>;

    /// A restore of `vault` keeps beside it, durably, what it must put back
    /// and would lose with the process (MariaDB/MySQL: the triggers it drops).
    fn keep_recovery_in(&mut self, _vault: &std::path::Path) {}

    /// Puts back what a killed or failed restore of `vault` kept beside it
    /// and did not put back; a line per thing put back.
    async fn recover_from(&mut self, _vault: &std::path::Path) -> Result<Vec<String>, ToolError> {
        Ok(Vec::new())
    }

    /// Describes a table; `None` when it does not exist.
    async fn describe(&mut self, table: &TableName) -> Result<Option<TableInfo>, ToolError>;

    /// Starts the read-only, consistent snapshot that every capture reads in.
    async fn begin_snapshot(&mut self) -> Result<(), ToolError>;

    /// Streams one table's rows (in scope of its filter) into `out`; returns the row count.
    async fn capture_rows(
        &mut self,
        plan: &CapturedTable,
        out: &mut StreamWriter,
    ) -> Result<u64, ToolError>;

    /// Streams every planned table, in order, into its own stream of
    /// `writer` (named after the table, with the plan as its metadata),
    /// inside the snapshot; `done` hears of each table as it completes. The
    /// default reads one table after the other with `capture_rows`; an
    /// engine that can read several at once in the same snapshot
    /// (PostgreSQL) overrides it.
    async fn capture_tables(
        &mut self,
        tables: &[CapturedTable],
        writer: &VaultWriter,
        done: &mut dyn FnMut(TableCaptured<'_>),
    ) -> Result<(), ToolError> {
        capture_one_after_another(self, tables, writer, done).await
    }

    /// Captures, inside the snapshot, what is not a preserved table: the
    /// `[grants]` roles' privileges and the link definitions. Each goes into
    /// its own stream whose metadata has a `"kind"` field. Engines without
    /// such objects capture nothing.
    async fn capture_extras(
        &mut self,
        _config: &Config,
        _writer: &VaultWriter,
    ) -> Result<Vec<String>, ToolError> {
        Ok(Vec::new())
    }

    /// Ends the snapshot.
    async fn end_snapshot(&mut self) -> Result<(), ToolError>;

    /// Opens the restore transaction and makes triggers and foreign keys of
    /// `tables` leave the restored rows alone until commit.
    async fn begin_restore(&mut self, tables: &[TableInfo]) -> Result<(), ToolError>;

    /// Reads one table's captured rows into the restore transaction before
    /// any target row changes, parents first. Engines that stage rows
    /// (PostgreSQL: a temporary table, checked there against the target's
    /// column types) then clear and load from the staged copy and ignore the
    /// reader `load_rows` gets; the others leave this as it is and read the
    /// rows in `load_rows`.
    async fn stage_rows(
        &mut self,
        _captured: &CapturedTable,
        _target: &TableInfo,
        _rows: &mut dyn Read,
    ) -> Result<(), ToolError> {
        Ok(())
    }

    /// Finds the captured keys of `captured` that name another entity in
    /// the target, before any target row changes: target rows with such a
    /// key that lie outside `captured.filter`, or whose identity columns
    /// differ from the captured row's (`captured.identity`). Counts the rows of tables not in
    /// `restored` that refer to them. Engines that staged the rows use the
    /// staged copy; the others read `rows`.
    async fn key_collisions(
        &mut self,
        captured: &CapturedTable,
        restored: &[TableName],
        rows: &mut dyn Read,
    ) -> Result<Option<KeyCollision>, ToolError>;

    /// Learns from the configuration which columns of another type than
    /// `oid` hold large-object ids (`large_objects` on `[[preserve]]`), for
    /// the steps that look for references (restore, sanitize, health).
    /// Engines without large objects ignore it.
    fn declare_large_objects(&mut self, _config: &Config) {}

    /// Inside the restore transaction, once every table's rows are staged
    /// and before any target row changes: creates the large objects the
    /// vault holds again (PostgreSQL), and notes which objects the database
    /// refers to now. Returns a line per thing done. Engines that keep
    /// documents inline (BLOBs) have nothing to do.
    async fn restore_large_objects(
        &mut self,
        _vault: &UnlockedVault,
    ) -> Result<Vec<String>, ToolError> {
        Ok(Vec::new())
    }

    /// Inside the restore transaction, once every table is loaded: unlinks
    /// the large objects that rows referred to before the restore and
    /// nothing refers to now. Returns a line per thing done.
    async fn release_large_objects(&mut self) -> Result<Vec<String>, ToolError> {
        Ok(Vec::new())
    }

    /// Removes the target rows in scope of a replace-mode table (children
    /// first). An engine that staged the rows may keep the rows whose key is
    /// among the captured ones, for `load_rows` to overwrite.
    async fn clear_scope(&mut self, captured: &CapturedTable) -> Result<u64, ToolError>;

    /// Loads one table's captured rows with its mode.
    async fn load_rows(
        &mut self,
        captured: &CapturedTable,
        target: &TableInfo,
        rows: &mut dyn Read,
    ) -> Result<LoadCounts, ToolError>;

    /// Outside any restore: gives the `[grants]` roles their captured
    /// privileges again (`vault health --fix --vault FILE`), for objects
    /// that were missing at the restore and exist again. A line per change.
    async fn reapply_grants(&mut self, _vault: &UnlockedVault) -> Result<Vec<String>, ToolError> {
        Ok(Vec::new())
    }

    /// Puts back, inside the restore transaction, what `capture_extras`
    /// captured (grants, link definitions); returns one line per change.
    async fn restore_extras(
        &mut self,
        _vault: &UnlockedVault,
        _config: &Config,
    ) -> Result<Vec<String>, ToolError> {
        Ok(Vec::new())
    }

    /// Sets sequences ahead of the restored keys, puts triggers back, checks
    /// references, and commits.
    async fn commit_restore(&mut self, tables: &[TableInfo]) -> Result<(), ToolError>;

    /// Whether a dry run may rehearse the restore: run it in its transaction,
    /// check what the commit would check ([`Engine::check_restore`]), and
    /// roll back. `Err` says why not: an engine whose restore changes
    /// something a rollback cannot undo.
    fn can_rehearse(&self) -> Result<(), &'static str> {
        Err("this engine cannot rehearse a restore")
    }

    /// The checks `commit_restore` makes before it commits (foreign keys,
    /// deferred constraints), without changing anything a rollback would
    /// not undo; for a rehearsal.
    async fn check_restore(&mut self, _tables: &[TableInfo]) -> Result<(), ToolError> {
        Ok(())
    }

    /// Rolls the restore transaction back.
    async fn rollback(&mut self) -> Result<(), ToolError>;
}

/// Streams every planned table, in order, with one connection: what
/// [`Engine::capture_tables`] does unless an engine reads several at once.
pub async fn capture_one_after_another<E: Engine + ?Sized>(
    engine: &mut E,
    tables: &[CapturedTable],
    writer: &VaultWriter,
    done: &mut dyn FnMut(TableCaptured<'_>),
) -> Result<(), ToolError> {
    for captured in tables {
        let started = std::time::Instant::now();
        let mut stream = writer.stream(&captured.table.to_string(), captured.metadata())?;
        let rows = engine.capture_rows(captured, &mut stream).await?;
        let entry = stream.finish()?;
        done(TableCaptured {
            table: captured,
            rows,
            bytes: entry.plain_len,
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    Ok(())
}
