//! Foreign servers and user mappings: captured as acceptance defines them, put back at restore.
//!
//! User mapping options hold passwords. They travel only inside the
//! encrypted stream and, at restore, only as COPY data into a temporary
//! table that a server-side block turns into `CREATE USER MAPPING`: no
//! statement text and no bound parameter carries them, so the server's
//! statement log never shows them. Messages name servers, users and option
//! names, never option values.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::postgres::PgConnection;
use vault_format::{UnlockedVault, VaultWriter};

use super::{execute, pg_error, read_extra};
use crate::exit::{Exit, ToolError};
use crate::names::quote_ident;

const STREAM: &str = "extras/pg-foreign-servers";
const KIND: &str = "pg-foreign-servers";

/// A foreign server as `CREATE SERVER` defines it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Server {
    pub(super) name: String,
    pub(super) wrapper: String,
    server_type: Option<String>,
    version: Option<String>,
    owner: String,
    pub(super) options: BTreeMap<String, String>,
}

/// A user mapping; `options` is `None` when the capturing user could not
/// read them. No `Debug`: the options may hold a password.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Mapping {
    /// A role name, or `public`.
    pub(super) user: String,
    pub(super) server: String,
    pub(super) options: Option<BTreeMap<String, String>>,
}

/// The stream's one JSON document.
#[derive(Serialize, Deserialize)]
pub(super) struct Links {
    pub(super) servers: Vec<Server>,
    pub(super) user_mappings: Vec<Mapping>,
}

const SERVERS: &str = "SELECT s.srvname::text, w.fdwname::text, s.srvtype, s.srvversion,
        pg_get_userbyid(s.srvowner)::text,
        coalesce((SELECT json_object_agg(o.option_name, o.option_value)
                  FROM pg_options_to_table(s.srvoptions) AS o)::text, '{}')
 FROM pg_catalog.pg_foreign_server s
 JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = s.srvfdw
 ORDER BY 1";

/// Options are NULL where this user may not read them (the rule of the
/// pg_user_mappings view), `{}` where there are none.
const MAPPINGS: &str = "SELECT m.usename::text, m.srvname::text,
        CASE WHEN m.umoptions IS NOT NULL
               OR (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)
               OR (m.umuser <> 0 AND m.umuser = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)
                   AND (pg_has_role(s.srvowner, 'USAGE') OR has_server_privilege(s.oid, 'USAGE')))
               OR (m.umuser = 0 AND pg_has_role(s.srvowner, 'USAGE'))
             THEN coalesce((SELECT json_object_agg(o.option_name, o.option_value)
                            FROM pg_options_to_table(m.umoptions) AS o)::text, '{}')
        END
 FROM pg_catalog.pg_user_mappings m
 JOIN pg_catalog.pg_foreign_server s ON s.oid = m.srvid
 ORDER BY 2, 1";

/// Turns the staged mappings into user mappings, on the server side.
const RECREATE_MAPPINGS: &str = "DO $vault$
DECLARE
  r record;
  who text;
  opts text;
BEGIN
  FOR r IN SELECT m::jsonb AS m FROM pg_temp.vault_user_mappings LOOP
    who := CASE WHEN r.m->>'user' = 'public' THEN 'PUBLIC' ELSE quote_ident(r.m->>'user') END;
    SELECT string_agg(format('%I %L', o.key, o.value), ', ') INTO opts
      FROM jsonb_each_text(r.m->'options') AS o;
    EXECUTE format('DROP USER MAPPING IF EXISTS FOR %s SERVER %I', who, r.m->>'server');
    -- The statement holds the options, passwords included: an error in it
    -- is caught here and raised again without it, so that neither the
    -- message nor its context (which the server log keeps) quotes it.
    BEGIN
      EXECUTE format('CREATE USER MAPPING FOR %s SERVER %I', who, r.m->>'server')
        || coalesce(' OPTIONS (' || opts || ')', '');
    EXCEPTION WHEN OTHERS THEN
      RAISE EXCEPTION 'the user mapping for % on server % could not be created: %',
        r.m->>'user', r.m->>'server', SQLERRM
        USING ERRCODE = SQLSTATE;
    END;
  END LOOP;
END
$vault$";

pub(super) async fn read_links(conn: &mut PgConnection) -> Result<Links, ToolError> {
    let options = |text: String| -> Result<BTreeMap<String, String>, ToolError> {
        serde_json::from_str(&text)
            .map_err(|e| ToolError::failed(format!("foreign servers: unreadable options: {e}")))
    };
    let mut servers = Vec::new();
    for row in sqlx::query(SERVERS)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| pg_error("", e))?
    {
        servers.push(Server {
            name: row.get(0),
            wrapper: row.get(1),
            server_type: row.get(2),
            version: row.get(3),
            owner: row.get(4),
            options: options(row.get(5))?,
        });
    }
    let mut user_mappings = Vec::new();
    for row in sqlx::query(MAPPINGS)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| pg_error("", e))?
    {
        user_mappings.push(Mapping {
            user: row.get(0),
            server: row.get(1),
            options: row.get::<Option<String>, _>(2).map(options).transpose()?,
        });
    }
    Ok(Links {
        servers,
        user_mappings,
    })
}

