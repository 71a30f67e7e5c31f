//! The configuration file and the environment as every command reads them: vault.toml loaded and validated (a problem is exit 2), `url_env` looked up as text.

use crate::config::Config;
use crate::exit::ToolError;
use crate::keys::EnvLookup;

/// Reads and validates vault.toml; a problem is exit 2.
pub(crate) fn load_config(path: &std::path::Path) -> Result<Config, ToolError> {
    Config::load(path).map_err(config_error)
}

pub(crate) fn config_error(error: crate::config::ConfigError) -> ToolError {
    ToolError::usage(format!("configuration: {error}"))
        .hint("correct the configuration; nothing was changed")
}

/// The environment as text, for `url_env` look-ups.
pub(crate) fn text_env(env: EnvLookup<'_>) -> impl Fn(&str) -> Option<String> + '_ {
    move |name| env(name).and_then(|v| v.into_string().ok())
}
