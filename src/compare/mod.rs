//! `vault compare`: acceptance against production, schema and data, each difference classified as expected (explained by the configuration) or unexpected.
//!
//! Each engine implements [`Compare`] in its own module
//! (`db/postgres/compare.rs`, `db/sqlite/compare.rs`): it reads a schema
//! [`Snapshot`] as plain data and aggregates rows into hash buckets.
//! [`schema`] diffs two snapshots generically, [`data`] compares the
//! relations present on both sides and narrows a difference down to keys,
//! and [`classify`] marks each [`Difference`] expected or unexpected from
//! vault.toml. docs/compare.md describes the method.

pub mod data;
pub mod schema;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::config::{Config, DatabaseUrl};
use crate::engine::Engine;
use crate::exit::{Exit, ToolError};

/// One schema object as an engine describes it: what it is, its name, and
/// the attributes that are compared (never row values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaObject {
    /// `table`, `column`, `index`, `function`, ... (docs/compare.md).
    pub kind: String,
    /// `schema.name` on PostgreSQL, `name` on SQLite; a column, constraint,
    /// trigger or policy is `table.name`; a privilege `table to role`.
    pub name: String,
    /// The table the object belongs to, when it belongs to one.
    pub table: Option<String>,
    /// The role a privilege is granted to.
    pub role: Option<String>,
    /// The compared attributes, by name.
    pub attrs: BTreeMap<String, String>,
}

/// A table or materialized view whose rows are compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relation {
    /// `schema.name` on PostgreSQL, `name` on SQLite.
    pub name: String,
    pub schema: Option<String>,
    pub table: String,
    /// Column names, in no particular order.
    pub columns: Vec<String>,
    /// The primary key's columns; empty when there is none.
    pub key: Vec<String>,
    pub materialized: bool,
}

/// A database's schema as plain data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub objects: Vec<SchemaObject>,
    pub relations: Vec<Relation>,
}

/// The rows of one hash bucket: how many, and their order-independent checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketSum {
    pub bucket: u32,
    pub rows: u64,
    /// Sum of the rows' 64-bit hash prefixes, as decimal text.
    pub checksum: String,
}

/// One engine's side of a compare.
#[allow(async_fn_in_trait)]
pub trait Compare: Engine {
    /// Makes the session read-only; nothing that follows can write.
    async fn read_only(&mut self) -> Result<(), ToolError>;

    /// Told when the other side of the compare is a database on the same
    /// server: the two sides' scans run at the same time on its cores, so
    /// an engine that would spread one query over several processes
    /// (PostgreSQL's parallel workers) keeps each side to one.
    async fn sharing_server(&mut self) -> Result<(), ToolError> {
        Ok(())
    }

    /// The schema, without system objects.
    async fn snapshot(&mut self) -> Result<Snapshot, ToolError>;

    /// Counts and checksums of `columns` per bucket of the key's hash modulo
    /// `buckets` (every row in bucket 0 when `buckets` is 1 or there is no key).
    async fn bucket_sums(
        &mut self,
        relation: &Relation,
        columns: &[String],
        buckets: u32,
    ) -> Result<Vec<BucketSum>, ToolError>;

    /// The keys (as text) and row hashes of the rows in the buckets `which`.
    async fn bucket_keys(
        &mut self,
        relation: &Relation,
        columns: &[String],
        buckets: u32,
        which: &[u32],
    ) -> Result<Vec<(String, String)>, ToolError>;

    /// About how many rows the relation holds (the planner's estimate is
    /// enough: it only sizes the buckets).
    async fn estimated_rows(&mut self, relation: &Relation) -> Result<u64, ToolError>;

    /// Materialized views that read `tables` (directly or through views), as
    /// (view, table) pairs.
    async fn derived_views(
        &mut self,
        tables: &[String],
    ) -> Result<Vec<(String, String)>, ToolError>;
}

/// Whether the configuration explains a difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    Expected,
    Unexpected,
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Class::Expected => "expected",
            Class::Unexpected => "UNEXPECTED",
        })
    }
}

