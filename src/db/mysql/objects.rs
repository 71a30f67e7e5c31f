//! MariaDB/MySQL's code objects: the views, procedures, functions, triggers and events of the URL's database from information_schema (digests of what defines each, never a definer or a status), the kept ones read with `SHOW CREATE` under their own `sql_mode`, and re-created after the data commit, every one tried and each failure named.

use sqlx::mysql::{MySqlConnection, MySqlRow};
use sqlx::{AssertSqlSafe, Row};

use super::grants::literal;
use super::{Mysql, describe_error, mysql_error};
use crate::exit::ToolError;
use crate::objects::{CodeObject, CodeObjects, KeptObject, ObjectChange, digest_of};

/// Kind, name, and the parts of the definition, as text.
const CATALOGUE: &str = "
SELECT 'view', CAST(table_name AS CHAR), '',
       CAST(view_definition AS CHAR), CAST(check_option AS CHAR), CAST(security_type AS CHAR), ''
FROM information_schema.views WHERE table_schema = ?
UNION ALL
SELECT LOWER(CAST(r.routine_type AS CHAR)), CAST(r.routine_name AS CHAR), '',
       CAST(r.routine_definition AS CHAR), CAST(r.dtd_identifier AS CHAR),
       CAST(CONCAT_WS(' ', r.is_deterministic, r.security_type, r.sql_data_access) AS CHAR),
       CAST((SELECT GROUP_CONCAT(CONCAT_WS(' ', p.parameter_mode, p.parameter_name, p.dtd_identifier)
                                 ORDER BY p.ordinal_position SEPARATOR ', ')
             FROM information_schema.parameters p
             WHERE p.specific_schema = r.routine_schema AND p.specific_name = r.routine_name
               AND p.routine_type = r.routine_type AND p.ordinal_position > 0) AS CHAR)
FROM information_schema.routines r WHERE r.routine_schema = ?
UNION ALL
SELECT 'trigger', CAST(trigger_name AS CHAR), CAST(CONCAT(' on ', event_object_schema, '.', event_object_table) AS CHAR),
       CAST(action_statement AS CHAR), CAST(action_timing AS CHAR), CAST(event_manipulation AS CHAR), ''
FROM information_schema.triggers WHERE trigger_schema = ?
UNION ALL
SELECT 'event', CAST(event_name AS CHAR), '',
       CAST(event_definition AS CHAR),
       CAST(CONCAT_WS(' ', event_type, execute_at, interval_value, interval_field) AS CHAR),
       CAST(on_completion AS CHAR), ''
FROM information_schema.events WHERE event_schema = ?
ORDER BY 1, 2";

fn text(row: &MySqlRow, i: usize) -> String {
    row.try_get::<Option<String>, _>(i)
        .ok()
        .flatten()
        .unwrap_or_default()
}

async fn catalogue(
    conn: &mut MySqlConnection,
    database: &str,
) -> Result<Vec<CodeObject>, ToolError> {
    let rows = sqlx::query(CATALOGUE)
        .bind(database)
        .bind(database)
        .bind(database)
        .bind(database)
        .fetch_all(conn)
        .await
        .map_err(|e| mysql_error("", e))?;
    Ok(rows
        .iter()
        .map(|row| {
            let parts: Vec<String> = (3..7).map(|i| text(row, i)).collect();
            let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
            CodeObject {
                kind: text(row, 0),
                name: format!("{database}.{}", text(row, 1)),
                detail: text(row, 2),
                digest: digest_of(&parts),
            }
        })
        .collect())
}

/// `` `name` ``: backticks read the same under every `sql_mode`.
fn tick(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// `SHOW CREATE ...` of one object: its `sql_mode` (none for a view) and
/// statement, read under that mode so that its quotes are the ones it
/// will be created with.
async fn show_create(
    conn: &mut MySqlConnection,
    kind: &str,
    qualified: &str,
) -> Result<(Option<String>, String), ToolError> {
    let show = format!("SHOW CREATE {} {qualified}", kind.to_uppercase());
    let fetch = async |conn: &mut MySqlConnection| {
        sqlx::query(AssertSqlSafe(show.clone()))
            .fetch_one(conn)
            .await
            .map_err(|e| mysql_error(qualified, e))
    };
    if kind == "view" {
        return Ok((None, text(&fetch(conn).await?, 1)));
    }
    let mode = text(&fetch(conn).await?, 1);
    let session: String = sqlx::query_scalar("SELECT CAST(@@SESSION.sql_mode AS CHAR)")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| mysql_error("", e))?;
    set_mode(conn, &mode).await?;
    let row = fetch(conn).await;
    set_mode(conn, &session).await?;
    // Procedures and functions: column 2; triggers: 2; events: 3 (after time_zone).
    let column = if kind == "event" { 3 } else { 2 };
    Ok((Some(mode), text(&row?, column)))
}

async fn set_mode(conn: &mut MySqlConnection, mode: &str) -> Result<(), ToolError> {
    sqlx::query("SET SESSION sql_mode = ?")
        .bind(mode)
        .execute(conn)
        .await
        .map(|_| ())
        .map_err(|e| mysql_error("", e))
}

