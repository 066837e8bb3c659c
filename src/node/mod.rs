//! Wires one node together: chain, indexer, store and the faces (DNS, REST
//! API). `bns dev` ([`devnode`]) and `bns node` ([`follow`]) share the
//! follower thread and the faces defined here.

pub mod anchor;
pub mod dane;
pub mod dev;
pub mod devnode;
pub mod follow;
pub mod generate;
pub mod genesis_zones;
pub mod inspect;
pub mod names;
pub mod owner;
pub mod snapshot;
pub mod zone;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context as _};
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::api::{ApiOptions, ApiServer};
use crate::atlas::{Atlas, AtlasOptions};
use crate::bns::epoch::ChainKind;
use crate::bns::ChainParams;
use crate::chain::{BlockSource, ErrorKind};
use crate::config::FaceSettings;
use crate::dns::forward::{default_policies, loopback_nets, parse_policies, DEFAULT_CACHE_SIZE, DEFAULT_MAX_FORWARDS};
use crate::dns::rrl::{Rrl, DEFAULT_RATE, DEFAULT_SLIP};
use crate::dns::tls::{CertSource, DotListener};
use crate::dns::{DnsLimits, DnsServer, Policy, ResolverOptions, Upstreams, DEFAULT_MAX_TCP};
use crate::indexer::{Indexer, IndexerError};
use crate::metrics::Metrics;
use crate::store::Store;
use names::StoreNames;

pub use devnode::{
    run_dev, save_dev_params, DEV_FUNDING_BLOCKS, DEV_PARAMS_FILE, DEV_TOKEN_ALLOCATION, GENERATED_NAMESPACE,
};
pub use follow::run_node;

/// The namespace policies in effect: [`crate::dns::forward::DEFAULT_OPT_IN`] as `bns`, then
/// `--namespace-policy NS=POLICY` entries over them. Namespaces in neither
/// get [`crate::dns::tld::default_policy`]. `localhost` cannot be opted in:
/// it is always answered locally (RFC 6761).
pub fn namespace_policies(settings: &FaceSettings) -> anyhow::Result<std::collections::HashMap<String, Policy>> {
    let mut out = default_policies();
    let given = parse_policies(&settings.namespace_policy).map_err(|e| anyhow!("--namespace-policy: {e}"))?;
    if given.contains_key("localhost") {
        return Err(anyhow!("--namespace-policy: localhost is always answered locally (RFC 6761); remove that entry"));
    }
    out.extend(given);
    Ok(out)
}

/// Forwarding, namespace policies and cache size for the DNS face. Without
/// `--upstream`, the nameservers of /etc/resolv.conf (other than this node's
/// own DNS address) are used.
pub fn resolver_options(settings: &FaceSettings) -> anyhow::Result<ResolverOptions> {
    let upstreams = match Upstreams::parse(&settings.upstreams).map_err(|e| anyhow!("--upstream: {e}"))? {
        Some(u) => u,
        None => Upstreams::system_default(settings.dns_addr()),
    };
    Ok(ResolverOptions {
        upstreams,
        policies: namespace_policies(settings)?,
        cache_size: settings.cache_size.unwrap_or(DEFAULT_CACHE_SIZE),
        allow_recursion: if settings.allow_recursion.is_empty() {
            loopback_nets()
        } else {
            settings.allow_recursion.clone()
        },
        max_forwards: settings.max_forwards.unwrap_or(DEFAULT_MAX_FORWARDS),
    })
}

/// Warns when DNS listens beyond this host: who may recurse and how fast
/// anyone is answered now matter.
fn warn_if_exposed(settings: &FaceSettings, dns_addr: std::net::SocketAddr) {
    let exposed = [Some(dns_addr), settings.dot_addr].into_iter().flatten().filter(|a| !a.ip().is_loopback());
    for addr in exposed {
        let recursion = if settings.allow_recursion.is_empty() {
            "this host only (--allow-recursion)".to_string()
        } else {
            settings.allow_recursion.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ")
        };
        let rate = settings.rrl_rate.unwrap_or(DEFAULT_RATE);
        warn!(%addr, %recursion, rrl_rate = rate,
            "DNS listens on a non-loopback address: anyone who reaches it gets BNS answers; forwarding is allowed for {recursion}; UDP is rate limited to {rate} responses/s per /24 (--rrl-rate)");
    }
}

