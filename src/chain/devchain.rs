//! Embedded development chain: real, consensus-encoded Bitcoin blocks mined
//! locally at regtest difficulty. It knows nothing of BNS: it validates P2PKH
//! spends like a (strict, tiny) bitcoind mempool and mines whatever it holds.
//!
//! Storage: one append-only file of length-prefixed blocks (see `store`); the
//! index (block hashes, txid -> file location, UTXO set) lives in memory and
//! is rebuilt from the file on [`DevChain::open`]. The mempool is memory-only:
//! it is lost when the process exits.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use bitcoin::block::{Header, Version as BlockVersion};
use bitcoin::blockdata::constants::genesis_block;
use bitcoin::consensus::{deserialize, serialize};
use bitcoin::hashes::Hash;
use bitcoin::script::Builder;
use bitcoin::transaction::Version;
use bitcoin::{
    absolute, Amount, Block, BlockHash, CompactTarget, Network, OutPoint, Script, ScriptBuf, Sequence, Transaction,
    TxIn, TxMerkleNode, TxOut, Txid, Witness,
};

use super::{BlockSource, ChainError};

mod error;
mod file;
mod state;
mod store;
#[cfg(test)]
mod tests;

pub use bitcoin::blockdata::constants::COINBASE_MATURITY;
pub use error::DevChainError;
pub use file::{ChainFile, FollowedChainFile};
use state::{check_tx, verify_p2pkh, Index, Mempool, Signatures};

/// Compact target of every mined block (regtest's minimum difficulty: about
/// every second nonce meets it).
pub const REGTEST_BITS: u32 = 0x207f_ffff;
/// Header version of mined blocks (BIP9 "no deployments signalled").
pub const BLOCK_VERSION: i32 = 0x2000_0000;
/// Blocks between subsidy halvings (as regtest).
pub const HALVING_INTERVAL: u64 = 150;

/// Block reward at `height`: 50 BTC halved every [`HALVING_INTERVAL`] blocks.
pub fn block_subsidy(height: u64) -> Amount {
    match height / HALVING_INTERVAL {
        h if h >= 64 => Amount::ZERO,
        h => Amount::from_sat((50 * 100_000_000) >> h),
    }
}

/// Verifies input `input` of `tx` as [`DevChain::submit`] does: it spends
/// the P2PKH output `prevout` with a `<sig> <pubkey>` scriptSig whose key
/// hashes to it and whose ECDSA signature is valid over the legacy sighash.
/// For checking a chain built with [`DevChain::submit_presigned`].
pub fn verify_input(tx: &Transaction, input: usize, prevout: &TxOut) -> Result<(), DevChainError> {
    let Some(txin) = tx.input.get(input) else {
        return Err(DevChainError::BadScriptSig { input, reason: "no such input".into() });
    };
    let cache = bitcoin::sighash::SighashCache::new(tx);
    verify_p2pkh(&cache, input, txin.previous_output, &prevout.script_pubkey, Signatures::Verify)
}

/// The dev chain. `Send + Sync`; all methods take `&self` (one internal
/// `RwLock`). Only one `DevChain` (one process) may open a file at a time.
///
/// Invariants: height 0 is `genesis_block(network)` (not stored); every stored
/// block links to the one below, meets [`REGTEST_BITS`], and was fsynced
/// before `mine` returned; the mempool is valid against the current tip.
pub struct DevChain {
    path: PathBuf,
    network: Network,
    genesis: Block,
    state: RwLock<State>,
}

struct State {
    file: File,
    /// Length of the valid part of the file (= where the next record goes).
    file_len: u64,
    index: Index,
    mempool: Mempool,
}

impl std::fmt::Debug for DevChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevChain")
            .field("path", &self.path)
            .field("network", &self.network)
            .field("height", &self.height())
            .finish()
    }
}

fn now_secs() -> u32 {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    u32::try_from(secs).unwrap_or(u32::MAX)
}

/// Coinbase scriptSig as Bitcoin Core's miner writes it: BIP34 height push
/// (`OP_1`..`OP_16` for heights 1-16, else a minimal scriptnum push) followed
/// by an 8-byte random extranonce push, so a re-mined height never repeats a
/// coinbase txid or a block hash.
fn coinbase_script_sig(height: u64) -> ScriptBuf {
    let extranonce: [u8; 8] = rand::random();
    Builder::new().push_int(height as i64).push_slice(extranonce).into_script()
}

