//! NOT VALID constraints, and the rows that keep them from validating, counted with a query built from each constraint's definition.

use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Row};

use super::{CATALOG, USER_SCHEMA, quoted};
use crate::db::postgres::{describe_error, pg_error};
use crate::exit::ToolError;
use crate::health::{Finding, FindingKind, Inspection};
use crate::names::quote_ident;

pub(super) async fn unvalidated_constraints(
    conn: &mut PgConnection,
    out: &mut Inspection,
) -> Result<(), ToolError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT c.oid::int8, n.nspname::text, t.relname::text, c.conname::text, c.contype::text,
                CASE WHEN c.contype = 'c' THEN pg_catalog.pg_get_expr(c.conbin, c.conrelid) END
         FROM pg_catalog.pg_constraint c
         JOIN pg_catalog.pg_class t ON t.oid = c.conrelid
         JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
         WHERE NOT c.convalidated AND {USER_SCHEMA}
         ORDER BY 2, 3, 4"
    )))
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| pg_error("", e))?;
    for row in rows {
        let oid: i64 = row.get(0);
        let (schema, table, name, kind): (String, String, String, String) =
            (row.get(1), row.get(2), row.get(3), row.get(4));
        let check: Option<String> = row.get(5);
        let object = format!("{schema}.{table}.{name}");
        let table_sql = quoted(&schema, &table);
        let counting = match (kind.as_str(), check) {
            ("c", Some(expr)) => Some(format!(
                "SELECT count(*) FROM {table_sql} WHERE NOT ({expr})"
            )),
            ("f", _) => foreign_key_count(conn, oid, &table_sql).await?,
            _ => None,
        };
        let repair = format!(
            "ALTER TABLE {table_sql} VALIDATE CONSTRAINT {}",
            quote_ident(&name)
        );
        let what = if kind == "f" {
            "foreign key"
        } else {
            "constraint"
        };
        let (detail, what_to_do) = match &counting {
            Some(sql) => match sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql.clone()))
                .persistent(false)
                .fetch_one(&mut *conn)
                .await
            {
                Ok(0) => (
                    format!("{what} is NOT VALID; no row violates it"),
                    format!("run {repair}"),
                ),
                Ok(n) => (
                    format!("{what} is NOT VALID; {}", rows_violate(n)),
                    format!(
                        "fix or delete the {n} row(s) that violate it (they are counted by: {sql}), then run {repair}"
                    ),
                ),
                Err(e) => (
                    format!(
                        "{what} is NOT VALID; the rows that violate it could not be counted: {}",
                        describe_error(&e)
                    ),
                    format!("run {repair}"),
                ),
            },
            None => (format!("{what} is NOT VALID"), format!("run {repair}")),
        };
        out.findings.push(
            Finding::new(
                FindingKind::UnvalidatedConstraint,
                object,
                detail,
                format!("{CATALOG} (pg_constraint.convalidated); violations counted from the constraint's definition"),
            )
            .what_to_do(what_to_do)
            .repair(repair),
        );
    }
    Ok(())
}

fn rows_violate(n: i64) -> String {
    match n {
        1 => "1 row violates it".into(),
        n => format!("{n} rows violate it"),
    }
}

/// The query that counts a foreign key's orphans: child rows whose key
/// columns are all set (MATCH SIMPLE) and that no parent row matches.
async fn foreign_key_count(
    conn: &mut PgConnection,
    oid: i64,
    child: &str,
) -> Result<Option<String>, ToolError> {
    let pairs = sqlx::query(
        "SELECT a.attname::text, b.attname::text, pn.nspname::text, p.relname::text
         FROM pg_catalog.pg_constraint c
         CROSS JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(ck, pk, ord)
         JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.ck
         JOIN pg_catalog.pg_attribute b ON b.attrelid = c.confrelid AND b.attnum = k.pk
         JOIN pg_catalog.pg_class p ON p.oid = c.confrelid
         JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace
         WHERE c.oid = $1::oid
         ORDER BY k.ord",
    )
    .bind(oid)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| pg_error("", e))?;
    let Some(first) = pairs.first() else {
        return Ok(None);
    };
    let parent = quoted(&first.get::<String, _>(2), &first.get::<String, _>(3));
    let set: Vec<String> = pairs
        .iter()
        .map(|r| format!("c.{} IS NOT NULL", quote_ident(&r.get::<String, _>(0))))
        .collect();
    let matched: Vec<String> = pairs
        .iter()
        .map(|r| {
            format!(
                "p.{} = c.{}",
                quote_ident(&r.get::<String, _>(1)),
                quote_ident(&r.get::<String, _>(0))
            )
        })
        .collect();
    Ok(Some(format!(
        "SELECT count(*) FROM {child} c WHERE {} AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE {})",
        set.join(" AND "),
        matched.join(" AND ")
    )))
}
