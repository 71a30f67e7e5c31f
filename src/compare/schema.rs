//! Diffing two schema snapshots: objects matched by kind and name, then attribute by attribute.

use std::collections::BTreeMap;

use super::{Difference, SchemaObject, Snapshot};

/// Every difference between two snapshots: objects on one side only, and
/// each attribute whose values differ. Order of objects (and so of columns)
/// does not count.
pub fn diff(acceptance: &Snapshot, production: &Snapshot) -> Vec<Difference> {
    let index = |s: &Snapshot| -> BTreeMap<(String, String), SchemaObject> {
        s.objects
            .iter()
            .map(|o| ((o.kind.clone(), o.name.clone()), o.clone()))
            .collect()
    };
    let acc = index(acceptance);
    let prod = index(production);
    let mut out = Vec::new();
    for (key, a) in &acc {
        match prod.get(key) {
            None => out.push(one_side(a, "only in acceptance")),
            Some(p) => {
                let names: std::collections::BTreeSet<&String> =
                    a.attrs.keys().chain(p.attrs.keys()).collect();
                for name in names {
                    let (av, pv) = (a.attrs.get(name), p.attrs.get(name));
                    if av != pv {
                        let mut d = one_side(a, name);
                        d.acceptance = av.map(|v| shown(name, v));
                        d.production = pv.map(|v| shown(name, v));
                        out.push(d);
                    }
                }
            }
        }
    }
    for (key, p) in &prod {
        if !acc.contains_key(key) {
            out.push(one_side(p, "only in production"));
        }
    }
    out
}

/// Attributes that hold code or options: a body, a view's query, a
/// policy's condition, a server's options. Shown by digest only.
const CODE_ATTRIBUTES: [&str; 11] = [
    "body",
    "definition",
    "query",
    "source",
    "sql",
    "using",
    "with_check",
    "condition",
    "options",
    "action",
    "check",
];

/// How an attribute's value is shown in the output and the report: a
/// short one-line value as it is, its passwords masked; code, options, or
/// anything long or over several lines by its digest only, since it may
/// hold literals and secrets.
fn shown(attribute: &str, value: &str) -> String {
    use sha2::Digest;
    let code = CODE_ATTRIBUTES.contains(&attribute);
    if !code && value.len() <= 80 && !value.contains('\n') {
        return crate::redact::mask_secrets(value);
    }
    let digest = hex::encode(sha2::Sha256::digest(value.as_bytes()));
    format!(
        "sha256:{} ({} characters)",
        &digest[..12],
        value.chars().count()
    )
}

fn one_side(object: &SchemaObject, what: &str) -> Difference {
    let mut d = Difference::new(&object.kind, &object.name, what);
    d.table = object.table.clone();
    d.role = object.role.clone();
    // Only acceptance's own side can reach production from acceptance.
    if what != "only in production" {
        d.endpoint = endpoint(object);
    }
    d
}

/// Where a foreign server of this side points (`host=..., port=...,
/// dbname=...` options), for judging links; never a secret.
fn endpoint(object: &SchemaObject) -> Option<crate::links::conninfo::Endpoint> {
    if object.kind != "foreign-server" {
        return None;
    }
    let options = object.attrs.get("options")?;
    let pairs: Vec<(&str, &str)> = options
        .split(", ")
        .filter_map(|o| o.split_once('='))
        .collect();
    let endpoint = crate::links::conninfo::Endpoint::from_options(pairs);
    (!endpoint.is_empty()).then_some(endpoint)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(kind: &str, name: &str, attrs: &[(&str, &str)]) -> SchemaObject {
        SchemaObject {
            kind: kind.into(),
            name: name.into(),
            table: None,
            role: None,
            attrs: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn objects_and_attributes_are_diffed_regardless_of_order() {
        let a = Snapshot {
            objects: vec![
                object("column", "t.b", &[("type", "int")]),
                object("column", "t.a", &[("type", "text")]),
                object("index", "i", &[]),
            ],
            relations: vec![],
        };
        let b = Snapshot {
            objects: vec![
                object("column", "t.a", &[("type", "text")]),
                object("column", "t.b", &[("type", "bigint")]),
                object("view", "v", &[]),
            ],
            relations: vec![],
        };
        let d = diff(&a, &b);
        assert_eq!(d.len(), 3, "{d:?}");
        assert_eq!(d[0].what, "type");
        assert_eq!(d[0].acceptance.as_deref(), Some("int"));
        assert_eq!(d[1].what, "only in acceptance");
        assert_eq!(d[2].what, "only in production");
        assert!(diff(&a, &a).is_empty());
    }
}
