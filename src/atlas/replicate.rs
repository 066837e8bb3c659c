//! The replication loop: every missing zone file, from whoever has it.
//!
//! Each round: fold new inventory rows and stored files in from the store;
//! vet new peers, crawl (peer exchange + MHRWDA step), refresh stale peer
//! inventories, push new files (see [`super::crawl`]); then fetch: missing
//! hashes sorted rarest first (fewest peers whose inventory has them, then
//! inventory order), handed out in batches of at most 100 to the peers that
//! have them, at most [`PER_PEER`] requests in flight per peer, several peers
//! at once. Every file is checked against its hash160 before it is stored;
//! a peer that sends wrong bytes is dropped and banned. Hashes no peer has go
//! to the HTTP sources. A hash that failed waits (1 s doubling to 10 min)
//! and is tried again, forever. Nothing here needs saving: after a restart
//! the store's inventory and zone files say what is missing.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::seq::SliceRandom as _;
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::client::{CallError, Client};
use super::crawl::Crawler;
use super::protocol::{self, MAX_GET_ZONEFILES};
use super::sources;
use super::state::{AtlasState, Origin};
use super::xmlrpc::Value;
use crate::hash::ValueHash;

/// Requests in flight to one peer at most.
pub const PER_PEER: usize = 2;
/// `get_zonefiles` timeout (Core's 30 s).
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(30);
/// HTTP-source fetches in flight at most.
pub const HTTP_IN_FLIGHT: usize = 8;
/// Longest wait before a failed hash is tried again.
pub const MAX_RETRY: Duration = Duration::from_secs(600);
/// Peers that sent bytes not matching their hash are refused this long.
pub const BAN: Duration = Duration::from_secs(3600);
/// Time between rounds when nothing wakes the loop.
const ROUND: Duration = Duration::from_millis(250);
/// Shortest time between rounds.
const MIN_ROUND: Duration = Duration::from_millis(100);
/// `get_zonefiles` calls in flight at most, over all peers.
pub const FETCHES_IN_FLIGHT: usize = 32;
/// Peers considered per round (at most 16: holders are a `u16` mask): a random sample of the usable ones (those with a free request
/// slot first), so a round costs missing × 16 checks however many peers there are; rarity is
/// counted over the sample, which changes every round.
const PEERS_PER_ROUND: usize = 16;

/// Sends its event when dropped: a task that ends in any way (even a panic)
/// still reports, so nothing it held stays in flight.
struct Report(Option<Event>, mpsc::UnboundedSender<Event>);

impl Drop for Report {
    fn drop(&mut self) {
        if let Some(ev) = self.0.take() {
            let _ = self.1.send(ev);
        }
    }
}

/// What a finished task reports to the loop.
#[derive(Debug)]
pub enum Event {
    /// A `get_zonefiles` call to `peer` ended.
    Fetched {
        /// Peer asked.
        peer: String,
        /// Hashes asked for.
        asked: Vec<ValueHash>,
        /// Hashes it sent (with bytes that match).
        sent: Vec<ValueHash>,
        /// Hashes now held (stored or already held).
        held: Vec<ValueHash>,
        /// The call failed, or the peer lied (`true`: wrong bytes).
        failure: Option<(String, bool)>,
    },
    /// An HTTP-source fetch of `hash` ended.
    Http {
        /// Hash wanted.
        hash: ValueHash,
        /// Whether it is held now.
        held: bool,
    },
    /// A crawl task (vetting, exchange, inventory, push) ended.
    Crawled,
    /// A peer answered `overloaded` to a fetch of these hashes.
    Busy {
        /// Peer asked.
        peer: String,
        /// Hashes asked for.
        asked: Vec<ValueHash>,
    },
}

#[derive(Debug, Clone, Copy)]
struct Retry {
    tries: u32,
    next: Instant,
}

/// The loop's own state.
pub struct Replicator {
    state: Arc<AtlasState>,
    client: Client,
    sources: Vec<String>,
    crawler: Crawler,
    in_flight: HashSet<ValueHash>,
    fetches_in_flight: usize,
    http_in_flight: usize,
    retry: HashMap<ValueHash, Retry>,
    events: mpsc::UnboundedSender<Event>,
    inbox: mpsc::UnboundedReceiver<Event>,
    progress: super::progress::Progress,
}

