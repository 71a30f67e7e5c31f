//! Restore: the vault's large objects created again in the restore transaction (their captured id when free, a new one otherwise and the restored rows rewritten), written in pieces, owners and privileges applied; then the objects nothing refers to any more unlinked.

use std::io::Read;

use sqlx::AssertSqlSafe;
use sqlx::postgres::PgConnection;
use vault_format::UnlockedVault;

use super::capture::{KIND, StreamMeta};
use super::record::{Header, read_header};
use super::{INV_WRITE, IdColumn, PIECE, id_columns, id_expr, release};
use crate::db::postgres::{execute, pg_error};
use crate::exit::{Exit, ToolError};
use crate::names::{TableInfo, TableName, quote_ident};

/// The references the database held before the restore changed a row.
const BEFORE: &str = "pg_temp.vault_lo_before";
/// Captured id -> id in the target, for every restored object.
const MAP: &str = "pg_temp.vault_lo_map";

/// What the open restore transaction did with large objects.
#[derive(Default)]
pub struct Restoring {
    /// Whether the vault holds large objects (and `BEFORE` and `MAP` exist).
    active: bool,
    /// The columns that hold ids, in the target and in the vault.
    columns: Vec<IdColumn>,
    /// Per restored table, its id columns, when some object got a new id.
    rewrites: Vec<(TableName, Vec<(String, bool)>)>,
}

/// Creates the vault's objects in the open transaction and notes every
/// reference the database holds, before any row changes. Returns a line
/// saying what was restored.
pub async fn restore(
    conn: &mut PgConnection,
    vault: &UnlockedVault,
    declared: &[(TableName, String)],
) -> Result<(Restoring, Vec<String>), ToolError> {
    let mut streams = Vec::new();
    for entry in &vault.manifest().streams {
        if entry.metadata.get("kind").and_then(|k| k.as_str()) != Some(KIND) {
            continue;
        }
        let meta: StreamMeta = serde_json::from_value(entry.metadata.clone()).map_err(|e| {
            ToolError::new(
                Exit::Problem,
                format!(
                    "stream \"{}\" of the vault does not describe large objects: {e}",
                    entry.name
                ),
            )
        })?;
        streams.push((entry.name.clone(), meta));
    }
    if streams.is_empty() {
        return Ok((Restoring::default(), Vec::new()));
    }
    let mut all_declared = declared.to_vec();
    for (_, meta) in &streams {
        for column in meta.columns.iter().filter(|c| !c.oid_typed) {
            all_declared.push((meta.table.clone(), column.name.clone()));
        }
    }
    let columns = id_columns(conn, &all_declared).await?;
    release::note(conn, BEFORE, &columns).await?;
    execute(
        conn,
        &format!(
            "DROP TABLE IF EXISTS {MAP}; CREATE TEMP TABLE {MAP} (old pg_catalog.oid PRIMARY KEY, new pg_catalog.oid NOT NULL) ON COMMIT DROP"
        ),
    )
    .await?;
    let mut tally = Tally::default();
    for (name, meta) in &streams {
        let mut reader = vault.stream_read_ahead(name)?;
        let at = meta.table.to_string();
        while let Some(header) = read_header(&mut reader).map_err(|e| stream_error(&at, e))? {
            crate::interrupt::check("during the restore")?;
            restore_object(conn, &at, &header, &mut reader, &mut tally).await?;
        }
    }
    let mut rewrites = Vec::new();
    if tally.renamed > 0 {
        for (_, meta) in &streams {
            let cols = meta
                .columns
                .iter()
                .map(|c| (c.name.clone(), c.oid_typed))
                .collect();
            rewrites.push((meta.table.clone(), cols));
        }
    }
    let mut lines = vec![format!(
        "large objects: {} restored ({}){}",
        tally.objects,
        crate::units::bytes(tally.bytes),
        if tally.renamed > 0 {
            format!(
                ", {} under a new id because another object holds the captured one (the restored rows refer to the new id)",
                tally.renamed
            )
        } else {
            String::new()
        }
    )];
    for (_, meta) in &streams {
        lines.extend(missing_at_capture(conn, meta).await?);
    }
    if !tally.missing_roles.is_empty() {
        tally.missing_roles.sort();
        tally.missing_roles.dedup();
        lines.push(format!(
            "large objects: the role(s) {} do not exist in the target; objects they owned belong to the restoring role, and privileges granted to them were not applied",
            tally.missing_roles.join(", ")
        ));
    }
    Ok((
        Restoring {
            active: true,
            columns,
            rewrites,
        },
        lines,
    ))
}

