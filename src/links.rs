//! Database links after a refresh: every place where acceptance reaches another database, checked against production and against what acceptance had.
//!
//! Each engine lists its links through [`LinkCheck`] (PostgreSQL in
//! `db/postgres/link_check.rs`: foreign servers, user mappings, connection
//! strings in views and functions, subscriptions); this module judges them.
//! A link points at production when one of its hosts matches a
//! `[production].hosts` pattern, or when its host, port and database are the
//! production URL's. With a vault, it also differs from acceptance when its
//! definition is not what the capture recorded. docs/links.md explains it.

pub mod conninfo;

use serde::Serialize;
use vault_format::UnlockedVault;

use crate::config::{Config, DatabaseUrl, EngineKind};
use crate::engine::Engine;
use crate::exit::{Exit, ToolError};
use crate::guard::{UrlTarget, host_matches};

pub use conninfo::Endpoint;

/// What kind of object holds a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkKind {
    ForeignServer,
    UserMapping,
    View,
    MaterializedView,
    Function,
    Procedure,
    Subscription,
}

impl LinkKind {
    pub fn label(self) -> &'static str {
        match self {
            LinkKind::ForeignServer => "foreign server",
            LinkKind::UserMapping => "user mapping",
            LinkKind::View => "view",
            LinkKind::MaterializedView => "materialized view",
            LinkKind::Function => "function",
            LinkKind::Procedure => "procedure",
            LinkKind::Subscription => "subscription",
        }
    }
}

/// The judgement on one link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// It points at production (exit 3).
    Production,
    /// Its definition is not what acceptance had before the refresh.
    DiffersFromAcceptance,
    /// Where it points could not be read (a subscription's connection
    /// string without the privilege to read it).
    Unchecked,
    Ok,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Production => "PRODUCTION",
            Verdict::DiffersFromAcceptance => "DIFFERS",
            Verdict::Unchecked => "UNCHECKED",
            Verdict::Ok => "ok",
        }
    }
}

/// One option of a definition that differs; secret values show as `***`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OptionChange {
    pub option: String,
    pub now: Option<String>,
    pub acceptance: Option<String>,
}

/// How a link compares with the definitions captured before the refresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "state")]
pub enum Acceptance {
    /// No vault was given, or the vault cannot say (connection strings in code).
    NotCompared,
    Same,
    /// Both have it, with other options.
    Differs {
        changes: Vec<OptionChange>,
    },
    /// Acceptance did not have it: it came with the refresh.
    New,
    /// Acceptance had it and it is gone; `points_to` is acceptance's.
    Missing,
}

/// One link as an engine finds it, before it is judged.
#[derive(Debug, Clone)]
pub struct FoundLink {
    pub kind: LinkKind,
    /// The object, named as SQL names it (`server neighbour`, `view camis.v`).
    pub object: String,
    /// `None` when where it points could not be read.
    pub points_to: Option<Endpoint>,
    /// A connection through libpq: no host means the local server.
    pub libpq: bool,
    /// Where it was found (catalog, body line).
    pub where_found: String,
    pub acceptance: Acceptance,
    /// True when `vault restore` puts back acceptance's definition of it.
    pub restorable: bool,
    /// What an operator does by hand to point it elsewhere or remove it.
    pub remedy: String,
}

/// What an engine finds.
#[derive(Debug, Clone, Default)]
pub struct FoundLinks {
    /// Set when the engine has no link objects at all: says so.
    pub no_link_objects: Option<String>,
    pub links: Vec<FoundLink>,
    /// What could not be checked, and why.
    pub notes: Vec<String>,
}

/// Lists an engine's links. Engines without link objects say so.
#[allow(async_fn_in_trait)]
pub trait LinkCheck {
    /// Every place where the database reaches another one; with
    /// `captured`, each compared with the vault's acceptance definitions.
    /// Reads only.
    async fn find_links(
        &mut self,
        captured: Option<&UnlockedVault>,
    ) -> Result<FoundLinks, ToolError>;
}

/// One judged link.
#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub kind: LinkKind,
    pub object: String,
    pub points_to: Option<Endpoint>,
    pub verdict: Verdict,
    /// Why it is production, or how it differs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    pub acceptance: Acceptance,
    pub where_found: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub what_to_do: Option<String>,
}

