//! Reorgs of every depth 1..=20 on the dev chain: after rolling back to the
//! fork point and replaying, the store equals a fresh sync of the new chain,
//! byte for byte, including undone registrations, updates, transfers and
//! namespace reveals.

use bitcoin::{Network, Transaction};
use bns::bns::ChainParams;
use bns::chain::devchain::DevChain;
use bns::hash::{ConsensusHash, ValueHash};
use bns::indexer::Indexer;
use bns::store::Store;
use bns::tx::ops::{self, Funding, RevealParams};
use bns::tx::{TxError, Wallet};

const MAGIC: [u8; 2] = *b"id";
const NET: Network = Network::Regtest;

const PARAMS: RevealParams = bns::node::generate::BENCH_PARAMS;

struct World {
    dir: tempfile::TempDir,
    chain: DevChain,
    params: ChainParams,
    indexer: Option<Indexer>,
    w: Wallet,
    pending: Vec<(String, bitcoin::ScriptBuf)>,
    next_name: usize,
    /// Blocks the indexer has rolled back so far.
    undone: u64,
    /// A second funded wallet; `gamma.test` is transferred between `w` and `v`.
    v: Wallet,
    /// (height, owned by `w`) after each transfer of `gamma.test`.
    gamma: Vec<(u64, bool)>,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let chain = DevChain::open(&dir.path().join("chain.dat"), NET).unwrap();
        let w = Wallet::generate(NET);
        let params = ChainParams::test(1, MAGIC).with_allocation(w.address().to_string(), 1_000_000_000_000_000);
        let store = Store::open(&dir.path().join("x.sqlite")).unwrap();
        let indexer = Some(Indexer::new(store, params.clone(), NET, 1));
        for _ in 0..101 {
            chain.mine(&w.script_pubkey()).unwrap();
        }
        // Fund v with a plain payment (not a BNS op).
        let v = Wallet::generate(NET);
        let utxos = chain.spendable_utxos(&w.script_pubkey());
        let pay =
            bns::tx::OutputSpec::Pay { script: v.script_pubkey(), value: bitcoin::Amount::from_btc(10.0).unwrap() };
        chain.submit(bns::tx::build_and_sign(&w, &utxos, &[pay, bns::tx::OutputSpec::Change], 1).unwrap()).unwrap();
        chain.mine(&w.script_pubkey()).unwrap();
        let mut indexer = indexer;
        indexer.as_mut().unwrap().catch_up(&chain).unwrap();
        World { dir, chain, params, indexer, w, pending: vec![], next_name: 0, undone: 0, v, gamma: vec![] }
    }

    fn idx(&mut self) -> &mut Indexer {
        self.indexer.as_mut().unwrap()
    }

    /// Consensus hash of the chain's tip block as the indexer stored it (the
    /// indexer may still hold blocks of a branch the chain just dropped).
    fn ch(&mut self) -> ConsensusHash {
        let tip = self.chain.height();
        self.idx().store().block_at(tip).unwrap().expect("tip indexed").consensus_hash
    }

    fn funding(&self) -> Funding<'_> {
        Funding { wallet: &self.w, utxos: self.chain.spendable_utxos(&self.w.script_pubkey()), fee_rate: 1 }
    }

    /// Mines `txs` into one block, indexes it, and checks every op was accepted.
    fn mine(&mut self, txs: Vec<Transaction>) {
        let n = txs.len();
        for tx in txs {
            self.chain.submit(tx).unwrap();
        }
        self.chain.mine(&self.w.script_pubkey()).unwrap();
        let chain = &self.chain;
        let idx = self.indexer.as_mut().unwrap();
        self.undone += idx.step(chain, u64::MAX).unwrap().undone;
        let ops = idx.store().ops_at(chain.height()).unwrap();
        assert_eq!(ops.len(), n, "every transaction is a BNS op");
        assert!(ops.iter().all(|o| o.accepted), "all accepted: {ops:?}");
    }

    /// A block with a namespace preorder for `ns`, then its reveal and ready.
    fn namespace(&mut self, ns: &str) {
        let me = self.w.address().to_string();
        let stx = bns::bns::names::namespace_price_stacks(ns);
        let ch = self.ch();
        let tx = ops::namespace_preorder(&self.funding(), MAGIC, ns, &me, &ch, 5_500, Some(stx), NET).unwrap();
        self.mine(vec![tx]);
        let tx = ops::namespace_reveal(&self.funding(), MAGIC, ns, &PARAMS, &self.w.script_pubkey()).unwrap();
        self.mine(vec![tx]);
        let tx = ops::namespace_ready(&self.funding(), MAGIC, ns).unwrap();
        self.mine(vec![tx]);
    }

    /// Namespace `test` and the names busy blocks update and transfer.
    fn names_for_busy_blocks(&mut self) {
        self.namespace("test");
        let me = self.w.address().to_string();
        let ch = self.ch();
        let mut f = self.funding();
        let pre: Vec<_> = ["alpha.test", "beta.test", "gamma.test"]
            .iter()
            .map(|n| f.next::<_, TxError>(ops::name_preorder(&f, MAGIC, n, &me, &ch, 100, NET)).unwrap())
            .collect();
        self.mine(pre);
        let owner = self.w.script_pubkey();
        let mut f = self.funding();
        let reg: Vec<_> = ["alpha.test", "beta.test", "gamma.test"]
            .iter()
            .map(|n| f.next::<_, TxError>(ops::name_register(&f, MAGIC, n, None, &owner)).unwrap())
            .collect();
        self.mine(reg);
    }

    /// One busy block: registers last block's preorders, preorders 2 new
    /// names, updates a registered name, and preorders a namespace.
    fn busy_block(&mut self, tag: &str) {
        let me = self.w.address().to_string();
        let ch = self.ch();
        let owner = self.w.script_pubkey();
        let wallet = self.w.clone();
        let mut f = Funding { wallet: &wallet, utxos: self.chain.spendable_utxos(&owner), fee_rate: 1 };
        let mut txs = Vec::new();
        for (name, owner) in std::mem::take(&mut self.pending) {
            txs.push(f.next::<_, TxError>(ops::name_register(&f, MAGIC, &name, None, &owner)).unwrap());
        }
        let registered: Vec<String> = ["alpha.test", "beta.test"].into_iter().map(String::from).collect();
        let target = &registered[self.next_name % 2];
        let hash = ValueHash(bns::hash::hash160(format!("{tag}{}", self.next_name).as_bytes()));
        txs.push(f.next::<_, TxError>(ops::name_update(&f, MAGIC, target, &ch, &hash)).unwrap());
        let mut fresh = Vec::new();
        for _ in 0..2 {
            // Each name gets its own owner: one address may own only 25.
            let name = format!("{tag}{}.test", self.next_name);
            self.next_name += 1;
            let to = Wallet::generate(NET);
            let addr = to.address().to_string();
            txs.push(f.next::<_, TxError>(ops::name_preorder(&f, MAGIC, &name, &addr, &ch, 100, NET)).unwrap());
            fresh.push((name, to.script_pubkey()));
        }
        let ns = format!("{tag}{}", self.next_name);
        let stx = bns::bns::names::namespace_price_stacks(&ns);
        txs.push(
            f.next::<_, TxError>(ops::namespace_preorder(&f, MAGIC, &ns, &me, &ch, 5_500, Some(stx), NET)).unwrap(),
        );
        // gamma.test changes hands every block (keeping or clearing its data).
        let tip = self.chain.height();
        let by_w = self.gamma.iter().rev().find(|(h, _)| *h <= tip).map(|e| e.1).unwrap_or(true);
        let keep = !self.next_name.is_multiple_of(3);
        let transfer = if by_w {
            f.next::<_, TxError>(ops::name_transfer(&f, MAGIC, "gamma.test", keep, &ch, &self.v.script_pubkey()))
        } else {
            let fv =
                Funding { wallet: &self.v, utxos: self.chain.spendable_utxos(&self.v.script_pubkey()), fee_rate: 1 };
            ops::name_transfer(&fv, MAGIC, "gamma.test", keep, &ch, &self.w.script_pubkey())
        };
        txs.push(transfer.unwrap());
        self.gamma.push((tip + 1, !by_w));
        self.pending = fresh;
        self.mine(txs);
    }
}

