//! The capture on MariaDB/MySQL: one read-only consistent snapshot, each table's rows streamed through the binary protocol into "vault-rows-v1".
//!
//! The binary protocol carries each value in its stored form: integers and
//! floats as machine numbers (FLOAT and DOUBLE exact to the bit, BIGINT
//! UNSIGNED beyond i64 as decimal text), DECIMAL, ENUM, SET and JSON as the
//! server spells them, dates and times as fields that are written back as
//! ISO text with microseconds, and strings as bytes. Binary types (BINARY,
//! VARBINARY, BLOBs, BIT, spatial types) are blobs; everything else is UTF-8
//! text, since the session's character set is utf8mb4.

use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::TryStreamExt;
use sqlx::mysql::{MySqlConnection, MySqlRow};
use sqlx::{AssertSqlSafe, Column as _, Row, TypeInfo};
use vault_format::{StreamWriter, VaultWriter};

use super::link_check::{CAPTURED_KIND, CapturedLinks, federated_tables, read_servers};
use super::{mysql_error, quote_ident};
use crate::engine::CapturedTable;
use crate::exit::ToolError;
use crate::rowcodec::{self, Value};

/// How many encoded bytes gather before they go to the vault stream.
const FLUSH_AT: usize = 64 * 1024;

/// Opens the snapshot every table of a capture is read in.
pub(super) async fn begin_snapshot(conn: &mut MySqlConnection) -> Result<(), ToolError> {
    for sql in [
        "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
        "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
    ] {
        sqlx::raw_sql(sql)
            .execute(&mut *conn)
            .await
            .map_err(|e| mysql_error("", e))?;
    }
    Ok(())
}

/// Captures `mysql.servers` and the database's FEDERATED tables into the
/// "mysql-servers" stream, for `vault links` to compare with after the
/// refresh. The stream is encrypted like every other: server passwords
/// never leave it. When `mysql.servers` cannot be read, no stream is
/// written and the line says why.
pub(super) async fn capture_links(
    conn: &mut MySqlConnection,
    database: &str,
    writer: &VaultWriter,
) -> Result<String, ToolError> {
    let servers = match read_servers(conn).await? {
        Ok(servers) => servers,
        Err(why) => return Ok(format!("links: not captured: {why}")),
    };
    let federated_tables = federated_tables(conn, database).await?;
    let line = format!(
        "links: {} servers, {} FEDERATED tables",
        servers.len(),
        federated_tables.len()
    );
    let document = CapturedLinks {
        servers,
        federated_tables,
    };
    let bytes = serde_json::to_vec(&document).expect("the links serialize");
    let mut stream = writer.stream(
        "extras/mysql-servers",
        serde_json::json!({"kind": CAPTURED_KIND, "encoding": "json"}),
    )?;
    stream.write_bytes(&bytes)?;
    stream.add_rows((document.servers.len() + document.federated_tables.len()) as u64);
    stream.finish()?;
    Ok(line)
}

/// How one column's values are read off the wire and written to the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire {
    Signed,
    Unsigned,
    Float,
    Double,
    /// DATE, DATETIME, TIMESTAMP.
    DateTime {
        date_only: bool,
    },
    Time,
    /// Stored as bytes (binary strings, BIT, spatial types).
    Bytes,
    /// Everything else: text in utf8mb4.
    Text,
}

/// Whether a declared type (information_schema's column_type) holds bytes rather than characters.
pub(super) fn is_binary_type(data_type: &str) -> bool {
    let t = data_type.to_ascii_lowercase();
    [
        "binary",
        "varbinary",
        "tinyblob",
        "blob",
        "mediumblob",
        "longblob",
        "bit",
        "geometry",
        "point",
        "linestring",
        "polygon",
        "multipoint",
        "multilinestring",
        "multipolygon",
        "geometrycollection",
        "geomcollection",
    ]
    .iter()
    .any(|b| t == *b || t.starts_with(&format!("{b}(")) || t.starts_with(&format!("{b} ")))
}

fn wire_of(wire_name: &str, declared: &str) -> Wire {
    let unsigned = declared.to_ascii_lowercase().contains("unsigned");
    match wire_name.trim_end_matches(" UNSIGNED") {
        "TINYINT" | "BOOLEAN" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" if unsigned => {
            Wire::Unsigned
        }
        "TINYINT" | "BOOLEAN" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" => Wire::Signed,
        "YEAR" => Wire::Unsigned,
        "FLOAT" => Wire::Float,
        "DOUBLE" => Wire::Double,
        "DATE" => Wire::DateTime { date_only: true },
        "DATETIME" | "TIMESTAMP" => Wire::DateTime { date_only: false },
        "TIME" => Wire::Time,
        _ if is_binary_type(declared) => Wire::Bytes,
        _ => Wire::Text,
    }
}

