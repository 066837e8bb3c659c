//! The immutable view of the chain the DNS face answers from.
//!
//! A [`Snapshot`] holds, for one indexed height, every namespace and every
//! name with its state and its records already packed in wire format
//! ([`zone`]). It is built off the query path (by the node, from the store)
//! and published through a [`SnapshotCell`]; a query loads the current one
//! once and answers from it alone, so every answer comes from one height and
//! the query path touches no database, parses no text and takes no lock.
//!
//! Storage: a base [`image::Image`] (owned, or memory-mapped from the file a
//! previous run wrote) plus an overlay of names changed since it was built. A
//! block replaces the overlay with one holding the names it touched; when the
//! overlay grows past [`COMPACT_AT`] entries the owner folds it into a new base.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
};

use arc_swap::{ArcSwap, Guard};

use crate::zonefile::ZoneFile;

use super::xfr::Journal;

pub mod image;
pub(crate) mod zone;

pub use image::{EntryBuf, Image, ImageError, ImageMeta};

use super::records::{SOA_EXPIRE, SOA_MINIMUM, SOA_REFRESH, SOA_RETRY, SOA_TTL};

/// Overlay size at which the owner should fold it into a new base image.
pub const COMPACT_AT: usize = 16_384;

/// SOA RNAME of every namespace zone: under `.invalid` (RFC 6761), which no
/// registry delegates.
pub const SOA_RNAME: &str = "hostmaster.bns.invalid";

/// What the chain says about one BNS name, as the snapshot builder is handed it.
#[derive(Debug, Clone)]
pub enum NameState {
    /// Registered, and its zone file (if it has one) is held and parsed (with
    /// the name as its default origin).
    Zone(Arc<ZoneFile>),
    /// The owner revoked the name.
    Revoked,
    /// Registered, but the zone file with this hash (hex) is not held yet.
    NotFetched(String),
    /// The held zone file for this hash (hex) is unusable, for this reason.
    Invalid(String, String),
}

const ZONE: u8 = 0;
const REVOKED: u8 = 1;
const NOT_FETCHED: u8 = 2;
const INVALID: u8 = 3;

