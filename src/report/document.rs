//! The report laid out for people, once: headings, tables, lists. The
//! Markdown and HTML renderers each turn these blocks into their syntax, so
//! both always show the same things; a new step adds one `section_*` here.

use serde_json::Value;

use super::Report;
use crate::workflow::Outcome;

/// One piece of the page.
pub enum Block {
    Heading(String),
    Paragraph(String),
    /// `(label, value)` pairs.
    Facts(Vec<(String, String)>),
    Table {
        headers: Vec<&'static str>,
        rows: Vec<Vec<String>>,
    },
    List(Vec<String>),
}

pub fn outcome_label(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Ok => "ok",
        Outcome::Findings => "findings",
        Outcome::Failed => "failed",
        Outcome::Skipped => "skipped",
    }
}

/// The report as blocks: the summary first, then each step's details.
pub fn blocks(report: &Report) -> Vec<Block> {
    let mut out = vec![Block::Facts(vec![
        ("Outcome".into(), outcome_label(&report.outcome).into()),
        ("Vault".into(), report.vault.path.clone()),
        ("Vault id".into(), report.vault.id.clone()),
        ("Vault SHA-256".into(), report.vault.sha256.clone()),
        (
            "Captured".into(),
            format!(
                "{} from {}",
                report.vault.captured.as_deref().unwrap_or("unknown time"),
                report.vault.source
            ),
        ),
        ("Target".into(), report.target.identity.clone()),
        ("Target URL".into(), report.target.url.clone()),
        (
            "Instance".into(),
            if report.target.instance.is_empty() {
                "-".into()
            } else {
                report.target.instance.join("; ")
            },
        ),
        ("Dry run".into(), yes_no(report.dry_run).into()),
        ("Operator".into(), report.operator.clone()),
        ("Started".into(), report.started.clone()),
        ("Finished".into(), report.finished.clone()),
        ("Tool".into(), report.tool.clone()),
    ])];
    if let Some(earlier) = &report.resumed_from {
        out.push(Block::Paragraph(format!(
            "This run resumed the failed run started {} (report {}, signature {}). \
             Not run again, carried over from that report: {}.",
            earlier.started,
            earlier.report,
            earlier.signature,
            earlier.steps.join(", ")
        )));
    }
    if let Some(error) = &report.error {
        out.push(Block::Paragraph(format!("The run stopped: {error}")));
    }
    out.push(Block::Heading("Summary".into()));
    out.push(Block::Table {
        headers: vec!["Step", "Status", "Key figures"],
        rows: report
            .steps
            .iter()
            .map(|s| {
                vec![
                    s.step.clone(),
                    outcome_label(&s.outcome).into(),
                    s.figures.clone(),
                ]
            })
            .collect(),
    });
    let sections = &report.sections;
    if let Some(quarantine) = &sections.quarantine {
        section_quarantine(&mut out, quarantine);
    }
    if let Some(jobs) = &sections.jobs {
        section_jobs(&mut out, jobs);
    }
    if let Some(restore) = &sections.restore {
        section_restore(&mut out, restore);
    }
    if let Some(hooks) = &sections.hooks {
        section_hooks(&mut out, hooks);
    }
    if sections.sanitize.is_some() || sections.verify.is_some() {
        section_sanitize(
            &mut out,
            sections.sanitize.as_ref(),
            sections.verify.as_ref(),
        );
    }
    if let Some(health) = &sections.health {
        section_health(&mut out, health);
    }
    if let Some(links) = &sections.links {
        section_links(&mut out, links);
    }
    if let Some(compare) = &sections.compare {
        section_compare(&mut out, compare);
    }
    out
}

fn yes_no(flag: bool) -> &'static str {
    if flag { "yes" } else { "no" }
}

/// A JSON value as table text: strings as they are, null as `-`.
fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => yes_no(*b).into(),
        other => other.to_string(),
    }
}

