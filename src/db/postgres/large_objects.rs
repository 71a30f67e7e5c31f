//! PostgreSQL large objects (documents a row refers to by id): which columns hold their ids, and the references the database holds at a moment.
//!
//! A column holds large-object ids when its type is `oid` or a domain over
//! it (the `lo` extension's `lo`), or when the configuration names it in a
//! `[[preserve]]` table's `large_objects` (Hibernate's `@Lob String` writes
//! the id as text). `capture` puts the objects of the preserved rows into
//! the vault, `restore` puts them back in the restore transaction, and
//! `release` unlinks the objects that a restore or a sanitize left without
//! any reference. docs/capture-restore.md describes the behaviour; the
//! stream is described in vault-format/SPEC.md, appendix A.

pub(super) mod capture;
pub(super) mod record;
pub(super) mod release;
pub(super) mod restore;

use sqlx::Row;
use sqlx::postgres::PgConnection;

use super::{pg_error, qualified, schema_of};
use crate::config::Config;
use crate::exit::ToolError;
use crate::names::{TableName, quote_ident};

/// `lo_open` mode: read.
pub(super) const INV_READ: i32 = 0x40000;
/// `lo_open` mode: write.
pub(super) const INV_WRITE: i32 = 0x20000;

/// How many bytes of an object one `loread` or `lowrite` moves.
pub(super) const PIECE: usize = 1024 * 1024;

/// Columns of user tables that hold large-object ids, excluding the
/// sessions' temporary tables (where a restore stages rows).
const OID_COLUMNS: &str = "SELECT n.nspname::text, c.relname::text, a.attname::text
 FROM pg_catalog.pg_attribute a
 JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
 WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND a.attnum > 0 AND NOT a.attisdropped
   AND (a.atttypid = 'pg_catalog.oid'::regtype OR t.typbasetype = 'pg_catalog.oid'::regtype)
   AND n.nspname <> ALL (ARRAY['pg_catalog', 'information_schema'])
   AND n.nspname !~ '^pg_(toast|temp_)'
 ORDER BY 1, 2, 3";

/// One column that holds large-object ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct IdColumn {
    pub table: TableName,
    pub column: String,
    /// `oid` or a domain over it; otherwise the ids are text or numbers.
    pub oid_typed: bool,
}

impl IdColumn {
    /// The column's value as an `oid` (NULL when it holds no id), over the
    /// table aliased `alias`.
    pub fn id_expr(&self, alias: &str) -> String {
        id_expr(
            &format!("{alias}.{}", quote_ident(&self.column)),
            self.oid_typed,
        )
    }
}

/// A value as an `oid`: cast when it is one, read from its text otherwise
/// (NULL for text that is not an id).
pub(super) fn id_expr(value: &str, oid_typed: bool) -> String {
    if oid_typed {
        return format!("{value}::pg_catalog.oid");
    }
    format!(
        "CASE WHEN {value}::text ~ '^[0-9]{{1,10}}$' THEN CASE WHEN {value}::text::int8 <= 4294967295 \
         THEN {value}::text::int8::pg_catalog.oid END END"
    )
}

/// The columns that the configuration declares (`large_objects` on a
/// `[[preserve]]` table).
pub(super) fn declared(config: &Config) -> Vec<(TableName, String)> {
    config
        .preserve
        .iter()
        .flat_map(|p| {
            p.large_objects
                .iter()
                .map(|c| (TableName::parse(&p.table), c.clone()))
        })
        .collect()
}

/// Every column of the database that holds large-object ids: `oid` and
/// `lo` columns, and the declared columns that exist.
pub(super) async fn id_columns(
    conn: &mut PgConnection,
    declared: &[(TableName, String)],
) -> Result<Vec<IdColumn>, ToolError> {
    let mut columns: Vec<IdColumn> = sqlx::query(OID_COLUMNS)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| pg_error("", e))?
        .into_iter()
        .map(|row| IdColumn {
            table: TableName {
                schema: Some(row.get(0)),
                name: row.get(1),
            },
            column: row.get(2),
            oid_typed: true,
        })
        .collect();
    for (table, column) in declared {
        let table = TableName {
            schema: Some(schema_of(table).to_owned()),
            name: table.name.clone(),
        };
        if columns
            .iter()
            .any(|c| c.table == table && &c.column == column)
        {
            continue;
        }
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute
             WHERE attrelid = to_regclass($1) AND attname = $2 AND attnum > 0 AND NOT attisdropped)",
        )
        .bind(qualified(&table))
        .bind(column)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| pg_error(&table.to_string(), e))?;
        if exists {
            columns.push(IdColumn {
                table,
                column: column.clone(),
                oid_typed: false,
            });
        }
    }
    Ok(columns)
}

/// A query of one column `id`: every id the columns hold (repeats
/// included, NULLs left out).
pub(super) fn references_sql(columns: &[IdColumn]) -> String {
    if columns.is_empty() {
        return "SELECT NULL::pg_catalog.oid AS id WHERE false".into();
    }
    let parts: Vec<String> = columns
        .iter()
        .map(|c| {
            format!(
                "SELECT {} AS id FROM {} t",
                c.id_expr("t"),
                qualified(&c.table)
            )
        })
        .collect();
    format!(
        "SELECT r.id FROM ({}) r WHERE r.id IS NOT NULL",
        parts.join(" UNION ALL ")
    )
}
