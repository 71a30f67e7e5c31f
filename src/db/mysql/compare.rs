//! MySQL/MariaDB's side of `vault compare`: the schema from information_schema, rows hashed in the server.

use super::{Mysql, not_built};
use crate::compare::{BucketSum, Compare, Relation, Snapshot};
use crate::exit::ToolError;

impl Compare for Mysql {
    async fn read_only(&mut self) -> Result<(), ToolError> {
        Err(not_built("compare"))
    }

    async fn snapshot(&mut self) -> Result<Snapshot, ToolError> {
        Err(not_built("compare"))
    }

    async fn bucket_sums(
        &mut self,
        _relation: &Relation,
        _columns: &[String],
        _buckets: u32,
    ) -> Result<Vec<BucketSum>, ToolError> {
        Err(not_built("compare"))
    }

    async fn bucket_keys(
        &mut self,
        _relation: &Relation,
        _columns: &[String],
        _buckets: u32,
        _which: &[u32],
    ) -> Result<Vec<(String, String)>, ToolError> {
        Err(not_built("compare"))
    }

    async fn estimated_rows(&mut self, _relation: &Relation) -> Result<u64, ToolError> {
        Err(not_built("compare"))
    }

    async fn derived_views(
        &mut self,
        _tables: &[String],
    ) -> Result<Vec<(String, String)>, ToolError> {
        Ok(Vec::new())
    }
}
