//! The shape of the code: no import cycle in either crate, and imports point one way, down the layers of docs/ARCHITECTURE.md.
//!
//! Reads the sources as text: every `crate::`, `super::` and `self::` path
//! and every `use` of a child module is an arrow from its file to the file
//! that defines the module it names. Arrows between a module and its own
//! submodules (`sanitize.rs` and `sanitize/walk.rs`, the crate root and
//! everything) are left out: a module and the children it declares are one
//! unit.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers of the tool, top first. A file may import files of its own
/// layer or of a lower one, never of a higher one. A file that no prefix
/// names fails the test: a new module must be given its place.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "1 commands",
        &[
            "src/main.rs",
            "src/lib.rs",
            "src/commands/",
            "src/demo.rs",
            "src/demo/",
        ],
    ),
    ("2 workflow", &["src/workflow.rs", "src/report/"]),
    ("3 database layer", &["src/db.rs", "src/db/"]),
    (
        "4 steps",
        &[
            "src/engine.rs",
            "src/capture.rs",
            "src/restore.rs",
            "src/sanitize.rs",
            "src/sanitize/",
            "src/health.rs",
            "src/init.rs",
            "src/init/",
            "src/links.rs",
            "src/links/",
            "src/compare/",
            "src/objects.rs",
            "src/jobs.rs",
            "src/guard/",
            "src/quarantine.rs",
            "src/roles.rs",
            "src/leak_scan.rs",
            "src/hooks.rs",
            "src/leak_scan/",
            "src/extras.rs",
        ],
    ),
    (
        "5 vocabulary",
        &[
            "src/names.rs",
            "src/personal_data.rs",
            // The command line's types (clap derives): key options are read
            // by keys.rs, so they sit with the vocabulary, not the commands.
            "src/cli.rs",
            "src/config.rs",
            "src/exit.rs",
            "src/keys.rs",
            "src/units.rs",
            "src/redact.rs",
            "src/rowcodec.rs",
            "src/private_file.rs",
            "src/fragment.rs",
            "src/pseudonym.rs",
            "src/pseudonym/",
            "src/env_vars.rs",
            "src/interrupt.rs",
            "src/progress.rs",
            "src/runtime.rs",
        ],
    ),
];

/// Names a step module must never write: the dispatcher and the engines
/// stand above the steps.
const ABOVE_THE_STEPS: &[&str] = &[
    "AnyEngine",
    "db::any",
    "db::postgres",
    "db::mysql",
    "db::sqlite",
    "crate::db",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, as paths relative to the repository.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path.strip_prefix(root()).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// The module path of a file (`src/db/any/steps.rs` -> `db::any::steps`).
fn module_of(file: &Path, crate_dir: &Path) -> Vec<String> {
    let relative = file.strip_prefix(crate_dir).unwrap();
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" && stem != "main" {
        parts.push(stem.to_owned());
    }
    parts
}

