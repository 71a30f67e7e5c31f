//! SIGINT and SIGTERM: the first asks the run to stop at its next safe point (an open transaction rolled back, partial files removed, the report written, exit 130); a second stops the process at once.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::exit::{Exit, ToolError};

static REQUESTED: OnceLock<Arc<AtomicBool>> = OnceLock::new();

fn flag() -> &'static Arc<AtomicBool> {
    REQUESTED.get_or_init(|| Arc::new(AtomicBool::new(false)))
}

/// Catches SIGINT and SIGTERM. A second signal exits at once with 130.
pub fn install() -> Result<(), ToolError> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let flag = flag();
    for signal in [SIGINT, SIGTERM] {
        // Registered first, so that it sees the flag before this signal sets it.
        signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(flag))
            .and_then(|_| signal_hook::flag::register(signal, Arc::clone(flag)))
            .map_err(|e| ToolError::failed(format!("cannot catch signals: {e}")))?;
    }
    Ok(())
}

/// Whether a signal asked the run to stop.
pub fn requested() -> bool {
    flag().load(Ordering::SeqCst)
}

/// An error (exit 130) when a signal asked the run to stop, naming where.
pub fn check(at: &str) -> Result<(), ToolError> {
    if requested() {
        return Err(ToolError::new(
            Exit::Interrupted,
            format!("interrupted by a signal {at}"),
        ));
    }
    Ok(())
}
