//! A read-only [`BlockSource`] over a dev chain's block file, for replaying
//! (indexing) a chain without mining on it: no UTXO set and no mempool, and
//! a compact transaction index (a sorted `Vec` of 16-byte entries) instead of
//! a `HashMap<Txid, _>`, so holding a multi-million-transaction chain costs
//! tens of megabytes rather than hundreds.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use bitcoin::blockdata::constants::genesis_block;
use bitcoin::consensus::deserialize;
use bitcoin::hashes::Hash;
use bitcoin::{Block, BlockHash, Network, OutPoint, Transaction, TxOut, Txid};

use super::state::check_stored_block;
use super::store::{self, Record};
use crate::chain::{BlockSource, ChainError};

/// Largest transaction the packed index can locate (record limit is 4 MB).
const LEN_BITS: u32 = 24;

/// A dev chain block file opened read-only (the blocks are checked as
/// [`super::DevChain::open`] checks them; a partial last record, which the
/// writer may be appending right now, is left alone and ignored).
pub struct ChainFile {
    path: PathBuf,
    file: File,
    genesis: Block,
    /// `blocks[h]` = (hash, record); `None` for the genesis block.
    blocks: Vec<(BlockHash, Option<Record>)>,
    /// (first 8 bytes of the txid, `offset << 24 | len`), sorted.
    txs: Vec<(u64, u64)>,
}

impl std::fmt::Debug for ChainFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainFile").field("path", &self.path).field("height", &(self.blocks.len() - 1)).finish()
    }
}

fn prefix(txid: &Txid) -> u64 {
    let b = txid.as_byte_array();
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

impl ChainFile {
    /// Opens the block file at `path` (which must exist) for `network`.
    pub fn open(path: &Path, network: Network) -> Result<ChainFile, ChainError> {
        let mut file = OpenOptions::new()
            .read(true)
            .open(path)
            .map_err(|e| ChainError::transient(format!("cannot open dev chain file {}: {e}", path.display())))?;
        let genesis = genesis_block(network);
        let mut blocks = vec![(genesis.block_hash(), None)];
        let mut txs = Vec::new();
        store::scan(&mut file, path, false, |record, block| {
            let tip = blocks.last().expect("genesis").0;
            check_stored_block(tip, blocks.len() as u64, &block, record)?;
            let tx_bytes: u64 = block.txdata.iter().map(|tx| tx.total_size() as u64).sum();
            let mut offset = record.end() - tx_bytes;
            for tx in &block.txdata {
                let len = tx.total_size() as u64;
                txs.push((prefix(&tx.compute_txid()), offset << LEN_BITS | len));
                offset += len;
            }
            blocks.push((block.block_hash(), Some(record)));
            Ok(())
        })?;
        txs.sort_unstable();
        txs.shrink_to_fit();
        tracing::debug!(path = %path.display(), height = blocks.len() - 1, txs = txs.len(), "dev chain file opened read-only");
        Ok(ChainFile { path: path.to_owned(), file, genesis, blocks, txs })
    }

    fn above_tip(&self, height: u64) -> ChainError {
        ChainError::persistent(format!("no block at height {height}: chain file tip is {}", self.blocks.len() - 1))
    }

    /// The confirmed transaction `txid`, read from the file.
    pub fn tx(&self, txid: &Txid) -> Result<Option<Transaction>, ChainError> {
        let p = prefix(txid);
        let start = self.txs.partition_point(|(k, _)| *k < p);
        for (_, loc) in self.txs[start..].iter().take_while(|(k, _)| *k == p) {
            let (offset, len) = (loc >> LEN_BITS, (loc & ((1 << LEN_BITS) - 1)) as u32);
            let bytes = store::read_at(&self.file, &self.path, offset, len)?;
            let tx: Transaction = deserialize(&bytes)
                .map_err(|e| ChainError::persistent(format!("stored tx at offset {offset} undecodable: {e}")))?;
            if tx.compute_txid() == *txid {
                return Ok(Some(tx));
            }
        }
        Ok(None)
    }
}

impl BlockSource for ChainFile {
    fn tip_height(&self) -> Result<u64, ChainError> {
        Ok(self.blocks.len() as u64 - 1)
    }

    fn block_hash(&self, height: u64) -> Result<BlockHash, ChainError> {
        self.blocks.get(height as usize).map(|b| b.0).ok_or_else(|| self.above_tip(height))
    }

    fn block(&self, height: u64) -> Result<Block, ChainError> {
        let (hash, record) = *self.blocks.get(height as usize).ok_or_else(|| self.above_tip(height))?;
        let Some(record) = record else { return Ok(self.genesis.clone()) };
        let bytes = store::read_at(&self.file, &self.path, record.body(), record.len)?;
        let block: Block = deserialize(&bytes)
            .map_err(|e| ChainError::persistent(format!("stored block {height} undecodable: {e}")))?;
        if block.block_hash() != hash {
            return Err(ChainError::persistent(format!("stored block {height} changed on disk")));
        }
        Ok(block)
    }

    /// Any confirmed output, spent or not.
    fn prevout(&self, outpoint: &OutPoint) -> Result<TxOut, ChainError> {
        let missing = || ChainError::persistent(format!("prevout {outpoint} not found in the chain file"));
        let tx = self.tx(&outpoint.txid)?.ok_or_else(missing)?;
        tx.output.get(outpoint.vout as usize).cloned().ok_or_else(missing)
    }
}

/// A [`ChainFile`] that follows a file another process (`bns dev`) keeps
/// appending to: when the file's length changes, it is opened again (so new
/// blocks, and a rewound chain, are seen at the next tip query).
pub struct FollowedChainFile {
    path: PathBuf,
    network: Network,
    /// The file as last read, with its length and mtime; `None` until first used.
    inner: std::sync::RwLock<Option<((u64, u128), ChainFile)>>,
}

impl std::fmt::Debug for FollowedChainFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FollowedChainFile").field("path", &self.path).finish()
    }
}

