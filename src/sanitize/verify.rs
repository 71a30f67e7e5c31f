//! The verification: one count per rule, in a fresh transaction after the commit, of what the rule should have removed or changed.

use super::sql_text::{names_column, read_sql};
use super::{
    Action, Determinism, RuleCheck, Sanitizer, VerifySummary, action_of, at, describe_action,
    filter_and,
};
use crate::config::Config;
use crate::exit::ToolError;
use crate::names::{TableName, quote_ident};

/// Counts, in a fresh transaction that is then rolled back, what each rule
/// should have removed or changed and is still there.
pub async fn verify<S: Sanitizer>(db: &mut S, config: &Config) -> Result<VerifySummary, ToolError> {
    db.begin_verify().await?;
    let checked = verify_rules(db, config).await;
    let ended = db.end_transaction(false).await;
    let summary = checked?;
    ended?;
    Ok(summary)
}

async fn verify_rules<S: Sanitizer>(
    db: &mut S,
    config: &Config,
) -> Result<VerifySummary, ToolError> {
    let mut rules = Vec::new();
    for (i, rule) in config.sanitize.iter().enumerate() {
        let table = TableName::parse(&rule.table);
        let sql_table = db.table_sql(&table);
        let mut not_verifiable = Vec::new();
        // The predicate or `where`: a volatile one selects other rows each time.
        let selector = rule.delete_where.as_deref().or(rule.filter.as_deref());
        let mut verifiable = true;
        if let Some(selector) = selector {
            match db.determinism(&table, selector).await? {
                Determinism::Volatile(why) | Determinism::Unknown(why) => {
                    not_verifiable.push(format!("the predicate {why}"));
                    verifiable = false;
                }
                Determinism::Deterministic | Determinism::Clock(_) => {}
            }
        }
        let count_sql = match action_of(rule) {
            Action::DeleteWhere(predicate) => Some(format!(
                "SELECT count(*) FROM {sql_table} WHERE ({predicate})"
            )),
            Action::DeleteAll => Some(format!("SELECT count(*) FROM {sql_table}")),
            Action::SetNull(columns) => {
                let held: Vec<String> = columns
                    .iter()
                    .map(|c| format!("{} IS NOT NULL", quote_ident(c)))
                    .collect();
                Some(format!(
                    "SELECT count(*) FROM {sql_table} WHERE {}({})",
                    filter_and(rule),
                    held.join(" OR ")
                ))
            }
            Action::Set(pairs) => {
                let mut differs = Vec::new();
                for (column, expression) in &pairs {
                    // `md5(email)` compared with the masked email differs:
                    // the value it was computed from is gone.
                    let text = read_sql(expression);
                    if let Some((read, _)) = pairs.iter().find(|(c, _)| names_column(&text, c)) {
                        not_verifiable.push(format!(
                            "column {column}: the expression reads {read}, which the rule changes"
                        ));
                        continue;
                    }
                    match db.determinism(&table, expression).await? {
                        Determinism::Deterministic => {
                            differs.push(db.differs_sql(column, expression))
                        }
                        Determinism::Clock(why)
                        | Determinism::Volatile(why)
                        | Determinism::Unknown(why) => {
                            not_verifiable.push(format!("column {column}: the expression {why}"));
                        }
                    }
                }
                (!differs.is_empty()).then(|| {
                    format!(
                        "SELECT count(*) FROM {sql_table} WHERE {}({})",
                        filter_and(rule),
                        differs.join(" OR ")
                    )
                })
            }
            Action::Pseudonymize(columns) => {
                // A pseudonym's pre-image is gone; what can be counted is
                // the values that no pseudonym of the kind looks like.
                let mut misshapen = Vec::new();
                for (column, kind) in &columns {
                    match db.misshapen_sql(column, kind) {
                        Some(sql) => misshapen.push(sql),
                        None => not_verifiable.push(format!(
                            "column {column}: a shifted date looks like any other date"
                        )),
                    }
                }
                (!misshapen.is_empty()).then(|| {
                    format!(
                        "SELECT count(*) FROM {sql_table} WHERE {}({})",
                        filter_and(rule),
                        misshapen.join(" OR ")
                    )
                })
            }
        };
        let rows_left = match count_sql {
            Some(sql) if verifiable => {
                Some(db.sanitize_count(&sql).await.map_err(|e| ToolError {
                    message: format!("verifying {}: {}", at(i, rule), e.message),
                    ..e
                })?)
            }
            _ => None,
        };
        rules.push(RuleCheck {
            rule: i + 1,
            table: rule.table.clone(),
            action: describe_action(rule),
            rows_left,
            not_verifiable,
        });
    }
    let objects_left = db.count_unreferenced_objects().await?;
    Ok(VerifySummary {
        rules,
        objects_left,
    })
}
