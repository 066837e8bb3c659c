//! Keeping the peer table alive: vetting peers (`getinfo`: same network, a
//! consensus hash on our fork), learning new ones (peer exchange along the
//! MHRWDA walk), refreshing what each holds (inventory, incrementally from
//! the first byte that covers a file we miss), pushing files new to the
//! network to neighbours that lack them, and dropping the dead and unhealthy.
//! Each task runs on its own; at most one per peer at a time.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::seq::SliceRandom as _;
use tokio::sync::mpsc;
use tracing::{debug, info};

use super::client::Client;
use super::inventory::MAX_INV_SLICE;
use super::peers::{MIN_HEALTH, NUM_NEIGHBORS_LIVE};
use super::protocol::{self, b64, MAX_PUT_ZONEFILES};
use super::replicate::Event;
use super::state::AtlasState;
use super::xmlrpc::Value;
use crate::hash::ValueHash;

/// `getinfo`/`ping` timeout (Core's 3 s).
pub const PING_TIMEOUT: Duration = Duration::from_secs(3);
/// Peer-exchange and inventory timeout (Core's 10 s).
pub const NEIGHBORS_TIMEOUT: Duration = Duration::from_secs(10);
/// Push timeout (Core's 10 s).
pub const PUSH_TIMEOUT: Duration = Duration::from_secs(10);
/// Crawl tasks in flight at most.
const MAX_TASKS: usize = 16;
/// A vetted peer is vetted again after this (Core pings every 600 s).
const REVET: Duration = Duration::from_secs(300);
/// Inventory refresh interval while we miss files, and when we do not.
const INV_FAST: Duration = Duration::from_secs(1);
const INV_SLOW: Duration = Duration::from_secs(60);
/// Inventory refreshes started per second at most (and the burst allowed).
const INV_PER_SEC: f64 = 8.0;
/// Walk steps: often while the table is small, then slowly (Core crawls every 300 s).
const WALK_FAST: Duration = Duration::from_secs(1);
const WALK_SLOW: Duration = Duration::from_secs(30);
/// Zone files taken from the push queue per push task.
const PUSH_BATCH: usize = 50;
/// Each zone file is pushed to at most this many neighbours (they push on, or others pull).
const PUSH_FANOUT: usize = 8;

/// Starts crawl tasks; owned by the replication loop.
pub struct Crawler {
    state: Arc<AtlasState>,
    client: Client,
    me: String,
    events: mpsc::UnboundedSender<Event>,
    busy: Arc<Mutex<HashSet<String>>>,
    pushing: Arc<Mutex<bool>>,
    last_walk: Instant,
    last_prune: Instant,
    /// Token bucket of inventory refreshes.
    inv_tokens: f64,
    inv_last: Instant,
}

/// Releases a peer's busy mark when its task ends, however it ends.
struct Busy(Arc<Mutex<HashSet<String>>>, String, mpsc::UnboundedSender<Event>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.1);
        let _ = self.2.send(Event::Crawled);
    }
}

impl Crawler {
    /// A crawler advertising `me` (`host:port`) to peers.
    pub fn new(state: Arc<AtlasState>, client: Client, me: String, events: mpsc::UnboundedSender<Event>) -> Crawler {
        let past = Instant::now() - Duration::from_secs(3600);
        Crawler {
            state,
            client,
            me,
            events,
            busy: Arc::default(),
            pushing: Arc::default(),
            last_walk: past,
            last_prune: Instant::now(),
            inv_tokens: INV_PER_SEC,
            inv_last: Instant::now(),
        }
    }

    fn try_start(&self, addr: &str) -> Option<Busy> {
        let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        if busy.len() >= MAX_TASKS || busy.contains(addr) {
            return None;
        }
        busy.insert(addr.to_string());
        Some(Busy(self.busy.clone(), addr.to_string(), self.events.clone()))
    }

