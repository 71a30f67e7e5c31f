//! MySQL/MariaDB's side of `vault links`: FEDERATED/FederatedX tables and `mysql.servers` entries.
//!
//! Reads only. A FEDERATED table's connection comes from `SHOW CREATE
//! TABLE` (its `CONNECTION` option: a URL, or a server of `mysql.servers`
//! and a remote table); information_schema would open the table, which
//! connects to the remote server. `mysql.servers` is server-wide: every
//! entry is listed, since any table of the database may use it. With a
//! vault, both are compared with the capture's "mysql-servers" stream.
//! Passwords are read only to tell whether they changed and show as `***`.

mod connection;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::mysql::{MySqlConnection, MySqlDatabaseError};
use vault_format::UnlockedVault;

pub(super) use connection::{Connection, connection_option, string_literal, with_connection};

use super::{Mysql, mysql_error, quote_ident};
use crate::exit::ToolError;
use crate::links::{Acceptance, Endpoint, FoundLink, FoundLinks, LinkCheck, LinkKind};

/// The vault stream kind that holds acceptance's servers and FEDERATED
/// tables as the capture read them (JSON, [`CapturedLinks`]).
pub(super) const CAPTURED_KIND: &str = "mysql-servers";

/// The name prefixes of the temporary tables a restore swaps a FEDERATED
/// table in with (`link_restore/swap.rs`): one left behind was interrupted.
pub(super) const SWAP_NEW: &str = "vault_link_new_";
pub(super) const SWAP_OLD: &str = "vault_link_old_";

/// Server errors that mean "not allowed to read it": 1142 table access
/// denied, 1044 database access denied.
const ACCESS_DENIED: [u16; 2] = [1142, 1044];

/// One row of `mysql.servers`. No `Debug`: it holds a password.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct Server {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub database: String,
    pub username: String,
    pub password: String,
    pub socket: String,
    pub wrapper: String,
}

impl Server {
    fn endpoint(&self) -> Endpoint {
        connection::endpoint(&self.host, Some(self.port), &self.database)
    }

    /// The compared options; empty ones are left out.
    pub(super) fn options(&self) -> BTreeMap<String, String> {
        // CREATE SERVER stores MySQL's port when none is given.
        let port = Some(
            if self.port == 0 {
                connection::DEFAULT_PORT
            } else {
                self.port
            }
            .to_string(),
        );
        [
            ("host", Some(&self.host)),
            ("port", port.as_ref()),
            ("database", Some(&self.database)),
            ("user", Some(&self.username)),
            ("password", Some(&self.password)),
            ("socket", Some(&self.socket)),
            ("wrapper", Some(&self.wrapper)),
        ]
        .into_iter()
        .filter_map(|(k, v)| {
            v.filter(|v| !v.is_empty())
                .map(|v| (k.to_owned(), v.clone()))
        })
        .collect()
    }
}

/// A FEDERATED table and its `CONNECTION` text. No `Debug`: the text may hold a password.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct FederatedTable {
    pub table: String,
    pub connection: String,
    /// Its `SHOW CREATE TABLE` text, for the restore to create it again
    /// (empty in vaults captured before the restore did).
    pub definition: String,
    /// Why `SHOW CREATE TABLE` failed (a server that no longer exists).
    #[serde(skip)]
    pub unreadable: Option<String>,
}

/// The captured stream's one JSON document.
#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct CapturedLinks {
    pub servers: Vec<Server>,
    pub federated_tables: Vec<FederatedTable>,
}

