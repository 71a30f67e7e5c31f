//! The `[grants]` accounts' privileges on the acceptance schema and its objects, captured from information_schema and mysql.procs_priv and put back exactly after the data commit.
//!
//! Levels: the schema (`db.*`, also as its escaped pattern `db\_name`),
//! tables and views, columns, and routines. Server-wide (`*.*`) privileges
//! and role memberships live outside the schema and are not touched. From
//! the vault only privilege keywords (checked against a list), the
//! configured accounts and object names that exist in the target reach SQL,
//! all quoted.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::mysql::MySqlConnection;
use vault_format::{UnlockedVault, VaultWriter};

use super::{mysql_error, quote_ident};
use crate::config::Config;
use crate::exit::{Exit, ToolError};

const STREAM: &str = "extras/mysql-grants";
const KIND: &str = "mysql-grants";

/// Privilege keywords a restore may write into GRANT and REVOKE.
const PRIVILEGES: [&str; 20] = [
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "CREATE",
    "DROP",
    "REFERENCES",
    "INDEX",
    "ALTER",
    "CREATE TEMPORARY TABLES",
    "LOCK TABLES",
    "EXECUTE",
    "CREATE VIEW",
    "SHOW VIEW",
    "CREATE ROUTINE",
    "ALTER ROUTINE",
    "EVENT",
    "TRIGGER",
    "DELETE HISTORY",
    "SHOW CREATE ROUTINE",
];

/// An account as `[grants]` names it: `'user'@'host'` (quotes optional; no host means `%`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub(super) struct Account {
    user: String,
    host: String,
}

impl Account {
    pub(super) fn parse(text: &str) -> Option<Account> {
        let unquote = |s: &str| {
            let s = s.trim();
            let quoted = s.len() >= 2
                && ["'", "\"", "`"]
                    .iter()
                    .any(|q| s.starts_with(q) && s.ends_with(q));
            if quoted {
                s[1..s.len() - 1].to_owned()
            } else {
                s.to_owned()
            }
        };
        let text = text.trim();
        // The last @ outside quotes splits user and host.
        let split = text
            .rfind("'@'")
            .map(|i| i + 1)
            .or_else(|| text.rfind("`@`").map(|i| i + 1))
            .or_else(|| text.rfind("\"@\"").map(|i| i + 1))
            .or_else(|| text.rfind('@'));
        let (user, host) = match split {
            Some(i) => (unquote(&text[..i]), unquote(&text[i + 1..])),
            None => (unquote(text), "%".to_owned()),
        };
        (!user.is_empty()).then_some(Account { user, host })
    }

    /// An account by its user and host as the server lists them.
    pub(super) fn new(user: String, host: String) -> Account {
        Account { user, host }
    }

    pub(super) fn user(&self) -> &str {
        &self.user
    }

    pub(super) fn host(&self) -> &str {
        &self.host
    }

    /// As GRANT names it.
    pub(super) fn sql(&self) -> String {
        format!("{}@{}", literal(&self.user), literal(&self.host))
    }

    /// As information_schema's GRANTEE spells it.
    fn grantee(&self) -> String {
        format!("'{}'@'{}'", self.user, self.host)
    }
}

impl std::fmt::Display for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "'{}'@'{}'", self.user, self.host)
    }
}

pub(super) fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

/// An object of the schema: `schema` (name: the schema as the grant spells
/// it), `table`, `column` (sub: the column), `routine` (sub: FUNCTION or PROCEDURE).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Object {
    kind: String,
    name: String,
    sub: Option<String>,
}

impl std::fmt::Display for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.kind.as_str(), &self.sub) {
            ("schema", _) => write!(f, "schema {}", self.name),
            ("column", Some(c)) => write!(f, "column {}.{c}", self.name),
            ("routine", Some(t)) => write!(f, "{} {}", t.to_ascii_lowercase(), self.name),
            (kind, _) => write!(f, "{kind} {}", self.name),
        }
    }
}

/// One privilege of one account on one object: a line of the grants stream.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Grant {
    #[serde(flatten)]
    object: Object,
    account: Account,
    privilege: String,
    grantable: bool,
}

fn configured_accounts(config: &Config) -> Result<Vec<Account>, ToolError> {
    let mut accounts = Vec::new();
    for text in &config.privileged_roles() {
        let account = Account::parse(text).ok_or_else(|| {
            ToolError::usage(format!("grants.roles: {text:?} is not an account"))
                .hint("name accounts as 'user'@'host'")
        })?;
        accounts.push(account);
    }
    accounts.sort();
    accounts.dedup();
    Ok(accounts)
}

