//! PostgreSQL's pseudonyms: HMAC-SHA256 written in SQL with the built-in `sha256()` (PostgreSQL 11 and later, no extension), the key's padded blocks bound as `$1` and `$2`, one hash per value.
//!
//! `sha256($2 || sha256($1 || convert_to(kind || ':' || value, 'UTF8')))`
//! is HMAC-SHA256 when `$1` and `$2` are the key XOR 0x36 and 0x5c
//! (RFC 2104); `pseudonym::derive` computes the same bytes in the tool.
//! The hash is computed once per value in a scalar subquery and its bytes
//! (`get_byte`) pick names from arrays, digits and letters, and days.

use sqlx::AssertSqlSafe;

use super::{Postgres, pg_error, qualified};
use crate::exit::ToolError;
use crate::names::{TableName, quote_ident};
use crate::pseudonym::{ALNUM, EMAIL_DOMAIN, FIRST, Kind, LAST, Piece, PseudonymKey};

/// The hash of the row's value, as the scalar subquery names it.
const H: &str = "vault_pseudonym.vault_pseudonym_h";

/// `ARRAY['A', 'B', ...]`: the names are ASCII letters, safe in literals.
fn array(list: &[&str], lower: bool) -> String {
    let items: Vec<String> = list
        .iter()
        .map(|n| match lower {
            true => format!("'{}'", n.to_ascii_lowercase()),
            false => format!("'{n}'"),
        })
        .collect();
    format!("ARRAY[{}]", items.join(","))
}

fn byte(i: usize) -> String {
    format!("get_byte({H}, {i})")
}

fn u16_at(i: usize) -> String {
    format!("({} * 256 + {})", byte(i), byte(i + 1))
}

fn pick(list: &[&str], lower: bool, at: usize) -> String {
    format!(
        "({})[1 + {} % {}]",
        array(list, lower),
        u16_at(at),
        list.len()
    )
}

/// The new value of `column` for `kind`, computed from [`H`].
fn output(column: &str, kind: &Kind) -> String {
    match kind {
        Kind::Name => format!(
            "{} || ' ' || {}",
            pick(&FIRST, false, 0),
            pick(&LAST, false, 2)
        ),
        Kind::FirstName => pick(&FIRST, false, 0),
        Kind::LastName => pick(&LAST, false, 2),
        Kind::Email => format!(
            "{} || '.' || {} || (({} * 65536 + {} * 256 + {}) % 1000000)::text || '@{EMAIL_DOMAIN}'",
            pick(&FIRST, true, 0),
            pick(&LAST, true, 2),
            byte(4),
            byte(5),
            byte(6)
        ),
        Kind::Phone(pattern) | Kind::Identifier(pattern) => {
            let mut parts = Vec::new();
            let mut j = 0;
            for piece in &pattern.pieces {
                parts.push(match piece {
                    Piece::Literal(text) => format!("'{text}'"),
                    Piece::Digit => format!("chr(48 + {} % 10)", byte(j)),
                    Piece::Letter => format!("chr(65 + {} % 26)", byte(j)),
                    Piece::Alnum => format!("substr('{ALNUM}', 1 + {} % 36, 1)", byte(j)),
                });
                if !matches!(piece, Piece::Literal(_)) {
                    j += 1;
                }
            }
            parts.join(" || ")
        }
        Kind::DateShift { days } => {
            let n = days;
            let s = format!("({} % {})", u16_at(0), 2 * n);
            format!(
                "{} + make_interval(days => CASE WHEN {s} < {n} THEN {s} - {n} ELSE {s} - {n} + 1 END)",
                quote_ident(column)
            )
        }
    }
}

