//! `vault init`: read acceptance (read-only) and propose a commented vault.toml: the tables it owns to preserve, its application's roles, and sanitize candidates with evidence.
//!
//! Each engine implements [`Init`] in `db/<engine>/init.rs`: it lists the
//! tables with their columns and keys, the roles that exist for the
//! application, and hands back a sample of a column's values as a
//! [`Sample`], which only counts matches in memory and is wiped when
//! dropped: no sampled value is ever printed, logged or stored. With
//! production, the rows of each proposed table are compared through the
//! compare step's row hashing ([`Compare::bucket_sums`]). [`render`] writes
//! the file; the same database gives the same text.

pub mod patterns;
pub mod render;
pub mod words;

use std::collections::BTreeMap;

use zeroize::Zeroize;

use crate::compare::{Compare, Relation};
use crate::config::Mode;
use crate::exit::ToolError;
use crate::names::TableName;
use patterns::Pattern;
use words::{Owned, Personal};

/// How many non-null values of a column are sampled for its evidence.
pub const SAMPLE_SIZE: u32 = 200;

/// A share of sampled values, in percent, from which a text column whose
/// name says nothing is still proposed because its values look like e-mail
/// addresses.
const CONTENT_THRESHOLD_PERCENT: u64 = 50;

/// What a column holds, as far as the proposals care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Text,
    /// `bytea`, BLOB: documents.
    Binary,
    /// Dates and timestamps.
    Temporal,
    Other,
}

/// One column as the survey reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyedColumn {
    pub name: String,
    /// The type as the engine spells it (`character varying(50)`, `varchar(50)`).
    pub data_type: String,
    pub kind: ValueKind,
    pub nullable: bool,
}

/// One table (never a view) of the database, with its primary key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyedTable {
    pub name: TableName,
    /// In the table's order.
    pub columns: Vec<SurveyedColumn>,
    /// The primary key's columns; empty when there is none.
    pub key: Vec<String>,
}

impl SurveyedTable {
    /// The table as the compare step's row hashing names it.
    fn relation(&self, columns: Vec<String>) -> Relation {
        Relation {
            name: self.name.to_string(),
            schema: self.name.schema.clone(),
            table: self.name.name.clone(),
            columns,
            key: self.key.clone(),
            materialized: false,
        }
    }
}

/// The roles that exist for the application, where the engine can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplicationRoles {
    Found(Vec<String>),
    /// The engine has no roles; the text says so in the file.
    NotApplicable(&'static str),
}

/// Sampled values of one column, in memory only: no `Debug` of the values,
/// no `Clone`, no `Serialize`, wiped on drop. Only counts leave it.
pub struct Sample {
    values: Vec<String>,
}

impl Sample {
    pub fn new(values: Vec<String>) -> Self {
        Sample { values }
    }

    pub fn len(&self) -> u64 {
        self.values.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// How many sampled values have the shape.
    pub fn matching(&self, pattern: Pattern) -> u64 {
        self.values.iter().filter(|v| pattern.matches(v)).count() as u64
    }
}

impl Drop for Sample {
    fn drop(&mut self) {
        self.values.zeroize();
    }
}

impl std::fmt::Debug for Sample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sample({} values)", self.values.len())
    }
}

/// One engine's side of `vault init`. The session is read-only first
/// ([`Compare::read_only`]).
#[allow(async_fn_in_trait)]
pub trait Init: Compare {
    /// The database's tables (no views, no system tables), sorted by name.
    async fn survey_tables(&mut self) -> Result<Vec<SurveyedTable>, ToolError>;

    /// The roles or accounts that hold privileges for the application.
    async fn application_roles(&mut self) -> Result<ApplicationRoles, ToolError>;

    /// Up to `limit` non-null values of a column as text, in a fixed order
    /// (the primary key's, else the column's own).
    async fn sample_values(
        &mut self,
        table: &SurveyedTable,
        column: &str,
        limit: u32,
    ) -> Result<Sample, ToolError>;
}