async fn missing_accounts(
    conn: &mut MySqlConnection,
    accounts: &[Account],
) -> Result<Vec<Account>, ToolError> {
    let mut missing = Vec::new();
    for account in accounts {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM mysql.user WHERE User = ? AND Host = ?")
                .bind(&account.user)
                .bind(&account.host)
                .fetch_optional(&mut *conn)
                .await
                .map_err(|e| {
                    mysql_error("", e).hint("the user running vault needs SELECT on mysql.user")
                })?;
        if found.is_none() {
            missing.push(account.clone());
        }
    }
    Ok(missing)
}

/// The schema's name as a grant may spell it: itself, and with `_` and `%` escaped.
fn schema_spellings(database: &str) -> [String; 2] {
    [
        database.to_owned(),
        database.replace('_', "\\_").replace('%', "\\%"),
    ]
}

/// The privileges the accounts hold now on the schema and its objects.
async fn held(
    conn: &mut MySqlConnection,
    database: &str,
    accounts: &[Account],
) -> Result<Vec<Grant>, ToolError> {
    let by_grantee: BTreeMap<String, &Account> =
        accounts.iter().map(|a| (a.grantee(), a)).collect();
    let [plain, escaped] = schema_spellings(database);
    let fail = |e| mysql_error("", e);
    let mut grants = Vec::new();
    // Privileges outside the list (none that MySQL 8 or MariaDB 11 report
    // per schema, table, column or routine today) are left alone.
    let mut push = |grantee: String, object: Object, privilege: String, grantable: bool| {
        let known = PRIVILEGES
            .iter()
            .any(|p| p.eq_ignore_ascii_case(privilege.trim()));
        if let Some(account) = by_grantee.get(&grantee).filter(|_| known) {
            grants.push(Grant {
                object,
                account: (*account).clone(),
                privilege: privilege.trim().to_ascii_uppercase(),
                grantable,
            });
        }
    };
    let rows = sqlx::query(
        "SELECT grantee, table_schema, privilege_type, is_grantable = 'YES'
         FROM information_schema.schema_privileges WHERE table_schema IN (?, ?)",
    )
    .bind(&plain)
    .bind(&escaped)
    .fetch_all(&mut *conn)
    .await
    .map_err(fail)?;
    for row in rows {
        let object = Object {
            kind: "schema".into(),
            name: row.try_get(1).map_err(fail)?,
            sub: None,
        };
        push(
            row.try_get(0).map_err(fail)?,
            object,
            row.try_get(2).map_err(fail)?,
            row.try_get::<i64, _>(3).map_err(fail)? != 0,
        );
    }
    let rows = sqlx::query(
        "SELECT grantee, table_name, privilege_type, is_grantable = 'YES'
         FROM information_schema.table_privileges WHERE table_schema = ?",
    )
    .bind(database)
    .fetch_all(&mut *conn)
    .await
    .map_err(fail)?;
    for row in rows {
        let object = Object {
            kind: "table".into(),
            name: row.try_get(1).map_err(fail)?,
            sub: None,
        };
        push(
            row.try_get(0).map_err(fail)?,
            object,
            row.try_get(2).map_err(fail)?,
            row.try_get::<i64, _>(3).map_err(fail)? != 0,
        );
    }
    let rows = sqlx::query(
        "SELECT grantee, table_name, column_name, privilege_type
         FROM information_schema.column_privileges WHERE table_schema = ?",
    )
    .bind(database)
    .fetch_all(&mut *conn)
    .await
    .map_err(fail)?;
    for row in rows {
        let object = Object {
            kind: "column".into(),
            name: row.try_get(1).map_err(fail)?,
            sub: Some(row.try_get(2).map_err(fail)?),
        };
        // The grant option of a column privilege is its table's.
        push(
            row.try_get(0).map_err(fail)?,
            object,
            row.try_get(3).map_err(fail)?,
            false,
        );
    }
    let rows = sqlx::query(
        "SELECT CONCAT('''', User, '''@''', Host, ''''), CAST(Routine_name AS CHAR),
                CAST(Routine_type AS CHAR), CAST(Proc_priv AS CHAR)
         FROM mysql.procs_priv WHERE Db = ? AND Routine_type IN ('FUNCTION', 'PROCEDURE')",
    )
    .bind(database)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| {
        mysql_error("", e).hint("the user running vault needs SELECT on mysql.procs_priv")
    })?;
    for row in rows {
        let grantee: String = row.try_get(0).map_err(fail)?;
        let object = Object {
            kind: "routine".into(),
            name: row.try_get(1).map_err(fail)?,
            sub: Some(row.try_get(2).map_err(fail)?),
        };
        let privileges: String = row.try_get(3).map_err(fail)?;
        let grantable = privileges
            .split(',')
            .any(|p| p.eq_ignore_ascii_case("grant"));
        for privilege in privileges
            .split(',')
            .filter(|p| !p.is_empty() && !p.eq_ignore_ascii_case("grant"))
        {
            push(
                grantee.clone(),
                object.clone(),
                privilege.to_owned(),
                grantable,
            );
        }
    }
    grants.sort();
    grants.dedup();
    Ok(grants)
}

