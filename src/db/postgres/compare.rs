//! PostgreSQL's side of `vault compare`: the schema read from the catalogs as plain data, and rows hashed into buckets inside the server.
//!
//! Each catalog query returns (kind, name, table, role, attributes as
//! jsonb); system schemas and objects that belong to extensions are left
//! out. A row's hash is built by [`super::row_hash`]; a bucket's checksum
//! is the sum of its rows' hashes (as numeric, so it never overflows), which
//! does not depend on row order.

use std::collections::BTreeMap;

use sqlx::{AssertSqlSafe, Row};

use super::row_hash::RowHashing;
use super::{Postgres, pg_error};
use crate::compare::{BucketSum, Compare, Relation, SchemaObject, Snapshot};
use crate::exit::ToolError;
use crate::names::quote_ident;

/// Schemas left out: the system's, TOAST and temporary ones.
const USER_SCHEMA: &str = "n.nspname <> ALL (ARRAY['pg_catalog', 'information_schema']) \
     AND n.nspname !~ '^pg_(toast|temp_)'";

/// Not created by an extension.
fn not_extension(catalog: &str, oid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = '{catalog}'::regclass \
         AND d.objid = {oid} AND d.deptype = 'e')"
    )
}

/// One query per object kind: kind, name, table, role, attrs (jsonb text).
fn queries() -> Vec<(&'static str, String)> {
    let rel_ext = not_extension("pg_class", "c.oid");
    vec![
        ("schemas", format!(
            "SELECT 'schema', n.nspname::text, NULL::text, NULL::text, '{{}}'
             FROM pg_catalog.pg_namespace n WHERE {USER_SCHEMA} AND n.nspname <> 'public'
               AND {}", not_extension("pg_namespace", "n.oid"))),
        ("extensions",
            "SELECT 'extension', e.extname::text, NULL, NULL,
                    jsonb_build_object('version', e.extversion, 'schema', n.nspname)::text
             FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace".into()),
        ("enums", format!(
            "SELECT 'enum', n.nspname || '.' || t.typname, NULL, NULL,
                    jsonb_build_object('labels', string_agg(e.enumlabel, ', ' ORDER BY e.enumsortorder))::text
             FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
             JOIN pg_catalog.pg_enum e ON e.enumtypid = t.oid
             WHERE {USER_SCHEMA} AND {} GROUP BY n.nspname, t.typname", not_extension("pg_type", "t.oid"))),
        ("domains", format!(
            "SELECT 'domain', n.nspname || '.' || t.typname, NULL, NULL,
                    jsonb_build_object('type', format_type(t.typbasetype, t.typtypmod),
                        'not_null', t.typnotnull::text, 'default', t.typdefault,
                        'constraints', (SELECT string_agg(pg_get_constraintdef(c.oid), '; ' ORDER BY c.conname)
                                        FROM pg_catalog.pg_constraint c WHERE c.contypid = t.oid))::text
             FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
             WHERE t.typtype = 'd' AND {USER_SCHEMA} AND {}", not_extension("pg_type", "t.oid"))),
        ("sequences", format!(
            "SELECT 'sequence', n.nspname || '.' || c.relname, NULL, NULL,
                    jsonb_build_object('type', format_type(s.seqtypid, NULL), 'start', s.seqstart::text,
                        'increment', s.seqincrement::text, 'min', s.seqmin::text, 'max', s.seqmax::text,
                        'cycle', s.seqcycle::text)::text
             FROM pg_catalog.pg_sequence s JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE {USER_SCHEMA} AND {rel_ext}")),
        ("relations", format!(
            "SELECT CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized-view'
                                   WHEN 'f' THEN 'foreign-table' ELSE 'table' END,
                    n.nspname || '.' || c.relname, NULL, NULL,
                    CASE WHEN c.relkind IN ('v', 'm')
                         THEN jsonb_build_object('definition', pg_get_viewdef(c.oid))
                         ELSE jsonb_build_object('row_security', c.relrowsecurity::text,
                                                 'partitioned', (c.relkind = 'p')::text) END::text
             FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
               AND {USER_SCHEMA} AND {rel_ext}")),
        ("columns", format!(
            "SELECT 'column', n.nspname || '.' || c.relname || '.' || a.attname, n.nspname || '.' || c.relname, NULL,
                    jsonb_build_object('type', format_type(a.atttypid, a.atttypmod),
                        'not_null', a.attnotnull::text,
                        'default', CASE WHEN a.attgenerated = '' THEN pg_get_expr(ad.adbin, ad.adrelid) END,
                        'identity', NULLIF(a.attidentity, ''),
                        'generated', CASE WHEN a.attgenerated <> '' THEN pg_get_expr(ad.adbin, ad.adrelid) END,
                        'collation', co.collname)::text
             FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
             LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 100
             WHERE c.relkind IN ('r', 'p', 'f') AND NOT c.relispartition AND a.attnum > 0 AND NOT a.attisdropped
               AND {USER_SCHEMA} AND {rel_ext}")),
        ("constraints", format!(
            "SELECT 'constraint', n.nspname || '.' || c.relname || '.' || k.conname, n.nspname || '.' || c.relname, NULL,
                    jsonb_build_object('type', CASE k.contype WHEN 'p' THEN 'primary key' WHEN 'f' THEN 'foreign key'
                            WHEN 'u' THEN 'unique' WHEN 'c' THEN 'check' WHEN 'x' THEN 'exclusion' ELSE k.contype::text END,
                        'definition', replace(pg_get_constraintdef(k.oid), ' NOT VALID', ''),
                        'validated', k.convalidated::text,
                        'deferrable', k.condeferrable::text, 'deferred', k.condeferred::text)::text
             FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE NOT c.relispartition AND {USER_SCHEMA} AND {rel_ext}")),
        ("indexes", format!(
            "SELECT 'index', n.nspname || '.' || ic.relname, n.nspname || '.' || c.relname, NULL,
                    jsonb_build_object('definition', pg_get_indexdef(i.indexrelid),
                                       'valid', i.indisvalid::text)::text
             FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
             JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE NOT c.relispartition AND {USER_SCHEMA} AND {rel_ext}")),
        ("functions", format!(
            "SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END,
                    n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', NULL, NULL,
                    jsonb_build_object('returns', pg_get_function_result(p.oid), 'body', p.prosrc,
                        'language', l.lanname, 'volatility', p.provolatile::text,
                        'security_definer', p.prosecdef::text,
                        'settings', array_to_string(p.proconfig, ', '))::text
             FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
             JOIN pg_catalog.pg_language l ON l.oid = p.prolang
             WHERE {USER_SCHEMA} AND {}", not_extension("pg_proc", "p.oid"))),
        ("triggers", format!(
            "SELECT 'trigger', n.nspname || '.' || c.relname || '.' || t.tgname, n.nspname || '.' || c.relname, NULL,
                    jsonb_build_object('definition', pg_get_triggerdef(t.oid), 'enabled', t.tgenabled::text)::text
             FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE NOT t.tgisinternal AND {USER_SCHEMA} AND {rel_ext}")),
        ("policies", format!(
            "SELECT 'policy', n.nspname || '.' || c.relname || '.' || p.polname, n.nspname || '.' || c.relname, NULL,
                    jsonb_build_object('command', p.polcmd::text, 'permissive', p.polpermissive::text,
                        'roles', (SELECT string_agg(CASE r WHEN 0 THEN 'public' ELSE pg_get_userbyid(r)::text END, ', ' ORDER BY 1)
                                  FROM unnest(p.polroles) r),
                        'using', pg_get_expr(p.polqual, p.polrelid),
                        'with_check', pg_get_expr(p.polwithcheck, p.polrelid))::text
             FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE {USER_SCHEMA}")),
        ("table privileges", format!(
            "SELECT 'privilege', n.nspname || '.' || c.relname || ' to ' || g.grantee, n.nspname || '.' || c.relname, g.grantee,
                    jsonb_build_object('privileges', string_agg(g.privilege, ', ' ORDER BY g.privilege))::text
             FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             CROSS JOIN LATERAL (SELECT CASE x.grantee WHEN 0 THEN 'public' ELSE pg_get_userbyid(x.grantee)::text END AS grantee,
                                        x.privilege_type || CASE WHEN x.is_grantable THEN ' with grant option' ELSE '' END AS privilege
                                 FROM aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) x) g
             WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition AND {USER_SCHEMA} AND {rel_ext}
             GROUP BY n.nspname, c.relname, g.grantee")),
        ("column privileges", format!(
            "SELECT 'column-privilege', n.nspname || '.' || c.relname || '.' || a.attname || ' to ' || g.grantee,
                    n.nspname || '.' || c.relname, g.grantee,
                    jsonb_build_object('privileges', string_agg(g.privilege, ', ' ORDER BY g.privilege))::text
             FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             CROSS JOIN LATERAL (SELECT CASE x.grantee WHEN 0 THEN 'public' ELSE pg_get_userbyid(x.grantee)::text END AS grantee,
                                        x.privilege_type AS privilege FROM aclexplode(a.attacl) x) g
             WHERE a.attacl IS NOT NULL AND a.attnum > 0 AND {USER_SCHEMA}
             GROUP BY n.nspname, c.relname, a.attname, g.grantee")),
        ("foreign servers",
            "SELECT 'foreign-server', s.srvname::text, NULL, NULL,
                    jsonb_build_object('wrapper', w.fdwname, 'type', s.srvtype, 'version', s.srvversion,
                        'options', (SELECT string_agg(o, ', ' ORDER BY o) FROM unnest(s.srvoptions) o))::text
             FROM pg_catalog.pg_foreign_server s JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = s.srvfdw".into()),
        ("user mappings",
            // Option names only: a mapping's options can hold a password.
            "SELECT 'user-mapping', m.srvname || ' for ' || m.usename, NULL, m.usename::text,
                    jsonb_build_object('options', (SELECT string_agg(split_part(o, '=', 1), ', ' ORDER BY 1)
                                                   FROM unnest(m.umoptions) o))::text
             FROM pg_catalog.pg_user_mappings m".into()),
    ]
}

/// The text of an expression list as a row value: `ROW(a, b)::text`.
fn row_text(columns: &[String]) -> String {
    if columns.is_empty() {
        return "''".into();
    }
    let list: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
    format!("ROW({})::text", list.join(", "))
}

fn relation_sql(relation: &Relation) -> String {
    format!(
        "{}.{}",
        quote_ident(relation.schema.as_deref().unwrap_or("public")),
        quote_ident(&relation.table)
    )
}

impl Compare for Postgres {
    async fn sharing_server(&mut self) -> Result<(), ToolError> {
        sqlx::raw_sql("SET max_parallel_workers_per_gather = 0")
            .execute(&mut self.conn)
            .await
            .map_err(|e| pg_error("", e))?;
        Ok(())
    }

    async fn read_only(&mut self) -> Result<(), ToolError> {
        sqlx::raw_sql("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            .execute(&mut self.conn)
            .await
            .map_err(|e| pg_error("", e))?;
        Ok(())
    }

    async fn snapshot(&mut self) -> Result<Snapshot, ToolError> {
        let mut snapshot = Snapshot::default();
        // As pg_dump does: with only pg_catalog on the path, the server
        // writes every name in a definition qualified, so two databases
        // whose search_path differs describe the same object alike.
        sqlx::raw_sql("SET search_path = pg_catalog")
            .execute(&mut self.conn)
            .await
            .map_err(|e| pg_error("", e))?;
        let read = self.read_catalog(&mut snapshot).await;
        sqlx::raw_sql("RESET search_path")
            .execute(&mut self.conn)
            .await
            .map_err(|e| pg_error("", e))?;
        read?;
        Ok(snapshot)
    }

    async fn bucket_sums(
        &mut self,
        relation: &Relation,
        columns: &[String],
        buckets: u32,
    ) -> Result<Vec<BucketSum>, ToolError> {
        let hashing = RowHashing::of(&mut self.conn, relation).await?;
        let sql = format!(
            "SELECT {}::int, count(*), coalesce(sum({}), 0)::text
             FROM {} GROUP BY 1",
            hashing.bucket(relation, buckets),
            hashing.hash(columns),
            relation_sql(relation)
        );
        // The planner cannot know that the bucket expression has at most
        // `buckets` values; it would sort every row (spilling to disk)
        // where a hash table of the buckets is what is needed.
        sqlx::raw_sql("SET enable_sort = off")
            .execute(&mut self.conn)
            .await
            .map_err(|e| pg_error(&relation.name, e))?;
        let rows = sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&mut self.conn)
            .await
            .map_err(|e| pg_error(&relation.name, e));
        sqlx::raw_sql("RESET enable_sort")
            .execute(&mut self.conn)
            .await
            .map_err(|e| pg_error(&relation.name, e))?;
        let mut sums: Vec<BucketSum> = rows?
            .into_iter()
            .map(|row| BucketSum {
                bucket: row.get::<i32, _>(0) as u32,
                rows: row.get::<i64, _>(1) as u64,
                checksum: row.get(2),
            })
            .collect();
        // Sorted here: an ORDER BY would lead the planner to sort every row.
        sums.sort_by_key(|s| s.bucket);
        if sums.is_empty() && buckets <= 1 {
            return Ok(vec![BucketSum {
                bucket: 0,
                rows: 0,
                checksum: "0".into(),
            }]);
        }
        Ok(sums)
    }

    async fn bucket_keys(
        &mut self,
        relation: &Relation,
        columns: &[String],
        buckets: u32,
        which: &[u32],
    ) -> Result<Vec<(String, String)>, ToolError> {
        if which.is_empty() {
            return Ok(Vec::new());
        }
        let which: Vec<i32> = which.iter().map(|&b| b as i32).collect();
        let hashing = RowHashing::of(&mut self.conn, relation).await?;
        let sql = format!(
            "SELECT {}, {}::text FROM {} WHERE {}::int = ANY($1)",
            row_text(&relation.key),
            hashing.hash(columns),
            relation_sql(relation),
            hashing.bucket(relation, buckets)
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(which)
            .fetch_all(&mut self.conn)
            .await
            .map_err(|e| pg_error(&relation.name, e))?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    async fn estimated_rows(&mut self, relation: &Relation) -> Result<u64, ToolError> {
        let estimate: f32 = sqlx::query_scalar(
            "SELECT c.reltuples FROM pg_catalog.pg_class c
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1 AND c.relname = $2",
        )
        .bind(relation.schema.as_deref().unwrap_or("public"))
        .bind(&relation.table)
        .fetch_optional(&mut self.conn)
        .await
        .map_err(|e| pg_error(&relation.name, e))?
        .unwrap_or(0.0);
        Ok(estimate.max(0.0) as u64)
    }

    async fn derived_views(
        &mut self,
        tables: &[String],
    ) -> Result<Vec<(String, String)>, ToolError> {
        if tables.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "WITH RECURSIVE dep(oid, root) AS (
                 SELECT c.oid, c.oid FROM pg_catalog.pg_class c
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname || '.' || c.relname = ANY($1)
               UNION
                 SELECT r.ev_class, dep.root FROM dep
                 JOIN pg_catalog.pg_depend d ON d.refobjid = dep.oid
                      AND d.classid = 'pg_catalog.pg_rewrite'::regclass
                 JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid
                 WHERE r.ev_class <> dep.oid)
             SELECT DISTINCT n.nspname || '.' || c.relname, rn.nspname || '.' || rc.relname
             FROM dep JOIN pg_catalog.pg_class c ON c.oid = dep.oid
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_catalog.pg_class rc ON rc.oid = dep.root
             JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace
             WHERE c.relkind = 'm'",
        )
        .bind(tables)
        .fetch_all(&mut self.conn)
        .await
        .map_err(|e| pg_error("materialized views", e))?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}

impl Postgres {
    /// Reads the schema objects and relations into `snapshot`.
    async fn read_catalog(&mut self, snapshot: &mut Snapshot) -> Result<(), ToolError> {
        for (what, sql) in queries() {
            let rows = sqlx::query(AssertSqlSafe(sql))
                .fetch_all(&mut self.conn)
                .await
                .map_err(|e| pg_error(what, e))?;
            for row in rows {
                let attrs: String = row.get(4);
                let attrs: BTreeMap<String, serde_json::Value> = serde_json::from_str(&attrs)
                    .map_err(|e| {
                        ToolError::failed(format!("{what}: unexpected catalog output: {e}"))
                    })?;
                snapshot.objects.push(SchemaObject {
                    kind: row.get(0),
                    name: row.get(1),
                    table: row.get(2),
                    role: row.get(3),
                    attrs: attrs
                        .into_iter()
                        .filter_map(|(k, v)| match v {
                            serde_json::Value::Null => None,
                            serde_json::Value::String(s) => Some((k, s)),
                            other => Some((k, other.to_string())),
                        })
                        .collect(),
                });
            }
        }
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT n.nspname::text, c.relname::text, c.relkind = 'm',
                    ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
                          WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum),
                    ARRAY(SELECT a.attname::text FROM pg_catalog.pg_index i
                          CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                          JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                          WHERE i.indrelid = c.oid AND i.indisprimary ORDER BY k.ord)
             FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE (c.relkind IN ('r', 'p') OR (c.relkind = 'm' AND c.relispopulated))
               AND NOT c.relispartition AND {USER_SCHEMA} AND {}
             ORDER BY 1, 2",
            not_extension("pg_class", "c.oid")
        )))
        .fetch_all(&mut self.conn)
        .await
        .map_err(|e| pg_error("relations", e))?;
        for row in rows {
            let schema: String = row.get(0);
            let table: String = row.get(1);
            snapshot.relations.push(Relation {
                name: format!("{schema}.{table}"),
                schema: Some(schema),
                table,
                materialized: row.get(2),
                columns: row.get(3),
                key: row.get(4),
            });
        }
        Ok(())
    }
}
