//! `vault demo`: sample acceptance and production databases (SQLite files, or two databases on a MariaDB/MySQL server), and the whole capture, refresh and restore on them.

mod mariadb;
mod sqlite;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use vault_format::{FileKey, KeyMaterial};

use crate::cli::{DemoArgs, DemoEngine};
use crate::config::Config;
use crate::engine::Engine;
use crate::exit::{Exit, ToolError};

const MARKER: &str = ".vault-demo";

/// The tables the demo preserves, with the columns that order their rows.
const PRESERVED: [(&str, &str); 6] = [
    ("app_user", "user_id"),
    ("user_2fa", "user_id"),
    ("app_role", "role_id"),
    ("user_role", "user_id, role_id"),
    ("app_setting", "name"),
    ("portal_document", "doc_id"),
];

/// Which of the two sample databases.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    Acceptance,
    Production,
}

/// A SHA-256 over every row of each preserved table, in key order.
type Fingerprints = BTreeMap<String, String>;

/// The sample acceptance and production databases of one engine, as the
/// walkthrough builds, describes, refreshes and checks them.
trait Sample {
    /// Step 1's heading, such as `Built two SQLite databases in DIR:`.
    fn built(&self) -> String;
    /// The database's name in the narration.
    fn name(&self, side: Side) -> String;
    /// Builds both databases anew.
    fn build(&mut self) -> Result<(), ToolError>;
    /// Counts of users, 2FA enrollments, portal documents, patients, assessments.
    fn describe(&mut self, side: Side) -> Result<String, ToolError>;
    /// The line of vault.toml's section that says where the database is.
    fn url_line(&self, side: Side) -> String;
    /// A note on vault.toml, printed under step 2.
    fn config_note(&self) -> Option<String>;
    /// The value of a variable that a `url_env` line names.
    fn url_env(&self, name: &str) -> Option<String>;
    /// The `[[sanitize]]` sections, in the engine's SQL.
    fn sanitize_rules(&self) -> &'static str;
    /// Fingerprints of acceptance's preserved tables.
    fn fingerprints(&mut self) -> Result<Fingerprints, ToolError>;
    /// Makes acceptance a copy of production; returns how, for step 4.
    fn refresh(&mut self) -> Result<&'static str, ToolError>;
    /// Rows of acceptance that sanitizing must have removed or masked:
    /// recent assessments, medical-record files, real patient names.
    fn exposed(&mut self) -> Result<(i64, i64, i64), ToolError>;
}

/// Runs the demo that `args` asks for and narrates it to `out`.
pub fn run(args: &DemoArgs, out: &mut dyn Write) -> Result<Exit, ToolError> {
    match args.engine {
        DemoEngine::Sqlite => {
            prepare_folder(&args.dir)?;
            walkthrough(&args.dir, &mut sqlite::Files::new(&args.dir), out)
        }
        DemoEngine::Mariadb => {
            // The server is reached and its databases checked before the folder is touched.
            let mut sample = mariadb::Server::open(&args.mysql_url)?;
            prepare_folder(&args.dir)?;
            walkthrough(&args.dir, &mut sample, out)
        }
    }
}

