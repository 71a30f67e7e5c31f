//! Where a postgres:// URL leads, from the options the driver uses (PGHOST, PGHOSTADDR, PGPORT, PGDATABASE and `?host=`, `?hostaddr=`, `?port=`, `?dbname=` included), and the server instance a connection reached.

use std::path::Path;

use sqlx::Row;
use sqlx::postgres::PgConnectOptions;

use super::{Postgres, pg_error};
use crate::config::{DatabaseUrl, EngineKind};
use crate::exit::ToolError;
use crate::guard::{Destination, Host, Instance, ServerInstance};

/// The options the driver builds from a URL and the environment.
pub(super) fn options(url: &DatabaseUrl) -> Result<PgConnectOptions, ToolError> {
    let options: PgConnectOptions = url.expose().parse().map_err(|_| {
        ToolError::usage(format!("{url}: not a valid PostgreSQL URL"))
            .hint("write it as postgres://USER@HOST:PORT/DATABASE")
    })?;
    // An IPv6 literal keeps the URL's brackets, which no resolver reads.
    Ok(match crate::db::unbracketed(options.get_host()) {
        Some(address) => options.host(&address),
        None => options,
    })
}

/// The host, port and database a `postgres://` URL reaches.
pub fn destination(url: &DatabaseUrl) -> Result<Destination, ToolError> {
    let options = options(url)?;
    let host = match options.get_socket() {
        Some(directory) => Host::socket(directory),
        None if options.get_host().starts_with('/') => Host::socket(Path::new(options.get_host())),
        None => Host::named(options.get_host()),
    };
    // Without a database, PostgreSQL connects to the one named like the user.
    let database = options
        .get_database()
        .unwrap_or(options.get_username())
        .to_owned();
    Ok(Destination::server(
        EngineKind::Postgres,
        host,
        Some(options.get_port()),
        &database,
    ))
}

impl ServerInstance for Postgres {
    /// The postmaster's start time and port tell a running server apart
    /// from every other, a physical copy included (which shares the system
    /// identifier); the database is its name and OID.
    async fn instance(&mut self) -> Result<Instance, ToolError> {
        let row = sqlx::query(
            "SELECT d.datname::text || ' (OID ' || d.oid::text || ')',
                    pg_catalog.pg_postmaster_start_time()::text,
                    pg_catalog.current_setting('port'),
                    CASE WHEN pg_catalog.has_function_privilege('pg_catalog.pg_control_system()', 'EXECUTE')
                         THEN (SELECT system_identifier::text FROM pg_catalog.pg_control_system())
                    END
             FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()",
        )
        .fetch_one(&mut self.conn)
        .await
        .map_err(|e| pg_error("", e))?;
        let mut facts = vec![
            ("server started", row.get::<String, _>(1)),
            ("port", row.get(2)),
        ];
        if let Some(system) = row.get::<Option<String>, _>(3) {
            facts.push(("system identifier", system));
        }
        Ok(Instance {
            engine: EngineKind::Postgres,
            facts,
            database: row.get(0),
        })
    }
}
