//! The DNS face: answers ordinary DNS queries (UDP and TCP) for names registered
//! in BNS, e.g. `dig @127.0.0.1 -p 5300 werner.id TXT`.
//!
//! Every answer comes from one immutable [`Snapshot`] of the chain (published
//! through a [`SnapshotCell`] by whoever follows the store). UDP queries are
//! read in batches by one thread per SO_REUSEPORT socket ([`udp`]) and
//! answered by the fast path ([`fast`]) straight into the response buffer;
//! what it does not take (TCP, DoT, forwarding, odd queries, answers that need
//! truncation) goes to hickory-server 0.26 ([`handler`]), which reads the same
//! snapshot. Both follow one plan ([`plan`]), and their bytes are equal.
//!
//! The server is authoritative (AA) for every BNS namespace (`id.`, `btc.`, ...):
//!
//! * `ns.` itself (namespace apex): SOA and NS, the NS being the apex itself
//!   (or `--ns-name`) with its addresses (`--ns-addr`), NODATA for other types.
//! * `a.b.name.ns.`: the BNS name is the last two labels, `name.ns`. Not
//!   registered: NXDOMAIN; zone file not held or unusable: SERVFAIL with an
//!   Extended DNS Error (RFC 8914, [`ede`]); otherwise answered from the
//!   name's zone file (only owners at or below `name.ns` count), with CNAMEs
//!   followed inside it, wildcards expanded (RFC 4592) and NS below the name
//!   answered as referrals. `ANY` gets one RR set (RFC 8482). Negative answers
//!   carry the namespace SOA with TTL `min(SOA TTL, MINIMUM)` (RFC 2308).
//! * Names outside every BNS namespace are forwarded to upstream resolvers
//!   ([`forward`], hickory-resolver; UDP with TCP fallback) and relayed as
//!   the upstream answered (RA set, never AA); with no upstream they get
//!   REFUSED. A per-namespace [`Policy`] decides collisions with ICANN names.
//!   Non-IN classes and zone transfers are REFUSED. Forwarded answers are
//!   cached ([`cache`], moka, bounded in bytes) by TTL.
//!
//! Depends only on external crates and on [`crate::zonefile`] types.

