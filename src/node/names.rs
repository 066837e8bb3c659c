//! Builds and publishes the DNS face's [`Snapshot`] from the store, off the
//! query path: once in full (or from the snapshot file a previous run left),
//! then after every indexer step and stored zone file only for the names that
//! changed. Every published snapshot stands for one indexed height.
//!
//! - A block changes the entries of the names with an accepted op in it; a
//!   stored zone file those of the names pointing at it; expiry needs no
//!   update (each entry carries the height it expires at). A block without
//!   BNS ops republishes nothing but the height.
//! - A namespace op changes the entries of every name in that namespace (its
//!   expiry depends on the namespace); the namespace list is re-set.
//! - A reorg below the snapshot's height rebuilds it whole (the old one keeps
//!   answering meanwhile).
//! - Store errors leave the current snapshot in place and are retried on the
//!   next refresh; they are never turned into answers.
//! - The overlay of changed names is folded into a new base image past
//!   [`COMPACT_AT`] names, and the base is written to `dns.snapshot` (atomic
//!   rename), which the next start maps instead of rebuilding.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bitcoin::hashes::Hash as _;
use tracing::{debug, info, warn};

use crate::bns::{ChainParams, NameRecord, NamespaceRecord};
use crate::dns::snapshot::{encode_entry, EntryBuf, Image, ImageMeta, COMPACT_AT};
use crate::dns::xfr::record_step;
use crate::dns::{excess_lag, ApexConfig, NameState, Snapshot, SnapshotCell};
use crate::hash::ValueHash;
use crate::store::{Store, StoreError};
use crate::zonefile::{self, ZoneFile};

/// The snapshot file in a data dir.
pub const SNAPSHOT_FILE: &str = "dns.snapshot";
/// The highest SOA serial published, beside it.
pub const SERIAL_FILE: &str = "dns.serial";

/// Keeps the DNS snapshot in step with the store.
pub struct StoreNames {
    store: Mutex<Store>,
    /// Read-write connection for the subdomain index (`None`: the database
    /// could not be opened for writing; subdomains then stay as they are).
    writer: Option<Mutex<Store>>,
    params: ChainParams,
    cell: Arc<SnapshotCell>,
    apex: ApexConfig,
    file: Option<PathBuf>,
    /// The highest SOA serial ever published from this data dir (also in
    /// `dns.serial`, rewritten on every change, so a lost or stale snapshot
    /// file never makes it go back).
    serial_floor: AtomicU64,
    /// Best block height of the chain, as the indexer last saw it.
    chain_tip: AtomicU64,
    /// Whether published snapshots carry the transfer journal.
    journal: AtomicBool,
    /// Opened by [`StoreNames::open_view`]: writes no file.
    view: bool,
}

impl StoreNames {
    /// Opens a read-only view of the database at `path` and publishes a first
    /// snapshot (from `dns.snapshot` beside it when that is intact and
    /// matches the store, else built from the store).
    pub fn open(path: &Path, params: ChainParams) -> Result<Self, StoreError> {
        StoreNames::open_with(path, params, ApexConfig::default())
    }

    /// [`StoreNames::open`] with the apex name-server identity to announce.
    pub fn open_with(path: &Path, params: ChainParams, apex: ApexConfig) -> Result<Self, StoreError> {
        StoreNames::open_inner(path, params, apex, false)
    }

    /// A view for a command beside a running node: it writes nothing (no
    /// subdomain pass, no snapshot or serial file) and reads the snapshot
    /// file only if it matches the store.
    pub fn open_view(path: &Path, params: ChainParams, apex: ApexConfig) -> Result<Self, StoreError> {
        StoreNames::open_inner(path, params, apex, true)
    }

