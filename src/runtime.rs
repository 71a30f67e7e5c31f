//! The async runtime that database commands run on.

use crate::exit::ToolError;

/// The runtime that database commands run on: one thread, since each
/// command holds one connection at a time.
pub fn current_thread() -> Result<tokio::runtime::Runtime, ToolError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ToolError::failed(format!("cannot start the async runtime: {e}")))
}
