//! PostgreSQL's code objects: views, functions, procedures and triggers of the database's own schemas, and its event triggers (an extension's left out), read with `search_path` set to `pg_catalog` so that definitions are fully qualified, and the kept ones re-created inside the restore transaction.
//!
//! Event triggers have no schema: they are listed, and cannot be kept.

use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Row};

use super::{Postgres, pg_error};
use crate::exit::ToolError;
use crate::names::quote_ident;
use crate::objects::{CodeObject, CodeObjects, KeptObject, ObjectChange, digest_of};

/// Every object: kind, name, detail, definition, a view's options, oid.
const CATALOGUE: &str = "
SELECT 'view' AS kind, n.nspname || '.' || c.relname AS name, '' AS detail,
       pg_get_viewdef(c.oid) AS definition,
       coalesce(array_to_string(c.reloptions, ', '), '') AS options, c.oid::int8 AS oid
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'v' AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                  AND d.objid = c.oid AND d.deptype = 'e')
UNION ALL
SELECT CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END,
       n.nspname || '.' || p.proname, '(' || pg_get_function_identity_arguments(p.oid) || ')',
       pg_get_functiondef(p.oid), '', p.oid::int8
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.prokind IN ('f', 'p') AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                  AND d.objid = p.oid AND d.deptype = 'e')
UNION ALL
SELECT 'trigger', n.nspname || '.' || t.tgname, ' on ' || n.nspname || '.' || c.relname,
       pg_get_triggerdef(t.oid), '', t.oid::int8
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT t.tgisinternal AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                  AND d.objid = c.oid AND d.deptype = 'e')
UNION ALL
SELECT 'event trigger', e.evtname::text, '',
       concat_ws(' ', e.evtevent, e.evtfoid::regprocedure::text, array_to_string(e.evttags, ',')), '', e.oid::int8
FROM pg_event_trigger e
WHERE NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_event_trigger'::regclass
                  AND d.objid = e.oid AND d.deptype = 'e')
ORDER BY 1, 2, 3";

/// One catalogue row: the object, its definition and oid.
struct Found {
    object: CodeObject,
    definition: String,
    /// A view's `WITH (...)` options, or empty.
    options: String,
    oid: i64,
}

/// Runs `work` with `search_path` set to `pg_catalog` alone (as pg_dump
/// does), then sets it back to what it was.
async fn qualified<T>(
    conn: &mut PgConnection,
    work: impl AsyncFnOnce(&mut PgConnection) -> Result<T, ToolError>,
) -> Result<T, ToolError> {
    let before: String = sqlx::query_scalar("SELECT current_setting('search_path')")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| pg_error("", e))?;
    sqlx::raw_sql("SET search_path = pg_catalog")
        .execute(&mut *conn)
        .await
        .map_err(|e| pg_error("", e))?;
    let result = work(conn).await;
    let reset = sqlx::query("SELECT set_config('search_path', $1, false)")
        .bind(&before)
        .execute(&mut *conn)
        .await;
    let value = result?;
    reset.map_err(|e| pg_error("", e))?;
    Ok(value)
}

async fn catalogue(conn: &mut PgConnection) -> Result<Vec<Found>, ToolError> {
    qualified(conn, async |conn| {
        let rows = sqlx::query(CATALOGUE)
            .fetch_all(conn)
            .await
            .map_err(|e| pg_error("", e))?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let (definition, options): (String, String) = (row.get(3), row.get(4));
                Found {
                    object: CodeObject {
                        kind: row.get(0),
                        name: row.get(1),
                        detail: row.get(2),
                        digest: digest_of(&[&definition, &options]),
                    },
                    definition,
                    options,
                    oid: row.get(5),
                }
            })
            .collect())
    })
    .await
}

/// `"schema"."name"` from a catalogue name (`schema.name`).
fn quoted(name: &str) -> String {
    let (schema, object) = name.split_once('.').unwrap_or(("public", name));
    format!("{}.{}", quote_ident(schema), quote_ident(object))
}

