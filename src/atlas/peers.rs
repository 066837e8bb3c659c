//! The Atlas peer table (sans-I/O): who the peers are, how healthy each is
//! (answers / requests over the last hour), what each holds, and the
//! Metropolis-Hastings random walk with delayed acceptance (MHRWDA) that
//! picks the next peer to crawl, as the Blockstack whitepaper describes.
//!
//! Invariants: the table never holds more than [`MAX_PEERS`] peers, never
//! this node itself, never a banned address; seeds are never dropped (a dead
//! seed is retried with back-off).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use rand::seq::SliceRandom as _;
use rand::Rng;

use super::inventory::PeerInventory;
use super::protocol::{PeerInfo, NUM_NEIGHBORS};
use crate::hash::ValueHash;

/// Live neighbours used for replication and offered to others (Core's NUM_NEIGHBORS).
pub const NUM_NEIGHBORS_LIVE: usize = NUM_NEIGHBORS;
/// Largest peer table (Core's 65536 slots).
pub const MAX_PEERS: usize = 65_536;
/// Largest queue of addresses waiting to be vetted (Core's 80 * 10).
pub const MAX_PENDING: usize = NUM_NEIGHBORS * 10;
/// Health is measured over this window.
pub const HEALTH_WINDOW: Duration = Duration::from_secs(3600);
/// Below this health a peer is not offered to others.
pub const MIN_HEALTH: f64 = 0.5;
/// A non-seed peer is dropped once it was asked this often with health below [`MIN_HEALTH`].
pub const MIN_REQUESTS_TO_DROP: usize = 10;
/// A non-seed peer is dropped after this many failures in a row (dead).
pub const MAX_FAILURES_IN_ROW: u32 = 5;
/// Longest back-off before contacting a failing peer again.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// An address that failed vetting is not queued again for this long.
pub const FAILED_VETTING_PAUSE: Duration = Duration::from_secs(600);
/// A peer that advertised a file but did not send it is not asked for it again for this long.
pub const WITHHELD_PAUSE: Duration = Duration::from_secs(600);
/// Most remembered failed addresses (older ones are forgotten first).
const MAX_FAILED: usize = 10_000;

/// One peer.
#[derive(Debug)]
pub struct Peer {
    /// `host:port` of its Atlas endpoint.
    pub addr: String,
    /// Given on the command line: kept even when dead.
    pub seed: bool,
    /// Its last getinfo passed the checks (same network, our fork).
    pub vetted: bool,
    /// (when, answered) of each request over the last hour.
    history: VecDeque<(Instant, bool)>,
    /// Its inventory, as it last sent it.
    pub inv: PeerInventory,
    /// When its inventory was last refreshed.
    pub inv_refreshed: Option<Instant>,
    /// Requests to it in flight.
    pub in_flight: usize,
    /// Its neighbours, as its last peer exchange listed them.
    pub neighbours: Vec<String>,
    /// Not contacted before this (back-off after failures).
    pub next_contact: Instant,
    /// Failures since its last answer.
    pub failures_in_row: u32,
    /// Its last getinfo.
    pub info: Option<PeerInfo>,
    /// When that getinfo was taken.
    pub info_at: Option<Instant>,
    /// Files it advertised but did not send when asked, until when they are not asked of it.
    withheld: HashMap<ValueHash, Instant>,
}

impl Peer {
    fn new(addr: String, seed: bool, now: Instant) -> Peer {
        Peer {
            addr,
            seed,
            vetted: false,
            history: VecDeque::new(),
            inv: PeerInventory::default(),
            inv_refreshed: None,
            in_flight: 0,
            neighbours: Vec::new(),
            next_contact: now,
            failures_in_row: 0,
            info: None,
            info_at: None,
            withheld: HashMap::new(),
        }
    }

    fn trim(&mut self, now: Instant) {
        while self.history.front().is_some_and(|(t, _)| now.saturating_duration_since(*t) > HEALTH_WINDOW) {
            self.history.pop_front();
        }
    }

    /// Answered / asked over the last hour (1.0 before the first request).
    pub fn health(&self) -> f64 {
        if self.history.is_empty() {
            return 1.0;
        }
        self.history.iter().filter(|(_, ok)| *ok).count() as f64 / self.history.len() as f64
    }

    /// Requests over the last hour.
    pub fn requests(&self) -> usize {
        self.history.len()
    }

    /// Vetted and not backing off.
    pub fn usable(&self, now: Instant) -> bool {
        self.vetted && self.next_contact <= now
    }

    /// True if it advertised `hash` but did not send it, recently.
    pub fn withholds(&self, hash: &ValueHash, now: Instant) -> bool {
        !self.withheld.is_empty() && self.withheld.get(hash).is_some_and(|until| *until > now)
    }

