//! The bytes of a `pg-large-objects` stream: per object, a length-prefixed JSON header (id, owner, privileges, length) and then its contents.

use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

/// The largest header a reader accepts, checked before allocating.
const MAX_HEADER: u32 = 1024 * 1024;

/// One privilege on an object, as `aclexplode` gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Privilege {
    /// The role granted to; empty for PUBLIC.
    pub grantee: String,
    /// `SELECT` or `UPDATE`.
    pub privilege: String,
    pub grantable: bool,
}

/// What precedes an object's contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// The object's id at capture.
    pub id: u32,
    pub owner: String,
    /// `None` when the object had the default privileges (a NULL ACL).
    pub acl: Option<Vec<Privilege>>,
    /// Bytes of contents that follow.
    pub length: u64,
}

/// Writes a header: `u32` big-endian length, then the JSON.
pub fn write_header(out: &mut dyn Write, header: &Header) -> io::Result<()> {
    let json = serde_json::to_vec(header).expect("a header serializes");
    out.write_all(&(json.len() as u32).to_be_bytes())?;
    out.write_all(&json)
}

/// Reads the next header; `None` at a clean end of the stream.
pub fn read_header(input: &mut dyn Read) -> io::Result<Option<Header>> {
    let mut len = [0u8; 4];
    let mut filled = 0;
    while filled < 4 {
        match input.read(&mut len[filled..]) {
            Ok(0) if filled == 0 => return Ok(None),
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "a header is cut",
                ));
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = u32::from_be_bytes(len);
    if len > MAX_HEADER {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "a large object's header is longer than 1 MiB",
        ));
    }
    let mut json = vec![0u8; len as usize];
    input.read_exact(&mut json)?;
    serde_json::from_slice(&json)
        .map(Some)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_reads_back_as_written() {
        let header = Header {
            id: 4_000_000_000,
            owner: "portal".into(),
            acl: Some(vec![Privilege {
                grantee: String::new(),
                privilege: "SELECT".into(),
                grantable: false,
            }]),
            length: 3,
        };
        let mut bytes = Vec::new();
        write_header(&mut bytes, &header).unwrap();
        bytes.extend_from_slice(b"abc");
        let mut input = &bytes[..];
        assert_eq!(read_header(&mut input).unwrap(), Some(header));
        assert_eq!(input, b"abc");
        assert_eq!(read_header(&mut &b""[..]).unwrap(), None);
        assert!(read_header(&mut &b"\0\0"[..]).is_err());
        assert!(read_header(&mut &b"\xff\xff\xff\xff"[..]).is_err());
    }
}
