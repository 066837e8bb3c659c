//! The DANE-enforcing local HTTPS proxy (`--dane-proxy-addr`). A browser
//! sends BNS names to it (the PAC file it serves at `/proxy.pac` routes only
//! the BNS namespaces here) and gets, for `CONNECT name:port`:
//!
//! - the server's own TLS session re-served under the per-install CA
//!   ([`super::ca`]) when the server proves it holds a key the name's TLSA
//!   records pin (addresses and TLSA both from the verified snapshot);
//! - a page saying why, under the same CA, when the key does not match, the
//!   name has no TLSA for that port, or its server cannot be reached;
//! - for names outside the BNS namespaces, a plain tunnel, untouched.
//!
//! The browser sees only http/1.1 (ALPN) from the proxy; the upstream session
//! is also http/1.1, and bytes are copied between the two unchanged.

pub mod http;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tracing::{debug, info, warn};

use super::ca::{LocalCa, CA_KEY_FILE};
use super::probe::{self, Pinned};
use super::{addresses, pins, Records};
use crate::metrics::Metrics;

/// At most this many browser connections at once (more are closed at once).
pub const MAX_CONNECTIONS: usize = 1024;
/// Time for a request head, a TCP connect, a TLS handshake.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(10);
/// A signed certificate for a name is reused this long (it is valid for
/// [`super::ca::LEAF_VALIDITY`]).
const LEAF_REUSE: Duration = Duration::from_secs(24 * 3600);
/// Names whose certificates are kept.
const LEAF_CACHE: usize = 4096;
const ALPN: &[&[u8]] = &[b"http/1.1"];

struct Shared {
    records: Arc<dyn Records>,
    dir: PathBuf,
    local: SocketAddr,
    ca: Mutex<Option<(Option<SystemTime>, Arc<LocalCa>)>>,
    leaves: Mutex<HashMap<String, (Instant, Arc<rustls::ServerConfig>)>>,
    metrics: Option<Arc<Metrics>>,
}

/// Why a BNS name was not let through.
struct Refusal {
    verdict: &'static str,
    why: String,
}

impl Shared {
    fn count(&self, verdict: &str) {
        if let Some(m) = &self.metrics {
            m.dane.request(verdict);
        }
    }

    /// Whether `host` is under a namespace the proxy pins.
    fn is_bns(&self, host: &str) -> bool {
        let last = host.rsplit('.').next().unwrap_or(host);
        self.records.namespaces().iter().any(|n| n == last)
    }

    /// The CA on disk (made from the pinned namespaces if there is none),
    /// reloaded when its key file changes (`bns dane ca --renew`).
    fn ca(&self) -> anyhow::Result<Arc<LocalCa>> {
        let stamp = || std::fs::metadata(self.dir.join(CA_KEY_FILE)).and_then(|m| m.modified()).ok();
        let mut held = self.ca.lock().unwrap_or_else(|p| p.into_inner());
        let now = stamp();
        if let Some((at, ca)) = held.as_ref() {
            if now.is_some() && *at == now {
                return Ok(ca.clone());
            }
        }
        let ca = match LocalCa::load(&self.dir)? {
            Some(ca) => ca,
            None => {
                let ca = LocalCa::create(&self.dir, &self.records.namespaces())?;
                info!(namespaces = ?ca.namespaces(), dir = %self.dir.display(), "made the DANE proxy's local CA (browsers import it: `bns dane ca`)");
                ca
            }
        };
        let ca = Arc::new(ca);
        *held = Some((stamp(), ca.clone()));
        self.leaves.lock().unwrap_or_else(|p| p.into_inner()).clear();
        Ok(ca)
    }

    /// The TLS server config presenting a certificate for `host` from `ca`.
    fn leaf(&self, ca: &LocalCa, host: &str) -> anyhow::Result<Arc<rustls::ServerConfig>> {
        let mut leaves = self.leaves.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, config)) = leaves.get(host) {
            if at.elapsed() < LEAF_REUSE {
                return Ok(config.clone());
            }
        }
        let (cert, key) = ca.issue(host)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)?;
        config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
        let config = Arc::new(config);
        if leaves.len() >= LEAF_CACHE {
            leaves.clear();
        }
        leaves.insert(host.to_string(), (Instant::now(), config.clone()));
        Ok(config)
    }

    /// The pinned upstream session for `host:port`, or why there is none.
    async fn check(&self, host: &str, port: u16) -> Result<Pinned, Refusal> {
        let refuse = |verdict, why| Refusal { verdict, why };
        let records = pins(self.records.as_ref(), host, port)
            .map_err(|why| refuse("no_tlsa", format!("the chain pins no key for {host} on port {port}: {why}")))?;
        let addrs = addresses(self.records.as_ref(), host, port).map_err(|why| refuse("unreachable", why))?;
        let (seen, upstream) = probe::connect(&addrs, host, ALPN, STEP_TIMEOUT)
            .await
            .map_err(|why| refuse("unreachable", format!("{host}:{port} could not be checked: {why}")))?;
        seen.check(&records).map_err(|why| refuse("mismatch", format!("{host}:{port}: {why}")))?;
        Ok(upstream)
    }
}

