//! The state one Atlas node shares between its server, its replication loop
//! and the node: a store connection, the inventory mirrored in memory, where
//! the chain stands, the peer table and the push queue.
//!
//! Invariant: the in-memory inventory is a prefix-exact copy of the store's
//! `atlas_inventory` table (reloaded whole when a reorg shortens or rewrites
//! it), and its held set covers every `zonefiles` row up to `zonefile_rowid`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::Notify;
use tracing::{debug, info, warn};

use super::inventory::Inventory;
use super::peers::PeerTable;
use super::protocol::ChainInfo;
use crate::hash::{ConsensusHash, ValueHash};
use crate::metrics::Metrics;
use crate::store::{PutOutcome, Store, StoreError};

/// Most zone files waiting to be pushed (Core's bound); more are dropped (peers pull them).
pub const PUSH_QUEUE_MAX: usize = 1000;
/// Consensus hashes a peer's may match (Core's transaction window).
pub const CONSENSUS_WINDOW: u64 = 24;

/// Where a zone file came from, as the store's `source` column records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Fetched from an Atlas peer (`host:port`).
    Peer(String),
    /// Pushed to us by `put_zonefiles` (caller's address).
    Pushed(String),
    /// Fetched from an HTTP source (its base URL).
    Http(String),
}

impl Origin {
    fn source(&self) -> String {
        match self {
            Origin::Peer(p) => format!("atlas peer {p}"),
            Origin::Pushed(p) => format!("atlas put_zonefiles from {p}"),
            Origin::Http(u) => format!("http source {u}"),
        }
    }

    /// Files that are new to the network (not pulled from a peer) are pushed on.
    fn push_on(&self) -> bool {
        !matches!(self, Origin::Peer(_))
    }
}

/// Shared state of one Atlas node.
pub struct AtlasState {
    store: Mutex<Store>,
    /// The inventory, mirrored from the store.
    pub inv: RwLock<Inventory>,
    /// Newest `zonefiles` rowid folded into `inv`'s held set.
    zonefile_rowid: Mutex<i64>,
    /// Where the chain stands (getinfo, the envelope, vetting peers).
    pub chain: RwLock<ChainInfo>,
    /// Our consensus hashes of the last [`CONSENSUS_WINDOW`] blocks.
    pub recent_consensus: RwLock<Vec<ConsensusHash>>,
    /// The peer table.
    pub peers: Mutex<PeerTable>,
    /// Zone files to push to neighbours that lack them.
    pub push_queue: Mutex<VecDeque<ValueHash>>,
    /// Counters and gauges.
    pub metrics: Arc<Metrics>,
    /// Wakes the replication loop (new rows, new files, new peers).
    pub wake: Notify,
    /// Called after zone files were stored (the DNS view refreshes).
    on_stored: Box<dyn Fn() + Send + Sync>,
    /// The chain tip the node's block source reported.
    pub chain_tip: AtomicU64,
    /// True while the node's index is catching up.
    pub indexing: AtomicBool,
    /// The first load from the store is done (files seen after it are news).
    loaded: AtomicBool,
    /// The store's inventory reset counter as last seen.
    resets: AtomicU64,
    /// SQLite's `data_version` at the last refresh.
    data_version: AtomicU64,
    first_block: u64,
    testnet: bool,
}

impl std::fmt::Debug for AtlasState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AtlasState").finish_non_exhaustive()
    }
}

impl AtlasState {
    /// State over `store` (a read-write connection of its own). Loads the
    /// inventory and the peer table.
    pub fn new(
        store: Store,
        first_block: u64,
        testnet: bool,
        metrics: Arc<Metrics>,
        peers: PeerTable,
        on_stored: Box<dyn Fn() + Send + Sync>,
    ) -> Result<Arc<AtlasState>, StoreError> {
        let state = Arc::new(AtlasState {
            store: Mutex::new(store),
            inv: RwLock::new(Inventory::default()),
            zonefile_rowid: Mutex::new(0),
            chain: RwLock::new(ChainInfo { first_block, testnet, ..Default::default() }),
            recent_consensus: RwLock::new(Vec::new()),
            peers: Mutex::new(peers),
            push_queue: Mutex::new(VecDeque::new()),
            metrics,
            wake: Notify::new(),
            on_stored,
            chain_tip: AtomicU64::new(0),
            indexing: AtomicBool::new(false),
            loaded: AtomicBool::new(false),
            resets: AtomicU64::new(0),
            data_version: AtomicU64::new(u64::MAX),
            first_block,
            testnet,
        });
        state.refresh()?;
        Ok(state)
    }

    /// Runs `f` with the store connection (blocking: call from a blocking thread).
    pub fn with_store<T>(&self, f: impl FnOnce(&Store) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let store = self
            .store
            .lock()
            .map_err(|_| StoreError::Corrupt { table: "atlas", message: "store lock poisoned by a panic".into() })?;
        f(&store)
    }

