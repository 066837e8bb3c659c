//! Wire formats of the eleven BNS operations (SPEC.md §1).
//!
//! ```text
//! OP_RETURN <push>:   0      2        3
//!                     |------|--------|---------------------------------|
//!                      magic  opcode   body (op-specific, big-endian ints)
//!                      "id"   ? : + > ~ ; * & ! # $
//!
//!   ?  NAME_PREORDER        :  NAME_REGISTRATION / NAME_RENEWAL   +  NAME_UPDATE
//!   >  NAME_TRANSFER        ~  NAME_REVOKE                        ;  NAME_IMPORT
//!   *  NAMESPACE_PREORDER   &  NAMESPACE_REVEAL                   !  NAMESPACE_READY
//!   #  ANNOUNCE             $  TOKEN_TRANSFER
//! ```
//!
//! [`Op::decode`] takes the bytes after the magic (opcode first) and accepts
//! exactly what Core's per-op `parse()` accepts for that epoch: a payload it
//! rejects is not an operation at all. [`Op::encode`] writes the opcode and
//! body; [`payload`] prepends the magic. The per-op layouts and byte diagrams
//! live in `name.rs`, `namespace.rs` and `misc.rs`.

use std::fmt;

mod misc;
mod name;
mod namespace;
#[cfg(test)]
mod tests;

pub use misc::{Announce, TokenTransfer};
pub use name::{NameImport, NamePreorder, NameRegistration, NameRevoke, NameTransfer, NameUpdate, TokenBurn};
pub use namespace::{NamespacePreorder, NamespaceReady, NamespaceReveal};

/// First epoch (mainnet blocks 373601..=436650).
pub const MIN_EPOCH: u8 = 1;
/// Last epoch (v22's epoch 6, open-ended).
pub const MAX_EPOCH: u8 = 6;
/// First epoch whose registrations and renewals may carry a value hash
/// (`OP_REGISTER_UPDATE`, `OP_RENEW_TRANSFER_UPDATE`).
pub const EPOCH_VALUE_HASH: u8 = 3;
/// First epoch with token fields (`NAMEOPS_COST_TOKENS`,
/// `STACKS_BUY_NAMESPACES`, `TOKEN_TRANSFER`).
pub const EPOCH_TOKENS: u8 = 4;

/// The opcode byte (third payload byte) of a BNS operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Opcode {
    /// `?` NAME_PREORDER.
    NamePreorder = b'?',
    /// `:` NAME_REGISTRATION, also NAME_RENEWAL (the transaction decides).
    NameRegistration = b':',
    /// `+` NAME_UPDATE.
    NameUpdate = b'+',
    /// `>` NAME_TRANSFER.
    NameTransfer = b'>',
    /// `~` NAME_REVOKE.
    NameRevoke = b'~',
    /// `;` NAME_IMPORT.
    NameImport = b';',
    /// `*` NAMESPACE_PREORDER.
    NamespacePreorder = b'*',
    /// `&` NAMESPACE_REVEAL.
    NamespaceReveal = b'&',
    /// `!` NAMESPACE_READY.
    NamespaceReady = b'!',
    /// `#` ANNOUNCE.
    Announce = b'#',
    /// `$` TOKEN_TRANSFER (epoch >= 4).
    TokenTransfer = b'$',
}

impl Opcode {
    /// Every opcode, in Core's `OPCODES` order.
    pub const ALL: [Opcode; 11] = [
        Opcode::NamePreorder,
        Opcode::NameRevoke,
        Opcode::NameRegistration,
        Opcode::NameUpdate,
        Opcode::NameTransfer,
        Opcode::NameImport,
        Opcode::NamespacePreorder,
        Opcode::NamespaceReveal,
        Opcode::NamespaceReady,
        Opcode::Announce,
        Opcode::TokenTransfer,
    ];