    /// Records that it did not send `hash` though its inventory said it holds it.
    pub fn mark_withheld(&mut self, hash: ValueHash, now: Instant) {
        if self.withheld.len() >= 100_000 {
            self.withheld.retain(|_, until| *until > now);
        }
        self.withheld.insert(hash, now + WITHHELD_PAUSE);
    }
}

/// The peer table and the walk's position.
#[derive(Debug, Default)]
pub struct PeerTable {
    peers: HashMap<String, Peer>,
    pending: VecDeque<String>,
    banned: HashMap<String, Instant>,
    /// Addresses that failed vetting, until when they are not queued again.
    failed: HashMap<String, Instant>,
    /// Peers dropped since the last [`PeerTable::take_removed`] (to delete from the store).
    removed: Vec<String>,
    me: Vec<String>,
    walk_current: Option<String>,
    walk_previous: Option<String>,
}

impl PeerTable {
    /// An empty table; `me` are this node's own addresses (never added).
    pub fn new(me: Vec<String>) -> PeerTable {
        PeerTable { me, ..Default::default() }
    }

    /// Adds a seed peer (vetted like any other before use).
    pub fn add_seed(&mut self, addr: &str, now: Instant) {
        if self.me.iter().any(|m| m == addr) {
            return;
        }
        self.peers.entry(addr.to_string()).or_insert_with(|| Peer::new(addr.to_string(), true, now)).seed = true;
    }

    /// Adds a peer remembered from an earlier run (vetted again before use).
    pub fn add_known(&mut self, addr: &str, now: Instant) {
        if !self.me.iter().any(|m| m == addr) && self.peers.len() < MAX_PEERS {
            self.peers.entry(addr.to_string()).or_insert_with(|| Peer::new(addr.to_string(), false, now));
        }
    }

    /// Queues an address learnt from a peer or a caller for vetting; ignored
    /// if known, banned, recently failed, ours, or the queue is full.
    pub fn enqueue(&mut self, addr: &str, now: Instant) {
        if self.me.iter().any(|m| m == addr) || self.peers.contains_key(addr) || self.pending.len() >= MAX_PENDING {
            return;
        }
        if self.banned.get(addr).is_some_and(|until| *until > now)
            || self.failed.get(addr).is_some_and(|until| *until > now)
        {
            return;
        }
        if !self.pending.iter().any(|p| p == addr) {
            self.pending.push_back(addr.to_string());
        }
    }

    /// Takes up to `n` queued addresses to vet.
    pub fn take_pending(&mut self, n: usize) -> Vec<String> {
        let n = n.min(self.pending.len());
        self.pending.drain(..n).collect()
    }

    /// Peers due for vetting (known, not vetted, not backing off).
    pub fn due_for_vetting(&self, now: Instant) -> Vec<String> {
        self.peers.values().filter(|p| !p.vetted && p.next_contact <= now).map(|p| p.addr.clone()).collect()
    }

    /// Takes a vetted peer into the table (or marks a known one vetted).
    /// False if the table is full of healthy peers.
    pub fn admit(&mut self, addr: &str, info: PeerInfo, now: Instant) -> bool {
        if self.me.iter().any(|m| m == addr) {
            return false;
        }
        if !self.peers.contains_key(addr) && self.peers.len() >= MAX_PEERS {
            // Evict the least healthy non-seed peer, if it is unhealthy.
            let worst = self
                .peers
                .values()
                .filter(|p| !p.seed && p.health() < MIN_HEALTH)
                .min_by(|a, b| a.health().total_cmp(&b.health()))
                .map(|p| p.addr.clone());
            match worst {
                Some(w) => {
                    self.peers.remove(&w);
                    self.removed.push(w);
                }
                None => return false,
            }
        }
        let peer = self.peers.entry(addr.to_string()).or_insert_with(|| Peer::new(addr.to_string(), false, now));
        peer.vetted = true;
        peer.info = Some(info);
        peer.info_at = Some(now);
        true
    }

    /// An address failed vetting (unreachable, wrong network or fork): a
    /// seed backs off; anyone else is dropped and not queued again for a while.
    pub fn reject(&mut self, addr: &str, now: Instant) {
        if let Some(p) = self.peers.get_mut(addr) {
            p.vetted = false;
            if p.seed {
                p.failures_in_row += 1;
                p.next_contact = now + backoff(p.failures_in_row);
                return;
            }
            self.peers.remove(addr);
            self.removed.push(addr.to_string());
        }
        if self.failed.len() >= MAX_FAILED {
            self.failed.retain(|_, until| *until > now);
            if self.failed.len() >= MAX_FAILED {
                self.failed.clear();
            }
        }
        self.failed.insert(addr.to_string(), now + FAILED_VETTING_PAUSE);
    }