/// `SELECT columns FROM table WHERE (filter) ORDER BY key`, streamed into
/// `out` row by row; returns the row count. Stops with an error once
/// `cancel` is set (another connection of a parallel capture failed).
pub(super) async fn capture_rows(
    conn: &mut MySqlConnection,
    schema: &str,
    plan: &CapturedTable,
    out: &mut StreamWriter,
    cancel: &AtomicBool,
) -> Result<u64, ToolError> {
    let at = plan.table.to_string();
    // information_schema lists only the columns the account may read: a
    // column privilege would leave the others out of the vault unseen.
    // Reading every column proves that none is hidden.
    let every_column = format!(
        "SELECT * FROM {}.{} LIMIT 0",
        quote_ident(schema),
        quote_ident(&plan.table.name)
    );
    if let Err(e) = sqlx::query(AssertSqlSafe(every_column))
        .persistent(false)
        .execute(&mut *conn)
        .await
    {
        let denied = e
            .as_database_error()
            .and_then(|d| d.code())
            .is_some_and(|code| code == "42000");
        let error = mysql_error(&at, e);
        return Err(match denied {
            true => ToolError {
                message: format!(
                    "{}: the capturing account may not read every column of this table, and a vault without them would lose them at restore",
                    error.message
                ),
                ..error
            }
            .hint("capture as an account with SELECT on the whole table"),
            false => error,
        });
    }
    let columns: Vec<String> = plan.columns.iter().map(|c| quote_ident(&c.name)).collect();
    let mut sql = format!(
        "SELECT {} FROM {}.{}",
        columns.join(", "),
        quote_ident(schema),
        quote_ident(&plan.table.name)
    );
    if let Some(filter) = &plan.filter {
        sql.push_str(&format!(" WHERE ({filter})"));
    }
    if !plan.key.is_empty() {
        let key: Vec<String> = plan.key.iter().map(|k| quote_ident(k)).collect();
        sql.push_str(&format!(" ORDER BY {}", key.join(", ")));
    }
    let filtered = |e| {
        let error = mysql_error(&at, e);
        match &plan.filter {
            Some(_) => error.hint("check the table's `where` in the configuration"),
            None => error,
        }
    };
    let mut rows = sqlx::query(AssertSqlSafe(sql))
        .persistent(false)
        .fetch(&mut *conn);
    let mut wires: Vec<Wire> = Vec::new();
    let mut count = 0u64;
    let mut buf = Vec::with_capacity(FLUSH_AT * 2);
    // Bytes of large values written straight to `out` since the last check.
    let mut straight = 0usize;
    let mut first = true;
    while let Some(row) = rows.try_next().await.map_err(|e| {
        if first {
            filtered(e)
        } else {
            mysql_error(&at, e)
        }
    })? {
        first = false;
        if wires.is_empty() {
            wires = row
                .columns()
                .iter()
                .zip(&plan.columns)
                .map(|(c, declared)| wire_of(c.type_info().name(), &declared.data_type))
                .collect();
        }
        straight += encode_row(&row, &wires, &mut buf, out).map_err(|e| match e {
            Encoding::Value(e) => ToolError::failed(format!("table {at}: {e}")),
            Encoding::Vault(e) => e.into(),
        })?;
        count += 1;
        if buf.len() + straight >= FLUSH_AT {
            straight = 0;
            crate::interrupt::check(&format!("while capturing table {at}"))?;
            if cancel.load(Ordering::SeqCst) {
                return Err(ToolError::failed(format!(
                    "table {at}: stopped because another table failed"
                )));
            }
            out.write_bytes(&buf)?;
            buf.clear();
        }
    }
    out.write_bytes(&buf)?;
    out.add_rows(count);
    Ok(count)
}

/// Why a row could not be written.
enum Encoding {
    /// A value the wire format does not allow.
    Value(String),
    Vault(vault_format::VaultError),
}

impl From<String> for Encoding {
    fn from(e: String) -> Self {
        Encoding::Value(e)
    }
}

impl From<&str> for Encoding {
    fn from(e: &str) -> Self {
        Encoding::Value(e.to_owned())
    }
}

