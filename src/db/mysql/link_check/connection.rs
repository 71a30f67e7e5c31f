//! FEDERATED/FederatedX connection strings: `mysql://user:password@host:port/database/table` or `server[/table]`, read for where they point.
//!
//! The password is kept only to tell whether it changed since the capture;
//! it has no `Debug` and never leaves this module's callers as text.

use std::collections::BTreeMap;

use crate::links::Endpoint;

/// MySQL's port when a connection names none.
pub const DEFAULT_PORT: u16 = 3306;

/// A FEDERATED table's `CONNECTION`.
#[derive(Clone, PartialEq, Eq)]
pub enum Connection {
    /// A connection URL with everything in it.
    Url {
        scheme: String,
        user: String,
        password: Option<String>,
        host: String,
        port: Option<u16>,
        database: String,
        table: Option<String>,
    },
    /// A server of `mysql.servers`, and the remote table when named.
    Server {
        server: String,
        table: Option<String>,
    },
}

impl Connection {
    /// Reads a `CONNECTION` string; `None` when it is empty.
    pub fn parse(text: &str) -> Option<Connection> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        let Some((scheme, rest)) = text.split_once("://") else {
            let (server, table) = match text.split_once('/') {
                Some((server, table)) => (server, Some(table.to_owned())),
                None => (text, None),
            };
            return Some(Connection::Server {
                server: server.to_owned(),
                table: table.filter(|t| !t.is_empty()),
            });
        };
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (credentials, hostport) = authority.rsplit_once('@').unwrap_or(("", authority));
        let (user, password) = match credentials.split_once(':') {
            Some((user, password)) => (user, Some(password.to_owned())),
            None => (credentials, None),
        };
        let (host, port) = match hostport.strip_prefix('[') {
            Some(v6) => match v6.split_once(']') {
                Some((host, after)) => (host, after.strip_prefix(':')),
                None => (v6, None),
            },
            None => match hostport.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (hostport, None),
            },
        };
        let (database, table) = match path.split_once('/') {
            Some((database, table)) => (database, Some(table.to_owned())),
            None => (path, None),
        };
        Some(Connection::Url {
            scheme: scheme.to_ascii_lowercase(),
            user: user.to_owned(),
            password,
            host: host.to_owned(),
            port: port.and_then(|p| p.parse().ok()),
            database: database.to_owned(),
            table: table.filter(|t| !t.is_empty()),
        })
    }

    /// Where a URL points (`None` for a server: see its entry).
    pub fn endpoint(&self) -> Option<Endpoint> {
        match self {
            Connection::Url {
                host,
                port,
                database,
                ..
            } => Some(endpoint(host, *port, database)),
            Connection::Server { .. } => None,
        }
    }

    /// The definition as options, to compare with the captured one; the
    /// password is there only to be compared (`is_secret_option` hides it).
    pub fn options(&self) -> BTreeMap<String, String> {
        let mut options = BTreeMap::new();
        let mut set = |key: &str, value: Option<&str>| {
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                options.insert(key.to_owned(), value.to_owned());
            }
        };
        match self {
            Connection::Url {
                scheme,
                user,
                password,
                host,
                port,
                database,
                table,
            } => {
                set("scheme", Some(scheme));
                set("user", Some(user));
                set("password", password.as_deref());
                set("host", Some(host));
                set("port", port.map(|p| p.to_string()).as_deref());
                set("database", Some(database));
                set("table", table.as_deref());
            }
            Connection::Server { server, table } => {
                set("server", Some(server));
                set("table", table.as_deref());
            }
        }
        options
    }

    /// The connection without its password, for a report or a schema snapshot.
    pub fn redacted(&self) -> String {
        match self {
            Connection::Url {
                scheme,
                user,
                password,
                host,
                port,
                database,
                table,
            } => {
                let secret = if password.is_some() { ":***" } else { "" };
                let port = port.map(|p| format!(":{p}")).unwrap_or_default();
                let table = table
                    .as_deref()
                    .map(|t| format!("/{t}"))
                    .unwrap_or_default();
                format!("{scheme}://{user}{secret}@{host}{port}/{database}{table}")
            }
            Connection::Server { server, table } => match table {
                Some(table) => format!("{server}/{table}"),
                None => server.clone(),
            },
        }
    }
}

/// Where a host, port and database point; an empty host is the local
/// server, a missing port MySQL's.
pub fn endpoint(host: &str, port: Option<u16>, database: &str) -> Endpoint {
    let host = host.trim();
    Endpoint {
        hosts: vec![if host.is_empty() { "localhost" } else { host }.to_owned()],
        port: Some(port.filter(|p| *p != 0).unwrap_or(DEFAULT_PORT).to_string()),
        dbname: (!database.is_empty()).then(|| database.to_owned()),
        ..Endpoint::default()
    }
}

/// The `CONNECTION='...'` table option of `SHOW CREATE TABLE` output, unquoted.
///
/// Quoted identifiers, comments and other string literals are read past,
/// so a column named `CONNECTION` or a comment that mentions it is no match.
pub fn connection_option(create_table: &str) -> Option<String> {
    connection_literal(create_table).map(|(text, _)| text)
}

