//! `vault restore`, the data step: guard, schema-drift check, then every preserved table back in one transaction.

use serde::Serialize;
use vault_format::UnlockedVault;

use crate::config::{Config, Mode, OnCollision};
use crate::engine::{CapturedTable, Engine, KeyCollision, LoadCounts};
use crate::exit::{Exit, ToolError};
use crate::names::{Identity, TableInfo, TableName};

/// What the restore did, table by table.
#[derive(Debug, Serialize)]
pub struct RestoreSummary {
    pub target: String,
    pub dry_run: bool,
    /// A dry run that loaded every table in the restore transaction,
    /// checked what the commit would check, and rolled back: its counts
    /// are the real restore's.
    pub rehearsed: bool,
    pub tables: Vec<RestoredTable>,
    /// Columns the target has and the vault does not (filled by their defaults).
    pub notes: Vec<String>,
    /// Grants and link definitions put back, one line each.
    pub extras: Vec<String>,
    /// Captured keys that named other rows in the target.
    pub collisions: Vec<KeyCollision>,
    /// Acceptance's own views, routines, triggers and events that the
    /// refresh removed or changed, and those re-created from the vault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub objects: Option<crate::objects::ObjectsSummary>,
}

impl RestoreSummary {
    /// Key collisions the configuration did not accept: findings.
    pub fn unaccepted_collisions(&self) -> usize {
        self.collisions.iter().filter(|c| !c.accepted).count()
    }
}

/// How one table's key collisions are found and met (from `[[preserve]]`).
#[derive(Debug, Clone, Default)]
struct CollisionRule {
    on_collision: Option<OnCollision>,
}

/// One restored table.
#[derive(Debug, Serialize)]
pub struct RestoredTable {
    pub table: String,
    pub mode: Mode,
    pub captured_rows: u64,
    #[serde(flatten)]
    pub counts: LoadCounts,
}

/// Reads the tool's metadata of every table stream, in the vault's order
/// (parents first). Streams with a `"kind"` (grants, links) are not tables.
pub fn captured_tables(vault: &UnlockedVault) -> Result<Vec<(CapturedTable, u64)>, ToolError> {
    vault
        .manifest()
        .streams
        .iter()
        .filter(|entry| entry.metadata.get("kind").is_none())
        .map(|entry| {
            let captured = serde_json::from_value::<CapturedTable>(entry.metadata.clone())
                .map_err(|e| {
                    ToolError::new(
                        Exit::Problem,
                        format!(
                            "stream \"{}\" of the vault does not describe a captured table: {e}",
                            entry.name
                        ),
                    )
                    .hint("restore only vaults written by `vault capture`")
                })?;
            // The recorded filter scopes the restore's deletes: it must be
            // one expression, as the configuration's was.
            if let Some(filter) = &captured.filter
                && let Err(why) = crate::fragment::check_one_expression(filter)
            {
                return Err(ToolError::new(
                    Exit::Problem,
                    format!(
                        "stream \"{}\" of the vault records a `where` that is not one SQL expression: {why}",
                        entry.name
                    ),
                )
                .hint("capture again with a `where` that is one condition"));
            }
            Ok((captured, entry.row_count))
        })
        .collect()
}

/// Refuses a vault whose tables the configuration now scopes otherwise: a
/// table no longer in `[[preserve]]`, or another `where` or mode. The
/// restore's deletes follow the scope, so an operator who narrowed it must
/// not get the old, wider one silently (`--vault-scope` takes the vault's).
pub fn check_scope(captured: &[(CapturedTable, u64)], config: &Config) -> Result<(), ToolError> {
    let normalized = |text: Option<&str>| -> Option<String> {
        text.map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
    };
    for (table, _) in captured {
        let preserved = config
            .preserve
            .iter()
            .find(|p| crate::names::TableName::parse(&p.table) == table.table);
        let differs = match preserved {
            None => Some("it is no longer in [[preserve]]".to_owned()),
            Some(p) if normalized(p.filter.as_deref()) != normalized(table.filter.as_deref()) => {
                Some(format!(
                    "its `where` is now {} and was {} at capture",
                    p.filter
                        .as_deref()
                        .map_or("(none: all rows)".into(), |f| format!("\"{f}\"")),
                    table
                        .filter
                        .as_deref()
                        .map_or("(none: all rows)".into(), |f| format!("\"{f}\""))
                ))
            }
            Some(p) if p.mode != table.mode => Some(format!(
                "its mode is now {} and was {} at capture",
                p.mode, table.mode
            )),
            Some(_) => None,
        };
        if let Some(why) = differs {
            return Err(ToolError::usage(format!(
                "table {}: {why}; the restore would use a scope that the configuration no longer gives; nothing was changed",
                table.table
            ))
            .hint("capture again with this configuration, or restore with the vault's scope by passing --vault-scope"));
        }
    }
    Ok(())
}