    fn open_inner(path: &Path, params: ChainParams, apex: ApexConfig, view: bool) -> Result<Self, StoreError> {
        let file = path.parent().map(|d| d.join(SNAPSHOT_FILE));
        let writer = match Store::open_aux(path) {
            _ if view => None,
            Ok(s) => Some(Mutex::new(s)),
            Err(e) => {
                warn!(error = %e, "cannot open the store for writing: subdomains are not indexed");
                None
            }
        };
        let me = StoreNames {
            store: Mutex::new(Store::open_readonly(path)?),
            writer,
            params,
            cell: Arc::new(SnapshotCell::new(Snapshot::empty())),
            apex,
            serial_floor: AtomicU64::new(0),
            file,
            chain_tip: AtomicU64::new(0),
            journal: AtomicBool::new(false),
            view,
        };
        if let Some(f) = me.serial_file() {
            let floor = std::fs::read_to_string(f).ok().and_then(|t| t.trim().parse::<u32>().ok()).unwrap_or(0);
            me.serial_floor.store(u64::from(floor), Ordering::Relaxed);
        }
        me.load_file();
        me.refresh()?;
        Ok(me)
    }

    /// Keeps the zone-transfer journal from now on (one IXFR step per
    /// published serial): for nodes with secondaries.
    pub fn keep_journal(&self) {
        self.journal.store(true, Ordering::Relaxed);
    }

    /// The cell the DNS face reads.
    pub fn cell(&self) -> Arc<SnapshotCell> {
        self.cell.clone()
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.cell.load_full()
    }

    /// Records the chain's best height (for the "not synced" errors) and
    /// republishes the lag when it changed.
    pub fn set_chain_tip(&self, tip: u64) {
        self.chain_tip.store(tip, Ordering::Relaxed);
        if let Ok(store) = self.store.lock() {
            let snap = self.cell.load_full();
            let lag = excess_lag(tip, snap.height(), confirmations(&store));
            if lag != snap.lag() {
                self.cell.publish(snap.with_lag(lag));
            }
        }
    }

    /// The chain's best height, as last recorded.
    pub fn chain_tip(&self) -> u64 {
        self.chain_tip.load(Ordering::Relaxed)
    }

    /// The height of the published snapshot.
    pub fn height(&self) -> u64 {
        self.cell.load().height()
    }

    /// Maps `dns.snapshot` if it is intact; whether it matches the store is
    /// checked by the first refresh (a mismatch rebuilds).
    fn load_file(&self) {
        let Some(path) = &self.file else { return };
        if !path.exists() {
            return;
        }
        let started = Instant::now();
        match Image::open(path) {
            Ok(image) => {
                info!(path = %path.display(), names = image.len(), height = image.meta().height,
                    ms = started.elapsed().as_millis() as u64, "DNS snapshot file mapped");
                self.cell.publish(Snapshot::from_image(Arc::new(image), &self.apex));
            }
            Err(e) => warn!(path = %path.display(), error = %e, "DNS snapshot file not used; rebuilding"),
        }
    }

