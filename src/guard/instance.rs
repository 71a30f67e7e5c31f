//! The server instance behind a connection, read after connecting: what tells a database apart from the same one reached by another name, and from a physical copy of it on another server.

use std::fmt;

use crate::config::EngineKind;
use crate::exit::ToolError;

/// What identifies the server instance and the database a connection
/// reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub engine: EngineKind,
    /// Facts of the running server, by name (PostgreSQL: the postmaster's
    /// start time, port, system identifier; MariaDB/MySQL: host name, port,
    /// data directory, server UUID; SQLite: the file's device and inode).
    /// A fact that one side could not read (a privilege) is left out.
    pub facts: Vec<(&'static str, String)>,
    /// The database (and its OID on PostgreSQL).
    pub database: String,
}

impl Instance {
    /// Whether both are the same database of the same running server: the
    /// same engine and database, and every fact that both sides read equal.
    pub fn same_as(&self, other: &Instance) -> bool {
        let shared: Vec<_> = self
            .facts
            .iter()
            .filter_map(|(name, value)| {
                other
                    .facts
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| (value, v))
            })
            .collect();
        self.engine == other.engine
            && self.database == other.database
            && !shared.is_empty()
            && shared.iter().all(|(a, b)| a == b)
    }
}

impl fmt::Display for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "database {}", self.database)?;
        for (name, value) in &self.facts {
            write!(f, ", {name} {value}")?;
        }
        Ok(())
    }
}

/// Reads the instance behind a connection. Each engine implements it.
#[allow(async_fn_in_trait)]
pub trait ServerInstance {
    async fn instance(&mut self) -> Result<Instance, ToolError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(facts: &[(&'static str, &str)], database: &str) -> Instance {
        Instance {
            engine: EngineKind::Postgres,
            facts: facts.iter().map(|(n, v)| (*n, v.to_string())).collect(),
            database: database.into(),
        }
    }

    #[test]
    fn a_physical_copy_is_another_instance() {
        let production = instance(
            &[
                ("system identifier", "7"),
                ("started", "10:00"),
                ("port", "5432"),
            ],
            "camis",
        );
        let alias = instance(&[("started", "10:00"), ("port", "5432")], "camis");
        assert!(production.same_as(&alias), "the facts both read agree");
        let copy = instance(
            &[
                ("system identifier", "7"),
                ("started", "11:00"),
                ("port", "5433"),
            ],
            "camis",
        );
        assert!(!production.same_as(&copy));
        let other_database = instance(&[("started", "10:00"), ("port", "5432")], "acc");
        assert!(!production.same_as(&other_database));
    }
}
