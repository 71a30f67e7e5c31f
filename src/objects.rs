//! Acceptance's own code objects: the catalogue of its views, routines, triggers and events (names and a digest of each definition) recorded at capture, the objects `[objects] keep` names captured whole, and after the restore the objects the refresh removed or changed, listed and, when kept, re-created.
//!
//! The catalogue stream holds names and SHA-256 digests only, never a
//! definition: a definition may hold literals. The definitions of the kept
//! objects are in their own stream, inside the encrypted vault, and are
//! never printed. Each engine reads its catalogue and definitions through
//! [`CodeObjects`] and re-creates the kept objects where its DDL allows
//! (inside the restore transaction, or after the commit).

use std::io::Write;

use serde::{Deserialize, Serialize};
use vault_format::{UnlockedVault, VaultWriter};

use crate::config::Config;
use crate::exit::ToolError;

/// The catalogue's stream and its metadata kind.
const CATALOGUE_STREAM: &str = "extras/objects";
const CATALOGUE_KIND: &str = "objects";
/// The kept objects' definitions.
const KEPT_STREAM: &str = "extras/object-definitions";
const KEPT_KIND: &str = "object-definitions";

/// One code object as the catalogue records it: never its definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeObject {
    /// `view`, `function`, `procedure`, `trigger` or `event`.
    pub kind: String,
    /// `schema.name` (SQLite: `main.name`).
    pub name: String,
    /// What else tells it apart: a PostgreSQL routine's argument types
    /// (`(integer)`), a trigger's table (` on public.patient`); or empty.
    #[serde(default)]
    pub detail: String,
    /// SHA-256 (hex) of its definition.
    pub digest: String,
}

impl CodeObject {
    /// The same object (kind, name and detail), whatever its definition.
    pub fn same(&self, other: &CodeObject) -> bool {
        self.kind == other.kind && self.name == other.name && self.detail == other.detail
    }

    /// `view public.v_testers`, `function public.f(integer)`.
    pub fn label(&self) -> String {
        format!("{} {}{}", self.kind, self.name, self.detail)
    }
}

/// An object `[objects] keep` names, with what re-creates it. The
/// statements may hold literals: they live only in the encrypted vault.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeptObject {
    pub object: CodeObject,
    /// Run first when the object exists with another definition (e.g.
    /// `DROP TRIGGER ...`); none where the create statement replaces.
    pub drop: Option<String>,
    /// Creates (or replaces) the object.
    pub create: String,
    /// Puts its privileges back, one statement each.
    #[serde(default)]
    pub grants: Vec<String>,
    /// MariaDB/MySQL: the `sql_mode` the routine, trigger or event was
    /// created under, set while it is created again.
    #[serde(default)]
    pub sql_mode: Option<String>,
}

/// Reads the database's code objects and their definitions. Each engine implements it.
#[allow(async_fn_in_trait)]
pub trait CodeObjects {
    /// Every view, function, procedure, trigger and event of acceptance's
    /// own schemas (not the system's, not an extension's), with digests.
    async fn code_objects(&mut self) -> Result<Vec<CodeObject>, ToolError>;

    /// What re-creates each of `objects`, privileges included where the
    /// engine has them.
    async fn definitions(&mut self, objects: &[CodeObject]) -> Result<Vec<KeptObject>, ToolError>;

    /// The kept objects the restore re-created (or, in a rehearsal, would
    /// re-create), each with what the refresh had done to it; taken.
    fn recreated_objects(&mut self) -> Vec<ObjectChange>;
}

/// What the refresh did to one of acceptance's objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectChange {
    /// `view public.v_testers`.
    pub object: String,
    /// `removed` or `changed`.
    pub change: String,
    /// Re-created from the vault (`[objects] keep`); in a dry run, would be.
    pub recreated: bool,
}

impl ObjectChange {
    /// The output's line of a re-created object.
    pub fn recreated_line(&self) -> String {
        format!(
            "re-created {} ({} by the refresh)",
            self.object, self.change
        )
    }
}

/// The objects section of the restore.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ObjectsSummary {
    /// Every object of the capture's catalogue that the refresh removed or
    /// changed, in the catalogue's order.
    pub changes: Vec<ObjectChange>,
    /// Set when nothing could be compared, and why.
    pub note: Option<String>,
}

