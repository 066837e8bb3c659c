//! The state BNS keeps: preorders, namespaces and names, with the fields Core
//! stores for them (their names follow Core's so the API can return them).

use serde::{Deserialize, Serialize};

use super::epoch::{Epoch, INFINITE_LIFETIME, NAMESPACE_REVEAL_EXPIRE};
use super::names::{name_price, NameFee, PriceFunction};
use crate::hash::{ConsensusHash, PreorderHash, ValueHash};

/// An outstanding (or consumed) name or namespace preorder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreorderRecord {
    /// The committed hash.
    pub preorder_hash: PreorderHash,
    /// Consensus hash the preorder carried.
    pub consensus_hash: ConsensusHash,
    /// scriptPubKey hex of the preorder's sender.
    pub sender: String,
    /// Sender public key hex, if the sender is p2pkh and revealed it.
    pub sender_pubkey: Option<String>,
    /// Base58 address of the sender.
    pub address: String,
    /// Block the preorder was mined in.
    pub block_number: u64,
    /// Satoshis paid in the fee output.
    pub op_fee: u64,
    /// Address the fee output paid.
    pub burn_address: Option<String>,
    /// Tokens burned (epoch >= 4 name preorders) or STX fee (namespace preorders).
    pub token_fee: u64,
    /// `STACKS` when the preorder paid in tokens (epoch >= 4), else `None` (BTC).
    pub token_units: Option<String>,
    /// `?` for names, `*` for namespaces.
    pub op: String,
    /// Transaction id.
    pub txid: String,
    /// Position of the transaction in its block.
    pub vtxindex: u32,
}

/// A namespace, revealed and maybe ready.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamespaceRecord {
    /// The id (`id`, `btc`, ...).
    pub namespace_id: String,
    /// The preorder hash the reveal consumed.
    pub preorder_hash: PreorderHash,
    /// Version bits: 1 burn, 2 pay creator, 3 pay STACKs.
    pub version: u16,
    /// Preorder sender script hex.
    pub sender: String,
    /// Preorder sender public key hex.
    pub sender_pubkey: Option<String>,
    /// Preorder sender address.
    pub address: String,
    /// Revealer script hex (output 1 of the reveal).
    pub recipient: String,
    /// Revealer address.
    pub recipient_address: String,
    /// Block of the namespace preorder.
    pub block_number: u64,
    /// Block of the reveal.
    pub reveal_block: u64,
    /// Block of the ready op, once ready.
    pub ready_block: Option<u64>,
    /// Last op on the namespace (`&` or `!`).
    pub op: String,
    /// Transaction id of the last op.
    pub txid: String,
    /// Position of that transaction in its block.
    pub vtxindex: u32,
    /// Name lifetime in blocks (before the epoch multiplier).
    pub lifetime: u32,
    /// Price coefficient.
    pub coeff: u8,
    /// Price base.
    pub base: u8,
    /// Price exponents per length.
    pub buckets: [u8; 16],
    /// Discount for non-alphabetic names.
    pub nonalpha_discount: u8,
    /// Discount for names without vowels.
    pub no_vowel_discount: u8,
    /// Satoshis paid by the namespace preorder.
    pub op_fee: u64,
}

impl NamespaceRecord {
    /// The namespace's price function.
    pub fn price_function(&self) -> PriceFunction {
        PriceFunction {
            coeff: self.coeff,
            base: self.base,
            buckets: self.buckets,
            nonalpha_discount: self.nonalpha_discount,
            no_vowel_discount: self.no_vowel_discount,
        }
    }

    /// True once the ready op was accepted.
    pub fn is_ready(&self) -> bool {
        self.ready_block.is_some()
    }

    /// True while revealed and not ready, and the reveal has not expired at `h`.
    pub fn is_revealed_at(&self, h: u64) -> bool {
        !self.is_ready() && self.reveal_block <= h && h < self.reveal_block + NAMESPACE_REVEAL_EXPIRE
    }

    /// True if names in this namespace never expire.
    pub fn is_infinite(&self) -> bool {
        self.lifetime == INFINITE_LIFETIME
    }

    /// What a preorder or renewal of `label` in this namespace must pay when
    /// mined in block `block` whose epoch is `epoch` (the rules price it at
    /// the preorder's block and decide the payee at the registration's; both
    /// are `block` for an op about to be sent).
    pub fn name_fee(&self, label: &str, epoch: &Epoch, block: u64) -> NameFee {
        if self.version == 3 {
            return NameFee::Stacks(name_price(label, &self.price_function(), epoch, true).ceil());
        }
        let amount = name_price(label, &self.price_function(), epoch, false).ceil();
        let period = epoch.namespace_receive_fees_period;
        let to_creator = self.version == 2 && period > 0 && self.reveal_block + period >= block;
        NameFee::Sats { amount, to_creator }
    }
}

