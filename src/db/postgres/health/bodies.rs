//! Function and procedure bodies that name tables, views or functions that do not exist, found with PostgreSQL's own parser (the pg_query crate).
//!
//! `CREATE FUNCTION` checks a body's syntax at most, and a `DROP TABLE`
//! never looks at bodies: after a refresh a function may name a table that
//! acceptance no longer has, and fails only when it runs. Each body is
//! parsed offline: SQL-language bodies with `pg_query::parse`, PL/pgSQL
//! bodies with `pg_query::parse_plpgsql` and then every SQL statement and
//! expression inside them with `pg_query::parse`. Every relation and
//! function they name is then looked up in the catalogs along the
//! function's own search_path (its `SET search_path`, or the database's).
//! Bodies in `BEGIN ATOMIC` form are skipped: the server tracks their
//! dependencies and refuses to drop what they use. Dynamic SQL (`EXECUTE`)
//! cannot be checked and is not.

use std::collections::{BTreeSet, HashSet};

use sqlx::Row;
use sqlx::postgres::PgConnection;

use super::{CATALOG, USER_SCHEMA, not_extension_member};
use crate::db::postgres::pg_error;
use crate::exit::ToolError;
use crate::health::{Finding, FindingKind, Inspection};

/// Names a body refers to, as the parser spells them (`name` or `schema.name`).
#[derive(Default)]
struct References {
    relations: BTreeSet<String>,
    functions: BTreeSet<String>,
    /// Relations that the body's own DDL creates or drops: not checked.
    ddl: BTreeSet<String>,
}

impl References {
    fn add(&mut self, sql: &str) -> bool {
        let Ok(parsed) = pg_query::parse(sql, 0) else {
            return false;
        };
        self.relations.extend(parsed.select_tables());
        self.relations.extend(parsed.dml_tables());
        self.ddl.extend(parsed.ddl_tables());
        self.functions.extend(parsed.call_functions());
        true
    }

    /// A PL/pgSQL statement or expression: a full statement, an expression
    /// (`x > 0`), or an assignment (`x := expr`).
    fn add_plpgsql(&mut self, query: &str) {
        if self.add(query) || self.add(&format!("SELECT {query}")) {
            return;
        }
        if let Some((_, value)) = query.split_once(":=") {
            self.add(&format!("SELECT {value}"));
        }
    }
}

/// Every `"query"` string in the JSON of a PL/pgSQL function.
fn queries(json: &serde_json::Value, found: &mut Vec<String>) {
    match json {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match value {
                    serde_json::Value::String(text) if key == "query" => found.push(text.clone()),
                    _ => queries(value, found),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| queries(v, found)),
        _ => {}
    }
}

/// The catalogs' names: every relation and function, by schema.
struct Catalog {
    relations: HashSet<(String, String)>,
    functions: HashSet<(String, String)>,
    /// The database's search_path with `$user` resolved.
    default_path: Vec<String>,
    user: String,
}

impl Catalog {
    async fn read(conn: &mut PgConnection) -> Result<Self, ToolError> {
        let pairs = |rows: Vec<sqlx::postgres::PgRow>| -> HashSet<(String, String)> {
            rows.into_iter().map(|r| (r.get(0), r.get(1))).collect()
        };
        let relations = sqlx::query(
            "SELECT n.nspname::text, c.relname::text FROM pg_catalog.pg_class c
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| pg_error("", e))?;
        let functions = sqlx::query(
            "SELECT DISTINCT n.nspname::text, p.proname::text FROM pg_catalog.pg_proc p
             JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| pg_error("", e))?;
        let path: (String, String) =
            sqlx::query_as("SELECT current_setting('search_path'), current_user::text")
                .fetch_one(&mut *conn)
                .await
                .map_err(|e| pg_error("", e))?;
        Ok(Catalog {
            relations: pairs(relations),
            functions: pairs(functions),
            default_path: search_path(&path.0, &path.1),
            user: path.1,
        })
    }

    /// Whether `name` (`name`, `schema.name` or `db.schema.name`) resolves in `set`.
    fn resolves(set: &HashSet<(String, String)>, name: &str, path: &[String]) -> bool {
        let parts: Vec<&str> = name.split('.').collect();
        match parts.as_slice() {
            [.., schema, object] => set.contains(&(schema.to_string(), object.to_string())),
            [object] => std::iter::once("pg_catalog")
                .chain(path.iter().map(String::as_str))
                .any(|schema| set.contains(&(schema.to_owned(), object.to_string()))),
            [] => true,
        }
    }
}

/// A search_path setting as a list of schemas: quotes removed, unquoted
/// names folded to lower case, `$user` replaced, `pg_temp` left out.
fn search_path(setting: &str, user: &str) -> Vec<String> {
    setting
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(
            |s| match s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
                Some(quoted) => quoted.replace("\"\"", "\""),
                None => s.to_lowercase(),
            },
        )
        .map(|s| if s == "$user" { user.to_owned() } else { s })
        .filter(|s| s != "pg_temp")
        .collect()
}

/// A trigger function's body as a plain PL/pgSQL function returning `int`
/// (`RETURN NEW` is an expression there), quoted with a dollar tag that
/// the body does not hold.
fn plain_function(body: &str) -> String {
    let mut tag = "$vault$".to_owned();
    while body.contains(&tag) {
        tag.insert(1, 'x');
    }
    format!("CREATE FUNCTION vault_health_probe() RETURNS int LANGUAGE plpgsql AS {tag}{body}{tag}")
}

