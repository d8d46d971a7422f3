//! The docs cite code by its path and its name; this test checks that
//! every citation still points at something.
//!
//! Read: every Markdown file under `docs/`, `README.md`, the `//!` lines
//! of `reactor/src/guide.rs`, and the `step:` lines of the diagram sources
//! (`docs/diagrams/*.txt`: each step's code items and file). Checked:
//!
//! * **Paths.** A code span that looks like a repository path
//!   (`reactor/src/shard.rs`, `server/src/conn/h1/`, `benches/run.sh`,
//!   `sys/socket.rs`) must name a file or folder that exists: from the
//!   repository root, the document's folder, or a crate's folder or its
//!   `src/` (docs say `sys/socket.rs` inside a paragraph about the
//!   reactor). A bare file name (`cache.rs`) must exist somewhere in the
//!   tree. A relative Markdown link (`[x](../BENCHMARKS.md)`) must resolve
//!   from the document's folder, as on a forge.
//! * **Names.** A code span that is a Rust path (`Shard::drive`,
//!   `ShardConfig::read_on_accept`) must have its last segment — and its
//!   type, when it names one — appear as a word in the *code* of the
//!   tree's `.rs` files (comments and string literals do not count, or the
//!   guide would vouch for its own names) or of its Python and shell
//!   scripts (`benches/suite.py`, `tree_cpu_ticks`; `#` comments left
//!   out). A one-word name that reads as code (`flush_batch`,
//!   `HeadEncoder`, `SHARD_MESSAGES_PER_FLUSH`, `drive()`) is checked the
//!   same way when it sits in the same paragraph, list item or table row
//!   as a cited path; a single word such as `Host` or `EAGAIN` is a header
//!   or an errno as often as code, and is left alone.
//!
//! Skipped: fenced code blocks (commands and sketches, not citations),
//! URLs, paths under `target/`, absolute paths (`/proc/PID/stat`), and
//! paths of the standard library or other crates (`std::…`, `libc::…`).
//! Every problem is reported, each with its file and line.

// A failed unwrap in a test is a failed test (see clippy.toml).
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Extensions that make a code span a file citation.
const FILE_EXTS: &[&str] = &[
    "rs", "md", "py", "sh", "toml", "txt", "svg", "json", "html", "mjs", "css", "yml", "yaml", "lock", "png",
];

/// Crates whose folders (and `src/`) a short path may be relative to.
const CRATE_DIRS: &[&str] = &["", "reactor", "http", "ws", "server", "fuzz"];

/// Paths of code outside this repository: not checked.
const FOREIGN_ROOTS: &[&str] = &[
    "std",
    "core",
    "alloc",
    "libc",
    "serde",
    "serde_json",
    "tungstenite",
    "clap",
    "crossbeam_channel",
    "flate2",
];

/// One Markdown document: its path from the root and its lines (for a
/// `.rs` file, the `//!` text, other lines blank so numbers still match).
struct Doc {
    rel: String,
    lines: Vec<String>,
}

/// A paragraph, list item or table row: its first line number and text.
struct Unit {
    line: usize,
    text: String,
}

/// What the tree holds: every file and folder, and every word of code.
struct Tree {
    root: PathBuf,
    file_names: HashSet<String>,
    code_words: HashSet<String>,
}

#[test]
fn every_cited_path_and_name_exists() {
    let root = std::env::var_os("DOC_LINKS_ROOT")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    let report = check(&root);
    let problems = &report.problems;
    assert!(problems.is_empty(), "{} broken doc reference(s):\n{}", problems.len(), problems.join("\n"));
    // A parser that silently found nothing would pass too: it must have
    // seen about as many citations as this tree is known to hold (7
    // documents, 152 paths, 137 names when this was written; merged docs
    // only add to them).
    assert!(report.docs >= 6 && report.paths >= 120 && report.names >= 100, "too little checked: {report:?}");
}