/// Appends one row's values to `buf` in the row encoding. A string or
/// blob of [`FLUSH_AT`] bytes or more goes from the row straight to `out`
/// (after what `buf` holds), never copied into `buf`. Returns the bytes
/// written that way.
fn encode_row(
    row: &MySqlRow,
    wires: &[Wire],
    buf: &mut Vec<u8>,
    out: &mut StreamWriter,
) -> Result<usize, Encoding> {
    let mut straight = 0usize;
    let mut put_string = |buf: &mut Vec<u8>, tag: u8, bytes: &[u8]| -> Result<(), Encoding> {
        if bytes.len() < FLUSH_AT {
            return Ok(put_bytes(buf, tag, bytes)?);
        }
        put_header(buf, tag, bytes.len())?;
        out.write_bytes(buf).map_err(Encoding::Vault)?;
        buf.clear();
        out.write_bytes(bytes).map_err(Encoding::Vault)?;
        straight += bytes.len();
        Ok(())
    };
    let mut text = Vec::with_capacity(32);
    for (i, wire) in wires.iter().enumerate() {
        // The raw bytes, absent for NULL only (sqlx's own NULL test would
        // also call a zero date NULL).
        let raw: Option<&[u8]> = row.try_get_unchecked::<&[u8], _>(i).ok();
        let Some(bytes) = raw else {
            put(buf, &Value::Null)?;
            continue;
        };
        match wire {
            Wire::Signed => put(buf, &Value::Integer(signed(bytes)?))?,
            Wire::Unsigned => {
                let v = unsigned(bytes)?;
                match i64::try_from(v) {
                    Ok(v) => put(buf, &Value::Integer(v))?,
                    Err(_) => put_string(buf, TEXT, v.to_string().as_bytes())?,
                }
            }
            Wire::Float => {
                let word: [u8; 4] = bytes.try_into().map_err(|_| "a FLOAT is not 4 bytes")?;
                put(buf, &Value::Real(f64::from(f32::from_le_bytes(word))))?
            }
            Wire::Double => {
                let word: [u8; 8] = bytes.try_into().map_err(|_| "a DOUBLE is not 8 bytes")?;
                put(buf, &Value::Real(f64::from_le_bytes(word)))?
            }
            Wire::DateTime { date_only } => {
                date_time_text(bytes, *date_only, &mut text)?;
                put_string(buf, TEXT, &text)?
            }
            Wire::Time => {
                time_text(bytes, &mut text)?;
                put_string(buf, TEXT, &text)?
            }
            Wire::Bytes => put_string(buf, BLOB, bytes)?,
            Wire::Text if std::str::from_utf8(bytes).is_ok() => put_string(buf, TEXT, bytes)?,
            // Not UTF-8 (a column whose characters utf8mb4 cannot name): kept as bytes.
            Wire::Text => put_string(buf, BLOB, bytes)?,
        }
    }
    Ok(straight)
}

fn put(buf: &mut Vec<u8>, value: &Value) -> Result<(), String> {
    rowcodec::write_value(buf, value).map_err(|e| e.to_string())
}

/// rowcodec's tags for text and blob values.
const TEXT: u8 = 3;
const BLOB: u8 = 4;

/// Writes a text or blob value as `rowcodec` does, without copying it into
/// an owned [`Value`] first.
fn put_bytes(buf: &mut Vec<u8>, tag: u8, bytes: &[u8]) -> Result<(), String> {
    put_header(buf, tag, bytes.len())?;
    buf.extend_from_slice(bytes);
    Ok(())
}

/// The tag and length that come before a text or blob value's bytes.
fn put_header(buf: &mut Vec<u8>, tag: u8, len: usize) -> Result<(), String> {
    let len = u32::try_from(len)
        .ok()
        .filter(|&n| n <= rowcodec::MAX_VALUE_LEN)
        .ok_or("a value is larger than 1 GiB")?;
    buf.push(tag);
    buf.extend_from_slice(&len.to_be_bytes());
    Ok(())
}

fn signed(bytes: &[u8]) -> Result<i64, String> {
    let n = bytes.len();
    if n == 0 || n > 8 {
        return Err(format!("an integer of {n} bytes"));
    }
    let mut word = [0u8; 8];
    word[..n].copy_from_slice(bytes);
    let shift = 64 - 8 * n as u32;
    Ok((i64::from_le_bytes(word) << shift) >> shift)
}

fn unsigned(bytes: &[u8]) -> Result<u64, String> {
    let n = bytes.len();
    if n == 0 || n > 8 {
        return Err(format!("an integer of {n} bytes"));
    }
    let mut word = [0u8; 8];
    word[..n].copy_from_slice(bytes);
    Ok(u64::from_le_bytes(word))
}

/// Appends `value` in decimal, zero-padded to `width` digits.
fn push_number(out: &mut Vec<u8>, value: u64, width: usize) {
    let mut digits = [0u8; 20];
    let mut n = value;
    let mut len = 0;
    while n > 0 || len == 0 {
        digits[len] = b'0' + (n % 10) as u8;
        n /= 10;
        len += 1;
    }
    out.extend(std::iter::repeat_n(b'0', width.saturating_sub(len)));
    out.extend(digits[..len].iter().rev());
}

