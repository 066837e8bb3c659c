//! Accept or reject one op (SPEC.md §4). Each check reads state as of the op
//! (earlier ops of the block already applied) and returns the effects.

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
        (Op::NamePreorder(op), _) => name_preorder(view, ctx, tx, op),
        (Op::NameRegistration(op), OpKind::NameRegistration) => name_register(view, ctx, tx, op),
        (Op::NameRegistration(_), _) => Err(Rejection::Unsupported("name renewal")),
        (Op::NameUpdate(op), _) => name_update(view, ctx, tx, op),
        (Op::NamespacePreorder(op), _) => namespace_preorder(view, ctx, tx, op),
        (Op::NamespaceReveal(op), _) => namespace_reveal(view, ctx, tx, op),
        (Op::NamespaceReady(op), _) => namespace_ready(view, ctx, tx, op),
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
fn window(view: &dyn StateView, ctx: &Ctx<'_>) -> Result<Vec<(u64, ConsensusHash)>, Rejection> {
    let lo = ctx.block.saturating_sub(CONSENSUS_HASH_WINDOW).max(ctx.params.first_block);
    let mut out = Vec::with_capacity(CONSENSUS_HASH_WINDOW as usize);
    for k in (lo..ctx.block).rev() {
        if let Some(ch) = view.consensus_hash(k)? {
            out.push((k, ch));
        }
    }
    Ok(out)
}

fn hexs(script: &bitcoin::Script) -> String {
    hex::encode(script.as_bytes())
}

fn pubkey_hex(tx: &OpTx) -> Option<String> {
    tx.sender_pubkey.as_ref().map(hex::encode)
}

fn new_preorder(
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

fn name_preorder(
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

fn namespace_preorder(
    view: &dyn StateView,
    ctx: &Ctx<'_>,
    tx: &OpTx,
    op: &wire::NamespacePreorder,
) -> Result<Accepted, Rejection> {
    let rec = new_preorder(view, ctx, tx, op.preorder_hash, op.consensus_hash, op.stx_fee.unwrap_or(0), "*")?;
    let burn = burn_address(ctx.network);
    if rec.burn_address.as_deref() != Some(burn.as_str()) {
        return Err(Rejection::Fee {
            paid: rec.op_fee,
            price: "any".into(),
            why: "namespace fee must go to the burn address",
        });
    }
    Ok(Accepted {
        opchar: '*',
        fields: cf::namespace_preorder(&rec),
        history_extra: serde_json::Value::Null,
        effects: vec![Effect::PutPreorder(rec)],
    })
}

fn namespace_reveal(
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
    if tx.sender_pubkey.is_none() {
        return Err(Rejection::Missing("a p2pkh sender public key"));
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
    if let Some(price) = namespace_price_sats(ns, &epoch) {
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
        history_extra: serde_json::Value::Null,
        effects: vec![Effect::ConsumePreorder(hash), Effect::PutNamespace(rec)],
    })
}

fn namespace_ready(
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
        history_extra: serde_json::Value::Null,
        effects: vec![Effect::PutNamespace(rec)],
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

fn name_register(
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

fn name_update(view: &dyn StateView, ctx: &Ctx<'_>, tx: &OpTx, op: &wire::NameUpdate) -> Result<Accepted, Rejection> {
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