/// Builds the sample, captures, refreshes, restores and checks, step by step.
fn walkthrough(
    dir: &Path,
    sample: &mut dyn Sample,
    out: &mut dyn Write,
) -> Result<Exit, ToolError> {
    let key_path = dir.join("demo.key");
    let vault_path = dir.join("acceptance.vault");
    let config_path = dir.join("vault.toml");
    sample.build()?;
    writeln!(out, "1. {}", sample.built())?;
    for side in [Side::Acceptance, Side::Production] {
        writeln!(out, "   {}  {}", sample.name(side), sample.describe(side)?)?;
    }

    let key = FileKey::generate()?;
    key.write_new_file(&key_path)?;
    let mut config_text = format!(
        "[acceptance]\n{}\n\n[production]\n{}\nhosts = [\"prod-db*.hospital.example\"]\n",
        sample.url_line(Side::Acceptance),
        sample.url_line(Side::Production)
    );
    for (table, _) in PRESERVED {
        let _ = write!(config_text, "\n[[preserve]]\ntable = \"{table}\"\n");
    }
    // The pseudonyms' key: birth dates move by up to 30 days, the same way
    // in every refresh with this key.
    let mut pseudonym_key = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::fill(pseudonym_key.as_mut())
        .map_err(|e| ToolError::failed(format!("no randomness for the pseudonym key: {e}")))?;
    let pseudonym_path = dir.join("pseudonym.key");
    crate::private_file::write_whole(
        &pseudonym_path,
        pseudonym_key.as_ref(),
        crate::private_file::Existing::Refuse,
    )
    .map_err(|e| ToolError::failed(format!("{}: {e}", pseudonym_path.display())))?;
    let _ = write!(
        config_text,
        "\n[pseudonym]\nkey_file = \"{}\"\n",
        pseudonym_path.display()
    );
    config_text.push_str(sample.sanitize_rules());
    // A hook of the DBA's own, after sanitize: belt and braces on the
    // documents (the rule already emptied them, so it touches no row).
    config_text.push_str(DEMO_HOOK);
    std::fs::write(&config_path, &config_text)
        .map_err(|e| ToolError::failed(format!("{}: {e}", config_path.display())))?;
    let config = Config::parse(&config_text)
        .map_err(|e| ToolError::failed(format!("demo configuration: {e}")))?;
    let pseudonym_key = crate::sanitize::pseudonym_key(&config)?;
    let before = sample.fingerprints()?;
    writeln!(
        out,
        "2. Wrote a key file (demo.key) and vault.toml preserving {} tables.",
        PRESERVED.len()
    )?;
    if let Some(note) = sample.config_note() {
        writeln!(out, "   {note}")?;
    }

    let key = KeyMaterial::KeyFile(key);
    let runtime = crate::runtime::current_thread()?;
    let env = |name: &str| sample.url_env(name);
    let url = config
        .acceptance_url(&env)
        .map_err(|e| ToolError::failed(e.to_string()))?;
    let proposals = runtime.block_on(async {
        let db = crate::db::any::connect(&url).await?;
        crate::db::any::closing(db, async |db| crate::init::propose(db, None).await).await
    })?;
    let proposed: Vec<String> = proposals
        .preserve
        .iter()
        .map(|p| p.table.name.clone())
        .collect();
    writeln!(
        out,
        "   vault init (read-only) would have proposed to preserve: {}; and {} tables' columns to sanitize, commented out with their evidence",
        proposed.join(", "),
        proposals.sanitize.len()
    )?;
    let production_url = config
        .production_url(&env)
        .map_err(|e| ToolError::failed(e.to_string()))?;
    writeln!(
        out,
        "3. vault capture --config vault.toml --out acceptance.vault"
    )?;
    let summary = runtime.block_on(async {
        let db = crate::db::any::connect(&url).await?;
        crate::db::any::closing(db, async |db| {
            crate::capture::capture(db, &config, &vault_path, &key, out, false).await
        })
        .await
    })?;
    let report = vault_format::check_deep(&vault_path, &key)?;
    writeln!(
        out,
        "   {} tables, {} rows, vault {}; vault check --read-data: intact ({} chunks)",
        summary.tables.len(),
        report.rows,
        crate::units::bytes(std::fs::metadata(&vault_path).map(|m| m.len()).unwrap_or(0)),
        report.chunks
    )?;

    let how = sample.refresh()?;
    let refreshed = sample.fingerprints()?;
    let lost = PRESERVED
        .iter()
        .filter(|(t, _)| before.get(*t) != refreshed.get(*t))
        .count();
    writeln!(
        out,
        "4. Refreshed acceptance from production ({how}): {lost} of {} preserved tables lost their acceptance rows.",
        PRESERVED.len()
    )?;

    writeln!(
        out,
        "5. vault restore acceptance.vault --config vault.toml  (restore, sanitize, verify, health, links, compare)"
    )?;
    let unlocked = vault_format::Vault::open(&vault_path)?.unlock(&key)?;
    let started = crate::report::now();
    let mut target_identity = String::new();
    let (pipeline, failure) = runtime.block_on(async {
        let db = crate::db::any::connect(&url).await?;
        crate::db::any::closing(db, async |db| {
            let target = db.identity().await?;
            target_identity = target.to_string();
            let source = crate::restore::captured_tables(&unlocked)?
                .first()
                .map(|(c, _)| c.source.clone());
            if let Some(source) = source {
                crate::guard::require_same_database(&source, &target, false)?;
            }
            let run = crate::workflow::Run {
                vault: &unlocked,
                config: &config,
                target: &target,
                production: production_url.as_ref(),
                steps: &crate::workflow::Step::ALL,
                dry_run: false,
                config_path: &config_path,
                pseudonym_key: pseudonym_key.as_ref(),
            };
            Ok::<_, ToolError>(crate::workflow::run(db, &run, out).await)
        })
        .await
    })?;
    for step in &pipeline.steps {
        writeln!(out, "   {:<9} {}", step.step.name(), step.figures)?;
    }
    for hook in &pipeline.hooks {
        writeln!(out, "   {}", hook.line())?;
    }
    let report_dir = dir.join("report");
    let report = crate::report::Report::new(
        crate::report::RunInfo {
            vault_path: vault_path.clone(),
            vault_sha256: crate::report::file_sha256(&vault_path)?,
            header: unlocked.vault().header().clone(),
            target_identity,
            target_url: url.redacted().to_owned(),
            target_instance: Vec::new(),
            operator: crate::report::operator(&|name| std::env::var_os(name)),
            started,
            finished: crate::report::now(),
            dry_run: false,
            steps_asked: crate::workflow::Step::ALL.to_vec(),
        },
        &pipeline,
        failure.as_ref(),
    )?;
    let report_keys = crate::report::ReportKeys::of(&unlocked);
    report.write(&report_dir, &report_keys)?;
    if let Some(error) = failure {
        return Err(error);
    }
    let after = sample.fingerprints()?;
    writeln!(
        out,
        "6. Preserved tables compared row for row with acceptance before the refresh:"
    )?;
    let mut all_same = true;
    for (table, _) in PRESERVED {
        let same = before.get(table) == after.get(table);
        all_same &= same;
        writeln!(
            out,
            "   {table:<16} {}",
            if same { "identical" } else { "DIFFERENT" }
        )?;
    }
    writeln!(
        out,
        "   production's patients stay: {} now {}",
        sample.name(Side::Acceptance),
        sample.describe(Side::Acceptance)?
    )?;
    let exposed = sample.exposed()?;
    writeln!(
        out,
        "7. What testers must not see: {} assessments since 2024, {} medical-record files, {} real patient names",
        exposed.0, exposed.1, exposed.2
    )?;
    writeln!(
        out,
        "8. Signed run report for the change ticket: {}",
        report_dir.join(crate::report::HTML_FILE).display()
    )?;
    writeln!(
        out,
        "   (report.json, report.md, report.html; check it with: vault report verify {} --key-file {})",
        report_dir.display(),
        key_path.display()
    )?;
    all_same &= exposed == (0, 0, 0) && pipeline.exit() == Exit::Success;
    if all_same {
        writeln!(
            out,
            "Demo complete: every preserved row is back. Files are in {}.",
            dir.display()
        )?;
        if let Some(scanned) = &pipeline.leak_scan {
            writeln!(
                out,
                "No original value of the sanitized data is left anywhere: {}",
                scanned.line()
            )?;
        }
        if let Some(public_key) = unlocked.vault().header().public_key {
            writeln!(
                out,
                "An auditor checks the report with no key, from the vault's public key (`vault inspect`):"
            )?;
            writeln!(
                out,
                "vault report verify {} --public-key {public_key}",
                report_dir.display()
            )?;
        }
        Ok(Exit::Success)
    } else {
        let why = if pipeline
            .leak_scan
            .as_ref()
            .is_some_and(|s| s.values_left() > 0)
        {
            "the demo's leak scan found sanitized values left"
        } else if exposed != (0, 0, 0) {
            "the demo found data testers must not see after the sanitize"
        } else if pipeline.exit() != Exit::Success {
            "a step of the demo's pipeline ended with findings"
        } else {
            "the demo found preserved tables that differ after the restore"
        };
        Err(ToolError::new(Exit::Problem, why))
    }
}

/// The demo's `[[hook]]`: plain SQL every engine runs.
const DEMO_HOOK: &str = "
[[hook]]
name = \"belt and braces: no document content\"
after = \"sanitize\"
sql = \"UPDATE mer_document SET content = NULL WHERE content IS NOT NULL\"
";

fn prepare_folder(dir: &Path) -> Result<(), ToolError> {
    if dir.exists() {
        let empty = std::fs::read_dir(dir)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !empty && !dir.join(MARKER).exists() {
            return Err(ToolError::usage(format!(
                "{} exists and was not made by `vault demo`",
                dir.display()
            ))
            .hint("give an empty or new folder with --dir"));
        }
        std::fs::remove_dir_all(dir)
            .map_err(|e| ToolError::failed(format!("{}: {e}", dir.display())))?;
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| ToolError::failed(format!("{}: {e}", dir.display())))?;
    std::fs::write(
        dir.join(MARKER),
        "made by vault demo; removed by the next run\n",
    )
    .map_err(|e| ToolError::failed(format!("{}: {e}", dir.display())))?;
    Ok(())
}

/// The folder the demo uses when none is given.
pub fn default_dir() -> PathBuf {
    PathBuf::from("vault-demo")
}
