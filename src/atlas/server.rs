//! The Atlas XML-RPC server (HTTP/1.1, POST `/` or `/RPC2`), as Core's
//! `blockstackd` serves it: each method's result is one XML-RPC string
//! holding a JSON object.
//!
//! Hostile callers: request bodies over [`MAX_REQUEST`] are refused (400, as
//! Core), headers must arrive within [`HEADER_TIMEOUT`] and the body within
//! [`BODY_TIMEOUT`], a connection lives at most [`CONNECTION_LIFETIME`], at
//! most [`MAX_CONNECTIONS`] are open (more wait in the kernel's backlog),
//! and beyond [`MAX_IN_FLIGHT`] requests at once the reply is Core's
//! `overloaded` (HTTP 200, `http_status` 429).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tracing::{debug, warn};

use super::methods;
use super::state::AtlasState;
use super::xmlrpc::{self, Fault, Value};

/// Largest request body (Core's MAX_REQUEST_SIZE).
pub const MAX_REQUEST: usize = 512 * 1024;
/// Time allowed for a request's headers (also the keep-alive idle limit).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed for a request's body.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a connection stays open.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(120);
/// Most connections served at once.
pub const MAX_CONNECTIONS: usize = 512;
/// Most requests handled at once; more get `overloaded`.
pub const MAX_IN_FLIGHT: usize = 64;

/// A bound Atlas listener.
pub struct AtlasServer {
    listener: TcpListener,
    local_addr: SocketAddr,
}

impl std::fmt::Debug for AtlasServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AtlasServer").field("local_addr", &self.local_addr).finish()
    }
}

impl AtlasServer {
    /// Binds `addr` (port 0 picks a free one).
    pub async fn bind(addr: SocketAddr) -> std::io::Result<AtlasServer> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        Ok(AtlasServer { listener, local_addr })
    }

    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `stop` resolves.
    pub async fn run(self, state: Arc<AtlasState>, stop: impl std::future::Future<Output = ()>) {
        let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
        let port = self.local_addr.port();
        tokio::pin!(stop);
        loop {
            let permit = tokio::select! {
                _ = &mut stop => return,
                p = connections.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            };
            let (stream, peer) = tokio::select! {
                _ = &mut stop => return,
                r = self.listener.accept() => match r {
                    Ok(x) => x,
                    Err(e) => {
                        warn!(error = %e, "atlas: accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let (state, in_flight) = (state.clone(), in_flight.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let (state, in_flight) = (state.clone(), in_flight.clone());
                    async move { Ok::<_, Infallible>(handle(req, peer, port, state, in_flight).await) }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_TIMEOUT)
                    .max_buf_size(64 * 1024)
                    .serve_connection(TokioIo::new(stream), service);
                match tokio::time::timeout(CONNECTION_LIFETIME, conn).await {
                    Ok(Err(e)) => debug!(%peer, error = %e, "atlas: connection ended with an error"),
                    Err(_) => debug!(%peer, "atlas: connection closed after its lifetime"),
                    Ok(Ok(())) => {}
                }
                drop(permit);
            });
        }
    }
}

fn reply(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if status == StatusCode::OK {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("text/xml"));
    }
    r
}

fn json_reply(v: &serde_json::Value) -> Response<Full<Bytes>> {
    reply(StatusCode::OK, xmlrpc::encode_response(&Value::Str(v.to_string())))
}

async fn handle(
    req: Request<Incoming>,
    peer: SocketAddr,
    port: u16,
    state: Arc<AtlasState>,
    in_flight: Arc<Semaphore>,
) -> Response<Full<Bytes>> {
    if req.method() != Method::POST {
        return reply(StatusCode::NOT_IMPLEMENTED, String::new());
    }
    if !matches!(req.uri().path(), "/" | "/RPC2") {
        return reply(StatusCode::NOT_FOUND, String::new());
    }
    let declared = req.headers().get(hyper::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|l| l > MAX_REQUEST as u64) {
        return reply(StatusCode::BAD_REQUEST, String::new());
    }
    let body = match tokio::time::timeout(BODY_TIMEOUT, Limited::new(req.into_body(), MAX_REQUEST).collect()).await {
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(_)) => return reply(StatusCode::BAD_REQUEST, String::new()),
        Err(_) => return reply(StatusCode::REQUEST_TIMEOUT, String::new()),
    };
    // Counted once the body is in: slow senders cannot make others "overloaded".
    let Ok(_permit) = in_flight.try_acquire() else {
        return json_reply(&super::protocol::overloaded());
    };
    state.metrics.atlas.traffic(body.len() as u64, 0);
    let (method, params) = match xmlrpc::parse_call(&body) {
        Ok(c) => c,
        Err(e) => {
            let fault = Fault { code: 1, message: format!("bad XML-RPC request: {e}") };
            return reply(StatusCode::OK, xmlrpc::encode_fault(&fault));
        }
    };
    let caller = methods::Caller { addr: peer, our_port: port };
    let st = state.clone();
    let result = tokio::task::spawn_blocking(move || methods::dispatch(&st, &method, &params, &caller)).await;
    let body = match result {
        Ok(Ok(v)) => xmlrpc::encode_response(&Value::Str(v.to_string())),
        Ok(Err(fault)) => xmlrpc::encode_fault(&fault),
        Err(e) => {
            warn!(error = %e, "atlas: a method failed");
            xmlrpc::encode_response(&Value::Str(super::protocol::error("internal error", 500).to_string()))
        }
    };
    state.metrics.atlas.traffic(0, body.len() as u64);
    reply(StatusCode::OK, body)
}
