//! Stable pseudonyms: the kinds a `pseudonymize` rule names, the key they are derived under, and the reference derivation that every engine reproduces byte for byte.
//!
//! A value becomes a pseudonym through HMAC-SHA256 under the key of
//! `[pseudonym] key_file`, over `kind ":" value` (the value's UTF-8 text;
//! a date as `YYYY-MM-DD`). The 32 bytes of that hash pick the output: a
//! name from the lists of `names.rs`, the digits and letters of a pattern,
//! the days of a date shift. PostgreSQL and MariaDB compute the same hash
//! in SQL (`db/<engine>/pseudonymize.rs`); SQLite calls [`derive()`]. The
//! rules are in docs/pseudonyms.md; a change here is a change to every
//! engine's SQL and to that page.

mod names;
mod pattern;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::exit::ToolError;
pub use names::{FIRST, LAST};
pub use pattern::{ALNUM, MAX_PLACEHOLDERS, Pattern, Piece};

/// The pattern of a `phone` pseudonym given without one.
pub const DEFAULT_PHONE: &str = "555-###-####";

/// The domain of every `email` pseudonym (reserved by RFC 2606).
pub const EMAIL_DOMAIN: &str = "example.org";

/// The widest date shift, in days either way.
pub const MAX_SHIFT_DAYS: u32 = 3650;

/// The shortest key file, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// What one column becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `Given Family`.
    Name,
    FirstName,
    LastName,
    /// `given.family123456@example.org`, in lower case.
    Email,
    Phone(Pattern),
    Identifier(Pattern),
    /// The date moved by 1 to `days` days, earlier or later.
    DateShift {
        days: u32,
    },
}

/// A `pseudonymize` entry as vault.toml writes it: `"name"` or
/// `{ kind = "identifier", pattern = "MRN########" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PseudonymSpec {
    Kind(String),
    Detailed(DetailedSpec),
}

/// The table form of a `pseudonymize` entry.
#[derive(Debug, Clone, Deserialize)]
pub struct DetailedSpec {
    pub kind: String,
    pub pattern: Option<String>,
    pub days: Option<i64>,
    /// Any other key: refused by [`Kind::from_spec`] with its name.
    #[serde(flatten)]
    pub other: BTreeMap<String, toml::Value>,
}

const KINDS: &str = "name, first_name, last_name, email, phone, identifier, date_shift";

impl Kind {
    /// The kind an entry names; the message says what is wrong.
    pub fn from_spec(spec: &PseudonymSpec) -> Result<Kind, String> {
        let (kind, pattern, days) = match spec {
            PseudonymSpec::Kind(kind) => (kind.as_str(), None, None),
            PseudonymSpec::Detailed(d) => {
                if let Some(key) = d.other.keys().next() {
                    return Err(format!(
                        "unknown key `{key}`; an entry takes kind, pattern (identifier, phone) and days (date_shift)"
                    ));
                }
                (d.kind.as_str(), d.pattern.as_deref(), d.days)
            }
        };
        let takes_pattern = matches!(kind, "identifier" | "phone");
        if pattern.is_some() && !takes_pattern {
            return Err(format!(
                "kind {kind} takes no pattern; only identifier and phone do"
            ));
        }
        if days.is_some() && kind != "date_shift" {
            return Err(format!("kind {kind} takes no days; only date_shift does"));
        }
        Ok(match kind {
            "name" => Kind::Name,
            "first_name" => Kind::FirstName,
            "last_name" => Kind::LastName,
            "email" => Kind::Email,
            "phone" => Kind::Phone(Pattern::parse(pattern.unwrap_or(DEFAULT_PHONE))?),
            "identifier" => match pattern {
                Some(pattern) => Kind::Identifier(Pattern::parse(pattern)?),
                None => {
                    return Err(
                        "kind identifier needs a pattern, for example { kind = \"identifier\", pattern = \"MRN########\" }"
                            .into(),
                    );
                }
            },
            "date_shift" => match days {
                Some(days) if (1..=i64::from(MAX_SHIFT_DAYS)).contains(&days) => {
                    Kind::DateShift { days: days as u32 }
                }
                Some(days) => {
                    return Err(format!(
                        "date_shift days = {days}: give a number of days from 1 to {MAX_SHIFT_DAYS}"
                    ));
                }
                None => {
                    return Err(
                        "kind date_shift needs days, for example { kind = \"date_shift\", days = 30 }"
                            .into(),
                    );
                }
            },
            other => return Err(format!("unknown kind \"{other}\"; one of {KINDS}")),
        })
    }

