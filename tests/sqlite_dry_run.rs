//! A dry run of the whole day: the restore is rehearsed and rolled back, and the steps after it say they did not run rather than show figures read from the database as the refresh left it.

mod common;

use common::workflow::refreshed_clinic;

#[test]
fn steps_after_a_rehearsed_restore_say_they_did_not_run() {
    let site = refreshed_clinic();
    let run = site.restore(&["--dry-run"]).expect(0);
    for step in ["sanitize", "verify", "health", "links", "compare"] {
        let line = run
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(step) && l.contains("skipped"))
            .unwrap_or_else(|| panic!("{step} is not skipped: {run:#?}"));
        assert!(line.contains("before the restore, not after it"), "{line}");
    }
}
