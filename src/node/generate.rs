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

mod pipeline;
#[cfg(test)]
mod tests;

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

/// Preorders, reveals and readies namespace `ns` (funded and revealed by
/// `w`); returns the consensus hash of the block holding the ready op.
fn launch_namespace(chain: &DevChain, idx: &mut Indexer, w: &Wallet, ns: &str) -> anyhow::Result<ConsensusHash> {
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
    mine(chain, idx, w, vec![ops::namespace_ready(&f, magic, ns)?])
}

/// Reveals namespace `ns` and registers `n{i}.ns` for i in 0..n, each owned
/// by a fresh key, funded by `w` (which needs mature coins: mine 101 blocks
/// to it first, and a token allocation covering the namespace's STX price).
/// `idx` must follow `chain` with 1 confirmation.
pub fn register_names(chain: &DevChain, idx: &mut Indexer, w: &Wallet, ns: &str, n: usize) -> anyhow::Result<()> {
    let magic = idx.params().magic;
    let net: Network = chain.network();
    let mut ch = launch_namespace(chain, idx, w, ns)?;
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

/// The zone file synthetic name `fqn` points at (its hash goes on chain):
/// one A and one TXT record at the apex ([`bench_records`]).
pub fn bench_zonefile(fqn: &str) -> String {
    let (a, txt) = bench_records(fqn);
    format!("$ORIGIN {fqn}\n$TTL 3600\n@ IN A {a}\n@ IN TXT \"{txt}\"\n")
}

/// The A address and TXT string of synthetic name `fqn`'s zone file, so a
/// benchmark can serve the same data from another server.
pub fn bench_records(fqn: &str) -> (std::net::Ipv4Addr, String) {
    let label = fqn.split('.').next().unwrap_or_default();
    let i: u32 = label.strip_prefix('n').and_then(|d| d.parse().ok()).unwrap_or(0);
    let [_, b, c, d] = i.to_be_bytes();
    (std::net::Ipv4Addr::new(10, b, c, d), format!("bns-bench {fqn}"))
}

/// Like [`register_names`], but every name also gets an UPDATE (sent by its
/// owner, spending the owner output of its registration) pointing it at the
/// hash of [`bench_zonefile`]: 3 ops per name. Pipelined: block `k` holds the
/// updates of chunk `k-2`, the registrations of chunk `k-1` and the
/// preorders of chunk `k` (`per_block` names per chunk), so about `n /
/// per_block + 2` blocks carry `3 * per_block` BNS transactions each.
/// Signing, mining and indexing run on their own threads (see `pipeline`).
/// `w` funds everything else from the coins it can spend when the names
/// start (split between the signing lanes; mine 101 blocks to it first);
/// `idx` must follow `chain` with 1 confirmation, and has indexed all of it
/// on return.
pub fn register_and_update_names(
    chain: &DevChain,
    idx: &mut Indexer,
    w: &Wallet,
    ns: &str,
    n: usize,
    per_block: usize,
) -> anyhow::Result<()> {
    register_and_update_names_with_progress(chain, idx, w, ns, n, per_block, &mut |_| {})
}

/// [`register_and_update_names`], calling `progress(k)` after each block
/// with the number of names whose update (the last of their 3 ops) is indexed.
pub fn register_and_update_names_with_progress(
    chain: &DevChain,
    idx: &mut Indexer,
    w: &Wallet,
    ns: &str,
    n: usize,
    per_block: usize,
    progress: &mut dyn FnMut(usize),
) -> anyhow::Result<()> {
    let ch = launch_namespace(chain, idx, w, ns)?;
    pipeline::run(chain, idx, w, ns, n, per_block, ch, progress)
}
