//! PostgreSQL's quarantine: CONNECT on the database revoked from PUBLIC and the quarantined roles, what was revoked kept in the database setting `vault.quarantine` until it is given back, and the sessions that may no longer connect ended.

use sqlx::AssertSqlSafe;
use sqlx::postgres::PgConnection;

use super::{Postgres, pg_error};
use crate::exit::ToolError;
use crate::names::quote_ident;
use crate::quarantine::{Closing, Quarantine};

/// The database setting that records what a quarantine revoked.
const SETTING: &str = "vault.quarantine";

/// A grantee as GRANT names it: `PUBLIC` or a quoted role.
fn grantee_sql(grantee: &str) -> String {
    if grantee == "PUBLIC" {
        grantee.to_owned()
    } else {
        quote_ident(grantee)
    }
}

/// What a quarantine in force recorded: the grantees whose CONNECT it took
/// and gives back once verify passed.
async fn recorded(conn: &mut PgConnection) -> Result<Option<Vec<String>>, ToolError> {
    let recorded: Option<String> = sqlx::query_scalar(
        "SELECT substring(s FROM length($1) + 2)
         FROM pg_catalog.pg_db_role_setting r, unnest(r.setconfig) AS s
         WHERE r.setrole = 0 AND s LIKE $1 || '=%'
           AND r.setdatabase = (SELECT oid FROM pg_catalog.pg_database
                                WHERE datname = pg_catalog.current_database())",
    )
    .bind(SETTING)
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| pg_error("", e))?;
    recorded
        .map(|text| {
            serde_json::from_str(&text).map_err(|_| {
                ToolError::failed(format!(
                    "the database setting {SETTING} does not hold vault's record of a quarantine"
                ))
                .hint(format!(
                    "check it with SHOW {SETTING}; remove it with ALTER DATABASE ... RESET {SETTING} once CONNECT is as it should be"
                ))
            })
        })
        .transpose()
}

/// Whether a quarantine is in force in this database.
pub(super) async fn in_force(conn: &mut PgConnection) -> Result<bool, ToolError> {
    Ok(recorded(conn).await?.is_some())
}

/// Run by the restore after grants and PUBLIC's privileges were put back:
/// while a quarantine is in force, the CONNECT that acceptance gives to
/// `decided` (the `[grants]` and `[roles]` roles) and to PUBLIC
/// (`public_connect`, from the vault; `None` when it holds no record) waits
/// for verify. It is revoked now and written into the quarantine's record,
/// which opening gives back; what acceptance did not give is taken out of
/// the record, so that opening does not give it either.
pub(super) async fn withhold_connect(
    conn: &mut PgConnection,
    decided: &[String],
    public_connect: Option<bool>,
) -> Result<Vec<String>, ToolError> {
    let Some(before) = recorded(conn).await? else {
        return Ok(Vec::new());
    };
    let mut candidates: Vec<String> = decided
        .iter()
        .filter(|r| !r.eq_ignore_ascii_case("public"))
        .cloned()
        .collect();
    candidates.extend(before.iter().filter(|g| *g != "PUBLIC").cloned());
    let holding: Vec<String> = sqlx::query_scalar(
        "SELECT pg_catalog.pg_get_userbyid(a.grantee)::text
         FROM pg_catalog.pg_database d,
              pg_catalog.aclexplode(coalesce(d.datacl, pg_catalog.acldefault('d', d.datdba))) a
         WHERE d.datname = pg_catalog.current_database() AND a.privilege_type = 'CONNECT'
           AND a.grantee <> 0 AND a.grantee <> d.datdba
           AND pg_catalog.pg_get_userbyid(a.grantee)::text = ANY($1)
         ORDER BY 1",
    )
    .bind(&candidates)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| pg_error("", e))?;
    let decided_here =
        |g: &str| decided.iter().any(|d| d == g) || (g == "PUBLIC" && public_connect.is_some());
    let mut after: Vec<String> = before
        .iter()
        .filter(|g| !decided_here(g))
        .cloned()
        .collect();
    if public_connect == Some(true) && !after.iter().any(|g| g == "PUBLIC") {
        after.insert(0, "PUBLIC".to_owned());
    }
    for role in &holding {
        if !after.contains(role) {
            after.push(role.clone());
        }
    }
    let mut lines = Vec::new();
    if after == before && holding.is_empty() {
        return Ok(lines);
    }
    let database: String = sqlx::query_scalar("SELECT pg_catalog.current_database()::text")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| pg_error("", e))?;
    let db = quote_ident(&database);
    let mut statements = String::new();
    if !holding.is_empty() {
        let grantees: Vec<String> = holding.iter().map(|g| grantee_sql(g)).collect();
        statements.push_str(&format!(
            "REVOKE CONNECT ON DATABASE {db} FROM {}; ",
            grantees.join(", ")
        ));
    }
    let record = serde_json::to_string(&after).unwrap_or_default();
    statements.push_str(&format!(
        "ALTER DATABASE {db} SET {SETTING} = '{}'",
        record.replace('\'', "''")
    ));
    sqlx::raw_sql(AssertSqlSafe(statements))
        .execute(&mut *conn)
        .await
        .map_err(|e| pg_error("", e))?;
    for role in &holding {
        lines.push(format!(
            "quarantine: CONNECT on {database} for {role} withheld until verify passes"
        ));
    }
    if before.iter().any(|g| g == "PUBLIC") && public_connect == Some(false) {
        lines.push(format!(
            "quarantine: PUBLIC does not get CONNECT on {database} back when it opens: acceptance had revoked it"
        ));
    }
    Ok(lines)
}

