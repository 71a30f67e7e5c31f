//! One engine chosen at run time from the URL's scheme; every call is passed to that engine's module.

mod steps;

use std::io::Read;

use vault_format::{StreamWriter, UnlockedVault, VaultWriter};

use super::mysql::Mysql;
use super::postgres::Postgres;
use super::sqlite::Sqlite;
use crate::config::{Config, DatabaseUrl, EngineKind};
use crate::engine::{CapturedTable, Engine, KeyCollision, LoadCounts, TableCaptured};
use crate::exit::ToolError;
use crate::guard::{Destination, Instance, ServerInstance};
use crate::names::{Identity, TableInfo, TableName};
use crate::objects::{CodeObject, CodeObjects, KeptObject, ObjectChange};
use crate::quarantine::{Closing, Quarantine};

/// A connection to whichever engine the URL names.
pub enum AnyEngine {
    Postgres(Box<Postgres>),
    Mysql(Box<Mysql>),
    Sqlite(Sqlite),
}

/// Connects to the database a URL names. A server that does not answer is
/// an error naming the URL without its password.
pub async fn connect(url: &DatabaseUrl) -> Result<AnyEngine, ToolError> {
    match url.engine() {
        EngineKind::Postgres => Ok(AnyEngine::Postgres(Box::new(Postgres::connect(url).await?))),
        EngineKind::Mysql => Ok(AnyEngine::Mysql(Box::new(Mysql::connect(url).await?))),
        EngineKind::Sqlite => Ok(AnyEngine::Sqlite(Sqlite::connect(url).await?)),
    }
}

/// Where a URL leads, read as its engine's driver reads it.
pub fn destination(url: &DatabaseUrl) -> Result<Destination, ToolError> {
    match url.engine() {
        EngineKind::Postgres => super::postgres::destination(url),
        EngineKind::Mysql => super::mysql::destination(url),
        EngineKind::Sqlite => super::sqlite::destination(url),
    }
}

/// Runs `$call` with `$db` bound to the engine inside an [`AnyEngine`]. The
/// step modules (sanitize, health, links) use it to forward their own traits.
macro_rules! each {
    ($self:ident, $db:ident => $call:expr) => {
        match $self {
            $crate::db::any::AnyEngine::Postgres($db) => $call,
            $crate::db::any::AnyEngine::Mysql($db) => $call,
            $crate::db::any::AnyEngine::Sqlite($db) => $call,
        }
    };
}
#[allow(unused_imports)] // used by the step modules (sanitize, health, links)
pub(crate) use each;

impl AnyEngine {
    /// Ends the session the way the protocol asks (PostgreSQL's Terminate,
    /// MySQL's COM_QUIT), so that the server logs no aborted connection.
    pub async fn close(self) {
        each!(self, db => db.close().await)
    }
}

/// Runs `work` on the engine, then closes it whatever the outcome.
pub async fn closing<T>(
    mut db: AnyEngine,
    work: impl AsyncFnOnce(&mut AnyEngine) -> Result<T, ToolError>,
) -> Result<T, ToolError> {
    let result = work(&mut db).await;
    db.close().await;
    result
}

impl CodeObjects for AnyEngine {
    async fn code_objects(&mut self) -> Result<Vec<CodeObject>, ToolError> {
        each!(self, db => db.code_objects().await)
    }

    async fn definitions(&mut self, objects: &[CodeObject]) -> Result<Vec<KeptObject>, ToolError> {
        each!(self, db => db.definitions(objects).await)
    }

    fn recreated_objects(&mut self) -> Vec<ObjectChange> {
        each!(self, db => db.recreated_objects())
    }
}

impl ServerInstance for AnyEngine {
    async fn instance(&mut self) -> Result<Instance, ToolError> {
        each!(self, db => db.instance().await)
    }
}

impl Quarantine for AnyEngine {
    async fn close_quarantine(&mut self, roles: &[String]) -> Result<Closing, ToolError> {
        each!(self, db => db.close_quarantine(roles).await)
    }

    async fn open_quarantine(&mut self, reopen: &[String]) -> Result<Vec<String>, ToolError> {
        each!(self, db => db.open_quarantine(reopen).await)
    }
}

impl Engine for AnyEngine {
    fn kind(&self) -> EngineKind {
        each!(self, db => db.kind())
    }

