//! SQL fragments from the configuration (`where`, `delete_where`, `set` expressions) are one expression each: no second statement, no comment that swallows the rest, no parenthesis that closes the statement around them.
//!
//! This is the lexical half of the check, the same for every engine and run
//! before any connection: strings, quoted names, comments and PostgreSQL
//! dollar quotes are read as the engines read them, and outside them a
//! fragment may hold no `;`, no line comment, and no `)` that was not
//! opened in it. The other half is the engine's own parser: each fragment
//! reaches the server only inside one statement sent as a prepared
//! statement (PostgreSQL's extended protocol, MySQL's binary protocol), or,
//! for PostgreSQL's `COPY`, after its query prepared alone.

/// How an engine reads quotes.
#[derive(Clone, Copy)]
struct Reading {
    /// A backslash escapes the next character in a string (MariaDB/MySQL).
    backslash_escapes: bool,
    /// `$tag$ ... $tag$` quotes text (PostgreSQL).
    dollar_quotes: bool,
}

/// PostgreSQL, MariaDB/MySQL, SQLite.
const READINGS: [Reading; 3] = [
    Reading {
        backslash_escapes: false,
        dollar_quotes: true,
    },
    Reading {
        backslash_escapes: true,
        dollar_quotes: false,
    },
    Reading {
        backslash_escapes: false,
        dollar_quotes: false,
    },
];

/// Why a fragment is not one expression, or `Ok`. It must be one
/// expression as every engine reads it (a text that is one expression to
/// one engine and two statements to another is refused).
pub fn check_one_expression(text: &str) -> Result<(), String> {
    READINGS
        .iter()
        .try_for_each(|reading| check_as(text, *reading))
}

/// Why a hook's SQL is not one statement, or `Ok`: one trailing `;` is
/// allowed, otherwise the same reading as [`check_one_expression`].
pub fn check_one_statement(text: &str) -> Result<(), String> {
    let text = text.trim();
    let text = text.strip_suffix(';').unwrap_or(text).trim_end();
    if text.is_empty() {
        return Err("it is empty".into());
    }
    check_one_expression(text)
}

fn check_as(text: &str, reading: Reading) -> Result<(), String> {
    let chars: Vec<char> = text.chars().collect();
    let mut depth: usize = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '\'' | '"' | '`' => i = closing_quote(&chars, i, c, reading.backslash_escapes)?,
            '[' if next != Some(']') => {
                // SQLite's [quoted name]; elsewhere an array subscript,
                // which holds an expression and is read on.
                i += 1;
                continue;
            }
            '-' if next == Some('-') => {
                return Err(
                    "it holds a line comment (--), which would swallow the rest of the statement"
                        .into(),
                );
            }
            '#' => {
                return Err("it holds `#`, a line comment on MariaDB/MySQL, which would swallow the rest of the statement".into());
            }
            '/' if next == Some('*') => {
                let end = (i + 2..chars.len().saturating_sub(1))
                    .find(|&j| chars[j] == '*' && chars[j + 1] == '/')
                    .ok_or("it opens a /* comment that it does not close")?;
                i = end + 1;
            }
            '$' if reading.dollar_quotes => i = dollar_quote(&chars, i)?,
            ';' => {
                return Err("it holds `;` outside a string: a second statement".into());
            }
            '(' => depth += 1,
            ')' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or("it closes a parenthesis it did not open, which would end the statement around it")?;
            }
            _ => {}
        }
        i += 1;
    }
    if depth > 0 {
        return Err("it opens a parenthesis that it does not close".into());
    }
    if chars.iter().all(|c| c.is_whitespace()) {
        return Err("it is empty".into());
    }
    Ok(())
}

/// The index of the quote that closes the one at `start` (a doubled quote
/// is part of the text; with `backslash_escapes`, so is `\'`).
fn closing_quote(
    chars: &[char],
    start: usize,
    quote: char,
    backslash_escapes: bool,
) -> Result<usize, String> {
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' if backslash_escapes && quote == '\'' => i += 2,
            c if c == quote && chars.get(i + 1) == Some(&quote) => i += 2,
            c if c == quote => return Ok(i),
            _ => i += 1,
        }
    }
    Err(format!("it opens a {quote} quote that it does not close"))
}

/// PostgreSQL's `$tag$ ... $tag$`: the index of the closing tag's last `$`;
/// a `$` that opens no tag (`$1`) is read as it is.
fn dollar_quote(chars: &[char], start: usize) -> Result<usize, String> {
    let tag_end = (start + 1..chars.len())
        .take_while(|&j| chars[j] == '$' || chars[j].is_alphanumeric() || chars[j] == '_')
        .find(|&j| chars[j] == '$');
    let Some(tag_end) = tag_end else {
        return Ok(start);
    };
    if chars[start + 1..tag_end]
        .first()
        .is_some_and(|c| c.is_ascii_digit())
    {
        return Ok(start);
    }
    let tag: Vec<char> = chars[start..=tag_end].to_vec();
    let body = tag_end + 1;
    (body..chars.len())
        .find(|&j| chars[j..].starts_with(&tag))
        .map(|j| j + tag.len() - 1)
        .ok_or_else(|| "it opens a $ quote that it does not close".into())
}

#[cfg(test)]
mod tests {
    use super::check_one_expression;

    #[test]
    fn expressions_pass() {
        for text in [
            "active",
            "assessed_on >= DATE '2000-01-01'",
            "name <> 'it''s; fine' AND note NOT LIKE '%--%'",
            "\"odd;name\" = 1 OR `other)` = 2",
            "coalesce(a, (b + 1)) > 0 /* a ) comment ; */",
            "id = ANY($1) AND arr[1] = 2",
            "[weird col] IS NULL",
        ] {
            assert_eq!(check_one_expression(text), Ok(()), "{text}");
        }
    }

    #[test]
    fn escapes_are_refused() {
        for (text, why) in [
            (
                "true) ORDER BY \"id\") TO STDOUT; COMMIT; UPDATE users SET password_hash = 'x'; COPY (SELECT 1 AS id WHERE (true",
                "closes a parenthesis",
            ),
            (
                "0); DELETE FROM app_user; SELECT (1",
                "closes a parenthesis",
            ),
            ("1 = 1; DROP TABLE patient", "second statement"),
            ("true --", "line comment"),
            ("true # mysql", "line comment"),
            ("true /* open", "does not close"),
            ("name = 'open", "does not close"),
            ("(true", "does not close"),
            ("x = $a$ open", "does not close"),
            ("   ", "empty"),
            // One string to MariaDB, a string and a second statement to the others.
            (
                "note = 'back\\'; DELETE FROM t; SELECT '",
                "second statement",
            ),
            // A dollar quote to PostgreSQL, a second statement to the others.
            ("body = $x$ ; $x$", "second statement"),
        ] {
            let error = check_one_expression(text).unwrap_err();
            assert!(error.contains(why), "{text}: {error}");
        }
    }
}
