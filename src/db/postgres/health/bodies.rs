//! Function and procedure bodies that name tables, functions or columns that do not exist, found by PostgreSQL itself: its SQL-function validator, and the plpgsql_check extension for PL/pgSQL.
//!
//! `CREATE FUNCTION` checks a body's syntax at most, and a `DROP TABLE`
//! never looks at bodies: after a refresh a function may name a table that
//! acceptance no longer has, and fails only when it runs.
//!
//! - SQL-language bodies are analysed by the server's own validator
//!   (`fmgr_sql_validator`, what `CREATE FUNCTION` runs), with the
//!   function's own `search_path`, in a read-only transaction.
//! - PL/pgSQL bodies are checked by the plpgsql_check extension, the tool
//!   PostgreSQL DBAs use: a trigger function with the table of one of its
//!   triggers (and its transition tables) as context, an event-trigger
//!   function as such. When the extension is installed on the server but
//!   not created in the database, it is created in a transaction that is
//!   rolled back, so nothing remains. Without it, the server's PL/pgSQL
//!   validator checks the syntax only, and a note says so.
//!
//! Bodies in `BEGIN ATOMIC` form are skipped: the server tracks their
//! dependencies and refuses to drop what they use. Dynamic SQL (`EXECUTE`)
//! cannot be checked and is not.

use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Row};

use super::{USER_SCHEMA, not_extension_member};
use crate::db::postgres::{describe_error, pg_error};
use crate::exit::ToolError;
use crate::health::{Finding, FindingKind, Inspection};
use crate::names::quote_ident;

/// One function or procedure to check.
struct Body {
    oid: i64,
    /// `schema.name(arguments)`.
    object: String,
    language: String,
    procedure: bool,
    /// Its own `SET search_path`, when it has one.
    own_path: Option<String>,
    /// For a trigger function: the table of one of its triggers, and that
    /// trigger's transition table names.
    trigger_table: Option<i64>,
    old_table: Option<String>,
    new_table: Option<String>,
    /// Returns `trigger` but no trigger uses it.
    unattached_trigger: bool,
    /// The tables its own statements create (a temporary table made at run
    /// time does not exist when the body is checked).
    creates: Vec<String>,
}

impl Body {
    fn noun(&self) -> &'static str {
        if self.procedure {
            "procedure"
        } else {
            "function"
        }
    }

    fn finding(&self, problem: &str, method: &str) -> Finding {
        let noun = self.noun();
        Finding::new(
            FindingKind::BrokenFunction,
            self.object.clone(),
            format!("{} {noun} fails when it runs: {problem}", self.language),
            method,
        )
        .what_to_do(format!(
            "recreate the missing objects, or fix the {noun} with CREATE OR REPLACE {}",
            noun.to_uppercase()
        ))
    }
}

impl Body {
    /// Whether `message` says a relation does not exist that the body
    /// itself creates.
    fn creates_missing(&self, message: &str) -> bool {
        let Some(name) = message
            .strip_prefix("relation \"")
            .and_then(|rest| rest.strip_suffix("\" does not exist"))
        else {
            return false;
        };
        let name = name.rsplit('.').next().unwrap_or(name).to_lowercase();
        self.creates.contains(&name)
    }
}

/// The names of the tables that `CREATE [TEMP] TABLE [IF NOT EXISTS] name`
/// statements in a body create, lower-cased, without their schema.
fn created_tables(source: &str) -> Vec<String> {
    let words: Vec<String> = source
        .split(|c: char| c.is_whitespace() || c == '(' || c == ';')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let mut created = Vec::new();
    for (at, word) in words.iter().enumerate() {
        if word != "create" {
            continue;
        }
        let mut rest = words[at + 1..].iter().map(String::as_str).peekable();
        while rest
            .next_if(|w| matches!(*w, "global" | "local" | "temp" | "temporary" | "unlogged"))
            .is_some()
        {}
        if rest.next() != Some("table") {
            continue;
        }
        let mut name = rest.next();
        if name == Some("if") {
            name = rest.nth(2);
        }
        if let Some(name) = name {
            let name = name.rsplit('.').next().unwrap_or(name);
            created.push(name.trim_matches('"').to_owned());
        }
    }
    created
}

