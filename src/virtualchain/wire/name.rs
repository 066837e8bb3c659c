//! Name operations: `?` preorder, `:` registration/renewal, `+` update,
//! `>` transfer, `~` revoke, `;` import. Offsets are into the body (after
//! magic and opcode); integers are big-endian.
//!
//! ```text
//! ? NAME_PREORDER     0                    20             36
//!                     | preorder hash (20) | cons. hash   |                     epochs 1-3: 36 bytes
//!                     0                    20             36          44                    63
//!                     | preorder hash (20) | cons. hash   | tokens u64 | token units, NUL-pad |  epoch>=4: 36 or 63
//!
//! : NAME_REGISTRATION / NAME_RENEWAL
//!   epochs 1-2, or any body < 57 bytes:  | fqn (whole body, no padding) |
//!   epoch>=3, body >= 57:                0                     37            57              65
//!                                        | fqn, NUL-padded (37) | value hash  | [tokens u64]  |
//!                                        epoch 3: exactly 57; epoch>=4: 57 or 65
//!
//! + NAME_UPDATE       0                         16                 36
//!                     | hash128(fqn + ch hex)   | value hash (20)  |             exactly 36
//!
//! > NAME_TRANSFER     0     1                   17                 33
//!                     | '>' keep / '~' clear | hash128(fqn) | consensus hash |   exactly 33
//!
//! ~ NAME_REVOKE       | fqn (whole body) |
//! ; NAME_IMPORT       | fqn (whole body) |   (value hash rides in output[2], see scan.rs)
//! ```

use super::{
    ascii_at, be_u64, exact_len, fixed, put_padded, strip_nuls, Expected, Opcode, WireError, EPOCH_TOKENS,
    EPOCH_VALUE_HASH,
};
use crate::hash::{ConsensusHash, NameConsensusHash, NameHash128, PreorderHash, ValueHash};
use crate::virtualchain::b40::{is_name_valid, MAX_NAME_LEN};

/// Width of the token-units field (`LENGTHS['namespace_id']`).
pub(super) const UNITS_LEN: usize = 19;

/// A token burn attached to a preorder (epoch >= 4).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TokenBurn {
    /// Tokens burned, in the units' smallest denomination (micro-STX).
    pub amount: u64,
    /// Token type with NUL padding stripped (Core accepts only `STACKS`).
    pub units: String,
}

/// `?` NAME_PREORDER: commits to a name without revealing it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NamePreorder {
    /// `hash160(b40(fqn) || sender script || register address)`.
    pub preorder_hash: PreorderHash,
    /// A recent consensus hash.
    pub consensus_hash: ConsensusHash,
    /// The STACKs burn, present only in the 63-byte form (epoch >= 4).
    pub tokens: Option<TokenBurn>,
}

impl NamePreorder {
    /// Body length without tokens.
    pub const LEN: usize = 36;
    /// Body length with the token fields.
    pub const LEN_WITH_TOKENS: usize = 63;

    pub(super) fn decode(body: &[u8], epoch: u8) -> Result<Self, WireError> {
        let op = Opcode::NamePreorder;
        let expected = if epoch >= EPOCH_TOKENS {
            Expected::Either(Self::LEN, Self::LEN_WITH_TOKENS)
        } else {
            Expected::Exactly(Self::LEN)
        };
        let bad = || WireError::BadLength { op, len: body.len(), expected };
        let tokens = match body.len() {
            Self::LEN => None,
            Self::LEN_WITH_TOKENS if epoch >= EPOCH_TOKENS => {
                let (units, lead) = strip_nuls(&body[44..63]);
                Some(TokenBurn { amount: be_u64(&body[36..44]), units: ascii_at(op, units, 44 + lead)? })
            }
            _ => return Err(bad()),
        };
        Ok(NamePreorder {
            preorder_hash: PreorderHash(fixed(&body[0..20])),
            consensus_hash: ConsensusHash(fixed(&body[20..36])),
            tokens,
        })
    }

    pub(super) fn encode_body(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.preorder_hash.0);
        out.extend_from_slice(&self.consensus_hash.0);
        if let Some(t) = &self.tokens {
            out.extend_from_slice(&t.amount.to_be_bytes());
            put_padded(out, &t.units, UNITS_LEN);
        }
    }
}

/// `:` NAME_REGISTRATION or NAME_RENEWAL (same payload; a transaction with
/// four or more outputs is a renewal).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NameRegistration {
    /// The fully-qualified name.
    pub name: String,
    /// Zone-file hash (epoch >= 3, 57- or 65-byte form).
    pub value_hash: Option<ValueHash>,
    /// The token field of the 65-byte form (epoch >= 4). Only encoded when
    /// `value_hash` is present.
    pub tokens: Option<u64>,
}

impl NameRegistration {
    /// Body length of the name + value-hash form.
    pub const LEN_WITH_VALUE: usize = 57;
    /// Body length of the name + value-hash + tokens form.
    pub const LEN_WITH_TOKENS: usize = 65;

