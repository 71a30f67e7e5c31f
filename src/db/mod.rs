//! The database layer: the run-time dispatcher ([`any::AnyEngine`]) over the three engine adapters.
//!
//! Each engine's half of each step lives in its own file under the engine's
//! folder and implements that step's trait (`crate::engine::Engine` for
//! capture and restore, `crate::health::HealthCheck`, ...). This layer stands
//! above the steps: it imports them, never the other way round.

pub mod any;
pub mod mysql;
pub mod postgres;
pub mod sqlite;

/// `::1` for a URL's `[::1]`: drivers keep the brackets of an IPv6
/// literal, which no resolver reads. `None` for a host without brackets.
pub(crate) fn unbracketed(host: &str) -> Option<String> {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .map(str::to_owned)
}
