//! Reading the values of an untrusted vault: a BLOB or TEXT value's length before the value, an integer's type before the integer (SPEC.md section 2.2).
//!
//! SQLite builds a value in memory when a query selects it, whatever its
//! size. `octet_length` and `typeof` are answered from the record header
//! without reading the value, so each column is selected twice: its length
//! (or type), then the value only when the length (or type) is legal.

use rusqlite::Row;

use crate::crypto::TAG_LEN;
use crate::error::{Location, Result, VaultError};
use crate::manifest::{MAX_MANIFEST_LEN, MAX_STREAM_NAME_LEN};

/// A BLOB or TEXT column and the most bytes a vault may hold in it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BytesColumn {
    table: &'static str,
    column: &'static str,
    max_len: usize,
}

pub(crate) const HEADER: BytesColumn =
    BytesColumn::new("vault_header", "header", crate::header::MAX_ENCODED_LEN);
pub(crate) const HEADER_MAC: BytesColumn = BytesColumn::new("vault_header", "header_mac", 32);
pub(crate) const SLOT_BODY: BytesColumn =
    BytesColumn::new("key_slot", "body", crate::slot::MAX_BODY_LEN);
pub(crate) const SLOT_CHECKSUM: BytesColumn = BytesColumn::new("key_slot", "checksum", 32);
pub(crate) const STREAM_NAME: BytesColumn = BytesColumn::new("stream", "name", MAX_STREAM_NAME_LEN);
pub(crate) const CHUNK_CHECKSUM: BytesColumn = BytesColumn::new("chunk", "checksum", 32);
pub(crate) const MANIFEST_CIPHERTEXT: BytesColumn =
    BytesColumn::new("manifest", "ciphertext", MAX_MANIFEST_LEN + TAG_LEN);
pub(crate) const MANIFEST_CHECKSUM: BytesColumn = BytesColumn::new("manifest", "checksum", 32);

/// `chunk.ciphertext` of a vault with this chunk size: the chunk and its tag.
pub(crate) const fn chunk_ciphertext(chunk_size: u32) -> BytesColumn {
    BytesColumn::new("chunk", "ciphertext", chunk_size as usize + TAG_LEN)
}

impl BytesColumn {
    const fn new(table: &'static str, column: &'static str, max_len: usize) -> Self {
        BytesColumn {
            table,
            column,
            max_len,
        }
    }

    /// Two result columns: the value's length, then the value itself, or
    /// NULL when it is over its bound, so that SQLite never builds it.
    pub(crate) fn select(&self) -> String {
        let (column, max) = (self.column, self.max_len);
        format!(
            "octet_length({column}), CASE WHEN octet_length({column}) <= {max} THEN {column} END"
        )
    }

    /// One result column: the value's length.
    pub(crate) fn select_length(&self) -> String {
        format!("octet_length({})", self.column)
    }

    /// The length at `at` (from [`select`](Self::select) or
    /// [`select_length`](Self::select_length)); refuses one over the bound.
    pub(crate) fn length(&self, row: &Row<'_>, at: usize, location: &Location) -> Result<usize> {
        let length: Option<i64> = row.get(at)?;
        let length = length.ok_or_else(|| {
            VaultError::damaged(location.clone(), format!("{} is NULL", self.name()))
        })?;
        usize::try_from(length)
            .ok()
            .filter(|&length| length <= self.max_len)
            .ok_or_else(|| VaultError::LengthOutOfBounds {
                location: location.clone(),
                detail: format!(
                    "{} holds {length} bytes, more than its bound of {} (SPEC.md section 2.2)",
                    self.name(),
                    self.max_len
                ),
            })
    }

    /// The BLOB of the two result columns of [`select`](Self::select) that start at `at`.
    pub(crate) fn bytes(&self, row: &Row<'_>, at: usize, location: &Location) -> Result<Vec<u8>> {
        self.length(row, at, location)?;
        row.get(at + 1).map_err(|_| self.wrong_type(location))
    }

    /// The UTF-8 TEXT of the two result columns of [`select`](Self::select) that start at `at`.
    pub(crate) fn text(&self, row: &Row<'_>, at: usize, location: &Location) -> Result<String> {
        self.length(row, at, location)?;
        row.get(at + 1).map_err(|_| self.wrong_type(location))
    }

    fn wrong_type(&self, location: &Location) -> VaultError {
        VaultError::damaged(
            location.clone(),
            format!("{} holds a value of the wrong type", self.name()),
        )
    }

    fn name(&self) -> String {
        format!("{}.{}", self.table, self.column)
    }
}

/// An INTEGER column: its value is read only once `typeof` says it is an integer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IntegerColumn {
    table: &'static str,
    column: &'static str,
}

pub(crate) const STREAM_CHUNK_COUNT: IntegerColumn = IntegerColumn::new("stream", "chunk_count");
pub(crate) const STREAM_ROW_COUNT: IntegerColumn = IntegerColumn::new("stream", "row_count");
pub(crate) const STREAM_PLAIN_LEN: IntegerColumn = IntegerColumn::new("stream", "plain_len");
pub(crate) const STREAM_STORED_LEN: IntegerColumn = IntegerColumn::new("stream", "stored_len");
pub(crate) const CHUNK_INDEX: IntegerColumn = IntegerColumn::new("chunk", "chunk_index");
pub(crate) const CHUNK_FLAGS: IntegerColumn = IntegerColumn::new("chunk", "flags");
pub(crate) const CHUNK_PLAIN_LEN: IntegerColumn = IntegerColumn::new("chunk", "plain_len");

impl IntegerColumn {
    const fn new(table: &'static str, column: &'static str) -> Self {
        IntegerColumn { table, column }
    }

    /// Two result columns: the value's type, then the value when it is an integer.
    pub(crate) fn select(&self) -> String {
        let column = self.column;
        format!("typeof({column}), CASE WHEN typeof({column}) = 'integer' THEN {column} END")
    }

    /// The integer of the two result columns of [`select`](Self::select) that start at `at`.
    pub(crate) fn get(&self, row: &Row<'_>, at: usize, location: &Location) -> Result<i64> {
        let kind: String = row.get(at)?;
        if kind != "integer" {
            return Err(VaultError::damaged(
                location.clone(),
                format!(
                    "{}.{} holds a {kind} value where a vault has an integer",
                    self.table, self.column
                ),
            ));
        }
        Ok(row.get(at + 1)?)
    }
}
