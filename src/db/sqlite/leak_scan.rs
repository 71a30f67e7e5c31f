//! SQLite's half of the leak scan: the database's tables with their columns (a declared type with text affinity, JSON, or none is text; BLOB is bytes), and columns read as text, streamed; a value stored as a BLOB is never read.

use futures_util::TryStreamExt;
use sqlx::{AssertSqlSafe, Row};

use super::{Sqlite, query_error};
use crate::exit::ToolError;
use crate::leak_scan::{LeakScan, ScanColumn, ScanTable, gather_tables};
use crate::names::{TableName, quote_ident};

impl LeakScan for Sqlite {
    async fn scan_tables(&mut self) -> Result<Vec<ScanTable>, ToolError> {
        let rows = sqlx::query(
            "SELECT m.name, p.name, upper(p.type)
             FROM sqlite_schema m, pragma_table_info(m.name) p
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
             ORDER BY m.name, p.cid",
        )
        .fetch_all(&mut self.conn)
        .await
        .map_err(|e| query_error("", e))?;
        let mut columns = Vec::new();
        for row in rows {
            let table = TableName {
                schema: None,
                name: row.get(0),
            };
            let declared: String = row.get(2);
            let column = ScanColumn {
                name: row.get(1),
                text: declared.is_empty()
                    || ["CHAR", "CLOB", "TEXT", "JSON"]
                        .iter()
                        .any(|t| declared.contains(t)),
                binary: declared.contains("BLOB"),
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
            .map(|c| {
                let c = quote_ident(c);
                format!("CASE WHEN typeof({c}) = 'blob' THEN NULL ELSE CAST({c} AS TEXT) END")
            })
            .collect();
        let filter = filter.map(|f| format!(" WHERE ({f})")).unwrap_or_default();
        let sql = format!(
            "SELECT {} FROM {}{filter}",
            list.join(", "),
            quote_ident(&table.name)
        );
        let at = table.to_string();
        let mut rows = sqlx::query(AssertSqlSafe(sql))
            .persistent(false)
            .fetch(&mut self.conn);
        while let Some(row) = rows.try_next().await.map_err(|e| query_error(&at, e))? {
            for i in 0..columns.len() {
                let value: Option<String> = row.try_get(i).map_err(|e| query_error(&at, e))?;
                if let Some(value) = value {
                    each(i, &value);
                }
            }
        }
        Ok(())
    }
}
