//! Pending notes: a resumable flow's unconfirmed transaction, so a rerun
//! after a crash, kill or RPC timeout waits for it (or sends the very same
//! signed transaction again) instead of paying a second time.
//!
//! Invariant: a note is on disk, durably ([`crate::fsutil::write_durable`]),
//! before its transaction is handed to the node; it holds the txid and the
//! signed transaction. It is removed only once the op is settled in the
//! index, or when the node answered that it refused the transaction and does
//! not know it.

use std::path::PathBuf;

use anyhow::{anyhow, bail};
use bitcoin::consensus::encode::{deserialize_hex, serialize_hex};
use bitcoin::{Transaction, Txid};

use super::Owner;
use crate::chain::ErrorKind;
use crate::fsutil::{remove_durable, write_durable};

/// RPC error: no such transaction in the mempool or (with a tx index) the chain.
const RPC_NO_SUCH_TX: i32 = -5;
/// RPC error: the transaction is already in the chain.
const RPC_ALREADY_IN_CHAIN: i32 = -27;

/// Whether the node answered that it has no such transaction: Core's -5;
/// bcoin's -1 "Transaction not found.".
fn no_such_tx(e: &bitcoincore_rpc::Error) -> bool {
    match e {
        bitcoincore_rpc::Error::JsonRpc(bitcoincore_rpc::jsonrpc::Error::Rpc(r)) => {
            r.code == RPC_NO_SUCH_TX
                || (r.code == -1 && r.message.to_ascii_lowercase().contains("transaction not found"))
        }
        _ => false,
    }
}

fn rpc_code(e: &bitcoincore_rpc::Error) -> Option<i32> {
    match e {
        bitcoincore_rpc::Error::JsonRpc(bitcoincore_rpc::jsonrpc::Error::Rpc(r)) => Some(r.code),
        _ => None,
    }
}

/// The note's text: the txid, then the signed transaction in hex.
fn note_text(tx: &Transaction) -> String {
    format!("{}\n{}\n", tx.compute_txid(), serialize_hex(tx))
}

/// A note's txid and, if it has one that hashes to it, its transaction
/// (notes of older versions hold the txid only). `None` if unreadable.
fn parse_note(text: &str) -> Option<(Txid, Option<Transaction>)> {
    let mut lines = text.lines();
    let txid: Txid = lines.next()?.trim().parse().ok()?;
    let tx =
        lines.next().and_then(|h| deserialize_hex::<Transaction>(h.trim()).ok()).filter(|tx| tx.compute_txid() == txid);
    Some((txid, tx))
}

impl Owner {
    /// A note per (owner address, op, name): another key never picks it up.
    fn pending_path(&self, op: &str, key: &str) -> PathBuf {
        self.data_dir.join("pending").join(format!("{}-{op}-{key}.txid", self.me()))
    }

    /// Whether the node knows `txid` (mempool or chain); an error when it
    /// cannot say.
    fn node_knows(&self, txid: &Txid) -> anyhow::Result<bool> {
        match self.rpc.call::<serde_json::Value>("getrawtransaction", &[txid.to_string().into()]) {
            Ok(_) => Ok(true),
            Err(e) if no_such_tx(&e) => Ok(false),
            Err(e) => Err(anyhow!(e)),
        }
    }

    /// The txid noted for (`op`, `key`), if the node knows it (mempool or
    /// chain) or, not knowing it, accepts the noted transaction again. Any
    /// failure to tell is an error, so a flaky connection never makes a
    /// rerun pay twice; so is a noted transaction the node now refuses.
    pub(super) fn pending(&self, op: &str, key: &str) -> anyhow::Result<Option<Txid>> {
        let path = self.pending_path(op, key);
        let Ok(text) = std::fs::read_to_string(&path) else { return Ok(None) };
        let Some((txid, tx)) = parse_note(&text) else {
            eprintln!("note: ignoring the unreadable pending note {}", path.display());
            self.clear_pending(op, key);
            return Ok(None);
        };
        let known = self.node_knows(&txid).map_err(|e| {
            anyhow!(
                "cannot ask the node about the transaction noted in {} ({e}); check the node and rerun",
                path.display()
            )
        })?;
        if known {
            return Ok(Some(txid));
        }
        let Some(tx) = tx else {
            // A txid-only note the node does not know: nothing to resend.
            self.clear_pending(op, key);
            return Ok(None);
        };
        match self.rpc.call::<serde_json::Value>("sendrawtransaction", &[serialize_hex(&tx).into()]) {
            Ok(_) => {
                println!("the node did not know {txid} (noted in {}): sent the same transaction again", path.display());
                Ok(Some(txid))
            }
            Err(e) if rpc_code(&e) == Some(RPC_ALREADY_IN_CHAIN) => Ok(Some(txid)),
            Err(e) => bail!(
                "the transaction noted in {} ({txid}) is unknown to the node, which refuses it again ({e}): its coins \
                 were probably spent by another transaction. If it was never mined, delete the note and rerun",
                path.display()
            ),
        }
    }

    /// Notes `tx` (signed, not yet sent) as the unconfirmed (`op`, `key`),
    /// durably, then sends it: a crash at any point after the note leaves a
    /// rerun that finds it. Prints it instead on a dry run. Returns the txid
    /// if sent.
    pub(super) fn emit_noted(&self, op: &str, key: &str, what: &str, tx: &Transaction) -> anyhow::Result<Option<Txid>> {
        if self.dry_run {
            return self.emit(what, tx);
        }
        let path = self.pending_path(op, key);
        let dir = path.parent().unwrap_or(&self.data_dir);
        std::fs::create_dir_all(dir)
            .and_then(|_| write_durable(&path, note_text(tx).as_bytes(), None))
            .map_err(|e| anyhow!("cannot note {what} in {} before sending it: {e}; nothing sent", path.display()))?;
        let txid = tx.compute_txid();
        if let Err(e) = self.rpc.send(tx) {
            // The reply may be what was lost (a timeout): ask before deciding.
            match self.node_knows(&txid) {
                Ok(true) => {}
                Ok(false) if e.kind == ErrorKind::Persistent => {
                    self.clear_pending(op, key);
                    bail!(
                        "the node refused {what}: {e}\n(if an earlier transaction of this key is still unconfirmed, \
                         wait for it to be mined and run the command again)"
                    );
                }
                _ => bail!(
                    "sending {what} ({txid}) failed: {e}\nit may have reached the node: rerun the same command, which \
                     checks (and sends the same transaction again) instead of paying twice"
                ),
            }
        }
        println!("sent {what}: txid {txid}");
        Ok(Some(txid))
    }

    /// Removes the note of (`op`, `key`).
    pub(super) fn clear_pending(&self, op: &str, key: &str) {
        let path = self.pending_path(op, key);
        if let Err(e) = remove_durable(&path) {
            eprintln!("note: cannot remove the pending note {}: {e}", path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_hold_the_txid_and_the_signed_transaction() {
        let tx = bitcoin::blockdata::constants::genesis_block(bitcoin::Network::Regtest).txdata[0].clone();
        let (txid, back) = parse_note(&note_text(&tx)).unwrap();
        assert_eq!((txid, back.as_ref()), (tx.compute_txid(), Some(&tx)));
        // An older note (txid only), a transaction that is not the txid's, garbage.
        assert_eq!(parse_note(&format!("{txid}\n")), Some((txid, None)));
        let other = format!("{}\n{}\n", "00".repeat(32), serialize_hex(&tx));
        assert!(parse_note(&other).unwrap().1.is_none());
        assert!(parse_note("not a txid").is_none());
    }
}