/// Captures the accounts' privileges into their own stream; `None` without `[grants]`.
pub(super) async fn capture(
    conn: &mut MySqlConnection,
    database: &str,
    config: &Config,
    writer: &VaultWriter,
) -> Result<Option<String>, ToolError> {
    let accounts = configured_accounts(config)?;
    if accounts.is_empty() {
        return Ok(None);
    }
    if let Some(account) = missing_accounts(conn, &accounts).await?.first() {
        return Err(ToolError::usage(format!(
            "grants.roles: the account {account} does not exist on the acceptance server"
        ))
        .hint("correct grants.roles in the configuration ('user'@'host')"));
    }
    let grants = held(conn, database, &accounts).await?;
    let metadata =
        serde_json::json!({"kind": KIND, "accounts": accounts, "encoding": "json-lines"});
    let mut stream = writer.stream(STREAM, metadata)?;
    let mut objects = BTreeSet::new();
    for grant in &grants {
        let mut line = serde_json::to_vec(grant).expect("a grant serializes");
        line.push(b'\n');
        stream.write_all(&line)?;
        objects.insert(&grant.object);
    }
    stream.add_rows(grants.len() as u64);
    stream.finish()?;
    Ok(Some(format!(
        "grants: {} privileges of {} accounts on {} objects",
        grants.len(),
        accounts.len(),
        objects.len()
    )))
}

type Held = BTreeMap<(Object, Account, String), bool>;

fn as_held(grants: Vec<Grant>) -> Held {
    grants
        .into_iter()
        .map(|g| ((g.object, g.account, g.privilege), g.grantable))
        .collect()
}

/// Plans, inside the data transaction, the REVOKE and GRANT statements
/// that give the captured accounts exactly their captured privileges; they
/// run after the commit (GRANT commits implicitly). Returns the statements
/// and one line per change. `created`: accounts that `[roles]` creates
/// before the grants run.
pub(super) async fn plan_restore(
    conn: &mut MySqlConnection,
    database: &str,
    vault: &UnlockedVault,
    created: &[Account],
) -> Result<(Vec<String>, Vec<String>), ToolError> {
    let Some((metadata, bytes)) = crate::extras::read(vault, KIND)? else {
        return Ok((Vec::new(), Vec::new()));
    };
    let bad = |what: String| {
        ToolError::new(Exit::Problem, format!("the vault's grants stream {what}"))
            .hint("restore only vaults written by `vault capture`")
    };
    let accounts: Vec<Account> = serde_json::from_value(metadata["accounts"].clone())
        .map_err(|e| bad(format!("does not list its accounts: {e}")))?;
    let spellings = schema_spellings(database);
    let mut captured = Held::new();
    for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let grant: Grant =
            serde_json::from_slice(line).map_err(|e| bad(format!("holds a bad line: {e}")))?;
        let known_kind = match grant.object.kind.as_str() {
            "schema" => spellings.contains(&grant.object.name),
            "table" => true,
            "column" => grant.object.sub.is_some(),
            "routine" => matches!(grant.object.sub.as_deref(), Some("FUNCTION" | "PROCEDURE")),
            _ => false,
        };
        if !PRIVILEGES.contains(&grant.privilege.as_str())
            || !accounts.contains(&grant.account)
            || !known_kind
        {
            return Err(bad(format!(
                "holds a privilege it should not: {} on {} for {}",
                grant.privilege, grant.object, grant.account
            )));
        }
        captured.insert(
            (grant.object, grant.account, grant.privilege),
            grant.grantable,
        );
    }
    let mut missing = missing_accounts(conn, &accounts).await?;
    missing.retain(|a| !created.contains(a));
    if !missing.is_empty() {
        let names: Vec<String> = missing.iter().map(ToString::to_string).collect();
        let (them, exist) = match names.len() {
            1 => ("the account", "does"),
            _ => ("the accounts", "do"),
        };
        return Err(ToolError::failed(format!(
            "grants: {them} {} held privileges in acceptance and {exist} not exist on the target server; nothing was changed",
            names.join(", ")
        ))
        .hint("create every account named, then restore again"));
    }
    let mut now = as_held(held(conn, database, &accounts).await?);
    let mut lines = Vec::new();
    let mut gone = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for (object, _, _) in captured.keys().chain(now.keys()) {
        if seen.insert(object.clone()) && !exists(conn, database, object).await? {
            gone.insert(object.clone());
        }
    }
    // The grant tables keep privileges on objects that do not exist (a view
    // the refresh could not create): they are left as they are, to serve
    // the object when it is created again, never revoked.
    for object in &gone {
        lines.push(format!(
            "grants: {object} does not exist in the target; privileges on it were left as they are"
        ));
    }
    captured.retain(|(o, _, _), _| !gone.contains(o));
    now.retain(|(o, _, _), _| !gone.contains(o));
    let statements = plan(database, &captured, &now);
    lines.extend(statements.iter().map(|s| format!("grants: {s}")));
    Ok((statements, lines))
}

