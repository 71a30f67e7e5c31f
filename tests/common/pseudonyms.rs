//! Helpers for the pseudonym tests: one set of people for every engine, the rules that pseudonymize them, key files, and the outputs `vault::pseudonym::derive` expects.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use vault::pseudonym::{Kind, PseudonymKey, PseudonymSpec, derive};

/// One person: id, name, first, last, email, phone, mrn, born (`YYYY-MM-DD`).
pub type Person = (
    i64,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
);

/// Repeated values (rows 1 and 3), NULLs (row 2) and UTF-8 beyond ASCII (row 4).
pub const PEOPLE: [Person; 4] = [
    (
        1,
        Some("Ann Jansen"),
        Some("Ann"),
        Some("Jansen"),
        Some("ann@mail.example"),
        Some("06-11112222"),
        Some("P-0001"),
        Some("1980-02-29"),
    ),
    (2, None, None, None, None, None, None, None),
    (
        3,
        Some("Ann Jansen"),
        Some("Ann"),
        Some("Jansen"),
        Some("ann@mail.example"),
        Some("06-11112222"),
        Some("P-0001"),
        Some("1980-02-29"),
    ),
    (
        4,
        Some("Zoë Müller-Ødegård"),
        Some("Zoë"),
        Some("Müller"),
        Some("zoë@mail.example"),
        Some("+31 20 555 0101"),
        Some("P-0002"),
        Some("2001-12-31"),
    ),
];

/// Visitors: names that also appear among the people.
pub const VISITORS: [(i64, Option<&str>); 3] = [
    (1, Some("Zoë Müller-Ødegård")),
    (2, Some("Ann Jansen")),
    (3, None),
];

/// The rules, as vault.toml writes them (the same text on every engine).
pub const RULES: &str = r#"
[pseudonym]
key_file = "pseudonym.key"

[[sanitize]]
table = "person"
pseudonymize = { name = "name", first = "first_name", last = "last_name", email = "email", phone = "phone", mrn = { kind = "identifier", pattern = "MRN-##@*####" }, born = { kind = "date_shift", days = 30 } }

[[sanitize]]
table = "visitor"
pseudonymize = { name = "name" }
"#;

/// The kind of each person column, in table order after `id`.
pub fn kinds() -> Vec<Kind> {
    let spec = |text: &str| -> Kind {
        #[derive(serde::Deserialize)]
        struct One {
            c: PseudonymSpec,
        }
        Kind::from_spec(&toml::from_str::<One>(&format!("c = {text}")).unwrap().c).unwrap()
    };
    vec![
        spec("\"name\""),
        spec("\"first_name\""),
        spec("\"last_name\""),
        spec("\"email\""),
        spec("\"phone\""),
        spec("{ kind = \"identifier\", pattern = \"MRN-##@*####\" }"),
        spec("{ kind = \"date_shift\", days = 30 }"),
    ]
}

/// Writes 32 bytes of key material, all `byte` but the first, mode 0600.
pub fn write_key(dir: &Path, byte: u8) -> PathBuf {
    let path = dir.join("pseudonym.key");
    let mut material = vec![byte; 32];
    material[0] = 0x42;
    std::fs::write(&path, &material).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn sql_value(v: Option<&str>) -> String {
    match v {
        Some(v) => format!("'{v}'"),
        None => "NULL".into(),
    }
}

/// `INSERT` statements for both tables (standard SQL, every engine).
pub fn inserts() -> String {
    let people: Vec<String> = PEOPLE
        .iter()
        .map(|p| {
            format!(
                "({}, {}, {}, {}, {}, {}, {}, {})",
                p.0,
                sql_value(p.1),
                sql_value(p.2),
                sql_value(p.3),
                sql_value(p.4),
                sql_value(p.5),
                sql_value(p.6),
                sql_value(p.7)
            )
        })
        .collect();
    let visitors: Vec<String> = VISITORS
        .iter()
        .map(|(id, name)| format!("({id}, {})", sql_value(*name)))
        .collect();
    format!(
        "INSERT INTO person VALUES {};\nINSERT INTO visitor VALUES {};\n",
        people.join(", "),
        visitors.join(", ")
    )
}

/// The rows `id|name|first|last|email|phone|mrn|born` the rules must give
/// under the key of [`write_key`] with `byte`, then the visitors `id|name`.
pub fn expected(byte: u8) -> Vec<String> {
    let mut material = vec![byte; 32];
    material[0] = 0x42;
    let key = PseudonymKey::from_bytes(&material);
    let kinds = kinds();
    let mut rows: Vec<String> = PEOPLE
        .iter()
        .map(|p| {
            let values = [p.1, p.2, p.3, p.4, p.5, p.6, p.7];
            let mut out = vec![p.0.to_string()];
            for (value, kind) in values.iter().zip(&kinds) {
                out.push(match value {
                    Some(v) => derive(&key, kind, v).unwrap(),
                    None => "NULL".into(),
                });
            }
            out.join("|")
        })
        .collect();
    for (id, name) in VISITORS {
        let name = match name {
            Some(v) => derive(&key, &kinds[0], v).unwrap(),
            None => "NULL".into(),
        };
        rows.push(format!("{id}|{name}"));
    }
    rows
}

/// The columns of `person` after `id`, for the engines' row queries.
pub const COLUMNS: [&str; 6] = ["name", "first", "last", "email", "phone", "mrn"];
