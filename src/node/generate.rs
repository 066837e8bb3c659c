//! Synthetic names for benchmarks and crash tests: registers `n` names in a
//! namespace through real signed preorder/register transactions, mined into
//! a dev chain and indexed as it goes (each round needs a fresh consensus hash).

use anyhow::Context as _;
use bitcoin::{Network, Transaction};

use crate::bns::names::namespace_price_stacks;
use crate::chain::devchain::DevChain;
use crate::hash::ConsensusHash;
use crate::indexer::Indexer;
use crate::tx::ops::{self, Funding, RevealParams};
use crate::tx::{TxError, Wallet};

/// Name registrations per block (preorders in one block, registers in the next).
pub const NAMES_PER_BLOCK: usize = 250;

/// A cheap namespace for synthetic names.
pub const BENCH_PARAMS: RevealParams = RevealParams {
    version: 1,
    lifetime: 52_595,
    coeff: 1,
    base: 2,
    buckets: [1; 16],
    nonalpha_discount: 10,
    no_vowel_discount: 10,
};

fn fund<'a>(chain: &DevChain, w: &'a Wallet) -> Funding<'a> {
    Funding { wallet: w, utxos: chain.spendable_utxos(&w.script_pubkey()), fee_rate: 1 }
}

fn mine(chain: &DevChain, idx: &mut Indexer, w: &Wallet, txs: Vec<Transaction>) -> anyhow::Result<ConsensusHash> {
    for tx in txs {
        chain.submit(tx).context("dev chain refused a generated transaction")?;
    }
    chain.mine(&w.script_pubkey())?;
    idx.step(chain, u64::MAX)?;
    Ok(idx.store().last_block()?.context("nothing indexed")?.consensus_hash)
}

/// Reveals namespace `ns` and registers `n{i}.ns` for i in 0..n, each owned
/// by a fresh key, funded by `w` (which needs mature coins: mine 101 blocks
/// to it first, and a token allocation covering the namespace's STX price).
/// `idx` must follow `chain` with 1 confirmation.
pub fn register_names(chain: &DevChain, idx: &mut Indexer, w: &Wallet, ns: &str, n: usize) -> anyhow::Result<()> {
    let magic = idx.params().magic;
    let net: Network = chain.network();
    let me = w.address().to_string();
    let ch = mine(chain, idx, w, vec![])?;
    let f = fund(chain, w);
    let stx = namespace_price_stacks(ns);
    mine(chain, idx, w, vec![ops::namespace_preorder(&f, magic, ns, &me, &ch, 5_500, Some(stx), net)?])?;
    let f = fund(chain, w);
    mine(chain, idx, w, vec![ops::namespace_reveal(&f, magic, ns, &BENCH_PARAMS, &w.script_pubkey())?])?;
    let f = fund(chain, w);
    let mut ch = mine(chain, idx, w, vec![ops::namespace_ready(&f, magic, ns)?])?;
    let ids: Vec<usize> = (0..n).collect();
    for chunk in ids.chunks(NAMES_PER_BLOCK) {
        let owners: Vec<Wallet> = chunk.iter().map(|_| Wallet::generate(net)).collect();
        let mut f = fund(chain, w);
        let pre = chunk
            .iter()
            .zip(&owners)
            .map(|(i, o)| {
                let addr = o.address().to_string();
                f.next::<_, TxError>(ops::name_preorder(&f, magic, &format!("n{i}.{ns}"), &addr, &ch, 100, net))
            })
            .collect::<Result<Vec<_>, _>>()?;
        mine(chain, idx, w, pre)?;
        let mut f = fund(chain, w);
        let reg = chunk
            .iter()
            .zip(&owners)
            .map(|(i, o)| {
                f.next::<_, TxError>(ops::name_register(&f, magic, &format!("n{i}.{ns}"), None, &o.script_pubkey()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        ch = mine(chain, idx, w, reg)?;
    }
    Ok(())
}
