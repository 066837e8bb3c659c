//! Name preorder, registration and update.

use super::*;
use crate::bns::names::Price;

pub(super) fn name_preorder(
    view: &dyn StateView,
    ctx: &Ctx<'_>,
    tx: &OpTx,
    op: &wire::NamePreorder,
) -> Result<Accepted, Rejection> {
    let count = owned_count(view, ctx, &hexs(&tx.sender), true)?;
    if count >= MAX_NAMES_PER_SENDER {
        return Err(Rejection::TooManyNames { count });
    }
    let tokens = op.tokens.as_ref().map(|t| t.amount).unwrap_or(0);
    let units = op.tokens.as_ref().map(|t| t.units.as_str());
    let rec = new_preorder(view, ctx, tx, op.preorder_hash, op.consensus_hash, (tokens, units), "?")?;
    let mut effects = Vec::with_capacity(2);
    if let Some(t) = &op.tokens {
        if t.units != STACKS {
            return Err(Rejection::Tokens(format!("unknown token units {:?}", t.units)));
        }
        if rec.burn_address.as_deref() != Some(burn_address(ctx.network).as_str()) {
            return Err(Rejection::Tokens("a token-paying preorder must burn to the burn address".into()));
        }
        effects.push(debit(view, &rec.address, t.amount)?);
    }
    let fields = cf::name_preorder(&rec);
    effects.push(Effect::PutPreorder(rec));
    Ok(Accepted { opchar: '?', fields, history_extra: HistoryExtra::default(), effects })
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
        // A revoked name stays taken until it expires; then anyone may register it.
        if old.liveness(&ns, &ctx.params.epoch_at(ctx.h()), ctx.h()) != Liveness::Expired {
            return Err(if old.revoked { Rejection::Revoked(fqn.into()) } else { Rejection::NameTaken(fqn.into()) });
        }
    }
    let r = tx.recipient.clone().ok_or(Rejection::Missing("an owner output"))?;
    let (recipient, recipient_address) = (r.script, r.address);
    if recipient.is_p2sh() && ctx.params.epoch_at(ctx.block).number < 2 {
        return Err(Rejection::BadParams("p2sh owners need epoch >= 2"));
    }
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
    let span = (ns.lifetime as u64).saturating_mul(ctx.params.epoch_at(ctx.h()).lifetime_multiplier);
    if pre.block_number.saturating_add(span) <= ctx.h() {
        return Err(expired("older than the namespace lifetime"));
    }
    if pre.block_number < ready_block {
        return Err(expired("made before the namespace was ready"));
    }
    let count = owned_count(view, ctx, &hexs(&recipient), true)?;
    if count >= MAX_NAMES_PER_SENDER {
        return Err(Rejection::TooManyNames { count });
    }
    check_payment(ctx, &ns, label, &Payment::of_preorder(&pre))?;
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
        history_extra: HistoryExtra::default(),
        effects: vec![Effect::ConsumePreorder(hash), Effect::PutName(rec)],
    })
}

/// A name payment: a registration's preorder or a renewal's own outputs.
pub(super) struct Payment<'a> {
    /// Block whose prices apply (the preorder's, or the renewal's `B`).
    pub fee_block: u64,
    /// Satoshis paid (Core's `op_fee`).
    pub op_fee: u64,
    /// Address the satoshis went to.
    pub burn_address: Option<&'a str>,
    /// STACKs paid, when the op paid in STACKs.
    pub stacks: Option<u64>,
}

impl<'a> Payment<'a> {
    /// What a registration paid: its preorder's burn and token fields.
    pub(super) fn of_preorder(pre: &'a PreorderRecord) -> Self {
        Payment {
            fee_block: pre.block_number,
            op_fee: pre.op_fee,
            burn_address: pre.burn_address.as_deref(),
            stacks: (pre.token_units.as_deref() == Some(STACKS)).then_some(pre.token_fee),
        }
    }
}

