//! MySQL/MariaDB's side of `vault compare`: the schema from information_schema, rows hashed in the server.
//!
//! The session is made read-only and one consistent snapshot is opened,
//! so every count and checksum reads the same moment. Objects are named
//! without the database (`table`, `table.column`): acceptance and
//! production are usually two databases with different names. FEDERATED
//! tables are links, not data: their rows live on another server and are
//! not compared (their definition is, as a `foreign-table`).

mod catalog;
mod rows;

use std::collections::BTreeMap;

use sqlx::{AssertSqlSafe, Row};

use super::{Mysql, mysql_error, quote_ident};
use crate::compare::{BucketSum, Compare, Relation, Snapshot};
use crate::exit::ToolError;

/// Room for the lists that GROUP_CONCAT builds (index columns, parameters).
const GROUP_CONCAT_MAX: u32 = 16 << 20;

impl Mysql {
    /// `database`.`table` of a compared relation.
    fn relation_sql(&self, relation: &Relation) -> String {
        format!(
            "{}.{}",
            quote_ident(self.database()),
            quote_ident(&relation.table)
        )
    }

    /// Each column's DATA_TYPE, which chooses how its value becomes text.
    async fn column_types(
        &mut self,
        relation: &Relation,
    ) -> Result<BTreeMap<String, String>, ToolError> {
        let rows = sqlx::query(
            "SELECT CAST(COLUMN_NAME AS CHAR), CAST(LOWER(DATA_TYPE) AS CHAR)
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
        )
        .bind(self.database.clone())
        .bind(&relation.table)
        .fetch_all(&mut self.conn)
        .await
        .map_err(|e| mysql_error(&relation.name, e))?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(|e| mysql_error(&relation.name, e))
    }
}

/// A text or binary column as text (binary strings come back as bytes).
fn text(row: &sqlx::mysql::MySqlRow, index: usize) -> Result<String, sqlx::Error> {
    let bytes: Option<Vec<u8>> = row.try_get_unchecked(index)?;
    Ok(String::from_utf8_lossy(&bytes.unwrap_or_default()).into_owned())
}

impl Compare for Mysql {
    async fn read_only(&mut self) -> Result<(), ToolError> {
        self.execute(&format!(
            "SET SESSION group_concat_max_len = {GROUP_CONCAT_MAX};
             SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY;
             START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"
        ))
        .await
    }

    async fn snapshot(&mut self) -> Result<Snapshot, ToolError> {
        catalog::snapshot(self).await
    }

    async fn bucket_sums(
        &mut self,
        relation: &Relation,
        columns: &[String],
        buckets: u32,
    ) -> Result<Vec<BucketSum>, ToolError> {
        let types = self.column_types(relation).await?;
        let key = (!relation.key.is_empty()).then(|| rows::key_text(&relation.key, &types));
        let sql = format!(
            "SELECT {} AS bucket, COUNT(*), CAST(COALESCE(SUM({}), 0) AS CHAR)
             FROM {} GROUP BY bucket ORDER BY bucket",
            rows::bucket(key.as_deref(), buckets),
            rows::row_hash(&rows::row_text(columns, &types)),
            self.relation_sql(relation)
        );
        let found = sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&mut self.conn)
            .await
            .map_err(|e| mysql_error(&relation.name, e))?;
        let mut sums = found
            .iter()
            .map(|row| {
                Ok(BucketSum {
                    bucket: u32::try_from(row.try_get::<i64, _>(0)?).unwrap_or(0),
                    rows: u64::try_from(row.try_get::<i64, _>(1)?).unwrap_or(0),
                    checksum: text(row, 2)?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(|e| mysql_error(&relation.name, e))?;
        if sums.is_empty() && buckets <= 1 {
            sums.push(BucketSum {
                bucket: 0,
                rows: 0,
                checksum: "0".into(),
            });
        }
        Ok(sums)
    }

    async fn bucket_keys(
        &mut self,
        relation: &Relation,
        columns: &[String],
        buckets: u32,
        which: &[u32],
    ) -> Result<Vec<(String, String)>, ToolError> {
        if which.is_empty() || relation.key.is_empty() {
            return Ok(Vec::new());
        }
        let types = self.column_types(relation).await?;
        let key = rows::key_text(&relation.key, &types);
        let which: Vec<String> = which.iter().map(u32::to_string).collect();
        let sql = format!(
            "SELECT {key}, CAST({} AS CHAR) FROM {} WHERE {} IN ({})",
            rows::row_hash(&rows::row_text(columns, &types)),
            self.relation_sql(relation),
            rows::bucket(Some(&key), buckets),
            which.join(", ")
        );
        let found = sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&mut self.conn)
            .await
            .map_err(|e| mysql_error(&relation.name, e))?;
        found
            .iter()
            .map(|row| Ok((text(row, 0)?, text(row, 1)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(|e| mysql_error(&relation.name, e))
    }

    /// information_schema's TABLE_ROWS (InnoDB's estimate).
    async fn estimated_rows(&mut self, relation: &Relation) -> Result<u64, ToolError> {
        let estimate: Option<Option<i64>> = sqlx::query_scalar(
            "SELECT CAST(TABLE_ROWS AS SIGNED) FROM information_schema.TABLES
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
        )
        .bind(self.database.clone())
        .bind(&relation.table)
        .fetch_optional(&mut self.conn)
        .await
        .map_err(|e| mysql_error(&relation.name, e))?;
        Ok(estimate.flatten().unwrap_or(0).max(0) as u64)
    }

    /// MySQL and MariaDB have no materialized views.
    async fn derived_views(
        &mut self,
        _tables: &[String],
    ) -> Result<Vec<(String, String)>, ToolError> {
        Ok(Vec::new())
    }
}