/// How many of a column's sampled values had a shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchRate {
    pub pattern: Pattern,
    pub matched: u64,
    pub sampled: u64,
}

impl MatchRate {
    fn of(sample: &Sample, pattern: Pattern) -> Self {
        MatchRate {
            pattern,
            matched: sample.matching(pattern),
            sampled: sample.len(),
        }
    }

    /// Whole percent, rounded down.
    pub fn percent(&self) -> u64 {
        (self.matched * 100).checked_div(self.sampled).unwrap_or(0)
    }
}

/// Why a table is proposed for `[[preserve]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub owned: Owned,
    /// `table name` or `column password`.
    pub found_in: String,
    pub word: &'static str,
}

/// How the table's rows compare with production's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProductionRows {
    Same {
        rows: u64,
    },
    Differ {
        acceptance: u64,
        production: u64,
    },
    /// Production has no table of that name.
    Absent,
}

/// A table proposed for `[[preserve]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreserveProposal {
    pub table: TableName,
    pub key: Vec<String>,
    pub mode: Mode,
    pub reasons: Vec<Reason>,
    pub production: Option<ProductionRows>,
}

/// Evidence that a column may hold personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnEvidence {
    pub column: String,
    pub data_type: String,
    pub nullable: bool,
    pub personal: Personal,
    /// The name's word that matched; `None` when only the values did.
    pub word: Option<&'static str>,
    /// `None` for a column that is not text (a `date` birth date).
    pub rate: Option<MatchRate>,
}

/// What `vault init` proposes to sanitize in one table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SanitizeProposal {
    pub columns: Vec<ColumnEvidence>,
    /// Columns of documents (`bytea`, BLOB), with their types.
    pub documents: Vec<(String, String)>,
    /// The clinical word of the table's name and its date columns.
    pub cut_off: Option<(&'static str, Vec<(String, String)>)>,
}

/// Everything `vault init` found, ready to be written as vault.toml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposals {
    pub preserve: Vec<PreserveProposal>,
    pub roles: ApplicationRoles,
    /// By table, in name order.
    pub sanitize: Vec<(TableName, SanitizeProposal)>,
    /// Tables acceptance has and production has not (with production only).
    pub only_in_acceptance: Vec<TableName>,
    pub compared_with_production: bool,
    /// Tables left out because their names cannot be written in vault.toml.
    pub unnamed: Vec<String>,
}

/// Whether vault.toml can name the table (no dots, quotes or control
/// characters in its parts).
fn nameable(table: &TableName) -> bool {
    let fine = |part: &str| {
        !part.is_empty()
            && !part
                .chars()
                .any(|c| c == '.' || c == '"' || c == '\'' || c == '`' || c.is_control())
    };
    fine(&table.name) && table.schema.as_deref().is_none_or(fine)
}

/// Reads acceptance (and production, when given) and proposes what a
/// vault.toml should say. Both sessions are made read-only first.
pub async fn propose<E: Init>(
    acceptance: &mut E,
    production: Option<&mut E>,
) -> Result<Proposals, ToolError> {
    acceptance.read_only().await?;
    let mut tables = acceptance.survey_tables().await?;
    tables.sort_by_key(|t| t.name.to_string());
    let unnamed: Vec<String> = tables
        .iter()
        .filter(|t| !nameable(&t.name))
        .map(|t| crate::units::printable(&t.name.to_string()))
        .collect();
    tables.retain(|t| nameable(&t.name));
    let roles = acceptance.application_roles().await?;

    let mut preserve: Vec<PreserveProposal> = tables.iter().filter_map(preserve_proposal).collect();
    let mut sanitize = Vec::new();
    for table in &tables {
        let proposal = sanitize_proposal(acceptance, table).await?;
        if proposal != SanitizeProposal::default() {
            sanitize.push((table.name.clone(), proposal));
        }
    }

    let mut only_in_acceptance = Vec::new();
    let compared_with_production = production.is_some();
    if let Some(production) = production {
        production.read_only().await?;
        let theirs: BTreeMap<String, SurveyedTable> = production
            .survey_tables()
            .await?
            .into_iter()
            .map(|t| (t.name.to_string(), t))
            .collect();
        only_in_acceptance = tables
            .iter()
            .filter(|t| !theirs.contains_key(&t.name.to_string()))
            .map(|t| t.name.clone())
            .collect();
        for proposal in &mut preserve {
            let ours = tables
                .iter()
                .find(|t| t.name == proposal.table)
                .expect("a proposal names a surveyed table");
            proposal.production = Some(match theirs.get(&ours.name.to_string()) {
                None => ProductionRows::Absent,
                Some(theirs) => compare_rows(acceptance, ours, production, theirs).await?,
            });
        }
    }
    Ok(Proposals {
        preserve,
        roles,
        sanitize,
        only_in_acceptance,
        compared_with_production,
        unnamed,
    })
}

