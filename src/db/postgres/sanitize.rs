//! PostgreSQL's side of `vault sanitize`: foreign keys from pg_constraint, volatility from pg_proc, dependent materialized views from pg_depend.
//!
//! Whether an expression is deterministic is read from the server's own
//! parse of it: a temporary view over the expression is created inside a
//! savepoint, the functions and operators its stored rule calls are looked
//! up in pg_proc, and the savepoint is rolled back.

use sqlx::{AssertSqlSafe, Row};

use super::large_objects::{id_columns, release};
use super::{Postgres, execute, pg_error, qualified, schema_of};
use crate::exit::ToolError;
use crate::names::TableName;
use crate::pseudonym::{Kind, PseudonymKey};
use crate::sanitize::{Determinism, ForeignKey, OnDelete, Sanitizer};

/// Foreign keys whose parent is the table ($1 schema, $2 name); clones of
/// a partitioned table's key on its partitions are left out.
const REFERENCING: &str = "SELECT k.conname::text, cn.nspname::text, c.relname::text, k.confdeltype::text,
        ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY u(n, o)
              JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.o),
        ARRAY(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY u(n, o)
              JOIN pg_catalog.pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY u.o)
 FROM pg_catalog.pg_constraint k
 JOIN pg_catalog.pg_class p ON p.oid = k.confrelid
 JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace
 JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
 JOIN pg_catalog.pg_namespace cn ON cn.oid = c.relnamespace
 WHERE k.contype = 'f' AND k.conparentid = 0 AND pn.nspname = $1 AND p.relname = $2
 ORDER BY 2, 3, 1";

/// The functions the probe view calls that are volatile, or read the clock.
const PROBE: &str = "WITH called AS (
   SELECT p.proname::text AS name, p.provolatile AS volatility
   FROM pg_catalog.pg_rewrite r
   CROSS JOIN LATERAL regexp_matches(r.ev_action::text,
        ':(?:funcid|opfuncid|aggfnoid|winfnoid) (\\d+)', 'g') AS m
   JOIN pg_catalog.pg_proc p ON p.oid = m[1]::oid
   WHERE r.ev_class = 'pg_temp.vault_sanitize_probe'::regclass)
 SELECT (SELECT string_agg(DISTINCT name, ', ') FROM called WHERE volatility = 'v'),
        (SELECT string_agg(DISTINCT name, ', ') FROM called
         WHERE name IN ('now', 'transaction_timestamp', 'statement_timestamp')),
        (SELECT r.ev_action::text LIKE '%{SQLVALUEFUNCTION%' FROM pg_catalog.pg_rewrite r
         WHERE r.ev_class = 'pg_temp.vault_sanitize_probe'::regclass)";

/// Populated materialized views over the tables ($1 OIDs), directly or
/// through views and other materialized views, deepest last: the refresh
/// order. An unpopulated one holds no rows (health populates it).
pub(super) const MATVIEWS: &str = "WITH RECURSIVE dependent(oid, depth) AS (
   SELECT unnest($1::int8[]::oid[]), 0
   UNION ALL
   SELECT r.ev_class, d.depth + 1
   FROM dependent d
   JOIN pg_catalog.pg_depend dep ON dep.refclassid = 'pg_catalog.pg_class'::regclass
        AND dep.refobjid = d.oid AND dep.classid = 'pg_catalog.pg_rewrite'::regclass
   JOIN pg_catalog.pg_rewrite r ON r.oid = dep.objid
   WHERE r.ev_class <> d.oid AND d.depth < 32)
 SELECT n.nspname::text, c.relname::text
 FROM dependent d
 JOIN pg_catalog.pg_class c ON c.oid = d.oid
 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'm' AND c.relispopulated
 GROUP BY 1, 2
 ORDER BY max(d.depth), 1, 2";

/// The enabled user triggers of the tables: table (quoted), trigger, mode.
async fn enabled_user_triggers(
    db: &mut Postgres,
    tables: &[TableName],
) -> Result<Vec<(String, String, String)>, ToolError> {
    let mut found = Vec::new();
    for table in tables {
        let rows = sqlx::query(
            "SELECT t.tgname::text, t.tgenabled::text
             FROM pg_catalog.pg_trigger t
             JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1 AND c.relname = $2 AND NOT t.tgisinternal AND t.tgenabled <> 'D'
             ORDER BY 1",
        )
        .bind(schema_of(table))
        .bind(&table.name)
        .fetch_all(&mut db.conn)
        .await
        .map_err(|e| pg_error(&table.to_string(), e))?;
        for row in rows {
            found.push((qualified(table), row.get(0), row.get(1)));
        }
    }
    // The same table may be reached by two spellings.
    found.sort();
    found.dedup();
    Ok(found)
}

