//! `vault links` on PostgreSQL: foreign servers, user mappings, connection strings in views and function bodies, and subscriptions.
//!
//! Reads only. Servers and mappings come from `links::read_links` (the
//! same reading as capture) and are compared with the vault's
//! "pg-foreign-servers" stream. Connection strings in code are found by
//! scanning the string literals of view definitions and function bodies
//! (`crate::links::conninfo`). User mapping options and connection strings
//! may hold passwords: only their host, port, database and service, and
//! the names of options that differ, leave this module.

use std::collections::BTreeMap;

use sqlx::Row;
use sqlx::postgres::PgConnection;
use vault_format::UnlockedVault;

use super::links::{self, Links, Mapping, Server};
use super::{Postgres, pg_error};
use crate::exit::ToolError;
use crate::links::conninfo::find_in_sql;
use crate::links::{Acceptance, Endpoint, FoundLink, FoundLinks, LinkCheck, LinkKind};
use crate::names::quote_ident;

/// Wrappers that connect through libpq: no host option means the local server.
const LIBPQ_WRAPPERS: [&str; 2] = ["postgres_fdw", "dblink_fdw"];

/// A regular expression that keeps the text scan to bodies that may hold a connection string.
const MAY_CONNECT: &str = r"(host|hostaddr|dbname|service)\s*=|postgres(ql)?://";

/// Views and materialized views outside the system schemas and extensions.
const VIEWS: &str = "SELECT n.nspname::text, c.relname::text, c.relkind::text, d.def
 FROM pg_catalog.pg_class c
 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 CROSS JOIN LATERAL (SELECT pg_catalog.pg_get_viewdef(c.oid) AS def) d
 WHERE c.relkind IN ('v', 'm')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend x
                   WHERE x.classid = 'pg_catalog.pg_class'::regclass AND x.objid = c.oid AND x.deptype = 'e')
   AND d.def ~* $1
 ORDER BY 1, 2";

/// Functions and procedures in languages with a text body (not C or
/// internal), outside the system schemas and extensions. A SQL-standard
/// body (`BEGIN ATOMIC`) has no `prosrc`: its definition is read instead.
const ROUTINES: &str = "SELECT n.nspname::text, p.proname::text,
        pg_catalog.pg_get_function_identity_arguments(p.oid), p.prokind::text, b.body
 FROM pg_catalog.pg_proc p
 JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
 JOIN pg_catalog.pg_language l ON l.oid = p.prolang
 CROSS JOIN LATERAL (SELECT CASE WHEN coalesce(p.prosrc, '') = ''
                                 THEN pg_catalog.pg_get_functiondef(p.oid)
                                 ELSE p.prosrc END AS body) b
 WHERE p.prokind IN ('f', 'p')
   AND l.lanname NOT IN ('c', 'internal')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend x
                   WHERE x.classid = 'pg_catalog.pg_proc'::regclass AND x.objid = p.oid AND x.deptype = 'e')
   AND b.body ~* $1
 ORDER BY 1, 2, 3";

/// Subscriptions of this database; their connection strings are read in
/// a second query, only with the privilege to read that column.
const SUBSCRIPTIONS: &str = "SELECT s.subname::text FROM pg_catalog.pg_subscription s
 WHERE s.subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
 ORDER BY 1";

const SUBSCRIPTION_CONNINFO: &str = "SELECT s.subname::text, s.subconninfo
 FROM pg_catalog.pg_subscription s
 WHERE s.subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
 ORDER BY 1";

impl LinkCheck for Postgres {
    async fn find_links(
        &mut self,
        captured: Option<&UnlockedVault>,
    ) -> Result<FoundLinks, ToolError> {
        let conn = &mut self.conn;
        let mut found = FoundLinks::default();
        let now = links::read_links(conn).await?;
        let before = match captured {
            Some(vault) => {
                let before = links::captured(vault)?;
                if before.is_none() {
                    found.notes.push(
                        "the vault holds no foreign-server definitions (it was not captured from PostgreSQL); nothing to compare with".into(),
                    );
                }
                before
            }
            None => None,
        };
        let tables = foreign_tables(conn).await?;
        servers(&now, before.as_ref(), &tables, &mut found);
        mappings(&now, before.as_ref(), &mut found);
        if let Some(before) = &before {
            missing_mappings(&now, before, &mut found);
        }
        code(conn, &mut found).await?;
        subscriptions(conn, &mut found).await?;
        Ok(found)
    }
}