/// Checks every SQL and PL/pgSQL function and procedure outside the system
/// schemas and extensions.
pub(super) async fn check(conn: &mut PgConnection, out: &mut Inspection) -> Result<(), ToolError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT n.nspname::text, p.proname::text,
                pg_catalog.pg_get_function_identity_arguments(p.oid), l.lanname::text,
                p.prokind = 'p', p.prosrc, p.prosqlbody IS NOT NULL,
                (SELECT substring(c FROM 13) FROM unnest(p.proconfig) AS c
                 WHERE c LIKE 'search\\_path=%' LIMIT 1),
                CASE WHEN l.lanname = 'plpgsql' THEN pg_catalog.pg_get_functiondef(p.oid) END,
                p.prorettype IN ('pg_catalog.trigger'::regtype, 'pg_catalog.event_trigger'::regtype)
         FROM pg_catalog.pg_proc p
         JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
         JOIN pg_catalog.pg_language l ON l.oid = p.prolang
         WHERE l.lanname IN ('sql', 'plpgsql') AND {USER_SCHEMA} AND {}
         ORDER BY 1, 2, 3",
        not_extension_member("pg_proc", "p.oid")
    )))
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| pg_error("", e))?;
    if rows.is_empty() {
        return Ok(());
    }
    let catalog = Catalog::read(conn).await?;
    for row in rows {
        let (schema, name, arguments, language): (String, String, String, String) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        let procedure: bool = row.get(4);
        let source: String = row.get(5);
        let atomic: bool = row.get(6);
        let own_path: Option<String> = row.get(7);
        let definition: Option<String> = match row.get::<bool, _>(9) {
            // pg_query's PL/pgSQL parser writes broken JSON for trigger
            // functions; the same body as a plain function reads the same.
            true => Some(plain_function(&source)),
            false => row.get(8),
        };
        let object = format!("{schema}.{name}({arguments})");
        let noun = if procedure { "procedure" } else { "function" };
        if atomic {
            continue;
        }
        let mut refs = References::default();
        let method = if language == "plpgsql" {
            let parsed = definition
                .as_deref()
                .map(pg_query::parse_plpgsql)
                .transpose();
            match parsed {
                Ok(Some(json)) => {
                    let mut found = Vec::new();
                    queries(&json, &mut found);
                    for query in &found {
                        refs.add_plpgsql(query);
                    }
                }
                Ok(None) => continue,
                Err(e) => {
                    out.notes.push(format!(
                        "{noun} {object}: its PL/pgSQL body could not be parsed ({e}); not checked"
                    ));
                    continue;
                }
            }
            "pg_query: PostgreSQL's PL/pgSQL parser, then its SQL parser on each statement"
        } else {
            if !refs.add(&source) {
                out.notes.push(format!(
                    "{noun} {object}: its SQL body could not be parsed; not checked"
                ));
                continue;
            }
            "pg_query: PostgreSQL's SQL parser on the body"
        };
        let path = match &own_path {
            Some(setting) => search_path(setting, &catalog.user),
            None => catalog.default_path.clone(),
        };
        let missing_relations: Vec<&String> = refs
            .relations
            .iter()
            .filter(|r| !refs.ddl.contains(*r))
            .filter(|r| !Catalog::resolves(&catalog.relations, r, &path))
            .collect();
        let missing_functions: Vec<String> = refs
            .functions
            .iter()
            .filter(|f| !Catalog::resolves(&catalog.functions, f, &path))
            .map(|f| format!("{f}()"))
            .collect();
        if missing_relations.is_empty() && missing_functions.is_empty() {
            continue;
        }
        let mut missing = Vec::new();
        if !missing_relations.is_empty() {
            missing.push(format!(
                "table or view {}",
                missing_relations
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !missing_functions.is_empty() {
            missing.push(format!("function {}", missing_functions.join(", ")));
        }
        out.findings.push(
            Finding::new(
                FindingKind::BrokenFunction,
                object,
                format!(
                    "{language} {noun} refers to {}, which does not exist (search_path: {}): it fails when it runs",
                    missing.join(" and "),
                    path.join(", ")
                ),
                format!("{method}; names resolved in the {CATALOG}"),
            )
            .what_to_do(format!(
                "recreate the missing objects, or fix the {noun} with CREATE OR REPLACE {}",
                noun.to_uppercase()
            )),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plpgsql_statements_and_expressions_are_read() {
        let json = pg_query::parse_plpgsql(
            "CREATE FUNCTION f(n int) RETURNS int LANGUAGE plpgsql AS $$
             DECLARE total int;
             BEGIN
               SELECT count(*) INTO total FROM gone WHERE id > n;
               IF total > (SELECT max(x) FROM other.kept) THEN
                 total := helper(total);
               END IF;
               PERFORM audit_it(total);
               RETURN total;
             END $$",
        )
        .unwrap();
        let mut found = Vec::new();
        queries(&json, &mut found);
        let mut refs = References::default();
        for query in &found {
            refs.add_plpgsql(query);
        }
        assert!(refs.relations.contains("gone"), "{found:?}");
        assert!(refs.relations.contains("other.kept"), "{found:?}");
        assert!(refs.functions.contains("helper"), "{found:?}");
        assert!(refs.functions.contains("audit_it"), "{found:?}");
    }

    #[test]
    fn names_resolve_along_the_search_path() {
        let set: HashSet<(String, String)> = [("app".into(), "t".into())].into();
        let path = search_path("\"$user\", App", "bob");
        assert_eq!(path, ["bob", "app"]);
        assert!(Catalog::resolves(&set, "t", &path));
        assert!(Catalog::resolves(&set, "app.t", &[]));
        assert!(!Catalog::resolves(&set, "public.t", &path));
        assert!(!Catalog::resolves(&set, "t", &["public".into()]));
    }
}
