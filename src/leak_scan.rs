//! The proof that sanitize left no original value anywhere: keyed fingerprints of what the rules remove or change, taken before they run, searched for afterwards in every text column of every table; and the coverage gate, which names each column that looks like personal data and that no rule, preserve or `[coverage] keep` accounts for.
//!
//! Each engine implements [`LeakScan`] (`src/db/<engine>/leak_scan.rs`): it
//! lists the tables and their columns, and streams the text of chosen
//! columns. The fingerprints (`leak_scan/fingerprints.rs`) never leave the
//! process's memory, and no value is ever shown: the findings are tables,
//! columns and counts.

mod coverage;
mod fingerprints;

use serde::Serialize;

pub use coverage::{CoverageSummary, Unclassified, coverage};
pub use fingerprints::Fingerprints;

use crate::config::{Config, SanitizeRule};
use crate::exit::ToolError;
use crate::names::TableName;

/// A table as the scan sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanTable {
    pub table: TableName,
    pub columns: Vec<ScanColumn>,
}

/// One column: its name, and what kind of values it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanColumn {
    pub name: String,
    /// Character, text, JSON or XML: searched by the scan.
    pub text: bool,
    /// Bytes (bytea, BLOB): never read.
    pub binary: bool,
}

/// Columns listed one per row, in table order, gathered into tables: what
/// each engine's catalogue query gives, in the shape `scan_tables` returns.
pub fn gather_tables(columns: impl IntoIterator<Item = (TableName, ScanColumn)>) -> Vec<ScanTable> {
    let mut tables: Vec<ScanTable> = Vec::new();
    for (table, column) in columns {
        match tables.last_mut() {
            Some(last) if last.table == table => last.columns.push(column),
            _ => tables.push(ScanTable {
                table,
                columns: vec![column],
            }),
        }
    }
    tables
}

/// What the scan needs of a database. Each engine implements it.
#[allow(async_fn_in_trait)]
pub trait LeakScan {
    /// Every table of the database that holds rows of its own (base
    /// tables and materialized views; no foreign or linked table), with
    /// its columns, in a stable order.
    async fn scan_tables(&mut self) -> Result<Vec<ScanTable>, ToolError>;

    /// Streams the values of `columns` of `table` as text (each cast by the
    /// database), of the rows `filter` selects (all rows without one):
    /// `each(column index, text)` for every value that is not NULL.
    async fn read_text(
        &mut self,
        table: &TableName,
        columns: &[String],
        filter: Option<&str>,
        each: &mut dyn FnMut(usize, &str),
    ) -> Result<(), ToolError>;
}

/// One column where sanitized values remain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Remaining {
    pub table: String,
    pub column: String,
    /// Values (cells) that hold at least one of them.
    pub values: u64,
}

/// What the scan found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LeakScanSummary {
    /// Distinct values the rules removed or changed that were looked for.
    pub values_fingerprinted: u64,
    /// Values too short to look for (under `min_length` letters and digits).
    pub values_too_short: u64,
    pub tables_scanned: u64,
    pub columns_scanned: u64,
    pub cells_scanned: u64,
    /// Where any remains, with counts; never a value.
    pub remaining: Vec<Remaining>,
    /// Columns left out by `[leak_scan] ignore`.
    pub ignored: Vec<String>,
    /// Columns a `set` rule writes on every row: they hold the rule's own
    /// values (verify's count covers them), and an original that happens to
    /// equal a new value is no copy.
    pub written_by_rules: Vec<String>,
    pub seconds: f64,
}

impl LeakScanSummary {
    /// Values left, summed over the columns.
    pub fn values_left(&self) -> u64 {
        self.remaining.iter().map(|r| r.values).sum()
    }

    /// One line for the terminal and the report.
    pub fn line(&self) -> String {
        format!(
            "leak scan: {} values left in {} columns ({} values of the rules looked for in {} cells of {} tables, {:.1} s)",
            self.values_left(),
            self.columns_scanned,
            self.values_fingerprinted,
            self.cells_scanned,
            self.tables_scanned,
            self.seconds
        )
    }
}

/// The columns a rule removes or changes, and which rows: every text
/// column of the rows it deletes; the columns it sets or nulls (cast to
/// text, bytes aside) of the rows its `where` selects.
fn rule_targets(rule: &SanitizeRule, table: &ScanTable) -> (Vec<String>, Option<String>) {
    let named: Vec<String> = rule
        .set_null
        .iter()
        .flatten()
        .cloned()
        .chain(rule.set.iter().flat_map(|s| s.keys().cloned()))
        .chain(rule.pseudonymize.iter().flat_map(|p| p.keys().cloned()))
        .collect();
    if rule.delete_all == Some(true) || rule.delete_where.is_some() {
        let columns = table
            .columns
            .iter()
            .filter(|c| c.text)
            .map(|c| c.name.clone())
            .collect();
        return (columns, rule.delete_where.clone());
    }
    let columns = table
        .columns
        .iter()
        .filter(|c| !c.binary && named.iter().any(|n| n.eq_ignore_ascii_case(&c.name)))
        .map(|c| c.name.clone())
        .collect();
    (columns, rule.filter.clone())
}

fn find<'t>(tables: &'t [ScanTable], name: &str) -> Option<&'t ScanTable> {
    let wanted = TableName::parse(name);
    tables.iter().find(|t| {
        t.table.name.eq_ignore_ascii_case(&wanted.name)
            && match (&wanted.schema, &t.table.schema) {
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                (Some(_), None) => false,
                (None, Some(b)) => b == "public" || wanted.schema.is_none(),
                (None, None) => true,
            }
    })
}

