//! `[[sanitize]]` rules -> statements in one transaction, foreign keys followed, and the counts that verify them.
//!
//! The engine-independent part: rule order, the foreign-key walk (children
//! before parents), rollback on the first error, the report, and the
//! verification counts. Each engine implements [`Sanitizer`] in its own
//! `db/` module (the catalog queries and what is particular to its SQL);
//! docs/sanitize.md describes the behaviour.

mod runnable;
mod sql_text;
mod verify;
mod walk;

use std::collections::BTreeSet;

use serde::Serialize;

use crate::config::{Config, SanitizeRule};
use crate::exit::{Exit, ToolError};
use crate::names::{TableName, quote_ident};
use crate::pseudonym::{Kind, PseudonymKey};
pub use runnable::{UnrunnableTrigger, check_runnable};
pub(crate) use sql_text::read_sql;
pub use verify::verify;
use walk::{KeyCache, Walk};

/// What a schema does to referencing rows when their parent row is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnDelete {
    NoAction,
    Restrict,
    Cascade,
    SetNull,
    SetDefault,
}

impl OnDelete {
    fn sql(self) -> &'static str {
        match self {
            OnDelete::NoAction => "NO ACTION",
            OnDelete::Restrict => "RESTRICT",
            OnDelete::Cascade => "CASCADE",
            OnDelete::SetNull => "SET NULL",
            OnDelete::SetDefault => "SET DEFAULT",
        }
    }
}

/// One foreign key that refers to a table, as the catalog describes it.
#[derive(Debug, Clone)]
pub struct ForeignKey {
    /// The constraint's name (SQLite, whose keys have none: a description).
    pub name: String,
    pub child: TableName,
    pub child_columns: Vec<String>,
    pub parent_columns: Vec<String>,
    pub on_delete: OnDelete,
}

/// Whether an SQL fragment gives the same value when evaluated again later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Determinism {
    /// Only immutable or stable functions and no clock.
    Deterministic,
    /// It reads the transaction clock (now(), CURRENT_TIMESTAMP, date('now')).
    Clock(String),
    /// It calls a volatile function (random() and the like).
    Volatile(String),
    /// The engine could not tell (the reason).
    Unknown(String),
}

/// What an engine provides to the sanitize step. Statements are built by
/// this module from quoted identifiers and the operator's SQL.
#[allow(async_fn_in_trait)]
pub trait Sanitizer {
    /// A condition true when `column` does not hold the value of
    /// `expression`, NULLs included (the verification of a `set` rule).
    fn differs_sql(&self, column: &str, expression: &str) -> String {
        format!("{} IS DISTINCT FROM ({expression})", quote_ident(column))
    }

    /// The table as SQL: quoted, and schema-qualified where the engine needs it.
    fn table_sql(&self, table: &TableName) -> String;

    /// The columns of a table; `None` when there is no such table. A
    /// relation that is not a table is a usage error.
    async fn table_columns(&mut self, table: &TableName) -> Result<Option<Vec<String>>, ToolError>;

    /// Opens the one write transaction that every rule runs in.
    async fn begin_sanitize(&mut self) -> Result<(), ToolError>;

    /// Opens the verification transaction (a fresh snapshot; nothing is written).
    async fn begin_verify(&mut self) -> Result<(), ToolError>;

    /// Commits (`true`) or rolls back (`false`) the open transaction.
    async fn end_transaction(&mut self, commit: bool) -> Result<(), ToolError>;

    /// Runs one statement; returns the rows it changed.
    async fn sanitize_execute(&mut self, sql: &str) -> Result<u64, ToolError>;

    /// Runs one `SELECT count(*)`.
    async fn sanitize_count(&mut self, sql: &str) -> Result<u64, ToolError>;

    /// The foreign keys that refer to `table`.
    async fn referencing_keys(&mut self, table: &TableName) -> Result<Vec<ForeignKey>, ToolError>;

    /// Whether `fragment`, evaluated over `table`'s rows, is deterministic.
    /// Runs inside the verification transaction and leaves it as it was.
    async fn determinism(
        &mut self,
        table: &TableName,
        fragment: &str,
    ) -> Result<Determinism, ToolError>;

    /// Materialized views that depend, directly or through views, on any of
    /// `tables`, in the order they must be refreshed.
    async fn dependent_matviews(
        &mut self,
        _tables: &[TableName],
    ) -> Result<Vec<TableName>, ToolError> {
        Ok(Vec::new())
    }

