//! The `[grants]` roles' privileges on every object of the database, read from the catalogs' ACLs at capture and put back exactly at restore.
//!
//! Objects are named, not numbered (OIDs differ between databases): a
//! database, schemas, tables (with views, materialized views and foreign
//! tables), sequences, columns, routines and foreign servers. The SQL that a
//! restore runs names objects the way the target's own catalog spells them;
//! from the vault it takes only privilege keywords (checked against a list)
//! and the configured role names (quoted).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::postgres::PgConnection;
use vault_format::{UnlockedVault, VaultWriter};

use super::{execute, pg_error, read_extra};
use crate::config::Config;
use crate::exit::{Exit, ToolError};
use crate::names::quote_ident;

const STREAM: &str = "extras/pg-grants";
const KIND: &str = "pg-grants";
/// Every object that could hold a privilege at capture, one JSON line each:
/// a restore changes privileges only on these (an object production
/// brought keeps production's privileges, PUBLIC's included).
const OBJECTS_STREAM: &str = "extras/pg-grant-objects";
const OBJECTS_KIND: &str = "pg-grant-objects";

/// Privilege keywords a restore may write into GRANT and REVOKE.
const PRIVILEGES: [&str; 13] = [
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "TRUNCATE",
    "REFERENCES",
    "TRIGGER",
    "EXECUTE",
    "USAGE",
    "CREATE",
    "CONNECT",
    "TEMPORARY",
    "MAINTAIN",
];

/// One privilege of one role on one object: one line of the grants stream.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Grant {
    #[serde(flatten)]
    object: Object,
    role: String,
    privilege: String,
    grantable: bool,
}

/// An object by name. The database is the current one, whatever its name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Object {
    /// database, schema, table, sequence, column, routine, foreign-server.
    kind: String,
    schema: Option<String>,
    name: String,
    /// The column of a column privilege, the argument types of a routine.
    sub: Option<String>,
}

impl std::fmt::Display for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.kind == "database" {
            return f.write_str("the database");
        }
        write!(f, "{} ", self.kind)?;
        if let Some(schema) = &self.schema {
            write!(f, "{schema}.")?;
        }
        f.write_str(&self.name)?;
        match (self.kind.as_str(), &self.sub) {
            ("column", Some(column)) => write!(f, ".{column}"),
            (_, Some(args)) => write!(f, "({args})"),
            _ => Ok(()),
        }
    }
}

/// Every object that can hold a privilege, with the SQL that names it in
/// this database (`target`; for a column, its table) and its ACL, the
/// owner's defaults when none was ever granted.
macro_rules! objects {
    () => {
        "WITH objects AS (
           SELECT 'database' AS kind, NULL::text AS schema, ''::text AS name, NULL::text AS sub,
                  quote_ident(d.datname) AS target, coalesce(d.datacl, acldefault('d', d.datdba)) AS acl
           FROM pg_catalog.pg_database d WHERE d.datname = current_database()
           UNION ALL
           SELECT 'schema', NULL, n.nspname::text, NULL, quote_ident(n.nspname),
                  coalesce(n.nspacl, acldefault('n', n.nspowner))
           FROM pg_catalog.pg_namespace n
           WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
           UNION ALL
           SELECT CASE WHEN c.relkind = 'S' THEN 'sequence' ELSE 'table' END, n.nspname::text,
                  c.relname::text, NULL, c.oid::regclass::text,
                  coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::\"char\", c.relowner))
           FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
             AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
           UNION ALL
           SELECT 'column', n.nspname::text, c.relname::text, a.attname::text, c.oid::regclass::text, a.attacl
           FROM pg_catalog.pg_attribute a
           JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
           WHERE a.attacl IS NOT NULL AND a.attnum > 0 AND NOT a.attisdropped
             AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
             AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
           UNION ALL
           SELECT 'routine', n.nspname::text, p.proname::text, pg_get_function_identity_arguments(p.oid),
                  p.oid::regprocedure::text, coalesce(p.proacl, acldefault('f', p.proowner))
           FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
           UNION ALL
           SELECT 'foreign-server', NULL, s.srvname::text, NULL, quote_ident(s.srvname),
                  coalesce(s.srvacl, acldefault('S', s.srvowner))
           FROM pg_catalog.pg_foreign_server s
         ) "
    };
}

