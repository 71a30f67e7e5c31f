//! Health of large objects: rows that refer to an object that does not exist, and objects that nothing refers to (unlinked by `--fix`, each listed).

use sqlx::AssertSqlSafe;
use sqlx::postgres::PgConnection;

use super::CATALOG;
use crate::db::postgres::large_objects::{id_columns, release};
use crate::db::postgres::{pg_error, qualified};
use crate::exit::ToolError;
use crate::health::{Finding, FindingKind, Inspection};
use crate::names::TableName;

/// How many object ids a finding's detail lists before it says "...".
const LISTED: usize = 100;

/// Columns of type `oid`, a domain over it (the `lo` extension's `lo`), or
/// declared in `large_objects`, whose rows refer to a large object that
/// does not exist. Counted per column; no key or value is shown.
pub(super) async fn dangling(
    conn: &mut PgConnection,
    declared: &[(TableName, String)],
    out: &mut Inspection,
) -> Result<(), ToolError> {
    for column in id_columns(conn, declared).await? {
        let at = column.table.to_string();
        let dangling: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT count(*) FROM (SELECT {} AS id FROM {} t) s WHERE s.id IS NOT NULL AND NOT EXISTS
               (SELECT 1 FROM pg_catalog.pg_largeobject_metadata m WHERE m.oid = s.id)",
            column.id_expr("t"),
            qualified(&column.table),
        )))
        .persistent(false)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| pg_error(&at, e))?;
        if dangling == 0 {
            continue;
        }
        out.findings.push(
            Finding::new(
                FindingKind::DanglingLargeObject,
                format!("{at}.{}", column.column),
                format!(
                    "{dangling} row(s) refer to a large object that does not exist: the document is gone, reading it fails"
                ),
                format!("{CATALOG} (pg_largeobject_metadata) and a count of the column's ids"),
            )
            .what_to_do(
                "restore the documents (a vault captured after this release keeps them: `vault restore --steps restore`), or clear the references",
            ),
        );
    }
    Ok(())
}

/// Large objects that no column refers to: one finding with their count,
/// bytes and ids; its repair unlinks them.
pub(super) async fn unreferenced(
    conn: &mut PgConnection,
    declared: &[(TableName, String)],
    out: &mut Inspection,
) -> Result<(), ToolError> {
    let columns = id_columns(conn, declared).await?;
    let objects = release::unreferenced(conn, &columns).await?;
    if objects.is_empty() {
        return Ok(());
    }
    let bytes: u64 = objects.iter().map(|(_, size)| size).sum();
    let listed: Vec<String> = objects
        .iter()
        .take(LISTED)
        .map(|(id, size)| format!("{id} ({})", crate::units::bytes(*size)))
        .collect();
    let ids: Vec<String> = objects.iter().map(|(id, _)| id.to_string()).collect();
    out.findings.push(
        Finding::new(
            FindingKind::UnreferencedLargeObject,
            "pg_largeobject",
            format!(
                "{} large object(s), {}, that no oid, lo or declared column refers to: {}{}",
                objects.len(),
                crate::units::bytes(bytes),
                listed.join(", "),
                if objects.len() > LISTED { ", ..." } else { "" }
            ),
            format!("{CATALOG} (pg_largeobject_metadata) against every id column"),
        )
        .repair(format!(
            "SELECT pg_catalog.lo_unlink(u.id) FROM unnest('{{{}}}'::pg_catalog.oid[]) AS u(id) \
             WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_largeobject_metadata m WHERE m.oid = u.id)",
            ids.join(",")
        ))
        .what_to_do(
            "check whether a column of another type holds their ids (declare it in `large_objects`); otherwise unlink them with `vault health --fix`",
        ),
    );
    Ok(())
}
