//! Sequences and identity columns behind their table's largest value, set forward with `setval`.

use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Row};

use super::{CATALOG, USER_SCHEMA, literal, quoted};
use crate::db::postgres::pg_error;
use crate::exit::ToolError;
use crate::health::{Finding, FindingKind, Inspection};
use crate::names::quote_ident;

/// Sequences owned by a column (serial, identity) or named in a column's
/// default, whose next value is a key the column already holds.
pub(super) async fn sequences_behind(
    conn: &mut PgConnection,
    out: &mut Inspection,
) -> Result<(), ToolError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT sn.nspname::text, s.relname::text, n.nspname::text, t.relname::text,
                a.attname::text, q.seqincrement, a.attidentity <> ''
         FROM pg_catalog.pg_depend d
         JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S'
         JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace
         JOIN pg_catalog.pg_sequence q ON q.seqrelid = s.oid
         JOIN pg_catalog.pg_class t ON t.oid = d.refobjid
         JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
         JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
         WHERE d.classid = 'pg_catalog.pg_class'::regclass
           AND d.refclassid = 'pg_catalog.pg_class'::regclass
           AND d.deptype IN ('a', 'i') AND t.relkind IN ('r', 'p')
           AND a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype) AND {USER_SCHEMA}
         UNION
         SELECT sn.nspname::text, s.relname::text, n.nspname::text, t.relname::text,
                a.attname::text, q.seqincrement, a.attidentity <> ''
         FROM pg_catalog.pg_depend d
         JOIN pg_catalog.pg_attrdef ad ON ad.oid = d.objid
         JOIN pg_catalog.pg_class s ON s.oid = d.refobjid AND s.relkind = 'S'
         JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace
         JOIN pg_catalog.pg_sequence q ON q.seqrelid = s.oid
         JOIN pg_catalog.pg_class t ON t.oid = ad.adrelid
         JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
         JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid AND a.attnum = ad.adnum
         WHERE d.classid = 'pg_catalog.pg_attrdef'::regclass
           AND d.refclassid = 'pg_catalog.pg_class'::regclass AND t.relkind IN ('r', 'p')
           AND a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype) AND {USER_SCHEMA}
         ORDER BY 1, 2, 3, 4, 5"
    )))
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| pg_error("", e))?;
    for row in rows {
        let (seq_schema, sequence, schema, table, column): (
            String,
            String,
            String,
            String,
            String,
        ) = (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
        let (increment, identity): (i64, bool) = (row.get(5), row.get(6));
        let object = format!("{seq_schema}.{sequence}");
        let state = sqlx::query(AssertSqlSafe(format!(
            "SELECT last_value, is_called FROM {}",
            quoted(&seq_schema, &sequence)
        )))
        .persistent(false)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| pg_error(&object, e))?;
        let (last, called): (i64, bool) = (state.get(0), state.get(1));
        let (extreme, behind) = if increment > 0 {
            ("max", ">=")
        } else {
            ("min", "<=")
        };
        let held: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT {extreme}({})::int8 FROM {}",
            quote_ident(&column),
            quoted(&schema, &table)
        )))
        .persistent(false)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| pg_error(&format!("{schema}.{table}"), e))?;
        let Some(held) = held else { continue };
        let next = if called {
            last.saturating_add(increment)
        } else {
            last
        };
        let is_behind = if behind == ">=" {
            held >= next
        } else {
            held <= next
        };
        if !is_behind {
            continue;
        }
        let repair = format!(
            "SELECT pg_catalog.setval({}, {held}, true)",
            literal(&quoted(&seq_schema, &sequence))
        );
        let owner = if identity {
            "identity column"
        } else {
            "column"
        };
        out.findings.push(
            Finding::new(
                FindingKind::SequenceBehind,
                object,
                format!(
                    "its next value is {next}, but {owner} {schema}.{table}.{column} already holds {held}: the next insert fails on a duplicate key"
                ),
                format!("{CATALOG} (pg_depend) and {extreme}() of the column"),
            )
            .what_to_do(format!("run {repair}"))
            .repair(repair),
        );
    }
    Ok(())
}
