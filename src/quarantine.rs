//! The quarantine: from the start of `vault restore` until verify passes, acceptance is closed to the application's roles or accounts, so that testers never see production's data before it is sanitized.
//!
//! Each engine implements [`Quarantine`]: PostgreSQL revokes CONNECT on the
//! database (from PUBLIC and the roles), records what it revoked in a
//! database setting (`vault.quarantine`) so that any later run or `vault
//! quarantine open` can give back exactly that, and ends the sessions that
//! may no longer connect; MariaDB/MySQL lock the accounts and end their
//! sessions; SQLite has no accounts and says so.

use serde::{Deserialize, Serialize};

use crate::exit::ToolError;

/// What closing did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Closing {
    /// What was closed, a line each (`CONNECT on camis revoked from PUBLIC`).
    pub closed: Vec<String>,
    /// Sessions ended because they may no longer connect.
    pub sessions_ended: u64,
    /// Set when the engine cannot close the database at all.
    pub unsupported: Option<String>,
    /// What this closing shut that opening gives back (MariaDB/MySQL: the
    /// accounts it locked; PostgreSQL keeps its record in the database).
    pub reopen: Vec<String>,
}

/// Closes and opens acceptance. Each engine implements it.
#[allow(async_fn_in_trait)]
pub trait Quarantine {
    /// Closes acceptance to `roles` (an earlier quarantine that was not
    /// opened stays as it is, and is reported).
    async fn close_quarantine(&mut self, roles: &[String]) -> Result<Closing, ToolError>;

    /// Gives back what the quarantine closed: on MariaDB/MySQL the
    /// accounts in `reopen` that are locked; on PostgreSQL what the
    /// database's record says. A line per thing opened (none when
    /// acceptance was not quarantined).
    async fn open_quarantine(&mut self, reopen: &[String]) -> Result<Vec<String>, ToolError>;
}

/// The quarantine of one run, for its report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuarantineRecord {
    /// The roles or accounts it keeps out.
    pub roles: Vec<String>,
    /// RFC 3339 UTC.
    pub closed_at: String,
    pub closed: Vec<String>,
    pub sessions_ended: u64,
    /// What opening gives back (see [`Closing::reopen`]).
    #[serde(default)]
    pub reopen: Vec<String>,
    /// RFC 3339 UTC, once opened.
    pub opened_at: Option<String>,
    pub opened: Vec<String>,
    /// Why it was not taken, or why it stays closed and how to open it.
    pub note: Option<String>,
}

impl QuarantineRecord {
    /// One line for the terminal and the report.
    pub fn line(&self) -> String {
        let closed = if self.closed.is_empty() {
            "nothing to close".to_owned()
        } else {
            self.closed.join("; ")
        };
        let ended = match self.sessions_ended {
            0 => String::new(),
            n => format!(", {n} sessions ended"),
        };
        match (&self.opened_at, &self.note) {
            (Some(at), _) => format!(
                "closed at {} ({closed}{ended}); opened at {at} after verify passed",
                self.closed_at
            ),
            (None, Some(note)) => format!("{note} ({closed}{ended})"),
            (None, None) => format!("closed at {} ({closed}{ended})", self.closed_at),
        }
    }
}

/// The command that opens a quarantine by hand.
pub fn open_command(config: &std::path::Path) -> String {
    format!("vault quarantine open --config {}", config.display())
}