impl Replicator {
    /// A loop for `state`, with HTTP `sources` (base URLs) and `me` (our advertised `host:port`).
    pub fn new(state: Arc<AtlasState>, client: Client, sources: Vec<String>, me: String) -> Replicator {
        let (events, inbox) = mpsc::unbounded_channel();
        let crawler = Crawler::new(state.clone(), client.clone(), me, events.clone());
        Replicator {
            state,
            client,
            sources,
            crawler,
            in_flight: HashSet::new(),
            fetches_in_flight: 0,
            http_in_flight: 0,
            retry: HashMap::new(),
            events,
            inbox,
            progress: super::progress::Progress::default(),
        }
    }

    /// Runs until `stop` resolves.
    pub async fn run(mut self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            let started = Instant::now();
            let st = self.state.clone();
            match tokio::task::spawn_blocking(move || st.refresh()).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => warn!(error = %e, "atlas: reading the store failed; retrying"),
                Err(e) => warn!(error = %e, "atlas: refresh task failed"),
            }
            self.crawler.round();
            self.schedule();
            self.progress.update(&self.state);
            tokio::select! {
                _ = &mut stop => return,
                _ = self.state.wake.notified() => {}
                Some(ev) = self.inbox.recv() => self.on_event(ev),
                _ = tokio::time::sleep(ROUND) => {}
            }
            // Rounds come at most every MIN_ROUND, however often the loop is woken.
            let rest = MIN_ROUND.saturating_sub(started.elapsed());
            if !rest.is_zero() {
                tokio::time::sleep(rest).await;
            }
            while let Ok(ev) = self.inbox.try_recv() {
                self.on_event(ev);
            }
        }
    }

    fn on_event(&mut self, ev: Event) {
        let now = Instant::now();
        match ev {
            Event::Fetched { peer, asked, sent, held, failure } => {
                self.fetches_in_flight = self.fetches_in_flight.saturating_sub(1);
                let held_set: HashSet<ValueHash> = held.iter().copied().collect();
                let sent_set: HashSet<ValueHash> = sent.iter().copied().collect();
                let withheld: Vec<ValueHash> = if failure.is_none() {
                    asked.iter().filter(|h| !sent_set.contains(*h)).copied().collect()
                } else {
                    vec![]
                };
                // Lock order everywhere: the inventory, then the peer table.
                let inv = self.state.read_inv();
                let mut peers = self.state.peers();
                match &failure {
                    Some((why, true)) => {
                        warn!(%peer, reason = %why, "atlas: peer sent a zone file that does not match its hash; dropping and banning it");
                        peers.ban(&peer, BAN, now);
                    }
                    Some((why, false)) => {
                        info!(%peer, reason = %why, "atlas: zone file request failed");
                        peers.record(&peer, false, now);
                    }
                    // It advertised files it did not send: that lowers its health.
                    None => peers.record(&peer, withheld.is_empty(), now),
                }
                if let Some(p) = peers.get_mut(&peer) {
                    p.in_flight = p.in_flight.saturating_sub(1);
                    // What it did not send, it does not have (Core clears those bits too); its next
                    // inventory may claim them again, so they are not asked of it for a while.
                    for h in &withheld {
                        p.inv.set_rows(inv.rows_of(h), false);
                        p.mark_withheld(*h, now);
                    }
                }
                drop(peers);
                drop(inv);
                for h in asked {
                    self.in_flight.remove(&h);
                    if held_set.contains(&h) {
                        self.retry.remove(&h);
                    } else if sent_set.contains(&h) {
                        // It came but could not be stored: wait before the next try.
                        self.failed(h, now);
                    }
                }
            }
            Event::Http { hash, held } => {
                self.http_in_flight = self.http_in_flight.saturating_sub(1);
                self.in_flight.remove(&hash);
                if held {
                    self.retry.remove(&hash);
                } else {
                    self.failed(hash, now);
                }
            }
            // Its only job is to wake the loop: a peer's inventory or the table changed.
            Event::Crawled => {}
            Event::Busy { peer, asked } => {
                self.fetches_in_flight = self.fetches_in_flight.saturating_sub(1);
                let mut peers = self.state.peers();
                peers.busy(&peer, now);
                if let Some(p) = peers.get_mut(&peer) {
                    p.in_flight = p.in_flight.saturating_sub(1);
                }
                drop(peers);
                for h in asked {
                    self.in_flight.remove(&h);
                }
            }
        }
    }

    fn failed(&mut self, hash: ValueHash, now: Instant) {
        let r = self.retry.entry(hash).or_insert(Retry { tries: 0, next: now });
        r.tries = r.tries.saturating_add(1);
        let wait = Duration::from_secs(1u64 << (r.tries - 1).min(10)).min(MAX_RETRY);
        r.next = now + wait;
    }

    /// Hands missing hashes out to peers (rarest first) and HTTP sources.
    fn schedule(&mut self) {
        let now = Instant::now();
        let inv = self.state.read_inv();
        if inv.counts().1 == 0 {
            self.retry.clear();
            return;
        }
        let mut peers = self.state.peers();
        // A random sample of the usable peers, those with a free request slot first.
        let mut all_usable: Vec<&super::peers::Peer> = peers.all().filter(|p| p.usable(now)).collect();
        all_usable.shuffle(&mut rand::thread_rng());
        all_usable.sort_by_key(|p| p.in_flight >= PER_PEER);
        all_usable.truncate(PEERS_PER_ROUND);
        let mut free: Vec<(String, usize, f64)> = Vec::new();
        let slot_of: Vec<Option<usize>> = all_usable
            .iter()
            .map(|p| {
                (p.in_flight < PER_PEER).then(|| {
                    free.push((p.addr.clone(), PER_PEER - p.in_flight, p.health()));
                    free.len() - 1
                })
            })
            .collect();
        let http_slots = !self.sources.is_empty() && self.http_in_flight < HTTP_IN_FLIGHT;
        if (free.is_empty() || self.fetches_in_flight >= FETCHES_IN_FLIGHT) && !http_slots {
            return;
        }
        // Capacity this round: free request slots (within the global cap) × 100 hashes.
        let slots =
            free.iter().map(|f| f.1).sum::<usize>().min(FETCHES_IN_FLIGHT.saturating_sub(self.fetches_in_flight));
        let capacity = slots * MAX_GET_ZONEFILES;
        let http_room = if http_slots { HTTP_IN_FLIGHT - self.http_in_flight } else { 0 };
        // One pass over the missing hashes (in inventory order) and the sampled peers: hashes
        // go into buckets by how many sampled peers hold them, with a bit mask of the holders
        // that have a free slot. No allocation per hash; the scan stops once the rarest bucket
        // alone fills this round.
        let mut buckets: Vec<Vec<(ValueHash, u16)>> = vec![Vec::new(); PEERS_PER_ROUND + 1];
        let mut orphans = Vec::new();
        for (_, hash) in inv.missing() {
            if self.in_flight.contains(&hash) || self.retry.get(&hash).is_some_and(|r| r.next > now) {
                continue;
            }
            let rows = inv.rows_of(&hash);
            let (mut holders, mut mask) = (0usize, 0u16);
            for (ui, p) in all_usable.iter().enumerate() {
                if p.inv.has_any(rows) && !p.withholds(&hash, now) {
                    holders += 1;
                    if slot_of[ui].is_some() {
                        mask |= 1 << ui;
                    }
                }
            }
            if holders == 0 {
                if orphans.len() < http_room {
                    orphans.push(hash);
                }
            } else if mask != 0 {
                buckets[holders].push((hash, mask));
                if buckets[1].len() >= capacity && orphans.len() >= http_room {
                    break;
                }
            }
        }
        // Rarest first (then inventory order, as scanned): each to its least-loaded holder with room.
        let mut batches: HashMap<usize, Vec<ValueHash>> = HashMap::new();
        let mut assigned = 0;
        'fill: for bucket in buckets.iter().skip(1) {
            for (hash, mask) in bucket {
                if assigned >= capacity {
                    break 'fill;
                }
                let pick = (0..all_usable.len())
                    .filter(|ui| mask & (1 << ui) != 0)
                    .filter_map(|ui| slot_of[ui])
                    .filter(|fi| batches.get(fi).map_or(0, |b| b.len()) < free[*fi].1 * MAX_GET_ZONEFILES)
                    .min_by(|a, b| {
                        let load = |i: &usize| batches.get(i).map_or(0, |b| b.len());
                        load(a).cmp(&load(b)).then(free[*b].2.total_cmp(&free[*a].2))
                    });
                if let Some(fi) = pick {
                    batches.entry(fi).or_default().push(*hash);
                    assigned += 1;
                }
            }
        }
        drop(all_usable);
        drop(inv);
        for (i, hashes) in batches {
            let addr = free[i].0.clone();
            for chunk in hashes.chunks(MAX_GET_ZONEFILES) {
                if self.fetches_in_flight >= FETCHES_IN_FLIGHT {
                    break;
                }
                self.fetches_in_flight += 1;
                if let Some(p) = peers.get_mut(&addr) {
                    p.in_flight += 1;
                }
                self.in_flight.extend(chunk.iter().copied());
                self.spawn_fetch(addr.clone(), chunk.to_vec());
            }
        }
        free.clear();
        drop(peers);
        if !self.sources.is_empty() {
            for hash in orphans {
                if self.http_in_flight >= HTTP_IN_FLIGHT {
                    break;
                }
                self.http_in_flight += 1;
                self.in_flight.insert(hash);
                let (state, client, sources, events) =
                    (self.state.clone(), self.client.clone(), self.sources.clone(), self.events.clone());
                tokio::spawn(async move {
                    let mut report = Report(Some(Event::Http { hash, held: false }), events);
                    let held = sources::fetch(&state, &client, &sources, hash).await;
                    report.0 = Some(Event::Http { hash, held });
                });
            }
        }
    }

    fn spawn_fetch(&self, peer: String, asked: Vec<ValueHash>) {
        let (state, client, events) = (self.state.clone(), self.client.clone(), self.events.clone());
        tokio::spawn(async move {
            let failed = Event::Fetched {
                peer: peer.clone(),
                asked: asked.clone(),
                sent: vec![],
                held: vec![],
                failure: Some(("the fetch task ended early".into(), false)),
            };
            let mut report = Report(Some(failed), events);
            report.0 = Some(fetch(&state, &client, peer, asked).await);
        });
    }
}