impl Postgres {
    /// What an earlier quarantine recorded, when one is in force.
    async fn recorded_quarantine(&mut self) -> Result<Option<Vec<String>>, ToolError> {
        recorded(&mut self.conn).await
    }

    /// Ends the sessions in this database of users who may no longer connect.
    async fn end_shut_out_sessions(&mut self) -> Result<u64, ToolError> {
        let ended: i64 = sqlx::query_scalar(
            "SELECT count(*) FILTER (WHERE pg_catalog.pg_terminate_backend(a.pid))
             FROM pg_catalog.pg_stat_activity a
             WHERE a.datname = pg_catalog.current_database() AND a.pid <> pg_catalog.pg_backend_pid()
               AND a.usename IS NOT NULL
               AND NOT pg_catalog.has_database_privilege(a.usename, a.datname, 'CONNECT')",
        )
        .fetch_one(&mut self.conn)
        .await
        .map_err(|e| pg_error("", e))?;
        Ok(u64::try_from(ended).unwrap_or_default())
    }
}

impl Quarantine for Postgres {
    async fn close_quarantine(&mut self, roles: &[String]) -> Result<Closing, ToolError> {
        if let Some(earlier) = self.recorded_quarantine().await? {
            let sessions_ended = self.end_shut_out_sessions().await?;
            return Ok(Closing {
                closed: vec![format!(
                    "already closed by an earlier run (CONNECT revoked from {})",
                    earlier.join(", ")
                )],
                sessions_ended,
                unsupported: None,
                reopen: Vec::new(),
            });
        }
        // The grantees that hold CONNECT themselves, of PUBLIC and the roles.
        let holders: Vec<String> = sqlx::query_scalar(
            "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(a.grantee)::text END
             FROM pg_catalog.pg_database d,
                  pg_catalog.aclexplode(coalesce(d.datacl, pg_catalog.acldefault('d', d.datdba))) a
             WHERE d.datname = pg_catalog.current_database() AND a.privilege_type = 'CONNECT'
               AND (a.grantee = 0 OR pg_catalog.pg_get_userbyid(a.grantee) = ANY($1))
               AND a.grantee <> d.datdba
             ORDER BY a.grantee <> 0, 1",
        )
        .bind(roles)
        .fetch_all(&mut self.conn)
        .await
        .map_err(|e| pg_error("", e))?;
        let database: String = sqlx::query_scalar("SELECT pg_catalog.current_database()::text")
            .fetch_one(&mut self.conn)
            .await
            .map_err(|e| pg_error("", e))?;
        if !holders.is_empty() {
            let record = serde_json::to_string(&holders).unwrap_or_default();
            let grantees: Vec<String> = holders.iter().map(|g| grantee_sql(g)).collect();
            let statements = format!(
                "BEGIN; REVOKE CONNECT ON DATABASE {db} FROM {}; ALTER DATABASE {db} SET {SETTING} = '{}'; COMMIT",
                grantees.join(", "),
                record.replace('\'', "''"),
                db = quote_ident(&database),
            );
            if let Err(e) = sqlx::raw_sql(AssertSqlSafe(statements))
                .execute(&mut self.conn)
                .await
            {
                let _ = sqlx::raw_sql("ROLLBACK").execute(&mut self.conn).await;
                return Err(pg_error("", e).hint(
                    "the restoring user must own the database (or be a superuser) to close it; or set [quarantine] enabled = false",
                ));
            }
        }
        let sessions_ended = self.end_shut_out_sessions().await?;
        Ok(Closing {
            closed: holders
                .iter()
                .map(|g| format!("CONNECT on {database} revoked from {g}"))
                .collect(),
            sessions_ended,
            unsupported: None,
            reopen: Vec::new(),
        })
    }

    async fn open_quarantine(&mut self, _reopen: &[String]) -> Result<Vec<String>, ToolError> {
        let Some(revoked) = self.recorded_quarantine().await? else {
            return Ok(Vec::new());
        };
        let database: String = sqlx::query_scalar("SELECT pg_catalog.current_database()::text")
            .fetch_one(&mut self.conn)
            .await
            .map_err(|e| pg_error("", e))?;
        let grant = match revoked.is_empty() {
            true => String::new(),
            false => format!(
                "GRANT CONNECT ON DATABASE {} TO {}; ",
                quote_ident(&database),
                revoked
                    .iter()
                    .map(|g| grantee_sql(g))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let statements = format!(
            "BEGIN; {grant}ALTER DATABASE {} RESET {SETTING}; COMMIT",
            quote_ident(&database)
        );
        if let Err(e) = sqlx::raw_sql(AssertSqlSafe(statements))
            .execute(&mut self.conn)
            .await
        {
            let _ = sqlx::raw_sql("ROLLBACK").execute(&mut self.conn).await;
            return Err(pg_error("", e));
        }
        Ok(revoked
            .iter()
            .map(|g| format!("CONNECT on {database} granted to {g} again"))
            .collect())
    }
}