    pub(super) fn decode(body: &[u8], epoch: u8) -> Result<Self, WireError> {
        let op = Opcode::NameRegistration;
        let (raw_name, value_hash, tokens) = if epoch >= EPOCH_VALUE_HASH && body.len() >= Self::LEN_WITH_VALUE {
            let tokens = match body.len() {
                Self::LEN_WITH_VALUE => None,
                Self::LEN_WITH_TOKENS if epoch >= EPOCH_TOKENS => Some(be_u64(&body[57..65])),
                len => {
                    let expected = if epoch >= EPOCH_TOKENS {
                        Expected::Either(Self::LEN_WITH_VALUE, Self::LEN_WITH_TOKENS)
                    } else {
                        Expected::Exactly(Self::LEN_WITH_VALUE)
                    };
                    return Err(WireError::BadLength { op, len, expected });
                }
            };
            let padded = &body[..MAX_NAME_LEN];
            let end = padded.len() - padded.iter().rev().take_while(|b| **b == 0).count();
            (&padded[..end], Some(ValueHash(fixed(&body[37..57]))), tokens)
        } else {
            (body, None, None)
        };
        Ok(NameRegistration { name: valid_name(op, raw_name)?, value_hash, tokens })
    }

    pub(super) fn encode_body(&self, out: &mut Vec<u8>) {
        match &self.value_hash {
            None => out.extend_from_slice(self.name.as_bytes()),
            Some(vh) => {
                put_padded(out, &self.name, MAX_NAME_LEN);
                out.extend_from_slice(&vh.0);
                if let Some(t) = self.tokens {
                    out.extend_from_slice(&t.to_be_bytes());
                }
            }
        }
    }

    /// Core's parsed `token_fee` for this payload in `epoch`: `Some(0)` for a
    /// name-only payload or any epoch < 4, `None` for the 57-byte form in
    /// epoch >= 4 (no token field), `Some(n)` for the 65-byte form.
    ///
    /// A registration must have `None` or `Some(0)`; a renewal must not have
    /// `None` (see `scan::decode_tx`).
    pub fn token_fee(&self, epoch: u8) -> Option<u64> {
        match (self.value_hash, self.tokens) {
            (None, _) => Some(0),
            (Some(_), Some(t)) => Some(t),
            (Some(_), None) if epoch >= EPOCH_TOKENS => None,
            (Some(_), None) => Some(0),
        }
    }
}

/// `+` NAME_UPDATE: sets a name's zone-file hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NameUpdate {
    /// `hash128(fqn + consensus_hash_hex)` for a recent consensus hash.
    pub name_consensus_hash: NameConsensusHash,
    /// New zone-file hash.
    pub value_hash: ValueHash,
}

impl NameUpdate {
    /// Body length.
    pub const LEN: usize = 36;

    pub(super) fn decode(body: &[u8]) -> Result<Self, WireError> {
        exact_len(Opcode::NameUpdate, body, Self::LEN)?;
        Ok(NameUpdate {
            name_consensus_hash: NameConsensusHash(fixed(&body[0..16])),
            value_hash: ValueHash(fixed(&body[16..36])),
        })
    }

    pub(super) fn encode_body(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.name_consensus_hash.0);
        out.extend_from_slice(&self.value_hash.0);
    }
}

/// `>` NAME_TRANSFER: gives a name to `output[1]`'s owner.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NameTransfer {
    /// `true` for `>` (keep the zone-file hash), `false` for `~` (clear it).
    pub keep_data: bool,
    /// `hash128(fqn)`.
    pub name_hash128: NameHash128,
    /// A recent consensus hash.
    pub consensus_hash: ConsensusHash,
}

impl NameTransfer {
    /// Body length.
    pub const LEN: usize = 33;
    /// Disposition byte: keep the value hash.
    pub const KEEP_DATA: u8 = b'>';
    /// Disposition byte: clear the value hash.
    pub const REMOVE_DATA: u8 = b'~';

    pub(super) fn decode(body: &[u8]) -> Result<Self, WireError> {
        exact_len(Opcode::NameTransfer, body, Self::LEN)?;
        let keep_data = match body[0] {
            Self::KEEP_DATA => true,
            Self::REMOVE_DATA => false,
            other => return Err(WireError::BadDisposition(other)),
        };
        Ok(NameTransfer {
            keep_data,
            name_hash128: NameHash128(fixed(&body[1..17])),
            consensus_hash: ConsensusHash(fixed(&body[17..33])),
        })
    }

    pub(super) fn encode_body(&self, out: &mut Vec<u8>) {
        out.push(if self.keep_data { Self::KEEP_DATA } else { Self::REMOVE_DATA });
        out.extend_from_slice(&self.name_hash128.0);
        out.extend_from_slice(&self.consensus_hash.0);
    }
}

/// `~` NAME_REVOKE: kills a name for good.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NameRevoke {
    /// The fully-qualified name.
    pub name: String,
}

impl NameRevoke {
    pub(super) fn decode(body: &[u8]) -> Result<Self, WireError> {
        Ok(NameRevoke { name: valid_name(Opcode::NameRevoke, body)? })
    }

    pub(super) fn encode_body(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.name.as_bytes());
    }
}

/// `;` NAME_IMPORT: the namespace revealer creates a name directly.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NameImport {
    /// The fully-qualified name.
    pub name: String,
}

impl NameImport {
    pub(super) fn decode(body: &[u8]) -> Result<Self, WireError> {
        Ok(NameImport { name: valid_name(Opcode::NameImport, body)? })
    }

    pub(super) fn encode_body(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.name.as_bytes());
    }
}

/// `raw` as an ASCII name passing Core's `is_name_valid`.
fn valid_name(op: Opcode, raw: &[u8]) -> Result<String, WireError> {
    let name = ascii_at(op, raw, 0)?;
    if is_name_valid(&name) {
        Ok(name)
    } else {
        Err(WireError::InvalidName { op, name })
    }
}
