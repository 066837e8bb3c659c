//! The BNS rules as pure functions of (state view, op, height).
//!
//! Nothing here does I/O: the rules read state through [`StateView`] and
//! return the effects of an accepted op; the store applies them. Ops are
//! checked and applied one at a time in block order, so an op sees the
//! effects of every op accepted before it in the same block (as in Core).

pub mod block;
pub mod consensus_fields;
pub mod epoch;
pub mod names;
pub mod records;
pub mod rules;

use crate::hash::{ConsensusHash, NameHash128, PreorderHash};
use crate::virtualchain::consensus::Field;
pub use epoch::{ChainParams, Epoch};
pub use records::{Liveness, NameRecord, NamespaceRecord, PreorderRecord};

/// A failure reading state (the store is broken, not the op).
#[derive(Debug, thiserror::Error)]
#[error("state read failed: {0}")]
pub struct ViewError(pub String);

/// Read access to BNS state as of the op being checked.
pub trait StateView {
    /// Consensus hash stored for `height`, if that block was processed.
    fn consensus_hash(&self, height: u64) -> Result<Option<ConsensusHash>, ViewError>;
    /// The unconsumed preorder with this hash.
    fn preorder(&self, hash: &PreorderHash) -> Result<Option<PreorderRecord>, ViewError>;
    /// The namespace with this id (revealed or ready).
    fn namespace(&self, id: &str) -> Result<Option<NamespaceRecord>, ViewError>;
    /// The name record for a fully-qualified name.
    fn name(&self, fqn: &str) -> Result<Option<NameRecord>, ViewError>;
    /// Every name record whose owner script is `sender` (hex), oldest first.
    fn names_owned_by(&self, sender: &str) -> Result<Vec<NameRecord>, ViewError>;
    /// Token balance (micro-STX) of an address's account, if it has one.
    fn token_balance(&self, address: &str) -> Result<Option<u64>, ViewError>;
    /// Every name record whose `hash128(name)` is `hash` (live or not), oldest first.
    fn names_by_hash128(&self, hash: &NameHash128) -> Result<Vec<NameRecord>, ViewError>;
    /// The consensus hash of the newest NAME_UPDATE in `name`'s history
    /// before position (`height`, `vtxindex`), if no registration or import
    /// comes after it (the NAME_TRANSFER consensus-hash quirk, SPEC.md §3).
    fn last_update_consensus_hash(
        &self,
        name: &str,
        height: u64,
        vtxindex: u32,
    ) -> Result<Option<ConsensusHash>, ViewError>;
    /// The public key (hex, as pushed) of the first accepted NAME_IMPORT in
    /// namespace `ns`: the root of its importer keyring (Core's cached
    /// `<ns>.keychain` file, never removed).
    fn import_keyring(&self, ns: &str) -> Result<Option<String>, ViewError>;
}

/// Write access used while applying a block.
pub trait StateStore: StateView {
    /// Applies one effect of an accepted op.
    fn apply(&mut self, effect: &Effect, op: &OpMeta) -> Result<(), ViewError>;
    /// Appends history entries for the names and namespaces `effects` wrote
    /// (`line` = the op's consensus serialization, empty for a stateless op).
    fn record_history(
        &mut self,
        effects: &[Effect],
        op: &OpMeta,
        extra: &HistoryExtra,
        line: &str,
    ) -> Result<(), ViewError>;
}

/// A change to BNS state made by an accepted op.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Records a new preorder.
    PutPreorder(PreorderRecord),
    /// Marks a preorder consumed (by a register or reveal).
    ConsumePreorder(PreorderHash),
    /// Creates or replaces a namespace record.
    PutNamespace(NamespaceRecord),
    /// Creates or replaces a name record.
    PutName(NameRecord),
    /// Remembers the root public key of a namespace's importer keyring
    /// (written by the first accepted import).
    PutImportKeyring {
        /// Namespace id.
        namespace_id: String,
        /// Public key hex of the first importer.
        pubkey: String,
    },
    /// Sets an account's token balance (micro-STX), creating the account.
    PutBalance {
        /// Account address.
        address: String,
        /// New balance.
        balance: u64,
    },
}

/// Where an op sits on the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpMeta {
    /// Block height.
    pub height: u64,
    /// Position in the block.
    pub vtxindex: u32,
    /// Transaction id (hex).
    pub txid: String,
    /// Core's op string (`?`, `:`, `::`, `+`, `>>`, ...).
    pub op: String,
    /// Core's opcode name (`NAME_REGISTRATION`, ...).
    pub opcode: &'static str,
}

/// An accepted op: its effects and its consensus record.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    /// State changes, applied in order.
    pub effects: Vec<Effect>,
    /// The op character used in the consensus serialization.
    pub opchar: char,
    /// Fields of the consensus record, in Core's order. Empty for a
    /// stateless op (ANNOUNCE), which contributes nothing to the consensus hash.
    pub fields: Vec<Field>,
    /// Fields a history entry adds beyond the stored record.
    pub history_extra: HistoryExtra,
}

