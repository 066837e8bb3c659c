//! The driver: follows a [`BlockSource`], decodes each block's BNS ops, runs
//! the rules and commits each block through the store; rolls back to the fork
//! point when the source's chain no longer matches what was processed.
//!
//! Invariant: the store holds exactly the blocks `first_block ..= last` of
//! one chain, each with the hash the source gave when it was processed.

use std::collections::HashMap;
use std::time::Instant;

use bitcoin::{Block, Network, OutPoint, Transaction, TxOut, Txid};
use tracing::{debug, info, warn};

use crate::bns::block::{process_block, BlockOutcome};
use crate::bns::rules::Ctx;
use crate::bns::ChainParams;
use crate::chain::{BlockSource, ChainError};
use crate::store::{Store, StoreError};
use crate::virtualchain::scan::{candidate_payload, decode_tx, OpTx};

/// Indexer errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexerError {
    /// The block source failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The rules could not read or write state.
    #[error("block {height}: {message}")]
    Rules {
        /// Block height.
        height: u64,
        /// What failed.
        message: String,
    },
    /// The chain forked below the first processed block.
    #[error("reorg deeper than the first processed block {0}; delete the data dir and resync")]
    ReorgTooDeep(u64),
    /// Block 0 (the genesis block, processed with `first_block` 0) changed:
    /// the source follows another chain.
    #[error("the source's genesis block is {now}, the index's is {indexed}: it is another chain; point the node at the right one, or delete the data dir")]
    OtherGenesis {
        /// Genesis block hash in the index.
        indexed: String,
        /// Genesis block hash the source gives.
        now: String,
    },
}

/// What one sync step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepReport {
    /// Blocks committed.
    pub blocks: u64,
    /// Blocks undone by a reorg.
    pub undone: u64,
    /// Highest processed block afterwards.
    pub height: Option<u64>,
    /// Source tip seen.
    pub tip: u64,
}

/// Follows a block source into the store.
pub struct Indexer {
    store: Store,
    params: ChainParams,
    network: Network,
    confirmations: u64,
    recent: RecentTxs,
    /// What the rules made of the last block connected.
    last_outcome: Option<BlockOutcome>,
}

/// Blocks whose transactions [`RecentTxs`] keeps: the one being processed
/// and the ones just before it.
const RECENT_BLOCKS: usize = 3;

/// Transactions of the last few processed blocks, by txid, so prevouts that
/// spend recent outputs (change chains within a block, an owner output
/// spent in the next block) need no round trip to the block source. A txid
/// fixes a transaction's outputs, so an entry can never be wrong, even
/// across a reorg.
#[derive(Default)]
struct RecentTxs {
    blocks: std::collections::VecDeque<(Block, HashMap<Txid, usize>)>,
}

impl RecentTxs {
    fn push(&mut self, block: Block, txids: HashMap<Txid, usize>) {
        if self.blocks.len() == RECENT_BLOCKS {
            self.blocks.pop_front();
        }
        self.blocks.push_back((block, txids));
    }

    fn get(&self, outpoint: &OutPoint) -> Option<&TxOut> {
        self.blocks.iter().rev().find_map(|(block, txids)| {
            txids.get(&outpoint.txid).and_then(|i| block.txdata[*i].output.get(outpoint.vout as usize))
        })
    }
}

impl Indexer {
    /// An indexer writing to `store`. `confirmations` >= 1: a block is
    /// processed once it has that many confirmations (1 = the tip itself).
    pub fn new(store: Store, params: ChainParams, network: Network, confirmations: u64) -> Self {
        Self {
            store,
            params,
            network,
            confirmations: confirmations.max(1),
            recent: RecentTxs::default(),
            last_outcome: None,
        }
    }

    /// The store, for reads between steps.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The store, for writes between steps (an operator's rollback; tests).
    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    /// What the rules made of the last block this indexer connected (each
    /// op's verdict and consensus serialization), if any.
    pub fn last_block_outcome(&self) -> Option<&BlockOutcome> {
        self.last_outcome.as_ref()
    }

    /// Chain parameters in use.
    pub fn params(&self) -> &ChainParams {
        &self.params
    }

    /// Processes up to `max_blocks` blocks, handling a reorg first if the
    /// source's chain moved away from the stored one.
    pub fn step(&mut self, source: &dyn BlockSource, max_blocks: u64) -> Result<StepReport, IndexerError> {
        let tip = source.tip_height()?;
        let mut report = StepReport { tip, ..Default::default() };
        report.undone = self.unwind_reorg(source)?;
        let target = match tip.checked_sub(self.confirmations - 1) {
            Some(t) => t,
            None => {
                report.height = self.store.last_block()?.map(|b| b.height);
                return Ok(report);
            }
        };
        let next = self.store.last_block()?.map(|b| b.height + 1).unwrap_or(self.params.first_block);
        let end = target.min(next.saturating_add(max_blocks.saturating_sub(1)));
        if next <= end && max_blocks > 0 {
            let (blocks, forked) = self.connect_range(source, next, end)?;
            report.blocks += blocks;
            if forked {
                // The source reorganised between our calls; unwind and retry later.
                report.undone += self.unwind_reorg(source)?;
            }
        }
        report.height = self.store.last_block()?.map(|b| b.height);
        Ok(report)
    }

