//! The pipelined name generator behind
//! [`register_and_update_names_with_progress`](super::register_and_update_names_with_progress):
//! three stages on their own threads, joined by channels.
//!
//! - **sign** (the calling thread, plus one helper per extra lane): builds and
//!   signs block `k`'s transactions: the updates of chunk `k-2`, the
//!   registrations of chunk `k-1` and the preorders of chunk `k`. Each of
//!   [`LANES`] lanes handles its share of every chunk with its own coins, so
//!   the lanes' funding chains (each tx spends the previous one's change) are
//!   independent and sign in parallel.
//! - **mine**: submits block `k`'s transactions to the dev chain (which checks
//!   them like a mempool, except for the signatures it trusts:
//!   [`DevChain::submit_presigned`]) and mines them.
//! - **index**: runs the real [`Indexer`] over each mined block (handed over
//!   in memory, see [`Fed`]) and reports each block's consensus hash back to
//!   the signer.
//!
//! Invariant: the consensus hash block `k` carries is that of an indexed block
//! `>= k - MAX_INDEX_LAG`, inside the `CONSENSUS_HASH_WINDOW` (24) blocks BNS
//! accepts; the signer waits for the indexer when it falls further behind.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender};
use std::sync::Mutex;

use anyhow::Context as _;
use bitcoin::{Block, BlockHash, Network, OutPoint, ScriptBuf, Transaction, TxOut};

use crate::chain::devchain::DevChain;
use crate::chain::{BlockSource, ChainError};
use crate::hash::{ConsensusHash, ValueHash};
use crate::indexer::Indexer;
use crate::tx::ops::{self, Funding};
use crate::tx::{TxError, Wallet};

use super::bench_zonefile;

/// Independent funding chains (signing threads) per block.
pub const LANES: usize = 2;

/// Most blocks the newest indexed block may trail the block being signed
/// (a consensus hash stays valid for 24 blocks; this leaves a margin).
const MAX_INDEX_LAG: u64 = 12;

/// Blocks signed ahead of the miner (a bound on memory, not on speed).
const SIGNED_AHEAD: usize = 2;

/// What every lane needs to build its transactions.
struct Job<'a> {
    magic: [u8; 2],
    ns: &'a str,
    network: Network,
}

/// One lane's share of a chunk on its way through preorder -> register -> update.
struct Part {
    ids: Range<usize>,
    owners: Vec<Wallet>,
    /// The registrations, once built (their output 1 funds the updates).
    registers: Vec<Transaction>,
}

/// One funding chain and the parts it has in flight.
struct Lane<'a> {
    funding: Funding<'a>,
    /// The owner of the lane's next name: owners are consecutive keys from a
    /// random one ([`Wallet::successor`]: cheap), one per name.
    next_owner: Wallet,
    preordered: Option<Part>,
    registered: Option<Part>,
}

impl Lane<'_> {
    fn busy(&self) -> bool {
        self.preordered.is_some() || self.registered.is_some()
    }

    /// This lane's transactions of one block, in an order the chain accepts
    /// (each spend after the tx it spends): updates of the registered part,
    /// registrations of the preordered part, preorders of `new` (may be empty).
    fn sign_block(
        &mut self,
        job: &Job<'_>,
        new: Range<usize>,
        ch: &ConsensusHash,
    ) -> Result<Vec<Transaction>, TxError> {
        let f = &mut self.funding;
        let mut txs = Vec::with_capacity(3 * new.len().max(1));
        if let Some(p) = self.registered.take() {
            for ((i, owner), reg) in p.ids.clone().zip(&p.owners).zip(&p.registers) {
                let fqn = format!("n{i}.{}", job.ns);
                let value_hash = ValueHash::of_zonefile(bench_zonefile(&fqn).as_bytes());
                let coin = (OutPoint::new(reg.compute_txid(), 1), reg.output[1].clone());
                txs.push(ops::name_update_from_coin(owner, coin, job.magic, &fqn, ch, &value_hash)?);
            }
        }
        if let Some(mut p) = self.preordered.take() {
            for (i, owner) in p.ids.clone().zip(&p.owners) {
                let fqn = format!("n{i}.{}", job.ns);
                let tx = f.next::<_, TxError>(ops::name_register(f, job.magic, &fqn, None, &owner.script_pubkey()))?;
                p.registers.push(tx);
            }
            txs.extend(p.registers.iter().cloned());
            self.registered = Some(p);
        }
        if !new.is_empty() {
            let mut owners = Vec::with_capacity(new.len());
            for _ in new.clone() {
                let owner = self.next_owner.successor().ok_or_else(|| signer_failed("owner keys ran out"))?;
                owners.push(std::mem::replace(&mut self.next_owner, owner));
            }
            for (i, owner) in new.clone().zip(&owners) {
                let (fqn, addr) = (format!("n{i}.{}", job.ns), owner.address().to_string());
                txs.push(f.next::<_, TxError>(ops::name_preorder(f, job.magic, &fqn, &addr, ch, 100, job.network))?);
            }
            self.preordered = Some(Part { ids: new, owners, registers: Vec::new() });
        }
        Ok(txs)
    }
}