/// Every SQL and PL/pgSQL function and procedure outside the system
/// schemas and extensions, with a trigger's context.
async fn bodies(conn: &mut PgConnection) -> Result<Vec<Body>, ToolError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT p.oid::int8, n.nspname::text, p.proname::text,
                pg_catalog.pg_get_function_identity_arguments(p.oid), l.lanname::text,
                p.prokind = 'p',
                (SELECT substring(c FROM 13) FROM unnest(p.proconfig) AS c
                 WHERE c LIKE 'search\\_path=%' LIMIT 1),
                tr.tgrelid::int8, tr.tgoldtable::text, tr.tgnewtable::text,
                p.prorettype = 'pg_catalog.trigger'::regtype, p.prosrc
         FROM pg_catalog.pg_proc p
         JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
         JOIN pg_catalog.pg_language l ON l.oid = p.prolang
         LEFT JOIN LATERAL (SELECT t.tgrelid, t.tgoldtable, t.tgnewtable
                            FROM pg_catalog.pg_trigger t WHERE t.tgfoid = p.oid
                            ORDER BY t.tgrelid, t.tgname LIMIT 1) tr ON true
         WHERE l.lanname IN ('sql', 'plpgsql') AND p.prosqlbody IS NULL
           AND {USER_SCHEMA} AND {}
         ORDER BY 2, 3, 4",
        not_extension_member("pg_proc", "p.oid")
    )))
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| pg_error("", e))?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let (schema, name, arguments): (String, String, String) =
                (row.get(1), row.get(2), row.get(3));
            let trigger_table: Option<i64> = row.get(7);
            let returns_trigger: bool = row.get(10);
            Body {
                oid: row.get(0),
                object: format!("{schema}.{name}({arguments})"),
                language: row.get(4),
                procedure: row.get(5),
                own_path: row.get(6),
                trigger_table,
                old_table: row.get(8),
                new_table: row.get(9),
                unattached_trigger: returns_trigger && trigger_table.is_none(),
                creates: created_tables(&row.get::<String, _>(11)),
            }
        })
        .collect())
}

/// Checks every SQL and PL/pgSQL function and procedure.
pub(super) async fn check(conn: &mut PgConnection, out: &mut Inspection) -> Result<(), ToolError> {
    let bodies = bodies(conn).await?;
    let (sql, plpgsql): (Vec<&Body>, Vec<&Body>) = bodies.iter().partition(|b| b.language == "sql");
    if !sql.is_empty() {
        in_transaction(conn, "BEGIN READ ONLY", async |conn| {
            for body in &sql {
                validate(conn, body, "fmgr_sql_validator", out).await?;
            }
            Ok(())
        })
        .await?;
    }
    if plpgsql.is_empty() {
        return Ok(());
    }
    match plpgsql_check(conn).await? {
        Checker::Created(schema) => {
            in_transaction(conn, "BEGIN READ ONLY", async |conn| {
                check_plpgsql(conn, &schema, &plpgsql, out).await
            })
            .await
        }
        Checker::Available => {
            // Created for this check only, in a transaction rolled back.
            in_transaction(conn, "BEGIN", async |conn| {
                let created = sqlx::raw_sql(
                    "SAVEPOINT vault_health; CREATE SCHEMA vault_health_check; \
                     CREATE EXTENSION plpgsql_check SCHEMA vault_health_check",
                )
                .execute(&mut *conn)
                .await;
                match created {
                    Ok(_) => check_plpgsql(conn, "vault_health_check", &plpgsql, out).await,
                    Err(e @ sqlx::Error::Database(_)) => {
                        rollback_to_savepoint(conn).await?;
                        out.notes.push(format!(
                            "plpgsql_check is installed on the server but could not be created for the check ({}): PL/pgSQL bodies are checked for syntax only; a superuser can run CREATE EXTENSION plpgsql_check in this database",
                            describe_error(&e)
                        ));
                        syntax_only(conn, &plpgsql, out).await
                    }
                    Err(e) => Err(pg_error("", e)),
                }
            })
            .await
        }
        Checker::Missing => {
            out.notes.push(format!(
                "plpgsql_check is not installed on this server: {} PL/pgSQL bodies were checked for syntax only, not for the tables and functions they name; install it (Debian: postgresql-15-plpgsql-check) for the full check",
                plpgsql.len()
            ));
            in_transaction(conn, "BEGIN READ ONLY", async |conn| {
                syntax_only(conn, &plpgsql, out).await
            })
            .await
        }
    }
}

