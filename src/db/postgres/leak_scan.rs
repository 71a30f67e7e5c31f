//! PostgreSQL's half of the leak scan: tables and materialized views with their columns from the catalogue (string types, JSON and XML are text, bytea is bytes), and columns read as text, streamed.

use futures_util::TryStreamExt;
use sqlx::{AssertSqlSafe, Row};

use super::{Postgres, pg_error};
use crate::exit::ToolError;
use crate::leak_scan::{LeakScan, ScanColumn, ScanTable, gather_tables};
use crate::names::{TableName, quote_ident, quote_table};

const COLUMNS: &str = "
SELECT n.nspname::text, c.relname::text, a.attname::text,
       (b.typcategory = 'S' OR b.typname IN ('json', 'jsonb', 'xml')
        OR (b.typcategory = 'A' AND e.typcategory = 'S')) AS text,
       b.typname = 'bytea' AS binary
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
JOIN pg_catalog.pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
LEFT JOIN pg_catalog.pg_type e ON e.oid = b.typelem
WHERE c.relkind IN ('r', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
ORDER BY 1, 2, a.attnum";

impl LeakScan for Postgres {
    async fn scan_tables(&mut self) -> Result<Vec<ScanTable>, ToolError> {
        let rows = sqlx::query(COLUMNS)
            .fetch_all(&mut self.conn)
            .await
            .map_err(|e| pg_error("", e))?;
        let mut columns = Vec::new();
        for row in rows {
            let table = TableName {
                schema: Some(row.get(0)),
                name: row.get(1),
            };
            let column = ScanColumn {
                name: row.get(2),
                text: row.get(3),
                binary: row.get(4),
            };
            columns.push((table, column));
        }
        Ok(gather_tables(columns))
    }

    async fn read_text(
        &mut self,
        table: &TableName,
        columns: &[String],
        filter: Option<&str>,
        each: &mut dyn FnMut(usize, &str),
    ) -> Result<(), ToolError> {
        let list: Vec<String> = columns
            .iter()
            .map(|c| format!("{}::text", quote_ident(c)))
            .collect();
        let filter = filter.map(|f| format!(" WHERE ({f})")).unwrap_or_default();
        let sql = format!(
            "SELECT {} FROM {}{filter}",
            list.join(", "),
            quote_table(table)
        );
        let at = table.to_string();
        let mut rows = sqlx::query(AssertSqlSafe(sql))
            .persistent(false)
            .fetch(&mut self.conn);
        while let Some(row) = rows.try_next().await.map_err(|e| pg_error(&at, e))? {
            for i in 0..columns.len() {
                let value: Option<&str> = row.try_get(i).map_err(|e| pg_error(&at, e))?;
                if let Some(value) = value {
                    each(i, value);
                }
            }
        }
        Ok(())
    }
}
