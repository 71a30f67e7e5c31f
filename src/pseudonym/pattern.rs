//! The pattern of an `identifier` or `phone` pseudonym: `#` a digit, `@` a capital letter, `*` a digit or capital letter, `\` makes the next character literal; everything else is written as given.

/// The most placeholders a pattern may hold: one byte of the 32-byte hash each.
pub const MAX_PLACEHOLDERS: usize = 32;

/// Characters a pattern may write literally: safe unquoted in every
/// engine's string literals, regular expressions and GLOB patterns.
const LITERAL: &str = "-_./:+() ";

/// One piece of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Written as given.
    Literal(String),
    /// `#`: 0-9, from one hash byte modulo 10.
    Digit,
    /// `@`: A-Z, from one hash byte modulo 26.
    Letter,
    /// `*`: 0-9 or A-Z, from one hash byte modulo 36.
    Alnum,
}

/// The 36 characters of an `*` placeholder, in order.
pub const ALNUM: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// A parsed pattern: literals and placeholders; the j-th placeholder takes
/// byte j of the keyed hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    pub text: String,
    pub pieces: Vec<Piece>,
}

impl Pattern {
    /// Parses a pattern; the message says what is wrong and how to write it.
    pub fn parse(text: &str) -> Result<Pattern, String> {
        let mut pieces: Vec<Piece> = Vec::new();
        let mut chars = text.chars();
        let mut placeholders = 0;
        while let Some(c) = chars.next() {
            let piece = match c {
                '#' => Piece::Digit,
                '@' => Piece::Letter,
                '*' => Piece::Alnum,
                '\\' => match chars.next() {
                    Some(next @ ('#' | '@' | '*')) => Piece::Literal(next.to_string()),
                    _ => {
                        return Err(format!(
                            "pattern \"{text}\": `\\` must be followed by #, @ or *"
                        ));
                    }
                },
                c if c.is_ascii_alphanumeric() || LITERAL.contains(c) => {
                    Piece::Literal(c.to_string())
                }
                c => {
                    return Err(format!(
                        "pattern \"{text}\": the character {c:?} cannot be written; use letters, digits, `{LITERAL}` and the placeholders # (digit), @ (letter), * (digit or letter)"
                    ));
                }
            };
            if !matches!(piece, Piece::Literal(_)) {
                placeholders += 1;
            }
            match (pieces.last_mut(), &piece) {
                (Some(Piece::Literal(before)), Piece::Literal(more)) => before.push_str(more),
                _ => pieces.push(piece),
            }
        }
        if placeholders == 0 {
            return Err(format!(
                "pattern \"{text}\" has no placeholder; use # for a digit, @ for a letter, * for either"
            ));
        }
        if placeholders > MAX_PLACEHOLDERS {
            return Err(format!(
                "pattern \"{text}\" has {placeholders} placeholders; at most {MAX_PLACEHOLDERS}"
            ));
        }
        Ok(Pattern {
            text: text.to_owned(),
            pieces,
        })
    }

    /// The text a hash gives: placeholder j takes `hash[j]`.
    pub fn fill(&self, hash: &[u8; 32]) -> String {
        let mut out = String::new();
        let mut j = 0;
        for piece in &self.pieces {
            let byte = |j: usize| hash[j] as usize;
            match piece {
                Piece::Literal(text) => out.push_str(text),
                Piece::Digit => out.push(char::from(b'0' + (byte(j) % 10) as u8)),
                Piece::Letter => out.push(char::from(b'A' + (byte(j) % 26) as u8)),
                Piece::Alnum => out.push(char::from(ALNUM.as_bytes()[byte(j) % 36])),
            }
            if !matches!(piece, Piece::Literal(_)) {
                j += 1;
            }
        }
        out
    }

    /// A POSIX regular expression matching every text the pattern gives,
    /// anchored, without backslashes (PostgreSQL `~`, MariaDB `REGEXP`).
    pub fn regex(&self) -> String {
        let mut out = String::from("^");
        for piece in &self.pieces {
            match piece {
                Piece::Literal(text) => {
                    for c in text.chars() {
                        match c {
                            '.' | '+' | '(' | ')' => out.push_str(&format!("[{c}]")),
                            c => out.push(c),
                        }
                    }
                }
                Piece::Digit => out.push_str("[0-9]"),
                Piece::Letter => out.push_str("[A-Z]"),
                Piece::Alnum => out.push_str("[0-9A-Z]"),
            }
        }
        out.push('$');
        out
    }

    /// A GLOB pattern matching exactly the texts the pattern gives (SQLite).
    pub fn glob(&self) -> String {
        self.pieces
            .iter()
            .map(|piece| match piece {
                Piece::Literal(text) => text.clone(),
                Piece::Digit => "[0-9]".into(),
                Piece::Letter => "[A-Z]".into(),
                Piece::Alnum => "[0-9A-Z]".into(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_take_one_hash_byte_each() {
        let pattern = Pattern::parse("MRN-##@*\\#").unwrap();
        let mut hash = [0u8; 32];
        hash[0] = 13;
        hash[1] = 9;
        hash[2] = 27;
        hash[3] = 35;
        assert_eq!(pattern.fill(&hash), "MRN-39BZ#");
        assert_eq!(pattern.regex(), "^MRN-[0-9][0-9][A-Z][0-9A-Z]#$");
        assert_eq!(pattern.glob(), "MRN-[0-9][0-9][A-Z][0-9A-Z]#");
    }

    #[test]
    fn bad_patterns_say_what_to_write() {
        assert!(
            Pattern::parse("MRN")
                .unwrap_err()
                .contains("no placeholder")
        );
        assert!(Pattern::parse("A'#").unwrap_err().contains("'\\''"));
        assert!(Pattern::parse("#\\x").unwrap_err().contains("followed by"));
        assert!(
            Pattern::parse(&"#".repeat(33))
                .unwrap_err()
                .contains("at most 32")
        );
        assert_eq!(
            Pattern::parse("(###) ###.####").unwrap().regex(),
            "^[(][0-9][0-9][0-9][)] [0-9][0-9][0-9][.][0-9][0-9][0-9][0-9]$"
        );
    }
}
