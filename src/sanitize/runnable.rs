//! Proof, before anything is written, that sanitize's statements can run: every trigger on a table a rule reaches must be able to fire.
//!
//! A refresh brings production's triggers with production's definers; on
//! MariaDB/MySQL a trigger whose DEFINER account does not exist fails
//! every statement that fires it (error 1449). Found after the restore
//! committed, that leaves unsanitized production data behind; found here,
//! it stops the run with nothing changed. Each engine says which of its
//! triggers cannot fire ([`super::Sanitizer::unrunnable_triggers`]). Where
//! triggers cannot be kept quiet (MariaDB/MySQL), triggers that the rules
//! do not allow are refused here too, as the sanitize would refuse them.

use serde::Serialize;

use super::{Sanitizer, reached_tables};
use crate::config::Config;
use crate::exit::ToolError;

/// A trigger that would stop a sanitize statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnrunnableTrigger {
    /// `schema.table`, as the catalogue names it.
    pub table: String,
    /// The trigger's name.
    pub trigger: String,
    /// Why it cannot fire (for example: its definer does not exist).
    pub problem: String,
    /// What the DBA does about it.
    pub fix: String,
}

/// Refuses (exit 1) when a trigger on a table the rules reach cannot fire;
/// `when` says what has not happened yet (`nothing was restored`).
pub async fn check_runnable<S: Sanitizer>(
    db: &mut S,
    config: &Config,
    when: &str,
) -> Result<(), ToolError> {
    if config.sanitize.is_empty() {
        return Ok(());
    }
    let tables = reached_tables(db, config).await?;
    let unrunnable = db.unrunnable_triggers(&tables).await?;
    if let Some(refused) = refusal(&unrunnable, when) {
        return Err(refused);
    }
    // Where triggers cannot be kept quiet, the sanitize would refuse to
    // run them unless every rule allows it: say so now, not after the
    // restore committed.
    if !db.can_quiet_triggers() {
        let triggers = db.user_triggers(&tables).await?;
        if !triggers.is_empty() {
            super::refuse_running_triggers(config, &triggers).map_err(|e| ToolError {
                message: format!("{}; {when}", e.message),
                ..e
            })?;
        }
    }
    Ok(())
}

/// The error naming each trigger, its problem and its fix; `None` when
/// there is none.
pub(super) fn refusal(unrunnable: &[UnrunnableTrigger], when: &str) -> Option<ToolError> {
    if unrunnable.is_empty() {
        return None;
    }
    let each: Vec<String> = unrunnable
        .iter()
        .map(|t| format!("trigger {} on {}: {}", t.trigger, t.table, t.problem))
        .collect();
    let mut fixes: Vec<&str> = unrunnable.iter().map(|t| t.fix.as_str()).collect();
    fixes.dedup();
    Some(
        ToolError::failed(format!(
            "sanitize could not run: {} would fail the statements that fire {}; {when}",
            each.join("; "),
            if unrunnable.len() == 1 { "it" } else { "them" },
        ))
        .hint(format!(
            "{}; then run vault again (`vault health` lists every object whose definer is missing)",
            fixes.join("; ")
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_names_each_trigger_its_problem_and_the_fix() {
        assert!(refusal(&[], "nothing was restored").is_none());
        let trigger = |name: &str| UnrunnableTrigger {
            table: "emr.note".into(),
            trigger: name.into(),
            problem: "its definer 'prod_app'@'%' does not exist on this server".into(),
            fix: "create the account 'prod_app'@'%'".into(),
        };
        let error = refusal(&[trigger("a"), trigger("b")], "nothing was restored").unwrap();
        assert_eq!(error.class, crate::exit::Exit::Failed);
        assert!(
            error
                .message
                .contains("trigger a on emr.note: its definer 'prod_app'@'%'")
        );
        assert!(error.message.contains("trigger b on emr.note"));
        assert!(error.message.ends_with("nothing was restored"));
        let hint = error.hint.unwrap();
        assert_eq!(hint.matches("create the account").count(), 1, "{hint}");
    }
}