    /// Brings the in-memory inventory, held set and chain info up to date
    /// with the store. Returns true if anything changed. Blocking.
    pub fn refresh(&self) -> Result<bool, StoreError> {
        // SQLite's data_version moves only when another connection commits (the indexer,
        // `bns zonefile put`); what this connection writes is in memory already.
        let version = self.with_store(|s| s.data_version())?;
        if self.data_version.swap(version, Ordering::Relaxed) == version && self.loaded.load(Ordering::Relaxed) {
            self.refresh_chain_info();
            return Ok(false);
        }
        let mut changed = false;
        let (rows_len, resets, last_block) =
            self.with_store(|s| Ok((s.inventory_len()?, s.inventory_resets()?, s.last_block()?)))?;
        // Inventory rows: append new ones; reload after a reorg removed some.
        let have = self.read_inv().len();
        let seen_resets = self.resets.swap(resets, Ordering::Relaxed);
        if (seen_resets != resets && self.loaded.load(Ordering::Relaxed)) || rows_len < have {
            info!(rows = rows_len, had = have, "atlas: the inventory changed under a reorg; reloading it");
            let mut fresh = Inventory::default();
            let mut rowid = self.zonefile_rowid.lock().map_err(|_| poisoned())?;
            *rowid = 0;
            self.loaded.store(false, Ordering::Relaxed);
            std::mem::swap(&mut *self.write_inv(), &mut fresh);
            changed = true;
        }
        loop {
            let from = self.read_inv().len();
            let rows = self.with_store(|s| s.inventory_rows(from, 50_000))?;
            if rows.is_empty() {
                break;
            }
            let mut inv = self.write_inv();
            for row in rows {
                if row.index != inv.len() + 1 {
                    return Err(StoreError::Corrupt {
                        table: "atlas_inventory",
                        message: format!("row {} follows row {}", row.index, inv.len()),
                    });
                }
                inv.push_row(row.hash);
            }
            changed = true;
        }
        // Held zone files, from any writer (this node, `bns zonefile put`, the API).
        loop {
            let after = *self.zonefile_rowid.lock().map_err(|_| poisoned())?;
            let files = self.with_store(|s| s.zonefiles_since(after, 50_000))?;
            let Some((last, _)) = files.last() else { break };
            let last = *last;
            let mut news = Vec::new();
            {
                let mut inv = self.write_inv();
                for (_, hash) in &files {
                    if inv.mark_held(*hash) {
                        news.push(*hash);
                    }
                }
            }
            // Written by someone else than Atlas since the first load: new to the network.
            if self.loaded.load(Ordering::Relaxed) && !news.is_empty() {
                self.queue_push(&news);
                (self.on_stored)();
            }
            *self.zonefile_rowid.lock().map_err(|_| poisoned())? = last;
            changed |= !news.is_empty();
        }
        self.loaded.store(true, Ordering::Relaxed);
        // Chain info and the consensus window.
        let (height, consensus) = match &last_block {
            Some(b) => (b.height, b.consensus_hash.to_hex()),
            None => (0, String::new()),
        };
        let chain_changed = self.chain.read().map(|c| c.last_block_processed != height).unwrap_or(true);
        if chain_changed {
            let from = height.saturating_sub(CONSENSUS_WINDOW - 1).max(self.first_block);
            let recent = self.with_store(|s| {
                let mut v = Vec::new();
                for h in from..=height {
                    if let Some(b) = s.block_at(h)? {
                        v.push(b.consensus_hash);
                    }
                }
                Ok(v)
            })?;
            if let Ok(mut r) = self.recent_consensus.write() {
                *r = recent;
            }
        }
        if let Ok(mut c) = self.chain.write() {
            *c = ChainInfo {
                last_block_seen: self.chain_tip.load(Ordering::Relaxed).max(height),
                last_block_processed: height,
                consensus,
                first_block: self.first_block,
                testnet: self.testnet,
                indexing: self.indexing.load(Ordering::Relaxed),
            };
        }
        if changed {
            self.publish_counts();
        }
        Ok(changed)
    }

    /// Takes the chain tip and indexing flag the node last reported into the chain info.
    fn refresh_chain_info(&self) {
        if let Ok(mut c) = self.chain.write() {
            c.last_block_seen = self.chain_tip.load(Ordering::Relaxed).max(c.last_block_processed);
            c.indexing = self.indexing.load(Ordering::Relaxed);
        }
    }

    /// Sets the held/missing gauges from the inventory.
    pub fn publish_counts(&self) {
        let inv = self.read_inv();
        let (held, missing) = inv.counts();
        self.metrics.atlas.set_inventory(inv.len(), held, missing);
    }

