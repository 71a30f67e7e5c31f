//! `vault inspect`: what a vault holds, read from its plaintext structure without a key.
//!
//! Nothing here is verified beyond what opening the file checks; `vault check`
//! verifies. The JSON field names are stable: scripts may rely on them.

use std::io::Write;

use serde::Serialize;
use vault_format::{SlotKind, Vault};

use crate::cli::InspectArgs;
use crate::exit::{Exit, ToolError};
use crate::units;

/// The whole report; `--json` prints exactly this.
#[derive(Debug, Serialize)]
pub struct Report {
    pub path: String,
    pub format_version: u16,
    pub vault_id: String,
    /// RFC 3339, UTC; `null` when the header holds a time outside the calendar.
    pub created: Option<String>,
    pub created_unix: i64,
    pub tool_version: String,
    pub source: String,
    pub chunk_size: u32,
    /// The Ed25519 public key that checks the vault's signed run reports
    /// (hex); `null` for a vault of format version 1, which has none.
    pub public_key: Option<String>,
    /// Whether the manifest (the commit record) is present.
    pub committed: bool,
    pub streams: Vec<StreamView>,
    /// The logins kept by `[roles]`, by name (their definitions are encrypted).
    pub kept_roles: Vec<String>,
    pub totals: Totals,
    pub key_slots: Vec<SlotView>,
}

#[derive(Debug, Serialize)]
pub struct StreamView {
    pub index: u32,
    pub name: String,
    pub rows: u64,
    pub chunks: u64,
    /// Bytes before compression and encryption.
    pub plain_bytes: u64,
    /// Bytes of ciphertext in the file, authentication tags included.
    pub stored_bytes: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct Totals {
    pub streams: u64,
    pub rows: u64,
    pub chunks: u64,
    pub plain_bytes: u64,
    pub stored_bytes: u64,
}

#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SlotView {
    /// Argon2id costs: passes, memory in KiB, lanes.
    Passphrase {
        slot: u32,
        t_cost: u32,
        m_cost_kib: u32,
        parallelism: u32,
    },
    /// The key file's 8-byte fingerprint in hex, as `vault keygen` prints it.
    KeyFile { slot: u32, fingerprint: String },
}

pub fn run(args: &InspectArgs, out: &mut dyn Write) -> Result<Exit, ToolError> {
    super::require_file(&args.file)?;
    let report = report(&Vault::open(&args.file)?);
    if args.json {
        crate::exit::write_json(out, &report)?;
    } else {
        write_text(&report, out)?;
    }
    Ok(Exit::Success)
}

/// What `inspect` shows of an opened vault.
pub fn report(vault: &Vault) -> Report {
    let header = vault.header();
    let streams: Vec<StreamView> = vault
        .streams()
        .iter()
        .map(|s| StreamView {
            index: s.index,
            name: s.name.clone(),
            rows: s.row_count,
            chunks: s.chunk_count,
            plain_bytes: s.plain_len,
            stored_bytes: s.stored_len,
        })
        .collect();
    let mut totals = Totals::default();
    for s in &streams {
        totals.streams += 1;
        totals.rows = totals.rows.saturating_add(s.rows);
        totals.chunks = totals.chunks.saturating_add(s.chunks);
        totals.plain_bytes = totals.plain_bytes.saturating_add(s.plain_bytes);
        totals.stored_bytes = totals.stored_bytes.saturating_add(s.stored_bytes);
    }
    let key_slots = vault
        .slots()
        .iter()
        .map(|slot| match &slot.kind {
            SlotKind::Passphrase { kdf, .. } => SlotView::Passphrase {
                slot: slot.number,
                t_cost: kdf.t_cost,
                m_cost_kib: kdf.m_cost_kib,
                parallelism: kdf.parallelism,
            },
            SlotKind::KeyFile { fingerprint, .. } => SlotView::KeyFile {
                slot: slot.number,
                fingerprint: hex::encode(fingerprint),
            },
        })
        .collect();
    Report {
        path: vault.path().display().to_string(),
        format_version: header.format_version,
        vault_id: hex::encode(header.vault_id),
        created: units::rfc3339(header.created_unix),
        created_unix: header.created_unix,
        tool_version: header.tool_version.clone(),
        source: header.source.clone(),
        chunk_size: header.chunk_size,
        public_key: header.public_key.map(|key| key.to_hex()),
        committed: vault.is_committed(),
        streams,
        kept_roles: crate::roles::kept_in(vault),
        totals,
        key_slots,
    }
}