/// Response-rate limiting and connection caps for the DNS face.
pub fn dns_limits(settings: &FaceSettings) -> DnsLimits {
    let exempt = if settings.rrl_exempt.is_empty() {
        ["127.0.0.1/32", "::1/128"].iter().map(|n| n.parse().expect("constant network parses")).collect()
    } else {
        settings.rrl_exempt.clone()
    };
    DnsLimits {
        rrl: Rrl::new(settings.rrl_rate.unwrap_or(DEFAULT_RATE), settings.rrl_slip.unwrap_or(DEFAULT_SLIP), exempt),
        max_tcp: settings.max_tcp.unwrap_or(DEFAULT_MAX_TCP),
    }
}

/// The `--tsig-key`s, parsed; errors name the key, never its secret.
fn tsig_keys(settings: &FaceSettings) -> anyhow::Result<Vec<crate::dns::xfr::TsigKey>> {
    settings.tsig_keys.iter().map(|k| k.key().map_err(|e| anyhow!("--tsig-key: {e}"))).collect()
}

/// Checks the face settings that can be wrong before anything starts (so a
/// bad flag fails at once, not after a sync or the dev chain's set-up).
pub fn check_faces(settings: &FaceSettings) -> anyhow::Result<()> {
    namespace_policies(settings)?;
    tsig_keys(settings)?;
    Ok(())
}

/// Who may transfer the namespace zones and whom to notify; with either,
/// `names` keeps the IXFR journal from now on.
fn transfers(settings: &FaceSettings, names: &StoreNames) -> anyhow::Result<crate::dns::xfr::Transfers> {
    let keys =
        settings.tsig_keys.iter().map(|k| k.key().map_err(|e| anyhow!("--tsig-key: {e}"))).collect::<Result<_, _>>()?;
    let t =
        crate::dns::xfr::Transfers { allow: settings.allow_transfer.clone(), notify: settings.notify.clone(), keys };
    if t.enabled() {
        names.keep_journal();
        let allow = t.allow.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ");
        let notify = t.notify.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ");
        let keys = t.keys.iter().map(|k| k.name().to_string()).collect::<Vec<_>>().join(", ");
        info!(allow, notify, tsig_keys = keys, "zone transfers of the namespace zones");
    }
    Ok(t)
}

/// File names inside the data directory.
pub fn db_path(data_dir: &Path) -> PathBuf {
    data_dir.join("bns.sqlite")
}

/// Store meta keys written by the follower: the source's last seen tip, and
/// the last error reading it (empty when the source is up).
pub const META_SOURCE_TIP: &str = "source_tip";
/// See [`META_SOURCE_TIP`].
pub const META_SOURCE_ERROR: &str = "source_error";
/// Store meta key: the confirmations `bns node` last ran with.
pub const META_CONFIRMATIONS: &str = "confirmations";
/// Store meta key: where the node serving this index has its REST API.
pub const META_API_ADDR: &str = "api_addr";
/// Store meta key: the Bitcoin network a `bns node` index follows.
pub const META_NETWORK: &str = "network";

