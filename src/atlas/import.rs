//! `bns zonefile import FILE|DIR`: zone files from outside the network, each
//! verified against its hash and the chain before it is stored.
//!
//! - A FILE is the Stacks 2.0 genesis export (`name_zonefiles.txt`): a line
//!   with the hash160 in hex, then a line with the zone file, its newlines
//!   written as the two characters `\n`; repeated.
//! - A DIR is Core's on-disk layout: `<dir>/ab/cd/<hash>.txt`, or the legacy
//!   `<dir>/ab/cd/.../zonefile.txt` whose 2-character directories spell the hash.

use std::path::{Path, PathBuf};

use crate::hash::ValueHash;
use crate::store::{PutOutcome, Store, StoreError};

/// Zone files stored per SQL transaction.
const BATCH: usize = 1000;

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    /// Newly stored.
    pub accepted: u64,
    /// Held already.
    pub already_held: u64,
    /// No name on the chain announced the hash.
    pub not_announced: u64,
    /// The bytes do not hash to the hash they came under.
    pub hash_mismatch: u64,
    /// Over 40,960 bytes.
    pub too_large: u64,
    /// Entries that could not be read (bad hash line, unreadable file).
    pub unreadable: u64,
}

/// Why an import could not run.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The path could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// Path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Parses a genesis export: (claimed hash, zone file) pairs; a bad hash line
/// yields `None` in its place.
pub fn parse_genesis(text: &str) -> Vec<Option<(ValueHash, Vec<u8>)>> {
    let mut lines = text.split('\n');
    let mut out = Vec::new();
    while let Some(hash_line) = lines.next() {
        let hash_line = hash_line.trim_end_matches('\r');
        if hash_line.is_empty() {
            continue;
        }
        let Some(body) = lines.next() else {
            out.push(None);
            break;
        };
        match hash_line.parse::<ValueHash>() {
            Ok(h) => out.push(Some((h, body.replace("\\n", "\n").into_bytes()))),
            Err(_) => out.push(None),
        }
    }
    out
}

/// The hash a file in Core's zone-file directory claims: `<hash>.txt`, or
/// the legacy `…/ab/cd/…/zonefile.txt` (20 two-character directories).
pub fn claimed_hash(path: &Path) -> Option<ValueHash> {
    let name = path.file_name()?.to_str()?;
    if let Some(stem) = name.strip_suffix(".txt").filter(|s| s.len() == 40) {
        return stem.parse().ok();
    }
    if name == "zonefile.txt" {
        let parts: Vec<&str> = path.parent()?.iter().rev().take(20).filter_map(|p| p.to_str()).collect();
        let hex: String = parts.into_iter().rev().collect();
        return hex.parse().ok();
    }
    None
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), ImportError> {
    let io = |source| ImportError::Io { path: dir.to_path_buf(), source };
    let mut entries: Vec<_> = std::fs::read_dir(dir).map_err(io)?.collect::<Result<_, _>>().map_err(io)?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let ty = e.file_type().map_err(io)?;
        if ty.is_dir() {
            walk(&e.path(), out)?;
        } else if ty.is_file() {
            out.push(e.path());
        }
    }
    Ok(())
}

/// Imports the genesis file or Core directory at `path` into `store`.
pub fn import(store: &Store, path: &Path, source: &str) -> Result<ImportReport, ImportError> {
    let io = |source| ImportError::Io { path: path.to_path_buf(), source };
    let mut report = ImportReport::default();
    let mut entries: Vec<Option<(ValueHash, Vec<u8>)>> = Vec::new();
    if std::fs::metadata(path).map_err(io)?.is_dir() {
        let mut files = Vec::new();
        walk(path, &mut files)?;
        for f in files {
            let Some(hash) = claimed_hash(&f) else { continue };
            match std::fs::read(&f) {
                Ok(bytes) => entries.push(Some((hash, bytes))),
                Err(_) => entries.push(None),
            }
        }
    } else {
        let text = std::fs::read(path).map_err(io)?;
        entries = parse_genesis(&String::from_utf8_lossy(&text));
    }
    for chunk in entries.chunks(BATCH) {
        let mut good: Vec<&[u8]> = Vec::new();
        for e in chunk {
            match e {
                None => report.unreadable += 1,
                Some((hash, bytes)) if ValueHash::of_zonefile(bytes) != *hash => report.hash_mismatch += 1,
                Some((_, bytes)) => good.push(bytes),
            }
        }
        for outcome in store.put_zonefile_batch(&good, source)? {
            match outcome {
                PutOutcome::Stored(_) => report.accepted += 1,
                PutOutcome::AlreadyHeld(_) => report.already_held += 1,
                PutOutcome::NotAnnounced(_) => report.not_announced += 1,
                PutOutcome::TooLarge(_) => report.too_large += 1,
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genesis_lines_unescape_to_files_whose_hash_checks_out() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/mainnet-zonefiles-sample.txt"))
                .unwrap();
        let entries = parse_genesis(&text);
        assert_eq!(entries.len(), 814);
        for e in &entries {
            let (hash, bytes) = e.as_ref().expect("every hash line parses");
            assert_eq!(ValueHash::of_zonefile(bytes), *hash);
        }
        assert_eq!(parse_genesis("zz\nbody\n"), vec![None]);
        assert_eq!(parse_genesis(&"00".repeat(20)), vec![None], "a hash line without a file");
    }

    #[test]
    fn core_layout_paths_claim_hashes() {
        let h = "b100a68235244b012854a95f9114695679002af9";
        assert_eq!(claimed_hash(Path::new(&format!("/z/b1/00/{h}.txt"))).unwrap().to_hex(), h);
        let legacy: PathBuf = ["/z"].iter().copied().chain((0..20).map(|i| &h[2 * i..2 * i + 2])).collect();
        assert_eq!(claimed_hash(&legacy.join("zonefile.txt")).unwrap().to_hex(), h);
        assert_eq!(claimed_hash(Path::new("/z/b1/00/notes.txt")), None);
    }
}
