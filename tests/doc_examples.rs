//! Every `$ vault ...` example in docs/*.md and README.md, run by the real binary on SQLite in a prepared folder, ending with the exit code the docs give it.
//!
//! Each example is listed in [`CASES`] by its file and command line: the
//! folder it runs in (a scenario built the same way for every run) and the
//! code the docs document for it (the block's `$ echo $?`, or the prose
//! around it); or the reason it cannot run here. An example in the docs
//! that the table does not list fails the test, as does a listed one that
//! the docs no longer hold: the two stay in step.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::workflow::{Site, clinic_preserve, clinic_site, exec};
use common::{Run, flip_chunk_byte, s, vault};
use vault::env_vars::KEY_MATERIAL;

/// The folder an example runs in.
#[derive(Debug, Clone, Copy)]
enum Scenario {
    /// An empty folder.
    Empty,
    /// The clinic on SQLite: acceptance.db, production.db, acc.key,
    /// vault.toml (preserved tables and two sanitize rules), acc.vault
    /// captured, then acceptance refreshed from production.
    Captured,
    /// [`Scenario::Captured`] before the refresh, without acc.vault.
    Configured,
    /// Captured, with acc.vault also under the name the docs give it
    /// (acc-2026-03-01.vault), and a second key file dba-backup.key.
    Dated,
    /// [`Scenario::Dated`], and dba-backup.key added to acc.vault.
    BackupSlot,
    /// store/ holding one intact vault.
    StoreIntact,
    /// store/ holding an intact vault and one whose chunk was altered.
    StoreDamaged,
    /// Captured; acceptance then has a view over a table that was dropped.
    BrokenView,
    /// Captured; restored; acceptance then has an index production has not.
    Drifted,
    /// Captured; the sanitize rules are two `set` rules on one column, the
    /// second undoing the first for one row.
    Leftover,
    /// Captured; restored with the report written to the docs' folder name.
    Reported,
    /// [`Scenario::Reported`], and report.md edited.
    ReportEdited,
    /// Captured; vault.toml's acceptance URL is production's file, spelt otherwise.
    AcceptanceIsProduction,
    /// Captured; vault.toml's acceptance is another copy of acceptance.
    OtherAcceptance,
}

