//! In-memory index of the dev chain (rebuilt from the block file on open) and
//! its mempool, plus the mempool's acceptance checks.

use std::collections::{HashMap, HashSet};

use bitcoin::block::Header;
use bitcoin::blockdata::constants::COINBASE_MATURITY;
use bitcoin::hashes::Hash;
use bitcoin::script::Instruction;
use bitcoin::secp256k1::{Message, SECP256K1};
use bitcoin::sighash::SighashCache;
use bitcoin::{Amount, Block, BlockHash, OutPoint, Script, Transaction, TxOut, Txid};

use super::store::Record;
use super::{DevChainError, REGTEST_BITS};
use crate::chain::ChainError;

/// One block of the best chain.
#[derive(Debug, Clone)]
pub(super) struct BlockEntry {
    pub hash: BlockHash,
    pub header: Header,
    /// Where it is stored; `None` for the genesis block (never stored).
    pub record: Option<Record>,
}

/// Where a confirmed transaction's bytes are in the file.
#[derive(Debug, Clone, Copy)]
pub(super) struct TxLoc {
    pub offset: u64,
    pub len: u32,
}

/// An unspent confirmed output.
#[derive(Debug, Clone)]
pub(super) struct Coin {
    pub txout: TxOut,
    pub height: u64,
    pub coinbase: bool,
}

/// Index of the stored chain. Invariant: `blocks[h]` is the block at height
/// `h` (`blocks[0]` = genesis), each linking to the previous; `utxos` and
/// `txindex` reflect exactly `blocks[1..]` (the genesis coinbase is neither
/// indexed nor spendable, as in Bitcoin). OP_RETURN outputs never enter `utxos`.
#[derive(Debug)]
pub(super) struct Index {
    pub blocks: Vec<BlockEntry>,
    pub txindex: HashMap<Txid, TxLoc>,
    pub utxos: HashMap<OutPoint, Coin>,
}

impl Index {
    pub fn new(genesis: &Block) -> Self {
        let entry = BlockEntry { hash: genesis.block_hash(), header: genesis.header, record: None };
        Index { blocks: vec![entry], txindex: HashMap::new(), utxos: HashMap::new() }
    }

    pub fn tip_height(&self) -> u64 {
        self.blocks.len() as u64 - 1
    }

    pub fn tip(&self) -> &BlockEntry {
        self.blocks.last().expect("genesis is always present")
    }

    /// Structural checks for a stored block about to become the new tip.
    pub fn check_stored(&self, block: &Block, record: Record) -> Result<(), ChainError> {
        check_stored_block(self.tip().hash, self.tip_height() + 1, block, record)
    }

    /// Makes `block` (stored at `record`) the new tip: spends its inputs,
    /// adds its outputs and indexes its transactions.
    pub fn apply_block(&mut self, block: &Block, record: Record) {
        let height = self.tip_height() + 1;
        let tx_bytes: u64 = block.txdata.iter().map(|tx| tx.total_size() as u64).sum();
        // Transactions sit at the end of the record, after header and count.
        let mut offset = record.end() - tx_bytes;
        for tx in &block.txdata {
            let txid = tx.compute_txid();
            let coinbase = tx.is_coinbase();
            if !coinbase {
                for input in &tx.input {
                    self.utxos.remove(&input.previous_output);
                }
            }
            for (vout, out) in tx.output.iter().enumerate() {
                if !out.script_pubkey.is_op_return() {
                    let coin = Coin { txout: out.clone(), height, coinbase };
                    self.utxos.insert(OutPoint::new(txid, vout as u32), coin);
                }
            }
            let len = tx.total_size() as u32;
            self.txindex.insert(txid, TxLoc { offset, len });
            offset += u64::from(len);
        }
        let entry = BlockEntry { hash: block.block_hash(), header: block.header, record: Some(record) };
        self.blocks.push(entry);
    }
}