    /// The opcode for byte `b`, if it is one.
    pub fn from_byte(b: u8) -> Option<Opcode> {
        Opcode::ALL.into_iter().find(|op| op.byte() == b)
    }

    /// The wire byte.
    pub fn byte(self) -> u8 {
        self as u8
    }

    /// The wire byte as a char (the `opchar` of a consensus serialization).
    pub fn as_char(self) -> char {
        char::from(self.byte())
    }

    /// Core's opcode name (`OPCODE_NAMES`); `:` is `NAME_REGISTRATION`.
    pub fn name(self) -> &'static str {
        match self {
            Opcode::NamePreorder => "NAME_PREORDER",
            Opcode::NameRegistration => "NAME_REGISTRATION",
            Opcode::NameUpdate => "NAME_UPDATE",
            Opcode::NameTransfer => "NAME_TRANSFER",
            Opcode::NameRevoke => "NAME_REVOKE",
            Opcode::NameImport => "NAME_IMPORT",
            Opcode::NamespacePreorder => "NAMESPACE_PREORDER",
            Opcode::NamespaceReveal => "NAMESPACE_REVEAL",
            Opcode::NamespaceReady => "NAMESPACE_READY",
            Opcode::Announce => "ANNOUNCE",
            Opcode::TokenTransfer => "TOKEN_TRANSFER",
        }
    }
}

impl fmt::Display for Opcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ('{}')", self.name(), self.as_char())
    }
}

/// A length rule, as reported by [`WireError::BadLength`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// Exactly this many bytes.
    Exactly(usize),
    /// One of two lengths.
    Either(usize, usize),
    /// At least this many bytes.
    AtLeast(usize),
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::Exactly(n) => write!(f, "exactly {n}"),
            Expected::Either(a, b) => write!(f, "{a} or {b}"),
            Expected::AtLeast(n) => write!(f, "at least {n}"),
        }
    }
}

/// Why a payload is not a BNS operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// No opcode byte.
    #[error("empty payload: no opcode byte")]
    Empty,
    /// The opcode byte is not one of `? : + > ~ ; * & ! # $`.
    #[error("unknown opcode byte 0x{0:02x}")]
    UnknownOpcode(u8),
    /// The epoch is outside 1..=6.
    #[error("epoch {0} is outside {MIN_EPOCH}..={MAX_EPOCH}")]
    BadEpoch(u8),
    /// The body has a length the op does not allow in this epoch.
    #[error("{op} body is {len} bytes, expected {expected}")]
    BadLength {
        /// The operation.
        op: Opcode,
        /// Body length (after the opcode byte).
        len: usize,
        /// What the epoch allows.
        expected: Expected,
    },
    /// The op does not exist yet in this epoch.
    #[error("{op} is not enabled in epoch {epoch}")]
    NotInEpoch {
        /// The operation.
        op: Opcode,
        /// The epoch asked for.
        epoch: u8,
    },
    /// A text field holds a non-ASCII byte.
    #[error("{op} text field has non-ASCII byte 0x{byte:02x} at body offset {offset}")]
    NotAscii {
        /// The operation.
        op: Opcode,
        /// Offset in the body.
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// The fully-qualified name fails Core's `is_name_valid`.
    #[error("{op} carries invalid name {name:?}")]
    InvalidName {
        /// The operation.
        op: Opcode,
        /// The (ASCII) name as decoded.
        name: String,
    },
    /// The namespace id fails Core's namespace-id rules.
    #[error("{op} carries invalid namespace id {namespace_id:?}")]
    InvalidNamespaceId {
        /// The operation.
        op: Opcode,
        /// The (ASCII) id as decoded.
        namespace_id: String,
    },
    /// A transfer's first body byte is neither `>` nor `~`.
    #[error("transfer disposition byte 0x{0:02x} is neither '>' nor '~'")]
    BadDisposition(u8),
    /// A namespace reveal's version is not 1, 2 or 3.
    #[error("namespace version {0} is not 1, 2 or 3")]
    BadVersion(u16),
    /// A namespace reveal discount nibble is 0.
    #[error("namespace {which} discount is {value}, must be 1..=15")]
    BadDiscount {
        /// `"nonalpha"` or `"no-vowel"`.
        which: &'static str,
        /// The nibble.
        value: u8,
    },
    /// A namespace ready body does not start with `.`.
    #[error("namespace ready body starts with 0x{0:02x}, not '.'")]
    MissingDot(u8),
    /// [`Op::try_encode`]: the op's fields break a wire limit, so its bytes
    /// would not decode back to it.
    #[error("{0} fields do not survive an encode/decode round trip")]
    NotCanonical(Opcode),
}

