//! Accept or reject one op (SPEC.md §4). Each check reads state as of the op
//! (earlier ops of the block already applied) and returns the effects.
//! One file per op family: [`namespace`] and [`name`].

mod name;
mod namespace;

use super::consensus_fields as cf;
use super::epoch::{ChainParams, CONSENSUS_HASH_WINDOW, MAX_NAMES_PER_SENDER, NAME_PREORDER_EXPIRE};
use super::names::{is_valid_namespace_id, name_price, namespace_price_sats, split_fqn};
use super::{Accepted, Effect, Liveness, NameRecord, NamespaceRecord, PreorderRecord, Rejection, StateView};
use crate::hash::{ConsensusHash, NameConsensusHash};
use crate::virtualchain::preorder::{name_preorder_hash, namespace_preorder_hash};
use crate::virtualchain::scan::{burn_address, OpKind, OpTx};
use crate::virtualchain::wire::{self, Op};

/// Everything a check needs besides state.
pub struct Ctx<'a> {
    /// Chain parameters.
    pub params: &'a ChainParams,
    /// Block being processed (`B`).
    pub block: u64,
    /// Network the addresses are encoded for.
    pub network: bitcoin::Network,
}

impl Ctx<'_> {
    /// `lastblock`: the height most state queries use.
    fn h(&self) -> u64 {
        self.block.saturating_sub(1)
    }
}

/// Checks `tx` against state; returns its effects and consensus record.
pub fn check(view: &dyn StateView, ctx: &Ctx<'_>, tx: &OpTx) -> Result<Accepted, Rejection> {
    match (&tx.op, tx.kind) {
        (Op::NamePreorder(op), _) => name::name_preorder(view, ctx, tx, op),
        (Op::NameRegistration(op), OpKind::NameRegistration) => name::name_register(view, ctx, tx, op),
        (Op::NameRegistration(_), _) => Err(Rejection::Unsupported("name renewal")),
        (Op::NameUpdate(op), _) => name::name_update(view, ctx, tx, op),
        (Op::NamespacePreorder(op), _) => namespace::namespace_preorder(view, ctx, tx, op),
        (Op::NamespaceReveal(op), _) => namespace::namespace_reveal(view, ctx, tx, op),
        (Op::NamespaceReady(op), _) => namespace::namespace_ready(view, ctx, tx, op),
        (Op::NameTransfer(_), _) => Err(Rejection::Unsupported("name transfer")),
        (Op::NameRevoke(_), _) => Err(Rejection::Unsupported("name revoke")),
        (Op::NameImport(_), _) => Err(Rejection::Unsupported("name import")),
        (Op::Announce(_), _) => Err(Rejection::Unsupported("announce")),
        (Op::TokenTransfer(_), _) => Err(Rejection::Unsupported("token transfer")),
    }
}

/// True if `ch` is the consensus hash of one of the 24 blocks before `B`.
pub fn consensus_hash_valid(view: &dyn StateView, ctx: &Ctx<'_>, ch: &ConsensusHash) -> Result<bool, Rejection> {
    Ok(window(view, ctx)?.iter().any(|(_, c)| c == ch))
}

/// Stored consensus hashes of blocks `B-24 ..= B-1`, newest first.
pub(super) fn window(view: &dyn StateView, ctx: &Ctx<'_>) -> Result<Vec<(u64, ConsensusHash)>, Rejection> {
    let lo = ctx.block.saturating_sub(CONSENSUS_HASH_WINDOW).max(ctx.params.first_block);
    let mut out = Vec::with_capacity(CONSENSUS_HASH_WINDOW as usize);
    for k in (lo..ctx.block).rev() {
        if let Some(ch) = view.consensus_hash(k)? {
            out.push((k, ch));
        }
    }
    Ok(out)
}

pub(super) fn hexs(script: &bitcoin::Script) -> String {
    hex::encode(script.as_bytes())
}

pub(super) fn pubkey_hex(tx: &OpTx) -> Option<String> {
    tx.sender_pubkey.as_ref().map(hex::encode)
}

pub(super) fn new_preorder(
    view: &dyn StateView,
    ctx: &Ctx<'_>,
    tx: &OpTx,
    hash: crate::hash::PreorderHash,
    ch: ConsensusHash,
    token_fee: u64,
    op: &str,
) -> Result<PreorderRecord, Rejection> {
    if !consensus_hash_valid(view, ctx, &ch)? {
        return Err(Rejection::StaleConsensusHash(ch));
    }
    if view.preorder(&hash)?.is_some() {
        return Err(Rejection::PreorderExists(hash));
    }
    let fee = tx.fee.clone().ok_or(Rejection::Missing("a fee output"))?;
    let (op_fee, burn) = (fee.amount, fee.address);
    Ok(PreorderRecord {
        preorder_hash: hash,
        consensus_hash: ch,
        sender: hexs(&tx.sender),
        sender_pubkey: pubkey_hex(tx),
        address: tx.address.clone(),
        block_number: ctx.block,
        op_fee,
        burn_address: Some(burn),
        token_fee,
        op: op.to_string(),
        txid: tx.txid.to_string(),
        vtxindex: tx.vtxindex,
    })
}