/// The roles' privileges: kind, schema, name, sub, target, role, privilege, grantable.
const HELD: &str = concat!(
    objects!(),
    "SELECT o.kind, o.schema, o.name, o.sub, o.target, r.role, a.privilege_type, bool_or(a.is_grantable)
     FROM objects o
     CROSS JOIN LATERAL aclexplode(o.acl) AS a
     JOIN unnest($1::text[]) AS r(role)
       ON r.role = CASE WHEN a.grantee = 0 THEN 'public' ELSE pg_get_userbyid(a.grantee)::text END
     GROUP BY 1, 2, 3, 4, 5, 6, 7
     ORDER BY 1, 2, 3, 4, 6, 7"
);

/// Every object but columns, with its target SQL.
const ALL_OBJECTS: &str = concat!(
    objects!(),
    "SELECT kind, schema, name, sub, target FROM objects WHERE kind <> 'column'"
);

/// Privileges that `$1` granted to another role on its object (what a
/// REVOKE … RESTRICT refuses to take away with it): kind, schema, name,
/// sub, grantee, privilege.
const GRANTED_ONWARD: &str = concat!(
    objects!(),
    "SELECT o.kind, o.schema, o.name, o.sub,
            CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee)::text END,
            a.privilege_type
     FROM objects o
     CROSS JOIN LATERAL aclexplode(o.acl) AS a
     WHERE a.grantor <> a.grantee AND pg_get_userbyid(a.grantor)::text = $1
     ORDER BY 1, 2, 3, 4, 5, 6"
);

/// The configured roles, `public` (any case) meaning PUBLIC.
fn configured_roles(config: &Config) -> Vec<String> {
    let mut roles: Vec<String> = config
        .privileged_roles()
        .iter()
        .map(|r| {
            if r.eq_ignore_ascii_case("public") {
                "public".to_owned()
            } else {
                r.clone()
            }
        })
        .collect();
    roles.sort();
    roles.dedup();
    roles
}

/// Roles that the database's cluster does not have.
async fn missing_roles(
    conn: &mut PgConnection,
    roles: &[String],
) -> Result<Vec<String>, ToolError> {
    sqlx::query_scalar(
        "SELECT r FROM unnest($1::text[]) AS r
         WHERE r <> 'public' AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r)",
    )
    .bind(roles)
    .fetch_all(conn)
    .await
    .map_err(|e| pg_error("", e))
}

/// The privileges the roles hold now, each with its object's target SQL.
async fn held(
    conn: &mut PgConnection,
    roles: &[String],
) -> Result<Vec<(Grant, String)>, ToolError> {
    let rows = sqlx::query(HELD)
        .bind(roles)
        .fetch_all(conn)
        .await
        .map_err(|e| pg_error("", e))?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let grant = Grant {
                object: Object {
                    kind: row.get(0),
                    schema: row.get(1),
                    name: row.get(2),
                    sub: row.get(3),
                },
                role: row.get(5),
                privilege: row.get(6),
                grantable: row.get(7),
            };
            (grant, row.get(4))
        })
        .collect())
}

/// Captures the `[grants]` roles' privileges into their own stream.
pub(super) async fn capture(
    conn: &mut PgConnection,
    config: &Config,
    writer: &VaultWriter,
) -> Result<Option<String>, ToolError> {
    let roles = configured_roles(config);
    if roles.is_empty() {
        return Ok(None);
    }
    let missing = missing_roles(conn, &roles).await?;
    if let Some(role) = missing.first() {
        return Err(ToolError::usage(format!(
            "grants.roles: the role {role} does not exist in the acceptance database's cluster"
        ))
        .hint("correct grants.roles in the configuration"));
    }
    let grants = held(conn, &roles).await?;
    let metadata = serde_json::json!({"kind": KIND, "roles": roles, "encoding": "json-lines"});
    let mut stream = writer.stream(STREAM, metadata)?;
    let mut objects = BTreeSet::new();
    for (grant, _) in &grants {
        let mut line = serde_json::to_vec(grant).expect("a grant serializes");
        line.push(b'\n');
        stream.write_all(&line)?;
        objects.insert(&grant.object);
    }
    stream.add_rows(grants.len() as u64);
    stream.finish()?;
    let all = sqlx::query(ALL_OBJECTS)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| pg_error("", e))?;
    let metadata = serde_json::json!({"kind": OBJECTS_KIND, "encoding": "json-lines"});
    let mut stream = writer.stream(OBJECTS_STREAM, metadata)?;
    for row in &all {
        let object = Object {
            kind: row.get(0),
            schema: row.get(1),
            name: row.get(2),
            sub: row.get(3),
        };
        let mut line = serde_json::to_vec(&object).expect("an object serializes");
        line.push(b'\n');
        stream.write_all(&line)?;
    }
    stream.add_rows(all.len() as u64);
    stream.finish()?;
    Ok(Some(format!(
        "grants: {} privileges of {} roles on {} objects",
        grants.len(),
        roles.len(),
        objects.len()
    )))
}

