//! SQLite's quarantine: a file has no accounts to close out, and says so.

use super::Sqlite;
use crate::exit::ToolError;
use crate::quarantine::{Closing, Quarantine};

impl Quarantine for Sqlite {
    async fn close_quarantine(&mut self, _roles: &[String]) -> Result<Closing, ToolError> {
        Ok(Closing {
            unsupported: Some(
                "SQLite has no accounts: anyone who can read the file can read it; keep testers away from the file until verify has passed".into(),
            ),
            ..Closing::default()
        })
    }

    async fn open_quarantine(&mut self, _reopen: &[String]) -> Result<Vec<String>, ToolError> {
        Ok(Vec::new())
    }
}
