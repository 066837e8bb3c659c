//! Data flows one way: a module may only use the modules that the "may use" column of the
//! module table in docs/ARCHITECTURE.md lists for it. The table is read from the doc, so
//! the two cannot drift.
//!
//! Invariants checked:
//! - every top module of the library (a `mod` item of src/lib.rs) has exactly one row, and
//!   every row names an existing module;
//! - every path a module's code names (`use` trees, paths in expressions, types, patterns,
//!   visibilities, and `crate::x` inside macro invocations), after resolving `self`/`super`,
//!   that leads to another top module is one its row allows;
//! - every .rs file under src/ is reached from src/lib.rs or src/main.rs (nothing goes unchecked).
//!
//! Code under `#[cfg(test)]` (a `mod tests;` item, a test function) may use later layers to
//! build fixtures; the exemption follows the attributes that syn parses, so a file named
//! `tests.rs` that is compiled into the library proper is checked like any other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::{self, Visit};

/// One use of another module: (file, 1-based line, top module of the user, module used).
type Use = (String, usize, String, String);

/// The doc's module table: each module and the modules it may use.
fn read_table(doc: &str) -> BTreeMap<String, BTreeSet<String>> {
    let lines: Vec<&str> = doc.lines().collect();
    let head = lines
        .iter()
        .position(|l| l.starts_with("| module |") && l.contains("| may use |"))
        .expect("docs/ARCHITECTURE.md has no `| module | ... | may use |` table");
    // Cells split at every `|` that is not escaped as `\|` (GitHub's table syntax).
    let cells = |l: &str| -> Vec<String> {
        let inner = l.trim().strip_prefix('|').and_then(|l| l.strip_suffix('|')).unwrap_or(l);
        let mut out = vec![String::new()];
        let mut chars = inner.chars().peekable();
        while let Some(ch) = chars.next() {
            match ch {
                '\\' if chars.peek() == Some(&'|') => out.last_mut().expect("one cell").push(chars.next().expect("|")),
                '|' => out.push(String::new()),
                _ => out.last_mut().expect("one cell").push(ch),
            }
        }
        out.into_iter().map(|c| c.trim().to_string()).collect()
    };
    let header = cells(lines[head]);
    let col = header.iter().position(|c| c == "may use").expect("no `may use` column");
    let mut rows: Vec<(Vec<String>, String)> = Vec::new();
    for line in lines[head + 2..].iter().take_while(|l| l.starts_with('|')) {
        let c = cells(line);
        assert!(c.len() == header.len(), "table row has {} cells, the header {}: {line}", c.len(), header.len());
        let modules: Vec<String> = c[0].split(',').map(|m| m.trim().trim_matches('`').to_string()).collect();
        rows.push((modules, c[col].clone()));
    }
    let all: BTreeSet<String> = rows.iter().flat_map(|(m, _)| m.iter().cloned()).collect();
    let mut table = BTreeMap::new();
    for (modules, may_use) in rows {
        let allowed: BTreeSet<String> = match may_use.as_str() {
            "—" | "-" | "" => BTreeSet::new(),
            "everything" => all.clone(),
            list => list.split(',').map(|m| m.trim().trim_matches('`').to_string()).collect(),
        };
        for m in &allowed {
            assert!(all.contains(m), "the table lets {modules:?} use `{m}`, which has no row");
        }
        for m in modules {
            assert!(table.insert(m.clone(), allowed.clone()).is_none(), "module `{m}` has two rows");
        }
    }
    table
}

/// Does a `#[cfg(...)]` among `attrs` compile its item only under test?
fn test_only(attrs: &[syn::Attribute]) -> bool {
    fn implies_test(meta: &syn::Meta) -> bool {
        match meta {
            syn::Meta::Path(p) => p.is_ident("test"),
            syn::Meta::List(l) if l.path.is_ident("all") => l
                .parse_args_with(syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated)
                .is_ok_and(|args| args.iter().any(implies_test)),
            _ => false,
        }
    }
    attrs.iter().any(|a| a.path().is_ident("cfg") && a.parse_args::<syn::Meta>().is_ok_and(|m| implies_test(&m)))
}

/// Walks one file's syntax tree, collecting the top modules its (non-test) paths lead to.
struct Collector<'a> {
    file: String,
    /// The module path of the item being visited (`["dns", "udp"]`), inline `mod`s included.
    module: Vec<String>,
    tops: &'a BTreeSet<String>,
    uses: Vec<Use>,
    /// Out-of-line `mod x;` items: (module path of x, file it is declared in, test-only?).
    children: Vec<(Vec<String>, Option<String>, bool)>,
}