type Held = BTreeMap<(Object, String, String), bool>;

/// Puts the captured privileges back exactly for the captured roles:
/// revokes what they hold and did not hold at capture, grants what they
/// held. Returns one line per statement, and one per object that no longer
/// exists.
pub(super) async fn restore(
    conn: &mut PgConnection,
    vault: &UnlockedVault,
) -> Result<Vec<String>, ToolError> {
    let Some((metadata, bytes)) = read_extra(vault, KIND)? else {
        return Ok(Vec::new());
    };
    // Names written with their schema whatever the database's search_path:
    // the lines read the same in every report, and in the restore's
    // transaction the setting goes back as it was.
    let path: String = sqlx::query_scalar("SELECT current_setting('search_path')")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| pg_error("", e))?;
    execute(conn, "SELECT set_config('search_path', 'pg_catalog', true)").await?;
    // On an error the transaction rolls back, and the setting with it.
    let restored = restore_qualified(conn, vault, metadata, bytes).await?;
    sqlx::query("SELECT set_config('search_path', $1, true)")
        .bind(&path)
        .execute(&mut *conn)
        .await
        .map_err(|e| pg_error("", e))?;
    Ok(restored)
}

async fn restore_qualified(
    conn: &mut PgConnection,
    vault: &UnlockedVault,
    metadata: serde_json::Value,
    bytes: Vec<u8>,
) -> Result<Vec<String>, ToolError> {
    let bad = |what: String| {
        ToolError::new(Exit::Problem, format!("the vault's grants stream {what}"))
            .hint("restore only vaults written by `vault capture`")
    };
    let roles: Vec<String> = serde_json::from_value(metadata["roles"].clone())
        .map_err(|e| bad(format!("does not list its roles: {e}")))?;
    let mut captured = Held::new();
    for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let grant: Grant =
            serde_json::from_slice(line).map_err(|e| bad(format!("holds a bad line: {e}")))?;
        if !PRIVILEGES.contains(&grant.privilege.as_str()) || !roles.contains(&grant.role) {
            return Err(bad(format!(
                "holds a privilege it should not: {} for {}",
                grant.privilege, grant.role
            )));
        }
        captured.insert((grant.object, grant.role, grant.privilege), grant.grantable);
    }
    let missing = missing_roles(conn, &roles).await?;
    if !missing.is_empty() {
        let (them, exist) = match missing.len() {
            1 => ("the role", "does"),
            _ => ("the roles", "do"),
        };
        return Err(ToolError::failed(format!(
            "grants: {them} {} held privileges in acceptance and {exist} not exist in the target's cluster; nothing was changed",
            missing.join(", ")
        ))
        .hint("create every role named, then restore again"));
    }
    let known = objects_at_capture(vault)?;
    let (mut now, mut targets) = current(conn, &roles).await?;
    let mut lines = Vec::new();
    if let Some(known) = &known {
        let before = now.len();
        now.retain(|(o, _, _), _| was_there(known, o));
        if now.len() < before {
            lines.push(format!(
                "grants: {} privileges on objects acceptance did not have at capture left as the refresh brought them",
                before - now.len()
            ));
        }
    }
    // Objects that hold none of the roles' privileges now: find their names.
    if captured.keys().any(|(o, _, _)| !targets.contains_key(o)) {
        let all = sqlx::query(ALL_OBJECTS)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| pg_error("", e))?;
        for row in all {
            let object = Object {
                kind: row.get(0),
                schema: row.get(1),
                name: row.get(2),
                sub: row.get(3),
            };
            targets.entry(object).or_insert_with(|| row.get(4));
        }
    }
    let mut gone = BTreeSet::new();
    for (object, _, _) in captured.keys() {
        if targets.contains_key(object) || gone.contains(object) {
            continue;
        }
        if object.kind == "column" {
            if let Some(table) = column_table(conn, object).await? {
                targets.insert(object.clone(), table);
                continue;
            }
        }
        gone.insert(object.clone());
    }
    for object in &gone {
        lines.push(format!(
            "grants: {object} no longer exists; its privileges were not restored"
        ));
    }
    captured.retain(|(o, _, _), _| !gone.contains(o));
    for (statement, object, role) in plan(&captured, &now, &targets) {
        // A revoke runs RESTRICT: one that would take privileges the role
        // granted onward (to roles outside [grants]) fails, and says which.
        execute(conn, "SAVEPOINT vault_grant").await?;
        if let Err(e) = execute(conn, &statement).await {
            execute(conn, "ROLLBACK TO SAVEPOINT vault_grant").await?;
            let onward = granted_onward(conn, &role, &object).await?;
            if onward.is_empty() {
                return Err(ToolError::failed(format!(
                    "grants: {statement}: {}",
                    e.message
                )));
            }
            return Err(ToolError::failed(format!(
                "grants: {statement} would also take privileges {role} granted onward ({}); nothing was changed",
                onward.join(", ")
            ))
            .hint(format!(
                "revoke them as that role (SET ROLE {}; REVOKE …), or grant them again from another role, then restore again",
                quote_ident(&role)
            )));
        }
        execute(conn, "RELEASE SAVEPOINT vault_grant").await?;
        lines.push(format!("grants: {statement}"));
    }
    let (mut after, _) = current(conn, &roles).await?;
    if let Some(known) = &known {
        after.retain(|(o, _, _), _| was_there(known, o));
    }
    if let Some((left, _, _)) = plan(&captured, &after, &targets).first() {
        return Err(ToolError::failed(format!(
            "grants: after the restore, `{left}` would still be needed: the privilege was granted by another role; nothing was changed"
        ))
        .hint("have that role (or a superuser) revoke it, then restore again"));
    }
    Ok(lines)
}