/// A registered (or imported) name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NameRecord {
    /// Fully-qualified name.
    pub name: String,
    /// Its namespace id.
    pub namespace_id: String,
    /// Zone-file hash, if set.
    pub value_hash: Option<ValueHash>,
    /// Owner script hex.
    pub sender: String,
    /// Public key hex of whoever last created/renewed it, if known.
    pub sender_pubkey: Option<String>,
    /// Owner address.
    pub address: String,
    /// Preorder block of the first registration.
    pub block_number: u64,
    /// Preorder block of the latest registration.
    pub preorder_block_number: u64,
    /// Block of the latest (re)registration.
    pub first_registered: u64,
    /// Block of the latest registration or renewal.
    pub last_renewed: u64,
    /// True once revoked.
    pub revoked: bool,
    /// Core's op string of the last op (`:`, `+`, `>>`, ...).
    pub op: String,
    /// Transaction id of the last op.
    pub txid: String,
    /// Position of that transaction in its block.
    pub vtxindex: u32,
    /// Fee of the registration or last renewal.
    pub op_fee: u64,
    /// Importer script hex (imported names).
    pub importer: Option<String>,
    /// Importer address (imported names).
    pub importer_address: Option<String>,
    /// `?` after a registration, `;` after an import (decides op_fee's float spelling).
    pub last_creation_op: String,
    /// Block of the last op on this name.
    pub last_block: u64,
}

/// A name's life stage at a height.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Liveness {
    /// Registered and not expired.
    Live,
    /// Past its expiry, inside the grace period: only renewal is allowed.
    Grace,
    /// Expired.
    Expired,
}

impl NameRecord {
    /// Block at which the name expires, or `None` for infinite lifetimes.
    pub fn expire_block(&self, ns: &NamespaceRecord, epoch: &Epoch) -> Option<u64> {
        if ns.is_infinite() {
            return None;
        }
        let base = ns.ready_block.unwrap_or(ns.reveal_block).max(self.last_renewed);
        Some(base.saturating_add(ns.lifetime as u64 * epoch.lifetime_multiplier))
    }

    /// The first height at or after `h` from which [`NameRecord::liveness`]
    /// says `Expired` (`Some(h)` if it already does), or `None` if that never
    /// comes without another op. Uses `epoch`'s lifetime and grace throughout.
    pub fn expires_at(&self, ns: &NamespaceRecord, epoch: &Epoch, h: u64) -> Option<u64> {
        if self.first_registered > h {
            return Some(h);
        }
        let Some(ready) = ns.ready_block else {
            let end = ns.reveal_block + NAMESPACE_REVEAL_EXPIRE;
            return Some(if ns.reveal_block > h { h } else { end.max(h) });
        };
        if ns.is_infinite() {
            return None;
        }
        let span = ns.lifetime as u64 * epoch.lifetime_multiplier;
        let g = epoch.grace_period;
        // Registered while `ready + span + g > h` or `last_renewed + span + g >= h`.
        Some((ready + span + g).max(self.last_renewed + span + g + 1).max(h))
    }

    /// Where the name stands at height `h` (Core's liveness rule, SPEC.md §4).
    ///
    /// Registered means `first_registered <= h` and `ready + L*m + g > h` or
    /// `last_renewed + L*m + g >= h` (Core's two comparisons differ on purpose);
    /// grace is `expire_block <= h < expire_block + g`.
    pub fn liveness(&self, ns: &NamespaceRecord, epoch: &Epoch, h: u64) -> Liveness {
        if self.first_registered > h {
            return Liveness::Expired;
        }
        let Some(ready) = ns.ready_block else {
            return if ns.is_revealed_at(h) { Liveness::Live } else { Liveness::Expired };
        };
        if ns.is_infinite() {
            return Liveness::Live;
        }
        let span = ns.lifetime as u64 * epoch.lifetime_multiplier;
        let g = epoch.grace_period;
        let registered = ready + span + g > h || self.last_renewed + span + g >= h;
        if !registered {
            return Liveness::Expired;
        }
        let expire = ready.max(self.last_renewed) + span;
        if expire <= h && h < expire + g {
            Liveness::Grace
        } else {
            Liveness::Live
        }
    }
}