/// Appends `HH:MM:SS[.ffffff]` (hours of any width, at least two digits).
fn push_clock(out: &mut Vec<u8>, hours: u64, minutes: u8, seconds: u8, micros: u32) {
    push_number(out, hours, 2);
    out.push(b':');
    push_number(out, u64::from(minutes), 2);
    out.push(b':');
    push_number(out, u64::from(seconds), 2);
    if micros > 0 {
        out.push(b'.');
        push_number(out, u64::from(micros), 6);
    }
}

/// A binary-protocol DATE/DATETIME/TIMESTAMP (length byte first) as ISO
/// text, written into `out` (cleared first).
fn date_time_text(bytes: &[u8], date_only: bool, out: &mut Vec<u8>) -> Result<(), String> {
    let (&len, rest) = bytes.split_first().ok_or("an empty date value")?;
    if rest.len() != len as usize || !matches!(len, 0 | 4 | 7 | 11) {
        return Err(format!("a date value of {len} bytes"));
    }
    let mut f = [0u8; 11];
    f[..rest.len()].copy_from_slice(rest);
    out.clear();
    push_number(out, u64::from(u16::from_le_bytes([f[0], f[1]])), 4);
    out.push(b'-');
    push_number(out, u64::from(f[2]), 2);
    out.push(b'-');
    push_number(out, u64::from(f[3]), 2);
    if !date_only {
        out.push(b' ');
        let micros = u32::from_le_bytes([f[7], f[8], f[9], f[10]]);
        push_clock(out, u64::from(f[4]), f[5], f[6], micros);
    }
    Ok(())
}

/// A binary-protocol TIME (length byte first) as `[-]HH:MM:SS[.ffffff]`,
/// written into `out` (cleared first).
fn time_text(bytes: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let (&len, rest) = bytes.split_first().ok_or("an empty time value")?;
    if rest.len() != len as usize || !matches!(len, 0 | 8 | 12) {
        return Err(format!("a time value of {len} bytes"));
    }
    let mut f = [0u8; 12];
    f[..rest.len()].copy_from_slice(rest);
    out.clear();
    if f[0] == 1 {
        out.push(b'-');
    }
    let days = u32::from_le_bytes([f[1], f[2], f[3], f[4]]);
    let micros = u32::from_le_bytes([f[8], f[9], f[10], f[11]]);
    push_clock(
        out,
        u64::from(days) * 24 + u64::from(f[5]),
        f[6],
        f[7],
        micros,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_written_as_rowcodec_reads_them() {
        let mut buf = Vec::new();
        put_bytes(&mut buf, TEXT, "é🙂".as_bytes()).unwrap();
        put_bytes(&mut buf, BLOB, &[0, 255]).unwrap();
        let mut input = &buf[..];
        let row = rowcodec::read_row(&mut input, 2).unwrap().unwrap();
        assert_eq!(row, [Value::Text("é🙂".into()), Value::Blob(vec![0, 255])]);
    }

    #[test]
    fn integers_dates_and_times_decode() {
        assert_eq!(signed(&[0xff]).unwrap(), -1);
        assert_eq!(signed(&[0x00, 0x80]).unwrap(), -32768);
        assert_eq!(unsigned(&[0xff; 8]).unwrap(), u64::MAX);
        let text = |f: &dyn Fn(&mut Vec<u8>) -> Result<(), String>| {
            let mut out = b"left over".to_vec();
            f(&mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        let dt = [11, 0xe8, 0x07, 2, 29, 23, 59, 58, 1, 0, 0, 0];
        assert_eq!(
            text(&|o| date_time_text(&dt, false, o)),
            "2024-02-29 23:59:58.000001"
        );
        assert_eq!(
            text(&|o| date_time_text(&[0], false, o)),
            "0000-00-00 00:00:00"
        );
        assert_eq!(
            text(&|o| date_time_text(&[4, 0xe8, 0x07, 1, 2], true, o)),
            "2024-01-02"
        );
        let tm = [12, 1, 34, 0, 0, 0, 22, 59, 59, 0x20, 0xa1, 0x07, 0];
        assert_eq!(text(&|o| time_text(&tm, o)), "-838:59:59.500000");
        assert_eq!(text(&|o| time_text(&[0], o)), "00:00:00");
    }

    #[test]
    fn binary_types_are_told_from_text_types() {
        assert!(is_binary_type("varbinary(16)"));
        assert!(is_binary_type("bit(3)"));
        assert!(is_binary_type("longblob"));
        assert!(!is_binary_type("varchar(20)"));
        assert!(!is_binary_type("bigint(20) unsigned"));
        assert!(!is_binary_type("blobby"));
    }
}