    /// The name hashed in front of the value: the same value gives
    /// unrelated outputs under two kinds.
    pub fn tag(&self) -> &'static str {
        match self {
            Kind::Name => "name",
            Kind::FirstName => "first_name",
            Kind::LastName => "last_name",
            Kind::Email => "email",
            Kind::Phone(_) => "phone",
            Kind::Identifier(_) => "identifier",
            Kind::DateShift { .. } => "date_shift",
        }
    }

    /// For the report: `identifier MRN########`, `date_shift 30 days`.
    pub fn describe(&self) -> String {
        match self {
            Kind::Phone(p) | Kind::Identifier(p) => format!("{} {}", self.tag(), p.text),
            Kind::DateShift { days } => format!("date_shift {days} days"),
            _ => self.tag().to_owned(),
        }
    }

    /// An anchored regular expression (no backslashes; PostgreSQL `~` and
    /// MariaDB `REGEXP` read it alike) that every output of the kind
    /// matches; `None` for a date, whose every value is a date.
    pub fn shape_regex(&self) -> Option<String> {
        let alternatives = |list: &[&str], lower: bool| {
            let names: Vec<String> = list
                .iter()
                .map(|n| match lower {
                    true => n.to_ascii_lowercase(),
                    false => (*n).to_owned(),
                })
                .collect();
            format!("({})", names.join("|"))
        };
        match self {
            Kind::Name => Some(format!(
                "^{} {}$",
                alternatives(&FIRST, false),
                alternatives(&LAST, false)
            )),
            Kind::FirstName => Some(format!("^{}$", alternatives(&FIRST, false))),
            Kind::LastName => Some(format!("^{}$", alternatives(&LAST, false))),
            Kind::Email => Some(format!(
                "^{}[.]{}[0-9]{{1,6}}@example[.]org$",
                alternatives(&FIRST, true),
                alternatives(&LAST, true)
            )),
            Kind::Phone(p) | Kind::Identifier(p) => Some(p.regex()),
            Kind::DateShift { .. } => None,
        }
    }
}

/// The key of `[pseudonym] key_file`, kept as HMAC-SHA256's two padded
/// blocks. No `Clone`, no derived `Debug`; wiped on drop.
pub struct PseudonymKey {
    inner: Zeroizing<[u8; 64]>,
    outer: Zeroizing<[u8; 64]>,
}

impl fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PseudonymKey(redacted)")
    }
}

impl PseudonymKey {
    /// The key made of `material` (HMAC's: hashed first when longer than a block).
    pub fn from_bytes(material: &[u8]) -> PseudonymKey {
        let mut block = Zeroizing::new([0u8; 64]);
        if material.len() > 64 {
            block[..32].copy_from_slice(&Sha256::digest(material));
        } else {
            block[..material.len()].copy_from_slice(material);
        }
        let mut inner = Zeroizing::new([0u8; 64]);
        let mut outer = Zeroizing::new([0u8; 64]);
        for i in 0..64 {
            inner[i] = block[i] ^ 0x36;
            outer[i] = block[i] ^ 0x5c;
        }
        PseudonymKey { inner, outer }
    }