#[derive(Default)]
struct Tally {
    objects: u64,
    bytes: u64,
    renamed: u64,
    missing_roles: Vec<String>,
}

/// Creates one object (or, when an earlier table's stream restored it,
/// skips its bytes), writes its contents in pieces, sets its owner and
/// privileges, and records its id in the map.
async fn restore_object(
    conn: &mut PgConnection,
    at: &str,
    header: &Header,
    reader: &mut dyn Read,
    tally: &mut Tally,
) -> Result<(), ToolError> {
    let old = i64::from(header.id);
    let known: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT new::int8 FROM {MAP} WHERE old = $1::int8::oid"
    )))
    .bind(old)
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| pg_error(at, e))?;
    if known.is_some() {
        std::io::copy(&mut reader.take(header.length), &mut std::io::sink())
            .map_err(|e| stream_error(at, e))?;
        return Ok(());
    }
    let new: i64 = sqlx::query_scalar(
        "SELECT pg_catalog.lo_create(CASE WHEN EXISTS
            (SELECT 1 FROM pg_catalog.pg_largeobject_metadata WHERE oid = $1::int8::oid)
          THEN 0 ELSE $1::int8 END::oid)::int8",
    )
    .bind(old)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| pg_error(at, e))?;
    let fd: i32 = sqlx::query_scalar("SELECT pg_catalog.lo_open($1::int8::oid, $2)")
        .bind(new)
        .bind(INV_WRITE)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| pg_error(at, e))?;
    let mut left = header.length;
    let mut piece = vec![0u8; PIECE.min(left as usize)];
    while left > 0 {
        let n = PIECE.min(left as usize);
        reader
            .read_exact(&mut piece[..n])
            .map_err(|e| stream_error(at, e))?;
        sqlx::query("SELECT pg_catalog.lowrite($1, $2)")
            .bind(fd)
            .bind(&piece[..n])
            .execute(&mut *conn)
            .await
            .map_err(|e| pg_error(at, e))?;
        left -= n as u64;
    }
    sqlx::query("SELECT pg_catalog.lo_close($1)")
        .bind(fd)
        .execute(&mut *conn)
        .await
        .map_err(|e| pg_error(at, e))?;
    if role_exists(conn, at, &header.owner).await? {
        execute(
            conn,
            &format!(
                "ALTER LARGE OBJECT {new} OWNER TO {}",
                quote_ident(&header.owner)
            ),
        )
        .await?;
    } else {
        tally.missing_roles.push(header.owner.clone());
    }
    for grant in header.acl.iter().flatten() {
        if grant.grantee == header.owner {
            continue; // the owner's own privileges come with ownership
        }
        let privilege = match grant.privilege.as_str() {
            "SELECT" => "SELECT",
            "UPDATE" => "UPDATE",
            _ => continue, // large objects have no other privilege
        };
        let grantee = if grant.grantee.is_empty() {
            "PUBLIC".to_owned()
        } else if role_exists(conn, at, &grant.grantee).await? {
            quote_ident(&grant.grantee)
        } else {
            tally.missing_roles.push(grant.grantee.clone());
            continue;
        };
        let option = if grant.grantable {
            " WITH GRANT OPTION"
        } else {
            ""
        };
        execute(
            conn,
            &format!("GRANT {privilege} ON LARGE OBJECT {new} TO {grantee}{option}"),
        )
        .await?;
    }
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO {MAP} (old, new) VALUES ($1::int8::oid, $2::int8::oid)"
    )))
    .bind(old)
    .bind(new)
    .execute(&mut *conn)
    .await
    .map_err(|e| pg_error(at, e))?;
    tally.objects += 1;
    tally.bytes += header.length;
    if new != old {
        tally.renamed += 1;
    }
    Ok(())
}

