//! The references a database holds at a moment, and the large objects that lost theirs (after a restore or a sanitize) or never had any (for health): found with their sizes, and unlinked.

use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Row};

use super::{INV_READ, IdColumn, references_sql};
use crate::db::postgres::{execute, pg_error};
use crate::exit::ToolError;

/// Notes, in the temporary table `name` (dropped at the end of the
/// transaction), every id that `columns` hold now.
pub async fn note(
    conn: &mut PgConnection,
    name: &str,
    columns: &[IdColumn],
) -> Result<(), ToolError> {
    execute(
        conn,
        &format!(
            "DROP TABLE IF EXISTS {name}; CREATE TEMP TABLE {name} ON COMMIT DROP AS SELECT DISTINCT u.id FROM ({}) u",
            references_sql(columns)
        ),
    )
    .await
}

/// The objects that exist, were referred to when `before` was noted, and
/// that nothing refers to now (nor `keep`, a query of ids), with their
/// sizes in bytes, by id.
pub async fn released(
    conn: &mut PgConnection,
    before: &str,
    columns: &[IdColumn],
    keep: Option<&str>,
) -> Result<Vec<(u32, u64)>, ToolError> {
    let keep = keep.map(|k| format!(" EXCEPT {k}")).unwrap_or_default();
    let ids = format!(
        "SELECT g.id FROM (SELECT id FROM {before} EXCEPT SELECT id FROM ({}) now{keep}) g
         WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_largeobject_metadata m WHERE m.oid = g.id)",
        references_sql(columns)
    );
    sized(conn, &ids).await
}

/// The objects that nothing refers to, with their sizes, by id.
pub async fn unreferenced(
    conn: &mut PgConnection,
    columns: &[IdColumn],
) -> Result<Vec<(u32, u64)>, ToolError> {
    let ids = format!(
        "SELECT m.oid AS id FROM pg_catalog.pg_largeobject_metadata m EXCEPT SELECT id FROM ({}) now",
        references_sql(columns)
    );
    sized(conn, &ids).await
}

/// How many objects nothing refers to; without reading them.
pub async fn count_unreferenced(
    conn: &mut PgConnection,
    columns: &[IdColumn],
) -> Result<u64, ToolError> {
    let sql = format!(
        "SELECT count(*) FROM (SELECT m.oid AS id FROM pg_catalog.pg_largeobject_metadata m
                               EXCEPT SELECT id FROM ({}) now) g",
        references_sql(columns)
    );
    let count: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
        .persistent(false)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| pg_error("", e))?;
    Ok(count as u64)
}

/// The objects `ids` (a query of one column `id`) with their sizes, by id.
/// Each is opened for reading, its end sought and closed again, row after
/// row (a subquery that calls a volatile function is never flattened), so
/// that no descriptor outlives its row.
async fn sized(conn: &mut PgConnection, ids: &str) -> Result<Vec<(u32, u64)>, ToolError> {
    let sql = format!(
        "SELECT g.id::int8, s.size FROM ({ids}) g
         CROSS JOIN LATERAL (SELECT pg_catalog.lo_open(g.id, {INV_READ}) AS fd) o
         CROSS JOIN LATERAL (SELECT pg_catalog.lo_lseek64(o.fd, 0, 2) AS size) s
         CROSS JOIN LATERAL (SELECT pg_catalog.lo_close(o.fd) AS closed WHERE s.size IS NOT NULL) c
         ORDER BY 1"
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .persistent(false)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| pg_error("", e))?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let (id, size): (i64, i64) = (row.get(0), row.get(1));
            (id as u32, size as u64)
        })
        .collect())
}

/// Unlinks the objects, in the open transaction.
pub async fn unlink(conn: &mut PgConnection, objects: &[(u32, u64)]) -> Result<(), ToolError> {
    if objects.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = objects.iter().map(|(id, _)| i64::from(*id)).collect();
    sqlx::query("SELECT count(pg_catalog.lo_unlink(id::oid)) FROM unnest($1::int8[]) AS u(id)")
        .bind(ids)
        .execute(&mut *conn)
        .await
        .map_err(|e| pg_error("", e))?;
    Ok(())
}