/// The account privileges on one view or routine (`mysql.tables_priv`,
/// `mysql.procs_priv`), as GRANT statements: dropping a routine drops its
/// privileges, and a view's are read back the same way.
async fn grants(
    conn: &mut MySqlConnection,
    database: &str,
    kind: &str,
    name: &str,
    qualified: &str,
) -> Result<Vec<String>, ToolError> {
    let (query, on) = match kind {
        "view" => (
            "SELECT CAST(User AS CHAR), CAST(Host AS CHAR), CAST(Table_priv AS CHAR)
             FROM mysql.tables_priv WHERE Db = ? AND Table_name = ? AND ? = 'view'
             ORDER BY User, Host",
            "TABLE",
        ),
        "procedure" | "function" => (
            "SELECT CAST(User AS CHAR), CAST(Host AS CHAR), CAST(Proc_priv AS CHAR)
             FROM mysql.procs_priv WHERE Db = ? AND Routine_name = ? AND Routine_type = UPPER(?)
             ORDER BY User, Host",
            if kind == "procedure" {
                "PROCEDURE"
            } else {
                "FUNCTION"
            },
        ),
        _ => return Ok(Vec::new()),
    };
    let rows = sqlx::query(query)
        .bind(database)
        .bind(name)
        .bind(kind)
        .fetch_all(conn)
        .await
        .map_err(|e| mysql_error(qualified, e))?;
    Ok(rows
        .iter()
        .filter(|row| !text(row, 2).is_empty())
        .map(|row| {
            format!(
                "GRANT {} ON {on} {qualified} TO {}@{}",
                text(row, 2).to_uppercase().replace(',', ", "),
                literal(&text(row, 0)),
                literal(&text(row, 1))
            )
        })
        .collect())
}

impl CodeObjects for Mysql {
    async fn code_objects(&mut self) -> Result<Vec<CodeObject>, ToolError> {
        catalogue(&mut self.conn, &self.database).await
    }

    async fn definitions(&mut self, objects: &[CodeObject]) -> Result<Vec<KeptObject>, ToolError> {
        let mut kept = Vec::new();
        for object in objects {
            let name = object.name.split_once('.').map_or("", |(_, n)| n);
            let qualified = format!("{}.{}", tick(&self.database), tick(name));
            let (sql_mode, create) = show_create(&mut self.conn, &object.kind, &qualified).await?;
            kept.push(KeptObject {
                object: object.clone(),
                drop: Some(format!(
                    "DROP {} IF EXISTS {qualified}",
                    object.kind.to_uppercase()
                )),
                create,
                grants: grants(
                    &mut self.conn,
                    &self.database,
                    &object.kind,
                    name,
                    &qualified,
                )
                .await?,
                sql_mode,
            });
        }
        Ok(kept)
    }

    fn recreated_objects(&mut self) -> Vec<ObjectChange> {
        std::mem::take(&mut self.restore.recreated)
    }
}

/// After the data commit (DDL commits implicitly): re-creates each kept
/// object the database does not hold as captured, under its own
/// `sql_mode`. Every object is tried; the failures are returned, one each.
pub(super) async fn recreate(
    conn: &mut MySqlConnection,
    database: &str,
    kept: &[KeptObject],
) -> (Vec<ObjectChange>, Vec<String>) {
    if kept.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let now = match catalogue(conn, database).await {
        Ok(now) => now,
        Err(e) => return (Vec::new(), vec![format!("objects: {}", e.message)]),
    };
    let session: Option<String> = sqlx::query_scalar("SELECT CAST(@@SESSION.sql_mode AS CHAR)")
        .fetch_one(&mut *conn)
        .await
        .ok();
    let (mut done, mut failures) = (Vec::new(), Vec::new());
    for (object, change) in crate::objects::to_recreate(kept, &now) {
        let mut failed = None;
        if let Some(drop) = &object.drop {
            failed = run(conn, drop, None).await.err();
        }
        if failed.is_none() {
            failed = run(conn, &object.create, object.sql_mode.as_deref())
                .await
                .err();
        }
        for grant in &object.grants {
            if failed.is_none() {
                failed = run(conn, grant, None).await.err();
            }
        }
        if let (Some(mode), Some(_)) = (&session, &object.sql_mode) {
            let _ = set_mode(conn, mode).await;
        }
        match failed {
            None => done.push(change),
            Some(why) => failures.push(format!(
                "objects: {} was not re-created: {why}",
                change.object
            )),
        }
    }
    (done, failures)
}

/// Runs one statement, under `sql_mode` when given; the error without the statement.
async fn run(conn: &mut MySqlConnection, sql: &str, mode: Option<&str>) -> Result<(), String> {
    if let Some(mode) = mode {
        set_mode(conn, mode).await.map_err(|e| e.message)?;
    }
    sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
        .execute(conn)
        .await
        .map(|_| ())
        .map_err(|e| {
            // A syntax error quotes the statement from `near '...`: never shown.
            let why = describe_error(&e);
            match why.find(" near '") {
                Some(at) => format!("{} (the statement is in the vault)", &why[..at]),
                None => why,
            }
        })
}