/// One decoded BNS operation (unchecked: only its bytes have been read).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "type", content = "fields", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Op {
    /// `?`
    NamePreorder(NamePreorder),
    /// `:` registration or renewal.
    NameRegistration(NameRegistration),
    /// `+`
    NameUpdate(NameUpdate),
    /// `>`
    NameTransfer(NameTransfer),
    /// `~`
    NameRevoke(NameRevoke),
    /// `;`
    NameImport(NameImport),
    /// `*`
    NamespacePreorder(NamespacePreorder),
    /// `&`
    NamespaceReveal(NamespaceReveal),
    /// `!`
    NamespaceReady(NamespaceReady),
    /// `#`
    Announce(Announce),
    /// `$`
    TokenTransfer(TokenTransfer),
}

impl Op {
    /// Decodes `payload_after_magic` (opcode byte first) under the length
    /// and field rules of `epoch` (1..=6). Never panics.
    pub fn decode(payload_after_magic: &[u8], epoch: u8) -> Result<Op, WireError> {
        if !(MIN_EPOCH..=MAX_EPOCH).contains(&epoch) {
            return Err(WireError::BadEpoch(epoch));
        }
        let (&byte, body) = payload_after_magic.split_first().ok_or(WireError::Empty)?;
        let opcode = Opcode::from_byte(byte).ok_or(WireError::UnknownOpcode(byte))?;
        Ok(match opcode {
            Opcode::NamePreorder => Op::NamePreorder(NamePreorder::decode(body, epoch)?),
            Opcode::NameRegistration => Op::NameRegistration(NameRegistration::decode(body, epoch)?),
            Opcode::NameUpdate => Op::NameUpdate(NameUpdate::decode(body)?),
            Opcode::NameTransfer => Op::NameTransfer(NameTransfer::decode(body)?),
            Opcode::NameRevoke => Op::NameRevoke(NameRevoke::decode(body)?),
            Opcode::NameImport => Op::NameImport(NameImport::decode(body)?),
            Opcode::NamespacePreorder => Op::NamespacePreorder(NamespacePreorder::decode(body, epoch)?),
            Opcode::NamespaceReveal => Op::NamespaceReveal(NamespaceReveal::decode(body)?),
            Opcode::NamespaceReady => Op::NamespaceReady(NamespaceReady::decode(body)?),
            Opcode::Announce => Op::Announce(Announce::decode(body)?),
            Opcode::TokenTransfer => Op::TokenTransfer(TokenTransfer::decode(body, epoch)?),
        })
    }

