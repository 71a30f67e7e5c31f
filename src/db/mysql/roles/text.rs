//! `SHOW CREATE USER` and `SHOW GRANTS` read as tokens: the clauses of an account (authentication, TLS, limits, lock, expiry) and its role grants, and the same clauses written back as SQL, with or without the authentication string.
//!
//! Nothing read here reaches SQL as text: words are limited to letters,
//! digits, `_` and `.`, strings are quoted again, names quoted again.

use std::collections::BTreeMap;

use super::super::grants::literal;
use super::super::quote_ident;

/// One token of a statement the server printed.
#[derive(Clone, PartialEq, Eq)]
pub(super) enum Token {
    /// A keyword, a plugin name or a number.
    Word(String),
    /// A string literal, unquoted.
    Str(String),
    /// A quoted name (backticks, or double quotes under ANSI_QUOTES).
    Ident(String),
    At,
    /// `,`, `(`, `)`, `*` or `=`.
    Mark(char),
}

impl Token {
    fn is(&self, word: &str) -> bool {
        matches!(self, Token::Word(w) if w.eq_ignore_ascii_case(word))
    }
}

/// The tokens of `text`; `None` when it holds an unterminated quote or a
/// character no such statement holds.
pub(super) fn tokens(text: &str) -> Option<Vec<Token>> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '@' => out.push(Token::At),
            ',' | '(' | ')' | '*' | '=' => out.push(Token::Mark(c)),
            '`' | '"' => {
                let mut name = String::new();
                loop {
                    match chars.next()? {
                        q if q == c && chars.peek() == Some(&c) => {
                            chars.next();
                            name.push(c);
                        }
                        q if q == c => break,
                        other => name.push(other),
                    }
                }
                out.push(Token::Ident(name));
            }
            '\'' => {
                let mut value = String::new();
                loop {
                    match chars.next()? {
                        '\\' => value.push(chars.next()?),
                        '\'' if chars.peek() == Some(&'\'') => {
                            chars.next();
                            value.push('\'');
                        }
                        '\'' => break,
                        other => value.push(other),
                    }
                }
                out.push(Token::Str(value));
            }
            c if c.is_ascii_alphanumeric() || c == '_' || c == '.' => {
                let mut word = String::from(c);
                while let Some(&n) = chars.peek() {
                    if n.is_ascii_alphanumeric() || n == '_' || n == '.' {
                        word.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(Token::Word(word));
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Tokens as SQL; `hide` writes each string as `<hidden>`.
fn emit(tokens: &[Token], hide: bool) -> String {
    let mut out = String::new();
    for token in tokens {
        let piece = match token {
            Token::Word(w) => w.clone(),
            Token::Str(_) if hide => "<hidden>".to_owned(),
            Token::Str(s) => literal(s),
            Token::Ident(n) => quote_ident(n),
            Token::At => {
                out.push('@');
                continue;
            }
            Token::Mark(c) => c.to_string(),
        };
        if !out.is_empty() && !out.ends_with('@') {
            out.push(' ');
        }
        out.push_str(&piece);
    }
    out
}

/// The resource limits, by the name `WITH` gives them.
const LIMITS: [&str; 5] = [
    "MAX_QUERIES_PER_HOUR",
    "MAX_UPDATES_PER_HOUR",
    "MAX_CONNECTIONS_PER_HOUR",
    "MAX_USER_CONNECTIONS",
    "MAX_STATEMENT_TIME",
];

/// An account's definition, clause by clause.
#[derive(Clone, PartialEq, Default)]
pub(super) struct Clauses {
    /// From `IDENTIFIED` on; empty for an account with no password.
    pub auth: Vec<Token>,
    /// After `REQUIRE`; empty for none.
    pub require: Vec<Token>,
    /// Non-zero limits.
    pub limits: BTreeMap<String, String>,
    pub locked: bool,
    /// After `PASSWORD EXPIRE`: `NEVER`, `DEFAULT` or `INTERVAL n DAY`.
    pub policy: Vec<Token>,
    /// `PASSWORD EXPIRE` alone: the password has expired.
    pub expired: bool,
    /// Clauses of other servers (MySQL 8), kept as they are.
    pub other: Vec<Token>,
}

#[derive(Clone, Copy, PartialEq)]
enum In {
    Auth,
    Require,
    Limits,
    Other,
}

impl Clauses {
    /// Reads the rows of `SHOW CREATE USER` (MariaDB adds an `ALTER USER`
    /// row for an expired password with a lifetime).
    pub fn parse(rows: &[String]) -> Option<Clauses> {
        let mut clauses = Clauses::default();
        for row in rows {
            let tokens = tokens(row)?;
            let rest = match tokens.as_slice() {
                [
                    head,
                    user,
                    Token::Ident(_),
                    Token::At,
                    Token::Ident(_),
                    rest @ ..,
                ] if (head.is("CREATE") || head.is("ALTER")) && user.is("USER") => rest,
                _ => return None,
            };
            clauses.read(rest)?;
        }
        Some(clauses)
    }

    fn read(&mut self, rest: &[Token]) -> Option<()> {
        let mut at = In::Other;
        let mut i = 0;
        while i < rest.len() {
            let token = &rest[i];
            let next = rest.get(i + 1);
            if token.is("IDENTIFIED") {
                at = In::Auth;
                self.auth.push(token.clone());
            } else if token.is("REQUIRE") {
                at = In::Require;
                self.require.clear();
            } else if token.is("WITH")
                && matches!(next, Some(Token::Word(n)) if LIMITS.iter().any(|l| l.eq_ignore_ascii_case(n)))
            {
                at = In::Limits;
            } else if token.is("ACCOUNT") && next.is_some_and(|n| n.is("LOCK") || n.is("UNLOCK")) {
                self.locked = next?.is("LOCK");
                at = In::Other;
                i += 1;
            } else if token.is("PASSWORD") && next.is_some_and(|n| n.is("EXPIRE")) {
                at = In::Other;
                i += 2;
                match rest.get(i) {
                    Some(t) if t.is("NEVER") || t.is("DEFAULT") => self.policy = vec![t.clone()],
                    Some(t) if t.is("INTERVAL") => {
                        self.policy = rest.get(i..i + 3)?.to_vec();
                        i += 2;
                    }
                    _ => {
                        self.expired = true;
                        continue;
                    }
                }
            } else {
                match at {
                    In::Auth => self.auth.push(token.clone()),
                    In::Require => {
                        if !token.is("NONE") {
                            self.require.push(token.clone());
                        }
                    }
                    In::Limits => match (token, next) {
                        (Token::Word(name), Some(Token::Word(value)))
                            if LIMITS.iter().any(|l| l.eq_ignore_ascii_case(name)) =>
                        {
                            if value.trim_start_matches(['0', '.']).is_empty() {
                                self.limits.remove(&name.to_ascii_uppercase());
                            } else {
                                self.limits.insert(name.to_ascii_uppercase(), value.clone());
                            }
                            i += 1;
                        }
                        _ => {
                            at = In::Other;
                            self.other.push(token.clone());
                        }
                    },
                    In::Other => self.other.push(token.clone()),
                }
            }
            i += 1;
        }
        Some(())
    }

    /// The authentication clause without its strings: the plugins only
    /// (`IDENTIFIED BY PASSWORD` is `mysql_native_password`'s).
    pub fn auth_without_secret(&self) -> Vec<Token> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.auth.len() {
            let token = &self.auth[i];
            let next = self.auth.get(i + 1);
            if token.is("BY") && next.is_some_and(|n| n.is("PASSWORD")) {
                out.push(Token::Word("VIA".into()));
                out.push(Token::Word("mysql_native_password".into()));
                i += 3;
                continue;
            }
            if (token.is("USING") || token.is("AS")) && matches!(next, Some(Token::Str(_))) {
                i += 2;
                continue;
            }
            if token.is("BY") && matches!(next, Some(Token::Str(_))) {
                i += 2;
                continue;
            }
            out.push(token.clone());
            i += 1;
        }
        out
    }

    /// The same account with its authentication strings left out.
    pub fn without_secret(&self) -> Clauses {
        Clauses {
            auth: self.auth_without_secret(),
            ..self.clone()
        }
    }

    /// The authentication clause to write: an account captured with no
    /// clause had an empty password.
    fn auth_sql(&self) -> Vec<Token> {
        if self.auth.is_empty() {
            vec![
                Token::Word("IDENTIFIED".into()),
                Token::Word("BY".into()),
                Token::Str(String::new()),
            ]
        } else {
            self.auth.clone()
        }
    }

    /// What differs from `other`, as words for a line (`password`, `TLS`, ...).
    pub fn differences(&self, other: &Clauses, lock_too: bool) -> Vec<&'static str> {
        let mut what = Vec::new();
        if self.auth != other.auth {
            what.push("authentication");
        }
        if self.require != other.require {
            what.push("TLS requirements");
        }
        if self.limits != other.limits {
            what.push("resource limits");
        }
        if lock_too && self.locked != other.locked {
            what.push("lock");
        }
        if self.policy != other.policy || self.expired != other.expired {
            what.push("password expiry");
        }
        if self.other != other.other {
            what.push("other clauses");
        }
        what
    }
}

/// A statement to run, and how it may be shown (no authentication string).
pub(crate) struct Statement {
    pub sql: String,
    pub shown: String,
}

impl Statement {
    fn of(head: &str, tokens: &[Token]) -> Statement {
        let join = |body: String| match body.is_empty() {
            true => head.to_owned(),
            false => format!("{head} {body}"),
        };
        Statement {
            sql: join(emit(tokens, false)),
            shown: join(emit(tokens, true)),
        }
    }

    /// A statement that holds no secret.
    pub fn plain(sql: String) -> Statement {
        Statement {
            shown: sql.clone(),
            sql,
        }
    }
}

fn words(text: &str) -> Vec<Token> {
    text.split(' ').map(|w| Token::Word(w.to_owned())).collect()
}

/// The clauses after the account's name in CREATE USER or ALTER USER:
/// every one written out, so that an ALTER leaves nothing of the refresh's.
/// `auth`: whether to write the authentication clause.
fn body(clauses: &Clauses, auth: bool, locked: bool, mariadb: bool) -> Vec<Token> {
    let mut out = Vec::new();
    if auth {
        out.extend(clauses.auth_sql());
    }
    out.push(Token::Word("REQUIRE".into()));
    match clauses.require.is_empty() {
        true => out.push(Token::Word("NONE".into())),
        false => out.extend(clauses.require.iter().cloned()),
    }
    out.push(Token::Word("WITH".into()));
    for limit in LIMITS
        .iter()
        .filter(|l| mariadb || **l != "MAX_STATEMENT_TIME")
    {
        out.push(Token::Word((*limit).into()));
        let value = clauses.limits.get(*limit).map_or("0", String::as_str);
        out.push(Token::Word(value.to_owned()));
    }
    out.extend(words(match locked {
        true => "ACCOUNT LOCK",
        false => "ACCOUNT UNLOCK",
    }));
    out.extend(words("PASSWORD EXPIRE"));
    match clauses.policy.is_empty() {
        true => out.push(Token::Word("DEFAULT".into())),
        false => out.extend(clauses.policy.iter().cloned()),
    }
    out.extend(clauses.other.iter().cloned());
    out
}

/// CREATE USER for the captured account (and ALTER USER ... PASSWORD
/// EXPIRE when its password had expired).
pub(super) fn create(
    account: &str,
    clauses: &Clauses,
    locked: bool,
    mariadb: bool,
) -> Vec<Statement> {
    let mut out = vec![Statement::of(
        &format!("CREATE USER {account}"),
        &body(clauses, !clauses.auth.is_empty(), locked, mariadb),
    )];
    if clauses.expired {
        out.push(Statement::plain(format!(
            "ALTER USER {account} PASSWORD EXPIRE"
        )));
    }
    out
}

/// ALTER USER that brings the account `now` back to `captured`. The
/// authentication clause is written when it differs (or to clear an
/// expiry the capture did not have), and only with `passwords`.
pub(super) fn alter(
    account: &str,
    captured: &Clauses,
    now: &Clauses,
    locked: bool,
    passwords: bool,
    mariadb: bool,
) -> Vec<Statement> {
    let auth = passwords && (captured.auth != now.auth || (now.expired && !captured.expired));
    let mut out = vec![Statement::of(
        &format!("ALTER USER {account}"),
        &body(captured, auth, locked, mariadb),
    )];
    if captured.expired && (auth || !now.expired) {
        out.push(Statement::plain(format!(
            "ALTER USER {account} PASSWORD EXPIRE"
        )));
    }
    out
}

/// The statement rows with the authentication strings left out, for a
/// vault captured with `passwords = false`.
pub(super) fn rows_without_secret(rows: &[String]) -> Option<Vec<String>> {
    rows.iter()
        .map(|row| {
            let tokens = tokens(row)?;
            let (head, rest) = tokens.split_at(tokens.len().min(5));
            let mut clauses = Clauses::default();
            clauses.read(rest)?;
            let mut out: Vec<Token> = head.to_vec();
            let mut auth_done = false;
            let mut i = 0;
            // The row again, its authentication clause replaced.
            while i < rest.len() {
                if rest[i].is("IDENTIFIED") {
                    if !auth_done {
                        out.extend(clauses.auth_without_secret());
                        auth_done = true;
                    }
                    i += clauses.auth.len();
                    continue;
                }
                out.push(rest[i].clone());
                i += 1;
            }
            Some(emit(&out, false))
        })
        .collect()
}

/// A role granted to an account.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub(super) struct RoleGrant {
    pub role: String,
    pub admin: bool,
}