impl DevChain {
    /// Opens (creating if absent) the block file at `path` for `network`,
    /// rebuilding the in-memory index from it. A torn last record (crash
    /// mid-append) is truncated away with a warning; any other inconsistency
    /// (a block not linking to the one below, e.g. a file of another network;
    /// bad proof of work; garbage followed by more data) is a persistent error
    /// and the file is left untouched.
    pub fn open(path: &Path, network: Network) -> Result<DevChain, ChainError> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| ChainError::transient(format!("cannot open dev chain file {}: {e}", path.display())))?;
        let genesis = genesis_block(network);
        let mut index = Index::new(&genesis);
        let file_len = store::scan(&mut file, path, true, |record, block| {
            index.check_stored(&block, record)?;
            index.apply_block(&block, record);
            Ok(())
        })?;
        tracing::info!(path = %path.display(), ?network, height = index.tip_height(), "dev chain opened");
        let state = State { file, file_len, index, mempool: Mempool::default() };
        Ok(DevChain { path: path.to_owned(), network, genesis, state: RwLock::new(state) })
    }

    // A panic can't leave `State` half-updated (all fallible I/O happens
    // before any mutation), so a poisoned lock is safe to keep using.
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }
    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The network whose genesis block is height 0 (and whose address
    /// encoding callers should use).
    pub fn network(&self) -> Network {
        self.network
    }

    /// Path of the block file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Height of the best block (0 = only genesis).
    pub fn height(&self) -> u64 {
        self.read().index.tip_height()
    }

    /// Hash of the best block.
    pub fn tip_hash(&self) -> BlockHash {
        self.read().index.tip().hash
    }

    /// Number of transactions waiting for the next block.
    pub fn mempool_len(&self) -> usize {
        self.read().mempool.txs.len()
    }

    /// Accepts `tx` into the mempool if, against the chain plus the mempool:
    /// it is not a coinbase, has inputs and outputs, is not a duplicate txid;
    /// every input spends an existing unspent output not already spent by a
    /// mempool tx (unconfirmed mempool outputs may be spent); coinbase outputs
    /// have at least [`COINBASE_MATURITY`] confirmations (i.e. they can be
    /// mined in the next block); every spent output is P2PKH and its input's
    /// scriptSig is `<sig> <pubkey>` with a valid signature over the legacy
    /// sighash (witness empty); and outputs sum to at most the inputs. No fee
    /// minimum, dust or standardness rules. Lock times are not enforced.
    pub fn submit(&self, tx: Transaction) -> Result<Txid, DevChainError> {
        self.submit_checking(tx, Signatures::Verify)
    }

    /// [`DevChain::submit`] without its costliest check, the ECDSA
    /// verification (some 35 µs an input, most of `submit`'s time): every
    /// other check still runs, including the scriptSig's `<sig> <pubkey>`
    /// shape and hash160(pubkey) against the spent script. For transactions
    /// this process has just signed in bulk with a [`Wallet`](crate::tx::Wallet)
    /// (the name generator); [`verify_input`] checks them afterwards.
    pub fn submit_presigned(&self, tx: Transaction) -> Result<Txid, DevChainError> {
        self.submit_checking(tx, Signatures::Trust)
    }

    fn submit_checking(&self, tx: Transaction, sigs: Signatures) -> Result<Txid, DevChainError> {
        let mut st = self.write();
        let fee = check_tx(&st.index, &st.mempool, &tx, sigs)?;
        let txid = st.mempool.add(tx, fee);
        tracing::debug!(%txid, fee = fee.to_sat(), "dev chain mempool accepted tx");
        Ok(txid)
    }

    /// Mines one block holding every mempool transaction in submission order
    /// (position `i` in the mempool = position `i + 1` in the block), after a
    /// coinbase paying subsidy + fees to `coinbase_script`. The header has
    /// version [`BLOCK_VERSION`], time `max(prev.time + 1, now)` and bits
    /// [`REGTEST_BITS`], with a nonce found by real search. The block is
    /// appended and fsynced before the index and mempool change; on error
    /// nothing changes. An empty mempool gives a coinbase-only block.
    pub fn mine(&self, coinbase_script: &Script) -> Result<Block, ChainError> {
        let mut st = self.write();
        let st = &mut *st;
        let height = st.index.tip_height() + 1;
        let fees = st.mempool.txs.iter().try_fold(Amount::ZERO, |sum, e| sum.checked_add(e.fee));
        let value = fees
            .and_then(|f| f.checked_add(block_subsidy(height)))
            .ok_or_else(|| ChainError::persistent("mempool fees overflow"))?;
        let coinbase = Transaction {
            version: Version::TWO,
            lock_time: absolute::LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint::null(),
                script_sig: coinbase_script_sig(height),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            }],
            output: vec![TxOut { value, script_pubkey: coinbase_script.to_owned() }],
        };
        let mut txdata = Vec::with_capacity(st.mempool.txs.len() + 1);
        txdata.push(coinbase);
        txdata.extend(st.mempool.txs.iter().map(|e| e.tx.clone()));
        let prev = st.index.tip();
        let header = Header {
            version: BlockVersion::from_consensus(BLOCK_VERSION),
            prev_blockhash: prev.hash,
            merkle_root: TxMerkleNode::all_zeros(),
            time: now_secs().max(prev.header.time.saturating_add(1)),
            bits: CompactTarget::from_consensus(REGTEST_BITS),
            nonce: 0,
        };
        let mut block = Block { header, txdata };
        block.header.merkle_root = block.compute_merkle_root().expect("block has a coinbase");
        let target = block.header.target();
        while !target.is_met_by(block.header.block_hash()) {
            if block.header.nonce == u32::MAX {
                block.header.time += 1;
                block.header.nonce = 0;
            } else {
                block.header.nonce += 1;
            }
        }
        let record = store::append(&mut st.file, &self.path, st.file_len, &serialize(&block))?;
        st.file_len = record.end();
        st.index.apply_block(&block, record);
        st.mempool = Mempool::default();
        tracing::debug!(height, hash = %block.block_hash(), txs = block.txdata.len(), "dev chain mined block");
        Ok(block)
    }

    /// Unspent outputs paying exactly `script`, as `(outpoint, output,
    /// confirmations)`: confirmed ones (confirmations = tip - height + 1,
    /// oldest first) then unconfirmed mempool outputs (0, submission order).
    /// Outputs spent by a mempool tx are excluded. Immature coinbase outputs
    /// ARE included; use [`DevChain::spendable_utxos`] to get only those
    /// `submit` would accept.
    pub fn utxos(&self, script: &Script) -> Vec<(OutPoint, TxOut, u32)> {
        self.utxos_filtered(script, false)
    }

    /// Like [`DevChain::utxos`] without immature coinbase outputs and without
    /// confirmation counts: what can be handed to `tx::build_and_sign`.
    pub fn spendable_utxos(&self, script: &Script) -> Vec<(OutPoint, TxOut)> {
        self.utxos_filtered(script, true).into_iter().map(|(o, t, _)| (o, t)).collect()
    }

    fn utxos_filtered(&self, script: &Script, mature_only: bool) -> Vec<(OutPoint, TxOut, u32)> {
        let st = self.read();
        let tip = st.index.tip_height();
        let mut confirmed: Vec<_> = st
            .index
            .utxos
            .iter()
            .filter(|(op, c)| c.txout.script_pubkey == *script && !st.mempool.spent.contains_key(op))
            .filter(|(_, c)| !(mature_only && c.coinbase && tip + 1 - c.height < u64::from(COINBASE_MATURITY)))
            .map(|(op, c)| (c.height, *op, c.txout.clone()))
            .collect();
        confirmed.sort_by_key(|(h, op, _)| (*h, *op));
        let mut out: Vec<_> = confirmed
            .into_iter()
            .map(|(h, op, txout)| (op, txout, (tip + 1 - h).min(u64::from(u32::MAX)) as u32))
            .collect();
        for entry in &st.mempool.txs {
            for (vout, txout) in entry.tx.output.iter().enumerate() {
                let op = OutPoint::new(entry.txid, vout as u32);
                if txout.script_pubkey == *script
                    && st.mempool.outputs.contains_key(&op)
                    && !st.mempool.spent.contains_key(&op)
                {
                    out.push((op, txout.clone(), 0));
                }
            }
        }
        out
    }

    /// A transaction from the mempool or the chain (read from the file), or
    /// `None` if unknown (the genesis coinbase is not indexed) or unreadable
    /// (logged).
    pub fn tx(&self, txid: &Txid) -> Option<Transaction> {
        let st = self.read();
        if let Some(entry) = st.mempool.get(txid) {
            return Some(entry.tx.clone());
        }
        let loc = *st.index.txindex.get(txid)?;
        let read = store::read_at(&st.file, &self.path, loc.offset, loc.len).and_then(|bytes| {
            deserialize::<Transaction>(&bytes)
                .map_err(|e| ChainError::persistent(format!("stored tx {txid} undecodable: {e}")))
        });
        read.map_err(|e| tracing::error!("dev chain: {e}")).ok()
    }

    /// Drops every block above `height` so another branch can be mined: the
    /// file is truncated (and fsynced) and the index rebuilt from it. The
    /// dropped blocks' transactions are DISCARDED (not returned to the
    /// mempool); current mempool transactions are re-checked in order against
    /// the new tip and those no longer valid are dropped (logged).
    /// `height == tip` is a no-op; `height > tip` is an error.
    pub fn rewind_to(&self, height: u64) -> Result<(), ChainError> {
        let mut st = self.write();
        let tip = st.index.tip_height();
        if height > tip {
            return Err(ChainError::persistent(format!("cannot rewind to height {height}: tip is {tip}")));
        }
        if height == tip {
            return Ok(());
        }
        let record = st.index.blocks[height as usize + 1].record.expect("height >= 1 is stored");
        store::truncate(&st.file, &self.path, record.offset)?;
        let mut index = Index::new(&self.genesis);
        let file_len = store::scan(&mut st.file, &self.path, true, |record, block| {
            index.check_stored(&block, record)?;
            index.apply_block(&block, record);
            Ok(())
        })?;
        let old = std::mem::take(&mut st.mempool);
        st.index = index;
        st.file_len = file_len;
        for entry in old.txs {
            match check_tx(&st.index, &st.mempool, &entry.tx, Signatures::Verify) {
                Ok(fee) => {
                    st.mempool.add(entry.tx, fee);
                }
                Err(e) => tracing::warn!(txid = %entry.txid, "rewind dropped mempool tx: {e}"),
            }
        }
        tracing::info!(from = tip, to = height, "dev chain rewound; dropped blocks' txs discarded");
        Ok(())
    }

    fn read_block(&self, st: &State, height: u64) -> Result<Block, ChainError> {
        let entry = st.index.blocks.get(height as usize).ok_or_else(|| above_tip(height, st))?;
        let Some(record) = entry.record else {
            return Ok(self.genesis.clone());
        };
        let bytes = store::read_at(&st.file, &self.path, record.body(), record.len)?;
        let block: Block = deserialize(&bytes)
            .map_err(|e| ChainError::persistent(format!("stored block {height} undecodable: {e}")))?;
        if block.block_hash() != entry.hash {
            return Err(ChainError::persistent(format!(
                "stored block {height} changed on disk: hash {} but indexed {}",
                block.block_hash(),
                entry.hash
            )));
        }
        Ok(block)
    }
}

