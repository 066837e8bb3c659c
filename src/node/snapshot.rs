//! `bns export` and `bns import`: the snapshot sync commands over a data dir.

use std::path::Path;
use std::time::Instant;

use anyhow::Context as _;

use super::{db_path, lock_data_dir};
use crate::fastsync;
use crate::hash::ConsensusHash;
use crate::store::{Store, DUMP_TABLES};

/// Writes the state of the index in `data_dir` after block `height`
/// (default: its tip) to `file`. Works beside a running node (one read
/// transaction; a past height is exported from a rolled-back copy).
pub fn export_cmd(data_dir: &Path, file: &Path, height: Option<u64>) -> anyhow::Result<()> {
    let db = db_path(data_dir);
    if !db.exists() {
        anyhow::bail!("no index at {}: run `bns node` (or `bns dev`) first, or pass --data-dir", db.display());
    }
    let mut store = Store::open(&db).with_context(|| format!("cannot open {}", db.display()))?;
    let t = Instant::now();
    let r = fastsync::export(&mut store, file, height)?;
    let rows: Vec<String> = DUMP_TABLES.iter().zip(&r.rows).map(|((t, _), n)| format!("{t} {n}")).collect();
    println!(
        "exported the state at block {} to {} ({:.1} MB, {:.1} s): {}",
        r.height,
        file.display(),
        r.bytes as f64 / 1e6,
        t.elapsed().as_secs_f64(),
        rows.join(", ")
    );
    println!("consensus hash at block {}: {}", r.height, r.consensus_hash);
    println!(
        "an importer checks the file against a consensus hash it trusts: bns import {} --trust {}",
        file.display(),
        r.consensus_hash
    );
    Ok(())
}

/// Imports `file` into the fresh data dir `data_dir` if it checks out
/// against `trust`; `bns node` then continues from the block after it.
pub fn import_cmd(data_dir: &Path, file: &Path, trust: &str) -> anyhow::Result<()> {
    let trusted: ConsensusHash =
        trust.parse().map_err(|_| anyhow::anyhow!("--trust {trust:?} is not a consensus hash (32 hex digits)"))?;
    let _lock = lock_data_dir(data_dir)?;
    let db = db_path(data_dir);
    let mut store = Store::open(&db).with_context(|| format!("cannot open {}", db.display()))?;
    let t = Instant::now();
    let r =
        fastsync::import(&mut store, file, &trusted).with_context(|| format!("{} was not imported", file.display()))?;
    println!(
        "imported blocks {}..={} into {} ({:.1} s); verified:",
        r.blocks.0,
        r.blocks.1,
        data_dir.display(),
        t.elapsed().as_secs_f64()
    );
    println!(
        "  every consensus hash, recomputed from the {} ops the file carries, up to the trusted {}",
        r.ops, r.consensus_hash
    );
    println!("  {} names and every namespace are what their history leaves; {} Atlas inventory rows; zone files hash to announced hashes", r.names, r.inventory);
    for n in &r.not_verified {
        println!("  not verified: {n}");
    }
    println!("`bns node --data-dir {}` continues from block {}", data_dir.display(), r.blocks.1 + 1);
    Ok(())
}
