//! The run report of `vault restore`: what each step did, signed, as JSON for
//! machines and Markdown and HTML for people.
//!
//! A [`Report`] is built from a [`crate::workflow::PipelineSummary`] plus the
//! run's metadata (vault, target, times, operator). `report.json` carries an
//! HMAC-SHA256 under `UnlockedVault::derive_key("report")` and, for a vault
//! of format version 2, an Ed25519 signature under the vault's signing key
//! (`signature.rs`), both over the report's canonical bytes: the compact
//! JSON (`serde_json::to_vec`) of the report without its `signature` field,
//! fields in the order of the structs below, object keys inside a step's
//! section in `serde_json`'s map order. The SHA-256 of `report.md` and
//! `report.html` are inside the signed part, so `vault report verify`
//! notices an edit of any of the three files, with the key or without.
//!
//! A step's section is its summary's JSON: counts, names, and the SQL of
//! rules; never a row value. A new step adds one field to [`Sections`] and
//! one arm to the renderers.

mod document;
pub mod html;
pub mod markdown;
pub mod resume;
pub mod signature;

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::exit::{Exit, ToolError};
use crate::workflow::{Outcome, PipelineSummary};
pub use signature::{PublicKeySignature, ReportKeys, Signature};

/// The version of the report's JSON layout.
pub const REPORT_VERSION: u32 = 1;
/// The purpose given to `UnlockedVault::derive_key` for the signing key.
pub const KEY_PURPOSE: &str = "report";
/// The file names inside a report folder.
pub const JSON_FILE: &str = "report.json";
pub const MARKDOWN_FILE: &str = "report.md";
pub const HTML_FILE: &str = "report.html";

/// One run of the pipeline, as recorded for the change ticket.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub report_version: u32,
    /// `vault X.Y.Z`.
    pub tool: String,
    /// The operator's user name (`USER`, `LOGNAME`, or `unknown`).
    pub operator: String,
    /// RFC 3339 UTC.
    pub started: String,
    pub finished: String,
    pub dry_run: bool,
    /// `ok`, `findings` or `failed`: the worst step outcome.
    pub outcome: Outcome,
    /// The error that stopped the run, when a step failed.
    pub error: Option<String>,
    pub vault: VaultInfo,
    pub target: TargetInfo,
    pub steps: Vec<StepLine>,
    /// The steps the run was asked for (`--steps`, or the default), in
    /// pipeline order: what `--resume` continues with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps_asked: Vec<String>,
    /// Set when this run continued a failed one (`vault restore --resume`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed_from: Option<ResumedFrom>,
    pub sections: Sections,
    /// SHA-256 of the Markdown and HTML renderings.
    pub renderings: Renderings,
    /// Absent in the canonical bytes that it signs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
}

/// The vault the run restored from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VaultInfo {
    /// The vault file's path (absolute when it could be resolved).
    pub path: String,
    /// The vault id, hex.
    pub id: String,
    /// SHA-256 of the vault file as it was read at the start of the run.
    pub sha256: String,
    /// When it was captured (the header's creation time, RFC 3339 UTC).
    pub captured: Option<String>,
    /// Where it was captured from (the header's source).
    pub source: String,
}

/// The database written to; never a password.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TargetInfo {
    /// The identity the database reported (engine, host, database).
    pub identity: String,
    /// The connection URL with its password removed.
    pub url: String,
    /// The server instance at capture and now, and what changed between.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instance: Vec<String>,
}

/// One line of the summary.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StepLine {
    pub step: String,
    pub outcome: Outcome,
    pub figures: String,
}

/// Each step's details: its summary's JSON, absent when it did not run.
///
/// Every field is skipped when `None`, so that a field added for a new step
/// leaves the bytes of older reports, and their verification, unchanged.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Sections {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sanitize: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantine: Option<serde_json::Value>,
    /// The `[[hook]]`s that ran, with duration and rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jobs: Option<serde_json::Value>,
}

