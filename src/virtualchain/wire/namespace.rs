//! Namespace operations: `*` preorder, `&` reveal, `!` ready. Offsets are
//! into the body (after magic and opcode); integers are big-endian.
//!
//! ```text
//! * NAMESPACE_PREORDER  0                    20               36                44
//!                       | preorder hash (20) | cons. hash (16) | [STX fee u64]  |
//!                       epochs 1-3: exactly 36; epoch>=4: exactly 44 (fee required)
//!
//! & NAMESPACE_REVEAL    0          4       5      6                  14          15         17
//!                       | lifetime | coeff | base | 16 bucket nibbles | discounts | version  | namespace id ... |
//!                       | u32      | u8    | u8   | high nibble first | hi=nonalpha lo=no-vowel | u16 | (1..=19) |
//!                       at least 18 bytes
//!
//! ! NAMESPACE_READY     0     1
//!                       | '.' | namespace id (1..=19) |
//! ```

use super::{ascii_at, be_u64, fixed, Expected, Opcode, WireError, EPOCH_TOKENS};
use crate::hash::{ConsensusHash, PreorderHash};
use crate::virtualchain::b40::is_namespace_id_valid;

/// `*` NAMESPACE_PREORDER: commits to a namespace id.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NamespacePreorder {
    /// `hash160(b40(ns_id) || sender script || reveal address)`.
    pub preorder_hash: PreorderHash,
    /// A recent consensus hash.
    pub consensus_hash: ConsensusHash,
    /// STACKs paid, in micro-STX: required in epoch >= 4, absent before.
    pub stx_fee: Option<u64>,
}

impl NamespacePreorder {
    /// Body length in epochs 1-3.
    pub const LEN: usize = 36;
    /// Body length in epoch >= 4.
    pub const LEN_WITH_FEE: usize = 44;

    pub(super) fn decode(body: &[u8], epoch: u8) -> Result<Self, WireError> {
        let want = if epoch >= EPOCH_TOKENS { Self::LEN_WITH_FEE } else { Self::LEN };
        if body.len() != want {
            return Err(WireError::BadLength {
                op: Opcode::NamespacePreorder,
                len: body.len(),
                expected: Expected::Exactly(want),
            });
        }
        Ok(NamespacePreorder {
            preorder_hash: PreorderHash(fixed(&body[0..20])),
            consensus_hash: ConsensusHash(fixed(&body[20..36])),
            stx_fee: (want == Self::LEN_WITH_FEE).then(|| be_u64(&body[36..44])),
        })
    }

    pub(super) fn encode_body(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.preorder_hash.0);
        out.extend_from_slice(&self.consensus_hash.0);
        if let Some(fee) = self.stx_fee {
            out.extend_from_slice(&fee.to_be_bytes());
        }
    }
}

/// `&` NAMESPACE_REVEAL: reveals a preordered namespace and its price curve.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NamespaceReveal {
    /// Name lifetime in blocks ([`NamespaceReveal::LIFETIME_INFINITE`] = never expires).
    pub lifetime: u32,
    /// Price coefficient.
    pub coeff: u8,
    /// Price base.
    pub base: u8,
    /// Price exponent per name length 1..=16+ (each 0..=15).
    pub buckets: [u8; 16],
    /// Discount for names with non-alphabetic characters (1..=15).
    pub nonalpha_discount: u8,
    /// Discount for names without vowels (1..=15).
    pub no_vowel_discount: u8,
    /// Version bits: 1 pay-to-burn, 2 pay-to-creator, 3 pay-with-STACKs.
    pub version: u16,
    /// The namespace id.
    pub namespace_id: String,
}

impl NamespaceReveal {
    /// Shortest body (one-character namespace id).
    pub const MIN_LEN: usize = 18;
    /// Lifetime value meaning "names never expire".
    pub const LIFETIME_INFINITE: u32 = u32::MAX;
    /// Version 1: names are paid for by burning.
    pub const VERSION_PAY_TO_BURN: u16 = 1;
    /// Version 2: names pay the namespace creator for a year (epoch >= 3).
    pub const VERSION_PAY_TO_CREATOR: u16 = 2;
    /// Version 3: names are paid for in STACKs (epoch >= 4).
    pub const VERSION_PAY_WITH_STACKS: u16 = 3;

    pub(super) fn decode(body: &[u8]) -> Result<Self, WireError> {
        let op = Opcode::NamespaceReveal;
        if body.len() < Self::MIN_LEN {
            return Err(WireError::BadLength { op, len: body.len(), expected: Expected::AtLeast(Self::MIN_LEN) });
        }
        let mut buckets = [0u8; 16];
        for (i, byte) in body[6..14].iter().enumerate() {
            buckets[2 * i] = byte >> 4;
            buckets[2 * i + 1] = byte & 0x0f;
        }
        let reveal = NamespaceReveal {
            lifetime: u32::from_be_bytes(fixed(&body[0..4])),
            coeff: body[4],
            base: body[5],
            buckets,
            nonalpha_discount: body[14] >> 4,
            no_vowel_discount: body[14] & 0x0f,
            version: u16::from_be_bytes(fixed(&body[15..17])),
            namespace_id: ascii_at(op, &body[17..], 17)?,
        };
        if !is_namespace_id_valid(&reveal.namespace_id) {
            return Err(WireError::InvalidNamespaceId { op, namespace_id: reveal.namespace_id });
        }
        if !(Self::VERSION_PAY_TO_BURN..=Self::VERSION_PAY_WITH_STACKS).contains(&reveal.version) {
            return Err(WireError::BadVersion(reveal.version));
        }
        for (which, value) in [("nonalpha", reveal.nonalpha_discount), ("no-vowel", reveal.no_vowel_discount)] {
            if value == 0 {
                return Err(WireError::BadDiscount { which, value });
            }
        }
        Ok(reveal)
    }

    pub(super) fn encode_body(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.lifetime.to_be_bytes());
        out.push(self.coeff);
        out.push(self.base);
        for pair in self.buckets.chunks(2) {
            out.push((pair[0] << 4) | (pair[1] & 0x0f));
        }
        out.push((self.nonalpha_discount << 4) | (self.no_vowel_discount & 0x0f));
        out.extend_from_slice(&self.version.to_be_bytes());
        out.extend_from_slice(self.namespace_id.as_bytes());
    }
}

/// `!` NAMESPACE_READY: opens a revealed namespace to registrations.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NamespaceReady {
    /// The namespace id (without the leading `.`).
    pub namespace_id: String,
}

impl NamespaceReady {
    pub(super) fn decode(body: &[u8]) -> Result<Self, WireError> {
        let op = Opcode::NamespaceReady;
        let (&dot, id) =
            body.split_first().ok_or(WireError::BadLength { op, len: 0, expected: Expected::AtLeast(2) })?;
        if dot != b'.' {
            return Err(WireError::MissingDot(dot));
        }
        let namespace_id = ascii_at(op, id, 1)?;
        if !is_namespace_id_valid(&namespace_id) {
            return Err(WireError::InvalidNamespaceId { op, namespace_id });
        }
        Ok(NamespaceReady { namespace_id })
    }

    pub(super) fn encode_body(&self, out: &mut Vec<u8>) {
        out.push(b'.');
        out.extend_from_slice(self.namespace_id.as_bytes());
    }
}