/// Encodes one name's entry: state, the height from which it counts as expired
/// (`u32::MAX`: never), and its payload (packed records, or hash and reason).
pub fn encode_entry(fqn: &str, state: &NameState, expires_at: Option<u64>) -> Vec<u8> {
    let exp = expires_at.map_or(u32::MAX, |h| u32::try_from(h).unwrap_or(u32::MAX));
    let mut out = Vec::with_capacity(64);
    let (tag, payload): (u8, Vec<u8>) = match state {
        NameState::Zone(z) => (ZONE, zone::pack(z, fqn)),
        NameState::Revoked => (REVOKED, Vec::new()),
        NameState::NotFetched(h) => (NOT_FETCHED, h.as_bytes().to_vec()),
        NameState::Invalid(h, reason) => {
            let mut p = Vec::with_capacity(1 + h.len() + reason.len());
            p.push(h.len().min(255) as u8);
            p.extend_from_slice(&h.as_bytes()[..h.len().min(255)]);
            p.extend_from_slice(&reason.as_bytes()[..reason.len().min(1024)]);
            (INVALID, p)
        }
    };
    out.push(tag);
    out.extend_from_slice(&exp.to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// One name as a query sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum NameView<'a> {
    NotRegistered,
    Expired,
    Revoked,
    /// Packed records (see [`zone`]).
    Zone(&'a [u8]),
    NotFetched(&'a str),
    Invalid(&'a str, &'a str),
    /// The entry's bytes are damaged.
    Broken,
}

fn decode_entry(v: &[u8], height: u64) -> NameView<'_> {
    let (Some(&tag), Some(exp)) = (v.first(), v.get(1..5)) else { return NameView::Broken };
    let exp = u32::from_le_bytes([exp[0], exp[1], exp[2], exp[3]]);
    let payload = &v[5..];
    if exp != u32::MAX && height >= u64::from(exp) {
        return NameView::Expired;
    }
    fn text(b: &[u8]) -> Option<&str> {
        std::str::from_utf8(b).ok()
    }
    match tag {
        ZONE => NameView::Zone(payload),
        REVOKED => NameView::Revoked,
        NOT_FETCHED => text(payload).map_or(NameView::Broken, NameView::NotFetched),
        INVALID => {
            let Some(&hl) = payload.first() else { return NameView::Broken };
            let hl = usize::from(hl);
            match (payload.get(1..1 + hl).and_then(text), payload.get(1 + hl..).and_then(text)) {
                (Some(h), Some(r)) => NameView::Invalid(h, r),
                _ => NameView::Broken,
            }
        }
        _ => NameView::Broken,
    }
}

/// The name-server identity announced at every namespace apex.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApexConfig {
    /// NS target (and SOA MNAME), lowercase, no trailing dot. `None`: the
    /// namespace apex itself (`id.` NS `id.`), which no registration can own.
    pub ns_name: Option<String>,
    /// Addresses of that name server, answered by bns at the NS name ahead of
    /// any chain data.
    pub ns_addrs: Vec<IpAddr>,
    /// DNSKEY rdata of the zone key, answered at every apex (online DNSSEC).
    pub dnskey: Option<Vec<u8>>,
}

/// One namespace: its id and the packed apex records (NS, SOA, addresses).
#[derive(Debug)]
pub(crate) struct Namespace {
    pub id: Box<[u8]>,
    /// The apex as a wire name, lowercase, with root byte.
    pub wire: Box<[u8]>,
    /// Packed RRs owned by the apex: A/AAAA (when the NS name is the apex), NS, SOA.
    pub apex: Vec<u8>,
}

/// An overlay entry: the name's encoded entry, or `None` for a name removed.
pub type Entry = Option<Box<[u8]>>;

/// One published view.
#[derive(Debug, Clone)]
pub struct Snapshot {
    base: Arc<Image>,
    overlay: Arc<HashMap<Box<[u8]>, Entry>>,
    namespaces: Arc<[Namespace]>,
    /// Packed A/AAAA of a configured NS name under a BNS namespace (owner: the
    /// NS name's wire form, lowercase, with root byte).
    ns_host: Arc<Option<(Vec<u8>, Vec<u8>)>>,
    apex_config: Arc<ApexConfig>,
    meta: ImageMeta,
    /// Blocks the index trails the chain beyond what `confirmations` implies.
    lag: Option<u64>,
    /// The zone-transfer steps that lead to this view (empty unless the
    /// builder records them).
    journal: Arc<Journal>,
}

impl Snapshot {
    /// An empty view (no namespaces) at height 0.
    pub fn empty() -> Snapshot {
        Snapshot::from_image(Arc::new(Image::empty()), &ApexConfig::default())
    }

    /// A view of `base` alone, at the height and serial it was built with.
    pub fn from_image(base: Arc<Image>, apex: &ApexConfig) -> Snapshot {
        let meta = base.meta();
        let ids = base.namespaces();
        let mut s = Snapshot {
            base,
            overlay: Arc::default(),
            namespaces: Arc::from(Vec::new()),
            ns_host: Arc::new(None),
            apex_config: Arc::new(apex.clone()),
            meta,
            lag: None,
            journal: Arc::default(),
        };
        s.set_namespaces(ids);
        s
    }

    /// Builds a complete view from `names` (lowercase "name.ns" → state and
    /// expiry height): for tests and small data.
    pub fn build(
        meta: ImageMeta,
        namespaces: &[&str],
        names: impl IntoIterator<Item = (String, NameState, Option<u64>)>,
        apex: &ApexConfig,
    ) -> Snapshot {
        let entries: Vec<(Box<[u8]>, Vec<u8>)> =
            names.into_iter().map(|(fqn, st, exp)| (fqn.as_bytes().into(), encode_entry(&fqn, &st, exp))).collect();
        let ids: Vec<Box<[u8]>> = namespaces.iter().map(|n| n.as_bytes().into()).collect();
        let image = Image::build(meta, &ids, entries.iter().map(|(k, v)| (&k[..], &v[..])));
        Snapshot::from_image(Arc::new(image), apex)
    }

    /// The same view with `changes` applied on top (`None` removes a name),
    /// at `meta`'s height and serial. The base stays shared.
    pub fn with_changes(&self, meta: ImageMeta, changes: Vec<(Box<[u8]>, Entry)>) -> Snapshot {
        let mut overlay = (*self.overlay).clone();
        overlay.extend(changes);
        let mut s = Snapshot { overlay: Arc::new(overlay), meta, ..self.clone() };
        if meta.serial != self.meta.serial {
            s.set_namespaces(self.namespace_ids());
        }
        s
    }

    /// Replaces the namespace list (and re-packs the apex records).
    pub fn with_namespaces(&self, ids: Vec<Box<[u8]>>) -> Snapshot {
        let mut s = self.clone();
        s.set_namespaces(ids);
        s
    }

    /// The same names on a new base image (the overlay folded into it).
    pub fn rebased(&self, base: Arc<Image>) -> Snapshot {
        Snapshot { base, overlay: Arc::default(), ..self.clone() }
    }

    fn set_namespaces(&mut self, mut ids: Vec<Box<[u8]>>) {
        let apex = self.apex_config.clone();
        ids.sort();
        ids.dedup();
        let configured = apex.ns_name.as_deref().and_then(zone::name_wire);
        let namespaces: Vec<Namespace> = ids
            .into_iter()
            .map(|id| {
                let apex_wire = zone::name_wire(&String::from_utf8_lossy(&id)).unwrap_or_else(|| vec![0]);
                let ns_target = configured.clone().unwrap_or_else(|| apex_wire.clone());
                let mut blob = Vec::new();
                if configured.is_none() {
                    push_addrs(&mut blob, &[], &apex.ns_addrs);
                }
                zone::push_rr(&mut blob, &[], 2, SOA_TTL, &ns_target);
                zone::push_rr(&mut blob, &[], 6, SOA_TTL, &soa_rdata(&ns_target, self.meta.serial));
                if let Some(dnskey) = &apex.dnskey {
                    zone::push_rr(&mut blob, &[], crate::dns::dnssec::T_DNSKEY, SOA_TTL, dnskey);
                }
                Namespace { id, wire: apex_wire.into(), apex: blob }
            })
            .collect();
        self.namespaces = Arc::from(namespaces);
        self.ns_host = Arc::new(configured.map(|wire| {
            let mut blob = Vec::new();
            push_addrs(&mut blob, &[], &apex.ns_addrs);
            (wire.to_ascii_lowercase(), blob)
        }));
    }

    /// The same view with the sync lag (blocks beyond tolerance) set.
    pub fn with_lag(&self, lag: Option<u64>) -> Snapshot {
        Snapshot { lag, ..self.clone() }
    }

    /// Height, block hash, zone-file watermark and serial it stands for.
    pub fn meta(&self) -> ImageMeta {
        self.meta
    }

    /// Indexed height.
    pub fn height(&self) -> u64 {
        self.meta.height
    }

    /// SOA serial.
    pub fn serial(&self) -> u32 {
        self.meta.serial
    }

    /// The transfer journal: steps whose last one ends at this view's serial.
    pub fn journal(&self) -> &Arc<Journal> {
        &self.journal
    }

    /// The same view with `journal`.
    pub fn with_journal(&self, journal: Arc<Journal>) -> Snapshot {
        Snapshot { journal, ..self.clone() }
    }

    /// Blocks behind beyond tolerance, if any.
    pub fn lag(&self) -> Option<u64> {
        self.lag
    }

    /// Names in the overlay (changed since the base was built).
    pub fn overlay_len(&self) -> usize {
        self.overlay.len()
    }

    /// The base image.
    pub fn base(&self) -> &Arc<Image> {
        &self.base
    }

    /// Every (key, entry) of base and overlay merged, overlay winning.
    pub fn entries(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        let base = self.base.iter().filter(|(k, _)| !self.overlay.contains_key(*k));
        let over = self.overlay.iter().filter_map(|(k, v)| v.as_deref().map(|v| (&k[..], v)));
        base.chain(over)
    }

    /// Number of names (base and overlay merged).
    pub fn name_count(&self) -> usize {
        self.entries().count()
    }

    /// The namespace whose id is `label` (ASCII case-insensitive).
    pub(crate) fn namespace(&self, label: &[u8]) -> Option<&Namespace> {
        self.namespaces.iter().find(|n| n.id.eq_ignore_ascii_case(label))
    }

    /// True if `ns` (any case) is a BNS namespace.
    pub fn is_namespace(&self, ns: &str) -> bool {
        self.namespace(ns.as_bytes()).is_some()
    }

    /// The namespace ids.
    pub fn namespace_ids(&self) -> Vec<Box<[u8]>> {
        self.namespaces.iter().map(|n| n.id.clone()).collect()
    }

    /// Packed A/AAAA of a configured NS host, if `qname_wire` (lowercase,
    /// with root byte) is it.
    pub(crate) fn ns_host(&self) -> Option<(&[u8], &[u8])> {
        self.ns_host.as_ref().as_ref().map(|(n, b)| (&n[..], &b[..]))
    }

    /// What the view holds for `fqn` ("name.ns"), in words: `not registered`,
    /// `expired`, `revoked`, `not fetched <hash>`, `invalid <hash>: <why>`,
    /// `zone <n> records` or `damaged`.
    pub fn describe(&self, fqn: &str) -> String {
        match self.name(fqn.to_ascii_lowercase().as_bytes()) {
            NameView::NotRegistered => "not registered".into(),
            NameView::Expired => "expired".into(),
            NameView::Revoked => "revoked".into(),
            NameView::NotFetched(h) => format!("not fetched {h}"),
            NameView::Invalid(h, r) => format!("invalid {h}: {r}"),
            NameView::Zone(b) => format!("zone {} records", zone::rrs(b).count()),
            NameView::Broken => "damaged".into(),
        }
    }

    /// The A and AAAA addresses at `fqn` itself, in zone-file order per type.
    pub fn addresses(&self, fqn: &str) -> Vec<IpAddr> {
        let NameView::Zone(b) = self.name(fqn.to_ascii_lowercase().as_bytes()) else { return Vec::new() };
        zone::rrs(b)
            .filter(|rr| rr.owner.is_empty())
            .filter_map(|rr| match (rr.rtype, rr.rdata.len()) {
                (1, 4) => Some(IpAddr::from(<[u8; 4]>::try_from(rr.rdata).ok()?)),
                (28, 16) => Some(IpAddr::from(<[u8; 16]>::try_from(rr.rdata).ok()?)),
                _ => None,
            })
            .collect()
    }

    /// `key` = lowercase "name.ns".
    pub(crate) fn name(&self, key: &[u8]) -> NameView<'_> {
        match self.raw(key) {
            None => NameView::NotRegistered,
            Some(v) => decode_entry(v, self.meta.height),
        }
    }

    /// The encoded entry of `key` (overlay over base).
    pub(crate) fn raw(&self, key: &[u8]) -> Option<&[u8]> {
        match self.overlay.get(key) {
            Some(Some(v)) => Some(&v[..]),
            Some(None) => None,
            None => self.base.get(key),
        }
    }

    /// The namespaces with their packed apex records.
    pub(crate) fn namespace_list(&self) -> &[Namespace] {
        &self.namespaces
    }
}