/// The payment must cover the name's price at `fee_block`, in the units and
/// to the address the namespace version requires (Core's
/// `check_payment_v1/v2/v3`; STACKs count only from epoch 4).
pub(super) fn check_payment(
    ctx: &Ctx<'_>,
    ns: &NamespaceRecord,
    label: &str,
    p: &Payment<'_>,
) -> Result<(), Rejection> {
    let epoch = ctx.params.epoch_at(p.fee_block);
    let burn = burn_address(ctx.network);
    let fee_err = |paid, price: String, why| Rejection::Fee { paid, price, why };
    let stacks = p.stacks.filter(|_| ctx.params.epoch_at(ctx.block).number >= 4);
    if ns.version == 3 {
        let price = name_price(label, &ns.price_function(), &epoch, true);
        let paid = stacks.unwrap_or(0);
        if p.burn_address != Some(burn.as_str()) {
            return Err(fee_err(paid, format!("{price:?}"), "paid to the wrong address"));
        }
        if stacks.is_none() || !price.is_covered_by(paid) {
            return Err(fee_err(paid, format!("{price:?}"), "name price in STACKs"));
        }
        return Ok(());
    }
    if ns.version != 1 && ns.version != 2 {
        return Err(Rejection::BadParams("unknown namespace version"));
    }
    let price = name_price(label, &ns.price_function(), &epoch, false);
    let fees_period = ctx.params.epoch_at(ctx.block).namespace_receive_fees_period;
    let to_creator = ns.version == 2 && fees_period > 0 && ns.reveal_block + fees_period >= ctx.block;
    let want = if to_creator { ns.address.as_str() } else { burn.as_str() };
    if p.burn_address != Some(want) {
        return Err(fee_err(p.op_fee, format!("{price:?}"), "paid to the wrong address"));
    }
    if let Some(paid) = stacks {
        if to_creator {
            return Err(fee_err(paid, format!("{price:?}"), "STACKs not accepted while the creator is paid"));
        }
        let btc = match price {
            Price::Float(p) => p as u64,
            Price::Int(p) => p,
        };
        let stx = btc.saturating_mul(650) / 15;
        if paid < stx {
            return Err(fee_err(paid, stx.to_string(), "name price in STACKs"));
        }
        return Ok(());
    }
    if !price.is_covered_by(p.op_fee) {
        return Err(fee_err(p.op_fee, format!("{price:?}"), "name price"));
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
    let count = owned_count(view, ctx, &sender, false)?;
    if count > MAX_NAMES_PER_SENDER {
        return Err(Rejection::TooManyNames { count });
    }
    let window = window(view, ctx)?;
    // Candidates: names the sender owned as of B-1.
    let owned = view.names_owned_by(&sender)?;
    let found = owned.into_iter().filter(|rec| rec.first_registered <= ctx.h()).find_map(|rec| {
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
    if !ns.is_ready() {
        return Err(Rejection::Namespace { ns: ns.namespace_id, why: "is not ready" });
    }
    if rec.liveness(&ns, &ctx.params.epoch_at(ctx.h()), ctx.h()) == Liveness::Expired {
        return Err(Rejection::NotRegistered(rec.name));
    }
    if rec.liveness(&ns, &ctx.params.epoch_at(ctx.block), ctx.block) == Liveness::Grace {
        return Err(Rejection::InGrace(rec.name));
    }
    rec.value_hash = Some(op.value_hash);
    rec.op = "+".into();
    rec.txid = tx.txid.to_string();
    rec.vtxindex = tx.vtxindex;
    rec.last_block = ctx.block;
    Ok(Accepted {
        opchar: '+',
        fields: cf::name_update(&rec, &op.name_consensus_hash, &ch),
        history_extra: HistoryExtra {
            name_consensus_hash: Some(op.name_consensus_hash),
            consensus_hash: Some(ch),
            ..HistoryExtra::default()
        },
        effects: vec![Effect::PutName(rec)],
    })
}