/// The failed run that a resumed run continued.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ResumedFrom {
    /// The earlier report's folder.
    pub report: String,
    /// The earlier report's signature, which ties this report to it.
    pub signature: String,
    /// When the earlier run started.
    pub started: String,
    /// The steps done by the earlier run and not run again; their lines and
    /// sections here are the earlier report's.
    pub steps: Vec<String>,
}

impl Sections {
    /// This report's section of `step`, beside the same section of `other`.
    fn get_mut<'a>(
        &mut self,
        step: crate::workflow::Step,
        other: &'a Sections,
    ) -> (
        &mut Option<serde_json::Value>,
        &'a Option<serde_json::Value>,
    ) {
        use crate::workflow::Step;
        match step {
            Step::Restore => (&mut self.restore, &other.restore),
            Step::Sanitize => (&mut self.sanitize, &other.sanitize),
            Step::Verify => (&mut self.verify, &other.verify),
            Step::Health => (&mut self.health, &other.health),
            Step::Links => (&mut self.links, &other.links),
            Step::Compare => (&mut self.compare, &other.compare),
        }
    }
}

/// The worst of some step outcomes: failed, then findings, else ok.
fn worst<'a>(outcomes: impl Iterator<Item = &'a Outcome>) -> Outcome {
    let mut worst = Outcome::Ok;
    for outcome in outcomes {
        match outcome {
            Outcome::Failed => return Outcome::Failed,
            Outcome::Findings => worst = Outcome::Findings,
            _ => {}
        }
    }
    worst
}

/// The digests of the human renderings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Renderings {
    pub markdown_sha256: String,
    pub html_sha256: String,
}

/// What the restore command knows of the run besides the pipeline.
pub struct RunInfo {
    pub vault_path: PathBuf,
    pub vault_sha256: String,
    pub header: vault_format::Header,
    pub target_identity: String,
    pub target_url: String,
    pub target_instance: Vec<String>,
    pub operator: String,
    pub started: String,
    pub finished: String,
    pub dry_run: bool,
    pub steps_asked: Vec<crate::workflow::Step>,
}

impl Report {
    /// The report of one run; unsigned, renderings not yet hashed.
    pub fn new(
        info: RunInfo,
        summary: &PipelineSummary,
        error: Option<&ToolError>,
    ) -> Result<Report, ToolError> {
        let outcome = worst(summary.steps.iter().map(|s| &s.outcome));
        let section = |value: Result<serde_json::Value, serde_json::Error>| {
            value.map_err(|e| ToolError::failed(format!("cannot build the report: {e}")))
        };
        let sections = Sections {
            restore: summary
                .restore
                .as_ref()
                .map(|s| section(serde_json::to_value(s)))
                .transpose()?,
            sanitize: summary
                .sanitize
                .as_ref()
                .map(|s| section(serde_json::to_value(s)))
                .transpose()?,
            verify: summary
                .verify
                .as_ref()
                .map(|s| {
                    // The leak scan and the coverage gate are part of verify.
                    section((|| {
                        let mut value = serde_json::to_value(s)?;
                        if let Some(object) = value.as_object_mut() {
                            if let Some(scanned) = &summary.leak_scan {
                                object.insert("leak_scan".into(), serde_json::to_value(scanned)?);
                            }
                            if let Some(covered) = &summary.coverage {
                                object.insert("coverage".into(), serde_json::to_value(covered)?);
                            }
                        }
                        Ok(value)
                    })())
                })
                .transpose()?,
            health: summary
                .health
                .as_ref()
                .map(|s| section(serde_json::to_value(s)))
                .transpose()?,
            links: summary
                .links
                .as_ref()
                .map(|s| section(serde_json::to_value(s)))
                .transpose()?,
            compare: summary
                .compare
                .as_ref()
                .map(|s| section(serde_json::to_value(s)))
                .transpose()?,
            quarantine: summary
                .quarantine
                .as_ref()
                .map(|s| section(serde_json::to_value(s)))
                .transpose()?,
            jobs: summary
                .jobs
                .as_ref()
                .map(|s| section(serde_json::to_value(s)))
                .transpose()?,
            hooks: (!summary.hooks.is_empty())
                .then(|| section(serde_json::to_value(&summary.hooks)))
                .transpose()?,
        };
        Ok(Report {
            report_version: REPORT_VERSION,
            tool: format!("vault {}", env!("CARGO_PKG_VERSION")),
            operator: info.operator,
            started: info.started,
            finished: info.finished,
            dry_run: info.dry_run,
            outcome,
            error: error.map(|e| e.message.clone()),
            vault: VaultInfo {
                path: info.vault_path.display().to_string(),
                id: hex::encode(info.header.vault_id),
                sha256: info.vault_sha256,
                captured: crate::units::rfc3339(info.header.created_unix),
                source: info.header.source.clone(),
            },
            target: TargetInfo {
                identity: info.target_identity,
                url: info.target_url,
                instance: info.target_instance,
            },
            steps: summary
                .steps
                .iter()
                .map(|s| StepLine {
                    step: s.step.name().to_owned(),
                    outcome: s.outcome.clone(),
                    figures: s.figures.clone(),
                })
                .collect(),
            steps_asked: info
                .steps_asked
                .iter()
                .map(|s| s.name().to_owned())
                .collect(),
            resumed_from: None,
            sections,
            renderings: Renderings::default(),
            signature: None,
        })
    }

