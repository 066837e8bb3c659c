//! The 1M-name indexing benchmark's two halves (see `bench/index-1m.sh`).
//!
//!     index_bench gen N DIR [NAMES_PER_BLOCK]   # build (or reuse) a dev chain with N names
//!     index_bench index DIR [DB]                # index DIR's chain from scratch into DB
//!
//! `gen` writes `DIR/devchain.dat` and `DIR/devchain.params.json`: N names,
//! each preordered, registered and updated through real signed transactions
//! (3 BNS ops per name). It skips the work if `DIR/names` already says N.
//! `index` replays the raw blocks into a fresh SQLite store and prints
//! ops/s, total time, DB size and peak RSS.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use bitcoin::Network;
use bns::bns::ChainParams;
use bns::chain::devchain::{ChainFile, DevChain};
use bns::indexer::Indexer;
use bns::store::Store;
use bns::tx::Wallet;

const NET: Network = Network::Regtest;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: index_bench gen N DIR [NAMES_PER_BLOCK] | index DIR [DB]";
    match args.first().map(String::as_str) {
        Some("gen") => {
            let n: usize = args.get(1).context(usage)?.parse()?;
            let dir = PathBuf::from(args.get(2).context(usage)?);
            let per_block: usize = args.get(3).map(|a| a.parse()).transpose()?.unwrap_or(1000);
            generate(n, &dir, per_block)
        }
        Some("index") => {
            let dir = PathBuf::from(args.get(1).context(usage)?);
            let db = args.get(2).map(PathBuf::from).unwrap_or_else(|| dir.join("index.sqlite"));
            index(&dir, &db)
        }
        _ => anyhow::bail!(usage),
    }
}

fn generate(n: usize, dir: &Path, per_block: usize) -> anyhow::Result<()> {
    let marker = dir.join("names");
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(&n.to_string()) {
        eprintln!("reusing the {n}-name chain in {}", dir.display());
        return Ok(());
    }
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    let t = Instant::now();
    let chain = DevChain::open(&dir.join("devchain.dat"), NET)?;
    let w = Wallet::generate(NET);
    let params = ChainParams::test(1, *b"id").with_allocation(w.address().to_string(), 1_000_000_000_000_000);
    for _ in 0..bns::node::DEV_FUNDING_BLOCKS {
        chain.mine(&w.script_pubkey())?;
    }
    // Saved first, so a partly generated chain can be indexed too.
    bns::node::save_dev_params(dir, &params)?;
    let gen_db = dir.join("gen.sqlite");
    let mut builder = Indexer::new(Store::open(&gen_db)?, params.clone(), NET, 1);
    bns::node::generate::register_and_update_names(&chain, &mut builder, &w, "bench", n, per_block)?;
    let (accepted, rejected) = builder.store().op_totals()?;
    anyhow::ensure!(builder.store().name_count()? == n as u64, "every generated name registers");
    anyhow::ensure!(rejected == 0, "{rejected} generated ops were rejected");
    drop(builder);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", gen_db.display()));
    }
    std::fs::write(&marker, n.to_string())?;
    let secs = t.elapsed().as_secs_f64();
    let size = std::fs::metadata(dir.join("devchain.dat"))?.len();
    println!(
        "generated {n} names ({accepted} accepted ops) in {} blocks, {:.1} MB of blocks, in {secs:.1}s ({:.0} ops/s incl. signing, verifying, mining and indexing)",
        chain.height(),
        size as f64 / 1e6,
        accepted as f64 / secs
    );
    Ok(())
}

fn index(dir: &Path, db: &Path) -> anyhow::Result<()> {
    let params: ChainParams = serde_json::from_str(
        &std::fs::read_to_string(dir.join(bns::node::DEV_PARAMS_FILE)).context("run `index_bench gen` first")?,
    )?;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let t = Instant::now();
    // Read-only, compact index: no UTXO set, no txid hash map.
    let chain = ChainFile::open(&dir.join("devchain.dat"), NET)?;
    let open_secs = t.elapsed().as_secs_f64();
    let mut idx = Indexer::new(Store::open(db)?, params, NET, 1);
    let t = Instant::now();
    let r = idx.catch_up(&chain)?;
    let secs = t.elapsed().as_secs_f64();
    let (accepted, rejected) = idx.store().op_totals()?;
    let names = idx.store().name_count()?;
    drop(idx);
    let db_bytes: u64 = ["", "-wal"]
        .iter()
        .filter_map(|s| std::fs::metadata(format!("{}{s}", db.display())).ok())
        .map(|m| m.len())
        .sum();
    let ops = accepted + rejected;
    println!("chain open (block file scan + index): {open_secs:.2}s");
    println!(
        "indexed {} blocks, {ops} name ops ({accepted} accepted, {rejected} rejected), {names} names in {secs:.2}s",
        r.blocks
    );
    println!("ops/s: {:.0}", ops as f64 / secs);
    println!("total time (open + index): {:.2}s", open_secs + secs);
    println!("db size: {:.1} MB", db_bytes as f64 / 1e6);
    println!("peak RSS (VmHWM): {}", peak_rss().unwrap_or_else(|| "unknown".into()));
    Ok(())
}

fn peak_rss() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find(|l| l.starts_with("VmHWM")).map(|l| l["VmHWM:".len()..].trim().to_string())
}
