//! Indexes and constraints of the URL's database, from the views of information_schema that open each table.

use std::collections::BTreeMap;

use sqlx::mysql::MySqlConnection;

use super::super::super::Flavor;
use super::{Scope, object, query, scoped};
use crate::compare::Snapshot;
use crate::exit::ToolError;

/// A table's name and an index's or constraint's name on it.
type Named = (String, String);

/// An index, as its rows of STATISTICS describe it.
struct Index {
    /// (position, column text) pairs.
    parts: Vec<(usize, String)>,
    unique: bool,
    kind: String,
    hidden: Option<String>,
}

/// One column of a key or foreign key.
#[derive(Clone)]
struct KeyColumn {
    position: usize,
    column: String,
    referenced: String,
}

/// Indexes, one row per column, grouped in order.
pub(super) async fn indexes(
    conn: &mut MySqlConnection,
    database: &str,
    flavor: Flavor,
    version: (u32, u32),
    scope: &Scope,
    snapshot: &mut Snapshot,
) -> Result<(), ToolError> {
    let (expression, hidden) = match flavor {
        Flavor::MySql => ("EXPRESSION", "IF(IS_VISIBLE = 'NO', 'invisible', NULL)"),
        Flavor::MariaDb if version >= (10, 6) => ("NULL", "IF(IGNORED = 'YES', 'ignored', NULL)"),
        Flavor::MariaDb => ("NULL", "NULL"),
    };
    let mut indexes: BTreeMap<Named, Index> = BTreeMap::new();
    for row in scoped(
        conn,
        "indexes",
        &format!(
            "SELECT TABLE_NAME, INDEX_NAME, COALESCE(COLUMN_NAME, {expression}),
                    CAST(SUB_PART AS CHAR), COLLATION, CAST(NON_UNIQUE AS CHAR), INDEX_TYPE, {hidden},
                    CAST(SEQ_IN_INDEX AS CHAR)
             FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ?"
        ),
        "TABLE_NAME",
        database,
        scope,
    )
    .await?
    {
        let [table, name, column, sub_part, order, non_unique, kind, hidden, seq] =
            <[Option<String>; 9]>::try_from(row)
                .map_err(|_| ToolError::failed("indexes: unexpected catalog output"))?;
        let entry = indexes
            .entry((table.unwrap_or_default(), name.unwrap_or_default()))
            .or_insert_with(|| Index {
                parts: Vec::new(),
                unique: non_unique.as_deref() == Some("0"),
                kind: kind.unwrap_or_default(),
                hidden,
            });
        let mut part = column.unwrap_or_default();
        if let Some(n) = sub_part {
            part.push_str(&format!("({n})"));
        }
        if order.as_deref() == Some("D") {
            part.push_str(" DESC");
        }
        let seq: usize = seq.and_then(|s| s.parse().ok()).unwrap_or(0);
        entry.parts.push((seq, part));
    }
    for ((table, name), mut index) in indexes {
        index.parts.sort();
        let parts: Vec<&str> = index.parts.iter().map(|(_, p)| p.as_str()).collect();
        snapshot.objects.push(object(
            "index",
            format!("{table}.{name}"),
            Some(&table),
            vec![
                ("columns", Some(parts.join(", "))),
                (
                    "unique",
                    Some(if index.unique { "yes" } else { "no" }.into()),
                ),
                ("type", Some(index.kind)),
                ("hidden", index.hidden),
            ],
        ));
    }
    Ok(())
}

