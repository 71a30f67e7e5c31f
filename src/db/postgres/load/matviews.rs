//! Materialized views over restored tables, refreshed inside the restore transaction: a view that reads acceptance's accounts must not go on showing production's.

use sqlx::Row;
use sqlx::postgres::PgConnection;

use super::RestoreState;
use crate::db::postgres::sanitize::MATVIEWS;
use crate::db::postgres::{execute, pg_error};
use crate::exit::ToolError;
use crate::names::quote_ident;

/// Refreshes every populated materialized view that reads a restored table,
/// directly or through views, those nearer the tables first. A line each.
pub(in crate::db::postgres) async fn refresh_dependent(
    conn: &mut PgConnection,
    state: &RestoreState,
) -> Result<Vec<String>, ToolError> {
    let oids: Vec<i64> = sqlx::query_scalar(
        "SELECT to_regclass(t)::oid::int8 FROM unnest($1::text[]) AS t WHERE to_regclass(t) IS NOT NULL",
    )
    .bind(&state.restored)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| pg_error("", e))?;
    let views = sqlx::query(MATVIEWS)
        .bind(&oids)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| pg_error("", e))?;
    let mut lines = Vec::new();
    for view in views {
        let (schema, name): (String, String) = (view.get(0), view.get(1));
        let at = format!("{schema}.{name}");
        execute(
            conn,
            &format!(
                "REFRESH MATERIALIZED VIEW {}.{}",
                quote_ident(&schema),
                quote_ident(&name)
            ),
        )
        .await
        .map_err(|e| {
            ToolError::failed(format!(
                "materialized view {at} reads a restored table and could not be refreshed: {}; nothing was changed",
                e.message
            ))
        })?;
        lines.push(format!(
            "materialized view {at} refreshed: it reads a restored table"
        ));
    }
    Ok(lines)
}
