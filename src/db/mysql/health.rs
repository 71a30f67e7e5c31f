//! MySQL/MariaDB's side of `vault health`: broken views, routines and triggers, production events, AUTO_INCREMENT behind.

use super::{Mysql, not_built};
use crate::exit::ToolError;
use crate::health::{Finding, HealthCheck, Inspection};

impl HealthCheck for Mysql {
    async fn inspect_health(&mut self) -> Result<Inspection, ToolError> {
        Err(not_built("health"))
    }

    async fn repair_finding(&mut self, _finding: &Finding) -> Result<Option<String>, ToolError> {
        Err(not_built("health"))
    }
}