/// How the rows of a relation differ. "Missing" rows are in production and
/// not in acceptance, "extra" rows in acceptance and not in production.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataDifference {
    pub acceptance_rows: u64,
    pub production_rows: u64,
    /// False for a relation without a primary key: counts and checksums only.
    pub keyed: bool,
    pub missing: u64,
    pub extra: u64,
    pub changed: u64,
    /// Up to ten keys of rows that differ, as text: in memory only, for
    /// `vault compare --show-keys` on a terminal; never serialized.
    #[serde(skip)]
    pub sample_keys: Vec<String>,
    /// The same keys as keyed digests (HMAC-SHA256 under a key of the run):
    /// the same key gives the same digest on both sides and in every line,
    /// and a reader without the key learns nothing of its value.
    pub sample_key_digests: Vec<String>,
}

/// One difference between acceptance and production.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// The object kind (`table`, `column`, `index`, ...), or `data`.
    pub kind: String,
    pub object: String,
    /// What differs: `only in acceptance`, `only in production`, an
    /// attribute's name, or `rows`.
    pub what: String,
    /// The acceptance side's value of the attribute (never a row value).
    pub acceptance: Option<String>,
    pub production: Option<String>,
    pub data: Option<DataDifference>,
    pub class: Class,
    /// Why it is expected; empty when it is not.
    pub reason: String,
    /// The table the object belongs to, used for classification.
    #[serde(skip)]
    pub table: Option<String>,
    #[serde(skip)]
    pub role: Option<String>,
    /// Where acceptance's side of a link points, for classification.
    #[serde(skip)]
    pub endpoint: Option<crate::links::conninfo::Endpoint>,
}

impl Difference {
    fn new(kind: &str, object: &str, what: &str) -> Self {
        Difference {
            kind: kind.to_owned(),
            object: object.to_owned(),
            what: what.to_owned(),
            acceptance: None,
            production: None,
            data: None,
            class: Class::Unexpected,
            reason: String::new(),
            table: None,
            role: None,
            endpoint: None,
        }
    }
}

/// The outcome of `vault compare`, for the command's table and the run report.
#[derive(Debug, Clone, Serialize)]
pub struct CompareSummary {
    pub acceptance: String,
    pub production: String,
    /// How many schema objects each side has.
    pub objects_compared: usize,
    /// How many tables and materialized views had their rows compared.
    pub relations_compared: usize,
    pub differences: Vec<Difference>,
    /// What could not be compared, and relations compared without a key.
    pub notes: Vec<String>,
}

impl CompareSummary {
    /// Replaces every sample key by its keyed digest under `key`; with
    /// `keep_keys`, the keys stay in memory too (never in the JSON).
    pub fn seal_keys(&mut self, key: &[u8; 32], keep_keys: bool) {
        use hmac::{Hmac, Mac};
        for data in self.differences.iter_mut().filter_map(|d| d.data.as_mut()) {
            data.sample_key_digests = data
                .sample_keys
                .iter()
                .map(|k| {
                    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key)
                        .expect("HMAC takes a key of any length");
                    mac.update(k.as_bytes());
                    format!("k:{}", &hex::encode(mac.finalize().into_bytes())[..16])
                })
                .collect();
            if !keep_keys {
                data.sample_keys.clear();
            }
        }
    }

    pub fn expected(&self) -> usize {
        self.differences
            .iter()
            .filter(|d| d.class == Class::Expected)
            .count()
    }

    pub fn unexpected(&self) -> usize {
        self.differences.len() - self.expected()
    }

    /// 3 when an unexpected difference exists, 0 otherwise.
    pub fn exit(&self) -> Exit {
        if self.unexpected() > 0 {
            Exit::Problem
        } else {
            Exit::Success
        }
    }
}

