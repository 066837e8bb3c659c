//! Reading one Bitcoin transaction as a BNS operation (SPEC.md §1: senders,
//! output checks, output-derived fields), following virtualchain's
//! `handle_block` and each Core op's `tx_extract`.
//!
//! ```text
//! inputs                          outputs (index: role; "T" = type-checked: nulldata/p2pkh/p2sh)
//! ---------------------------     ------------------------------------------------------------
//! in[0] spends senders[0]         ?  0 T OP_RETURN  1 T (any)       2 T burn (fee, addr)   exactly 3
//!   -> sender script, address     :  0 T OP_RETURN  1 T new owner   [2 change  3 payment]  >= 4 = renewal
//! in[i] spends senders[i]         >  0 T OP_RETURN  1 T new owner                          >= 2
//!   every sender p2pkh or p2sh    ;  0 T OP_RETURN  1 T recipient   2 T hash160 = value    >= 3
//! scriptSig = <sig> <pubkey>      *  0 T OP_RETURN  1 T (any)       2 T burn (fee, addr)   >= 3
//!   -> sender_pubkey (p2pkh)      &  0 T OP_RETURN  1 T revealer    2 (any)                exactly 3
//!                                 $  0 T OP_RETURN  1 T recipient                          >= 2
//!                                 + ~ ! #  no output rules
//! payload = the single push of the LAST output starting with OP_RETURN:
//!           | magic (2) | opcode (1) | body |
//! ```

use bitcoin::secp256k1::PublicKey;
use bitcoin::{Network, NetworkKind, ScriptBuf, Transaction, TxOut, Txid};

use super::script::{
    base58_address, base58check, classify, embedded_hash160, is_supported_output, script_address, tokenize,
    ScriptClass, Token,
};
use super::wire::{Expected, Op, Opcode, WireError};
use crate::hash::{hash160, ValueHash};

/// What a decoded transaction does. Registration and renewal share the `:`
/// payload; the output count tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// `?`
    NamePreorder,
    /// `:` with fewer than 4 outputs.
    NameRegistration,
    /// `:` with 4 or more outputs.
    NameRenewal,
    /// `+`
    NameUpdate,
    /// `>` (keep or clear: see [`super::wire::NameTransfer::keep_data`]).
    NameTransfer,
    /// `~`
    NameRevoke,
    /// `;`
    NameImport,
    /// `*`
    NamespacePreorder,
    /// `&`
    NamespaceReveal,
    /// `!`
    NamespaceReady,
    /// `#`
    Announce,
    /// `$`
    TokenTransfer,
}

impl OpKind {
    /// Core's `opcode` field (`NAME_RENEWAL` for a renewal).
    pub fn name(self) -> &'static str {
        match self {
            OpKind::NameRenewal => "NAME_RENEWAL",
            other => other.opcode().name(),
        }
    }

    /// The wire opcode.
    pub fn opcode(self) -> Opcode {
        match self {
            OpKind::NamePreorder => Opcode::NamePreorder,
            OpKind::NameRegistration | OpKind::NameRenewal => Opcode::NameRegistration,
            OpKind::NameUpdate => Opcode::NameUpdate,
            OpKind::NameTransfer => Opcode::NameTransfer,
            OpKind::NameRevoke => Opcode::NameRevoke,
            OpKind::NameImport => Opcode::NameImport,
            OpKind::NamespacePreorder => Opcode::NamespacePreorder,
            OpKind::NamespaceReveal => Opcode::NamespaceReveal,
            OpKind::NamespaceReady => Opcode::NamespaceReady,
            OpKind::Announce => Opcode::Announce,
            OpKind::TokenTransfer => Opcode::TokenTransfer,
        }
    }
}

/// An output that receives a name, namespace or tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// Its scriptPubKey.
    pub script: ScriptBuf,
    /// Its address (base58 for p2pkh / p2sh).
    pub address: String,
}

/// A payment output: the burn of a preorder, or a renewal's payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fee {
    /// Value in satoshis (Core's `op_fee`).
    pub amount: u64,
    /// Address paid (Core's `burn_address`).
    pub address: String,
}