    /// Starts whatever crawl work is due.
    pub fn round(&mut self) {
        let now = Instant::now();
        if now.duration_since(self.last_prune) >= Duration::from_secs(10) {
            self.last_prune = now;
            for d in self.state.peers().prune(now) {
                info!(peer = %d, "atlas: dropping a dead or unhealthy peer");
            }
        }
        // Peers dropped, evicted, rejected or banned leave the store's table too.
        let removed = self.state.peers().take_removed();
        if !removed.is_empty() {
            let st = self.state.clone();
            tokio::task::spawn_blocking(move || {
                let _ = st.with_store(|s| removed.iter().try_for_each(|d| s.remove_atlas_peer(d)));
            });
        }
        let (peers, healthy) = self.state.peers().counts();
        self.state.metrics.atlas.set_peers(peers, healthy);

        // Vetting: new addresses, known peers not vetted yet, and vetted ones due again.
        let mut to_vet = {
            let mut t = self.state.peers();
            let mut v = t.take_pending(MAX_TASKS);
            v.extend(t.due_for_vetting(now));
            v.extend(
                t.all()
                    .filter(|p| p.vetted && p.info_at.is_some_and(|at| now.duration_since(at) > REVET))
                    .map(|p| p.addr.clone()),
            );
            v
        };
        to_vet.dedup();
        // Vetting takes at most half the task slots: inventories and exchanges keep theirs.
        let vetting = to_vet.into_iter().take(MAX_TASKS / 2);
        for addr in vetting {
            if self.busy.lock().unwrap_or_else(|e| e.into_inner()).len() >= MAX_TASKS / 2 {
                break;
            }
            if let Some(busy) = self.try_start(&addr) {
                let (st, client, me) = (self.state.clone(), self.client.clone(), self.me.clone());
                tokio::spawn(async move {
                    vet(&st, &client, &addr, &me).await;
                    drop(busy);
                });
            }
        }

        // Inventories of the healthiest usable peers.
        let (missing, our_bytes) = {
            let inv = self.state.read_inv();
            (inv.counts().1, inv.bits().len() as u64)
        };
        let mut due: Vec<(Option<Instant>, String)> = {
            let t = self.state.peers();
            let mut usable: Vec<_> = t.all().filter(|p| p.usable(now)).collect();
            usable.sort_by(|a, b| b.health().total_cmp(&a.health()));
            usable
                .into_iter()
                .take(NUM_NEIGHBORS_LIVE)
                .filter(|p| {
                    let every = if missing > 0 { INV_FAST } else { INV_SLOW };
                    p.inv_refreshed.is_none_or(|at| now.duration_since(at) >= every)
                        || p.inv.byte_len() < our_bytes
                            && p.inv_refreshed.is_none_or(|at| now.duration_since(at) >= INV_FAST)
                })
                .map(|p| (p.inv_refreshed, p.addr.clone()))
                .collect()
        };
        // Stalest first, and at most INV_PER_SEC a second whatever the number of peers: n nodes
        // that all know each other would otherwise send n² inventory requests a second.
        due.sort();
        self.inv_tokens =
            (self.inv_tokens + now.duration_since(self.inv_last).as_secs_f64() * INV_PER_SEC).min(INV_PER_SEC);
        self.inv_last = now;
        if our_bytes > 0 {
            for (_, addr) in due {
                if self.inv_tokens < 1.0 {
                    break;
                }
                if let Some(busy) = self.try_start(&addr) {
                    self.inv_tokens -= 1.0;
                    let (st, client) = (self.state.clone(), self.client.clone());
                    tokio::spawn(async move {
                        refresh_inventory(&st, &client, &addr).await;
                        drop(busy);
                    });
                }
            }
        }

        // One walk step.
        let small = peers < NUM_NEIGHBORS_LIVE as u64;
        if now.duration_since(self.last_walk) >= if small { WALK_FAST } else { WALK_SLOW } {
            self.last_walk = now;
            let position = self.state.peers().walk_position(now, &mut rand::thread_rng());
            if let Some(c) = position {
                if let Some(busy) = self.try_start(&c) {
                    let (st, client, me) = (self.state.clone(), self.client.clone(), self.me.clone());
                    tokio::spawn(async move {
                        if exchange(&st, &client, &c, &me).await {
                            st.peers().walk_step(&mut rand::thread_rng());
                        }
                        drop(busy);
                    });
                }
            }
        }

        // Push files new to the network.
        let queued = !self.state.push_queue.lock().unwrap_or_else(|e| e.into_inner()).is_empty();
        let mut pushing = self.pushing.lock().unwrap_or_else(|e| e.into_inner());
        if queued && !*pushing {
            *pushing = true;
            let (st, client, flag) = (self.state.clone(), self.client.clone(), self.pushing.clone());
            tokio::spawn(async move {
                push(&st, &client).await;
                *flag.lock().unwrap_or_else(|e| e.into_inner()) = false;
            });
        }
    }
}