/// What to do with one example.
enum Expect {
    /// Run it in this scenario; it must end with this code.
    Code(Scenario, i32),
    /// It cannot run on SQLite in a temp folder: why.
    Skip(&'static str),
}

/// Every example: (file, command line after `$ `, what to do).
const CASES: &[(&str, &str, Expect)] = &[
    (
        "docs/commands.md",
        "vault keygen --out acc.key",
        Expect::Code(Scenario::Empty, 0),
    ),
    (
        "docs/commands.md",
        "vault inspect acc.vault",
        Expect::Code(Scenario::Captured, 0),
    ),
    (
        "docs/commands.md",
        "vault check --read-data --key-file acc.key store/",
        Expect::Code(Scenario::StoreDamaged, 3),
    ),
    (
        "docs/commands.md",
        "vault key add acc.vault --key-file acc.key --new-key-file dba-backup.key",
        Expect::Code(Scenario::Dated, 0),
    ),
    (
        "docs/commands.md",
        "vault key remove acc.vault 1 --key-file dba-backup.key",
        Expect::Code(Scenario::BackupSlot, 0),
    ),
    (
        "docs/commands.md",
        "vault capture --config vault.toml --key-file acc.key --out acc-2026-03-01.vault",
        Expect::Code(Scenario::Configured, 0),
    ),
    (
        "docs/commands.md",
        "vault restore acc-2026-03-01.vault --config vault.toml --key-file acc.key",
        Expect::Code(Scenario::Dated, 0),
    ),
    (
        "docs/commands.md",
        "vault restore acc.vault --config vault.toml --resume acc.vault.report-20261127T103938Z",
        Expect::Skip(
            "needs the report of a run that failed under that dated name; tests/resume.rs fails a run and resumes it",
        ),
    ),
    (
        "docs/commands.md",
        "vault sanitize --config vault.toml",
        Expect::Code(Scenario::Captured, 0),
    ),
    (
        "docs/commands.md",
        "vault links --config vault.toml",
        Expect::Skip(
            "its finding is a view with a connection string to production, a PostgreSQL object; SQLite has no link objects (tests/pg_links.rs)",
        ),
    ),
    (
        "docs/commands.md",
        "vault health --config vault.toml --fix",
        Expect::Code(Scenario::BrokenView, 3),
    ),
    (
        "docs/commands.md",
        "vault quarantine open --config vault.toml",
        Expect::Code(Scenario::Captured, 0),
    ),
    (
        "docs/compare.md",
        "vault compare --config vault.toml",
        Expect::Code(Scenario::Drifted, 3),
    ),
    (
        "docs/exit-codes.md",
        "vault check store/",
        Expect::Code(Scenario::StoreIntact, 0),
    ),
    (
        "docs/exit-codes.md",
        "vault check store/",
        Expect::Code(Scenario::StoreDamaged, 3),
    ),
    (
        "docs/exit-codes.md",
        "vault links --config vault.toml",
        Expect::Skip(
            "its findings are PostgreSQL foreign servers pointing at production; SQLite has no link objects (tests/pg_links.rs)",
        ),
    ),
    (
        "docs/exit-codes.md",
        "vault sanitize --config vault.toml",
        Expect::Code(Scenario::Leftover, 3),
    ),
    (
        "docs/exit-codes.md",
        "vault health --config vault.toml --fix",
        Expect::Code(Scenario::BrokenView, 3),
    ),
    (
        "docs/exit-codes.md",
        "vault restore acc.vault --config vault.toml --key-file acc.key --target-differs",
        Expect::Code(Scenario::AcceptanceIsProduction, 4),
    ),
    (
        "docs/exit-codes.md",
        "vault restore acc.vault --config vault.toml --key-file acc.key",
        Expect::Code(Scenario::OtherAcceptance, 4),
    ),
    (
        "docs/exit-codes.md",
        "vault key remove acc.vault 1 --key-file acc.key",
        Expect::Code(Scenario::Captured, 4),
    ),
    (
        "docs/health.md",
        "vault health --config vault.toml --fix",
        Expect::Code(Scenario::BrokenView, 3),
    ),
    (
        "docs/keys.md",
        "vault inspect acc.vault",
        Expect::Code(Scenario::Captured, 0),
    ),
    (
        "docs/links.md",
        "vault links --config vault.toml --vault acc-2026-03-01.vault --key-file acc.key",
        Expect::Skip(
            "its findings are PostgreSQL foreign servers and user mappings; SQLite has no link objects (tests/pg_links.rs)",
        ),
    ),
    (
        "docs/report.md",
        "vault report verify acc.vault.report-2026-11-27T09-30-00Z --key-file acc.key",
        Expect::Code(Scenario::Reported, 0),
    ),
    (
        "docs/report.md",
        "vault report verify acc.vault.report-2026-11-27T09-30-00Z --key-file acc.key",
        Expect::Code(Scenario::ReportEdited, 3),
    ),
    (
        "docs/report.md",
        "vault report verify acc.vault.report-2026-11-27T09-30-00Z --vault acc.vault",
        Expect::Code(Scenario::Reported, 0),
    ),
    (
        "docs/sanitize.md",
        "vault sanitize --config vault.toml --dry-run",
        Expect::Code(Scenario::Captured, 0),
    ),
    (
        "docs/sanitize.md",
        "vault sanitize --config vault.toml",
        Expect::Code(Scenario::Leftover, 3),
    ),
];

/// One `$ vault ...` line of a fenced block, and the `$ echo $?` code after it, if any.
#[derive(Debug)]
struct Example {
    file: String,
    line: usize,
    command: String,
    echoed: Option<i32>,
}

fn examples() -> Vec<Example> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.push(root.join("README.md"));
    files.sort();
    let mut found = Vec::new();
    for path in files {
        let name = path.strip_prefix(root).unwrap().display().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut fenced = false;
        for (i, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
                continue;
            }
            if !fenced {
                continue;
            }
            if let Some(command) = line.strip_prefix("$ vault ") {
                found.push(Example {
                    file: name.clone(),
                    line: i + 1,
                    command: format!("vault {}", command.trim()),
                    echoed: None,
                });
            } else if let Some(code) = line.strip_prefix("$ echo $?") {
                assert!(code.trim().is_empty(), "{name}:{}: {line}", i + 1);
                let next = text.lines().nth(i + 1).unwrap_or("").trim();
                if let Some(last) = found.last_mut().filter(|e| e.file == name) {
                    last.echoed = next.parse().ok();
                }
            }
        }
    }
    found
}

