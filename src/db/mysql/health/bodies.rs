//! Stored procedures, functions and triggers whose bodies name tables (or call procedures) that do not exist, read from their text.
//!
//! MySQL and MariaDB resolve the tables of a routine or trigger only when
//! it runs, and `DROP TABLE` never looks inside bodies: after a refresh a
//! trigger may insert into a table acceptance no longer has, and then every
//! statement that fires it fails. The server has no dependency catalog for
//! bodies, so each body is read here, conservatively: only the names after
//! `FROM`, `JOIN`, `USING`, `INSERT`/`REPLACE [INTO]`, `UPDATE`, `TRUNCATE [TABLE]`
//! (tables) and `CALL` (procedures), outside string literals and comments,
//! and only in query context (the `FROM` of `EXTRACT(YEAR FROM d)` or
//! `TRIM(x FROM y)` is not a table). Tables the body creates, drops or
//! renames itself, temporary tables any body of the schema creates, the
//! names of common table expressions and the body's table aliases are not
//! held against it.
//! Dynamic SQL (`PREPARE s FROM @sql`) cannot be checked and is not.

use std::collections::{BTreeSet, HashMap, HashSet};

use sqlx::Row;
use sqlx::mysql::MySqlConnection;

use crate::db::mysql::mysql_error;
use crate::exit::ToolError;
use crate::health::{Finding, FindingKind, Inspection};

const METHOD: &str = "body text read for table names (FROM, JOIN, USING, INSERT/REPLACE INTO, UPDATE, TRUNCATE) and CALL targets, looked up in information_schema.TABLES and ROUTINES";

/// A piece of a body, as [`tokens`] splits it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// A bare word, upper-cased for keywords; `text` keeps its spelling.
    Word {
        upper: String,
        text: String,
    },
    /// A quoted identifier (backquotes; double quotes under ANSI_QUOTES).
    Ident(String),
    Str,
    /// `@name` or `@@name`.
    Var,
    Punct(char),
}

impl Tok {
    fn is(&self, keyword: &str) -> bool {
        matches!(self, Tok::Word { upper, .. } if upper == keyword)
    }

    fn is_any(&self, keywords: &[&str]) -> bool {
        matches!(self, Tok::Word { upper, .. } if keywords.contains(&upper.as_str()))
    }
}

/// Splits a body into words, quoted names, literals and punctuation;
/// comments are dropped (executable `/*! */` comments too).
fn tokens(text: &str, ansi_quotes: bool, backslash_escapes: bool) -> Vec<Tok> {
    let chars: Vec<char> = text.chars().collect();
    let word_char = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
        } else if c == '#'
            || (c == '-' && next == Some('-') && chars.get(i + 2).is_none_or(|c| c.is_whitespace()))
        {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i += 2;
        } else if matches!(c, '\'' | '"' | '`') {
            let escapes = backslash_escapes && c != '`';
            let mut inner = String::new();
            i += 1;
            while i < chars.len() {
                if escapes && chars[i] == '\\' {
                    inner.extend(chars.get(i + 1));
                    i += 2;
                    continue;
                }
                if chars[i] == c {
                    if chars.get(i + 1) == Some(&c) {
                        inner.push(c);
                        i += 2;
                        continue;
                    }
                    break;
                }
                inner.push(chars[i]);
                i += 1;
            }
            i += 1;
            out.push(match c {
                '`' => Tok::Ident(inner),
                '"' if ansi_quotes => Tok::Ident(inner),
                _ => Tok::Str,
            });
        } else if c == '@' {
            i += 1;
            while i < chars.len() && (word_char(chars[i]) || matches!(chars[i], '@' | '.')) {
                i += 1;
            }
            out.push(Tok::Var);
        } else if word_char(c) {
            let start = i;
            while i < chars.len() && word_char(chars[i]) {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            out.push(Tok::Word {
                upper: text.to_uppercase(),
                text,
            });
        } else {
            out.push(Tok::Punct(c));
            i += 1;
        }
    }
    out
}

/// Words after `FROM` or `JOIN` that are not tables.
const NOT_A_TABLE: &[&str] = &[
    "SELECT", "DUAL", "FIRST", "LAST", "LATERAL", "VALUES", "WITH",
];