/// A scratch tree: each kind of broken citation is reported, with its file
/// and line, and nothing else is.
#[test]
fn broken_citations_in_a_scratch_tree_are_each_reported() {
    let scratch = Scratch::new("fixture");
    let root = scratch.0.clone();
    write(&root, "reactor/src/shard.rs", "pub struct Shard;\nimpl Shard { fn drive(&self) {} }\n// ghost_fn\nconst S: &str = \"phantom_fn\";\n");
    write(
        &root,
        "README.md",
        "See [the docs](docs/a.md) and [gone](docs/gone.md#top), [web](https://example.invalid/x.md).\n",
    );
    write(
        &root,
        "docs/a.md",
        "# A\n\n\
         `reactor/src/shard.rs`, `Shard::drive`: both fine.\n\n\
         * `reactor/src/missing.rs`: a renamed file.\n\
         * `reactor/src/shard.rs`, `ghost_fn`: named only in a comment.\n\
         * `Shard::phantom_fn`: named only in a string.\n\n\
         ```sh\ncat nothing/here.rs `also/not/checked.rs`\n```\n\n\
         `https://example.invalid/a.rs`, `/proc/PID/stat`, `target/debug/x.rs`, `std::env::args`.\n\
         [up](../README.md).\n",
    );
    write(
        &root,
        "docs/diagrams/loop.txt",
        "step: x | y | Shard::drive, Shard::vanished | reactor/src/shard.rs | z\n",
    );
    write(
        &root,
        "reactor/src/guide.rs",
        "//! Read it next to `src/shard.rs` and `src/nope.rs`.\nfn not_doc() {} // `src/also_nope.rs`\n",
    );
    let problems = check(&root).problems;
    let expect = [
        "README.md:1: link `docs/gone.md#top`",
        "docs/a.md:5: `reactor/src/missing.rs`",
        "docs/a.md:6: `ghost_fn`",
        "docs/a.md:7: `Shard::phantom_fn`",
        "docs/diagrams/loop.txt:1: `Shard::vanished`",
        "reactor/src/guide.rs:1: `src/nope.rs`",
    ];
    assert_eq!(problems.len(), expect.len(), "{problems:#?}");
    for (got, want) in problems.iter().zip(expect) {
        assert!(got.starts_with(want), "{got:?} should start with {want:?}");
    }
}

/// The real docs in a copy of the tree where one cited file was renamed:
/// the checker must notice.
#[test]
fn renaming_a_cited_file_breaks_the_check() {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let scratch = Scratch::new("copy");
    let copy = scratch.0.clone();
    copy_tree(&here, &copy);
    assert!(check(&copy).problems.is_empty(), "the copy checks clean before the rename");
    let cited = "reactor/src/shard/accept.rs";
    fs::rename(copy.join(cited), copy.join("reactor/src/shard/accepting.rs")).unwrap();
    let problems = check(&copy).problems;
    assert!(
        problems.iter().any(|p| p.contains(&format!("`{cited}`"))),
        "renamed {cited}, but no problem names it: {problems:#?}"
    );
}

// ------------------------------------------------------------- the checker

/// What a check found.
#[derive(Debug, Default)]
struct Report {
    /// Every broken reference, as `file:line: what`.
    problems: Vec<String>,
    /// Documents read, and the paths (spans and links) and names checked.
    docs: usize,
    paths: usize,
    names: usize,
}

/// Checks every document under `root`.
fn check(root: &Path) -> Report {
    let tree = Tree::scan(root);
    let mut report = Report::default();
    for doc in docs(root) {
        report.docs += 1;
        for unit in units(&doc.lines) {
            check_unit(&tree, &doc, &unit, &mut report);
        }
    }
    report
}

fn check_unit(tree: &Tree, doc: &Doc, unit: &Unit, out: &mut Report) {
    let (spans, prose) = code_spans(&unit.text);
    let at = |offset: usize| format!("{}:{}", doc.rel, unit.line + unit.text[..offset].matches('\n').count());

    let links = links(&prose);
    let mut cites_a_path = !links.is_empty();
    for (offset, span) in &spans {
        if let Some(path) = as_path(span) {
            cites_a_path = true;
            out.paths += 1;
            if !tree.resolves(&path, &doc.rel) {
                out.problems.push(format!("{}: `{span}`: no such file or folder", at(*offset)));
            }
        }
    }
    for (offset, target) in &links {
        out.paths += 1;
        let file = target.split('#').next().unwrap_or("");
        let from = Path::new(&doc.rel).parent().unwrap_or(Path::new(""));
        let joined = normalize(&from.join(file));
        if !tree.root.join(&joined).exists() {
            out.problems.push(format!("{}: link `{target}`: no such file ({joined})", at(*offset)));
        }
    }
    for (offset, span) in &spans {
        let Some(segments) = as_rust_path(span) else { continue };
        if segments.len() == 1 && !(cites_a_path && looks_like_code(span)) {
            continue;
        }
        out.names += 1;
        let mut names = vec![*segments.last().expect("a segment")];
        if segments.len() > 1 && segments[segments.len() - 2].starts_with(char::is_uppercase) {
            names.push(segments[segments.len() - 2]);
        }
        for name in names.into_iter().filter(|n| !tree.code_words.contains(*n)) {
            out.problems
                .push(format!("{}: `{span}`: `{name}` appears in no code (.rs, .py, .sh)", at(*offset)));
        }
    }
}

