//! PostgreSQL's `[roles]`: each kept login captured whole (attributes, password verifier, validity, connection limit, settings, memberships) and created or altered back in the restore's transaction; production's own logins listed and, with `lock_others`, made NOLOGIN.
//!
//! Roles belong to the cluster, not the database: what the restore does to
//! a kept role (its password, its memberships) holds in every database of
//! the cluster. Role DDL is transactional in PostgreSQL, so it commits or
//! rolls back with the rows.

use serde::{Deserialize, Serialize};
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Row};
use vault_format::{UnlockedVault, VaultWriter};

use super::pg_error;
use super::settings::{Setting, set_clause};
use crate::config::Config;
use crate::exit::ToolError;
use crate::names::quote_ident;

/// The `kind` of a kept role's stream.
const KIND: &str = "pg-role";

/// A kept role as the vault records it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RoleDefinition {
    name: String,
    superuser: bool,
    inherit: bool,
    create_role: bool,
    create_db: bool,
    login: bool,
    replication: bool,
    bypass_rls: bool,
    connection_limit: i32,
    /// The verifier as stored (SCRAM or MD5), never a plain password;
    /// `None` when the role has none.
    password: Option<String>,
    /// False when captured with `passwords = false`: the restore leaves the
    /// password as it finds it.
    password_captured: bool,
    /// `VALID UNTIL`, in UTC; `None` for no limit.
    valid_until: Option<String>,
    /// `ALTER ROLE ... SET` settings for every database.
    settings: Vec<Setting>,
    /// The roles it is a member of, with the ADMIN option.
    member_of: Vec<Membership>,
}

/// Never shows the verifier.
impl std::fmt::Debug for RoleDefinition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleDefinition")
            .field("name", &self.name)
            .field("login", &self.login)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("valid_until", &self.valid_until)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Membership {
    role: String,
    admin: bool,
}

/// The definition of `name` as the cluster holds it now; `None` when the
/// role does not exist. The verifier is read only when `passwords`.
async fn read_definition(
    conn: &mut PgConnection,
    name: &str,
    passwords: bool,
) -> Result<Option<RoleDefinition>, ToolError> {
    let source = if passwords {
        "pg_catalog.pg_authid"
    } else {
        "pg_catalog.pg_roles"
    };
    let password = if passwords {
        "rolpassword"
    } else {
        "NULL::text"
    };
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication,
                rolbypassrls, rolconnlimit, {password},
                CASE WHEN rolvaliduntil IS NULL OR rolvaliduntil = 'infinity' THEN NULL
                     ELSE to_char(rolvaliduntil AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00' END,
                oid
         FROM {source} WHERE rolname = $1"
    )))
    .bind(name)
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| pg_error("", e))?;
    let Some(row) = row else {
        return Ok(None);
    };
    let oid: sqlx::postgres::types::Oid = row.get(10);
    let settings: Vec<String> = sqlx::query_scalar(
        "SELECT s FROM pg_catalog.pg_db_role_setting r, unnest(r.setconfig) AS s
         WHERE r.setrole = $1 AND r.setdatabase = 0 ORDER BY 1",
    )
    .bind(oid)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| pg_error("", e))?;
    let member_of = sqlx::query(
        "SELECT g.rolname::text, m.admin_option FROM pg_catalog.pg_auth_members m
         JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
         WHERE m.member = $1 ORDER BY 1",
    )
    .bind(oid)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| pg_error("", e))?
    .into_iter()
    .map(|r| Membership {
        role: r.get(0),
        admin: r.get(1),
    })
    .collect();
    Ok(Some(RoleDefinition {
        name: name.to_owned(),
        superuser: row.get(0),
        inherit: row.get(1),
        create_role: row.get(2),
        create_db: row.get(3),
        login: row.get(4),
        replication: row.get(5),
        bypass_rls: row.get(6),
        connection_limit: row.get(7),
        password: row.get(8),
        password_captured: passwords,
        valid_until: row.get(9),
        settings: settings.iter().filter_map(|s| Setting::parse(s)).collect(),
        member_of,
    }))
}

/// Whether this session may read password verifiers (`pg_authid`).
async fn may_read_verifiers(conn: &mut PgConnection) -> Result<bool, ToolError> {
    sqlx::query_scalar("SELECT pg_catalog.has_table_privilege('pg_catalog.pg_authid', 'SELECT')")
        .fetch_one(conn)
        .await
        .map_err(|e| pg_error("", e))
}