fn write_text(r: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    let or_unknown = |s: &str| {
        if s.is_empty() {
            "(not recorded)".to_owned()
        } else {
            units::printable(s)
        }
    };
    let created = r
        .created
        .clone()
        .unwrap_or_else(|| format!("invalid time (unix {})", r.created_unix));
    let state = if r.committed {
        "committed"
    } else {
        "INCOMPLETE: no manifest, the writer never finished; do not restore from it"
    };
    writeln!(out, "vault        {}", r.path)?;
    writeln!(out, "format       version {}", r.format_version)?;
    writeln!(out, "vault id     {}", r.vault_id)?;
    writeln!(out, "created      {created}")?;
    writeln!(out, "written by   {}", or_unknown(&r.tool_version))?;
    writeln!(out, "source       {}", or_unknown(&r.source))?;
    writeln!(out, "chunk size   {}", units::bytes(r.chunk_size.into()))?;
    match &r.public_key {
        Some(key) => writeln!(out, "public key   {key}")?,
        None => writeln!(
            out,
            "public key   none (format version 1: its reports are verified with the vault's key)"
        )?,
    }
    writeln!(out, "state        {state}")?;
    if !r.kept_roles.is_empty() {
        let names: Vec<String> = r.kept_roles.iter().map(|n| units::printable(n)).collect();
        writeln!(out, "kept logins  {}", names.join(", "))?;
    }
    writeln!(out)?;
    write_streams(r, out)?;
    writeln!(out)?;
    writeln!(out, "key slots ({})", r.key_slots.len())?;
    for slot in &r.key_slots {
        match slot {
            SlotView::Passphrase {
                slot,
                t_cost,
                m_cost_kib,
                parallelism,
            } => writeln!(
                out,
                "  slot {slot}  passphrase  argon2id t={t_cost} m={} p={parallelism}",
                units::bytes(u64::from(*m_cost_kib) * 1024)
            )?,
            SlotView::KeyFile { slot, fingerprint } => {
                writeln!(out, "  slot {slot}  key file    fingerprint {fingerprint}")?
            }
        }
    }
    Ok(())
}

fn write_streams(r: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "streams ({})", r.streams.len())?;
    if r.streams.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = r
        .streams
        .iter()
        .map(|s| units::printable(&s.name))
        .collect();
    let name_width = names
        .iter()
        .map(|name| name.chars().count())
        .chain(["name".len(), "total".len()])
        .max()
        .unwrap_or(0);
    let index_width = r.streams.len().saturating_sub(1).to_string().len().max(1);
    writeln!(
        out,
        "  {:>index_width$}  {:<name_width$}  {:>12}  {:>8}  {:>10}  {:>10}",
        "#", "name", "rows", "chunks", "plain", "stored"
    )?;
    for (s, name) in r.streams.iter().zip(&names) {
        writeln!(
            out,
            "  {:>index_width$}  {:<name_width$}  {:>12}  {:>8}  {:>10}  {:>10}",
            s.index,
            name,
            s.rows,
            s.chunks,
            units::bytes(s.plain_bytes),
            units::bytes(s.stored_bytes)
        )?;
    }
    let t = &r.totals;
    writeln!(
        out,
        "  {:>index_width$}  {:<name_width$}  {:>12}  {:>8}  {:>10}  {:>10}",
        "",
        "total",
        t.rows,
        t.chunks,
        units::bytes(t.plain_bytes),
        units::bytes(t.stored_bytes)
    )
}