    /// The opcode byte followed by the body. Callers prepend the two magic
    /// bytes (see [`payload`]).
    ///
    /// Fields are written as held; an op whose fields break a wire limit
    /// (text too long, a nibble over 15, tokens without a value hash) gives
    /// bytes that do not decode back to it. [`Op::try_encode`] checks that.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(80);
        out.push(self.opcode().byte());
        match self {
            Op::NamePreorder(op) => op.encode_body(&mut out),
            Op::NameRegistration(op) => op.encode_body(&mut out),
            Op::NameUpdate(op) => op.encode_body(&mut out),
            Op::NameTransfer(op) => op.encode_body(&mut out),
            Op::NameRevoke(op) => op.encode_body(&mut out),
            Op::NameImport(op) => op.encode_body(&mut out),
            Op::NamespacePreorder(op) => op.encode_body(&mut out),
            Op::NamespaceReveal(op) => op.encode_body(&mut out),
            Op::NamespaceReady(op) => op.encode_body(&mut out),
            Op::Announce(op) => op.encode_body(&mut out),
            Op::TokenTransfer(op) => op.encode_body(&mut out),
        }
        out
    }

    /// [`Op::encode`], but only if the bytes decode back to `self` in `epoch`.
    pub fn try_encode(&self, epoch: u8) -> Result<Vec<u8>, WireError> {
        let bytes = self.encode();
        if Op::decode(&bytes, epoch)? == *self {
            Ok(bytes)
        } else {
            Err(WireError::NotCanonical(self.opcode()))
        }
    }

    /// The opcode of this op.
    pub fn opcode(&self) -> Opcode {
        match self {
            Op::NamePreorder(_) => Opcode::NamePreorder,
            Op::NameRegistration(_) => Opcode::NameRegistration,
            Op::NameUpdate(_) => Opcode::NameUpdate,
            Op::NameTransfer(_) => Opcode::NameTransfer,
            Op::NameRevoke(_) => Opcode::NameRevoke,
            Op::NameImport(_) => Opcode::NameImport,
            Op::NamespacePreorder(_) => Opcode::NamespacePreorder,
            Op::NamespaceReveal(_) => Opcode::NamespaceReveal,
            Op::NamespaceReady(_) => Opcode::NamespaceReady,
            Op::Announce(_) => Opcode::Announce,
            Op::TokenTransfer(_) => Opcode::TokenTransfer,
        }
    }
}

/// The full OP_RETURN push for `op`: `magic || op.encode()`.
pub fn payload(magic: [u8; 2], op: &Op) -> Vec<u8> {
    let mut out = magic.to_vec();
    out.extend_from_slice(&op.encode());
    out
}

// ---- helpers shared by the per-family files ----

/// Errors unless `body.len() == n`.
fn exact_len(op: Opcode, body: &[u8], n: usize) -> Result<(), WireError> {
    if body.len() == n {
        Ok(())
    } else {
        Err(WireError::BadLength { op, len: body.len(), expected: Expected::Exactly(n) })
    }
}

/// `bytes` (found at body offset `base`) as an ASCII string.
fn ascii_at(op: Opcode, bytes: &[u8], base: usize) -> Result<String, WireError> {
    match bytes.iter().position(|b| !b.is_ascii()) {
        Some(i) => Err(WireError::NotAscii { op, offset: base + i, byte: bytes[i] }),
        None => Ok(bytes.iter().copied().map(char::from).collect()),
    }
}

/// Python's `s.strip('\x00')`: the slice without leading and trailing NULs,
/// and the number of leading NULs removed.
fn strip_nuls(bytes: &[u8]) -> (&[u8], usize) {
    let lead = bytes.iter().take_while(|b| **b == 0).count();
    let rest = &bytes[lead..];
    let keep = rest.len() - rest.iter().rev().take_while(|b| **b == 0).count();
    (&rest[..keep], lead)
}

/// Big-endian u64 from up to 8 bytes.
fn be_u64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

/// Appends `text` and pads with NULs to `width` bytes (longer text is
/// written whole, which makes the payload undecodable rather than wrong).
fn put_padded(out: &mut Vec<u8>, text: &str, width: usize) {
    out.extend_from_slice(text.as_bytes());
    out.extend(std::iter::repeat_n(0u8, width.saturating_sub(text.len())));
}

/// The first `N` bytes of `bytes` (callers length-check first; a short
/// slice is zero-filled rather than panicking).
fn fixed<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    let n = bytes.len().min(N);
    out[..n].copy_from_slice(&bytes[..n]);
    out
}