/// Compares two open databases of the same engine: schema, then the rows of
/// every relation on both sides, then classifies each difference. Both
/// sessions are made read-only first. `production_url` is what link
/// definitions are judged against, as `vault links` judges them.
pub async fn compare_databases<E: Compare + crate::sanitize::Sanitizer>(
    config: &Config,
    production_url: &DatabaseUrl,
    acceptance: &mut E,
    production: &mut E,
) -> Result<CompareSummary, ToolError> {
    acceptance.read_only().await?;
    production.read_only().await?;
    let acceptance_identity = acceptance.identity().await?;
    let production_identity = production.identity().await?;
    if acceptance_identity.engine != crate::config::EngineKind::Sqlite
        && (&acceptance_identity.host, acceptance_identity.port)
            == (&production_identity.host, production_identity.port)
    {
        acceptance.sharing_server().await?;
        production.sharing_server().await?;
    }
    let acceptance_name = acceptance_identity.to_string();
    let production_name = production_identity.to_string();
    let acc = acceptance.snapshot().await?;
    let prod = production.snapshot().await?;
    let mut differences = schema::diff(&acc, &prod);
    let mut notes = Vec::new();
    let mut relations_compared = 0;
    for relation in &acc.relations {
        let Some(other) = prod.relations.iter().find(|r| r.name == relation.name) else {
            continue;
        };
        relations_compared += 1;
        if let Some(d) =
            data::compare_relation(acceptance, production, relation, other, &mut notes).await?
        {
            differences.push(d);
        }
    }
    // Materialized views over sanitized tables are refreshed by sanitize,
    // those over preserved tables by the restore.
    let rewritten: Vec<String> = config
        .sanitize
        .iter()
        .map(|r| qualify(&r.table, &acc))
        .chain(config.preserve.iter().map(|p| qualify(&p.table, &acc)))
        .collect();
    let derived = acceptance.derived_views(&rewritten).await?;
    let followers = followers(config, acceptance).await?;
    let production_match = crate::links::ProductionMatch::new(config, Some(production_url));
    for d in &mut differences {
        classify(config, &derived, &followers, &production_match, d);
    }
    Ok(CompareSummary {
        acceptance: acceptance_name,
        production: production_name,
        objects_compared: acc.objects.len().max(prod.objects.len()),
        relations_compared,
        differences,
        notes,
    })
}

/// A configured table name in the form the snapshot uses (`public.` added
/// on PostgreSQL when the name has no schema).
fn qualify(name: &str, snapshot: &Snapshot) -> String {
    if name.contains('.') {
        return name.to_owned();
    }
    let qualified = snapshot.relations.iter().any(|r| r.schema.is_some());
    if qualified {
        format!("public.{name}")
    } else {
        name.to_owned()
    }
}

/// True when a configured name (`t`, `s.t`, or a prefix ending in `*`) names `object`.
fn names(configured: &str, object: &str) -> bool {
    if let Some(prefix) = configured.strip_suffix('*') {
        return object.to_lowercase().starts_with(&prefix.to_lowercase());
    }
    configured.eq_ignore_ascii_case(object)
        || (!configured.contains('.')
            && object
                .strip_prefix("public.")
                .is_some_and(|rest| rest.eq_ignore_ascii_case(configured)))
}

/// A table whose rows follow a preserved or sanitized one: a foreign key
/// from it is ON DELETE CASCADE or SET NULL, so removing the parent's rows
/// (a replace-mode restore, a delete rule) removes or changes its rows too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Follower {
    pub table: String,
    pub parent: String,
    pub constraint: String,
    pub action: &'static str,
}

/// The tables that follow the configured tables through ON DELETE CASCADE
/// or SET NULL foreign keys, transitively (a cascade's child's children).
async fn followers<E: crate::sanitize::Sanitizer>(
    config: &Config,
    db: &mut E,
) -> Result<Vec<Follower>, ToolError> {
    use crate::sanitize::OnDelete;
    let mut queue: Vec<String> = config
        .preserve
        .iter()
        .map(|p| p.table.clone())
        .chain(config.sanitize.iter().map(|r| r.table.clone()))
        .collect();
    let mut seen: Vec<String> = queue.clone();
    let mut out = Vec::new();
    // Tables whose rule says `cascade = true`: sanitize itself deletes the
    // rows of every table that refers to them first, whatever the key's
    // action, and so on down.
    let mut vault_cascades: Vec<String> = config
        .sanitize
        .iter()
        .filter(|r| r.cascade == Some(true))
        .map(|r| r.table.clone())
        .collect();
    while let Some(parent) = queue.pop() {
        let table = crate::names::TableName::parse(&parent);
        if db.table_columns(&table).await.ok().flatten().is_none() {
            continue;
        }
        let cascading = vault_cascades.contains(&parent);
        for key in db.referencing_keys(&table).await? {
            let action = match key.on_delete {
                _ if cascading => "deleted first by the rule's cascade = true",
                OnDelete::Cascade => "ON DELETE CASCADE",
                OnDelete::SetNull => "ON DELETE SET NULL",
                OnDelete::SetDefault => "ON DELETE SET DEFAULT",
                OnDelete::NoAction | OnDelete::Restrict => continue,
            };
            let child = key.child.to_string();
            if cascading && !vault_cascades.contains(&child) {
                vault_cascades.push(child.clone());
            }
            if !seen.contains(&child) {
                seen.push(child.clone());
                if action == "ON DELETE CASCADE" || cascading {
                    queue.push(child.clone());
                }
            }
            out.push(Follower {
                table: child,
                parent: parent.clone(),
                constraint: key.name.clone(),
                action,
            });
        }
    }
    Ok(out)
}

