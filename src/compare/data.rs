//! Comparing the rows of one relation on both sides: totals first, then hash buckets of the key, then the keys of the buckets that differ.
//!
//! Every row is hashed inside its database; only counts and checksums per
//! bucket cross the wire, and keys with row hashes only for buckets that
//! differ. Bucket sizes aim at about [`ROWS_PER_BUCKET`] rows, so a few
//! changed rows cost one grouped scan and one filtered scan per side, the
//! two sides running at the same time.

use std::collections::BTreeMap;

use super::{Compare, DataDifference, Difference, Relation};
use crate::exit::ToolError;

/// About how many rows share one bucket when a table is narrowed down.
pub const ROWS_PER_BUCKET: u64 = 64;

/// The most buckets one table is split into.
pub const MAX_BUCKETS: u64 = 1 << 20;

/// How many differing keys the report lists per table.
pub const SAMPLE_KEYS: usize = 10;

/// How many buckets give about [`ROWS_PER_BUCKET`] rows each.
fn buckets_for(rows: u64) -> u32 {
    (rows / ROWS_PER_BUCKET).clamp(1, MAX_BUCKETS) as u32
}

/// Compares the rows of `relation` (acceptance) and `other` (production):
/// `None` when they hold the same rows.
pub async fn compare_relation<E: Compare>(
    acceptance: &mut E,
    production: &mut E,
    relation: &Relation,
    other: &Relation,
    notes: &mut Vec<String>,
) -> Result<Option<Difference>, ToolError> {
    let mut columns: Vec<String> = relation
        .columns
        .iter()
        .filter(|c| other.columns.contains(c))
        .cloned()
        .collect();
    columns.sort();
    let keyed = !relation.key.is_empty() && relation.key == other.key;
    // One grouped scan per side, both sides at once, with buckets sized
    // from the planner's estimate; a second one only when the estimate was
    // far too low.
    let mut buckets = 1;
    if keyed {
        let (a, p) = tokio::join!(
            acceptance.estimated_rows(relation),
            production.estimated_rows(other)
        );
        buckets = buckets_for(a?.max(p?));
    }
    let (a, p) = tokio::join!(
        acceptance.bucket_sums(relation, &columns, buckets),
        production.bucket_sums(other, &columns, buckets)
    );
    let (mut a, mut p) = (a?, p?);
    let total = |sums: &[super::BucketSum]| sums.iter().map(|s| s.rows).sum::<u64>();
    let (acceptance_rows, production_rows) = (total(&a), total(&p));
    if a == p {
        if !keyed {
            notes.push(format!(
                "{}: no primary key; compared by count and checksum only",
                relation.name
            ));
        }
        return Ok(None);
    }
    let mut data = DataDifference {
        acceptance_rows,
        production_rows,
        keyed,
        missing: 0,
        extra: 0,
        changed: 0,
        sample_keys: Vec::new(),
        sample_key_digests: Vec::new(),
    };
    let mut difference = Difference::new("data", &relation.name, "rows");
    difference.table = Some(relation.name.clone());
    if !keyed {
        notes.push(format!(
            "{}: no primary key (or not the same one on both sides); compared by count and checksum only",
            relation.name
        ));
        difference.data = Some(data);
        return Ok(Some(difference));
    }
    let needed = buckets_for(acceptance_rows.max(production_rows));
    if needed > buckets.saturating_mul(4) {
        buckets = needed;
        let (x, y) = tokio::join!(
            acceptance.bucket_sums(relation, &columns, buckets),
            production.bucket_sums(other, &columns, buckets)
        );
        (a, p) = (x?, y?);
    }
    let a: BTreeMap<u32, _> = a.into_iter().map(|s| (s.bucket, s)).collect();
    let p: BTreeMap<u32, _> = p.into_iter().map(|s| (s.bucket, s)).collect();
    let differing: Vec<u32> = a
        .keys()
        .chain(p.keys())
        .copied()
        .collect::<std::collections::BTreeSet<u32>>()
        .into_iter()
        .filter(|b| a.get(b) != p.get(b))
        .collect();
    let (a, p) = tokio::join!(
        acceptance.bucket_keys(relation, &columns, buckets, &differing),
        production.bucket_keys(other, &columns, buckets, &differing)
    );
    let a: BTreeMap<String, String> = a?.into_iter().collect();
    let p: BTreeMap<String, String> = p?.into_iter().collect();
    let mut sample = Vec::new();
    for (key, hash) in &a {
        match p.get(key) {
            None => {
                data.extra += 1;
                sample.push(key.clone());
            }
            Some(other) if other != hash => {
                data.changed += 1;
                sample.push(key.clone());
            }
            Some(_) => {}
        }
    }
    for key in p.keys() {
        if !a.contains_key(key) {
            data.missing += 1;
            sample.push(key.clone());
        }
    }
    sample.sort();
    sample.truncate(SAMPLE_KEYS);
    data.sample_keys = sample;
    difference.data = Some(data);
    Ok(Some(difference))
}
