//! SQLite's side of `vault init`: tables, columns (judged by their declared type's affinity) and primary keys from `sqlite_schema` and `pragma_table_xinfo`, no roles, and a column's values sampled in primary-key order.

use sqlx::{AssertSqlSafe, Row};

use super::{Sqlite, query_error};
use crate::exit::ToolError;
use crate::init::{ApplicationRoles, Init, Sample, SurveyedColumn, SurveyedTable, ValueKind};
use crate::names::{TableName, quote_ident};

/// A declared type's kind, by SQLite's own affinity rules, with dates and
/// times (stored as text or numbers) told apart by their name.
fn kind_of(declared: &str) -> ValueKind {
    let upper = declared.to_ascii_uppercase();
    if upper.contains("INT") {
        ValueKind::Other
    } else if upper.contains("DATE") || upper.contains("TIME") {
        ValueKind::Temporal
    } else if upper.contains("CHAR") || upper.contains("CLOB") || upper.contains("TEXT") {
        ValueKind::Text
    } else if upper.contains("BLOB") {
        ValueKind::Binary
    } else {
        ValueKind::Other
    }
}

impl Init for Sqlite {
    async fn survey_tables(&mut self) -> Result<Vec<SurveyedTable>, ToolError> {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM main.sqlite_schema
             WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
               AND upper(coalesce(sql, '')) NOT LIKE 'CREATE VIRTUAL%'
             ORDER BY name",
        )
        .fetch_all(&mut self.conn)
        .await
        .map_err(|e| query_error("sqlite_schema", e))?;
        let mut tables = Vec::new();
        for name in names {
            let rows = sqlx::query(
                "SELECT name, type, \"notnull\", pk FROM pragma_table_xinfo(?1)
                 WHERE hidden IN (0, 2, 3) ORDER BY cid",
            )
            .bind(&name)
            .fetch_all(&mut self.conn)
            .await
            .map_err(|e| query_error(&name, e))?;
            let mut key: Vec<(i64, String)> = Vec::new();
            let mut columns = Vec::new();
            for row in rows {
                let column: String = row.get(0);
                let declared: String = row.get(1);
                let pk: i64 = row.get(3);
                if pk > 0 {
                    key.push((pk, column.clone()));
                }
                columns.push(SurveyedColumn {
                    kind: kind_of(&declared),
                    data_type: if declared.is_empty() {
                        "(no type)".into()
                    } else {
                        declared
                    },
                    nullable: row.get::<i64, _>(2) == 0,
                    name: column,
                });
            }
            key.sort();
            tables.push(SurveyedTable {
                name: TableName { schema: None, name },
                columns,
                key: key.into_iter().map(|(_, c)| c).collect(),
            });
        }
        Ok(tables)
    }

    async fn application_roles(&mut self) -> Result<ApplicationRoles, ToolError> {
        Ok(ApplicationRoles::NotApplicable(
            "SQLite has no roles or grants; there is nothing to capture",
        ))
    }

    async fn sample_values(
        &mut self,
        table: &SurveyedTable,
        column: &str,
        limit: u32,
    ) -> Result<Sample, ToolError> {
        let order: Vec<String> = if table.key.is_empty() {
            vec![quote_ident(column)]
        } else {
            table.key.iter().map(|k| quote_ident(k)).collect()
        };
        let sql = format!(
            "SELECT CAST({col} AS TEXT) FROM main.{table} WHERE {col} IS NOT NULL ORDER BY {order} LIMIT {limit}",
            col = quote_ident(column),
            table = quote_ident(&table.name.name),
            order = order.join(", "),
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&mut self.conn)
            .await
            .map_err(|e| query_error(&table.name.name, e))?;
        let mut values = Vec::with_capacity(rows.len());
        for row in &rows {
            let bytes: Vec<u8> = row
                .try_get_unchecked(0)
                .map_err(|e| query_error(&table.name.name, e))?;
            values.push(String::from_utf8_lossy(&bytes).into_owned());
        }
        Ok(Sample::new(values))
    }
}