    /// Reads the key file named by `[pseudonym] key_file`: it must exist,
    /// be readable by no other user, and hold at least [`MIN_KEY_BYTES`].
    /// Every problem is a usage error (exit 2) that names the path only.
    pub fn load(path: &Path) -> Result<PseudonymKey, ToolError> {
        let shown = path.display();
        let fix = format!(
            "create it with `head -c 32 /dev/urandom > {shown} && chmod 600 {shown}` (keep it: the same key gives the same pseudonyms), or correct [pseudonym] key_file; nothing was changed"
        );
        let meta = std::fs::metadata(path).map_err(|e| {
            ToolError::usage(format!(
                "cannot read the pseudonym key file {shown} ([pseudonym] key_file): {e}"
            ))
            .hint(fix.clone())
        })?;
        if !meta.is_file() {
            return Err(ToolError::usage(format!(
                "the pseudonym key file {shown} ([pseudonym] key_file) is not a file"
            ))
            .hint(fix));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o004 != 0 {
                return Err(ToolError::usage(format!(
                    "the pseudonym key file {shown} is readable by every user (mode {mode:04o}): anyone who reads it can tell which pseudonym stands for which patient"
                ))
                .hint(format!("`chmod 600 {shown}`, then run vault again; nothing was changed")));
            }
        }
        let material = Zeroizing::new(std::fs::read(path).map_err(|e| {
            ToolError::usage(format!(
                "cannot read the pseudonym key file {shown} ([pseudonym] key_file): {e}"
            ))
            .hint(fix.clone())
        })?);
        if material.len() < MIN_KEY_BYTES {
            return Err(ToolError::usage(format!(
                "the pseudonym key file {shown} holds {} bytes; it needs at least {MIN_KEY_BYTES} bytes of key material",
                material.len()
            ))
            .hint(fix));
        }
        Ok(PseudonymKey::from_bytes(&material))
    }

    /// The inner padded block (`key XOR 0x36...`), bound as a parameter.
    pub fn inner_pad(&self) -> &[u8] {
        &self.inner[..]
    }

    /// The outer padded block (`key XOR 0x5c...`), bound as a parameter.
    pub fn outer_pad(&self) -> &[u8] {
        &self.outer[..]
    }

    /// HMAC-SHA256 over `tag ":" text`.
    pub fn digest(&self, kind: &Kind, text: &str) -> [u8; 32] {
        let mut inner = Sha256::new();
        inner.update(&self.inner[..]);
        inner.update(kind.tag().as_bytes());
        inner.update(b":");
        inner.update(text.as_bytes());
        let mut outer = Sha256::new();
        outer.update(&self.outer[..]);
        outer.update(inner.finalize());
        outer.finalize().into()
    }
}

/// Two hash bytes as a number: the index of a name, a date's shift.
pub fn u16_at(hash: &[u8; 32], i: usize) -> usize {
    usize::from(hash[i]) * 256 + usize::from(hash[i + 1])
}

/// Three hash bytes as a number: an email's digits.
pub fn u24_at(hash: &[u8; 32], i: usize) -> usize {
    usize::from(hash[i]) * 65536 + usize::from(hash[i + 1]) * 256 + usize::from(hash[i + 2])
}

/// A date_shift's days for a hash: `s = u16 mod 2N`, then `s - N` when
/// `s < N`, else `s - N + 1`: from -N to N, never 0.
pub fn shift_days(hash: &[u8; 32], days: u32) -> i64 {
    let n = i64::from(days);
    let s = (u16_at(hash, 0) as i64) % (2 * n);
    if s < n { s - n } else { s - n + 1 }
}

/// Why a value has no pseudonym of its kind (SQLite only: the servers'
/// own types refuse such values before).
#[derive(Debug, PartialEq, Eq)]
pub struct NotADate;

/// The pseudonym of `value` under `key` (the reference every engine
/// reproduces). A date is `YYYY-MM-DD` optionally followed by a time,
/// which is kept.
pub fn derive(key: &PseudonymKey, kind: &Kind, value: &str) -> Result<String, NotADate> {
    if let Kind::DateShift { days } = kind {
        let (date, rest) = split_date(value).ok_or(NotADate)?;
        let text = format_date(date);
        let hash = key.digest(kind, &text);
        let shifted = date
            .checked_add(time::Duration::days(shift_days(&hash, *days)))
            .ok_or(NotADate)?;
        return Ok(format!("{}{rest}", format_date(shifted)));
    }
    let hash = key.digest(kind, value);
    let first = FIRST[u16_at(&hash, 0) % FIRST.len()];
    let last = LAST[u16_at(&hash, 2) % LAST.len()];
    Ok(match kind {
        Kind::Name => format!("{first} {last}"),
        Kind::FirstName => first.to_owned(),
        Kind::LastName => last.to_owned(),
        Kind::Email => format!(
            "{}.{}{}@{EMAIL_DOMAIN}",
            first.to_ascii_lowercase(),
            last.to_ascii_lowercase(),
            u24_at(&hash, 4) % 1_000_000
        ),
        Kind::Phone(p) | Kind::Identifier(p) => p.fill(&hash),
        Kind::DateShift { .. } => unreachable!("handled above"),
    })
}