/// The references noted when the sanitize transaction began.
const NOTED: &str = "pg_temp.vault_lo_sanitize";

impl Sanitizer for Postgres {
    async fn note_object_references(&mut self) -> Result<(), ToolError> {
        let columns = id_columns(&mut self.conn, &self.declared_objects).await?;
        release::note(&mut self.conn, NOTED, &columns).await
    }

    async fn unlink_released_objects(&mut self) -> Result<Vec<(u32, u64)>, ToolError> {
        let columns = id_columns(&mut self.conn, &self.declared_objects).await?;
        let released = release::released(&mut self.conn, NOTED, &columns, None).await?;
        release::unlink(&mut self.conn, &released).await?;
        Ok(released)
    }

    async fn count_unreferenced_objects(&mut self) -> Result<Option<u64>, ToolError> {
        let columns = id_columns(&mut self.conn, &self.declared_objects).await?;
        release::count_unreferenced(&mut self.conn, &columns)
            .await
            .map(Some)
    }

    async fn user_triggers(&mut self, tables: &[TableName]) -> Result<Vec<String>, ToolError> {
        let mut shown = Vec::new();
        for table in tables {
            let name = format!("{}.{}", schema_of(table), table.name);
            for (_, trigger, _) in enabled_user_triggers(self, std::slice::from_ref(table)).await? {
                shown.push(format!("{name}: {trigger}"));
            }
        }
        shown.sort();
        shown.dedup();
        Ok(shown)
    }

    /// `ALTER TABLE ... DISABLE TRIGGER` for each enabled user trigger,
    /// inside the sanitize transaction: a failure rolls it back with the
    /// rest. Foreign-key actions are internal triggers and still run.
    async fn quiet_triggers(&mut self, tables: &[TableName]) -> Result<bool, ToolError> {
        self.quieted = enabled_user_triggers(self, tables).await?;
        for (table, trigger, _) in self.quieted.clone() {
            execute(
                &mut self.conn,
                &format!(
                    "ALTER TABLE {table} DISABLE TRIGGER {}",
                    crate::names::quote_ident(&trigger)
                ),
            )
            .await?;
        }
        Ok(true)
    }

    async fn wake_triggers(&mut self) -> Result<(), ToolError> {
        for (table, trigger, mode) in std::mem::take(&mut self.quieted) {
            let enable = match mode.as_str() {
                "A" => "ENABLE ALWAYS TRIGGER",
                "R" => "ENABLE REPLICA TRIGGER",
                _ => "ENABLE TRIGGER",
            };
            execute(
                &mut self.conn,
                &format!(
                    "ALTER TABLE {table} {enable} {}",
                    crate::names::quote_ident(&trigger)
                ),
            )
            .await?;
        }
        Ok(())
    }

    fn table_sql(&self, table: &TableName) -> String {
        qualified(table)
    }

    async fn pseudonymize(
        &mut self,
        table: &TableName,
        columns: &[(&String, Kind)],
        filter: Option<&str>,
        key: &PseudonymKey,
    ) -> Result<u64, ToolError> {
        super::pseudonymize::pseudonymize(self, table, columns, filter, key).await
    }

    fn misshapen_sql(&self, column: &str, kind: &Kind) -> Option<String> {
        super::pseudonymize::misshapen(column, kind)
    }

    async fn table_columns(&mut self, table: &TableName) -> Result<Option<Vec<String>>, ToolError> {
        let Some((oid, kind)) = self.relation(table).await? else {
            return Ok(None);
        };
        if kind != "r" && kind != "p" {
            return Err(ToolError::usage(format!(
                "{table} is a {}, not a table; sanitize rules apply to tables",
                super::relation_kind(&kind)
            ))
            .hint("name the tables behind it"));
        }
        let columns = sqlx::query_scalar(
            "SELECT attname::text FROM pg_catalog.pg_attribute
             WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        )
        .bind(oid)
        .fetch_all(&mut self.conn)
        .await
        .map_err(|e| pg_error(&table.to_string(), e))?;
        Ok(Some(columns))
    }

    async fn begin_sanitize(&mut self) -> Result<(), ToolError> {
        self.execute("BEGIN").await
    }

    async fn begin_verify(&mut self) -> Result<(), ToolError> {
        // Not READ ONLY: the determinism probe creates (and rolls back) a
        // temporary view. The verification always ends in a rollback.
        self.execute("BEGIN ISOLATION LEVEL REPEATABLE READ").await
    }