/// The height from which an encoded entry counts as expired (`None`: never,
/// or damaged bytes).
pub(crate) fn entry_expiry(v: &[u8]) -> Option<u32> {
    let exp = u32::from_le_bytes(v.get(1..5)?.try_into().ok()?);
    (exp != u32::MAX).then_some(exp)
}

fn push_addrs(blob: &mut Vec<u8>, owner: &[u8], addrs: &[IpAddr]) {
    for a in addrs.iter().filter(|a| a.is_ipv4()) {
        if let IpAddr::V4(v4) = a {
            zone::push_rr(blob, owner, 1, SOA_TTL, &v4.octets());
        }
    }
    for a in addrs {
        if let IpAddr::V6(v6) = a {
            zone::push_rr(blob, owner, 28, SOA_TTL, &v6.octets());
        }
    }
}

fn soa_rdata(mname: &[u8], serial: u32) -> Vec<u8> {
    let rname = zone::name_wire(SOA_RNAME).unwrap_or_else(|| vec![0]);
    let mut r = Vec::with_capacity(mname.len() + rname.len() + 20);
    r.extend_from_slice(mname);
    r.extend_from_slice(&rname);
    for v in [serial, SOA_REFRESH as u32, SOA_RETRY as u32, SOA_EXPIRE as u32, SOA_MINIMUM] {
        r.extend_from_slice(&v.to_be_bytes());
    }
    r
}

