//! MySQL/MariaDB's side of `vault sanitize`: rules run in one transaction, verified in a fresh one.

use super::{Mysql, not_built};
use crate::db::TableName;
use crate::exit::ToolError;
use crate::sanitize::{Determinism, ForeignKey, Sanitizer};

impl Sanitizer for Mysql {
    fn table_sql(&self, table: &TableName) -> String {
        format!(
            "{}.{}",
            super::quote_ident(self.schema_of(table)),
            super::quote_ident(&table.name)
        )
    }

    async fn table_columns(
        &mut self,
        _table: &TableName,
    ) -> Result<Option<Vec<String>>, ToolError> {
        Err(not_built("sanitize"))
    }

    async fn begin_sanitize(&mut self) -> Result<(), ToolError> {
        Err(not_built("sanitize"))
    }

    async fn begin_verify(&mut self) -> Result<(), ToolError> {
        Err(not_built("sanitize"))
    }

    async fn end_transaction(&mut self, _commit: bool) -> Result<(), ToolError> {
        Err(not_built("sanitize"))
    }

    async fn sanitize_execute(&mut self, _sql: &str) -> Result<u64, ToolError> {
        Err(not_built("sanitize"))
    }

    async fn sanitize_count(&mut self, _sql: &str) -> Result<u64, ToolError> {
        Err(not_built("sanitize"))
    }

    async fn referencing_keys(&mut self, _table: &TableName) -> Result<Vec<ForeignKey>, ToolError> {
        Err(not_built("sanitize"))
    }

    async fn determinism(
        &mut self,
        _table: &TableName,
        _fragment: &str,
    ) -> Result<Determinism, ToolError> {
        Err(not_built("sanitize"))
    }
}
