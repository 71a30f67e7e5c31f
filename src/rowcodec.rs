//! The row encoding of SQLite and MySQL streams ("vault-rows-v1"): one tagged value after another, column by column.
//!
//! PostgreSQL streams hold COPY text instead; see `db/postgres.rs`.
//!
//! | tag | value | payload |
//! |---|---|---|
//! | 0 | NULL | none |
//! | 1 | integer | i64, big-endian |
//! | 2 | real | f64 bits, big-endian |
//! | 3 | text | u32 length, UTF-8 bytes |
//! | 4 | blob | u32 length, bytes |

use std::io::{self, Read, Write};

/// The name recorded in stream metadata.
pub const ENCODING: &str = "vault-rows-v1";
/// The largest single value accepted on read (1 GiB), checked before allocating.
pub const MAX_VALUE_LEN: u32 = 1 << 30;

/// One value of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// Appends one value.
pub fn write_value(out: &mut impl Write, value: &Value) -> io::Result<()> {
    match value {
        Value::Null => out.write_all(&[0]),
        Value::Integer(v) => {
            out.write_all(&[1])?;
            out.write_all(&v.to_be_bytes())
        }
        Value::Real(v) => {
            out.write_all(&[2])?;
            out.write_all(&v.to_bits().to_be_bytes())
        }
        Value::Text(v) => write_bytes(out, 3, v.as_bytes()),
        Value::Blob(v) => write_bytes(out, 4, v),
    }
}

fn write_bytes(out: &mut impl Write, tag: u8, bytes: &[u8]) -> io::Result<()> {
    let len = u32::try_from(bytes.len())
        .ok()
        .filter(|&n| n <= MAX_VALUE_LEN)
        .ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "a value is larger than 1 GiB")
        })?;
    out.write_all(&[tag])?;
    out.write_all(&len.to_be_bytes())?;
    out.write_all(bytes)
}

/// Reads one value; `Ok(None)` at a clean end of the stream.
pub fn read_value(input: &mut impl Read) -> io::Result<Option<Value>> {
    let mut tag = [0u8; 1];
    if input.read(&mut tag)? == 0 {
        return Ok(None);
    }
    let mut word = [0u8; 8];
    let value = match tag[0] {
        0 => Value::Null,
        1 => {
            input.read_exact(&mut word)?;
            Value::Integer(i64::from_be_bytes(word))
        }
        2 => {
            input.read_exact(&mut word)?;
            Value::Real(f64::from_bits(u64::from_be_bytes(word)))
        }
        3 => Value::Text(String::from_utf8(read_len_prefixed(input)?).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidData, "a text value is not UTF-8")
        })?),
        4 => Value::Blob(read_len_prefixed(input)?),
        other => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unknown value tag {other}"),
            ));
        }
    };
    Ok(Some(value))
}

fn read_len_prefixed(input: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    input.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len);
    if len > MAX_VALUE_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "a value is longer than 1 GiB",
        ));
    }
    let mut bytes = vec![0u8; len as usize];
    input.read_exact(&mut bytes)?;
    Ok(bytes)
}

/// Reads a whole row of `columns` values; `Ok(None)` at the end of the stream.
pub fn read_row(input: &mut impl Read, columns: usize) -> io::Result<Option<Vec<Value>>> {
    let mut row = Vec::with_capacity(columns);
    for i in 0..columns {
        match read_value(input)? {
            Some(value) => row.push(value),
            None if i == 0 => return Ok(None),
            None => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the stream ends inside a row",
                ));
            }
        }
    }
    Ok(Some(row))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip() {
        let row = vec![
            Value::Null,
            Value::Integer(i64::MIN),
            Value::Real(f64::NAN),
            Value::Real(-0.0),
            Value::Text("tab\tnewline\n é 🙂".into()),
            Value::Blob(vec![0, 255, 0]),
            Value::Blob(Vec::new()),
        ];
        let mut bytes = Vec::new();
        for value in &row {
            write_value(&mut bytes, value).unwrap();
        }
        let mut input = &bytes[..];
        let back = read_row(&mut input, row.len()).unwrap().unwrap();
        assert!(matches!(back[2], Value::Real(v) if v.is_nan()));
        assert_eq!(back[3], Value::Real(-0.0));
        assert!(matches!(back[3], Value::Real(v) if v.is_sign_negative()));
        assert_eq!(&back[4..], &row[4..]);
        assert!(read_row(&mut input, row.len()).unwrap().is_none());
    }
}
