//! MariaDB/MySQL's side of `vault init`: base tables, columns and primary keys from information_schema (link tables left out, never opened), the accounts other than root holding privileges on the database, and a column's values sampled in primary-key order.

use std::collections::BTreeMap;

use sqlx::{AssertSqlSafe, Row};

use super::linked::Linked;
use super::{Mysql, mysql_error, quote_ident};
use crate::exit::ToolError;
use crate::init::{ApplicationRoles, Init, Sample, SurveyedColumn, SurveyedTable, ValueKind};
use crate::names::TableName;

fn kind_of(data_type: &str) -> ValueKind {
    match data_type {
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "enum" | "set" => {
            ValueKind::Text
        }
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => {
            ValueKind::Binary
        }
        "date" | "datetime" | "timestamp" => ValueKind::Temporal,
        _ => ValueKind::Other,
    }
}

/// Text from a column MariaDB may send as a binary string.
fn text(row: &sqlx::mysql::MySqlRow, index: usize) -> Result<String, sqlx::Error> {
    let bytes: Option<Vec<u8>> = row.try_get_unchecked(index)?;
    Ok(String::from_utf8_lossy(&bytes.unwrap_or_default()).into_owned())
}

impl Init for Mysql {
    async fn survey_tables(&mut self) -> Result<Vec<SurveyedTable>, ToolError> {
        let database = self.database().to_owned();
        let linked = Linked::of_schema(&mut self.conn, &database).await?;
        let columns = sqlx::query(AssertSqlSafe(format!(
            "SELECT CAST(c.TABLE_NAME AS CHAR), CAST(c.COLUMN_NAME AS CHAR),
                    CAST(c.COLUMN_TYPE AS CHAR), CAST(LOWER(c.DATA_TYPE) AS CHAR),
                    CAST(c.IS_NULLABLE AS CHAR)
             FROM information_schema.COLUMNS c
             JOIN information_schema.TABLES t
               ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
             WHERE c.TABLE_SCHEMA = ? AND t.TABLE_TYPE = 'BASE TABLE'{}
             ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION",
            linked.exclude("c.TABLE_SCHEMA", "c.TABLE_NAME")
        )))
        .bind(&database)
        .fetch_all(&mut self.conn)
        .await
        .map_err(|e| mysql_error("", e))?;
        let keys = sqlx::query(
            "SELECT CAST(TABLE_NAME AS CHAR), CAST(COLUMN_NAME AS CHAR)
             FROM information_schema.KEY_COLUMN_USAGE
             WHERE TABLE_SCHEMA = ? AND CONSTRAINT_NAME = 'PRIMARY'
             ORDER BY TABLE_NAME, ORDINAL_POSITION",
        )
        .bind(&database)
        .fetch_all(&mut self.conn)
        .await
        .map_err(|e| mysql_error("", e))?;
        let mut key_of: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for row in &keys {
            let (table, column) = (
                text(row, 0).map_err(|e| mysql_error("", e))?,
                text(row, 1).map_err(|e| mysql_error("", e))?,
            );
            key_of.entry(table).or_default().push(column);
        }
        let mut tables: BTreeMap<String, SurveyedTable> = BTreeMap::new();
        for row in &columns {
            let field = |i| text(row, i).map_err(|e| mysql_error("", e));
            let table = field(0)?;
            let entry = tables
                .entry(table.clone())
                .or_insert_with(|| SurveyedTable {
                    key: key_of.remove(&table).unwrap_or_default(),
                    name: TableName {
                        schema: None,
                        name: table.clone(),
                    },
                    columns: Vec::new(),
                });
            entry.columns.push(SurveyedColumn {
                name: field(1)?,
                data_type: field(2)?,
                kind: kind_of(&field(3)?),
                nullable: field(4)? == "YES",
            });
        }
        Ok(tables.into_values().collect())
    }

    async fn application_roles(&mut self) -> Result<ApplicationRoles, ToolError> {
        let database = self.database().to_owned();
        let rows = sqlx::query(
            "SELECT DISTINCT CAST(GRANTEE AS CHAR) FROM (
                 SELECT GRANTEE FROM information_schema.SCHEMA_PRIVILEGES WHERE TABLE_SCHEMA = ?
                 UNION SELECT GRANTEE FROM information_schema.TABLE_PRIVILEGES WHERE TABLE_SCHEMA = ?
                 UNION SELECT GRANTEE FROM information_schema.COLUMN_PRIVILEGES WHERE TABLE_SCHEMA = ?
             ) g WHERE GRANTEE NOT LIKE '''root''@%' ORDER BY 1",
        )
        .bind(&database)
        .bind(&database)
        .bind(&database)
        .fetch_all(&mut self.conn)
        .await
        .map_err(|e| mysql_error("", e))?;
        let roles = rows
            .iter()
            .map(|row| text(row, 0))
            .collect::<Result<Vec<String>, _>>()
            .map_err(|e| mysql_error("", e))?;
        Ok(ApplicationRoles::Found(roles))
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
            "SELECT CAST({col} AS CHAR) FROM {db}.{table} WHERE {col} IS NOT NULL ORDER BY {order} LIMIT {limit}",
            col = quote_ident(column),
            db = quote_ident(self.database()),
            table = quote_ident(&table.name.name),
            order = order.join(", "),
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&mut self.conn)
            .await
            .map_err(|e| mysql_error(&table.name.name, e))?;
        let values = rows
            .iter()
            .map(|row| text(row, 0))
            .collect::<Result<Vec<String>, _>>()
            .map_err(|e| mysql_error(&table.name.name, e))?;
        Ok(Sample::new(values))
    }
}
