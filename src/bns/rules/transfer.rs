//! Name transfer (`>>` keep data, `>~` clear data) and revoke (`~`).

use super::*;
use crate::hash::NameHash128;

/// The live, non-revoked name whose `hash128(name)` is `hash` as of `B-1`
/// (Core's `get_name_from_name_hash128`), with its namespace.
fn name_by_hash(
    view: &dyn StateView,
    ctx: &Ctx<'_>,
    hash: &NameHash128,
) -> Result<Option<(NameRecord, NamespaceRecord)>, Rejection> {
    let epoch = ctx.params.epoch_at(ctx.h());
    for rec in view.names_by_hash128(hash)? {
        if rec.revoked {
            continue;
        }
        let Some(ns) = view.namespace(&rec.namespace_id)? else { continue };
        if rec.liveness(&ns, &epoch, ctx.h()) != Liveness::Expired {
            return Ok(Some((rec, ns)));
        }
    }
    Ok(None)
}

/// The name's namespace, which must be ready.
pub(super) fn ready_namespace(view: &dyn StateView, ns_id: &str) -> Result<NamespaceRecord, Rejection> {
    let ns = view.namespace(ns_id)?.ok_or(Rejection::Namespace { ns: ns_id.into(), why: "does not exist" })?;
    if !ns.is_ready() {
        return Err(Rejection::Namespace { ns: ns_id.into(), why: "is not ready" });
    }
    Ok(ns)
}

/// Rejects a name that is expired at `expired_at` or in its grace period at `B`.
fn check_not_expired(ctx: &Ctx<'_>, rec: &NameRecord, ns: &NamespaceRecord, expired_at: u64) -> Result<(), Rejection> {
    if rec.liveness(ns, &ctx.params.epoch_at(expired_at), expired_at) == Liveness::Expired {
        return Err(Rejection::NotRegistered(rec.name.clone()));
    }
    if rec.liveness(ns, &ctx.params.epoch_at(ctx.block), ctx.block) == Liveness::Grace {
        return Err(Rejection::InGrace(rec.name.clone()));
    }
    Ok(())
}

pub(super) fn name_transfer(
    view: &dyn StateView,
    ctx: &Ctx<'_>,
    tx: &OpTx,
    op: &wire::NameTransfer,
) -> Result<Accepted, Rejection> {
    let (mut rec, ns) = name_by_hash(view, ctx, &op.name_hash128)?
        .ok_or_else(|| Rejection::NotRegistered(format!("name hash {}", op.name_hash128)))?;
    if !ns.is_ready() {
        return Err(Rejection::Namespace { ns: ns.namespace_id, why: "is not ready" });
    }
    check_not_expired(ctx, &rec, &ns, ctx.h())?;
    // Valid means "one of the last 24 blocks'", which also maps it to a known block.
    if !consensus_hash_valid(view, ctx, &op.consensus_hash)? {
        return Err(Rejection::StaleConsensusHash(op.consensus_hash));
    }
    let r = tx.recipient.clone().ok_or(Rejection::Missing("a new owner output"))?;
    if r.script == tx.sender {
        return Err(Rejection::SameRecipient);
    }
    let sender = hexs(&tx.sender);
    if rec.sender != sender {
        return Err(Rejection::NotOwner(rec.name));
    }
    let count = owned_count(view, ctx, &hexs(&r.script), false)?;
    if count >= MAX_NAMES_PER_SENDER {
        return Err(Rejection::TooManyNames { count });
    }
    if tx.sender.is_p2sh() && ctx.params.epoch_at(ctx.block).number < 2 {
        return Err(Rejection::BadParams("p2sh senders need epoch >= 2"));
    }
    // QUIRK: the consensus record carries the last NAME_UPDATE's consensus
    // hash, or this op's if a registration/import comes first.
    let ch = view.last_update_consensus_hash(&rec.name, ctx.block, tx.vtxindex)?.unwrap_or(op.consensus_hash);
    rec.sender = hexs(&r.script);
    rec.address = r.address;
    rec.sender_pubkey = None;
    if !op.keep_data {
        rec.value_hash = None;
    }
    rec.op = tx.op_string().to_string();
    rec.txid = tx.txid.to_string();
    rec.vtxindex = tx.vtxindex;
    rec.last_block = ctx.block;
    Ok(Accepted {
        opchar: '>',
        fields: cf::name_transfer(&rec, &op.name_hash128, &ch, op.keep_data),
        history_extra: HistoryExtra {
            name_hash128: Some(op.name_hash128),
            consensus_hash: Some(ch),
            keep_data: Some(op.keep_data),
            ..HistoryExtra::default()
        },
        effects: vec![Effect::PutName(rec)],
    })
}

pub(super) fn name_revoke(
    view: &dyn StateView,
    ctx: &Ctx<'_>,
    tx: &OpTx,
    op: &wire::NameRevoke,
) -> Result<Accepted, Rejection> {
    let fqn = op.name.as_str();
    let (_, ns_id) = split_fqn(fqn).ok_or_else(|| Rejection::InvalidName(fqn.to_string()))?;
    let mut rec = view.name(fqn)?.ok_or_else(|| Rejection::NotRegistered(fqn.into()))?;
    let ns = ready_namespace(view, ns_id)?;
    if rec.liveness(&ns, &ctx.params.epoch_at(ctx.h()), ctx.h()) == Liveness::Expired {
        return Err(Rejection::NotRegistered(fqn.into()));
    }
    if rec.revoked {
        return Err(Rejection::Revoked(fqn.into()));
    }
    // Core checks expiry at B here (not B-1), then registration at B-1.
    check_not_expired(ctx, &rec, &ns, ctx.block)?;
    if rec.sender != hexs(&tx.sender) {
        return Err(Rejection::NotOwner(fqn.into()));
    }
    rec.revoked = true;
    rec.value_hash = None;
    rec.op = "~".into();
    rec.txid = tx.txid.to_string();
    rec.vtxindex = tx.vtxindex;
    rec.last_block = ctx.block;
    Ok(Accepted {
        opchar: '~',
        fields: cf::name_revoke(&rec),
        history_extra: HistoryExtra::default(),
        effects: vec![Effect::PutName(rec)],
    })
}