/// Creates the data directory and takes its lock: one node per data dir.
/// The lock is held as long as the returned file lives.
pub fn lock_data_dir(data_dir: &Path) -> anyhow::Result<File> {
    std::fs::create_dir_all(data_dir).with_context(|| format!("cannot create data dir {}", data_dir.display()))?;
    let lock_path = data_dir.join("bns.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("cannot open {}", lock_path.display()))?;
    lock.try_lock()
        .map_err(|_| anyhow!("another bns is using {}: stop it, or pass another --data-dir", data_dir.display()))?;
    Ok(lock)
}

/// Refuses a database indexed under other consensus parameters; records
/// them in a new one.
pub fn check_params(store: &Store, params: &ChainParams) -> anyhow::Result<()> {
    check_meta(store, "chain_params", &serde_json::to_string(params)?)
}

/// Refuses a database whose meta `key` is not `value`; sets it if absent.
pub fn check_meta(store: &Store, key: &str, value: &str) -> anyhow::Result<()> {
    match store.meta(key)? {
        Some(stored) if stored != value => Err(anyhow!(
            "this database was indexed with another {key} ({stored}, not {value}); delete {} to reindex, or pass the --data-dir of that index",
            "bns.sqlite"
        )),
        Some(_) => Ok(()),
        None => Ok(store.set_meta(key, value)?),
    }
}

/// Sets the chain and store gauges from `store` and the source's `tip`.
fn publish_metrics(metrics: &Metrics, store: &Store, tip: u64) -> Result<(), crate::store::StoreError> {
    let height = store.last_block()?.map(|b| b.height).unwrap_or(0);
    metrics.set_chain(height, tip);
    let (held, missing) = store.zonefile_counts()?;
    metrics.set_store_counts(store.name_count()?, held, missing);
    Ok(())
}

/// Back-off between failed attempts to read the block source: 1 s, doubling, at most 60 s.
fn next_backoff(current: Duration) -> Duration {
    (current * 2).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

/// The follower: runs the indexer on its own thread. Each round catches up
/// with the source (publishing height, metrics and the DNS view after every
/// batch of blocks), then waits for `wake` or `poll`. When the source fails
/// it says so in the log, in `/metrics` and in the store meta
/// ([`META_SOURCE_ERROR`]), and retries with a doubling back-off; the store
/// keeps its place (every block commits on its own).
pub struct Follower {
    /// Indexes into the store.
    pub indexer: Indexer,
    /// Where blocks come from.
    pub source: Arc<dyn BlockSource>,
    /// The DNS face's view, refreshed after each batch.
    pub names: Arc<StoreNames>,
    /// Fires to catch up at once (the dev miner after each block).
    pub wake: mpsc::Receiver<()>,
    /// Receives the processed height after each batch.
    pub height: watch::Sender<u64>,
    /// Gauges and source-health counters.
    pub metrics: Arc<Metrics>,
    /// Wait between polls when idle.
    pub poll: Duration,
    /// Names the source in log lines ("bitcoind at http://…").
    pub source_name: String,
}

impl Follower {
    /// Starts the follower thread; it ends when the `wake` sender is dropped.
    /// Fails only if the OS cannot start a thread.
    pub fn spawn(self) -> std::io::Result<std::thread::JoinHandle<()>> {
        std::thread::Builder::new().name("indexer".into()).spawn(move || self.run())
    }

    fn run(mut self) {
        let mut backoff = Duration::ZERO;
        let mut last_error = String::new();
        let mut last_tip = None;
        loop {
            let (metrics, names, height) = (self.metrics.clone(), self.names.clone(), self.height.clone());
            let source_name = self.source_name.clone();
            // Every step (at most 500 blocks) proves the source answers: health
            // and tip are current during a long sync, not only at its end.
            let result = self.indexer.catch_up_with(&*self.source, &mut |store, r| {
                fault_point(r.height);
                metrics.source_ok();
                metrics.record_reorg(r.undone);
                names.set_chain_tip(r.tip);
                // The store counts scan every name: only when the index changed.
                match names.refresh() {
                    Ok(changed) if changed || last_tip.is_none() => {
                        if let Err(e) = publish_metrics(&metrics, store, r.tip) {
                            warn!(error = %e, "reading metrics from the store failed");
                        }
                    }
                    Ok(_) => metrics.set_chain(r.height.unwrap_or(0), r.tip),
                    Err(e) => warn!(error = %e, "refreshing the DNS view failed"),
                }
                if !last_error.is_empty() {
                    info!(source = %source_name, "block source is back");
                    last_error.clear();
                    set_meta(store, META_SOURCE_ERROR, "");
                }
                if last_tip != Some(r.tip) {
                    last_tip = Some(r.tip);
                    set_meta(store, META_SOURCE_TIP, &r.tip.to_string());
                }
                if let Some(h) = r.height {
                    height.send_replace(h);
                }
            });
            let wait = match result {
                Ok(_) => {
                    // Caught up: the page cache that bulk indexing wants is
                    // only resident memory from here on.
                    if let Err(e) = self.indexer.store().shrink_memory() {
                        warn!(error = %e, "shrinking the indexer's page cache failed");
                    }
                    backoff = Duration::ZERO;
                    self.poll
                }
                Err(e) => {
                    backoff = next_backoff(backoff);
                    self.metrics.source_failed(backoff);
                    let msg = e.to_string();
                    match &e {
                        IndexerError::Chain(c) if c.kind == ErrorKind::Transient => warn!(
                            source = %self.source_name, error = %msg, retry_in_secs = backoff.as_secs(),
                            "block source unreachable; is the node running and the URL and credentials right?"
                        ),
                        _ => {
                            error!(source = %self.source_name, error = %msg, retry_in_secs = backoff.as_secs(), "indexing failed")
                        }
                    }
                    if msg != last_error {
                        set_meta(self.indexer.store(), META_SOURCE_ERROR, &msg);
                        last_error = msg;
                    }
                    backoff
                }
            };
            // Wait, refreshing the DNS view at least every poll interval (zone
            // files put by `bns zonefile put` show up even while the source is down).
            let until = std::time::Instant::now() + wait;
            loop {
                let left = until.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    break;
                }
                match self.wake.recv_timeout(left.min(self.poll).min(REFRESH_TICK)) {
                    Ok(()) => break,
                    Err(mpsc::RecvTimeoutError::Timeout) => match self.names.refresh() {
                        // A zone file put by another process: the held/missing gauges move.
                        Ok(true) => {
                            if let Err(e) = publish_metrics(&self.metrics, self.indexer.store(), last_tip.unwrap_or(0))
                            {
                                warn!(error = %e, "reading metrics from the store failed");
                            }
                        }
                        Ok(false) => {}
                        Err(e) => warn!(error = %e, "refreshing the DNS view failed"),
                    },
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                }
            }
        }
    }
}

/// Test builds only: `BNS_FAULT_INDEXER_PANIC_AT=H` makes the indexer thread
/// panic once it has indexed past height H, so tests can check that a dead
/// indexer stops the node instead of leaving it serving a frozen index.
#[cfg(debug_assertions)]
fn fault_point(height: Option<u64>) {
    let at = std::env::var("BNS_FAULT_INDEXER_PANIC_AT").ok().and_then(|v| v.parse::<u64>().ok());
    if let (Some(at), Some(h)) = (at, height) {
        assert!(h <= at, "fault injected at height {h} (BNS_FAULT_INDEXER_PANIC_AT)");
    }
}

#[cfg(not(debug_assertions))]
fn fault_point(_: Option<u64>) {}

/// A face task's outcome as one error.
fn flatten<E: std::error::Error + Send + Sync + 'static>(
    r: Result<Result<(), E>, tokio::task::JoinError>,
) -> anyhow::Result<()> {
    Ok(r??)
}