    /// Connects blocks `from..=to`: a second thread fetches and decodes
    /// them (up to 4 ahead) while this one runs the rules and commits.
    /// Returns the blocks committed and whether the source's chain stopped
    /// extending the stored one (a reorg to unwind).
    fn connect_range(&mut self, source: &dyn BlockSource, from: u64, to: u64) -> Result<(u64, bool), IndexerError> {
        let mut recent = std::mem::take(&mut self.recent);
        let Indexer { store, params, network, last_outcome, .. } = self;
        let (params, network) = (&*params, *network);
        let (result, recent) = std::thread::scope(|s| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Decoded, IndexerError>>(4);
            let decoder = s.spawn(move || {
                for h in from..=to {
                    let decoded = source
                        .block(h)
                        .map_err(IndexerError::from)
                        .map(|block| decode_block(source, &mut recent, params, network, h, block));
                    let failed = !matches!(decoded, Ok(Ok(_)));
                    let msg = decoded.and_then(|d| d.map_err(IndexerError::from));
                    if tx.send(msg).is_err() || failed {
                        break;
                    }
                }
                recent
            });
            let mut result = Ok((0u64, false));
            while let Ok(msg) = rx.recv() {
                let step = msg.and_then(|d| {
                    if d.height > params.first_block {
                        let stored = store.block_at(d.height - 1)?.map(|b| b.block_hash);
                        if stored != Some(d.prev_hash) {
                            return Ok(false);
                        }
                    }
                    *last_outcome = Some(commit_block(store, params, network, d)?);
                    Ok(true)
                });
                match (step, &mut result) {
                    (Ok(true), Ok((n, _))) => *n += 1,
                    (Ok(false), Ok((_, forked))) => {
                        *forked = true;
                        break;
                    }
                    (Err(e), r) => {
                        *r = Err(e);
                        break;
                    }
                    (_, Err(_)) => break,
                }
            }
            drop(rx);
            (result, decoder.join())
        });
        // A panicked decoder loses its cache of recent transactions only.
        self.recent = recent.unwrap_or_default();
        result
    }

    /// Runs until the store is at the source's confirmed tip, showing progress.
    pub fn catch_up(&mut self, source: &dyn BlockSource) -> Result<StepReport, IndexerError> {
        self.catch_up_with(source, &mut |_, _| {})
    }

    /// [`Indexer::catch_up`], calling `after_step` with the store and each
    /// step's report (at most 500 blocks apart) so callers can publish
    /// progress during a long sync.
    pub fn catch_up_with(
        &mut self,
        source: &dyn BlockSource,
        after_step: &mut dyn FnMut(&Store, &StepReport),
    ) -> Result<StepReport, IndexerError> {
        let start = Instant::now();
        let mut total = StepReport::default();
        let mut progress = crate::indexer::progress::Progress::new();
        loop {
            let r = self.step(source, 500)?;
            after_step(&self.store, &r);
            total.blocks += r.blocks;
            total.undone += r.undone;
            total.height = r.height;
            total.tip = r.tip;
            progress.update(r.height.unwrap_or(0), r.tip, total.blocks, start.elapsed());
            if r.blocks == 0 {
                break;
            }
        }
        progress.finish();
        let secs = start.elapsed().as_secs_f64();
        if total.blocks >= 100 {
            info!(
                blocks = total.blocks,
                secs = format!("{secs:.2}"),
                blocks_per_sec = format!("{:.0}", total.blocks as f64 / secs.max(1e-6)),
                height = total.height,
                "caught up"
            );
        }
        Ok(total)
    }

    /// If the stored tip is no longer on the source's chain, rolls back to
    /// the highest stored block that is, and returns how many were undone.
    fn unwind_reorg(&mut self, source: &dyn BlockSource) -> Result<u64, IndexerError> {
        let Some(last) = self.store.last_block()? else { return Ok(0) };
        let tip = source.tip_height()?;
        let mut h = last.height;
        loop {
            let stored = self.store.block_at(h)?.map(|b| b.block_hash);
            let on_chain = if h <= tip { Some(source.block_hash(h)?) } else { None };
            if stored.is_some() && stored == on_chain {
                break;
            }
            if h <= self.params.first_block {
                if let (0, Some(stored)) = (self.params.first_block, stored) {
                    // `first_block` 0 (h is 0): a genesis block never reorganises.
                    let now = on_chain.map(|c| c.to_string()).unwrap_or_else(|| "missing".into());
                    return Err(IndexerError::OtherGenesis { indexed: stored.to_string(), now });
                }
                if h == self.params.first_block && stored.is_some() {
                    // Even the first block changed: start over from scratch
                    // (`first_block` >= 1 here).
                    let undone = self.store.rollback_to(self.params.first_block - 1)?;
                    warn!(undone, "reorg replaced the first processed block; replaying from it");
                    return Ok(undone);
                }
                return Err(IndexerError::ReorgTooDeep(self.params.first_block));
            }
            h -= 1;
        }
        if h == last.height {
            return Ok(0);
        }
        let undone = self.store.rollback_to(h)?;
        self.recent = RecentTxs::default();
        warn!(fork_point = h, undone, "chain reorganised; rolled back to the fork point");
        Ok(undone)
    }
}

