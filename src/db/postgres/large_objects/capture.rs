//! Capture: the large objects that a preserved table's rows refer to, read in pieces inside the capture's snapshot, each with its owner and privileges, into one stream per table.

use std::io::Write;

use serde::{Deserialize, Serialize};
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Row};
use vault_format::VaultWriter;

use super::record::{Header, Privilege, write_header};
use super::{INV_READ, IdColumn, PIECE, id_columns};
use crate::config::Config;
use crate::db::postgres::{pg_error, qualified};
use crate::exit::ToolError;
use crate::names::TableName;

/// The `kind` of a large-object stream's metadata.
pub const KIND: &str = "pg-large-objects";

/// How a large-object stream's bytes are laid out (record.rs).
const ENCODING: &str = "pg-large-objects-v1";

/// One column of a table whose objects a stream holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamColumn {
    pub name: String,
    pub oid_typed: bool,
}

/// References to objects that did not exist at capture: restored as they
/// were, reported by `vault health`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Missing {
    pub column: String,
    pub rows: u64,
    pub ids: Vec<u32>,
}

/// The metadata of a large-object stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamMeta {
    pub kind: String,
    pub encoding: String,
    pub table: TableName,
    pub columns: Vec<StreamColumn>,
    pub objects: u64,
    pub missing: Vec<Missing>,
}

/// The stream that holds a table's large objects.
pub fn stream_name(table: &TableName) -> String {
    format!("large-objects/{table}")
}

/// Captures, for every preserved table with large-object columns, the
/// objects its rows in scope refer to. Returns a line per table, and a
/// warning per column whose rows refer to objects that do not exist.
pub async fn capture(
    conn: &mut PgConnection,
    config: &Config,
    writer: &VaultWriter,
) -> Result<Vec<String>, ToolError> {
    let mut lines = Vec::new();
    for preserve in &config.preserve {
        let table = TableName::parse(&preserve.table);
        let declared: Vec<(TableName, String)> = preserve
            .large_objects
            .iter()
            .map(|c| (table.clone(), c.clone()))
            .collect();
        let columns = table_columns(conn, &table, &declared).await?;
        if columns.is_empty() {
            continue;
        }
        let filter = preserve.filter.as_deref();
        let missing = missing(conn, &table, &columns, filter).await?;
        for m in &missing {
            let shown: Vec<String> = m.ids.iter().take(10).map(|id| id.to_string()).collect();
            lines.push(format!(
                "warning: table {table}, column {}: {} row(s) refer to large objects that do not exist (ids {}{}); the vault records the references without contents, and `vault health` will report them",
                m.column,
                m.rows,
                shown.join(", "),
                if m.ids.len() > shown.len() { ", ..." } else { "" }
            ));
        }
        let ids = object_ids(conn, &table, &columns, filter).await?;
        let meta = StreamMeta {
            kind: KIND.into(),
            encoding: ENCODING.into(),
            table: table.clone(),
            columns: columns
                .iter()
                .map(|c| StreamColumn {
                    name: c.column.clone(),
                    oid_typed: c.oid_typed,
                })
                .collect(),
            objects: ids.len() as u64,
            missing,
        };
        let metadata = serde_json::to_value(&meta).expect("metadata serializes");
        let mut stream = writer.stream(&stream_name(&table), metadata)?;
        let mut bytes = 0u64;
        for &id in &ids {
            crate::interrupt::check(&format!("while capturing the large objects of {table}"))?;
            bytes += copy_object(conn, &table, id, &mut stream).await?;
        }
        stream.add_rows(ids.len() as u64);
        stream.finish()?;
        let names: Vec<&str> = columns.iter().map(|c| c.column.as_str()).collect();
        lines.push(format!(
            "large objects of {table} ({}): {} object(s), {}",
            names.join(", "),
            ids.len(),
            crate::units::bytes(bytes)
        ));
    }
    Ok(lines)
}

/// The table's columns that hold large-object ids; a declared column that
/// the table does not have is a usage error.
async fn table_columns(
    conn: &mut PgConnection,
    table: &TableName,
    declared: &[(TableName, String)],
) -> Result<Vec<IdColumn>, ToolError> {
    let qualified_name = qualified(table);
    let mut columns: Vec<IdColumn> = id_columns(conn, declared)
        .await?
        .into_iter()
        .filter(|c| qualified(&c.table) == qualified_name)
        .collect();
    for (_, column) in declared {
        if !columns.iter().any(|c| &c.column == column) {
            return Err(ToolError::usage(format!(
                "table {table}: `large_objects` names the column {column}, which the table does not have; nothing was captured"
            ))
            .hint("correct `large_objects` in the configuration"));
        }
    }
    // The declared columns come first in `id_columns` only when they are
    // not `oid` columns already; keep the table's own order stable.
    columns.sort_by(|a, b| a.column.cmp(&b.column));
    columns.dedup_by(|a, b| a.column == b.column);
    Ok(columns)
}

/// `FROM table t WHERE (filter)`.
fn from_scope(table: &TableName, filter: Option<&str>) -> String {
    match filter {
        Some(filter) => format!("FROM {} t WHERE ({filter})", qualified(table)),
        None => format!("FROM {} t", qualified(table)),
    }
}

