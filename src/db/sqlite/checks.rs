//! The CHECK constraints of a SQLite table, read out of its CREATE TABLE text (SQLite has no catalog of them).

/// One CHECK constraint: its name when it has one, and its expression with
/// whitespace folded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Check {
    pub name: Option<String>,
    pub expression: String,
}

/// Every `[CONSTRAINT name] CHECK (expression)` in `create_table`, column
/// and table constraints alike, in the order written. String literals,
/// quoted names and comments never count as keywords.
pub(super) fn checks(create_table: &str) -> Vec<Check> {
    let tokens = tokens(create_table);
    let mut out = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        if !token.is_word("CHECK") {
            continue;
        }
        let Some(open) = tokens.get(i + 1).filter(|t| t.text == "(") else {
            continue;
        };
        let mut depth = 0usize;
        let mut end = None;
        for (j, t) in tokens.iter().enumerate().skip(i + 1) {
            match t.text.as_str() {
                "(" => depth += 1,
                ")" => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(j);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(end) = end else { continue };
        let inner = &create_table[open.end..tokens[end].start];
        let name =
            (i >= 2 && tokens[i - 2].is_word("CONSTRAINT")).then(|| unquote(&tokens[i - 1].text));
        out.push(Check {
            name,
            expression: inner.split_whitespace().collect::<Vec<_>>().join(" "),
        });
    }
    out
}

struct Token {
    text: String,
    start: usize,
    end: usize,
}

impl Token {
    fn is_word(&self, word: &str) -> bool {
        self.text.eq_ignore_ascii_case(word)
    }
}

fn unquote(name: &str) -> String {
    let bytes = name.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(b'"'), Some(b'"')) | (Some(b'`'), Some(b'`')) if name.len() >= 2 => {
            let quote = &name[..1];
            name[1..name.len() - 1].replace(&quote.repeat(2), quote)
        }
        (Some(b'['), Some(b']')) => name[1..name.len() - 1].to_owned(),
        _ => name.to_owned(),
    }
}

/// Words, quoted names, literals and single punctuation characters, with
/// their byte ranges; whitespace and comments are dropped.
fn tokens(sql: &str) -> Vec<Token> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'-' && bytes.get(i + 1) == Some(&b'-') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'/' && bytes.get(i + 1) == Some(&b'*') {
            i += 2;
            while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                i += 1;
            }
            i = (i + 2).min(bytes.len());
            continue;
        }
        if matches!(c, b'\'' | b'"' | b'`' | b'[') {
            let close = if c == b'[' { b']' } else { c };
            i += 1;
            while i < bytes.len() {
                if bytes[i] == close {
                    // A doubled quote is one quote character inside.
                    if close != b']' && bytes.get(i + 1) == Some(&close) {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            i = (i + 1).min(bytes.len());
        } else if c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80 {
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] >= 0x80)
            {
                i += 1;
            }
        } else {
            i += 1;
        }
        out.push(Token {
            text: sql[start..i].to_owned(),
            start,
            end: i,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_and_table_checks_named_or_not() {
        let sql = "CREATE TABLE t (
            a INTEGER CHECK (a > 0),
            b TEXT CONSTRAINT \"b ok\" CHECK (length(b) < 10 AND b <> 'CHECK (x)'), -- CHECK (no)
            c INT, /* CHECK (nor this) */
            CONSTRAINT pair CHECK ((a + c) <= 100),
            CHECK(c IN (1, 2))
        )";
        let found = checks(sql);
        assert_eq!(
            found,
            vec![
                Check {
                    name: None,
                    expression: "a > 0".into()
                },
                Check {
                    name: Some("b ok".into()),
                    expression: "length(b) < 10 AND b <> 'CHECK (x)'".into()
                },
                Check {
                    name: Some("pair".into()),
                    expression: "(a + c) <= 100".into()
                },
                Check {
                    name: None,
                    expression: "c IN (1, 2)".into()
                },
            ]
        );
        assert!(checks("CREATE TABLE checked (check_no INT)").is_empty());
    }
}