fn items(value: &Value, key: &str) -> Vec<Value> {
    value
        .get(key)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn list(out: &mut Vec<Block>, title: &str, value: &Value, key: &str) {
    let entries: Vec<String> = items(value, key).iter().map(text).collect();
    if !entries.is_empty() {
        out.push(Block::Paragraph(title.into()));
        out.push(Block::List(entries));
    }
}

fn section_quarantine(out: &mut Vec<Block>, quarantine: &Value) {
    out.push(Block::Heading("Quarantine".into()));
    let field = |key: &str| quarantine.get(key).map(text).unwrap_or_else(|| "-".into());
    out.push(Block::Facts(vec![
        (
            "Keeps out".into(),
            items(quarantine, "roles")
                .iter()
                .map(text)
                .collect::<Vec<_>>()
                .join(", "),
        ),
        ("Closed".into(), field("closed_at")),
        ("Sessions ended".into(), field("sessions_ended")),
        ("Opened".into(), field("opened_at")),
    ]));
    list(out, "Closed:", quarantine, "closed");
    list(out, "Opened:", quarantine, "opened");
    if let Some(note) = quarantine.get("note").filter(|n| !n.is_null()) {
        out.push(Block::Paragraph(text(note)));
    }
}

fn section_jobs(out: &mut Vec<Block>, jobs: &Value) {
    out.push(Block::Heading("Scheduled jobs".into()));
    list(
        out,
        "Production's, disabled before the data steps:",
        jobs,
        "disabled",
    );
    list(out, "Acceptance's own, left as they were:", jobs, "kept");
    if let Some(note) = jobs.get("note").filter(|n| !n.is_null()) {
        out.push(Block::Paragraph(text(note)));
    }
}

fn section_restore(out: &mut Vec<Block>, restore: &Value) {
    out.push(Block::Heading("Restored tables".into()));
    out.push(Block::Table {
        headers: vec![
            "Table",
            "Mode",
            "Captured rows",
            "Inserted",
            "Updated",
            "Kept",
            "Removed first",
        ],
        rows: items(restore, "tables")
            .iter()
            .map(|t| {
                // The counts are flattened into the table's object.
                let counts = t.get("counts").unwrap_or(t);
                vec![
                    text(&t["table"]),
                    text(&t["mode"]),
                    text(&t["captured_rows"]),
                    text(&counts["inserted"]),
                    text(&counts["updated"]),
                    text(&counts["skipped"]),
                    text(&counts["deleted"]),
                ]
            })
            .collect(),
    });
    list(out, "Also restored:", restore, "extras");
    list(out, "Notes:", restore, "notes");
    section_collisions(out, restore);
    if let Some(objects) = restore.get("objects").filter(|o| !o.is_null()) {
        section_objects(out, objects);
    }
}

/// Acceptance's own views, routines, triggers and events that the refresh
/// removed or changed: names only, never a definition.
fn section_objects(out: &mut Vec<Block>, objects: &Value) {
    out.push(Block::Heading("Acceptance's own objects".into()));
    let changes = items(objects, "changes");
    if changes.is_empty() {
        out.push(Block::Paragraph(
            "The refresh removed or changed none of the views, routines, triggers and events recorded at capture.".into(),
        ));
    } else {
        out.push(Block::Table {
            headers: vec!["Object", "The refresh", "Re-created from the vault"],
            rows: changes
                .iter()
                .map(|c| {
                    vec![
                        text(&c["object"]),
                        text(&c["change"]),
                        yes_no(c["recreated"].as_bool() == Some(true)).into(),
                    ]
                })
                .collect(),
        });
    }
    if let Some(note) = objects.get("note").filter(|n| !n.is_null()) {
        out.push(Block::Paragraph(text(note)));
    }
}

/// Captured keys that named other rows of the refreshed target: counts and
/// names only, never a key.
fn section_collisions(out: &mut Vec<Block>, restore: &Value) {
    let collisions = items(restore, "collisions");
    if collisions.is_empty() {
        return;
    }
    out.push(Block::Heading("Key collisions".into()));
    out.push(Block::Paragraph(
        "Captured keys of acceptance's rows were already used by other rows of the refreshed \
         database (production's): the restore overwrote those rows with acceptance's, and every \
         row listed below that referred to them now refers to acceptance's row. Choose per \
         [[preserve]]: on_collision = \"stop\" refuses such a restore before any change; \
         on_collision = \"replace\" accepts the overwrite (reported, not a finding). The lasting \
         fix is to give acceptance's own rows keys production does not use."
            .into(),
    ));
    out.push(Block::Table {
        headers: vec!["Table", "Keys", "Why", "Referred to by", "Accepted"],
        rows: collisions
            .iter()
            .map(|c| {
                let referring: Vec<String> = items(c, "referring")
                    .iter()
                    .map(|r| format!("{} ({} rows)", text(&r[0]), text(&r[1])))
                    .collect();
                vec![
                    text(&c["table"]),
                    text(&c["keys"]),
                    text(&c["criteria"]),
                    if referring.is_empty() {
                        "-".into()
                    } else {
                        referring.join(", ")
                    },
                    text(&c["accepted"]),
                ]
            })
            .collect(),
    });
}

fn section_sanitize(out: &mut Vec<Block>, sanitize: Option<&Value>, verify: Option<&Value>) {
    out.push(Block::Heading("Sanitize rules and verification".into()));
    let done = sanitize.map(|s| items(s, "rules")).unwrap_or_default();
    let checked = verify.map(|v| items(v, "rules")).unwrap_or_default();
    let mut numbers: Vec<u64> = done
        .iter()
        .chain(&checked)
        .filter_map(|r| r["rule"].as_u64())
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    let find = |rules: &[Value], n: u64| {
        rules
            .iter()
            .find(|r| r["rule"].as_u64() == Some(n))
            .cloned()
    };
    let rows = numbers
        .iter()
        .map(|&n| {
            let d = find(&done, n).unwrap_or(Value::Null);
            let c = find(&checked, n).unwrap_or(Value::Null);
            let base = if d.is_null() { &c } else { &d };
            let dependents: Vec<String> = items(&d, "dependents")
                .iter()
                .map(|x| {
                    format!(
                        "{} {} ({} rows)",
                        text(&x["how"]),
                        text(&x["table"]),
                        text(&x["rows"])
                    )
                })
                .collect();
            let not_verifiable: Vec<String> =
                items(&c, "not_verifiable").iter().map(text).collect();
            vec![
                n.to_string(),
                text(&base["table"]),
                text(&base["action"]),
                text(&d["rows"]),
                text(&c["rows_left"]),
                [dependents, not_verifiable].concat().join("; "),
            ]
        })
        .collect();
    out.push(Block::Table {
        headers: vec![
            "Rule",
            "Table",
            "Action",
            "Rows touched",
            "Rows left",
            "Notes",
        ],
        rows,
    });
    if let Some(sanitize) = sanitize {
        list(out, "Materialized views refreshed:", sanitize, "refreshed");
        let title = match sanitize["triggers_quiet"].as_bool() {
            Some(false) => "Triggers that ran during the sanitize (allow_triggers = true):",
            _ => "Triggers kept quiet during the sanitize:",
        };
        list(out, title, sanitize, "triggers");
        list(
            out,
            "Large objects unlinked because no row refers to them any more (ids):",
            sanitize,
            "objects_unlinked",
        );
    }
    if let Some(left) = verify.and_then(|v| v["objects_left"].as_u64())
        && left > 0
    {
        out.push(Block::Paragraph(format!(
            "Verification: {left} large object(s) that nothing refers to are still readable; `vault health --fix` lists and unlinks them."
        )));
    }
    if let Some(scan) = verify.map(|v| &v["leak_scan"])
        && scan.is_object()
    {
        section_leak_scan(out, scan);
    }
    if let Some(coverage) = verify.map(|v| &v["coverage"])
        && coverage.is_object()
    {
        let unclassified = items(coverage, "unclassified");
        out.push(Block::Paragraph(format!(
            "Coverage: {} of {} columns look like personal data; {} not classified{}.",
            text(&coverage["personal"]),
            text(&coverage["columns_checked"]),
            unclassified.len(),
            if coverage["strict"] == Value::Bool(true) {
                " (strict: each fails verify)"
            } else {
                ""
            }
        )));
        if !unclassified.is_empty() {
            out.push(Block::Table {
                headers: vec!["Table", "Column", "Looks like"],
                rows: unclassified
                    .iter()
                    .map(|u| {
                        vec![
                            text(&u["table"]),
                            text(&u["column"]),
                            text(&u["looks_like"]),
                        ]
                    })
                    .collect(),
            });
        }
    }
}

/// The leak scan: how much was searched, and where sanitized values remain
/// (tables, columns, counts; never a value).
fn section_leak_scan(out: &mut Vec<Block>, scan: &Value) {
    let remaining = items(scan, "remaining");
    let left: u64 = remaining.iter().filter_map(|r| r["values"].as_u64()).sum();
    out.push(Block::Paragraph(format!(
        "Leak scan: {left} values left in {} columns. {} values that the rules removed or changed were looked for, whole and inside longer text, in {} cells of {} tables.",
        text(&scan["columns_scanned"]),
        text(&scan["values_fingerprinted"]),
        text(&scan["cells_scanned"]),
        text(&scan["tables_scanned"]),
    )));
    if !remaining.is_empty() {
        out.push(Block::Table {
            headers: vec!["Table", "Column", "Values holding a sanitized value"],
            rows: remaining
                .iter()
                .map(|r| vec![text(&r["table"]), text(&r["column"]), text(&r["values"])])
                .collect(),
        });
    }
    list(out, "Not searched ([leak_scan] ignore):", scan, "ignored");
}

fn section_hooks(out: &mut Vec<Block>, hooks: &Value) {
    out.push(Block::Heading("Hooks".into()));
    let rows = hooks
        .as_array()
        .map(|list| {
            list.iter()
                .map(|h| {
                    vec![
                        text(&h["name"]),
                        text(&h["when"]),
                        text(&h["outcome"]),
                        text(&h["rows"]),
                        h["seconds"]
                            .as_f64()
                            .map_or("-".into(), |s| format!("{s:.2} s")),
                        text(&h["error"]),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    out.push(Block::Table {
        headers: vec!["Hook", "When", "Outcome", "Rows", "Duration", "Error"],
        rows,
    });
}

fn section_health(out: &mut Vec<Block>, health: &Value) {
    out.push(Block::Heading("Health".into()));
    let findings = items(health, "findings");
    if findings.is_empty() {
        out.push(Block::Paragraph("No invalid objects found.".into()));
    } else {
        out.push(Block::Table {
            headers: vec![
                "Kind",
                "Object",
                "Detail",
                "Repair",
                "Repaired",
                "What to do",
            ],
            rows: findings
                .iter()
                .map(|f| {
                    vec![
                        text(&f["kind"]),
                        text(&f["object"]),
                        text(&f["detail"]),
                        text(&f["repair"]),
                        text(&f["repaired"]),
                        text(&f["what_to_do"]),
                    ]
                })
                .collect(),
        });
    }
    list(out, "Notes:", health, "notes");
}

fn section_compare(out: &mut Vec<Block>, compare: &Value) {
    out.push(Block::Heading("Compare with production".into()));
    let differences = items(compare, "differences");
    if differences.is_empty() {
        out.push(Block::Paragraph("No difference.".into()));
    } else {
        out.push(Block::Table {
            headers: vec!["Class", "Kind", "Object", "What", "Why"],
            rows: differences
                .iter()
                .map(|d| {
                    vec![
                        text(&d["class"]),
                        text(&d["kind"]),
                        text(&d["object"]),
                        text(&d["what"]),
                        text(&d["reason"]),
                    ]
                })
                .collect(),
        });
    }
    list(out, "Notes:", compare, "notes");
}

fn section_links(out: &mut Vec<Block>, links: &Value) {
    out.push(Block::Heading("Links".into()));
    if let Some(why) = links.get("no_link_objects").and_then(Value::as_str) {
        out.push(Block::Paragraph(why.into()));
    }
    let found = items(links, "links");
    if !found.is_empty() {
        out.push(Block::Table {
            headers: vec!["Kind", "Object", "Verdict", "Acceptance", "Where", "Why"],
            rows: found
                .iter()
                .map(|l| {
                    vec![
                        text(&l["kind"]),
                        text(&l["object"]),
                        text(&l["verdict"]),
                        text(&l["acceptance"]["state"]),
                        text(&l["where_found"]),
                        text(&l["why"]),
                    ]
                })
                .collect(),
        });
    }
    list(out, "Notes:", links, "notes");
}