    /// Brings the snapshot up to the store; call after each indexer step and
    /// stored zone file. Returns whether anything was published.
    pub fn refresh(&self) -> Result<bool, StoreError> {
        // One refresh at a time, the subdomain pass included: a refresh that
        // returns has published what its pass changed.
        let store = self.store.lock().map_err(|_| poisoned())?;
        let subdomains = self.index_subdomains();
        let last = store.last_block()?;
        let height = last.as_ref().map_or(0, |b| b.height);
        let block_hash = last.as_ref().map_or([0u8; 32], |b| b.block_hash.to_byte_array());
        let watermark = store.zonefile_watermark()?;
        let current = self.cell.load_full();
        let prev = current.meta();
        let lag = excess_lag(self.chain_tip(), height, confirmations(&store));
        if prev.height == height
            && prev.block_hash == block_hash
            && prev.zonefile_watermark == watermark
            && subdomains.is_empty()
        {
            if lag != current.lag() {
                self.cell.publish(current.with_lag(lag));
            }
            return Ok(false);
        }
        let mut namespaces = HashMap::new();
        for id in store.namespace_ids()? {
            if let Some(ns) = store.namespace(&id)? {
                namespaces.insert(id, ns);
            }
        }
        // RFC 1982: the serial never goes back, reorgs included.
        let floor = (self.serial_floor.load(Ordering::Relaxed) as u32).max(prev.serial);
        // A view (export) shows the serial the node published for this state.
        let next_floor = if self.view { floor } else { floor.saturating_add(1) };
        let serial = u32::try_from(height).unwrap_or(u32::MAX).max(next_floor);
        let meta = ImageMeta { height, block_hash, zonefile_watermark: watermark, serial };
        // Incremental only from a view on this chain (its block is still ours).
        let on_chain = prev.height > 0
            && prev.height <= height
            && store.block_at(prev.height)?.is_some_and(|b| b.block_hash.to_byte_array() == prev.block_hash);
        let mut keys = if on_chain { store.history_keys_between(prev.height, height)? } else { Vec::new() };
        let (next, changed) = if on_chain {
            let started = Instant::now();
            // A namespace op (reveal, ready) changes the expiry of every name in it.
            let touched_ns: Vec<String> = keys.iter().filter(|k| !k.contains('.')).cloned().collect();
            for ns in &touched_ns {
                keys.extend(store.names_in_namespace(ns, 0, i64::MAX as u64)?);
            }
            keys.retain(|k| k.contains('.'));
            keys.extend(store.names_with_zonefiles_after(prev.zonefile_watermark)?);
            keys.extend(subdomains);
            keys.extend(store.subdomain_keys_between(prev.height, height, prev.zonefile_watermark)?);
            keys.sort();
            keys.dedup();
            let epoch = self.params.epoch_at(height);
            let mut changes = Vec::with_capacity(keys.len());
            for fqn in &keys {
                if fqn.matches('.').count() == 2 {
                    let entry = store.subdomain(fqn)?.map(|row| subdomain_entry(fqn, &row.zonefile));
                    changes.push((fqn.as_bytes().into(), entry.map(Vec::into_boxed_slice)));
                    continue;
                }
                let entry = match store.name(fqn)? {
                    Some(rec) => {
                        let content = match &rec.value_hash {
                            Some(h) => store.zonefile(h)?,
                            None => None,
                        };
                        entry_for(&rec, content.as_deref(), &namespaces, &epoch, height)
                    }
                    None => None,
                };
                changes.push((fqn.as_bytes().into(), entry.map(Vec::into_boxed_slice)));
            }
            if !keys.is_empty() {
                info!(height, names = keys.len(), ms = started.elapsed().as_millis() as u64, "DNS snapshot updated");
            }
            let next = current.with_changes(meta, changes);
            let next = if ns_ids(&namespaces, height) == next.namespace_ids() {
                next
            } else {
                next.with_namespaces(ns_ids(&namespaces, height))
            };
            (next, Some(keys))
        } else {
            (self.build_full(&store, meta, &namespaces)?, None)
        };
        let next = if self.journal.load(Ordering::Relaxed) {
            let started = Instant::now();
            let next = record_step(&current, next, changed.as_ref().map(|k| k.iter().map(|k| k.as_bytes())));
            debug!(steps = next.journal().len(), ms = started.elapsed().as_millis() as u64, "transfer journal step");
            next
        } else {
            next
        };
        let next = if next.overlay_len() > COMPACT_AT { self.compact(&next) } else { next };
        self.cell.publish(next.with_lag(lag));
        self.record_serial(serial);
        Ok(true)
    }

    /// Runs the subdomain index over what the store holds; the subdomains
    /// whose state may have changed (errors are logged and retried on the
    /// next refresh).
    fn index_subdomains(&self) -> Vec<String> {
        let Some(writer) = &self.writer else { return Vec::new() };
        let Ok(store) = writer.lock() else { return Vec::new() };
        let started = Instant::now();
        match store.index_subdomains(self.params.subdomains_first_block()) {
            Ok(pass) => {
                if pass.zonefiles > 0 || !pass.changed.is_empty() {
                    info!(
                        zonefiles = pass.zonefiles,
                        subdomains = pass.changed.len(),
                        ms = started.elapsed().as_millis() as u64,
                        "subdomains indexed"
                    );
                }
                pass.changed
            }
            Err(e) => {
                warn!(error = %e, "indexing subdomains failed; retrying on the next refresh");
                Vec::new()
            }
        }
    }