/// Compares a captured table with the target's: missing columns and new
/// required columns are errors, new optional columns are notes.
pub fn check_drift(
    captured: &CapturedTable,
    target: &TableInfo,
    notes: &mut Vec<String>,
) -> Result<(), ToolError> {
    let table = &captured.table;
    for column in &captured.columns {
        match target.column(&column.name) {
            None => {
                return Err(ToolError::usage(format!(
                    "schema drift: the vault holds column {table}.{} ({}), which the target table does not have; nothing was changed",
                    column.name, column.data_type
                ))
                .hint("add the column back, or capture again from the current schema"));
            }
            Some(now) if now.generated => {
                return Err(ToolError::usage(format!(
                    "schema drift: column {table}.{} was captured as a stored column ({}) and is now generated; nothing was changed",
                    column.name, column.data_type
                ))
                .hint("capture again from the current schema"));
            }
            Some(_) => {}
        }
    }
    for column in &target.columns {
        if column.generated || captured.columns.iter().any(|c| c.name == column.name) {
            continue;
        }
        if !column.nullable && !column.has_default {
            return Err(ToolError::usage(format!(
                "schema drift: the target column {table}.{} ({}) is NOT NULL without a default and the vault has no values for it; nothing was changed",
                column.name, column.data_type
            ))
            .hint("give the column a default, or capture again from the current schema"));
        }
        notes.push(format!(
            "{table}.{}: a new column ({}) that the vault does not hold; restored rows get its default",
            column.name, column.data_type
        ));
    }
    Ok(())
}