/// The objects the vault says acceptance had at capture; `None` for a vault
/// written before they were recorded.
fn objects_at_capture(vault: &UnlockedVault) -> Result<Option<BTreeSet<Object>>, ToolError> {
    let Some((_, bytes)) = read_extra(vault, OBJECTS_KIND)? else {
        return Ok(None);
    };
    let mut known = BTreeSet::new();
    for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let object: Object = serde_json::from_slice(line).map_err(|e| {
            ToolError::new(
                Exit::Problem,
                format!("the vault's grant objects stream holds a bad line: {e}"),
            )
            .hint("restore only vaults written by `vault capture`")
        })?;
        known.insert(object);
    }
    Ok(Some(known))
}

/// Whether `object` existed at capture (a column: its table did).
fn was_there(known: &BTreeSet<Object>, object: &Object) -> bool {
    match object.kind.as_str() {
        "column" => known
            .iter()
            .any(|k| k.kind == "table" && k.schema == object.schema && k.name == object.name),
        _ => known.contains(object),
    }
}

/// The privileges held now, and the target SQL of each object holding one.
async fn current(
    conn: &mut PgConnection,
    roles: &[String],
) -> Result<(Held, BTreeMap<Object, String>), ToolError> {
    let mut now = Held::new();
    let mut targets = BTreeMap::new();
    for (grant, target) in held(conn, roles).await? {
        targets.insert(grant.object.clone(), target);
        now.insert((grant.object, grant.role, grant.privilege), grant.grantable);
    }
    Ok((now, targets))
}

/// The privileges `role` granted to other roles on `object`, as lines
/// (`SELECT to "auditor"`).
async fn granted_onward(
    conn: &mut PgConnection,
    role: &str,
    object: &Object,
) -> Result<Vec<String>, ToolError> {
    let rows = sqlx::query(GRANTED_ONWARD)
        .bind(role)
        .fetch_all(conn)
        .await
        .map_err(|e| pg_error("", e))?;
    let table_of_column = |o: &Object| Object {
        kind: "table".into(),
        sub: None,
        ..o.clone()
    };
    Ok(rows
        .into_iter()
        .filter(|row| {
            let found = Object {
                kind: row.get(0),
                schema: row.get(1),
                name: row.get(2),
                sub: row.get(3),
            };
            // Revoking a table privilege takes its column privileges along.
            found == *object || (object.kind == "table" && table_of_column(&found) == *object)
        })
        .map(|row| {
            format!(
                "{} to {}",
                row.get::<String, _>(5),
                quote_ident(&row.get::<String, _>(4))
            )
        })
        .collect())
}

/// The table SQL of a captured column privilege, when the column exists.
async fn column_table(
    conn: &mut PgConnection,
    object: &Object,
) -> Result<Option<String>, ToolError> {
    sqlx::query_scalar(
        "SELECT c.oid::regclass::text FROM pg_catalog.pg_class c
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
         WHERE n.nspname = $1 AND c.relname = $2 AND a.attname = $3
           AND a.attnum > 0 AND NOT a.attisdropped",
    )
    .bind(&object.schema)
    .bind(&object.name)
    .bind(&object.sub)
    .fetch_optional(conn)
    .await
    .map_err(|e| pg_error("", e))
}