use std::{
    future::Future,
    io,
    net::SocketAddr,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use tokio::net::TcpListener;
use tracing::info;

pub use snapshot::{ApexConfig, NameState, Snapshot, SnapshotCell};

pub mod cache;
pub mod dnssec;
pub mod ede;
mod fast;
pub mod forward;
mod handler;
mod plan;
mod records;
mod resolve;
pub mod rrl;
pub mod snapshot;
mod stream;
#[cfg(test)]
mod tests;
pub mod tld;
pub mod tls;
mod udp;
pub mod xfr;

pub use forward::{Policy, ResolverOptions, Upstreams};
pub use handler::MAX_UDP_PAYLOAD;
pub use stream::{DEFAULT_MAX_TCP, MAX_TCP_PER_CLIENT};

/// The request handler, for the fuzz targets only: `cargo fuzz` builds every
/// crate with `--cfg fuzzing`, ordinary builds never see this.
#[cfg(fuzzing)]
#[doc(hidden)]
pub fn fuzz_handler(cell: Arc<SnapshotCell>) -> impl hickory_server::server::RequestHandler {
    handler::BnsHandler::new(cell, &ResolverOptions::default(), Arc::default())
}

/// The fast path on one packet, for the fuzz targets only.
#[cfg(fuzzing)]
#[doc(hidden)]
pub fn fuzz_fast(snap: &Snapshot, packet: &[u8], out: &mut [u8]) -> Option<usize> {
    match fast::answer(snap, &ResolverOptions::default(), false, None, packet, out, false) {
        fast::Fast::Answered { len, .. } => Some(len),
        _ => None,
    }
}
pub use records::{SOA_EXPIRE, SOA_MINIMUM, SOA_REFRESH, SOA_RETRY, SOA_TTL};

/// A TCP connection idle this long is closed.
pub const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// How often [`DnsServer::bind`] retries when it asked for port 0 and the port
/// the UDP socket got is taken for TCP.
const BIND_ATTEMPTS: usize = 8;

/// Blocks the index may trail the chain tip, beyond the `confirmations - 1`
/// it trails by design, before BNS answers carry a "chain not synced"
/// Extended DNS Error (and NXDOMAIN becomes SERVFAIL).
pub const SYNC_LAG_TOLERANCE: u64 = 2;

/// The lag a snapshot should carry: blocks behind `tip` beyond what
/// `confirmations` implies, when more than [`SYNC_LAG_TOLERANCE`].
pub fn excess_lag(tip: u64, height: u64, confirmations: u64) -> Option<u64> {
    let lag = tip.saturating_sub(height).saturating_sub(confirmations.saturating_sub(1));
    (lag > SYNC_LAG_TOLERANCE).then_some(lag)
}

/// Counters of the DNS face, readable while it serves (e.g. by metrics).
#[derive(Debug, Default)]
pub struct DnsStats {
    /// Answers served from the cache.
    pub cache_hits: AtomicU64,
    /// Cacheable questions not found in the cache.
    pub cache_misses: AtomicU64,
    /// Requests that reached the handler but were malformed (FORMERR, BADVERS,
    /// NOTIMP, bad class). Packets hickory cannot decode at all never reach it.
    pub malformed: AtomicU64,
    /// Questions sent to an upstream resolver.
    pub forwarded: AtomicU64,
    /// Forwarded questions that failed (timeout, no upstream reachable, too many in flight).
    pub forward_errors: AtomicU64,
    /// Questions outside BNS refused because the client may not recurse.
    pub recursion_refused: AtomicU64,
    /// UDP responses dropped by response-rate limiting.
    pub rrl_dropped: AtomicU64,
    /// UDP responses sent truncated by response-rate limiting (slip).
    pub rrl_slipped: AtomicU64,
    /// TCP and DoT connections refused: too many open.
    pub tcp_refused: AtomicU64,
}

impl crate::metrics::CacheStats for DnsStats {
    fn hits(&self) -> u64 {
        self.cache_hits.load(Ordering::Relaxed)
    }
    fn misses(&self) -> u64 {
        self.cache_misses.load(Ordering::Relaxed)
    }
    fn malformed(&self) -> u64 {
        self.malformed.load(Ordering::Relaxed)
    }
    fn limited(&self) -> [u64; 4] {
        [&self.recursion_refused, &self.rrl_dropped, &self.rrl_slipped, &self.tcp_refused]
            .map(|c| c.load(Ordering::Relaxed))
    }
}

impl DnsStats {
    /// (hits, misses) of the answer cache.
    pub fn cache_stats(&self) -> (u64, u64) {
        (self.cache_hits.load(Ordering::Relaxed), self.cache_misses.load(Ordering::Relaxed))
    }

    /// Malformed requests seen.
    pub fn malformed(&self) -> u64 {
        self.malformed.load(Ordering::Relaxed)
    }
}

/// Errors of the DNS face.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    /// The UDP socket could not be bound.
    #[error("cannot bind DNS UDP socket on {addr}")]
    BindUdp {
        /// Address asked for.
        addr: SocketAddr,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// The TCP listener could not be bound (on the UDP socket's port).
    #[error("cannot bind DNS TCP listener on {addr}")]
    BindTcp {
        /// Address tried.
        addr: SocketAddr,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// A serving task failed.
    #[error("DNS server failed")]
    Serve(#[source] hickory_net::NetError),
}

/// A bound, not yet serving DNS server (UDP and TCP on one address).
///
/// Nothing is answered until [`DnsServer::run`]; queries arriving before that
/// wait in the socket buffers.
pub struct DnsServer {
    udp: Vec<std::net::UdpSocket>,
    tcp: TcpListener,
    local_addr: SocketAddr,
    cell: Arc<SnapshotCell>,
    resolver: ResolverOptions,
    stats: Arc<DnsStats>,
    metrics: Option<Arc<crate::metrics::Metrics>>,
    log_queries: bool,
    /// DNS over TLS, when [`DnsServer::with_dot`] added it.
    dot: Option<tls::DotListener>,
    limits: DnsLimits,
    transfers: xfr::Transfers,
    dnssec: Option<Arc<dnssec::Online>>,
}

/// What the DNS face allows a client: UDP response rate, open connections.
#[derive(Debug)]
pub struct DnsLimits {
    /// Response-rate limiting of UDP.
    pub rrl: rrl::Rrl,
    /// Open connections at most, per TCP or DoT listener.
    pub max_tcp: usize,
}

impl Default for DnsLimits {
    /// No rate limit; [`DEFAULT_MAX_TCP`] connections.
    fn default() -> Self {
        DnsLimits { rrl: rrl::Rrl::new(0, 0, Vec::new()), max_tcp: DEFAULT_MAX_TCP }
    }
}

impl std::fmt::Debug for DnsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsServer").field("local_addr", &self.local_addr).finish_non_exhaustive()
    }
}

/// UDP sockets (and worker threads) by default: one per core, at most 4.
pub fn default_udp_workers() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(4)
}