/// The role grants and the default role in the rows of `SHOW GRANTS`.
pub(super) fn role_grants(rows: &[String]) -> (Vec<RoleGrant>, Option<String>) {
    let mut roles = Vec::new();
    let mut default = None;
    for row in rows {
        let Some(tokens) = tokens(row) else {
            continue;
        };
        match tokens.as_slice() {
            [
                grant,
                Token::Ident(role),
                to,
                Token::Ident(_),
                Token::At,
                Token::Ident(_),
                rest @ ..,
            ] if grant.is("GRANT") && to.is("TO") => {
                roles.push(RoleGrant {
                    role: role.clone(),
                    admin: rest.len() == 3 && rest[1].is("ADMIN"),
                });
            }
            [set, d, r, Token::Ident(role), ..]
                if set.is("SET") && d.is("DEFAULT") && r.is("ROLE") =>
            {
                default = Some(role.clone());
            }
            _ => {}
        }
    }
    roles.sort();
    (roles, default)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &[&str]) -> Vec<String> {
        text.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_show_create_user_reads_clause_by_clause() {
        let c = Clauses::parse(&rows(&[
            "CREATE USER `t`@`%` IDENTIFIED VIA mysql_native_password USING '*AB' OR unix_socket REQUIRE ISSUER '/C=NL/O=It''s' SUBJECT 'sub' WITH MAX_UPDATES_PER_HOUR 2 MAX_STATEMENT_TIME 1.500000 ACCOUNT LOCK PASSWORD EXPIRE",
            "ALTER USER \"t\"@\"%\" PASSWORD EXPIRE INTERVAL 5 DAY",
        ]))
        .unwrap();
        assert_eq!(
            emit(&c.auth, false),
            "IDENTIFIED VIA mysql_native_password USING '*AB' OR unix_socket"
        );
        assert_eq!(
            emit(&c.auth, true),
            "IDENTIFIED VIA mysql_native_password USING <hidden> OR unix_socket"
        );
        assert_eq!(
            emit(&c.require, false),
            "ISSUER '/C=NL/O=It''s' SUBJECT 'sub'"
        );
        assert_eq!(c.limits.len(), 2);
        assert!(c.locked && c.expired);
        assert_eq!(emit(&c.policy, false), "INTERVAL 5 DAY");
        assert_eq!(
            emit(&c.auth_without_secret(), false),
            "IDENTIFIED VIA mysql_native_password OR unix_socket"
        );
        let by =
            Clauses::parse(&rows(&["CREATE USER `t`@`%` IDENTIFIED BY PASSWORD '*AB'"])).unwrap();
        assert_eq!(
            emit(&by.auth_without_secret(), false),
            "IDENTIFIED VIA mysql_native_password"
        );
        assert!(!by.locked && by.policy.is_empty() && !by.expired);
        assert!(Clauses::parse(&rows(&["DROP USER x"])).is_none());
        assert!(
            Clauses::parse(&rows(&["CREATE USER `t`@`%` IDENTIFIED BY PASSWORD '*AB"])).is_none()
        );
    }

    #[test]
    fn statements_show_no_authentication_string() {
        let c = Clauses::parse(&rows(&[
            "CREATE USER `t`@`%` IDENTIFIED BY PASSWORD '*SECRET' PASSWORD EXPIRE",
        ]))
        .unwrap();
        let made = create("'t'@'%'", &c, true, true);
        assert_eq!(made.len(), 2);
        assert!(made[0].sql.contains("'*SECRET'"));
        assert!(!made[0].shown.contains("SECRET"));
        assert!(made[0].shown.contains("ACCOUNT LOCK"));
        assert_eq!(
            rows_without_secret(&rows(&[
                "CREATE USER `t`@`%` IDENTIFIED BY PASSWORD '*SECRET' REQUIRE SSL"
            ]))
            .unwrap(),
            ["CREATE USER `t`@`%` IDENTIFIED VIA mysql_native_password REQUIRE SSL"]
        );
    }

    #[test]
    fn role_grants_and_the_default_role_are_read() {
        let (roles, default) = role_grants(&rows(&[
            "GRANT `r1` TO `t`@`%`",
            "GRANT \"r2\" TO \"t\"@\"%\" WITH ADMIN OPTION",
            "GRANT USAGE ON *.* TO `t`@`%` IDENTIFIED BY PASSWORD '*AB'",
            "GRANT SELECT ON `db`.* TO `t`@`%`",
            "SET DEFAULT ROLE `r1` FOR `t`@`%`",
        ]));
        assert_eq!(
            roles,
            [
                RoleGrant {
                    role: "r1".into(),
                    admin: false
                },
                RoleGrant {
                    role: "r2".into(),
                    admin: true
                }
            ]
        );
        assert_eq!(default.as_deref(), Some("r1"));
    }
}