    /// Peers dropped since the last call (their store rows go too).
    pub fn take_removed(&mut self) -> Vec<String> {
        std::mem::take(&mut self.removed)
    }

    /// Records the outcome of one request to `addr`.
    pub fn record(&mut self, addr: &str, ok: bool, now: Instant) {
        let Some(p) = self.peers.get_mut(addr) else { return };
        p.trim(now);
        p.history.push_back((now, ok));
        if ok {
            p.failures_in_row = 0;
            p.next_contact = now;
        } else {
            p.failures_in_row += 1;
            p.next_contact = now + backoff(p.failures_in_row);
        }
    }

    /// The peer said it is overloaded: leave it alone for a second, with no
    /// mark against its health.
    pub fn busy(&mut self, addr: &str, now: Instant) {
        if let Some(p) = self.peers.get_mut(addr) {
            p.next_contact = now + Duration::from_secs(1);
        }
    }

    /// Drops a peer that served bytes that do not match their hash, and
    /// refuses it for `for_` (it cannot be honest).
    pub fn ban(&mut self, addr: &str, for_: Duration, now: Instant) {
        if self.peers.remove(addr).is_some() {
            self.removed.push(addr.to_string());
        }
        self.pending.retain(|p| p != addr);
        self.banned.insert(addr.to_string(), now + for_);
        if self.walk_current.as_deref() == Some(addr) {
            self.walk_current = None;
        }
    }

    /// Drops unhealthy and dead non-seed peers; returns who was dropped.
    pub fn prune(&mut self, now: Instant) -> Vec<String> {
        let mut dropped = Vec::new();
        for p in self.peers.values_mut() {
            p.trim(now);
            let unhealthy = p.requests() >= MIN_REQUESTS_TO_DROP && p.health() < MIN_HEALTH;
            if !p.seed && (unhealthy || p.failures_in_row >= MAX_FAILURES_IN_ROW) {
                dropped.push(p.addr.clone());
            }
        }
        for d in &dropped {
            self.peers.remove(d);
        }
        self.removed.extend(dropped.iter().cloned());
        self.banned.retain(|_, until| *until > now);
        dropped
    }

    /// A peer.
    pub fn get(&self, addr: &str) -> Option<&Peer> {
        self.peers.get(addr)
    }

    /// A peer, to change.
    pub fn get_mut(&mut self, addr: &str) -> Option<&mut Peer> {
        self.peers.get_mut(addr)
    }

    /// Every peer.
    pub fn all(&self) -> impl Iterator<Item = &Peer> {
        self.peers.values()
    }

    /// Every peer, to change.
    pub fn all_mut(&mut self) -> impl Iterator<Item = &mut Peer> {
        self.peers.values_mut()
    }

    /// (peers, healthy peers).
    pub fn counts(&self) -> (u64, u64) {
        let healthy = self.peers.values().filter(|p| p.vetted && p.health() >= MIN_HEALTH).count();
        (self.peers.len() as u64, healthy as u64)
    }

    /// Up to [`NUM_NEIGHBORS`] live peers (vetted, health ≥ 0.5) other than
    /// `exclude`, in random order: what a peer exchange replies.
    pub fn live_neighbours(&self, exclude: &str, rng: &mut impl Rng) -> Vec<String> {
        let mut live: Vec<String> = self
            .peers
            .values()
            .filter(|p| p.vetted && p.health() >= MIN_HEALTH && p.addr != exclude)
            .map(|p| p.addr.clone())
            .collect();
        live.shuffle(rng);
        live.truncate(NUM_NEIGHBORS);
        live
    }

    /// The peer the walk stands on, or a random usable one (a restart).
    pub fn walk_position(&mut self, now: Instant, rng: &mut impl Rng) -> Option<String> {
        if let Some(c) = &self.walk_current {
            if self.peers.get(c).is_some_and(|p| p.usable(now)) {
                return Some(c.clone());
            }
        }
        let usable: Vec<&String> = self.peers.values().filter(|p| p.usable(now)).map(|p| &p.addr).collect();
        let start = usable.choose(rng).map(|s| (*s).clone());
        self.walk_current = start.clone();
        self.walk_previous = None;
        start
    }

