//! Preorder commitments (SPEC.md §2): what a `?` or `*` op commits to and
//! what the following `:` or `&` must reproduce.
//!
//! ```text
//! preorder_hash = hash160( b40_to_bin(fqn or ns_id)
//!                       || sender scriptPubKey bytes
//!                       || ASCII of the base58 address of output[1] of the registration / reveal )
//! ```
//!
//! The registration (or reveal) recomputes the hash with its OWN sender
//! script, so both transactions must be sent by the same key.

use bitcoin::Script;

use super::b40::{b40_to_bin, B40Error};
use crate::hash::{hash160, PreorderHash};

/// Core's `hash_name(name, script_pubkey, register_addr)`.
fn hash_name(name: &str, sender_script: &Script, address: &str) -> Result<PreorderHash, B40Error> {
    let mut data = b40_to_bin(name)?;
    data.extend_from_slice(sender_script.as_bytes());
    data.extend_from_slice(address.as_bytes());
    Ok(PreorderHash(hash160(&data)))
}

/// The hash a name preorder commits to: `fqn` registered by `sender_script`
/// to `register_address` (the base58 address of the registration's `output[1]`).
///
/// Fails only if `fqn` has a byte outside the base-40 alphabet; no other
/// name syntax is checked here.
pub fn name_preorder_hash(fqn: &str, sender_script: &Script, register_address: &str) -> Result<PreorderHash, B40Error> {
    hash_name(fqn, sender_script, register_address)
}

/// The hash a namespace preorder commits to: `namespace_id` revealed by
/// `sender_script` with `reveal_address` (the base58 address of the reveal's
/// `output[1]`).
pub fn namespace_preorder_hash(
    namespace_id: &str,
    sender_script: &Script,
    reveal_address: &str,
) -> Result<PreorderHash, B40Error> {
    hash_name(namespace_id, sender_script, reveal_address)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::ScriptBuf;

    #[test]
    fn mainnet_patrickstanley_vector() {
        // docs/naming/resolving.md: preorder 6730ae09...e889 at 445838.
        let sender = ScriptBuf::from_hex("76a91408d0dd44c1f0a3a4f0957ae95901929d7d66d55788ac").unwrap();
        let h = name_preorder_hash("patrickstanley.id", &sender, "17CbHgTgBG3kLedXNneEKBkCTgW2fyrnUD").unwrap();
        assert_eq!(h.to_hex(), "26bf7874706ac761afdd403ed6b3b9578fb01a34");
    }

    #[test]
    fn namespace_hash_is_the_same_construction() {
        let sender = ScriptBuf::from_hex("a914000102030405060708090a0b0c0d0e0f1011121387").unwrap();
        assert_eq!(
            namespace_preorder_hash("id", &sender, "1BoatSLRHtKNngkdXEeobR76b53LETtpyT").unwrap(),
            name_preorder_hash("id", &sender, "1BoatSLRHtKNngkdXEeobR76b53LETtpyT").unwrap()
        );
        assert!(name_preorder_hash("Bad.id", &sender, "x").is_err());
    }
}
