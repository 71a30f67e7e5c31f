//! SQLite's health checks: `PRAGMA integrity_check`, `PRAGMA foreign_key_check`, and views and triggers that name tables or columns that do not exist.
//!
//! SQLite resolves the names in a view or a trigger only when a statement
//! that uses it is prepared, and `DROP TABLE` does not look at them. A view
//! is checked by preparing `SELECT * FROM view LIMIT 0`. A trigger is
//! checked by preparing (`EXPLAIN`, which runs nothing) an `INSERT`, an
//! `UPDATE` of every column and a `DELETE` on its table: preparing a
//! statement compiles the triggers it would fire. To name the trigger at
//! fault, each one is compiled alone: inside a transaction the other
//! triggers are dropped, and the transaction is rolled back, so nothing
//! changes, not even the file's header. A
//! statement that fails with no trigger at all (a broken foreign key, say)
//! does not count against a trigger. The only repair is `REINDEX` of an
//! index that `integrity_check` finds out of step with its table; every
//! other finding says what to do.

use sqlx::sqlite::SqliteConnection;
use sqlx::{AssertSqlSafe, Row};

use super::{Sqlite, query_error};
use crate::exit::ToolError;
use crate::health::{Finding, FindingKind, HealthCheck, Inspection};
use crate::names::quote_ident;

const SAVEPOINT: &str = "vault_health";

impl HealthCheck for Sqlite {
    async fn inspect_health(&mut self) -> Result<Inspection, ToolError> {
        let conn = &mut self.conn;
        let mut out = Inspection::default();
        integrity(conn, &mut out).await?;
        foreign_keys(conn, &mut out).await?;
        views(conn, &mut out).await?;
        triggers(conn, &mut out).await?;
        Ok(out)
    }

    async fn repair_finding(&mut self, finding: &Finding) -> Result<Option<String>, ToolError> {
        let Some(statement) = &finding.repair else {
            return Ok(None);
        };
        match run(&mut self.conn, statement).await {
            Ok(()) => Ok(None),
            Err(error) => refused(error).map(Some),
        }
    }
}

async fn run(conn: &mut SqliteConnection, sql: &str) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
        .execute(conn)
        .await
        .map(|_| ())
}

/// The message of a statement SQLite refused; other errors stop the check.
fn refused(error: sqlx::Error) -> Result<String, ToolError> {
    match error.as_database_error() {
        Some(db) => Ok(db.message().to_owned()),
        None => Err(query_error("", error)),
    }
}

async fn integrity(conn: &mut SqliteConnection, out: &mut Inspection) -> Result<(), ToolError> {
    let lines: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| query_error("", e))?;
    let indexes: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_schema WHERE type = 'index'")
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| query_error("", e))?;
    // Damage within one index is that index's finding, mended by REINDEX.
    let mut by_index: Vec<(String, Vec<String>)> = Vec::new();
    for line in lines.into_iter().filter(|l| l != "ok") {
        let index = indexes.iter().find(|name| {
            line.ends_with(&format!("from index {name}"))
                || line.ends_with(&format!("in index {name}"))
        });
        match index {
            Some(name) => match by_index.iter_mut().find(|(n, _)| n == name) {
                Some((_, lines)) => lines.push(line),
                None => by_index.push((name.clone(), vec![line])),
            },
            None => out.findings.push(
                Finding::new(
                    FindingKind::Integrity,
                    "main",
                    line,
                    "PRAGMA integrity_check",
                )
                .what_to_do("copy the database again from its source or a backup"),
            ),
        }
    }
    for (index, lines) in by_index {
        let repair = format!("REINDEX {}", quote_ident(&index));
        let more = match lines.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        out.findings.push(
            Finding::new(
                FindingKind::Integrity,
                index,
                format!("index does not match its table: {}{more}", lines[0]),
                "PRAGMA integrity_check",
            )
            .what_to_do(format!(
                "run {repair}; if the damage remains, copy the database again from its source or a backup"
            ))
            .repair(repair),
        );
    }
    Ok(())
}

async fn foreign_keys(conn: &mut SqliteConnection, out: &mut Inspection) -> Result<(), ToolError> {
    let rows = sqlx::query(
        "SELECT \"table\", parent, fkid, count(*) FROM pragma_foreign_key_check
         GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| query_error("", e))?;
    for row in rows {
        let (table, parent, fkid, count): (String, String, i64, i64) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        let columns: Vec<String> = sqlx::query_scalar(
            "SELECT \"from\" FROM pragma_foreign_key_list(?1) WHERE id = ?2 ORDER BY seq",
        )
        .bind(&table)
        .bind(fkid)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| query_error(&table, e))?;
        out.findings.push(
            Finding::new(
                FindingKind::ForeignKeyViolation,
                table.clone(),
                format!(
                    "{count} rows refer through ({}) to rows of {parent} that do not exist",
                    columns.join(", ")
                ),
                "PRAGMA foreign_key_check",
            )
            .what_to_do(format!(
                "delete or correct those rows of {table} (PRAGMA foreign_key_check({}) lists their rowids), or put back the rows of {parent}",
                quote_ident(&table)
            )),
        );
    }
    Ok(())
}