/// Takes the fingerprints of every value the rules will remove or change,
/// before sanitize runs. `key` is the run's (derived from the vault's).
pub async fn fingerprint<E: LeakScan>(
    db: &mut E,
    config: &Config,
    key: &[u8; 32],
) -> Result<Fingerprints, ToolError> {
    let mut prints = Fingerprints::new(key, config.leak_scan_min_length());
    let tables = db.scan_tables().await?;
    for rule in &config.sanitize {
        let Some(table) = find(&tables, &rule.table) else {
            continue;
        };
        let (columns, filter) = rule_targets(rule, table);
        if columns.is_empty() {
            continue;
        }
        let Some(filter) = filter else {
            db.read_text(&table.table, &columns, None, &mut |_, value| {
                prints.add(value)
            })
            .await?;
            continue;
        };
        // A value that the rows the rule keeps also hold (a ward, a
        // routine phrase) says nothing of the rows it removes: only the
        // values of its own rows are looked for.
        let mut removed: Vec<std::collections::HashSet<String>> =
            vec![Default::default(); columns.len()];
        db.read_text(&table.table, &columns, Some(&filter), &mut |i, value| {
            removed[i].insert(value.to_owned());
        })
        .await?;
        let kept_rows = format!("({filter}) IS NOT TRUE");
        db.read_text(&table.table, &columns, Some(&kept_rows), &mut |i, value| {
            removed[i].remove(value);
        })
        .await?;
        for values in removed {
            for value in values {
                prints.add(&value);
            }
        }
    }
    Ok(prints)
}

/// Whether `[leak_scan] ignore` names this column (`table.column`,
/// `schema.table.column`, or `table.*`).
fn ignored(config: &Config, table: &TableName, column: &str) -> bool {
    config.leak_scan_ignore().iter().any(|pattern| {
        let Some((t, c)) = pattern.rsplit_once('.') else {
            return false;
        };
        let table_matches =
            t.eq_ignore_ascii_case(&table.name) || t.eq_ignore_ascii_case(&table.to_string());
        table_matches && (c == "*" || c.eq_ignore_ascii_case(column))
    })
}

/// Whether a `set` rule without `where` writes this column on every row.
fn written_by_a_rule(config: &Config, table: &TableName, column: &str) -> bool {
    config.sanitize.iter().any(|rule| {
        rule.filter.is_none()
            && rule
                .set
                .iter()
                .flat_map(|s| s.keys())
                .chain(rule.pseudonymize.iter().flat_map(|p| p.keys()))
                .any(|c| c.eq_ignore_ascii_case(column))
            && find(
                std::slice::from_ref(&ScanTable {
                    table: table.clone(),
                    columns: Vec::new(),
                }),
                &rule.table,
            )
            .is_some()
    })
}

/// Verify's part, after sanitize: the scan for the fingerprinted values
/// (when fingerprints were taken before sanitize) and the coverage gate,
/// over one reading of the catalogue.
pub async fn scan_and_cover<E: LeakScan>(
    db: &mut E,
    config: &Config,
    prints: Option<&Fingerprints>,
) -> Result<(Option<LeakScanSummary>, CoverageSummary), ToolError> {
    let tables = db.scan_tables().await?;
    let covered = coverage(config, &tables);
    let scanned = match prints {
        Some(prints) => Some(scan(db, config, prints, tables).await?),
        None => None,
    };
    Ok((scanned, covered))
}

/// Searches every text column of every table for the fingerprinted values.
/// Memory: the fingerprints (about 50 bytes a value) and one row at a time;
/// time: one read of every text column.
async fn scan<E: LeakScan>(
    db: &mut E,
    config: &Config,
    prints: &Fingerprints,
    tables: Vec<ScanTable>,
) -> Result<LeakScanSummary, ToolError> {
    let started = std::time::Instant::now();
    let mut summary = LeakScanSummary {
        values_fingerprinted: prints.values,
        values_too_short: prints.too_short,
        ..LeakScanSummary::default()
    };
    for table in tables {
        let mut columns = Vec::new();
        for column in table.columns.iter().filter(|c| c.text) {
            if ignored(config, &table.table, &column.name) {
                summary
                    .ignored
                    .push(format!("{}.{}", table.table, column.name));
            } else if written_by_a_rule(config, &table.table, &column.name) {
                summary
                    .written_by_rules
                    .push(format!("{}.{}", table.table, column.name));
            } else {
                columns.push(column.name.clone());
            }
        }
        if columns.is_empty() {
            continue;
        }
        summary.tables_scanned += 1;
        summary.columns_scanned += columns.len() as u64;
        if prints.is_empty() {
            continue;
        }
        crate::interrupt::check("during the leak scan")?;
        let mut found = vec![0u64; columns.len()];
        let mut cells = 0u64;
        db.read_text(&table.table, &columns, None, &mut |i, value| {
            cells += 1;
            if prints.found_in(value) {
                found[i] += 1;
            }
        })
        .await?;
        summary.cells_scanned += cells;
        for (column, values) in columns.iter().zip(found) {
            if values > 0 {
                summary.remaining.push(Remaining {
                    table: table.table.to_string(),
                    column: column.clone(),
                    values,
                });
            }
        }
    }
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}