    /// Every name, from one pass over the store.
    fn build_full(
        &self,
        store: &Store,
        meta: ImageMeta,
        namespaces: &HashMap<String, NamespaceRecord>,
    ) -> Result<Snapshot, StoreError> {
        let started = Instant::now();
        let epoch = self.params.epoch_at(meta.height);
        let mut buf = EntryBuf::default();
        store.for_each_name_with_zonefile(|rec, content| {
            if let Some(e) = entry_for(&rec, content.as_deref(), namespaces, &epoch, meta.height) {
                buf.push(rec.name.as_bytes(), &e);
            }
        })?;
        store.for_each_subdomain(|fqn, zonefile| buf.push(fqn.as_bytes(), &subdomain_entry(&fqn, &zonefile)))?;
        let names = buf.len();
        let image = Arc::new(Image::from_entries(meta, &ns_ids(namespaces, meta.height), buf));
        info!(height = meta.height, names, ms = started.elapsed().as_millis() as u64, "DNS snapshot built");
        self.write_file(&image);
        if let Err(e) = store.shrink_memory() {
            warn!(error = %e, "cannot shrink the snapshot builder's page cache");
        }
        trim_heap();
        Ok(Snapshot::from_image(image, &self.apex))
    }

    /// Folds the overlay into a new base image and writes it to the file.
    fn compact(&self, snap: &Snapshot) -> Snapshot {
        let mut buf = EntryBuf::default();
        for (k, v) in snap.entries() {
            buf.push(k, v);
        }
        let image = Arc::new(Image::from_entries(snap.meta(), &snap.namespace_ids(), buf));
        self.write_file(&image);
        trim_heap();
        snap.rebased(image)
    }

    /// Writes the current snapshot to the file whole (at shutdown, so the next
    /// start needs no catch-up).
    pub fn persist(&self) {
        let snap = self.cell.load_full();
        if snap.overlay_len() == 0 && self.file.as_ref().is_some_and(|f| f.exists()) {
            return;
        }
        let compacted = self.compact(&snap);
        self.cell.publish(compacted);
    }

    fn serial_file(&self) -> Option<PathBuf> {
        self.file.as_ref().map(|f| f.with_file_name(SERIAL_FILE))
    }

    /// Remembers `serial` in `dns.serial` (durably: the serial must never go
    /// back, crashes included).
    fn record_serial(&self, serial: u32) {
        let before = self.serial_floor.fetch_max(u64::from(serial), Ordering::Relaxed);
        let Some(path) = self.serial_file().filter(|_| !self.view) else { return };
        if before == u64::from(serial) && path.exists() {
            return;
        }
        if let Err(e) = crate::fsutil::write_durable(&path, format!("{serial}\n").as_bytes(), None) {
            warn!(path = %path.display(), error = %e, "cannot record the DNS serial");
        }
    }

    fn write_file(&self, image: &Image) {
        let Some(path) = self.file.as_ref().filter(|_| !self.view) else { return };
        let started = Instant::now();
        match image.write_to(path) {
            Ok(()) => info!(path = %path.display(), bytes = image.size(), ms = started.elapsed().as_millis() as u64,
                "DNS snapshot written"),
            Err(e) => warn!(path = %path.display(), error = %e, "cannot write the DNS snapshot file"),
        }
    }
}

