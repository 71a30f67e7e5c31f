//! Configuration settings as `pg_db_role_setting` stores them (`name=value`), and the `SET` clause that stores them again exactly, list-valued settings included.

use serde::{Deserialize, Serialize};

use crate::names::quote_ident;

/// One stored setting.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Setting {
    pub name: String,
    pub value: String,
}

impl Setting {
    /// Reads `name=value` as `setconfig` holds it.
    pub fn parse(text: &str) -> Option<Setting> {
        let (name, value) = text.split_once('=')?;
        Some(Setting {
            name: name.to_owned(),
            value: value.to_owned(),
        })
    }
}

/// Settings whose stored value is a list of separately quoted elements
/// (GUC_LIST_QUOTE): the value `a, "b c"` is stored back as two elements,
/// not as one string.
const LIST_SETTINGS: [&str; 6] = [
    "local_preload_libraries",
    "search_path",
    "session_preload_libraries",
    "shared_preload_libraries",
    "temp_tablespaces",
    "unix_socket_directories",
];

fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The elements of a stored list value: separated by commas, each possibly
/// in double quotes (a doubled quote inside).
fn list_elements(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = value.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut element = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                if c == '"' {
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        element.push('"');
                    } else {
                        break;
                    }
                } else {
                    element.push(c);
                }
            }
            while chars.peek().is_some_and(|c| *c != ',') {
                chars.next();
            }
        } else {
            while let Some(c) = chars.peek().copied() {
                if c == ',' {
                    break;
                }
                element.push(c);
                chars.next();
            }
            element = element.trim_end().to_owned();
        }
        out.push(element);
        if chars.next().is_none() {
            break;
        }
    }
    out
}

/// `SET name = value` that stores `setting` exactly as captured.
pub(super) fn set_clause(setting: &Setting) -> String {
    let value = if LIST_SETTINGS.contains(&setting.name.to_ascii_lowercase().as_str()) {
        list_elements(&setting.value)
            .iter()
            .map(|e| literal(e))
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        literal(&setting.value)
    };
    format!("SET {} = {value}", quote_ident(&setting.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_path_is_stored_back_as_its_elements() {
        let setting = Setting::parse("search_path=app, \"my schema\", public").unwrap();
        assert_eq!(
            set_clause(&setting),
            "SET \"search_path\" = 'app', 'my schema', 'public'"
        );
        let plain = Setting::parse("statement_timeout=5s").unwrap();
        assert_eq!(set_clause(&plain), "SET \"statement_timeout\" = '5s'");
        let quoted = Setting::parse("app.motto=it's=fine").unwrap();
        assert_eq!(set_clause(&quoted), "SET \"app.motto\" = 'it''s=fine'");
    }
}
