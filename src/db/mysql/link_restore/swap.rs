//! FEDERATED tables put back by re-creation: acceptance's definition created under a temporary name, then exchanged with the table in one RENAME TABLE.
//!
//! Neither server can change a FEDERATED table's CONNECTION in place
//! (MariaDB 10.11 refuses ALTER TABLE ... CONNECTION with error 1031). The
//! table is never dropped before its replacement exists: acceptance's
//! definition is created as `vault_link_new_<hash>`, then `RENAME TABLE t TO
//! vault_link_old_<hash>, vault_link_new_<hash> TO t` (atomic) swaps them,
//! then the old one (production's) is dropped. A kill at any point leaves
//! the table under its name, either production's definition (the next
//! restore swaps again) or acceptance's; a leftover temporary table is
//! dropped by the next restore. So no record file beside the vault is
//! needed, and a CONNECTION's password never reaches the disk.

use sha2::{Digest, Sha256};
use sqlx::mysql::MySqlConnection;

use super::{masked, run};
use crate::db::mysql::link_check::{
    Connection, FederatedTable, SWAP_NEW as NEW, SWAP_OLD as OLD, federated_tables, with_connection,
};
use crate::db::mysql::{SESSION_SETTINGS, describe_error, mysql_error, quote_ident};
use crate::exit::ToolError;

/// The session's sql_mode while a FEDERATED table is created: FederatedX
/// cannot reach its far table under ANSI_QUOTES (error 1434), and without
/// NO_ENGINE_SUBSTITUTION a missing engine would give an InnoDB table.
const CREATE_MODE: &str =
    "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION'";

/// A FEDERATED table to create with acceptance's definition. No `Debug`:
/// the definition may hold a password.
pub(in crate::db::mysql) struct TableChange {
    pub(super) table: String,
    /// `SHOW CREATE TABLE` text with acceptance's CONNECTION.
    definition: String,
    /// A table of that name exists (production's): it is swapped out.
    pub(super) exists: bool,
    /// The password of its CONNECTION URL, masked in errors.
    password: String,
}

/// The captured FEDERATED tables whose CONNECTION differs from the
/// database's, or that are gone; and the ones that cannot be put back, why.
pub(super) async fn plan(
    conn: &mut MySqlConnection,
    database: &str,
    captured: Vec<FederatedTable>,
) -> Result<(Vec<TableChange>, Vec<String>), ToolError> {
    let now = federated_tables(conn, database).await?;
    let mut changes = Vec::new();
    let mut unrestorable = Vec::new();
    for then in captured {
        if then.connection.is_empty() && then.definition.is_empty() {
            continue; // unreadable at capture: nothing to put back
        }
        if then.table.starts_with(NEW) || then.table.starts_with(OLD) {
            continue; // an interrupted swap's leftover, captured: never put back
        }
        let current = now.iter().find(|t| t.table == then.table);
        if current.is_some_and(|c| c.unreadable.is_none() && c.connection == then.connection) {
            continue;
        }
        if current.is_none()
            && let Some(engine) = engine_of(conn, database, &then.table).await?
        {
            unrestorable.push(format!(
                "links: FEDERATED table {} was not put back: a {engine} table of that name is there now",
                then.table
            ));
            continue;
        }
        let definition = if !then.definition.is_empty() {
            Some(then.definition.clone())
        } else {
            current
                .filter(|c| !c.definition.is_empty())
                .and_then(|c| with_connection(&c.definition, &then.connection))
        };
        let Some(definition) = definition else {
            unrestorable.push(format!(
                "links: FEDERATED table {} was not put back: the vault holds only its CONNECTION (captured by an older vault) and the table's definition could not be read; create it again by hand",
                then.table
            ));
            continue;
        };
        let password = match Connection::parse(&then.connection) {
            Some(Connection::Url { password, .. }) => password.unwrap_or_default(),
            _ => String::new(),
        };
        changes.push(TableChange {
            exists: current.is_some(),
            table: then.table,
            definition,
            password,
        });
    }
    Ok((changes, unrestorable))
}

/// The engine of a table (or `VIEW`) named `table`, when there is one.
async fn engine_of(
    conn: &mut MySqlConnection,
    database: &str,
    table: &str,
) -> Result<Option<String>, ToolError> {
    let row: Option<(Option<String>, String)> = sqlx::query_as(
        "SELECT CAST(ENGINE AS CHAR), CAST(TABLE_TYPE AS CHAR) FROM information_schema.TABLES
         WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
    )
    .bind(database)
    .bind(table)
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| mysql_error(table, e))?;
    Ok(row.map(|(engine, kind)| engine.unwrap_or(kind)))
}

/// The two temporary names of `table`'s swap (at most 31 characters).
fn temporary_names(table: &str) -> (String, String) {
    let hash = hex::encode(&Sha256::digest(table.as_bytes())[..8]);
    (format!("{NEW}{hash}"), format!("{OLD}{hash}"))
}

/// `definition` (a `SHOW CREATE TABLE` text) creating `name` instead.
fn renamed(definition: &str, name: &str) -> Option<String> {
    let head = "CREATE TABLE ";
    let rest = definition
        .get(..head.len())
        .filter(|h| h.eq_ignore_ascii_case(head))
        .map(|_| &definition[head.len()..])?;
    let quote = rest.chars().next().filter(|c| *c == '`' || *c == '"')?;
    let mut chars = rest.char_indices().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        if c == quote {
            if chars.peek().is_some_and(|(_, next)| *next == quote) {
                chars.next();
                continue;
            }
            return Some(format!("{head}{name}{}", &rest[i + 1..]));
        }
    }
    None
}