/// The documents to check.
fn docs(root: &Path) -> Vec<Doc> {
    let mut paths = vec![root.join("README.md")];
    let mut stack = vec![root.join("docs")];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "md") {
                paths.push(p);
            }
        }
    }
    paths.sort();
    let mut docs: Vec<Doc> = paths
        .into_iter()
        .filter_map(|p| {
            let text = fs::read_to_string(&p).ok()?;
            Some(Doc { rel: rel(root, &p), lines: text.lines().map(str::to_owned).collect() })
        })
        .collect();
    // Diagram sources: each step's code items and file, as if cited in
    // backticks in one list item (see docs/diagrams/render.py).
    let diagrams = root.join("docs/diagrams");
    let mut sources: Vec<PathBuf> = fs::read_dir(&diagrams)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    sources.sort();
    for p in sources {
        let Ok(text) = fs::read_to_string(&p) else { continue };
        let lines = text
            .lines()
            .map(|l| match l.strip_prefix("step:").map(|s| s.split('|').map(str::trim).collect::<Vec<_>>()) {
                Some(f) if f.len() == 5 => {
                    let items: Vec<String> = f[2].split(", ").map(|i| format!("`{i}`")).collect();
                    format!("* {} `{}`", items.join(" "), f[3])
                }
                _ => String::new(),
            })
            .collect();
        docs.push(Doc { rel: rel(root, &p), lines });
    }
    let guide = root.join("reactor/src/guide.rs");
    if let Ok(text) = fs::read_to_string(&guide) {
        let lines = text
            .lines()
            .map(|l| {
                l.trim_start().strip_prefix("//!").map_or("", |d| d.strip_prefix(' ').unwrap_or(d)).to_owned()
            })
            .collect();
        docs.push(Doc { rel: rel(root, &guide), lines });
    }
    docs
}

/// Splits Markdown lines into paragraphs, list items and table rows,
/// leaving out fenced code blocks.
fn units(lines: &[String]) -> Vec<Unit> {
    let mut out: Vec<Unit> = Vec::new();
    let mut fence: Option<&str> = None;
    let mut open = false;
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        if let Some(f) = fence {
            if t.starts_with(f) {
                fence = None;
            }
            continue;
        }
        if t.starts_with("```") || t.starts_with("~~~") {
            fence = Some(&t[..3]);
            open = false;
            continue;
        }
        if t.is_empty() {
            open = false;
            continue;
        }
        let starts_unit = t.starts_with(['*', '-', '+', '|', '#'])
            || t.split_once(". ")
                .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        match out.last_mut() {
            Some(unit) if open && !starts_unit => {
                unit.text.push('\n');
                unit.text.push_str(line);
            }
            _ => out.push(Unit { line: i + 1, text: line.clone() }),
        }
        open = true;
    }
    out
}

/// The code spans of `text` (offset, content), and the text with every
/// span blanked out, for finding links in the prose only.
fn code_spans(text: &str) -> (Vec<(usize, String)>, String) {
    let b = text.as_bytes();
    let mut spans = Vec::new();
    let mut prose = b.to_vec();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'`' {
            i += 1;
            continue;
        }
        let run = b[i..].iter().take_while(|&&c| c == b'`').count();
        let fence = &text[i..i + run];
        let body = i + run;
        // The closing run: the same number of backticks, no more.
        let mut j = body;
        let close = loop {
            match text[j..].find(fence) {
                None => break None,
                Some(k) => {
                    let at = j + k;
                    let len = b[at..].iter().take_while(|&&c| c == b'`').count();
                    if len == run {
                        break Some(at);
                    }
                    j = at + len;
                }
            }
        };
        let Some(end) = close else {
            i = body;
            continue;
        };
        spans.push((i, text[body..end].trim().to_owned()));
        prose[i..end + run].fill(b' ');
        i = end + run;
    }
    (spans, String::from_utf8(prose).expect("only ASCII backticks were blanked"))
}