/// The current snapshot, swapped atomically; readers never block the writer
/// nor each other.
#[derive(Debug)]
pub struct SnapshotCell {
    current: ArcSwap<Snapshot>,
    /// Bumped on every publish (observability, tests).
    published: AtomicU64,
}

impl SnapshotCell {
    /// A cell holding `first`.
    pub fn new(first: Snapshot) -> SnapshotCell {
        SnapshotCell { current: ArcSwap::from_pointee(first), published: AtomicU64::new(0) }
    }

    /// The current view (cheap: no allocation, no lock).
    pub fn load(&self) -> Guard<Arc<Snapshot>> {
        self.current.load()
    }

    /// The current view as an owned `Arc`.
    pub fn load_full(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Makes `next` the view every later query sees.
    pub fn publish(&self, next: Snapshot) {
        self.current.store(Arc::new(next));
        self.published.fetch_add(1, Ordering::Release);
    }

    /// How many times a view was published.
    pub fn publications(&self) -> u64 {
        self.published.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::zonefile::{RecordData, ZoneRecord};

    fn zone() -> NameState {
        let rec = ZoneRecord { owner: "n.id".into(), ttl: 60, data: RecordData::A(Ipv4Addr::LOCALHOST) };
        NameState::Zone(Arc::new(ZoneFile { origin: None, ttl: None, records: vec![rec], warnings: vec![] }))
    }

    #[test]
    fn states_expiry_and_overlay() {
        let meta = ImageMeta { height: 10, serial: 10, ..ImageMeta::default() };
        let names = vec![
            ("n.id".to_string(), zone(), Some(11)),
            ("r.id".to_string(), NameState::Revoked, None),
            ("u.id".to_string(), NameState::NotFetched("ab".into()), None),
            ("i.id".to_string(), NameState::Invalid("cd".into(), "bad".into()), None),
            ("e.id".to_string(), zone(), Some(10)),
        ];
        let s = Snapshot::build(meta, &["id"], names, &ApexConfig::default());
        assert!(s.is_namespace("ID"));
        assert!(matches!(s.name(b"n.id"), NameView::Zone(b) if !b.is_empty()));
        assert!(matches!(s.name(b"r.id"), NameView::Revoked));
        assert!(matches!(s.name(b"u.id"), NameView::NotFetched("ab")));
        assert!(matches!(s.name(b"i.id"), NameView::Invalid("cd", "bad")));
        assert!(matches!(s.name(b"e.id"), NameView::Expired));
        assert!(matches!(s.name(b"x.id"), NameView::NotRegistered));
        // One block later n.id expires too; the overlay removes r.id.
        let next = s.with_changes(ImageMeta { height: 11, serial: 11, ..meta }, vec![(b"r.id"[..].into(), None)]);
        assert!(matches!(next.name(b"n.id"), NameView::Expired));
        assert!(matches!(next.name(b"r.id"), NameView::NotRegistered));
        assert_eq!(next.name_count(), 4);
        assert_eq!(s.name_count(), 5);
    }
}