/// A transaction read as a BNS operation: the payload plus everything Core
/// takes from the transaction around it. Nothing here has been checked
/// against the name database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpTx {
    /// The transaction id.
    pub txid: Txid,
    /// Position of the transaction in its block (coinbase = 0).
    pub vtxindex: u32,
    /// The decoded payload.
    pub op: Op,
    /// Registration vs renewal, and the rest.
    pub kind: OpKind,
    /// scriptPubKey of the output spent by input 0 (Core's `sender`).
    pub sender: ScriptBuf,
    /// Base58 address of `sender` (Core's `address`).
    pub address: String,
    /// Public key bytes, as pushed, of a scriptSig `<x> <pubkey>` whose key
    /// hashes to a p2pkh sender. Always `None` for p2sh senders and for
    /// token transfers (Core does not look there).
    pub sender_pubkey: Option<Vec<u8>>,
    /// `output[1]` for `: > ; & $` (Core's `recipient`, `recipient_address`).
    pub recipient: Option<Recipient>,
    /// `output[2]` for `? *`, `output[3]` for a renewal.
    pub fee: Option<Fee>,
    /// The hash160 embedded in `output[2]` of a `;` import: the zone-file hash.
    pub import_value_hash: Option<ValueHash>,
}

impl OpTx {
    /// The `op` string Core stores: the opcode char, except `::` for a
    /// renewal and `>>` / `>~` for a transfer that keeps / clears data.
    pub fn op_string(&self) -> &'static str {
        match (&self.op, self.kind) {
            (_, OpKind::NameRenewal) => "::",
            (Op::NameTransfer(t), _) if t.keep_data => ">>",
            (Op::NameTransfer(_), _) => ">~",
            (op, _) => match op.opcode() {
                Opcode::NamePreorder => "?",
                Opcode::NameRegistration => ":",
                Opcode::NameUpdate => "+",
                Opcode::NameTransfer => ">",
                Opcode::NameRevoke => "~",
                Opcode::NameImport => ";",
                Opcode::NamespacePreorder => "*",
                Opcode::NamespaceReveal => "&",
                Opcode::NamespaceReady => "!",
                Opcode::Announce => "#",
                Opcode::TokenTransfer => "$",
            },
        }
    }

    /// The wire opcode (the consensus serialization's `opchar`).
    pub fn opcode(&self) -> Opcode {
        self.op.opcode()
    }

    /// `sender_pubkey` as lowercase hex.
    pub fn sender_pubkey_hex(&self) -> Option<String> {
        self.sender_pubkey.as_ref().map(hex::encode)
    }
}

/// Why a transaction is not a BNS operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    /// No OP_RETURN payload with the magic and a known opcode.
    #[error("no OP_RETURN payload with the magic bytes and a known opcode")]
    NoPayload,
    /// Coinbase transactions spend nothing and cannot carry an op.
    #[error("coinbase transaction")]
    Coinbase,
    /// The caller gave the wrong number of spent outputs.
    #[error("transaction has {inputs} inputs but {prevouts} prevouts were given")]
    PrevoutCount {
        /// Inputs in the transaction.
        inputs: usize,
        /// Prevouts given.
        prevouts: usize,
    },
    /// Input `input` spends an output that is neither p2pkh nor p2sh.
    #[error("input {input} spends a script that is neither p2pkh nor p2sh")]
    BadSender {
        /// Input index.
        input: usize,
    },
    /// The payload is not a valid op for the epoch.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// The transaction has the wrong number of outputs for the op.
    #[error("{op} needs {expected} outputs, transaction has {count}")]
    OutputCount {
        /// The operation.
        op: Opcode,
        /// Outputs in the transaction.
        count: usize,
        /// What the op needs.
        expected: Expected,
    },
    /// A checked output is not nulldata, p2pkh or p2sh.
    #[error("{op} output {index} is not nulldata, p2pkh or p2sh")]
    OutputType {
        /// The operation.
        op: Opcode,
        /// Output index.
        index: usize,
    },
    /// An output that must name an address does not.
    #[error("{op} output {index} has no address")]
    NoAddress {
        /// The operation.
        op: Opcode,
        /// Output index.
        index: usize,
    },
    /// A registration (fewer than 4 outputs) carries a nonzero token field.
    #[error("registration carries a nonzero token field ({0})")]
    RegistrationTokens(u64),
    /// A renewal in epoch >= 4 uses the 57-byte form without a token field.
    #[error("renewal in epoch {epoch} lacks the token field")]
    RenewalWithoutTokens {
        /// The epoch.
        epoch: u8,
    },
}

/// The burn address: base58check of 20 zero bytes with the p2pkh version
/// of `network` (`1111111111111111111114oLvT2` on mainnet).
pub fn burn_address(network: Network) -> String {
    let version = if NetworkKind::from(network) == NetworkKind::Main { 0x00 } else { 0x6f };
    base58check(version, &[0u8; 20])
}