/// Restores every captured table into `db` in one transaction. The guards
/// have been checked by the caller; `source` is the vault's origin.
pub async fn restore<E: Engine + crate::objects::CodeObjects>(
    db: &mut E,
    vault: &UnlockedVault,
    config: &Config,
    target: &Identity,
    dry_run: bool,
    progress: &mut dyn std::io::Write,
) -> Result<RestoreSummary, ToolError> {
    let mut plan = Vec::new();
    let mut rules = Vec::new();
    let mut notes = Vec::new();
    for (mut captured, rows) in captured_tables(vault)? {
        if captured.engine != db.kind() {
            return Err(ToolError::new(
                Exit::Refused,
                format!(
                    "the vault holds {} data and the target is {}",
                    captured.engine,
                    db.kind()
                ),
            ));
        }
        let info = db.describe(&captured.table).await?.ok_or_else(|| {
            ToolError::usage(format!(
                "schema drift: the table {} is in the vault but not in the target database; nothing was changed",
                captured.table
            ))
            .hint("create the table, or capture again from the current schema")
        })?;
        check_drift(&captured, &info, &mut notes)?;
        // The mode in the configuration at restore time wins over the one recorded at capture.
        let mut rule = CollisionRule::default();
        if let Some(preserve) = config
            .preserve
            .iter()
            .find(|p| p.table == captured.table.to_string())
        {
            captured.mode = preserve.mode;
            if let Some(missing) = preserve
                .identity
                .iter()
                .find(|name| !captured.columns.iter().any(|c| &c.name == *name))
            {
                return Err(ToolError::usage(format!(
                    "preserve {}: identity names the column {missing}, which the vault does not hold; nothing was changed",
                    captured.table
                ))
                .hint("name columns of the table in identity, or capture again"));
            }
            captured.identity = preserve.identity.clone();
            rule = CollisionRule {
                on_collision: preserve.on_collision,
            };
        }
        rules.push(rule);
        plan.push((captured, info, rows));
    }
    let mut summary = RestoreSummary {
        target: target.to_string(),
        dry_run,
        rehearsed: false,
        tables: Vec::new(),
        notes,
        extras: Vec::new(),
        collisions: Vec::new(),
        objects: None,
    };
    let infos: Vec<TableInfo> = plan.iter().map(|(_, info, _)| info.clone()).collect();
    if dry_run {
        match db.can_rehearse() {
            Ok(()) => {
                db.begin_restore(&infos).await?;
                let rehearsal = async {
                    load_all(db, vault, &plan, &rules, &mut summary, &mut std::io::sink()).await?;
                    // Grants, links and materialized views too: a role
                    // missing in the target fails the rehearsal as it
                    // would fail the restore.
                    let extras = db.restore_extras(vault, config).await?;
                    summary.extras.extend(extras);
                    db.check_restore(&infos).await
                };
                if let Err(error) = rehearsal.await {
                    return Err(roll_back(db, error).await);
                }
                db.rollback().await?;
                summary.rehearsed = true;
            }
            Err(why) => {
                summary
                    .notes
                    .push(format!("the dry run did not rehearse the load: {why}"));
                // What the extras would do is planned by reading only: a
                // missing account fails the dry run as it would the restore.
                let planned = db.restore_extras(vault, config).await;
                let _ = db.rollback().await;
                summary.extras.extend(planned?);
                for (captured, _, rows) in &plan {
                    summary.tables.push(RestoredTable {
                        table: captured.table.to_string(),
                        mode: captured.mode,
                        captured_rows: *rows,
                        counts: LoadCounts::default(),
                    });
                }
            }
        }
        // The catalogue as the refresh left it (a rehearsal was rolled back).
        summary.objects = Some(crate::objects::after_restore(db, vault, true).await?);
        return Ok(summary);
    }
    db.begin_restore(&infos).await?;
    match load_all(db, vault, &plan, &rules, &mut summary, progress).await {
        Ok(()) => match commit_with_extras(db, vault, config, &infos, &mut summary).await {
            Ok(()) => {
                // The rows are committed: a catalogue that cannot be read
                // is a note, not a failed restore.
                summary.objects = Some(
                    crate::objects::after_restore(db, vault, false)
                        .await
                        .unwrap_or_else(|e| crate::objects::ObjectsSummary {
                            changes: Vec::new(),
                            note: Some(format!(
                                "acceptance's views, routines, triggers and events could not be compared with the vault's catalogue: {}",
                                e.message
                            )),
                        }),
                );
                Ok(summary)
            }
            Err(error) => Err(roll_back(db, error).await),
        },
        Err(error) => Err(roll_back(db, error).await),
    }
}

/// How an engine's error begins when the data transaction committed and a
/// step after it failed (MySQL: DDL and grants run after the commit); such
/// an error is reported as it is, with nothing rolled back.
pub const AFTER_COMMIT: &str = "the rows were restored and committed, but";

/// Rolls the restore transaction back after `error`, and says in the error
/// whether the database is as it was.
async fn roll_back<E: Engine>(db: &mut E, mut error: ToolError) -> ToolError {
    if error.message.starts_with(AFTER_COMMIT) {
        let _ = db.rollback().await;
        return error;
    }
    match db.rollback().await {
        Ok(()) if error.message.ends_with("nothing was changed") => {}
        Ok(()) => error
            .message
            .push_str("; the restore was rolled back: nothing was changed"),
        Err(failed) => error.message.push_str(&format!(
            "; the rollback failed too ({}); the database discards the unfinished transaction when the connection closes",
            failed.message
        )),
    }
    error
}

async fn commit_with_extras<E: Engine>(
    db: &mut E,
    vault: &UnlockedVault,
    config: &Config,
    infos: &[TableInfo],
    summary: &mut RestoreSummary,
) -> Result<(), ToolError> {
    crate::interrupt::check("during the restore")?;
    let extras = db.restore_extras(vault, config).await?;
    summary.extras.extend(extras);
    db.commit_restore(infos).await
}

