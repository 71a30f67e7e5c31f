//! MariaDB/MySQL's half of the leak scan: base tables of the database with their columns from information_schema (character, text, JSON, ENUM and SET types are text; binary and BLOB types are bytes), link tables left out unopened, and columns read as text, streamed.

use futures_util::TryStreamExt;
use sqlx::{AssertSqlSafe, Row};

use super::linked::Linked;
use super::{Mysql, mysql_error};
use crate::exit::ToolError;
use crate::leak_scan::{LeakScan, ScanColumn, ScanTable, gather_tables};
use crate::names::{TableName, quote_ident};

const TEXT_TYPES: [&str; 9] = [
    "char",
    "varchar",
    "tinytext",
    "text",
    "mediumtext",
    "longtext",
    "json",
    "enum",
    "set",
];
const BINARY_TYPES: [&str; 6] = [
    "binary",
    "varbinary",
    "tinyblob",
    "blob",
    "mediumblob",
    "longblob",
];

impl LeakScan for Mysql {
    async fn scan_tables(&mut self) -> Result<Vec<ScanTable>, ToolError> {
        let database = self.database().to_owned();
        let linked = Linked::of_schema(&mut self.conn, &database).await?;
        let sql = format!(
            "SELECT CAST(c.table_name AS CHAR), CAST(c.column_name AS CHAR), CAST(c.data_type AS CHAR)
             FROM information_schema.columns c
             JOIN information_schema.tables t
               ON t.table_schema = c.table_schema AND t.table_name = c.table_name
             WHERE c.table_schema = ? AND t.table_type = 'BASE TABLE'{}
             ORDER BY c.table_name, c.ordinal_position",
            linked.exclude("c.table_schema", "c.table_name")
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(&database)
            .fetch_all(&mut self.conn)
            .await
            .map_err(|e| mysql_error("", e))?;
        let mut columns = Vec::new();
        for row in rows {
            let table = TableName {
                schema: None,
                name: row.try_get(0).map_err(|e| mysql_error("", e))?,
            };
            let data_type: String = row.try_get(2).map_err(|e| mysql_error("", e))?;
            let data_type = data_type.to_ascii_lowercase();
            let column = ScanColumn {
                name: row.try_get(1).map_err(|e| mysql_error("", e))?,
                text: TEXT_TYPES.contains(&data_type.as_str()),
                binary: BINARY_TYPES.contains(&data_type.as_str()),
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
            .map(|c| format!("CAST({} AS CHAR)", quote_ident(c)))
            .collect();
        let filter = filter.map(|f| format!(" WHERE ({f})")).unwrap_or_default();
        let schema = table
            .schema
            .clone()
            .unwrap_or_else(|| self.database().to_owned());
        let sql = format!(
            "SELECT {} FROM {}.{}{filter}",
            list.join(", "),
            quote_ident(&schema),
            quote_ident(&table.name)
        );
        let at = table.to_string();
        let mut rows = sqlx::query(AssertSqlSafe(sql))
            .persistent(false)
            .fetch(&mut self.conn);
        while let Some(row) = rows.try_next().await.map_err(|e| mysql_error(&at, e))? {
            for i in 0..columns.len() {
                let value: Option<String> = row.try_get(i).map_err(|e| mysql_error(&at, e))?;
                if let Some(value) = value {
                    each(i, &value);
                }
            }
        }
        Ok(())
    }
}