/// One `get_zonefiles` call: verify every file against its hash, store the good ones.
async fn fetch(state: &Arc<AtlasState>, client: &Client, peer: String, asked: Vec<ValueHash>) -> Event {
    let params = [Value::Array(asked.iter().map(|h| Value::Str(h.to_hex())).collect())];
    let reply = match client.call(&peer, "get_zonefiles", &params, FETCH_TIMEOUT).await {
        Ok(r) => r,
        Err(CallError::Busy) => return Event::Busy { peer, asked },
        Err(e) => {
            if matches!(e, CallError::Timeout) {
                state.metrics.atlas.rejected("timeout");
            } else {
                state.metrics.atlas.rejected("bad_reply");
            }
            return Event::Fetched { peer, asked, sent: vec![], held: vec![], failure: Some((e.to_string(), false)) };
        }
    };
    let files = match protocol::parse_zonefiles(&reply, &asked) {
        Ok(f) => f,
        Err(e) => {
            state.metrics.atlas.rejected("bad_reply");
            return Event::Fetched { peer, asked, sent: vec![], held: vec![], failure: Some((e, false)) };
        }
    };
    let lied = files.iter().find(|(h, bytes)| ValueHash::of_zonefile(bytes) != *h).map(|(h, _)| *h);
    let files: Vec<(Option<ValueHash>, Vec<u8>)> =
        files.into_iter().filter(|(h, bytes)| ValueHash::of_zonefile(bytes) == *h).map(|(h, b)| (Some(h), b)).collect();
    let sent: Vec<ValueHash> = files.iter().filter_map(|(h, _)| *h).collect();
    if let Some(h) = lied {
        state.metrics.atlas.rejected("mismatch");
        // Keep what verified; the liar is banned.
        let held = store(state, files, &peer).await;
        return Event::Fetched { peer, asked, sent, held, failure: Some((format!("wrong bytes for {h}"), true)) };
    }
    let held = store(state, files, &peer).await;
    Event::Fetched { peer, asked, sent, held, failure: None }
}

async fn store(state: &Arc<AtlasState>, files: Vec<(Option<ValueHash>, Vec<u8>)>, peer: &str) -> Vec<ValueHash> {
    if files.is_empty() {
        return vec![];
    }
    let (st, origin) = (state.clone(), Origin::Peer(peer.to_string()));
    let result = tokio::task::spawn_blocking(move || {
        let verdicts = st.store_verified(&files, &origin);
        files.iter().zip(verdicts).filter(|(_, v)| v.is_held()).filter_map(|((h, _), _)| *h).collect::<Vec<_>>()
    })
    .await;
    result.unwrap_or_default()
}