    /// The step lines and sections of `steps` taken from the earlier report
    /// of a failed run that this run resumed, and the outcome made again.
    pub fn carry_over(&mut self, earlier: &Report, steps: &[crate::workflow::Step], dir: &Path) {
        for step in steps {
            let name = step.name();
            if let (Some(line), Some(old)) = (
                self.steps.iter_mut().find(|l| l.step == name),
                earlier.steps.iter().find(|l| l.step == name),
            ) {
                *line = old.clone();
                line.figures = format!("{} (earlier run, {})", old.figures, earlier.started);
            }
            let (new, old) = self.sections.get_mut(*step, &earlier.sections);
            *new = old.clone();
        }
        self.outcome = worst(self.steps.iter().map(|s| &s.outcome));
        self.resumed_from = Some(ResumedFrom {
            report: dir.display().to_string(),
            signature: earlier
                .signature
                .as_ref()
                .map(|s| s.value.clone())
                .unwrap_or_default(),
            started: earlier.started.clone(),
            steps: steps.iter().map(|s| s.name().to_owned()).collect(),
        });
    }

    /// The bytes the signature covers: compact JSON without `signature`.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut unsigned = self.clone();
        unsigned.signature = None;
        serde_json::to_vec(&unsigned).expect("a report serializes")
    }

    /// `report.json` exactly as the tool writes it.
    pub fn to_file_text(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a report serializes");
        text.push('\n');
        text
    }

    /// Writes `report.md`, `report.html` and the signed `report.json` into `dir`.
    pub fn write(mut self, dir: &Path, keys: &ReportKeys) -> Result<(), ToolError> {
        let cannot = |e: std::io::Error| {
            ToolError::failed(format!("cannot write the report in {}: {e}", dir.display()))
        };
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(cannot)?;
        }
        let markdown = markdown::render(&self);
        let html = html::render(&self);
        self.renderings = Renderings {
            markdown_sha256: sha256_hex(markdown.as_bytes()),
            html_sha256: sha256_hex(html.as_bytes()),
        };
        signature::sign(&mut self, keys);
        write_private(&dir.join(MARKDOWN_FILE), markdown.as_bytes()).map_err(cannot)?;
        write_private(&dir.join(HTML_FILE), html.as_bytes()).map_err(cannot)?;
        write_private(&dir.join(JSON_FILE), self.to_file_text().as_bytes()).map_err(cannot)?;
        Ok(())
    }
}

/// Writes a report file: readable by its owner only (a report names the
/// tables, rules and links of a database of health data), whole or not at
/// all, never over an existing one.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    crate::private_file::write_whole(path, bytes, crate::private_file::Existing::Refuse)
}