/// The outcome of a links check.
#[derive(Debug, Clone, Serialize)]
pub struct LinksSummary {
    pub database: String,
    pub engine: EngineKind,
    /// Set when the engine has no link objects (SQLite).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_link_objects: Option<String>,
    pub compared_with_vault: bool,
    pub links: Vec<Link>,
    pub notes: Vec<String>,
    pub production: usize,
    pub differs: usize,
    pub unchecked: usize,
    pub ok: usize,
}

impl LinksSummary {
    /// 3 when a link to production remains, 0 otherwise.
    pub fn exit(&self) -> Exit {
        if self.production > 0 {
            Exit::Problem
        } else {
            Exit::Success
        }
    }
}

/// What production is: the host patterns and the production URL's target.
pub struct ProductionMatch<'a> {
    patterns: &'a [String],
    url: Option<UrlTarget>,
}

impl<'a> ProductionMatch<'a> {
    pub fn new(config: &'a Config, production: Option<&DatabaseUrl>) -> Self {
        ProductionMatch {
            patterns: config
                .production
                .as_ref()
                .map(|p| p.hosts.as_slice())
                .unwrap_or_default(),
            url: production
                .map(UrlTarget::of)
                .filter(|t| t.engine != EngineKind::Sqlite),
        }
    }

    /// Why the endpoint is production, or `None` when it is not.
    pub fn why(&self, endpoint: &Endpoint, libpq: bool) -> Option<String> {
        let hosts: Vec<&String> = endpoint.hosts.iter().chain(&endpoint.hostaddrs).collect();
        for host in &hosts {
            let normalized = normalize_host(host);
            if let Some(pattern) = self.patterns.iter().find(|p| {
                host_matches(p, &host.to_ascii_lowercase()) || host_matches(p, &normalized)
            }) {
                return Some(format!(
                    "host {host} matches the [production].hosts pattern \"{pattern}\""
                ));
            }
        }
        let url = self.url.as_ref()?;
        let local = String::from("127.0.0.1");
        let candidates: Vec<String> = if hosts.is_empty() {
            if !libpq || endpoint.service.is_some() {
                return None;
            }
            vec![local]
        } else {
            hosts.iter().map(|h| normalize_host(h)).collect()
        };
        let host = candidates
            .iter()
            .find(|h| **h == url.host || **h == url.host_as_written)?;
        let ports = endpoint.ports();
        let port_matches = match url.port {
            Some(port) if ports.is_empty() => port == 5432,
            Some(port) => ports.contains(&port),
            None => true,
        };
        let db_matches = match &endpoint.dbname {
            Some(db) => url.database.is_empty() || *db == url.database,
            None => true,
        };
        (port_matches && db_matches).then(|| {
            format!(
                "host {host}, port {} and database {} are the [production] URL's",
                url.port.map_or("(default)".into(), |p| p.to_string()),
                endpoint.dbname.as_deref().unwrap_or(url.database.as_str())
            )
        })
    }
}

/// Lower case without brackets; the local server's names become 127.0.0.1
/// (a socket directory too), as the guard reads the production URL.
fn normalize_host(host: &str) -> String {
    let host = host.trim_matches(['[', ']']).to_ascii_lowercase();
    match host.as_str() {
        "" | "localhost" | "::1" => "127.0.0.1".into(),
        _ if host.starts_with('/') => "127.0.0.1".into(),
        _ => host,
    }
}

/// Checks every link of the database: against production (`[production]`
/// hosts and URL) and, with `captured`, against acceptance's definitions.
pub async fn links<E: Engine + LinkCheck>(
    db: &mut E,
    config: &Config,
    production: Option<&DatabaseUrl>,
    captured: Option<&UnlockedVault>,
) -> Result<LinksSummary, ToolError> {
    let identity = db.identity().await?;
    let mut found = db.find_links(captured).await?;
    if let Some(vault) = captured {
        let source = crate::restore::captured_tables(vault)?
            .into_iter()
            .next()
            .map(|(table, _)| table.source);
        if let Some(source) = source.filter(|s| {
            (s.engine, &s.host, s.port, &s.database)
                != (
                    identity.engine,
                    &identity.host,
                    identity.port,
                    &identity.database,
                )
        }) {
            found.notes.push(format!(
                "the vault was captured from {source}, and this is {identity}: the comparison is with that database's definitions"
            ));
        }
    }
    Ok(judge(
        identity.to_string(),
        identity.engine,
        found,
        &ProductionMatch::new(config, production),
        captured.is_some(),
    ))
}