/// Every `mysql.servers` entry, or why they could not be read.
pub(super) async fn read_servers(
    conn: &mut MySqlConnection,
) -> Result<Result<Vec<Server>, String>, ToolError> {
    let rows = sqlx::query(
        "SELECT Server_name, Host, CAST(Port AS SIGNED), Db, Username, Password, Socket, Wrapper
         FROM mysql.servers ORDER BY Server_name",
    )
    .fetch_all(&mut *conn)
    .await;
    let rows = match rows {
        Ok(rows) => rows,
        Err(e) if is_access_denied(&e) => {
            return Ok(Err(
                "mysql.servers could not be read (the user needs SELECT on mysql.servers)".into(),
            ));
        }
        Err(e) => return Err(mysql_error("mysql.servers", e)),
    };
    rows.iter()
        .map(|row| {
            Ok(Server {
                name: row.try_get(0)?,
                host: row.try_get(1)?,
                port: u16::try_from(row.try_get::<i64, _>(2)?).unwrap_or(0),
                database: row.try_get(3)?,
                username: row.try_get(4)?,
                password: row.try_get(5)?,
                socket: row.try_get(6)?,
                wrapper: row.try_get(7)?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map(Ok)
        .map_err(|e| mysql_error("mysql.servers", e))
}

fn is_access_denied(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|e| e.try_downcast_ref::<MySqlDatabaseError>())
        .is_some_and(|e| ACCESS_DENIED.contains(&e.number()))
}

/// The FEDERATED tables of `database` and their `CONNECTION` text, by name.
pub(super) async fn federated_tables(
    conn: &mut MySqlConnection,
    database: &str,
) -> Result<Vec<FederatedTable>, ToolError> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT TABLE_NAME FROM information_schema.TABLES
         WHERE TABLE_SCHEMA = ? AND ENGINE = 'FEDERATED' ORDER BY TABLE_NAME",
    )
    .bind(database)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| mysql_error("", e))?;
    let mut tables = Vec::new();
    for table in names {
        let sql = format!(
            "SHOW CREATE TABLE {}.{}",
            quote_ident(database),
            quote_ident(&table)
        );
        // The server opens the table's share, which fails when the
        // table's server is gone: that table is unchecked, not an error.
        let create = match sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut *conn)
            .await
        {
            Ok(row) => row
                .try_get::<String, _>(1)
                .map_err(|e| mysql_error(&table, e))?,
            Err(sqlx::Error::Database(e)) => {
                tables.push(FederatedTable {
                    table,
                    connection: String::new(),
                    definition: String::new(),
                    unreadable: Some(e.message().to_owned()),
                });
                continue;
            }
            Err(e) => return Err(mysql_error(&table, e)),
        };
        tables.push(FederatedTable {
            connection: connection_option(&create).unwrap_or_default(),
            definition: create,
            table,
            unreadable: None,
        });
    }
    Ok(tables)
}

/// The servers and FEDERATED tables a vault holds; `None` when it has no such stream.
pub(super) fn captured(vault: &UnlockedVault) -> Result<Option<CapturedLinks>, ToolError> {
    crate::extras::read_json(vault, CAPTURED_KIND)
}

impl LinkCheck for Mysql {
    async fn find_links(
        &mut self,
        captured_vault: Option<&UnlockedVault>,
    ) -> Result<FoundLinks, ToolError> {
        let database = self.database().to_owned();
        let mut found = FoundLinks::default();
        let servers = match read_servers(&mut self.conn).await? {
            Ok(servers) => Some(servers),
            Err(why) => {
                found.notes.push(format!(
                    "{why}: servers are not listed, and FEDERATED tables that use one are unchecked"
                ));
                None
            }
        };
        let tables = federated_tables(&mut self.conn, &database).await?;
        let before = match captured_vault {
            Some(vault) => {
                let before = captured(vault)?;
                if before.is_none() {
                    found.notes.push(
                        "the vault holds no server or FEDERATED table definitions (no mysql-servers stream); nothing to compare with".into(),
                    );
                }
                before
            }
            None => None,
        };
        if let Some(servers) = &servers {
            server_links(servers, &tables, before.as_ref(), &mut found);
        }
        table_links(servers.as_deref(), &tables, before.as_ref(), &mut found);
        Ok(found)
    }
}

/// How many of `tables` read through the server `name`.
fn tables_using(tables: &[FederatedTable], name: &str) -> usize {
    tables
        .iter()
        .filter(|t| {
            matches!(Connection::parse(&t.connection),
                Some(Connection::Server { server, .. }) if server.eq_ignore_ascii_case(name))
        })
        .count()
}

fn server_links(
    servers: &[Server],
    tables: &[FederatedTable],
    before: Option<&CapturedLinks>,
    found: &mut FoundLinks,
) {
    for server in servers {
        let acceptance = match before {
            None => Acceptance::NotCompared,
            Some(before) => match before.servers.iter().find(|s| s.name == server.name) {
                None => Acceptance::New,
                Some(then) => crate::links::option_differences(&server.options(), &then.options()),
            },
        };
        let name = quote_ident(&server.name);
        let using = match tables_using(tables, &server.name) {
            0 => String::new(),
            1 => "; 1 FEDERATED table of this database reads through it".into(),
            n => format!("; {n} FEDERATED tables of this database read through it"),
        };
        found.links.push(FoundLink {
            kind: LinkKind::ForeignServer,
            object: server.name.clone(),
            points_to: Some(server.endpoint()),
            libpq: false,
            where_found: format!(
                "mysql.servers (server-wide; wrapper {}{using})",
                server.wrapper
            ),
            restorable: before.is_some_and(|b| b.servers.iter().any(|s| s.name == server.name)),
            acceptance,
            remedy: format!(
                "point it at acceptance with ALTER SERVER {name} OPTIONS (HOST '...', DATABASE '...', USER '...', PASSWORD '...', PORT ...) (MariaDB also: CREATE OR REPLACE SERVER {name} FOREIGN DATA WRAPPER mysql OPTIONS (...)), or remove it with DROP SERVER {name} (FEDERATED tables that use it stop working)"
            ),
        });
    }
    for then in before.iter().flat_map(|b| &b.servers) {
        if !servers.iter().any(|s| s.name == then.name) {
            found.links.push(FoundLink {
                kind: LinkKind::ForeignServer,
                object: then.name.clone(),
                points_to: Some(then.endpoint()),
                libpq: false,
                where_found: format!("in the vault only (wrapper {})", then.wrapper),
                acceptance: Acceptance::Missing,
                restorable: true,
                remedy: format!(
                    "CREATE SERVER {} FOREIGN DATA WRAPPER {} OPTIONS (HOST '...', DATABASE '...', USER '...', PASSWORD '...', PORT ...) with the options shown",
                    quote_ident(&then.name),
                    then.wrapper
                ),
            });
        }
    }
}

