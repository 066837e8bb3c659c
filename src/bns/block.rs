//! One block through the rules: the collision pre-scan, then each op checked
//! and applied in transaction order, then the block's consensus hash.

use std::collections::HashMap;

use super::rules::{check, Ctx};
use super::{Accepted, Effect, OpMeta, Rejection, StateStore, ViewError};
use crate::hash::ConsensusHash;
use crate::virtualchain::consensus::{consensus_hash, ops_hash, prev_consensus_heights, serialize_op};
use crate::virtualchain::scan::{OpKind, OpTx};
use crate::virtualchain::wire::Op;

/// What became of one op.
#[derive(Debug, Clone, PartialEq)]
pub struct OpOutcome {
    /// Where the op sits.
    pub meta: OpMeta,
    /// The consensus serialization if accepted, the reason if rejected.
    pub result: Result<String, Rejection>,
}

/// The result of processing one block.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockOutcome {
    /// Every op, in transaction order.
    pub ops: Vec<OpOutcome>,
    /// Merkle root of the accepted ops' hashes.
    pub ops_hash: String,
    /// The block's consensus hash.
    pub consensus_hash: ConsensusHash,
}

/// The name or namespace a creation op would create (imports are exempt
/// from the collision rule, so they return `None`).
fn created_key(tx: &OpTx) -> Option<String> {
    match (&tx.op, tx.kind) {
        (Op::NameRegistration(r), OpKind::NameRegistration) => Some(format!("name:{}", r.name)),
        (Op::NamespaceReveal(r), _) => Some(format!("namespace:{}", r.namespace_id)),
        _ => None,
    }
}

/// Runs every op of block `ctx.block` against `store`, applying accepted
/// ops' effects as it goes, and computes the consensus hash.
///
/// # Requirements
/// `txs` are the block's decoded ops in transaction order; the consensus
/// hashes of earlier processed blocks are readable through `store`.
/// An `Err` means state could not be read or written: the caller must
/// abandon the whole block (roll back its SQL transaction).
pub fn process_block(store: &mut dyn StateStore, ctx: &Ctx<'_>, txs: &[OpTx]) -> Result<BlockOutcome, ViewError> {
    let txs: &[OpTx] = if ctx.params.ops_frozen_at(ctx.block) { &[] } else { txs };
    if ctx.block == ctx.params.first_block {
        let genesis =
            OpMeta { height: ctx.block, vtxindex: 0, txid: String::new(), op: "genesis".into(), opcode: "GENESIS" };
        for (address, balance) in &ctx.params.token_allocations {
            store.apply(&Effect::PutBalance { address: address.clone(), balance: *balance }, &genesis)?;
        }
    }

    // Pre-scan: two valid creations of the same thing in one block both fail.
    let mut creators: HashMap<String, usize> = HashMap::new();
    for tx in txs {
        if let Some(key) = created_key(tx) {
            match check(&*store, ctx, tx) {
                Ok(_) => *creators.entry(key).or_default() += 1,
                Err(Rejection::View(e)) => return Err(ViewError(e)),
                Err(_) => {}
            }
        }
    }

    // Keys that collided, plus every key created so far in this block: a later
    // creation of one of them fails even if its own check passes (Core's
    // `put_collisions` / `__check_collisions` during commit).
    let mut created: std::collections::HashSet<String> =
        creators.into_iter().filter(|(_, n)| *n > 1).map(|(k, _)| k).collect();
    let mut ops = Vec::with_capacity(txs.len());
    let mut serialized = Vec::new();
    for tx in txs {
        let meta = OpMeta {
            height: ctx.block,
            vtxindex: tx.vtxindex,
            txid: tx.txid.to_string(),
            op: tx.op_string().to_string(),
            opcode: tx.kind.name(),
        };
        let key = created_key(tx);
        let result = match &key {
            Some(k) if created.contains(k) => Err(Rejection::Collision(k.clone())),
            _ => check(&*store, ctx, tx),
        };
        if let (Ok(_), Some(k)) = (&result, key) {
            created.insert(k);
        }
        let result = match result {
            Ok(Accepted { effects, opchar, fields, history_extra }) => {
                for effect in &effects {
                    store.apply(effect, &meta)?;
                }
                // Stateless (ANNOUNCE): accepted, but no consensus record.
                let line = if fields.is_empty() { String::new() } else { serialize_op(opchar, &fields) };
                store.record_history(&effects, &meta, &history_extra, &line)?;
                if !line.is_empty() {
                    serialized.push(line.clone());
                }
                Ok(line)
            }
            Err(Rejection::View(e)) => return Err(ViewError(e)),
            Err(r) => Err(r),
        };
        ops.push(OpOutcome { meta, result });
    }

    let ops_hash = ops_hash(&serialized);
    let mut prev = Vec::new();
    for k in prev_consensus_heights(ctx.block, ctx.params.first_block) {
        match store.consensus_hash(k)? {
            Some(ch) => prev.push(ch),
            None => return Err(ViewError(format!("consensus hash of block {k} is missing"))),
        }
    }
    let consensus_hash = consensus_hash(&ops_hash, &prev).map_err(|e| ViewError(format!("consensus hash: {e}")))?;
    Ok(BlockOutcome { ops, ops_hash, consensus_hash })
}