/// The statements that put an object's ACL back: everything taken from
/// PUBLIC, then each entry but the owner's granted again. None when the
/// ACL is the default.
async fn grants(conn: &mut PgConnection, found: &Found) -> Result<Vec<String>, ToolError> {
    let (acl_query, target) = match found.object.kind.as_str() {
        "view" => (
            "SELECT c.relacl IS NULL, coalesce(CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END, ''),
                    coalesce(a.privilege_type, ''), coalesce(a.is_grantable, false)
             FROM pg_class c LEFT JOIN LATERAL aclexplode(c.relacl) a ON a.grantee <> c.relowner
             WHERE c.oid = $1::int8::oid",
            format!("TABLE {}", quoted(&found.object.name)),
        ),
        "function" | "procedure" => (
            "SELECT p.proacl IS NULL, coalesce(CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END, ''),
                    coalesce(a.privilege_type, ''), coalesce(a.is_grantable, false)
             FROM pg_proc p LEFT JOIN LATERAL aclexplode(p.proacl) a ON a.grantee <> p.proowner
             WHERE p.oid = $1::int8::oid",
            format!(
                "ROUTINE {}{}",
                quoted(&found.object.name),
                found.object.detail
            ),
        ),
        _ => return Ok(Vec::new()),
    };
    let rows = sqlx::query(acl_query)
        .bind(found.oid)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| pg_error(&found.object.name, e))?;
    if rows.first().is_none_or(|r| r.get::<bool, _>(0)) {
        return Ok(Vec::new());
    }
    let mut statements = vec![format!("REVOKE ALL ON {target} FROM PUBLIC")];
    for row in rows {
        let (grantee, privilege, grantable): (String, String, bool) =
            (row.get(1), row.get(2), row.get(3));
        if grantee.is_empty() {
            continue;
        }
        let option = if grantable { " WITH GRANT OPTION" } else { "" };
        statements.push(format!(
            "GRANT {privilege} ON {target} TO {grantee}{option}"
        ));
    }
    Ok(statements)
}

impl CodeObjects for Postgres {
    async fn code_objects(&mut self) -> Result<Vec<CodeObject>, ToolError> {
        Ok(catalogue(&mut self.conn)
            .await?
            .into_iter()
            .map(|f| f.object)
            .collect())
    }

    async fn definitions(&mut self, objects: &[CodeObject]) -> Result<Vec<KeptObject>, ToolError> {
        let found = catalogue(&mut self.conn).await?;
        let mut kept = Vec::new();
        for found in found
            .iter()
            .filter(|f| objects.iter().any(|o| o.same(&f.object)))
        {
            let (drop, create) = match found.object.kind.as_str() {
                "view" => {
                    let options = match found.options.as_str() {
                        "" => String::new(),
                        options => format!(" WITH ({options})"),
                    };
                    let body = found.definition.trim_end().trim_end_matches(';');
                    let view = quoted(&found.object.name);
                    (
                        None,
                        format!("CREATE OR REPLACE VIEW {view}{options} AS {body}"),
                    )
                }
                "trigger" => {
                    let table = found.object.detail.trim_start_matches(" on ");
                    let trigger = found.object.name.split_once('.').map_or("", |(_, t)| t);
                    (
                        Some(format!(
                            "DROP TRIGGER IF EXISTS {} ON {}",
                            quote_ident(trigger),
                            quoted(table)
                        )),
                        found.definition.clone(),
                    )
                }
                _ => (None, found.definition.clone()),
            };
            kept.push(KeptObject {
                object: found.object.clone(),
                drop,
                create,
                grants: grants(&mut self.conn, found).await?,
                sql_mode: None,
            });
        }
        Ok(kept)
    }

    fn recreated_objects(&mut self) -> Vec<ObjectChange> {
        std::mem::take(&mut self.recreated)
    }
}

/// Inside the restore transaction: re-creates each kept object the
/// database does not hold as captured; a failure fails the restore.
pub(super) async fn recreate(
    conn: &mut PgConnection,
    kept: &[KeptObject],
) -> Result<Vec<ObjectChange>, ToolError> {
    if kept.is_empty() {
        return Ok(Vec::new());
    }
    let now: Vec<CodeObject> = catalogue(conn)
        .await?
        .into_iter()
        .map(|f| f.object)
        .collect();
    let mut done = Vec::new();
    for (object, change) in crate::objects::to_recreate(kept, &now) {
        let exists = crate::objects::exists(&object.object, &now);
        let statements = object
            .drop
            .iter()
            .filter(|_| exists)
            .chain(std::iter::once(&object.create))
            .chain(object.grants.iter());
        for statement in statements {
            sqlx::raw_sql(AssertSqlSafe(statement.clone()))
                .execute(&mut *conn)
                .await
                .map_err(|e| {
                    let e = pg_error("", e);
                    ToolError {
                        message: format!(
                            "{} could not be re-created from the vault: {}",
                            change.object, e.message
                        ),
                        ..e
                    }
                })?;
        }
        done.push(change);
    }
    Ok(done)
}
