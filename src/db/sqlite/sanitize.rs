//! SQLite's side of `vault sanitize`: foreign keys from `pragma_foreign_key_list`, and determinism read from the SQL text.
//!
//! SQLite runs only its built-in functions here (the tool registers none),
//! so the functions whose value changes from one call to the next are
//! known: `random()`, `randomblob()`, `changes()`, `total_changes()`,
//! `last_insert_rowid()`; the date and time functions read the clock when
//! given `'now'` or no argument, as do `CURRENT_DATE`, `CURRENT_TIME` and
//! `CURRENT_TIMESTAMP`.

use sqlx::{AssertSqlSafe, Row};

use super::{Sqlite, query_error, schema_of};
use crate::exit::ToolError;
use crate::names::{TableName, quote_ident, quote_table};
use crate::pseudonym::{Kind, PseudonymKey};
use crate::sanitize::{Determinism, ForeignKey, OnDelete, Sanitizer, read_sql};

const VOLATILE: &[&str] = &[
    "random",
    "randomblob",
    "changes",
    "total_changes",
    "last_insert_rowid",
];
const CLOCK_FUNCTIONS: &[&str] = &[
    "date",
    "time",
    "datetime",
    "julianday",
    "unixepoch",
    "strftime",
    "timediff",
];
const CLOCK_WORDS: &[&str] = &["current_date", "current_time", "current_timestamp"];

impl Sanitizer for Sqlite {
    async fn user_triggers(&mut self, tables: &[TableName]) -> Result<Vec<String>, ToolError> {
        let mut found: Vec<String> = self
            .triggers_of(tables)
            .await?
            .into_iter()
            .map(|(table, name, _)| format!("{}: {name}", table.name))
            .collect();
        found.dedup();
        Ok(found)
    }

    /// Dropped inside the sanitize transaction, created again before it
    /// commits (a rollback brings them back by itself).
    async fn quiet_triggers(&mut self, tables: &[TableName]) -> Result<bool, ToolError> {
        self.drop_triggers(tables).await?;
        Ok(true)
    }

    async fn wake_triggers(&mut self) -> Result<(), ToolError> {
        self.recreate_triggers().await
    }

