//! The command line: clap definitions only. What each command does lives in `commands/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::env_vars::{
    VAULT_DEMO_MYSQL_URL, VAULT_KEY_FILE, VAULT_NEW_PASSPHRASE, VAULT_PASSPHRASE,
};

/// Keep what an acceptance database owns across a refresh from production.
#[derive(Debug, Parser)]
#[command(name = "vault", version, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 success, 1 an error stopped the run, 2 bad usage or \
configuration, 3 a check found a problem, 4 refused by a safety guard (docs/exit-codes.md)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a new random key file (mode 0600); never overwrites a file.
    Keygen(KeygenArgs),
    /// Show what a vault holds, without a key: header, streams, key slots.
    Inspect(InspectArgs),
    /// Check vault files, or folders of them: structure without a key, every chunk with one.
    Check(CheckArgs),
    /// Add or remove a key slot of a vault, without re-encrypting its data.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Read acceptance (read-only) and print a proposed, commented vault.toml on stdout.
    Init(InitArgs),
    /// Before a refresh: save the preserved tables of acceptance into a new vault.
    Capture(CaptureArgs),
    /// After a refresh: put a vault's tables back into acceptance, in one transaction.
    Restore(RestoreArgs),
    /// Check that a run report (report.json, report.md, report.html) is as `vault restore` wrote it.
    #[command(subcommand)]
    Report(ReportCommand),
    /// After a restore: apply the `[[sanitize]]` rules in one transaction, then verify them.
    Sanitize(SanitizeArgs),
    /// After a refresh: list database links, foreign servers and connection strings; flag those that point at production.
    Links(LinksArgs),
    /// After a refresh: find invalid objects (indexes, constraints, views, functions, sequences); --fix repairs what can be.
    Health(HealthArgs),
    /// After a refresh: compare acceptance with production, schema and data; differences the configuration does not explain end with 3.
    Compare(CompareArgs),
    /// Run capture, refresh and restore on sample databases: SQLite files (no server) or MariaDB/MySQL.
    Demo(DemoArgs),
    /// The quarantine that keeps testers out of acceptance until its data is clean.
    #[command(subcommand)]
    Quarantine(QuarantineCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    Completions(CompletionsArgs),
    /// Print the manual page vault(1) on stdout, or write one page per command into a folder.
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_name = "SHELL", value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write vault.1 and a page per subcommand (vault-restore.1, ...) into
    /// this existing folder instead of printing vault.1.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum QuarantineCommand {
    /// Let the quarantined roles or accounts into acceptance again (after a
    /// run that left it closed, once its data is clean). Never on production.
    Open(QuarantineOpenArgs),
}

#[derive(Debug, Args)]
pub struct QuarantineOpenArgs {
    /// The configuration file (vault.toml).
    #[arg(long, value_name = "PATH")]
    pub config: PathBuf,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The environment variable that holds acceptance's URL (a URL is never
    /// an argument: other users can read a process's arguments). The file
    /// names it in `[acceptance] url_env`.
    #[arg(long, value_name = "NAME")]
    pub url_env: String,
    /// The environment variable that holds production's URL: tables whose
    /// rows differ from production's are proposed first, and tables only
    /// acceptance has are listed. The file names it in `[production] url_env`.
    #[arg(long, value_name = "NAME")]
    pub production_url_env: Option<String>,
}

#[derive(Debug, Args)]
pub struct CaptureArgs {
    /// The configuration file (vault.toml).
    #[arg(long, value_name = "PATH")]
    pub config: PathBuf,
    /// The vault file to write; it must not exist yet.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    #[command(flatten)]
    pub key: KeyArgs,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The vault file written by `vault capture`.
    #[arg(value_name = "FILE")]
    pub vault: PathBuf,
    /// The configuration file (vault.toml).
    #[arg(long, value_name = "PATH")]
    pub config: PathBuf,
    /// Check the guards and the schema, print what would be restored, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Allow a target other than the database the vault was captured from
    /// (another acceptance database). Never allows production.
    #[arg(long)]
    pub target_differs: bool,
    /// Restore each table with the scope recorded in the vault (its `where`
    /// and mode), where the configuration now says otherwise or no longer
    /// preserves the table. Without it such a vault is refused.
    #[arg(long)]
    pub vault_scope: bool,
    /// Run only these steps, comma-separated, in pipeline order:
    /// restore, sanitize, verify, health, links, compare (default: all).
    #[arg(long, value_name = "LIST", conflicts_with = "resume")]
    pub steps: Option<String>,
    /// Continue the failed run whose report is in DIR: run the step that
    /// failed and the later ones it was asked for; the steps it finished are
    /// not run again. The new report names the earlier one.
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// Print the pipeline's summary as JSON (docs/json.md) instead of tables;
    /// notes go to stderr.
    #[arg(long)]
    pub json: bool,
    /// Write the run report (report.json, report.md, report.html) into this
    /// folder (default: a new folder beside the vault, FILE.report-TIME).
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
    #[command(flatten)]
    pub key: KeyArgs,
}

#[derive(Debug, Args)]
pub struct LinksArgs {
    /// The configuration file (vault.toml).
    #[arg(long, value_name = "PATH")]
    pub config: PathBuf,
    /// Print the outcome as JSON (docs/json.md) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// A vault written by `vault capture` before the refresh: compare the
    /// foreign servers with acceptance's definitions (needs the key).
    #[arg(long, value_name = "FILE")]
    pub vault: Option<PathBuf>,
    #[command(flatten)]
    pub key: KeyArgs,
}