impl ObjectsSummary {
    /// The output's note lines: the objects listed by what happened to them.
    pub fn notes(&self) -> Vec<String> {
        let mut notes: Vec<String> = self.note.iter().cloned().collect();
        for change in ["removed", "changed"] {
            let names: Vec<String> = self
                .changes
                .iter()
                .filter(|c| c.change == change && !c.recreated)
                .map(|c| c.object.clone())
                .collect();
            if !names.is_empty() {
                notes.push(format!(
                    "acceptance's own objects {change} by the refresh, not kept: {}",
                    names.join(", ")
                ));
            }
        }
        notes
    }
}

/// SHA-256 (hex) of the parts that define an object, each length-prefixed.
pub fn digest_of(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for part in parts {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    hex::encode(hash.finalize())
}

/// The kept names in `objects` (`schema.name`), each found once or more
/// (PostgreSQL overloads); a name found nowhere is a usage error.
fn select_kept<'a>(
    keep: &[String],
    objects: &'a [CodeObject],
) -> Result<Vec<&'a CodeObject>, ToolError> {
    let mut chosen = Vec::new();
    for name in keep {
        let found: Vec<&CodeObject> = objects.iter().filter(|o| &o.name == name).collect();
        if found.is_empty() {
            return Err(ToolError::usage(format!(
                "[objects] keep names {name}, which is not a view, function, procedure, trigger or event of the database; nothing was captured"
            ))
            .hint("name an object as schema.name (SQLite: main.name), or remove it from keep"));
        }
        chosen.extend(found);
    }
    Ok(chosen)
}

/// Checks, before the capture writes anything, that every name of
/// `[objects] keep` is an object of the database.
pub async fn check_kept<C: CodeObjects>(db: &mut C, config: &Config) -> Result<(), ToolError> {
    match config.objects.as_ref().map(|o| o.keep.as_slice()) {
        None | Some([]) => Ok(()),
        Some(keep) => select_kept(keep, &db.code_objects().await?).map(|_| ()),
    }
}

/// Writes the catalogue and, for `[objects] keep`, the definitions into
/// the vault; the capture's lines.
pub async fn capture<C: CodeObjects>(
    db: &mut C,
    config: &Config,
    writer: &VaultWriter,
) -> Result<Vec<String>, ToolError> {
    let objects = db.code_objects().await?;
    let keep = config
        .objects
        .as_ref()
        .map(|o| o.keep.as_slice())
        .unwrap_or(&[]);
    let chosen: Vec<CodeObject> = select_kept(keep, &objects)?.into_iter().cloned().collect();
    let metadata = serde_json::json!({"kind": CATALOGUE_KIND, "encoding": "json"});
    let mut stream = writer.stream(CATALOGUE_STREAM, metadata)?;
    stream.write_all(&serde_json::to_vec(&objects).expect("objects serialize"))?;
    stream.add_rows(objects.len() as u64);
    stream.finish()?;
    let mut lines = vec![format!(
        "objects: {} views, routines, triggers and events recorded (names and digests)",
        objects.len()
    )];
    if !chosen.is_empty() {
        let kept = db.definitions(&chosen).await?;
        let metadata = serde_json::json!({"kind": KEPT_KIND, "encoding": "json"});
        let mut stream = writer.stream(KEPT_STREAM, metadata)?;
        stream.write_all(&serde_json::to_vec(&kept).expect("kept objects serialize"))?;
        stream.add_rows(kept.len() as u64);
        stream.finish()?;
        let names: Vec<String> = kept.iter().map(|k| k.object.label()).collect();
        lines.push(format!(
            "objects: {} kept whole: {}",
            kept.len(),
            names.join(", ")
        ));
    }
    Ok(lines)
}

/// The kept objects' definitions in the vault; none without `[objects] keep`.
pub fn read_kept(vault: &UnlockedVault) -> Result<Vec<KeptObject>, ToolError> {
    Ok(crate::extras::read_json(vault, KEPT_KIND)?.unwrap_or_default())
}

/// What happened to `recorded` in the database now: `None` when it is there as recorded.
fn change_of(recorded: &CodeObject, now: &[CodeObject]) -> Option<&'static str> {
    match now.iter().find(|o| o.same(recorded)) {
        None => Some("removed"),
        Some(o) if o.digest != recorded.digest => Some("changed"),
        Some(_) => None,
    }
}