/// Judges what an engine found.
pub fn judge(
    database: String,
    engine: EngineKind,
    found: FoundLinks,
    production: &ProductionMatch<'_>,
    compared_with_vault: bool,
) -> LinksSummary {
    let links: Vec<Link> = found
        .links
        .into_iter()
        .map(|link| judge_one(link, production))
        .collect();
    let count = |v: Verdict| links.iter().filter(|l| l.verdict == v).count();
    LinksSummary {
        database,
        engine,
        no_link_objects: found.no_link_objects,
        compared_with_vault,
        production: count(Verdict::Production),
        differs: count(Verdict::DiffersFromAcceptance),
        unchecked: count(Verdict::Unchecked),
        ok: count(Verdict::Ok),
        links,
        notes: found.notes,
    }
}

fn judge_one(link: FoundLink, production: &ProductionMatch<'_>) -> Link {
    let to_production = match (&link.acceptance, &link.points_to) {
        (Acceptance::Missing, _) | (_, None) => None,
        (_, Some(endpoint)) => production.why(endpoint, link.libpq),
    };
    let differs = match &link.acceptance {
        Acceptance::Differs { changes } => Some(format!(
            "acceptance had other options: {}",
            changes
                .iter()
                .map(|c| format!(
                    "{} {} (acceptance: {})",
                    c.option,
                    c.now.as_deref().unwrap_or("(none)"),
                    c.acceptance.as_deref().unwrap_or("(none)")
                ))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Acceptance::New => Some("acceptance did not have it before the refresh".into()),
        Acceptance::Missing => Some("acceptance had it before the refresh; it is gone".into()),
        Acceptance::NotCompared | Acceptance::Same => None,
    };
    let verdict = if to_production.is_some() {
        Verdict::Production
    } else if differs.is_some() {
        Verdict::DiffersFromAcceptance
    } else if link.points_to.is_none() {
        Verdict::Unchecked
    } else {
        Verdict::Ok
    };
    let to_production = match link.kind {
        LinkKind::UserMapping => {
            to_production.map(|why| format!("its server points at production: {why}"))
        }
        _ => to_production,
    };
    let why = match (to_production, differs) {
        (Some(p), Some(d)) => Some(format!("{p}; {d}")),
        (p, d) => p.or(d),
    };
    let put_back = link.restorable
        && matches!(
            link.acceptance,
            Acceptance::Differs { .. } | Acceptance::Missing | Acceptance::Same
        );
    let what_to_do = match verdict {
        Verdict::Ok => None,
        Verdict::Unchecked => Some(link.remedy),
        _ if put_back => Some(format!(
            "`vault restore` puts back acceptance's definition; by hand: {}",
            link.remedy
        )),
        _ => Some(link.remedy),
    };
    Link {
        kind: link.kind,
        object: link.object,
        points_to: link.points_to,
        verdict,
        why,
        acceptance: link.acceptance,
        where_found: link.where_found,
        what_to_do,
    }
}

/// How a link's options now differ from acceptance's captured ones; secret
/// values show as `***`, and a changed secret as `*** (changed)`.
pub fn option_differences(
    now: &std::collections::BTreeMap<String, String>,
    then: &std::collections::BTreeMap<String, String>,
) -> Acceptance {
    let shown = |key: &str, value: Option<&String>| {
        value.map(|v| {
            if is_secret_option(key) {
                "***".to_owned()
            } else {
                v.clone()
            }
        })
    };
    let mut changes = Vec::new();
    for key in now
        .keys()
        .chain(then.keys().filter(|k| !now.contains_key(*k)))
    {
        let (a, b) = (now.get(key), then.get(key));
        if a != b {
            let (mut a, mut b) = (shown(key, a), shown(key, b));
            if a == b {
                // Both secret and both set: say that it changed, not to what.
                a = Some("*** (changed)".into());
                b = Some("***".into());
            }
            changes.push(OptionChange {
                option: key.clone(),
                now: a,
                acceptance: b,
            });
        }
    }
    if changes.is_empty() {
        Acceptance::Same
    } else {
        Acceptance::Differs { changes }
    }
}

/// Option values that are never shown.
pub fn is_secret_option(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.contains("password") || name == "sslkey" || name.contains("secret")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(hosts: &str) -> Config {
        Config::parse(&format!(
            "[acceptance]\nurl_env = \"A\"\n[production]\nurl_env = \"P\"\nhosts = [{hosts}]\n"
        ))
        .unwrap()
    }

    fn endpoint(text: &str) -> Endpoint {
        Endpoint::parse(text).unwrap()
    }

    #[test]
    fn production_by_pattern_and_by_url() {
        let config = config("\"prod-db*.example.org\"");
        let url = DatabaseUrl::parse("postgres://app@Prod-Main:6432/camis").unwrap();
        let prod = ProductionMatch::new(&config, Some(&url));
        let why = prod
            .why(&endpoint("host=PROD-DB2.example.org"), true)
            .unwrap();
        assert!(why.contains("prod-db*.example.org"), "{why}");
        assert!(
            prod.why(&endpoint("host=prod-main port=6432 dbname=camis"), true)
                .is_some()
        );
        assert!(
            prod.why(&endpoint("host=prod-main port=6432"), true)
                .is_some()
        );
        assert!(
            prod.why(&endpoint("host=prod-main dbname=camis"), true)
                .is_none(),
            "default port 5432"
        );
        assert!(
            prod.why(&endpoint("host=prod-main port=6432 dbname=lab"), true)
                .is_none()
        );
        assert!(
            prod.why(&endpoint("host=acc-db dbname=camis"), true)
                .is_none()
        );
        let local = DatabaseUrl::parse("postgres://localhost/prod").unwrap();
        let prod = ProductionMatch::new(&config, Some(&local));
        assert!(prod.why(&endpoint("dbname=prod"), true).is_some());
        assert!(prod.why(&endpoint("dbname=prod"), false).is_none());
        assert!(prod.why(&Endpoint::default(), false).is_none());
        assert!(prod.why(&endpoint("dbname=acc"), true).is_none());
    }

    #[test]
    fn verdicts_and_what_to_do() {
        let config = config("\"prod-*\"");
        let prod = ProductionMatch::new(&config, None);
        let link = |points_to: &str, acceptance| FoundLink {
            kind: LinkKind::ForeignServer,
            object: "server s".into(),
            points_to: Some(endpoint(points_to)),
            libpq: true,
            where_found: "pg_foreign_server".into(),
            acceptance,
            restorable: true,
            remedy: "ALTER SERVER s OPTIONS (SET host 'acc')".into(),
        };
        let found = FoundLinks {
            links: vec![
                link("host=prod-a", Acceptance::New),
                link("host=acc-b", Acceptance::Same),
                link(
                    "host=acc-c",
                    Acceptance::Differs {
                        changes: vec![OptionChange {
                            option: "host".into(),
                            now: Some("acc-c".into()),
                            acceptance: Some("acc-b".into()),
                        }],
                    },
                ),
            ],
            ..FoundLinks::default()
        };
        let summary = judge("db".into(), EngineKind::Postgres, found, &prod, true);
        let verdicts: Vec<Verdict> = summary.links.iter().map(|l| l.verdict).collect();
        assert_eq!(
            verdicts,
            [
                Verdict::Production,
                Verdict::Ok,
                Verdict::DiffersFromAcceptance
            ]
        );
        assert_eq!(summary.exit(), Exit::Problem);
        let differs = &summary.links[2];
        assert!(
            differs
                .why
                .as_deref()
                .unwrap()
                .contains("host acc-c (acceptance: acc-b)")
        );
        assert!(
            differs
                .what_to_do
                .as_deref()
                .unwrap()
                .starts_with("`vault restore`")
        );
        assert!(
            !summary.links[0]
                .what_to_do
                .as_deref()
                .unwrap()
                .contains("vault restore")
        );
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(json["links"][0]["verdict"], "production");
        assert_eq!(json["links"][0]["kind"], "foreign-server");
        assert_eq!(json["links"][0]["acceptance"]["state"], "new");
        assert_eq!(json["links"][0]["points_to"]["hosts"][0], "prod-a");
        assert_eq!(
            json["links"][2]["acceptance"]["changes"][0]["acceptance"],
            "acc-b"
        );
        assert_eq!(json["production"], 1);
    }
}
