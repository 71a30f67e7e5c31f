//! MySQL/MariaDB's side of `vault sanitize`: rules run in one transaction, verified in a fresh read-only snapshot.
//!
//! Tables and foreign keys come from information_schema. Determinism is
//! read from the fragment's text (MySQL commits implicitly around DDL, so
//! no temporary view can be compiled inside the transaction as on
//! PostgreSQL): the built-in functions whose value changes from call to
//! call and those that read the clock are known, and a stored function is
//! looked up in `information_schema.ROUTINES` (`IS_DETERMINISTIC`).
//! Affected rows are the rows an UPDATE matched, changed or not, as on
//! PostgreSQL: sqlx connects with `CLIENT_FOUND_ROWS`.

use std::collections::HashMap;

use sqlx::{AssertSqlSafe, Row};

use super::linked::Linked;
use super::trigger_definers;
use super::{Mysql, mysql_error, quote_ident};
use crate::exit::ToolError;
use crate::names::TableName;
use crate::pseudonym::{Kind, PseudonymKey};
use crate::sanitize::{Determinism, ForeignKey, OnDelete, Sanitizer, UnrunnableTrigger, read_sql};

/// Functions whose value changes from one call to the next (or that change
/// something when called).
const VOLATILE: &[&str] = &[
    "rand",
    "uuid",
    "uuid_short",
    "uuid_v4",
    "uuid_v7",
    "sys_guid",
    "sysdate",
    "random_bytes",
    "last_insert_id",
    "row_count",
    "found_rows",
    "nextval",
    "lastval",
    "setval",
    "get_lock",
    "release_lock",
    "release_all_locks",
    "is_free_lock",
    "is_used_lock",
    "sleep",
    "benchmark",
    "load_file",
    "master_pos_wait",
    "source_pos_wait",
];

/// Clock functions that need parentheses.
const CLOCK_CALLS: &[&str] = &["now", "curdate", "curtime"];

/// Clock keywords, with or without parentheses.
const CLOCK_WORDS: &[&str] = &[
    "current_date",
    "current_time",
    "current_timestamp",
    "localtime",
    "localtimestamp",
    "utc_date",
    "utc_time",
    "utc_timestamp",
];

impl Sanitizer for Mysql {
    async fn user_triggers(&mut self, tables: &[TableName]) -> Result<Vec<String>, ToolError> {
        let mut found = Vec::new();
        for table in tables {
            let schema = self.schema_of(table).to_owned();
            let names: Vec<String> = sqlx::query_scalar(
                "SELECT CAST(trigger_name AS CHAR) FROM information_schema.triggers
                 WHERE event_object_schema = ? AND event_object_table = ? ORDER BY 1",
            )
            .bind(&schema)
            .bind(&table.name)
            .fetch_all(&mut self.conn)
            .await
            .map_err(|e| mysql_error(&table.to_string(), e))?;
            found.extend(names.into_iter().map(|n| format!("{}: {n}", table.name)));
        }
        found.sort();
        found.dedup();
        Ok(found)
    }

    /// MariaDB and MySQL cannot switch a trigger off; dropping it would
    /// commit (DDL), so the triggers run, if the rules allow them.
    async fn quiet_triggers(&mut self, _tables: &[TableName]) -> Result<bool, ToolError> {
        Ok(false)
    }

    async fn wake_triggers(&mut self) -> Result<(), ToolError> {
        Ok(())
    }

    fn can_quiet_triggers(&self) -> bool {
        false
    }

    async fn unrunnable_triggers(
        &mut self,
        tables: &[TableName],
    ) -> Result<Vec<UnrunnableTrigger>, ToolError> {
        let tables: Vec<(String, String)> = tables
            .iter()
            .map(|t| (self.schema_of(t).to_owned(), t.name.clone()))
            .collect();
        trigger_definers::unrunnable(&mut self.conn, &tables).await
    }