/// Waits for the indexer thread to end, and says why it did.
async fn indexer_ended(handle: std::thread::JoinHandle<()>) -> String {
    match tokio::task::spawn_blocking(move || handle.join()).await {
        Ok(Ok(())) => "it returned".to_string(),
        Ok(Err(panic)) => {
            let msg =
                panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned());
            format!("it panicked: {}", msg.unwrap_or_else(|| "no message".into()))
        }
        Err(e) => format!("cannot join it: {e}"),
    }
}

/// Writes a store meta value the follower keeps for `bns status`; a failure is logged, not fatal.
fn set_meta(store: &Store, key: &str, value: &str) {
    if let Err(e) = store.set_meta(key, value) {
        warn!(error = %e, key, "writing store meta failed");
    }
}

/// The name-server identity the namespace apexes announce.
pub fn apex_config(
    settings: &FaceSettings,
    dnssec: Option<&crate::dns::dnssec::Online>,
) -> anyhow::Result<crate::dns::ApexConfig> {
    let ns_name = match &settings.ns_name {
        None => None,
        Some(n) => {
            let n = n.trim_end_matches('.').to_ascii_lowercase();
            let ok = !n.is_empty() && n.len() <= 253 && n.split('.').all(|l| !l.is_empty() && l.len() <= 63);
            if !ok {
                anyhow::bail!("ns-name {n:?} is not a domain name: give one like ns1.example.org");
            }
            Some(n)
        }
    };
    let mut ns_addrs = settings.ns_addrs.clone();
    if ns_addrs.is_empty() {
        let ip = settings.dns_addr().ip();
        ns_addrs.push(if ip.is_unspecified() { std::net::Ipv4Addr::LOCALHOST.into() } else { ip });
    }
    Ok(crate::dns::ApexConfig { ns_name, ns_addrs, dnskey: dnssec.map(|d| d.key().dnskey().to_vec()) })
}

