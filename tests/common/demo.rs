//! The demo's folder as a test site: acceptance refreshed from production, its vault,
//! key and vault.toml, and `vault restore`/`report verify` run against them.

use std::path::{Path, PathBuf};

use super::{Run, s, vault};

/// The operator name the runs report (`USER`).
pub const OPERATOR: &str = "report-op";

/// A demo folder (acceptance, production, key, vault.toml with sanitize
/// rules, a captured vault), with acceptance refreshed from production.
pub struct Refreshed {
    _dir: tempfile::TempDir,
    pub demo: PathBuf,
}

impl Refreshed {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let demo = dir.path().join("demo");
        vault(["demo", "--dir", s(&demo)], &[]).expect(0);
        std::fs::copy(demo.join("production.db"), demo.join("acceptance.db")).unwrap();
        Refreshed { _dir: dir, demo }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.demo.join(name)
    }

    /// Runs the binary with the demo's key file and [`OPERATOR`] as the user.
    pub fn run(&self, args: Vec<String>) -> Run {
        let key = self.path("demo.key");
        vault(args, &[("VAULT_KEY_FILE", s(&key)), ("USER", OPERATOR)])
    }

    /// `vault restore` with the demo's vault and config, then `extra`.
    pub fn restore(&self, extra: &[&str]) -> Run {
        let mut args = vec![
            "restore".to_owned(),
            s(&self.path("acceptance.vault")).to_owned(),
            "--config".to_owned(),
            s(&self.path("vault.toml")).to_owned(),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        self.run(args)
    }

    /// Restores with the report in `name` (under the demo folder), expecting
    /// `code` and the report's path in the output; returns the path.
    pub fn restore_with_report(&self, name: &str, extra: &[&str], code: i32) -> PathBuf {
        let dir = self.path(name);
        let mut args = vec!["--report-dir", s(&dir)];
        args.extend_from_slice(extra);
        let run = self.restore(&args).expect(code);
        assert!(
            run.stdout.contains(&format!("report: {}", dir.display())),
            "{run:#?}"
        );
        dir
    }

    /// `vault report verify DIR`, then `extra`.
    pub fn verify(&self, dir: &Path, extra: &[&str]) -> Run {
        let mut args = vec!["report".to_owned(), "verify".to_owned(), s(dir).to_owned()];
        args.extend(extra.iter().map(|a| a.to_string()));
        self.run(args)
    }

    pub fn append_config(&self, text: &str) {
        let path = self.path("vault.toml");
        let mut config = std::fs::read_to_string(&path).unwrap();
        config.push_str(text);
        std::fs::write(path, config).unwrap();
    }

    /// Replaces the first `from` in vault.toml with `to`.
    pub fn edit_config(&self, from: &str, to: &str) {
        let path = self.path("vault.toml");
        let config = std::fs::read_to_string(&path).unwrap();
        assert!(config.contains(from), "{from:?} not in vault.toml");
        std::fs::write(path, config.replacen(from, to, 1)).unwrap();
    }

    pub fn exec(&self, sql: &str) {
        rusqlite::Connection::open(self.path("acceptance.db"))
            .unwrap()
            .execute_batch(sql)
            .unwrap();
    }

    /// Runs SQL on both acceptance and production (a table that both have).
    pub fn exec_both(&self, sql: &str) {
        self.exec(sql);
        rusqlite::Connection::open(self.path("production.db"))
            .unwrap()
            .execute_batch(sql)
            .unwrap();
    }

    pub fn count(&self, sql: &str) -> i64 {
        let conn = rusqlite::Connection::open(self.path("acceptance.db")).unwrap();
        conn.query_row(sql, [], |row| row.get(0)).unwrap()
    }
}
