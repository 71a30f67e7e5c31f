//! Large `bytea` values at capture, read in slices: COPY carries a row whose value is above [`THRESHOLD`] with the value left out and the row's place marked, and the value is written into the row as COPY would spell it, slice by slice, from a second connection in the same snapshot.
//!
//! COPY sends each row as one message: a 200 MiB value would arrive as one
//! 400 MiB line of hex and be held whole, more than once, before it reached
//! the vault. The stream written here is byte for byte the one a plain COPY
//! would give (the other fields of such a row come from COPY itself, the
//! value is `\\x` and its lowercase hex, as `bytea_output = 'hex'` spells
//! it), so that a restore and every other reader of the stream are
//! unchanged. The row is found again by `tableoid` and `ctid`, which name
//! the version of the row that the snapshot sees for as long as the
//! snapshot lasts.

use sqlx::AssertSqlSafe;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use vault_format::StreamWriter;

use super::pg_error;
use crate::exit::ToolError;
use crate::names::quote_ident;

/// Values longer than this (bytes, `octet_length`) are read in slices.
pub(super) const THRESHOLD: i64 = 16 << 20;

/// How many bytes of a value one slice reads.
const SLICE: i32 = 8 << 20;

/// The name of the marker column COPY adds after the captured columns.
const MARKER: &str = "vault_sliced";

/// A connection of its own in the capture's snapshot, opened for a table
/// that has `bytea` columns, kept for the next such table, closed at the end.
pub(super) struct Slicer<'a> {
    options: &'a PgConnectOptions,
    snapshot: Option<&'a str>,
    conn: Option<PgConnection>,
    /// The connection could not be opened: tables are read whole.
    refused: bool,
}

impl<'a> Slicer<'a> {
    /// A slicer for the capture whose exported snapshot is `snapshot` (none:
    /// values are read whole, as no other connection can see the snapshot).
    pub(super) fn new(options: &'a PgConnectOptions, snapshot: Option<&'a str>) -> Self {
        Slicer {
            options,
            snapshot,
            conn: None,
            refused: false,
        }
    }

    /// The connection in the snapshot, opened on first use; `None` when
    /// there is no exported snapshot or the server refused a connection.
    async fn connection(&mut self) -> Option<&mut PgConnection> {
        if self.conn.is_none() && !self.refused {
            let opened = match self.snapshot {
                Some(snapshot) => super::open_in_snapshot(self.options, snapshot).await.ok(),
                None => None,
            };
            self.refused = opened.is_none();
            self.conn = opened;
        }
        self.conn.as_mut()
    }

    /// Ends the connection, if one was opened.
    pub(super) async fn close(mut self) {
        if let Some(mut conn) = self.conn.take() {
            let _ = sqlx::raw_sql("COMMIT").execute(&mut conn).await;
            let _ = sqlx::Connection::close(conn).await;
        }
    }
}

/// How a table's `bytea` columns are read: which captured columns they
/// are, and the table's SQL name.
pub(super) struct Sliced {
    /// Positions of the `bytea` columns among the captured ones, and their names (quoted).
    columns: Vec<(usize, String)>,
    table: String,
    width: usize,
}

impl Sliced {
    /// For a table with `bytea` columns whose snapshot a second connection
    /// can read: the select list, each such column `NULL` where its value is
    /// above the threshold, and a last column that marks those rows. `None`:
    /// the table is read as it is.
    pub(super) async fn plan(
        slicer: &mut Slicer<'_>,
        table: String,
        columns: &[(String, &str)],
    ) -> Option<(Sliced, Vec<String>)> {
        let bytea: Vec<(usize, String)> = columns
            .iter()
            .enumerate()
            .filter(|(_, (_, data_type))| *data_type == "bytea")
            .map(|(i, (name, _))| (i, name.clone()))
            .collect();
        if bytea.is_empty() {
            return None;
        }
        slicer.connection().await?;
        let large = |column: &str| format!("octet_length({column}) > {THRESHOLD}");
        let mut list: Vec<String> = columns.iter().map(|(name, _)| name.clone()).collect();
        for (i, column) in &bytea {
            // Named as the column, so that ORDER BY reads the same names.
            list[*i] = format!(
                "CASE WHEN {} THEN NULL ELSE {column} END AS {column}",
                large(column)
            );
        }
        let any: Vec<String> = bytea.iter().map(|(_, c)| large(c)).collect();
        let flags: Vec<String> = bytea
            .iter()
            .map(|(_, c)| format!("(coalesce({}, false))::int", large(c)))
            .collect();
        list.push(format!(
            "CASE WHEN {} THEN concat_ws(' ', tableoid::int8, ctid, {}) END AS {}",
            any.join(" OR "),
            flags.join(", "),
            quote_ident(MARKER)
        ));
        Some((
            Sliced {
                columns: bytea,
                table,
                width: columns.len(),
            },
            list,
        ))
    }