/// Why acceptance's side of a link difference reaches production: its
/// options (`host=..., port=..., dbname=...`) read as `vault links` reads them.
fn reaches_production(
    production: &crate::links::ProductionMatch,
    d: &Difference,
) -> Option<String> {
    production.why(d.endpoint.as_ref()?, true)
}

/// Marks a difference expected, with its reason, when the configuration explains it.
pub fn classify(
    config: &Config,
    derived: &[(String, String)],
    followers: &[Follower],
    production: &crate::links::ProductionMatch,
    d: &mut Difference,
) {
    let reason = reason(config, derived, followers, production, d);
    if let Some(reason) = reason {
        d.class = Class::Expected;
        d.reason = reason;
    } else {
        d.class = Class::Unexpected;
        d.reason = String::new();
    }
}

fn reason(
    config: &Config,
    derived: &[(String, String)],
    followers: &[Follower],
    production: &crate::links::ProductionMatch,
    d: &Difference,
) -> Option<String> {
    let table = d.table.as_deref();
    for entry in config.compare.iter().flat_map(|c| &c.ignore) {
        if names(&entry.object, &d.object) || table.is_some_and(|t| names(&entry.object, t)) {
            return Some(format!("ignored by [compare]: {}", entry.reason));
        }
    }
    if matches!(
        d.kind.as_str(),
        "foreign-server" | "user-mapping" | "foreign-table"
    ) {
        // Judged as `vault links` judges it: acceptance's own definition is
        // expected, one that reaches production never is.
        if reaches_production(production, d).is_some() {
            return None;
        }
        return Some("link definition: acceptance keeps its own".into());
    }
    // `vault health --fix` validates NOT VALID constraints and rebuilds
    // invalid indexes: acceptance's side valid where production's is not
    // is vault's own repair.
    if matches!(
        (d.kind.as_str(), d.what.as_str()),
        ("constraint", "validated") | ("index", "valid")
    ) && d.acceptance.as_deref() == Some("true")
        && d.production.as_deref() == Some("false")
    {
        return Some("repaired by vault health (validated or rebuilt in acceptance)".into());
    }
    // `vault restore` disables production's scheduled jobs (`jobs`); a job
    // acceptance keeps disabled while production runs it is vault's doing.
    if d.kind == "event"
        && d.what == "status"
        && d.acceptance
            .as_deref()
            .is_some_and(|s| s.ends_with("DISABLED"))
        && d.production.as_deref() == Some("ENABLED")
    {
        return Some(
            "a scheduled job disabled in acceptance (vault restore stops production's jobs)".into(),
        );
    }
    if matches!(d.kind.as_str(), "privilege" | "column-privilege")
        && let Some(role) = &d.role
        && config
            .privileged_roles()
            .iter()
            .any(|r| r.eq_ignore_ascii_case(role))
    {
        let kept_login = config
            .kept_roles()
            .iter()
            .any(|r| r.eq_ignore_ascii_case(role));
        let granted = config
            .grants
            .iter()
            .flat_map(|g| &g.roles)
            .any(|r| r.eq_ignore_ascii_case(role));
        return Some(match (granted, kept_login) {
            (false, true) => format!("grant of [roles] kept login {role}"),
            _ => format!("grant of [grants] role {role}"),
        });
    }
    if d.kind != "data" {
        return None;
    }
    if let Some(p) = config.preserve.iter().find(|p| names(&p.table, &d.object)) {
        return Some(format!(
            "preserved table {} restored from the vault",
            p.table
        ));
    }
    if let Some(r) = config.sanitize.iter().find(|r| names(&r.table, &d.object)) {
        return Some(format!("sanitized table {}", r.table));
    }
    if let Some((_, t)) = derived.iter().find(|(v, _)| v == &d.object) {
        return Some(format!(
            "materialized view derived from restored or sanitized table {t}"
        ));
    }
    if let Some(f) = followers.iter().find(|f| names(&f.table, &d.object)) {
        return Some(format!(
            "rows follow {} through foreign key {} ({})",
            f.parent, f.constraint, f.action
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_disabled_in_acceptance_is_expected_and_one_enabled_is_not() {
        let config = Config::parse("[acceptance]\nurl = \"sqlite:a.db\"\n").unwrap();
        let nowhere = crate::links::ProductionMatch::new(&config, None);
        let mut d = Difference::new("event", "patient_reminders", "status");
        d.acceptance = Some("DISABLED".into());
        d.production = Some("ENABLED".into());
        classify(&config, &[], &[], &nowhere, &mut d);
        assert_eq!(d.class, Class::Expected, "{d:?}");
        assert!(d.reason.contains("production's jobs"), "{d:?}");
        let mut d = Difference::new("event", "patient_reminders", "status");
        d.acceptance = Some("ENABLED".into());
        d.production = Some("DISABLED".into());
        classify(&config, &[], &[], &nowhere, &mut d);
        assert_eq!(d.class, Class::Unexpected);
    }

    #[test]
    fn configured_names_match_objects() {
        assert!(names("app_user", "public.app_user"));
        assert!(names("camis.app_user", "camis.app_user"));
        assert!(!names("app_user", "camis.app_user"));
        assert!(names("audit.*", "audit.log"));
        assert!(names("app_user", "app_user"));
    }

    #[test]
    fn classification_follows_the_configuration() {
        let config = Config::parse(
            "[acceptance]\nurl = \"sqlite:a.db\"\n[[preserve]]\ntable = \"users\"\n\
             [[sanitize]]\ntable = \"docs\"\ndelete_all = true\n\
             [grants]\nroles = [\"tester\"]\n\
             [compare]\nignore = [{ object = \"audit\", reason = \"local audit\" }]\n",
        )
        .unwrap();
        let nowhere = crate::links::ProductionMatch::new(&config, None);
        let mut d = Difference::new("data", "users", "rows");
        classify(&config, &[], &[], &nowhere, &mut d);
        assert_eq!(d.class, Class::Expected);
        let mut d = Difference::new("data", "other", "rows");
        classify(&config, &[], &[], &nowhere, &mut d);
        assert_eq!(d.class, Class::Unexpected);
        let mut d = Difference::new("column", "audit.at", "type");
        d.table = Some("audit".into());
        classify(&config, &[], &[], &nowhere, &mut d);
        assert!(d.reason.contains("local audit"), "{d:?}");
        let mut d = Difference::new("privilege", "t to tester", "privileges");
        d.role = Some("tester".into());
        classify(&config, &[], &[], &nowhere, &mut d);
        assert_eq!(d.class, Class::Expected);
        let mut d = Difference::new("data", "public.mv", "rows");
        classify(
            &config,
            &[("public.mv".into(), "public.docs".into())],
            &[],
            &nowhere,
            &mut d,
        );
        assert_eq!(d.class, Class::Expected);
        let follower = Follower {
            table: "sessions".into(),
            parent: "users".into(),
            constraint: "sessions_user_fk".into(),
            action: "ON DELETE CASCADE",
        };
        let mut d = Difference::new("data", "sessions", "rows");
        classify(
            &config,
            &[],
            std::slice::from_ref(&follower),
            &nowhere,
            &mut d,
        );
        assert_eq!(d.class, Class::Expected);
        assert!(d.reason.contains("sessions_user_fk"), "{d:?}");
        let mut d = Difference::new("column", "sessions.x", "type");
        classify(&config, &[], &[follower], &nowhere, &mut d);
        assert_eq!(d.class, Class::Unexpected, "only data follows a parent");
    }
}
