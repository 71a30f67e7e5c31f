//! `vault restore --resume DIR`: which steps a failed run finished, checked against the vault and the target before anything runs again.
//!
//! The earlier report must be intact (its signature under this vault's key),
//! of this vault file byte for byte, of the same kind of run (dry or not),
//! and of a run that failed; the target must be the database it ran on.
//! The steps it finished are not run again: the new report carries their
//! lines and sections over and names the earlier report.

use std::path::{Path, PathBuf};

use vault_format::UnlockedVault;

use super::Report;
use crate::exit::{Exit, ToolError};
use crate::workflow::{Outcome, Step};

/// A failed run to continue.
pub struct Resume {
    pub dir: PathBuf,
    pub earlier: Report,
    /// Asked for and finished (ok or with findings) by the earlier run.
    pub done: Vec<Step>,
    /// Asked for and not finished: the failed step and every later one.
    pub remaining: Vec<Step>,
}

impl Resume {
    /// Reads and checks the earlier report in `dir`.
    pub fn load(
        dir: &Path,
        vault: &UnlockedVault,
        vault_sha256: &str,
        dry_run: bool,
    ) -> Result<Resume, ToolError> {
        let (earlier, text) = super::read(dir)?;
        let shown = dir.display();
        let vault_id = hex::encode(vault.vault().header().vault_id);
        if earlier.vault.id != vault_id {
            return Err(ToolError::usage(format!(
                "{shown} is the report of vault {}, not of this vault ({vault_id})",
                crate::units::printable(&earlier.vault.id)
            ))
            .hint("resume with the vault file the failed run restored from"));
        }
        let problems = super::verify(
            dir,
            &earlier,
            &text,
            &vault.derive_key(super::KEY_PURPOSE),
            vault.vault().header().public_key.as_ref(),
        );
        if let Some(problem) = problems.first() {
            return Err(ToolError::new(
                Exit::Problem,
                format!("the report in {shown} was edited, so it cannot be resumed: {problem}"),
            )
            .hint("run the whole pipeline again without --resume"));
        }
        if earlier.vault.sha256 != vault_sha256 {
            return Err(ToolError::usage(format!(
                "the vault file changed since the run that {shown} reports (its SHA-256 differs)"
            ))
            .hint("resume with the vault file as it was, or run the whole pipeline again"));
        }
        if earlier.outcome != Outcome::Failed {
            return Err(ToolError::usage(format!(
                "nothing to resume: the run that {shown} reports did not fail"
            ))
            .hint("to run some steps again, name them with --steps"));
        }
        if earlier.dry_run != dry_run {
            let (was, is) = if earlier.dry_run {
                ("a dry run", "a real one")
            } else {
                ("a real run", "a dry run")
            };
            return Err(ToolError::usage(format!(
                "{shown} reports {was}; it cannot be resumed as {is}"
            ))
            .hint("resume with the same --dry-run setting as the failed run"));
        }
        let asked = earlier
            .steps_asked
            .iter()
            .map(|name| name.parse::<Step>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ToolError::new(Exit::Problem, format!("{shown}: {e}")))?;
        let outcome_of = |step: Step| {
            earlier
                .steps
                .iter()
                .find(|line| line.step == step.name())
                .map(|line| &line.outcome)
        };
        let Some(failed) = asked
            .iter()
            .copied()
            .find(|s| outcome_of(*s) == Some(&Outcome::Failed))
        else {
            return Err(ToolError::usage(format!(
                "{shown} does not say which of its steps failed"
            ))
            .hint("run the whole pipeline again without --resume"));
        };
        let (done, remaining): (Vec<Step>, Vec<Step>) = asked.iter().partition(|s| **s < failed);
        Ok(Resume {
            dir: dir.to_owned(),
            earlier,
            done,
            remaining,
        })
    }

    /// Refuses (exit 4) a target other than the one the failed run changed.
    pub fn require_target(&self, identity: &str) -> Result<(), ToolError> {
        if self.earlier.target.identity == identity {
            return Ok(());
        }
        Err(ToolError::new(
            Exit::Refused,
            format!(
                "{} reports a run on {}, but the configuration points at {identity}",
                self.dir.display(),
                self.earlier.target.identity
            ),
        )
        .hint("resume against the database the failed run changed"))
    }
}