/// Every role that can log in, by name.
async fn logins(conn: &mut PgConnection) -> Result<Vec<String>, ToolError> {
    sqlx::query_scalar("SELECT rolname::text FROM pg_catalog.pg_roles WHERE rolcanlogin ORDER BY 1")
        .fetch_all(conn)
        .await
        .map_err(|e| pg_error("", e))
}

/// Captures every kept role into its own stream, and the names of every
/// login. Refuses (exit 2) when a kept role does not exist, or when its
/// verifier cannot be read and the configuration did not say `passwords =
/// false`.
pub(super) async fn capture(
    conn: &mut PgConnection,
    config: &Config,
    writer: &VaultWriter,
) -> Result<Option<String>, ToolError> {
    let kept = config.kept_roles();
    if kept.is_empty() {
        return Ok(None);
    }
    let passwords = config.capture_passwords();
    if passwords && !may_read_verifiers(conn).await? {
        return Err(crate::roles::verifiers_unreadable(
            "SELECT on pg_catalog.pg_authid, which only a superuser has",
        ));
    }
    let mut definitions = Vec::new();
    for name in kept {
        let Some(definition) = read_definition(conn, name, passwords).await? else {
            return Err(ToolError::usage(format!(
                "roles.keep: the role {name} does not exist in the acceptance database's cluster"
            ))
            .hint("correct roles.keep in the configuration"));
        };
        definitions.push(definition);
    }
    for definition in &definitions {
        crate::roles::write_definition(writer, KIND, &definition.name, definition)?;
    }
    let all = logins(conn).await?;
    crate::roles::write_logins(writer, &all)?;
    let verifiers = match passwords {
        true => "with their password verifiers",
        false => "without passwords (passwords = false)",
    };
    Ok(Some(format!(
        "roles: {} kept logins {verifiers}; {} logins recorded",
        definitions.len(),
        all.len()
    )))
}

/// The clauses of CREATE or ALTER ROLE that make a role's attributes,
/// validity and connection limit the captured ones. The password clause is
/// separate: it is the one that carries a verifier.
fn attribute_clauses(definition: &RoleDefinition, with_validity: bool) -> String {
    let flag = |on: bool, word: &str| {
        if on {
            word.to_owned()
        } else {
            format!("NO{word}")
        }
    };
    // A role without a limit has none (NULL); once it has one, only
    // 'infinity' takes it away again, which PostgreSQL reads the same.
    let valid_until = match (&definition.valid_until, with_validity) {
        (_, false) => String::new(),
        (Some(at), true) => format!(" VALID UNTIL '{}'", at.replace('\'', "''")),
        (None, true) => " VALID UNTIL 'infinity'".to_owned(),
    };
    format!(
        "{} {} {} {} {} {} {} CONNECTION LIMIT {}{valid_until}",
        flag(definition.superuser, "SUPERUSER"),
        flag(definition.inherit, "INHERIT"),
        flag(definition.create_role, "CREATEROLE"),
        flag(definition.create_db, "CREATEDB"),
        flag(definition.login, "LOGIN"),
        flag(definition.replication, "REPLICATION"),
        flag(definition.bypass_rls, "BYPASSRLS"),
        definition.connection_limit,
    )
}

/// The password clause: the verifier as a literal (PostgreSQL stores a
/// SCRAM or MD5 verifier as it is given), or `PASSWORD NULL`.
fn password_clause(definition: &RoleDefinition) -> String {
    match &definition.password {
        Some(verifier) => format!("PASSWORD '{}'", verifier.replace('\'', "''")),
        None => "PASSWORD NULL".to_owned(),
    }
}

/// What differs between the captured definition and the current one, in
/// words for the output (never a value of the password).
fn differences(captured: &RoleDefinition, now: &RoleDefinition) -> Vec<&'static str> {
    let mut out = Vec::new();
    if (
        captured.superuser,
        captured.inherit,
        captured.create_role,
        captured.create_db,
        captured.login,
        captured.replication,
        captured.bypass_rls,
    ) != (
        now.superuser,
        now.inherit,
        now.create_role,
        now.create_db,
        now.login,
        now.replication,
        now.bypass_rls,
    ) {
        out.push("attributes");
    }
    if captured.password_captured && captured.password != now.password {
        out.push("password");
    }
    if captured.valid_until != now.valid_until {
        out.push("valid until");
    }
    if captured.connection_limit != now.connection_limit {
        out.push("connection limit");
    }
    if captured.settings != now.settings {
        out.push("settings");
    }
    if captured.member_of != now.member_of {
        out.push("memberships");
    }
    out
}