/// Structural checks for `block` (stored at `record`) about to become block
/// `height` on top of the block hashing to `tip`: it links to it, meets
/// [`REGTEST_BITS`], starts with a coinbase and has a correct merkle root.
pub(super) fn check_stored_block(tip: BlockHash, height: u64, block: &Block, record: Record) -> Result<(), ChainError> {
    let at = format!("block record at offset {} (height {height})", record.offset);
    let hash = block.block_hash();
    if block.header.prev_blockhash != tip {
        return Err(ChainError::persistent(format!(
            "{at} has prev hash {} but the block below is {}; the file belongs to another \
             network or chain, or is corrupt (truncate it to {} bytes to keep {} blocks)",
            block.header.prev_blockhash,
            tip,
            record.offset,
            height - 1
        )));
    }
    if block.header.bits.to_consensus() != REGTEST_BITS || !block.header.target().is_met_by(hash) {
        return Err(ChainError::persistent(format!(
            "{at}: hash {hash} does not meet target bits {:#010x}",
            block.header.bits.to_consensus()
        )));
    }
    if !block.txdata.first().is_some_and(Transaction::is_coinbase) {
        return Err(ChainError::persistent(format!("{at} does not start with a coinbase")));
    }
    if !block.check_merkle_root() {
        return Err(ChainError::persistent(format!("{at}: merkle root mismatch")));
    }
    Ok(())
}

/// A transaction waiting for the next block.
#[derive(Debug, Clone)]
pub(super) struct MempoolEntry {
    pub txid: Txid,
    pub tx: Transaction,
    pub fee: Amount,
}

/// Mempool. Invariant: `txs` is in submission order and every entry was valid
/// against the chain plus the entries before it; `spent` maps each outpoint a
/// mempool tx spends to that tx; `outputs` holds every non-OP_RETURN output the
/// mempool creates (spent or not — check `spent`).
#[derive(Debug, Default)]
pub(super) struct Mempool {
    pub txs: Vec<MempoolEntry>,
    pub by_txid: HashMap<Txid, usize>,
    pub spent: HashMap<OutPoint, Txid>,
    pub outputs: HashMap<OutPoint, TxOut>,
}

impl Mempool {
    pub fn add(&mut self, tx: Transaction, fee: Amount) -> Txid {
        let txid = tx.compute_txid();
        for input in &tx.input {
            self.spent.insert(input.previous_output, txid);
        }
        for (vout, out) in tx.output.iter().enumerate() {
            if !out.script_pubkey.is_op_return() {
                self.outputs.insert(OutPoint::new(txid, vout as u32), out.clone());
            }
        }
        self.by_txid.insert(txid, self.txs.len());
        self.txs.push(MempoolEntry { txid, tx, fee });
        txid
    }

    pub fn get(&self, txid: &Txid) -> Option<&MempoolEntry> {
        self.by_txid.get(txid).map(|i| &self.txs[*i])
    }
}

/// Whether [`check_tx`] verifies the ECDSA signatures (the costliest check)
/// or trusts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Signatures {
    Verify,
    /// Every other check still runs, including the scriptSig's shape and
    /// hash160(pubkey) against the spent script.
    Trust,
}

/// Checks `tx` against the chain `index` plus `mempool`; returns its fee.
pub(super) fn check_tx(
    index: &Index,
    mempool: &Mempool,
    tx: &Transaction,
    sigs: Signatures,
) -> Result<Amount, DevChainError> {
    if tx.is_coinbase() {
        return Err(DevChainError::Coinbase);
    }
    if tx.input.is_empty() {
        return Err(DevChainError::NoInputs);
    }
    if tx.output.is_empty() {
        return Err(DevChainError::NoOutputs);
    }
    let txid = tx.compute_txid();
    if mempool.by_txid.contains_key(&txid) || index.txindex.contains_key(&txid) {
        return Err(DevChainError::Duplicate { txid });
    }
    let tip = index.tip_height();
    let cache = SighashCache::new(tx);
    let mut seen = HashSet::new();
    let mut inputs = Amount::ZERO;
    for (input, txin) in tx.input.iter().enumerate() {
        let outpoint = txin.previous_output;
        if !seen.insert(outpoint) {
            return Err(DevChainError::DuplicateInput { input, outpoint });
        }
        if let Some(spent_by) = mempool.spent.get(&outpoint) {
            return Err(DevChainError::DoubleSpend { input, outpoint, spent_by: *spent_by });
        }
        let prev = if let Some(out) = mempool.outputs.get(&outpoint) {
            out
        } else if let Some(coin) = index.utxos.get(&outpoint) {
            if coin.coinbase {
                let confirmations = (tip + 1 - coin.height).min(u64::from(u32::MAX)) as u32;
                if confirmations < COINBASE_MATURITY {
                    return Err(DevChainError::ImmatureCoinbase {
                        input,
                        outpoint,
                        confirmations,
                        required: COINBASE_MATURITY,
                    });
                }
            }
            &coin.txout
        } else if index.txindex.contains_key(&outpoint.txid) || mempool.by_txid.contains_key(&outpoint.txid) {
            // The tx exists; the output is spent, unspendable or out of range.
            return Err(DevChainError::Spent { input, outpoint });
        } else {
            return Err(DevChainError::MissingInput { input, outpoint });
        };
        if !txin.witness.is_empty() {
            return Err(DevChainError::Witness { input });
        }
        verify_p2pkh(&cache, input, outpoint, &prev.script_pubkey, sigs)?;
        inputs = inputs.checked_add(prev.value).ok_or(DevChainError::ValueOutOfRange)?;
    }
    let mut outputs = Amount::ZERO;
    for out in &tx.output {
        outputs = outputs.checked_add(out.value).ok_or(DevChainError::ValueOutOfRange)?;
    }
    if inputs > Amount::MAX_MONEY || outputs > Amount::MAX_MONEY {
        return Err(DevChainError::ValueOutOfRange);
    }
    if outputs > inputs {
        return Err(DevChainError::OutputsExceedInputs { inputs, outputs });
    }
    Ok(inputs - outputs)
}