#[test]
fn every_command_example_in_the_docs_ends_as_documented() {
    let examples = examples();
    let mut unused: Vec<bool> = vec![true; CASES.len()];
    let mut failures = Vec::new();
    let (mut ran, mut skipped) = (0, 0);
    for example in &examples {
        // The first listed case of this file and command not used yet.
        let Some(index) = CASES
            .iter()
            .enumerate()
            .position(|(i, (file, command, _))| {
                unused[i] && *file == example.file && *command == example.command
            })
        else {
            failures.push(format!(
                "{}:{}: `{}` is not in CASES: list it with its scenario and code, or the reason it cannot run",
                example.file, example.line, example.command
            ));
            continue;
        };
        unused[index] = false;
        match &CASES[index].2 {
            Expect::Skip(reason) => {
                skipped += 1;
                println!(
                    "skipped {}:{}: `{}`: {reason}",
                    example.file, example.line, example.command
                );
            }
            Expect::Code(scenario, code) => {
                ran += 1;
                if let Some(echoed) = example.echoed
                    && echoed != *code
                {
                    failures.push(format!(
                        "{}:{}: the docs say `echo $?` gives {echoed}, CASES says {code}",
                        example.file, example.line
                    ));
                }
                let folder = prepare(*scenario);
                let run = run_in(folder.path(), &example.command);
                if run.code != *code {
                    failures.push(format!(
                        "{}:{}: `{}` in {scenario:?} ended with {}, documented {code}\nstdout:\n{}\nstderr:\n{}",
                        example.file, example.line, example.command, run.code, run.stdout, run.stderr
                    ));
                }
                println!(
                    "ran {}:{}: `{}` in {scenario:?}: exit {}",
                    example.file, example.line, example.command, run.code
                );
            }
        }
    }
    for (i, (file, command, _)) in CASES.iter().enumerate() {
        if unused[i] {
            failures.push(format!(
                "CASES lists `{command}` in {file}, which the docs no longer hold: remove it"
            ));
        }
    }
    println!("{ran} examples ran, {skipped} skipped");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(ran >= 15, "only {ran} examples ran");
}

