//! The names every step speaks: tables, columns, a database's identity, and identifier quoting.
//!
//! Shared vocabulary at the bottom of the tool: it imports nothing of the
//! steps or the engines, so a step that needs a quoted name never reaches the
//! database layer.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::config::EngineKind;

/// A table name as configured: `name` or `schema.name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TableName {
    pub schema: Option<String>,
    pub name: String,
}

impl TableName {
    /// Parses `name` or `schema.name` (validated by the configuration).
    pub fn parse(text: &str) -> Self {
        match text.split_once('.') {
            Some((schema, name)) => TableName {
                schema: Some(schema.to_owned()),
                name: name.to_owned(),
            },
            None => TableName {
                schema: None,
                name: text.to_owned(),
            },
        }
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.schema {
            Some(schema) => write!(f, "{schema}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// One column of a table as the database describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    /// The declared type, as the engine spells it.
    pub data_type: String,
    pub nullable: bool,
    pub has_default: bool,
    /// Computed by the database; never written by a restore.
    pub generated: bool,
}

/// A table as the database describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableInfo {
    pub name: TableName,
    pub columns: Vec<Column>,
    pub primary_key: Vec<String>,
    /// Tables this one references by foreign key.
    pub references: Vec<TableName>,
}

impl TableInfo {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Which database a vault came from, or a restore goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub engine: EngineKind,
    pub host: String,
    pub port: Option<u16>,
    pub database: String,
    /// PostgreSQL's system identifier; shared by physical clones, so never
    /// enough alone to tell two databases apart.
    pub system_identifier: Option<String>,
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(port) => write!(
                f,
                "{} {}:{}/{}",
                self.engine, self.host, port, self.database
            ),
            None => write!(f, "{} {}:{}", self.engine, self.host, self.database),
        }
    }
}

/// Quotes an identifier with double quotes (PostgreSQL, SQLite).
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes a possibly schema-qualified table name with double quotes.
pub fn quote_table(table: &TableName) -> String {
    match &table.schema {
        Some(schema) => format!("{}.{}", quote_ident(schema), quote_ident(&table.name)),
        None => quote_ident(&table.name),
    }
}