/// Every row of every state table, in a canonical order.
fn dump(path: &std::path::Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut out = Vec::new();
    // Ids included: a rolled-back name comes back with its id, so ops and the inventory still point at it.
    for table in
        ["blocks", "ops", "preorders", "namespaces", "names", "undo", "accounts", "zonefiles", "atlas_inventory"]
    {
        let mut st = conn.prepare(&format!("SELECT * FROM {table}")).unwrap();
        let n = st.column_count();
        let rows = st
            .query_map([], |r| {
                let cols: Vec<String> = (0..n).map(|i| format!("{:?}", r.get_ref(i).unwrap())).collect();
                Ok(format!("{table}: {}", cols.join(" | ")))
            })
            .unwrap();
        let mut rows: Vec<String> = rows.map(|r| r.unwrap()).collect();
        rows.sort();
        out.extend(rows);
    }
    out
}

#[test]
fn reorgs_of_every_depth_equal_a_fresh_sync() {
    let mut w = World::new();
    w.names_for_busy_blocks();

    for depth in 1..=20u64 {
        // A namespace reveal inside the span that will be undone, on some depths.
        if depth % 4 == 0 {
            w.namespace(&format!("ns{depth}"));
        }
        for k in 0..depth {
            w.busy_block(&format!("d{depth}k{k}n"));
        }
        let tip = w.chain.height();
        let names_before = w.idx().store().name_count().unwrap();
        let fork = tip - depth;
        w.chain.rewind_to(fork).unwrap();
        w.pending.clear();
        w.gamma.retain(|(h, _)| *h <= fork);
        let undone_before = w.undone;
        // The replacement branch is one block longer, with other ops in it.
        for k in 0..=depth {
            w.busy_block(&format!("r{depth}k{k}n"));
        }
        assert_eq!(w.undone - undone_before, depth, "depth {depth}: rolled back exactly the dropped blocks");
        let report_height = w.idx().store().last_block().unwrap().unwrap().height;
        assert_eq!(report_height, w.chain.height(), "depth {depth}: indexed the new tip");

        // On one depth, restart the indexer from its database before the reorg is seen.
        if depth == 7 {
            w.indexer = None;
            let store = Store::open(&w.dir.path().join("x.sqlite")).unwrap();
            w.indexer = Some(Indexer::new(store, w.params.clone(), NET, 1));
        }

        let fresh_path = w.dir.path().join(format!("fresh{depth}.sqlite"));
        let mut fresh = Indexer::new(Store::open(&fresh_path).unwrap(), w.params.clone(), NET, 1);
        fresh.catch_up(&w.chain).unwrap();
        drop(fresh);
        let got = dump(&w.dir.path().join("x.sqlite"));
        let want = dump(&fresh_path);
        assert_eq!(got.len(), want.len(), "depth {depth}: row counts");
        for (g, f) in got.iter().zip(&want) {
            assert_eq!(g, f, "depth {depth}: state after rollback+replay differs from a fresh sync");
        }
        assert!(names_before > 0);
        std::fs::remove_file(&fresh_path).unwrap();
    }
}

