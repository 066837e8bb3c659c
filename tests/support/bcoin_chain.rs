//! BNS history on a real bcoin regtest chain: a namespace and many names
//! registered through signed transactions bcoin accepts and mines, with an
//! in-process reference index of the same chain.

use bitcoin::hashes::Hash;
use bitcoin::{Network, OutPoint, Script, Transaction, TxOut};
use bns::bns::ChainParams;
use bns::chain::bitcoind::{RpcAuth, RpcSource};
use bns::chain::BlockSource;
use bns::hash::{ConsensusHash, ValueHash};
use bns::indexer::Indexer;
use bns::store::Store;
use bns::tx::ops::{self, Funding};
use bns::tx::{TxError, Wallet};

use super::bcoin::Bcoin;

/// The network bns encodes regtest addresses for.
pub const NET: Network = Network::Regtest;
/// Magic bytes of the test chains.
pub const MAGIC: [u8; 2] = *b"id";

/// An RPC block source for `b`.
pub fn rpc(b: &Bcoin) -> RpcSource {
    RpcSource::new(&b.url, RpcAuth::UserPass("x".into(), b.key.clone().into())).unwrap()
}

/// Mature coinbase outputs paying `script` (read from the raw blocks).
pub fn mature_coinbases(rpc: &RpcSource, script: &Script) -> Vec<(OutPoint, TxOut)> {
    let tip = rpc.tip_height().unwrap();
    (1..=tip.saturating_sub(100))
        .flat_map(|h| {
            let cb = rpc.block(h).unwrap().txdata.remove(0);
            let txid = cb.compute_txid();
            cb.output
                .into_iter()
                .enumerate()
                .filter(|(_, o)| o.script_pubkey == *script)
                .map(move |(i, o)| (OutPoint { txid, vout: i as u32 }, o))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A funded key on a bcoin chain and a reference index that follows it.
pub struct NameChain {
    /// Funds every op, reveals the namespace, sends preorders and registers.
    pub wallet: Wallet,
    /// Consensus parameters (the wallet's token account pays the namespace).
    pub params: ChainParams,
    /// Reference index, synced after every block this builder mines.
    pub reference: Indexer,
    /// Names registered, in order.
    pub names: Vec<String>,
    utxos: Vec<(OutPoint, TxOut)>,
    _dir: tempfile::TempDir,
}

impl NameChain {
    /// Mines 101 blocks to a new key and reveals namespace `ns` (cheap names).
    pub fn start(b: &Bcoin, ns: &str) -> NameChain {
        let wallet = Wallet::generate(NET);
        b.mine_to(101, &wallet.pubkey_hash().to_byte_array());
        let params = ChainParams::test(1, MAGIC).with_allocation(wallet.address().to_string(), 1_000_000_000_000_000);
        let dir = tempfile::tempdir().unwrap();
        let reference = Indexer::new(Store::open(&dir.path().join("ref.sqlite")).unwrap(), params.clone(), NET, 1);
        let utxos = mature_coinbases(&rpc(b), &wallet.script_pubkey());
        let mut c = NameChain { wallet, params, reference, names: vec![], utxos, _dir: dir };
        c.sync(b);
        let me = c.wallet.address().to_string();
        let stx = bns::bns::names::namespace_price_stacks(ns);
        let ch = c.ch();
        c.mine(b, |f| vec![f.next(ops::namespace_preorder(f, MAGIC, ns, &me, &ch, 5_500, Some(stx), NET))]);
        let p = bns::node::generate::BENCH_PARAMS;
        let script = c.wallet.script_pubkey();
        c.mine(b, |f| vec![f.next(ops::namespace_reveal(f, MAGIC, ns, &p, &script))]);
        c.mine(b, |f| vec![f.next(ops::namespace_ready(f, MAGIC, ns))]);
        c
    }

    /// The reference index's tip consensus hash.
    pub fn ch(&self) -> ConsensusHash {
        self.reference.store().last_block().unwrap().unwrap().consensus_hash
    }

    /// Syncs the reference index with bcoin.
    pub fn sync(&mut self, b: &Bcoin) {
        self.reference.catch_up(&rpc(b)).unwrap();
    }

    /// Builds transactions with `build` (which passes each through
    /// `Funding::next`, so its change funds the next),
    /// sends them, mines one block and syncs the reference. Every op must be accepted.
    pub fn mine(
        &mut self,
        b: &Bcoin,
        build: impl FnOnce(&mut Funding<'_>) -> Vec<Result<Transaction, TxError>>,
    ) -> u64 {
        let wallet = self.wallet.clone();
        let mut f = Funding { wallet: &wallet, utxos: std::mem::take(&mut self.utxos), fee_rate: 2 };
        let txs = build(&mut f);
        let mut sent = 0;
        let r = rpc(b);
        for tx in txs {
            let tx = tx.unwrap();
            r.send(&tx).unwrap_or_else(|e| panic!("bcoin refused {}: {e}", tx.compute_txid()));
            sent += 1;
        }
        self.utxos = f.utxos;
        b.mine_to(1, &self.wallet.pubkey_hash().to_byte_array());
        self.sync(b);
        let h = r.tip_height().unwrap();
        let ops = self.reference.store().ops_at(h).unwrap();
        assert_eq!(ops.len(), sent, "every op sent is in block {h}");
        assert!(ops.iter().all(|o| o.accepted), "{ops:?}");
        h
    }

    /// Registers `name` to this chain's own key (preorder, then register
    /// with `value_hash`); returns the registration's height.
    pub fn register_own(&mut self, b: &Bcoin, name: &str, value_hash: Option<ValueHash>) -> u64 {
        let (me, script, ch) = (self.wallet.address().to_string(), self.wallet.script_pubkey(), self.ch());
        self.mine(b, |f| vec![f.next(ops::name_preorder(f, MAGIC, name, &me, &ch, 100, NET))]);
        self.names.push(name.to_string());
        self.mine(b, |f| vec![f.next(ops::name_register(f, MAGIC, name, value_hash, &script))])
    }

    /// Registers `n` names `n{i}.{ns}` with zone-file hashes, `per_block`
    /// preorders in one block and their registrations in the next.
    pub fn register(&mut self, b: &Bcoin, ns: &str, n: usize, per_block: usize) {
        let start = self.names.len();
        let names: Vec<String> = (start..start + n).map(|i| format!("n{i}.{ns}")).collect();
        for chunk in names.chunks(per_block) {
            // One owner per name: an address may own at most 25 names.
            let owners: Vec<Wallet> = chunk.iter().map(|_| Wallet::generate(NET)).collect();
            let ch = self.ch();
            self.mine(b, |f| {
                chunk
                    .iter()
                    .zip(&owners)
                    .map(|(name, o)| {
                        f.next(ops::name_preorder(f, MAGIC, name, &o.address().to_string(), &ch, 100, NET))
                    })
                    .collect()
            });
            self.mine(b, |f| {
                chunk
                    .iter()
                    .zip(&owners)
                    .map(|(name, o)| {
                        let zh = ValueHash::of_zonefile(bns::node::generate::bench_zonefile(name).as_bytes());
                        f.next(ops::name_register(f, MAGIC, name, Some(zh), &o.script_pubkey()))
                    })
                    .collect()
            });
            self.names.extend(chunk.iter().cloned());
        }
    }
}

/// Asserts two indexes hold the same blocks (hash, consensus hash, ops) up to `height`.
pub fn assert_same_blocks(a: &Store, b: &Store, first: u64, height: u64) {
    for h in first..=height {
        assert_eq!(a.block_at(h).unwrap(), b.block_at(h).unwrap(), "block {h}");
        assert_eq!(a.ops_at(h).unwrap(), b.ops_at(h).unwrap(), "ops of block {h}");
    }
}