fn split_date(value: &str) -> Option<(time::Date, &str)> {
    let head = value.get(..10)?;
    let bytes = head.as_bytes();
    if bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i32> {
        let part = &head[range];
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let month = time::Month::try_from(u8::try_from(number(5..7)?).ok()?).ok()?;
    let day = u8::try_from(number(8..10)?).ok()?;
    let date = time::Date::from_calendar_date(number(0..4)?, month, day).ok()?;
    Some((date, &value[10..]))
}

fn format_date(date: time::Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, Mac};

    fn key(byte: u8) -> PseudonymKey {
        PseudonymKey::from_bytes(&[byte; 32])
    }

    #[test]
    fn the_digest_is_hmac_sha256_over_kind_and_value() {
        for material in [vec![7u8; 32], vec![9u8; 100]] {
            let mut mac = Hmac::<Sha256>::new_from_slice(&material).unwrap();
            mac.update(b"email:ann@mail.example");
            let expected: [u8; 32] = mac.finalize().into_bytes().into();
            let key = PseudonymKey::from_bytes(&material);
            assert_eq!(key.digest(&Kind::Email, "ann@mail.example"), expected);
        }
    }

    #[test]
    fn same_key_same_output_other_key_other_output() {
        let a = derive(&key(1), &Kind::Name, "Ann Jansen").unwrap();
        assert_eq!(a, derive(&key(1), &Kind::Name, "Ann Jansen").unwrap());
        let others: Vec<String> = (2..6)
            .map(|k| derive(&key(k), &Kind::Name, "Ann Jansen").unwrap())
            .collect();
        assert!(others.iter().any(|o| *o != a), "{a} {others:?}");
        assert!(Kind::Name.shape_regex().is_some());
        let email = derive(&key(1), &Kind::Email, "ann@mail.example").unwrap();
        assert!(email.ends_with("@example.org"), "{email}");
    }

    #[test]
    fn a_date_moves_by_one_to_n_days_and_keeps_its_time() {
        let kind = Kind::DateShift { days: 3 };
        for day in 1..28 {
            let value = format!("2024-02-{day:02} 10:30:00");
            let out = derive(&key(4), &kind, &value).unwrap();
            assert!(out.ends_with(" 10:30:00"), "{out}");
            let (before, _) = split_date(&value).unwrap();
            let (after, _) = split_date(&out).unwrap();
            let moved = (after - before).whole_days();
            assert!(moved != 0 && moved.abs() <= 3, "{value} -> {out}");
        }
        assert_eq!(derive(&key(4), &kind, "2024-02-30"), Err(NotADate));
        assert_eq!(derive(&key(4), &kind, "yesterday"), Err(NotADate));
    }

    #[test]
    fn kinds_are_checked_with_a_message_that_says_what_to_write() {
        let spec = |text: &str| -> Result<Kind, String> {
            #[derive(Deserialize)]
            struct One {
                c: PseudonymSpec,
            }
            Kind::from_spec(&toml::from_str::<One>(&format!("c = {text}")).unwrap().c)
        };
        assert_eq!(spec("\"email\""), Ok(Kind::Email));
        assert!(
            spec("\"nickname\"")
                .unwrap_err()
                .contains("unknown kind \"nickname\"")
        );
        assert!(
            spec("{ kind = \"identifier\" }")
                .unwrap_err()
                .contains("needs a pattern")
        );
        assert!(
            spec("{ kind = \"date_shift\", days = 0 }")
                .unwrap_err()
                .contains("from 1 to")
        );
        assert!(
            spec("{ kind = \"name\", days = 3 }")
                .unwrap_err()
                .contains("takes no days")
        );
        assert!(
            spec("{ kind = \"name\", colour = 3 }")
                .unwrap_err()
                .contains("`colour`")
        );
        assert_eq!(
            spec("{ kind = \"identifier\", pattern = \"MRN####\" }")
                .unwrap()
                .describe(),
            "identifier MRN####"
        );
    }

    #[test]
    fn the_key_never_shows_in_debug() {
        assert_eq!(format!("{:?}", key(0x41)), "PseudonymKey(redacted)");
    }
}