    /// Refreshes one materialized view inside the sanitize transaction.
    async fn refresh_matview(&mut self, _view: &TableName) -> Result<(), ToolError> {
        Ok(())
    }

    /// The enabled user triggers on `tables`, each as `table: trigger`.
    async fn user_triggers(&mut self, tables: &[TableName]) -> Result<Vec<String>, ToolError>;

    /// Inside the sanitize transaction, keeps the user triggers of `tables`
    /// from firing until [`Sanitizer::wake_triggers`]; `false` when the
    /// engine cannot (MariaDB/MySQL).
    async fn quiet_triggers(&mut self, tables: &[TableName]) -> Result<bool, ToolError>;

    /// Puts back what `quiet_triggers` quieted, before the commit.
    async fn wake_triggers(&mut self) -> Result<(), ToolError>;

    /// Inside the sanitize transaction, replaces every non-NULL value of
    /// `columns` (in the rows `filter` selects) by its pseudonym under
    /// `key` (docs/pseudonyms.md); the key goes to the server only as bound
    /// parameters, never in SQL text. Returns the rows that held a value
    /// in any of the columns.
    async fn pseudonymize(
        &mut self,
        table: &TableName,
        columns: &[(&String, Kind)],
        filter: Option<&str>,
        key: &PseudonymKey,
    ) -> Result<u64, ToolError>;

    /// A condition true when `column` holds a value that no pseudonym of
    /// `kind` has (the verification); `None` when any value could be one
    /// (a shifted date is a date like any other).
    fn misshapen_sql(&self, column: &str, kind: &Kind) -> Option<String>;

    /// Inside the sanitize transaction, before the first rule: notes which
    /// large objects rows refer to (PostgreSQL; engines that keep documents
    /// inline have none).
    async fn note_object_references(&mut self) -> Result<(), ToolError> {
        Ok(())
    }

    /// After the last rule, in the same transaction: unlinks the large
    /// objects that rows referred to before and nothing refers to now
    /// (deleted rows, cascades, NULLed or changed ids); returns each
    /// object's id and size in bytes.
    async fn unlink_released_objects(&mut self) -> Result<Vec<(u32, u64)>, ToolError> {
        Ok(Vec::new())
    }

    /// In the verification transaction: how many large objects nothing
    /// refers to; `None` where the engine has no large objects.
    async fn count_unreferenced_objects(&mut self) -> Result<Option<u64>, ToolError> {
        Ok(None)
    }

    /// Whether [`Sanitizer::quiet_triggers`] can keep triggers from firing
    /// (MariaDB/MySQL cannot), known before any transaction.
    fn can_quiet_triggers(&self) -> bool {
        true
    }

    /// The triggers on `tables` that cannot fire here (a definer that does
    /// not exist), checked before anything is written. None by default:
    /// an engine whose triggers need nothing but themselves.
    async fn unrunnable_triggers(
        &mut self,
        _tables: &[TableName],
    ) -> Result<Vec<UnrunnableTrigger>, ToolError> {
        Ok(Vec::new())
    }
}

/// What happened to rows of another table because a rule deleted rows.
#[derive(Debug, Clone, Serialize)]
pub struct Dependent {
    pub table: String,
    pub constraint: String,
    /// `deleted-first` (the rule's `cascade = true`), or the schema's own
    /// rule: `on-delete-cascade`, `on-delete-set-null`, `on-delete-set-default`.
    pub how: &'static str,
    pub rows: u64,
}

/// One rule's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct RuleOutcome {
    /// 1-based, in file order.
    pub rule: usize,
    pub table: String,
    /// `delete_where`, `delete_all`, `set_null` or `set`, with its columns.
    pub action: String,
    /// Rows the rule deleted or updated (would, in a dry run).
    pub rows: u64,
    /// Rows of other tables removed or changed through foreign keys.
    pub dependents: Vec<Dependent>,
}

/// What `sanitize` did, rule by rule.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SanitizeSummary {
    pub dry_run: bool,
    pub rules: Vec<RuleOutcome>,
    /// Materialized views refreshed (would be, in a dry run), schema-qualified.
    pub refreshed: Vec<String>,
    /// The user triggers of the sanitized tables and the tables that refer
    /// to them (`table: trigger`): kept quiet during the sanitize, so that
    /// none copies what it removes; on MariaDB/MySQL, allowed to run by
    /// the rules' `allow_triggers`.
    pub triggers: Vec<String>,
    /// Whether the triggers were kept quiet (false on MariaDB/MySQL).
    pub triggers_quiet: bool,
    /// Large objects (PostgreSQL) that the rules left without any
    /// reference, unlinked (would be, in a dry run): their ids.
    pub objects_unlinked: Vec<u32>,
    /// Their bytes.
    pub object_bytes_unlinked: u64,
}