    /// Reads the inventory (a poisoned lock still yields its data).
    pub fn read_inv(&self) -> std::sync::RwLockReadGuard<'_, Inventory> {
        self.inv.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_inv(&self) -> std::sync::RwLockWriteGuard<'_, Inventory> {
        self.inv.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The peer table (a poisoned lock still yields its data).
    pub fn peers(&self) -> std::sync::MutexGuard<'_, PeerTable> {
        self.peers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of where the chain stands.
    pub fn chain_info(&self) -> ChainInfo {
        self.chain.read().map(|c| c.clone()).unwrap_or_default()
    }

    /// Verifies and stores zone files that arrived from `origin`: each must
    /// hash to what it claims (when it claims), be within the size limit and
    /// be announced on the chain. Returns a verdict per file. Blocking.
    pub fn store_verified(&self, files: &[(Option<ValueHash>, Vec<u8>)], origin: &Origin) -> Vec<Verdict> {
        let mut verdicts = vec![Verdict::Mismatch; files.len()];
        let mut batch: Vec<(usize, &[u8])> = Vec::new();
        for (i, (claimed, bytes)) in files.iter().enumerate() {
            let actual = ValueHash::of_zonefile(bytes);
            if claimed.is_some_and(|c| c != actual) {
                self.metrics.atlas.rejected("mismatch");
                continue;
            }
            if bytes.len() > crate::zonefile::MAX_ZONEFILE_LEN {
                verdicts[i] = Verdict::TooLarge;
                self.metrics.atlas.rejected("oversize");
                continue;
            }
            if !self.read_inv().is_announced(&actual) {
                verdicts[i] = Verdict::NotAnnounced;
                self.metrics.atlas.rejected("not_announced");
                continue;
            }
            batch.push((i, bytes));
        }
        if batch.is_empty() {
            return verdicts;
        }
        let contents: Vec<&[u8]> = batch.iter().map(|(_, b)| *b).collect();
        let source = origin.source();
        let outcomes = match self.with_store(|s| s.put_zonefile_batch(&contents, &source)) {
            Ok(o) => o,
            Err(e) => {
                warn!(error = %e, "atlas: storing zone files failed; they stay missing");
                for (i, _) in &batch {
                    verdicts[*i] = Verdict::StoreFailed;
                }
                return verdicts;
            }
        };
        let mut news = Vec::new();
        for ((i, _), outcome) in batch.iter().zip(outcomes) {
            verdicts[*i] = match outcome {
                PutOutcome::Stored(h) => {
                    news.push(h);
                    Verdict::Stored
                }
                PutOutcome::AlreadyHeld(_) => Verdict::AlreadyHeld,
                PutOutcome::TooLarge(_) => Verdict::TooLarge,
                PutOutcome::NotAnnounced(_) => Verdict::NotAnnounced,
            };
        }
        if !news.is_empty() {
            {
                let mut inv = self.write_inv();
                for h in &news {
                    inv.mark_held(*h);
                }
            }
            self.metrics.atlas.stored(
                news.len() as u64,
                match origin {
                    Origin::Peer(_) => "peer",
                    Origin::Pushed(_) => "push",
                    Origin::Http(_) => "http",
                },
            );
            debug!(n = news.len(), source = %source, "atlas: stored zone files");
            if origin.push_on() {
                // A pushed file that a peer of ours already holds is spreading already: pulls carry it on.
                let fresh: Vec<ValueHash> = match origin {
                    Origin::Pushed(_) => {
                        let inv = self.read_inv();
                        let peers = self.peers();
                        news.iter().filter(|h| !peers.all().any(|p| p.inv.has_any(inv.rows_of(h)))).copied().collect()
                    }
                    _ => news.clone(),
                };
                self.queue_push(&fresh);
            }
            self.publish_counts();
            (self.on_stored)();
            self.wake.notify_one();
        }
        verdicts
    }

    /// Queues zone files to push to neighbours (dropping what exceeds the bound).
    pub fn queue_push(&self, hashes: &[ValueHash]) {
        if hashes.is_empty() {
            return;
        }
        let mut q = self.push_queue.lock().unwrap_or_else(|e| e.into_inner());
        for h in hashes {
            if q.len() >= PUSH_QUEUE_MAX {
                debug!(dropped = hashes.len(), "atlas: push queue full; peers will pull the rest");
                break;
            }
            q.push_back(*h);
        }
        drop(q);
        self.wake.notify_one();
    }
}

/// What became of one zone file offered to [`AtlasState::store_verified`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Newly stored.
    Stored,
    /// Held already.
    AlreadyHeld,
    /// Its bytes do not hash to the hash it came under.
    Mismatch,
    /// Over 40,960 bytes.
    TooLarge,
    /// No name on the chain announced its hash.
    NotAnnounced,
    /// The store failed (logged); try again later.
    StoreFailed,
}

impl Verdict {
    /// True if the file is held now.
    pub fn is_held(self) -> bool {
        matches!(self, Verdict::Stored | Verdict::AlreadyHeld)
    }
}

fn poisoned() -> StoreError {
    StoreError::Corrupt { table: "atlas", message: "lock poisoned by a panic".into() }
}