/// The op's own fields a history entry carries beyond the record it left
/// (Core's history rows have them; `None` = not part of this op).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistoryExtra {
    /// NAME_UPDATE: the name consensus hash the op carried.
    pub name_consensus_hash: Option<crate::hash::NameConsensusHash>,
    /// NAME_UPDATE and NAME_TRANSFER: the consensus hash the op was checked against.
    pub consensus_hash: Option<ConsensusHash>,
    /// NAME_TRANSFER: the name's hash128 the op carried.
    pub name_hash128: Option<crate::hash::NameHash128>,
    /// NAME_TRANSFER: whether the zone-file hash was kept.
    pub keep_data: Option<bool>,
}

impl HistoryExtra {
    /// Adds these fields to a history entry's JSON object.
    pub fn add_to(&self, obj: &mut serde_json::Map<String, serde_json::Value>) {
        if let Some(h) = self.name_consensus_hash {
            obj.insert("name_consensus_hash".into(), h.to_hex().into());
        }
        if let Some(h) = self.consensus_hash {
            obj.insert("consensus_hash".into(), h.to_hex().into());
        }
        if let Some(h) = self.name_hash128 {
            obj.insert("name_hash128".into(), h.to_hex().into());
        }
        if let Some(k) = self.keep_data {
            obj.insert("keep_data".into(), k.into());
        }
    }
}

/// Why an op was rejected. Stored with the op.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The op needs a consensus hash from the last 24 blocks.
    #[error("consensus hash {0} is not one of the last 24 blocks'")]
    StaleConsensusHash(ConsensusHash),
    /// A preorder with this hash is already outstanding.
    #[error("preorder hash {0} already used")]
    PreorderExists(PreorderHash),
    /// No outstanding preorder matches.
    #[error("no preorder matches hash {0}")]
    NoPreorder(PreorderHash),
    /// The preorder is too old or predates the namespace.
    #[error("preorder from block {preorder_block} is not usable at block {block}: {why}")]
    PreorderExpired {
        /// Preorder block.
        preorder_block: u64,
        /// Current block.
        block: u64,
        /// Which rule.
        why: &'static str,
    },
    /// Name or namespace id is not valid.
    #[error("invalid name {0:?}")]
    InvalidName(String),
    /// Namespace missing or in the wrong state.
    #[error("namespace {ns:?} {why}")]
    Namespace {
        /// Namespace id.
        ns: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The name exists and is not available.
    #[error("name {0:?} is already registered")]
    NameTaken(String),
    /// The name is revoked.
    #[error("name {0:?} is revoked")]
    Revoked(String),
    /// The name is expired or not registered.
    #[error("name {0:?} is not registered or has expired")]
    NotRegistered(String),
    /// The name is in its grace period.
    #[error("name {0:?} is in its renewal grace period")]
    InGrace(String),
    /// The sender does not own what it tries to change.
    #[error("sender does not own {0:?}")]
    NotOwner(String),
    /// The sender or recipient owns too many names.
    #[error("address owns {count} names, the limit is 25")]
    TooManyNames {
        /// Names owned.
        count: usize,
    },
    /// The fee paid is below the price or went to the wrong address.
    #[error("fee {paid} does not cover price {price} ({why})")]
    Fee {
        /// Paid, in satoshis or micro-STX.
        paid: u64,
        /// Required.
        price: String,
        /// Which part failed.
        why: &'static str,
    },
    /// The transaction lacks a part the op needs (recipient, pubkey, fee output).
    #[error("transaction is missing {0}")]
    Missing(&'static str),
    /// Bad namespace parameters or version.
    #[error("invalid namespace parameters: {0}")]
    BadParams(&'static str),
    /// Two ops in one block validly created the same name or namespace.
    #[error("{0:?} is created more than once in this block; all such ops are rejected")]
    Collision(String),
    /// A token payment is invalid or not covered by the sender's account.
    #[error("token payment: {0}")]
    Tokens(String),
    /// A transfer or token transfer to its own sender.
    #[error("sender and recipient are the same")]
    SameRecipient,
    /// The importer is not in the namespace's importer keyring.
    #[error("import sender {0} is not an importer of the namespace")]
    NotImporter(String),
    /// An announce not sent by the owner of a configured announcer name.
    #[error("announce sender is not the owner of an announcer name")]
    NotAnnouncer,
    /// This op is not handled by these rules yet.
    #[error("op {0} is not supported")]
    Unsupported(&'static str),
    /// Reading state failed; the block must be retried.
    #[error("{0}")]
    View(String),
}

impl From<ViewError> for Rejection {
    fn from(e: ViewError) -> Self {
        Rejection::View(e.0)
    }
}