    fn row_encoding(&self) -> &'static str {
        each!(self, db => db.row_encoding())
    }

    async fn capture_extras(
        &mut self,
        config: &Config,
        writer: &VaultWriter,
    ) -> Result<Vec<String>, ToolError> {
        each!(self, db => db.capture_extras(config, writer).await)
    }

    async fn restore_extras(
        &mut self,
        vault: &UnlockedVault,
        config: &Config,
    ) -> Result<Vec<String>, ToolError> {
        each!(self, db => db.restore_extras(vault, config).await)
    }

    async fn identity(&mut self) -> Result<Identity, ToolError> {
        each!(self, db => db.identity().await)
    }

    fn keep_recovery_in(&mut self, dir: &std::path::Path) {
        each!(self, db => db.keep_recovery_in(dir))
    }

    async fn recover_from(&mut self, dir: &std::path::Path) -> Result<Vec<String>, ToolError> {
        each!(self, db => db.recover_from(dir).await)
    }

    async fn describe(&mut self, table: &TableName) -> Result<Option<TableInfo>, ToolError> {
        each!(self, db => db.describe(table).await)
    }

    async fn begin_snapshot(&mut self) -> Result<(), ToolError> {
        each!(self, db => db.begin_snapshot().await)
    }

    async fn capture_rows(
        &mut self,
        plan: &CapturedTable,
        out: &mut StreamWriter,
    ) -> Result<u64, ToolError> {
        each!(self, db => db.capture_rows(plan, out).await)
    }

    async fn capture_tables(
        &mut self,
        tables: &[CapturedTable],
        writer: &VaultWriter,
        done: &mut dyn FnMut(TableCaptured<'_>),
    ) -> Result<(), ToolError> {
        each!(self, db => db.capture_tables(tables, writer, done).await)
    }

    async fn end_snapshot(&mut self) -> Result<(), ToolError> {
        each!(self, db => db.end_snapshot().await)
    }

    async fn begin_restore(&mut self, tables: &[TableInfo]) -> Result<(), ToolError> {
        each!(self, db => db.begin_restore(tables).await)
    }

    async fn stage_rows(
        &mut self,
        captured: &CapturedTable,
        target: &TableInfo,
        rows: &mut dyn Read,
    ) -> Result<(), ToolError> {
        each!(self, db => db.stage_rows(captured, target, rows).await)
    }

    async fn key_collisions(
        &mut self,
        captured: &CapturedTable,
        restored: &[TableName],
        rows: &mut dyn Read,
    ) -> Result<Option<KeyCollision>, ToolError> {
        each!(self, db => db.key_collisions(captured, restored, rows).await)
    }

    fn declare_large_objects(&mut self, config: &Config) {
        each!(self, db => db.declare_large_objects(config))
    }

    async fn restore_large_objects(
        &mut self,
        vault: &UnlockedVault,
    ) -> Result<Vec<String>, ToolError> {
        each!(self, db => db.restore_large_objects(vault).await)
    }

    async fn release_large_objects(&mut self) -> Result<Vec<String>, ToolError> {
        each!(self, db => db.release_large_objects().await)
    }

    async fn reapply_grants(&mut self, vault: &UnlockedVault) -> Result<Vec<String>, ToolError> {
        each!(self, db => db.reapply_grants(vault).await)
    }

    async fn clear_scope(&mut self, captured: &CapturedTable) -> Result<u64, ToolError> {
        each!(self, db => db.clear_scope(captured).await)
    }

    async fn load_rows(
        &mut self,
        captured: &CapturedTable,
        target: &TableInfo,
        rows: &mut dyn Read,
    ) -> Result<LoadCounts, ToolError> {
        each!(self, db => db.load_rows(captured, target, rows).await)
    }

    async fn commit_restore(&mut self, tables: &[TableInfo]) -> Result<(), ToolError> {
        each!(self, db => db.commit_restore(tables).await)
    }

    fn can_rehearse(&self) -> Result<(), &'static str> {
        each!(self, db => db.can_rehearse())
    }

    async fn check_restore(&mut self, tables: &[TableInfo]) -> Result<(), ToolError> {
        each!(self, db => db.check_restore(tables).await)
    }

    async fn rollback(&mut self) -> Result<(), ToolError> {
        each!(self, db => db.rollback().await)
    }
}
