//! PostgreSQL's side of `vault init`: tables, columns and primary keys from the catalog, the roles holding privileges on the tables (from their ACLs), and a column's values sampled in primary-key order.

use std::collections::BTreeMap;

use sqlx::{AssertSqlSafe, Row};

use super::{Postgres, pg_error};
use crate::exit::ToolError;
use crate::init::{ApplicationRoles, Init, Sample, SurveyedColumn, SurveyedTable, ValueKind};
use crate::names::{TableName, quote_ident, quote_table};

/// The schemas of the database's own tables: not the system's, not an
/// extension's.
const USER_TABLES: &str = "c.relkind IN ('r', 'p') AND NOT c.relispartition
    AND n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname NOT LIKE 'pg\\_%'
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_catalog.pg_class'::regclass
                      AND d.objid = c.oid AND d.deptype = 'e')";

fn kind_of(kind: &str) -> ValueKind {
    match kind {
        "text" => ValueKind::Text,
        "binary" => ValueKind::Binary,
        "temporal" => ValueKind::Temporal,
        _ => ValueKind::Other,
    }
}

impl Init for Postgres {
    async fn survey_tables(&mut self) -> Result<Vec<SurveyedTable>, ToolError> {
        // A domain is judged by its base type; bytea is a document, a
        // string category type text, a date/time category type a date.
        let columns = sqlx::query(AssertSqlSafe(format!(
            "SELECT n.nspname::text, c.relname::text, a.attname::text,
                    pg_catalog.format_type(a.atttypid, a.atttypmod),
                    CASE WHEN b.typname = 'bytea' THEN 'binary'
                         WHEN b.typcategory = 'S' THEN 'text'
                         WHEN b.typcategory = 'D' THEN 'temporal'
                         ELSE 'other' END,
                    NOT a.attnotnull
             FROM pg_catalog.pg_class c
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
             JOIN pg_catalog.pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
             WHERE {USER_TABLES}
             ORDER BY 1, 2, a.attnum"
        )))
        .fetch_all(&mut self.conn)
        .await
        .map_err(|e| pg_error("", e))?;
        let keys = sqlx::query(AssertSqlSafe(format!(
            "SELECT n.nspname::text, c.relname::text,
                    array_agg(a.attname::text ORDER BY k.ord)
             FROM pg_catalog.pg_class c
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_catalog.pg_index i ON i.indrelid = c.oid AND i.indisprimary
             CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
             WHERE {USER_TABLES}
             GROUP BY 1, 2"
        )))
        .fetch_all(&mut self.conn)
        .await
        .map_err(|e| pg_error("", e))?;
        let mut key_of: BTreeMap<(String, String), Vec<String>> = keys
            .into_iter()
            .map(|row| ((row.get(0), row.get(1)), row.get(2)))
            .collect();
        let mut tables: BTreeMap<(String, String), SurveyedTable> = BTreeMap::new();
        for row in columns {
            let (schema, name): (String, String) = (row.get(0), row.get(1));
            let kind: String = row.get(4);
            let entry = tables
                .entry((schema.clone(), name.clone()))
                .or_insert_with(|| SurveyedTable {
                    key: key_of
                        .remove(&(schema.clone(), name.clone()))
                        .unwrap_or_default(),
                    name: TableName {
                        schema: Some(schema),
                        name,
                    },
                    columns: Vec::new(),
                });
            entry.columns.push(SurveyedColumn {
                name: row.get(2),
                data_type: row.get(3),
                kind: kind_of(&kind),
                nullable: row.get(5),
            });
        }
        Ok(tables.into_values().collect())
    }

    async fn application_roles(&mut self) -> Result<ApplicationRoles, ToolError> {
        // Grantees in the ACLs of the database's tables, views and
        // sequences, other than each object's owner, PUBLIC, superusers
        // and the predefined pg_ roles.
        let roles: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT r.rolname::text
             FROM pg_catalog.pg_class c
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a
             JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
             WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
               AND n.nspname NOT IN ('pg_catalog', 'information_schema')
               AND n.nspname NOT LIKE 'pg\\_%'
               AND a.grantee <> c.relowner AND NOT r.rolsuper
               AND r.rolname NOT LIKE 'pg\\_%'
             ORDER BY 1",
        )
        .fetch_all(&mut self.conn)
        .await
        .map_err(|e| pg_error("", e))?;
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
            "SELECT {col}::text FROM {table} WHERE {col} IS NOT NULL ORDER BY {order} LIMIT {limit}",
            col = quote_ident(column),
            table = quote_table(&table.name),
            order = order.join(", "),
        );
        let values: Vec<String> = sqlx::query_scalar(AssertSqlSafe(sql))
            .fetch_all(&mut self.conn)
            .await
            .map_err(|e| pg_error(&table.name.to_string(), e))?;
        Ok(Sample::new(values))
    }
}