#[test]
fn blocks_wait_for_confirmations_so_shallow_forks_never_touch_the_store() {
    let mut w = World::new();
    let store = Store::open(&w.dir.path().join("six.sqlite")).unwrap();
    let mut six = Indexer::new(store, w.params.clone(), NET, 6);
    w.namespace("test");
    let r = six.step(&w.chain, u64::MAX).unwrap();
    assert_eq!(r.height, Some(w.chain.height() - 5), "processes only blocks with 6 confirmations");
    // A 3-deep fork replaces blocks the 6-confirmation indexer never applied.
    let tip = w.chain.height();
    w.chain.rewind_to(tip - 3).unwrap();
    for _ in 0..4 {
        w.chain.mine(&w.w.script_pubkey()).unwrap();
    }
    let r = six.step(&w.chain, u64::MAX).unwrap();
    assert_eq!(r.undone, 0, "nothing it applied was on the dropped branch");
    assert_eq!(r.height, Some(w.chain.height() - 5));
}

#[test]
fn a_reorg_below_the_horizon_is_refused_untouched_and_a_reindex_recovers() {
    let mut w = World::new();
    // Keep undo rows for 3 blocks only.
    w.indexer = None;
    let path = w.dir.path().join("x.sqlite");
    let mut store = Store::open(&path).unwrap();
    store.set_reorg_depth(3);
    w.indexer = Some(Indexer::new(store, w.params.clone(), NET, 1));
    w.names_for_busy_blocks();
    for k in 0..8 {
        w.busy_block(&format!("h{k}n"));
    }
    let tip = w.chain.height();
    assert_eq!(w.idx().store().reorg_horizon().unwrap(), tip - 3, "undo kept for the 3 blocks below the tip");
    let undo_low: Option<i64> =
        rusqlite::Connection::open(&path).unwrap().query_row("SELECT MIN(height) FROM undo", [], |r| r.get(0)).unwrap();
    assert!(undo_low.unwrap() as u64 > tip - 3, "older undo rows were pruned: lowest {undo_low:?}, tip {tip}");

    // A 3-deep reorg is still undone.
    w.chain.rewind_to(tip - 3).unwrap();
    w.pending.clear();
    w.gamma.retain(|(h, _)| *h <= tip - 3);
    for k in 0..4 {
        w.busy_block(&format!("s{k}n"));
    }
    let tip = w.chain.height();

    // A 6-deep one is refused, with the way out, and the store is left as it was.
    let before = dump(&path);
    w.chain.rewind_to(tip - 6).unwrap();
    for _ in 0..7 {
        w.chain.mine(&w.w.script_pubkey()).unwrap();
    }
    let err = w.indexer.as_mut().unwrap().step(&w.chain, u64::MAX).unwrap_err().to_string();
    assert!(err.contains("below the reorg horizon") && err.contains("--reindex"), "{err}");
    assert!(err.contains("--reorg-depth"), "{err}");
    assert_eq!(dump(&path), before, "a refused reorg changes nothing");

    // --reindex: the chain state is dropped and replayed; the result equals a fresh sync.
    w.idx().store_mut().reindex().unwrap();
    assert_eq!(w.idx().store().last_block().unwrap(), None);
    w.indexer.as_mut().unwrap().catch_up(&w.chain).unwrap();
    let fresh_path = w.dir.path().join("fresh.sqlite");
    let mut fresh_store = Store::open(&fresh_path).unwrap();
    fresh_store.set_reorg_depth(3);
    let mut fresh = Indexer::new(fresh_store, w.params.clone(), NET, 1);
    fresh.catch_up(&w.chain).unwrap();
    drop(fresh);
    assert_eq!(dump(&path), dump(&fresh_path), "reindexed store equals a fresh sync");
}