impl Collector<'_> {
    /// Resolves a path's leading segments against the current module and records the top
    /// module it names, if that is another one.
    fn record(&mut self, segments: &[String], line: usize) {
        let mut at = self.module.clone();
        let mut rest = segments;
        match rest.first().map(String::as_str) {
            Some("crate") => {
                at.clear();
                rest = &rest[1..];
            }
            Some("self") => rest = &rest[1..],
            Some("super") => {
                while rest.first().map(String::as_str) == Some("super") {
                    assert!(at.pop().is_some(), "{}:{line}: `super` above the crate root", self.file);
                    rest = &rest[1..];
                }
            }
            // A plain path: an extern crate, a local item, or (only at the root) a module.
            _ if !at.is_empty() => return,
            _ => {}
        }
        // The crate root (src/lib.rs) only declares the modules; it has no row.
        let (Some(user), Some(used)) = (self.module.first(), at.first().or(rest.first())) else { return };
        if self.tops.contains(used) && used != user {
            self.uses.push((self.file.clone(), line, user.clone(), used.clone()));
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => self.use_leaf(prefix, n.ident.to_string(), n.ident.span()),
            syn::UseTree::Rename(r) => self.use_leaf(prefix, r.ident.to_string(), r.ident.span()),
            syn::UseTree::Glob(_) | syn::UseTree::Group(_) if prefix.is_empty() => {
                if let syn::UseTree::Group(g) = tree {
                    for t in &g.items {
                        self.use_tree(prefix, t);
                    }
                }
            }
            syn::UseTree::Glob(g) => self.record(&prefix.clone(), g.star_token.spans[0].start().line),
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t);
                }
            }
        }
    }

    fn use_leaf(&mut self, prefix: &[String], last: String, span: proc_macro2::Span) {
        let mut path = prefix.to_vec();
        path.push(last);
        self.record(&path, span.start().line);
    }

    /// `crate :: x` (and `super :: x`, `self :: x`) token runs inside a macro invocation.
    fn tokens(&mut self, stream: proc_macro2::TokenStream) {
        let tokens: Vec<proc_macro2::TokenTree> = stream.into_iter().collect();
        for (i, t) in tokens.iter().enumerate() {
            match t {
                proc_macro2::TokenTree::Group(g) => self.tokens(g.stream()),
                proc_macro2::TokenTree::Ident(id) if id == "crate" || id == "super" || id == "self" => {
                    let mut segs = vec![id.to_string()];
                    let mut j = i + 1;
                    while let [proc_macro2::TokenTree::Punct(a), proc_macro2::TokenTree::Punct(b), proc_macro2::TokenTree::Ident(n), ..] =
                        &tokens[j.min(tokens.len())..]
                    {
                        if a.as_char() != ':' || b.as_char() != ':' {
                            break;
                        }
                        segs.push(n.to_string());
                        j += 3;
                    }
                    // The first `super`/`self` of a run only; `crate` always starts one.
                    let starts_run = i < 2
                        || !matches!((&tokens[i - 2], &tokens[i - 1]),
                            (proc_macro2::TokenTree::Punct(a), proc_macro2::TokenTree::Punct(b)) if a.as_char() == ':' && b.as_char() == ':');
                    if segs.len() > 1 && starts_run {
                        self.record(&segs, id.span().start().line);
                    }
                }
                _ => {}
            }
        }
    }
}

