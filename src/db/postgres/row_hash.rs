//! How `vault compare` hashes PostgreSQL rows inside the server: each column by its type's own 64-bit hash where that hash tells apart everything the text form does, by its text otherwise.
//!
//! A row's hash is `hash_record_extended(ROW(...), 0)` over its columns in
//! name order; `hash_record_extended` combines each field's extended hash
//! function (the ones behind hash partitioning, stable across releases).
//! Hashing a value's binary form skips its text conversion, which is most of
//! the cost of hashing text (a `jsonb` document's text is built character by
//! character). Types whose hash equates values that their text tells apart
//! go through their text instead: `numeric` (1.0 and 1.00), floating point
//! (0 and -0), `interval` ('1 day' and '24 hours'), enums (hashed by the
//! label's OID, which differs between two databases), and every type not
//! listed in [`BINARY_EXACT`]. Text under a nondeterministic collation is
//! hashed under "C". The one accepted looseness: `jsonb` numbers compare by
//! value inside a document, as `jsonb` equality does (1.0 and 1.00).
//! A column of type `oid` or a domain over it (the `lo` extension's `lo`)
//! refers to a large object whose id differs between two databases: it is
//! hashed by the SHA-256 of the object's contents, so that the same
//! document under two ids is equal and a changed document is a difference
//! of its row; an id that names no object is hashed by its text.

use std::collections::BTreeMap;

use sqlx::Row;
use sqlx::postgres::PgConnection;

use super::pg_error;
use crate::compare::Relation;
use crate::exit::ToolError;
use crate::names::quote_ident;

/// Built-in types whose extended hash differs whenever their text differs.
const BINARY_EXACT: &[&str] = &[
    "int2",
    "int4",
    "int8",
    "bool",
    "char",
    "name",
    "oid",
    "text",
    "varchar",
    "bpchar",
    "bytea",
    "date",
    "time",
    "timestamp",
    "timestamptz",
    "uuid",
    "inet",
    "cidr",
    "macaddr",
    "macaddr8",
    "jsonb",
];

/// How each column of a relation enters its row hash.
pub(super) struct RowHashing {
    /// Column name → the SQL expression that goes into `ROW(...)`.
    fields: BTreeMap<String, String>,
    /// Column name → its type's own hash call, for the common key types
    /// (cheaper than a one-field record for a single-column key).
    direct: BTreeMap<String, String>,
}

impl RowHashing {
    /// Reads the column types of `relation` from the catalog.
    pub(super) async fn of(
        conn: &mut PgConnection,
        relation: &Relation,
    ) -> Result<RowHashing, ToolError> {
        let rows = sqlx::query(
            "SELECT a.attname::text, t.typname::text, t.typtype::text, tn.nspname::text,
                    coalesce(co.collisdeterministic, true),
                    a.atttypid = 'pg_catalog.oid'::regtype OR t.typbasetype = 'pg_catalog.oid'::regtype
             FROM pg_catalog.pg_attribute a
             JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
             JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace
             LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
             WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped",
        )
        .bind(relation.schema.as_deref().unwrap_or("public"))
        .bind(&relation.table)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| pg_error(&relation.name, e))?;
        let mut fields = BTreeMap::new();
        let mut direct = BTreeMap::new();
        for row in rows {
            let name: String = row.get(0);
            let type_name: String = row.get(1);
            let type_kind: String = row.get(2);
            let type_schema: String = row.get(3);
            let deterministic: bool = row.get(4);
            let large_object: bool = row.get(5);
            let column = quote_ident(&name);
            if large_object {
                fields.insert(name, document_digest(&column));
                continue;
            }
            let exact = type_kind == "b"
                && type_schema == "pg_catalog"
                && BINARY_EXACT.contains(&type_name.as_str());
            let function = match type_name.as_str() {
                // The integer hashes agree across int2, int4 and int8.
                "int2" | "int4" | "int8" => Some(format!("hashint8extended({column}::int8, 0)")),
                "text" | "varchar" if deterministic => {
                    Some(format!("hashtextextended({column}, 0)"))
                }
                "uuid" => Some(format!("uuid_hash_extended({column}, 0)")),
                _ => None,
            };
            if let Some(function) = function.filter(|_| exact) {
                direct.insert(name.clone(), function);
            }
            let expr = match (exact, deterministic) {
                (true, true) => column,
                (true, false) => format!("{column} COLLATE \"C\""),
                (false, _) => format!("{column}::text COLLATE \"C\""),
            };
            fields.insert(name, expr);
        }
        Ok(RowHashing { fields, direct })
    }

    /// The 64-bit hash of `columns` of a row (a constant for no column).
    pub(super) fn hash(&self, columns: &[String]) -> String {
        if columns.is_empty() {
            return "0::bigint".into();
        }
        let list: Vec<String> = columns
            .iter()
            .map(|c| {
                self.fields
                    .get(c)
                    .cloned()
                    .unwrap_or_else(|| format!("{}::text", quote_ident(c)))
            })
            .collect();
        format!("hash_record_extended(ROW({}), 0)", list.join(", "))
    }

    /// The bucket of a row: the hash of its key, sign bit cleared, modulo
    /// `buckets`; 0 when there is one bucket or no key.
    pub(super) fn bucket(&self, relation: &Relation, buckets: u32) -> String {
        if buckets <= 1 || relation.key.is_empty() {
            return "0".into();
        }
        let hash = match relation.key.as_slice() {
            [only] => self.direct.get(only).cloned(),
            _ => None,
        }
        .unwrap_or_else(|| self.hash(&relation.key));
        // A NULL key (no primary key can hold one) would go to bucket 0.
        format!("coalesce((({hash} & 9223372036854775807) % {buckets}), 0)")
    }
}

/// The contents' SHA-256 of the large object `column` refers to; for an id
/// that names no object, the id's text.
fn document_digest(column: &str) -> String {
    format!(
        "CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_largeobject_metadata m WHERE m.oid = {column}::pg_catalog.oid) \
         THEN pg_catalog.sha256(pg_catalog.lo_get({column}::pg_catalog.oid)) \
         ELSE pg_catalog.convert_to('missing ' || {column}::text, 'UTF8') END"
    )
}
