//! Criterion benchmark: index a pre-generated dev chain of 5,000 names
//! (preorder + register + update each: 15,003 name ops) from its raw blocks
//! into a fresh SQLite store. The chain is generated once into
//! `$BNS_BENCH_CACHE` (default: the system temp dir) and reused.
//!
//!     cargo bench --bench index
//!
//! For the 1M-name run see `bench/index-1m.sh`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bitcoin::Network;
use bns::bns::ChainParams;
use bns::chain::devchain::{ChainFile, DevChain};
use bns::indexer::Indexer;
use bns::store::Store;
use bns::tx::Wallet;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const NAMES: usize = 5_000;
const NET: Network = Network::Regtest;

/// Generates (or reuses) the chain; returns its directory and parameters.
fn chain_dir() -> (PathBuf, ChainParams) {
    let root = std::env::var_os("BNS_BENCH_CACHE").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let dir = root.join(format!("bns-bench-index-{NAMES}"));
    let params_file = dir.join(bns::node::DEV_PARAMS_FILE);
    if let Ok(text) = std::fs::read_to_string(&params_file) {
        return (dir, serde_json::from_str(&text).expect("params file"));
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let chain = DevChain::open(&dir.join("devchain.dat"), NET).unwrap();
    let w = Wallet::generate(NET);
    let params = ChainParams::test(1, *b"id").with_allocation(w.address().to_string(), 1_000_000_000_000_000);
    for _ in 0..bns::node::DEV_FUNDING_BLOCKS {
        chain.mine(&w.script_pubkey()).unwrap();
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut idx = Indexer::new(Store::open(&tmp.path().join("gen.sqlite")).unwrap(), params.clone(), NET, 1);
    bns::node::generate::register_and_update_names(&chain, &mut idx, &w, "bench", NAMES, 1000).unwrap();
    assert_eq!(idx.store().name_count().unwrap(), NAMES as u64);
    // Written last: its presence marks a complete chain.
    bns::node::save_dev_params(&dir, &params).unwrap();
    (dir, params)
}

fn index_once(dir: &Path, params: &ChainParams) -> u64 {
    let chain = ChainFile::open(&dir.join("devchain.dat"), NET).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut idx = Indexer::new(Store::open(&tmp.path().join("bns.sqlite")).unwrap(), params.clone(), NET, 1);
    idx.catch_up(&chain).unwrap();
    idx.store().op_totals().unwrap().0
}

fn bench_index(c: &mut Criterion) {
    let (dir, params) = chain_dir();
    let ops = index_once(&dir, &params);
    assert_eq!(ops, 3 * NAMES as u64 + 3, "every op accepted");
    let mut group = c.benchmark_group("index");
    group.sample_size(10).measurement_time(Duration::from_secs(20)).throughput(Throughput::Elements(ops));
    group.bench_function(format!("{NAMES}_names_from_raw_blocks"), |b| b.iter(|| index_once(&dir, &params)));
    group.finish();
}

criterion_group!(benches, bench_index);
criterion_main!(benches);
