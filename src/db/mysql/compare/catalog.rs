//! The schema of the URL's database from information_schema: tables, columns, indexes, constraints, views, routines, triggers and events, as plain data.
//!
//! Names leave out the database, and view definitions have it removed, so
//! two databases of different names compare equal. The views of
//! information_schema that list indexes and constraints open each table,
//! and opening a FEDERATED table connects to its remote server: when the
//! database has FEDERATED tables, those views are read table by table,
//! for the other tables only. CONNECT and SPIDER tables are links as well.

mod code;
mod keys;

use std::collections::BTreeMap;

use sqlx::mysql::{MySqlConnection, MySqlRow};
use sqlx::{AssertSqlSafe, Row};

use super::super::link_check::{Connection, federated_tables};
use super::super::linked::Linked;
use super::super::{Mysql, mysql_error};
use crate::compare::{Relation, SchemaObject, Snapshot};
use crate::exit::ToolError;

/// Every column of a query's rows as text (`None` for NULL).
fn texts(row: &MySqlRow) -> Result<Vec<Option<String>>, sqlx::Error> {
    (0..row.len())
        .map(|i| {
            let bytes: Option<Vec<u8>> = row.try_get_unchecked(i)?;
            Ok(bytes.map(|b| String::from_utf8_lossy(&b).into_owned()))
        })
        .collect()
}

/// Runs a catalog query with the database (and a table, when scoped) bound.
pub(super) async fn query(
    conn: &mut MySqlConnection,
    what: &str,
    sql: &str,
    database: &str,
    table: Option<&str>,
) -> Result<Vec<Vec<Option<String>>>, ToolError> {
    let mut q = sqlx::query(AssertSqlSafe(sql.to_owned())).bind(database.to_owned());
    if let Some(table) = table {
        q = q.bind(table.to_owned());
    }
    let rows = q
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| mysql_error(what, e))?;
    rows.iter()
        .map(texts)
        .collect::<Result<_, _>>()
        .map_err(|e| mysql_error(what, e))
}

/// A catalog query over the tables that can be opened without connecting
/// anywhere: `sql` ends in a WHERE clause on the schema, to which a table
/// condition on `table_column` is added when the database has FEDERATED tables.
pub(super) async fn scoped(
    conn: &mut MySqlConnection,
    what: &str,
    sql: &str,
    table_column: &str,
    database: &str,
    scope: &Scope,
) -> Result<Vec<Vec<Option<String>>>, ToolError> {
    match scope {
        Scope::Whole => query(conn, what, sql, database, None).await,
        Scope::Tables(tables) => {
            let sql = format!("{sql} AND {table_column} = ?");
            let mut rows = Vec::new();
            for table in tables {
                rows.extend(query(conn, what, &sql, database, Some(table)).await?);
            }
            Ok(rows)
        }
    }
}

/// Which tables the index and constraint views may open.
pub(super) enum Scope {
    Whole,
    Tables(Vec<String>),
}

pub(super) fn object(
    kind: &str,
    name: String,
    table: Option<&str>,
    attrs: Vec<(&str, Option<String>)>,
) -> SchemaObject {
    SchemaObject {
        kind: kind.into(),
        name,
        table: table.map(str::to_owned),
        role: None,
        attrs: attrs
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
            .collect(),
    }
}

/// `(major, minor)` of a version string such as `10.11.9-MariaDB-...` or `8.0.36`.
fn version_of(version: &str) -> (u32, u32) {
    let mut parts = version
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|p| p.parse().ok());
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// Removes the database's own qualification (`` `db`. ``) from a definition.
pub(super) fn unqualified(definition: &str, database: &str) -> String {
    let backticked = format!("`{}`.", database.replace('`', "``"));
    let quoted = format!("\"{}\".", database.replace('"', "\"\""));
    definition.replace(&backticked, "").replace(&quoted, "")
}

