use std::collections::HashSet;

use bitcoin::{Network, OutPoint};

use super::*;
use crate::bns::ChainParams;
use crate::chain::devchain::{verify_input, ChainFile};
use crate::chain::BlockSource;
use crate::hash::ValueHash;
use crate::store::Store;

const NET: Network = Network::Regtest;

/// A dev chain funded for the generator, the params its names need and the
/// indexer that follows it.
fn funded(dir: &std::path::Path) -> (DevChain, Wallet, ChainParams, Indexer) {
    let chain = DevChain::open(&dir.join("chain.dat"), NET).unwrap();
    let w = Wallet::generate(NET);
    let params = ChainParams::test(1, *b"id").with_allocation(w.address().to_string(), 1_000_000_000_000_000);
    for _ in 0..crate::node::DEV_FUNDING_BLOCKS {
        chain.mine(&w.script_pubkey()).unwrap();
    }
    let idx = Indexer::new(Store::open(&dir.join("gen.sqlite")).unwrap(), params.clone(), NET, 1);
    (chain, w, params, idx)
}

#[test]
fn generated_names_index_from_scratch_each_with_its_own_owner_and_zone_file_hash() {
    let dir = tempfile::tempdir().unwrap();
    let (chain, w, params, mut idx) = funded(dir.path());
    let (n, per_block) = (2_000, 300);
    let mut seen = Vec::new();
    register_and_update_names_with_progress(&chain, &mut idx, &w, "bench", n, per_block, &mut |k| seen.push(k))
        .unwrap();
    assert!(seen.windows(2).all(|p| p[0] < p[1]), "progress only grows: {seen:?}");
    assert_eq!(seen.last(), Some(&n), "{seen:?}");
    // The generator's own index followed the whole chain.
    let tip = chain.height();
    assert_eq!(idx.store().last_block().unwrap().unwrap().height, tip);
    // 3 namespace ops, then 3 per name, in n / per_block + 2 blocks.
    assert_eq!(tip, crate::node::DEV_FUNDING_BLOCKS + 4 + n.div_ceil(per_block) as u64 + 2);
    drop(chain);

    let file = ChainFile::open(&dir.path().join("chain.dat"), NET).unwrap();
    assert_eq!(file.tip_height().unwrap(), tip);
    // Every signature verifies (the generator's chain took them on trust).
    let mut outputs = std::collections::HashMap::new();
    let mut inputs = 0;
    for h in 1..=tip {
        for tx in file.block(h).unwrap().txdata {
            let txid = tx.compute_txid();
            for (i, txin) in tx.input.iter().enumerate().filter(|_| !tx.is_coinbase()) {
                let prev = outputs.remove(&txin.previous_output).expect("spends an earlier output");
                verify_input(&tx, i, &prev).unwrap_or_else(|e| panic!("block {h} tx {txid} input {i}: {e}"));
                inputs += 1;
            }
            outputs.extend(tx.output.iter().enumerate().map(|(v, o)| (OutPoint::new(txid, v as u32), o.clone())));
        }
    }
    assert!(inputs >= 3 * n, "{inputs} inputs");
    let mut fresh = Indexer::new(Store::open(&dir.path().join("fresh.sqlite")).unwrap(), params, NET, 1);
    fresh.catch_up(&file).unwrap();
    let store = fresh.store();
    assert_eq!(store.op_totals().unwrap(), (3 + 3 * n as u64, 0));
    assert_eq!(store.name_count().unwrap(), n as u64);
    let mut owners = HashSet::new();
    for i in 0..n {
        let fqn = format!("n{i}.bench");
        let rec = store.name(&fqn).unwrap().unwrap_or_else(|| panic!("{fqn} registered"));
        assert_eq!(rec.value_hash, Some(ValueHash::of_zonefile(bench_zonefile(&fqn).as_bytes())), "{fqn}");
        assert_eq!(rec.op, "+", "{fqn}: the update is its last op");
        assert!(owners.insert(rec.address.clone()), "{fqn}: owner {} owns another name", rec.address);
    }
}
