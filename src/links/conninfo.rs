//! Connection strings: libpq's `key=value` and URI forms, read for where they point, and found inside SQL text.
//!
//! Only `host`, `hostaddr`, `port`, `dbname` and `service` are kept; a
//! password or any other option is read past and never stored.

use std::fmt;

use serde::Serialize;

/// Where a connection string or a foreign server's options point.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    /// `host`, split at commas (libpq's list of hosts to try).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hostaddrs: Vec<String>,
    /// `port` as written (one port, or a list that goes with the hosts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dbname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

impl Endpoint {
    /// The endpoint that options (a foreign server's, a parsed string's) name.
    pub fn from_options<'a>(options: impl IntoIterator<Item = (&'a str, &'a str)>) -> Endpoint {
        let mut endpoint = Endpoint::default();
        for (key, value) in options {
            endpoint.set(key, value);
        }
        endpoint
    }

    fn set(&mut self, key: &str, value: &str) {
        // A placeholder filled in at run time (format's %s, $1, {host}) says nothing.
        let value = value.trim();
        if value.starts_with(['%', '$', '{', ':']) {
            return;
        }
        let list = |v: &str| -> Vec<String> {
            v.split(',')
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
                .collect()
        };
        let some = |v: &str| (!v.trim().is_empty()).then(|| v.trim().to_owned());
        match key.to_ascii_lowercase().as_str() {
            "host" => self.hosts = list(value),
            "hostaddr" => self.hostaddrs = list(value),
            "port" => self.port = some(value),
            "dbname" => self.dbname = some(value),
            "service" => self.service = some(value),
            _ => {}
        }
    }

    /// True when nothing says where it points.
    pub fn is_empty(&self) -> bool {
        *self == Endpoint::default()
    }

    /// Parses a connection string in either form; `None` when the text is not one.
    pub fn parse(text: &str) -> Option<Endpoint> {
        let text = text.trim();
        let lower = text.to_ascii_lowercase();
        if lower.starts_with("postgresql://") || lower.starts_with("postgres://") {
            return Some(parse_uri(text));
        }
        let pairs = parse_key_values(text)?;
        let endpoint = Endpoint::from_options(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        (!endpoint.is_empty()).then_some(endpoint)
    }

    /// The ports given, as numbers (those that are not numbers are left out).
    pub fn ports(&self) -> Vec<u16> {
        self.port
            .iter()
            .flat_map(|p| p.split(','))
            .filter_map(|p| p.trim().parse().ok())
            .collect()
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if !self.hosts.is_empty() {
            parts.push(format!("host={}", self.hosts.join(",")));
        }
        if !self.hostaddrs.is_empty() {
            parts.push(format!("hostaddr={}", self.hostaddrs.join(",")));
        }
        if self.hosts.is_empty() && self.hostaddrs.is_empty() && self.service.is_none() {
            parts.push("(no host: the local server)".into());
        }
        for (key, value) in [
            ("port", &self.port),
            ("dbname", &self.dbname),
            ("service", &self.service),
        ] {
            if let Some(value) = value {
                parts.push(format!("{key}={value}"));
            }
        }
        f.write_str(&parts.join(" "))
    }
}

/// libpq's `key = value` list; values may be single-quoted with backslash
/// escapes. `None` when a word is not `key=value`.
fn parse_key_values(text: &str) -> Option<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') || key.is_empty() {
            return None;
        }
        if !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return None;
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next()? {
                    '\\' => value.push(chars.next()?),
                    '\'' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                match c {
                    '\\' => value.extend(chars.next()),
                    c => value.push(c),
                }
            }
        }
        pairs.push((key, value));
    }
    (!pairs.is_empty()).then_some(pairs)
}

/// `postgresql://[user[:password]@][host][:port][,...][/dbname][?key=value&...]`.
fn parse_uri(text: &str) -> Endpoint {
    let rest = text.split_once("://").map_or("", |(_, r)| r);
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let hostlist = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let mut endpoint = Endpoint::default();
    let mut ports = Vec::new();
    for entry in hostlist.split(',').filter(|e| !e.is_empty()) {
        let (host, port) = match entry.strip_prefix('[') {
            Some(v6) => match v6.split_once(']') {
                Some((host, after)) => (host, after.strip_prefix(':')),
                None => (v6, None),
            },
            None => match entry.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (entry, None),
            },
        };
        if !host.is_empty() {
            endpoint.hosts.push(percent_decode(host));
        }
        if let Some(port) = port.filter(|p| !p.is_empty()) {
            ports.push(port.to_owned());
        }
    }
    if !ports.is_empty() {
        endpoint.port = Some(ports.join(","));
    }
    let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
    let dbname = percent_decode(path.trim_start_matches('/'));
    if !dbname.is_empty() {
        endpoint.dbname = Some(dbname);
    }
    for pair in query.split('&') {
        if let Some((key, value)) = pair.split_once('=') {
            endpoint.set(key, &percent_decode(value));
        }
    }
    endpoint
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A connection string found in SQL text, and the line it starts on (from 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub endpoint: Endpoint,
    pub line: usize,
}

/// Every string literal of `sql` (quoted, `E''` or dollar-quoted) that is a
/// connection string, in order, without repeats. Comments and quoted
/// identifiers are skipped.
pub fn find_in_sql(sql: &str) -> Vec<Found> {
    let mut found: Vec<Found> = Vec::new();
    for (literal, line) in literals(sql) {
        let candidates: Vec<Endpoint> = if literal.contains("://") {
            uris_in(&literal)
        } else {
            Endpoint::parse(&literal).into_iter().collect()
        };
        for endpoint in candidates {
            if !found.iter().any(|f| f.endpoint == endpoint) {
                found.push(Found { endpoint, line });
            }
        }
    }
    found
}