    /// One MHRWDA step from the current peer `c`, whose neighbours are known:
    /// pick a neighbour `n` at random and move there with probability
    /// min(1, deg(c)/deg(n)); if `n` is where the walk came from and `c` has
    /// other neighbours, consider an alternate `a` instead, accepted with
    /// min(1, min(1, (deg(c)/deg(a))²), max(1, (deg(prev)/deg(c))²)). Degrees
    /// of peers whose neighbours are unknown count as 1. Returns the peer
    /// moved to, if the walk moved.
    pub fn walk_step(&mut self, rng: &mut impl Rng) -> Option<String> {
        let c = self.walk_current.clone()?;
        let deg = |t: &PeerTable, a: &str| t.peers.get(a).map(|p| p.neighbours.len().max(1)).unwrap_or(1) as f64;
        let neighbours: Vec<String> =
            self.peers.get(&c)?.neighbours.iter().filter(|n| !self.me.contains(n)).cloned().collect();
        let n = neighbours.choose(rng)?.clone();
        let deg_c = deg(self, &c);
        let prev = self.walk_previous.clone();
        let target = if prev.as_deref() == Some(n.as_str()) && neighbours.len() > 1 {
            let others: Vec<&String> = neighbours.iter().filter(|a| **a != n).collect();
            let a = (*others.choose(rng)?).clone();
            let deg_prev = prev.as_deref().map(|p| deg(self, p)).unwrap_or(1.0);
            let q = (deg_c / deg(self, &a)).powi(2).min(1.0).min((deg_prev / deg_c).powi(2).max(1.0));
            (rng.gen::<f64>() <= q).then_some(a)
        } else {
            let p = (deg_c / deg(self, &n)).min(1.0);
            (rng.gen::<f64>() <= p).then_some(n)
        }?;
        self.walk_previous = Some(c);
        self.walk_current = Some(target.clone());
        Some(target)
    }
}

/// Back-off after `failures` failures in a row: 1 s doubling, at most [`MAX_BACKOFF`].
pub fn backoff(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.saturating_sub(1).min(16)).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn info() -> PeerInfo {
        PeerInfo {
            last_block_processed: 1,
            consensus: String::new(),
            server_version: "21.0.0.4".into(),
            testnet: true,
            first_block: None,
            zonefile_count: None,
        }
    }

    #[test]
    fn health_is_answers_over_requests_in_the_last_hour() {
        let now = Instant::now();
        let mut t = PeerTable::new(vec!["127.0.0.1:1".into()]);
        t.enqueue("127.0.0.1:1", now);
        assert!(t.take_pending(10).is_empty(), "never ourselves");
        t.admit("a:6264", info(), now);
        for i in 0..10 {
            t.record("a:6264", i < 4, now);
        }
        assert!((t.get("a:6264").unwrap().health() - 0.4).abs() < 1e-9);
        assert_eq!(t.prune(now), vec!["a:6264".to_string()], "10 requests under 0.5");
        // Old requests age out of the window.
        t.admit("b:6264", info(), now);
        for _ in 0..3 {
            t.record("b:6264", false, now);
        }
        t.record("b:6264", true, now + HEALTH_WINDOW + Duration::from_secs(1));
        assert_eq!(t.get("b:6264").unwrap().health(), 1.0);
    }

    #[test]
    fn seeds_back_off_and_stay_others_drop() {
        let now = Instant::now();
        let mut t = PeerTable::default();
        t.add_seed("s:6264", now);
        t.admit("s:6264", info(), now);
        t.admit("p:6264", info(), now);
        for _ in 0..MAX_FAILURES_IN_ROW {
            t.record("s:6264", false, now);
            t.record("p:6264", false, now);
        }
        assert_eq!(t.prune(now), vec!["p:6264".to_string()]);
        let s = t.get("s:6264").unwrap();
        assert!(s.next_contact >= now + Duration::from_secs(16) && !s.usable(now));
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(40), MAX_BACKOFF);
        t.ban("s:6264", Duration::from_secs(60), now);
        t.enqueue("s:6264", now);
        assert!(t.take_pending(1).is_empty(), "banned addresses are not queued");
    }

    #[test]
    fn the_walk_moves_along_neighbours() {
        let now = Instant::now();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut t = PeerTable::default();
        for a in ["a:1000", "b:1000", "c:1000"] {
            t.admit(a, info(), now);
        }
        t.get_mut("a:1000").unwrap().neighbours = vec!["b:1000".into(), "c:1000".into()];
        t.get_mut("b:1000").unwrap().neighbours = vec!["a:1000".into()];
        t.get_mut("c:1000").unwrap().neighbours = vec!["a:1000".into()];
        let start = t.walk_position(now, &mut rng).unwrap();
        let mut visited = std::collections::HashSet::from([start]);
        for _ in 0..50 {
            if t.walk_position(now, &mut rng).is_some() {
                if let Some(next) = t.walk_step(&mut rng) {
                    visited.insert(next);
                }
            }
        }
        assert_eq!(visited.len(), 3, "{visited:?}");
        let mut live = t.live_neighbours("a:1000", &mut rng);
        live.sort();
        assert_eq!(live, vec!["b:1000", "c:1000"]);
    }
}