    fn table_sql(&self, table: &TableName) -> String {
        quote_table(table)
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
        let kind: Option<String> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT type FROM {}.sqlite_schema WHERE name = ?1 COLLATE NOCASE AND type IN ('table', 'view')",
            quote_ident(schema_of(table))
        )))
        .bind(&table.name)
        .fetch_optional(&mut self.conn)
        .await
        .map_err(|e| query_error(&table.to_string(), e))?;
        match kind.as_deref() {
            None => return Ok(None),
            Some("view") => {
                return Err(ToolError::usage(format!(
                    "{table} is a view, not a table; sanitize rules apply to tables"
                ))
                .hint("name the tables behind the view"));
            }
            Some(_) => {}
        }
        let columns =
            sqlx::query_scalar("SELECT name FROM pragma_table_xinfo(?1, ?2) ORDER BY cid")
                .bind(&table.name)
                .bind(schema_of(table))
                .fetch_all(&mut self.conn)
                .await
                .map_err(|e| query_error(&table.to_string(), e))?;
        Ok(Some(columns))
    }

    async fn begin_sanitize(&mut self) -> Result<(), ToolError> {
        self.execute("BEGIN IMMEDIATE").await
    }

    async fn begin_verify(&mut self) -> Result<(), ToolError> {
        // A deferred transaction reads one snapshot from its first read on.
        self.execute("BEGIN").await
    }

    async fn end_transaction(&mut self, commit: bool) -> Result<(), ToolError> {
        self.execute(if commit { "COMMIT" } else { "ROLLBACK" })
            .await
    }

    async fn sanitize_execute(&mut self, sql: &str) -> Result<u64, ToolError> {
        let done = sqlx::query(AssertSqlSafe(sql.to_owned()))
            .execute(&mut self.conn)
            .await
            .map_err(|e| query_error("", e))?;
        Ok(done.rows_affected())
    }

    async fn sanitize_count(&mut self, sql: &str) -> Result<u64, ToolError> {
        let count: i64 = sqlx::query_scalar(AssertSqlSafe(sql.to_owned()))
            .fetch_one(&mut self.conn)
            .await
            .map_err(|e| query_error("", e))?;
        Ok(count.max(0) as u64)
    }

    async fn referencing_keys(&mut self, table: &TableName) -> Result<Vec<ForeignKey>, ToolError> {
        let schema = schema_of(table);
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT m.name, f.id, f.\"from\", f.\"to\", f.on_delete
             FROM {}.sqlite_schema m, pragma_foreign_key_list(m.name, ?2) f
             WHERE m.type = 'table' AND f.\"table\" = ?1 COLLATE NOCASE
             ORDER BY m.name, f.id, f.seq",
            quote_ident(schema)
        )))
        .bind(&table.name)
        .bind(schema)
        .fetch_all(&mut self.conn)
        .await
        .map_err(|e| query_error(&table.to_string(), e))?;
        let mut keys: Vec<(String, i64, ForeignKey)> = Vec::new();
        for row in rows {
            let (child, id): (String, i64) = (row.get(0), row.get(1));
            let from: String = row.get(2);
            let to: Option<String> = row.get(3);
            let on_delete: String = row.get(4);
            match keys.last_mut() {
                Some((c, i, key)) if *c == child && *i == id => {
                    key.child_columns.push(from);
                    key.parent_columns.extend(to);
                }
                _ => keys.push((
                    child.clone(),
                    id,
                    ForeignKey {
                        name: String::new(),
                        child: TableName {
                            schema: table.schema.clone(),
                            name: child,
                        },
                        child_columns: vec![from],
                        parent_columns: to.into_iter().collect(),
                        on_delete: match on_delete.to_ascii_uppercase().as_str() {
                            "RESTRICT" => OnDelete::Restrict,
                            "CASCADE" => OnDelete::Cascade,
                            "SET NULL" => OnDelete::SetNull,
                            "SET DEFAULT" => OnDelete::SetDefault,
                            _ => OnDelete::NoAction,
                        },
                    },
                )),
            }
        }
        let mut result = Vec::new();
        for (_, _, mut key) in keys {
            if key.parent_columns.is_empty() {
                // REFERENCES parent without columns: the parent's primary key.
                key.parent_columns = sqlx::query_scalar(
                    "SELECT name FROM pragma_table_info(?1, ?2) WHERE pk > 0 ORDER BY pk",
                )
                .bind(&table.name)
                .bind(schema)
                .fetch_all(&mut self.conn)
                .await
                .map_err(|e| query_error(&table.to_string(), e))?;
            }
            // SQLite keeps no names for foreign keys: describe it instead.
            key.name = format!(
                "{}({}) REFERENCES {}({})",
                key.child.name,
                key.child_columns.join(", "),
                table.name,
                key.parent_columns.join(", ")
            );
            result.push(key);
        }
        Ok(result)
    }

    async fn determinism(
        &mut self,
        _table: &TableName,
        fragment: &str,
    ) -> Result<Determinism, ToolError> {
        Ok(determinism_of(fragment))
    }
}

/// Reads the functions and keywords of an SQL fragment, skipping string
/// literals and quoted identifiers.
fn determinism_of(sql: &str) -> Determinism {
    let text = read_sql(sql);
    let mentions_now = text
        .literals
        .iter()
        .any(|l| l.trim().eq_ignore_ascii_case("now"));
    for name in text.names.iter().filter(|n| !n.quoted) {
        let lower = name.text.to_ascii_lowercase();
        if name.call && VOLATILE.contains(&lower.as_str()) {
            return Determinism::Volatile(format!("calls {lower}(), whose value changes"));
        }
        if !name.call && CLOCK_WORDS.contains(&lower.as_str()) {
            return Determinism::Clock(format!("reads the clock ({})", name.text.to_uppercase()));
        }
        if name.call
            && CLOCK_FUNCTIONS.contains(&lower.as_str())
            && (mentions_now || name.empty_call)
        {
            return Determinism::Clock(format!("reads the clock ({lower}('now'))"));
        }
    }
    Determinism::Deterministic
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volatile_and_clock_are_recognized() {
        assert_eq!(
            determinism_of("'user' || id || '@example.org'"),
            Determinism::Deterministic
        );
        assert!(matches!(
            determinism_of("hex(randomblob(8))"),
            Determinism::Volatile(_)
        ));
        assert!(matches!(
            determinism_of("date('now', '-1 day')"),
            Determinism::Clock(_)
        ));
        assert!(matches!(
            determinism_of("CURRENT_TIMESTAMP"),
            Determinism::Clock(_)
        ));
        assert_eq!(
            determinism_of("'random()' || \"random\"()"),
            Determinism::Deterministic
        );
        assert_eq!(
            determinism_of("date(born, '+1 day')"),
            Determinism::Deterministic
        );
    }
}
