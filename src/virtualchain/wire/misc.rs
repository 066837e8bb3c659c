//! Operations outside the name state: `#` announce and `$` token transfer.
//! Offsets are into the body (after magic and opcode); integers are
//! big-endian (Core's `docs/wire-format.md` wrongly says the amount is LE).
//!
//! ```text
//! # ANNOUNCE         0                     20
//!                    | message hash (20)   |                      exactly 20
//!
//! $ TOKEN_TRANSFER   0                16                      35            43
//!                    | consensus hash | token type, NUL-pad   | amount u64 | scratch area ... |
//!                    epoch>=4 only; at least 43 bytes
//! ```

use super::name::UNITS_LEN;
use super::{ascii_at, be_u64, exact_len, fixed, put_padded, strip_nuls, Expected, Opcode, WireError, EPOCH_TOKENS};
use crate::hash::{AnnounceHash, ConsensusHash};

/// `#` ANNOUNCE: a message hash from an allowed name owner; no name state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Announce {
    /// hash160 of the announced message (a zone file).
    pub hash: AnnounceHash,
}

impl Announce {
    /// Body length.
    pub const LEN: usize = 20;

    pub(super) fn decode(body: &[u8]) -> Result<Self, WireError> {
        exact_len(Opcode::Announce, body, Self::LEN)?;
        Ok(Announce { hash: AnnounceHash(fixed(body)) })
    }

    pub(super) fn encode_body(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.hash.0);
    }
}

/// `$` TOKEN_TRANSFER: moves tokens to `output[1]`'s owner (epoch >= 4).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TokenTransfer {
    /// A recent consensus hash (all zeros allowed from epoch 5).
    pub consensus_hash: ConsensusHash,
    /// Token type with NUL padding stripped (`STACKS`).
    pub token_type: String,
    /// Amount in the token's smallest unit.
    pub amount: u64,
    /// Free-form trailing bytes.
    pub scratch: Vec<u8>,
}

impl TokenTransfer {
    /// Shortest body (empty scratch area).
    pub const MIN_LEN: usize = 43;

    pub(super) fn decode(body: &[u8], epoch: u8) -> Result<Self, WireError> {
        let op = Opcode::TokenTransfer;
        if epoch < EPOCH_TOKENS {
            return Err(WireError::NotInEpoch { op, epoch });
        }
        if body.len() < Self::MIN_LEN {
            return Err(WireError::BadLength { op, len: body.len(), expected: Expected::AtLeast(Self::MIN_LEN) });
        }
        let (units, lead) = strip_nuls(&body[16..35]);
        Ok(TokenTransfer {
            consensus_hash: ConsensusHash(fixed(&body[0..16])),
            token_type: ascii_at(op, units, 16 + lead)?,
            amount: be_u64(&body[35..43]),
            scratch: body[43..].to_vec(),
        })
    }

    pub(super) fn encode_body(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.consensus_hash.0);
        put_padded(out, &self.token_type, UNITS_LEN);
        out.extend_from_slice(&self.amount.to_be_bytes());
        out.extend_from_slice(&self.scratch);
    }
}