/// Checks a peer's getinfo: same network, and (when it is not ahead of us) a
/// consensus hash we had within the last 24 blocks. Admits or rejects it.
async fn vet(state: &Arc<AtlasState>, client: &Client, addr: &str, me: &str) {
    let now = Instant::now();
    let verdict = match client.call(addr, "getinfo", &[], PING_TIMEOUT).await {
        Err(e) => Err(e.to_string()),
        Ok(reply) => protocol::parse_getinfo(&reply).and_then(|info| {
            let ours = state.chain_info();
            if !protocol::version_ok(&info.server_version) {
                return Err(format!("server version {} is older than 0.17", info.server_version));
            }
            // Core compares only the testnet flag (its first_block is always mainnet's); a
            // chain with other rules shows in the consensus hash below.
            if info.testnet != ours.testnet {
                return Err("it is on another network".into());
            }
            if ours.last_block_processed > 0 && info.last_block_processed <= ours.last_block_processed {
                let on_our_fork = info.consensus.parse().is_ok_and(|ch| {
                    state.recent_consensus.read().map(|r| r.contains(&ch)).unwrap_or(false)
                });
                if !on_our_fork {
                    return Err(format!(
                        "its consensus hash at block {} is not one of ours of the last 24 blocks (another fork, or too far behind)",
                        info.last_block_processed
                    ));
                }
            }
            Ok(info)
        }),
    };
    let admitted = {
        let mut t = state.peers();
        match verdict {
            Ok(info) => {
                let fresh = t.get(addr).is_none_or(|p| !p.vetted);
                let ok = t.admit(addr, info, now);
                t.record(addr, ok, now);
                if ok && fresh {
                    info!(peer = %addr, "atlas: new peer");
                }
                ok && fresh
            }
            Err(why) => {
                debug!(peer = %addr, reason = %why, "atlas: peer not taken");
                t.record(addr, false, now);
                t.reject(addr, now);
                false
            }
        }
    };
    if admitted {
        let (st, a) = (state.clone(), addr.to_string());
        let _ = tokio::task::spawn_blocking(move || st.with_store(|s| s.put_atlas_peer(&a))).await;
        state.wake.notify_one();
        exchange(state, client, addr, me).await;
    }
}

/// Asks `addr` for its neighbours (telling it ours); queues them for vetting.
async fn exchange(state: &Arc<AtlasState>, client: &Client, addr: &str, me: &str) -> bool {
    let reply = client.call(addr, "atlas_peer_exchange", &[Value::Str(me.to_string())], NEIGHBORS_TIMEOUT).await;
    let now = Instant::now();
    let parsed = match reply {
        Ok(r) => protocol::parse_peers(&r),
        Err(e) => Err(e.to_string()),
    };
    let mut t = state.peers();
    match parsed {
        Ok(list) => {
            t.record(addr, true, now);
            for n in &list {
                t.enqueue(n, now);
            }
            if let Some(p) = t.get_mut(addr) {
                p.neighbours = list;
            }
            true
        }
        Err(why) => {
            debug!(peer = %addr, reason = %why, "atlas: peer exchange failed");
            t.record(addr, false, now);
            false
        }
    }
}

/// Refreshes what we know of `addr`'s inventory, from the first byte that
/// covers a zone file we miss (all of it when we miss none), up to our length.
async fn refresh_inventory(state: &Arc<AtlasState>, client: &Client, addr: &str) {
    let (start, end) = {
        let inv = state.read_inv();
        (inv.first_missing_row().map(|r| r / 8).unwrap_or(0), inv.bits().len() as u64)
    };
    let mut fresh = Vec::new();
    let mut offset = start;
    let mut outcome = Ok(());
    while offset < end {
        let params = [Value::Int(offset as i64), Value::Int(MAX_INV_SLICE as i64)];
        match client.call(addr, "get_zonefile_inventory", &params, NEIGHBORS_TIMEOUT).await {
            Ok(reply) => match protocol::parse_inventory(&reply, MAX_INV_SLICE) {
                Ok(bits) => {
                    let n = bits.len() as u64;
                    fresh.extend_from_slice(&bits);
                    offset += n;
                    if n < MAX_INV_SLICE {
                        break;
                    }
                }
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            },
            Err(e) => {
                outcome = Err(e.to_string());
                break;
            }
        }
    }
    let now = Instant::now();
    let mut t = state.peers();
    match outcome {
        Ok(()) => {
            fresh.truncate((end - start) as usize);
            t.record(addr, true, now);
            if let Some(p) = t.get_mut(addr) {
                p.inv.replace_from(start, &fresh);
                p.inv_refreshed = Some(now);
            }
            drop(t);
            state.wake.notify_one();
        }
        Err(why) => {
            state.metrics.atlas.rejected("bad_reply");
            debug!(peer = %addr, reason = %why, "atlas: inventory refresh failed");
            t.record(addr, false, now);
            if let Some(p) = t.get_mut(addr) {
                p.inv_refreshed = Some(now);
            }
        }
    }
}