/// Per column, the rows in scope whose id names no object.
async fn missing(
    conn: &mut PgConnection,
    table: &TableName,
    columns: &[IdColumn],
    filter: Option<&str>,
) -> Result<Vec<Missing>, ToolError> {
    let mut found = Vec::new();
    for column in columns {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT count(*)::int8, coalesce(array_agg(DISTINCT s.id::int8), '{{}}')
             FROM (SELECT {} AS id {}) s
             WHERE s.id IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_largeobject_metadata m WHERE m.oid = s.id)",
            column.id_expr("t"),
            from_scope(table, filter)
        )))
        .persistent(false)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| pg_error(&table.to_string(), e))?;
        let rows: i64 = row.get(0);
        if rows == 0 {
            continue;
        }
        let ids: Vec<i64> = row.get(1);
        found.push(Missing {
            column: column.column.clone(),
            rows: rows as u64,
            ids: ids.into_iter().map(|id| id as u32).collect(),
        });
    }
    Ok(found)
}

/// The ids of the existing objects the rows in scope refer to, each once.
async fn object_ids(
    conn: &mut PgConnection,
    table: &TableName,
    columns: &[IdColumn],
    filter: Option<&str>,
) -> Result<Vec<u32>, ToolError> {
    let parts: Vec<String> = columns
        .iter()
        .map(|c| {
            format!(
                "SELECT {} AS id {}",
                c.id_expr("t"),
                from_scope(table, filter)
            )
        })
        .collect();
    let ids: Vec<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT DISTINCT s.id::int8 FROM ({}) s
         WHERE s.id IS NOT NULL
           AND EXISTS (SELECT 1 FROM pg_catalog.pg_largeobject_metadata m WHERE m.oid = s.id)
         ORDER BY 1",
        parts.join(" UNION ALL ")
    )))
    .persistent(false)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| pg_error(&table.to_string(), e))?;
    Ok(ids.into_iter().map(|id| id as u32).collect())
}

/// Writes one object (header, then contents read in pieces) into the
/// stream; returns its length.
async fn copy_object(
    conn: &mut PgConnection,
    table: &TableName,
    id: u32,
    out: &mut vault_format::StreamWriter,
) -> Result<u64, ToolError> {
    let at = table.to_string();
    let denied = |e: sqlx::Error| {
        pg_error(&at, e).hint(
            "capture as the objects' owner or a superuser, or grant SELECT on the large objects to the capturing role",
        )
    };
    let row = sqlx::query(
        "SELECT pg_catalog.pg_get_userbyid(m.lomowner)::text,
                CASE WHEN m.lomacl IS NULL THEN NULL ELSE
                  (SELECT coalesce(json_agg(json_build_array(
                            CASE WHEN a.grantee = 0 THEN '' ELSE pg_catalog.pg_get_userbyid(a.grantee)::text END,
                            a.privilege_type, a.is_grantable)), '[]')::text
                   FROM pg_catalog.aclexplode(m.lomacl) a) END
         FROM pg_catalog.pg_largeobject_metadata m WHERE m.oid = $1::int8::oid",
    )
    .bind(i64::from(id))
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| pg_error(&at, e))?;
    let owner: String = row.get(0);
    let acl: Option<String> = row.get(1);
    let acl = acl.map(|text| {
        serde_json::from_str::<Vec<(String, String, bool)>>(&text)
            .unwrap_or_default()
            .into_iter()
            .map(|(grantee, privilege, grantable)| Privilege {
                grantee,
                privilege,
                grantable,
            })
            .collect()
    });
    let fd: i32 = sqlx::query_scalar("SELECT pg_catalog.lo_open($1::int8::oid, $2)")
        .bind(i64::from(id))
        .bind(INV_READ)
        .fetch_one(&mut *conn)
        .await
        .map_err(denied)?;
    let length: i64 = sqlx::query_scalar("SELECT pg_catalog.lo_lseek64($1, 0, 2)")
        .bind(fd)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| pg_error(&at, e))?;
    sqlx::query("SELECT pg_catalog.lo_lseek64($1, 0, 0)")
        .bind(fd)
        .execute(&mut *conn)
        .await
        .map_err(|e| pg_error(&at, e))?;
    let header = Header {
        id,
        owner,
        acl,
        length: length as u64,
    };
    write_header(out, &header).map_err(|e| ToolError::failed(format!("table {at}: {e}")))?;
    let mut written = 0u64;
    while written < header.length {
        let piece: Vec<u8> = sqlx::query_scalar("SELECT pg_catalog.loread($1, $2)")
            .bind(fd)
            .bind(PIECE as i32)
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| pg_error(&at, e))?;
        if piece.is_empty() {
            break;
        }
        let take = piece.len().min((header.length - written) as usize);
        out.write_all(&piece[..take])
            .map_err(|e| ToolError::failed(format!("table {at}: {e}")))?;
        written += take as u64;
    }
    if written != header.length {
        return Err(ToolError::failed(format!(
            "table {at}: large object {id} ended after {written} of {} bytes",
            header.length
        )));
    }
    sqlx::query("SELECT pg_catalog.lo_close($1)")
        .bind(fd)
        .execute(&mut *conn)
        .await
        .map_err(|e| pg_error(&at, e))?;
    Ok(written)
}