    /// Writes one line of the COPY (ending in `\n`) to `out` without the
    /// marker column, with the values it marks read in slices.
    pub(super) async fn write_line(
        &self,
        slicer: &mut Slicer<'_>,
        at: &str,
        line: &[u8],
        out: &mut StreamWriter,
    ) -> Result<(), ToolError> {
        let malformed = || {
            ToolError::failed(format!(
                "table {at}: COPY sent a row of an unexpected shape"
            ))
        };
        let body = line.strip_suffix(b"\n").ok_or_else(malformed)?;
        let tab = body
            .iter()
            .rposition(|&b| b == b'\t')
            .ok_or_else(malformed)?;
        let (fields, marker) = (&body[..tab], &body[tab + 1..]);
        if marker == b"\\N" {
            out.write_bytes(fields)?;
            out.write_bytes(b"\n")?;
            return Ok(());
        }
        let marker = std::str::from_utf8(marker).map_err(|_| malformed())?;
        let mut words = marker.split(' ');
        let tableoid: i64 = words
            .next()
            .and_then(|w| w.parse().ok())
            .ok_or_else(malformed)?;
        let ctid = words.next().ok_or_else(malformed)?.to_owned();
        let flags: Vec<bool> = words.map(|w| w == "1").collect();
        if flags.len() != self.columns.len() {
            return Err(malformed());
        }
        let values: Vec<&[u8]> = fields.split(|&b| b == b'\t').collect();
        if values.len() != self.width {
            return Err(malformed());
        }
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                out.write_bytes(b"\t")?;
            }
            let sliced = self
                .columns
                .iter()
                .zip(&flags)
                .find(|((position, _), large)| *position == i && **large);
            match sliced {
                Some(((_, column), _)) => {
                    self.write_value(slicer, at, column, tableoid, &ctid, out)
                        .await?
                }
                None => out.write_bytes(value)?,
            }
        }
        out.write_bytes(b"\n")?;
        Ok(())
    }

    /// One value as COPY's text format spells a hex bytea (`\\x` and
    /// lowercase hex), read [`SLICE`] bytes at a time.
    async fn write_value(
        &self,
        slicer: &mut Slicer<'_>,
        at: &str,
        column: &str,
        tableoid: i64,
        ctid: &str,
        out: &mut StreamWriter,
    ) -> Result<(), ToolError> {
        let lost = || {
            ToolError::failed(format!(
                "table {at}: the second connection in the snapshot is gone; a large value could not be read"
            ))
        };
        let conn = slicer.connection().await.ok_or_else(lost)?;
        let row = format!(
            "FROM {} WHERE tableoid = $1::oid AND ctid = $2::tid",
            self.table
        );
        let length: Option<i32> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT octet_length({column}) {row}"
        )))
        .bind(tableoid)
        .bind(ctid)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| pg_error(at, e))?;
        let length = length.ok_or_else(|| {
            ToolError::failed(format!(
                "table {at}: a large value read as NULL in the snapshot that marked it"
            ))
        })?;
        let slice = format!("SELECT substring({column} FROM $3 FOR $4) {row}");
        out.write_bytes(b"\\\\x")?;
        let mut hex = vec![0u8; 2 * SLICE as usize];
        let mut offset = 0i32;
        while offset < length {
            crate::interrupt::check(&format!("while capturing table {at}"))?;
            let wanted = SLICE.min(length - offset);
            let bytes: Vec<u8> = sqlx::query_scalar(AssertSqlSafe(slice.clone()))
                .bind(tableoid)
                .bind(ctid)
                .bind(offset + 1)
                .bind(wanted)
                .fetch_one(&mut *conn)
                .await
                .map_err(|e| pg_error(at, e))?;
            if bytes.len() != wanted as usize {
                return Err(ToolError::failed(format!(
                    "table {at}: a slice of a large value came back with {} bytes instead of {wanted}",
                    bytes.len()
                )));
            }
            let hex = &mut hex[..2 * bytes.len()];
            hex::encode_to_slice(&bytes, hex).expect("the buffer holds the slice");
            out.write_bytes(hex)?;
            offset += wanted;
        }
        Ok(())
    }
}
