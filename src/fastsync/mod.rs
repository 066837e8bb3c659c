//! Snapshot sync: the chain state at a height as one file (`bns export`),
//! and its import into a fresh data dir checked against a consensus hash
//! the user trusts (`bns import --trust`), Core's fast sync done verifiably.
//!
//! File: `BNS-SNAPSHOT 1\n`, a length-prefixed JSON [`Header`], rows
//! (`table + 1`, column count, typed values), a 0 byte, then the SHA-256 of
//! everything before it. The checksum catches damage; the consensus hashes
//! (recomputed in [`verify`]) catch tampering.

mod format;
pub mod verify;

use std::path::Path;

use anyhow::Context as _;

use crate::hash::ConsensusHash;
use crate::store::{Store, DUMP_TABLES};
pub use format::Header;

/// Store meta keys a snapshot carries in its header.
const CARRIED_META: &[&str] = &["chain_params", "network"];

/// What `export` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportReport {
    /// Height of the state.
    pub height: u64,
    /// Its consensus hash (what an importer should trust, if they trust this node).
    pub consensus_hash: ConsensusHash,
    /// Rows per table, in [`DUMP_TABLES`] order.
    pub rows: Vec<u64>,
    /// File size.
    pub bytes: u64,
}

/// Writes the state of `store` after block `height` (default: its tip) to
/// `out` (through `out.tmp`, fsynced, then renamed). A height below the
/// tip is exported from a rolled-back copy beside `out`.
pub fn export(store: &mut Store, out: &Path, height: Option<u64>) -> anyhow::Result<ExportReport> {
    let tip = store.last_block()?.context("the index is empty: nothing to export")?;
    let h = height.unwrap_or(tip.height);
    if h > tip.height {
        anyhow::bail!("height {h} is above the index's tip {}", tip.height);
    }
    let copy_path = out.with_extension("copy.sqlite");
    let mut copy = if h < tip.height {
        Some(store.copy_at(h, &copy_path).with_context(|| format!("cannot roll a copy back to block {h}"))?)
    } else {
        None
    };
    let src = copy.as_mut().unwrap_or(store);
    let block = src.block_at(h)?.context("the block to export is missing")?;
    let mut meta = Vec::new();
    for k in CARRIED_META {
        if let Some(v) = src.meta(k)? {
            meta.push((k.to_string(), v));
        }
    }
    if !meta.iter().any(|(k, _)| k == "chain_params") {
        anyhow::bail!("this index records no chain parameters: export from the data dir of a `bns node` or `bns dev`");
    }
    let header = Header {
        version: 1,
        height: h,
        block_hash: block.block_hash.to_string(),
        consensus_hash: block.consensus_hash.to_hex(),
        tables: DUMP_TABLES.iter().map(|(t, _)| t.to_string()).collect(),
        meta,
        created_by: format!("bns {}", env!("CARGO_PKG_VERSION")),
    };
    let tmp = out.with_extension("tmp");
    let mut w = format::Writer::create(&tmp, &header)?;
    let mut rows = vec![0u64; DUMP_TABLES.len()];
    src.dump(&mut |t, vals| {
        rows[t] += 1;
        w.row(t, vals)
    })?;
    let bytes = w.finish()?;
    drop(copy);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", copy_path.display()));
    }
    std::fs::rename(&tmp, out).with_context(|| format!("cannot rename {} to {}", tmp.display(), out.display()))?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(ExportReport { height: h, consensus_hash: block.consensus_hash, rows, bytes })
}

/// Imports `file` into `store` (which must hold no blocks), if its state
/// at its height has consensus hash `trusted` as recomputed from what it
/// carries; nothing is written otherwise.
pub fn import(store: &mut Store, file: &Path, trusted: &ConsensusHash) -> anyhow::Result<verify::Report> {
    let mut r = format::Reader::open(file)?;
    let header = r.header().clone();
    if header.tables.iter().map(String::as_str).ne(DUMP_TABLES.iter().map(|(t, _)| *t)) {
        anyhow::bail!("the snapshot's tables {:?} are not this bns's: export it with the same version", header.tables);
    }
    let params: crate::bns::ChainParams = header
        .meta
        .iter()
        .find(|(k, _)| k == "chain_params")
        .map(|(_, v)| serde_json::from_str(v))
        .transpose()
        .context("the snapshot's chain parameters do not parse")?
        .context("the snapshot carries no chain parameters")?;
    let import = store.begin_import()?;
    while let Some((table, vals)) = r.next_row()? {
        import.insert(table, &vals).with_context(|| format!("a row of {} is refused", DUMP_TABLES[table].0))?;
    }
    let report = verify::verify(&import, &header, &params, trusted)?;
    let mut meta: Vec<(&str, String)> = header.meta.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    meta.push(("imported_snapshot", format!("{}:{}", header.height, header.consensus_hash)));
    import.commit(header.height, &meta)?;
    Ok(report)
}