impl FollowedChainFile {
    /// Follows the chain file at `path`. It is read (its txid index built) on
    /// first use, on the caller's thread, so a node serves before that.
    pub fn open(path: &Path, network: Network) -> Result<FollowedChainFile, ChainError> {
        file_len(path)?;
        Ok(FollowedChainFile { path: path.to_owned(), network, inner: std::sync::RwLock::new(None) })
    }

    /// Runs `f` on the file as it is now (re-read when it grew or changed).
    fn with<R>(&self, reread: bool, f: impl FnOnce(&ChainFile) -> Result<R, ChainError>) -> Result<R, ChainError> {
        let stale = {
            let g = self.inner.read().unwrap_or_else(|e| e.into_inner());
            match &*g {
                None => true,
                Some((len, _)) => reread && *len != file_len(&self.path)?,
            }
        };
        if stale {
            let len = file_len(&self.path)?;
            let fresh = ChainFile::open(&self.path, self.network)?;
            *self.inner.write().unwrap_or_else(|e| e.into_inner()) = Some((len, fresh));
        }
        let g = self.inner.read().unwrap_or_else(|e| e.into_inner());
        match &*g {
            Some((_, file)) => f(file),
            None => Err(ChainError::transient(format!("dev chain file {} is not readable", self.path.display()))),
        }
    }
}

/// The file's length and modification time in nanoseconds: either changes when it is written.
fn file_len(path: &Path) -> Result<(u64, u128), ChainError> {
    let m = std::fs::metadata(path)
        .map_err(|e| ChainError::transient(format!("cannot read dev chain file {}: {e}", path.display())))?;
    let mtime = m.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_nanos());
    Ok((m.len(), mtime.unwrap_or(0)))
}

impl BlockSource for FollowedChainFile {
    fn tip_height(&self) -> Result<u64, ChainError> {
        self.with(true, |f| f.tip_height())
    }

    fn block_hash(&self, height: u64) -> Result<BlockHash, ChainError> {
        self.with(false, |f| f.block_hash(height))
    }

    fn block(&self, height: u64) -> Result<Block, ChainError> {
        self.with(false, |f| f.block(height))
    }

    fn prevout(&self, outpoint: &OutPoint) -> Result<TxOut, ChainError> {
        self.with(false, |f| f.prevout(outpoint))
    }
}
