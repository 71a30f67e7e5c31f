//! The SQL that hashes rows inside the server: the exact text of a row and of a key, a key's bucket, a row's 64-bit hash.
//!
//! A value's text depends on its type: numbers, temporal values, BIT, INET
//! and UUID as their text (`CAST(... AS CHAR)`, exact: DECIMAL keeps its
//! scale, DATETIME(6) its microseconds, TIMESTAMP is read in the session's
//! UTC), everything else (strings, binary strings, BLOB, JSON, ENUM, SET,
//! geometry) as the hex of its bytes. Each is cast to a binary string, so
//! no collation can clash, NULL becomes `N` (which no hex or number text
//! is), and the column texts are joined with commas (which none holds).
//! The hash is MD5's first 64 bits; a bucket the first 32 bits of the key
//! text's MD5 modulo the bucket count; a checksum the DECIMAL sum of the
//! row hashes (it cannot overflow), as text.

use std::collections::BTreeMap;

use super::super::quote_ident;

/// Types whose `CAST(... AS CHAR)` text is exact and holds no comma.
const AS_TEXT: [&str; 20] = [
    "tinyint",
    "smallint",
    "mediumint",
    "int",
    "integer",
    "bigint",
    "decimal",
    "numeric",
    "float",
    "double",
    "real",
    "year",
    "date",
    "time",
    "datetime",
    "timestamp",
    "inet4",
    "inet6",
    "uuid",
    "boolean",
];

/// Types whose key text is hex (their bytes need not be text).
const BINARY: [&str; 6] = [
    "binary",
    "varbinary",
    "tinyblob",
    "blob",
    "mediumblob",
    "longblob",
];

/// One column's value as exact text, `N` for NULL, as a binary string.
fn value_text(column: &str, data_type: &str) -> String {
    let c = quote_ident(column);
    let text = match data_type {
        "bit" => format!("CAST({c} + 0 AS CHAR)"),
        t if AS_TEXT.contains(&t) => format!("CAST({c} AS CHAR)"),
        _ => format!("HEX({c})"),
    };
    format!("CAST(IFNULL({text}, 'N') AS BINARY)")
}

/// The text of a row's `columns` (in the order given).
pub fn row_text(columns: &[String], types: &BTreeMap<String, String>) -> String {
    if columns.is_empty() {
        return "CAST('' AS BINARY)".into();
    }
    let parts: Vec<String> = columns
        .iter()
        .map(|c| value_text(c, types.get(c).map_or("", String::as_str)))
        .collect();
    format!("CONCAT_WS(',', {})", parts.join(", "))
}

/// The text of a key as the report shows it: `(5)`, `('a''b',2)`, `(0x00FF)`.
pub fn key_text(key: &[String], types: &BTreeMap<String, String>) -> String {
    let parts: Vec<String> = key
        .iter()
        .map(|column| {
            let c = quote_ident(column);
            let text = match types.get(column).map_or("", String::as_str) {
                "bit" => format!("CAST({c} + 0 AS CHAR)"),
                t if AS_TEXT.contains(&t) => format!("CAST({c} AS CHAR)"),
                t if BINARY.contains(&t) => format!("CONCAT('0x', HEX({c}))"),
                _ => format!("QUOTE({c})"),
            };
            format!("CAST(IFNULL({text}, 'NULL') AS BINARY)")
        })
        .collect();
    format!("CONCAT('(', CONCAT_WS(',', {}), ')')", parts.join(", "))
}

/// A row's 64-bit hash as an exact DECIMAL.
pub fn row_hash(row_text: &str) -> String {
    format!("CAST(CONV(LEFT(MD5({row_text}), 16), 16, 10) AS DECIMAL(20, 0))")
}

/// The bucket of a row: the first 32 bits of its key text's MD5 modulo `buckets`.
pub fn bucket(key_text: Option<&str>, buckets: u32) -> String {
    match key_text {
        Some(key) if buckets > 1 => format!(
            "CAST(CAST(CONV(LEFT(MD5({key}), 8), 16, 10) AS UNSIGNED) % {buckets} AS SIGNED)"
        ),
        _ => "0".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_choose_their_text() {
        let types: BTreeMap<String, String> = [("a", "int"), ("b", "varbinary"), ("c", "bit")]
            .into_iter()
            .map(|(c, t)| (c.to_owned(), t.to_owned()))
            .collect();
        let row = row_text(&["a".into(), "b".into(), "c".into(), "d".into()], &types);
        assert!(row.contains("CAST(`a` AS CHAR)"), "{row}");
        assert!(row.contains("HEX(`b`)"), "{row}");
        assert!(row.contains("CAST(`c` + 0 AS CHAR)"), "{row}");
        assert!(row.contains("HEX(`d`)"), "{row}");
        let key = key_text(&["b".into(), "d".into()], &types);
        assert!(key.contains("CONCAT('0x', HEX(`b`))"), "{key}");
        assert!(key.contains("QUOTE(`d`)"), "{key}");
        assert_eq!(bucket(Some("k"), 1), "0");
        assert_eq!(bucket(None, 8), "0");
    }
}