fn above_tip(height: u64, st: &State) -> ChainError {
    ChainError::persistent(format!("no block at height {height}: dev chain tip is {}", st.index.tip_height()))
}

impl BlockSource for DevChain {
    fn tip_height(&self) -> Result<u64, ChainError> {
        Ok(self.height())
    }

    fn block_hash(&self, height: u64) -> Result<BlockHash, ChainError> {
        let st = self.read();
        let entry = st.index.blocks.get(height as usize).ok_or_else(|| above_tip(height, &st))?;
        Ok(entry.hash)
    }

    fn block(&self, height: u64) -> Result<Block, ChainError> {
        let st = self.read();
        self.read_block(&st, height)
    }

    /// Answers from the UTXO set, else from the stored spending-independent
    /// tx index (spent outputs too). Mempool outputs are not consulted.
    fn prevout(&self, outpoint: &OutPoint) -> Result<TxOut, ChainError> {
        let st = self.read();
        if let Some(coin) = st.index.utxos.get(outpoint) {
            return Ok(coin.txout.clone());
        }
        let missing = || ChainError::persistent(format!("prevout {outpoint} not found in the dev chain"));
        let loc = *st.index.txindex.get(&outpoint.txid).ok_or_else(missing)?;
        let bytes = store::read_at(&st.file, &self.path, loc.offset, loc.len)?;
        let tx: Transaction = deserialize(&bytes)
            .map_err(|e| ChainError::persistent(format!("stored tx {} undecodable: {e}", outpoint.txid)))?;
        tx.output.get(outpoint.vout as usize).cloned().ok_or_else(missing)
    }
}