/// Captures every foreign server and user mapping into their own stream.
pub(super) async fn capture(
    conn: &mut PgConnection,
    writer: &VaultWriter,
) -> Result<String, ToolError> {
    let links = read_links(conn).await?;
    let metadata = serde_json::json!({"kind": KIND, "encoding": "json"});
    let mut stream = writer.stream(STREAM, metadata)?;
    stream.write_bytes(&serde_json::to_vec(&links).expect("links serialize"))?;
    stream.add_rows((links.servers.len() + links.user_mappings.len()) as u64);
    stream.finish()?;
    let unreadable = links
        .user_mappings
        .iter()
        .filter(|m| m.options.is_none())
        .count();
    let mut line = format!(
        "foreign servers: {} servers, {} user mappings",
        links.servers.len(),
        links.user_mappings.len()
    );
    if unreadable > 0 {
        line.push_str(&format!(
            " ({unreadable} whose options this user may not read: restore leaves those as they are)"
        ));
    }
    Ok(line)
}

/// The foreign servers and user mappings a vault holds; `None` when it
/// has no such stream.
pub(super) fn captured(vault: &UnlockedVault) -> Result<Option<Links>, ToolError> {
    let Some((_, bytes)) = read_extra(vault, KIND)? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        ToolError::new(
            Exit::Problem,
            format!("the vault's foreign-servers stream is not valid: {e}"),
        )
        .hint("restore only vaults written by `vault capture`")
    })
}

/// Puts back the captured servers (created, or altered to the captured
/// options) and, on each of them, exactly the captured user mappings.
/// Servers that the vault does not know are left alone and reported.
pub(super) async fn restore(
    conn: &mut PgConnection,
    vault: &UnlockedVault,
) -> Result<Vec<String>, ToolError> {
    let Some(captured) = captured(vault)? else {
        return Ok(Vec::new());
    };
    let now = read_links(conn).await?;
    let mut lines = Vec::new();
    for server in &captured.servers {
        let existing = now.servers.iter().find(|s| s.name == server.name);
        if let Some(line) = put_server(conn, server, existing).await? {
            lines.push(line);
        }
    }
    for server in &now.servers {
        if !captured.servers.iter().any(|s| s.name == server.name) {
            lines.push(format!(
                "foreign server {}: not in the vault (acceptance did not have it); left as it is",
                server.name
            ));
        }
    }
    let mut recreate = Vec::new();
    for mapping in &captured.user_mappings {
        let existing = now
            .user_mappings
            .iter()
            .find(|m| m.user == mapping.user && m.server == mapping.server);
        let what = format!("user mapping for {} on {}", mapping.user, mapping.server);
        match (&mapping.options, existing) {
            (None, Some(_)) => lines.push(format!(
                "{what}: its options were not readable at capture; left as it is"
            )),
            (None, None) => lines.push(format!(
                "{what}: its options were not readable at capture; not restored"
            )),
            (Some(_), Some(now)) if now.options == mapping.options => {}
            (Some(_), _) => {
                recreate.push(mapping);
                lines.push(format!("{what}: restored"));
            }
        }
    }
    for mapping in &now.user_mappings {
        let server_captured = captured.servers.iter().any(|s| s.name == mapping.server);
        let mapping_captured = captured
            .user_mappings
            .iter()
            .any(|m| m.user == mapping.user && m.server == mapping.server);
        if server_captured && !mapping_captured {
            execute(
                conn,
                &format!(
                    "DROP USER MAPPING FOR {} SERVER {}",
                    mapping_user(&mapping.user),
                    quote_ident(&mapping.server)
                ),
            )
            .await
            .map_err(|e| links_error(&mapping.server, e))?;
            lines.push(format!(
                "user mapping for {} on {}: dropped (acceptance did not have it)",
                mapping.user, mapping.server
            ));
        }
    }
    if !recreate.is_empty() {
        recreate_mappings(conn, &recreate).await?;
    }
    Ok(lines)
}

