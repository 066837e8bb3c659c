//! `bns dev --import-zonefiles FILE`: the zone files of a Stacks-genesis style
//! file (`stx-genesis/name_zonefiles.txt`, as in ../shared/data), each
//! registered on the dev chain under its `$ORIGIN` name with exactly those
//! bytes, so real mainnet names (and the subdomains their zone files state)
//! answer from a dev node.
//!
//! The file is two lines per zone file: its hash160 in hex, then the zone
//! file with each newline written as the two characters `\n`. A pair whose
//! hash does not match, whose file names no `$ORIGIN`, or whose origin is
//! not a BNS name is left out with the reason (never fatal: real data has
//! quirks).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Context as _;

use super::dev::{Plan, ZoneSpec};
use crate::bns::names::split_fqn;
use crate::hash::ValueHash;
use crate::tx::ops::RevealParams;

/// What a genesis file holds.
#[derive(Debug, Default)]
pub struct GenesisZones {
    /// One zone file per name (the last one the file gives for it).
    pub zones: Vec<ZoneSpec>,
    /// `(line, reason)` for every pair left out.
    pub skipped: Vec<(usize, String)>,
}

/// Reads `path`.
pub fn read(path: &Path) -> anyhow::Result<GenesisZones> {
    let text = std::fs::read(path)
        .with_context(|| format!("cannot read {} (a Stacks-genesis style zone-file list)", path.display()))?;
    Ok(parse(&text))
}

/// `\n` (two characters) to a newline; `\\` stays as it is.
fn unescape(line: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        if line[i] == b'\\' && line.get(i + 1) == Some(&b'n') {
            out.push(b'\n');
            i += 2;
        } else {
            out.push(line[i]);
            i += 1;
        }
    }
    out
}

/// The `$ORIGIN` of a zone file, lowercase, without trailing dot.
fn origin(content: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(content);
    let line = text.lines().find(|l| l.trim_start().to_ascii_uppercase().starts_with("$ORIGIN"))?;
    let name = line.split_whitespace().nth(1)?;
    Some(name.trim_end_matches('.').to_ascii_lowercase())
}

/// Parses a genesis file's bytes.
pub fn parse(text: &[u8]) -> GenesisZones {
    let mut out = GenesisZones::default();
    let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l)).collect();
    let mut by_name: BTreeMap<String, ZoneSpec> = BTreeMap::new();
    let mut i = 0;
    while i < lines.len() {
        let hash_line = String::from_utf8_lossy(lines[i]).trim().to_string();
        if hash_line.is_empty() {
            i += 1;
            continue;
        }
        let line_no = i + 1;
        let Some(body) = lines.get(i + 1) else {
            out.skipped.push((line_no, format!("hash {hash_line} has no zone-file line after it")));
            break;
        };
        i += 2;
        let content = unescape(body);
        let Ok(expected) = hash_line.parse::<ValueHash>() else {
            out.skipped.push((line_no, format!("{hash_line:?} is not a hash160 in hex")));
            continue;
        };
        let actual = ValueHash::of_zonefile(&content);
        if actual != expected {
            out.skipped.push((line_no, format!("zone file hashes to {actual}, not {expected}")));
            continue;
        }
        let Some(name) = origin(&content) else {
            out.skipped.push((line_no, format!("zone file {expected} has no $ORIGIN naming its name")));
            continue;
        };
        if split_fqn(&name).is_none() {
            out.skipped.push((line_no, format!("$ORIGIN {name} is not a BNS name (name.namespace)")));
            continue;
        }
        by_name.insert(name.clone(), ZoneSpec { name, content, imported: true });
    }
    out.zones = by_name.into_values().collect();
    out
}

/// Namespace parameters for a namespace the dev chain lacks: version 1, a
/// year's lifetime, and the lowest prices the rules allow.
pub fn default_reveal() -> RevealParams {
    RevealParams {
        version: 1,
        lifetime: 52_595,
        coeff: 1,
        base: 1,
        buckets: [1; 16],
        nonalpha_discount: 1,
        no_vowel_discount: 1,
    }
}

/// Adds `genesis`'s names to `plan` (revealing the namespaces it lacks);
/// names the plan already has keep the plan's zone file. Returns the names
/// left out because the plan has them.
pub fn extend_plan(plan: &mut Plan, genesis: GenesisZones) -> Vec<String> {
    let have: BTreeSet<String> = plan.zones.iter().map(|z| z.name.clone()).collect();
    let mut shadowed = Vec::new();
    for z in genesis.zones {
        if have.contains(&z.name) {
            shadowed.push(z.name);
            continue;
        }
        if let Some((_, ns)) = split_fqn(&z.name) {
            plan.namespaces.entry(ns.to_string()).or_insert_with(default_reveal);
        }
        plan.zones.push(z);
    }
    shadowed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mainnet_sample_reads_whole() {
        let g = read(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/mainnet-zonefiles-sample.txt")))
            .expect("tests/vectors holds the mainnet sample");
        assert_eq!(g.zones.len() + g.skipped.len(), 814, "{:?}", g.skipped);
        assert!(g.skipped.is_empty(), "{:?}", g.skipped);
        assert!(g.zones.iter().any(|z| z.name == "sub.helloworld"));
        assert!(g.zones.iter().any(|z| z.name == "test-personal.id"), "$ORIGIN with $TTL on its line");
    }

    #[test]
    fn bad_pairs_are_left_out_with_the_reason() {
        let good = b"$ORIGIN a.id\\n$TTL 3600\\n";
        let hash = ValueHash::of_zonefile(&unescape(good));
        let mut text = format!("{hash}\n").into_bytes();
        text.extend_from_slice(good);
        text.extend_from_slice(b"\n0000000000000000000000000000000000000000\n$ORIGIN b.id\\n\nzz\nx\n");
        let nohash = ValueHash::of_zonefile(b"$TTL 1\n");
        text.extend_from_slice(format!("{nohash}\n$TTL 1\\n\n").as_bytes());
        let g = parse(&text);
        assert_eq!(g.zones.iter().map(|z| z.name.as_str()).collect::<Vec<_>>(), ["a.id"]);
        let reasons: Vec<&str> = g.skipped.iter().map(|s| s.1.as_str()).collect();
        assert!(reasons[0].starts_with("zone file hashes to"), "{reasons:?}");
        assert!(reasons[1].contains("not a hash160"), "{reasons:?}");
        assert!(reasons[2].contains("no $ORIGIN"), "{reasons:?}");
    }
}
