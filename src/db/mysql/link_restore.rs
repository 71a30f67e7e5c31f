//! The restore's side of MariaDB/MySQL links: acceptance's `mysql.servers` entries and FEDERATED tables put back, after the data commit, from the vault's "mysql-servers" stream.
//!
//! Both are DDL, which commits implicitly: the plan is made inside the data
//! transaction (it only reads) and applied after COMMIT, like the grants.
//! Every change is tried and each failure is listed. Servers go first, so
//! that a table that reads through one finds it. A FEDERATED table cannot
//! change its connection in place (MariaDB 10.11: error 1031), so `swap`
//! creates acceptance's definition beside it and exchanges the two in one
//! RENAME TABLE. Passwords are only in the statements sent to the server;
//! no statement is shown, and an error's text has them masked.

mod swap;

use sqlx::AssertSqlSafe;
use sqlx::mysql::MySqlConnection;
use vault_format::UnlockedVault;

use super::link_check::{CapturedLinks, Server, captured, read_servers, string_literal};
use super::{Flavor, describe_error, quote_ident};
use crate::exit::ToolError;
pub(super) use swap::TableChange;

/// What the restore puts back after the commit. No `Debug`: it holds passwords.
#[derive(Default)]
pub(super) struct LinkPlan {
    flavor: Option<Flavor>,
    servers: Vec<ServerChange>,
    tables: Vec<TableChange>,
    /// Links of the vault that cannot be put back, and why.
    unrestorable: Vec<String>,
    /// Tables an interrupted swap left, dropped before the swaps.
    leftovers: Vec<String>,
}

/// A captured server that differs from, or is missing in, `mysql.servers`.
struct ServerChange {
    server: Server,
    /// The wrapper of the entry of that name now, when there is one.
    existing_wrapper: Option<String>,
}

/// Compares the vault's servers and FEDERATED tables with the database's,
/// and plans the changes; one line per link to put back.
pub(super) async fn plan(
    conn: &mut MySqlConnection,
    database: &str,
    flavor: Flavor,
    vault: &UnlockedVault,
) -> Result<(LinkPlan, Vec<String>), ToolError> {
    let Some(before) = captured(vault)? else {
        return Ok((LinkPlan::default(), Vec::new()));
    };
    let CapturedLinks {
        servers,
        federated_tables,
    } = before;
    let mut plan = LinkPlan {
        flavor: Some(flavor),
        leftovers: swap::leftovers(conn, database).await?,
        ..LinkPlan::default()
    };
    let mut lines: Vec<String> = plan
        .leftovers
        .iter()
        .map(|name| {
            format!("links: {name}, left by an interrupted restore, dropped after the commit")
        })
        .collect();
    match read_servers(conn).await? {
        Err(why) if !servers.is_empty() => plan.unrestorable.push(format!(
            "links: the vault's servers were not put back: {why}"
        )),
        Err(_) => {}
        Ok(now) => {
            for server in servers {
                let current = now.iter().find(|s| s.name == server.name);
                if current.is_some_and(|c| {
                    c.options() == server.options()
                        && c.wrapper.eq_ignore_ascii_case(&server.wrapper)
                }) {
                    continue;
                }
                lines.push(format!(
                    "links: mysql.servers entry {}: acceptance's definition put back after the commit ({})",
                    server.name,
                    server_endpoint(&server)
                ));
                plan.servers.push(ServerChange {
                    existing_wrapper: current.map(|c| c.wrapper.clone()),
                    server,
                });
            }
        }
    }
    let (tables, unrestorable) = swap::plan(conn, database, federated_tables).await?;
    for table in &tables {
        lines.push(format!(
            "links: FEDERATED table {}: {} with acceptance's CONNECTION after the commit",
            table.table,
            if table.exists {
                "created again"
            } else {
                "created"
            }
        ));
    }
    plan.tables = tables;
    plan.unrestorable.extend(unrestorable);
    Ok((plan, lines))
}

/// `host=... port=... database=...` of a server, without its user or password.
fn server_endpoint(server: &Server) -> String {
    let mut parts = Vec::new();
    if !server.host.is_empty() {
        parts.push(format!("host={}", server.host));
    }
    if server.port != 0 {
        parts.push(format!("port={}", server.port));
    }
    if !server.database.is_empty() {
        parts.push(format!("database={}", server.database));
    }
    if !server.socket.is_empty() {
        parts.push(format!("socket={}", server.socket));
    }
    parts.join(" ")
}