/// `(SELECT new FROM (SELECT hmac AS h OFFSET 0))`: the hash once per
/// value. `OFFSET 0` keeps the planner from pulling the inner query up,
/// which would compute the hash again for every byte read (nine times for
/// an identifier of nine placeholders: 2.6 times slower).
fn assignment(column: &str, kind: &Kind) -> String {
    let quoted = quote_ident(column);
    let text = match kind {
        Kind::DateShift { .. } => format!("to_char({quoted}, 'YYYY-MM-DD')"),
        _ => format!("{quoted}::text"),
    };
    format!(
        "{quoted} = (SELECT {} FROM (SELECT sha256($2::bytea || sha256($1::bytea || convert_to('{}:' || {text}, 'UTF8'))) AS vault_pseudonym_h OFFSET 0) AS vault_pseudonym)",
        output(column, kind),
        kind.tag()
    )
}

/// The key travels as bound parameters: for the rest of the transaction the
/// server logs no parameter with a failing statement (any user may set
/// that), nor, when this session may (a superuser), with a logged one.
async fn quiet_parameters(db: &mut Postgres) -> Result<(), ToolError> {
    let superuser = super::is_superuser(&mut db.conn).await?;
    let mut settings = vec!["log_parameter_max_length_on_error"];
    if superuser {
        settings.push("log_parameter_max_length");
    }
    for name in settings {
        sqlx::query("SELECT set_config($1, '0', true)")
            .bind(name)
            .execute(&mut db.conn)
            .await
            .map_err(|e| pg_error("", e))?;
    }
    Ok(())
}

pub(super) async fn pseudonymize(
    db: &mut Postgres,
    table: &TableName,
    columns: &[(&String, Kind)],
    filter: Option<&str>,
    key: &PseudonymKey,
) -> Result<u64, ToolError> {
    let sets: Vec<String> = columns.iter().map(|(c, k)| assignment(c, k)).collect();
    let held: Vec<String> = columns
        .iter()
        .map(|(c, _)| format!("{} IS NOT NULL", quote_ident(c)))
        .collect();
    let filter = filter.map(|f| format!("({f}) AND ")).unwrap_or_default();
    let sql = format!(
        "UPDATE {} SET {} WHERE {filter}({})",
        qualified(table),
        sets.join(", "),
        held.join(" OR ")
    );
    quiet_parameters(db).await?;
    let done = sqlx::query(AssertSqlSafe(sql))
        .bind(key.inner_pad())
        .bind(key.outer_pad())
        .persistent(false)
        .execute(&mut db.conn)
        .await
        .map_err(|e| pg_error("", e))?;
    Ok(done.rows_affected())
}

/// True when the column holds a value no pseudonym of `kind` has. Names
/// are looked up with `= ANY(array)` (25 times faster than one regular
/// expression of every name); patterns are matched by their regular
/// expression.
pub(super) fn misshapen(column: &str, kind: &Kind) -> Option<String> {
    let q = format!("{}::text", quote_ident(column));
    let shape = match kind {
        Kind::FirstName => format!("{q} = ANY({})", array(&FIRST, false)),
        Kind::LastName => format!("{q} = ANY({})", array(&LAST, false)),
        Kind::Name => format!(
            "split_part({q}, ' ', 1) = ANY({}) AND split_part({q}, ' ', 2) = ANY({}) AND split_part({q}, ' ', 3) = ''",
            array(&FIRST, false),
            array(&LAST, false)
        ),
        Kind::Email => {
            let local = format!("split_part({q}, '@', 1)");
            format!(
                "{q} ~ '^[a-z]+[.][a-z]+[0-9]{{1,6}}@{}$' AND split_part({local}, '.', 1) = ANY({}) AND rtrim(split_part({local}, '.', 2), '0123456789') = ANY({})",
                EMAIL_DOMAIN.replace('.', "[.]"),
                array(&FIRST, true),
                array(&LAST, true)
            )
        }
        Kind::Phone(_) | Kind::Identifier(_) => format!("{q} ~ '{}'", kind.shape_regex()?),
        Kind::DateShift { .. } => return None,
    };
    Some(format!(
        "({} IS NOT NULL AND NOT ({shape}))",
        quote_ident(column)
    ))
}