/// Creates a server, or alters it to the captured definition; the line says what changed.
async fn put_server(
    conn: &mut PgConnection,
    server: &Server,
    existing: Option<&Server>,
) -> Result<Option<String>, ToolError> {
    let name = quote_ident(&server.name);
    let Some(existing) = existing else {
        let known: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_foreign_data_wrapper WHERE fdwname = $1)",
        )
        .bind(&server.wrapper)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| pg_error("", e))?;
        if !known {
            return Err(ToolError::failed(format!(
                "foreign server {}: its foreign-data wrapper {} is not installed in the target; nothing was changed",
                server.name, server.wrapper
            ))
            .hint(format!(
                "install it (CREATE EXTENSION {}), then restore again",
                server.wrapper
            )));
        }
        let mut sql = format!("CREATE SERVER {name}");
        if let Some(server_type) = &server.server_type {
            sql.push_str(&format!(" TYPE {}", quote_literal(server_type)));
        }
        if let Some(version) = &server.version {
            sql.push_str(&format!(" VERSION {}", quote_literal(version)));
        }
        sql.push_str(&format!(
            " FOREIGN DATA WRAPPER {}",
            quote_ident(&server.wrapper)
        ));
        let options: Vec<String> = server
            .options
            .iter()
            .map(|(k, v)| format!("{} {}", quote_ident(k), quote_literal(v)))
            .collect();
        if !options.is_empty() {
            sql.push_str(&format!(" OPTIONS ({})", options.join(", ")));
        }
        sql.push_str(&format!(
            "; ALTER SERVER {name} OWNER TO {}",
            quote_ident(&server.owner)
        ));
        execute(conn, &sql)
            .await
            .map_err(|e| links_error(&server.name, e))?;
        return Ok(Some(format!(
            "foreign server {}: created ({})",
            server.name, server.wrapper
        )));
    };
    if existing.wrapper != server.wrapper {
        return Err(ToolError::failed(format!(
            "foreign server {}: it uses the foreign-data wrapper {} in the target and {} in the vault; nothing was changed",
            server.name, existing.wrapper, server.wrapper
        ))
        .hint("drop the server in the target (its foreign tables with it), then restore again"));
    }
    let mut changes = Vec::new();
    let mut statements = Vec::new();
    let mut options = Vec::new();
    for (key, value) in &server.options {
        match existing.options.get(key) {
            Some(now) if now == value => {}
            Some(_) => options.push(format!("SET {} {}", quote_ident(key), quote_literal(value))),
            None => options.push(format!("ADD {} {}", quote_ident(key), quote_literal(value))),
        }
    }
    for key in existing.options.keys() {
        if !server.options.contains_key(key) {
            options.push(format!("DROP {}", quote_ident(key)));
        }
    }
    if !options.is_empty() {
        statements.push(format!(
            "ALTER SERVER {name} OPTIONS ({})",
            options.join(", ")
        ));
        changes.push("options");
    }
    if existing.version != server.version {
        let version = server
            .version
            .as_deref()
            .map_or("NULL".to_owned(), quote_literal);
        statements.push(format!("ALTER SERVER {name} VERSION {version}"));
        changes.push("version");
    }
    if existing.owner != server.owner {
        statements.push(format!(
            "ALTER SERVER {name} OWNER TO {}",
            quote_ident(&server.owner)
        ));
        changes.push("owner");
    }
    if statements.is_empty() {
        return Ok(None);
    }
    execute(conn, &statements.join("; "))
        .await
        .map_err(|e| links_error(&server.name, e))?;
    Ok(Some(format!(
        "foreign server {}: {} put back",
        server.name,
        changes.join(", ")
    )))
}

/// Recreates user mappings from COPY data, so that their options appear in
/// no statement.
async fn recreate_mappings(
    conn: &mut PgConnection,
    mappings: &[&Mapping],
) -> Result<(), ToolError> {
    let mut data = Vec::new();
    for mapping in mappings {
        let json = serde_json::to_string(mapping).expect("a mapping serializes");
        // COPY's text format: JSON escapes control characters, so only the
        // backslash needs escaping.
        data.extend_from_slice(json.replace('\\', "\\\\").as_bytes());
        data.push(b'\n');
    }
    execute(
        conn,
        "CREATE TEMP TABLE vault_user_mappings (m text) ON COMMIT DROP",
    )
    .await?;
    let mut copy = conn
        .copy_in_raw("COPY pg_temp.vault_user_mappings (m) FROM STDIN")
        .await
        .map_err(|e| pg_error("", e))?;
    copy.send(data.as_slice())
        .await
        .map_err(|e| pg_error("", e))?;
    copy.finish().await.map_err(|e| pg_error("", e))?;
    zeroize::Zeroize::zeroize(&mut data);
    execute(conn, RECREATE_MAPPINGS)
        .await
        .map_err(|e| ToolError::failed(format!("user mappings: {}", e.message)))?;
    execute(conn, "DROP TABLE pg_temp.vault_user_mappings").await
}

fn mapping_user(user: &str) -> String {
    if user == "public" {
        "PUBLIC".to_owned()
    } else {
        quote_ident(user)
    }
}

/// A string literal; the session runs with standard_conforming_strings on,
/// so only the quote needs doubling.
fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn links_error(server: &str, error: ToolError) -> ToolError {
    ToolError {
        message: format!("foreign server {server}: {}", error.message),
        ..error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_double_their_quotes() {
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal(r"C:\path"), r"'C:\path'");
    }
}
