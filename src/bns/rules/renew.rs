//! Name renewal (`:` with 4+ outputs, op string `::`).

use super::name::{check_payment, Payment};
use super::transfer::ready_namespace;
use super::*;

pub(super) fn name_renew(
    view: &dyn StateView,
    ctx: &Ctx<'_>,
    tx: &OpTx,
    op: &wire::NameRegistration,
) -> Result<Accepted, Rejection> {
    let fqn = op.name.as_str();
    let (label, ns_id) = split_fqn(fqn).ok_or_else(|| Rejection::InvalidName(fqn.to_string()))?;
    let epoch = ctx.params.epoch_at(ctx.block);
    let r = tx.recipient.clone().ok_or(Rejection::Missing("an owner output"))?;
    let (recipient, recipient_address) = (hexs(&r.script), r.address);
    let sender = hexs(&tx.sender);
    // Before epoch 3 (OP_RENEW_TRANSFER_UPDATE) a renewal cannot change the owner.
    if epoch.number < 3 && (recipient != sender || recipient_address != tx.address) {
        return Err(Rejection::BadParams("renewal recipient must be the sender before epoch 3"));
    }
    let rec = view.name(fqn)?;
    let ns = ready_namespace(view, ns_id)?;
    let live = rec.filter(|r| r.liveness(&ns, &ctx.params.epoch_at(ctx.h()), ctx.h()) != Liveness::Expired);
    if live.as_ref().is_some_and(|r| r.revoked) {
        return Err(Rejection::Revoked(fqn.into()));
    }
    let count = owned_count(view, ctx, &recipient, true)?;
    if count >= MAX_NAMES_PER_SENDER {
        return Err(Rejection::TooManyNames { count });
    }
    // Registered (grace period included) as of B-1.
    let mut rec = live.ok_or_else(|| Rejection::NotRegistered(fqn.into()))?;
    if rec.sender != sender {
        return Err(Rejection::NotOwner(fqn.into()));
    }
    let fee = tx.fee.clone().ok_or(Rejection::Missing("a renewal payment output"))?;
    // A renewal pays in STACKs iff its token field is nonzero.
    let tokens = op.token_fee(epoch.number).unwrap_or(0);
    let payment = Payment {
        fee_block: ctx.block,
        op_fee: fee.amount,
        burn_address: Some(&fee.address),
        stacks: (tokens != 0).then_some(tokens),
    };
    check_payment(ctx, &ns, label, &payment)?;
    let mut effects = Vec::with_capacity(2);
    if let Some(paid) = payment.stacks.filter(|_| epoch.number >= 4) {
        // The current owner's account pays.
        effects.push(debit(view, &tx.address, paid)?);
    }
    if epoch.number >= 3 {
        if let Some(vh) = op.value_hash {
            rec.value_hash = Some(vh);
        }
    }
    rec.last_renewed = ctx.block;
    rec.op_fee = fee.amount;
    rec.sender = recipient;
    rec.address = recipient_address;
    rec.op = "::".into();
    rec.txid = tx.txid.to_string();
    rec.vtxindex = tx.vtxindex;
    rec.last_block = ctx.block;
    let fields = cf::name_renew_or_import(&rec);
    effects.push(Effect::PutName(rec));
    Ok(Accepted { opchar: ':', fields, history_extra: HistoryExtra::default(), effects })
}
