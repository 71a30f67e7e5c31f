//! Keyed fingerprints of the values sanitize removes or changes, and the search for them inside any text: normalized to lower-case word tokens, hashed with HMAC-SHA256 under a key of the run, held in memory only.

use std::collections::{BTreeSet, HashSet};

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// A value's fingerprint: the first 16 bytes of its HMAC.
type Print = [u8; 16];

/// The longest value, in tokens, that is also looked for inside longer
/// text; a longer value (a note) is found when a cell holds it whole.
pub const MAX_PHRASE_TOKENS: usize = 12;

/// The fingerprints of one run. Never written anywhere; `Debug` shows
/// counts only.
pub struct Fingerprints {
    mac: HmacSha256,
    /// Whole values, normalized.
    whole: HashSet<Print>,
    /// Values of at most [`MAX_PHRASE_TOKENS`] tokens, looked for as a run
    /// of tokens inside any text.
    phrases: HashSet<Print>,
    /// The token counts present in `phrases`.
    lengths: BTreeSet<usize>,
    /// Values shorter than this (letters and digits) are not taken: too
    /// common to say anything.
    min_chars: usize,
    /// How many values were taken.
    pub values: u64,
    /// How many values were left out as too short.
    pub too_short: u64,
}

impl std::fmt::Debug for Fingerprints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fingerprints")
            .field("values", &self.values)
            .field("too_short", &self.too_short)
            .finish_non_exhaustive()
    }
}

/// The lower-case word tokens of a text: runs of letters and digits.
fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
        .collect()
}

impl Fingerprints {
    pub fn new(key: &[u8; 32], min_chars: usize) -> Self {
        Fingerprints {
            mac: HmacSha256::new_from_slice(key).expect("HMAC takes any key"),
            whole: HashSet::new(),
            phrases: HashSet::new(),
            lengths: BTreeSet::new(),
            min_chars,
            values: 0,
            too_short: 0,
        }
    }

    fn print(&self, tokens: &[String]) -> Print {
        let mut mac = self.mac.clone();
        for (i, token) in tokens.iter().enumerate() {
            if i > 0 {
                mac.update(b" ");
            }
            mac.update(token.as_bytes());
        }
        let full = mac.finalize().into_bytes();
        let mut print = [0u8; 16];
        print.copy_from_slice(&full[..16]);
        print
    }

    /// Takes one value that sanitize will remove or change.
    pub fn add(&mut self, value: &str) {
        let tokens = tokens(value);
        let chars: usize = tokens.iter().map(|t| t.chars().count()).sum();
        if chars < self.min_chars {
            self.too_short += 1;
            return;
        }
        let print = self.print(&tokens);
        self.whole.insert(print);
        if tokens.len() <= MAX_PHRASE_TOKENS {
            self.phrases.insert(print);
            self.lengths.insert(tokens.len());
        }
        self.values += 1;
    }

    /// Whether no value was taken.
    pub fn is_empty(&self) -> bool {
        self.whole.is_empty()
    }

    /// Whether `text` holds a taken value: whole, or as a run of tokens
    /// inside it.
    pub fn found_in(&self, text: &str) -> bool {
        let tokens = tokens(text);
        if tokens.is_empty() {
            return false;
        }
        if self.whole.contains(&self.print(&tokens)) {
            return true;
        }
        for &n in &self.lengths {
            if n > tokens.len() {
                break;
            }
            for window in tokens.windows(n) {
                let chars: usize = window.iter().map(|t| t.chars().count()).sum();
                if chars >= self.min_chars && self.phrases.contains(&self.print(window)) {
                    return true;
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prints(values: &[&str]) -> Fingerprints {
        let mut f = Fingerprints::new(&[7u8; 32], 6);
        for v in values {
            f.add(v);
        }
        f
    }

    #[test]
    fn a_value_is_found_whole_inside_text_and_inside_json() {
        let f = prints(&["Johanna de Vries", "j.devries@example.org", "884422117"]);
        assert!(f.found_in("JOHANNA  de vries"));
        assert!(f.found_in("Called Johanna de Vries about the results."));
        assert!(f.found_in(r#"{"patient": {"email": "j.devries@example.org"}}"#));
        assert!(f.found_in("MRN 884422117 admitted"));
        assert!(!f.found_in("Johanna de Jong"));
        assert!(!f.found_in("8844221170"));
        assert!(!f.found_in(""));
    }

    #[test]
    fn short_values_are_not_taken_and_keys_differ() {
        let f = prints(&["Jan", "F"]);
        assert!(f.is_empty());
        assert_eq!(f.too_short, 2);
        let a = prints(&["Johanna de Vries"]);
        let mut b = Fingerprints::new(&[8u8; 32], 6);
        b.add("Johanna de Vries");
        assert_ne!(a.whole, b.whole, "another key, other fingerprints");
        assert!(format!("{a:?}").contains("values: 1"));
        assert!(!format!("{a:?}").contains("Johanna"));
    }

    #[test]
    fn a_long_note_is_found_when_a_cell_holds_it_whole() {
        let note = "Patient reports chest pain since Tuesday evening, radiating to the left arm, worse on exertion";
        let f = prints(&[note]);
        assert!(f.found_in(note));
        assert!(!f.found_in("chest pain"));
    }
}
