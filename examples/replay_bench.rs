//! Builds a dev chain carrying N name registrations (preorder + register,
//! through real signed transactions), then indexes it from the raw blocks
//! into a fresh SQLite store and reports blocks/s and name ops/s.
//!
//!     cargo run --release --example replay_bench -- 5000 [DIR]

use std::time::Instant;

use bitcoin::Network;
use bns::bns::ChainParams;
use bns::chain::devchain::DevChain;
use bns::indexer::Indexer;
use bns::store::Store;
use bns::tx::Wallet;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().map(|a| a.parse()).transpose()?.unwrap_or(2000);
    let dir = match args.get(1) {
        Some(d) => std::path::PathBuf::from(d),
        None => std::env::temp_dir().join(format!("bns-replay-{}", std::process::id())),
    };
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let net = Network::Regtest;
    let chain = DevChain::open(&dir.join("chain.dat"), net)?;
    let w = Wallet::generate(net);
    let params = ChainParams::test(1, *b"id").with_allocation(w.address().to_string(), 1_000_000_000_000_000);
    let t = Instant::now();
    for _ in 0..101 {
        chain.mine(&w.script_pubkey())?;
    }
    let mut builder = Indexer::new(Store::open(&dir.join("a.sqlite"))?, params.clone(), net, 1);
    bns::node::generate::register_names(&chain, &mut builder, &w, "bench", n)?;
    eprintln!("built {} blocks with {n} names in {:.1}s", chain.height(), t.elapsed().as_secs_f64());

    // The measurement: a fresh node replaying the raw blocks.
    let mut fresh = Indexer::new(Store::open(&dir.join("b.sqlite"))?, params, net, 1);
    let t = Instant::now();
    let r = fresh.catch_up(&chain)?;
    let secs = t.elapsed().as_secs_f64();
    let ops = 2 * n + 3;
    let a = builder.store().last_block()?.expect("indexed");
    let b = fresh.store().last_block()?.expect("indexed");
    assert_eq!(a, b, "replay must reach the builder's consensus hash");
    println!(
        "replayed {} blocks ({ops} name ops) in {secs:.2}s: {:.0} blocks/s, {:.0} ops/s; {} names; consensus hash {} at {}",
        r.blocks,
        r.blocks as f64 / secs,
        ops as f64 / secs,
        fresh.store().name_count()?,
        b.consensus_hash,
        b.height
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
