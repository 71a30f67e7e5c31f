//! How figures are shown to people: byte sizes in binary units, times in RFC 3339 UTC, text made safe for a terminal.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// `512 B`, `1.5 KiB`, `3.0 MiB`, ...: one decimal above 1 KiB.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Now, as RFC 3339 UTC (`unknown` if the clock cannot be read so).
pub fn now() -> String {
    rfc3339(OffsetDateTime::now_utc().unix_timestamp()).unwrap_or_else(|| "unknown".into())
}

/// Seconds since the Unix epoch as RFC 3339 UTC (`2025-01-02T03:04:05Z`),
/// or `None` when the value is outside the calendar.
pub fn rfc3339(unix_seconds: i64) -> Option<String> {
    OffsetDateTime::from_unix_timestamp(unix_seconds)
        .ok()?
        .format(&Rfc3339)
        .ok()
}

/// Text from a vault file (stream names, source, messages that quote them)
/// with control characters escaped, so that a hostile file cannot send
/// escape sequences to the operator's terminal.
pub fn printable(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1024), "1.0 KiB");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(64 * 1024 * 1024), "64.0 MiB");
        assert_eq!(bytes(u64::MAX), "16.0 EiB");
    }

    #[test]
    fn times_are_utc() {
        assert_eq!(rfc3339(0).unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_790_000_000).unwrap(), "2026-09-21T14:13:20Z");
        assert_eq!(rfc3339(i64::MAX), None);
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(printable("camis.app_user"), "camis.app_user");
        assert_eq!(printable("a\u{1b}[2Jb\n"), "a\\u{1b}[2Jb\\n");
    }
}