/// Where plpgsql_check can be had.
enum Checker {
    /// Created in this database, in this schema.
    Created(String),
    /// Installed on the server, not created in this database.
    Available,
    Missing,
}

async fn plpgsql_check(conn: &mut PgConnection) -> Result<Checker, ToolError> {
    let created: Option<String> = sqlx::query_scalar(
        "SELECT n.nspname::text FROM pg_catalog.pg_extension e
         JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
         WHERE e.extname = 'plpgsql_check'",
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| pg_error("", e))?;
    if let Some(schema) = created {
        return Ok(Checker::Created(schema));
    }
    let available: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM pg_catalog.pg_available_extensions WHERE name = 'plpgsql_check'",
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| pg_error("", e))?;
    Ok(match available {
        Some(_) => Checker::Available,
        None => Checker::Missing,
    })
}

/// Runs `work` in a transaction opened by `begin`, and always rolls it back.
async fn in_transaction(
    conn: &mut PgConnection,
    begin: &str,
    work: impl AsyncFnOnce(&mut PgConnection) -> Result<(), ToolError>,
) -> Result<(), ToolError> {
    sqlx::raw_sql(AssertSqlSafe(format!(
        "{begin}; SET LOCAL check_function_bodies = on"
    )))
    .execute(&mut *conn)
    .await
    .map_err(|e| pg_error("", e))?;
    let result = work(&mut *conn).await;
    let rolled_back = sqlx::raw_sql("ROLLBACK")
        .execute(&mut *conn)
        .await
        .map(|_| ())
        .map_err(|e| pg_error("", e));
    result.and(rolled_back)
}

async fn rollback_to_savepoint(conn: &mut PgConnection) -> Result<(), ToolError> {
    sqlx::raw_sql("ROLLBACK TO SAVEPOINT vault_health")
        .execute(&mut *conn)
        .await
        .map(|_| ())
        .map_err(|e| pg_error("", e))
}

/// Sets the function's own search_path for what follows in the transaction.
async fn use_search_path(conn: &mut PgConnection, body: &Body) -> Result<(), ToolError> {
    let Some(path) = &body.own_path else {
        return Ok(());
    };
    sqlx::query("SELECT pg_catalog.set_config('search_path', $1, true)")
        .bind(path)
        .execute(&mut *conn)
        .await
        .map(|_| ())
        .map_err(|e| pg_error("", e))
}

/// Runs a language's validator on one body, under a savepoint: its error
/// is the finding.
async fn validate(
    conn: &mut PgConnection,
    body: &Body,
    validator: &str,
    out: &mut Inspection,
) -> Result<(), ToolError> {
    sqlx::raw_sql("SAVEPOINT vault_health")
        .execute(&mut *conn)
        .await
        .map_err(|e| pg_error("", e))?;
    use_search_path(conn, body).await?;
    let result = sqlx::query(AssertSqlSafe(format!(
        "SELECT pg_catalog.{validator}($1::int8::oid)"
    )))
    .bind(body.oid)
    .execute(&mut *conn)
    .await;
    rollback_to_savepoint(conn).await?;
    match result {
        Ok(_) => Ok(()),
        Err(e @ sqlx::Error::Database(_)) => {
            let method = format!(
                "the server's own validator ({validator}), as CREATE FUNCTION runs it{}",
                path_note(body)
            );
            out.findings
                .push(body.finding(&describe_error(&e), &method));
            Ok(())
        }
        Err(e) => Err(pg_error(&body.object, e)),
    }
}

