//! SQLite has no scheduled jobs: nothing to record, nothing to disable.

use super::Sqlite;
use crate::exit::ToolError;
use crate::jobs::{Job, ScheduledJobs};

impl ScheduledJobs for Sqlite {
    async fn scheduled_jobs(&mut self) -> Result<Vec<Job>, ToolError> {
        Ok(Vec::new())
    }

    async fn disable_job(&mut self, _job: &Job) -> Result<(), ToolError> {
        Ok(())
    }
}