/// File name of the DNSSEC key inside the data directory.
pub const DNSSEC_KEY_FILE: &str = "dnssec.key";

/// The data dir's DNSSEC key (made at the first start), ready to sign.
pub fn dnssec_key(data_dir: &Path) -> anyhow::Result<Arc<crate::dns::dnssec::Online>> {
    let path = data_dir.join(DNSSEC_KEY_FILE);
    let (key, made) = crate::dns::dnssec::ZoneKey::load_or_create(&path)?;
    if made {
        info!(path = %path.display(), key_tag = key.tag(), "created the DNSSEC key (validators need its anchor: `bns dnssec anchor`)");
    } else {
        info!(key_tag = key.tag(), "DNSSEC key loaded");
    }
    Ok(Arc::new(crate::dns::dnssec::Online::new(key)))
}

/// How often the follower looks for zone files other processes stored (`bns
/// zonefile put`, the owner's commands): a cheap check of two store rows.
const REFRESH_TICK: Duration = Duration::from_millis(200);

/// Blocks behind the tip past which Atlas tells peers it is still indexing.
const INDEXING_LAG: u64 = 100;

/// Starts Atlas over its own read-write connection to the index; stored zone
/// files refresh the DNS view at once, and the chain tip is passed on every second.
async fn start_atlas(
    settings: &FaceSettings,
    data_dir: &Path,
    chain: &ChainParams,
    names: Arc<StoreNames>,
    metrics: Arc<Metrics>,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<Atlas> {
    let db = db_path(data_dir);
    let store = Store::open(&db).with_context(|| format!("cannot open {} for Atlas", db.display()))?;
    // Atlas reads and writes small rows: no bulk-indexing page cache.
    store.set_cache_size_kib(4096)?;
    let opts = AtlasOptions {
        addr: settings.atlas_addr(),
        peers: settings.atlas_peers.clone(),
        sources: settings.zonefile_sources.clone(),
        first_block: chain.first_block,
        testnet: chain.kind != ChainKind::Mainnet,
    };
    let view = names.clone();
    let on_stored = Box::new(move || {
        if let Err(e) = view.refresh() {
            warn!(error = %e, "refreshing the DNS view failed");
        }
    });
    let atlas = Atlas::start(opts, store, metrics, on_stored, stop.clone()).await.with_context(|| {
        format!("Atlas on {}: pass --atlas-addr IP:PORT (port 0 picks a free one)", settings.atlas_addr())
    })?;
    let handle = atlas.clone();
    tokio::spawn(async move {
        while !*stop.borrow() {
            let tip = names.chain_tip();
            handle.chain_advanced(tip, tip.saturating_sub(names.height()) > INDEXING_LAG);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    Ok(atlas)
}

/// The running faces of a node: DNS (UDP, TCP, optional DoT) and the HTTP
/// API with `/metrics`. Dropping the returned stop sender ends them.
pub struct Faces {
    /// Where DNS listens.
    pub dns_addr: std::net::SocketAddr,
    /// Where the API listens.
    pub api_addr: std::net::SocketAddr,
    /// Where Atlas listens.
    pub atlas_addr: std::net::SocketAddr,
    stop: watch::Sender<bool>,
    dns: tokio::task::JoinHandle<Result<(), crate::dns::DnsError>>,
    api: tokio::task::JoinHandle<Result<(), crate::api::ApiError>>,
}

impl Faces {
    /// Binds every face of `settings` and starts serving. `who` prefixes
    /// the lines printed for the user ("bns dev", "bns node").
    pub async fn start(
        who: &str,
        settings: &FaceSettings,
        data_dir: &Path,
        chain: &ChainParams,
        names: Arc<StoreNames>,
        metrics: Arc<Metrics>,
        dnssec: Option<Arc<crate::dns::dnssec::Online>>,
    ) -> anyhow::Result<Faces> {
        let (stop, stop_rx) = watch::channel(false);
        let resolver = resolver_options(settings)?;
        let upstreams = match &resolver.upstreams {
            Upstreams::None => "none (names outside BNS are refused)".to_string(),
            Upstreams::Servers(s) => s.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", "),
        };
        let workers = settings.udp_workers.unwrap_or_else(crate::dns::default_udp_workers).clamp(1, 64);
        let server = DnsServer::bind_with(settings.dns_addr(), names.cell(), workers)
            .await
            .with_context(|| {
                format!("DNS on {}: pass --dns-addr IP:PORT (port 0 picks a free one)", settings.dns_addr())
            })?
            .with_resolver(resolver)
            .with_limits(dns_limits(settings))
            .with_transfers(transfers(settings, &names)?)
            .with_dnssec(dnssec)
            .with_metrics(metrics.clone())
            .with_query_log(settings.log_queries);
        metrics.set_cache_stats(server.stats());
        let dns_addr = server.local_addr();
        warn_if_exposed(settings, dns_addr);
        let dot_files = settings.dot_cert_files()?;
        if dot_files.is_some() && settings.dot_addr.is_none() {
            anyhow::bail!("dot-cert and dot-key need dot-addr (the DNS-over-TLS listen address)");
        }
        let server = match settings.dot_addr {
            Some(addr) => {
                let certs = match dot_files {
                    Some((cert, key)) => CertSource::Files { cert, key },
                    None => CertSource::DataDir(data_dir.to_path_buf()),
                };
                let dot = DotListener::bind(addr, &certs).await?;
                println!("{who}: DoT listening on {} (certificate sha256 {})", dot.local_addr(), dot.fingerprint());
                server.with_dot(dot)
            }
            None => server,
        };
        // Answer DNS at once: Atlas and the API may take a moment to start.
        let dns = {
            let mut stop = stop_rx.clone();
            tokio::spawn(server.run(async move {
                let _ = stop.wait_for(|s| *s).await;
            }))
        };
        let atlas = start_atlas(settings, data_dir, chain, names.clone(), metrics.clone(), stop_rx.clone()).await?;
        let atlas_view = Some((atlas.state.clone(), atlas.local_addr.to_string()));
        let options = ApiOptions { allowed_hosts: settings.api_hosts.clone(), ..ApiOptions::default() };
        let api_server =
            ApiServer::bind_with(settings.api_addr(), &db_path(data_dir), metrics.clone(), atlas_view, options)
                .await
                .with_context(|| {
                format!("API on {}: pass --api-addr IP:PORT (port 0 picks a free one)", settings.api_addr())
            })?;
        println!("{who}: forwarding to {upstreams}");
        println!("{who}: DNS listening on {dns_addr} (UDP and TCP)");
        let api_addr = api_server.local_addr();
        println!("{who}: API listening on {api_addr}");
        // `bns status` and `bns atlas` of this data dir find the running node's API here.
        if let Err(e) = atlas.state.with_store(|s| s.set_meta(META_API_ADDR, &api_addr.to_string())) {
            warn!(error = %e, "recording the API address in the store failed");
        }
        println!("{who}: Atlas listening on {} (XML-RPC, zone files)", atlas.local_addr);
        if let Some(addr) = settings.dane_proxy_addr {
            let records = dane::SnapshotRecords::live(names.cell(), namespace_policies(settings)?);
            let at = dane::start_proxy(addr, data_dir, records, metrics.clone(), stop_rx.clone()).await?;
            println!("{who}: DANE proxy listening on {at} (browser: PAC http://{at}/proxy.pac, CA `bns dane ca`)");
        }
        println!("{who}: data dir {}", data_dir.display());
        let api = {
            let mut stop = stop_rx;
            tokio::spawn(api_server.run(async move {
                let _ = stop.wait_for(|s| *s).await;
            }))
        };
        Ok(Faces { dns_addr, api_addr, atlas_addr: atlas.local_addr, stop, dns, api })
    }

    /// Serves until Ctrl-C or SIGTERM (or a face fails, or the `indexer`
    /// thread dies: answers would freeze at its last block, so the node stops
    /// with an error instead), then stops the faces.
    pub async fn serve_until_interrupted(self, indexer: std::thread::JoinHandle<()>) -> anyhow::Result<()> {
        let Faces { stop, dns, api, .. } = self;
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let result = tokio::select! {
            r = tokio::signal::ctrl_c() => { r.map_err(Into::into).map(|()| info!("interrupted; shutting down")) }
            _ = term.recv() => { info!("terminated; shutting down"); Ok(()) }
            r = dns => flatten(r),
            r = api => flatten(r),
            why = indexer_ended(indexer) => {
                error!(%why, "the indexer thread stopped; stopping the node");
                Err(anyhow!("the indexer thread stopped ({why}); DNS would have kept answering from block it last indexed. Restart bns: the index keeps its place"))
            }
        };
        let _ = stop.send(true);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolver_options_from_settings() {
        let s = FaceSettings {
            upstreams: vec!["127.0.0.1:5399".into()],
            namespace_policy: vec!["id=bns-first".into()],
            cache_size: Some(1000),
            ..Default::default()
        };
        let r = resolver_options(&s).unwrap();
        assert_eq!(r.upstreams, Upstreams::Servers(vec!["127.0.0.1:5399".parse().unwrap()]));
        assert_eq!(r.policy("id"), Policy::BnsFirst);
        assert_eq!(r.policy("btc"), Policy::Bns);
        // Reserved ids are forwarded unless opted in; the defaults can be opted out.
        assert_eq!(r.policy("com"), Policy::Icann);
        assert_eq!(r.policy("onion"), Policy::Icann);
        assert_eq!(r.policy("podcast"), Policy::Bns);
        let d = resolver_options(&FaceSettings::default()).unwrap();
        assert_eq!((d.policy("id"), d.policy("btc"), d.policy("com")), (Policy::Bns, Policy::Bns, Policy::Icann));
        let out = FaceSettings { namespace_policy: vec!["id=icann".into(), "com=bns".into()], ..Default::default() };
        let o = resolver_options(&out).unwrap();
        assert_eq!((o.policy("id"), o.policy("com")), (Policy::Icann, Policy::Bns));
        let local = FaceSettings { namespace_policy: vec!["localhost=bns".into()], ..Default::default() };
        assert!(resolver_options(&local).unwrap_err().to_string().contains("RFC 6761"));
        assert_eq!(r.cache_size, 1000);
        let none = FaceSettings { upstreams: vec!["none".into()], ..Default::default() };
        assert_eq!(resolver_options(&none).unwrap().upstreams, Upstreams::None);
        let bad = FaceSettings { namespace_policy: vec!["id=maybe".into()], ..Default::default() };
        assert!(resolver_options(&bad).is_err());
    }

    #[test]
    fn backoff_doubles_to_a_minute() {
        let mut b = Duration::ZERO;
        let mut seen = vec![];
        for _ in 0..9 {
            b = next_backoff(b);
            seen.push(b.as_secs());
        }
        assert_eq!(seen, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }
}