/// The namespaces DNS answers for at `height`: ready, or revealed and inside
/// the reveal window. An expired reveal never made ready is no TLD.
fn ns_ids(namespaces: &HashMap<String, NamespaceRecord>, height: u64) -> Vec<Box<[u8]>> {
    let mut ids: Vec<Box<[u8]>> = namespaces
        .iter()
        .filter(|(_, ns)| ns.is_ready() || ns.is_revealed_at(height))
        .map(|(k, _)| k.as_bytes().into())
        .collect();
    ids.sort();
    ids
}

/// `confirmations` the node runs with (store meta), 1 if unset.
fn confirmations(store: &Store) -> u64 {
    store.meta(super::META_CONFIRMATIONS).ok().flatten().and_then(|v| v.parse().ok()).unwrap_or(1)
}

/// One name's snapshot entry; `None` if its namespace is unknown (not registered).
fn entry_for(
    rec: &NameRecord,
    content: Option<&[u8]>,
    namespaces: &HashMap<String, NamespaceRecord>,
    epoch: &crate::bns::Epoch,
    height: u64,
) -> Option<Vec<u8>> {
    let ns = namespaces.get(&rec.namespace_id)?;
    let expires = rec.expires_at(ns, epoch, height);
    Some(encode_entry(&rec.name, &name_state(rec, content), expires))
}

/// What DNS makes of a name and the bytes of its zone file.
fn name_state(rec: &NameRecord, content: Option<&[u8]>) -> NameState {
    if rec.revoked {
        return NameState::Revoked;
    }
    let Some(hash) = rec.value_hash else {
        return NameState::Zone(Arc::new(ZoneFile { origin: None, ttl: None, records: vec![], warnings: vec![] }));
    };
    let Some(bytes) = content else { return NameState::NotFetched(hash.to_string()) };
    zone_state(&hash, bytes, &rec.name)
}

/// A subdomain's snapshot entry: its own zone file; it never expires by
/// itself (DNS answers it only while its parent name is registered).
fn subdomain_entry(fqn: &str, zonefile: &[u8]) -> Vec<u8> {
    encode_entry(fqn, &zone_state(&ValueHash::of_zonefile(zonefile), zonefile, fqn), None)
}

/// What DNS makes of zone file `bytes` (with hash `hash`) of `fqn`.
fn zone_state(hash: &ValueHash, bytes: &[u8], fqn: &str) -> NameState {
    // Parsed with this name as the default origin: a file without $ORIGIN
    // means something different for each name that points at it.
    match zonefile::check_with_origin(bytes, Some(hash), Some(fqn)) {
        Ok(zf) if zf.records.is_empty() && !zf.warnings.is_empty() => {
            NameState::Invalid(hash.to_string(), zf.warnings.join("; "))
        }
        Ok(zf) => NameState::Zone(Arc::new(zf)),
        Err(e) => NameState::Invalid(hash.to_string(), e.to_string()),
    }
}

/// Hands freed memory back to the system (glibc keeps it otherwise): after a
/// snapshot build and once a node is up.
pub(crate) fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free heap pages.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn poisoned() -> StoreError {
    StoreError::Corrupt { table: "-", message: "store lock poisoned".into() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bns::epoch::NAMESPACE_REVEAL_EXPIRE;

    fn ns(reveal: u64, ready: Option<u64>) -> NamespaceRecord {
        crate::bns::records::test_namespace(52595, reveal, ready)
    }

    #[test]
    fn an_expired_reveal_is_no_namespace() {
        let map: HashMap<String, NamespaceRecord> =
            [("ready".into(), ns(100, Some(110))), ("pending".into(), ns(100, None))].into_iter().collect();
        let ids = |h| ns_ids(&map, h).into_iter().map(|b| String::from_utf8(b.into()).unwrap()).collect::<Vec<_>>();
        assert_eq!(ids(99), ["ready"]);
        assert_eq!(ids(100), ["pending", "ready"]);
        assert_eq!(ids(100 + NAMESPACE_REVEAL_EXPIRE - 1), ["pending", "ready"]);
        assert_eq!(ids(100 + NAMESPACE_REVEAL_EXPIRE), ["ready"]);
    }
}