fn table_links(
    servers: Option<&[Server]>,
    tables: &[FederatedTable],
    before: Option<&CapturedLinks>,
    found: &mut FoundLinks,
) {
    for table in tables {
        let parsed = Connection::parse(&table.connection);
        let restorable = before.is_some_and(|b| {
            b.federated_tables
                .iter()
                .any(|t| t.table == table.table && !t.connection.is_empty())
        });
        let acceptance = match before {
            None => Acceptance::NotCompared,
            Some(before) => match before
                .federated_tables
                .iter()
                .find(|t| t.table == table.table)
            {
                None => Acceptance::New,
                Some(then) => crate::links::option_differences(
                    &options_of(&table.connection),
                    &options_of(&then.connection),
                ),
            },
        };
        let (points_to, where_found) = match &parsed {
            _ if table.unreadable.is_some() => (
                None,
                format!(
                    "FEDERATED table whose definition could not be read: {}",
                    table.unreadable.as_deref().unwrap_or_default()
                ),
            ),
            None => (
                None,
                "FEDERATED table without a CONNECTION (it reads the local server's table of its name)".to_owned(),
            ),
            Some(c @ Connection::Url { .. }) => (
                c.endpoint(),
                format!("FEDERATED table, CONNECTION '{}'", c.redacted()),
            ),
            Some(c @ Connection::Server { server, .. }) => {
                let entry = servers.map(|s| s.iter().find(|e| e.name.eq_ignore_ascii_case(server)));
                let at = match entry {
                    None => "mysql.servers could not be read",
                    Some(None) => "that server does not exist",
                    Some(Some(_)) => "its host, port and database are the server's",
                };
                (
                    entry.flatten().map(Server::endpoint),
                    format!(
                        "FEDERATED table, CONNECTION '{}' through server {server} ({at})",
                        c.redacted()
                    ),
                )
            }
        };
        found.links.push(FoundLink {
            kind: LinkKind::ForeignServer,
            object: federated_object(&table.table),
            points_to,
            libpq: false,
            where_found,
            acceptance,
            restorable,
            remedy: if table.table.starts_with(SWAP_NEW) || table.table.starts_with(SWAP_OLD) {
                format!(
                    "left by a `vault restore` interrupted while it created a FEDERATED table again: the next restore drops it; by hand: DROP TABLE {}",
                    quote_ident(&table.table)
                )
            } else {
                recreate_remedy(&table.table)
            },
        });
    }
    for then in before.iter().flat_map(|b| &b.federated_tables) {
        if !tables.iter().any(|t| t.table == then.table) {
            let parsed = Connection::parse(&then.connection);
            found.links.push(FoundLink {
                kind: LinkKind::ForeignServer,
                object: federated_object(&then.table),
                points_to: parsed.as_ref().and_then(Connection::endpoint),
                libpq: false,
                where_found: format!(
                    "in the vault only (FEDERATED table, CONNECTION '{}')",
                    parsed.map(|c| c.redacted()).unwrap_or_default()
                ),
                acceptance: Acceptance::Missing,
                restorable: !then.definition.is_empty(),
                remedy: format!(
                    "create the FEDERATED table {} again with acceptance's definition and CONNECTION",
                    quote_ident(&then.table)
                ),
            });
        }
    }
}

/// What to run by hand: a FEDERATED table's CONNECTION cannot be altered
/// (MariaDB 10.11: error 1031), so the table is created again, beside it
/// first, so that it never goes missing.
fn recreate_remedy(table: &str) -> String {
    let name = quote_ident(table);
    let new = quote_ident(&format!("{table}_new"));
    let old = quote_ident(&format!("{table}_old"));
    format!(
        "create it again with acceptance's CONNECTION (ALTER TABLE ... CONNECTION fails on MariaDB): CREATE TABLE {new} as SHOW CREATE TABLE {name} shows it, with CONNECTION='server/table' (a server of mysql.servers) or CONNECTION='mysql://user:password@host:port/database/table'; then RENAME TABLE {name} TO {old}, {new} TO {name}; DROP TABLE {old}. Or drop it"
    )
}

/// How the report names a FEDERATED table (listed with the kind of its link, a server).
fn federated_object(table: &str) -> String {
    format!("{table} (FEDERATED table)")
}

fn options_of(connection: &str) -> BTreeMap<String, String> {
    Connection::parse(connection)
        .map(|c| c.options())
        .unwrap_or_default()
}
