//! `vault capture`: what acceptance owns, read in one snapshot and streamed into a new vault.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;
use vault_format::{KeyMaterial, VaultWriter, WriterOptions};

use crate::config::Config;
use crate::engine::{CapturedTable, Engine, TableCaptured};
use crate::exit::{Exit, ToolError};
use crate::names::{TableInfo, TableName};

/// What a capture wrote.
#[derive(Debug, Serialize)]
pub struct CaptureSummary {
    pub vault: String,
    pub vault_id: String,
    pub source: String,
    pub tables: Vec<CapturedCount>,
    /// What was captured besides tables (grants, link definitions), one line each.
    pub extras: Vec<String>,
    pub seconds: f64,
}

/// Rows and bytes of one captured table.
#[derive(Debug, Serialize)]
pub struct CapturedCount {
    pub table: String,
    pub rows: u64,
    pub bytes: u64,
}

/// Plans every preserved table against the live schema: it must exist, have
/// a key, and hold the key columns. Nothing is written.
pub async fn plan<E: Engine>(
    db: &mut E,
    config: &Config,
) -> Result<Vec<(CapturedTable, TableInfo)>, ToolError> {
    let source = db.identity().await?;
    let mut planned = Vec::new();
    for (i, preserve) in config.preserve.iter().enumerate() {
        let at = format!("preserve[{i}]");
        let name = TableName::parse(&preserve.table);
        let info = db.describe(&name).await?.ok_or_else(|| {
            ToolError::usage(format!(
                "{at}: the table {name} does not exist in the acceptance database ({source})"
            ))
            .hint("correct the table name in the configuration")
        })?;
        let key = match &preserve.key {
            Some(key) => key.clone(),
            None if !info.primary_key.is_empty() => info.primary_key.clone(),
            None => {
                return Err(ToolError::usage(format!(
                    "{at}: the table {name} has no primary key and the configuration gives no `key`"
                ))
                .hint("add key = [\"column\", ...] naming columns that identify a row"));
            }
        };
        for column in &key {
            match info.column(column) {
                None => {
                    return Err(ToolError::usage(format!(
                        "{at}: the key column {column} is not a column of {name}"
                    ))
                    .hint("correct `key` in the configuration"));
                }
                Some(c) if c.generated => {
                    return Err(ToolError::usage(format!(
                        "{at}: the key column {column} of {name} is generated"
                    ))
                    .hint("use stored, non-generated columns as the key"));
                }
                Some(_) => {}
            }
        }
        let captured = CapturedTable {
            engine: db.kind(),
            table: name,
            columns: info
                .columns
                .iter()
                .filter(|c| !c.generated)
                .cloned()
                .collect(),
            key,
            filter: preserve.filter.clone(),
            mode: preserve.mode,
            encoding: db.row_encoding().to_owned(),
            source: source.clone(),
            identity: Vec::new(),
        };
        planned.push((captured, info));
    }
    Ok(order_parents_first(planned))
}

/// Orders tables so that a table comes after the preserved tables it references.
fn order_parents_first(
    mut tables: Vec<(CapturedTable, TableInfo)>,
) -> Vec<(CapturedTable, TableInfo)> {
    let mut ordered = Vec::with_capacity(tables.len());
    while !tables.is_empty() {
        let ready = tables
            .iter()
            .position(|(_, info)| {
                info.references.iter().all(|parent| {
                    parent == &info.name || !tables.iter().any(|(other, _)| &other.table == parent)
                })
            })
            .unwrap_or(0); // a cycle: keep file order; the constraints are deferred on load
        ordered.push(tables.remove(ready));
    }
    ordered
}

/// Captures every preserved table into a new vault at `out`. With
/// `live_bars`, a bar per table is drawn on stderr (a terminal) while the
/// tables stream; `progress` gets one line per finished table.
pub async fn capture<E: Engine + crate::guard::ServerInstance + crate::objects::CodeObjects>(
    db: &mut E,
    config: &Config,
    out: &Path,
    key: &KeyMaterial,
    progress: &mut dyn std::io::Write,
    live_bars: bool,
) -> Result<CaptureSummary, ToolError> {
    let started = Instant::now();
    if config.preserve.is_empty() {
        return Err(ToolError::usage("the configuration preserves no table")
            .hint("add a [[preserve]] section"));
    }
    if out.exists() {
        return Err(ToolError::usage(format!(
            "{} already exists; refusing to overwrite it",
            out.display()
        ))
        .hint("choose a new file name for the vault"));
    }
    let planned = plan(db, config).await?;
    crate::objects::check_kept(db, config).await?;
    let source = planned[0].0.source.clone();
    let options = WriterOptions {
        source: source.to_string(),
        tool_version: format!("vault {}", env!("CARGO_PKG_VERSION")),
        ..WriterOptions::default()
    };
    let writer = VaultWriter::create(out, options, &[key])?;
    let bars = live_bars.then(|| crate::progress::LiveBars::start(writer.progress()));
    db.begin_snapshot().await?;
    let mut tables = Vec::new();
    let plans: Vec<CapturedTable> = planned.into_iter().map(|(captured, _)| captured).collect();
    let mut done = |table: TableCaptured<'_>| {
        let secs = table.seconds.max(1e-6);
        let _ = writeln!(
            progress,
            "  {:<32} {:>10} rows {:>10} in {:.1}s ({})",
            table.table.table.to_string(),
            table.rows,
            crate::units::bytes(table.bytes),
            secs,
            format_args!(
                "{}/s",
                crate::units::bytes((table.bytes as f64 / secs) as u64)
            )
        );
        tables.push(CapturedCount {
            table: table.table.table.to_string(),
            rows: table.rows,
            bytes: table.bytes,
        });
    };
    if let Err(error) = db.capture_tables(&plans, &writer, &mut done).await {
        let _ = db.end_snapshot().await;
        return Err(error);
    }
    if let Some(bars) = bars {
        bars.finish();
    }
    // Tables read in parallel finish in any order; the summary keeps the plan's.
    tables.sort_by_key(|t| plans.iter().position(|p| p.table.to_string() == t.table));
    // The instance acceptance is on, for the restore to tell a physical
    // copy or a re-created database from the one captured.
    let instance = match db.instance().await {
        Ok(instance) => instance,
        Err(error) => {
            let _ = db.end_snapshot().await;
            return Err(error);
        }
    };
    crate::guard::record::write_record(&writer, &instance)?;
    let extras = match db.capture_extras(config, &writer).await {
        Ok(extras) => extras,
        Err(error) => {
            let _ = db.end_snapshot().await;
            return Err(error);
        }
    };
    db.end_snapshot().await?;
    let summary = writer.finish().map_err(|e| {
        let message = format!("the vault could not be completed: {e}");
        ToolError::new(Exit::Failed, message).hint(e.hint())
    })?;
    Ok(CaptureSummary {
        vault: out.display().to_string(),
        vault_id: hex::encode(summary.vault_id),
        source: source.to_string(),
        tables,
        extras,
        seconds: started.elapsed().as_secs_f64(),
    })
}