/// The proxy, bound and ready to [`DaneProxy::run`].
pub struct DaneProxy {
    listener: TcpListener,
    shared: Arc<Shared>,
}

impl DaneProxy {
    /// Binds `addr`; the CA lives in `data_dir` (made there at the first
    /// BNS name if `bns dane ca` has not made it).
    pub async fn bind(
        addr: SocketAddr,
        data_dir: PathBuf,
        records: Arc<dyn Records>,
        metrics: Option<Arc<Metrics>>,
    ) -> std::io::Result<DaneProxy> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let shared =
            Shared { records, dir: data_dir, local, ca: Mutex::new(None), leaves: Mutex::new(HashMap::new()), metrics };
        Ok(DaneProxy { listener, shared: Arc::new(shared) })
    }

    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local
    }

    /// Serves until `stop` completes.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) -> std::io::Result<()> {
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        tokio::pin!(stop);
        loop {
            let (conn, peer) = tokio::select! {
                _ = &mut stop => return Ok(()),
                r = self.listener.accept() => match r {
                    Ok(c) => c,
                    Err(e) => {
                        warn!(error = %e, "DANE proxy: accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                debug!(%peer, "DANE proxy: too many connections; closing this one");
                continue;
            };
            let shared = self.shared.clone();
            tokio::spawn(async move {
                serve(&shared, conn, peer).await;
                drop(permit);
            });
        }
    }
}

async fn serve(shared: &Shared, mut conn: TcpStream, peer: SocketAddr) {
    let _ = conn.set_nodelay(true);
    let head = match tokio::time::timeout(STEP_TIMEOUT, http::read_head(&mut conn)).await {
        Ok(Ok(head)) => head,
        Ok(Err(why)) => {
            debug!(%peer, %why, "DANE proxy: bad request");
            shared.count("bad_request");
            let _ = http::respond(&mut conn, "400 Bad Request", "text/plain", &[], why.as_bytes()).await;
            return;
        }
        Err(_) => return shared.count("bad_request"),
    };
    if head.method.eq_ignore_ascii_case("CONNECT") {
        let Some((host, port)) = http::authority(&head.target) else {
            shared.count("bad_request");
            let why = format!("CONNECT needs host:port, not {:?}", head.target);
            let _ = http::respond(&mut conn, "400 Bad Request", "text/plain", &[], why.as_bytes()).await;
            return;
        };
        if shared.is_bns(&host) {
            dane(shared, conn, &host, port, &head.rest).await
        } else {
            passthrough(shared, conn, &host, port, &head.rest).await
        }
    } else if let Some((host, port, path)) = http::absolute_http(&head.target) {
        if shared.is_bns(&host) {
            // A BNS name has no unpinned form: send the browser to https.
            shared.count("local");
            let to = if port == 80 { format!("https://{host}{path}") } else { format!("https://{host}:{port}{path}") };
            let _ = http::respond(&mut conn, "301 Moved Permanently", "text/plain", &[("Location", &to)], b"").await;
        } else {
            shared.count("bad_request");
            let page = http::refusal_page(
                &head.target,
                "this proxy carries only https (CONNECT) for names outside BNS; send it only the BNS namespaces (its /proxy.pac does)",
            );
            let _ = http::respond(&mut conn, "502 Bad Gateway", "text/html; charset=utf-8", &[], page.as_bytes()).await;
        }
    } else {
        local(shared, conn, &head).await
    }
}

/// `GET /proxy.pac` and `GET /ca.pem` on the proxy itself.
async fn local(shared: &Shared, mut conn: TcpStream, head: &http::Head) {
    shared.count("local");
    let path = head.target.split('?').next().unwrap_or_default();
    let result = match (head.method.as_str(), path) {
        ("GET" | "HEAD", "/proxy.pac") => {
            let at = head.host.clone().unwrap_or_else(|| shared.local.to_string());
            let body = http::pac(&shared.records.namespaces(), &at);
            http::respond(&mut conn, "200 OK", "application/x-ns-proxy-autoconfig", &[], body.as_bytes()).await
        }
        ("GET" | "HEAD", "/ca.pem") => match shared.ca() {
            Ok(ca) => http::respond(&mut conn, "200 OK", "application/x-pem-file", &[], ca.pem().as_bytes()).await,
            Err(e) => {
                let why = format!("no CA: {e:#}");
                http::respond(&mut conn, "503 Service Unavailable", "text/plain", &[], why.as_bytes()).await
            }
        },
        _ => {
            let why = "bns DANE proxy: GET /proxy.pac (the browser's proxy settings) or /ca.pem (its CA)";
            http::respond(&mut conn, "404 Not Found", "text/plain", &[], why.as_bytes()).await
        }
    };
    if let Err(e) = result {
        debug!(error = %e, "DANE proxy: writing a local answer failed");
    }
}

/// A BNS name: pinned tunnel or refusal page, both under the local CA.
async fn dane(shared: &Shared, mut conn: TcpStream, host: &str, port: u16, early: &[u8]) {
    let ca = match shared.ca() {
        Ok(ca) if ca.covers(host) => ca,
        Ok(ca) => {
            shared.count("unreachable");
            let why = format!(
                "the local CA covers only {:?}, made before this namespace was pinned: run `bns dane ca --renew` and import it again",
                ca.namespaces()
            );
            warn!(host, %why, "DANE proxy: refused");
            let _ = http::respond(&mut conn, "403 Forbidden", "text/plain", &[], why.as_bytes()).await;
            return;
        }
        Err(e) => {
            shared.count("unreachable");
            let why = format!("the DANE proxy has no CA: {e:#}");
            warn!(host, %why, "DANE proxy: refused");
            let _ = http::respond(&mut conn, "503 Service Unavailable", "text/plain", &[], why.as_bytes()).await;
            return;
        }
    };
    if !early.is_empty() {
        shared.count("bad_request");
        let _ = http::respond(&mut conn, "400 Bad Request", "text/plain", &[], b"data before the tunnel opened").await;
        return;
    }
    let outcome = shared.check(host, port).await;
    let config = match shared.leaf(&ca, host) {
        Ok(config) => config,
        Err(e) => {
            shared.count("unreachable");
            let why = format!("cannot sign a certificate for {host}: {e:#}");
            let _ = http::respond(&mut conn, "502 Bad Gateway", "text/plain", &[], why.as_bytes()).await;
            return;
        }
    };
    if conn.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await.is_err() {
        return;
    }
    let accept = tokio_rustls::TlsAcceptor::from(config).accept(conn);
    let mut browser = match tokio::time::timeout(STEP_TIMEOUT, accept).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => return debug!(host, error = %e, "DANE proxy: the browser's TLS handshake failed"),
        Err(_) => return debug!(host, "DANE proxy: the browser's TLS handshake timed out"),
    };
    match outcome {
        Ok(mut upstream) => {
            shared.count("pinned");
            debug!(host, port, "DANE proxy: key matches TLSA; tunnelling");
            if let Err(e) = tokio::io::copy_bidirectional(&mut browser, &mut upstream).await {
                debug!(host, error = %e, "DANE proxy: tunnel ended");
            }
        }
        Err(Refusal { verdict, why }) => {
            shared.count(verdict);
            info!(host, port, %why, "DANE proxy: refused");
            let url = if port == 443 { format!("https://{host}/") } else { format!("https://{host}:{port}/") };
            let page = http::refusal_page(&url, &why);
            // Answer the browser's request (so it shows the page), then close.
            let _ = tokio::time::timeout(STEP_TIMEOUT, http::read_head(&mut browser)).await;
            let _ =
                http::respond(&mut browser, "403 Forbidden", "text/html; charset=utf-8", &[], page.as_bytes()).await;
        }
    }
}

/// Not a BNS name: a plain tunnel to whatever the system resolver says.
async fn passthrough(shared: &Shared, mut conn: TcpStream, host: &str, port: u16, early: &[u8]) {
    let connect = async {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
        let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
        for a in addrs {
            match TcpStream::connect(a).await {
                Ok(s) => return Ok(s),
                Err(e) => last = e,
            }
        }
        Err(last)
    };
    let mut upstream = match tokio::time::timeout(STEP_TIMEOUT, connect).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            shared.count("unreachable");
            let why = format!("cannot connect to {host}:{port}: {e}");
            let _ = http::respond(&mut conn, "502 Bad Gateway", "text/plain", &[], why.as_bytes()).await;
            return;
        }
        Err(_) => {
            shared.count("unreachable");
            let _ = http::respond(&mut conn, "504 Gateway Timeout", "text/plain", &[], b"connect timed out").await;
            return;
        }
    };
    shared.count("passthrough");
    if conn.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await.is_err()
        || upstream.write_all(early).await.is_err()
    {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut conn, &mut upstream).await;
}
