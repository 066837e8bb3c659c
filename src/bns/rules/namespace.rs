//! Namespace preorder, reveal and ready.

use super::*;

pub(super) fn namespace_preorder(
    view: &dyn StateView,
    ctx: &Ctx<'_>,
    tx: &OpTx,
    op: &wire::NamespacePreorder,
) -> Result<Accepted, Rejection> {
    // From epoch 4 every namespace preorder pays in STACKs from the sender's account.
    let stacks = ctx.params.epoch_at(ctx.block).number >= 4;
    let token_fee = op.stx_fee.unwrap_or(0);
    let units = stacks.then_some(STACKS);
    let rec = new_preorder(view, ctx, tx, op.preorder_hash, op.consensus_hash, (token_fee, units), "*")?;
    let burn = burn_address(ctx.network);
    if rec.burn_address.as_deref() != Some(burn.as_str()) {
        return Err(Rejection::Fee {
            paid: rec.op_fee,
            price: "any".into(),
            why: "namespace fee must go to the burn address",
        });
    }
    let mut effects = Vec::with_capacity(2);
    if stacks {
        effects.push(debit(view, &rec.address, token_fee)?);
    }
    let fields = cf::namespace_preorder(&rec);
    effects.push(Effect::PutPreorder(rec));
    Ok(Accepted { opchar: '*', fields, history_extra: HistoryExtra::default(), effects })
}

pub(super) fn namespace_reveal(
    view: &dyn StateView,
    ctx: &Ctx<'_>,
    tx: &OpTx,
    op: &wire::NamespaceReveal,
) -> Result<Accepted, Rejection> {
    let ns = op.namespace_id.as_str();
    if !is_valid_namespace_id(ns) {
        return Err(Rejection::InvalidName(ns.to_string()));
    }
    let existing = view.namespace(ns)?;
    if let Some(old) = &existing {
        if old.is_ready() {
            return Err(Rejection::Namespace { ns: ns.into(), why: "is already ready" });
        }
        if old.is_revealed_at(ctx.h()) {
            return Err(Rejection::Namespace { ns: ns.into(), why: "is already revealed" });
        }
    }
    let r = tx.recipient.clone().ok_or(Rejection::Missing("a revealer output"))?;
    let (recipient, recipient_address) = (r.script, r.address);
    let hash =
        namespace_preorder_hash(ns, &tx.sender, &recipient_address).map_err(|_| Rejection::InvalidName(ns.into()))?;
    let pre = view.preorder(&hash)?.filter(|p| p.op == "*").ok_or(Rejection::NoPreorder(hash))?;
    if pre.sender != hexs(&tx.sender) {
        return Err(Rejection::NotOwner(ns.into()));
    }
    let epoch = ctx.params.epoch_at(ctx.block);
    match op.version {
        1 => {}
        2 if epoch.number >= 3 => {}
        3 if epoch.number >= 4 => {}
        _ => return Err(Rejection::BadParams("version must be 1, 2 (epoch >= 3) or 3 (epoch >= 4)")),
    }
    if !(1..=15).contains(&op.nonalpha_discount) || !(1..=15).contains(&op.no_vowel_discount) {
        return Err(Rejection::BadParams("discounts must be 1..=15"));
    }
    if op.buckets.iter().any(|b| *b > 15) {
        return Err(Rejection::BadParams("bucket exponents must be 0..=15"));
    }
    if pre.token_units.as_deref() == Some(STACKS) {
        let price = namespace_price_stacks(ns);
        if pre.token_fee < price {
            return Err(Rejection::Fee {
                paid: pre.token_fee,
                price: price.to_string(),
                why: "namespace price in STACKs",
            });
        }
    } else if let Some(price) = namespace_price_sats(ns, &epoch) {
        if pre.op_fee < price {
            return Err(Rejection::Fee { paid: pre.op_fee, price: price.to_string(), why: "namespace price" });
        }
    }
    let rec = NamespaceRecord {
        namespace_id: ns.to_string(),
        preorder_hash: hash,
        version: op.version,
        sender: pre.sender.clone(),
        sender_pubkey: pubkey_hex(tx),
        address: tx.address.clone(),
        recipient: hexs(&recipient),
        recipient_address,
        block_number: existing.as_ref().map(|o| o.block_number).unwrap_or(pre.block_number),
        reveal_block: ctx.block,
        ready_block: None,
        op: "&".into(),
        txid: tx.txid.to_string(),
        vtxindex: tx.vtxindex,
        lifetime: op.lifetime,
        coeff: op.coeff,
        base: op.base,
        buckets: op.buckets,
        nonalpha_discount: op.nonalpha_discount,
        no_vowel_discount: op.no_vowel_discount,
        op_fee: pre.op_fee,
    };
    Ok(Accepted {
        opchar: '&',
        fields: cf::namespace(&rec, false),
        history_extra: HistoryExtra::default(),
        effects: vec![Effect::ConsumePreorder(hash), Effect::PutNamespace(rec)],
    })
}

pub(super) fn namespace_ready(
    view: &dyn StateView,
    ctx: &Ctx<'_>,
    tx: &OpTx,
    op: &wire::NamespaceReady,
) -> Result<Accepted, Rejection> {
    let ns = op.namespace_id.as_str();
    let mut rec = view.namespace(ns)?.ok_or(Rejection::Namespace { ns: ns.into(), why: "is not revealed" })?;
    if rec.is_ready() {
        return Err(Rejection::Namespace { ns: ns.into(), why: "is already ready" });
    }
    if !rec.is_revealed_at(ctx.h()) {
        return Err(Rejection::Namespace { ns: ns.into(), why: "reveal has expired" });
    }
    if rec.recipient != hexs(&tx.sender) {
        return Err(Rejection::NotOwner(ns.into()));
    }
    rec.sender = hexs(&tx.sender);
    rec.ready_block = Some(ctx.block);
    rec.op = "!".into();
    rec.txid = tx.txid.to_string();
    rec.vtxindex = tx.vtxindex;
    Ok(Accepted {
        opchar: '!',
        fields: cf::namespace(&rec, true),
        history_extra: HistoryExtra::default(),
        effects: vec![Effect::PutNamespace(rec)],
    })
}