/// The data pushed by the LAST output whose script starts with OP_RETURN,
/// if that output is exactly `OP_RETURN <one push>` (virtualchain: a later
/// malformed OP_RETURN output hides an earlier well-formed one).
pub fn op_return_data(tx: &Transaction) -> Option<&[u8]> {
    let mut found = None;
    for out in &tx.output {
        let script = out.script_pubkey.as_bytes();
        if classify(script) == ScriptClass::Nulldata {
            found = match tokenize(script).as_slice() {
                [_, Token::Push(data)] => Some(*data),
                _ => None,
            };
        }
    }
    found
}

/// Cheap prefilter (no prevouts needed): the payload after the magic
/// (opcode byte first) if [`op_return_data`] starts with `magic` and a
/// known opcode.
pub fn candidate_payload(tx: &Transaction, magic: [u8; 2]) -> Option<&[u8]> {
    let rest = op_return_data(tx)?.strip_prefix(&magic[..])?;
    Opcode::from_byte(*rest.first()?)?;
    Some(rest)
}

/// Reads `tx` (at position `vtxindex` of its block) as a BNS operation.
///
/// `prevouts[i]` is the output spent by input `i`. `epoch` selects the
/// payload rules; `network` the address version bytes.
///
/// # Errors
/// Every reason Core's `db_parse` / `tx_extract` / `parse` would return
/// `None` for, as a [`ScanError`].
pub fn decode_tx(
    tx: &Transaction,
    vtxindex: u32,
    prevouts: &[TxOut],
    magic: [u8; 2],
    epoch: u8,
    network: Network,
) -> Result<OpTx, ScanError> {
    let payload = candidate_payload(tx, magic).ok_or(ScanError::NoPayload)?;
    if tx.is_coinbase() {
        return Err(ScanError::Coinbase);
    }
    if prevouts.len() != tx.input.len() {
        return Err(ScanError::PrevoutCount { inputs: tx.input.len(), prevouts: prevouts.len() });
    }
    for (input, prev) in prevouts.iter().enumerate() {
        if !matches!(classify(prev.script_pubkey.as_bytes()), ScriptClass::P2pkh | ScriptClass::P2sh) {
            return Err(ScanError::BadSender { input });
        }
    }
    let op = Op::decode(payload, epoch)?;
    let opcode = op.opcode();

    let sender =
        prevouts.first().map(|p| p.script_pubkey.clone()).ok_or(ScanError::PrevoutCount { inputs: 0, prevouts: 0 })?;
    let address = base58_address(sender.as_bytes(), network).ok_or(ScanError::BadSender { input: 0 })?;

    let outs = &tx.output;
    let check_types = |n: usize| -> Result<(), ScanError> {
        match outs.iter().take(n).position(|o| !is_supported_output(o.script_pubkey.as_bytes())) {
            Some(index) => Err(ScanError::OutputType { op: opcode, index }),
            None => Ok(()),
        }
    };
    let check_count = |expected: Expected| -> Result<(), ScanError> {
        let count = outs.len();
        let ok = match expected {
            Expected::Exactly(n) => count == n,
            Expected::AtLeast(n) => count >= n,
            Expected::Either(a, b) => count == a || count == b,
        };
        if ok {
            Ok(())
        } else {
            Err(ScanError::OutputCount { op: opcode, count, expected })
        }
    };
    let address_of = |index: usize| -> Result<(&TxOut, String), ScanError> {
        let out = outs.get(index).ok_or(ScanError::OutputCount {
            op: opcode,
            count: outs.len(),
            expected: Expected::AtLeast(index + 1),
        })?;
        let addr =
            script_address(out.script_pubkey.as_bytes(), network).ok_or(ScanError::NoAddress { op: opcode, index })?;
        Ok((out, addr))
    };
    let recipient_at = |index: usize| -> Result<Option<Recipient>, ScanError> {
        let (out, address) = address_of(index)?;
        Ok(Some(Recipient { script: out.script_pubkey.clone(), address }))
    };
    let fee_at = |index: usize| -> Result<Option<Fee>, ScanError> {
        let (out, address) = address_of(index)?;
        Ok(Some(Fee { amount: out.value.to_sat(), address }))
    };

    let mut kind = op_kind(&op);
    let (mut recipient, mut fee, mut import_value_hash) = (None, None, None);
    match &op {
        Op::NamePreorder(_) => {
            check_types(3)?;
            check_count(Expected::Exactly(3))?;
            fee = fee_at(2)?;
        }
        Op::NameRegistration(reg) => {
            check_types(2)?;
            recipient = recipient_at(1)?;
            if outs.len() >= 4 {
                kind = OpKind::NameRenewal;
                fee = fee_at(3)?;
                if reg.token_fee(epoch).is_none() {
                    return Err(ScanError::RenewalWithoutTokens { epoch });
                }
            } else if let Some(t) = reg.token_fee(epoch).filter(|t| *t != 0) {
                return Err(ScanError::RegistrationTokens(t));
            }
        }
        Op::NameTransfer(_) | Op::TokenTransfer(_) => {
            check_types(2)?;
            recipient = recipient_at(1)?;
        }
        Op::NameImport(_) => {
            check_types(3)?;
            recipient = recipient_at(1)?;
            let (out, _) = address_of(2)?;
            let hash =
                embedded_hash160(out.script_pubkey.as_bytes()).ok_or(ScanError::NoAddress { op: opcode, index: 2 })?;
            import_value_hash = Some(ValueHash(hash));
        }
        Op::NamespacePreorder(_) => {
            check_types(3)?;
            check_count(Expected::AtLeast(3))?;
            fee = fee_at(2)?;
        }
        Op::NamespaceReveal(_) => {
            check_types(2)?;
            check_count(Expected::Exactly(3))?;
            recipient = recipient_at(1)?;
        }
        Op::NameUpdate(_) | Op::NameRevoke(_) | Op::NamespaceReady(_) | Op::Announce(_) => {}
    }

    let looks_for_pubkey = !matches!(op, Op::TokenTransfer(_));
    let sender_pubkey = match embedded_hash160(sender.as_bytes()) {
        Some(h) if looks_for_pubkey && classify(sender.as_bytes()) == ScriptClass::P2pkh => find_pubkey(tx, &h),
        _ => None,
    };

    Ok(OpTx {
        txid: tx.compute_txid(),
        vtxindex,
        op,
        kind,
        sender,
        address,
        sender_pubkey,
        recipient,
        fee,
        import_value_hash,
    })
}