fn path_note(body: &Body) -> String {
    match &body.own_path {
        Some(path) => format!(", with its own search_path {path}"),
        None => String::new(),
    }
}

async fn syntax_only(
    conn: &mut PgConnection,
    bodies: &[&Body],
    out: &mut Inspection,
) -> Result<(), ToolError> {
    for body in bodies {
        validate(conn, body, "plpgsql_validator", out).await?;
    }
    Ok(())
}

/// plpgsql_check on each PL/pgSQL body; its errors are the findings,
/// its warnings are left to the DBA who runs it by hand.
async fn check_plpgsql(
    conn: &mut PgConnection,
    schema: &str,
    bodies: &[&Body],
    out: &mut Inspection,
) -> Result<(), ToolError> {
    let function = format!("{}.plpgsql_check_function_tb", quote_ident(schema));
    for body in bodies {
        if body.unattached_trigger {
            out.notes.push(format!(
                "function {}: a trigger function that no trigger uses, so it has no table to be checked against; not checked",
                body.object
            ));
            continue;
        }
        sqlx::raw_sql("SAVEPOINT vault_health")
            .execute(&mut *conn)
            .await
            .map_err(|e| pg_error("", e))?;
        use_search_path(conn, body).await?;
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT coalesce(message, ''), coalesce(statement, ''), lineno
             FROM {function}($1::int8::oid::regprocedure, coalesce($2::int8, 0)::oid::regclass,
                             fatal_errors => false, other_warnings => false,
                             performance_warnings => false, extra_warnings => false,
                             security_warnings => false,
                             oldtable => $3::name, newtable => $4::name)
             WHERE level = 'error'"
        )))
        .bind(body.oid)
        .bind(body.trigger_table)
        .bind(&body.old_table)
        .bind(&body.new_table)
        .fetch_all(&mut *conn)
        .await;
        rollback_to_savepoint(conn).await?;
        let rows = match rows {
            Ok(rows) => rows,
            Err(e @ sqlx::Error::Database(_)) => {
                out.notes.push(format!(
                    "{} {}: plpgsql_check could not check it ({}); not checked",
                    body.noun(),
                    body.object,
                    describe_error(&e)
                ));
                continue;
            }
            Err(e) => return Err(pg_error(&body.object, e)),
        };
        let problems: Vec<String> = rows
            .iter()
            .filter(|row| !body.creates_missing(&row.get::<String, _>(0)))
            .map(|row| {
                let (message, statement, line): (String, String, Option<i32>) =
                    (row.get(0), row.get(1), row.get(2));
                match line {
                    Some(line) => format!("line {line} ({statement}): {message}"),
                    None => message,
                }
            })
            .collect();
        if problems.is_empty() {
            continue;
        }
        let context = match body.trigger_table {
            Some(_) => ", with the table of its trigger as context",
            None => "",
        };
        let method = format!(
            "plpgsql_check (PostgreSQL extension){context}{}",
            path_note(body)
        );
        out.findings
            .push(body.finding(&problems.join("; "), &method));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::created_tables;

    #[test]
    fn tables_a_body_creates_are_found() {
        let body = "BEGIN
          CREATE TEMP TABLE IF NOT EXISTS scratch(a int);
          create unlogged table app.\"Work\" (b int);
          CREATE TABLE plain AS SELECT 1;
          CREATE INDEX i ON plain(a);
        END";
        assert_eq!(created_tables(body), ["scratch", "work", "plain"]);
    }
}
