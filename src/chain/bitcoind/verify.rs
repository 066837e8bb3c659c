//! What the node's RPC answers is checked before anything is indexed: a
//! transaction against the txid it was asked for, a block against the hash
//! it was asked for, its header's merkle root and its witness commitment.
//! A node (or a man in the middle) can then at worst withhold data, never
//! make the index hold a transaction or block that is not the one named.

use bitcoin::{Block, BlockHash, Transaction, Txid};

use crate::chain::ChainError;

/// Decodes `hex` (a `getrawtransaction` answer) and checks that its txid
/// (sha256d of its bytes without witness) is one of `asked`.
pub(super) fn transaction_in(hex: &str, asked: &[Txid]) -> Result<Transaction, ChainError> {
    let tx: Transaction = bitcoin::consensus::encode::deserialize_hex(hex)
        .map_err(|e| ChainError::persistent(format!("getrawtransaction returned a bad transaction: {e}")))?;
    let txid = tx.compute_txid();
    if !asked.contains(&txid) {
        let asked = asked.iter().map(Txid::to_string).collect::<Vec<_>>();
        let asked = if asked.len() == 1 { asked[0].clone() } else { format!("one of {} txids", asked.len()) };
        return Err(ChainError::persistent(format!(
            "getrawtransaction {asked}: the node returned transaction {txid}; nothing indexed"
        )));
    }
    Ok(tx)
}

/// Decodes `hex` (a `getblock` verbosity-0 answer) and checks it is the
/// block `hash` names: its header hashes to `hash`, its transactions to the
/// header's merkle root, its witnesses to the coinbase's commitment.
pub(super) fn block(hex: &str, hash: &BlockHash) -> Result<Block, ChainError> {
    let block: Block = bitcoin::consensus::encode::deserialize_hex(hex)
        .map_err(|e| ChainError::persistent(format!("getblock {hash} returned a bad block: {e}")))?;
    check_block(&block, hash)?;
    Ok(block)
}

/// [`block`]'s checks on a decoded block.
pub(super) fn check_block(block: &Block, hash: &BlockHash) -> Result<(), ChainError> {
    let bad = |why: String| Err(ChainError::persistent(format!("getblock {hash}: {why}; nothing indexed")));
    if block.block_hash() != *hash {
        return bad(format!("the node returned block {}", block.block_hash()));
    }
    if !block.check_merkle_root() {
        return bad("its transactions do not hash to the header's merkle root".to_string());
    }
    if !block.check_witness_commitment() {
        return bad("its witnesses do not match the coinbase's witness commitment".to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::consensus::encode::serialize_hex;

    /// Regtest's genesis block plus a second transaction, with the header's
    /// merkle root recomputed (proof of work is not checked here).
    fn two_tx_block() -> Block {
        let mut b = bitcoin::blockdata::constants::genesis_block(bitcoin::Network::Regtest);
        let mut tx = b.txdata[0].clone();
        tx.lock_time = bitcoin::absolute::LockTime::from_consensus(7);
        b.txdata.push(tx);
        b.header.merkle_root = b.compute_merkle_root().unwrap();
        b
    }

    #[test]
    fn a_transaction_must_be_the_one_asked_for() {
        let b = two_tx_block();
        let (t0, t1) = (b.txdata[0].compute_txid(), b.txdata[1].compute_txid());
        let hex = serialize_hex(&b.txdata[1]);
        assert_eq!(transaction_in(&hex, &[t1]).unwrap().compute_txid(), t1);
        assert!(transaction_in(&hex, &[t0, t1]).is_ok());
        let e = transaction_in(&hex, &[t0]).unwrap_err();
        assert!(e.message.contains(&t1.to_string()) && e.message.contains("nothing indexed"), "{e}");
        assert!(transaction_in("00", &[t0]).is_err());
    }

    #[test]
    fn a_block_must_match_its_hash_merkle_root_and_witness_commitment() {
        let b = two_tx_block();
        let hash = b.block_hash();
        assert!(block(&serialize_hex(&b), &hash).is_ok());
        // Another block than asked for.
        let e = block(&serialize_hex(&b), &BlockHash::from_raw_hash(bitcoin::hashes::Hash::all_zeros())).unwrap_err();
        assert!(e.message.contains("returned block"), "{e}");
        // A transaction swapped under the same header.
        let mut t = b.clone();
        t.txdata[1].lock_time = bitcoin::absolute::LockTime::from_consensus(8);
        let e = block(&serialize_hex(&t), &hash).unwrap_err();
        assert!(e.message.contains("merkle root"), "{e}");
        // A witness added to a transaction: the txids (and merkle root) stay,
        // but there is no commitment to it.
        let mut w = b.clone();
        w.txdata[1].input[0].witness.push([1u8; 8]);
        assert_eq!(w.block_hash(), hash);
        let e = block(&serialize_hex(&w), &hash).unwrap_err();
        assert!(e.message.contains("witness commitment"), "{e}");
    }
}