async fn views(conn: &mut SqliteConnection, out: &mut Inspection) -> Result<(), ToolError> {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_schema WHERE type = 'view' ORDER BY name")
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| query_error("", e))?;
    for name in names {
        let sql = format!("SELECT * FROM {} LIMIT 0", quote_ident(&name));
        if let Err(error) = run(conn, &sql).await {
            let message = refused(error)?;
            out.findings.push(
                Finding::new(
                    FindingKind::BrokenView,
                    name,
                    format!("fails when read: {message}"),
                    "prepare SELECT * FROM view LIMIT 0",
                )
                .what_to_do(
                    "recreate the table or column it reads, or drop the view and create it again",
                ),
            );
        }
    }
    Ok(())
}

/// Statements that fire every trigger of `table`: an insert, an update of
/// every column, a delete; `EXPLAIN` compiles them and runs nothing.
async fn firing_statements(
    conn: &mut SqliteConnection,
    table: &str,
) -> Result<Vec<String>, ToolError> {
    let quoted = quote_ident(table);
    let columns: Vec<String> =
        sqlx::query_scalar("SELECT name FROM pragma_table_xinfo(?1) WHERE hidden = 0")
            .bind(table)
            .fetch_all(&mut *conn)
            .await
            .unwrap_or_default();
    let mut statements = vec![format!("EXPLAIN INSERT INTO {quoted} DEFAULT VALUES")];
    if !columns.is_empty() {
        let set: Vec<String> = columns
            .iter()
            .map(|c| format!("{0} = {0}", quote_ident(c)))
            .collect();
        statements.push(format!("EXPLAIN UPDATE {quoted} SET {}", set.join(", ")));
    }
    statements.push(format!("EXPLAIN DELETE FROM {quoted}"));
    Ok(statements)
}

/// Drops, inside the savepoint, every trigger but `keep`.
async fn drop_triggers_but(
    conn: &mut SqliteConnection,
    all: &[(String, String)],
    keep: Option<&str>,
) -> Result<(), ToolError> {
    for (name, _) in all.iter().filter(|(n, _)| Some(n.as_str()) != keep) {
        run(conn, &format!("DROP TRIGGER {}", quote_ident(name)))
            .await
            .map_err(|e| query_error("", e))?;
    }
    Ok(())
}

async fn triggers(conn: &mut SqliteConnection, out: &mut Inspection) -> Result<(), ToolError> {
    let all: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, tbl_name FROM sqlite_schema WHERE type = 'trigger' ORDER BY tbl_name, name",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| query_error("", e))?;
    if all.is_empty() {
        return Ok(());
    }
    // A transaction of its own that ends in ROLLBACK: releasing the savepoint
    // would commit, and a commit rewrites the file header even when every
    // change was undone.
    run(conn, &format!("BEGIN; SAVEPOINT {SAVEPOINT}"))
        .await
        .map_err(|e| query_error("", e))?;
    let checked = check_triggers(conn, &all, out).await;
    let undone = run(conn, "ROLLBACK").await.map_err(|e| query_error("", e));
    checked.and(undone)
}

async fn check_triggers(
    conn: &mut SqliteConnection,
    all: &[(String, String)],
    out: &mut Inspection,
) -> Result<(), ToolError> {
    let mut tables: Vec<&str> = all.iter().map(|(_, t)| t.as_str()).collect();
    tables.dedup();
    for table in tables {
        // What compiles with no trigger at all is what a trigger must not break.
        let rollback = format!("ROLLBACK TO {SAVEPOINT}");
        run(conn, &rollback).await.map_err(|e| query_error("", e))?;
        drop_triggers_but(conn, all, None).await?;
        let mut statements = Vec::new();
        for statement in firing_statements(conn, table).await? {
            if run(conn, &statement).await.is_ok() {
                statements.push(statement);
            }
        }
        for (name, _) in all.iter().filter(|(_, t)| t == table) {
            run(conn, &rollback).await.map_err(|e| query_error("", e))?;
            drop_triggers_but(conn, all, Some(name)).await?;
            for statement in &statements {
                if let Err(error) = run(conn, statement).await {
                    let message = refused(error)?;
                    out.findings.push(
                        Finding::new(
                            FindingKind::BrokenTrigger,
                            name.clone(),
                            format!("trigger on {table} fails when it fires: {message}"),
                            "prepare (EXPLAIN) a statement that fires it, alone, in a savepoint rolled back",
                        )
                        .what_to_do(
                            "recreate the table or column it names, or drop the trigger and create it again",
                        ),
                    );
                    break;
                }
            }
        }
    }
    Ok(())
}
