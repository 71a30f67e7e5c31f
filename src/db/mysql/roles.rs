//! MariaDB/MySQL's half of `[roles]`: each kept account's `SHOW CREATE USER` and role grants captured; after the data commit the account created again or brought back, its roles granted again, and production's own accounts listed (locked with `lock_others`).
//!
//! CREATE USER, ALTER USER and GRANT commit implicitly, so the restore
//! plans inside the data transaction (reading only; a dry run stops there)
//! and runs the statements after the commit, before the grants. Every
//! statement is tried; each that fails is named without its
//! authentication string. The authentication strings travel only inside
//! the vault's encrypted `roles/NAME` streams.

mod text;

use serde::{Deserialize, Serialize};
use sqlx::mysql::MySqlConnection;
use sqlx::{AssertSqlSafe, Row};
use vault_format::{UnlockedVault, VaultWriter};

use super::grants::Account;
use super::{Flavor, describe_error, mysql_error, quote_ident};
use crate::config::Config;
use crate::exit::{Exit, ToolError};
pub(super) use text::Statement;
use text::{Clauses, RoleGrant};

/// The `kind` of a kept account's stream.
const KIND: &str = "mysql-role";

/// The server's own accounts, never production's logins.
const SERVER_ACCOUNTS: [(&str, &str); 4] = [
    ("mariadb.sys", "localhost"),
    ("mysql.sys", "localhost"),
    ("mysql.session", "localhost"),
    ("mysql.infoschema", "localhost"),
];

/// Errors that mean "the capturing account may not read this".
const DENIED: [u16; 4] = [1044, 1142, 1143, 1227];

/// One kept account as the vault holds it. No `Debug`: `create` holds the
/// authentication string.
#[derive(Serialize, Deserialize)]
struct Definition {
    account: Account,
    /// The rows of `SHOW CREATE USER` (without the authentication string
    /// when captured with `passwords = false`).
    create: Vec<String>,
    /// Whether `create` holds the authentication string.
    passwords: bool,
    roles: Vec<RoleGrant>,
    default_role: Option<String>,
}

/// What the restore will do after the commit, planned in the transaction.
#[derive(Default)]
pub(super) struct Plan {
    pub statements: Vec<Statement>,
    pub lines: Vec<String>,
    /// Kept accounts the plan creates (the grants may name them).
    pub created: Vec<Account>,
    /// Kept accounts under the quarantine, with whether acceptance had
    /// them locked: opening the quarantine unlocks the others.
    pub opening: Vec<(String, bool)>,
}

/// The kept accounts of the configuration; a name that is no account is exit 2.
fn kept(config: &Config) -> Result<Vec<Account>, ToolError> {
    let mut accounts = Vec::new();
    for text in config.kept_roles() {
        let account = Account::parse(text)
            .filter(|a| {
                let quote =
                    |s: &str| s.starts_with(['\'', '"', '`']) || s.ends_with(['\'', '"', '`']);
                !quote(a.user()) && !quote(a.host())
            })
            .ok_or_else(|| {
                ToolError::usage(format!("roles.keep: {text:?} is not an account"))
                    .hint("name accounts as 'user'@'host', for example \"'tester'@'%'\"")
            })?;
        if !accounts.contains(&account) {
            accounts.push(account);
        }
    }
    Ok(accounts)
}

async fn show(conn: &mut MySqlConnection, sql: String) -> Result<Vec<String>, sqlx::Error> {
    sqlx::raw_sql(AssertSqlSafe(sql))
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| row.try_get::<String, _>(0))
        .collect()
}

fn number(error: &sqlx::Error) -> Option<u16> {
    error
        .as_database_error()
        .and_then(|e| e.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>())
        .map(|e| e.number())
}