/// The kind implied by the payload alone (registration until the outputs
/// say renewal).
fn op_kind(op: &Op) -> OpKind {
    match op {
        Op::NamePreorder(_) => OpKind::NamePreorder,
        Op::NameRegistration(_) => OpKind::NameRegistration,
        Op::NameUpdate(_) => OpKind::NameUpdate,
        Op::NameTransfer(_) => OpKind::NameTransfer,
        Op::NameRevoke(_) => OpKind::NameRevoke,
        Op::NameImport(_) => OpKind::NameImport,
        Op::NamespacePreorder(_) => OpKind::NamespacePreorder,
        Op::NamespaceReveal(_) => OpKind::NamespaceReveal,
        Op::NamespaceReady(_) => OpKind::NamespaceReady,
        Op::Announce(_) => OpKind::Announce,
        Op::TokenTransfer(_) => OpKind::TokenTransfer,
    }
}

/// Core's `get_public_key_hex_from_tx`: the first input whose scriptSig is
/// exactly two tokens, the second a push that keylib parses as a public key
/// hashing to `target`. Returns the push as-is.
fn find_pubkey(tx: &Transaction, target: &[u8; 20]) -> Option<Vec<u8>> {
    tx.input.iter().find_map(|input| match tokenize(input.script_sig.as_bytes()).as_slice() {
        [_, Token::Push(candidate)] if pubkey_hash(candidate).as_ref() == Some(target) => Some(candidate.to_vec()),
        _ => None,
    })
}

thread_local! {
    static VALID_KEYS: std::cell::RefCell<std::collections::HashSet<[u8; 33]>> = std::cell::RefCell::default();
}

/// keylib's reading of a pushed public key: its address hash, if it is a
/// valid compressed (02/03), uncompressed (04) or raw 64-byte x||y key.
/// Raw keys hash as `04 || x || y`. (Hybrid 06/07 keys are rejected, unlike
/// libsecp256k1.)
fn pubkey_hash(candidate: &[u8]) -> Option<[u8; 20]> {
    match (candidate.len(), candidate.first()) {
        (33, Some(2 | 3)) => {
            // Validating a compressed key costs a field square root; the
            // same senders recur, so remember keys already found valid.
            let key: [u8; 33] = candidate.try_into().expect("length checked");
            let known = VALID_KEYS.with(|k| k.borrow().contains(&key));
            if !known {
                PublicKey::from_slice(candidate).ok()?;
                VALID_KEYS.with(|k| {
                    let mut k = k.borrow_mut();
                    if k.len() >= super::script::MEMO_CAP {
                        k.clear();
                    }
                    k.insert(key);
                });
            }
            Some(hash160(candidate))
        }
        (65, Some(4)) => PublicKey::from_slice(candidate).ok().map(|_| hash160(candidate)),
        (64, _) => {
            let mut full = Vec::with_capacity(65);
            full.push(4);
            full.extend_from_slice(candidate);
            PublicKey::from_slice(&full).ok().map(|_| hash160(&full))
        }
        _ => None,
    }
}
