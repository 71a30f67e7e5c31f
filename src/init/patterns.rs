//! Shapes of values (an e-mail address, a phone number, a person's name, ...) tested on sampled values in memory; only the count of matches leaves this module, never a value.

use super::words::Personal;

/// A shape a sampled value may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    Email,
    Phone,
    PersonName,
    Identifier,
    Address,
    DateText,
    FreeText,
}

impl Pattern {
    /// The shape to test for a kind of personal data held as text.
    pub fn for_personal(personal: Personal) -> Pattern {
        match personal {
            Personal::Email => Pattern::Email,
            Personal::Phone => Pattern::Phone,
            Personal::PersonName => Pattern::PersonName,
            Personal::RecordNumber => Pattern::Identifier,
            Personal::Address => Pattern::Address,
            Personal::BirthDate => Pattern::DateText,
            Personal::Notes => Pattern::FreeText,
        }
    }

    /// The shape's name in the evidence line ("e-mail pattern matched ...").
    pub fn label(self) -> &'static str {
        match self {
            Pattern::Email => "e-mail",
            Pattern::Phone => "phone-number",
            Pattern::PersonName => "person-name",
            Pattern::Identifier => "identifier",
            Pattern::Address => "street-address",
            Pattern::DateText => "date",
            Pattern::FreeText => "free-text",
        }
    }

    /// Whether `value` has the shape.
    pub fn matches(self, value: &str) -> bool {
        let value = value.trim();
        match self {
            Pattern::Email => is_email(value),
            Pattern::Phone => is_phone(value),
            Pattern::PersonName => is_person_name(value),
            Pattern::Identifier => is_identifier(value),
            Pattern::Address => is_address(value),
            Pattern::DateText => is_date_text(value),
            Pattern::FreeText => value.split_whitespace().count() >= 3,
        }
    }
}

/// `local@domain.tld`: one `@`, no spaces, a dot inside the domain.
fn is_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && !value.chars().any(char::is_whitespace)
        && domain
            .split_once('.')
            .is_some_and(|(host, tld)| !host.is_empty() && tld.len() >= 2 && !tld.ends_with('.'))
}

/// 7 to 15 digits, with only `+ - . ( )` and spaces between them.
fn is_phone(value: &str) -> bool {
    let digits = value.chars().filter(char::is_ascii_digit).count();
    (7..=15).contains(&digits)
        && value
            .chars()
            .all(|c| c.is_ascii_digit() || " +-.()/".contains(c))
}

/// One to four words of letters (apostrophes, hyphens and dots allowed).
fn is_person_name(value: &str) -> bool {
    let words = value.split_whitespace().count();
    (1..=4).contains(&words)
        && value.chars().filter(|c| c.is_alphabetic()).count() >= 2
        && value
            .chars()
            .all(|c| c.is_alphabetic() || c.is_whitespace() || "'-.".contains(c))
}

/// 5 to 20 characters, letters, digits, `-` and spaces, at least 5 digits.
fn is_identifier(value: &str) -> bool {
    let length = value.chars().count();
    (5..=20).contains(&length)
        && value.chars().filter(char::is_ascii_digit).count() >= 5
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ' ')
}

/// A number and a word of at least three letters.
fn is_address(value: &str) -> bool {
    value.chars().any(|c| c.is_ascii_digit())
        && value
            .split(|c: char| !c.is_alphabetic())
            .any(|word| word.chars().count() >= 3)
}

/// `YYYY-MM-DD`, `DD-MM-YYYY` or `DD/MM/YYYY` (and `.`), at the start.
fn is_date_text(value: &str) -> bool {
    let head: Vec<char> = value.chars().take(10).collect();
    if head.len() < 10 {
        return false;
    }
    let digit = |i: usize| head[i].is_ascii_digit();
    let separator = |i: usize| "-/.".contains(head[i]);
    let year_first = (0..4).all(digit) && separator(4) && digit(5) && digit(6) && separator(7);
    let year_last = digit(0) && digit(1) && separator(2) && digit(3) && digit(4) && separator(5);
    (year_first && digit(8) && digit(9)) || (year_last && (6..10).all(digit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_shape_takes_its_values_and_refuses_others() {
        let cases: &[(Pattern, &str, bool)] = &[
            (Pattern::Email, "mary.smith@example.org", true),
            (Pattern::Email, "not an@address.org", false),
            (Pattern::Email, "host@localhost", false),
            (Pattern::Phone, "+31 (0)20-555 1234", true),
            (Pattern::Phone, "12", false),
            (Pattern::Phone, "555-CALL-NOW", false),
            (Pattern::PersonName, "Mary-Ann O'Neil", true),
            (Pattern::PersonName, "Room 12", false),
            (Pattern::Identifier, "MRN-0012345", true),
            (Pattern::Identifier, "hello", false),
            (Pattern::Address, "47 MySakila Drive", true),
            (Pattern::Address, "Drive", false),
            (Pattern::DateText, "1980-02-29", true),
            (Pattern::DateText, "29/02/1980", true),
            (Pattern::DateText, "yesterday!", false),
            (Pattern::FreeText, "patient reports mild pain", true),
            (Pattern::FreeText, "ok", false),
        ];
        for (pattern, value, expected) in cases {
            assert_eq!(
                pattern.matches(value),
                *expected,
                "{pattern:?} on {value:?}"
            );
        }
    }
}