impl DnsServer {
    /// Binds UDP (one SO_REUSEPORT socket per worker, [`default_udp_workers`])
    /// and TCP on `addr`, answering from `cell`.
    ///
    /// With port 0 a free port is picked: UDP is bound first, then TCP on the
    /// port UDP got; if that TCP port is taken, both are retried a few times.
    /// With a fixed port, failure to bind either is an error.
    pub async fn bind(addr: SocketAddr, cell: Arc<SnapshotCell>) -> Result<DnsServer, DnsError> {
        DnsServer::bind_with(addr, cell, default_udp_workers()).await
    }

    /// [`DnsServer::bind`] with `workers` UDP sockets and threads.
    pub async fn bind_with(addr: SocketAddr, cell: Arc<SnapshotCell>, workers: usize) -> Result<DnsServer, DnsError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let udp = udp::bind(addr, workers).map_err(|source| DnsError::BindUdp { addr, source })?;
            let udp_addr = udp[0].local_addr().map_err(|source| DnsError::BindUdp { addr, source })?;
            match TcpListener::bind(udp_addr).await {
                Ok(tcp) => {
                    return Ok(DnsServer {
                        udp,
                        tcp,
                        local_addr: udp_addr,
                        cell,
                        resolver: ResolverOptions::default(),
                        stats: Arc::default(),
                        metrics: None,
                        log_queries: false,
                        dot: None,
                        limits: DnsLimits::default(),
                        transfers: xfr::Transfers::default(),
                        dnssec: None,
                    })
                }
                Err(e) if addr.port() == 0 && e.kind() == io::ErrorKind::AddrInUse && attempt < BIND_ATTEMPTS => {
                    continue
                }
                Err(source) => return Err(DnsError::BindTcp { addr: udp_addr, source }),
            }
        }
    }

    /// Sets forwarding, namespace policies and cache size (default: no
    /// upstream, so names outside BNS get REFUSED; every namespace `bns`).
    pub fn with_resolver(mut self, resolver: ResolverOptions) -> Self {
        self.resolver = resolver;
        self
    }

    /// Sets the UDP rate limit and connection caps (default: no rate limit).
    pub fn with_limits(mut self, limits: DnsLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Allows zone transfers to some clients and notifies secondaries
    /// (default: no transfers, no NOTIFY).
    pub fn with_transfers(mut self, transfers: xfr::Transfers) -> Self {
        self.transfers = transfers;
        self
    }

    /// Signs answers to queries with the DO bit with this key (online
    /// DNSSEC; `None`: unsigned answers, as without it).
    pub fn with_dnssec(mut self, dnssec: Option<Arc<dnssec::Online>>) -> Self {
        self.dnssec = dnssec;
        self
    }

    /// Records every query it answers (type, rcode, latency) in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Logs every query at INFO (target `bns::dns::query`); off by default.
    pub fn with_query_log(mut self, on: bool) -> Self {
        self.log_queries = on;
        self
    }

    /// Counters (cache hits and misses, malformed requests, forwards).
    pub fn stats(&self) -> Arc<DnsStats> {
        self.stats.clone()
    }

    /// The address both sockets are bound to (with the real port when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves UDP and TCP until `shutdown` completes, then stops gracefully
    /// (stops accepting, drops open TCP connections, joins the UDP workers)
    /// and returns `Ok(())`.
    ///
    /// `shutdown` is any future: `token.cancelled_owned()` of a tokio-util
    /// `CancellationToken`, `async { rx.await.ok(); }` of a oneshot receiver,
    /// `async { tokio::signal::ctrl_c().await.ok(); }`, or
    /// `std::future::pending()` to serve forever. Returns an error if a
    /// listening task fails before that.
    pub async fn run<F>(self, shutdown: F) -> Result<(), DnsError>
    where
        F: Future<Output = ()>,
    {
        let DnsServer {
            udp,
            tcp,
            local_addr,
            cell,
            resolver,
            stats,
            metrics,
            log_queries,
            dot,
            limits,
            transfers,
            dnssec,
        } = self;
        let notify = transfers.notify.clone();
        let notify_key = transfers.keys.first().cloned();
        let handler = Arc::new(
            handler::BnsHandler::new(cell.clone(), &resolver, stats.clone())
                .with_metrics(metrics.clone())
                .with_query_log(log_queries)
                .with_transfers(Arc::new(transfers))
                .with_dnssec(dnssec.clone()),
        );
        let mut tasks = tokio::task::JoinSet::new();
        if !notify.is_empty() {
            tasks.spawn(xfr::notify::run(cell.clone(), notify, notify_key, metrics.clone()));
        }
        tasks.spawn(stream::serve(tcp, handler.clone(), limits.max_tcp, None));
        if let Some(dot) = dot {
            let (listener, acceptor) = dot.into_parts();
            tasks.spawn(stream::serve(listener, handler.clone(), limits.max_tcp, Some(acceptor)));
        }
        let (slow_tx, slow_rx) = tokio::sync::mpsc::channel(udp::SLOW_QUEUE);
        tasks.spawn(handler::serve_slow_udp(handler.clone(), slow_rx));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let cx = udp::WorkerContext {
            cell,
            options: Arc::new(resolver),
            forwarder: handler.has_forwarder(),
            slow: slow_tx,
            metrics,
            log_queries,
            stop: stop.clone(),
            rrl: Arc::new(limits.rrl),
            stats,
            dnssec,
        };
        let workers = udp::spawn(udp, &cx).map_err(|source| DnsError::BindUdp { addr: local_addr, source })?;
        drop(cx);
        info!(%local_addr, workers = workers.len(), "DNS server listening (UDP and TCP)");

        shutdown.await;
        info!(%local_addr, "DNS server shutting down");
        stop.store(true, Ordering::Relaxed);
        // Dropping the tasks closes the listeners and every open connection.
        tasks.shutdown().await;
        let joined = tokio::task::spawn_blocking(move || {
            for w in workers {
                let _ = w.join();
            }
        });
        let _ = joined.await;
        Ok(())
    }
}