/// Words that end a table reference (so are no alias).
const ENDS_REFERENCE: &[&str] = &[
    "WHERE",
    "JOIN",
    "INNER",
    "LEFT",
    "RIGHT",
    "CROSS",
    "STRAIGHT_JOIN",
    "NATURAL",
    "FULL",
    "OUTER",
    "ON",
    "USING",
    "GROUP",
    "ORDER",
    "LIMIT",
    "HAVING",
    "WINDOW",
    "UNION",
    "EXCEPT",
    "INTERSECT",
    "FOR",
    "LOCK",
    "INTO",
    "SET",
    "PARTITION",
    "FORCE",
    "USE",
    "IGNORE",
    "VALUES",
    "VALUE",
    "SELECT",
    "RETURNING",
    "LATERAL",
    "WHEN",
    "THEN",
    "END",
    "ELSE",
    "DO",
    "WITH",
    "FETCH",
    "OFFSET",
    "PROCEDURE",
    "TABLESAMPLE",
];

/// A name as a body writes it: `name` or `schema.name`.
type Name = (Option<String>, String);

/// What one body names.
#[derive(Debug, Default)]
struct References {
    tables: BTreeSet<Name>,
    procedures: BTreeSet<Name>,
    /// Tables the body creates, drops or renames: not checked.
    own: BTreeSet<String>,
    /// Temporary tables the body creates (excused in every body).
    temporary: BTreeSet<String>,
    /// Common table expressions (and window names): not tables.
    ctes: BTreeSet<String>,
    /// Aliases of the tables read (`DELETE FROM a USING t AS a` names one).
    aliases: BTreeSet<String>,
}

/// The name at `j` (`name` or `schema.name`) and the position after it.
fn name_at(toks: &[Tok], j: usize) -> Option<(Name, usize)> {
    let first = match toks.get(j)? {
        Tok::Word { upper, text } if !NOT_A_TABLE.contains(&upper.as_str()) => text.clone(),
        Tok::Ident(text) => text.clone(),
        _ => return None,
    };
    if toks.get(j + 1) == Some(&Tok::Punct('.')) {
        match toks.get(j + 2) {
            Some(Tok::Word { text, .. } | Tok::Ident(text)) => {
                return Some(((Some(first), text.clone()), j + 3));
            }
            _ => return None,
        }
    }
    Some(((None, first), j + 1))
}

/// The position after any of `words` from `j` on.
fn skip(toks: &[Tok], mut j: usize, words: &[&str]) -> usize {
    while toks.get(j).is_some_and(|t| t.is_any(words)) {
        j += 1;
    }
    j
}

impl References {
    fn read(text: &str, sql_mode: &str) -> Self {
        let mode = sql_mode.to_ascii_uppercase();
        let toks = tokens(
            text,
            mode.contains("ANSI_QUOTES") || mode.contains("ORACLE"),
            !mode.contains("NO_BACKSLASH_ESCAPES"),
        );
        let mut refs = References::default();
        refs.read_ctes(&toks);
        // Whether each open parenthesis holds a query (`(SELECT ...`) or
        // something else (a function's arguments, a column list).
        let mut query_context = vec![true];
        let mut previous: Option<&Tok> = None;
        for (i, tok) in toks.iter().enumerate() {
            match tok {
                Tok::Punct('(') => {
                    query_context.push(
                        toks.get(i + 1)
                            .is_some_and(|t| t.is_any(&["SELECT", "WITH"])),
                    );
                }
                Tok::Punct(')') if query_context.len() > 1 => {
                    query_context.pop();
                }
                Tok::Word { upper, .. } if query_context.last() == Some(&true) => {
                    let after_paren = toks.get(i + 1) == Some(&Tok::Punct('('));
                    match upper.as_str() {
                        // `USING (columns)` of a join reads nothing: no name follows.
                        "FROM" | "USING" => refs.read_tables(&toks, i + 1, true, false),
                        "JOIN" | "STRAIGHT_JOIN" => refs.read_tables(&toks, i + 1, false, false),
                        "INSERT" | "REPLACE" if !after_paren => {
                            let j = skip(
                                &toks,
                                i + 1,
                                &["LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY", "IGNORE", "INTO"],
                            );
                            refs.read_tables(&toks, j, false, true);
                        }
                        "UPDATE"
                            if !previous.is_some_and(|p| p.is_any(&["KEY", "FOR", "ON", "OF"])) =>
                        {
                            let j = skip(&toks, i + 1, &["LOW_PRIORITY", "IGNORE"]);
                            refs.read_tables(&toks, j, true, false);
                        }
                        "TRUNCATE" if !after_paren => {
                            refs.read_tables(&toks, skip(&toks, i + 1, &["TABLE"]), false, false);
                        }
                        "CALL" => {
                            if let Some((name, _)) = name_at(&toks, i + 1) {
                                refs.procedures.insert(name);
                            }
                        }
                        "CREATE" | "DROP" | "RENAME" => refs.read_ddl(&toks, i),
                        _ => {}
                    }
                }
                _ => {}
            }
            previous = Some(tok);
        }
        refs
    }