/// A namespace `id` revealed at `reveal` (and ready at `ready`), for tests.
#[cfg(test)]
pub(crate) fn test_namespace(lifetime: u32, reveal: u64, ready: Option<u64>) -> NamespaceRecord {
    NamespaceRecord {
        namespace_id: "id".into(),
        preorder_hash: Default::default(),
        version: 1,
        sender: String::new(),
        sender_pubkey: None,
        address: String::new(),
        recipient: String::new(),
        recipient_address: String::new(),
        block_number: reveal,
        reveal_block: reveal,
        ready_block: ready,
        op: "!".into(),
        txid: String::new(),
        vtxindex: 0,
        lifetime,
        coeff: 1,
        base: 1,
        buckets: [0; 16],
        nonalpha_discount: 1,
        no_vowel_discount: 1,
        op_fee: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::test_namespace as ns;
    use super::*;
    use crate::bns::epoch::ChainParams;

    fn name(registered: u64, renewed: u64) -> NameRecord {
        NameRecord {
            name: "a.id".into(),
            namespace_id: "id".into(),
            value_hash: None,
            sender: String::new(),
            sender_pubkey: None,
            address: String::new(),
            block_number: registered,
            preorder_block_number: registered,
            first_registered: registered,
            last_renewed: renewed,
            revoked: false,
            op: ":".into(),
            txid: String::new(),
            vtxindex: 0,
            op_fee: 0,
            importer: None,
            importer_address: None,
            last_creation_op: "?".into(),
            last_block: renewed,
        }
    }

    #[test]
    fn lifetime_multiplier_and_grace_follow_the_epoch() {
        let p = ChainParams::mainnet();
        // Epoch 1: multiplier 1, no grace. Registered at 400000, lifetime 1000.
        let (e1, n1) = (p.epoch_at(400_000), ns(1000, 390_000, Some(390_001)));
        let r = name(400_000, 400_000);
        assert_eq!(r.expire_block(&n1, &e1), Some(401_000));
        assert_eq!(r.liveness(&n1, &e1, 400_999), Liveness::Live);
        // Core's `last_renewed + L*m + g >= h` keeps it registered at exactly the deadline.
        assert_eq!(r.liveness(&n1, &e1, 401_000), Liveness::Live);
        assert_eq!(r.liveness(&n1, &e1, 401_001), Liveness::Expired);
        // Epoch 4: multiplier 2, grace 5000.
        let (e4, n4) = (p.epoch_at(560_000), ns(1000, 550_000, Some(550_001)));
        let r = name(560_000, 560_000);
        assert_eq!(r.expire_block(&n4, &e4), Some(562_000));
        assert_eq!(r.liveness(&n4, &e4, 561_999), Liveness::Live);
        assert_eq!(r.liveness(&n4, &e4, 562_000), Liveness::Grace);
        assert_eq!(r.liveness(&n4, &e4, 566_999), Liveness::Grace);
        assert_eq!(r.liveness(&n4, &e4, 567_001), Liveness::Expired);
        // Not registered before its first block.
        assert_eq!(r.liveness(&n4, &e4, 559_999), Liveness::Expired);
    }

    #[test]
    fn expires_at_agrees_with_liveness() {
        let p = ChainParams::mainnet();
        for (epoch_h, life, reveal, ready, reg, renew) in [
            (400_000, 1000, 390_000, Some(390_001), 400_000, 400_000),
            (560_000, 1000, 550_000, Some(550_001), 560_000, 560_500),
            (560_000, 3, 559_990, Some(559_995), 559_996, 559_996),
            (560_000, 1000, 559_000, None, 559_500, 559_500),
            (560_000, INFINITE_LIFETIME, 550_000, Some(550_001), 560_000, 560_000),
        ] {
            let (e, n, r) = (p.epoch_at(epoch_h), ns(life, reveal, ready), name(reg, renew));
            for start in [reg, reg + 500, reg + 999, reg + 7000] {
                let at = r.expires_at(&n, &e, start);
                for h in start..start + 60_000 {
                    let expired = r.liveness(&n, &e, h) == Liveness::Expired;
                    assert_eq!(expired, at.is_some_and(|x| h >= x), "life {life} start {start} h {h} at {at:?}");
                }
            }
        }
    }

    #[test]
    fn infinite_lifetimes_and_revealed_namespaces() {
        let p = ChainParams::mainnet();
        let e = p.epoch_at(600_000);
        let forever = ns(INFINITE_LIFETIME, 500_000, Some(500_001));
        let r = name(500_010, 500_010);
        assert_eq!(r.expire_block(&forever, &e), None);
        assert_eq!(r.liveness(&forever, &e, 10_000_000), Liveness::Live);
        // Imported into a revealed namespace: alive for a year after the reveal.
        let revealed = ns(1000, 500_000, None);
        assert_eq!(r.liveness(&revealed, &e, 500_000 + NAMESPACE_REVEAL_EXPIRE - 1), Liveness::Live);
        assert_eq!(r.liveness(&revealed, &e, 500_000 + NAMESPACE_REVEAL_EXPIRE), Liveness::Expired);
        assert!(revealed.is_revealed_at(500_000) && !revealed.is_revealed_at(499_999));
    }
}
