//! The DNS face: answers ordinary DNS queries (UDP and TCP) for names registered
//! in BNS, e.g. `dig @127.0.0.1 -p 5300 werner.id TXT`.
//!
//! Built on hickory-server 0.26. The server is authoritative (AA) for every BNS
//! namespace (`id.`, `btc.`, ...):
//!
//! * `ns.` itself (namespace apex): a synthetic SOA and NS ([`NS_HOST`]),
//!   NODATA for other types.
//! * `a.b.name.ns.`: the BNS name is the last two labels, `name.ns`. Not
//!   registered: NXDOMAIN; zone file missing: SERVFAIL; otherwise answered from
//!   the name's zone file (only owners at or below `name.ns` count). CNAMEs are
//!   followed inside the same zone file. Negative answers carry the namespace
//!   SOA with TTL `min(SOA TTL, MINIMUM)` (RFC 2308).
//! * `ANY` returns every record at the owner (not the RFC 8482 minimal answer):
//!   zone files are small (40 KiB at most) and UDP answers are capped at
//!   [`MAX_UDP_PAYLOAD`] with TC set, so this is no amplification vector.
//! * Names outside every BNS namespace are forwarded to upstream resolvers
//!   ([`forward`], hickory-resolver; UDP with TCP fallback) and relayed as
//!   the upstream answered (RA set, never AA); with no upstream they get
//!   REFUSED. A per-namespace [`Policy`] decides collisions with ICANN names.
//!   Non-IN classes and zone transfers are REFUSED.
//! * Answers are cached ([`cache`], moka, bounded in bytes): forwarded ones by
//!   TTL (RFC 2308 for negative ones), BNS ones under the source's
//!   [`NameSource::generation`], so a new block or zone file invalidates them.
//! * BNS failures carry an Extended DNS Error (RFC 8914, [`ede`]).
//! * Wildcard owners (`*.name.id`) are not expanded.
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

use hickory_server::Server;
use tokio::net::{TcpListener, UdpSocket};
use tracing::info;

use crate::zonefile::ZoneFile;

pub mod cache;
pub mod ede;
pub mod forward;
mod handler;
mod records;
mod resolve;
#[cfg(test)]
mod tests;
pub mod tls;

pub use forward::{Policy, ResolverOptions, Upstreams};
pub use handler::MAX_UDP_PAYLOAD;

/// The request handler, for the fuzz targets only: `cargo fuzz` builds every
/// crate with `--cfg fuzzing`, ordinary builds never see this.
#[cfg(fuzzing)]
#[doc(hidden)]
pub fn fuzz_handler(source: Arc<dyn NameSource>) -> impl hickory_server::server::RequestHandler {
    handler::BnsHandler::new(source, &ResolverOptions::default(), Arc::default())
}
pub use records::{NS_HOST, SOA_EXPIRE, SOA_MINIMUM, SOA_REFRESH, SOA_RETRY, SOA_TTL};

/// A TCP connection idle this long is closed.
pub const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Outgoing responses buffered per TCP connection.
const TCP_RESPONSE_BUFFER: usize = 32;

/// How often [`DnsServer::bind`] retries when it asked for port 0 and the port
/// the UDP socket got is taken for TCP.
const BIND_ATTEMPTS: usize = 8;

/// Blocks the index may trail the chain tip before BNS answers carry a
/// "chain not synced" Extended DNS Error (and NXDOMAIN becomes SERVFAIL).
pub const SYNC_LAG_TOLERANCE: u64 = 2;