/// The reasons a table is acceptance's own, if any: its name first, then
/// the columns that say so.
fn preserve_proposal(table: &SurveyedTable) -> Option<PreserveProposal> {
    let mut reasons: Vec<Reason> = words::owned_by_table_name(&table.name.name)
        .into_iter()
        .map(|(owned, word)| Reason {
            owned,
            found_in: "table name".into(),
            word,
        })
        .collect();
    for column in &table.columns {
        if let Some((owned, word)) = words::owned_by_column_name(&column.name)
            && !reasons.iter().any(|r| r.owned == owned)
        {
            reasons.push(Reason {
                owned,
                found_in: format!("column {}", column.name),
                word,
            });
        }
    }
    if reasons.is_empty() {
        return None;
    }
    // Settings: production's new settings stay, acceptance's values win.
    let mode = if reasons.iter().all(|r| r.owned == Owned::Settings) {
        Mode::Upsert
    } else {
        Mode::Replace
    };
    Some(PreserveProposal {
        table: table.name.clone(),
        key: table.key.clone(),
        mode,
        reasons,
        production: None,
    })
}

/// Personal data, documents and clinical dates of one table, each with its
/// evidence (name, type, and the sampled match rate of text columns).
async fn sanitize_proposal<E: Init>(
    db: &mut E,
    table: &SurveyedTable,
) -> Result<SanitizeProposal, ToolError> {
    let mut proposal = SanitizeProposal::default();
    for column in &table.columns {
        if column.kind == ValueKind::Binary {
            proposal
                .documents
                .push((column.name.clone(), column.data_type.clone()));
            continue;
        }
        let by_name = words::personal_by_column_name(&table.name.name, &column.name);
        if column.kind != ValueKind::Text {
            // A birth date held as a date: its type is the evidence.
            if let Some((Personal::BirthDate, word)) = by_name
                && column.kind == ValueKind::Temporal
            {
                proposal.columns.push(ColumnEvidence {
                    column: column.name.clone(),
                    data_type: column.data_type.clone(),
                    nullable: column.nullable,
                    personal: Personal::BirthDate,
                    word: Some(word),
                    rate: None,
                });
            }
            continue;
        }
        let sample = db.sample_values(table, &column.name, SAMPLE_SIZE).await?;
        let evidence = match by_name {
            Some((personal, word)) => Some((
                personal,
                Some(word),
                MatchRate::of(&sample, Pattern::for_personal(personal)),
            )),
            None => {
                let rate = MatchRate::of(&sample, Pattern::Email);
                (!sample.is_empty() && rate.percent() >= CONTENT_THRESHOLD_PERCENT).then_some((
                    Personal::Email,
                    None,
                    rate,
                ))
            }
        };
        drop(sample);
        if let Some((personal, word, rate)) = evidence {
            proposal.columns.push(ColumnEvidence {
                column: column.name.clone(),
                data_type: column.data_type.clone(),
                nullable: column.nullable,
                personal,
                word,
                rate: Some(rate),
            });
        }
    }
    if let Some(word) = words::clinical_word(&table.name.name) {
        let dates: Vec<(String, String)> = table
            .columns
            .iter()
            .filter(|c| c.kind == ValueKind::Temporal)
            .filter(|c| !proposal.columns.iter().any(|e| e.column == c.name))
            .map(|c| (c.name.clone(), c.data_type.clone()))
            .collect();
        if !dates.is_empty() {
            proposal.cut_off = Some((word, dates));
        }
    }
    Ok(proposal)
}