/// Hex SHA-256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Hex SHA-256 of a file, read in blocks.
pub fn file_sha256(path: &Path) -> Result<String, ToolError> {
    let cannot =
        |e: std::io::Error| ToolError::failed(format!("cannot read {}: {e}", path.display()));
    let mut file = std::fs::File::open(path).map_err(cannot)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buffer).map_err(cannot)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The operator's user name: `USER`, else `LOGNAME`, else `unknown`.
pub fn operator(env: crate::keys::EnvLookup<'_>) -> String {
    ["USER", "LOGNAME"]
        .into_iter()
        .filter_map(env)
        .map(|v| v.to_string_lossy().trim().to_owned())
        .find(|v| !v.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// Now, in RFC 3339 UTC.
pub fn now() -> String {
    crate::units::now()
}

/// The default report folder: `FILE.vault.report-2026-11-27T09-30-00Z` beside
/// the vault, with `-2`, `-3`, ... added when that name is taken.
pub fn default_dir(vault: &Path) -> PathBuf {
    let stamp = now().replace(':', "-");
    let name = vault
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "vault".into());
    let parent = vault.parent().unwrap_or(Path::new("."));
    let base = parent.join(format!("{name}.report-{stamp}"));
    let mut candidate = base.clone();
    let mut n = 2;
    while candidate.exists() {
        candidate = PathBuf::from(format!("{}-{n}", base.display()));
        n += 1;
    }
    candidate
}

/// A `--report-dir` must not hold a report already (exit 2).
pub fn require_free(dir: &Path) -> Result<(), ToolError> {
    if dir.exists() && !dir.is_dir() {
        return Err(
            ToolError::usage(format!("{} is not a folder", dir.display()))
                .hint("give a folder for --report-dir"),
        );
    }
    for name in [JSON_FILE, MARKDOWN_FILE, HTML_FILE] {
        if dir.join(name).exists() {
            return Err(ToolError::usage(format!(
                "{} already holds a report ({name})",
                dir.display()
            ))
            .hint("give a new --report-dir, or leave it out for a new dated folder"));
        }
    }
    Ok(())
}

/// Room a report needs, proved before the first write: a run must not
/// commit and then fail to write its evidence.
const REPORT_ROOM: usize = 4 << 20;

/// Makes the report folder (0700) and proves it takes a report: a file of
/// `REPORT_ROOM` bytes is written, synced and removed. Before any change
/// to a database, so that a full disk or a read-only folder stops the run
/// with nothing done.
pub fn prepare_folder(dir: &Path) -> Result<(), ToolError> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let cannot = |e: std::io::Error| {
        ToolError::failed(format!(
            "the report folder {} cannot take the report ({e}); nothing was changed",
            dir.display()
        ))
        .hint("free some space or choose another folder with --report-dir")
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(cannot)?;
    let probe = dir.join(".vault-room-check");
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&probe)?;
        file.write_all(&vec![0u8; REPORT_ROOM])?;
        file.sync_all()
    })();
    let _ = std::fs::remove_file(&probe);
    written.map_err(cannot)
}

/// What a key holder's check found wrong: the HMAC under `key`, the
/// Ed25519 signature under `public_key` (a vault of format version 2), and
/// the files; empty when nothing was edited.
pub fn verify(
    dir: &Path,
    report: &Report,
    json_text: &str,
    key: &[u8; 32],
    public_key: Option<&vault_format::PublicKey>,
) -> Vec<String> {
    let mut signatures = Vec::new();
    if !signature::hmac_matches(report, key) {
        signatures.push(format!(
            "{JSON_FILE}: the signature does not match its content (edited, or signed with another vault's key)"
        ));
    }
    if let Some(public_key) = public_key {
        signatures.extend(signature::ed25519_problem(report, public_key));
    }
    check_files(dir, report, json_text, signatures)
}

