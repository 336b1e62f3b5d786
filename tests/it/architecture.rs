//! The shape ARCHITECTURE.md draws, held against the code: every `crate::`,
//! `super::` and `self::` path in `src/` (and every `use` of a child
//! module) is an import from one file to another; none may run up the
//! layers the document's table orders, and no files may import each other
//! around a circle. A path to an item a module only re-exports (`pub use`)
//! counts as an import of the file that defines it. A module's own
//! submodules called by name (`validate::run`) are its parts, not imports.
//!
//! Also: the rules the document adds to the order, and the size limits
//! (no file over 600 lines in `src/` or `benches/`, no function over 150).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

const MAX_FILE_LINES: usize = 600;
const MAX_FN_LINES: usize = 150;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// The source with comments, strings and char literals blanked (lines
/// kept), so braces and paths are only the code's.
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let blank = |s: &str, out: &mut String| out.extend(s.chars().map(|c| if c == '\n' { '\n' } else { ' ' }));
    let mut i = 0;
    while i < b.len() {
        let rest = &src[i..];
        let prev_ident = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        let end = if rest.starts_with("//") {
            rest.find('\n').unwrap_or(rest.len())
        } else if let Some(body) = rest.strip_prefix("/*") {
            body.find("*/").map_or(rest.len(), |j| j + 4)
        } else if !prev_ident && (rest.starts_with("r\"") || rest.starts_with("r#")) {
            let hashes = rest[1..].bytes().take_while(|&c| c == b'#').count();
            let close = format!("\"{}", "#".repeat(hashes));
            let open = 2 + hashes;
            rest[open..].find(&close).map_or(rest.len(), |j| open + j + close.len())
        } else if rest.starts_with('"') {
            let mut j = 1;
            let rb = rest.as_bytes();
            while j < rb.len() && rb[j] != b'"' {
                j += if rb[j] == b'\\' { 2 } else { 1 };
            }
            (j + 1).min(rest.len())
        } else if rest.starts_with('\'') {
            // A char literal ('{', '\n', '\u{1f}'); a lifetime has no closing quote.
            let rb = rest.as_bytes();
            if rb.len() > 2 && rb[1] != b'\\' && rb[2] == b'\'' {
                3
            } else if rb.len() > 3 && rb[1] == b'\\' {
                rest[2..].find('\'').map_or(1, |j| j + 3)
            } else {
                0
            }
        } else {
            0
        };
        if end == 0 {
            let c = rest.chars().next().expect("not at the end");
            out.push(c);
            i += c.len_utf8();
        } else {
            blank(&rest[..end], &mut out);
            i += end;
        }
    }
    out
}

/// The code without its `#[cfg(test)]` modules (tests may reach anything).
fn without_tests(code: &str) -> String {
    match code
        .find("#[cfg(test)]\nmod ")
        .or_else(|| code.find("#[cfg(test)]\npub mod "))
    {
        Some(i) => code[..i].to_owned(),
        None => code.to_owned(),
    }
}

/// One file of `src/`: its module path and what it says.
struct File {
    path: String,
    module: Vec<String>,
    code: String,
}

fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_owned());
    }
    parts
}

fn src_files() -> Vec<File> {
    let src = root().join("src");
    rust_files(&src)
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(&src).expect("under src");
            File {
                path: format!("src/{}", rel.display()),
                module: module_of(rel),
                code: without_tests(&code_only(&std::fs::read_to_string(&p).expect("readable"))),
            }
        })
        .collect()
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The paths of a use tree starting at `at` (`a::b`, `{a, b::c}`, `*`).
fn use_tree(code: &str, at: usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
    let b = code.as_bytes();
    let mut i = at;
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    if i < b.len() && b[i] == b'{' {
        i += 1;
        loop {
            i = use_tree(code, i, prefix.clone(), out);
            while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b',') {
                i += 1;
            }
            if i >= b.len() || b[i] == b'}' {
                return i + 1;
            }
        }
    }
    let start = i;
    while i < b.len() && is_ident(b[i]) {
        i += 1;
    }
    if start == i {
        out.push(prefix);
        return i + usize::from(i < b.len() && b[i] == b'*');
    }
    let mut path = prefix;
    path.push(code[start..i].to_owned());
    if code[i..].starts_with("::") {
        return use_tree(code, i + 2, path, out);
    }
    out.push(path);
    i
}

