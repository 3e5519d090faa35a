//! The crate's layering, enforced over `src/` so that it cannot rot: L0 leaf modules
//! (`error`, `time`, `fsstat`, `digest`, `codec`, `glob`, `report`) import nothing else of
//! the crate but the two named in [`L0_BELOW`] (`digest` proves a file unchanged by its
//! `fsstat::FileStat`; `report` records times as `time::Timestamp`); L1 `config` imports only L0; L2 `state`, `remote` and `catalog`; L3
//! `archive`, `restore` and `retention`; L4 `service` on top; `lib.rs` may import
//! everything, and the binary (`src/bin/`, `src/main.rs` and the modules it declares)
//! is skipped because it only sees the library through `logferry::`. Beside the layers
//! it checks that no two library files import each other in a cycle, that no file of the
//! library or the binary grows past [`MAX_LINES_OF_CODE`] and that no function in them
//! grows past [`MAX_FUNCTION_LINES`] (see DESIGN.md).
//!
//! How references are found: each file is lexed (comments, doc comments, string and char
//! literals dropped, so `[`crate::x`]` in docs or `"crate::x"` in messages never count),
//! then every `use` tree is expanded into full paths (`use crate::{config::Config,
//! error::Result}` gives `crate::config::Config` and `crate::error::Result`), and every
//! inline path starting with `crate::`, `$crate::`, `super::` or `self::` is taken, as
//! are paths whose first segment names a child module of the current module (`pub use
//! error::Error` in lib.rs). `super` and `self` are resolved against the module the line
//! is in, inline `mod tests { .. }` blocks included, so `use super::*` in a test block
//! means the file itself. Test blocks are checked like the rest of the file: with
//! `super` resolved properly they add no noise, and a test importing upwards is still an
//! upward import. A path is resolved to the file of its longest module prefix (`a/b.rs`,
//! `a/b/mod.rs`, `a.rs`, `a/mod.rs`); a remaining segment that the file `pub use`s is
//! followed to where it comes from, so `crate::Error` resolves to `error.rs` through
//! lib.rs and `super::Thing` to the sibling that `mod.rs` re-exports it from. A path to a
//! crate-root item that is neither a module nor a re-export is reported (lib.rs only
//! declares and re-exports); `crate::name!` macro calls are skipped.
//!
//! Lines of code are lines holding a token (blank and comment-only lines are not
//! counted), up to a trailing `#[cfg(test)] mod tests { .. }` block that closes the file;
//! files that are themselves test modules (`#[cfg(test)] mod tests;`) are not counted.
//! A function spans from the line of its `fn` to the line of its closing brace; functions
//! inside a `#[cfg(test)]` item (a test module, a test-only helper) and in test-module
//! files are not counted.
//! In the cycle check, edges to `lib.rs` and to a folder's `mod.rs` from inside that
//! folder do not count: those files only declare and re-export.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// DESIGN.md: a file past ~400 lines is split by job, so a file over this many lines of
/// code (tests at the end of the file excluded) is a failure.
const MAX_LINES_OF_CODE: usize = 400;

/// DESIGN.md: a function past ~80 lines is split, so a function spanning more lines than
/// this, from its `fn` to its closing brace (tests excluded), is a failure.
const MAX_FUNCTION_LINES: usize = 80;

const L0: &[&str] = &[
    "error", "time", "fsstat", "digest", "codec", "crypt", "glob", "report",
];
/// The imports between leaves, each of a leaf listed later in DESIGN.md on one listed
/// before it: hashing a file proves it unchanged by its stat; a report records when its
/// pass started as a timestamp.
const L0_BELOW: &[(&str, &str)] = &[("digest", "fsstat"), ("report", "time"), ("error", "crypt")];
/// The archive stage files: none imports another; `worker.rs` (or `mod.rs`) sequences them.
const ARCHIVE_STAGES: &[&str] = &[
    "scan", "diff", "upload", "sync", "commit", "cleanup", "disk",
];

// ---------------------------------------------------------------------------------------
// Lexing

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    /// `::`
    Path,
    Punct(char),
    Lit,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    line: usize,
}

