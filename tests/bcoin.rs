//! Following a real, independent Bitcoin node (bcoin regtest over JSON-RPC):
//! BNS transactions built and signed by bns, accepted by bcoin's own
//! consensus checks, mined, read back as raw blocks and indexed; reorgs made
//! with `invalidateblock` roll back to the fork point.

mod support;

use bitcoin::hashes::Hash;
use bitcoin::{Network, OutPoint, Transaction, TxOut};
use bitcoincore_rpc::RpcApi;
use bns::bns::ChainParams;
use bns::chain::bitcoind::{RpcAuth, RpcSource};
use bns::chain::BlockSource;
use bns::hash::ValueHash;
use bns::indexer::Indexer;
use bns::store::Store;
use bns::tx::ops::{self, Funding};
use bns::tx::{TxError, Wallet};
use support::bcoin::Bcoin;

const MAGIC: [u8; 2] = *b"id";
const NET: Network = Network::Regtest;

struct Node {
    bcoin: Bcoin,
    rpc: RpcSource,
    w: Wallet,
    indexer: Indexer,
    params: ChainParams,
    dir: tempfile::TempDir,
}

impl Node {
    fn start() -> Node {
        let bcoin = Bcoin::start();
        let rpc = RpcSource::new(&bcoin.url, RpcAuth::UserPass("x".into(), bcoin.key.clone().into())).unwrap();
        let w = Wallet::generate(NET);
        bcoin.mine_to(101, &w.pubkey_hash().to_byte_array());
        let dir = tempfile::tempdir().unwrap();
        let params = ChainParams::test(1, MAGIC).with_allocation(w.address().to_string(), 1_000_000_000_000_000);
        let indexer = Indexer::new(Store::open(&dir.path().join("a.sqlite")).unwrap(), params.clone(), NET, 1);
        let mut n = Node { bcoin, rpc, w, indexer, params, dir };
        n.sync();
        n
    }

    fn sync(&mut self) -> bns::indexer::StepReport {
        self.indexer.catch_up(&self.rpc).unwrap()
    }

    /// The wallet's mature coinbase outputs.
    fn coins(&self) -> Vec<(OutPoint, TxOut)> {
        support::bcoin_chain::mature_coinbases(&self.rpc, &self.w.script_pubkey())
    }

    /// Sends `txs` through bcoin, mines a block, indexes; returns the block's ops.
    fn mine(&mut self, txs: Vec<Transaction>) -> Vec<bns::store::OpRow> {
        for tx in &txs {
            self.rpc.send(tx).unwrap_or_else(|e| panic!("bcoin refused {}: {e}", tx.compute_txid()));
        }
        self.bcoin.mine_to(1, &self.w.pubkey_hash().to_byte_array());
        self.sync();
        let h = self.rpc.tip_height().unwrap();
        assert_eq!(self.indexer.store().last_block().unwrap().unwrap().height, h);
        let ops = self.indexer.store().ops_at(h).unwrap();
        assert_eq!(ops.len(), txs.len());
        assert!(ops.iter().all(|o| o.accepted), "{ops:?}");
        ops
    }

    fn ch(&self) -> bns::hash::ConsensusHash {
        self.indexer.store().last_block().unwrap().unwrap().consensus_hash
    }
}

#[test]
fn bns_ops_through_bcoin_are_indexed_and_reorgs_roll_back() {
    let mut n = Node::start();
    let me = n.w.address().to_string();
    let wallet = n.w.clone();
    let mut f = Funding { wallet: &wallet, utxos: n.coins(), fee_rate: 2 };
    assert!(!f.utxos.is_empty(), "the wallet has a mature coinbase");

    let stx = bns::bns::names::namespace_price_stacks("test");
    let ch = n.ch();
    n.mine(vec![f
        .next::<_, TxError>(ops::namespace_preorder(&f, MAGIC, "test", &me, &ch, 5_500, Some(stx), NET))
        .unwrap()]);
    let p = bns::node::generate::BENCH_PARAMS;
    n.mine(vec![f.next::<_, TxError>(ops::namespace_reveal(&f, MAGIC, "test", &p, &wallet.script_pubkey())).unwrap()]);
    n.mine(vec![f.next::<_, TxError>(ops::namespace_ready(&f, MAGIC, "test")).unwrap()]);
    let ch = n.ch();
    n.mine(vec![f.next::<_, TxError>(ops::name_preorder(&f, MAGIC, "werner.test", &me, &ch, 100, NET)).unwrap()]);
    let zf = b"$ORIGIN werner.test\n$TTL 3600\n@ IN A 192.0.2.7\n";
    let zh = ValueHash::of_zonefile(zf);
    let reg = ops::name_register(&f, MAGIC, "werner.test", Some(zh), &wallet.script_pubkey());
    let reg_height = n.mine(vec![f.next::<_, TxError>(reg).unwrap()])[0].height;
    let rec = n.indexer.store().name("werner.test").unwrap().unwrap();
    assert_eq!((rec.value_hash, rec.first_registered), (Some(zh), reg_height));
    n.indexer.store().put_zonefile(zf, "test").unwrap();

    // Updates in three successive blocks, then reorgs of depth 1 and 3.
    for i in 0..3u8 {
        let ch = n.ch();
        n.mine(vec![f
            .next::<_, TxError>(ops::name_update(&f, MAGIC, "werner.test", &ch, &ValueHash([i; 20])))
            .unwrap()]);
    }
    let client = n.bcoin.client();
    for depth in [1u64, 3] {
        let tip = n.rpc.tip_height().unwrap();
        let first_dropped = n.rpc.block_hash(tip - depth + 1).unwrap();
        let _: serde_json::Value = client.call("invalidateblock", &[first_dropped.to_string().into()]).unwrap();
        assert_eq!(n.rpc.tip_height().unwrap(), tip - depth);
        // A competing branch, one block longer, paying another key (other hashes).
        let other = Wallet::generate(NET);
        n.bcoin.mine_to(depth + 1, &other.pubkey_hash().to_byte_array());
        let r = n.sync();
        assert_eq!(r.undone, depth, "rolled back to the fork point");
        assert_eq!(r.height, Some(tip + 1));
        // Same state as a fresh sync of the new chain.
        let fresh_path = n.dir.path().join(format!("fresh{depth}.sqlite"));
        let mut fresh = Indexer::new(Store::open(&fresh_path).unwrap(), n.params.clone(), NET, 1);
        fresh.catch_up(&n.rpc).unwrap();
        for h in 1..=tip + 1 {
            assert_eq!(fresh.store().block_at(h).unwrap(), n.indexer.store().block_at(h).unwrap(), "block {h}");
        }
        assert_eq!(fresh.store().name("werner.test").unwrap(), n.indexer.store().name("werner.test").unwrap());
        // The dropped updates' transactions went back to bcoin's mempool or were
        // dropped; either way the funding coins must be re-read from the chain.
        f = Funding { wallet: &wallet, utxos: vec![], fee_rate: 2 };
    }
    // After the depth-3 reorg the last update left is the first one (value [0; 20]).
    let rec = n.indexer.store().name("werner.test").unwrap().unwrap();
    assert_eq!(rec.value_hash, Some(ValueHash([0; 20])));
    drop(f);
}