/// What a check without a key found wrong: the Ed25519 signature under
/// `public_key`, and the files; empty when nothing was edited.
pub fn verify_keyless(
    dir: &Path,
    report: &Report,
    json_text: &str,
    public_key: &vault_format::PublicKey,
) -> Vec<String> {
    let signatures = signature::ed25519_problem(report, public_key)
        .into_iter()
        .collect();
    check_files(dir, report, json_text, signatures)
}

/// The problems of a report, in order: `report.json` not byte for byte the
/// tool's rendering of the report, the `signatures` found wrong, then
/// `report.md` and `report.html` without their recorded SHA-256.
fn check_files(
    dir: &Path,
    report: &Report,
    json_text: &str,
    signatures: Vec<String>,
) -> Vec<String> {
    let mut problems = Vec::new();
    if report.to_file_text() != json_text {
        problems.push(format!(
            "{JSON_FILE} is not byte for byte what the tool wrote (edited or reformatted)"
        ));
    }
    problems.extend(signatures);
    for (name, expected) in [
        (MARKDOWN_FILE, &report.renderings.markdown_sha256),
        (HTML_FILE, &report.renderings.html_sha256),
    ] {
        match std::fs::read(dir.join(name)) {
            Ok(bytes) if sha256_hex(&bytes) == *expected => {}
            Ok(_) => problems.push(format!(
                "{name} was edited: its SHA-256 differs from the one in {JSON_FILE}"
            )),
            Err(e) => problems.push(format!("{name} cannot be read: {e}")),
        }
    }
    problems
}

/// Reads and parses `DIR/report.json`: 2 when missing, 3 when not a report.
pub fn read(dir: &Path) -> Result<(Report, String), ToolError> {
    let path = dir.join(JSON_FILE);
    let bytes = std::fs::read(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ToolError::usage(format!("{} does not exist", path.display()))
                .hint("give the folder that `vault restore` wrote the report into")
        } else {
            ToolError::failed(format!("cannot read {}: {e}", path.display()))
        }
    })?;
    let edited = |detail: String| {
        ToolError::new(
            Exit::Problem,
            format!("{} was edited: {detail}", path.display()),
        )
    };
    let text = String::from_utf8(bytes).map_err(|e| edited(e.to_string()))?;
    let report: Report = serde_json::from_str(&text).map_err(|e| edited(e.to_string()))?;
    Ok((report, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        Report {
            report_version: REPORT_VERSION,
            tool: "vault test".into(),
            operator: "op".into(),
            started: "2026-01-01T00:00:00Z".into(),
            finished: "2026-01-01T00:00:01Z".into(),
            dry_run: false,
            outcome: Outcome::Ok,
            error: None,
            vault: VaultInfo {
                path: "/x.vault".into(),
                id: "00".into(),
                sha256: "11".into(),
                captured: None,
                source: "sqlite x".into(),
            },
            target: TargetInfo {
                identity: "sqlite x".into(),
                url: "sqlite:x".into(),
                instance: vec![],
            },
            steps: vec![],
            steps_asked: vec![],
            resumed_from: None,
            sections: Sections::default(),
            renderings: Renderings::default(),
            signature: None,
        }
    }

    #[test]
    fn a_signature_covers_every_field_and_needs_the_key() {
        let mut report = sample();
        signature::sign(&mut report, &ReportKeys::hmac_only([7; 32]));
        assert!(signature::hmac_matches(&report, &[7; 32]));
        assert!(!signature::hmac_matches(&report, &[8; 32]));
        assert_eq!(signature::public_key_signature(&report), None);
        let mut edited = report.clone();
        edited.operator = "someone else".into();
        assert!(!signature::hmac_matches(&edited, &[7; 32]));
        let text = report.to_file_text();
        let back: Report = serde_json::from_str(&text).unwrap();
        assert_eq!(back, report);
        assert_eq!(back.to_file_text(), text);
    }

    #[test]
    fn the_operator_falls_back_to_unknown() {
        assert_eq!(operator(&|_| None), "unknown");
        assert_eq!(
            operator(&|name| (name == "LOGNAME").then(|| "dba".into())),
            "dba"
        );
    }
}