    /// `name AS (` and `name (columns) AS (`: common table expressions.
    fn read_ctes(&mut self, toks: &[Tok]) {
        for (i, tok) in toks.iter().enumerate() {
            let name = match tok {
                Tok::Word { text, .. } | Tok::Ident(text) => text,
                _ => continue,
            };
            let mut k = i + 1;
            if toks.get(k) == Some(&Tok::Punct('(')) {
                while k < toks.len() && toks[k] != Tok::Punct(')') {
                    k += 1;
                }
                k += 1;
            }
            if toks.get(k).is_some_and(|t| t.is("AS")) && toks.get(k + 1) == Some(&Tok::Punct('('))
            {
                self.ctes.insert(name.clone());
            }
        }
    }

    /// Table references from `j`: a name, an optional alias, and with
    /// `list` more after commas. `columns` allows `name (` (an INSERT's
    /// column list); otherwise `name (` is a table function.
    fn read_tables(&mut self, toks: &[Tok], mut j: usize, list: bool, columns: bool) {
        loop {
            let Some((name, mut k)) = name_at(toks, j) else {
                return;
            };
            if !columns && toks.get(k) == Some(&Tok::Punct('(')) {
                return;
            }
            self.tables.insert(name);
            if columns {
                return;
            }
            if toks.get(k).is_some_and(|t| t.is("AS")) {
                k += 1;
            }
            match toks.get(k) {
                Some(Tok::Ident(alias)) => {
                    self.aliases.insert(alias.clone());
                    k += 1;
                }
                Some(Tok::Word { upper, text }) if !ENDS_REFERENCE.contains(&upper.as_str()) => {
                    self.aliases.insert(text.clone());
                    k += 1;
                }
                _ => {}
            }
            if list && toks.get(k) == Some(&Tok::Punct(',')) {
                j = k + 1;
            } else {
                return;
            }
        }
    }

    /// `CREATE [OR REPLACE] [TEMPORARY] TABLE [IF NOT EXISTS] t`, `DROP
    /// [TEMPORARY] TABLE [IF EXISTS] t, ...`, `RENAME TABLE a TO b, ...`.
    fn read_ddl(&mut self, toks: &[Tok], i: usize) {
        let j = skip(toks, i + 1, &["OR", "REPLACE"]);
        let temporary = toks.get(j).is_some_and(|t| t.is("TEMPORARY"));
        let j = skip(toks, j, &["TEMPORARY"]);
        if !toks.get(j).is_some_and(|t| t.is_any(&["TABLE", "TABLES"])) {
            return;
        }
        let mut j = skip(toks, j + 1, &["IF", "NOT", "EXISTS"]);
        while let Some(((_, name), k)) = name_at(toks, j) {
            if temporary && toks[i].is("CREATE") {
                self.temporary.insert(name.clone());
            }
            self.own.insert(name);
            j = skip(toks, k, &["TO"]);
            if toks.get(j) == Some(&Tok::Punct(',')) {
                j += 1;
            } else if toks.get(k).is_some_and(|t| t.is("TO")) {
                continue;
            } else {
                break;
            }
        }
    }
}

/// One routine or trigger.
struct Body {
    /// `procedure`, `function` or `trigger`.
    kind: &'static str,
    name: String,
    /// A trigger's table and event (`INSERT on orders`).
    fires_on: Option<String>,
    text: String,
    sql_mode: String,
}

/// The schema's tables and procedures, and other schemas' when a body
/// names them, with the server's case rules.
struct Names {
    schema: String,
    /// `lower_case_table_names` is not 0: table names compare without case.
    fold: bool,
    tables: HashMap<String, HashSet<String>>,
    procedures: HashMap<String, HashSet<String>>,
}

impl Names {
    fn key(&self, name: &str) -> String {
        if self.fold {
            name.to_lowercase()
        } else {
            name.to_owned()
        }
    }