/// Runs a statement that carries a verifier: the server's statement logging
/// is turned off around it when this session may (a superuser), and an error
/// never quotes the statement.
async fn execute_secret(conn: &mut PgConnection, sql: String, role: &str) -> Result<(), ToolError> {
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(&mut *conn)
        .await
        .map_err(|e| {
            pg_error("", e).hint(format!(
                "the restoring user needs CREATEROLE (SUPERUSER for a superuser role) to put back the role {role}"
            ))
        })?;
    Ok(())
}

async fn execute(conn: &mut PgConnection, sql: &str) -> Result<(), ToolError> {
    sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
        .execute(&mut *conn)
        .await
        .map_err(|e| pg_error("", e).hint(format!("the statement was: {sql}")))?;
    Ok(())
}

/// Statement logging off for the rest of the transaction, when this session
/// may change it; the previous values, to put back.
async fn quiet_log(conn: &mut PgConnection) -> Result<Option<Vec<(String, String)>>, ToolError> {
    if !super::is_superuser(conn).await? {
        return Ok(None);
    }
    let mut previous = Vec::new();
    for (name, quiet) in [
        ("log_statement", "none"),
        ("log_min_error_statement", "panic"),
        ("log_min_duration_statement", "-1"),
    ] {
        let before: String = sqlx::query_scalar("SELECT current_setting($1)")
            .bind(name)
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| pg_error("", e))?;
        sqlx::query("SELECT set_config($1, $2, true)")
            .bind(name)
            .bind(quiet)
            .execute(&mut *conn)
            .await
            .map_err(|e| pg_error("", e))?;
        previous.push((name.to_owned(), before));
    }
    Ok(Some(previous))
}

async fn restore_log(
    conn: &mut PgConnection,
    previous: Option<Vec<(String, String)>>,
) -> Result<(), ToolError> {
    for (name, value) in previous.into_iter().flatten() {
        sqlx::query("SELECT set_config($1, $2, true)")
            .bind(&name)
            .bind(&value)
            .execute(&mut *conn)
            .await
            .map_err(|e| pg_error("", e))?;
    }
    Ok(())
}

/// Puts every kept role back as captured, in the restore's transaction:
/// created when the refresh dropped it, altered where it differs, left
/// alone where it is as captured. A line per role.
pub(super) async fn restore(
    conn: &mut PgConnection,
    vault: &UnlockedVault,
) -> Result<Vec<String>, ToolError> {
    let captured: Vec<RoleDefinition> = crate::roles::read_definitions(vault, KIND)?;
    if captured.is_empty() {
        return Ok(Vec::new());
    }
    let previous = quiet_log(conn).await?;
    let mut lines = Vec::new();
    for definition in &captured {
        lines.push(restore_one(conn, definition).await?);
    }
    restore_log(conn, previous).await?;
    Ok(lines)
}

