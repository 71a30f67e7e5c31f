//! Just enough reading of an SQL fragment to tell which functions and columns it names.

/// A name in an SQL fragment, as [`read_sql`] finds it.
#[derive(Debug)]
pub(crate) struct SqlName {
    pub text: String,
    /// Written in double quotes or backquotes (exact case).
    pub quoted: bool,
    /// Followed by `(`: a function call.
    pub call: bool,
    /// Followed by `()`: a call without arguments.
    pub empty_call: bool,
}

/// The names and string literals of an SQL fragment.
#[derive(Debug, Default)]
pub(crate) struct SqlText {
    pub names: Vec<SqlName>,
    pub literals: Vec<String>,
}

/// Reads the names (bare and quoted) and the string literals of an SQL
/// fragment. Enough to tell which functions and columns it names; not a
/// parser (dollar quotes and `E''` escapes are not understood).
pub(crate) fn read_sql(sql: &str) -> SqlText {
    let chars: Vec<char> = sql.chars().collect();
    let mut text = SqlText::default();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        let (word, quoted) = if matches!(c, '\'' | '"' | '`') {
            let mut inner = String::new();
            i += 1;
            while i < chars.len() {
                if chars[i] == c {
                    if chars.get(i + 1) == Some(&c) {
                        inner.push(c);
                        i += 2;
                        continue;
                    }
                    break;
                }
                inner.push(chars[i]);
                i += 1;
            }
            i += 1;
            if c == '\'' {
                text.literals.push(inner);
                continue;
            }
            (inner, true)
        } else if c.is_alphabetic() || c == '_' {
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            (chars[start..i].iter().collect(), false)
        } else {
            i += 1;
            continue;
        };
        let next = |from: usize| {
            (from..chars.len())
                .find(|&k| !chars[k].is_whitespace())
                .map(|k| (k, chars[k]))
        };
        let call = next(i).filter(|&(_, c)| c == '(');
        let empty_call = call.and_then(|(k, _)| next(k + 1)).map(|(_, c)| c) == Some(')');
        text.names.push(SqlName {
            text: word,
            quoted,
            call: call.is_some(),
            empty_call,
        });
    }
    text
}

/// Whether an SQL fragment names `column` (bare names compared without
/// case, quoted ones exactly).
pub(crate) fn names_column(text: &SqlText, column: &str) -> bool {
    text.names.iter().any(|n| {
        !n.call
            && if n.quoted {
                n.text == column
            } else {
                n.text.eq_ignore_ascii_case(column)
            }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_are_read_for_names_outside_literals() {
        let text = read_sql("md5(\"Email\" || 'email') || now() || x");
        let names: Vec<(&str, bool, bool, bool)> = text
            .names
            .iter()
            .map(|n| (n.text.as_str(), n.quoted, n.call, n.empty_call))
            .collect();
        assert_eq!(
            names,
            [
                ("md5", false, true, false),
                ("Email", true, false, false),
                ("now", false, true, true),
                ("x", false, false, false)
            ]
        );
        assert_eq!(text.literals, ["email"]);
        assert!(names_column(&text, "Email"));
        assert!(!names_column(&text, "email"));
        assert!(names_column(&read_sql("lower(EMAIL)"), "email"));
        assert!(!names_column(&read_sql("'email' || id"), "email"));
    }
}
