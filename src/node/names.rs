//! The DNS face's view of BNS state: a read-only SQLite connection plus a
//! cache of parsed zone files keyed by hash (a hash's content never changes).

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tracing::warn;

use crate::bns::{ChainParams, Liveness, NamespaceRecord};
use crate::dns::{Lookup, NameSource};
use crate::hash::ValueHash;
use crate::store::{Store, StoreError};
use crate::zonefile::{self, ZoneFile};

/// Parsed zone files kept at most; the cache is cleared when it grows past this.
const ZONE_CACHE_MAX: usize = 100_000;

/// Answers the DNS face's questions from the store.
pub struct StoreNames {
    store: Mutex<Store>,
    params: ChainParams,
    namespaces: RwLock<HashMap<String, NamespaceRecord>>,
    height: RwLock<u64>,
    zones: RwLock<HashMap<ValueHash, Arc<ZoneFile>>>,
    /// What `refresh` last saw: (height, tip block hash, newest zone-file row).
    fingerprint: Mutex<Option<(u64, String, i64)>>,
    /// Bumped whenever the fingerprint changes; keys cached DNS answers.
    generation: AtomicU64,
    /// Best block height of the chain, as the indexer last saw it.
    chain_tip: AtomicU64,
}

impl StoreNames {
    /// Opens a read-only view of the database at `path`.
    pub fn open(path: &Path, params: ChainParams) -> Result<Self, StoreError> {
        let me = Self {
            store: Mutex::new(Store::open_readonly(path)?),
            params,
            namespaces: RwLock::new(HashMap::new()),
            height: RwLock::new(0),
            zones: RwLock::new(HashMap::new()),
            fingerprint: Mutex::new(None),
            generation: AtomicU64::new(0),
            chain_tip: AtomicU64::new(0),
        };
        me.refresh()?;
        Ok(me)
    }

    /// Re-reads the namespace list and height; call after each new block or
    /// zone file. Bumps the generation when either changed, and returns
    /// whether it did.
    pub fn refresh(&self) -> Result<bool, StoreError> {
        let store = self.store.lock().map_err(|_| poisoned())?;
        let mut namespaces = HashMap::new();
        for id in store.namespace_ids()? {
            if let Some(ns) = store.namespace(&id)? {
                namespaces.insert(id, ns);
            }
        }
        let last = store.last_block()?;
        let height = last.as_ref().map(|b| b.height).unwrap_or(0);
        let fingerprint =
            (height, last.map(|b| b.block_hash.to_string()).unwrap_or_default(), store.zonefile_watermark()?);
        drop(store);
        let mut changed = false;
        if let Ok(mut f) = self.fingerprint.lock() {
            if f.as_ref() != Some(&fingerprint) {
                *f = Some(fingerprint);
                self.generation.fetch_add(1, Ordering::SeqCst);
                changed = true;
            }
        }
        if let Ok(mut n) = self.namespaces.write() {
            *n = namespaces;
        }
        if let Ok(mut h) = self.height.write() {
            *h = height;
        }
        Ok(changed)
    }

    /// Records the chain's best height (for the DNS face's "not synced" errors).
    pub fn set_chain_tip(&self, tip: u64) {
        self.chain_tip.store(tip, Ordering::Relaxed);
    }

    /// The chain's best height, as last recorded.
    pub fn chain_tip(&self) -> u64 {
        self.chain_tip.load(Ordering::Relaxed)
    }

    /// The processed height, as of the last refresh.
    pub fn height(&self) -> u64 {
        self.height.read().map(|h| *h).unwrap_or(0)
    }

    fn try_lookup(&self, fqn: &str) -> Result<Lookup, StoreError> {
        let store = self.store.lock().map_err(|_| poisoned())?;
        let Some(rec) = store.name(fqn)? else { return Ok(Lookup::NotRegistered) };
        // Namespaces change only with blocks: read the copy `refresh` keeps.
        let ns = self.namespaces.read().ok().and_then(|n| n.get(&rec.namespace_id).cloned());
        let Some(ns) = ns else { return Ok(Lookup::NotRegistered) };
        let h = self.height();
        if rec.revoked {
            return Ok(Lookup::Revoked);
        }
        if rec.liveness(&ns, &self.params.epoch_at(h), h) == Liveness::Expired {
            return Ok(Lookup::Expired);
        }
        let Some(hash) = rec.value_hash else {
            return Ok(Lookup::Zone(Arc::new(ZoneFile { origin: None, ttl: None, records: vec![], warnings: vec![] })));
        };
        if let Some(z) = self.zones.read().ok().and_then(|z| z.get(&hash).cloned()) {
            return Ok(Lookup::Zone(z));
        }
        let Some(bytes) = store.zonefile(&hash)? else {
            return Ok(Lookup::ZoneFileNotFetched { hash: hash.to_string() });
        };
        drop(store);
        match zonefile::check_with_origin(&bytes, Some(&hash), Some(fqn)) {
            // Serve what parses; a file of which nothing parses is invalid, not empty.
            Ok(zf) if zf.records.is_empty() && !zf.warnings.is_empty() => {
                warn!(name = fqn, %hash, warnings = ?zf.warnings, "stored zone file has no usable record");
                Ok(Lookup::ZoneFileInvalid { hash: hash.to_string(), reason: zf.warnings.join("; ") })
            }
            Ok(zf) => {
                let zf = Arc::new(zf);
                if let Ok(mut cache) = self.zones.write() {
                    if cache.len() >= ZONE_CACHE_MAX {
                        cache.clear();
                    }
                    cache.insert(hash, zf.clone());
                }
                Ok(Lookup::Zone(zf))
            }
            Err(e) => {
                warn!(name = fqn, %hash, error = %e, "stored zone file does not parse");
                Ok(Lookup::ZoneFileInvalid { hash: hash.to_string(), reason: e.to_string() })
            }
        }
    }
}

fn poisoned() -> StoreError {
    StoreError::Corrupt { table: "-", message: "store lock poisoned".into() }
}

impl NameSource for StoreNames {
    fn is_namespace(&self, ns: &str) -> bool {
        self.namespaces.read().map(|n| n.contains_key(ns)).unwrap_or(false)
    }

    fn lookup(&self, fqn: &str) -> Lookup {
        match self.try_lookup(fqn) {
            Ok(l) => l,
            Err(e) => {
                warn!(name = fqn, error = %e, "name lookup failed");
                Lookup::ZoneFileMissing
            }
        }
    }

    fn serial(&self) -> u32 {
        u32::try_from(self.height()).unwrap_or(u32::MAX)
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    fn sync_lag(&self) -> Option<u64> {
        let lag = self.chain_tip.load(Ordering::Relaxed).saturating_sub(self.height());
        (lag > 0).then_some(lag)
    }
}