/// The REVOKE statements (first) and GRANT statements that turn `now` into
/// `captured`, privileges of one object, role and option grouped together;
/// each with its object and role. Revokes are RESTRICT: they never take
/// privileges of roles outside `[grants]` along.
fn plan(
    captured: &Held,
    now: &Held,
    targets: &BTreeMap<Object, String>,
) -> Vec<(String, Object, String)> {
    // (grant? (revokes come first: revoking a table privilege also revokes
    // its column privileges), grant option?, object, role) -> privileges
    let mut groups: BTreeMap<(bool, bool, &Object, &str), Vec<&str>> = BTreeMap::new();
    for ((object, role, privilege), &grantable) in now {
        match captured.get(&(object.clone(), role.clone(), privilege.clone())) {
            None => groups.entry((false, false, object, role)),
            Some(false) if grantable => groups.entry((false, true, object, role)),
            Some(_) => continue,
        }
        .or_default()
        .push(privilege);
    }
    for ((object, role, privilege), &grantable) in captured {
        match now.get(&(object.clone(), role.clone(), privilege.clone())) {
            None => groups.entry((true, grantable, object, role)),
            Some(false) if grantable => groups.entry((true, true, object, role)),
            Some(_) => continue,
        }
        .or_default()
        .push(privilege);
    }
    groups
        .into_iter()
        .filter_map(|((grant, option, object, role), privileges)| {
            let target = targets.get(object)?;
            let (on, list) = match object.kind.as_str() {
                "column" => {
                    let column = quote_ident(object.sub.as_deref().unwrap_or_default());
                    let list: Vec<String> = privileges
                        .iter()
                        .map(|p| format!("{p} ({column})"))
                        .collect();
                    (format!("TABLE {target}"), list.join(", "))
                }
                kind => {
                    let on = match kind {
                        "database" => "DATABASE",
                        "schema" => "SCHEMA",
                        "sequence" => "SEQUENCE",
                        "routine" => "ROUTINE",
                        "foreign-server" => "FOREIGN SERVER",
                        _ => "TABLE",
                    };
                    (format!("{on} {target}"), privileges.join(", "))
                }
            };
            let to = if role == "public" {
                "PUBLIC".to_owned()
            } else {
                quote_ident(role)
            };
            let sql = match (grant, option) {
                (false, false) => format!("REVOKE {list} ON {on} FROM {to} RESTRICT"),
                (false, true) => {
                    format!("REVOKE GRANT OPTION FOR {list} ON {on} FROM {to} RESTRICT")
                }
                (true, false) => format!("GRANT {list} ON {on} TO {to}"),
                (true, true) => format!("GRANT {list} ON {on} TO {to} WITH GRANT OPTION"),
            };
            Some((sql, object.clone(), role.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(kind: &str, name: &str, sub: Option<&str>) -> Object {
        Object {
            kind: kind.into(),
            schema: Some("camis".into()),
            name: name.into(),
            sub: sub.map(Into::into),
        }
    }

    fn held(entries: &[(&Object, &str, &str, bool)]) -> Held {
        entries
            .iter()
            .map(|&(o, role, privilege, grantable)| {
                (
                    (o.clone(), role.to_owned(), privilege.to_owned()),
                    grantable,
                )
            })
            .collect()
    }

    #[test]
    fn revokes_come_before_grants_and_privileges_are_grouped() {
        let table = object("table", "assessment", None);
        let column = object("column", "assessment", Some("note"));
        let users = object("table", "app_user", None);
        let targets: BTreeMap<Object, String> = [
            (table.clone(), "camis.assessment".to_owned()),
            (column.clone(), "camis.assessment".to_owned()),
            (users.clone(), "camis.app_user".to_owned()),
        ]
        .into();
        let now = held(&[
            (&table, "reader", "SELECT", false),
            (&users, "reader", "SELECT", false),
            (&users, "public", "INSERT", false),
        ]);
        let captured = held(&[
            (&column, "reader", "SELECT", false),
            (&column, "reader", "UPDATE", false),
            (&users, "reader", "SELECT", true),
        ]);
        let sql: Vec<String> = plan(&captured, &now, &targets)
            .into_iter()
            .map(|(sql, _, _)| sql)
            .collect();
        assert_eq!(
            sql,
            [
                "REVOKE INSERT ON TABLE camis.app_user FROM PUBLIC RESTRICT",
                "REVOKE SELECT ON TABLE camis.assessment FROM \"reader\" RESTRICT",
                "GRANT SELECT (\"note\"), UPDATE (\"note\") ON TABLE camis.assessment TO \"reader\"",
                "GRANT SELECT ON TABLE camis.app_user TO \"reader\" WITH GRANT OPTION",
            ]
        );
        assert!(plan(&captured, &captured, &targets).is_empty());
    }
}
