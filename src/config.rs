//! vault.toml: the typed configuration, its validation before any connection, and URLs that never print a password.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use zeroize::Zeroizing;

use crate::pseudonym::{Kind, PseudonymSpec};

/// The whole configuration file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub acceptance: Endpoint,
    pub production: Option<Production>,
    #[serde(default)]
    pub preserve: Vec<Preserve>,
    pub grants: Option<Grants>,
    #[serde(default)]
    pub sanitize: Vec<SanitizeRule>,
    /// `vault compare`'s own settings.
    pub compare: Option<CompareSettings>,
    /// Who is kept out of acceptance until its data is clean.
    pub quarantine: Option<QuarantineSettings>,
    /// Acceptance's own code objects captured whole.
    pub objects: Option<ObjectsSettings>,
    /// Acceptance's own logins, kept whole across a refresh.
    pub roles: Option<RolesSettings>,
    /// The search for sanitized values left anywhere after sanitize.
    pub leak_scan: Option<LeakScanSettings>,
    /// The columns that look like personal data and are accounted for.
    pub coverage: Option<CoverageSettings>,
    /// Custom SQL run before or after a step of the pipeline.
    #[serde(default)]
    pub hook: Vec<Hook>,
    /// The key of the `pseudonymize` rules.
    pub pseudonym: Option<PseudonymSettings>,
}

/// `[[hook]]`: custom SQL run on acceptance before or after one step of
/// `vault restore`'s pipeline, in a transaction of its own.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hook {
    /// A label for the output and the report.
    pub name: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    /// The SQL itself, or
    pub sql: Option<String>,
    /// a file that holds it (relative to the configuration's folder).
    pub file: Option<std::path::PathBuf>,
    /// `stop` (the default): a failing hook stops the run like a failing
    /// step; `warn`: it is recorded and the run goes on.
    pub on_error: Option<String>,
    /// `one` (the default): a single statement; `many`: a script.
    pub statements: Option<String>,
}

/// The steps a hook may name.
pub const HOOK_STEPS: [&str; 6] = [
    "restore", "sanitize", "verify", "health", "links", "compare",
];

impl Hook {
    /// `before sanitize`, `after restore`.
    pub fn when(&self) -> String {
        match (&self.before, &self.after) {
            (Some(step), _) => format!("before {step}"),
            (_, Some(step)) => format!("after {step}"),
            _ => String::new(),
        }
    }

    /// Its name, or where it runs.
    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.when())
    }

    pub fn stops_on_error(&self) -> bool {
        self.on_error.as_deref() != Some("warn")
    }

    pub fn many(&self) -> bool {
        self.statements.as_deref() == Some("many")
    }
}

/// `[leak_scan]`: after sanitize, every text column of every table is
/// searched for the values the rules removed or changed. On by default.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeakScanSettings {
    pub enabled: Option<bool>,
    /// Values with fewer letters and digits than this are not looked for
    /// (default 6).
    pub min_length: Option<usize>,
    /// Columns not searched: `table.column`, `schema.table.column`, `table.*`.
    #[serde(default)]
    pub ignore: Vec<String>,
}

/// `[coverage]`: columns that look like personal data and that acceptance
/// keeps as they are, so that the gate counts them as classified.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoverageSettings {
    /// An unclassified column fails verify (exit 3).
    pub strict: Option<bool>,
    /// `table.column`, `schema.table.column`, `table.*` or `*.column`.
    #[serde(default)]
    pub keep: Vec<String>,
}

/// `[roles]`: acceptance's own logins (PostgreSQL role names; MariaDB/MySQL
/// accounts as `'user'@'host'`) captured whole (attributes, password
/// verifier, validity, settings, memberships, privileges) and put back by the
/// restore. Production's logins that acceptance never had are listed, and
/// made unable to log in with `lock_others = true`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolesSettings {
    #[serde(default)]
    pub keep: Vec<String>,
    /// Capture password verifiers (the default); `false` captures the rest
    /// when the capturing account may not read them.
    pub passwords: Option<bool>,
    /// Make production's own logins unable to log in after the restore.
    pub lock_others: Option<bool>,
}