/// Constraints with their columns, references, rules and check clauses;
/// returns each table's primary key columns.
pub(super) async fn constraints(
    conn: &mut MySqlConnection,
    database: &str,
    flavor: Flavor,
    scope: &Scope,
    snapshot: &mut Snapshot,
) -> Result<BTreeMap<String, Vec<String>>, ToolError> {
    let mut key_columns: BTreeMap<Named, Vec<KeyColumn>> = BTreeMap::new();
    let mut referenced: BTreeMap<Named, String> = BTreeMap::new();
    for row in scoped(
        conn,
        "constraint columns",
        "SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, CAST(ORDINAL_POSITION AS CHAR),
                REFERENCED_TABLE_SCHEMA, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME
         FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = ?",
        "TABLE_NAME",
        database,
        scope,
    )
    .await?
    {
        let [
            table,
            name,
            column,
            position,
            ref_schema,
            ref_table,
            ref_column,
        ] = <[Option<String>; 7]>::try_from(row)
            .map_err(|_| ToolError::failed("constraints: unexpected catalog output"))?;
        let key = (table.unwrap_or_default(), name.unwrap_or_default());
        if let Some(ref_table) = ref_table {
            let ref_schema = ref_schema.unwrap_or_default();
            let target = if ref_schema == *database {
                ref_table
            } else {
                format!("{ref_schema}.{ref_table}")
            };
            referenced.insert(key.clone(), target);
        }
        key_columns.entry(key).or_default().push(KeyColumn {
            position: position.and_then(|p| p.parse().ok()).unwrap_or(0),
            column: column.unwrap_or_default(),
            referenced: ref_column.unwrap_or_default(),
        });
    }
    let mut rules: BTreeMap<Named, (Option<String>, Option<String>)> = BTreeMap::new();
    for row in scoped(
        conn,
        "foreign keys",
        "SELECT TABLE_NAME, CONSTRAINT_NAME, UPDATE_RULE, DELETE_RULE
         FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ?",
        "TABLE_NAME",
        database,
        scope,
    )
    .await?
    {
        let [table, name, update, delete] = <[Option<String>; 4]>::try_from(row)
            .map_err(|_| ToolError::failed("foreign keys: unexpected catalog output"))?;
        rules.insert(
            (table.unwrap_or_default(), name.unwrap_or_default()),
            (update, delete),
        );
    }
    let checks_sql = match flavor {
        // MariaDB names checks per table; MySQL per schema.
        Flavor::MariaDb => {
            "SELECT TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE
             FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ?"
        }
        Flavor::MySql => {
            "SELECT NULL, CONSTRAINT_NAME, CHECK_CLAUSE
             FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ?"
        }
    };
    let mut checks: BTreeMap<Named, String> = BTreeMap::new();
    let check_rows = match flavor {
        Flavor::MariaDb => {
            scoped(conn, "checks", checks_sql, "TABLE_NAME", database, scope).await?
        }
        Flavor::MySql => query(conn, "checks", checks_sql, database, None).await?,
    };
    for row in check_rows {
        let [table, name, clause] = <[Option<String>; 3]>::try_from(row)
            .map_err(|_| ToolError::failed("checks: unexpected catalog output"))?;
        checks.insert(
            (table.unwrap_or_default(), name.unwrap_or_default()),
            clause.unwrap_or_default(),
        );
    }
    let mut primary_keys: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in scoped(
        conn,
        "constraints",
        "SELECT TABLE_NAME, CONSTRAINT_NAME, CONSTRAINT_TYPE
         FROM information_schema.TABLE_CONSTRAINTS WHERE TABLE_SCHEMA = ?",
        "TABLE_NAME",
        database,
        scope,
    )
    .await?
    {
        let [table, name, kind] = <[Option<String>; 3]>::try_from(row)
            .map_err(|_| ToolError::failed("constraints: unexpected catalog output"))?;
        let key = (table.unwrap_or_default(), name.unwrap_or_default());
        let kind = kind.unwrap_or_default();
        let mut cols = key_columns.get(&key).cloned().unwrap_or_default();
        cols.sort_by_key(|c| c.position);
        let names: Vec<String> = cols.iter().map(|c| c.column.clone()).collect();
        let references = referenced.get(&key).map(|target| {
            let to: Vec<&str> = cols.iter().map(|c| c.referenced.as_str()).collect();
            format!("{target}({})", to.join(", "))
        });
        let (on_update, on_delete) = rules.get(&key).cloned().unwrap_or_default();
        let check = checks
            .get(&key)
            .or_else(|| checks.get(&(String::new(), key.1.clone())))
            .filter(|_| kind == "CHECK")
            .cloned();
        if kind == "PRIMARY KEY" {
            primary_keys.insert(key.0.clone(), names.clone());
        }
        snapshot.objects.push(object(
            "constraint",
            format!("{}.{}", key.0, key.1),
            Some(&key.0),
            vec![
                ("type", Some(kind.to_ascii_lowercase())),
                ("columns", (!names.is_empty()).then(|| names.join(", "))),
                ("references", references),
                ("on_update", on_update),
                ("on_delete", on_delete),
                ("check", check),
            ],
        ));
    }
    Ok(primary_keys)
}