/// Verifies input `input` of the cached tx as a P2PKH spend of `script`:
/// scriptSig is exactly two minimal pushes `<sig> <pubkey>`, hash160(pubkey)
/// equals the script's key hash and (unless `sigs` is `Trust`: then the
/// pubkey is not even parsed) the ECDSA signature (strict DER, low S,
/// standard sighash type) is valid over the legacy sighash.
pub(super) fn verify_p2pkh(
    cache: &SighashCache<&Transaction>,
    input: usize,
    outpoint: OutPoint,
    script: &Script,
    sigs: Signatures,
) -> Result<(), DevChainError> {
    if !script.is_p2pkh() {
        return Err(DevChainError::UnsupportedScript { input, outpoint, script_hex: hex::encode(script.as_bytes()) });
    }
    let expected = &script.as_bytes()[3..23];
    let bad = |reason: &str| DevChainError::BadScriptSig { input, reason: reason.to_owned() };
    let tx: &Transaction = cache.transaction();
    let mut pushes = tx.input[input].script_sig.instructions_minimal();
    let mut next_push = |what: &str| match pushes.next() {
        Some(Ok(Instruction::PushBytes(b))) => Ok(b.as_bytes()),
        Some(Ok(Instruction::Op(op))) => Err(bad(&format!("expected {what} push, found {op}"))),
        Some(Err(e)) => Err(bad(&format!("unparsable script: {e}"))),
        None => Err(bad(&format!("missing {what} push"))),
    };
    let sig_bytes = next_push("signature")?;
    let key_bytes = next_push("public key")?;
    if pushes.next().is_some() {
        return Err(bad("more than two items"));
    }
    let got = bitcoin::hashes::hash160::Hash::hash(key_bytes);
    if got.as_byte_array()[..] != expected[..] {
        return Err(DevChainError::PubkeyMismatch {
            input,
            expected: hex::encode(expected),
            got: hex::encode(got.as_byte_array()),
        });
    }
    if sigs == Signatures::Trust {
        return Ok(());
    }
    let pubkey =
        bitcoin::PublicKey::from_slice(key_bytes).map_err(|e| bad(&format!("second push is not a public key: {e}")))?;
    let bad_sig = |reason: String| DevChainError::BadSignature { input, reason };
    let sig = bitcoin::ecdsa::Signature::from_slice(sig_bytes)
        .map_err(|e| bad_sig(format!("unparsable (need strict DER + standard sighash byte): {e}")))?;
    let sighash = cache
        .legacy_signature_hash(input, script, sig.sighash_type.to_u32())
        .map_err(|e| bad_sig(format!("cannot compute sighash: {e}")))?;
    let msg = Message::from_digest(sighash.to_byte_array());
    SECP256K1
        .verify_ecdsa(&msg, &sig.signature, &pubkey.inner)
        .map_err(|e| bad_sig(format!("does not verify against the legacy {} sighash: {e}", sig.sighash_type)))
}