    async fn end_transaction(&mut self, commit: bool) -> Result<(), ToolError> {
        self.execute(if commit { "COMMIT" } else { "ROLLBACK" })
            .await
    }

    async fn sanitize_execute(&mut self, sql: &str) -> Result<u64, ToolError> {
        // One statement through the extended protocol: a predicate or an
        // expression cannot carry a second statement.
        let done = sqlx::query(AssertSqlSafe(sql.to_owned()))
            .persistent(false)
            .execute(&mut self.conn)
            .await
            .map_err(|e| pg_error("", e))?;
        Ok(done.rows_affected())
    }

    async fn sanitize_count(&mut self, sql: &str) -> Result<u64, ToolError> {
        let count: i64 = sqlx::query_scalar(AssertSqlSafe(sql.to_owned()))
            .persistent(false)
            .fetch_one(&mut self.conn)
            .await
            .map_err(|e| pg_error("", e))?;
        Ok(count.max(0) as u64)
    }

    async fn referencing_keys(&mut self, table: &TableName) -> Result<Vec<ForeignKey>, ToolError> {
        let rows = sqlx::query(REFERENCING)
            .bind(schema_of(table))
            .bind(&table.name)
            .fetch_all(&mut self.conn)
            .await
            .map_err(|e| pg_error(&table.to_string(), e))?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let action: String = row.get(3);
                ForeignKey {
                    name: row.get(0),
                    child: TableName {
                        schema: Some(row.get(1)),
                        name: row.get(2),
                    },
                    on_delete: match action.as_str() {
                        "r" => OnDelete::Restrict,
                        "c" => OnDelete::Cascade,
                        "n" => OnDelete::SetNull,
                        "d" => OnDelete::SetDefault,
                        _ => OnDelete::NoAction,
                    },
                    child_columns: row.get(4),
                    parent_columns: row.get(5),
                }
            })
            .collect())
    }

    async fn determinism(
        &mut self,
        table: &TableName,
        fragment: &str,
    ) -> Result<Determinism, ToolError> {
        execute(&mut self.conn, "SAVEPOINT vault_sanitize_probe").await?;
        let created = sqlx::query(AssertSqlSafe(format!(
            "CREATE TEMPORARY VIEW vault_sanitize_probe AS SELECT ({fragment}) AS v FROM {}",
            qualified(table)
        )))
        .persistent(false)
        .execute(&mut self.conn)
        .await
        .map_err(|e| pg_error("", e));
        let verdict = match created {
            Err(e) => Ok(Determinism::Unknown(format!(
                "could not be checked ({})",
                e.message
            ))),
            Ok(_) => sqlx::query(PROBE)
                .fetch_one(&mut self.conn)
                .await
                .map_err(|e| pg_error("", e))
                .map(|row| {
                    let volatile: Option<String> = row.get(0);
                    let clock: Option<String> = row.get(1);
                    let value_function: Option<bool> = row.get(2);
                    match (volatile, clock, value_function) {
                        (Some(names), _, _) => {
                            Determinism::Volatile(format!("calls volatile functions ({names})"))
                        }
                        (None, Some(names), _) => {
                            Determinism::Clock(format!("reads the clock ({names})"))
                        }
                        (None, None, Some(true)) => Determinism::Clock(
                            "reads the clock or the session (CURRENT_TIMESTAMP and the like)"
                                .into(),
                        ),
                        _ => Determinism::Deterministic,
                    }
                }),
        };
        execute(
            &mut self.conn,
            "ROLLBACK TO SAVEPOINT vault_sanitize_probe; RELEASE SAVEPOINT vault_sanitize_probe",
        )
        .await?;
        verdict
    }

    async fn dependent_matviews(
        &mut self,
        tables: &[TableName],
    ) -> Result<Vec<TableName>, ToolError> {
        let mut oids: Vec<i64> = Vec::new();
        for table in tables {
            if let Some((oid, _)) = self.relation(table).await? {
                oids.push(oid);
            }
        }
        let rows = sqlx::query(MATVIEWS)
            .bind(&oids)
            .fetch_all(&mut self.conn)
            .await
            .map_err(|e| pg_error("", e))?;
        Ok(rows
            .into_iter()
            .map(|row| TableName {
                schema: Some(row.get(0)),
                name: row.get(1),
            })
            .collect())
    }

    async fn refresh_matview(&mut self, view: &TableName) -> Result<(), ToolError> {
        execute(
            &mut self.conn,
            &format!("REFRESH MATERIALIZED VIEW {}", qualified(view)),
        )
        .await
    }
}
