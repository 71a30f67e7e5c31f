//! The dispatcher's side of every step's trait: each step owns its trait and its engines implement it; here `AnyEngine` forwards each call to the engine it holds, so that no step names the dispatcher.

use vault_format::UnlockedVault;

use super::{AnyEngine, each};
use crate::compare::{BucketSum, Compare, Relation, Snapshot};
use crate::exit::ToolError;
use crate::health::{Finding, HealthCheck, Inspection};
use crate::hooks::HookRunner;
use crate::init::{ApplicationRoles, Init, Sample, SurveyedTable};
use crate::jobs::{Job, ScheduledJobs};
use crate::leak_scan::{LeakScan, ScanTable};
use crate::links::{FoundLinks, LinkCheck};
use crate::names::TableName;
use crate::pseudonym::{Kind, PseudonymKey};
use crate::sanitize::{Determinism, ForeignKey, Sanitizer, UnrunnableTrigger};

impl LinkCheck for AnyEngine {
    async fn find_links(
        &mut self,
        captured: Option<&UnlockedVault>,
    ) -> Result<FoundLinks, ToolError> {
        each!(self, db => db.find_links(captured).await)
    }
}

impl ScheduledJobs for AnyEngine {
    async fn scheduled_jobs(&mut self) -> Result<Vec<Job>, ToolError> {
        each!(self, db => db.scheduled_jobs().await)
    }

    async fn disable_job(&mut self, job: &Job) -> Result<(), ToolError> {
        each!(self, db => db.disable_job(job).await)
    }
}

impl HealthCheck for AnyEngine {
    async fn inspect_health(&mut self) -> Result<Inspection, ToolError> {
        each!(self, db => db.inspect_health().await)
    }

    async fn repair_finding(&mut self, finding: &Finding) -> Result<Option<String>, ToolError> {
        each!(self, db => db.repair_finding(finding).await)
    }
}

impl Sanitizer for AnyEngine {
    fn differs_sql(&self, column: &str, expression: &str) -> String {
        each!(self, db => db.differs_sql(column, expression))
    }

    fn table_sql(&self, table: &TableName) -> String {
        each!(self, db => db.table_sql(table))
    }

    async fn pseudonymize(
        &mut self,
        table: &TableName,
        columns: &[(&String, Kind)],
        filter: Option<&str>,
        key: &PseudonymKey,
    ) -> Result<u64, ToolError> {
        each!(self, db => db.pseudonymize(table, columns, filter, key).await)
    }

    fn misshapen_sql(&self, column: &str, kind: &Kind) -> Option<String> {
        each!(self, db => db.misshapen_sql(column, kind))
    }

    async fn table_columns(&mut self, table: &TableName) -> Result<Option<Vec<String>>, ToolError> {
        each!(self, db => db.table_columns(table).await)
    }

    async fn begin_sanitize(&mut self) -> Result<(), ToolError> {
        each!(self, db => db.begin_sanitize().await)
    }

    async fn begin_verify(&mut self) -> Result<(), ToolError> {
        each!(self, db => db.begin_verify().await)
    }

    async fn end_transaction(&mut self, commit: bool) -> Result<(), ToolError> {
        each!(self, db => db.end_transaction(commit).await)
    }

    async fn sanitize_execute(&mut self, sql: &str) -> Result<u64, ToolError> {
        each!(self, db => db.sanitize_execute(sql).await)
    }

    async fn sanitize_count(&mut self, sql: &str) -> Result<u64, ToolError> {
        each!(self, db => db.sanitize_count(sql).await)
    }

    async fn referencing_keys(&mut self, table: &TableName) -> Result<Vec<ForeignKey>, ToolError> {
        each!(self, db => db.referencing_keys(table).await)
    }

    async fn determinism(
        &mut self,
        table: &TableName,
        fragment: &str,
    ) -> Result<Determinism, ToolError> {
        each!(self, db => db.determinism(table, fragment).await)
    }

    async fn dependent_matviews(
        &mut self,
        tables: &[TableName],
    ) -> Result<Vec<TableName>, ToolError> {
        each!(self, db => db.dependent_matviews(tables).await)
    }

