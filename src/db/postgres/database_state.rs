//! What acceptance's database itself holds besides its objects, captured with `[grants]` and `[roles]` and put back by the restore: default privileges of and for those roles, the database's settings and each role's settings in it, and what PUBLIC may do on the database.
//!
//! A refresh that drops and creates the database again from production's
//! dump loses all three: `pg_dump` without `--create` writes none of them.

use serde::{Deserialize, Serialize};
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Row};
use vault_format::{UnlockedVault, VaultWriter};

use super::pg_error;
use super::settings::{Setting, set_clause};
use crate::config::Config;
use crate::exit::ToolError;
use crate::names::quote_ident;

const STREAM: &str = "extras/pg-database";
const KIND: &str = "pg-database";

/// The setting the quarantine keeps its record in: never captured, never
/// reset by the restore.
const QUARANTINE_SETTING: &str = "vault.quarantine";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DatabaseState {
    /// The roles the state was captured for (`[grants]` and `[roles]`).
    roles: Vec<String>,
    default_privileges: Vec<DefaultPrivilege>,
    /// Settings of the database (`role` empty) and of each role in it.
    settings: Vec<RoleSetting>,
    /// PUBLIC's privileges on the database: CONNECT, CREATE, TEMPORARY.
    public: Vec<String>,
}

/// One entry of the effective default privileges: what `owner`'s new
/// objects of `kind` (in `schema`, or anywhere) grant `grantee`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DefaultPrivilege {
    owner: String,
    schema: Option<String>,
    /// `pg_default_acl.defaclobjtype`: r, S, f, T, n.
    kind: String,
    /// A role, or `PUBLIC`.
    grantee: String,
    privilege: String,
    grantable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleSetting {
    /// Empty for the database's own settings.
    role: String,
    setting: Setting,
}