/// Counts and an order-independent checksum of the columns both sides
/// have, on each side.
async fn compare_rows<E: Init>(
    acceptance: &mut E,
    ours: &SurveyedTable,
    production: &mut E,
    theirs: &SurveyedTable,
) -> Result<ProductionRows, ToolError> {
    let mut shared: Vec<String> = ours
        .columns
        .iter()
        .filter(|c| theirs.columns.iter().any(|t| t.name == c.name))
        .map(|c| c.name.clone())
        .collect();
    shared.sort();
    let sum = |sums: Vec<crate::compare::BucketSum>| {
        sums.into_iter()
            .fold((0u64, Vec::new()), |(rows, mut checksums), s| {
                checksums.push(s.checksum);
                (rows + s.rows, checksums)
            })
    };
    let (acceptance_rows, acceptance_sums) = sum(acceptance
        .bucket_sums(&ours.relation(shared.clone()), &shared, 1)
        .await?);
    let (production_rows, production_sums) = sum(production
        .bucket_sums(&theirs.relation(shared.clone()), &shared, 1)
        .await?);
    if acceptance_rows == production_rows && acceptance_sums == production_sums {
        Ok(ProductionRows::Same {
            rows: acceptance_rows,
        })
    } else {
        Ok(ProductionRows::Differ {
            acceptance: acceptance_rows,
            production: production_rows,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, kind: ValueKind) -> SurveyedColumn {
        SurveyedColumn {
            name: name.into(),
            data_type: "text".into(),
            kind,
            nullable: true,
        }
    }

    #[test]
    fn a_staff_table_with_a_password_is_proposed_and_a_film_is_not() {
        let staff = SurveyedTable {
            name: TableName::parse("public.staff"),
            columns: vec![
                column("staff_id", ValueKind::Other),
                column("username", ValueKind::Text),
                column("password", ValueKind::Text),
            ],
            key: vec!["staff_id".into()],
        };
        let proposal = preserve_proposal(&staff).expect("staff is proposed");
        let found: Vec<(Owned, &str)> = proposal
            .reasons
            .iter()
            .map(|r| (r.owned, r.found_in.as_str()))
            .collect();
        assert_eq!(
            found,
            vec![
                (Owned::Accounts, "table name"),
                (Owned::Credentials, "column password")
            ]
        );
        assert_eq!(proposal.mode, Mode::Replace);
        let film = SurveyedTable {
            name: TableName::parse("public.film"),
            columns: vec![column("title", ValueKind::Text)],
            key: vec![],
        };
        assert_eq!(preserve_proposal(&film), None);
    }

    #[test]
    fn settings_alone_are_upserted() {
        let settings = SurveyedTable {
            name: TableName::parse("app_setting"),
            columns: vec![column("name", ValueKind::Text)],
            key: vec!["name".into()],
        };
        assert_eq!(preserve_proposal(&settings).unwrap().mode, Mode::Upsert);
    }

    #[test]
    fn a_sample_counts_and_never_shows_its_values() {
        let sample = Sample::new(vec!["a@b.org".into(), "nope".into()]);
        assert_eq!(sample.matching(Pattern::Email), 1);
        assert_eq!(format!("{sample:?}"), "Sample(2 values)");
        let rate = MatchRate::of(&sample, Pattern::Email);
        assert_eq!(rate.percent(), 50);
    }

    #[test]
    fn names_vault_toml_cannot_hold_are_left_out() {
        assert!(nameable(&TableName::parse("public.staff")));
        assert!(!nameable(&TableName {
            schema: None,
            name: "a.b".into()
        }));
        assert!(!nameable(&TableName {
            schema: None,
            name: "x\"y".into()
        }));
    }
}
