//! Where a mysql:// URL leads, from the options the driver uses (`?socket=` included), and the server instance a connection reached.

use sqlx::Row;
use sqlx::mysql::MySqlConnectOptions;

use super::{Mysql, mysql_error};
use crate::config::{DatabaseUrl, EngineKind};
use crate::exit::ToolError;
use crate::guard::{Destination, Host, Instance, ServerInstance};

/// The options the driver builds from a URL.
pub(super) fn options(url: &DatabaseUrl) -> Result<MySqlConnectOptions, ToolError> {
    let options: MySqlConnectOptions = url.expose().parse().map_err(|_| {
        ToolError::usage(format!("{url}: not a valid MySQL/MariaDB URL"))
            .hint("write it as mysql://USER@HOST:PORT/DATABASE (or mariadb://...)")
    })?;
    // An IPv6 literal keeps the URL's brackets, which no resolver reads.
    Ok(match crate::db::unbracketed(options.get_host()) {
        Some(address) => options.host(&address),
        None => options,
    })
}

/// The host, port and schema a `mysql://` URL reaches. Through a socket
/// the port is the server's own, and not known before connecting.
pub fn destination(url: &DatabaseUrl) -> Result<Destination, ToolError> {
    let options = options(url)?;
    let (host, port) = match options.get_socket() {
        Some(socket) => (Host::socket(socket), None),
        None => (Host::named(options.get_host()), Some(options.get_port())),
    };
    Ok(Destination::server(
        EngineKind::Mysql,
        host,
        port,
        options.get_database().unwrap_or(""),
    ))
}

impl ServerInstance for Mysql {
    /// The server's host name, port and data directory (and its UUID on
    /// MySQL) tell a running server apart from another, a copy made with
    /// mariadb-backup included; the database is the schema, lower-cased.
    async fn instance(&mut self) -> Result<Instance, ToolError> {
        let row = sqlx::query("SELECT @@hostname, CAST(@@port AS CHAR), @@datadir")
            .fetch_one(&mut self.conn)
            .await
            .map_err(|e| mysql_error("", e))?;
        let mut facts = vec![
            (
                "server host",
                row.try_get(0).map_err(|e| mysql_error("", e))?,
            ),
            ("port", row.try_get(1).map_err(|e| mysql_error("", e))?),
            (
                "data directory",
                row.try_get(2).map_err(|e| mysql_error("", e))?,
            ),
        ];
        // MySQL has a server UUID; MariaDB does not (no row).
        let uuid = sqlx::raw_sql("SHOW GLOBAL VARIABLES LIKE 'server\\_uuid'")
            .fetch_optional(&mut self.conn)
            .await
            .map_err(|e| mysql_error("", e))?;
        if let Some(uuid) = uuid {
            facts.push((
                "server UUID",
                uuid.try_get(1).map_err(|e| mysql_error("", e))?,
            ));
        }
        Ok(Instance {
            engine: EngineKind::Mysql,
            facts,
            database: self.database.to_lowercase(),
        })
    }
}