/// Relative link targets in prose: `[text](target)`, not URLs, anchors or
/// rustdoc paths (`crate::Token`).
fn links(prose: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (at, _) in prose.match_indices("](") {
        let rest = &prose[at + 2..];
        let Some(end) = rest.find(')') else { continue };
        let target = rest[..end].split_whitespace().next().unwrap_or("");
        let external =
            target.contains("://") || target.starts_with(['#', '/']) || target.starts_with("mailto:");
        let file_like = target.contains('/') || target.split('#').next().is_some_and(|f| f.contains('.'));
        if !external && file_like && !target.contains("::") {
            out.push((at, target.to_owned()));
        }
    }
    out
}

/// The repository path a code span cites, if it looks like one.
fn as_path(span: &str) -> Option<String> {
    if span.contains("://") || span.starts_with(['/', '~', '$', '-']) || span.starts_with("target/") {
        return None;
    }
    // `file.rs:120` cites a line: the file is what must exist.
    let span = span.split_once(':').map_or(span, |(p, line)| {
        if !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
            p
        } else {
            span
        }
    });
    let span = span.strip_prefix("./").unwrap_or(span);
    if span.is_empty() || !span.bytes().all(|b| b.is_ascii_alphanumeric() || b"_./*-".contains(&b)) {
        return None;
    }
    let last = span.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    let ext = last.rsplit_once('.').map(|(stem, ext)| (!stem.is_empty()).then_some(ext));
    let is_file = matches!(ext, Some(Some(e)) if FILE_EXTS.contains(&e));
    if span.contains('/') {
        (is_file || span.ends_with('/')).then(|| span.to_owned())
    } else {
        (matches!(ext, Some(Some("rs" | "md")))).then(|| span.to_owned())
    }
}

/// Whether a one-word span reads as code rather than as a protocol or
/// kernel word: `flush_batch`, `SHARD_MESSAGES_PER_FLUSH`, `HeadEncoder`,
/// `drive()` do; `Host`, `Date`, `EAGAIN`, `chunked` (a header, an errno,
/// a coding) do not.
fn looks_like_code(span: &str) -> bool {
    let capitals = span.bytes().filter(u8::is_ascii_uppercase).count();
    span.contains('_')
        || span.ends_with(')')
        || (capitals >= 2 && span.bytes().any(|b| b.is_ascii_lowercase()))
}

/// The segments of a span that is a Rust path (`Shard::drive`,
/// `read_on_accept`, `write(2)`, `f()`), unless it names another crate.
fn as_rust_path(span: &str) -> Option<Vec<&str>> {
    let span = span.strip_suffix("()").unwrap_or(span);
    // `read(2)`: a man page section.
    let span = match span.split_once('(') {
        Some((name, sec)) if sec.len() == 2 && sec.as_bytes()[0].is_ascii_digit() && sec.ends_with(')') => {
            name
        }
        _ => span,
    };
    let segments: Vec<&str> = span.split("::").collect();
    let ident = |s: &str| {
        s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    if !segments.iter().all(|s| ident(s)) || FOREIGN_ROOTS.contains(&segments[0]) {
        return None;
    }
    // `crate::`, `self::`, `super::` add nothing to check.
    let skip = segments.iter().take_while(|s| matches!(**s, "crate" | "self" | "super")).count();
    Some(segments[skip..].to_vec()).filter(|s| !s.is_empty())
}

impl Tree {
    fn scan(root: &Path) -> Tree {
        let mut tree = Tree { root: root.to_owned(), file_names: HashSet::new(), code_words: HashSet::new() };
        let mut stack = vec![root.to_owned()];
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
                let p = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                if p.is_dir() {
                    if name != "target" && name != "node_modules" && !name.starts_with('.') {
                        stack.push(p);
                    }
                    continue;
                }
                let is_script = name.ends_with(".py") || name.ends_with(".sh");
                if name.ends_with(".rs") || is_script {
                    if let Ok(src) = fs::read_to_string(&p) {
                        if is_script {
                            script_words(&src, &mut tree.code_words);
                        } else {
                            code_words(&src, &mut tree.code_words);
                        }
                    }
                }
                tree.file_names.insert(name);
            }
        }
        tree
    }

    /// Does `path`, cited in document `doc`, name something that exists?
    fn resolves(&self, path: &str, doc: &str) -> bool {
        let literal = path.split('*').next().unwrap_or("");
        if !path.contains('/') {
            return self.file_names.contains(path);
        }
        // A glob (`benches/results/*.svg`): its folder must exist.
        let path = if literal.len() < path.len() {
            &literal[..literal.rfind('/').map_or(0, |i| i + 1)]
        } else {
            path
        };
        let doc_dir = Path::new(doc).parent().unwrap_or(Path::new("")).to_owned();
        let bases = std::iter::once(doc_dir)
            .chain(CRATE_DIRS.iter().flat_map(|c| [PathBuf::from(c), Path::new(c).join("src")]));
        bases.map(|b| self.root.join(b).join(path)).any(|p| p.exists())
    }
}