/// One rule's verification count.
#[derive(Debug, Clone, Serialize)]
pub struct RuleCheck {
    pub rule: usize,
    pub table: String,
    pub action: String,
    /// Rows that the rule should have removed or changed and that are
    /// still there; `None` when the rule is not verifiable.
    pub rows_left: Option<u64>,
    /// Why the rule, or some of its columns, could not be verified.
    pub not_verifiable: Vec<String>,
}

/// The verification of every rule, in a fresh transaction after the commit.
#[derive(Debug, Clone, Serialize)]
pub struct VerifySummary {
    pub rules: Vec<RuleCheck>,
    /// Large objects (PostgreSQL) that nothing refers to: a document a
    /// rule released and that still exists, or one the refresh left
    /// behind (`vault health --fix` unlinks those). `None` elsewhere.
    pub objects_left: Option<u64>,
}

impl VerifySummary {
    /// Every row left over, summed across the rules.
    pub fn rows_left(&self) -> u64 {
        self.rules.iter().filter_map(|r| r.rows_left).sum()
    }

    /// Success when nothing is left, a problem (exit 3) otherwise.
    pub fn exit(&self) -> Exit {
        if self.rows_left() == 0 && self.objects_left.unwrap_or(0) == 0 {
            Exit::Success
        } else {
            Exit::Problem
        }
    }
}