fn server_endpoint(server: &Server) -> Endpoint {
    Endpoint::from_options(server.options.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// How many foreign tables each server has.
async fn foreign_tables(conn: &mut PgConnection) -> Result<BTreeMap<String, i64>, ToolError> {
    let rows = sqlx::query(
        "SELECT s.srvname::text, count(*) FROM pg_catalog.pg_foreign_table t
         JOIN pg_catalog.pg_foreign_server s ON s.oid = t.ftserver GROUP BY 1",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| pg_error("", e))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

fn servers(
    now: &Links,
    before: Option<&Links>,
    tables: &BTreeMap<String, i64>,
    found: &mut FoundLinks,
) {
    for server in &now.servers {
        let acceptance = match before {
            None => Acceptance::NotCompared,
            Some(before) => match before.servers.iter().find(|s| s.name == server.name) {
                None => Acceptance::New,
                Some(then) => crate::links::option_differences(&server.options, &then.options),
            },
        };
        let name = quote_ident(&server.name);
        found.links.push(FoundLink {
            kind: LinkKind::ForeignServer,
            object: server.name.clone(),
            points_to: Some(server_endpoint(server)),
            libpq: LIBPQ_WRAPPERS.contains(&server.wrapper.as_str()),
            where_found: match tables.get(&server.name) {
                Some(n) => format!(
                    "foreign server (wrapper {}; {n} foreign table{} read through it)",
                    server.wrapper,
                    if *n == 1 { "" } else { "s" }
                ),
                None => format!("foreign server (wrapper {})", server.wrapper),
            },
            restorable: true,
            remedy: format!(
                "point it at acceptance with ALTER SERVER {name} OPTIONS (SET host '...', SET dbname '...'), or remove it with DROP SERVER {name} CASCADE (its foreign tables and user mappings go with it)"
            ),
            acceptance,
        });
    }
    for then in before.iter().flat_map(|b| &b.servers) {
        if !now.servers.iter().any(|s| s.name == then.name) {
            found.links.push(FoundLink {
                kind: LinkKind::ForeignServer,
                object: then.name.clone(),
                points_to: Some(server_endpoint(then)),
                libpq: LIBPQ_WRAPPERS.contains(&then.wrapper.as_str()),
                where_found: format!("in the vault only (wrapper {})", then.wrapper),
                acceptance: Acceptance::Missing,
                restorable: true,
                remedy: format!(
                    "CREATE SERVER {} FOREIGN DATA WRAPPER {} with the options shown",
                    quote_ident(&then.name),
                    quote_ident(&then.wrapper)
                ),
            });
        }
    }
}

fn mappings(now: &Links, before: Option<&Links>, found: &mut FoundLinks) {
    for mapping in &now.user_mappings {
        let server = now.servers.iter().find(|s| s.name == mapping.server);
        let acceptance = match before {
            None => Acceptance::NotCompared,
            Some(before) => match before
                .user_mappings
                .iter()
                .find(|m| m.user == mapping.user && m.server == mapping.server)
            {
                None => Acceptance::New,
                Some(then) => match (&mapping.options, &then.options) {
                    (Some(now), Some(then)) => crate::links::option_differences(now, then),
                    _ => Acceptance::NotCompared,
                },
            },
        };
        let who = mapping_user(&mapping.user);
        let srv = quote_ident(&mapping.server);
        found.links.push(FoundLink {
            kind: LinkKind::UserMapping,
            object: format!("{} on {}{}", mapping.user, mapping.server, remote_user(mapping)),
            points_to: server.map(server_endpoint),
            libpq: server.is_some_and(|s| LIBPQ_WRAPPERS.contains(&s.wrapper.as_str())),
            where_found: format!("user mapping of server {}", mapping.server),
            restorable: true,
            remedy: format!(
                "change its credentials with ALTER USER MAPPING FOR {who} SERVER {srv} OPTIONS (SET user '...', SET password '...'), or remove it with DROP USER MAPPING FOR {who} SERVER {srv}"
            ),
            acceptance,
        });
    }
}

/// User mappings that acceptance had and that are gone.
fn missing_mappings(now: &Links, before: &Links, found: &mut FoundLinks) {
    for then in &before.user_mappings {
        if now
            .user_mappings
            .iter()
            .any(|m| m.user == then.user && m.server == then.server)
        {
            continue;
        }
        let server = before.servers.iter().find(|s| s.name == then.server);
        found.links.push(FoundLink {
            kind: LinkKind::UserMapping,
            object: format!("{} on {}{}", then.user, then.server, remote_user(then)),
            points_to: server.map(server_endpoint),
            libpq: server.is_some_and(|s| LIBPQ_WRAPPERS.contains(&s.wrapper.as_str())),
            where_found: format!("in the vault only (user mapping of server {})", then.server),
            acceptance: Acceptance::Missing,
            restorable: then.options.is_some(),
            remedy: format!(
                "CREATE USER MAPPING FOR {} SERVER {} OPTIONS (user '...', password '...')",
                mapping_user(&then.user),
                quote_ident(&then.server)
            ),
        });
    }
}

/// `as remote user X`, from the mapping's `user` option when it is readable.
fn remote_user(mapping: &Mapping) -> String {
    mapping
        .options
        .as_ref()
        .and_then(|o| o.get("user"))
        .map(|u| format!(" (remote user {u})"))
        .unwrap_or_default()
}

fn mapping_user(user: &str) -> String {
    if user == "public" {
        "PUBLIC".into()
    } else {
        quote_ident(user)
    }
}

/// Connection strings in views, materialized views, functions and procedures.
async fn code(conn: &mut PgConnection, found: &mut FoundLinks) -> Result<(), ToolError> {
    for row in sqlx::query(VIEWS)
        .bind(MAY_CONNECT)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| pg_error("", e))?
    {
        let (schema, name, kind, def): (String, String, String, String) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        let (kind, word) = match kind.as_str() {
            "m" => (LinkKind::MaterializedView, "MATERIALIZED VIEW"),
            _ => (LinkKind::View, "VIEW"),
        };
        let object = format!("{}.{}", quote_ident(&schema), quote_ident(&name));
        for hit in find_in_sql(&def) {
            let replace = match kind {
                LinkKind::View => format!("CREATE OR REPLACE VIEW {object}"),
                _ => format!("DROP MATERIALIZED VIEW {object} and CREATE {word} again"),
            };
            found.links.push(FoundLink {
                kind,
                object: format!("{schema}.{name}"),
                points_to: Some(hit.endpoint),
                libpq: true,
                where_found: format!(
                    "a connection string in the {} definition, line {}",
                    kind.label(),
                    hit.line
                ),
                acceptance: Acceptance::NotCompared,
                restorable: false,
                remedy: format!(
                    "vault cannot put back a connection string in code: {replace} with acceptance's connection string, or use a foreign server, which `vault restore` puts back"
                ),
            });
        }
    }
    for row in sqlx::query(ROUTINES)
        .bind(MAY_CONNECT)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| pg_error("", e))?
    {
        let (schema, name, args, kind, body): (String, String, String, String, String) =
            (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
        let (kind, word) = match kind.as_str() {
            "p" => (LinkKind::Procedure, "PROCEDURE"),
            _ => (LinkKind::Function, "FUNCTION"),
        };
        let object = format!("{schema}.{name}({args})");
        for hit in find_in_sql(&body) {
            found.links.push(FoundLink {
                kind,
                object: object.clone(),
                points_to: Some(hit.endpoint),
                libpq: true,
                where_found: format!(
                    "a connection string in the {} body, line {}",
                    kind.label(),
                    hit.line
                ),
                acceptance: Acceptance::NotCompared,
                restorable: false,
                remedy: format!(
                    "vault cannot put back a connection string in code: CREATE OR REPLACE {word} {}.{}({args}) with acceptance's connection string, or use a foreign server, which `vault restore` puts back",
                    quote_ident(&schema),
                    quote_ident(&name)
                ),
            });
        }
    }
    Ok(())
}

/// Subscriptions; their connection strings need superuser (or a grant on
/// `pg_subscription.subconninfo`), otherwise each is reported unchecked.
async fn subscriptions(conn: &mut PgConnection, found: &mut FoundLinks) -> Result<(), ToolError> {
    let names: Vec<String> = sqlx::query_scalar(SUBSCRIPTIONS)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| pg_error("", e))?;
    if names.is_empty() {
        return Ok(());
    }
    let readable: bool = sqlx::query_scalar(
        "SELECT has_column_privilege('pg_catalog.pg_subscription', 'subconninfo', 'SELECT')",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| pg_error("", e))?;
    let remedy = |name: &str| {
        let name = quote_ident(name);
        format!(
            "point it at acceptance's publisher with ALTER SUBSCRIPTION {name} CONNECTION '...', or stop it with ALTER SUBSCRIPTION {name} DISABLE (DROP SUBSCRIPTION {name} removes it)"
        )
    };
    if !readable {
        found.notes.push(format!(
            "{} subscription(s): their connection strings can be read only by a superuser; run `vault links` as one to check them",
            names.len()
        ));
        for name in names {
            found.links.push(FoundLink {
                kind: LinkKind::Subscription,
                object: name.clone(),
                points_to: None,
                libpq: true,
                where_found: "pg_subscription (connection string not readable by this user)".into(),
                acceptance: Acceptance::NotCompared,
                restorable: false,
                remedy: format!(
                    "check its connection string as a superuser; {}",
                    remedy(&name)
                ),
            });
        }
        return Ok(());
    }
    for row in sqlx::query(SUBSCRIPTION_CONNINFO)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| pg_error("", e))?
    {
        let name: String = row.get(0);
        let conninfo: zeroize::Zeroizing<String> = zeroize::Zeroizing::new(row.get(1));
        found.links.push(FoundLink {
            kind: LinkKind::Subscription,
            object: name.clone(),
            points_to: Some(Endpoint::parse(&conninfo).unwrap_or_default()),
            libpq: true,
            where_found: "pg_subscription (its connection string)".into(),
            acceptance: Acceptance::NotCompared,
            restorable: false,
            remedy: remedy(&name),
        });
    }
    Ok(())
}
