//! Helpers for the `vault sanitize` tests: the figures of one rule's report line.

use super::Run;

/// The two figures that end one rule's report line: rows affected (or
/// that a dry run would touch) and rows left (`-` without verification,
/// `n/v` when not verifiable).
pub fn figures(run: &Run, rule: usize) -> [&str; 2] {
    let words: Vec<&str> = run
        .stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(&rule.to_string()))
        .unwrap_or_else(|| panic!("no line for rule {rule} in\n{}", run.stdout))
        .split_whitespace()
        .collect();
    [words[words.len() - 2], words[words.len() - 1]]
}
