//! Helpers for the health tests: run the library's `health` on a database URL and pick findings out of its summary.

use vault::config::DatabaseUrl;
use vault::health::{Finding, HealthSummary};

/// `vault::health::health` on `url`, with or without repairs.
pub fn check(url: &str, fix: bool) -> HealthSummary {
    let url = DatabaseUrl::parse(url).unwrap();
    vault::runtime::current_thread().unwrap().block_on(async {
        let mut db = vault::db::any::connect(&url).await.unwrap();
        vault::health::health(&mut db, fix).await.unwrap()
    })
}

/// Every finding as `kind object`, sorted, with ` repaired` when it is.
pub fn found(summary: &HealthSummary) -> Vec<String> {
    let mut found: Vec<String> = summary
        .findings
        .iter()
        .map(|f| {
            let repaired = if f.repaired { " repaired" } else { "" };
            format!("{} {}{repaired}", f.kind, f.object)
        })
        .collect();
    found.sort();
    found
}

/// The finding on `object`; panics with the whole summary when there is none.
pub fn finding<'a>(summary: &'a HealthSummary, object: &str) -> &'a Finding {
    summary
        .findings
        .iter()
        .find(|f| f.object == object)
        .unwrap_or_else(|| panic!("no finding on {object} in {summary:#?}"))
}