/// Runs one example's command line (words split on spaces) in `folder`.
fn run_in(folder: &Path, command: &str) -> Run {
    let mut words = command.split_whitespace();
    assert_eq!(words.next(), Some("vault"));
    let mut process = Command::new(env!("CARGO_BIN_EXE_vault"));
    process.args(words).current_dir(folder);
    for name in KEY_MATERIAL {
        process.env_remove(name);
    }
    let output = process.output().expect("the vault binary runs");
    Run {
        code: output.status.code().expect("exited, not killed"),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The sanitize rules of the clinic: patients' names masked.
const SANITIZE: &str = "
[[sanitize]]
table = \"patient\"
set = { name = \"'Patient ' || patient_id\" }
";

/// A second rule that puts another name back on patient 1: the first
/// rule's verification finds it.
const UNDOING: &str = "
[[sanitize]]
table = \"patient\"
set = { name = \"'Not masked'\" }
where = \"patient_id = 1\"
";

/// The clinic, configured with `rules`, captured into acc.vault.
fn clinic(rules: &str) -> Site {
    let site = clinic_site("replace");
    site.configure(&format!("{}{rules}", clinic_preserve("replace")));
    site.capture().expect(0);
    site
}

fn keygen(site: &Site, name: &str) {
    vault(["keygen", "--out", s(&site.path(name))], &[]).expect(0);
}

/// Builds a scenario's folder; the returned value keeps it alive.
fn prepare(scenario: Scenario) -> tempfile::TempDir {
    let site = match scenario {
        Scenario::Empty => return tempfile::tempdir().unwrap(),
        Scenario::Configured => {
            let site = clinic_site("replace");
            site.configure(&format!("{}{SANITIZE}", clinic_preserve("replace")));
            site
        }
        Scenario::Captured => {
            let site = clinic(SANITIZE);
            site.refresh();
            site
        }
        Scenario::Dated | Scenario::BackupSlot => {
            let site = clinic(SANITIZE);
            site.refresh();
            std::fs::copy(&site.vault, site.path("acc-2026-03-01.vault")).unwrap();
            keygen(&site, "dba-backup.key");
            if let Scenario::BackupSlot = scenario {
                vault(
                    [
                        "key",
                        "add",
                        s(&site.vault),
                        "--key-file",
                        s(&site.key),
                        "--new-key-file",
                        s(&site.path("dba-backup.key")),
                    ],
                    &[],
                )
                .expect(0);
            }
            site
        }
        Scenario::StoreIntact | Scenario::StoreDamaged => {
            let site = clinic(SANITIZE);
            let store = site.path("store");
            std::fs::create_dir(&store).unwrap();
            std::fs::copy(&site.vault, store.join("acc-2025-06-01.vault")).unwrap();
            if let Scenario::StoreDamaged = scenario {
                let damaged = store.join("acc-2025-05-01.vault");
                std::fs::copy(&site.vault, &damaged).unwrap();
                flip_chunk_byte(&damaged, 0, 0);
            }
            site
        }
        Scenario::BrokenView => {
            let site = clinic(SANITIZE);
            site.refresh();
            exec(
                &site.acceptance,
                "CREATE TABLE gone (id INTEGER); CREATE VIEW gone_view AS SELECT id FROM gone; DROP TABLE gone;",
            );
            site
        }
        Scenario::Drifted => {
            let site = clinic(SANITIZE);
            site.refresh();
            site.restore(&[]).expect(0);
            exec(
                &site.acceptance,
                "CREATE INDEX visit_note ON patient (name);",
            );
            site
        }
        Scenario::Leftover => {
            let site = clinic(&format!("{SANITIZE}{UNDOING}"));
            site.refresh();
            site
        }
        Scenario::Reported | Scenario::ReportEdited => {
            let site = clinic(SANITIZE);
            site.refresh();
            let dir = site.path("acc.vault.report-2026-11-27T09-30-00Z");
            site.restore(&["--report-dir", s(&dir)]).expect(0);
            if let Scenario::ReportEdited = scenario {
                let md = dir.join("report.md");
                let text = std::fs::read_to_string(&md).unwrap();
                std::fs::write(&md, text.replace("restore", "RESTORE")).unwrap();
            }
            site
        }
        Scenario::AcceptanceIsProduction => {
            let site = clinic(SANITIZE);
            let folder = site.dir.path().display().to_string();
            let same = format!("{folder}/../{}/production.db", leaf(site.dir.path()));
            site.configure_urls(
                Path::new(&same),
                Some(&site.production),
                &format!("{}{SANITIZE}", clinic_preserve("replace")),
            );
            site
        }
        Scenario::OtherAcceptance => {
            let site = clinic(SANITIZE);
            site.refresh();
            let other = site.path("acceptance2.db");
            std::fs::copy(&site.acceptance, &other).unwrap();
            site.configure_urls(
                &other,
                Some(&site.production),
                &format!("{}{SANITIZE}", clinic_preserve("replace")),
            );
            site
        }
    };
    site.dir
}

/// The last component of a folder's path.
fn leaf(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}
