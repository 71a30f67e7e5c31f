//! SQLite's code objects: the views and triggers of the main schema, read from `sqlite_schema` (the statement as written is the definition), and the kept ones created again inside the restore transaction, after the restored tables' own triggers.

use sqlx::sqlite::SqliteConnection;
use sqlx::{AssertSqlSafe, Row};

use super::{Sqlite, query_error};
use crate::exit::ToolError;
use crate::names::quote_ident;
use crate::objects::{CodeObject, CodeObjects, KeptObject, ObjectChange, digest_of};

/// Every view and trigger of `main`, with its statement.
async fn catalogue(conn: &mut SqliteConnection) -> Result<Vec<(CodeObject, String)>, ToolError> {
    let rows = sqlx::query(
        "SELECT type, name, tbl_name, sql FROM main.sqlite_schema
         WHERE type IN ('view', 'trigger') AND sql IS NOT NULL ORDER BY type, name",
    )
    .fetch_all(conn)
    .await
    .map_err(|e| query_error("sqlite_schema", e))?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let (kind, name, table, sql): (String, String, String, String) =
                (row.get(0), row.get(1), row.get(2), row.get(3));
            let detail = match kind.as_str() {
                "trigger" => format!(" on main.{table}"),
                _ => String::new(),
            };
            let object = CodeObject {
                digest: digest_of(&[&sql]),
                kind,
                name: format!("main.{name}"),
                detail,
            };
            (object, sql)
        })
        .collect())
}

impl CodeObjects for Sqlite {
    async fn code_objects(&mut self) -> Result<Vec<CodeObject>, ToolError> {
        Ok(catalogue(&mut self.conn)
            .await?
            .into_iter()
            .map(|(o, _)| o)
            .collect())
    }

    async fn definitions(&mut self, objects: &[CodeObject]) -> Result<Vec<KeptObject>, ToolError> {
        Ok(catalogue(&mut self.conn)
            .await?
            .into_iter()
            .filter(|(o, _)| objects.iter().any(|k| k.same(o)))
            .map(|(object, sql)| {
                let name = object.name.trim_start_matches("main.");
                let drop = format!(
                    "DROP {} IF EXISTS main.{}",
                    object.kind.to_uppercase(),
                    quote_ident(name)
                );
                KeptObject {
                    object,
                    drop: Some(drop),
                    create: sql,
                    grants: Vec::new(),
                    sql_mode: None,
                }
            })
            .collect())
    }

    fn recreated_objects(&mut self) -> Vec<ObjectChange> {
        std::mem::take(&mut self.recreated)
    }
}

/// Inside the restore transaction, before its commit: creates again each
/// kept object the database does not hold as captured; a failure fails
/// the restore, which is then rolled back.
pub(super) async fn recreate(
    conn: &mut SqliteConnection,
    kept: &[KeptObject],
) -> Result<Vec<ObjectChange>, ToolError> {
    if kept.is_empty() {
        return Ok(Vec::new());
    }
    let now: Vec<CodeObject> = catalogue(conn).await?.into_iter().map(|(o, _)| o).collect();
    let mut done = Vec::new();
    for (object, change) in crate::objects::to_recreate(kept, &now) {
        for statement in object.drop.iter().chain(std::iter::once(&object.create)) {
            sqlx::raw_sql(AssertSqlSafe(statement.clone()))
                .execute(&mut *conn)
                .await
                .map_err(|e| {
                    ToolError::failed(format!(
                        "{} could not be re-created from the vault: {}",
                        change.object,
                        query_error("", e).message
                    ))
                })?;
        }
        done.push(change);
    }
    Ok(done)
}