/// Splits `ids` into `parts` consecutive ranges differing in length by at most one.
fn split(ids: Range<usize>, parts: usize) -> Vec<Range<usize>> {
    let (len, parts) = (ids.len(), parts.max(1));
    (0..parts).map(|p| ids.start + p * len / parts..ids.start + (p + 1) * len / parts).collect()
}

/// Hands the coins in `utxos` out to [`LANES`] lanes, round robin, largest first.
fn lanes(w: &Wallet, network: Network, mut utxos: Vec<(OutPoint, TxOut)>) -> Vec<Lane<'_>> {
    utxos.sort_by(|a, b| b.1.value.cmp(&a.1.value).then(a.0.cmp(&b.0)));
    let mut coins: Vec<Vec<(OutPoint, TxOut)>> = vec![Vec::new(); LANES];
    for (i, u) in utxos.into_iter().enumerate() {
        coins[i % LANES].push(u);
    }
    coins
        .into_iter()
        .map(|utxos| Lane {
            funding: Funding { wallet: w, utxos, fee_rate: 1 },
            next_owner: Wallet::generate(network).without_low_r(),
            preordered: None,
            registered: None,
        })
        .collect()
}

/// A [`BlockSource`] over the dev chain that serves just-mined blocks from
/// memory (as the miner handed them over) and everything else from the chain.
/// Its tip is the newest block handed over, so the indexer never runs ahead
/// of what it was given.
struct Fed<'a> {
    chain: &'a DevChain,
    tip: u64,
    /// Handed-over blocks not yet asked for, by height.
    blocks: Mutex<BTreeMap<u64, Block>>,
}

impl Fed<'_> {
    fn push(&mut self, height: u64, block: Block) {
        self.tip = self.tip.max(height);
        self.blocks.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner).insert(height, block);
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Block>> {
        self.blocks.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl BlockSource for Fed<'_> {
    fn tip_height(&self) -> Result<u64, ChainError> {
        Ok(self.tip)
    }

    fn block_hash(&self, height: u64) -> Result<BlockHash, ChainError> {
        match self.pending().get(&height) {
            Some(b) => Ok(b.block_hash()),
            None => self.chain.block_hash(height),
        }
    }

    fn block(&self, height: u64) -> Result<Block, ChainError> {
        let block = self.pending().remove(&height);
        match block {
            Some(b) => Ok(b),
            None => self.chain.block(height),
        }
    }

    fn prevout(&self, outpoint: &OutPoint) -> Result<TxOut, ChainError> {
        self.chain.prevout(outpoint)
    }
}

/// The mine stage: submits and mines each block of `blocks`, handing every
/// mined block (with its height) to `mined`.
fn mine_stage(
    chain: &DevChain,
    coinbase: &ScriptBuf,
    blocks: Receiver<Vec<Transaction>>,
    mined: Sender<(u64, Block)>,
) -> anyhow::Result<()> {
    for txs in blocks {
        for tx in txs {
            // Signed just now by this process: the chain need not verify the signatures again.
            chain.submit_presigned(tx).context("dev chain refused a generated transaction")?;
        }
        let block = chain.mine(coinbase)?;
        if mined.send((chain.height(), block)).is_err() {
            anyhow::bail!("the indexer stopped");
        }
    }
    Ok(())
}

/// The index stage: indexes each handed-over block, reporting the newest
/// indexed height and its consensus hash after each step.
fn index_stage(
    chain: &DevChain,
    idx: &mut Indexer,
    mined: Receiver<(u64, Block)>,
    indexed: Sender<(u64, ConsensusHash)>,
) -> anyhow::Result<()> {
    let mut fed = Fed { chain, tip: chain.height(), blocks: Mutex::default() };
    while let Ok((height, block)) = mined.recv() {
        fed.push(height, block);
        while let Ok((height, block)) = mined.try_recv() {
            fed.push(height, block);
        }
        idx.step(&fed, u64::MAX)?;
        let last = idx.store().last_block()?.context("nothing indexed")?;
        // The signer may be done already; its hangup is not an error.
        let _ = indexed.send((last.height, last.consensus_hash));
    }
    Ok(())
}

