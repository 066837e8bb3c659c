//! DNS over TCP and over TLS (RFC 7766, RFC 7858): length-prefixed messages
//! on a connection, answered in order by the same handler as UDP.
//!
//! Connections are capped (in all, and per client address) so a client
//! cannot pin the node's memory or file descriptors: beyond the cap a new
//! connection is closed at once. A connection idle, or a message or TLS
//! handshake unfinished, for [`super::TCP_IDLE_TIMEOUT`] is closed.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use hickory_net::{runtime::TokioTime, xfer::Protocol};
use hickory_server::server::{Request, RequestHandler as _};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio::time::timeout;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, warn};

use super::handler::{BnsHandler, Collected, Responder};
use super::TCP_IDLE_TIMEOUT;

/// Default cap on open connections, per listener.
pub const DEFAULT_MAX_TCP: usize = 512;
/// Open connections one client address may hold.
pub const MAX_TCP_PER_CLIENT: usize = 16;

/// Open connections, in all and by client address.
#[derive(Debug)]
struct Open {
    max: usize,
    by_client: Mutex<HashMap<IpAddr, usize>>,
}

/// One admitted connection; leaving drops its count.
struct Admitted {
    open: Arc<Open>,
    ip: IpAddr,
}

impl Open {
    fn admit(self: &Arc<Open>, ip: IpAddr) -> Option<Admitted> {
        let mut map = self.by_client.lock().unwrap_or_else(|p| p.into_inner());
        let total: usize = map.values().sum();
        let mine = map.get(&ip).copied().unwrap_or(0);
        if total >= self.max || mine >= MAX_TCP_PER_CLIENT {
            return None;
        }
        *map.entry(ip).or_insert(0) += 1;
        Some(Admitted { open: self.clone(), ip })
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut map = self.open.by_client.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// Accepts connections on `listener` until the task is dropped (which drops
/// every connection it started); with `tls`, each one is DNS over TLS.
pub(crate) async fn serve(listener: TcpListener, handler: Arc<BnsHandler>, max: usize, tls: Option<TlsAcceptor>) {
    let open = Arc::new(Open { max: max.max(1), by_client: Mutex::default() });
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let (stream, src) = match accepted {
            Ok(a) => a,
            Err(error) => {
                debug!(%error, "DNS TCP accept failed");
                // EMFILE and the like: let connections finish before retrying.
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let Some(admitted) = open.admit(src.ip()) else {
            handler.stats().tcp_refused.fetch_add(1, Ordering::Relaxed);
            debug!(%src, "too many DNS connections: closing a new one");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        let tls = tls.clone();
        connections.spawn(async move {
            let _admitted = admitted;
            match tls {
                None => connection(stream, src, &handler, Protocol::Tcp).await,
                Some(acceptor) => match timeout(TCP_IDLE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => connection(tls, src, &handler, Protocol::Tls).await,
                    Ok(Err(error)) => debug!(%src, %error, "DoT handshake failed"),
                    Err(_) => debug!(%src, "DoT handshake timed out"),
                },
            }
        });
    }
}

/// Answers the messages of one connection in order until it closes, idles
/// or sends something that is not a DNS stream.
async fn connection<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    src: SocketAddr,
    handler: &BnsHandler,
    proto: Protocol,
) {
    loop {
        let mut len = [0u8; 2];
        match timeout(TCP_IDLE_TIMEOUT, s.read_exact(&mut len)).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) | Err(_) => return,
        }
        let len = usize::from(u16::from_be_bytes(len));
        if len < 12 {
            debug!(%src, len, "DNS stream message shorter than a header: closing");
            return;
        }
        let mut msg = vec![0u8; len];
        match timeout(TCP_IDLE_TIMEOUT, s.read_exact(&mut msg)).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) | Err(_) => return,
        }
        if super::xfr::serve::transfer_type(&msg).is_some() {
            if super::xfr::serve::serve_stream(
                &mut s,
                &msg,
                src,
                handler.cell(),
                handler.transfers(),
                handler.metrics(),
            )
            .await
            .is_err()
            {
                return;
            }
            continue;
        }
        let Some(reply) = answer(handler, msg, src, proto).await else { continue };
        let Ok(n) = u16::try_from(reply.len()) else {
            warn!(%src, len = reply.len(), "DNS response over 65,535 bytes not sent");
            return;
        };
        let mut framed = Vec::with_capacity(reply.len() + 2);
        framed.extend_from_slice(&n.to_be_bytes());
        framed.extend_from_slice(&reply);
        if timeout(TCP_IDLE_TIMEOUT, s.write_all(&framed)).await.map_or(true, |r| r.is_err()) {
            return;
        }
    }
}

/// The handler's response to one stream message; `None` for a message that
/// is not worth a response (a response, or undecodable without a header).
async fn answer(handler: &BnsHandler, msg: Vec<u8>, src: SocketAddr, proto: Protocol) -> Option<Vec<u8>> {
    if msg[2] & 0x80 != 0 {
        return None;
    }
    if let Some(signed) = signed_answer(handler, &msg) {
        return Some(signed);
    }
    match Request::from_bytes(msg.clone(), src, proto) {
        Ok(request) => {
            let out = Collected::default();
            handler.handle_request::<_, TokioTime>(&request, Responder(out.clone())).await;
            out.take()
        }
        Err(_) => Some(super::handler::formerr(handler, &msg).to_vec()),
    }
}

/// A query with DO for a BNS name, answered signed by the fast path's
/// writer (the one place that signs); `None` leaves it to the handler.
fn signed_answer(handler: &BnsHandler, msg: &[u8]) -> Option<Vec<u8>> {
    let dnssec = handler.dnssec()?;
    if !super::fast::parse(msg)?.edns?.1 {
        return None;
    }
    let started = std::time::Instant::now();
    let snap = handler.cell().load();
    let mut buf = vec![0u8; usize::from(u16::MAX)];
    match super::fast::answer(&snap, handler.options(), handler.has_forwarder(), Some(dnssec), msg, &mut buf, true) {
        super::fast::Fast::Answered { len, rcode, qtype } => {
            if let Some(m) = handler.metrics() {
                m.record_dns_query(qtype, u16::from(rcode), started.elapsed());
            }
            buf.truncate(len);
            Some(buf)
        }
        _ => None,
    }
}
