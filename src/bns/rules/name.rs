//! Name preorder, registration and update.

use super::*;

pub(super) fn name_preorder(
    view: &dyn StateView,
    ctx: &Ctx<'_>,
    tx: &OpTx,
    op: &wire::NamePreorder,
) -> Result<Accepted, Rejection> {
    let tokens = op.tokens.as_ref().map(|t| t.amount).unwrap_or(0);
    let rec = new_preorder(view, ctx, tx, op.preorder_hash, op.consensus_hash, tokens, "?")?;
    Ok(Accepted {
        opchar: '?',
        fields: cf::name_preorder(&rec),
        history_extra: serde_json::Value::Null,
        effects: vec![Effect::PutPreorder(rec)],
    })
}

/// Live-or-grace names owned by `script_hex`, counting names created in this block.
fn owned_count(view: &dyn StateView, ctx: &Ctx<'_>, script_hex: &str) -> Result<usize, Rejection> {
    let mut n = 0;
    for rec in view.names_owned_by(script_hex)? {
        if rec.first_registered >= ctx.block {
            n += 1;
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

pub(super) fn name_register(
    view: &dyn StateView,
    ctx: &Ctx<'_>,
    tx: &OpTx,
    op: &wire::NameRegistration,
) -> Result<Accepted, Rejection> {
    let fqn = op.name.as_str();
    let (label, ns_id) = split_fqn(fqn).ok_or_else(|| Rejection::InvalidName(fqn.to_string()))?;
    if op.tokens.unwrap_or(0) != 0 {
        return Err(Rejection::BadParams("a registration may not carry a token payment"));
    }
    let ns = view.namespace(ns_id)?.ok_or(Rejection::Namespace { ns: ns_id.into(), why: "does not exist" })?;
    let Some(ready_block) = ns.ready_block else {
        return Err(Rejection::Namespace { ns: ns_id.into(), why: "is not ready" });
    };
    let old = view.name(fqn)?;
    if let Some(old) = &old {
        if old.revoked {
            return Err(Rejection::Revoked(fqn.into()));
        }
        if old.liveness(&ns, &ctx.params.epoch_at(ctx.h()), ctx.h()) != Liveness::Expired {
            return Err(Rejection::NameTaken(fqn.into()));
        }
    }
    let r = tx.recipient.clone().ok_or(Rejection::Missing("an owner output"))?;
    let (recipient, recipient_address) = (r.script, r.address);
    let hash =
        name_preorder_hash(fqn, &tx.sender, &recipient_address).map_err(|_| Rejection::InvalidName(fqn.into()))?;
    let pre = view.preorder(&hash)?.filter(|p| p.op == "?").ok_or(Rejection::NoPreorder(hash))?;
    if pre.sender != hexs(&tx.sender) {
        return Err(Rejection::NotOwner(fqn.into()));
    }
    let epoch = ctx.params.epoch_at(ctx.block);
    let expired = |why| Rejection::PreorderExpired { preorder_block: pre.block_number, block: ctx.block, why };
    if epoch.number >= 4 && pre.block_number + NAME_PREORDER_EXPIRE < ctx.block {
        return Err(expired("older than 144 blocks"));
    }
    let span = (ns.lifetime as u64).saturating_mul(epoch.lifetime_multiplier);
    if pre.block_number.saturating_add(span) <= ctx.h() {
        return Err(expired("older than the namespace lifetime"));
    }
    if pre.block_number < ready_block {
        return Err(expired("made before the namespace was ready"));
    }
    let count = owned_count(view, ctx, &hexs(&recipient))?;
    if count >= MAX_NAMES_PER_SENDER {
        return Err(Rejection::TooManyNames { count });
    }
    check_payment(ctx, &ns, label, &pre)?;
    if op.value_hash.is_some() && epoch.number < 3 {
        return Err(Rejection::BadParams("value hash in a registration needs epoch >= 3"));
    }
    let rec = NameRecord {
        name: fqn.to_string(),
        namespace_id: ns_id.to_string(),
        value_hash: op.value_hash,
        sender: hexs(&recipient),
        sender_pubkey: pubkey_hex(tx),
        address: recipient_address,
        block_number: old.as_ref().map(|o| o.block_number).unwrap_or(pre.block_number),
        preorder_block_number: pre.block_number,
        first_registered: ctx.block,
        last_renewed: ctx.block,
        revoked: false,
        op: ":".into(),
        txid: tx.txid.to_string(),
        vtxindex: tx.vtxindex,
        op_fee: pre.op_fee,
        importer: None,
        importer_address: None,
        last_creation_op: "?".into(),
        last_block: ctx.block,
    };
    Ok(Accepted {
        opchar: ':',
        fields: cf::name_register(&rec),
        history_extra: serde_json::Value::Null,
        effects: vec![Effect::ConsumePreorder(hash), Effect::PutName(rec)],
    })
}

/// The preorder's fee must cover the name's price at the preorder block and
/// go where the namespace version says.
fn check_payment(ctx: &Ctx<'_>, ns: &NamespaceRecord, label: &str, pre: &PreorderRecord) -> Result<(), Rejection> {
    let epoch = ctx.params.epoch_at(pre.block_number);
    let stacks = ns.version == 3;
    let price = name_price(label, &ns.price_function(), &epoch, stacks);
    let paid = if stacks { pre.token_fee } else { pre.op_fee };
    if !price.is_covered_by(paid) {
        return Err(Rejection::Fee { paid, price: format!("{price:?}"), why: "name price" });
    }
    let burn = burn_address(ctx.network);
    let to_creator = ns.version == 2
        && ctx.params.epoch_at(ctx.block).namespace_receive_fees_period > 0
        && ns.reveal_block + ctx.params.epoch_at(ctx.block).namespace_receive_fees_period >= ctx.block;
    let want = if to_creator { ns.address.as_str() } else { burn.as_str() };
    if !stacks && pre.burn_address.as_deref() != Some(want) {
        return Err(Rejection::Fee { paid, price: format!("{price:?}"), why: "paid to the wrong address" });
    }
    Ok(())
}

pub(super) fn name_update(
    view: &dyn StateView,
    ctx: &Ctx<'_>,
    tx: &OpTx,
    op: &wire::NameUpdate,
) -> Result<Accepted, Rejection> {
    let sender = hexs(&tx.sender);
    let owned = view.names_owned_by(&sender)?;
    if owned.len() > MAX_NAMES_PER_SENDER {
        return Err(Rejection::TooManyNames { count: owned.len() });
    }
    let window = window(view, ctx)?;
    let found = owned.into_iter().find_map(|rec| {
        window
            .iter()
            .find(|(_, ch)| NameConsensusHash::of(&rec.name, ch) == op.name_consensus_hash)
            .map(|(_, ch)| (rec, *ch))
    });
    let (mut rec, ch) = found.ok_or_else(|| Rejection::NotOwner(format!("name hash {}", op.name_consensus_hash)))?;
    if rec.revoked {
        return Err(Rejection::Revoked(rec.name));
    }
    let ns = view
        .namespace(&rec.namespace_id)?
        .ok_or(Rejection::Namespace { ns: rec.namespace_id.clone(), why: "does not exist" })?;
    if !ns.is_infinite() {
        if rec.liveness(&ns, &ctx.params.epoch_at(ctx.h()), ctx.h()) == Liveness::Expired {
            return Err(Rejection::NotRegistered(rec.name));
        }
        if rec.liveness(&ns, &ctx.params.epoch_at(ctx.block), ctx.block) == Liveness::Grace {
            return Err(Rejection::InGrace(rec.name));
        }
    }
    rec.value_hash = Some(op.value_hash);
    rec.op = "+".into();
    rec.txid = tx.txid.to_string();
    rec.vtxindex = tx.vtxindex;
    rec.last_block = ctx.block;
    Ok(Accepted {
        opchar: '+',
        fields: cf::name_update(&rec, &op.name_consensus_hash, &ch),
        history_extra: serde_json::json!({
            "name_consensus_hash": op.name_consensus_hash.to_hex(),
            "consensus_hash": ch.to_hex(),
        }),
        effects: vec![Effect::PutName(rec)],
    })
}