/// The effective default privileges that concern `$1`: of owners among
/// them (the built-in defaults where no entry was ever made), and the
/// entries of other owners that grant to them.
const DEFAULT_PRIVILEGES: &str = "
WITH wanted AS (SELECT unnest($1::text[]) AS name),
owners AS (
  SELECT r.oid AS owner FROM pg_catalog.pg_roles r WHERE r.rolname IN (SELECT name FROM wanted)
  UNION
  SELECT d.defaclrole FROM pg_catalog.pg_default_acl d, pg_catalog.aclexplode(d.defaclacl) a
  WHERE CASE WHEN a.grantee = 0 THEN 'public' ELSE pg_catalog.pg_get_userbyid(a.grantee)::text END
        IN (SELECT name FROM wanted)
),
kinds(kind, acl_kind) AS (VALUES ('r', 'r'), ('S', 's'), ('f', 'f'), ('T', 'T'), ('n', 'n')),
entries AS (
  SELECT o.owner, NULL::text AS schema, k.kind, a.grantee, a.privilege_type, a.is_grantable
  FROM owners o CROSS JOIN kinds k
  LEFT JOIN pg_catalog.pg_default_acl d
    ON d.defaclrole = o.owner AND d.defaclnamespace = 0 AND d.defaclobjtype = k.kind::\"char\"
  CROSS JOIN LATERAL pg_catalog.aclexplode(
    coalesce(d.defaclacl, pg_catalog.acldefault(k.acl_kind::\"char\", o.owner))) a
  UNION ALL
  SELECT d.defaclrole, n.nspname::text, d.defaclobjtype::text, a.grantee, a.privilege_type, a.is_grantable
  FROM pg_catalog.pg_default_acl d
  JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace
  CROSS JOIN LATERAL pg_catalog.aclexplode(d.defaclacl) a
  WHERE d.defaclrole IN (SELECT owner FROM owners)
)
SELECT pg_catalog.pg_get_userbyid(e.owner)::text, e.schema, e.kind,
       CASE WHEN e.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(e.grantee)::text END,
       e.privilege_type, e.is_grantable
FROM entries e
WHERE pg_catalog.pg_get_userbyid(e.owner)::text IN (SELECT name FROM wanted)
   OR CASE WHEN e.grantee = 0 THEN 'public' ELSE pg_catalog.pg_get_userbyid(e.grantee)::text END
      IN (SELECT name FROM wanted)
ORDER BY 1, 2 NULLS FIRST, 3, 4, 5";

/// The roles whose database state is kept, `public` in lower case.
fn roles_of(config: &Config) -> Vec<String> {
    let mut roles: Vec<String> = config
        .privileged_roles()
        .iter()
        .map(|r| match r.eq_ignore_ascii_case("public") {
            true => "public".to_owned(),
            false => r.clone(),
        })
        .collect();
    roles.sort();
    roles.dedup();
    roles
}

async fn read_state(conn: &mut PgConnection, roles: &[String]) -> Result<DatabaseState, ToolError> {
    let default_privileges = sqlx::query(DEFAULT_PRIVILEGES)
        .bind(roles)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| pg_error("", e))?
        .into_iter()
        .map(|r| DefaultPrivilege {
            owner: r.get(0),
            schema: r.get(1),
            kind: r.get(2),
            grantee: r.get(3),
            privilege: r.get(4),
            grantable: r.get(5),
        })
        .collect();
    let settings = sqlx::query(
        "SELECT coalesce(r.rolname::text, ''), s
         FROM pg_catalog.pg_db_role_setting c
         LEFT JOIN pg_catalog.pg_roles r ON r.oid = c.setrole
         CROSS JOIN LATERAL unnest(c.setconfig) AS s
         WHERE c.setdatabase = (SELECT oid FROM pg_catalog.pg_database
                                WHERE datname = pg_catalog.current_database())
           AND (c.setrole = 0 OR r.rolname IS NOT NULL)
         ORDER BY 1, 2",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| pg_error("", e))?
    .into_iter()
    .filter_map(|r| {
        let text: String = r.get(1);
        Some(RoleSetting {
            role: r.get(0),
            setting: Setting::parse(&text)?,
        })
    })
    .filter(|s| s.setting.name != QUARANTINE_SETTING)
    .collect();
    let public = sqlx::query_scalar(
        "SELECT a.privilege_type FROM pg_catalog.pg_database d,
                pg_catalog.aclexplode(coalesce(d.datacl, pg_catalog.acldefault('d', d.datdba))) a
         WHERE d.datname = pg_catalog.current_database() AND a.grantee = 0
         ORDER BY 1",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| pg_error("", e))?;
    Ok(DatabaseState {
        roles: roles.to_vec(),
        default_privileges,
        settings,
        public,
    })
}

/// Captures the database's state for the `[grants]` and `[roles]` roles.
pub(super) async fn capture(
    conn: &mut PgConnection,
    config: &Config,
    writer: &VaultWriter,
) -> Result<Option<String>, ToolError> {
    let roles = roles_of(config);
    if roles.is_empty() {
        return Ok(None);
    }
    let state = read_state(conn, &roles).await?;
    let metadata = serde_json::json!({"kind": KIND, "encoding": "json"});
    let mut stream = writer.stream(STREAM, metadata)?;
    std::io::Write::write_all(
        &mut stream,
        &serde_json::to_vec(&state).expect("the database state serializes"),
    )?;
    stream.add_rows(1);
    stream.finish()?;
    Ok(Some(format!(
        "database: {} default privileges, {} settings, PUBLIC may {}",
        state.default_privileges.len(),
        state.settings.len(),
        match state.public.is_empty() {
            true => "nothing".to_owned(),
            false => state.public.join(", "),
        }
    )))
}

/// The object kind as ALTER DEFAULT PRIVILEGES names it.
fn kind_word(kind: &str) -> &'static str {
    match kind {
        "S" => "SEQUENCES",
        "f" => "FUNCTIONS",
        "T" => "TYPES",
        "n" => "SCHEMAS",
        _ => "TABLES",
    }
}

fn grantee_sql(grantee: &str) -> String {
    match grantee {
        "PUBLIC" => "PUBLIC".to_owned(),
        role => quote_ident(role),
    }
}

async fn run(
    conn: &mut PgConnection,
    sql: String,
    lines: &mut Vec<String>,
) -> Result<(), ToolError> {
    sqlx::raw_sql(AssertSqlSafe(sql.clone()))
        .execute(&mut *conn)
        .await
        .map_err(|e| pg_error("", e).hint(format!("the statement was: {sql}")))?;
    lines.push(format!("database: {sql}"));
    Ok(())
}

/// Puts the captured state back, in the restore's transaction. CONNECT for
/// PUBLIC is left to the quarantine while one is in force (see
/// `quarantine::withhold_connect`, run after this). A line per statement
/// and per entry that cannot be put back (a role or schema that no longer
/// exists).
pub(super) async fn restore(
    conn: &mut PgConnection,
    vault: &UnlockedVault,
) -> Result<Vec<String>, ToolError> {
    let Some(captured): Option<DatabaseState> = crate::extras::read_json(vault, KIND)? else {
        return Ok(Vec::new());
    };
    let now = read_state(conn, &captured.roles).await?;
    let mut lines = Vec::new();
    let existing: Vec<String> = sqlx::query_scalar("SELECT rolname::text FROM pg_catalog.pg_roles")
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| pg_error("", e))?;
    let schemas: Vec<String> =
        sqlx::query_scalar("SELECT nspname::text FROM pg_catalog.pg_namespace")
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| pg_error("", e))?;
    let role_exists = |r: &str| r == "PUBLIC" || existing.iter().any(|e| e == r);
    let database = quote_ident(
        &sqlx::query_scalar::<_, String>("SELECT pg_catalog.current_database()::text")
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| pg_error("", e))?,
    );

    // Default privileges: revoke what differs, then grant what was captured.
    let same_entry = |a: &DefaultPrivilege, b: &DefaultPrivilege| {
        (&a.owner, &a.schema, &a.kind, &a.grantee, &a.privilege)
            == (&b.owner, &b.schema, &b.kind, &b.grantee, &b.privilege)
    };
    let scope = |p: &DefaultPrivilege| {
        let in_schema = match &p.schema {
            Some(schema) => format!(" IN SCHEMA {}", quote_ident(schema)),
            None => String::new(),
        };
        format!(
            "ALTER DEFAULT PRIVILEGES FOR ROLE {}{in_schema}",
            quote_ident(&p.owner)
        )
    };
    for entry in &now.default_privileges {
        if !captured.default_privileges.contains(entry) {
            run(
                conn,
                format!(
                    "{} REVOKE {} ON {} FROM {}",
                    scope(entry),
                    entry.privilege,
                    kind_word(&entry.kind),
                    grantee_sql(&entry.grantee)
                ),
                &mut lines,
            )
            .await?;
        }
    }
    for entry in &captured.default_privileges {
        let held = now.default_privileges.iter().find(|n| same_entry(n, entry));
        if held == Some(entry) {
            continue;
        }
        if !role_exists(&entry.owner) || !role_exists(&entry.grantee) {
            lines.push(format!(
                "database: default privilege {} on new {} of {} for {} not restored: the role does not exist",
                entry.privilege,
                kind_word(&entry.kind).to_lowercase(),
                entry.owner,
                entry.grantee
            ));
            continue;
        }
        if let Some(schema) = &entry.schema
            && !schemas.contains(schema)
        {
            lines.push(format!(
                "database: default privileges of {} in schema {schema} not restored: the schema does not exist",
                entry.owner
            ));
            continue;
        }
        let option = if entry.grantable {
            " WITH GRANT OPTION"
        } else {
            ""
        };
        run(
            conn,
            format!(
                "{} GRANT {} ON {} TO {}{option}",
                scope(entry),
                entry.privilege,
                kind_word(&entry.kind),
                grantee_sql(&entry.grantee)
            ),
            &mut lines,
        )
        .await?;
    }

    // Settings of the database and of roles in it.
    let target = |role: &str| match role {
        "" => format!("ALTER DATABASE {database}"),
        role => format!("ALTER ROLE {} IN DATABASE {database}", quote_ident(role)),
    };
    for current in &now.settings {
        let kept = captured
            .settings
            .iter()
            .any(|c| c.role == current.role && c.setting.name == current.setting.name);
        if !kept {
            run(
                conn,
                format!(
                    "{} RESET {}",
                    target(&current.role),
                    quote_ident(&current.setting.name)
                ),
                &mut lines,
            )
            .await?;
        }
    }
    for wanted in &captured.settings {
        if now.settings.contains(wanted) {
            continue;
        }
        if !wanted.role.is_empty() && !role_exists(&wanted.role) {
            lines.push(format!(
                "database: setting {} of role {} not restored: the role does not exist",
                wanted.setting.name, wanted.role
            ));
            continue;
        }
        run(
            conn,
            format!("{} {}", target(&wanted.role), set_clause(&wanted.setting)),
            &mut lines,
        )
        .await?;
    }

    // What PUBLIC may do on the database; CONNECT waits for the quarantine.
    let quarantined = super::quarantine::in_force(conn).await?;
    for privilege in ["CONNECT", "CREATE", "TEMPORARY"] {
        if privilege == "CONNECT" && quarantined {
            continue;
        }
        let wanted = captured.public.iter().any(|p| p == privilege);
        let held = now.public.iter().any(|p| p == privilege);
        match (wanted, held) {
            (true, false) => {
                run(
                    conn,
                    format!("GRANT {privilege} ON DATABASE {database} TO PUBLIC"),
                    &mut lines,
                )
                .await?
            }
            (false, true) => {
                run(
                    conn,
                    format!("REVOKE {privilege} ON DATABASE {database} FROM PUBLIC"),
                    &mut lines,
                )
                .await?
            }
            _ => {}
        }
    }
    Ok(lines)
}

/// Whether the vault's state says PUBLIC may connect; `None` for a vault
/// without the database's state.
pub(super) fn public_may_connect(vault: &UnlockedVault) -> Result<Option<bool>, ToolError> {
    let state: Option<DatabaseState> = crate::extras::read_json(vault, KIND)?;
    Ok(state.map(|s| s.public.iter().any(|p| p == "CONNECT")))
}