/// The text of a file without comments and string literals, so that a
/// path in a doc comment or a message is not taken for an import.
fn code_of(text: &str) -> String {
    let bytes: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let next = bytes.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < bytes.len() && bytes[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i + 1 < bytes.len() && !(bytes[i] == '*' && bytes[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !prev_ident(&bytes, i) {
            // Raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while j < bytes.len() && bytes[j] == '#' {
                hashes += 1;
                j += 1;
            }
            if bytes.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= bytes.len() {
                    break;
                }
                if bytes[j] == '"' && (0..hashes).all(|h| bytes.get(j + 1 + h) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < bytes.len() && bytes[i] != '"' {
                if bytes[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && next.is_some() && bytes.get(i + 2) == Some(&'\'') {
            // A char literal such as 'a' (lifetimes have no closing quote).
            i += 3;
        } else if c == '\'' && next == Some('\\') {
            i += 2;
            while i < bytes.len() && bytes[i] != '\'' {
                i += 1;
            }
            i += 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    without_inline_modules(&out)
}

/// The code without inline `mod name { ... }` blocks (unit tests): their
/// `super` is the file itself, and test code is not part of the shape.
fn without_inline_modules(code: &str) -> String {
    let chars: Vec<char> = code.chars().collect();
    let mut out = String::with_capacity(code.len());
    let mut i = 0;
    while i < chars.len() {
        if (i == 0 || !chars[i - 1].is_alphanumeric() && chars[i - 1] != '_')
            && chars[i..].starts_with(&['m', 'o', 'd', ' '])
        {
            let mut j = i + 4;
            while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            while j < chars.len() && chars[j] == ' ' {
                j += 1;
            }
            if chars.get(j) == Some(&'{') {
                i = matching_brace(&chars, j) + 1;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

fn prev_ident(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// The module paths a file names: `crate::a::b`, `super::x`, `self::y`,
/// and `child::z` for the child modules it declares. Each is returned as
/// absolute segments, longest first resolution is the caller's.
fn named_paths(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let chars: Vec<char> = code.chars().collect();
    let mut children: Vec<String> = Vec::new();
    for line in code.lines() {
        let line = line.trim();
        let rest = line
            .strip_prefix("pub mod ")
            .or_else(|| line.strip_prefix("pub(crate) mod "))
            .or_else(|| line.strip_prefix("mod "));
        if let Some(name) = rest.and_then(|r| r.strip_suffix(';')) {
            children.push(name.trim().to_owned());
        }
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_alphabetic() && chars[i] != '_' || prev_ident(&chars, i) {
            i += 1;
            continue;
        }
        let start = i;
        let mut segments: Vec<String> = Vec::new();
        let mut j = i;
        loop {
            let s = j;
            while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            if s == j {
                break;
            }
            segments.push(chars[s..j].iter().collect());
            if j + 1 < chars.len() && chars[j] == ':' && chars[j + 1] == ':' {
                j += 2;
                if chars.get(j) == Some(&'{') {
                    // A group: each item is a path of its own under the prefix.
                    let close = matching_brace(&chars, j);
                    let inner: String = chars[j + 1..close].iter().collect();
                    for item in split_top(&inner) {
                        let mut full = segments.clone();
                        full.extend(item.split("::").map(|s| s.trim().to_owned()));
                        out.extend(absolute(&full, module, &children));
                    }
                    j = close + 1;
                    segments.clear();
                    break;
                }
            } else {
                break;
            }
        }
        if segments.len() > 1 {
            out.extend(absolute(&segments, module, &children));
        }
        i = j.max(start + 1);
    }
    out
}

fn matching_brace(chars: &[char], open: usize) -> usize {
    let mut depth = 0;
    for (k, c) in chars.iter().enumerate().skip(open) {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return k;
                }
            }
            _ => {}
        }
    }
    chars.len() - 1
}

fn split_top(inner: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut depth = 0;
    let mut current = String::new();
    for c in inner.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    items.push(current);
    items
        .into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// A path made absolute from the crate root, when it names this crate.
fn absolute(segments: &[String], module: &[String], children: &[String]) -> Option<Vec<String>> {
    let first = segments.first()?;
    let mut base: Vec<String> = match first.as_str() {
        "crate" => Vec::new(),
        "self" => module.to_vec(),
        "super" => {
            let mut m = module.to_vec();
            m.pop();
            m
        }
        name if children.iter().any(|c| c == name) => {
            let mut m = module.to_vec();
            m.push(name.to_owned());
            return Some([m, segments[1..].to_vec()].concat());
        }
        _ => return None,
    };
    let mut rest = &segments[1..];
    while rest.first().is_some_and(|s| s == "super") {
        base.pop();
        rest = &rest[1..];
    }
    base.extend(rest.iter().filter(|s| s.as_str() != "self").cloned());
    Some(base)
}

/// The arrows between the files of one crate: file -> files it imports.
fn arrows(crate_dir: &Path) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let files = sources(&crate_dir.join("src"));
    let src = crate_dir.join("src");
    let src = src.strip_prefix(root()).unwrap();
    let by_module: BTreeMap<Vec<String>, PathBuf> = files
        .iter()
        .map(|f| (module_of(f, src), f.clone()))
        .collect();
    let mut out = BTreeMap::new();
    for file in &files {
        let module = module_of(file, src);
        let text = std::fs::read_to_string(root().join(file)).unwrap();
        let code = code_of(&text);
        let mut targets = BTreeSet::new();
        for path in named_paths(&code, &module) {
            // The longest prefix that is a module with a file of its own.
            let target = (1..=path.len())
                .rev()
                .find_map(|n| by_module.get(&path[..n]))
                .cloned();
            if let Some(target) = target
                && target != *file
                && !within_one_module(&module, &module_of(&target, src))
            {
                targets.insert(target);
            }
        }
        out.insert(file.clone(), targets);
    }
    out
}

/// True when one module is the other's ancestor: a module and its own
/// submodules are one unit (the parent declares the children and they read
/// its types through `super::`), so arrows between them are not counted.
fn within_one_module(a: &[String], b: &[String]) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// Every circle of arrows, each as the files it passes through.
fn circles(graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Vec<Vec<PathBuf>> {
    // Tarjan's strongly connected components.
    struct State<'a> {
        graph: &'a BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        index: BTreeMap<&'a PathBuf, usize>,
        low: BTreeMap<&'a PathBuf, usize>,
        stack: Vec<&'a PathBuf>,
        on_stack: BTreeSet<&'a PathBuf>,
        next: usize,
        found: Vec<Vec<PathBuf>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a PathBuf) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[w].min(s.low[v]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.index[w].min(s.low[v]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            loop {
                let w = s.stack.pop().unwrap();
                s.on_stack.remove(w);
                component.push(w.clone());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !state.index.contains_key(v) {
            visit(&mut state, v);
        }
    }
    state.found
}

/// The arrows of a circle, written so that the imports to undo are named.
fn describe(circle: &[PathBuf], graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> String {
    let mut lines = Vec::new();
    for from in circle {
        for to in &graph[from] {
            if circle.contains(to) {
                lines.push(format!("  {} -> {}", from.display(), to.display()));
            }
        }
    }
    lines.join("\n")
}

fn layer_of(file: &Path) -> Option<usize> {
    let text = file.to_string_lossy();
    LAYERS.iter().position(|(_, prefixes)| {
        prefixes
            .iter()
            .any(|p| text == *p || (p.ends_with('/') && text.starts_with(p)))
    })
}

#[test]
fn no_import_circle_in_the_tool() {
    let graph = arrows(&root());
    assert!(
        graph.len() > 50,
        "the sources were not found: {} files",
        graph.len()
    );
    let found = circles(&graph);
    let text: Vec<String> = found.iter().map(|c| describe(c, &graph)).collect();
    assert!(
        found.is_empty(),
        "import circles in src/:\n{}",
        text.join("\n\n")
    );
}

#[test]
fn no_import_circle_in_the_format_crate() {
    let graph = arrows(&root().join("vault-format"));
    assert!(
        graph.len() > 10,
        "the sources were not found: {} files",
        graph.len()
    );
    let found = circles(&graph);
    let text: Vec<String> = found.iter().map(|c| describe(c, &graph)).collect();
    assert!(
        found.is_empty(),
        "import circles in vault-format/src/:\n{}",
        text.join("\n\n")
    );
}

#[test]
fn the_format_crate_names_nothing_of_the_tool() {
    let manifest = std::fs::read_to_string(root().join("vault-format/Cargo.toml")).unwrap();
    let dependencies = manifest.split("[dependencies]").nth(1).unwrap_or("");
    let dependencies = dependencies.split("\n[").next().unwrap_or("");
    assert!(
        !dependencies
            .lines()
            .any(|l| l.trim_start().starts_with("vault ") || l.trim_start().starts_with("vault=")),
        "vault-format depends on the tool:\n{dependencies}"
    );
}

#[test]
fn every_import_points_down_the_layers() {
    let graph = arrows(&root());
    let mut unplaced = Vec::new();
    let mut upward = Vec::new();
    for (from, targets) in &graph {
        let Some(from_layer) = layer_of(from) else {
            unplaced.push(from.display().to_string());
            continue;
        };
        for to in targets {
            if let Some(to_layer) = layer_of(to)
                && to_layer < from_layer
            {
                upward.push(format!(
                    "  {} (layer {}) imports {} (layer {})",
                    from.display(),
                    LAYERS[from_layer].0,
                    to.display(),
                    LAYERS[to_layer].0
                ));
            }
        }
    }
    assert!(
        unplaced.is_empty(),
        "files without a layer; give each its place in LAYERS here and in docs/ARCHITECTURE.md: {unplaced:?}"
    );
    assert!(
        upward.is_empty(),
        "imports that point up the layers:\n{}",
        upward.join("\n")
    );
}

#[test]
fn no_step_names_the_dispatcher_or_an_engine() {
    let steps = LAYERS
        .iter()
        .position(|(name, _)| name.contains("steps"))
        .unwrap();
    let mut found = Vec::new();
    for file in sources(&root().join("src")) {
        if layer_of(&file) != Some(steps) {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(root().join(&file)).unwrap());
        for (number, line) in code.lines().enumerate() {
            for name in ABOVE_THE_STEPS {
                if line.contains(name) {
                    found.push(format!(
                        "  {}:{}: {}",
                        file.display(),
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "step modules that name the database layer:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_reader_of_sources_sees_an_arrow_it_must_see() {
    // A circle built on purpose is found: the checks above cannot pass by
    // reading nothing.
    let module = vec!["a".to_owned()];
    let code = code_of(
        "use crate::b::{X, c::Y};\n// crate::z::W\nfn f() { let s = \"crate::q::R\"; super::p::g(); }\n",
    );
    let paths = named_paths(&code, &module);
    assert_eq!(
        paths,
        vec![
            vec!["b".to_owned(), "X".to_owned()],
            vec!["b".to_owned(), "c".to_owned(), "Y".to_owned()],
            vec!["p".to_owned(), "g".to_owned()],
        ]
    );
    let mut graph = BTreeMap::new();
    graph.insert(
        PathBuf::from("a.rs"),
        BTreeSet::from([PathBuf::from("b.rs")]),
    );
    graph.insert(
        PathBuf::from("b.rs"),
        BTreeSet::from([PathBuf::from("a.rs")]),
    );
    graph.insert(
        PathBuf::from("c.rs"),
        BTreeSet::from([PathBuf::from("a.rs")]),
    );
    let found = circles(&graph);
    assert_eq!(
        found,
        vec![vec![PathBuf::from("a.rs"), PathBuf::from("b.rs")]]
    );
}