/// Whether a captured object exists in the target.
async fn exists(
    conn: &mut MySqlConnection,
    database: &str,
    object: &Object,
) -> Result<bool, ToolError> {
    let found: Option<i64> =
        match object.kind.as_str() {
            "schema" => return Ok(true),
            "table" => sqlx::query_scalar(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            )
            .bind(database)
            .bind(&object.name)
            .fetch_optional(&mut *conn)
            .await,
            "column" => {
                sqlx::query_scalar(
                    "SELECT 1 FROM information_schema.columns
             WHERE table_schema = ? AND table_name = ? AND column_name = ?",
                )
                .bind(database)
                .bind(&object.name)
                .bind(&object.sub)
                .fetch_optional(&mut *conn)
                .await
            }
            _ => {
                sqlx::query_scalar(
                    "SELECT 1 FROM information_schema.routines
             WHERE routine_schema = ? AND routine_name = ? AND routine_type = ?",
                )
                .bind(database)
                .bind(&object.name)
                .bind(&object.sub)
                .fetch_optional(&mut *conn)
                .await
            }
        }
        .map_err(|e| mysql_error("", e))?;
    Ok(found.is_some())
}

/// The GRANT statements (first) and REVOKE statements that turn `now` into
/// `captured`. The grant option is one flag per object and account in
/// MySQL; column privileges carry none of their own.
fn plan(database: &str, captured: &Held, now: &Held) -> Vec<String> {
    // (object's table-or-schema target, account) -> privilege lists
    #[derive(Default)]
    struct Change<'a> {
        revoke: Vec<String>,
        grant: Vec<String>,
        revoke_option: bool,
        grant_option: bool,
        all_captured: Vec<String>,
        on: String,
        account: Option<&'a Account>,
    }
    let on = |object: &Object| match object.kind.as_str() {
        "schema" => format!("{}.*", quote_ident(&object.name)),
        "routine" => format!(
            "{} {}.{}",
            object.sub.as_deref().unwrap_or("PROCEDURE"),
            quote_ident(database),
            quote_ident(&object.name)
        ),
        _ => format!("{}.{}", quote_ident(database), quote_ident(&object.name)),
    };
    let item = |object: &Object, privilege: &str| match (object.kind.as_str(), &object.sub) {
        ("column", Some(column)) => format!("{privilege} ({})", quote_ident(column)),
        _ => privilege.to_owned(),
    };
    // Columns group with their table's statement.
    let group = |object: &Object| -> (String, String) {
        let kind = if object.kind == "column" {
            "table"
        } else {
            object.kind.as_str()
        };
        (
            format!(
                "{kind}:{}:{}",
                object.name,
                if object.kind == "routine" {
                    object.sub.clone().unwrap_or_default()
                } else {
                    String::new()
                }
            ),
            on(object),
        )
    };
    let mut changes: BTreeMap<(String, &Account), Change> = BTreeMap::new();
    let option = |held: &Held, object: &Object, account: &Account| {
        held.iter()
            .any(|((o, a, _), &g)| g && o == object && a == account)
    };
    for (object, account, privilege) in now.keys() {
        let (key, target) = group(object);
        let change = changes.entry((key, account)).or_default();
        change.on = target;
        change.account = Some(account);
        if !captured.contains_key(&(object.clone(), account.clone(), privilege.clone())) {
            change.revoke.push(item(object, privilege));
        }
        if object.kind != "column"
            && option(now, object, account)
            && !option(captured, object, account)
        {
            change.revoke_option = true;
        }
    }
    for (object, account, privilege) in captured.keys() {
        let (key, target) = group(object);
        let change = changes.entry((key, account)).or_default();
        change.on = target;
        change.account = Some(account);
        change.all_captured.push(item(object, privilege));
        if !now.contains_key(&(object.clone(), account.clone(), privilege.clone())) {
            change.grant.push(item(object, privilege));
        }
        if object.kind != "column"
            && option(captured, object, account)
            && !option(now, object, account)
        {
            change.grant_option = true;
        }
    }
    let mut revokes = Vec::new();
    let mut grants = Vec::new();
    for change in changes.values_mut() {
        let Some(account) = change.account else {
            continue;
        };
        let to = account.sql();
        change.revoke.dedup();
        change.grant.dedup();
        change.all_captured.dedup();
        if !change.revoke.is_empty() {
            let revoke = format!(
                "REVOKE {} ON {} FROM {to}",
                change.revoke.join(", "),
                change.on
            );
            // Revoking a table privilege takes the column privileges of
            // that kind along: a group that grants column privileges of a
            // kind it revokes revokes first, right before its own grants.
            let takes_columns = change.grant.iter().any(|granted| {
                granted
                    .split_once(" (")
                    .is_some_and(|(kind, _)| change.revoke.iter().any(|revoked| revoked == kind))
            });
            if takes_columns {
                grants.push(revoke);
            } else {
                revokes.push(revoke);
            }
        }
        if change.revoke_option {
            revokes.push(format!("REVOKE GRANT OPTION ON {} FROM {to}", change.on));
        }
        if change.grant_option {
            let list = change
                .all_captured
                .iter()
                .filter(|p| !p.contains('('))
                .cloned()
                .collect::<Vec<_>>();
            let list = if list.is_empty() {
                change.grant.clone()
            } else {
                list
            };
            grants.push(format!(
                "GRANT {} ON {} TO {to} WITH GRANT OPTION",
                list.join(", "),
                change.on
            ));
            change.grant.retain(|p| p.contains('('));
        }
        if !change.grant.is_empty() {
            grants.push(format!(
                "GRANT {} ON {} TO {to}",
                change.grant.join(", "),
                change.on
            ));
        }
    }
    // Grants first: a revoke that fails after them leaves an account with
    // more of what it had, never less than either state.
    grants.extend(revokes);
    grants
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_parse_with_or_without_quotes() {
        let want = Account {
            user: "reader".into(),
            host: "%".into(),
        };
        for text in [
            "'reader'@'%'",
            "reader@%",
            "`reader`@`%`",
            "reader",
            "\"reader\"@\"%\"",
        ] {
            assert_eq!(Account::parse(text), Some(want.clone()), "{text}");
        }
        assert_eq!(
            Account::parse("'app@ward'@'10.0.%'"),
            Some(Account {
                user: "app@ward".into(),
                host: "10.0.%".into()
            })
        );
        assert_eq!(Account::parse("''@'%'"), None);
    }

    #[test]
    fn grants_come_before_revokes_and_columns_join_their_table() {
        let reader = Account::parse("reader@%").unwrap();
        let table = Object {
            kind: "table".into(),
            name: "app_user".into(),
            sub: None,
        };
        let column = Object {
            kind: "column".into(),
            name: "app_user".into(),
            sub: Some("login".into()),
        };
        let key = |o: &Object, p: &str| (o.clone(), reader.clone(), p.to_owned());
        let now: Held = [
            (key(&table, "SELECT"), false),
            (key(&table, "DELETE"), false),
        ]
        .into();
        let captured: Held = [
            (key(&table, "SELECT"), true),
            (key(&column, "UPDATE"), false),
        ]
        .into();
        assert_eq!(
            plan("acc", &captured, &now),
            [
                "GRANT SELECT ON `acc`.`app_user` TO 'reader'@'%' WITH GRANT OPTION",
                "GRANT UPDATE (`login`) ON `acc`.`app_user` TO 'reader'@'%'",
                "REVOKE DELETE ON `acc`.`app_user` FROM 'reader'@'%'",
            ]
        );
        assert!(plan("acc", &captured, &captured).is_empty());
    }
}