    async fn load(&mut self, conn: &mut MySqlConnection, schema: &str) -> Result<(), ToolError> {
        let key = self.key(schema);
        if self.tables.contains_key(&key) {
            return Ok(());
        }
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
        )
        .bind(schema)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| mysql_error("", e))?;
        let procedures: Vec<String> = sqlx::query_scalar(
            "SELECT routine_name FROM information_schema.routines
             WHERE routine_schema = ? AND routine_type = 'PROCEDURE'",
        )
        .bind(schema)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| mysql_error("", e))?;
        let tables = tables.iter().map(|t| self.key(t)).collect();
        // Routine names never depend on case.
        let procedures = procedures.iter().map(|p| p.to_lowercase()).collect();
        self.tables.insert(key.clone(), tables);
        self.procedures.insert(key, procedures);
        Ok(())
    }

    /// `schema.name` as the finding shows it, when it does not exist.
    async fn missing(
        &mut self,
        conn: &mut MySqlConnection,
        (schema, name): &Name,
        procedure: bool,
    ) -> Result<Option<String>, ToolError> {
        let schema = schema.clone().unwrap_or_else(|| self.schema.clone());
        self.load(conn, &schema).await?;
        let key = self.key(&schema);
        let exists = if procedure {
            self.procedures[&key].contains(&name.to_lowercase())
        } else {
            self.tables[&key].contains(&self.key(name))
        };
        Ok((!exists).then(|| format!("{schema}.{name}")))
    }
}

