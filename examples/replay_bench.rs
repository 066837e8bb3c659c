//! Builds a dev chain carrying N name registrations (preorder + register,
//! through real signed transactions), then indexes it from the raw blocks
//! into a fresh SQLite store and reports blocks/s and ops/s.
//!
//!     cargo run --release --example replay_bench -- 5000 [DIR]

use std::time::Instant;

use bitcoin::Network;
use bns::bns::ChainParams;
use bns::chain::devchain::DevChain;
use bns::indexer::Indexer;
use bns::store::Store;
use bns::tx::ops::{self, Funding, RevealParams};
use bns::tx::{TxError, Wallet};

const MAGIC: [u8; 2] = *b"id";
const NET: Network = Network::Regtest;
const PER_BLOCK: usize = 250;

fn fund<'a>(chain: &DevChain, w: &'a Wallet) -> Funding<'a> {
    Funding { wallet: w, utxos: chain.spendable_utxos(&w.script_pubkey()), fee_rate: 1 }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().map(|a| a.parse()).transpose()?.unwrap_or(2000);
    let dir = match args.get(1) {
        Some(d) => std::path::PathBuf::from(d),
        None => std::env::temp_dir().join(format!("bns-replay-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir)?;
    let _ = std::fs::remove_file(dir.join("chain.dat"));
    for f in ["a.sqlite", "a.sqlite-wal", "a.sqlite-shm", "b.sqlite", "b.sqlite-wal", "b.sqlite-shm"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    let chain = DevChain::open(&dir.join("chain.dat"), NET)?;
    let params = ChainParams::test(1, MAGIC);
    let w = Wallet::generate(NET);
    let t = Instant::now();
    for _ in 0..101 {
        chain.mine(&w.script_pubkey())?;
    }
    // Build the chain, indexing as we go (the builder needs consensus hashes).
    let mut idx = Indexer::new(Store::open(&dir.join("a.sqlite"))?, params.clone(), NET, 1);
    let mut mine = |txs: Vec<bitcoin::Transaction>| -> anyhow::Result<()> {
        for tx in txs {
            chain.submit(tx)?;
        }
        chain.mine(&w.script_pubkey())?;
        idx.step(&chain, u64::MAX)?;
        Ok(())
    };
    mine(vec![])?;
    let ch = |dir: &std::path::Path| -> anyhow::Result<_> {
        Ok(Store::open_readonly(&dir.join("a.sqlite"))?.last_block()?.expect("indexed").consensus_hash)
    };
    let me = w.address().to_string();
    let f = fund(&chain, &w);
    mine(vec![ops::namespace_preorder(&f, MAGIC, "bench", &me, &ch(&dir)?, 40_000_000, NET)?])?;
    let p = RevealParams {
        version: 1,
        lifetime: 52_595,
        coeff: 1,
        base: 2,
        buckets: [1; 16],
        nonalpha_discount: 10,
        no_vowel_discount: 10,
    };
    let f = fund(&chain, &w);
    mine(vec![ops::namespace_reveal(&f, MAGIC, "bench", &p, &w.script_pubkey())?])?;
    let f = fund(&chain, &w);
    mine(vec![ops::namespace_ready(&f, MAGIC, "bench")?])?;
    let owners: Vec<Wallet> = (0..n).map(|_| Wallet::generate(NET)).collect();
    for chunk in (0..n).collect::<Vec<_>>().chunks(PER_BLOCK) {
        let c = ch(&dir)?;
        let mut f = fund(&chain, &w);
        let pre: Vec<_> = chunk
            .iter()
            .map(|i| {
                let name = format!("n{i}.bench");
                let addr = owners[*i].address().to_string();
                f.next::<_, TxError>(ops::name_preorder(&f, MAGIC, &name, &addr, &c, 100, NET))
            })
            .collect::<Result<_, _>>()?;
        mine(pre)?;
        let mut f = fund(&chain, &w);
        let reg: Vec<_> = chunk
            .iter()
            .map(|i| {
                let name = format!("n{i}.bench");
                f.next::<_, TxError>(ops::name_register(&f, MAGIC, &name, None, &owners[*i].script_pubkey()))
            })
            .collect::<Result<_, _>>()?;
        mine(reg)?;
    }
    let built = t.elapsed();
    let blocks = chain.height();
    eprintln!("built {blocks} blocks with {n} names in {:.1}s", built.as_secs_f64());

    // The measurement: a fresh node replaying the raw blocks.
    let mut fresh = Indexer::new(Store::open(&dir.join("b.sqlite"))?, params, NET, 1);
    let t = Instant::now();
    let r = fresh.catch_up(&chain)?;
    let secs = t.elapsed().as_secs_f64();
    let ops = 2 * n + 3;
    let a = Store::open_readonly(&dir.join("a.sqlite"))?.last_block()?.expect("indexed");
    let b = fresh.store().last_block()?.expect("indexed");
    assert_eq!(a, b, "replay must reach the builder's consensus hash");
    println!(
        "replayed {} blocks ({ops} name ops) in {secs:.2}s: {:.0} blocks/s, {:.0} ops/s; names {}; consensus hash {} at {}",
        r.blocks,
        r.blocks as f64 / secs,
        ops as f64 / secs,
        fresh.store().name_count()?,
        b.consensus_hash,
        b.height
    );
    Ok(())
}
