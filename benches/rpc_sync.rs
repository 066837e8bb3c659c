//! Sync speed over bitcoind JSON-RPC: a long bcoin regtest chain carrying
//! BNS registrations, indexed from scratch through `RpcSource` (the path
//! `bns node` takes). Needs bcoin (scripts/test installs it into tools/bcoin).
//!
//! `cargo bench --bench rpc_sync -- [NAMES] [EMPTY_BLOCKS]` (default 2000 names, 3000 empty blocks).

#[path = "../tests/support/bcoin.rs"]
#[allow(dead_code)]
pub mod bcoin;
#[path = "../tests/support/bcoin_chain.rs"]
#[allow(dead_code)]
pub mod bcoin_chain;

use std::time::Instant;

use bitcoin::hashes::Hash;
use bns::chain::BlockSource;
use bns::indexer::Indexer;
use bns::store::Store;

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let names = args.first().copied().unwrap_or(2000);
    let empty = args.get(1).copied().unwrap_or(3000) as u64;
    let b = bcoin::Bcoin::start();
    let built = Instant::now();
    let mut c = bcoin_chain::NameChain::start(&b, "bench");
    c.register(&b, "bench", names, 20);
    let other = bns::tx::Wallet::generate(bcoin_chain::NET);
    let mut left = empty;
    while left > 0 {
        let n = left.min(500);
        b.mine_to(n, &other.pubkey_hash().to_byte_array());
        left -= n;
    }
    let rpc = bcoin_chain::rpc(&b);
    let tip = rpc.tip_height().unwrap();
    println!("built {tip} blocks with {names} names in {:.1}s", built.elapsed().as_secs_f64());

    // bcoin indexes in the background after mining; let it settle.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let fetch = Instant::now();
    for h in 1..=tip {
        rpc.block(h).unwrap();
    }
    let fetch = fetch.elapsed().as_secs_f64();
    println!(
        "fetching the {tip} raw blocks alone (getblockhash + getblock): {fetch:.2}s, {:.0} blocks/s",
        tip as f64 / fetch
    );

    let dir = tempfile::tempdir().unwrap();
    let mut idx =
        Indexer::new(Store::open(&dir.path().join("bench.sqlite")).unwrap(), c.params.clone(), bcoin_chain::NET, 1);
    let start = Instant::now();
    let r = idx.catch_up(&rpc).unwrap();
    let secs = start.elapsed().as_secs_f64();
    let ops = (2 * names + 3) as f64;
    assert_eq!(r.height, Some(tip));
    assert_eq!(idx.store().name_count().unwrap(), names as u64);
    println!(
        "rpc sync: {tip} blocks, {ops} name ops in {secs:.2}s: {:.0} blocks/s, {:.0} ops/s ({} blocks with ops)",
        tip as f64 / secs,
        ops / secs,
        names.div_ceil(20) * 2 + 3
    );
}