/// What the chain says about one BNS name.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// No such name registered -> NXDOMAIN with SOA.
    NotRegistered,
    /// The name expired (past its lifetime and grace period) -> NXDOMAIN with SOA and an EDE.
    Expired,
    /// The owner revoked the name -> NXDOMAIN with SOA and an EDE.
    Revoked,
    /// Registered and its zone file is held and parsed.
    Zone(Arc<ZoneFile>),
    /// Registered but the zone file is not usable, reason unknown -> SERVFAIL.
    ZoneFileMissing,
    /// Registered, the chain announced zone-file hash `hash` (hex), but that
    /// file has not been fetched yet -> SERVFAIL with EDE "Not Ready".
    ZoneFileNotFetched {
        /// The announced hash, hex.
        hash: String,
    },
    /// The held zone file for `hash` is unusable (hash mismatch, does not
    /// parse) -> SERVFAIL with EDE "Invalid Data".
    ZoneFileInvalid {
        /// The announced hash, hex.
        hash: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Read-only view of BNS state the DNS face answers from (implemented elsewhere over SQLite).
///
/// The methods are synchronous; the server calls them from tokio's blocking
/// thread pool (`spawn_blocking`), so they may block briefly (e.g. on SQLite).
pub trait NameSource: Send + Sync + 'static {
    /// True if `ns` (lowercase, e.g. "id") is a BNS namespace (revealed or ready).
    fn is_namespace(&self, ns: &str) -> bool;
    /// State of `fqn` = "name.ns" (lowercase, exactly one dot).
    fn lookup(&self, fqn: &str) -> Lookup;
    /// SOA serial for namespace zones (the indexed block height).
    fn serial(&self) -> u32;
    /// A number that changes whenever any answer may change (new block, reorg,
    /// newly fetched zone file). Cached BNS answers are keyed by it.
    fn generation(&self) -> u64 {
        0
    }
    /// Blocks the index trails the chain tip by, if known and nonzero.
    fn sync_lag(&self) -> Option<u64> {
        None
    }
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
    /// Forwarded questions that failed (timeout, no upstream reachable).
    pub forward_errors: AtomicU64,
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
    udp: UdpSocket,
    tcp: TcpListener,
    local_addr: SocketAddr,
    source: Arc<dyn NameSource>,
    resolver: ResolverOptions,
    stats: Arc<DnsStats>,
    metrics: Option<Arc<crate::metrics::Metrics>>,
    /// DNS over TLS, when [`DnsServer::with_dot`] added it.
    dot: Option<tls::DotListener>,
}

impl std::fmt::Debug for DnsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsServer").field("local_addr", &self.local_addr).finish_non_exhaustive()
    }
}

impl DnsServer {
    /// Binds UDP and TCP on `addr`.
    ///
    /// With port 0 a free port is picked: UDP is bound first, then TCP on the
    /// port UDP got; if that TCP port is taken, both are retried a few times.
    /// With a fixed port, failure to bind either is an error.
    pub async fn bind(addr: SocketAddr, source: Arc<dyn NameSource>) -> Result<DnsServer, DnsError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let udp = UdpSocket::bind(addr).await.map_err(|source| DnsError::BindUdp { addr, source })?;
            let udp_addr = udp.local_addr().map_err(|source| DnsError::BindUdp { addr, source })?;
            match TcpListener::bind(udp_addr).await {
                Ok(tcp) => {
                    return Ok(DnsServer {
                        udp,
                        tcp,
                        local_addr: udp_addr,
                        source,
                        resolver: ResolverOptions::default(),
                        stats: Arc::default(),
                        metrics: None,
                        dot: None,
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

    /// Records every query it answers (type, rcode, latency) in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
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
    /// (stops accepting, drops open TCP connections) and returns `Ok(())`.
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
        let DnsServer { udp, tcp, local_addr, source, resolver, stats, metrics, dot } = self;
        let mut server = Server::new(handler::BnsHandler::new(source, &resolver, stats).with_metrics(metrics));
        server.register_socket(udp);
        server.register_listener(tcp, TCP_IDLE_TIMEOUT, TCP_RESPONSE_BUFFER);
        if let Some(dot) = dot {
            dot.register(&mut server);
        }
        info!(%local_addr, "DNS server listening (UDP and TCP)");

        let token = server.shutdown_token().clone();
        let done = server.block_until_done();
        tokio::pin!(done);
        tokio::pin!(shutdown);
        tokio::select! {
            result = &mut done => return result.map_err(DnsError::Serve),
            () = &mut shutdown => {}
        }
        info!(%local_addr, "DNS server shutting down");
        token.cancel();
        done.await.map_err(DnsError::Serve)
    }
}