/// `[pseudonym]`: where the key of the `pseudonymize` rules is. A relative
/// path is read from the configuration file's folder.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PseudonymSettings {
    pub key_file: std::path::PathBuf,
}

/// `[objects]`: views, routines, triggers and events (`schema.name`; SQLite
/// `main.name`) captured with their definitions and re-created after the
/// restore when the refresh removed or changed them. Each must exist at
/// capture.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectsSettings {
    #[serde(default)]
    pub keep: Vec<String>,
}

/// `[quarantine]`: the roles (PostgreSQL) or accounts (MariaDB/MySQL) kept
/// out of acceptance from the start of `vault restore` until verify passes.
/// On by default with `[grants]` roles; `enabled = false` turns it off.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuarantineSettings {
    pub enabled: Option<bool>,
    pub roles: Option<Vec<String>>,
}

/// `[compare]`: differences that the operator expects, beyond those the
/// preserved and sanitized tables explain.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompareSettings {
    #[serde(default)]
    pub ignore: Vec<IgnoreEntry>,
}

/// One `[compare] ignore` entry: an object or table (`name`, `schema.name`,
/// or a prefix ending in `*`) whose differences are expected, and why.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IgnoreEntry {
    pub object: String,
    pub reason: String,
}

/// Where a database is: a URL in the environment (`url_env`) or, without a
/// password, in the file (`url`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub url_env: Option<String>,
    pub url: Option<String>,
}

/// The production database: read-only, for the guard and the compare.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Production {
    pub url_env: Option<String>,
    pub url: Option<String>,
    /// Glob patterns of host names that mean production.
    #[serde(default)]
    pub hosts: Vec<String>,
}

/// One preserved table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preserve {
    pub table: String,
    #[serde(rename = "where")]
    pub filter: Option<String>,
    pub key: Option<Vec<String>>,
    #[serde(default)]
    pub mode: Mode,
    /// Columns that tell one entity from another besides the key (the
    /// login): a captured key whose target row differs in them collides.
    #[serde(default)]
    pub identity: Vec<String>,
    /// What a key collision does; unset, it is a finding (exit 3).
    pub on_collision: Option<OnCollision>,
    /// Columns of another type than `oid` that hold large-object ids (as
    /// Hibernate's `@Lob String` writes them): their objects are captured
    /// like those of `oid` and `lo` columns, which need no mention here.
    #[serde(default)]
    pub large_objects: Vec<String>,
}

/// What a restore does when captured keys already name other rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnCollision {
    /// Overwrite them, as acknowledged: reported, not a finding.
    Replace,
    /// Refuse the restore before any change (exit 4).
    Stop,
}

/// How captured rows meet the rows already in the target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// The target rows in scope are replaced by the captured ones.
    #[default]
    Replace,
    /// Captured rows win by key; others stay.
    Upsert,
    /// Only keys that are absent are added.
    InsertMissing,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Replace => "replace",
            Mode::Upsert => "upsert",
            Mode::InsertMissing => "insert-missing",
        })
    }
}

/// Roles whose privileges in acceptance are preserved.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    pub roles: Vec<String>,
}

/// One sanitize rule; applied by a later step, validated here.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SanitizeRule {
    pub table: String,
    pub delete_where: Option<String>,
    pub delete_all: Option<bool>,
    pub set_null: Option<Vec<String>>,
    pub set: Option<BTreeMap<String, String>>,
    /// Columns replaced by stable pseudonyms of a kind (docs/pseudonyms.md).
    pub pseudonymize: Option<BTreeMap<String, PseudonymSpec>>,
    #[serde(rename = "where")]
    pub filter: Option<String>,
    pub cascade: Option<bool>,
    /// On MariaDB/MySQL, whose triggers cannot be kept quiet: let them run.
    pub allow_triggers: Option<bool>,
}

/// A configuration problem: the key or table it concerns, and what to do.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

