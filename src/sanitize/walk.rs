//! The foreign-key walk of a delete rule: referring rows counted, handled by their ON DELETE rule or deleted first (cascade = true), children before parents.

use std::collections::HashMap;

use super::{Dependent, ForeignKey, OnDelete, Sanitizer, at};
use crate::config::SanitizeRule;
use crate::exit::ToolError;
use crate::names::{TableName, quote_ident};

/// How deep the foreign-key walk goes before it gives up (a cycle of rows).
const MAX_DEPTH: usize = 32;

/// The foreign keys referring to each table, read once per run.
#[derive(Default)]
pub(super) struct KeyCache(HashMap<TableName, Vec<ForeignKey>>);

impl KeyCache {
    async fn get<S: Sanitizer>(
        &mut self,
        db: &mut S,
        table: &TableName,
    ) -> Result<Vec<ForeignKey>, ToolError> {
        if let Some(keys) = self.0.get(table) {
            return Ok(keys.clone());
        }
        let keys = db.referencing_keys(table).await?;
        self.0.insert(table.clone(), keys.clone());
        Ok(keys)
    }
}

/// The foreign-key walk of one delete rule.
pub(super) struct Walk<'a> {
    pub rule: usize,
    pub config_rule: &'a SanitizeRule,
    pub cascade: bool,
}

impl Walk<'_> {
    /// Handles the rows that refer to the rows of `table` matching
    /// `predicate` (all rows when `None`), children first, then deletes
    /// those rows when `delete_self` (the schema deletes them otherwise).
    /// Returns the rows deleted here.
    #[allow(clippy::too_many_arguments)]
    pub async fn delete<S: Sanitizer>(
        &self,
        db: &mut S,
        keys: &mut KeyCache,
        table: &TableName,
        predicate: Option<&str>,
        delete_self: bool,
        depth: usize,
        out: &mut Vec<Dependent>,
    ) -> Result<u64, ToolError> {
        let here = at(self.rule, self.config_rule);
        if depth > MAX_DEPTH {
            return Err(ToolError::failed(format!(
                "{here}: the rows referring to the deleted rows go deeper than {MAX_DEPTH} levels through foreign keys of {table} (a cycle?)"
            ))
            .hint("delete the referring rows with their own rules first"));
        }
        let sql_table = db.table_sql(table);
        let where_clause = predicate
            .map(|p| format!(" WHERE ({p})"))
            .unwrap_or_default();
        for key in keys.get(db, table).await? {
            // A table that refers to itself: rows that are deleted anyway
            // are no conflict (and all of them are, without a predicate).
            let self_reference = key.child == *table;
            if self_reference && predicate.is_none() {
                continue;
            }
            let parents = format!(
                "SELECT {} FROM {sql_table}{where_clause}",
                columns_sql(&key.parent_columns)
            );
            let mut child_predicate =
                format!("({}) IN ({parents})", columns_sql(&key.child_columns));
            if let (true, Some(p)) = (self_reference, predicate) {
                child_predicate.push_str(&format!(" AND NOT coalesce(({p}), false)"));
            }
            let child_sql = db.table_sql(&key.child);
            let count = db
                .sanitize_count(&format!(
                    "SELECT count(*) FROM {child_sql} WHERE {child_predicate}"
                ))
                .await
                .map_err(|e| ToolError {
                    message: format!("{here}: {}", e.message),
                    ..e
                })?;
            if count == 0 {
                continue;
            }
            let dependent = |how, rows| Dependent {
                table: key.child.to_string(),
                constraint: key.name.clone(),
                how,
                rows,
            };
            match key.on_delete {
                OnDelete::Cascade => {
                    // The schema deletes them; their own dependents still count.
                    Box::pin(self.delete(
                        db,
                        keys,
                        &key.child,
                        Some(&child_predicate),
                        false,
                        depth + 1,
                        out,
                    ))
                    .await?;
                    out.push(dependent("on-delete-cascade", count));
                }
                OnDelete::SetNull => out.push(dependent("on-delete-set-null", count)),
                OnDelete::SetDefault => out.push(dependent("on-delete-set-default", count)),
                OnDelete::Restrict | OnDelete::NoAction if self.cascade => {
                    let removed = Box::pin(self.delete(
                        db,
                        keys,
                        &key.child,
                        Some(&child_predicate),
                        true,
                        depth + 1,
                        out,
                    ))
                    .await?;
                    out.push(dependent("deleted-first", removed));
                }
                OnDelete::Restrict | OnDelete::NoAction => {
                    return Err(ToolError::failed(format!(
                        "{here}: {count} rows of {} refer to rows it deletes from {table} through foreign key {} (ON DELETE {})",
                        key.child,
                        key.name,
                        key.on_delete.sql()
                    ))
                    .hint(format!(
                        "delete those rows of {} in an earlier rule, or set cascade = true on this rule to delete them first",
                        key.child
                    )));
                }
            }
        }
        if !delete_self {
            return Ok(0);
        }
        db.sanitize_execute(&format!("DELETE FROM {sql_table}{where_clause}"))
            .await
            .map_err(|e| ToolError {
                message: format!("{here}: {}", e.message),
                ..e
            })
    }
}

fn columns_sql(columns: &[String]) -> String {
    columns
        .iter()
        .map(|c| quote_ident(c))
        .collect::<Vec<_>>()
        .join(", ")
}