/// A line per column whose captured rows referred to objects that did not
/// exist at capture: they are restored as they were (health reports
/// them); an id that names another object in the target is a warning, as
/// the row now reads a document that is not its own.
async fn missing_at_capture(
    conn: &mut PgConnection,
    meta: &StreamMeta,
) -> Result<Vec<String>, ToolError> {
    let mut lines = Vec::new();
    for missing in &meta.missing {
        let ids: Vec<i64> = missing.ids.iter().map(|id| i64::from(*id)).collect();
        let taken: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT count(*) FROM unnest($1::int8[]) AS u(id)
             WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_largeobject_metadata m WHERE m.oid = u.id::oid)
               AND NOT EXISTS (SELECT 1 FROM {MAP} WHERE new = u.id::oid)"
        )))
        .bind(ids)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| pg_error(&meta.table.to_string(), e))?;
        lines.push(format!(
            "{}large objects: {} restored row(s) of {}.{} refer to objects that did not exist at capture{}",
            if taken > 0 { "warning: " } else { "" },
            missing.rows,
            meta.table,
            missing.column,
            if taken > 0 {
                format!(
                    "; {taken} of those ids name another object in the target, which these rows now read: clear or correct the references"
                )
            } else {
                "; `vault health` reports them".to_owned()
            }
        ));
    }
    Ok(lines)
}

async fn role_exists(conn: &mut PgConnection, at: &str, role: &str) -> Result<bool, ToolError> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1)")
        .bind(role)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| pg_error(at, e))
}

/// Rewrites, in `relation` (the target table or its staging table), the
/// restored rows' references to objects that got a new id.
pub async fn rewrite(
    conn: &mut PgConnection,
    state: &Restoring,
    relation: &str,
    target: &TableInfo,
) -> Result<(), ToolError> {
    let Some((_, columns)) = state.rewrites.iter().find(|(t, _)| {
        crate::db::postgres::qualified(t) == crate::db::postgres::qualified(&target.name)
    }) else {
        return Ok(());
    };
    let at = target.name.to_string();
    for (column, oid_typed) in columns {
        let Some(info) = target.column(column) else {
            continue;
        };
        let quoted = quote_ident(column);
        let value = if *oid_typed { "m.new" } else { "m.new::int8" };
        let sql = format!(
            "UPDATE {relation} AS v SET {quoted} = CAST({value} AS {}) FROM {MAP} m
             WHERE {} = m.old AND m.old <> m.new",
            info.data_type,
            id_expr(&format!("v.{quoted}"), *oid_typed)
        );
        sqlx::query(AssertSqlSafe(sql))
            .persistent(false)
            .execute(&mut *conn)
            .await
            .map_err(|e| pg_error(&at, e))?;
    }
    Ok(())
}

/// After every table is loaded: unlinks the objects that rows referred to
/// before the restore, or that it restored, and that nothing refers to now
/// (production's documents in the replaced rows; a restored document whose
/// row an `insert-missing` table kept out). Returns a line.
pub async fn release(conn: &mut PgConnection, state: &Restoring) -> Result<Vec<String>, ToolError> {
    if !state.active {
        return Ok(Vec::new());
    }
    execute(
        conn,
        &format!("INSERT INTO {BEFORE} (id) SELECT new FROM {MAP}"),
    )
    .await?;
    let released = release::released(conn, BEFORE, &state.columns, None).await?;
    release::unlink(conn, &released).await?;
    let bytes: u64 = released.iter().map(|(_, size)| *size).sum();
    Ok(vec![format!(
        "large objects: {} unlinked that no row refers to any more ({}): production's documents in the replaced rows",
        released.len(),
        crate::units::bytes(bytes)
    )])
}

/// A vault stream that could not be read.
fn stream_error(at: &str, error: std::io::Error) -> ToolError {
    let error = vault_format::vault_error_of(error);
    let exit = match crate::exit::exit_for(&error) {
        Exit::Success => Exit::Failed,
        exit => exit,
    };
    ToolError::new(exit, format!("large objects of table {at}: {error}")).hint(error.hint())
}