/// What DNS answers for (`fqn`, `rtype`) from `snap`, as rdata in wire form
/// (CNAMEs inside a zone file followed), or why there is none: for callers
/// that act on an answer themselves (`bns tls verify`, the DANE proxy).
pub fn lookup(snap: &Snapshot, fqn: &str, rtype: u16) -> Result<Vec<Vec<u8>>, String> {
    let wire = snapshot::zone::name_wire(&fqn.to_ascii_lowercase()).ok_or(format!("{fqn:?} is not a DNS name"))?;
    let q = plan::QName::parse(&wire).ok_or(format!("{fqn:?} is not a DNS name"))?;
    let p = plan::plan(snap, &q, rtype);
    if p.outside {
        return Err(format!("{fqn} is not under a BNS namespace of this index"));
    }
    let found: Vec<Vec<u8>> =
        p.answer.iter().flat_map(|s| s.rrs()).filter(|rr| rr.rtype == rtype).map(|rr| rr.rdata.to_vec()).collect();
    if !found.is_empty() {
        return Ok(found);
    }
    let mut why = match p.rcode {
        0 => format!("{fqn} has no {} record", hickory_proto::rr::RecordType::from(rtype)),
        3 => format!("{fqn} does not exist"),
        _ => format!("{fqn} cannot be answered"),
    };
    if let Some(ede) = &p.ede {
        why.push_str(": ");
        fast::ede_text(ede, &q, snap.height(), &mut why);
    }
    Err(why)
}