/// `create_table` with its `CONNECTION` option's literal replaced by
/// `connection`; `None` when it has no such option.
pub fn with_connection(create_table: &str, connection: &str) -> Option<String> {
    let (_, (start, end)) = connection_literal(create_table)?;
    let chars: Vec<char> = create_table.chars().collect();
    let before: String = chars[..start].iter().collect();
    let after: String = chars[end..].iter().collect();
    Some(format!("{before}{}{after}", string_literal(connection)))
}

/// A string literal as every sql_mode but NO_BACKSLASH_ESCAPES reads it.
pub fn string_literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

/// The `CONNECTION` literal's text and its span in characters.
fn connection_literal(create_table: &str) -> Option<(String, (usize, usize))> {
    let chars: Vec<char> = create_table.chars().collect();
    let mut i = 0;
    let mut previous_word = String::new();
    let mut after_equals = false;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' | '"' | '`' => {
                let (text, next) = quoted(&chars, i);
                if c == '\'' && after_equals && previous_word.eq_ignore_ascii_case("CONNECTION") {
                    return Some((text, (i, next)));
                }
                previous_word.clear();
                after_equals = false;
                i = next;
            }
            '=' => {
                after_equals = true;
                i += 1;
            }
            c if c.is_whitespace() => i += 1,
            c if c.is_alphanumeric() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                previous_word = chars[start..i].iter().collect();
                after_equals = false;
            }
            _ => {
                previous_word.clear();
                after_equals = false;
                i += 1;
            }
        }
    }
    None
}

/// The text of the literal or identifier that opens at `start`, and where it ends.
fn quoted(chars: &[char], start: usize) -> (String, usize) {
    let quote = chars[start];
    let mut text = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' if quote == '\'' => {
                match chars.get(i + 1) {
                    Some('n') => text.push('\n'),
                    Some('t') => text.push('\t'),
                    Some('r') => text.push('\r'),
                    Some('0') => text.push('\0'),
                    Some('Z') => text.push('\u{1a}'),
                    Some(other) => text.push(*other),
                    None => {}
                }
                i += 2;
            }
            c if c == quote && chars.get(i + 1) == Some(&quote) => {
                text.push(quote);
                i += 2;
            }
            c if c == quote => return (text, i + 1),
            c => {
                text.push(c);
                i += 1;
            }
        }
    }
    (text, i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_servers() {
        let c =
            Connection::parse("mysql://etl:s3cret@prod-db2.example.org:3307/emr/cases").unwrap();
        let e = c.endpoint().unwrap();
        assert_eq!(e.hosts, ["prod-db2.example.org"]);
        assert_eq!(e.ports(), [3307]);
        assert_eq!(e.dbname.as_deref(), Some("emr"));
        assert_eq!(
            c.redacted(),
            "mysql://etl:***@prod-db2.example.org:3307/emr/cases"
        );
        assert_eq!(c.options()["table"], "cases");
        let c = Connection::parse("mysql://app@[::1]/lab").unwrap();
        assert_eq!(c.endpoint().unwrap().hosts, ["::1"]);
        assert_eq!(c.endpoint().unwrap().ports(), [3306]);
        assert!(!c.options().contains_key("password"));
        assert!(matches!(
            Connection::parse("emr_link/cases").unwrap(),
            Connection::Server { server, table: Some(table) } if server == "emr_link" && table == "cases"
        ));
        assert!(Connection::parse("emr_link").unwrap().endpoint().is_none());
        assert!(Connection::parse("  ").is_none());
    }

    #[test]
    fn the_connection_option_is_found_past_quotes_and_comments() {
        let sql = "CREATE TABLE `CONNECTION` (\n  `id` int COMMENT 'CONNECTION=''x'''\n) \
                   ENGINE=FEDERATED COMMENT='see CONNECTION=\\'no\\'' CONNECTION='mysql://u:it\\'s@h/d/t'";
        assert_eq!(
            connection_option(sql).as_deref(),
            Some("mysql://u:it's@h/d/t")
        );
        assert_eq!(
            connection_option("CREATE TABLE t (id int) ENGINE=InnoDB"),
            None
        );
    }

    #[test]
    fn the_connection_option_is_replaced_in_place() {
        let sql = "CREATE TABLE `t` (\n  `id` int COMMENT 'CONNECTION=''x'''\n) ENGINE=FEDERATED \
                   CONNECTION='prod_link/cases' COMMENT='c'";
        let replaced = with_connection(sql, "acc_link/it's\\").unwrap();
        assert!(
            replaced.ends_with("CONNECTION='acc_link/it''s\\\\' COMMENT='c'"),
            "{replaced}"
        );
        assert!(
            replaced.contains("COMMENT 'CONNECTION=''x'''"),
            "{replaced}"
        );
        assert_eq!(
            connection_option(&replaced).as_deref(),
            Some("acc_link/it's\\")
        );
        assert!(with_connection("CREATE TABLE t (id int)", "x").is_none());
    }
}