pub(super) async fn check(
    conn: &mut MySqlConnection,
    schema: &str,
    out: &mut Inspection,
) -> Result<(), ToolError> {
    let mut bodies: Vec<Body> = Vec::new();
    let routines = sqlx::query(
        "SELECT routine_name, routine_type, coalesce(routine_definition, ''), sql_mode
         FROM information_schema.routines WHERE routine_schema = ?
         ORDER BY routine_name, routine_type",
    )
    .bind(schema)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| mysql_error("", e))?;
    for row in routines {
        let kind: String = row.get(1);
        bodies.push(Body {
            kind: if kind == "FUNCTION" {
                "function"
            } else {
                "procedure"
            },
            name: row.get(0),
            fires_on: None,
            text: row.get(2),
            sql_mode: row.get(3),
        });
    }
    let triggers = sqlx::query(
        "SELECT trigger_name, event_object_table, event_manipulation, action_statement, sql_mode
         FROM information_schema.triggers WHERE trigger_schema = ? ORDER BY trigger_name",
    )
    .bind(schema)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| mysql_error("", e))?;
    for row in triggers {
        let (table, event): (String, String) = (row.get(1), row.get(2));
        bodies.push(Body {
            kind: "trigger",
            name: row.get(0),
            fires_on: Some(format!("{event} on {table}")),
            text: row.get(3),
            sql_mode: row.get(4),
        });
    }
    if bodies.is_empty() {
        return Ok(());
    }
    let fold: i64 = sqlx::query_scalar("SELECT CAST(@@lower_case_table_names AS SIGNED)")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| mysql_error("", e))?;
    let mut names = Names {
        schema: schema.to_owned(),
        fold: fold != 0,
        tables: HashMap::new(),
        procedures: HashMap::new(),
    };
    let read: Vec<References> = bodies
        .iter()
        .map(|b| References::read(&b.text, &b.sql_mode))
        .collect();
    let temporary: BTreeSet<String> = read
        .iter()
        .flat_map(|r| r.temporary.iter().map(|t| names.key(t)))
        .collect();
    for (body, refs) in bodies.iter().zip(read) {
        let excused = |name: &Name| {
            let key = names.key(&name.1);
            name.0.is_none()
                && (temporary.contains(&key)
                    || refs.own.iter().any(|o| names.key(o) == key)
                    || refs.ctes.iter().any(|c| c.eq_ignore_ascii_case(&name.1))
                    || refs.aliases.iter().any(|a| a.eq_ignore_ascii_case(&name.1)))
        };
        let tables: Vec<Name> = refs
            .tables
            .iter()
            .filter(|n| !excused(n))
            .cloned()
            .collect();
        let mut missing: Vec<String> = Vec::new();
        for table in &tables {
            if let Some(shown) = names.missing(conn, table, false).await? {
                missing.push(format!("table or view {shown}"));
            }
        }
        for procedure in &refs.procedures {
            if let Some(shown) = names.missing(conn, procedure, true).await? {
                missing.push(format!("procedure {shown}"));
            }
        }
        if missing.is_empty() {
            continue;
        }
        let which = if missing.len() == 1 {
            "which does not exist"
        } else {
            "which do not exist"
        };
        let list = missing.join(", ");
        let finding = match &body.fires_on {
            Some(fires_on) => Finding::new(
                FindingKind::BrokenTrigger,
                format!("{schema}.{}", body.name),
                format!(
                    "trigger ({fires_on}) refers to {list}, {which}: every {fires_on} fails while it is there"
                ),
                METHOD,
            )
            .what_to_do(
                "recreate the missing objects, or drop the trigger and create it again with a corrected body",
            ),
            None => Finding::new(
                FindingKind::BrokenFunction,
                format!("{schema}.{}()", body.name),
                format!("{} refers to {list}, {which}: it fails when it runs", body.kind),
                METHOD,
            )
            .what_to_do(format!(
                "recreate the missing objects, or drop the {} and create it again with a corrected body",
                body.kind
            )),
        };
        out.findings.push(finding);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables(body: &str) -> Vec<String> {
        let refs = References::read(body, "");
        refs.tables
            .iter()
            .filter(|(s, n)| s.is_some() || !(refs.own.contains(n) || refs.ctes.contains(n)))
            .map(|(s, n)| match s {
                Some(s) => format!("{s}.{n}"),
                None => n.clone(),
            })
            .collect()
    }

    #[test]
    fn table_names_are_read_in_query_context_only() {
        assert_eq!(
            tables(
                "BEGIN
                   DECLARE n int;
                   SELECT count(*) INTO n FROM a x, `b` AS y JOIN c ON c.id = y.id WHERE EXTRACT(YEAR FROM now()) > 0;
                   INSERT INTO d (p, q) SELECT TRIM(LEADING 'x' FROM s), 1 FROM e ON DUPLICATE KEY UPDATE q = 2;
                   REPLACE f SET z = REPLACE(z, 'FROM g', '');
                   UPDATE LOW_PRIORITY h SET k = (SELECT max(k) FROM other.i) WHERE 1 FOR UPDATE;
                   DELETE FROM j WHERE id IN (SELECT id FROM (SELECT id FROM k) AS kk);
                   -- SELECT * FROM commented_out
                   /* FROM also_commented */ # FROM hash_comment
                   PREPARE s FROM @sql;
                   TRUNCATE TABLE l;
                   SET @t = TRUNCATE(1.5, 0);
                   CALL p1(n);
                 END"
            ),
            ["a", "b", "c", "d", "e", "f", "h", "j", "k", "l", "other.i"]
        );
    }

    #[test]
    fn tables_the_body_makes_and_ctes_are_not_references() {
        let refs = References::read(
            "BEGIN
               CREATE TEMPORARY TABLE IF NOT EXISTS scratch (a int);
               INSERT INTO scratch VALUES (1);
               WITH recent (id) AS (SELECT id FROM visit), w AS (SELECT 1) SELECT * FROM recent, w;
               DROP TABLE IF EXISTS old_copy, other_copy;
               SELECT * FROM old_copy;
               RENAME TABLE a_new TO a_newer;
               CALL db2.proc();
               DELETE FROM v1 USING visit AS v1 JOIN customer c ON c.id = v1.customer_id;
             END",
            "",
        );
        assert!(refs.temporary.contains("scratch"));
        for name in ["scratch", "old_copy", "other_copy", "a_new", "a_newer"] {
            assert!(refs.own.contains(name), "{name} in {refs:?}");
        }
        assert!(
            refs.ctes.contains("recent") && refs.ctes.contains("w"),
            "{refs:?}"
        );
        assert!(
            refs.aliases.contains("v1") && refs.aliases.contains("c"),
            "{refs:?}"
        );
        assert!(refs.tables.contains(&(None, "visit".to_owned())));
        assert!(
            refs.procedures
                .contains(&(Some("db2".to_owned()), "proc".to_owned()))
        );
    }

    #[test]
    fn quotes_follow_the_sql_mode() {
        let body = "SELECT \"x\" FROM \"t\"";
        assert!(
            References::read(body, "ANSI_QUOTES")
                .tables
                .contains(&(None, "t".to_owned()))
        );
        assert!(References::read(body, "").tables.is_empty());
        let escaped = "SELECT 'it\\'s FROM fake' FROM real_one";
        assert_eq!(
            References::read(escaped, "")
                .tables
                .into_iter()
                .collect::<Vec<_>>(),
            [(None, "real_one".to_owned())]
        );
    }
}