/// Every path a file names: `crate::…`, `super::…`, `self::…` anywhere,
/// and `use child::…` of its own submodules; each as a module path from
/// the crate root.
fn paths_of(f: &File, children: &BTreeSet<String>) -> Vec<Vec<String>> {
    let code = &f.code;
    let b = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let starts = i == 0 || !(is_ident(b[i - 1]) || b[i - 1] == b':');
        let rest = &code[i..];
        let mut base: Option<(Vec<String>, usize)> = None;
        if starts && rest.starts_with("crate::") {
            base = Some((Vec::new(), 7));
        } else if starts && (rest.starts_with("super::") || rest.starts_with("self::")) {
            // `self` of a file is its module; each `super` one up.
            let mut module = f.module.clone();
            let mut j = 0;
            loop {
                if code[i + j..].starts_with("super::") {
                    module.pop();
                    j += 7;
                } else if code[i + j..].starts_with("self::") {
                    j += 6;
                } else {
                    break;
                }
            }
            base = Some((module, j));
        } else if starts && rest.starts_with("use ") {
            let name: String = rest[4..].bytes().take_while(|&c| is_ident(c)).map(char::from).collect();
            if children.contains(&name) && rest[4 + name.len()..].starts_with("::") {
                base = Some((f.module.clone(), 4));
            }
        }
        match base {
            Some((prefix, skip)) => i = use_tree(code, i + skip, prefix, &mut out),
            None => i += 1,
        }
    }
    out
}

/// Where each module path lives, what each file defines and re-exports.
struct Crate {
    by_module: HashMap<Vec<String>, usize>,
    defines: Vec<BTreeSet<String>>,
    reexports: Vec<Vec<Vec<String>>>,
    macros: HashMap<String, usize>,
}

fn item_names(code: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let words: Vec<&str> = code
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '!'))
        .collect();
    for w in words.windows(2) {
        if matches!(
            w[0],
            "struct" | "enum" | "fn" | "trait" | "type" | "const" | "static" | "mod" | "union" | "macro_rules!"
        ) && !w[1].is_empty()
        {
            names.insert(w[1].to_owned());
        }
    }
    names
}

impl Crate {
    fn new(files: &[File]) -> Crate {
        let mut c = Crate {
            by_module: HashMap::new(),
            defines: Vec::new(),
            reexports: Vec::new(),
            macros: HashMap::new(),
        };
        for (i, f) in files.iter().enumerate() {
            c.by_module.insert(f.module.clone(), i);
            c.defines.push(item_names(&f.code));
            let mut re = Vec::new();
            let mut at = 0;
            while let Some(j) = f.code[at..].find("pub use ") {
                let start = at + j + 8;
                let mut found = Vec::new();
                use_tree(&f.code, start, Vec::new(), &mut found);
                for p in found {
                    let absolute = match p.first().map(String::as_str) {
                        Some("crate") => p[1..].to_vec(),
                        Some("super") => [&f.module[..f.module.len().saturating_sub(1)], &p[1..]].concat(),
                        Some("self") => [&f.module[..], &p[1..]].concat(),
                        _ => [&f.module[..], &p[..]].concat(),
                    };
                    re.push(absolute);
                }
                at = start;
            }
            c.reexports.push(re);
            for name in item_names(&f.code)
                .into_iter()
                .filter(|n| f.code.contains(&format!("macro_rules! {n}")))
            {
                c.macros.insert(name, i);
            }
        }
        c
    }

    /// The file that defines what `path` names, following re-exports.
    fn resolve(&self, path: &[String], depth: usize) -> Option<usize> {
        if let Some(&m) = path.first().and_then(|n| self.macros.get(n)) {
            return Some(m);
        }
        let (file, used) = (0..=path.len())
            .rev()
            .find_map(|n| self.by_module.get(&path[..n]).map(|&f| (f, n)))?;
        let Some(item) = path.get(used) else {
            return Some(file);
        };
        if self.defines[file].contains(item) || depth > 8 {
            return Some(file);
        }
        let via = self.reexports[file].iter().find_map(|target| match target.last() {
            Some(last) if last == item => self.resolve(target, depth + 1),
            _ => None,
        });
        // A glob re-export (`pub use answers::*`): the file under it that
        // defines the item.
        let glob = || {
            self.reexports[file]
                .iter()
                .filter(|t| t.last().is_none_or(|l| !l.is_empty()))
                .filter_map(|t| self.by_module.get(t).copied())
                .find(|&g| self.defines[g].contains(item))
        };
        Some(via.or_else(glob).unwrap_or(file))
    }
}