async fn restore_one(
    conn: &mut PgConnection,
    captured: &RoleDefinition,
) -> Result<String, ToolError> {
    let name = quote_ident(&captured.name);
    let now = read_definition(conn, &captured.name, captured.password_captured).await?;
    let created = now.is_none();
    let now = match now {
        Some(now) => now,
        None => {
            let password = if captured.password_captured {
                format!(" {}", password_clause(captured))
            } else {
                String::new()
            };
            execute_secret(
                conn,
                format!(
                    "CREATE ROLE {name} WITH {}{password}",
                    attribute_clauses(captured, captured.valid_until.is_some())
                ),
                &captured.name,
            )
            .await?;
            read_definition(conn, &captured.name, captured.password_captured)
                .await?
                .expect("the role was just created")
        }
    };
    let changed = differences(captured, &now);
    if changed.is_empty() {
        return Ok(match created {
            true => format!("roles: {} created", captured.name),
            false => format!("roles: {} as captured", captured.name),
        });
    }
    if changed.iter().any(|c| {
        matches!(
            *c,
            "attributes" | "password" | "valid until" | "connection limit"
        )
    }) {
        let password = if captured.password_captured && captured.password != now.password {
            format!(" {}", password_clause(captured))
        } else {
            String::new()
        };
        execute_secret(
            conn,
            format!(
                "ALTER ROLE {name} WITH {}{password}",
                attribute_clauses(captured, captured.valid_until != now.valid_until)
            ),
            &captured.name,
        )
        .await?;
    }
    let mut notes = Vec::new();
    if captured.settings != now.settings {
        for setting in &now.settings {
            if !captured.settings.iter().any(|s| s.name == setting.name) {
                execute(
                    conn,
                    &format!("ALTER ROLE {name} RESET {}", quote_ident(&setting.name)),
                )
                .await?;
            }
        }
        for setting in &captured.settings {
            if !now.settings.contains(setting) {
                execute(conn, &format!("ALTER ROLE {name} {}", set_clause(setting))).await?;
            }
        }
    }
    if captured.member_of != now.member_of {
        let exists = existing_roles(conn, &captured.member_of).await?;
        for membership in &now.member_of {
            if !captured.member_of.iter().any(|m| m.role == membership.role) {
                execute(
                    conn,
                    &format!("REVOKE {} FROM {name}", quote_ident(&membership.role)),
                )
                .await?;
            }
        }
        for membership in &captured.member_of {
            if !exists.contains(&membership.role) {
                notes.push(format!(
                    "member of {} not restored: that role does not exist",
                    membership.role
                ));
                continue;
            }
            let current = now.member_of.iter().find(|m| m.role == membership.role);
            let granted = quote_ident(&membership.role);
            match (current, membership.admin) {
                (Some(m), admin) if m.admin == admin => {}
                (Some(m), false) if m.admin => {
                    execute(
                        conn,
                        &format!("REVOKE ADMIN OPTION FOR {granted} FROM {name}"),
                    )
                    .await?
                }
                (_, admin) => {
                    let option = if admin { " WITH ADMIN OPTION" } else { "" };
                    execute(conn, &format!("GRANT {granted} TO {name}{option}")).await?
                }
            }
        }
    }
    let what = if created {
        "created".to_owned()
    } else {
        format!("{} put back", changed.join(", "))
    };
    let mut line = format!("roles: {}: {what}", captured.name);
    if created && !captured.password_captured {
        line.push_str(" without a password (captured with passwords = false): give it one with ALTER ROLE ... PASSWORD");
    }
    for note in notes {
        line.push_str("; ");
        line.push_str(&note);
    }
    Ok(line)
}

/// The names among `memberships` of roles that exist.
async fn existing_roles(
    conn: &mut PgConnection,
    memberships: &[Membership],
) -> Result<Vec<String>, ToolError> {
    let names: Vec<String> = memberships.iter().map(|m| m.role.clone()).collect();
    sqlx::query_scalar("SELECT rolname::text FROM pg_catalog.pg_roles WHERE rolname = ANY($1)")
        .bind(&names)
        .fetch_all(conn)
        .await
        .map_err(|e| pg_error("", e))
}

/// Production's own logins: those that can log in now, that acceptance did
/// not have at capture, other than the restoring user. With `lock_others`
/// each is made NOLOGIN (in the restore's transaction) and the line says
/// how to give it back.
pub(super) async fn production_logins(
    conn: &mut PgConnection,
    vault: &UnlockedVault,
    config: &Config,
) -> Result<Vec<String>, ToolError> {
    let Some(acceptance) = crate::roles::read_logins(vault)? else {
        return Ok(Vec::new());
    };
    let current_user: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| pg_error("", e))?;
    let found: Vec<String> = logins(conn)
        .await?
        .into_iter()
        .filter(|l| !acceptance.contains(l) && *l != current_user)
        .filter(|l| !config.kept_roles().contains(l))
        .collect();
    let mut locked = Vec::new();
    if config.lock_others() {
        for login in &found {
            let name = quote_ident(login);
            execute(conn, &format!("ALTER ROLE {name} NOLOGIN")).await?;
            locked.push((login.clone(), format!("ALTER ROLE {name} LOGIN")));
        }
    }
    Ok(crate::roles::production_only_lines(&found, &locked))
}