/// The kept objects that the database does not hold as captured, each
/// with what happened to it: the ones to re-create, in an order that
/// creates what others use first (routines, views, triggers, events).
pub fn to_recreate<'a>(
    kept: &'a [KeptObject],
    now: &[CodeObject],
) -> Vec<(&'a KeptObject, ObjectChange)> {
    let rank = |k: &KeptObject| match k.object.kind.as_str() {
        "function" | "procedure" => 0,
        "view" => 1,
        "trigger" => 2,
        _ => 3,
    };
    let mut found: Vec<(&KeptObject, ObjectChange)> = kept
        .iter()
        .filter_map(|k| {
            change_of(&k.object, now).map(|change| {
                (
                    k,
                    ObjectChange {
                        object: k.object.label(),
                        change: change.into(),
                        recreated: true,
                    },
                )
            })
        })
        .collect();
    found.sort_by_key(|(k, _)| rank(k));
    found
}

/// Whether the object exists now under the same identity (with any definition).
pub fn exists(object: &CodeObject, now: &[CodeObject]) -> bool {
    now.iter().any(|o| o.same(object))
}

/// Compares the catalogue recorded at capture with the database's now:
/// every recorded object missing or with another digest, those the
/// restore re-created marked so.
///
/// In a dry run the database is as the refresh left it, and every kept
/// object listed is one the restore would re-create.
pub async fn after_restore<C: CodeObjects>(
    db: &mut C,
    vault: &UnlockedVault,
    dry_run: bool,
) -> Result<ObjectsSummary, ToolError> {
    let recreated = db.recreated_objects();
    let kept: Vec<String> = match dry_run {
        true => read_kept(vault)?.iter().map(|k| k.object.label()).collect(),
        false => Vec::new(),
    };
    let Some(record) = crate::extras::read_json::<Vec<CodeObject>>(vault, CATALOGUE_KIND)? else {
        return Ok(ObjectsSummary {
            changes: Vec::new(),
            note: Some(
                "the vault has no catalogue of acceptance's views, routines, triggers and events (captured before they were recorded): none compared".into(),
            ),
        });
    };
    let now = db.code_objects().await?;
    let mut changes = Vec::new();
    for object in &record {
        let label = object.label();
        if let Some(done) = recreated.iter().find(|c| c.object == label) {
            changes.push(done.clone());
        } else if let Some(change) = change_of(object, &now) {
            changes.push(ObjectChange {
                recreated: kept.contains(&label),
                object: label,
                change: change.into(),
            });
        }
    }
    Ok(ObjectsSummary {
        changes,
        note: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::Exit;

    fn object(kind: &str, name: &str, digest: &str) -> CodeObject {
        CodeObject {
            kind: kind.into(),
            name: name.into(),
            detail: String::new(),
            digest: digest.into(),
        }
    }

    fn kept(object: CodeObject) -> KeptObject {
        KeptObject {
            object,
            drop: None,
            create: "CREATE ...".into(),
            grants: Vec::new(),
            sql_mode: None,
        }
    }

    #[test]
    fn kept_objects_removed_or_changed_are_recreated_routines_first() {
        let kept = vec![
            kept(object("trigger", "public.t_audit", "a")),
            kept(object("view", "public.v", "b")),
            kept(object("procedure", "public.reset", "c")),
            kept(object("view", "public.same", "d")),
        ];
        let now = vec![
            object("trigger", "public.t_audit", "other"),
            object("view", "public.same", "d"),
        ];
        let done: Vec<(String, String)> = to_recreate(&kept, &now)
            .into_iter()
            .map(|(_, c)| (c.object, c.change))
            .collect();
        assert_eq!(
            done,
            [
                ("procedure public.reset".into(), "removed".into()),
                ("view public.v".into(), "removed".into()),
                ("trigger public.t_audit".into(), "changed".into()),
            ]
        );
    }

    #[test]
    fn a_kept_name_not_in_the_database_is_a_usage_error() {
        let objects = vec![object("view", "public.v", "a")];
        let error = select_kept(&["public.gone".into()], &objects).unwrap_err();
        assert_eq!(error.class, Exit::Usage);
        assert!(error.message.contains("public.gone"));
        assert_eq!(
            select_kept(&["public.v".into()], &objects).unwrap().len(),
            1
        );
    }
}
