//! The guards of every command that writes: never production (by where its URL really leads, and by the server instance it reaches), and only the database the vault came from.

mod destination;
mod instance;
pub mod record;

pub use destination::{Destination, Host};
pub use instance::{Instance, ServerInstance};

use crate::config::{Config, DatabaseUrl, EngineKind};
use crate::exit::{Exit, ToolError};
use crate::names::Identity;

/// Host, port and database named by a URL, without connecting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlTarget {
    pub engine: EngineKind,
    pub host: String,
    /// The host as the URL spells it (lower case), before `localhost` and
    /// `::1` become `127.0.0.1`; host patterns are matched against both.
    pub host_as_written: String,
    pub port: Option<u16>,
    pub database: String,
}

impl UrlTarget {
    /// Reads host, port and database out of a URL.
    pub fn of(url: &DatabaseUrl) -> UrlTarget {
        let text = url.redacted();
        if url.engine() == EngineKind::Sqlite {
            let path = text.trim_start_matches("sqlite:").trim_start_matches("//");
            let path = path.split('?').next().unwrap_or(path);
            let canonical = std::fs::canonicalize(path).map(|p| p.display().to_string());
            return UrlTarget {
                engine: EngineKind::Sqlite,
                host: String::new(),
                host_as_written: String::new(),
                port: None,
                database: canonical.unwrap_or_else(|_| path.to_owned()),
            };
        }
        let after = text.split_once("://").map_or(text, |(_, rest)| rest);
        let (authority, path) = after.split_once('/').unwrap_or((after, ""));
        let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || hostport.starts_with('[') => (h, p.parse().ok()),
            _ => (hostport, None),
        };
        let default_port = match url.engine() {
            EngineKind::Postgres => Some(5432),
            EngineKind::Mysql => Some(3306),
            EngineKind::Sqlite => None,
        };
        UrlTarget {
            engine: url.engine(),
            host: normalize_host(host),
            host_as_written: host.trim_matches(['[', ']']).to_ascii_lowercase(),
            port: port.or(default_port),
            database: path.split('?').next().unwrap_or("").to_owned(),
        }
    }
}

fn normalize_host(host: &str) -> String {
    let host = host.trim_matches(['[', ']']).to_ascii_lowercase();
    match host.as_str() {
        "" | "localhost" | "::1" => "127.0.0.1".into(),
        _ => host,
    }
}

/// True when `host` matches the glob `pattern` (`*` any run, `?` one character), ignoring case.
pub fn host_matches(pattern: &str, host: &str) -> bool {
    fn matches(p: &[u8], h: &[u8]) -> bool {
        match (p.first(), h.first()) {
            (None, None) => true,
            (Some(b'*'), _) => matches(&p[1..], h) || (!h.is_empty() && matches(p, &h[1..])),
            (Some(b'?'), Some(_)) => matches(&p[1..], &h[1..]),
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => matches(&p[1..], &h[1..]),
            _ => false,
        }
    }
    matches(pattern.as_bytes(), host.as_bytes())
}

/// Refuses a target that is production, before connecting: the production
/// URL's database reached by any spelling (see [`Destination`]), or a host
/// that matches `[production].hosts`. Nothing overrides this guard, not
/// even `--target-differs`.
pub fn refuse_production(
    config: &Config,
    target_url: &DatabaseUrl,
    target: &Destination,
    production: Option<(&DatabaseUrl, &Destination)>,
) -> Result<(), ToolError> {
    if let Some((production_url, production)) = production
        && production.same_database(target)
    {
        let same = match target.engine {
            EngineKind::Sqlite => "the same file",
            _ => "the same server",
        };
        return Err(refused(format!(
            "the acceptance URL {target_url} and the production URL {production_url} lead to the same database ({}): they are {same}; vault never writes to production",
            target.describe()
        )));
    }
    let patterns = config
        .production
        .as_ref()
        .map(|p| p.hosts.as_slice())
        .unwrap_or_default();
    if let Some(pattern) = patterns.iter().find(|p| target.host_matches(p)) {
        return Err(refused(format!(
            "the acceptance host {} ({target_url}) matches the production host pattern \"{pattern}\"; vault never writes to production",
            target.host.written
        )));
    }
    Ok(())
}

/// Refuses a connection that reached production's own server instance and
/// database, whatever the URLs say. A physical copy of production (same
/// PostgreSQL system identifier) runs as another instance and passes.
pub fn refuse_production_instance(
    target_url: &DatabaseUrl,
    target: &Instance,
    production_url: &DatabaseUrl,
    production: &Instance,
) -> Result<(), ToolError> {
    if !target.same_as(production) {
        return Ok(());
    }
    Err(refused(format!(
        "the acceptance URL {target_url} reached the same server instance and database as the production URL {production_url} ({target}): they are one database; vault never writes to production"
    )))
}

/// The note for a configuration without `[production]`: what the guard
/// can then use, and how to give it more.
pub fn without_production_note(config: &Config) -> Option<String> {
    match &config.production {
        Some(_) => None,
        None => Some(
            "note: no [production] in the configuration: the production guard can only refuse a database other than the vault's own, and --target-differs lifts that; add [production] with url_env = \"PROD_DATABASE_URL\" (and hosts = [...]) so that vault can prove acceptance is not production".into(),
        ),
    }
}

/// Refuses a target other than the database the vault was captured from,
/// unless `target_differs` allows another acceptance database.
pub fn require_same_database(
    source: &Identity,
    target: &Identity,
    target_differs: bool,
) -> Result<(), ToolError> {
    let same = source.engine == target.engine
        && source.host == target.host
        && source.port == target.port
        && source.database == target.database;
    if same || (target_differs && source.engine == target.engine) {
        return Ok(());
    }
    if source.engine != target.engine {
        return Err(refused(format!(
            "the vault holds {} data and the target is {}; a vault is restored into the same engine only",
            source.engine, target.engine
        )));
    }
    Err(refused(format!("the vault was captured from {source}, and the target is {target}"))
        .hint("restore into the database the vault came from, or pass --target-differs to restore into another acceptance database"))
}

fn refused(message: String) -> ToolError {
    ToolError::new(Exit::Refused, message)
        .hint("check the acceptance URL in the configuration; nothing was changed")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_globs() {
        assert!(host_matches("prod-db*.example.org", "prod-db2.example.org"));
        assert!(host_matches("PROD-?", "prod-1"));
        assert!(!host_matches("prod-db*", "acc-db1"));
    }

    #[test]
    fn urls_name_their_target() {
        let url = DatabaseUrl::parse("postgres://app:pw@Prod-DB:6543/camis?sslmode=off").unwrap();
        let target = UrlTarget::of(&url);
        assert_eq!(
            (target.host.as_str(), target.port, target.database.as_str()),
            ("prod-db", Some(6543), "camis")
        );
        let local = UrlTarget::of(&DatabaseUrl::parse("postgres://localhost/acc").unwrap());
        assert_eq!((local.host.as_str(), local.port), ("127.0.0.1", Some(5432)));
        assert_eq!(local.host_as_written, "localhost");
    }
}
