//! SQLite's half of `vault links`: SQLite has no link objects, and says so.

use vault_format::UnlockedVault;

use super::Sqlite;
use crate::exit::ToolError;
use crate::links::{FoundLinks, LinkCheck};

impl LinkCheck for Sqlite {
    async fn find_links(
        &mut self,
        _captured: Option<&UnlockedVault>,
    ) -> Result<FoundLinks, ToolError> {
        Ok(FoundLinks {
            no_link_objects: Some(
                "SQLite has no link objects (no database links, foreign servers or subscriptions); nothing to check".into(),
            ),
            ..FoundLinks::default()
        })
    }
}