impl<'ast> Visit<'ast> for Collector<'_> {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs = match item {
            syn::Item::Const(i) => &i.attrs,
            syn::Item::Enum(i) => &i.attrs,
            syn::Item::ExternCrate(i) => &i.attrs,
            syn::Item::Fn(i) => &i.attrs,
            syn::Item::ForeignMod(i) => &i.attrs,
            syn::Item::Impl(i) => &i.attrs,
            syn::Item::Macro(i) => &i.attrs,
            syn::Item::Mod(i) => &i.attrs,
            syn::Item::Static(i) => &i.attrs,
            syn::Item::Struct(i) => &i.attrs,
            syn::Item::Trait(i) => &i.attrs,
            syn::Item::TraitAlias(i) => &i.attrs,
            syn::Item::Type(i) => &i.attrs,
            syn::Item::Union(i) => &i.attrs,
            syn::Item::Use(i) => &i.attrs,
            _ => return visit::visit_item(self, item),
        };
        let exempt = test_only(attrs);
        match item {
            syn::Item::Mod(m) if m.content.is_none() => {
                let path = m.attrs.iter().find(|a| a.path().is_ident("path")).map(|a| match &a.meta {
                    syn::Meta::NameValue(syn::MetaNameValue {
                        value: syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }),
                        ..
                    }) => s.value(),
                    _ => panic!("{}: unreadable #[path] attribute", self.file),
                });
                let mut module = self.module.clone();
                module.push(m.ident.to_string());
                self.children.push((module, path, exempt));
            }
            _ if exempt => {}
            syn::Item::Mod(m) => {
                self.module.push(m.ident.to_string());
                visit::visit_item_mod(self, m);
                self.module.pop();
            }
            syn::Item::Use(u) => self.use_tree(&mut Vec::new(), &u.tree),
            _ => visit::visit_item(self, item),
        }
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        if !test_only(&f.attrs) {
            visit::visit_impl_item_fn(self, f);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        let line = path.segments.first().map_or(0, |s| s.ident.span().start().line);
        self.record(&segments, line);
        visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.tokens(mac.tokens.clone());
        visit::visit_macro(self, mac);
    }
}

/// Where `mod name;` declared in `parent` lives (beside a lib.rs/main.rs/mod.rs, else in the
/// directory named after `parent`), or its `#[path]` relative to `parent`'s directory.
fn child_file(parent: &Path, name: &str, explicit: Option<&str>) -> PathBuf {
    let dir = parent.parent().expect("a file has a directory");
    if let Some(p) = explicit {
        return dir.join(p);
    }
    let stem = parent.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    let base = if matches!(stem, "lib" | "main" | "mod") { dir.to_path_buf() } else { dir.join(stem) };
    let flat = base.join(format!("{name}.rs"));
    if flat.is_file() {
        flat
    } else {
        base.join(name).join("mod.rs")
    }
}

/// Parses `root` and the files of the modules it declares, collecting the uses of other top
/// modules outside test-only code, and the files it reached.
fn scan_crate(root: &Path, src: &Path, tops: &BTreeSet<String>) -> (Vec<Use>, BTreeSet<PathBuf>) {
    let mut uses = Vec::new();
    let mut reached = BTreeSet::new();
    let mut queue = vec![(root.to_path_buf(), Vec::<String>::new(), false)];
    while let Some((file, module, exempt)) = queue.pop() {
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let ast = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: does not parse: {e}", file.display()));
        let name = file.strip_prefix(src).unwrap_or(&file).display().to_string();
        let mut c = Collector { file: format!("src/{name}"), module, tops, uses: Vec::new(), children: Vec::new() };
        c.visit_file(&ast);
        if !exempt {
            uses.extend(c.uses);
        }
        for (module, path, test) in c.children {
            let name = module.last().expect("a child has a name");
            queue.push((child_file(&file, name, path.as_deref()), module, exempt || test));
        }
        reached.insert(file);
    }
    (uses, reached)
}

fn rs_files(dir: &Path, out: &mut BTreeSet<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = e.expect("a directory entry").path();
        if path.is_dir() {
            rs_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.insert(path);
        }
    }
}

/// The top modules of the library: the `mod` items of src/lib.rs.
fn top_modules(lib: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(lib).expect("src/lib.rs");
    let ast = syn::parse_file(&text).expect("src/lib.rs parses");
    ast.items.iter().filter_map(|i| if let syn::Item::Mod(m) = i { Some(m.ident.to_string()) } else { None }).collect()
}