/// Splits Rust source into identifiers, `::`, punctuation and literals; comments vanish.
/// Also returns the set of lines that hold a token (1-based).
fn lex(src: &str) -> (Vec<Token>, BTreeSet<usize>) {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut code_lines = BTreeSet::new();
    let (mut i, mut line) = (0, 1);
    let n = c.len();
    while i < n {
        let ch = c[i];
        let start_line = line;
        if ch == '\n' {
            line += 1;
            i += 1;
            continue;
        }
        if ch.is_whitespace() {
            i += 1;
            continue;
        }
        if ch == '/' && i + 1 < n && c[i + 1] == '/' {
            while i < n && c[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if ch == '/' && i + 1 < n && c[i + 1] == '*' {
            let mut depth = 0;
            while i < n {
                if c[i] == '/' && i + 1 < n && c[i + 1] == '*' {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && i + 1 < n && c[i + 1] == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if c[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
            continue;
        }
        let tok = if ch == '"' {
            i = skip_string(&c, i + 1, &mut line);
            Tok::Lit
        } else if ch == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime / label ('a).
            if i + 1 < n && c[i + 1] == '\\' {
                i += 2;
                while i < n && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
                Tok::Lit
            } else if i + 2 < n && c[i + 2] == '\'' {
                i += 3;
                Tok::Lit
            } else {
                i += 1;
                Tok::Punct('\'')
            }
        } else if ch.is_alphabetic() || ch == '_' {
            let s = i;
            while i < n && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            let word: String = c[s..i].iter().collect();
            let prefix = matches!(word.as_str(), "r" | "b" | "br" | "c" | "cr");
            if prefix && i < n && (c[i] == '"' || c[i] == '#') && word.ends_with('r') {
                let mut hashes = 0;
                let mut j = i;
                while j < n && c[j] == '#' {
                    hashes += 1;
                    j += 1;
                }
                if j < n && c[j] == '"' {
                    i = skip_raw_string(&c, j + 1, hashes, &mut line);
                    Tok::Lit
                } else if word == "r" && hashes == 1 {
                    // A raw identifier, r#type.
                    let s = j;
                    i = j;
                    while i < n && (c[i].is_alphanumeric() || c[i] == '_') {
                        i += 1;
                    }
                    Tok::Ident(c[s..i].iter().collect())
                } else {
                    Tok::Ident(word)
                }
            } else if prefix && i < n && c[i] == '"' {
                i = skip_string(&c, i + 1, &mut line);
                Tok::Lit
            } else if word == "b" && i < n && c[i] == '\'' {
                i += 1;
                while i < n && c[i] != '\'' {
                    if c[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
                Tok::Lit
            } else {
                Tok::Ident(word)
            }
        } else if ch.is_ascii_digit() {
            while i < n && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            Tok::Lit
        } else if ch == ':' && i + 1 < n && c[i + 1] == ':' {
            i += 2;
            Tok::Path
        } else {
            i += 1;
            Tok::Punct(ch)
        };
        code_lines.extend(start_line..=line);
        out.push(Token {
            tok,
            line: start_line,
        });
    }
    (out, code_lines)
}

/// Skips a string body from just after the opening quote; returns the index past it.
fn skip_string(c: &[char], mut i: usize, line: &mut usize) -> usize {
    while i < c.len() && c[i] != '"' {
        if c[i] == '\\' {
            i += 1;
        }
        if i < c.len() && c[i] == '\n' {
            *line += 1;
        }
        i += 1;
    }
    i + 1
}

fn skip_raw_string(c: &[char], mut i: usize, hashes: usize, line: &mut usize) -> usize {
    while i < c.len() {
        if c[i] == '"'
            && c[i + 1..]
                .iter()
                .take(hashes)
                .filter(|&&h| h == '#')
                .count()
                == hashes
        {
            return i + 1 + hashes;
        }
        if c[i] == '\n' {
            *line += 1;
        }
        i += 1;
    }
    i
}

// ---------------------------------------------------------------------------------------
// References

/// One path from a file into the crate.
#[derive(Debug, Clone, PartialEq)]
struct Reference {
    line: usize,
    /// The path as written, e.g. `super::upload::run`.
    text: String,
    /// The path from the crate root, `super` and `self` resolved.
    abs: Vec<String>,
    /// `crate::name!(..)`: a macro call, exported at the root.
    macro_call: bool,
}

/// What one file says: its references, what it re-exports, where its trailing test block
/// starts, which children it declares as test-only, and its lines of code.
#[derive(Debug, Default)]
struct Parsed {
    refs: Vec<Reference>,
    /// Name → absolute path, from `pub use` (any `pub` visibility).
    reexports: BTreeMap<String, Vec<String>>,
    /// Names `pub use`d from outside the crate (`pub use object_store::ObjectStore`).
    external: BTreeSet<String>,
    /// Line of the `#[cfg(test)]` of a `mod .. { }` block that closes the file.
    test_block_line: Option<usize>,
    /// `#[cfg(test)] mod name;`
    test_children: BTreeSet<String>,
    code_lines: BTreeSet<usize>,
    /// Functions with a body, outside `#[cfg(test)]` items.
    fns: Vec<FnSpan>,
}

/// One function: its name, the line of its `fn` and how many lines it spans.
#[derive(Debug, Clone, PartialEq)]
struct FnSpan {
    name: String,
    line: usize,
    lines: usize,
}

fn ident(t: Option<&Token>) -> Option<&str> {
    match t.map(|t| &t.tok) {
        Some(Tok::Ident(s)) => Some(s),
        _ => None,
    }
}

fn is(t: Option<&Token>, want: &Tok) -> bool {
    t.is_some_and(|t| &t.tok == want)
}

/// Parses one file whose module path is `module` (empty for lib.rs). `is_module` says
/// whether an absolute path names a module of the tree (for relative `use child::..`).
fn parse(src: &str, module: &[String], is_module: &dyn Fn(&[String]) -> bool) -> Parsed {
    let (toks, code_lines) = lex(src);
    let mut p = Parsed {
        code_lines,
        fns: fn_spans(&toks),
        ..Parsed::default()
    };
    let mut depth = 0usize;
    // Inline modules: (name, brace depth inside them).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let scope = |inline: &[(String, usize)]| -> Vec<String> {
        let mut s = module.to_vec();
        s.extend(inline.iter().map(|(n, _)| n.clone()));
        s
    };
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        match &t.tok {
            Tok::Punct('{') => {
                depth += 1;
                i += 1;
            }
            Tok::Punct('}') => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
                i += 1;
            }
            Tok::Punct('#') if cfg_test_at(&toks, i) => {
                // #[cfg(test)] then `mod name;` or `mod name {` (maybe after `pub`).
                let mut j = i + 7;
                if ident(toks.get(j)) == Some("pub") {
                    j += 1;
                }
                if let (Some("mod"), Some(name)) = (ident(toks.get(j)), ident(toks.get(j + 1))) {
                    if is(toks.get(j + 2), &Tok::Punct(';')) {
                        p.test_children.insert(name.to_string());
                    } else if depth == 0
                        && is(toks.get(j + 2), &Tok::Punct('{'))
                        && closes_file(&toks, j + 2)
                    {
                        p.test_block_line = Some(t.line);
                    }
                }
                i += 1;
            }
            Tok::Ident(w) if w == "mod" => {
                if let Some(name) = ident(toks.get(i + 1)) {
                    if is(toks.get(i + 2), &Tok::Punct('{')) {
                        depth += 1;
                        inline.push((name.to_string(), depth));
                        i += 3;
                        continue;
                    }
                }
                i += 1;
            }
            Tok::Ident(w) if w == "use" => {
                let public = is_pub_before(&toks, i);
                let mut j = i + 1;
                if is(toks.get(j), &Tok::Path) {
                    j += 1; // `use ::extern_crate` never names the crate
                    while j < toks.len() && !is(toks.get(j), &Tok::Punct(';')) {
                        j += 1;
                    }
                    i = j + 1;
                    continue;
                }
                let mut leaves = Vec::new();
                j = use_tree(&toks, j, Vec::new(), &mut leaves);
                let here = scope(&inline);
                for (raw, alias, line) in leaves {
                    let Some(abs) = resolve_relative(&raw, &here, is_module) else {
                        if public {
                            p.external.extend(alias.or_else(|| raw.last().cloned()));
                        }
                        continue;
                    };
                    let name = alias.or_else(|| abs.last().cloned());
                    if let Some(name) = name.filter(|n| public && n != "_" && n != "*") {
                        p.reexports.insert(name, abs.clone());
                    }
                    p.refs.push(Reference {
                        line,
                        text: raw.join("::"),
                        abs,
                        macro_call: false,
                    });
                }
                i = j;
            }
            Tok::Ident(w)
                if !is(i.checked_sub(1).and_then(|k| toks.get(k)), &Tok::Path)
                    && !is(i.checked_sub(1).and_then(|k| toks.get(k)), &Tok::Punct('.'))
                    && is(toks.get(i + 1), &Tok::Path) =>
            {
                let here = scope(&inline);
                let first = w.clone();
                let mut raw = vec![first];
                let mut j = i + 1;
                while is(toks.get(j), &Tok::Path) {
                    match ident(toks.get(j + 1)) {
                        Some(s) => {
                            raw.push(s.to_string());
                            j += 2;
                        }
                        None => break,
                    }
                }
                let macro_call = is(toks.get(j), &Tok::Punct('!'));
                if let Some(abs) = resolve_relative(&raw, &here, is_module) {
                    p.refs.push(Reference {
                        line: t.line,
                        text: raw.join("::"),
                        abs,
                        macro_call,
                    });
                }
                i = j;
            }
            _ => i += 1,
        }
    }
    p
}

/// The functions with a body, outside `#[cfg(test)]` items.
fn fn_spans(toks: &[Token]) -> Vec<FnSpan> {
    let tests: Vec<(usize, usize)> = (0..toks.len())
        .filter(|&i| cfg_test_at(toks, i))
        .filter_map(|i| {
            let open = body_open(toks, i + 7)?;
            Some((i, matching_close(toks, open)?))
        })
        .collect();
    let mut out = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        let (Some("fn"), Some(name)) = (ident(Some(t)), ident(toks.get(i + 1))) else {
            continue;
        };
        if tests.iter().any(|&(a, b)| a < i && i < b) {
            continue;
        }
        let Some(close) = body_open(toks, i + 2).and_then(|o| matching_close(toks, o)) else {
            continue; // a declaration without a body (`fn f();` in a trait)
        };
        out.push(FnSpan {
            name: name.to_string(),
            line: t.line,
            lines: toks[close].line - t.line + 1,
        });
    }
    out
}

/// The `{` opening the body of the item whose header starts at `from`, or `None` when the
/// header ends in `;` first. `;` and `{` inside `( )`, `[ ]` (`[u8; 4]`, attributes) do
/// not count.
fn body_open(toks: &[Token], from: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (k, t) in toks.iter().enumerate().skip(from) {
        match t.tok {
            Tok::Punct('(' | '[') => depth += 1,
            Tok::Punct(')' | ']') => depth = depth.saturating_sub(1),
            Tok::Punct('{') if depth == 0 => return Some(k),
            Tok::Punct(';') if depth == 0 => return None,
            _ => {}
        }
    }
    None
}

/// The `}` that closes the brace at `open`.
fn matching_close(toks: &[Token], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (k, t) in toks.iter().enumerate().skip(open) {
        match t.tok {
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => {
                depth -= 1;
                if depth == 0 {
                    return Some(k);
                }
            }
            _ => {}
        }
    }
    None
}

/// `#[cfg(test)]` starting at `i`.
fn cfg_test_at(toks: &[Token], i: usize) -> bool {
    let want = [
        Tok::Punct('#'),
        Tok::Punct('['),
        Tok::Ident("cfg".into()),
        Tok::Punct('('),
        Tok::Ident("test".into()),
        Tok::Punct(')'),
        Tok::Punct(']'),
    ];
    toks.len() >= i + want.len()
        && toks[i..i + want.len()]
            .iter()
            .zip(&want)
            .all(|(t, w)| &t.tok == w)
}

/// Whether the brace at `open` is closed by the file's last token.
fn closes_file(toks: &[Token], open: usize) -> bool {
    matching_close(toks, open) == Some(toks.len() - 1)
}

/// `pub use`, `pub(crate) use`, `pub(in path) use`.
fn is_pub_before(toks: &[Token], i: usize) -> bool {
    let Some(prev) = i.checked_sub(1).map(|k| &toks[k]) else {
        return false;
    };
    match &prev.tok {
        Tok::Ident(w) => w == "pub",
        Tok::Punct(')') => {
            let mut k = i - 1;
            while k > 0 && !is(toks.get(k), &Tok::Punct('(')) {
                k -= 1;
            }
            k > 0 && ident(toks.get(k - 1)) == Some("pub")
        }
        _ => false,
    }
}

/// Expands a use tree from `j` into its leaves (raw segments, alias, line); returns the
/// index just past the tree (past the `;` at top level).
fn use_tree(
    toks: &[Token],
    mut j: usize,
    prefix: Vec<String>,
    out: &mut Vec<(Vec<String>, Option<String>, usize)>,
) -> usize {
    let mut segs = prefix;
    loop {
        match toks.get(j).map(|t| &t.tok) {
            Some(Tok::Ident(s)) => {
                segs.push(s.clone());
                let line = toks[j].line;
                j += 1;
                if is(toks.get(j), &Tok::Path) {
                    j += 1;
                    continue;
                }
                let mut alias = None;
                if ident(toks.get(j)) == Some("as") {
                    alias = ident(toks.get(j + 1)).map(str::to_string);
                    j += 2;
                }
                out.push((segs, alias, line));
                break;
            }
            Some(Tok::Punct('*')) => {
                segs.push("*".into());
                out.push((segs, None, toks[j].line));
                j += 1;
                break;
            }
            Some(Tok::Punct('{')) => {
                j += 1;
                while j < toks.len() && !is(toks.get(j), &Tok::Punct('}')) {
                    if is(toks.get(j), &Tok::Punct(',')) {
                        j += 1;
                        continue;
                    }
                    j = use_tree(toks, j, segs.clone(), out);
                }
                j += 1;
                break;
            }
            _ => break,
        }
    }
    // A tree ends at `,`, `}` (left to the caller) or `;` (consumed).
    if is(toks.get(j), &Tok::Punct(';')) {
        j += 1;
    }
    j
}

/// Resolves a raw path written in module `here` to a path from the crate root, or `None`
/// when it does not point into the crate (an external crate, a local type).
fn resolve_relative(
    raw: &[String],
    here: &[String],
    is_module: &dyn Fn(&[String]) -> bool,
) -> Option<Vec<String>> {
    let mut segs = raw.iter().map(String::as_str).peekable();
    let mut abs: Vec<String> = match *segs.peek()? {
        "crate" => {
            segs.next();
            Vec::new()
        }
        "self" => {
            segs.next();
            here.to_vec()
        }
        "super" => {
            let mut at = here.to_vec();
            while segs.peek() == Some(&"super") {
                segs.next();
                at.pop()?;
            }
            at
        }
        first => {
            let mut child = here.to_vec();
            child.push(first.to_string());
            if !is_module(&child) {
                return None;
            }
            here.to_vec()
        }
    };
    abs.extend(segs.map(str::to_string));
    if abs.last().is_some_and(|s| s == "self") {
        abs.pop();
    }
    Some(abs)
}

// ---------------------------------------------------------------------------------------
// The tree

/// The library's files, keyed by their path from the crate (`src/archive/scan.rs`).
struct Tree {
    files: BTreeMap<String, Parsed>,
    /// The binary's files (`src/main.rs`, `src/bin/**` and what `src/main.rs` declares),
    /// parsed for their length only: their references are not resolved.
    bin: BTreeMap<String, Parsed>,
    /// Module path → file.
    modules: BTreeMap<Vec<String>, String>,
}

/// The module path of a library file, or `None` for the binary and non-Rust files.
fn module_path(file: &str) -> Option<Vec<String>> {
    let rel = file.strip_prefix("src/")?.strip_suffix(".rs")?;
    if rel == "main" || rel.starts_with("bin/") {
        return None;
    }
    if rel == "lib" {
        return Some(Vec::new());
    }
    let mut segs: Vec<String> = rel.split('/').map(str::to_string).collect();
    if segs.len() > 1 && segs.last().is_some_and(|s| s == "mod") {
        segs.pop();
    }
    Some(segs)
}

/// The `mod name;` a file declares (at any depth: a binary root declares them at the top).
fn declared_modules(src: &str) -> Vec<String> {
    let (toks, _) = lex(src);
    toks.windows(3)
        .filter_map(|w| match (&w[0].tok, &w[1].tok, &w[2].tok) {
            (Tok::Ident(m), Tok::Ident(name), Tok::Punct(';')) if m == "mod" => Some(name.clone()),
            _ => None,
        })
        .collect()
}

impl Tree {
    /// Builds the tree from (path, text) pairs; paths are relative to the crate, `/`-joined.
    /// Modules that `src/main.rs` declares (`mod commands;`) belong to the binary and are
    /// left out with it.
    fn new(sources: &[(String, String)]) -> Tree {
        let bin: BTreeSet<String> = sources
            .iter()
            .filter(|(path, _)| path == "src/main.rs")
            .flat_map(|(_, text)| declared_modules(text))
            .collect();
        let mut modules = BTreeMap::new();
        let mut module_of = BTreeMap::new();
        for (path, _) in sources {
            if let Some(m) =
                module_path(path).filter(|m| !m.first().is_some_and(|t| bin.contains(t)))
            {
                modules.insert(m.clone(), path.clone());
                module_of.insert(path.clone(), m);
            }
        }
        let is_module = |m: &[String]| modules.contains_key(m);
        let files = sources
            .iter()
            .filter_map(|(path, text)| {
                let m = module_of.get(path)?;
                Some((path.clone(), parse(text, m, &is_module)))
            })
            .collect();
        let bin = sources
            .iter()
            .filter(|(path, _)| path.ends_with(".rs") && !module_of.contains_key(path))
            .map(|(path, text)| (path.clone(), parse(text, &[], &|_| false)))
            .collect();
        Tree {
            files,
            bin,
            modules,
        }
    }

    /// The file a path lands in, following `pub use` re-exports, and the path there.
    fn resolve(&self, abs: &[String]) -> (String, Vec<String>) {
        let mut abs = abs.to_vec();
        for _ in 0..8 {
            let (file, used) = (0..=abs.len())
                .rev()
                .find_map(|k| self.modules.get(&abs[..k]).map(|f| (f.clone(), k)))
                .expect("lib.rs is the root module");
            let Some(next) = abs
                .get(used)
                .and_then(|name| self.files[&file].reexports.get(name))
            else {
                return (file, abs);
            };
            let mut next = next.clone();
            next.extend(abs[used + 1..].iter().cloned());
            if next == abs {
                return (file, abs);
            }
            abs = next;
        }
        let file = self.modules[&Vec::new()].clone();
        (file, abs)
    }
}

// ---------------------------------------------------------------------------------------
// Rules

#[derive(Debug, Clone, Copy, PartialEq)]
enum Layer {
    L0,
    L1,
    L2,
    L3,
    L4,
}

fn layer_of(top: &str) -> Option<Layer> {
    match top {
        t if L0.contains(&t) => Some(Layer::L0),
        "config" => Some(Layer::L1),
        "remote" | "state" | "catalog" => Some(Layer::L2),
        "archive" | "restore" | "retention" => Some(Layer::L3),
        "service" => Some(Layer::L4),
        _ => None,
    }
}

/// Why `from` may not import `to` (top-level modules; `to_path` is the resolved path from
/// the crate root), or `None` when it may.
fn forbidden(from: &str, to: &str, to_path: &[String]) -> Option<String> {
    if from == to {
        return None;
    }
    let Some(to_layer) = layer_of(to) else {
        return Some(format!("`{to}` is an unknown module"));
    };
    let lower = |max: Layer| (to_layer as u8) <= (max as u8);
    let ok = match from {
        f if L0.contains(&f) => L0_BELOW.contains(&(f, to)),
        "config" => to_layer == Layer::L0,
        "state" => lower(Layer::L1),
        "remote" => {
            lower(Layer::L1)
                || (to == "catalog"
                    && matches!(
                        to_path.get(1).map(String::as_str),
                        Some("manifest" | "index")
                    ))
        }
        "catalog" => lower(Layer::L1) || to == "remote" || to == "state",
        "archive" => lower(Layer::L2),
        "restore" => lower(Layer::L2),
        "retention" => lower(Layer::L2) || to == "restore",
        "service" => lower(Layer::L3),
        _ => return None,
    };
    if ok {
        return None;
    }
    if to == "service" {
        return Some("nothing below L4 imports `service`".into());
    }
    Some(match from {
        f if L0.contains(&f) => format!(
            "L0 leaf `{f}` imports no other module of the crate (the one exception: {L0_BELOW:?})"
        ),
        "config" => "L1 `config` may import only L0 modules".into(),
        "state" => "L2 `state` may import only L0, L1 (never remote or catalog)".into(),
        "remote" => {
            "L2 `remote` may import only L0, L1 and catalog::manifest / catalog::index".into()
        }
        "catalog" => "L2 `catalog` may import only L0, L1, remote and state".into(),
        "archive" | "restore" if to == "archive" || to == "restore" => {
            "archive and restore never import each other".into()
        }
        "archive" | "restore" if to == "retention" => {
            "archive and restore never import retention".into()
        }
        "retention" if to == "archive" => "retention may import restore but not archive".into(),
        f => format!("`{f}` may import only lower layers"),
    })
}

/// The archive stage a file belongs to (`src/archive/scan.rs`, `src/archive/scan/..`).
fn archive_stage(file: &str) -> Option<&str> {
    let rest = file.strip_prefix("src/archive/")?;
    let first = rest.split('/').next()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    ARCHIVE_STAGES.iter().copied().find(|s| *s == name)
}

fn top_of(file: &str) -> Option<&str> {
    let rel = file.strip_prefix("src/")?;
    let first = rel.split('/').next()?;
    Some(first.strip_suffix(".rs").unwrap_or(first))
}

/// Every layer violation, one line each: `file:line: what → where: rule`.
fn layer_violations(tree: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    let mut unknown = BTreeSet::new();
    for (file, parsed) in &tree.files {
        if file == "src/lib.rs" {
            continue;
        }
        let from = top_of(file).expect("library files are under src/");
        if layer_of(from).is_none() {
            if unknown.insert(from.to_string()) {
                let shown = if *file == format!("src/{from}.rs") {
                    file.clone()
                } else {
                    format!("src/{from}/")
                };
                out.push(format!(
                    "{shown}: unknown module `{from}`: put it in the layer that owns its job, \
                     see DESIGN.md"
                ));
            }
            continue;
        }
        for r in &parsed.refs {
            if r.macro_call {
                continue;
            }
            let (target, path) = tree.resolve(&r.abs);
            let Some(to) = path.first().map(String::as_str) else {
                continue; // the crate root itself
            };
            if target == "src/lib.rs" {
                // `use super::*` in a top-level file, or an outside item lib.rs re-exports.
                if to == "*" || tree.files[&target].external.contains(to) {
                    continue;
                }
                out.push(format!(
                    "{file}:{}: `{}` is a crate-root item that is neither a module nor a \
                     re-export: lib.rs only declares modules and re-exports",
                    r.line, r.text
                ));
                continue;
            }
            if let Some(rule) = forbidden(from, to, &path) {
                out.push(format!(
                    "{file}:{}: `{}` imports {} ({target}): {rule}",
                    r.line,
                    r.text,
                    path.join("::")
                ));
            }
            if let (Some(a), Some(b)) = (archive_stage(file), archive_stage(&target)) {
                if a != b {
                    out.push(format!(
                        "{file}:{}: `{}` imports {} ({target}): archive stage `{a}` imports no \
                         other stage; only worker.rs sequences them",
                        r.line,
                        r.text,
                        path.join("::")
                    ));
                }
            }
        }
    }
    out
}

/// File → (file → first line of the reference), the edges of the cycle check.
fn file_graph(tree: &Tree) -> BTreeMap<String, BTreeMap<String, usize>> {
    let mut graph: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for (file, parsed) in &tree.files {
        let edges = graph.entry(file.clone()).or_default();
        for r in &parsed.refs {
            let (target, _) = tree.resolve(&r.abs);
            if &target == file || target == "src/lib.rs" {
                continue;
            }
            if let Some(folder) = target.strip_suffix("mod.rs") {
                if file.starts_with(folder) {
                    continue;
                }
            }
            // A folder module written as `x.rs` beside `x/` plays the part of `mod.rs`.
            if let Some(folder) = target.strip_suffix(".rs") {
                if file.starts_with(&format!("{folder}/")) {
                    continue;
                }
            }
            edges.entry(target).or_insert(r.line);
        }
    }
    graph
}

/// Every cycle between files, one per strongly connected component, as
/// `a.rs:3 → b.rs:7 → a.rs` (the line is where the left file imports the next one).
fn cycles(graph: &BTreeMap<String, BTreeMap<String, usize>>) -> Vec<String> {
    // Tarjan's strongly connected components.
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeMap<String, usize>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        sccs: Vec<Vec<&'a str>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flat_map(|e| e.keys()) {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut scc = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                scc.push(w);
                if w == v {
                    break;
                }
            }
            s.sccs.push(scc);
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        sccs: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    let mut out = Vec::new();
    for scc in &s.sccs {
        if scc.len() < 2 {
            continue;
        }
        let members: BTreeSet<&str> = scc.iter().copied().collect();
        let start = *members.iter().next().unwrap();
        // Shortest way back to `start` inside the component, breadth first.
        let mut prev: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        'bfs: while let Some(v) = queue.pop_front() {
            for w in graph[v].keys().map(String::as_str) {
                if !members.contains(w) {
                    continue;
                }
                if w == start {
                    prev.insert(start, v);
                    break 'bfs;
                }
                if !prev.contains_key(w) {
                    prev.insert(w, v);
                    queue.push_back(w);
                }
            }
        }
        let mut path = vec![start];
        let mut at = prev[start];
        while at != start {
            path.push(at);
            at = prev[at];
        }
        path[1..].reverse();
        path.push(start);
        let mut text = String::new();
        for pair in path.windows(2) {
            text.push_str(&format!("{}:{} → ", pair[0], graph[pair[0]][pair[1]]));
        }
        text.push_str(start);
        out.push(text);
    }
    out.sort();
    out
}

/// The files of the library and the binary that are not test modules
/// (`#[cfg(test)] mod tests;` declares `tests.rs` or `tests/mod.rs` beside a `lib.rs`,
/// `main.rs` or `mod.rs`, and under a folder named after any other file).
fn non_test_files(tree: &Tree) -> Vec<(&String, &Parsed)> {
    let all = || tree.files.iter().chain(&tree.bin);
    let mut test_only = BTreeSet::new();
    for (file, parsed) in all() {
        let stem = file.strip_suffix(".rs").unwrap_or(file);
        let dir = match stem.rsplit_once('/') {
            Some((dir, "lib" | "main" | "mod")) => dir.to_string(),
            _ => stem.to_string(),
        };
        for child in &parsed.test_children {
            test_only.insert(format!("{dir}/{child}.rs"));
            test_only.insert(format!("{dir}/{child}/mod.rs"));
        }
    }
    all().filter(|(f, _)| !test_only.contains(*f)).collect()
}

/// Lines of code per file, up to a trailing test block; test-only files skipped.
fn oversized(tree: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    for (file, parsed) in non_test_files(tree) {
        let end = parsed.test_block_line.unwrap_or(usize::MAX);
        let count = parsed.code_lines.range(..end).count();
        if count > MAX_LINES_OF_CODE {
            out.push(format!(
                "{file}: {count} lines of code (limit {MAX_LINES_OF_CODE}, tests at the end \
                 not counted): split it by job"
            ));
        }
    }
    out.sort();
    out
}

/// Functions spanning more than [`MAX_FUNCTION_LINES`], outside tests.
fn long_functions(tree: &Tree) -> Vec<String> {
    let mut long: Vec<(&String, &FnSpan)> = non_test_files(tree)
        .into_iter()
        .flat_map(|(file, parsed)| parsed.fns.iter().map(move |f| (file, f)))
        .filter(|(_, f)| f.lines > MAX_FUNCTION_LINES)
        .collect();
    long.sort_by_key(|(file, f)| (*file, f.line));
    long.into_iter()
        .map(|(file, f)| {
            format!(
                "{file}:{}: fn {} spans {} lines (limit {MAX_FUNCTION_LINES}): split it",
                f.line, f.name, f.lines
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// The real tree

fn real_tree() -> Tree {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources = Vec::new();
    for entry in walkdir::WalkDir::new(root.join("src")).sort_by_file_name() {
        let entry = entry.expect("src/ is readable");
        if entry.file_type().is_file() && entry.path().extension().is_some_and(|e| e == "rs") {
            let rel = entry.path().strip_prefix(root).expect("under the crate");
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            let text = std::fs::read_to_string(entry.path()).expect("source is UTF-8");
            sources.push((rel, text));
        }
    }
    Tree::new(&sources)
}

fn fail_if_any(what: &str, found: Vec<String>) {
    assert!(
        found.is_empty(),
        "{} {what}:\n  {}\n",
        found.len(),
        found.join("\n  ")
    );
}

#[test]
fn layers_import_only_downwards() {
    fail_if_any(
        "layering violations (see DESIGN.md)",
        layer_violations(&real_tree()),
    );
}

#[test]
fn no_import_cycle_between_files() {
    fail_if_any(
        "import cycles between files",
        cycles(&file_graph(&real_tree())),
    );
}

/// Library and binary files alike.
#[test]
fn no_library_file_over_400_lines() {
    fail_if_any("files too long", oversized(&real_tree()));
}

/// Library and binary functions alike, tests excluded.
#[test]
fn no_library_function_over_80_lines() {
    fail_if_any("functions too long", long_functions(&real_tree()));
}

// ---------------------------------------------------------------------------------------
// The checker itself, on synthetic trees

#[cfg(test)]
mod checker {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> Tree {
        let owned: Vec<(String, String)> = files
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect();
        Tree::new(&owned)
    }

    fn abs_of(src: &str, module: &[&str], modules: &[&[&str]]) -> Vec<(usize, String)> {
        let module: Vec<String> = module.iter().map(|s| s.to_string()).collect();
        let is_module = |m: &[String]| modules.iter().any(|k| k.iter().eq(m.iter()));
        parse(src, &module, &is_module)
            .refs
            .into_iter()
            .map(|r| (r.line, r.abs.join("::")))
            .collect()
    }

    #[test]
    fn grouped_and_inline_paths_are_expanded() {
        let src = "use crate::{config::Config, error::Result};\n\
                   use crate::digest::{self, ContentHash as H};\n\
                   fn f() { let _ = crate::codec::Compression::None; }\n";
        assert_eq!(
            abs_of(src, &["state"], &[]),
            vec![
                (1, "config::Config".to_string()),
                (1, "error::Result".to_string()),
                (2, "digest".to_string()),
                (2, "digest::ContentHash".to_string()),
                (3, "codec::Compression::None".to_string()),
            ]
        );
    }

    #[test]
    fn nested_groups_over_lines_keep_their_lines() {
        let src = "use crate::{\n    a::{b, c::D},\n    e::*,\n};\n";
        assert_eq!(
            abs_of(src, &["x"], &[]),
            vec![
                (2, "a::b".to_string()),
                (2, "a::c::D".to_string()),
                (3, "e::*".to_string()),
            ]
        );
    }

    #[test]
    fn comments_docs_and_strings_do_not_count() {
        let src = "//! see [`crate::config`]\n\
                   /// uses [`crate::state::Seen`]\n\
                   // use crate::remote::X;\n\
                   /* crate::catalog::Y */\n\
                   const S: &str = \"crate::archive::Z\";\n\
                   const R: &str = r#\"crate::service::Q\"#;\n\
                   const C: char = '\"'; fn g<'a>(_: &'a str) {}\n\
                   use crate::time::Clock;\n";
        assert_eq!(
            abs_of(src, &["x"], &[]),
            vec![(8, "time::Clock".to_string())]
        );
    }

    #[test]
    fn super_and_self_resolve_against_the_enclosing_module() {
        let src = "use super::diff::Plan;\n\
                   use super::super::config::Config;\n\
                   use self::inner::Thing;\n\
                   fn f() { super::commit::run(); }\n\
                   mod tests { use super::*; }\n";
        assert_eq!(
            abs_of(src, &["archive", "scan"], &[]),
            vec![
                (1, "archive::diff::Plan".to_string()),
                (2, "config::Config".to_string()),
                (3, "archive::scan::inner::Thing".to_string()),
                (4, "archive::commit::run".to_string()),
                (5, "archive::scan::*".to_string()),
            ]
        );
    }

    #[test]
    fn relative_paths_count_only_when_they_name_a_child_module() {
        let src = "pub use error::{Error, Result};\nuse std::fs;\nuse tokio::sync::Mutex;\n";
        assert_eq!(
            abs_of(src, &[], &[&["error"]]),
            vec![
                (1, "error::Error".to_string()),
                (1, "error::Result".to_string())
            ]
        );
    }

    #[test]
    fn dollar_crate_counts_and_look_alikes_do_not() {
        let src = "fn f() { $crate::report::x(); my_crate::config::y(); x.crate_name(); }\n";
        assert_eq!(abs_of(src, &["x"], &[]), vec![(1, "report::x".to_string())]);
    }

    const LIB: &str = "pub mod error;\npub use error::{Error, Result};\n";

    #[test]
    fn a_clean_tree_has_no_violation() {
        let t = tree(&[
            ("src/lib.rs", LIB),
            ("src/error.rs", "pub struct Error;\n"),
            ("src/codec.rs", "pub enum Compression { None }\n"),
            ("src/config.rs", "mod source;\nuse crate::error::Error;\n"),
            (
                "src/config/source.rs",
                "use super::values;\nuse crate::codec::Compression;\n",
            ),
            ("src/state/mod.rs", "use crate::{config::Config, Error};\n"),
            ("src/catalog/mod.rs", "pub mod manifest;\n"),
            ("src/catalog/manifest.rs", "use crate::state::X;\n"),
            (
                "src/remote.rs",
                "use crate::catalog::manifest::Generation;\n",
            ),
            ("src/archive/worker.rs", "use super::{scan, diff};\n"),
            ("src/archive/scan.rs", "use super::control::Control;\n"),
            ("src/archive/diff.rs", "use super::Control;\n"),
            ("src/archive/control.rs", "use crate::remote::Store;\n"),
            (
                "src/archive/mod.rs",
                "mod control;\npub use control::Control;\n",
            ),
            ("src/retention.rs", "use crate::restore::Reader;\n"),
            ("src/restore.rs", "use crate::catalog::Index;\n"),
            ("src/service/mod.rs", "use crate::archive::worker::run;\n"),
            ("src/bin/logferry.rs", "use crate::service::nonsense;\n"),
            ("src/main.rs", "mod commands;\nfn exit_code() {}\n"),
            ("src/commands.rs", "use crate::exit_code;\n"),
        ]);
        assert_eq!(layer_violations(&t), Vec::<String>::new());
        assert_eq!(cycles(&file_graph(&t)), Vec::<String>::new());
    }

    #[test]
    fn upward_and_sideways_imports_are_reported_with_file_line_and_rule() {
        let t = tree(&[
            ("src/lib.rs", LIB),
            (
                "src/error.rs",
                "pub struct Error;\n\nuse crate::codec::Compression;\n",
            ),
            ("src/codec.rs", "fn f() -> crate::Error { todo!() }\n"),
            ("src/config.rs", "use crate::state::Seen;\n"),
            (
                "src/state.rs",
                "use crate::{remote::Store, catalog::Catalog};\n",
            ),
            (
                "src/remote.rs",
                "use crate::catalog::plan::Plan;\nuse crate::catalog::index::I;\n",
            ),
            ("src/catalog/mod.rs", "pub mod index;\npub mod plan;\n"),
            ("src/catalog/index.rs", "pub struct I;\n"),
            ("src/catalog/plan.rs", "use crate::archive::X;\n"),
            (
                "src/archive/mod.rs",
                "use crate::restore::R;\nuse crate::retention::K;\n",
            ),
            ("src/restore.rs", "use crate::archive::X;\n"),
            (
                "src/retention.rs",
                "use crate::archive::X;\nuse crate::restore::R;\n",
            ),
            ("src/state/extra.rs", "fn f() { crate::service::run(); }\n"),
            ("src/service.rs", "use crate::archive::X;\n"),
        ]);
        let v = layer_violations(&t);
        let expect = [
            "src/error.rs:3: `crate::codec::Compression` imports codec::Compression (src/codec.rs): L0 leaf `error`",
            "src/codec.rs:1: `crate::Error` imports error::Error (src/error.rs): L0 leaf `codec`",
            "src/config.rs:1: `crate::state::Seen` imports state::Seen (src/state.rs): L1 `config`",
            "src/state.rs:1: `crate::remote::Store` imports remote::Store (src/remote.rs): L2 `state`",
            "src/state.rs:1: `crate::catalog::Catalog` imports catalog::Catalog (src/catalog/mod.rs): L2 `state`",
            "src/remote.rs:1: `crate::catalog::plan::Plan` imports catalog::plan::Plan (src/catalog/plan.rs): L2 `remote`",
            "src/catalog/plan.rs:1: `crate::archive::X` imports archive::X (src/archive/mod.rs): L2 `catalog`",
            "src/archive/mod.rs:1: `crate::restore::R` imports restore::R (src/restore.rs): archive and restore never import each other",
            "src/archive/mod.rs:2: `crate::retention::K` imports retention::K (src/retention.rs): archive and restore never import retention",
            "src/restore.rs:1: `crate::archive::X` imports archive::X (src/archive/mod.rs): archive and restore never import each other",
            "src/retention.rs:1: `crate::archive::X` imports archive::X (src/archive/mod.rs): retention may import restore but not archive",
            "src/state/extra.rs:1: `crate::service::run` imports service::run (src/service.rs): nothing below L4 imports `service`",
        ];
        for e in expect {
            assert!(
                v.iter().any(|x| x.starts_with(e)),
                "missing {e:?} in {v:#?}"
            );
        }
        assert_eq!(v.len(), expect.len(), "unexpected extras in {v:#?}");
    }

    #[test]
    fn unknown_modules_and_root_items_are_reported() {
        let t = tree(&[
            ("src/lib.rs", "pub mod error;\npub fn helper() {}\n"),
            (
                "src/error.rs",
                "fn f() { crate::helper(); crate::scrub!(x); }\n",
            ),
            ("src/agent.rs", "use crate::error::Error;\n"),
            ("src/worker/mod.rs", ""),
            ("src/worker/pass.rs", ""),
            ("src/config.rs", "use crate::agent::Agent;\n"),
        ]);
        let v = layer_violations(&t);
        assert_eq!(v.len(), 4, "{v:#?}");
        assert!(v
            .iter()
            .any(|x| x.starts_with("src/agent.rs: unknown module `agent`")));
        assert!(v
            .iter()
            .any(|x| x.starts_with("src/worker/: unknown module `worker`")));
        assert!(v
            .iter()
            .any(|x| x.starts_with("src/error.rs:1: `crate::helper` is a crate-root item")));
        assert!(v.iter().any(|x| x.contains("`agent` is an unknown module")));
    }

    #[test]
    fn archive_stages_do_not_import_each_other() {
        let t = tree(&[
            ("src/lib.rs", ""),
            (
                "src/archive/mod.rs",
                "mod upload;\npub use upload::Uploaded;\n",
            ),
            ("src/archive/scan.rs", "use super::diff::Plan;\n"),
            (
                "src/archive/diff.rs",
                "\nfn f() -> super::Uploaded { todo!() }\n",
            ),
            ("src/archive/upload.rs", "use super::control::Control;\n"),
            (
                "src/archive/sync/mod.rs",
                "use crate::archive::commit::Commit;\n",
            ),
            ("src/archive/commit.rs", ""),
            ("src/archive/control.rs", ""),
            (
                "src/archive/worker.rs",
                "use super::{scan, diff, upload, sync, commit};\n",
            ),
        ]);
        let v = layer_violations(&t);
        assert_eq!(v.len(), 3, "{v:#?}");
        assert!(v[0].starts_with("src/archive/diff.rs:2: `super::Uploaded` imports archive::upload::Uploaded (src/archive/upload.rs): archive stage `diff`"), "{v:#?}");
        assert!(
            v[1].starts_with("src/archive/scan.rs:1: `super::diff::Plan`"),
            "{v:#?}"
        );
        assert!(
            v[2].starts_with("src/archive/sync/mod.rs:1: `crate::archive::commit::Commit`"),
            "{v:#?}"
        );
    }

    #[test]
    fn cycles_are_found_with_their_path() {
        let t = tree(&[
            ("src/lib.rs", "pub mod a;\npub use a::A;\n"),
            ("src/a.rs", "use crate::b::B;\n"),
            ("src/b.rs", "\nuse crate::c::C;\n"),
            ("src/c.rs", "fn f() { crate::A; }\n"),
            ("src/d.rs", "use crate::e;\n"),
            ("src/e.rs", "use crate::d::x;\n"),
        ]);
        assert_eq!(
            cycles(&file_graph(&t)),
            vec![
                "src/a.rs:1 → src/b.rs:2 → src/c.rs:1 → src/a.rs".to_string(),
                "src/d.rs:1 → src/e.rs:1 → src/d.rs".to_string(),
            ]
        );
    }

    #[test]
    fn references_to_the_own_mod_rs_are_not_cycle_edges() {
        let t = tree(&[
            ("src/lib.rs", ""),
            ("src/x/mod.rs", "mod y;\npub use y::Y;\npub struct Thing;\n"),
            ("src/x/y.rs", "use super::Thing;\n"),
            ("src/z.rs", "pub mod w;\nuse w::W;\n"),
            ("src/z/w.rs", "use super::Z;\n"),
        ]);
        assert_eq!(cycles(&file_graph(&t)), Vec::<String>::new());
    }

    #[test]
    fn long_files_are_reported_but_trailing_tests_and_test_files_are_not() {
        let body = "fn f() {}\n\n// note\n".repeat(MAX_LINES_OF_CODE);
        let long = format!("{body}fn g() {{}}\n");
        let tested = format!("{body}#[cfg(test)]\nmod tests {{\n    fn t() {{}}\n}}\n");
        let t = tree(&[
            ("src/lib.rs", "#[cfg(test)]\nmod tests;\n"),
            ("src/long.rs", &long),
            ("src/tested.rs", &tested),
            ("src/exact.rs", &body),
            ("src/tests.rs", &long),
            ("src/main.rs", &long),
            ("src/bin/tool/main.rs", "#[cfg(test)]\nmod tests;\n"),
            ("src/bin/tool/args.rs", &long),
            ("src/bin/tool/tests.rs", &long),
            ("src/bin/tool/run.rs", &tested),
        ]);
        let report = |file: &str| {
            format!(
                "{file}: 401 lines of code (limit {MAX_LINES_OF_CODE}, tests at the end \
                 not counted): split it by job"
            )
        };
        assert_eq!(
            oversized(&t),
            ["src/bin/tool/args.rs", "src/long.rs", "src/main.rs"].map(report)
        );
    }

    /// A function of `lines` lines, from its `fn` to its closing brace.
    fn function(name: &str, lines: usize) -> String {
        format!("fn {name}() {{\n{}}}\n", "    step();\n".repeat(lines - 2))
    }

    #[test]
    fn functions_span_from_their_fn_to_their_closing_brace() {
        let src = "pub(crate) async fn a(x: [u8; 4]) -> u8 {\n    let s = \"}\"; // }\n    '}';\n    if x[0] == 0 { 1 } else { 2 }\n}\n\ntrait T {\n    fn declared(&self);\n    fn provided(&self) {}\n}\n\nfn b<F: Fn()>(f: F, g: fn(u8) -> u8)\nwhere\n    F: Send,\n{\n    f();\n}\n";
        let (toks, _) = lex(src);
        let span = |name: &str, line, lines| FnSpan {
            name: name.into(),
            line,
            lines,
        };
        assert_eq!(
            fn_spans(&toks),
            [span("a", 1, 5), span("provided", 9, 1), span("b", 12, 6)]
        );
    }

    #[test]
    fn long_functions_are_reported_but_tests_are_not() {
        let over = MAX_FUNCTION_LINES + 1;
        let lib = format!(
            "{}{}impl S {{\n{}}}\n#[cfg(test)]\nfn helper() {{\n{}}}\n#[cfg(test)]\nmod tests;\n",
            function("long", over),
            function("exact", MAX_FUNCTION_LINES),
            function("method", over),
            function("inner", over),
        );
        let tested = format!(
            "fn short() {{}}\n#[cfg(test)]\nmod tests {{\n{}}}\n",
            function("a_test", over)
        );
        let t = tree(&[
            ("src/lib.rs", &lib),
            ("src/tests.rs", &function("in_test_file", over)),
            ("src/tested.rs", &tested),
            ("src/bin/tool/main.rs", &function("main", over)),
        ]);
        let report = |file: &str, line: usize, name: &str| {
            format!("{file}:{line}: fn {name} spans {over} lines (limit {MAX_FUNCTION_LINES}): split it")
        };
        assert_eq!(
            long_functions(&t),
            [
                report("src/bin/tool/main.rs", 1, "main"),
                report("src/lib.rs", 1, "long"),
                report("src/lib.rs", 163, "method"),
            ]
        );
    }
}