impl Config {
    /// The roles or accounts the quarantine keeps out: `[quarantine] roles`,
    /// else `[grants] roles`; none when `enabled = false`.
    pub fn quarantine_roles(&self) -> Vec<String> {
        let settings = self.quarantine.as_ref();
        if settings.and_then(|q| q.enabled) == Some(false) {
            return Vec::new();
        }
        match settings.and_then(|q| q.roles.clone()) {
            Some(roles) => roles,
            None => {
                let mut roles: Vec<String> = self
                    .grants
                    .as_ref()
                    .map(|g| g.roles.clone())
                    .unwrap_or_default();
                for kept in self.kept_roles() {
                    if !roles.contains(kept) {
                        roles.push(kept.clone());
                    }
                }
                roles
            }
        }
    }

    /// Whether the leak scan runs (`[leak_scan] enabled`, on by default).
    pub fn leak_scan_enabled(&self) -> bool {
        self.leak_scan.as_ref().and_then(|l| l.enabled) != Some(false)
    }

    /// The fewest letters and digits a value needs to be looked for.
    pub fn leak_scan_min_length(&self) -> usize {
        self.leak_scan
            .as_ref()
            .and_then(|l| l.min_length)
            .unwrap_or(6)
    }

    /// `[leak_scan] ignore`.
    pub fn leak_scan_ignore(&self) -> &[String] {
        self.leak_scan
            .as_ref()
            .map(|l| l.ignore.as_slice())
            .unwrap_or_default()
    }

    /// `[coverage] strict`.
    pub fn coverage_strict(&self) -> bool {
        self.coverage.as_ref().and_then(|c| c.strict) == Some(true)
    }

    /// `[coverage] keep`.
    pub fn coverage_keep(&self) -> &[String] {
        self.coverage
            .as_ref()
            .map(|c| c.keep.as_slice())
            .unwrap_or_default()
    }

    /// `[roles] keep`: the logins kept whole.
    pub fn kept_roles(&self) -> &[String] {
        self.roles
            .as_ref()
            .map(|r| r.keep.as_slice())
            .unwrap_or_default()
    }

    /// The roles whose privileges are captured and put back: `[grants]
    /// roles` and the kept logins (keeping a login keeps what it may do).
    pub fn privileged_roles(&self) -> Vec<String> {
        let mut roles: Vec<String> = self
            .grants
            .iter()
            .flat_map(|g| g.roles.iter().cloned())
            .collect();
        for kept in self.kept_roles() {
            if !roles.contains(kept) {
                roles.push(kept.clone());
            }
        }
        roles
    }

    /// Whether password verifiers are captured (`[roles] passwords`, on by default).
    pub fn capture_passwords(&self) -> bool {
        self.roles.as_ref().and_then(|r| r.passwords) != Some(false)
    }

    /// Whether production's own logins are locked after the restore.
    pub fn lock_others(&self) -> bool {
        self.roles.as_ref().and_then(|r| r.lock_others) == Some(true)
    }