/// Runs the three stages for names `0..n` in `per_block`-name chunks, block
/// `k` holding updates of chunk `k-2`, registrations of `k-1` and preorders
/// of `k`. `idx` has indexed the chain's tip, whose consensus hash is `ch`;
/// `w` funds it all from its spendable coins. `progress(k)` gets the number
/// of names whose update is indexed, after each block that adds some.
#[allow(clippy::too_many_arguments)]
pub(super) fn run(
    chain: &DevChain,
    idx: &mut Indexer,
    w: &Wallet,
    ns: &str,
    n: usize,
    per_block: usize,
    ch: ConsensusHash,
    progress: &mut dyn FnMut(usize),
) -> anyhow::Result<()> {
    let job = Job { magic: idx.params().magic, ns, network: chain.network() };
    let per_block = per_block.max(1);
    // Block j (0-based) of the run is mined at height first + j.
    let first = chain.height() + 1;
    let done_at = |height: u64| -> usize {
        let j = height.saturating_sub(first) as usize;
        (j.saturating_sub(1) * per_block).min(n)
    };
    // Signatures need not be low-R here: that halves the signing time.
    let w = &w.clone().without_low_r();
    let mut lanes = lanes(w, job.network, chain.spendable_utxos(&w.script_pubkey()));
    let coinbase = w.script_pubkey();
    let (block_tx, block_rx) = sync_channel::<Vec<Transaction>>(SIGNED_AHEAD);
    let (mined_tx, mined_rx) = channel();
    let (indexed_tx, indexed_rx) = channel();
    std::thread::scope(|s| {
        let miner = s.spawn(|| mine_stage(chain, &coinbase, block_rx, mined_tx));
        let indexer = s.spawn(|| index_stage(chain, idx, mined_rx, indexed_tx));
        let mut latest = (first - 1, ch);
        let mut reported = 0;
        let mut on_indexed = |latest: &mut (u64, ConsensusHash), got: (u64, ConsensusHash)| {
            *latest = got;
            let done = done_at(got.0);
            if done > reported {
                reported = done;
                progress(done);
            }
        };
        let signed = (|| -> anyhow::Result<()> {
            let mut next_id = 0;
            for height in first.. {
                if next_id >= n && !lanes.iter().any(Lane::busy) {
                    return Ok(());
                }
                while let Ok(got) = indexed_rx.try_recv() {
                    on_indexed(&mut latest, got);
                }
                while latest.0 + MAX_INDEX_LAG < height {
                    let got = indexed_rx.recv().map_err(|_| Stopped)?;
                    on_indexed(&mut latest, got);
                }
                let chunk = next_id..(next_id + per_block).min(n);
                next_id = chunk.end;
                let txs = sign_block(&mut lanes, &job, split(chunk, LANES), &latest.1)?;
                block_tx.send(txs).map_err(|_| Stopped)?;
            }
            Ok(())
        })();
        drop(block_tx);
        let mined = miner.join().unwrap_or_else(|_| Err(anyhow::anyhow!("the mining thread panicked")));
        let indexed = indexer.join().unwrap_or_else(|_| Err(anyhow::anyhow!("the indexing thread panicked")));
        while let Ok(got) = indexed_rx.try_recv() {
            on_indexed(&mut latest, got);
        }
        // The first stage to fail explains why the others stopped.
        indexed?;
        mined?;
        signed
    })
}

/// The signer's error when a later stage hung up (that stage's own error is reported instead).
#[derive(Debug, thiserror::Error)]
#[error("a later stage of the generator stopped")]
struct Stopped;

/// Signs one block: every lane's transactions for its part of the new chunk,
/// on one thread per lane, concatenated lane by lane.
fn sign_block(
    lanes: &mut [Lane<'_>],
    job: &Job<'_>,
    parts: Vec<Range<usize>>,
    ch: &ConsensusHash,
) -> anyhow::Result<Vec<Transaction>> {
    let mut results = std::thread::scope(|s| {
        let mut work = lanes.iter_mut().zip(parts);
        let (first_lane, first_part) = work.next().expect("at least one lane");
        let others: Vec<_> = work.map(|(lane, part)| s.spawn(move || lane.sign_block(job, part, ch))).collect();
        let mut results = vec![first_lane.sign_block(job, first_part, ch)];
        let panicked = || Err(signer_failed("a signing thread panicked"));
        results.extend(others.into_iter().map(|h| h.join().unwrap_or_else(|_| panicked())));
        results
    })
    .into_iter();
    let mut txs = results.next().expect("one result per lane")?;
    for r in results {
        txs.extend(r?);
    }
    Ok(txs)
}

fn signer_failed(reason: &str) -> TxError {
    TxError::Signing { input: 0, reason: reason.into() }
}