/// The import graph between files, by index into `files`.
fn graph(files: &[File]) -> BTreeMap<usize, BTreeSet<usize>> {
    let krate = Crate::new(files);
    let mut edges: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
    for (i, f) in files.iter().enumerate() {
        let children: BTreeSet<String> = files
            .iter()
            .filter(|g| g.module.len() == f.module.len() + 1 && g.module.starts_with(&f.module))
            .map(|g| g.module.last().expect("a child").clone())
            .collect();
        for p in paths_of(f, &children) {
            if let Some(j) = krate.resolve(&p, 0)
                && j != i
                && !files[j].module.is_empty()
            {
                edges.entry(i).or_default().insert(j);
            }
        }
    }
    edges
}

/// The layers of ARCHITECTURE.md's table: module → layer number.
fn layers() -> BTreeMap<String, u32> {
    let doc = std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let mut out = BTreeMap::new();
    for line in doc.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 4 {
            continue;
        }
        let Ok(layer) = cells[1].parse::<u32>() else {
            continue;
        };
        for m in cells[2].split('`').skip(1).step_by(2) {
            out.insert(m.to_owned(), layer);
        }
    }
    assert!(!out.is_empty(), "ARCHITECTURE.md has no layer table");
    out
}

/// Strongly connected components of more than one file (Tarjan).
fn circles(n: usize, edges: &BTreeMap<usize, BTreeSet<usize>>) -> Vec<Vec<usize>> {
    struct T<'a> {
        edges: &'a BTreeMap<usize, BTreeSet<usize>>,
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(t: &mut T<'_>, v: usize) {
        t.index[v] = Some(t.next);
        t.low[v] = t.next;
        t.next += 1;
        t.stack.push(v);
        t.on[v] = true;
        for &w in t.edges.get(&v).into_iter().flatten() {
            match t.index[w] {
                None => {
                    visit(t, w);
                    t.low[v] = t.low[v].min(t.low[w]);
                }
                Some(iw) if t.on[w] => t.low[v] = t.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(t.low[v]) == t.index[v] {
            let mut scc = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on[w] = false;
                scc.push(w);
                if w == v {
                    break;
                }
            }
            if scc.len() > 1 {
                t.out.push(scc);
            }
        }
    }
    let mut t = T {
        edges,
        index: vec![None; n],
        low: vec![0; n],
        on: vec![false; n],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if t.index[v].is_none() {
            visit(&mut t, v);
        }
    }
    t.out
}

#[test]
fn no_files_import_each_other_around_a_circle() {
    let files = src_files();
    let edges = graph(&files);
    let found: Vec<String> = circles(files.len(), &edges)
        .into_iter()
        .map(|c| {
            c.iter()
                .map(|&i| files[i].path.as_str())
                .collect::<Vec<_>>()
                .join(" ⇄ ")
        })
        .collect();
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
}

#[test]
fn no_import_runs_up_the_layers() {
    let files = src_files();
    let layers = layers();
    let layer_of = |f: &File| f.module.first().and_then(|m| layers.get(m)).copied();
    let mut problems = Vec::new();
    for f in files.iter().filter(|f| !f.module.is_empty()) {
        if layer_of(f).is_none() {
            problems.push(format!(
                "{}: module `{}` has no layer in ARCHITECTURE.md",
                f.path, f.module[0]
            ));
        }
    }
    for (i, targets) in graph(&files) {
        let (Some(from), f) = (layer_of(&files[i]), &files[i]) else {
            continue;
        };
        for j in targets {
            let g = &files[j];
            if let Some(to) = layer_of(g)
                && to > from
            {
                problems.push(format!("{} (layer {from}) imports {} (layer {to})", f.path, g.path));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_rules_on_top_of_the_order_hold() {
    let files = src_files();
    let top = |i: usize| files[i].module.first().cloned().unwrap_or_default();
    let never: &[(&str, &[&str])] = &[
        ("ops", &["gameball"]),
        ("gameball", &["ops", "locks", "voucherify"]),
        ("domain", &["error", "ids", "metrics", "net", "compare", "config"]),
    ];
    let mut problems = Vec::new();
    for (i, targets) in graph(&files) {
        for j in targets {
            if let Some((_, banned)) = never.iter().find(|(m, _)| *m == top(i))
                && banned.contains(&top(j).as_str())
            {
                problems.push(format!("{} imports {}", files[i].path, files[j].path));
            }
        }
    }
    // Shadow runs the operations through `ops::apply` with its own effects:
    // it reaches into no operation, so it keeps no copy of one.
    for (i, targets) in graph(&files) {
        for j in targets {
            let into_an_operation = files[j].path.starts_with("src/ops/")
                && !matches!(files[j].path.as_str(), "src/ops/mod.rs" | "src/ops/effects.rs");
            if files[i].path.starts_with("src/shadow/") && into_an_operation {
                problems.push(format!("{} reaches into {}", files[i].path, files[j].path));
            }
        }
    }
    // Voucherify writes only through effects: a dry run can withhold them.
    // The wallet import is a tool, not an operation: it writes itself, and
    // its dry run is given no `Writes`.
    for f in &files {
        let allowed = matches!(f.path.as_str(), "src/ops/effects.rs" | "src/shadow/effects.rs")
            || f.path.starts_with("src/import/");
        if f.code.contains(".writes()") && !allowed && !f.path.starts_with("src/voucherify/") {
            problems.push(format!("{} makes Voucherify writes outside an effects file", f.path));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Each function's name and how many lines its body spans.
fn functions(code: &str) -> Vec<(String, usize)> {
    let b = code.as_bytes();
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(j) = code[at..].find("fn ") {
        let i = at + j;
        at = i + 3;
        if i > 0 && is_ident(b[i - 1]) {
            continue;
        }
        let name: String = code[i + 3..]
            .bytes()
            .take_while(|&c| is_ident(c))
            .map(char::from)
            .collect();
        let (Some(open), semi) = (code[i..].find('{'), code[i..].find(';')) else {
            continue;
        };
        if semi.is_some_and(|s| s < open) || name.is_empty() {
            continue;
        }
        let mut depth = 0usize;
        for (k, c) in code[i + open..].bytes().enumerate() {
            match c {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        let end = i + open + k;
                        out.push((name.clone(), code[i..end].matches('\n').count() + 1));
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    out
}

#[test]
fn no_file_or_function_is_too_long() {
    let mut problems = Vec::new();
    for dir in ["src", "benches"] {
        for p in rust_files(&root().join(dir)) {
            let text = std::fs::read_to_string(&p).expect("readable");
            let name = p.strip_prefix(root()).expect("under the root").display().to_string();
            let lines = text.lines().count();
            if lines > MAX_FILE_LINES {
                problems.push(format!("{name}: {lines} lines (at most {MAX_FILE_LINES})"));
            }
            for (f, n) in functions(&code_only(&text)) {
                if n > MAX_FN_LINES {
                    problems.push(format!("{name}: fn {f} is {n} lines (at most {MAX_FN_LINES})"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_reader_sees_paths_as_the_compiler_does() {
    let code =
        code_only("use crate::a::{b::C, d};\n// crate::not::this\nfn f() { let s = \"crate::nor\"; super::e::f(); }\n");
    let f = File {
        path: "src/x/y.rs".into(),
        module: vec!["x".into(), "y".into()],
        code,
    };
    let paths = paths_of(&f, &BTreeSet::new());
    let shown: Vec<String> = paths.iter().map(|p| p.join("::")).collect();
    assert_eq!(shown, ["a::b::C", "a::d", "x::e::f"]);
    let fns = functions(&code_only("fn a() {\n    let x = '{';\n}\nfn b();\n"));
    assert_eq!(fns, [("a".to_owned(), 3)]);
}
