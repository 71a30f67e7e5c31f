//! The coverage gate: every column whose name looks like personal data is accounted for, by a sanitize rule, a preserved table, or `[coverage] keep`; with `strict = true` one that is not fails verify.

use serde::Serialize;

use super::ScanTable;
use crate::config::Config;
use crate::names::TableName;

/// A column that looks like personal data and that nothing accounts for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unclassified {
    pub table: String,
    pub column: String,
    /// What its name says it holds (`e-mail`, `birth date`).
    pub looks_like: &'static str,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CoverageSummary {
    /// `[coverage] strict`: an unclassified column is a finding (exit 3).
    pub strict: bool,
    pub columns_checked: u64,
    /// Columns that look like personal data, all told.
    pub personal: u64,
    pub unclassified: Vec<Unclassified>,
}

impl CoverageSummary {
    /// True when strict and a column is unaccounted for.
    pub fn fails(&self) -> bool {
        self.strict && !self.unclassified.is_empty()
    }

    pub fn line(&self) -> String {
        let mut line = format!(
            "coverage: {} of {} columns look like personal data, {} not classified",
            self.personal,
            self.columns_checked,
            self.unclassified.len()
        );
        if !self.unclassified.is_empty() {
            let names: Vec<String> = self
                .unclassified
                .iter()
                .map(|u| format!("{}.{} ({})", u.table, u.column, u.looks_like))
                .collect();
            line.push_str(&format!(": {}", names.join(", ")));
            if !self.strict {
                line.push_str(
                    "; sanitize them, or list them in [coverage] keep ([coverage] strict = true makes this fail verify)",
                );
            }
        }
        line
    }
}

fn same_table(configured: &str, table: &TableName) -> bool {
    let wanted = TableName::parse(configured);
    wanted.name.eq_ignore_ascii_case(&table.name)
        && match (&wanted.schema, &table.schema) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            (Some(_), None) => false,
            _ => true,
        }
}

/// A `[coverage] keep` pattern: `table.column`, `schema.table.column`,
/// `table.*` or `*.column`.
fn kept(pattern: &str, table: &TableName, column: &str) -> bool {
    let Some((t, c)) = pattern.rsplit_once('.') else {
        return false;
    };
    let table_matches = t == "*" || same_table(t, table);
    table_matches && (c == "*" || c.eq_ignore_ascii_case(column))
}

/// Whether the configuration accounts for the column.
fn classified(config: &Config, table: &TableName, column: &str) -> bool {
    if config.preserve.iter().any(|p| same_table(&p.table, table)) {
        return true;
    }
    for rule in config
        .sanitize
        .iter()
        .filter(|r| same_table(&r.table, table))
    {
        if rule.delete_all == Some(true) {
            return true;
        }
        let named = rule
            .set_null
            .iter()
            .flatten()
            .chain(rule.set.iter().flat_map(|s| s.keys()))
            .chain(rule.pseudonymize.iter().flat_map(|p| p.keys()));
        if named.into_iter().any(|c| c.eq_ignore_ascii_case(column)) {
            return true;
        }
    }
    config
        .coverage_keep()
        .iter()
        .any(|pattern| kept(pattern, table, column))
}

/// Checks every column of every table (as `LeakScan::scan_tables` lists them).
pub fn coverage(config: &Config, tables: &[ScanTable]) -> CoverageSummary {
    let mut summary = CoverageSummary {
        strict: config.coverage_strict(),
        ..CoverageSummary::default()
    };
    for table in tables {
        for column in &table.columns {
            summary.columns_checked += 1;
            let Some(looks_like) =
                crate::personal_data::looks_personal(&table.table.name, &column.name)
            else {
                continue;
            };
            summary.personal += 1;
            if !classified(config, &table.table, &column.name) {
                summary.unclassified.push(Unclassified {
                    table: table.table.to_string(),
                    column: column.name.clone(),
                    looks_like,
                });
            }
        }
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_patterns_name_columns_tables_and_everything_of_a_name() {
        let patient = TableName::parse("public.patient");
        assert!(kept("patient.email", &patient, "email"));
        assert!(kept("public.patient.email", &patient, "EMAIL"));
        assert!(kept("patient.*", &patient, "street"));
        assert!(kept("*.email", &patient, "email"));
        assert!(!kept("visit.email", &patient, "email"));
        assert!(!kept("other.patient.email", &patient, "email"));
        assert!(!kept("email", &patient, "email"));
    }
}
