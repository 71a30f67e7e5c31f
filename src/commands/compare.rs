//! `vault compare`: compare acceptance with production (read-only on both) and print the differences as a table or JSON.

use std::io::{IsTerminal, Write};

use crate::cli::CompareArgs;
use crate::commands::config_file::{load_config, text_env};
use crate::compare::{Class, CompareSummary, Difference};
use crate::config::Config;
use crate::db;
use crate::exit::{Exit, ToolError};
use crate::keys::EnvLookup;

pub fn run(args: &CompareArgs, out: &mut dyn Write, env: EnvLookup<'_>) -> Result<Exit, ToolError> {
    let config = load_config(&args.config)?;
    if args.show_keys && !std::io::stdout().is_terminal() {
        return Err(ToolError::usage(
            "--show-keys prints the keys of differing rows, which only a terminal may show; the output here is piped or redirected",
        )
        .hint("run it on a terminal, or leave --show-keys out: the key digests match between runs of one vault's report only"));
    }
    let env_text = text_env(env);
    let mut summary =
        crate::runtime::current_thread()?.block_on(async { compare(&config, &env_text).await })?;
    // A key of this run only: the digests tell rows apart within the output.
    let mut key = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::fill(key.as_mut())
        .map_err(|e| ToolError::failed(format!("no randomness for the key digests: {e}")))?;
    summary.seal_keys(&key, args.show_keys);
    if args.json {
        crate::exit::write_json(out, &summary)?;
    } else {
        print(&summary, out)?;
    }
    Ok(summary.exit())
}

/// Connects read-only to `[acceptance]` and `[production]` and compares
/// them. Without `[production]` (or its URL) this is a usage error (exit 2).
pub async fn compare(
    config: &Config,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<CompareSummary, ToolError> {
    let config_error =
        |e: crate::config::ConfigError| ToolError::usage(e.to_string()).hint("fix vault.toml");
    let acceptance_url = config.acceptance_url(env).map_err(config_error)?;
    let Some(production_url) = config.production_url(env).map_err(config_error)? else {
        return Err(ToolError::usage(
            "vault compare needs [production]: the configuration names no production database",
        )
        .hint("add [production] with url_env (or url) to vault.toml"));
    };
    if acceptance_url.engine() != production_url.engine() {
        return Err(ToolError::usage(format!(
            "acceptance is {} and production is {}: only databases of one engine can be compared",
            acceptance_url.engine(),
            production_url.engine()
        )));
    }
    let acceptance = db::any::connect(&acceptance_url).await?;
    let production = match db::any::connect(&production_url).await {
        Ok(production) => production,
        Err(error) => {
            acceptance.close().await;
            return Err(error);
        }
    };
    db::any::closing(acceptance, async |acceptance| {
        db::any::closing(production, async |production| {
            crate::compare::compare_databases(config, &production_url, acceptance, production).await
        })
        .await
    })
    .await
}

/// At most `width` characters of one line of `text`.
fn short(text: &str, width: usize) -> String {
    let line = text.lines().next().unwrap_or("");
    let folded: String = line.chars().take(width).collect();
    if folded.len() < text.len() {
        format!("{folded}...")
    } else {
        folded
    }
}

fn detail(d: &Difference) -> String {
    if let Some(data) = &d.data {
        let mut text = format!(
            "rows: acceptance {}, production {}",
            data.acceptance_rows, data.production_rows
        );
        if data.keyed {
            text.push_str(&format!(
                "; missing {}, extra {}, changed {}",
                data.missing, data.extra, data.changed
            ));
            if !data.sample_keys.is_empty() {
                text.push_str(&format!("; keys {}", data.sample_keys.join(" ")));
            } else if !data.sample_key_digests.is_empty() {
                text.push_str(&format!(
                    "; key digests {}",
                    data.sample_key_digests.join(" ")
                ));
            }
        } else {
            text.push_str("; checksums differ (no primary key: counts and checksum only)");
        }
        return text;
    }
    match (&d.acceptance, &d.production) {
        (None, None) => d.what.clone(),
        (a, p) => format!(
            "{}: acceptance {} | production {}",
            d.what,
            a.as_deref().map_or("(none)".into(), |v| short(v, 60)),
            p.as_deref().map_or("(none)".into(), |v| short(v, 60)),
        ),
    }
}

/// One line per difference (class, kind, object), what differs and why beneath.
pub fn print(summary: &CompareSummary, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "compare of {} (acceptance) with {} (production)",
        summary.acceptance, summary.production
    )?;
    writeln!(
        out,
        "  {} schema objects, {} tables with rows compared",
        summary.objects_compared, summary.relations_compared
    )?;
    if !summary.differences.is_empty() {
        writeln!(out, "  {:<10} {:<18} OBJECT", "CLASS", "KIND")?;
    }
    for class in [Class::Unexpected, Class::Expected] {
        for d in summary.differences.iter().filter(|d| d.class == class) {
            writeln!(out, "  {:<10} {:<18} {}", d.class, d.kind, d.object)?;
            writeln!(out, "             {}", detail(d))?;
            if !d.reason.is_empty() {
                writeln!(out, "             why: {}", d.reason)?;
            }
        }
    }
    for note in &summary.notes {
        writeln!(out, "note: {note}")?;
    }
    if summary.differences.is_empty() {
        writeln!(out, "no difference")?;
    } else {
        writeln!(
            out,
            "{} differences: {} expected, {} unexpected",
            summary.differences.len(),
            summary.expected(),
            summary.unexpected()
        )?;
    }
    Ok(())
}
