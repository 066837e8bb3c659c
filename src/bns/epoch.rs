//! Epochs: the rule sets Blockstack Core switched between at fixed mainnet
//! heights (SPEC.md §4). Dev and regtest chains run the newest epoch from their
//! first block.

use serde::{Deserialize, Serialize};

/// Blocks in a year, as BNS counts them.
pub const BLOCKS_PER_YEAR: u64 = 52_595;
/// Blocks a name or namespace preorder stays usable (epoch >= 4 for names).
pub const NAME_PREORDER_EXPIRE: u64 = 144;
/// Blocks a revealed namespace has to become ready.
pub const NAMESPACE_REVEAL_EXPIRE: u64 = BLOCKS_PER_YEAR;
/// Most names one address may own.
pub const MAX_NAMES_PER_SENDER: usize = 25;
/// Blocks back a consensus hash stays valid in an op.
pub const CONSENSUS_HASH_WINDOW: u64 = 24;
/// Lifetime value meaning "names never expire".
pub const INFINITE_LIFETIME: u32 = u32::MAX;
/// First block Core processed on mainnet.
pub const FIRST_BLOCK_MAINNET: u64 = 373_601;
/// Consensus hash virtualchain stores for the 4 blocks before the first one
/// (`GENESIS_SNAPSHOT`): valid in ops, never mixed into later hashes.
pub const GENESIS_CONSENSUS_HASH: &str = "17ac43c1d8549c3181b200f1bf97eb7d";
/// Blocks before the first one that carry the genesis consensus hash.
pub const GENESIS_SNAPSHOT_BLOCKS: u64 = 4;
/// Token units of STACKs payments.
pub const STACKS: &str = "STACKS";
/// From this mainnet height on, v22 ignores every op (export to Stacks 2.0).
pub const IMPORT_HEIGHT_MAINNET: u64 = 665_750;

/// How a namespace's price is computed in an epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PriceRule {
    /// Float arithmetic times a multiplier (epochs 1-3).
    Float(f64),
    /// Integer arithmetic, then divided (epoch >= 4).
    IntDivision,
}

/// The rules of one epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Epoch {
    /// Epoch number, 1-based.
    pub number: u8,
    /// Name lifetime multiplier.
    pub lifetime_multiplier: u64,
    /// Grace period after expiry, in blocks.
    pub grace_period: u64,
    /// How prices are computed.
    pub price: PriceRule,
    /// How long a version-2 namespace creator receives name fees.
    pub namespace_receive_fees_period: u64,
}

const EPOCHS: [Epoch; 6] = [
    Epoch {
        number: 1,
        lifetime_multiplier: 1,
        grace_period: 0,
        price: PriceRule::Float(1.0),
        namespace_receive_fees_period: 0,
    },
    Epoch {
        number: 2,
        lifetime_multiplier: 2,
        grace_period: 0,
        price: PriceRule::Float(1.0),
        namespace_receive_fees_period: 0,
    },
    Epoch {
        number: 3,
        lifetime_multiplier: 2,
        grace_period: 5000,
        price: PriceRule::Float(0.1),
        namespace_receive_fees_period: BLOCKS_PER_YEAR,
    },
    Epoch {
        number: 4,
        lifetime_multiplier: 2,
        grace_period: 5000,
        price: PriceRule::IntDivision,
        namespace_receive_fees_period: BLOCKS_PER_YEAR,
    },
    Epoch {
        number: 5,
        lifetime_multiplier: 2,
        grace_period: 5000,
        price: PriceRule::IntDivision,
        namespace_receive_fees_period: BLOCKS_PER_YEAR,
    },
    Epoch {
        number: 6,
        lifetime_multiplier: 2,
        grace_period: 5000,
        price: PriceRule::IntDivision,
        namespace_receive_fees_period: BLOCKS_PER_YEAR,
    },
];

/// Last mainnet block of epochs 1..=5 (v22 table); epoch 6 runs forever.
const MAINNET_EPOCH_ENDS: [u64; 5] = [436_650, 488_500, 547_921, 599_866, 613_249];

/// Which chain's parameters apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChainKind {
    /// Bitcoin mainnet: Core's epoch table and first block.
    Mainnet,
    /// Testnet, regtest or the embedded dev chain: newest epoch throughout.
    Test,
}

