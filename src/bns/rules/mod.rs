//! Accept or reject one op (SPEC.md §4). Each check reads state as of the op
//! (earlier ops of the block already applied) and returns the effects.
//! One file per op family: [`namespace`], [`name`], [`transfer`] (and
//! revoke), [`renew`], [`import`] and [`token`] (and announce).

mod import;
mod name;
mod namespace;
mod renew;
mod token;
mod transfer;

pub use import::{import_keyring, NAME_IMPORT_KEYRING_SIZE};

use super::consensus_fields as cf;
use super::epoch::{
    ChainParams, CONSENSUS_HASH_WINDOW, GENESIS_CONSENSUS_HASH, GENESIS_SNAPSHOT_BLOCKS, MAX_NAMES_PER_SENDER,
    NAME_PREORDER_EXPIRE, STACKS,
};
use super::names::{is_valid_namespace_id, name_price, namespace_price_sats, namespace_price_stacks, split_fqn};
use super::{
    Accepted, Effect, HistoryExtra, Liveness, NameRecord, NamespaceRecord, PreorderRecord, Rejection, StateView,
};
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
        (Op::NameRegistration(op), _) => renew::name_renew(view, ctx, tx, op),
        (Op::NameUpdate(op), _) => name::name_update(view, ctx, tx, op),
        (Op::NamespacePreorder(op), _) => namespace::namespace_preorder(view, ctx, tx, op),
        (Op::NamespaceReveal(op), _) => namespace::namespace_reveal(view, ctx, tx, op),
        (Op::NamespaceReady(op), _) => namespace::namespace_ready(view, ctx, tx, op),
        (Op::NameTransfer(op), _) => transfer::name_transfer(view, ctx, tx, op),
        (Op::NameRevoke(op), _) => transfer::name_revoke(view, ctx, tx, op),
        (Op::NameImport(op), _) => import::name_import(view, ctx, tx, op),
        (Op::Announce(_), _) => token::announce(view, ctx, tx),
        (Op::TokenTransfer(op), _) => token::token_transfer(view, ctx, tx, op),
    }
}

/// True if `ch` is the consensus hash of one of the 24 blocks before `B`.
pub fn consensus_hash_valid(view: &dyn StateView, ctx: &Ctx<'_>, ch: &ConsensusHash) -> Result<bool, Rejection> {
    Ok(window(view, ctx)?.iter().any(|(_, c)| c == ch))
}

/// Consensus hashes valid in an op at `B`: those of blocks `B-24 ..= B-1`,
/// newest first, where the 4 blocks before the first processed one carry the
/// genesis snapshot hash (as virtualchain stores it).
pub(super) fn window(view: &dyn StateView, ctx: &Ctx<'_>) -> Result<Vec<(u64, ConsensusHash)>, Rejection> {
    let first = ctx.params.first_block;
    let lo = ctx.block.saturating_sub(CONSENSUS_HASH_WINDOW);
    let mut out = Vec::with_capacity(CONSENSUS_HASH_WINDOW as usize);
    for k in (lo..ctx.block).rev() {
        if k >= first {
            if let Some(ch) = view.consensus_hash(k)? {
                out.push((k, ch));
            }
        } else if k + GENESIS_SNAPSHOT_BLOCKS >= first {
            let genesis = GENESIS_CONSENSUS_HASH.parse().expect("constant is a valid 16-byte hex hash");
            out.push((k, genesis));
        }
    }
    Ok(out)
}

/// Names `script_hex` owns for quota purposes (Core's `get_num_names_owned`):
/// live or in grace as of `B-1` and not revoked, plus, when
/// `count_this_block`, names registered to it earlier in block `B`.
pub(super) fn owned_count(
    view: &dyn StateView,
    ctx: &Ctx<'_>,
    script_hex: &str,
    count_this_block: bool,
) -> Result<usize, Rejection> {
    let mut n = 0;
    for rec in view.names_owned_by(script_hex)? {
        if rec.revoked {
            continue;
        }
        if rec.first_registered >= ctx.block {
            n += count_this_block as usize;
            continue;
        }
        if let Some(ns) = view.namespace(&rec.namespace_id)? {
            if rec.liveness(&ns, &ctx.params.epoch_at(ctx.h()), ctx.h()) != Liveness::Expired {
                n += 1;
            }
        }
    }
    Ok(n)
}

/// Debits `amount` micro-STX from `address`'s account, which must exist and cover it.
pub(super) fn debit(view: &dyn StateView, address: &str, amount: u64) -> Result<Effect, Rejection> {
    let balance =
        view.token_balance(address)?.ok_or_else(|| Rejection::Tokens(format!("{address} has no token account")))?;
    let balance = balance
        .checked_sub(amount)
        .ok_or_else(|| Rejection::Tokens(format!("{address} holds {balance}, needs {amount}")))?;
    Ok(Effect::PutBalance { address: address.to_string(), balance })
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
    (token_fee, token_units): (u64, Option<&str>),
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
        token_units: token_units.map(str::to_string),
        op: op.to_string(),
        txid: tx.txid.to_string(),
        vtxindex: tx.vtxindex,
    })
}
