//! `[[hook]]`: custom SQL run on acceptance before or after a step of the pipeline, each in a transaction of its own, recorded with its duration and the rows it touched.
//!
//! Each engine implements [`HookRunner`] (`src/db/<engine>/hooks.rs`): one
//! statement goes through the prepared-statement protocol (a second
//! statement cannot ride along), a script (`statements = "many"`) as a
//! simple query. The connection is acceptance's, already past the guards.

use serde::Serialize;

use crate::config::Hook;
use crate::exit::ToolError;

/// What the pipeline needs of a database to run hooks.
#[allow(async_fn_in_trait)]
pub trait HookRunner {
    /// Runs `sql` in a transaction of its own (committed, or rolled back
    /// on an error): one statement, or a script when `many`. Returns the
    /// rows it touched (for a script, as the engine counts them).
    async fn run_hook(&mut self, sql: &str, many: bool) -> Result<u64, ToolError>;
}

/// One hook's run, for the output and the report. Never its SQL.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HookRun {
    pub name: String,
    /// `before sanitize`, `after restore`.
    pub when: String,
    /// `ok`, `failed`, `warned` (failed with `on_error = "warn"`), or
    /// `skipped` (a dry run).
    pub outcome: String,
    pub rows: u64,
    pub seconds: f64,
    /// The error, for a hook that failed.
    pub error: Option<String>,
}

impl HookRun {
    pub fn line(&self) -> String {
        let mut line = format!(
            "hook {} ({}): {}, {} rows, {:.2} s",
            self.name, self.when, self.outcome, self.rows, self.seconds
        );
        if let Some(error) = &self.error {
            line.push_str(&format!(": {error}"));
        }
        line
    }
}

/// Runs the hooks that run `when` (`before`/`after` and a step's name), in
/// the configuration's order. A hook that fails with `on_error = "stop"`
/// ends the list with its error (its own transaction rolled back);
/// `warn` records it and goes on. A dry run runs none and lists them.
pub async fn run_hooks<H: HookRunner>(
    db: &mut H,
    hooks: &[Hook],
    when: &str,
    dry_run: bool,
    done: &mut Vec<HookRun>,
) -> Result<(), ToolError> {
    for hook in hooks.iter().filter(|h| h.when() == when) {
        let started = std::time::Instant::now();
        let mut record = HookRun {
            name: hook.label(),
            when: hook.when(),
            outcome: "ok".into(),
            rows: 0,
            seconds: 0.0,
            error: None,
        };
        if dry_run {
            record.outcome = "skipped".into();
            record.error = Some("not run in a dry run".into());
            done.push(record);
            continue;
        }
        let sql = hook.sql.as_deref().unwrap_or_default();
        let result = db.run_hook(sql, hook.many()).await;
        record.seconds = started.elapsed().as_secs_f64();
        match result {
            Ok(rows) => {
                record.rows = rows;
                done.push(record);
            }
            Err(error) if hook.stops_on_error() => {
                record.outcome = "failed".into();
                record.error = Some(error.message.clone());
                done.push(record);
                return Err(ToolError {
                    message: format!(
                        "hook {} ({}) failed, and was rolled back: {}",
                        hook.label(),
                        hook.when(),
                        error.message
                    ),
                    ..error
                });
            }
            Err(error) => {
                record.outcome = "warned".into();
                record.error = Some(error.message);
                done.push(record);
            }
        }
    }
    Ok(())
}
