//! AUTO_INCREMENT counters at or below their column's largest key, set forward with `ALTER TABLE ... AUTO_INCREMENT`.
//!
//! The counter is `information_schema.TABLES.AUTO_INCREMENT`, the next
//! value the table hands out. MySQL 8 caches it there for a day by
//! default, so the session asks for fresh figures
//! (`information_schema_stats_expiry = 0`); MariaDB reads it from the
//! engine every time. Left alone: a column that is not the first of any
//! index (MyISAM and Aria then count per group of the columns before it,
//! and the table counter means nothing), and engines whose rows live
//! elsewhere or that do not keep the counter themselves (MERGE,
//! FEDERATED, CONNECT, SPIDER and the like): only InnoDB, MyISAM, Aria
//! and MEMORY tables are checked, and link tables are never opened
//! (`linked`).

use std::collections::HashSet;

use sqlx::mysql::MySqlConnection;
use sqlx::{AssertSqlSafe, Row};

use super::quoted;
use crate::db::mysql::linked::Linked;
use crate::db::mysql::{Flavor, mysql_error, quote_ident};
use crate::exit::ToolError;
use crate::health::{Finding, FindingKind, Inspection};

pub(super) async fn behind(
    conn: &mut MySqlConnection,
    schema: &str,
    flavor: Flavor,
    out: &mut Inspection,
) -> Result<(), ToolError> {
    if flavor == Flavor::MySql {
        // MySQL 8's cache of table statistics; older servers lack the
        // variable and read the engine anyway.
        let _ = sqlx::raw_sql("SET SESSION information_schema_stats_expiry = 0")
            .execute(&mut *conn)
            .await;
    }
    // Link tables (FEDERATED and the like) are left out by name, each query
    // on its own: reading AUTO_INCREMENT or STATISTICS opens a table, and
    // opening a link table logs in to its far server (`linked`).
    let linked = Linked::of_schema(conn, schema).await?;
    let sql = format!(
        "SELECT t.table_name, c.column_name, CAST(t.auto_increment AS CHAR)
         FROM information_schema.tables t
         JOIN information_schema.columns c
           ON c.table_schema = t.table_schema AND c.table_name = t.table_name
          AND c.extra LIKE '%auto_increment%'
         WHERE t.table_schema = ? AND t.table_type IN ('BASE TABLE', 'SYSTEM VERSIONED')
           AND t.engine IN ('InnoDB', 'MyISAM', 'Aria', 'MEMORY')
           AND t.auto_increment IS NOT NULL{}
         ORDER BY t.table_name",
        linked.exclude("t.table_schema", "t.table_name")
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(schema)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| mysql_error("", e))?;
    let sql = format!(
        "SELECT table_name, column_name FROM information_schema.statistics
         WHERE table_schema = ? AND seq_in_index = 1{}",
        linked.exclude("table_schema", "table_name")
    );
    let leading: HashSet<(String, String)> = sqlx::query(AssertSqlSafe(sql))
        .bind(schema)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| mysql_error("", e))?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    for row in rows {
        let (table, column): (String, String) = (row.get(0), row.get(1));
        if !leading.contains(&(table.clone(), column.clone())) {
            continue;
        }
        let next: Option<String> = row.get(2);
        let object = format!("{schema}.{table}");
        let held: Option<String> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT CAST(max({}) AS CHAR) FROM {}",
            quote_ident(&column),
            quoted(schema, &table)
        )))
        .persistent(false)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| mysql_error(&object, e))?;
        let (Some(next), Some(held)) = (parse(next), parse(held)) else {
            continue;
        };
        let Some(repair) = repair(schema, &table, next, held) else {
            continue;
        };
        out.findings.push(
            Finding::new(
                FindingKind::SequenceBehind,
                object,
                format!(
                    "its AUTO_INCREMENT is {next}, but column {schema}.{table}.{column} already holds {held}: the next insert fails on a duplicate key"
                ),
                "information_schema.TABLES.AUTO_INCREMENT and max() of the column",
            )
            .what_to_do(format!("run {repair}"))
            .repair(repair),
        );
    }
    Ok(())
}

/// A whole number as the server spells it (a DECIMAL or FLOAT key is cut).
fn parse(text: Option<String>) -> Option<i128> {
    let text = text?;
    let whole = text.split('.').next().unwrap_or("");
    whole.trim().parse().ok()
}

/// The statement that moves the counter past `held`, when `next` is not
/// already past it.
fn repair(schema: &str, table: &str, next: i128, held: i128) -> Option<String> {
    (held >= next).then(|| {
        format!(
            "ALTER TABLE {} AUTO_INCREMENT = {}",
            quoted(schema, table),
            held + 1
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_counter_at_or_below_the_largest_key_is_repaired() {
        assert_eq!(repair("d", "t", 4, 3), None);
        assert_eq!(repair("d", "t", 1, 0), None);
        assert_eq!(
            repair("d", "t", 3, 3).as_deref(),
            Some("ALTER TABLE `d`.`t` AUTO_INCREMENT = 4")
        );
        assert_eq!(
            repair("d", "o`k", 2, 90).as_deref(),
            Some("ALTER TABLE `d`.`o``k` AUTO_INCREMENT = 91")
        );
        // BIGINT UNSIGNED keys beyond i64.
        assert_eq!(
            parse(Some("18446744073709551615".into())),
            Some(18_446_744_073_709_551_615)
        );
        assert_eq!(parse(Some("12.7".into())), Some(12));
        assert_eq!(parse(None), None);
    }
}