/// `definition` with its double-quoted identifiers (SHOW CREATE TABLE
/// under ANSI_QUOTES) in backticks, string literals untouched: it then
/// reads the same whatever the sql_mode.
fn backticked(definition: &str) -> String {
    let mut out = String::with_capacity(definition.len());
    let mut chars = definition.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '`' => {
                out.push(c);
                while let Some(d) = chars.next() {
                    out.push(d);
                    if d == '\\' && c == '\'' {
                        out.extend(chars.next());
                    } else if d == c {
                        if chars.peek() == Some(&c) {
                            out.extend(chars.next());
                        } else {
                            break;
                        }
                    }
                }
            }
            '"' => {
                out.push('`');
                while let Some(d) = chars.next() {
                    match d {
                        '"' if chars.peek() == Some(&'"') => {
                            chars.next();
                            out.push('"');
                        }
                        '"' => break,
                        '`' => out.push_str("``"),
                        d => out.push(d),
                    }
                }
                out.push('`');
            }
            c => out.push(c),
        }
    }
    out
}

/// Drops the `leftovers` of an interrupted swap, then swaps each table in.
pub(super) async fn apply(
    conn: &mut MySqlConnection,
    database: &str,
    leftovers: &[String],
    changes: &[TableChange],
) -> Vec<String> {
    let mut failures = Vec::new();
    let db = quote_ident(database);
    for name in leftovers {
        if let Err(e) = run(conn, &format!("DROP TABLE {db}.{}", quote_ident(name))).await {
            failures.push(format!(
                "links: the leftover table {name} of an interrupted restore could not be dropped: {}",
                describe_error(&e)
            ));
        }
    }
    for change in changes {
        if let Err(why) = swap_in(conn, &db, change).await {
            failures.push(format!(
                "links: FEDERATED table {} was not put back: {}",
                change.table,
                masked(&why, &[&change.password])
            ));
        }
    }
    failures
}

/// The temporary tables of swaps that an interrupted restore left.
pub(super) async fn leftovers(
    conn: &mut MySqlConnection,
    database: &str,
) -> Result<Vec<String>, ToolError> {
    sqlx::query_scalar(
        "SELECT TABLE_NAME FROM information_schema.TABLES
         WHERE TABLE_SCHEMA = ? AND ENGINE = 'FEDERATED'
           AND (TABLE_NAME LIKE 'vault\\_link\\_new\\_%' OR TABLE_NAME LIKE 'vault\\_link\\_old\\_%')",
    )
    .bind(database)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| mysql_error("", e))
}

/// Creates acceptance's definition beside the table and swaps it in; on
/// failure the table is as it was.
async fn swap_in(conn: &mut MySqlConnection, db: &str, change: &TableChange) -> Result<(), String> {
    let (new, old) = temporary_names(&change.table);
    let (new, old) = (
        format!("{db}.{}", quote_ident(&new)),
        format!("{db}.{}", quote_ident(&old)),
    );
    let table = format!("{db}.{}", quote_ident(&change.table));
    let create = renamed(&backticked(&change.definition), &new)
        .ok_or("its captured definition is not a CREATE TABLE statement")?;
    let created = match run(conn, CREATE_MODE).await {
        Ok(()) => run(conn, &create).await,
        Err(e) => Err(e),
    };
    let settings = run(conn, SESSION_SETTINGS).await;
    created.and(settings).map_err(|e| {
        format!(
            "acceptance's definition could not be created ({}); the table is as the refresh left it",
            describe_error(&e)
        )
    })?;
    let rename = if change.exists {
        format!("RENAME TABLE {table} TO {old}, {new} TO {table}")
    } else {
        format!("RENAME TABLE {new} TO {table}")
    };
    if let Err(e) = run(conn, &rename).await {
        let _ = run(conn, &format!("DROP TABLE IF EXISTS {new}")).await;
        return Err(format!(
            "the re-created table could not take its name ({}); the table is as the refresh left it",
            describe_error(&e)
        ));
    }
    if change.exists
        && let Err(e) = run(conn, &format!("DROP TABLE {old}")).await
    {
        return Err(format!(
            "acceptance's definition is in place, but the replaced definition was left as {old} ({}); drop it",
            describe_error(&e)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_definition_is_renamed_whatever_its_quotes() {
        assert_eq!(
            renamed(
                "CREATE TABLE `a``b` (\n  `id` int\n) ENGINE=FEDERATED",
                "`x`.`n`"
            )
            .as_deref(),
            Some("CREATE TABLE `x`.`n` (\n  `id` int\n) ENGINE=FEDERATED")
        );
        assert_eq!(
            renamed("CREATE TABLE \"t\" (id int)", "`n`").as_deref(),
            Some("CREATE TABLE `n` (id int)")
        );
        assert!(renamed("CREATE VIEW `v` AS SELECT 1", "`n`").is_none());
        assert_eq!(
            backticked(
                r#"CREATE TABLE "a""b`" ("id" int COMMENT 'say "hi" \' ''x''') CONNECTION='s/"t"'"#
            ),
            r#"CREATE TABLE `a"b``` (`id` int COMMENT 'say "hi" \' ''x''') CONNECTION='s/"t"'"#
        );
        let (new, old) =
            temporary_names("a table name of sixty-four characters, the longest there is ...");
        assert!(new.len() <= 64 && old.len() <= 64 && new != old);
    }
}
