//! Tables whose engine connects to another server when the table is opened (FEDERATED, CONNECT, SPIDER): found without opening any table, and kept out of every catalogue query that would open them.
//!
//! MariaDB answers a query on information_schema from each table's
//! definition alone when the query asks only for names, types, engines,
//! columns, triggers, routines, views or events. Asking for statistics
//! (AUTO_INCREMENT, TABLE_ROWS, sizes, times), for STATISTICS,
//! KEY_COLUMN_USAGE, TABLE_CONSTRAINTS, REFERENTIAL_CONSTRAINTS or
//! PARTITIONS, or running `SHOW TABLE STATUS`, opens every table the
//! query's name conditions let through, and opening a FEDERATED table logs
//! in to its far server with the link's credentials. The server applies a
//! condition on TABLE_SCHEMA and TABLE_NAME alone before opening a table,
//! when that condition stands on its own in the query's WHERE (not inside a
//! join or a subquery): [`Linked::exclude`] writes such a condition.

use sqlx::Row;
use sqlx::mysql::MySqlConnection;

use super::mysql_error;
use crate::exit::ToolError;

/// The engines whose tables live on another server.
const LINK_ENGINES: &str = "('FEDERATED', 'CONNECT', 'SPIDER')";

/// The link tables of one database, or of the whole server.
#[derive(Debug, Default, Clone)]
pub(crate) struct Linked {
    /// (schema, table), in the order the catalogue gave them.
    tables: Vec<(String, String)>,
}

impl Linked {
    /// The link tables of `schema`.
    pub(crate) async fn of_schema(
        conn: &mut MySqlConnection,
        schema: &str,
    ) -> Result<Self, ToolError> {
        let sql = format!(
            "SELECT CAST(table_schema AS CHAR), CAST(table_name AS CHAR)
             FROM information_schema.tables
             WHERE table_schema = ? AND engine IN {LINK_ENGINES}"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(schema)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| mysql_error("", e))?;
        Ok(Self::from_rows(rows))
    }

    /// The link tables of every database on the server.
    pub(crate) async fn of_server(conn: &mut MySqlConnection) -> Result<Self, ToolError> {
        let sql = format!(
            "SELECT CAST(table_schema AS CHAR), CAST(table_name AS CHAR)
             FROM information_schema.tables WHERE engine IN {LINK_ENGINES}"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| mysql_error("", e))?;
        Ok(Self::from_rows(rows))
    }

    fn from_rows(rows: Vec<sqlx::mysql::MySqlRow>) -> Self {
        Self {
            tables: rows.iter().map(|r| (r.get(0), r.get(1))).collect(),
        }
    }

    /// Whether there is no link table.
    pub(crate) fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// Whether `schema.table` is a link table.
    pub(crate) fn contains(&self, schema: &str, table: &str) -> bool {
        self.tables.iter().any(|(s, t)| s == schema && t == table)
    }

    /// ` AND NOT (...)`, leaving the link tables out by the query's
    /// `schema` and `table` columns; empty when there are none.
    pub(crate) fn exclude(&self, schema: &str, table: &str) -> String {
        if self.tables.is_empty() {
            return String::new();
        }
        let each: Vec<String> = self
            .tables
            .iter()
            .map(|(s, t)| format!("({schema} = {} AND {table} = {})", literal(s), literal(t)))
            .collect();
        format!(" AND NOT ({})", each.join(" OR "))
    }
}

/// A string literal (backslashes doubled: the session keeps them as escapes).
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_condition_names_each_link_table_quoted() {
        assert_eq!(Linked::default().exclude("s", "t"), "");
        let linked = Linked {
            tables: vec![("d".into(), "fed".into()), ("d".into(), "o'k\\".into())],
        };
        assert_eq!(
            linked.exclude("k.table_schema", "k.table_name"),
            " AND NOT ((k.table_schema = 'd' AND k.table_name = 'fed') OR (k.table_schema = 'd' AND k.table_name = 'o''k\\\\'))"
        );
        assert!(linked.contains("d", "fed"));
        assert!(!linked.contains("e", "fed"));
    }
}
