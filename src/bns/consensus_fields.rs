//! The consensus record of each accepted op: Core's field lists, in Core's
//! order, with Core's value types (SPEC.md §3). The virtualchain layer turns
//! these into the serialized strings that feed the consensus hash.

use super::{NameRecord, NamespaceRecord, PreorderRecord};
use crate::hash::{ConsensusHash, NameConsensusHash, NameHash128};
use crate::virtualchain::consensus::Field;

fn s(v: &str) -> Field {
    Field::Str(v.to_string())
}

fn opt(v: &Option<String>) -> Field {
    v.as_deref().map(s).unwrap_or(Field::None)
}

fn int(v: u64) -> Field {
    Field::Int(v as i128)
}

/// `op_fee` is a float when the name was last created by an import.
fn fee(rec: &NameRecord) -> Field {
    if rec.last_creation_op == ";" {
        Field::Float(rec.op_fee as f64)
    } else {
        int(rec.op_fee)
    }
}

/// NAMEREC: the fields every name op serializes first.
pub fn name_record(rec: &NameRecord, fee_field: Field) -> Vec<Field> {
    vec![
        s(&rec.name),
        rec.value_hash.map(|h| s(&h.to_hex())).unwrap_or(Field::None),
        s(&rec.sender),
        opt(&rec.sender_pubkey),
        s(&rec.address),
        int(rec.block_number),
        int(rec.preorder_block_number),
        int(rec.first_registered),
        int(rec.last_renewed),
        Field::Bool(rec.revoked),
        s(&rec.op),
        s(&rec.txid),
        int(rec.vtxindex as u64),
        fee_field,
        opt(&rec.importer),
        opt(&rec.importer_address),
    ]
}

/// `?`: preorder_hash, consensus_hash, sender, sender_pubkey, address,
/// block_number, op, txid, vtxindex, op_fee.
pub fn name_preorder(p: &PreorderRecord) -> Vec<Field> {
    vec![
        s(&p.preorder_hash.to_hex()),
        s(&p.consensus_hash.to_hex()),
        s(&p.sender),
        opt(&p.sender_pubkey),
        s(&p.address),
        int(p.block_number),
        s(&p.op),
        s(&p.txid),
        int(p.vtxindex as u64),
        int(p.op_fee),
    ]
}

/// `*`: preorder_hash, consensus_hash, op, op_fee, txid, vtxindex,
/// block_number, sender, sender_pubkey, address.
pub fn namespace_preorder(p: &PreorderRecord) -> Vec<Field> {
    vec![
        s(&p.preorder_hash.to_hex()),
        s(&p.consensus_hash.to_hex()),
        s(&p.op),
        int(p.op_fee),
        s(&p.txid),
        int(p.vtxindex as u64),
        int(p.block_number),
        s(&p.sender),
        opt(&p.sender_pubkey),
        s(&p.address),
    ]
}

/// `&` (and `!` with `ready_block` appended).
pub fn namespace(ns: &NamespaceRecord, with_ready: bool) -> Vec<Field> {
    let mut f = vec![
        s(&ns.namespace_id),
        s(&ns.preorder_hash.to_hex()),
        int(ns.version as u64),
        s(&ns.sender),
        opt(&ns.sender_pubkey),
        s(&ns.address),
        s(&ns.recipient),
        s(&ns.recipient_address),
        int(ns.block_number),
        int(ns.reveal_block),
        s(&ns.op),
        s(&ns.txid),
        int(ns.vtxindex as u64),
        int(ns.lifetime as u64),
        int(ns.coeff as u64),
        int(ns.base as u64),
        Field::IntList(ns.buckets.iter().map(|b| *b as i64).collect()),
        int(ns.nonalpha_discount as u64),
        int(ns.no_vowel_discount as u64),
    ];
    if with_ready {
        f.push(ns.ready_block.map(int).unwrap_or(Field::None));
    }
    f
}

/// `:` registration: NAMEREC + sender, address.
pub fn name_register(rec: &NameRecord) -> Vec<Field> {
    let mut f = name_record(rec, int(rec.op_fee));
    f.push(s(&rec.sender));
    f.push(s(&rec.address));
    f
}

/// `+`: NAMEREC + name_consensus_hash, consensus_hash.
pub fn name_update(rec: &NameRecord, nch: &NameConsensusHash, ch: &ConsensusHash) -> Vec<Field> {
    let mut f = name_record(rec, fee(rec));
    f.push(s(&nch.to_hex()));
    f.push(s(&ch.to_hex()));
    f
}

/// `>`: NAMEREC + name_hash128, consensus_hash (the quirk value), keep_data.
pub fn name_transfer(rec: &NameRecord, name_hash128: &NameHash128, ch: &ConsensusHash, keep_data: bool) -> Vec<Field> {
    let mut f = name_record(rec, fee(rec));
    f.push(s(&name_hash128.to_hex()));
    f.push(s(&ch.to_hex()));
    f.push(Field::Bool(keep_data));
    f
}

/// `~`: NAMEREC.
pub fn name_revoke(rec: &NameRecord) -> Vec<Field> {
    name_record(rec, fee(rec))
}

/// `:` renewal and `;` import: NAMEREC + sender, address (op_fee a float
/// when the name was created by an import).
pub fn name_renew_or_import(rec: &NameRecord) -> Vec<Field> {
    let mut f = name_record(rec, fee(rec));
    f.push(s(&rec.sender));
    f.push(s(&rec.address));
    f
}

/// The parts of a token transfer its consensus record serializes.
pub struct TokenTransferFields<'a> {
    /// Sender script hex.
    pub sender: &'a str,
    /// Sender address.
    pub address: &'a str,
    /// Recipient script hex.
    pub recipient: &'a str,
    /// Recipient address.
    pub recipient_address: &'a str,
    /// Token type (`STACKS`).
    pub token_units: &'a str,
    /// Amount sent.
    pub amount: u64,
    /// Block height.
    pub block_id: u64,
    /// Transaction id.
    pub txid: &'a str,
    /// Position in the block.
    pub vtxindex: u32,
    /// Consensus hash as carried (all zeros allowed from epoch 5).
    pub consensus_hash: &'a ConsensusHash,
    /// Scratch area bytes.
    pub scratch: &'a [u8],
}

/// `$`: sender, address, recipient, recipient_address, token_units,
/// token_fee (decimal string), block_id, op, txid, vtxindex, consensus_hash,
/// scratch_area (hex).
pub fn token_transfer(t: &TokenTransferFields<'_>) -> Vec<Field> {
    vec![
        s(t.sender),
        s(t.address),
        s(t.recipient),
        s(t.recipient_address),
        s(t.token_units),
        s(&t.amount.to_string()),
        int(t.block_id),
        s("$"),
        s(t.txid),
        int(t.vtxindex as u64),
        s(&t.consensus_hash.to_hex()),
        s(&hex::encode(t.scratch)),
    ]
}
