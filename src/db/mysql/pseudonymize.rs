//! MariaDB and MySQL's pseudonyms: HMAC-SHA256 written in SQL with `SHA2()`, the key's padded blocks bound as parameters, never in the statement's text.
//!
//! `SHA2(CONCAT(outer, UNHEX(SHA2(CONCAT(inner, kind, ':', value), 256))), 256)`
//! is HMAC-SHA256 (RFC 2104) in hexadecimal, the same bytes as
//! `pseudonym::derive` and PostgreSQL's. Neither server lets a derived
//! table read the row being updated, so the hash is written once for each
//! part of the output that reads it (two for a name, one per placeholder
//! of a pattern): each is bound its own pair of parameters.

use sqlx::AssertSqlSafe;

use super::{Mysql, mysql_error, quote_ident};
use crate::exit::ToolError;
use crate::pseudonym::{ALNUM, EMAIL_DOMAIN, FIRST, Kind, LAST, Piece, PseudonymKey};

/// Which padded block a `?` takes, in the order of the statement's text.
#[derive(Clone, Copy)]
enum Pad {
    Inner,
    Outer,
}

/// Builds one column's SQL, noting the parameters as they appear.
struct Builder<'a> {
    pads: &'a mut Vec<Pad>,
    /// The value hashed: its text, or a date's `YYYY-MM-DD`.
    text: String,
    tag: &'static str,
}

impl Builder<'_> {
    /// The hash in hexadecimal (64 characters); two parameters.
    fn hex(&mut self) -> String {
        self.pads.push(Pad::Outer);
        self.pads.push(Pad::Inner);
        format!(
            "SHA2(CONCAT(?, UNHEX(SHA2(CONCAT(?, '{}:', {}), 256))), 256)",
            self.tag, self.text
        )
    }

    /// Bytes `i..i+width` of the hash as an unsigned number.
    fn number(&mut self, i: usize, width: usize) -> String {
        format!(
            "CAST(CONV(SUBSTRING({}, {}, {}), 16, 10) AS UNSIGNED)",
            self.hex(),
            2 * i + 1,
            2 * width
        )
    }

    fn pick(&mut self, list: &[&str], lower: bool, at: usize) -> String {
        let items: Vec<String> = list
            .iter()
            .map(|n| match lower {
                true => format!("'{}'", n.to_ascii_lowercase()),
                false => format!("'{n}'"),
            })
            .collect();
        format!(
            "ELT(1 + {} % {}, {})",
            self.number(at, 2),
            list.len(),
            items.join(",")
        )
    }
}

/// `column = new value`, its parameters appended to `pads`.
fn assignment(column: &str, kind: &Kind, pads: &mut Vec<Pad>) -> String {
    let quoted = quote_ident(column);
    let text = match kind {
        Kind::DateShift { .. } => format!("DATE_FORMAT({quoted}, '%Y-%m-%d')"),
        _ => format!("CONVERT({quoted} USING utf8mb4)"),
    };
    let mut b = Builder {
        pads,
        text,
        tag: kind.tag(),
    };
    let value = match kind {
        Kind::Name => {
            let first = b.pick(&FIRST, false, 0);
            let last = b.pick(&LAST, false, 2);
            format!("CONCAT({first}, ' ', {last})")
        }
        Kind::FirstName => b.pick(&FIRST, false, 0),
        Kind::LastName => b.pick(&LAST, false, 2),
        Kind::Email => {
            let first = b.pick(&FIRST, true, 0);
            let last = b.pick(&LAST, true, 2);
            let digits = b.number(4, 3);
            format!("CONCAT({first}, '.', {last}, {digits} % 1000000, '@{EMAIL_DOMAIN}')")
        }
        Kind::Phone(pattern) | Kind::Identifier(pattern) => {
            let mut parts = Vec::new();
            let mut j = 0;
            for piece in &pattern.pieces {
                let part = match piece {
                    Piece::Literal(text) => format!("'{text}'"),
                    Piece::Digit => format!("CHAR(48 + {} % 10 USING utf8mb4)", b.number(j, 1)),
                    Piece::Letter => format!("CHAR(65 + {} % 26 USING utf8mb4)", b.number(j, 1)),
                    Piece::Alnum => {
                        format!("SUBSTRING('{ALNUM}', 1 + {} % 36, 1)", b.number(j, 1))
                    }
                };
                if !matches!(piece, Piece::Literal(_)) {
                    j += 1;
                }
                parts.push(part);
            }
            format!("CONCAT({})", parts.join(", "))
        }
        Kind::DateShift { days } => {
            // s = u16 mod 2N; the shift is s - N, plus 1 when s >= N.
            let (n, m) = (days, 2 * days);
            let s = b.number(0, 2);
            let again = b.number(0, 2);
            format!(
                "DATE_ADD({quoted}, INTERVAL (CAST({s} % {m} AS SIGNED) - {n} + ({again} % {m} >= {n})) DAY)"
            )
        }
    };
    format!("{quoted} = {value}")
}

pub(super) async fn pseudonymize(
    db: &mut Mysql,
    table: &str,
    columns: &[(&String, Kind)],
    filter: Option<&str>,
    key: &PseudonymKey,
) -> Result<u64, ToolError> {
    let mut pads = Vec::new();
    let sets: Vec<String> = columns
        .iter()
        .map(|(c, k)| assignment(c, k, &mut pads))
        .collect();
    let held: Vec<String> = columns
        .iter()
        .map(|(c, _)| format!("{} IS NOT NULL", quote_ident(c)))
        .collect();
    let filter = filter.map(|f| format!("({f}) AND ")).unwrap_or_default();
    let sql = format!(
        "UPDATE {table} SET {} WHERE {filter}({})",
        sets.join(", "),
        held.join(" OR ")
    );
    let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(false);
    for pad in pads {
        query = query.bind(match pad {
            Pad::Inner => key.inner_pad(),
            Pad::Outer => key.outer_pad(),
        });
    }
    let done = query
        .execute(&mut db.conn)
        .await
        .map_err(|e| mysql_error("", e))?;
    Ok(done.rows_affected())
}

/// True when the column holds a value no pseudonym of `kind` has.
pub(super) fn misshapen(column: &str, kind: &Kind) -> Option<String> {
    let regex = kind.shape_regex()?;
    let quoted = quote_ident(column);
    Some(format!(
        "({quoted} IS NOT NULL AND NOT ({quoted} REGEXP '{regex}'))"
    ))
}
