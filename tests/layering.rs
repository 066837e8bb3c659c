//! Data flows one way (docs/ARCHITECTURE.md): a module may only import the
//! modules listed for it here. This test reads the sources and fails on an
//! import that runs the other way. Unit-test files are exempt.

use std::path::Path;

const ALLOWED: &[(&str, &[&str])] = &[
    ("hash", &[]),
    ("config", &["hash", "chain", "virtualchain", "bns"]),
    ("metrics", &[]),
    ("chain", &["hash"]),
    ("zonefile", &["hash"]),
    ("virtualchain", &["hash", "chain"]),
    ("bns", &["hash", "chain", "virtualchain"]),
    ("store", &["hash", "chain", "virtualchain", "bns", "zonefile"]),
    ("indexer", &["hash", "chain", "virtualchain", "bns", "store", "zonefile"]),
    ("tx", &["hash", "chain", "virtualchain", "bns"]),
    ("atlas", &["hash", "zonefile", "store", "metrics"]),
    ("dns", &["hash", "zonefile", "store", "metrics"]),
    ("api", &["hash", "chain", "virtualchain", "bns", "store", "zonefile", "metrics", "atlas"]),
];

const MODULES: &[&str] = &[
    "hash",
    "config",
    "metrics",
    "chain",
    "zonefile",
    "virtualchain",
    "bns",
    "store",
    "indexer",
    "tx",
    "atlas",
    "dns",
    "api",
    "node",
];

fn sources(path: &Path, out: &mut Vec<(String, String)>) {
    if path.is_dir() {
        for e in std::fs::read_dir(path).unwrap() {
            sources(&e.unwrap().path(), out);
        }
    } else if path.is_file() && path.extension().is_some_and(|e| e == "rs") {
        out.push((path.display().to_string(), std::fs::read_to_string(path).unwrap()));
    }
}

fn is_test_file(path: &str) -> bool {
    path.ends_with("/tests.rs") || path.ends_with("_tests.rs") || path.contains("/tests/")
}

#[test]
fn modules_only_import_earlier_layers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = Vec::new();
    for (module, allowed) in ALLOWED {
        let mut files = Vec::new();
        sources(&root.join(module), &mut files);
        sources(&root.join(format!("{module}.rs")), &mut files);
        assert!(!files.is_empty(), "module {module} has no sources");
        // Unit-test files may build fixtures with later layers (e.g. chain tests sign with tx).
        for (file, text) in files.into_iter().filter(|(f, _)| !is_test_file(f)) {
            for other in MODULES.iter().filter(|m| *m != module && !allowed.contains(m)) {
                for pat in [format!("crate::{other}::"), format!("crate::{other};"), format!("crate::{other}}}")] {
                    if text.contains(&pat) {
                        violations.push(format!("{file} uses crate::{other}"));
                    }
                }
            }
        }
    }
    assert!(violations.is_empty(), "imports against the data flow:\n{}", violations.join("\n"));
}
