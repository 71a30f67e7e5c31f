//! Statement texts shown in findings and reports (pg_cron commands, MySQL event bodies) without the values they carry: string and numeric literals, and passwords in connection strings, are masked.

/// How the engine quotes.
#[derive(Clone, Copy)]
pub enum Dialect {
    /// `"..."` is a name; `$tag$...$tag$` is a string.
    Postgres,
    /// `"..."` is a string; a backslash escapes inside strings.
    Mysql,
}

/// The text with the content of every string literal replaced by `...`,
/// every numeric literal by `N`, and any `scheme://user:password@` or
/// `password=...` outside strings masked. Names (quoted or not) are kept.
pub fn mask_values(text: &str, dialect: Dialect) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let string_quote = c == '\'' || (c == '"' && matches!(dialect, Dialect::Mysql));
        if string_quote {
            i = skip_string(&chars, i, matches!(dialect, Dialect::Mysql));
            out.push(c);
            out.push_str("...");
            out.push(c);
            continue;
        }
        if c == '$'
            && matches!(dialect, Dialect::Postgres)
            && let Some((tag, end)) = dollar_string(&chars, i)
        {
            out.push_str(&tag);
            out.push_str("...");
            out.push_str(&tag);
            i = end;
            continue;
        }
        if c == '"' || c == '`' {
            // A quoted name: kept as it is.
            let end = skip_string(&chars, i, false);
            out.extend(&chars[i..end]);
            i = end;
            continue;
        }
        let starts_word = i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        if c.is_ascii_digit() && starts_word {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            out.push('N');
            continue;
        }
        out.push(c);
        i += 1;
    }
    mask_credentials(&out)
}

/// The index after the string or quoted name that starts at `start`.
fn skip_string(chars: &[char], start: usize, backslash_escapes: bool) -> usize {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' if backslash_escapes => i += 2,
            c if c == quote && chars.get(i + 1) == Some(&quote) => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    chars.len()
}

/// A `$tag$...$tag$` string at `start`: its tag and the index after it.
fn dollar_string(chars: &[char], start: usize) -> Option<(String, usize)> {
    let close = (start + 1..chars.len())
        .take_while(|&j| chars[j] == '$' || chars[j].is_alphanumeric() || chars[j] == '_')
        .find(|&j| chars[j] == '$')?;
    if chars.get(start + 1).is_some_and(|c| c.is_ascii_digit()) {
        return None;
    }
    let tag: String = chars[start..=close].iter().collect();
    let body: String = chars[close + 1..].iter().collect();
    let end = body
        .find(&tag)
        .map(|at| close + 1 + body[..at].chars().count() + tag.chars().count())
        .unwrap_or(chars.len());
    Some((tag, end))
}

/// `scheme://user:password@` and `password=value` with the password
/// masked; everything else as it is.
pub fn mask_secrets(text: &str) -> String {
    mask_credentials(text)
}

/// `scheme://user:password@` and `password=value` with the password masked.
fn mask_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let lower = rest.to_ascii_lowercase();
        let next_key = lower
            .find("password=")
            .map(|at| (at, at + "password=".len()));
        let next_uri = lower.find("://").and_then(|scheme_end| {
            let authority = &rest[scheme_end + 3..];
            let end = authority
                .find(|c: char| c.is_whitespace() || matches!(c, '/' | '\'' | '"' | ',' | '}'))
                .unwrap_or(authority.len());
            let at = authority[..end].rfind('@')?;
            let colon = authority[..at].find(':')?;
            Some((scheme_end + 3 + colon + 1, scheme_end + 3 + at))
        });
        match (next_key, next_uri) {
            (Some((_, value)), uri) if uri.is_none_or(|(start, _)| value <= start) => {
                out.push_str(&rest[..value]);
                out.push_str("***");
                let tail = &rest[value..];
                let end = tail
                    .find(|c: char| {
                        c.is_whitespace() || matches!(c, ',' | '}' | ')' | '\'' | '"' | '&' | ';')
                    })
                    .unwrap_or(tail.len());
                rest = &tail[end..];
            }
            (_, Some((start, end))) => {
                out.push_str(&rest[..start]);
                out.push_str("***");
                rest = &rest[end..];
            }
            _ => {
                out.push_str(rest);
                return out;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_masked_and_names_kept() {
        assert_eq!(
            mask_values(
                "DELETE FROM `p` WHERE mrn = '12''3\\'4' OR name = \"Ann\" OR id = 4711",
                Dialect::Mysql
            ),
            "DELETE FROM `p` WHERE mrn = '...' OR name = \"...\" OR id = N"
        );
        assert_eq!(
            mask_values("CALL purge(30)", Dialect::Mysql),
            "CALL purge(N)"
        );
        assert_eq!(
            mask_values(
                "SELECT dblink_exec('host=prod password=s3cret', $q$DELETE FROM \"Patient\" WHERE id = 7$q$), t2.c1",
                Dialect::Postgres
            ),
            "SELECT dblink_exec('...', $q$...$q$), t2.c1"
        );
        assert_eq!(
            mask_values(
                "COPY x TO PROGRAM curl postgres://app:s3cret@prod/db password=s3cret",
                Dialect::Postgres
            ),
            "COPY x TO PROGRAM curl postgres://app:***@prod/db password=***"
        );
        assert_eq!(
            mask_secrets("{host=prod,password=s3cret,port=5432} mysql://u:p%40ss@h/x"),
            "{host=prod,password=***,port=5432} mysql://u:***@h/x"
        );
    }
}
