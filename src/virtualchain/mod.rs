//! Layer 2: the virtualchain. Wire formats of every BNS operation, reading
//! a Bitcoin transaction as one, and the consensus-hash math (SPEC.md §1-§3).
//!
//! Pure and synchronous; depends only on external crates and [`crate::hash`].
//! Nothing here knows the name database: a decoded [`wire::Op`] or
//! [`scan::OpTx`] is unchecked input for the `bns` layer.
//!
//! - [`b40`]: base-40 names and the name / namespace-id syntax rules.
//! - [`wire`]: [`wire::Op::decode`] / [`wire::Op::encode`] per epoch.
//! - [`scan`]: [`scan::candidate_payload`] and [`scan::decode_tx`].
//! - [`preorder`]: the preorder commitments.
//! - [`consensus`]: Python-2 field formatting, Merkle root, consensus hash.

pub mod b40;
pub mod consensus;
pub mod preorder;
pub mod scan;
mod script;
pub mod wire;

#[cfg(test)]
mod scan_tests;

pub use scan::{burn_address, candidate_payload, decode_tx, OpKind, OpTx, ScanError};
pub use wire::{payload, Op, Opcode, WireError};