/// A block's BNS transactions, decoded (off the committing thread).
struct Decoded {
    height: u64,
    block_hash: bitcoin::BlockHash,
    prev_hash: bitcoin::BlockHash,
    ops: Vec<OpTx>,
    /// Malformed BNS transactions: (vtxindex, txid, why).
    bad: Vec<(u32, String, String)>,
}

/// Decodes the BNS transactions of `block`, reading prevouts from the
/// recent blocks or the source; the block joins `recent`.
fn decode_block(
    source: &dyn BlockSource,
    recent: &mut RecentTxs,
    params: &ChainParams,
    network: Network,
    height: u64,
    block: Block,
) -> Result<Decoded, ChainError> {
    let epoch = params.epoch_at(height).number;
    let mut ops: Vec<OpTx> = Vec::new();
    let mut bad: Vec<(u32, String, String)> = Vec::new();
    let txids: HashMap<Txid, usize> = block.txdata.iter().enumerate().map(|(i, tx)| (tx.compute_txid(), i)).collect();
    recent.push(block, txids);
    let block = &recent.blocks.back().expect("just pushed").0;
    // One round trip for every prevout the recent blocks do not have.
    let missing: Vec<OutPoint> = block
        .txdata
        .iter()
        .filter(|tx| !tx.is_coinbase() && candidate_payload(tx, params.magic).is_some())
        .flat_map(|tx| tx.input.iter().map(|i| i.previous_output))
        .filter(|o| recent.get(o).is_none())
        .collect();
    if !missing.is_empty() {
        source.prefetch_prevouts(&missing);
    }
    for (i, tx) in block.txdata.iter().enumerate() {
        if tx.is_coinbase() || candidate_payload(tx, params.magic).is_none() {
            continue;
        }
        let prevouts = prevouts(source, recent, tx)?;
        match decode_tx(tx, i as u32, &prevouts, params.magic, epoch, network) {
            Ok(op) => ops.push(op),
            Err(e) => {
                let txid = tx.compute_txid();
                debug!(height, vtxindex = i, %txid, reason = %e, "ignoring malformed BNS transaction");
                bad.push((i as u32, txid.to_string(), e.to_string()));
            }
        }
    }
    Ok(Decoded { height, block_hash: block.block_hash(), prev_hash: block.header.prev_blockhash, ops, bad })
}

/// Runs the rules over a decoded block and commits it in one SQL transaction.
fn commit_block(
    store: &mut Store,
    params: &ChainParams,
    network: Network,
    d: Decoded,
) -> Result<BlockOutcome, IndexerError> {
    let height = d.height;
    let mut writer = store.begin_block(height, d.block_hash)?;
    let ctx = Ctx { params, block: height, network };
    let outcome = process_block(&mut writer, &ctx, &d.ops).map_err(|e| IndexerError::Rules { height, message: e.0 })?;
    for op in &outcome.ops {
        match &op.result {
            Ok(_) => debug!(height, vtxindex = op.meta.vtxindex, op = %op.meta.op, txid = %op.meta.txid, "accepted"),
            Err(r) => {
                debug!(height, vtxindex = op.meta.vtxindex, op = %op.meta.op, txid = %op.meta.txid, reason = %r, "rejected")
            }
        }
    }
    writer.commit(&outcome, &d.bad)?;
    debug!(height, consensus_hash = %outcome.consensus_hash, ops = outcome.ops.len(), "block processed");
    Ok(outcome)
}

/// The outputs spent by each input of `tx`: from the recent blocks if
/// there, else from the source.
fn prevouts(source: &dyn BlockSource, recent: &RecentTxs, tx: &Transaction) -> Result<Vec<TxOut>, ChainError> {
    tx.input
        .iter()
        .map(|i| match recent.get(&i.previous_output) {
            Some(out) => Ok(out.clone()),
            None => source.prevout(&i.previous_output),
        })
        .collect()
}

pub mod progress;
#[cfg(test)]
mod tests;
