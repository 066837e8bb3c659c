//! Layer 1: where blocks come from. Knows nothing of BNS.
//!
//! A [`BlockSource`] hands out whole Bitcoin blocks by height plus the previous
//! outputs their inputs spend; the embedded [`devchain`] and bitcoind's JSON-RPC
//! both implement it, so one parsing path reads every chain.

use bitcoin::{Block, BlockHash, OutPoint, TxOut};

pub mod bitcoind;
pub mod devchain;

/// Whether retrying a failed call can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The source is down or busy; retry later.
    Transient,
    /// Retrying will not help (bad data, missing block).
    Persistent,
}

/// Error from a block source.
#[derive(Debug, thiserror::Error)]
#[error("{kind:?} chain error: {message}")]
pub struct ChainError {
    /// Whether to retry.
    pub kind: ErrorKind,
    /// What went wrong, for the log.
    pub message: String,
}

impl ChainError {
    /// A persistent error.
    pub fn persistent(message: impl Into<String>) -> Self {
        Self { kind: ErrorKind::Persistent, message: message.into() }
    }
    /// A transient error.
    pub fn transient(message: impl Into<String>) -> Self {
        Self { kind: ErrorKind::Transient, message: message.into() }
    }
}

/// A source of blocks in height order.
///
/// # Requirements
/// `block_hash(h)` and `block(h)` agree for every `h <= tip_height()`; after a
/// reorg they may return different blocks for the same height, which the
/// indexer detects by comparing hashes.
pub trait BlockSource: Send + Sync {
    /// Height of the best block.
    fn tip_height(&self) -> Result<u64, ChainError>;
    /// Hash of the block at `height` on the best chain.
    fn block_hash(&self, height: u64) -> Result<BlockHash, ChainError>;
    /// The block at `height` on the best chain.
    fn block(&self, height: u64) -> Result<Block, ChainError>;
    /// The output that `outpoint` spends (needed to learn an op's sender).
    fn prevout(&self, outpoint: &OutPoint) -> Result<TxOut, ChainError>;
    /// A hint that [`BlockSource::prevout`] will be asked for each of
    /// `outpoints` next: a remote source may fetch them in one round trip.
    /// Failures are not reported; `prevout` then fetches one by one.
    fn prefetch_prevouts(&self, outpoints: &[OutPoint]) {
        let _ = outpoints;
    }
}