#[derive(Debug, Args)]
pub struct SanitizeArgs {
    /// The configuration file (vault.toml).
    #[arg(long, value_name = "PATH")]
    pub config: PathBuf,
    /// Print the outcome as JSON (docs/json.md) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Run every rule in a transaction that is rolled back: print the rows
    /// each would touch, change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// The configuration file (vault.toml).
    #[arg(long, value_name = "PATH")]
    pub config: PathBuf,
    /// Print the outcome as JSON (docs/json.md) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Repair what can be repaired (never on production), then check again.
    #[arg(long)]
    pub fix: bool,
    /// The vault of a restore that did not finish: MariaDB/MySQL triggers
    /// it dropped and recorded beside the vault are checked, and with
    /// `--fix` created again. With its key, the scheduled jobs the vault
    /// recorded as acceptance's are left alone by `--fix`.
    #[arg(long, value_name = "FILE")]
    pub vault: Option<PathBuf>,
    #[command(flatten)]
    pub key: KeyArgs,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The configuration file (vault.toml); it must name `[production]`.
    #[arg(long, value_name = "PATH")]
    pub config: PathBuf,
    /// Print the differences as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Show the keys of differing rows instead of their digests: on a
    /// terminal only (never piped, redirected or in JSON).
    #[arg(long, conflicts_with = "json")]
    pub show_keys: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Folder for the demo's files; made anew on every run.
    #[arg(long, value_name = "DIR", default_value = "vault-demo")]
    pub dir: PathBuf,
    /// Where the sample databases live: SQLite files in DIR (no server), or
    /// two databases on the MariaDB/MySQL server at --mysql-url.
    #[arg(long, value_enum, default_value_t = DemoEngine::Sqlite)]
    pub engine: DemoEngine,
    /// The MariaDB/MySQL server for --engine mariadb (its database part is
    /// ignored). The demo drops and re-creates vault_demo_acceptance and
    /// vault_demo_production there, never a database it did not create.
    #[arg(
        long,
        value_name = "URL",
        env = VAULT_DEMO_MYSQL_URL,
        hide_env_values = true,
        default_value = "mysql://root@127.0.0.1:3306/"
    )]
    pub mysql_url: UrlArg,
}

/// The engine of `vault demo`'s sample databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoEngine {
    Sqlite,
    Mariadb,
}

/// A database URL as typed; it may hold a password, so `Debug` never shows it.
#[derive(Clone)]
pub struct UrlArg(pub String);

impl From<String> for UrlArg {
    fn from(text: String) -> Self {
        UrlArg(text)
    }
}

impl std::fmt::Debug for UrlArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UrlArg(..)")
    }
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write the key file; it must not exist yet.
    #[arg(long, value_name = "KEYFILE")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The vault file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Print JSON (exact byte counts, stable field names) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Vault files, or folders whose `*.vault` files are checked (not recursively).
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
    /// Print the outcome as JSON (docs/json.md) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also decrypt every chunk and match every digest; needs the key.
    #[arg(long)]
    pub read_data: bool,
    #[command(flatten)]
    pub key: KeyArgs,
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Check the report's signature and that report.md and report.html are
    /// the renderings of report.json; exit 3 when anything was edited. Without
    /// a key, the Ed25519 signature is checked with the vault's public key
    /// (from --vault's header, or --public-key); with the key, the HMAC too.
    Verify(ReportVerifyArgs),
}

#[derive(Debug, Args)]
pub struct ReportVerifyArgs {
    /// The report folder that `vault restore` wrote.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The vault whose key signed the report (default: the path recorded in report.json).
    #[arg(long, value_name = "FILE")]
    pub vault: Option<PathBuf>,
    /// Check the Ed25519 signature with this public key (64 hex digits, as
    /// `vault inspect` prints it): no vault and no key needed.
    #[arg(long, value_name = "HEX", conflicts_with_all = ["vault", "key_file", "passphrase_file"])]
    pub public_key: Option<String>,
    #[command(flatten)]
    pub key: KeyArgs,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Add a key slot for a new key file or passphrase; prints the new slot's number.
    Add(KeyAddArgs),
    /// Remove a key slot; the key given must open another slot, and the last slot stays.
    Remove(KeyRemoveArgs),
}

#[derive(Debug, Args)]
pub struct KeyAddArgs {
    /// The vault file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    #[command(flatten)]
    pub key: KeyArgs,
    #[command(flatten)]
    pub new_key: NewKeyArgs,
}

#[derive(Debug, Args)]
pub struct KeyRemoveArgs {
    /// The vault file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The number of the slot to remove, as `vault inspect` lists it.
    #[arg(value_name = "SLOT")]
    pub slot: u32,
    #[command(flatten)]
    pub key: KeyArgs,
}

/// The key that unlocks a vault. A passphrase is never a command-line argument.
#[derive(Debug, Args)]
pub struct KeyArgs {
    #[arg(long, value_name = "PATH", help = format!(
        "Key file that unlocks the vault (made by `vault keygen`) [env: {VAULT_KEY_FILE}]"
    ))]
    pub key_file: Option<PathBuf>,
    #[arg(long, value_name = "PATH", help = format!(
        "File whose first line is the passphrase that unlocks the vault (or set {VAULT_PASSPHRASE})"
    ))]
    pub passphrase_file: Option<PathBuf>,
}

/// The key of a new slot, for `vault key add`.
#[derive(Debug, Args)]
pub struct NewKeyArgs {
    /// Key file for the new slot (made by `vault keygen`).
    #[arg(long, value_name = "PATH")]
    pub new_key_file: Option<PathBuf>,
    #[arg(long, value_name = "PATH", help = format!(
        "File whose first line is the new slot's passphrase (or set {VAULT_NEW_PASSPHRASE})"
    ))]
    pub new_passphrase_file: Option<PathBuf>,
}