/// `SHOW CREATE USER` of an account; `None` when it does not exist.
async fn show_create(
    conn: &mut MySqlConnection,
    account: &Account,
) -> Result<Option<Vec<String>>, sqlx::Error> {
    match show(conn, format!("SHOW CREATE USER {}", account.sql())).await {
        Ok(rows) => Ok(Some(rows)),
        Err(e) if matches!(number(&e), Some(1133 | 1396)) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn show_grants(
    conn: &mut MySqlConnection,
    account: &Account,
) -> Result<Vec<String>, ToolError> {
    show(conn, format!("SHOW GRANTS FOR {}", account.sql()))
        .await
        .map_err(|e| mysql_error("", e))
}

/// Every account of the server that can log in (roles aside).
async fn accounts(conn: &mut MySqlConnection, flavor: Flavor) -> Result<Vec<Account>, ToolError> {
    let sql = match flavor {
        Flavor::MariaDb => {
            "SELECT User, Host FROM mysql.user WHERE is_role = 'N' ORDER BY User, Host"
        }
        Flavor::MySql => "SELECT User, Host FROM mysql.user ORDER BY User, Host",
    };
    sqlx::query(sql)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| mysql_error("mysql.user", e))?
        .iter()
        .map(|row| {
            let user: String = row.try_get(0)?;
            let host: String = row.try_get(1)?;
            Ok(Account::new(user, host))
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(|e| mysql_error("mysql.user", e))
}

/// Captures each kept account and the names of every account; nothing
/// without `[roles]`. Each kept account is read before anything is
/// written: one that cannot be read refuses the capture (exit 2).
pub(super) async fn capture(
    conn: &mut MySqlConnection,
    flavor: Flavor,
    config: &Config,
    writer: &VaultWriter,
) -> Result<Vec<String>, ToolError> {
    if config.roles.is_none() {
        return Ok(Vec::new());
    }
    let passwords = config.capture_passwords();
    let mut definitions = Vec::new();
    for account in kept(config)? {
        let rows = match show_create(conn, &account).await {
            Ok(Some(rows)) => rows,
            Ok(None) => {
                return Err(ToolError::usage(format!(
                    "roles.keep: the account {account} does not exist on the acceptance server"
                ))
                .hint("correct roles.keep in the configuration ('user'@'host')"));
            }
            Err(e) if number(&e).is_some_and(|n| DENIED.contains(&n)) => {
                return Err(unreadable(passwords, &e));
            }
            Err(e) => return Err(mysql_error("", e)),
        };
        let unreadable_rows = || {
            ToolError::failed(format!(
                "roles: SHOW CREATE USER {account} printed a definition this build cannot read"
            ))
        };
        Clauses::parse(&rows).ok_or_else(unreadable_rows)?;
        let create = match passwords {
            true => rows,
            false => text::rows_without_secret(&rows).ok_or_else(unreadable_rows)?,
        };
        let (roles, default_role) = text::role_grants(&show_grants(conn, &account).await?);
        definitions.push(Definition {
            account,
            create,
            passwords,
            roles,
            default_role,
        });
    }
    let logins: Vec<String> = accounts(conn, flavor)
        .await?
        .iter()
        .map(ToString::to_string)
        .collect();
    for definition in &definitions {
        crate::roles::write_definition(writer, KIND, &definition.account.to_string(), definition)?;
    }
    crate::roles::write_logins(writer, &logins)?;
    let names: Vec<String> = definitions.iter().map(|d| d.account.to_string()).collect();
    let mut lines = Vec::new();
    if !names.is_empty() {
        lines.push(match passwords {
            true => format!(
                "roles: {} accounts kept with their authentication strings (encrypted): {}",
                names.len(),
                names.join(", ")
            ),
            false => format!(
                "roles: {} accounts kept WITHOUT their authentication strings ([roles] passwords = false; an account the restore must create gets its plugin and no password): {}",
                names.len(),
                names.join(", ")
            ),
        });
    }
    lines.push(format!(
        "roles: {} accounts of the server recorded (to tell production's own logins apart)",
        logins.len()
    ));
    Ok(lines)
}

/// The refusal when SHOW CREATE USER of another account is denied.
fn unreadable(passwords: bool, error: &sqlx::Error) -> ToolError {
    const PRIVILEGE: &str = "SHOW CREATE USER of another account needs SELECT on the mysql database: GRANT SELECT ON mysql.* TO the capturing account";
    let hint = "grant it, or capture as an account that has it; on MariaDB/MySQL passwords = false does not need less, as SHOW CREATE USER shows the authentication string to whoever may run it";
    match passwords {
        true => crate::roles::verifiers_unreadable(PRIVILEGE).hint(hint),
        false => ToolError::usage(format!(
            "roles: the capturing account may not read the kept accounts' definitions ({PRIVILEGE}; the server said: {})",
            describe_error(error)
        ))
        .hint(hint),
    }
}

/// Whether a role exists on the server.
async fn role_exists(
    conn: &mut MySqlConnection,
    flavor: Flavor,
    role: &str,
) -> Result<bool, ToolError> {
    let sql = match flavor {
        Flavor::MariaDb => "SELECT 1 FROM mysql.user WHERE User = ? AND is_role = 'Y'",
        Flavor::MySql => "SELECT 1 FROM mysql.user WHERE User = ?",
    };
    let found: Option<i64> = sqlx::query_scalar(sql)
        .bind(role)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| mysql_error("mysql.user", e))?;
    Ok(found.is_some())
}

/// The account this session restores as (`CURRENT_USER()`).
async fn current_user(conn: &mut MySqlConnection) -> Result<Option<Account>, ToolError> {
    let text: String = sqlx::query_scalar("SELECT CURRENT_USER()")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| mysql_error("", e))?;
    Ok(text
        .rsplit_once('@')
        .map(|(user, host)| Account::new(user.to_owned(), host.to_owned())))
}

/// Plans, by reading only, what brings the kept accounts back and what
/// is done about production's own accounts.
pub(super) async fn plan(
    conn: &mut MySqlConnection,
    flavor: Flavor,
    vault: &UnlockedVault,
    config: &Config,
) -> Result<Plan, ToolError> {
    let definitions: Vec<Definition> = crate::roles::read_definitions(vault, KIND)?;
    let logins = crate::roles::read_logins(vault)?;
    let mut plan = Plan::default();
    if definitions.is_empty() && logins.is_none() {
        return Ok(plan);
    }
    let quarantined: Vec<Account> = config
        .quarantine_roles()
        .iter()
        .filter_map(|r| Account::parse(r))
        .collect();
    let me = current_user(conn).await?;
    let mariadb = flavor == Flavor::MariaDb;
    for definition in &definitions {
        let account = &definition.account;
        let name = account.sql();
        let bad = || {
            ToolError::new(
                Exit::Problem,
                format!("the vault's definition of the account {account} cannot be read"),
            )
            .hint("restore only vaults written by `vault capture`")
        };
        let captured = Clauses::parse(&definition.create).ok_or_else(bad)?;
        // Under the quarantine, the account stays locked until it opens;
        // the restoring account is never locked.
        let held = quarantined.contains(account) && me.as_ref() != Some(account);
        let locked = held || captured.locked;
        if held {
            plan.opening.push((account.to_string(), captured.locked));
        }
        let until = match held {
            true => " (locked until the quarantine opens)",
            false => "",
        };
        let now = show_create(conn, account)
            .await
            .map_err(|e| mysql_error("", e))?;
        match now {
            None => {
                let statements = text::create(&name, &captured, locked, mariadb);
                let shown: Vec<&str> = statements.iter().map(|s| s.shown.as_str()).collect();
                plan.lines.push(format!(
                    "roles: {account} is missing after the refresh: {}{until}",
                    shown.join("; ")
                ));
                if !definition.passwords {
                    plan.lines.push(format!(
                        "roles: {account} is created WITHOUT a password (captured with [roles] passwords = false): set one with ALTER USER {name} IDENTIFIED BY '...'"
                    ));
                }
                plan.statements.extend(statements);
                plan.created.push(account.clone());
            }
            Some(rows) => {
                let now = Clauses::parse(&rows).ok_or_else(|| {
                    ToolError::failed(format!(
                        "roles: SHOW CREATE USER {account} printed a definition this build cannot read"
                    ))
                })?;
                let compared = match definition.passwords {
                    true => now.clone(),
                    false => now.without_secret(),
                };
                let differs = captured.differences(&compared, !held);
                if differs.is_empty() {
                    plan.lines.push(format!(
                        "roles: {account} is as acceptance had it: left as it is{until}"
                    ));
                    if held && !now.locked {
                        plan.statements
                            .push(Statement::plain(format!("ALTER USER {name} ACCOUNT LOCK")));
                    }
                } else {
                    let statements = text::alter(
                        &name,
                        &captured,
                        &now,
                        locked,
                        definition.passwords,
                        mariadb,
                    );
                    let shown: Vec<&str> = statements.iter().map(|s| s.shown.as_str()).collect();
                    plan.lines.push(format!(
                        "roles: {account} was changed by the refresh ({}): {}{until}",
                        differs.join(", "),
                        shown.join("; ")
                    ));
                    if !definition.passwords && differs.contains(&"authentication") {
                        plan.lines.push(format!(
                            "roles: {account}'s authentication is left as the refresh made it (captured with [roles] passwords = false)"
                        ));
                    }
                    plan.statements.extend(statements);
                }
            }
        }
        plan_role_grants(
            conn,
            flavor,
            definition,
            now_exists(&plan, account),
            &mut plan,
        )
        .await?;
    }
    if let Some(logins) = logins {
        production_only(conn, flavor, config, &logins, &definitions, me, &mut plan).await?;
    }
    Ok(plan)
}

fn now_exists(plan: &Plan, account: &Account) -> bool {
    !plan.created.contains(account)
}

/// GRANT and REVOKE of roles, and SET DEFAULT ROLE, that give the account
/// its captured roles; a role that does not exist is a line, not a failure.
async fn plan_role_grants(
    conn: &mut MySqlConnection,
    flavor: Flavor,
    definition: &Definition,
    exists: bool,
    plan: &mut Plan,
) -> Result<(), ToolError> {
    let account = &definition.account;
    let name = account.sql();
    let (now, default_now) = match exists {
        true => text::role_grants(&show_grants(conn, account).await?),
        false => (Vec::new(), None),
    };
    let mut missing = Vec::new();
    for grant in &definition.roles {
        if now.contains(grant) {
            continue;
        }
        if !role_exists(conn, flavor, &grant.role).await? {
            missing.push(grant.role.clone());
            continue;
        }
        let admin = match grant.admin {
            true => " WITH ADMIN OPTION",
            false => "",
        };
        let sql = format!("GRANT {} TO {name}{admin}", quote_ident(&grant.role));
        plan.lines.push(format!("roles: {sql}"));
        plan.statements.push(Statement::plain(sql));
    }
    for grant in &now {
        let kept = definition.roles.iter().find(|g| g.role == grant.role);
        let sql = match kept {
            None => format!("REVOKE {} FROM {name}", quote_ident(&grant.role)),
            Some(k) if grant.admin && !k.admin => {
                format!(
                    "REVOKE ADMIN OPTION FOR {} FROM {name}",
                    quote_ident(&grant.role)
                )
            }
            Some(_) => continue,
        };
        plan.lines.push(format!("roles: {sql}"));
        plan.statements.push(Statement::plain(sql));
    }
    if definition.default_role != default_now {
        match &definition.default_role {
            Some(role) if missing.contains(role) => {}
            Some(role) => {
                let sql = format!("SET DEFAULT ROLE {} FOR {name}", quote_ident(role));
                plan.lines.push(format!("roles: {sql}"));
                plan.statements.push(Statement::plain(sql));
            }
            None => {
                let sql = format!("SET DEFAULT ROLE NONE FOR {name}");
                plan.lines.push(format!("roles: {sql}"));
                plan.statements.push(Statement::plain(sql));
            }
        }
    }
    if !missing.is_empty() {
        plan.lines.push(format!(
            "roles: {account} held roles that do not exist on the target, not granted: {}",
            missing.join(", ")
        ));
    }
    Ok(())
}

/// Production's own accounts: there after the refresh, never in
/// acceptance. Listed; locked with `lock_others` (never the restoring one).
async fn production_only(
    conn: &mut MySqlConnection,
    flavor: Flavor,
    config: &Config,
    logins: &[String],
    definitions: &[Definition],
    me: Option<Account>,
    plan: &mut Plan,
) -> Result<(), ToolError> {
    let known: Vec<Account> = logins.iter().filter_map(|l| Account::parse(l)).collect();
    let mut found = Vec::new();
    let mut already = Vec::new();
    let mut locked = Vec::new();
    for account in accounts(conn, flavor).await? {
        let ours = known.contains(&account)
            || definitions.iter().any(|d| d.account == account)
            || me.as_ref() == Some(&account)
            || SERVER_ACCOUNTS
                .iter()
                .any(|(u, h)| account.user() == *u && account.host() == *h);
        if ours {
            continue;
        }
        let is_locked = show_create(conn, &account)
            .await
            .map_err(|e| mysql_error("", e))?
            .and_then(|rows| Clauses::parse(&rows))
            .is_some_and(|c| c.locked);
        if is_locked {
            already.push(account.to_string());
            continue;
        }
        found.push(account.to_string());
        if config.lock_others() {
            let name = account.sql();
            plan.statements
                .push(Statement::plain(format!("ALTER USER {name} ACCOUNT LOCK")));
            locked.push((
                account.to_string(),
                format!("ALTER USER {name} ACCOUNT UNLOCK"),
            ));
        }
    }
    plan.lines
        .extend(crate::roles::production_only_lines(&found, &locked));
    if !already.is_empty() {
        plan.lines.push(format!(
            "roles: production's logins that acceptance never had, already locked: {}",
            already.join(", ")
        ));
    }
    Ok(())
}

/// Runs the planned statements after the commit: every one is tried, each
/// that fails is named (without its authentication string).
pub(super) async fn apply(conn: &mut MySqlConnection, statements: Vec<Statement>) -> Vec<String> {
    let mut failures = Vec::new();
    for statement in statements {
        if let Err(e) = sqlx::raw_sql(AssertSqlSafe(statement.sql))
            .execute(&mut *conn)
            .await
        {
            failures.push(format!(
                "roles: did not run {}: MySQL/MariaDB: {}",
                statement.shown,
                describe_error(&e)
            ));
        }
    }
    failures
}

/// The accounts opening the quarantine unlocks: those it locked, and the
/// kept accounts the restore kept locked for it, unless acceptance had
/// them locked.
pub(super) fn opening(reopen: &[String], kept: &[(String, bool)]) -> Vec<String> {
    let mut out: Vec<String> = reopen
        .iter()
        .filter(|r| !kept.iter().any(|(k, locked)| *locked && k == *r))
        .cloned()
        .collect();
    for (account, locked) in kept {
        if !locked && !out.contains(account) {
            out.push(account.clone());
        }
    }
    out
}