/// Reads the whole schema of `db`'s database.
pub(super) async fn snapshot(db: &mut Mysql) -> Result<Snapshot, ToolError> {
    let database = db.database().to_owned();
    let flavor = db.flavor();
    let version = version_of(db.version());
    let conn = &mut db.conn;
    let mut snapshot = Snapshot::default();

    let federated: BTreeMap<String, String> = federated_tables(conn, &database)
        .await?
        .into_iter()
        .map(|t| {
            let shown = match &t.unreadable {
                Some(why) => format!("(unreadable: {why})"),
                None => Connection::parse(&t.connection).map_or_else(String::new, |c| c.redacted()),
            };
            (t.table, shown)
        })
        .collect();
    // CONNECT and SPIDER tables are links too: never opened, never read.
    let linked = Linked::of_schema(conn, &database).await?;

    // Tables (views come with their definitions below).
    let tables = query(
        conn,
        "tables",
        "SELECT TABLE_NAME, TABLE_TYPE, ENGINE, TABLE_COLLATION
         FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME",
        &database,
        None,
    )
    .await?;
    let mut data_tables = Vec::new();
    let mut views = Vec::new();
    for row in tables {
        let [name, kind, engine, collation] = <[Option<String>; 4]>::try_from(row)
            .map_err(|_| ToolError::failed("tables: unexpected catalog output"))?;
        let (name, kind) = (name.unwrap_or_default(), kind.unwrap_or_default());
        match kind.as_str() {
            "VIEW" | "SYSTEM VIEW" => views.push(name),
            "SEQUENCE" => {
                snapshot
                    .objects
                    .push(object("sequence", name, None, vec![("engine", engine)]))
            }
            _ if federated.contains_key(&name) || linked.contains(&database, &name) => {
                let connection = federated.get(&name).cloned();
                snapshot.objects.push(object(
                    "foreign-table",
                    name,
                    None,
                    vec![
                        ("engine", engine),
                        ("collation", collation),
                        ("connection", connection),
                    ],
                ));
            }
            _ => {
                let versioned = (kind == "SYSTEM VERSIONED").then(|| "system versioned".to_owned());
                snapshot.objects.push(object(
                    "table",
                    name.clone(),
                    None,
                    vec![
                        ("engine", engine),
                        ("collation", collation),
                        ("versioning", versioned),
                    ],
                ));
                data_tables.push(name);
            }
        }
    }
    let scope = if federated.is_empty() && linked.is_empty() {
        Scope::Whole
    } else {
        Scope::Tables(data_tables.clone())
    };

    // Columns (of tables; a view's are its definition's).
    let mut columns: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in query(
        conn,
        "columns",
        "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT,
                CHARACTER_SET_NAME, COLLATION_NAME, GENERATION_EXPRESSION, EXTRA
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, COLUMN_NAME",
        &database,
        None,
    )
    .await?
    {
        let [
            table,
            name,
            ty,
            nullable,
            default,
            charset,
            collation,
            generation,
            extra,
        ] = <[Option<String>; 9]>::try_from(row)
            .map_err(|_| ToolError::failed("columns: unexpected catalog output"))?;
        let (table, name) = (table.unwrap_or_default(), name.unwrap_or_default());
        if views.contains(&table) {
            continue;
        }
        let extra = extra.unwrap_or_default();
        let generated = generation.filter(|g| !g.is_empty()).map(|g| {
            let how = if extra.to_ascii_uppercase().contains("STORED")
                || extra.to_ascii_uppercase().contains("PERSISTENT")
            {
                "stored"
            } else {
                "virtual"
            };
            format!("{g} ({how})")
        });
        let extra = (!extra.is_empty() && generated.is_none()).then_some(extra);
        snapshot.objects.push(object(
            "column",
            format!("{table}.{name}"),
            Some(&table),
            vec![
                ("type", ty),
                ("nullable", nullable),
                ("default", if generated.is_none() { default } else { None }),
                ("charset", charset),
                ("collation", collation),
                ("generated", generated),
                ("extra", extra),
            ],
        ));
        columns.entry(table).or_default().push(name);
    }
    keys::indexes(conn, &database, flavor, version, &scope, &mut snapshot).await?;
    let primary_keys = keys::constraints(conn, &database, flavor, &scope, &mut snapshot).await?;
    code::read(conn, &database, &mut snapshot).await?;

    for table in data_tables {
        snapshot.relations.push(Relation {
            name: table.clone(),
            schema: None,
            columns: columns.get(&table).cloned().unwrap_or_default(),
            key: primary_keys.get(&table).cloned().unwrap_or_default(),
            table,
            materialized: false,
        });
    }
    Ok(snapshot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_definitions() {
        assert_eq!(version_of("10.11.19-MariaDB-0+deb12u1"), (10, 11));
        assert_eq!(version_of("8.0.36"), (8, 0));
        assert_eq!(
            unqualified("select `acc`.`item`.`id` AS `id` from `acc`.`item`", "acc"),
            "select `item`.`id` AS `id` from `item`"
        );
    }
}