    async fn pseudonymize(
        &mut self,
        table: &TableName,
        columns: &[(&String, Kind)],
        filter: Option<&str>,
        key: &PseudonymKey,
    ) -> Result<u64, ToolError> {
        let table = self.table_sql(table);
        super::pseudonymize::pseudonymize(self, &table, columns, filter, key).await
    }

    fn misshapen_sql(&self, column: &str, kind: &Kind) -> Option<String> {
        super::pseudonymize::misshapen(column, kind)
    }

    /// MySQL and MariaDB have no `IS DISTINCT FROM`; `<=>` is their
    /// null-safe equality.
    fn differs_sql(&self, column: &str, expression: &str) -> String {
        format!(
            "NOT ({} <=> ({expression}))",
            crate::names::quote_ident(column)
        )
    }

    fn table_sql(&self, table: &TableName) -> String {
        format!(
            "{}.{}",
            quote_ident(self.schema_of(table)),
            quote_ident(&table.name)
        )
    }

    async fn table_columns(&mut self, table: &TableName) -> Result<Option<Vec<String>>, ToolError> {
        let at = table.to_string();
        let schema = self.schema_of(table).to_owned();
        let row = sqlx::query(
            "SELECT t.table_type, coalesce(t.engine, ''), coalesce(e.transactions, '')
             FROM information_schema.tables t
             LEFT JOIN information_schema.engines e ON e.engine = t.engine
             WHERE t.table_schema = ? AND t.table_name = ?",
        )
        .bind(&schema)
        .bind(&table.name)
        .fetch_optional(&mut self.conn)
        .await
        .map_err(|e| mysql_error(&at, e))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let (kind, engine, transactions): (String, String, String) =
            (row.get(0), row.get(1), row.get(2));
        match kind.as_str() {
            "BASE TABLE" => {}
            "SYSTEM VERSIONED" => {
                return Err(ToolError::usage(format!(
                    "{table} is system-versioned: the rows a rule deletes or masks would stay in its history"
                ))
                .hint(format!(
                    "delete its history first (DELETE HISTORY FROM {}), or remove the versioning",
                    self.table_sql(table)
                )));
            }
            other => {
                return Err(ToolError::usage(format!(
                    "{table} is a {}, not a table; sanitize rules apply to tables",
                    other.to_ascii_lowercase()
                ))
                .hint("name the tables behind it"));
            }
        }
        if transactions != "YES" {
            return Err(ToolError::usage(format!(
                "{table} uses the {engine} storage engine, which has no transactions: a failed rule or a dry run could not be rolled back"
            ))
            .hint(format!(
                "convert it (ALTER TABLE {} ENGINE = InnoDB), or leave it out of the rules",
                self.table_sql(table)
            )));
        }
        let columns = sqlx::query_scalar(
            "SELECT column_name FROM information_schema.columns
             WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        )
        .bind(&schema)
        .bind(&table.name)
        .fetch_all(&mut self.conn)
        .await
        .map_err(|e| mysql_error(&at, e))?;
        Ok(Some(columns))
    }

    async fn begin_sanitize(&mut self) -> Result<(), ToolError> {
        self.execute("START TRANSACTION READ WRITE").await
    }

    async fn begin_verify(&mut self) -> Result<(), ToolError> {
        // SET TRANSACTION applies to the next transaction only: a fresh
        // snapshot taken now, that every count reads.
        self.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .await?;
        self.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
            .await
    }

    async fn end_transaction(&mut self, commit: bool) -> Result<(), ToolError> {
        self.execute(if commit { "COMMIT" } else { "ROLLBACK" })
            .await
    }

