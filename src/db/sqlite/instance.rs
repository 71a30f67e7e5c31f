//! Where a sqlite: URL leads (the file the driver opens, its path decoded), and the file a connection opened: its device and inode.

use std::os::unix::fs::MetadataExt;

use sqlx::sqlite::SqliteConnectOptions;

use super::Sqlite;
use crate::config::{DatabaseUrl, EngineKind};
use crate::exit::{Exit, ToolError};
use crate::guard::{Destination, Instance, ServerInstance};

/// The file a `sqlite:` URL opens: symbolic links, `..`, relative paths and
/// percent-encoding resolved.
pub fn destination(url: &DatabaseUrl) -> Result<Destination, ToolError> {
    let options: SqliteConnectOptions = url
        .expose()
        .parse()
        .map_err(|e| ToolError::usage(format!("{url}: not a SQLite URL: {e}")))?;
    Ok(Destination::file(options.get_filename()))
}

impl ServerInstance for Sqlite {
    async fn instance(&mut self) -> Result<Instance, ToolError> {
        let metadata = std::fs::metadata(&self.path).map_err(|e| {
            ToolError::new(
                Exit::Failed,
                format!(
                    "{}: cannot read the file's metadata: {e}",
                    self.path.display()
                ),
            )
        })?;
        Ok(Instance {
            engine: EngineKind::Sqlite,
            facts: vec![(
                "file",
                format!("device {} inode {}", metadata.dev(), metadata.ino()),
            )],
            database: "main".into(),
        })
    }
}