    async fn refresh_matview(&mut self, view: &TableName) -> Result<(), ToolError> {
        each!(self, db => db.refresh_matview(view).await)
    }

    async fn user_triggers(&mut self, tables: &[TableName]) -> Result<Vec<String>, ToolError> {
        each!(self, db => db.user_triggers(tables).await)
    }

    async fn quiet_triggers(&mut self, tables: &[TableName]) -> Result<bool, ToolError> {
        each!(self, db => db.quiet_triggers(tables).await)
    }

    async fn wake_triggers(&mut self) -> Result<(), ToolError> {
        each!(self, db => db.wake_triggers().await)
    }

    async fn note_object_references(&mut self) -> Result<(), ToolError> {
        each!(self, db => db.note_object_references().await)
    }

    async fn unlink_released_objects(&mut self) -> Result<Vec<(u32, u64)>, ToolError> {
        each!(self, db => db.unlink_released_objects().await)
    }

    async fn count_unreferenced_objects(&mut self) -> Result<Option<u64>, ToolError> {
        each!(self, db => db.count_unreferenced_objects().await)
    }

    fn can_quiet_triggers(&self) -> bool {
        each!(self, db => db.can_quiet_triggers())
    }

    async fn unrunnable_triggers(
        &mut self,
        tables: &[TableName],
    ) -> Result<Vec<UnrunnableTrigger>, ToolError> {
        each!(self, db => db.unrunnable_triggers(tables).await)
    }
}

impl Compare for AnyEngine {
    async fn read_only(&mut self) -> Result<(), ToolError> {
        each!(self, db => db.read_only().await)
    }

    async fn sharing_server(&mut self) -> Result<(), ToolError> {
        each!(self, db => db.sharing_server().await)
    }

    async fn snapshot(&mut self) -> Result<Snapshot, ToolError> {
        each!(self, db => db.snapshot().await)
    }

    async fn bucket_sums(
        &mut self,
        relation: &Relation,
        columns: &[String],
        buckets: u32,
    ) -> Result<Vec<BucketSum>, ToolError> {
        each!(self, db => db.bucket_sums(relation, columns, buckets).await)
    }

    async fn bucket_keys(
        &mut self,
        relation: &Relation,
        columns: &[String],
        buckets: u32,
        which: &[u32],
    ) -> Result<Vec<(String, String)>, ToolError> {
        each!(self, db => db.bucket_keys(relation, columns, buckets, which).await)
    }

    async fn estimated_rows(&mut self, relation: &Relation) -> Result<u64, ToolError> {
        each!(self, db => db.estimated_rows(relation).await)
    }

    async fn derived_views(
        &mut self,
        tables: &[String],
    ) -> Result<Vec<(String, String)>, ToolError> {
        each!(self, db => db.derived_views(tables).await)
    }
}

impl LeakScan for AnyEngine {
    async fn scan_tables(&mut self) -> Result<Vec<ScanTable>, ToolError> {
        each!(self, db => db.scan_tables().await)
    }

    async fn read_text(
        &mut self,
        table: &TableName,
        columns: &[String],
        filter: Option<&str>,
        each: &mut dyn FnMut(usize, &str),
    ) -> Result<(), ToolError> {
        each!(self, db => db.read_text(table, columns, filter, each).await)
    }
}

impl HookRunner for AnyEngine {
    async fn run_hook(&mut self, sql: &str, many: bool) -> Result<u64, ToolError> {
        each!(self, db => db.run_hook(sql, many).await)
    }
}

impl Init for AnyEngine {
    async fn survey_tables(&mut self) -> Result<Vec<SurveyedTable>, ToolError> {
        each!(self, db => db.survey_tables().await)
    }

    async fn application_roles(&mut self) -> Result<ApplicationRoles, ToolError> {
        each!(self, db => db.application_roles().await)
    }

    async fn sample_values(
        &mut self,
        table: &SurveyedTable,
        column: &str,
        limit: u32,
    ) -> Result<Sample, ToolError> {
        each!(self, db => db.sample_values(table, column, limit).await)
    }
}