/// The `postgres://` and `postgresql://` URIs inside a text.
fn uris_in(text: &str) -> Vec<Endpoint> {
    let lower = text.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = lower[from..].find("postgres").map(|i| i + from) {
        let rest = &text[at..];
        let uri_len = rest
            .find(|c: char| c.is_whitespace() || "'\"`<>()".contains(c))
            .unwrap_or(rest.len());
        let lower_rest = &lower[at..];
        if lower_rest.starts_with("postgresql://") || lower_rest.starts_with("postgres://") {
            out.push(parse_uri(&rest[..uri_len]));
        }
        from = at + uri_len.max(1);
    }
    out
}

/// The string literals of SQL text with the line each starts on.
fn literals(sql: &str) -> Vec<(String, usize)> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let count_lines =
        |from: usize, to: usize| chars[from..to].iter().filter(|&&c| c == '\n').count();
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let start = i;
        match c {
            '-' if next == Some('-') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if next == Some('*') => {
                i += 2;
                while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                    i += 1;
                }
                i = (i + 2).min(chars.len());
            }
            '"' => {
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    i += 1;
                }
                i += 1;
            }
            '\'' => {
                let escapes = i > 0
                    && matches!(chars[i - 1], 'e' | 'E')
                    && (i < 2 || !chars[i - 2].is_alphanumeric());
                let mut text = String::new();
                i += 1;
                while i < chars.len() {
                    match chars[i] {
                        '\\' if escapes => {
                            text.extend(chars.get(i + 1));
                            i += 2;
                        }
                        '\'' if chars.get(i + 1) == Some(&'\'') => {
                            text.push('\'');
                            i += 2;
                        }
                        '\'' => break,
                        c => {
                            text.push(c);
                            i += 1;
                        }
                    }
                }
                i += 1;
                out.push((text, line));
            }
            '$' => {
                let tag_end = chars[i + 1..]
                    .iter()
                    .position(|c| !(c.is_alphanumeric() || *c == '_'))
                    .map(|p| p + i + 1);
                let starts_tag = next.is_some_and(|n| !n.is_ascii_digit());
                match tag_end {
                    Some(end) if chars[end] == '$' && starts_tag => {
                        let tag: Vec<char> = chars[i..=end].to_vec();
                        let body = end + 1;
                        let close = (body..chars.len())
                            .find(|&j| chars[j..].starts_with(&tag))
                            .unwrap_or(chars.len());
                        out.push((chars[body..close].iter().collect(), line));
                        i = (close + tag.len()).min(chars.len());
                    }
                    _ => i += 1,
                }
            }
            _ => i += 1,
        }
        if i == start {
            i += 1;
        }
        line += count_lines(start, i.min(chars.len()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_value_strings() {
        let e = Endpoint::parse(
            "host=prod-db.example.org port=5433 dbname='emr x' user=app password=s3cret",
        )
        .unwrap();
        assert_eq!(e.hosts, ["prod-db.example.org"]);
        assert_eq!(e.port.as_deref(), Some("5433"));
        assert_eq!(e.dbname.as_deref(), Some("emr x"));
        assert!(!format!("{e:?} {e}").contains("s3cret"));
        assert_eq!(
            Endpoint::parse("hostaddr = 10.0.0.5 service=lab")
                .unwrap()
                .hostaddrs,
            ["10.0.0.5"]
        );
        assert_eq!(Endpoint::parse("select 1 from x"), None);
        assert_eq!(Endpoint::parse("user=app password=x"), None);
        assert_eq!(Endpoint::parse("host=%s dbname=$1"), None);
        assert_eq!(
            Endpoint::parse("host = %L port={port} dbname=emr")
                .unwrap()
                .hosts
                .len(),
            0
        );
    }

    #[test]
    fn uris() {
        let e =
            Endpoint::parse("postgresql://app:s3cret@prod-a:5433,[::1]:5434/emr?sslmode=require")
                .unwrap();
        assert_eq!(e.hosts, ["prod-a", "::1"]);
        assert_eq!(e.port.as_deref(), Some("5433,5434"));
        assert_eq!(e.dbname.as_deref(), Some("emr"));
        let e = Endpoint::parse("postgres:///emr?host=%2Fvar%2Frun&port=6000").unwrap();
        assert_eq!(e.hosts, ["/var/run"]);
        assert_eq!(e.ports(), [6000]);
    }

    #[test]
    fn strings_in_sql() {
        let sql = "-- 'host=commented'\nSELECT * FROM dblink('host=prod-db dbname=emr password=''x''', 'select 1')\n\
                   UNION SELECT * FROM dblink($c$postgresql://lab-db/lab$c$, $1)\n\
                   /* 'host=also-commented' */ WHERE x = E'host=esc\\'aped' AND \"host=ident\" = 'it''s'";
        let found = find_in_sql(sql);
        let hosts: Vec<(&str, usize)> = found
            .iter()
            .map(|f| (f.endpoint.hosts[0].as_str(), f.line))
            .collect();
        assert_eq!(hosts, [("prod-db", 2), ("lab-db", 3), ("esc'aped", 4)]);
    }
}