/// Consensus parameters of the chain being indexed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainParams {
    /// Mainnet or a test chain.
    pub kind: ChainKind,
    /// First block whose ops are processed.
    pub first_block: u64,
    /// The 2 magic bytes in front of every payload.
    pub magic: [u8; 2],
    /// Token accounts (address, micro-STX) created at the first block. Mainnet's
    /// come from the Stacks genesis block, which bns does not carry.
    #[serde(default)]
    pub token_allocations: Vec<(String, u64)>,
    /// Names whose owners may send ANNOUNCE ops (Core's `announcers` option).
    /// Omitted from the JSON when empty, so stored parameters of chains
    /// without announcers compare equal to those written before this field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub announcers: Vec<String>,
}

/// Core's `SUBDOMAINS_FIRST_BLOCK` (mainnet).
pub const SUBDOMAINS_FIRST_BLOCK_MAINNET: u64 = 478_872;

/// Core's default `announcers` (mainnet).
pub const DEFAULT_ANNOUNCERS: [&str; 3] = ["judecn.id", "muneeb.id", "shea256.id"];

impl ChainParams {
    /// Mainnet: magic `id`, first block 373601.
    pub fn mainnet() -> Self {
        Self {
            kind: ChainKind::Mainnet,
            first_block: FIRST_BLOCK_MAINNET,
            magic: *b"id",
            token_allocations: vec![],
            announcers: DEFAULT_ANNOUNCERS.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// First block whose zone files carry subdomains: Core's
    /// `SUBDOMAINS_FIRST_BLOCK` on mainnet, the first block elsewhere.
    pub fn subdomains_first_block(&self) -> u64 {
        match self.kind {
            ChainKind::Mainnet => SUBDOMAINS_FIRST_BLOCK_MAINNET,
            _ => self.first_block,
        }
    }

    /// A test chain (dev, regtest, testnet) starting at `first_block`.
    pub fn test(first_block: u64, magic: [u8; 2]) -> Self {
        Self { kind: ChainKind::Test, first_block, magic, token_allocations: vec![], announcers: vec![] }
    }

    /// Adds a name whose owner may send ANNOUNCE ops.
    pub fn with_announcer(mut self, name: impl Into<String>) -> Self {
        self.announcers.push(name.into());
        self
    }

    /// Adds a token account created at the first block.
    pub fn with_allocation(mut self, address: impl Into<String>, micro_stx: u64) -> Self {
        self.token_allocations.push((address.into(), micro_stx));
        self
    }

    /// The epoch in force at `height`.
    pub fn epoch_at(&self, height: u64) -> Epoch {
        match self.kind {
            ChainKind::Test => EPOCHS[5],
            ChainKind::Mainnet => {
                let idx = MAINNET_EPOCH_ENDS.iter().position(|end| height <= *end).unwrap_or(5);
                EPOCHS[idx]
            }
        }
    }

    /// True when ops at `height` are ignored (mainnet after the Stacks export).
    pub fn ops_frozen_at(&self, height: u64) -> bool {
        self.kind == ChainKind::Mainnet && height >= IMPORT_HEIGHT_MAINNET
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mainnet_epoch_boundaries() {
        let p = ChainParams::mainnet();
        assert_eq!(p.epoch_at(373_601).number, 1);
        assert_eq!(p.epoch_at(436_650).number, 1);
        assert_eq!(p.epoch_at(436_651).number, 2);
        assert_eq!(p.epoch_at(547_922).number, 4);
        assert_eq!(p.epoch_at(599_867).number, 5);
        assert_eq!(p.epoch_at(613_250).number, 6);
        assert_eq!(p.epoch_at(10_000_000).number, 6);
    }

    #[test]
    fn announcers_default_to_cores_on_mainnet_and_none_on_test_chains() {
        assert_eq!(ChainParams::mainnet().announcers, DEFAULT_ANNOUNCERS);
        let test = ChainParams::test(1, *b"id");
        assert!(!serde_json::to_string(&test).unwrap().contains("announcers"));
        let back: ChainParams = serde_json::from_str(&serde_json::to_string(&test).unwrap()).unwrap();
        assert_eq!(back, test);
    }

    #[test]
    fn test_chains_use_newest_epoch() {
        let p = ChainParams::test(1, *b"id");
        assert_eq!(p.epoch_at(1).number, 6);
        assert!(!p.ops_frozen_at(1_000_000));
    }
}
