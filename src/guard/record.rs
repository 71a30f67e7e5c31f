//! The server instance acceptance was on at capture, kept in the vault, and what changed by the restore: another cluster (a physical copy), a re-created database (a dump refresh).

use std::io::Write;

use serde::{Deserialize, Serialize};
use vault_format::{UnlockedVault, VaultWriter};

use super::instance::Instance;
use crate::exit::ToolError;

const STREAM: &str = "extras/instance";
const KIND: &str = "instance";

/// Facts that outlive a restart: a change in one of them means another
/// server or another database, not the same one started again.
const LASTING: [&str; 4] = [
    "system identifier",
    "server UUID",
    "data directory",
    "server host",
];

/// The instance as the vault keeps it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RecordedInstance {
    pub database: String,
    pub facts: Vec<(String, String)>,
}

impl From<&Instance> for RecordedInstance {
    fn from(instance: &Instance) -> Self {
        RecordedInstance {
            database: instance.database.clone(),
            facts: instance
                .facts
                .iter()
                .filter(|(name, _)| LASTING.contains(name))
                .map(|(name, value)| (name.to_string(), value.clone()))
                .collect(),
        }
    }
}

impl std::fmt::Display for RecordedInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "database {}", self.database)?;
        for (name, value) in &self.facts {
            write!(f, ", {name} {value}")?;
        }
        Ok(())
    }
}

/// Writes the instance a capture read into the vault.
pub fn write_record(writer: &VaultWriter, instance: &Instance) -> Result<(), ToolError> {
    let record = RecordedInstance::from(instance);
    let metadata = serde_json::json!({"kind": KIND, "encoding": "json"});
    let mut stream = writer.stream(STREAM, metadata)?;
    let bytes = serde_json::to_vec(&record).expect("an instance serializes");
    stream.write_all(&bytes)?;
    stream.finish()?;
    Ok(())
}

/// The instance recorded at capture; `None` for a vault written before.
pub fn read_record(vault: &UnlockedVault) -> Result<Option<RecordedInstance>, ToolError> {
    crate::extras::read_json(vault, KIND)
}

/// Lines for the report: the instance at capture, now, and each change,
/// with what it means.
pub fn describe(captured: Option<&RecordedInstance>, now: &Instance) -> Vec<String> {
    let now = RecordedInstance::from(now);
    let Some(captured) = captured else {
        return vec![format!("now: {now} (the vault records no instance)")];
    };
    let mut lines = vec![format!("at capture: {captured}"), format!("now: {now}")];
    for (name, before) in &captured.facts {
        if let Some((_, after)) = now.facts.iter().find(|(n, _)| n == name)
            && after != before
        {
            lines.push(format!(
                "changed: {name} {before} -> {after}: another server (a physical copy, a restored backup or a new cluster)"
            ));
        }
    }
    if captured.database != now.database {
        lines.push(format!(
            "changed: {} -> {}: the database was created again (a refresh by dump, or a copy)",
            captured.database, now.database
        ));
    }
    lines
}
