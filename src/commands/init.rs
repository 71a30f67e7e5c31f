//! `vault init`: the URLs from the environment variables named, a read-only look at acceptance (and production), and the proposed vault.toml on stdout, written only once it is complete.

use std::io::Write;

use crate::cli::InitArgs;
use crate::commands::config_file::text_env;
use crate::config::DatabaseUrl;
use crate::db;
use crate::exit::{Exit, ToolError};
use crate::init::render::{UrlNames, render};
use crate::keys::EnvLookup;

pub fn run(args: &InitArgs, out: &mut dyn Write, env: EnvLookup<'_>) -> Result<Exit, ToolError> {
    let env_text = text_env(env);
    let acceptance = url_from(&env_text, "--url-env", &args.url_env)?;
    let production = match &args.production_url_env {
        Some(name) => Some(url_from(&env_text, "--production-url-env", name)?),
        None => None,
    };
    if let Some(production) = &production
        && production.engine() != acceptance.engine()
    {
        return Err(ToolError::usage(format!(
            "acceptance is {} and production is {}: only databases of one engine can be compared",
            acceptance.engine(),
            production.engine()
        )));
    }
    let proposals = crate::runtime::current_thread()?.block_on(async {
        let acceptance_db = db::any::connect(&acceptance).await?;
        let production_db = match &production {
            Some(url) => match db::any::connect(url).await {
                Ok(connected) => Some(connected),
                Err(error) => {
                    acceptance_db.close().await;
                    return Err(error);
                }
            },
            None => None,
        };
        db::any::closing(acceptance_db, async |acceptance_db| match production_db {
            Some(production_db) => {
                db::any::closing(production_db, async |production_db| {
                    crate::init::propose(acceptance_db, Some(production_db)).await
                })
                .await
            }
            None => crate::init::propose(acceptance_db, None).await,
        })
        .await
    })?;
    let text = render(
        &proposals,
        &UrlNames {
            acceptance: &args.url_env,
            production: args.production_url_env.as_deref(),
        },
        &acceptance.engine().to_string(),
    );
    out.write_all(text.as_bytes())?;
    Ok(Exit::Success)
}

/// The URL in the environment variable `name` (given by `flag`); unset,
/// empty or not a URL is exit 2.
fn url_from(
    env: &dyn Fn(&str) -> Option<String>,
    flag: &str,
    name: &str,
) -> Result<DatabaseUrl, ToolError> {
    let hint = format!("export {name} with the database URL, or name another variable with {flag}");
    if name.trim().is_empty() {
        return Err(ToolError::usage(format!("{flag}: the variable name is empty")).hint(hint));
    }
    let Some(text) = env(name).filter(|v| !v.trim().is_empty()) else {
        return Err(ToolError::usage(format!(
            "{flag}: the environment variable {name} is not set"
        ))
        .hint(hint));
    };
    DatabaseUrl::parse(&text).map_err(|message| {
        ToolError::usage(format!("{flag}: the URL in {name}: {message}")).hint(hint)
    })
}