/// Adds every identifier of Rust `src` to `out`, skipping comments and
/// string and character literals.
fn code_words(src: &str, out: &mut HashSet<String>) {
    let b = src.as_bytes();
    let find =
        |from: usize, pat: &str| src.get(from..).and_then(|s| s.find(pat)).map_or(b.len(), |n| from + n);
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if b[i..].starts_with(b"//") {
            i = find(i, "\n");
        } else if b[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == b'"' {
            i = skip_string(b, i + 1);
        } else if c == b'\'' {
            // A char literal ('a', '\'', '\u{1F600}', 'é') or a lifetime ('a).
            i = match b.get(i + 1) {
                Some(b'\\') => find(i + 3, "'") + 1,
                Some(&n) if n >= 0x80 => find(i + 1, "'") + 1,
                _ if b.get(i + 2) == Some(&b'\'') => i + 3,
                _ => i + 1,
            };
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            let word = &src[start..i];
            let hashes = b[i..].iter().take_while(|&&c| c == b'#').count();
            match (word, b.get(i + hashes)) {
                // Raw strings, r".." to br#".."#: no escapes, end at `"` + the same `#`s.
                ("r" | "br" | "cr", Some(b'"')) => {
                    let close = format!("\"{}", "#".repeat(hashes));
                    i = find(i + hashes + 1, &close) + close.len();
                }
                // b"..", c"..": escapes as in "..". b'x': the quote is
                // left for the char-literal branch above.
                ("b" | "c", Some(b'"')) if hashes == 0 => i = skip_string(b, i + 1),
                ("b", Some(b'\'')) if hashes == 0 => {}
                _ => {
                    out.insert(word.to_owned());
                }
            }
        } else if c.is_ascii_digit() {
            // A number, with its suffix (`1u8`, `0x1f`): not a word.
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
}

/// Adds the identifiers of a Python or shell script, `#` comments left
/// out (the benchmark tools are cited by function name too).
fn script_words(src: &str, out: &mut HashSet<String>) {
    for line in src.lines() {
        let code = line.split('#').next().unwrap_or("");
        let words = code.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
        out.extend(
            words.filter(|w| w.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')).map(str::to_owned),
        );
    }
}

/// Just past the end of a string whose body starts at `i` (escapes honoured).
fn skip_string(b: &[u8], mut i: usize) -> usize {
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

// ---------------------------------------------------------------- helpers

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).to_string_lossy().into_owned()
}

/// `a/b/../c` -> `a/c` (lexically; a link cannot climb above the root).
fn normalize(p: &Path) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.to_str().unwrap_or("").split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}

/// A folder under the system's temporary folder, removed when dropped
/// (also when the test fails).
struct Scratch(PathBuf);

impl Scratch {
    fn new(what: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("weir-doc-links-{what}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

/// Copies the tree (without `target/` and hidden folders) for a scratch edit.
fn copy_tree(from: &Path, to: &Path) {
    for entry in fs::read_dir(from).unwrap().flatten() {
        let name = entry.file_name();
        let (src, dst) = (entry.path(), to.join(&name));
        if src.is_dir() {
            let n = name.to_string_lossy();
            if n != "target" && !n.starts_with('.') {
                fs::create_dir_all(&dst).unwrap();
                copy_tree(&src, &dst);
            }
        } else if src.is_file() {
            fs::copy(&src, &dst).unwrap();
        }
    }
}