    /// Reads and validates a configuration file. Nothing connects here.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: path.display().to_string(),
            message: format!("cannot read the configuration: {e}"),
        })?;
        let mut config = Config::parse(&text).map_err(|mut e| {
            e.path = format!("{}: {}", path.display(), e.path);
            e
        })?;
        // Hook files are read now, relative to the configuration's folder,
        // and checked like inline SQL: a bad one stops before any change.
        let folder = path.parent().unwrap_or(Path::new("."));
        for (i, hook) in config.hook.iter_mut().enumerate() {
            let Some(file) = &hook.file else {
                continue;
            };
            let at = format!("{}: hook[{i}]", path.display());
            let full = folder.join(file);
            let sql = std::fs::read_to_string(&full).map_err(|e| {
                error(
                    &at,
                    format!("cannot read the hook's file {}: {e}", full.display()),
                )
            })?;
            check_hook_sql(&at, &sql, hook.many())?;
            hook.sql = Some(sql);
        }
        if let Some(settings) = &mut config.pseudonym {
            if settings.key_file.is_relative() {
                let folder = path.parent().unwrap_or(Path::new(""));
                settings.key_file = folder.join(&settings.key_file);
            }
        }
        Ok(config)
    }

    /// The kind of each pseudonymized column of a rule, in column order
    /// (validated when the configuration was read).
    pub fn pseudonym_kinds(rule: &SanitizeRule) -> Vec<(&String, Kind)> {
        rule.pseudonymize
            .iter()
            .flatten()
            .filter_map(|(column, spec)| Kind::from_spec(spec).ok().map(|kind| (column, kind)))
            .collect()
    }

    /// Parses and validates configuration text.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError {
            path: match e.span() {
                Some(span) => format!("line {}", text[..span.start].lines().count().max(1)),
                None => "configuration".into(),
            },
            message: e.message().to_owned(),
        })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        check_endpoint(
            "acceptance",
            self.acceptance.url_env.as_deref(),
            self.acceptance.url.as_deref(),
        )?;
        if let Some(production) = &self.production {
            check_endpoint(
                "production",
                production.url_env.as_deref(),
                production.url.as_deref(),
            )?;
            for (i, host) in production.hosts.iter().enumerate() {
                if host.trim().is_empty() {
                    return Err(error(
                        format!("production.hosts[{i}]"),
                        "a host pattern is empty",
                    ));
                }
            }
        }
        if let Some(objects) = &self.objects {
            let mut kept = std::collections::BTreeSet::new();
            for (i, name) in objects.keep.iter().enumerate() {
                let at = format!("objects.keep[{i}]");
                if name.split('.').count() != 2 || name.split('.').any(|p| p.trim().is_empty()) {
                    return Err(error(
                        at,
                        format!("\"{name}\" is not schema.name (SQLite: main.name)"),
                    ));
                }
                if !kept.insert(name.as_str()) {
                    return Err(error(at, format!("{name} is kept twice")));
                }
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, preserve) in self.preserve.iter().enumerate() {
            let at = format!("preserve[{i}] (table \"{}\")", preserve.table);
            check_name(&at, "table", &preserve.table)?;
            if !seen.insert(preserve.table.to_lowercase()) {
                return Err(error(
                    at,
                    "this table is preserved twice; merge the two entries",
                ));
            }
            if let Some(key) = &preserve.key {
                if key.is_empty() {
                    return Err(error(
                        at,
                        "`key` is empty; name the key columns or leave `key` out",
                    ));
                }
                for column in key {
                    check_name(&at, "key column", column)?;
                }
            }
            if preserve
                .filter
                .as_deref()
                .is_some_and(|w| w.trim().is_empty())
            {
                return Err(error(at, "`where` is empty; leave it out to keep all rows"));
            }
            if let Some(filter) = &preserve.filter {
                check_fragment(&at, "where", filter)?;
            }
            for column in &preserve.large_objects {
                check_name(&at, "large_objects column", column)?;
            }
        }
        if let Some(grants) = &self.grants {
            for role in &grants.roles {
                if role.trim().is_empty() {
                    return Err(error("grants.roles", "a role name is empty"));
                }
            }
        }
        for (i, hook) in self.hook.iter().enumerate() {
            let at = format!("hook[{i}]");
            let step = match (&hook.before, &hook.after) {
                (Some(step), None) | (None, Some(step)) => step,
                _ => {
                    return Err(error(
                        &at,
                        "give one of before = \"STEP\" or after = \"STEP\"",
                    ));
                }
            };
            if !HOOK_STEPS.contains(&step.as_str()) {
                return Err(error(
                    &at,
                    format!(
                        "{step:?} is not a step; name one of {}",
                        HOOK_STEPS.join(", ")
                    ),
                ));
            }
            if hook.sql.is_some() == hook.file.is_some() {
                return Err(error(&at, "give one of sql = \"...\" or file = \"...\""));
            }
            if let Some(on_error) = &hook.on_error
                && !["stop", "warn"].contains(&on_error.as_str())
            {
                return Err(error(
                    &at,
                    format!("on_error = {on_error:?}: use \"stop\" or \"warn\""),
                ));
            }
            if let Some(statements) = &hook.statements
                && !["one", "many"].contains(&statements.as_str())
            {
                return Err(error(
                    &at,
                    format!("statements = {statements:?}: use \"one\" or \"many\""),
                ));
            }
            if let Some(sql) = &hook.sql {
                check_hook_sql(&at, sql, hook.many())?;
            }
        }
        if let Some(scan) = &self.leak_scan {
            if let Some(min) = scan.min_length
                && !(3..=100).contains(&min)
            {
                return Err(error(
                    "leak_scan.min_length",
                    format!("{min} is outside 3..=100: shorter values are too common to look for"),
                ));
            }
            for pattern in &scan.ignore {
                if !pattern.contains('.') || pattern.starts_with('.') || pattern.ends_with('.') {
                    return Err(error(
                        "leak_scan.ignore",
                        format!("{pattern:?} is not table.column (or table.*)"),
                    ));
                }
            }
        }
        for pattern in self.coverage.iter().flat_map(|c| &c.keep) {
            if !pattern.contains('.') || pattern.starts_with('.') || pattern.ends_with('.') {
                return Err(error(
                    "coverage.keep",
                    format!("{pattern:?} is not table.column (or table.*, *.column)"),
                ));
            }
        }
        if let Some(roles) = &self.roles {
            for role in &roles.keep {
                if role.trim().is_empty() {
                    return Err(error("roles.keep", "a role name is empty"));
                }
                if role.eq_ignore_ascii_case("public") {
                    return Err(error(
                        "roles.keep",
                        "PUBLIC is not a login; name the roles that log in",
                    ));
                }
            }
            if roles.keep.is_empty() && roles.lock_others == Some(true) {
                return Err(error(
                    "roles.lock_others",
                    "lock_others needs the logins acceptance keeps in roles.keep, so that they are not locked",
                ));
            }
        }
        for role in self
            .quarantine
            .iter()
            .flat_map(|q| q.roles.iter().flatten())
        {
            if role.trim().is_empty() {
                return Err(error("quarantine.roles", "a role name is empty"));
            }
        }
        for (i, entry) in self.compare.iter().flat_map(|c| &c.ignore).enumerate() {
            let at = format!("compare.ignore[{i}]");
            if entry.object.trim().is_empty() || entry.object.trim() == "*" {
                return Err(error(
                    at,
                    "`object` is empty; name an object or table (a prefix may end in *)",
                ));
            }
            if entry.reason.trim().is_empty() {
                return Err(error(
                    at,
                    "`reason` is empty; say why this difference is expected",
                ));
            }
        }
        for (i, rule) in self.sanitize.iter().enumerate() {
            let at = format!("sanitize[{i}] (table \"{}\")", rule.table);
            check_name(&at, "table", &rule.table)?;
            let actions = [
                rule.delete_where.is_some(),
                rule.delete_all == Some(true),
                rule.set_null.is_some(),
                rule.set.is_some(),
                rule.pseudonymize.is_some(),
            ];
            match actions.iter().filter(|&&a| a).count() {
                1 => {}
                0 => {
                    return Err(error(
                        at,
                        "give one action: delete_where, delete_all = true, set_null, set or pseudonymize",
                    ));
                }
                _ => {
                    return Err(error(
                        at,
                        "give only one action per rule; write two rules instead",
                    ));
                }
            }
            if rule.delete_all == Some(false) {
                return Err(error(
                    at,
                    "delete_all = false does nothing; remove the rule",
                ));
            }
            if rule.filter.is_some() && (rule.delete_where.is_some() || rule.delete_all.is_some()) {
                return Err(error(
                    at,
                    "`where` goes with set_null, set or pseudonymize; a delete rule takes its predicate in delete_where",
                ));
            }
            for column in rule
                .set_null
                .iter()
                .flatten()
                .chain(rule.set.iter().flat_map(|s| s.keys()))
                .chain(rule.pseudonymize.iter().flat_map(|s| s.keys()))
            {
                check_name(&at, "column", column)?;
            }
            if let Some(columns) = &rule.pseudonymize {
                if columns.is_empty() {
                    return Err(error(
                        at,
                        "`pseudonymize` names no column; give column = \"kind\"",
                    ));
                }
                for (column, spec) in columns {
                    Kind::from_spec(spec)
                        .map_err(|why| error(&at, format!("pseudonymize.{column}: {why}")))?;
                }
                if self.pseudonym.is_none() {
                    return Err(error(
                        at,
                        "pseudonymize needs a key: add [pseudonym] with key_file = \"PATH\" (a file of at least 32 random bytes, mode 600)",
                    ));
                }
            }
            if let Some(predicate) = &rule.delete_where {
                check_fragment(&at, "delete_where", predicate)?;
            }
            if let Some(filter) = &rule.filter {
                check_fragment(&at, "where", filter)?;
            }
            for (column, expression) in rule.set.iter().flatten() {
                check_fragment(&at, &format!("set.{column}"), expression)?;
            }
        }
        Ok(())
    }

    /// The acceptance URL, read from the environment when `url_env` is used.
    pub fn acceptance_url(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<DatabaseUrl, ConfigError> {
        resolve(
            "acceptance",
            self.acceptance.url_env.as_deref(),
            self.acceptance.url.as_deref(),
            env,
        )
    }

    /// The production URL, when `[production]` names one.
    pub fn production_url(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<DatabaseUrl>, ConfigError> {
        match &self.production {
            Some(p) if p.url_env.is_some() || p.url.is_some() => {
                resolve("production", p.url_env.as_deref(), p.url.as_deref(), env).map(Some)
            }
            _ => Ok(None),
        }
    }
}

/// A hook's SQL: one statement unless the hook says `statements = "many"`.
fn check_hook_sql(at: &str, sql: &str, many: bool) -> Result<(), ConfigError> {
    if many {
        if sql.trim().is_empty() {
            return Err(error(at, "the hook's SQL is empty"));
        }
        return Ok(());
    }
    crate::fragment::check_one_statement(sql).map_err(|why| {
        error(
            at,
            format!("the hook's SQL is not one statement: {why}; write one statement, or say statements = \"many\""),
        )
    })
}

fn error(path: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        path: path.into(),
        message: message.into(),
    }
}