async fn load_all<E: Engine>(
    db: &mut E,
    vault: &UnlockedVault,
    plan: &[(CapturedTable, TableInfo, u64)],
    rules: &[CollisionRule],
    summary: &mut RestoreSummary,
    progress: &mut dyn std::io::Write,
) -> Result<(), ToolError> {
    // Every table's rows are read in first, where an engine stages them...
    for (captured, info, _) in plan {
        crate::interrupt::check("during the restore")?;
        let mut reader = vault.stream_read_ahead(&captured.table.to_string())?;
        db.stage_rows(captured, info, &mut reader).await?;
    }
    // ...captured keys that name other rows of the refreshed target are
    // found while those rows are still as the refresh left them: for a
    // table preserved whole, now; for a scoped one, once the parents its
    // scope may read hold acceptance's rows again (below)...
    let restored: Vec<TableName> = plan.iter().map(|(c, _, _)| c.table.clone()).collect();
    for ((captured, _, _), rule) in plan.iter().zip(rules) {
        if captured.filter.is_none() {
            find_collisions(db, vault, captured, rule, &restored, summary).await?;
        }
    }
    // ...large objects are created again (before any row changes, so that
    // the objects the rows refer to now are noted)...
    let lines = db.restore_large_objects(vault).await?;
    summary.extras.extend(lines);
    // ...children are emptied before parents...
    let mut deleted = vec![0u64; plan.len()];
    for (i, (captured, _, _)) in plan.iter().enumerate().rev() {
        if captured.mode == Mode::Replace {
            deleted[i] = db.clear_scope(captured).await?;
        }
    }
    // ...and parents are loaded before children. A scope (`where`) that
    // reads a restored parent is judged again once that parent holds
    // acceptance's rows: a row it now reaches is acceptance's to replace.
    for (i, (captured, info, rows)) in plan.iter().enumerate() {
        crate::interrupt::check("during the restore")?;
        if captured.filter.is_some() {
            find_collisions(db, vault, captured, &rules[i], &restored, summary).await?;
        }
        if i > 0 && captured.mode == Mode::Replace && captured.filter.is_some() {
            deleted[i] += db.clear_scope(captured).await?;
        }
        let mut reader = vault.stream_read_ahead(&captured.table.to_string())?;
        let mut counts = db.load_rows(captured, info, &mut reader).await?;
        counts.deleted = deleted[i];
        let _ = writeln!(
            progress,
            "  {:<32} {:>10} rows  {} inserted, {} updated, {} kept, {} removed first ({})",
            captured.table.to_string(),
            rows,
            counts.inserted,
            counts.updated,
            counts.skipped,
            counts.deleted,
            captured.mode
        );
        summary.tables.push(RestoredTable {
            table: captured.table.to_string(),
            mode: captured.mode,
            captured_rows: *rows,
            counts,
        });
    }
    // ...and the objects only the replaced rows referred to are unlinked.
    let lines = db.release_large_objects().await?;
    summary.extras.extend(lines);
    Ok(())
}

/// Looks for the captured keys of one table that name other rows of the
/// target (see [`Engine::key_collisions`]); stops the restore when the
/// configuration says `on_collision = "stop"`.
async fn find_collisions<E: Engine>(
    db: &mut E,
    vault: &UnlockedVault,
    captured: &CapturedTable,
    rule: &CollisionRule,
    restored: &[TableName],
    summary: &mut RestoreSummary,
) -> Result<(), ToolError> {
    if captured.mode == Mode::InsertMissing
        || (captured.filter.is_none() && captured.identity.is_empty())
    {
        return Ok(());
    }
    let mut reader = vault.stream_read_ahead(&captured.table.to_string())?;
    let Some(mut collision) = db.key_collisions(captured, restored, &mut reader).await? else {
        return Ok(());
    };
    match rule.on_collision {
        Some(OnCollision::Stop) => {
            return Err(ToolError::new(
                Exit::Refused,
                format!("{collision}; on_collision = \"stop\": nothing was changed"),
            )
            .hint("give acceptance's own rows keys that production does not use, or set on_collision = \"replace\" on this [[preserve]] once the overwrite is understood"));
        }
        Some(OnCollision::Replace) => collision.accepted = true,
        None => {}
    }
    summary.collisions.push(collision);
    Ok(())
}
