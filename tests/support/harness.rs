//! A dev chain with two wallets and an indexer, for rule tests: `a` is funded
//! by 101 coinbases and holds a token account, `b` gets 20 BTC from `a`.

use bitcoin::{Amount, Network, Transaction};
use bns::bns::ChainParams;
use bns::chain::devchain::DevChain;
use bns::hash::ConsensusHash;
use bns::indexer::Indexer;
use bns::store::{OpRow, Store};
use bns::tx::ops::{Funding, RevealParams};
use bns::tx::{build_and_sign, OutputSpec, TxError, Wallet};

pub const MAGIC: [u8; 2] = *b"id";
pub const NET: Network = Network::Regtest;
pub const STX_ALLOCATION: u64 = 10_000_000_000;
/// STX price of a 4-character namespace id (epoch >= 4).
pub const TEST_NS_STX: u64 = 6_400_000_000;

pub struct Harness {
    _dir: tempfile::TempDir,
    pub chain: DevChain,
    pub indexer: Indexer,
    pub a: Wallet,
    pub b: Wallet,
}

impl Harness {
    pub fn new() -> Harness {
        Self::with(1, STX_ALLOCATION, &[])
    }

    /// A chain whose BNS processing starts at `first_block`; wallet `a` gets
    /// `stx` micro-STX in a token account; the `announcers` may send ANNOUNCE.
    pub fn with(first_block: u64, stx: u64, announcers: &[&str]) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let chain = DevChain::open(&dir.path().join("chain.dat"), NET).unwrap();
        let store = Store::open(&dir.path().join("bns.sqlite")).unwrap();
        let (a, b) = (Wallet::generate(NET), Wallet::generate(NET));
        let mut params = ChainParams::test(first_block, MAGIC).with_allocation(a.address().to_string(), stx);
        for n in announcers {
            params = params.with_announcer(*n);
        }
        let indexer = Indexer::new(store, params, NET, 1);
        let mut h = Harness { _dir: dir, chain, indexer, a, b };
        for _ in 0..101 {
            h.chain.mine(&h.a.script_pubkey()).unwrap();
        }
        let b = h.b.clone();
        h.fund(&b);
        h
    }

    /// Sends 20 BTC from `a` to `w`, in its own block.
    pub fn fund(&mut self, w: &Wallet) {
        let utxos = self.chain.spendable_utxos(&self.a.script_pubkey());
        let pay = OutputSpec::Pay { script: w.script_pubkey(), value: Amount::from_btc(20.0).unwrap() };
        let tx = build_and_sign(&self.a, &utxos, &[pay, OutputSpec::Change], 2).unwrap();
        self.mine(vec![tx]);
    }

    pub fn funding<'a>(&self, w: &'a Wallet) -> Funding<'a> {
        Funding { wallet: w, utxos: self.chain.spendable_utxos(&w.script_pubkey()), fee_rate: 2 }
    }

    /// Mines `txs` in order into one block, indexes it, returns its ops.
    pub fn mine(&mut self, txs: Vec<Transaction>) -> Vec<OpRow> {
        for tx in txs {
            self.chain.submit(tx).unwrap();
        }
        self.chain.mine(&self.a.script_pubkey()).unwrap();
        self.indexer.catch_up(&self.chain).unwrap();
        let h = self.chain.height();
        if let Some(b) = self.store().last_block().unwrap() {
            assert_eq!(b.height, h, "indexed up to the tip");
        }
        self.store().ops_at(h).unwrap()
    }

    /// Mines one tx and returns its op.
    pub fn mine1(&mut self, tx: Result<Transaction, TxError>) -> OpRow {
        self.mine(vec![tx.unwrap()]).remove(0)
    }

    /// Exports the index and imports it into a fresh store, trusting the
    /// tip's consensus hash: every op's serialization is rebuilt from what
    /// the store keeps and must hash to the consensus hashes the rules made.
    pub fn assert_snapshot_verifies(&mut self) {
        let file = self._dir.path().join("check.snap");
        let trusted = self.ch();
        let params = serde_json::to_string(self.indexer.params()).unwrap();
        self.store().set_meta("chain_params", &params).unwrap();
        bns::fastsync::export(self.indexer.store_mut(), &file, None).unwrap();
        let fresh_path = self._dir.path().join(format!("check-{}.sqlite", self.chain.height()));
        let mut fresh = Store::open(&fresh_path).unwrap();
        let report = bns::fastsync::import(&mut fresh, &file, &trusted).expect("the snapshot verifies");
        assert_eq!(report.blocks.1, self.chain.height());
    }

    pub fn store(&self) -> &Store {
        self.indexer.store()
    }

    pub fn ch(&self) -> ConsensusHash {
        self.store().last_block().unwrap().unwrap().consensus_hash
    }

    pub fn addr(w: &Wallet) -> String {
        w.address().to_string()
    }
}

/// Mainnet `id`'s namespace parameters.
pub fn params() -> RevealParams {
    RevealParams {
        version: 1,
        lifetime: 52_595,
        coeff: 250,
        base: 4,
        buckets: [6, 5, 4, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        nonalpha_discount: 10,
        no_vowel_discount: 10,
    }
}

pub fn assert_rejected(op: &OpRow, why: &str) {
    assert!(!op.accepted, "expected rejection ({why}), got accepted {op:?}");
    let reason = op.reason.as_deref().unwrap_or_default();
    assert!(reason.contains(why), "reason {reason:?} should mention {why:?}");
}

pub fn assert_accepted(op: &OpRow) {
    assert!(op.accepted, "expected accepted, got {op:?}");
}