fn check_endpoint(
    section: &str,
    url_env: Option<&str>,
    url: Option<&str>,
) -> Result<(), ConfigError> {
    match (url_env, url) {
        (Some(_), Some(_)) => Err(error(section, "give either url_env or url, not both")),
        (None, None) => Err(error(
            section,
            "give url_env (the environment variable that holds the URL) or url",
        )),
        (Some(name), None) if name.trim().is_empty() => {
            Err(error(format!("{section}.url_env"), "it is empty"))
        }
        (None, Some(url)) => {
            let parsed = DatabaseUrl::parse(url).map_err(|m| error(format!("{section}.url"), m))?;
            if parsed.has_password() {
                return Err(error(
                    format!("{section}.url"),
                    "it contains a password; put the URL in an environment variable and name it with url_env",
                ));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// A `where`, `delete_where` or `set` fragment must be one SQL expression.
fn check_fragment(at: &str, key: &str, text: &str) -> Result<(), ConfigError> {
    crate::fragment::check_one_expression(text).map_err(|why| {
        error(
            at,
            format!("`{key}` is not one SQL expression: {why}; write one condition or value, with no statement around it"),
        )
    })
}

fn check_name(at: &str, what: &str, name: &str) -> Result<(), ConfigError> {
    let parts: Vec<&str> = name.split('.').collect();
    if name.trim().is_empty() || parts.iter().any(|p| p.is_empty()) || parts.len() > 2 {
        return Err(error(
            at,
            format!("{what} name \"{name}\" is not a name or schema.name"),
        ));
    }
    if name.chars().any(|c| c.is_control() || c == '"' || c == '`') {
        return Err(error(
            at,
            format!("{what} name \"{name}\" contains quotes or control characters"),
        ));
    }
    Ok(())
}

fn resolve(
    section: &str,
    url_env: Option<&str>,
    url: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<DatabaseUrl, ConfigError> {
    let text = match (url_env, url) {
        (Some(name), _) => env(name).filter(|v| !v.trim().is_empty()).ok_or_else(|| {
            error(
                format!("{section}.url_env"),
                format!(
                    "the environment variable {name} is not set; export it with the database URL"
                ),
            )
        })?,
        (None, Some(url)) => url.to_owned(),
        (None, None) => return Err(error(section, "no URL configured")),
    };
    DatabaseUrl::parse(&text).map_err(|m| error(format!("{section} URL"), m))
}

/// The kind of database a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    Postgres,
    Mysql,
    Sqlite,
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EngineKind::Postgres => "postgres",
            EngineKind::Mysql => "mysql",
            EngineKind::Sqlite => "sqlite",
        })
    }
}

/// A database URL. Its `Debug` and `Display` never show the password.
pub struct DatabaseUrl {
    full: Zeroizing<String>,
    engine: EngineKind,
    redacted: String,
    /// Whether the URL as written carries a password (redacting changed it).
    password: bool,
}

impl DatabaseUrl {
    /// Parses `postgres://`, `postgresql://`, `mysql://`, `mariadb://` or `sqlite:` URLs.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (scheme, rest) = text.split_once(':').ok_or_else(|| {
            "it is not a URL (expected postgres://, mysql:// or sqlite:)".to_string()
        })?;
        let engine = match scheme.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => EngineKind::Postgres,
            "mysql" | "mariadb" => EngineKind::Mysql,
            "sqlite" => EngineKind::Sqlite,
            other => {
                return Err(format!(
                    "the scheme \"{other}\" is not supported (postgres, mysql, mariadb or sqlite)"
                ));
            }
        };
        let (redacted, password) = match engine {
            EngineKind::Sqlite => (text.to_owned(), false),
            _ => redact_userinfo(scheme, rest)?,
        };
        let full = if scheme.eq_ignore_ascii_case("mariadb") {
            format!("mysql:{rest}")
        } else {
            text.to_owned()
        };
        Ok(DatabaseUrl {
            full: Zeroizing::new(full),
            engine,
            redacted,
            password,
        })
    }

    pub fn engine(&self) -> EngineKind {
        self.engine
    }

    /// The URL with its password, for the driver only.
    pub fn expose(&self) -> &str {
        &self.full
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    fn has_password(&self) -> bool {
        self.password
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted)
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

/// Replaces the password in `scheme://user:password@host/...` and in a
/// `password=` query parameter.
/// The URL with its password replaced by `***`, and whether it held one.
fn redact_userinfo(scheme: &str, rest: &str) -> Result<(String, bool), String> {
    if !rest.starts_with("//") {
        return Err(format!("expected {scheme}://host/database"));
    }
    // A real URL parser, as the driver's: a password holding `/`, `?`, `#`
    // or `@` is not mistaken for the path. A URL that does not parse is
    // never echoed, since it may hold a password.
    let mut parsed = url::Url::parse(&format!("{scheme}:{rest}")).map_err(|e| {
        format!(
            "it does not parse as a URL ({e}); a password that holds / ? # @ : or % must be percent-encoded (%2F %3F %23 %40 %3A %25)"
        )
    })?;
    let mut password = parsed.password().is_some();
    if password {
        parsed
            .set_password(Some("***"))
            .map_err(|()| format!("expected {scheme}://user:password@host/database"))?;
    }
    if let Some(query) = parsed.query().map(str::to_owned) {
        let redacted: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => {
                    password = true;
                    format!("{k}=***")
                }
                _ => pair.to_owned(),
            })
            .collect();
        parsed.set_query(Some(&redacted.join("&")));
    }
    Ok((parsed.to_string(), password))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(text: &str) -> String {
        Config::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn a_full_config_parses() {
        let config = Config::parse(
            r#"
            [acceptance]
            url_env = "ACC_DATABASE_URL"
            [production]
            url_env = "PROD_DATABASE_URL"
            hosts = ["prod-db*.example.org"]
            [[preserve]]
            table = "camis.app_user"
            where = "active"
            key = ["user_id"]
            mode = "upsert"
            [grants]
            roles = ["app_acc"]
            [[sanitize]]
            table = "emer.document"
            delete_all = true
            "#,
        )
        .unwrap();
        assert_eq!(config.preserve[0].mode, Mode::Upsert);
        assert_eq!(config.preserve[0].filter.as_deref(), Some("active"));
    }

    #[test]
    fn bad_configs_name_the_key() {
        let base = "[acceptance]\nurl_env = \"A\"\n";
        assert!(
            parse_err(&format!(
                "{base}[[preserve]]\ntable = \"t\"\nkeys = [\"id\"]\n"
            ))
            .contains("keys")
        );
        assert!(
            parse_err(&format!(
                "{base}[[preserve]]\ntable = \"t\"\nmode = \"merge\"\n"
            ))
            .contains("merge")
        );
        assert!(
            parse_err("[acceptance]\nurl = \"postgres://u:secret@h/db\"\n")
                .contains("acceptance.url")
        );
        assert!(
            !parse_err("[acceptance]\nurl = \"postgres://u:secret@h/db\"\n").contains("secret")
        );
        assert!(parse_err(&format!("{base}[[sanitize]]\ntable = \"t\"\n")).contains("one action"));
        assert!(parse_err(&format!("{base}[[preserve]]\ntable = \"a.b.c\"\n")).contains("a.b.c"));
    }

    #[test]
    fn objects_keep_names_are_schema_dot_name_once_each() {
        let base = "[acceptance]\nurl_env = \"A\"\n[objects]\n";
        assert_eq!(
            parse_err(&format!("{base}keep = [\"v_testers\"]\n")),
            "objects.keep[0]: \"v_testers\" is not schema.name (SQLite: main.name)"
        );
        assert_eq!(
            parse_err(&format!("{base}keep = [\"public.v\", \"public.v\"]\n")),
            "objects.keep[1]: public.v is kept twice"
        );
        assert!(parse_err(&format!("{base}kept = []\n")).contains("kept"));
        let config = Config::parse(&format!("{base}keep = [\"main.v_testers\"]\n")).unwrap();
        assert_eq!(config.objects.unwrap().keep, ["main.v_testers"]);
    }

    #[test]
    fn passwords_holding_url_delimiters_are_redacted_or_never_echoed() {
        for (text, shown) in [
            (
                "postgres://app:pa%2Fss%3Fw@db:5432/camis",
                "postgres://app:***@db:5432/camis",
            ),
            ("mysql://app:x%40y%23z@db/camis", "mysql://app:***@db/camis"),
        ] {
            let url = DatabaseUrl::parse(text).unwrap();
            assert_eq!(url.redacted(), shown);
            assert!(url.has_password());
        }
        // Unencoded, the URL does not parse; the error holds no part of it.
        for text in [
            "postgres://app:pa/S3CRET@db:5432/camis",
            "postgres://app:pa?S3CRET@db/camis",
            "mysql://app:pa#S3CRET@db/camis",
        ] {
            let error = DatabaseUrl::parse(text).unwrap_err();
            assert!(!error.contains("S3CRET"), "{error}");
            assert!(error.contains("percent-encoded"), "{error}");
        }
    }

    #[test]
    fn urls_never_print_their_password() {
        let url =
            DatabaseUrl::parse("postgres://app:s3cret@db:5432/camis?password=s3cret&sslmode=off")
                .unwrap();
        assert_eq!(
            url.redacted(),
            "postgres://app:***@db:5432/camis?password=***&sslmode=off"
        );
        assert!(!format!("{url:?} {url}").contains("s3cret"));
        assert_eq!(url.engine(), EngineKind::Postgres);
        assert!(url.has_password());
    }

    #[test]
    fn a_mariadb_url_without_a_password_is_not_taken_for_one() {
        let url = DatabaseUrl::parse("mariadb://vault@db:3306/camis").unwrap();
        assert!(
            !url.has_password(),
            "the scheme becomes mysql: for the driver only"
        );
        assert_eq!(url.expose(), "mysql://vault@db:3306/camis");
        assert_eq!(url.engine(), EngineKind::Mysql);
        assert!(
            DatabaseUrl::parse("mariadb://vault:pw@db/camis")
                .unwrap()
                .has_password()
        );
        let base = "[acceptance]\nurl = \"mariadb://vault@db:3306/camis\"\n";
        assert!(
            Config::parse(base).is_ok(),
            "a URL without a password may be written in the file"
        );
    }
}
