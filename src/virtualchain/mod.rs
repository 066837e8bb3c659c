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

#![warn(missing_docs)]

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

#[cfg(test)]
mod layering {
    /// The virtualchain may use external crates and `crate::hash`, nothing
    /// else of this crate (STYLE.md §4.1: chain -> virtualchain -> bns -> ...).
    #[test]
    fn depends_only_on_crate_hash() {
        let sources = [
            include_str!("mod.rs"),
            include_str!("b40.rs"),
            include_str!("consensus.rs"),
            include_str!("preorder.rs"),
            include_str!("scan.rs"),
            include_str!("scan_tests.rs"),
            include_str!("script.rs"),
            include_str!("wire/mod.rs"),
            include_str!("wire/name.rs"),
            include_str!("wire/namespace.rs"),
            include_str!("wire/misc.rs"),
            include_str!("wire/tests.rs"),
        ];
        let needle = ["crate", "::"].concat(); // split so this file does not match itself
        for src in sources {
            for (i, _) in src.match_indices(needle.as_str()) {
                let rest = &src[i + needle.len()..];
                assert!(
                    rest.starts_with("hash") || rest.starts_with("virtualchain") || rest.starts_with("{hash"),
                    "forbidden path: {needle}{}",
                    rest.lines().next().unwrap_or("")
                );
            }
        }
    }
}