    async fn sanitize_execute(&mut self, sql: &str) -> Result<u64, ToolError> {
        // One prepared statement: a predicate or an expression cannot carry
        // a second statement. Rows matched, not only changed (FOUND_ROWS).
        let done = sqlx::query(AssertSqlSafe(sql.to_owned()))
            .persistent(false)
            .execute(&mut self.conn)
            .await;
        match done {
            Ok(done) => Ok(done.rows_affected()),
            Err(e) => {
                let schema = self.database.clone();
                let named =
                    trigger_definers::name_failed_triggers(&mut self.conn, &schema, &e).await;
                let error = mysql_error("", e);
                Err(match named {
                    Some(named) => ToolError {
                        message: format!("{}; {named}", error.message),
                        ..error
                    },
                    None => error,
                })
            }
        }
    }

    async fn sanitize_count(&mut self, sql: &str) -> Result<u64, ToolError> {
        let count: i64 = sqlx::query_scalar(AssertSqlSafe(sql.to_owned()))
            .persistent(false)
            .fetch_one(&mut self.conn)
            .await
            .map_err(|e| mysql_error("", e))?;
        Ok(count.max(0) as u64)
    }

    async fn referencing_keys(&mut self, table: &TableName) -> Result<Vec<ForeignKey>, ToolError> {
        let schema = self.schema_of(table).to_owned();
        // Two plain queries, link tables left out by name: a join of these
        // views would open every table of the server, and opening a link
        // table logs in to its far server (`linked`).
        let linked = Linked::of_server(&mut self.conn).await?;
        let sql = format!(
            "SELECT k.constraint_name, k.table_schema, k.table_name,
                    k.column_name, k.referenced_column_name
             FROM information_schema.key_column_usage k
             WHERE k.referenced_table_schema = ? AND k.referenced_table_name = ?{}
             ORDER BY k.table_schema, k.table_name, k.constraint_name, k.ordinal_position",
            linked.exclude("k.table_schema", "k.table_name")
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(&schema)
            .bind(&table.name)
            .fetch_all(&mut self.conn)
            .await
            .map_err(|e| mysql_error(&table.to_string(), e))?;
        let sql = format!(
            "SELECT constraint_schema, table_name, constraint_name, delete_rule
             FROM information_schema.referential_constraints
             WHERE unique_constraint_schema = ? AND referenced_table_name = ?{}",
            linked.exclude("constraint_schema", "table_name")
        );
        let rules: HashMap<(String, String, String), String> = sqlx::query(AssertSqlSafe(sql))
            .bind(&schema)
            .bind(&table.name)
            .fetch_all(&mut self.conn)
            .await
            .map_err(|e| mysql_error(&table.to_string(), e))?
            .iter()
            .map(|r| ((r.get(0), r.get(1), r.get(2)), r.get(3)))
            .collect();
        let mut keys: Vec<(String, ForeignKey)> = Vec::new();
        for row in rows {
            let (name, child_schema, child): (String, String, String) =
                (row.get(0), row.get(1), row.get(2));
            let (from, to): (String, String) = (row.get(3), row.get(4));
            let rule = rules
                .get(&(child_schema.clone(), child.clone(), name.clone()))
                .cloned()
                .unwrap_or_default();
            let id = format!("{child_schema}\0{child}\0{name}");
            match keys.last_mut() {
                Some((last, key)) if *last == id => {
                    key.child_columns.push(from);
                    key.parent_columns.push(to);
                }
                _ => keys.push((
                    id,
                    ForeignKey {
                        name,
                        // Spelled like the rule spells its table, so that a
                        // table referring to itself is recognized.
                        child: TableName {
                            schema: (table.schema.is_some() || child_schema != self.database)
                                .then_some(child_schema),
                            name: child,
                        },
                        child_columns: vec![from],
                        parent_columns: vec![to],
                        on_delete: on_delete(&rule),
                    },
                )),
            }
        }
        Ok(keys.into_iter().map(|(_, key)| key).collect())
    }

    async fn determinism(
        &mut self,
        _table: &TableName,
        fragment: &str,
    ) -> Result<Determinism, ToolError> {
        let verdict = builtin_determinism(fragment);
        if verdict != Determinism::Deterministic {
            return Ok(verdict);
        }
        let called: Vec<String> = read_sql(fragment)
            .names
            .into_iter()
            .filter(|n| n.call)
            .map(|n| n.text.to_ascii_lowercase())
            .collect();
        if called.is_empty() {
            return Ok(verdict);
        }
        // Stored functions: NOT DETERMINISTIC is their default.
        let functions = sqlx::query(
            "SELECT routine_schema, routine_name, is_deterministic FROM information_schema.routines
             WHERE routine_type = 'FUNCTION' ORDER BY 1, 2",
        )
        .fetch_all(&mut self.conn)
        .await
        .map_err(|e| mysql_error("", e))?;
        for function in functions {
            let (schema, name, deterministic): (String, String, String) =
                (function.get(0), function.get(1), function.get(2));
            if deterministic != "YES" && called.contains(&name.to_ascii_lowercase()) {
                return Ok(Determinism::Volatile(format!(
                    "calls {schema}.{name}(), a stored function declared NOT DETERMINISTIC"
                )));
            }
        }
        Ok(verdict)
    }
}

fn on_delete(rule: &str) -> OnDelete {
    match rule {
        "CASCADE" => OnDelete::Cascade,
        "SET NULL" => OnDelete::SetNull,
        "SET DEFAULT" => OnDelete::SetDefault,
        "RESTRICT" => OnDelete::Restrict,
        _ => OnDelete::NoAction,
    }
}

/// The verdict for the built-in functions and keywords of a fragment (its
/// string literals and quoted names are skipped).
fn builtin_determinism(sql: &str) -> Determinism {
    let text = read_sql(sql);
    let bare: Vec<(String, bool, bool)> = text
        .names
        .iter()
        .map(|n| {
            let word = if n.quoted {
                String::new()
            } else {
                n.text.to_ascii_lowercase()
            };
            (word, n.call, n.empty_call)
        })
        .collect();
    for (i, (word, call, empty_call)) in bare.iter().enumerate() {
        let sequence_value = matches!(word.as_str(), "next" | "previous")
            && bare.get(i + 1).is_some_and(|(w, _, _)| w == "value")
            && bare.get(i + 2).is_some_and(|(w, _, _)| w == "for");
        if sequence_value {
            return Determinism::Volatile(format!(
                "reads a sequence ({} VALUE FOR), whose value changes",
                word.to_ascii_uppercase()
            ));
        }
        if *call && VOLATILE.contains(&word.as_str()) {
            return Determinism::Volatile(format!("calls {word}(), whose value changes"));
        }
        if CLOCK_WORDS.contains(&word.as_str())
            || (*call && CLOCK_CALLS.contains(&word.as_str()))
            || (*empty_call && word == "unix_timestamp")
        {
            let parens = if *call { "()" } else { "" };
            return Determinism::Clock(format!(
                "reads the clock ({}{parens})",
                word.to_ascii_uppercase()
            ));
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
            builtin_determinism("concat('user', id, '@example.org')"),
            Determinism::Deterministic
        );
        for volatile in [
            "md5(rand())",
            "UUID()",
            "uuid_short ()",
            "SYSDATE()",
            "NEXT VALUE FOR s",
        ] {
            assert!(
                matches!(builtin_determinism(volatile), Determinism::Volatile(_)),
                "{volatile}"
            );
        }
        for clock in [
            "NOW()",
            "CURRENT_TIMESTAMP",
            "current_date - INTERVAL 1 DAY",
            "CURDATE()",
            "UTC_TIMESTAMP()",
            "UNIX_TIMESTAMP()",
        ] {
            assert!(
                matches!(builtin_determinism(clock), Determinism::Clock(_)),
                "{clock}"
            );
        }
        for fixed in [
            "UNIX_TIMESTAMP(born)",
            "'rand()' || `now`",
            "\"rand\" + 1",
            "DATE_ADD(born, INTERVAL 1 DAY)",
        ] {
            assert_eq!(
                builtin_determinism(fixed),
                Determinism::Deterministic,
                "{fixed}"
            );
        }
    }
}
