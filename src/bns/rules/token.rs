//! Ops outside the name state: token transfer (`$`, epoch >= 4) and announce (`#`).

use super::*;

pub(super) fn token_transfer(
    view: &dyn StateView,
    ctx: &Ctx<'_>,
    tx: &OpTx,
    op: &wire::TokenTransfer,
) -> Result<Accepted, Rejection> {
    let epoch = ctx.params.epoch_at(ctx.block);
    if epoch.number < 4 {
        return Err(Rejection::Tokens(format!("token transfers need epoch >= 4 (epoch {})", epoch.number)));
    }
    if op.amount == 0 {
        return Err(Rejection::Tokens("zero-value token transfer".into()));
    }
    let r = tx.recipient.clone().ok_or(Rejection::Missing("a recipient output"))?;
    if r.address == tx.address {
        return Err(Rejection::SameRecipient);
    }
    // From epoch 5 (TOKEN_TRANSFER_CONSENSUS_HASH_OPTIONAL) an all-zero hash is accepted.
    let optional = epoch.number >= 5 && op.consensus_hash.0 == [0u8; 16];
    if !optional && !consensus_hash_valid(view, ctx, &op.consensus_hash)? {
        return Err(Rejection::StaleConsensusHash(op.consensus_hash));
    }
    if op.token_type != STACKS {
        return Err(Rejection::Tokens(format!("{} has no {:?} account", tx.address, op.token_type)));
    }
    let debit = debit(view, &tx.address, op.amount)?;
    let credited = view
        .token_balance(&r.address)?
        .unwrap_or(0)
        .checked_add(op.amount)
        .ok_or_else(|| Rejection::Tokens(format!("{} balance would overflow", r.address)))?;
    let (sender, recipient, txid) = (hexs(&tx.sender), hexs(&r.script), tx.txid.to_string());
    let fields = cf::token_transfer(&cf::TokenTransferFields {
        sender: &sender,
        address: &tx.address,
        recipient: &recipient,
        recipient_address: &r.address,
        token_units: &op.token_type,
        amount: op.amount,
        block_id: ctx.block,
        txid: &txid,
        vtxindex: tx.vtxindex,
        consensus_hash: &op.consensus_hash,
        scratch: &op.scratch,
    });
    Ok(Accepted {
        opchar: '$',
        fields,
        history_extra: HistoryExtra::default(),
        effects: vec![debit, Effect::PutBalance { address: r.address, balance: credited }],
    })
}

/// Accepted only from the owner of a configured announcer name (live or in
/// grace as of `B-1`; Core's `get_name` returns revoked names too). Changes
/// nothing and contributes nothing to the consensus hash.
pub(super) fn announce(view: &dyn StateView, ctx: &Ctx<'_>, tx: &OpTx) -> Result<Accepted, Rejection> {
    let sender = hexs(&tx.sender);
    let epoch = ctx.params.epoch_at(ctx.h());
    for name in &ctx.params.announcers {
        let Some(rec) = view.name(name)? else { continue };
        let Some(ns) = view.namespace(&rec.namespace_id)? else { continue };
        if rec.liveness(&ns, &epoch, ctx.h()) != Liveness::Expired && rec.sender == sender {
            return Ok(Accepted {
                opchar: '#',
                fields: vec![],
                history_extra: HistoryExtra::default(),
                effects: vec![],
            });
        }
    }
    Err(Rejection::NotAnnouncer)
}