/// The uses in `src` that the table does not allow, as readable lines.
fn violations(src: &Path, doc: &str) -> Vec<String> {
    let table = read_table(doc);
    let tops = top_modules(&src.join("lib.rs"));
    let mut out = Vec::new();
    for m in &tops {
        if !table.contains_key(m) {
            out.push(format!("module `{m}` has no row in the docs/ARCHITECTURE.md table"));
        }
    }
    for m in table.keys() {
        if !tops.contains(m) {
            out.push(format!("the table has a row for `{m}`, which is not a module of src/lib.rs"));
        }
    }
    let (uses, mut reached) = scan_crate(&src.join("lib.rs"), src, &tops);
    // The binary uses the library through `bns::`, not `crate::`; its own modules are scanned
    // for being reached only.
    reached.extend(scan_crate(&src.join("main.rs"), src, &BTreeSet::new()).1);
    let mut all = BTreeSet::new();
    rs_files(src, &mut all);
    for f in all.difference(&reached) {
        let rel = f.strip_prefix(src).unwrap_or(f);
        out.push(format!("src/{} is not reached from src/lib.rs or src/main.rs", rel.display()));
    }
    let mut seen = BTreeSet::new();
    for (file, line, module, used) in uses {
        let ok = table.get(&module).is_some_and(|allowed| allowed.contains(&used));
        if !ok && seen.insert((file.clone(), used.clone())) {
            out.push(format!("{file}:{line}: `{module}` uses `{used}`"));
        }
    }
    out
}

#[test]
fn modules_only_use_what_the_architecture_table_allows() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/ARCHITECTURE.md")).expect("docs/ARCHITECTURE.md");
    let v = violations(&root.join("src"), &doc);
    assert!(v.is_empty(), "against docs/ARCHITECTURE.md's module table:\n{}", v.join("\n"));
}

#[test]
fn the_table_forbids_dns_using_store() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/ARCHITECTURE.md")).expect("docs/ARCHITECTURE.md");
    let table = read_table(&doc);
    assert!(table.get("dns").is_some_and(|a| !a.contains("store")), "the design forbids dns → store");
}

/// Writes `files` (path under src/, text) into a scratch crate and returns its violations
/// against `table` (the rows of a module table).
fn scratch(files: &[(&str, &str)], table: &str) -> Vec<String> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let src = dir.path().join("src");
    for (path, text) in files {
        let p = src.join(path);
        std::fs::create_dir_all(p.parent().expect("a parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }
    let doc = format!("# A\n\n| module | job | may use |\n|---|---|---|\n{table}\n\nText.\n");
    violations(&src, &doc)
}

const ROWS: &str = "| `low` | a leaf | — |\n| `high` | uses low | low |\n| `top`, `wire` | all | everything |";

#[test]
fn planted_violations_are_found_wherever_the_path_is() {
    let files = [
        ("lib.rs", "pub mod low; pub mod high; pub mod top; pub mod wire;"),
        ("main.rs", "fn main() { bns::top::run() }"),
        ("high.rs", "pub fn f() -> crate::low::T { crate::low::T }"),
        (
            "low/mod.rs",
            "mod inner;\n#[cfg(test)]\nmod tests;\nmod notests;\n\
             #[cfg(test)]\nfn fixture() { crate::high::f(); }\n\
             pub struct T;\nfn g() { tracing::info!(\"{:?}\", crate::wire::X); }",
        ),
        ("low/inner.rs", "use super::super::{high::f as h};\nfn k() -> Option<crate::top::Y> { h(); None }"),
        ("low/tests.rs", "use crate::high::f;"),
        ("low/notests.rs", "#[cfg(any(test, fuzzing))]\nuse crate::top::Z;"),
        ("top.rs", "use crate::{high, low::T};\npub fn run() {}"),
        ("wire.rs", "pub struct X;"),
        ("stray.rs", "fn lost() {}"),
    ];
    let mut found = scratch(&files, ROWS);
    found.sort();
    assert_eq!(
        found,
        [
            "src/low/inner.rs:1: `low` uses `high`",
            "src/low/inner.rs:2: `low` uses `top`",
            "src/low/mod.rs:8: `low` uses `wire`",
            "src/low/notests.rs:2: `low` uses `top`",
            "src/stray.rs is not reached from src/lib.rs or src/main.rs",
        ]
    );
}

#[test]
fn a_module_without_a_row_and_a_row_without_a_module_fail() {
    let files = [
        ("lib.rs", "pub mod low; pub mod high; pub mod extra;"),
        ("main.rs", "fn main() {}"),
        ("low.rs", ""),
        ("high.rs", ""),
        ("extra.rs", ""),
    ];
    let rows = "| `low` | a leaf | — |\n| `high` | uses low | low |\n| `gone` | no module | — |";
    let mut found = scratch(&files, rows);
    found.sort();
    assert_eq!(
        found,
        [
            "module `extra` has no row in the docs/ARCHITECTURE.md table",
            "the table has a row for `gone`, which is not a module of src/lib.rs"
        ]
    );
}
