//! The proposals written as vault.toml: `[acceptance]` and `[production]` by their `url_env`, `[[preserve]]` entries with their reasons, `[grants]`, and `[[sanitize]]` candidates commented out with their evidence. Sorted, no timestamps: one database gives one text.

use std::fmt::Write;

use super::{
    ApplicationRoles, ColumnEvidence, PreserveProposal, ProductionRows, Proposals, SanitizeProposal,
};
use crate::names::TableName;
use crate::units::printable;

/// The environment variables the file names for the URLs.
pub struct UrlNames<'a> {
    pub acceptance: &'a str,
    pub production: Option<&'a str>,
}

/// A TOML basic string: quotes, backslashes and control characters escaped.
fn quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn quoted_list(items: &[String]) -> String {
    let parts: Vec<String> = items.iter().map(|i| quoted(i)).collect();
    format!("[{}]", parts.join(", "))
}

/// The file's text.
pub fn render(proposals: &Proposals, urls: &UrlNames<'_>, engine: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# vault.toml proposed by `vault init` from the acceptance database ({engine})."
    );
    out.push_str(
        "# Every entry is a proposal from table and column names, types and sampled\n\
         # values (only match rates are shown, never a value). Review it before the\n\
         # first capture: docs/configuration.md describes each key.\n\n",
    );
    let _ = writeln!(out, "[acceptance]\nurl_env = {}\n", quoted(urls.acceptance));
    if let Some(production) = urls.production {
        let _ = writeln!(out, "[production]\nurl_env = {}\n", quoted(production));
    }
    preserve_section(&mut out, proposals);
    grants_section(&mut out, &proposals.roles);
    sanitize_section(&mut out, proposals);
    if proposals.compared_with_production {
        out.push_str(
            "# ---- Tables only in acceptance (production has no table of these names) ----\n",
        );
        if proposals.only_in_acceptance.is_empty() {
            out.push_str("# none\n");
        }
        for table in &proposals.only_in_acceptance {
            let _ = writeln!(out, "# {}", printable(&table.to_string()));
        }
        out.push('\n');
    }
    if !proposals.unnamed.is_empty() {
        out.push_str(
            "# ---- Tables left out: vault.toml cannot name them (dots, quotes or control characters) ----\n",
        );
        for name in &proposals.unnamed {
            let _ = writeln!(out, "# {name}");
        }
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// Where a proposal goes: rows that differ from production first.
fn rank(proposal: &PreserveProposal) -> u8 {
    match proposal.production {
        Some(ProductionRows::Differ { .. }) => 0,
        Some(ProductionRows::Absent) => 1,
        _ => 2,
    }
}

fn preserve_section(out: &mut String, proposals: &Proposals) {
    out.push_str(
        "# ---- What acceptance owns: captured before the refresh, put back after it ----\n",
    );
    if proposals.compared_with_production {
        out.push_str(
            "# Tables whose rows differ from production's come first: they are the likeliest\n\
             # to hold what acceptance alone has.\n",
        );
    }
    out.push('\n');
    let mut ordered: Vec<&PreserveProposal> = proposals.preserve.iter().collect();
    ordered.sort_by_key(|p| (rank(p), p.table.to_string()));
    if ordered.is_empty() {
        out.push_str(
            "# No table's name or columns look like accounts, credentials, roles, settings,\n\
             # two-factor data, tokens or portal setup. Add a [[preserve]] entry per table\n\
             # acceptance owns: `vault capture` needs at least one.\n\n",
        );
    }
    for proposal in ordered {
        preserve_entry(out, proposal);
    }
}

fn preserve_entry(out: &mut String, proposal: &PreserveProposal) {
    let reasons: Vec<String> = proposal
        .reasons
        .iter()
        .map(|r| {
            format!(
                "{}: {} matches \"{}\"",
                r.owned.label(),
                printable(&r.found_in),
                r.word
            )
        })
        .collect();
    let _ = writeln!(out, "# {}", reasons.join("; "));
    match &proposal.production {
        Some(ProductionRows::Differ {
            acceptance,
            production,
        }) => {
            let _ = writeln!(
                out,
                "# production: the rows differ (acceptance {acceptance} rows, production {production} rows)"
            );
        }
        Some(ProductionRows::Same { rows }) => {
            let _ = writeln!(
                out,
                "# production: the same {rows} rows; keep it only if acceptance's must survive a later change"
            );
        }
        Some(ProductionRows::Absent) => {
            out.push_str("# production: no such table; a refresh removes it whole\n");
        }
        None => {}
    }
    let table = quoted(&proposal.table.to_string());
    let mode = quoted(&proposal.mode.to_string());
    if proposal.key.is_empty() {
        let _ = writeln!(
            out,
            "# no primary key: name the columns that identify a row in `key`, then uncomment\n\
             # [[preserve]]\n# table = {table}\n# key = [\"...\"]\n# mode = {mode}\n"
        );
    } else {
        let _ = writeln!(
            out,
            "[[preserve]]\ntable = {table}\nkey = {}\nmode = {mode}\n",
            quoted_list(&proposal.key)
        );
    }
}

fn grants_section(out: &mut String, roles: &ApplicationRoles) {
    out.push_str(
        "# ---- Roles of the application: their privileges are captured and put back ----\n",
    );
    match roles {
        ApplicationRoles::NotApplicable(why) => {
            let _ = writeln!(out, "# [grants]: {why}\n");
        }
        ApplicationRoles::Found(found) if found.is_empty() => {
            out.push_str(
                "# No role other than superusers and the system's holds privileges on the tables.\n\
                 # [grants]\n# roles = [\"...\"]\n\n",
            );
        }
        ApplicationRoles::Found(found) => {
            out.push_str(
                "# Roles that hold privileges on the tables (superusers and the system's left out).\n",
            );
            let _ = writeln!(out, "[grants]\nroles = {}\n", quoted_list(found));
        }
    }
}

fn sanitize_section(out: &mut String, proposals: &Proposals) {
    out.push_str(
        "# ---- Sanitize candidates: commented out; review, then uncomment what applies ----\n\n",
    );
    if proposals.sanitize.is_empty() {
        out.push_str("# No column looks like personal data, documents or clinical dates.\n\n");
    }
    for (table, proposal) in &proposals.sanitize {
        sanitize_entries(out, table, proposal);
    }
}

fn evidence_line(e: &ColumnEvidence) -> String {
    let why = match e.word {
        Some(word) => format!("{} (name matches \"{word}\")", e.personal.label()),
        None => format!("{} (by its values)", e.personal.label()),
    };
    let rate = match &e.rate {
        Some(rate) if rate.sampled == 0 => "no value to sample".to_owned(),
        Some(rate) => format!(
            "{} pattern matched {}% of {} sampled value{}",
            rate.pattern.label(),
            rate.percent(),
            rate.sampled,
            if rate.sampled == 1 { "" } else { "s" }
        ),
        None => "by its type".to_owned(),
    };
    format!(
        "#   {} ({}): {why}; {rate}",
        printable(&e.column),
        printable(&e.data_type)
    )
}

fn sanitize_entries(out: &mut String, table: &TableName, proposal: &SanitizeProposal) {
    let name = quoted(&table.to_string());
    let shown = printable(&table.to_string());
    if !proposal.columns.is_empty() {
        let _ = writeln!(out, "# {shown}: columns that may hold personal data");
        for evidence in &proposal.columns {
            out.push_str(&evidence_line(evidence));
            out.push('\n');
        }
        let nullable: Vec<String> = proposal
            .columns
            .iter()
            .filter(|e| e.nullable)
            .map(|e| e.column.clone())
            .collect();
        if !nullable.is_empty() {
            let _ = writeln!(
                out,
                "# [[sanitize]]\n# table = {name}\n# set_null = {}",
                quoted_list(&nullable)
            );
        }
        let required: Vec<String> = proposal
            .columns
            .iter()
            .filter(|e| !e.nullable)
            .map(|e| {
                let value = if e.rate.is_some() {
                    "'redacted'"
                } else {
                    "'1900-01-01'"
                };
                format!("{} = {}", quoted(&e.column), quoted(value))
            })
            .collect();
        if !required.is_empty() {
            let _ = writeln!(
                out,
                "# [[sanitize]]\n# table = {name}\n# set = {{ {} }}",
                required.join(", ")
            );
        }
        out.push('\n');
    }
    if !proposal.documents.is_empty() {
        let columns: Vec<String> = proposal
            .documents
            .iter()
            .map(|(c, t)| format!("{} ({})", printable(c), printable(t)))
            .collect();
        let _ = writeln!(
            out,
            "# {shown}: documents in {}\n# [[sanitize]]\n# table = {name}\n# delete_all = true\n",
            columns.join(", ")
        );
    }
    if let Some((word, dates)) = &proposal.cut_off {
        let columns: Vec<String> = dates
            .iter()
            .map(|(c, t)| format!("{} ({})", printable(c), printable(t)))
            .collect();
        let first = &dates[0].0;
        let _ = writeln!(
            out,
            "# {shown}: clinical-looking table (name matches \"{word}\"); dates for a cut-off: {}\n\
             # [[sanitize]]\n# table = {name}\n# delete_where = {}\n",
            columns.join(", "),
            quoted(&format!("{} >= 'YYYY-MM-DD'", first))
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_toml_reads_them() {
        assert_eq!(quoted("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000A\"");
        let parsed: toml::Value = toml::from_str(&format!("x = {}", quoted("a\"b\\c\n"))).unwrap();
        assert_eq!(parsed["x"].as_str(), Some("a\"b\\c\n"));
    }
}