/// Applies the plan after the data commit: every change tried; what failed
/// or could not be tried comes back, one message each.
pub(super) async fn apply(
    conn: &mut MySqlConnection,
    database: &str,
    plan: LinkPlan,
) -> Vec<String> {
    let mut failures = plan.unrestorable;
    let flavor = plan.flavor.unwrap_or(Flavor::MariaDb);
    for change in &plan.servers {
        for statement in server_statements(flavor, change) {
            if let Err(e) = run(conn, &statement).await {
                failures.push(format!(
                    "links: mysql.servers entry {} was not put back: {}",
                    change.server.name,
                    masked(&describe_error(&e), &[&change.server.password])
                ));
                break;
            }
        }
    }
    failures.extend(swap::apply(conn, database, &plan.leftovers, &plan.tables).await);
    failures
}

/// The statements that make `mysql.servers` hold the captured entry:
/// MariaDB's CREATE OR REPLACE SERVER; on MySQL 8, which has no OR
/// REPLACE, ALTER SERVER (all options, so that emptied ones are emptied
/// too), or CREATE SERVER, after DROP SERVER when the wrapper changed.
fn server_statements(flavor: Flavor, change: &ServerChange) -> Vec<String> {
    let server = &change.server;
    let name = quote_ident(&server.name);
    let create = |or_replace: &str| {
        format!(
            "CREATE {or_replace}SERVER {name} FOREIGN DATA WRAPPER {} OPTIONS ({})",
            quote_ident(&server.wrapper),
            server_options(server, false)
        )
    };
    match (flavor, &change.existing_wrapper) {
        (Flavor::MariaDb, _) => vec![create("OR REPLACE ")],
        (Flavor::MySql, None) => vec![create("")],
        (Flavor::MySql, Some(w)) if w.eq_ignore_ascii_case(&server.wrapper) => vec![format!(
            "ALTER SERVER {name} OPTIONS ({})",
            server_options(server, true)
        )],
        (Flavor::MySql, Some(_)) => vec![format!("DROP SERVER {name}"), create("")],
    }
}

/// A server's OPTIONS list; `all` keeps the empty ones (ALTER SERVER).
fn server_options(server: &Server, all: bool) -> String {
    let mut options = vec![format!("HOST {}", string_literal(&server.host))];
    for (option, value) in [
        ("DATABASE", &server.database),
        ("USER", &server.username),
        ("PASSWORD", &server.password),
        ("SOCKET", &server.socket),
    ] {
        if all || !value.is_empty() {
            options.push(format!("{option} {}", string_literal(value)));
        }
    }
    if server.port != 0 {
        options.push(format!("PORT {}", server.port));
    }
    options.join(", ")
}

async fn run(conn: &mut MySqlConnection, statement: &str) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(AssertSqlSafe(statement.to_owned()))
        .execute(&mut *conn)
        .await
        .map(|_| ())
}

/// `text` with every non-empty secret replaced by `***`.
fn masked(text: &str, secrets: &[&str]) -> String {
    secrets
        .iter()
        .filter(|s| !s.is_empty())
        .fold(text.to_owned(), |text, secret| text.replace(secret, "***"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(existing_wrapper: Option<&str>) -> ServerChange {
        ServerChange {
            server: Server {
                name: "acc_link".into(),
                host: "acc-db".into(),
                port: 3307,
                database: "emr".into(),
                username: "etl".into(),
                password: "it's".into(),
                socket: String::new(),
                wrapper: "mysql".into(),
            },
            existing_wrapper: existing_wrapper.map(str::to_owned),
        }
    }

    #[test]
    fn servers_are_put_back_with_statements_each_flavour_knows() {
        assert_eq!(
            server_statements(Flavor::MariaDb, &change(Some("mysql"))),
            [
                "CREATE OR REPLACE SERVER `acc_link` FOREIGN DATA WRAPPER `mysql` OPTIONS (HOST 'acc-db', DATABASE 'emr', USER 'etl', PASSWORD 'it''s', PORT 3307)"
            ]
        );
        assert_eq!(
            server_statements(Flavor::MySql, &change(Some("MYSQL"))),
            [
                "ALTER SERVER `acc_link` OPTIONS (HOST 'acc-db', DATABASE 'emr', USER 'etl', PASSWORD 'it''s', SOCKET '', PORT 3307)"
            ]
        );
        assert!(server_statements(Flavor::MySql, &change(None))[0].starts_with("CREATE SERVER"));
        assert_eq!(
            server_statements(Flavor::MySql, &change(Some("other"))).len(),
            2
        );
    }

    #[test]
    fn secrets_are_masked() {
        assert_eq!(masked("near 'pw' at", &["pw", ""]), "near '***' at");
    }
}
