//! SQLite's side of `vault compare`: the schema from sqlite_schema and the table pragmas, and rows hashed on the tool's side.
//!
//! SQLite has no hash function in SQL, so each row is read as the `quote()`
//! text of its key and of its columns (in name order) and hashed with
//! SHA-256 here; the file is local, so this reads it once per pass without
//! crossing a network. Buckets and checksums are then the same as on
//! PostgreSQL: first 32 bits of the key's hash modulo the bucket count, and
//! the sum of the rows' first 64 bits.

use std::collections::BTreeMap;

use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use sqlx::{AssertSqlSafe, Row};

use super::{Sqlite, query_error};
use crate::compare::{BucketSum, Compare, Relation, SchemaObject, Snapshot};
use crate::exit::ToolError;
use crate::names::quote_ident;

/// Whitespace folded, so a reformatted but equal definition is equal.
fn normalize(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn object(
    kind: &str,
    name: String,
    table: Option<String>,
    attrs: &[(&str, String)],
) -> SchemaObject {
    SchemaObject {
        kind: kind.into(),
        name,
        table,
        role: None,
        attrs: attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    }
}

/// `quote(a) || ',' || quote(b)`: the exact text of the values.
fn quoted_list(columns: &[String]) -> String {
    if columns.is_empty() {
        return "''".into();
    }
    columns
        .iter()
        .map(|c| format!("quote({})", quote_ident(c)))
        .collect::<Vec<_>>()
        .join(" || ',' || ")
}

fn bucket_of(key_hash: &[u8], buckets: u32) -> u32 {
    if buckets <= 1 {
        return 0;
    }
    u32::from_be_bytes([key_hash[0], key_hash[1], key_hash[2], key_hash[3]]) % buckets
}

impl Sqlite {
    /// Calls `each(bucket, key text, row hash)` for every row.
    async fn hashed_rows(
        &mut self,
        relation: &Relation,
        columns: &[String],
        buckets: u32,
        mut each: impl FnMut(u32, String, [u8; 32]),
    ) -> Result<(), ToolError> {
        let sql = format!(
            "SELECT {}, {} FROM {}",
            quoted_list(&relation.key),
            quoted_list(columns),
            quote_ident(&relation.table)
        );
        let mut rows = sqlx::query(AssertSqlSafe(sql)).fetch(&mut self.conn);
        while let Some(row) = rows
            .try_next()
            .await
            .map_err(|e| query_error(&relation.name, e))?
        {
            let key: String = row.get(0);
            let text: String = row.get(1);
            let bucket = if relation.key.is_empty() {
                0
            } else {
                bucket_of(&Sha256::digest(key.as_bytes()), buckets)
            };
            each(bucket, key, Sha256::digest(text.as_bytes()).into());
        }
        Ok(())
    }
}

impl Compare for Sqlite {
    async fn read_only(&mut self) -> Result<(), ToolError> {
        self.execute("PRAGMA query_only = ON").await
    }

    async fn snapshot(&mut self) -> Result<Snapshot, ToolError> {
        let mut snapshot = Snapshot::default();
        let rows = sqlx::query(
            "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_schema
             WHERE name NOT LIKE 'sqlite_%' AND type IN ('table', 'index', 'view', 'trigger')
             ORDER BY type, name",
        )
        .fetch_all(&mut self.conn)
        .await
        .map_err(|e| query_error("", e))?;
        let mut tables = Vec::new();
        for row in rows {
            let kind: String = row.get(0);
            let name: String = row.get(1);
            let table: String = row.get(2);
            let sql: String = row.get(3);
            match kind.as_str() {
                "table" => {
                    let without_rowid = sql.to_uppercase().contains("WITHOUT ROWID");
                    snapshot.objects.push(object(
                        "table",
                        name.clone(),
                        None,
                        &[("without_rowid", without_rowid.to_string())],
                    ));
                    for check in super::checks::checks(&sql) {
                        let label = match &check.name {
                            Some(constraint) => format!("{name}.{constraint}"),
                            None => format!("{name}.check({})", check.expression),
                        };
                        snapshot.objects.push(object(
                            "constraint",
                            label,
                            Some(name.clone()),
                            &[("check", check.expression)],
                        ));
                    }
                    tables.push(name);
                }
                "view" => snapshot.objects.push(object(
                    "view",
                    name,
                    None,
                    &[("definition", normalize(&sql))],
                )),
                other => snapshot.objects.push(object(
                    other,
                    name,
                    Some(table),
                    &[("definition", normalize(&sql))],
                )),
            }
        }
        for table in tables {
            let columns = sqlx::query(
                "SELECT name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo(?1)",
            )
            .bind(&table)
            .fetch_all(&mut self.conn)
            .await
            .map_err(|e| query_error(&table, e))?;
            let mut names = Vec::new();
            let mut key: Vec<(i64, String)> = Vec::new();
            for c in columns {
                let name: String = c.get(0);
                let pk: i64 = c.get(4);
                let hidden: i64 = c.get(5);
                let default: Option<String> = c.get(3);
                let mut attrs = vec![
                    ("type", c.get::<String, _>(1)),
                    ("not_null", (c.get::<i64, _>(2) != 0).to_string()),
                    ("primary_key_position", pk.to_string()),
                    ("generated", matches!(hidden, 2 | 3).to_string()),
                ];
                if let Some(default) = default {
                    attrs.push(("default", default));
                }
                snapshot.objects.push(object(
                    "column",
                    format!("{table}.{name}"),
                    Some(table.clone()),
                    &attrs,
                ));
                if pk > 0 {
                    key.push((pk, name.clone()));
                }
                names.push(name);
            }
            let fks = sqlx::query(
                "SELECT id, \"table\", \"from\", coalesce(\"to\", ''), on_update, on_delete
                 FROM pragma_foreign_key_list(?1) ORDER BY id, seq",
            )
            .bind(&table)
            .fetch_all(&mut self.conn)
            .await
            .map_err(|e| query_error(&table, e))?;
            let mut grouped: BTreeMap<i64, (String, Vec<String>, Vec<String>, String)> =
                BTreeMap::new();
            for fk in fks {
                let entry = grouped.entry(fk.get(0)).or_insert_with(|| {
                    (
                        fk.get(1),
                        Vec::new(),
                        Vec::new(),
                        format!(
                            "ON UPDATE {} ON DELETE {}",
                            fk.get::<String, _>(4),
                            fk.get::<String, _>(5)
                        ),
                    )
                });
                entry.1.push(fk.get(2));
                entry.2.push(fk.get(3));
            }
            for (parent, from, to, actions) in grouped.into_values() {
                snapshot.objects.push(object(
                    "constraint",
                    format!("{table}.fk({}) -> {parent}", from.join(", ")),
                    Some(table.clone()),
                    &[(
                        "references",
                        format!("{parent}({}) {actions}", to.join(", ")),
                    )],
                ));
            }
            key.sort();
            snapshot.relations.push(Relation {
                name: table.clone(),
                schema: None,
                table,
                columns: names,
                key: key.into_iter().map(|(_, n)| n).collect(),
                materialized: false,
            });
        }
        Ok(snapshot)
    }

    async fn bucket_sums(
        &mut self,
        relation: &Relation,
        columns: &[String],
        buckets: u32,
    ) -> Result<Vec<BucketSum>, ToolError> {
        let mut sums: BTreeMap<u32, (u64, u128)> = BTreeMap::new();
        if buckets <= 1 {
            sums.insert(0, (0, 0));
        }
        self.hashed_rows(relation, columns, buckets, |bucket, _, hash| {
            let entry = sums.entry(bucket).or_default();
            entry.0 += 1;
            let mut first = [0u8; 8];
            first.copy_from_slice(&hash[..8]);
            entry.1 += u128::from(u64::from_be_bytes(first));
        })
        .await?;
        Ok(sums
            .into_iter()
            .map(|(bucket, (rows, sum))| BucketSum {
                bucket,
                rows,
                checksum: sum.to_string(),
            })
            .collect())
    }

    async fn bucket_keys(
        &mut self,
        relation: &Relation,
        columns: &[String],
        buckets: u32,
        which: &[u32],
    ) -> Result<Vec<(String, String)>, ToolError> {
        let mut out = Vec::new();
        if which.is_empty() {
            return Ok(out);
        }
        let which: std::collections::HashSet<u32> = which.iter().copied().collect();
        self.hashed_rows(relation, columns, buckets, |bucket, key, hash| {
            if which.contains(&bucket) {
                out.push((key, hex::encode(hash)));
            }
        })
        .await?;
        Ok(out)
    }

    async fn estimated_rows(&mut self, relation: &Relation) -> Result<u64, ToolError> {
        let sql = format!("SELECT count(*) FROM {}", quote_ident(&relation.table));
        let rows: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
            .fetch_one(&mut self.conn)
            .await
            .map_err(|e| query_error(&relation.name, e))?;
        Ok(rows.max(0) as u64)
    }

    async fn derived_views(
        &mut self,
        _tables: &[String],
    ) -> Result<Vec<(String, String)>, ToolError> {
        // SQLite has no materialized views.
        Ok(Vec::new())
    }
}