/// A rule's action as the configuration gives it.
enum Action<'a> {
    DeleteWhere(&'a str),
    DeleteAll,
    SetNull(&'a [String]),
    Set(Vec<(&'a String, &'a String)>),
    Pseudonymize(Vec<(&'a String, Kind)>),
}

fn action_of(rule: &SanitizeRule) -> Action<'_> {
    if let Some(predicate) = &rule.delete_where {
        Action::DeleteWhere(predicate)
    } else if rule.delete_all == Some(true) {
        Action::DeleteAll
    } else if let Some(columns) = &rule.set_null {
        Action::SetNull(columns)
    } else if rule.pseudonymize.is_some() {
        Action::Pseudonymize(Config::pseudonym_kinds(rule))
    } else {
        Action::Set(rule.set.iter().flatten().collect())
    }
}

fn describe_action(rule: &SanitizeRule) -> String {
    match action_of(rule) {
        Action::DeleteWhere(_) => "delete_where".into(),
        Action::DeleteAll => "delete_all".into(),
        Action::SetNull(columns) => format!("set_null {}", columns.join(", ")),
        Action::Set(pairs) => format!(
            "set {}",
            pairs
                .iter()
                .map(|(c, _)| c.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Action::Pseudonymize(columns) => format!(
            "pseudonymize {}",
            columns
                .iter()
                .map(|(c, _)| c.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The key of `[pseudonym] key_file` when a rule pseudonymizes, read
/// before any connection: a missing, short or world-readable file is a
/// usage error (exit 2) and nothing is changed.
pub fn pseudonym_key(config: &Config) -> Result<Option<PseudonymKey>, ToolError> {
    if !config.sanitize.iter().any(|r| r.pseudonymize.is_some()) {
        return Ok(None);
    }
    let Some(settings) = &config.pseudonym else {
        return Err(ToolError::usage(
            "the pseudonymize rules need [pseudonym] key_file; nothing was changed",
        ));
    };
    PseudonymKey::load(&settings.key_file).map(Some)
}

fn at(index: usize, rule: &SanitizeRule) -> String {
    format!("sanitize rule {} (table {})", index + 1, rule.table)
}

/// Checks that every rule's table and columns exist (exit 2 otherwise),
/// before anything changes.
pub async fn check_rules<S: Sanitizer>(db: &mut S, config: &Config) -> Result<(), ToolError> {
    for (i, rule) in config.sanitize.iter().enumerate() {
        let table = TableName::parse(&rule.table);
        let Some(columns) = db.table_columns(&table).await? else {
            return Err(ToolError::usage(format!(
                "{}: the table {table} does not exist; nothing was changed",
                at(i, rule)
            ))
            .hint("correct the table name in the configuration"));
        };
        let named = rule
            .set_null
            .iter()
            .flatten()
            .chain(rule.set.iter().flat_map(|s| s.keys()))
            .chain(rule.pseudonymize.iter().flat_map(|s| s.keys()));
        for column in named {
            if !columns.iter().any(|c| c == column) {
                return Err(ToolError::usage(format!(
                    "{}: the column {table}.{column} does not exist; nothing was changed",
                    at(i, rule)
                ))
                .hint("correct the column name in the configuration"));
            }
        }
    }
    Ok(())
}

/// Applies every rule, in file order, in one transaction; refreshes the
/// dependent materialized views; commits, or rolls back for a dry run or
/// at the first error.
pub async fn sanitize<S: Sanitizer>(
    db: &mut S,
    config: &Config,
    key: Option<&PseudonymKey>,
    dry_run: bool,
) -> Result<SanitizeSummary, ToolError> {
    if key.is_none() && config.sanitize.iter().any(|r| r.pseudonymize.is_some()) {
        return Err(ToolError::usage(
            "the pseudonymize rules need the key of [pseudonym] key_file; nothing was changed",
        ));
    }
    check_rules(db, config).await?;
    let tables = reached_tables(db, config).await?;
    let unrunnable = db.unrunnable_triggers(&tables).await?;
    if let Some(refused) = runnable::refusal(&unrunnable, "nothing was sanitized") {
        return Err(refused);
    }
    let triggers = db.user_triggers(&tables).await?;
    db.begin_sanitize().await?;
    let quiet = match triggers.is_empty() {
        true => Ok(true),
        false => db.quiet_triggers(&tables).await,
    };
    let applied = match quiet {
        Ok(false) => refuse_running_triggers(config, &triggers).map(|()| false),
        other => other,
    };
    let applied = match applied {
        Ok(quieted) => apply_releasing(db, config, key, dry_run)
            .await
            .map(|mut summary| {
                summary.triggers = triggers;
                summary.triggers_quiet = quieted;
                summary
            }),
        Err(e) => Err(e),
    };
    let applied = match applied {
        Ok(summary) => db.wake_triggers().await.map(|()| summary),
        Err(e) => Err(e),
    };
    match applied {
        Ok(summary) => {
            if let Err(e) = db.end_transaction(!dry_run).await {
                // SQLite keeps the transaction open when a deferred foreign
                // key fails the COMMIT.
                let _ = db.end_transaction(false).await;
                return Err(ToolError::failed(format!(
                    "the sanitize could not commit: {}; nothing was changed",
                    e.message
                )));
            }
            Ok(summary)
        }
        Err(mut error) => {
            // An error on rollback adds nothing: a failed transaction is
            // rolled back by the server when its connection ends.
            let _ = db.end_transaction(false).await;
            error
                .message
                .push_str("; the sanitize was rolled back: nothing was changed");
            Err(error)
        }
    }
}

/// The rules, between a note of the large objects rows refer to and the
/// unlinking of those that nothing refers to any more.
async fn apply_releasing<S: Sanitizer>(
    db: &mut S,
    config: &Config,
    key: Option<&PseudonymKey>,
    dry_run: bool,
) -> Result<SanitizeSummary, ToolError> {
    db.note_object_references().await?;
    let mut summary = apply(db, config, key, dry_run).await?;
    let released = db.unlink_released_objects().await?;
    summary.object_bytes_unlinked = released.iter().map(|(_, size)| size).sum();
    summary.objects_unlinked = released.into_iter().map(|(id, _)| id).collect();
    Ok(summary)
}

async fn apply<S: Sanitizer>(
    db: &mut S,
    config: &Config,
    key: Option<&PseudonymKey>,
    dry_run: bool,
) -> Result<SanitizeSummary, ToolError> {
    let mut keys = KeyCache::default();
    let mut rules = Vec::new();
    let mut touched: BTreeSet<(Option<String>, String)> = BTreeSet::new();
    for (i, rule) in config.sanitize.iter().enumerate() {
        crate::interrupt::check("during the sanitize")?;
        let table = TableName::parse(&rule.table);
        let sql_table = db.table_sql(&table);
        let context = |e: ToolError| ToolError {
            message: format!("{}: {}", at(i, rule), e.message),
            ..e
        };
        let mut dependents = Vec::new();
        let rows = match action_of(rule) {
            Action::DeleteWhere(_) | Action::DeleteAll => {
                let walk = Walk {
                    rule: i,
                    config_rule: rule,
                    cascade: rule.cascade == Some(true),
                };
                let predicate = rule.delete_where.as_deref();
                walk.delete(db, &mut keys, &table, predicate, true, 0, &mut dependents)
                    .await?
            }
            Action::SetNull(columns) => {
                let sets: Vec<String> = columns
                    .iter()
                    .map(|c| format!("{} = NULL", quote_ident(c)))
                    .collect();
                let held: Vec<String> = columns
                    .iter()
                    .map(|c| format!("{} IS NOT NULL", quote_ident(c)))
                    .collect();
                let sql = format!(
                    "UPDATE {sql_table} SET {} WHERE {}({})",
                    sets.join(", "),
                    filter_and(rule),
                    held.join(" OR ")
                );
                db.sanitize_execute(&sql).await.map_err(context)?
            }
            Action::Set(pairs) => {
                let sets: Vec<String> = pairs
                    .iter()
                    .map(|(c, e)| format!("{} = ({e})", quote_ident(c)))
                    .collect();
                let mut sql = format!("UPDATE {sql_table} SET {}", sets.join(", "));
                if let Some(filter) = &rule.filter {
                    sql.push_str(&format!(" WHERE ({filter})"));
                }
                db.sanitize_execute(&sql).await.map_err(context)?
            }
            Action::Pseudonymize(columns) => {
                let Some(key) = key else {
                    return Err(context(ToolError::usage(
                        "pseudonymize needs the key of [pseudonym] key_file",
                    )));
                };
                db.pseudonymize(&table, &columns, rule.filter.as_deref(), key)
                    .await
                    .map_err(context)?
            }
        };
        touched.insert((table.schema.clone(), table.name.clone()));
        for dependent in &dependents {
            let name = TableName::parse(&dependent.table);
            touched.insert((name.schema, name.name));
        }
        rules.push(RuleOutcome {
            rule: i + 1,
            table: rule.table.clone(),
            action: describe_action(rule),
            rows,
            dependents,
        });
    }
    let tables: Vec<TableName> = touched
        .into_iter()
        .map(|(schema, name)| TableName { schema, name })
        .collect();
    let mut refreshed = Vec::new();
    for view in db.dependent_matviews(&tables).await? {
        if !dry_run {
            db.refresh_matview(&view).await.map_err(|e| ToolError {
                message: format!("refreshing materialized view {view}: {}", e.message),
                ..e
            })?;
        }
        refreshed.push(view.to_string());
    }
    Ok(SanitizeSummary {
        dry_run,
        rules,
        refreshed,
        triggers: Vec::new(),
        triggers_quiet: true,
        objects_unlinked: Vec::new(),
        object_bytes_unlinked: 0,
    })
}

/// The sanitized tables and, through foreign keys, every table that refers
/// to them: the tables a rule's deletes may reach.
async fn reached_tables<S: Sanitizer>(
    db: &mut S,
    config: &Config,
) -> Result<Vec<TableName>, ToolError> {
    let mut reached: Vec<TableName> = Vec::new();
    let mut queue: Vec<TableName> = config
        .sanitize
        .iter()
        .map(|rule| TableName::parse(&rule.table))
        .collect();
    while let Some(table) = queue.pop() {
        if reached.contains(&table) {
            continue;
        }
        for key in db.referencing_keys(&table).await? {
            queue.push(key.child);
        }
        reached.push(table);
    }
    Ok(reached)
}

/// Where triggers cannot be kept quiet, a sanitize runs them only when
/// every rule allows it: a trigger may copy the values it removes.
pub(crate) fn refuse_running_triggers(
    config: &Config,
    triggers: &[String],
) -> Result<(), ToolError> {
    let unallowed: Vec<usize> = config
        .sanitize
        .iter()
        .enumerate()
        .filter(|(_, rule)| rule.allow_triggers != Some(true))
        .map(|(i, _)| i + 1)
        .collect();
    if unallowed.is_empty() {
        return Ok(());
    }
    Err(ToolError::new(
        Exit::Problem,
        format!(
            "triggers would run during the sanitize and may copy what it removes: {}; this engine cannot keep them quiet, so nothing was sanitized",
            triggers.join(", ")
        ),
    )
    .hint(format!(
        "check what each trigger does; when none copies data, set allow_triggers = true on sanitize rule(s) {}, or drop the triggers",
        unallowed
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// `(filter) AND ` or nothing.
fn filter_and(rule: &SanitizeRule) -> String {
    match &rule.filter {
        Some(filter) => format!("({filter}) AND "),
        None => String::new(),
    }
}