/// Pushes queued zone files to healthy neighbours whose inventory has their
/// rows clear (and knows of them), [`MAX_PUT_ZONEFILES`] per call.
async fn push(state: &Arc<AtlasState>, client: &Client) {
    let hashes: Vec<ValueHash> = {
        let mut q = state.push_queue.lock().unwrap_or_else(|e| e.into_inner());
        let n = q.len().min(PUSH_BATCH);
        q.drain(..n).collect()
    };
    let now = Instant::now();
    let plan: Vec<(String, Vec<ValueHash>)> = {
        let inv = state.read_inv();
        let t = state.peers();
        let mut targets: Vec<_> = t
            .all()
            .filter(|p| p.usable(now) && p.health() >= MIN_HEALTH && p.inv_refreshed.is_some())
            .take(NUM_NEIGHBORS_LIVE)
            .collect();
        targets.shuffle(&mut rand::thread_rng());
        let mut fanout: std::collections::HashMap<ValueHash, usize> = std::collections::HashMap::new();
        targets
            .into_iter()
            .map(|p| {
                let lacking: Vec<ValueHash> = hashes
                    .iter()
                    .filter(|h| {
                        let rows = inv.rows_of(h);
                        let knows = { rows }.all(|r| (r as u64) / 8 < p.inv.byte_len());
                        let sent = fanout.entry(**h).or_default();
                        let push = !rows.is_empty() && knows && !p.inv.has_any(rows) && *sent < PUSH_FANOUT;
                        *sent += push as usize;
                        push
                    })
                    .copied()
                    .collect();
                (p.addr.clone(), lacking)
            })
            .filter(|(_, l)| !l.is_empty())
            .collect()
    };
    if plan.is_empty() {
        return;
    }
    let wanted: HashSet<ValueHash> = plan.iter().flat_map(|(_, l)| l.iter().copied()).collect();
    let st = state.clone();
    let files = tokio::task::spawn_blocking(move || {
        st.with_store(|s| {
            let mut out = std::collections::HashMap::new();
            for h in wanted {
                if let Some(b) = s.zonefile(&h)? {
                    out.insert(h, b);
                }
            }
            Ok(out)
        })
    })
    .await;
    let Ok(Ok(files)) = files else { return };
    for (addr, lacking) in plan {
        for chunk in lacking.chunks(MAX_PUT_ZONEFILES) {
            let sent: Vec<ValueHash> = chunk.iter().filter(|h| files.contains_key(*h)).copied().collect();
            let datas = Value::Array(sent.iter().map(|h| Value::Str(b64(&files[h]))).collect());
            let reply = client.call(&addr, "put_zonefiles", &[datas], PUSH_TIMEOUT).await;
            let now = Instant::now();
            let saved = reply.map_err(|e| e.to_string()).and_then(|r| protocol::parse_saved(&r, sent.len()));
            let inv = state.read_inv();
            let mut t = state.peers();
            match saved {
                Ok(saved) => {
                    t.record(&addr, true, now);
                    if let Some(p) = t.get_mut(&addr) {
                        for (h, ok) in sent.iter().zip(saved) {
                            if ok {
                                p.inv.set_rows(inv.rows_of(h), true);
                            }
                        }
                    }
                }
                Err(why) => {
                    debug!(peer = %addr, reason = %why, "atlas: push failed");
                    t.record(&addr, false, now);
                    break;
                }
            }
        }
    }
}
