//! The references check before COMMIT: with foreign-key checks off for the restoring session, every foreign key from or to a restored table is checked by query.

use sqlx::mysql::MySqlConnection;
use sqlx::{AssertSqlSafe, Row};

use crate::db::mysql::linked::Linked;
use crate::db::mysql::{mysql_error, quote_ident};
use crate::exit::ToolError;
use crate::names::TableInfo;

/// One foreign key: child table, parent table, column pairs.
struct ForeignKey {
    name: String,
    child: (String, String),
    parent: (String, String),
    columns: Vec<(String, String)>,
}

/// Every foreign key from or to one of the restored tables.
async fn foreign_keys(
    conn: &mut MySqlConnection,
    database: &str,
    tables: &[TableInfo],
) -> Result<Vec<ForeignKey>, ToolError> {
    let mut keys: Vec<ForeignKey> = Vec::new();
    // The referenced side is no condition on a table's name: without this
    // every table of the server would be opened, link tables too (`linked`).
    let linked = Linked::of_server(&mut *conn).await?;
    let sql = format!(
        "SELECT constraint_name, table_schema, table_name, column_name,
                referenced_table_schema, referenced_table_name, referenced_column_name
         FROM information_schema.key_column_usage
         WHERE referenced_table_name IS NOT NULL
           AND ((table_schema = ? AND table_name = ?)
                OR (referenced_table_schema = ? AND referenced_table_name = ?)){}
         ORDER BY table_schema, table_name, constraint_name, ordinal_position",
        linked.exclude("table_schema", "table_name")
    );
    for table in tables {
        let schema = table.name.schema.as_deref().unwrap_or(database);
        let rows = sqlx::query(AssertSqlSafe(sql.clone()))
            .bind(schema)
            .bind(&table.name.name)
            .bind(schema)
            .bind(&table.name.name)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| mysql_error(&table.name.to_string(), e))?;
        for row in rows {
            let get = |i: usize| -> Result<String, ToolError> {
                row.try_get(i).map_err(|e| mysql_error("", e))
            };
            let (name, child, parent) = (get(0)?, (get(1)?, get(2)?), (get(4)?, get(5)?));
            let pair = (get(3)?, get(6)?);
            match keys.iter_mut().find(|k| k.name == name && k.child == child) {
                Some(key) if key.parent == parent => {
                    if !key.columns.contains(&pair) {
                        key.columns.push(pair);
                    }
                }
                Some(_) => {}
                None => keys.push(ForeignKey {
                    name,
                    child,
                    parent,
                    columns: vec![pair],
                }),
            }
        }
    }
    Ok(keys)
}

/// With foreign-key checks off, every reference from or to a restored
/// table is checked by query before the commit.
pub(super) async fn check_references(
    conn: &mut MySqlConnection,
    database: &str,
    tables: &[TableInfo],
) -> Result<(), ToolError> {
    let restored = |schema: &str, name: &str| {
        tables
            .iter()
            .any(|t| t.name.name == name && t.name.schema.as_deref().unwrap_or(database) == schema)
    };
    for key in foreign_keys(conn, database, tables).await? {
        let child = format!(
            "{}.{}",
            quote_ident(&key.child.0),
            quote_ident(&key.child.1)
        );
        let parent = format!(
            "{}.{}",
            quote_ident(&key.parent.0),
            quote_ident(&key.parent.1)
        );
        let not_null: Vec<String> = key
            .columns
            .iter()
            .map(|(c, _)| format!("vault_child.{} IS NOT NULL", quote_ident(c)))
            .collect();
        let matched: Vec<String> = key
            .columns
            .iter()
            .map(|(c, p)| {
                format!(
                    "vault_parent.{} = vault_child.{}",
                    quote_ident(p),
                    quote_ident(c)
                )
            })
            .collect();
        let broken = sqlx::raw_sql(AssertSqlSafe(format!(
            "SELECT 1 FROM {child} vault_child WHERE {} AND NOT EXISTS
               (SELECT 1 FROM {parent} vault_parent WHERE {}) LIMIT 1",
            not_null.join(" AND "),
            matched.join(" AND ")
        )))
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| mysql_error(&key.child.1, e))?;
        if broken.is_none() {
            continue;
        }
        let name = |(schema, table): &(String, String)| {
            if schema == database {
                table.clone()
            } else {
                format!("{schema}.{table}")
            }
        };
        let (c, p) = (name(&key.child), name(&key.parent));
        return Err(if restored(&key.child.0, &key.child.1) {
            ToolError::failed(format!(
                "table {c}: restored rows refer to rows of {p} that are not there (foreign key {}); nothing was changed",
                key.name
            ))
            .hint("preserve the parent table too, or narrow this table's `where`")
        } else {
            ToolError::failed(format!(
                "table {c}: rows refer to rows of {p} that the restore removed (foreign key {}); nothing was changed",
                key.name
            ))
            .hint(format!(
                "preserve {c} too, or narrow the `where` of {p} to the rows acceptance owns (a mode that removes no row would keep production's rows, credentials included)"
            ))
        });
    }
    Ok(())
}
