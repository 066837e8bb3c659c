//! Calls to Atlas peers (XML-RPC over HTTP POST to `/RPC2`) and GETs from
//! HTTP zone-file sources. Every reply is bounded in size and time; bytes in
//! and out are counted.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value as Json;

use super::xmlrpc::{self, Value};
use crate::metrics::Metrics;

/// Largest reply body read from a peer: 100 zone files of 40,960 bytes in
/// base64, with room for the envelope.
pub const MAX_REPLY: usize = 8 * 1024 * 1024;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No answer in time.
    #[error("timed out")]
    Timeout,
    /// The connection failed, or the HTTP status was not 200.
    #[error("transport: {0}")]
    Transport(String),
    /// The reply was not what the protocol says (bad XML, a fault, not JSON, too large).
    #[error("bad reply: {0}")]
    BadReply(String),
    /// The peer said it is overloaded (Core's `{"error": "overloaded", "http_status": 429}`):
    /// not a fault of the peer's; ask again shortly.
    #[error("overloaded")]
    Busy,
}

/// An HTTP client for peers and sources.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

impl Client {
    /// A client (no proxies: peers are addressed directly).
    pub fn new(metrics: Arc<Metrics>) -> Result<Client, CallError> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(3))
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(4)
            .user_agent(concat!("bns/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CallError::Transport(e.to_string()))?;
        Ok(Client { http, metrics })
    }

    /// Calls `method` on the peer at `addr` (`host:port`) and returns the
    /// JSON object its one string result carries.
    pub async fn call(&self, addr: &str, method: &str, params: &[Value], timeout: Duration) -> Result<Json, CallError> {
        let body = xmlrpc::encode_call(method, params);
        self.metrics.atlas.request();
        self.metrics.atlas.traffic(0, body.len() as u64);
        let url = format!("http://{addr}/RPC2");
        let fut = async {
            let resp = self
                .http
                .post(&url)
                .header("content-type", "text/xml")
                .body(body)
                .send()
                .await
                .map_err(|e| CallError::Transport(e.without_url().to_string()))?;
            if resp.status() != reqwest::StatusCode::OK {
                return Err(CallError::Transport(format!("HTTP {}", resp.status().as_u16())));
            }
            read_bounded(resp).await
        };
        let bytes = tokio::time::timeout(timeout, fut).await.map_err(|_| CallError::Timeout)??;
        self.metrics.atlas.traffic(bytes.len() as u64, 0);
        match xmlrpc::parse_response(&bytes) {
            Ok(Ok(Value::Str(text))) => serde_json::from_str(&text)
                .map_err(|_| CallError::BadReply("the result is not JSON".into()))
                .and_then(|v: Json| match v {
                    Json::Object(_) if v.get("error").and_then(|e| e.as_str()) == Some("overloaded") => {
                        Err(CallError::Busy)
                    }
                    Json::Object(_) => Ok(v),
                    _ => Err(CallError::BadReply("the result is not a JSON object".into())),
                }),
            Ok(Ok(_)) => Err(CallError::BadReply("the result is not a string".into())),
            Ok(Err(fault)) => Err(CallError::BadReply(format!(
                "fault {}: {}",
                fault.code,
                fault.message.chars().take(200).collect::<String>()
            ))),
            Err(e) => Err(CallError::BadReply(e.to_string())),
        }
    }

    /// GETs `url`; `Ok(None)` on 404. The body is at most `max` bytes.
    pub async fn get(&self, url: &str, max: usize, timeout: Duration) -> Result<Option<Vec<u8>>, CallError> {
        self.metrics.atlas.request();
        let fut = async {
            let resp =
                self.http.get(url).send().await.map_err(|e| CallError::Transport(e.without_url().to_string()))?;
            match resp.status().as_u16() {
                200 => {}
                404 => return Ok(None),
                s => return Err(CallError::Transport(format!("HTTP {s}"))),
            }
            if resp.content_length().is_some_and(|l| l > max as u64) {
                return Err(CallError::BadReply(format!("body over {max} bytes")));
            }
            read_limited(resp, max).await.map(Some)
        };
        let body = tokio::time::timeout(timeout, fut).await.map_err(|_| CallError::Timeout)??;
        self.metrics.atlas.traffic(body.as_ref().map(|b| b.len() as u64).unwrap_or(0), 0);
        Ok(body)
    }
}

async fn read_bounded(resp: reqwest::Response) -> Result<Vec<u8>, CallError> {
    read_limited(resp, MAX_REPLY).await
}

async fn read_limited(mut resp: reqwest::Response, max: usize) -> Result<Vec<u8>, CallError> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| CallError::Transport(e.without_url().to_string()))? {
        if out.len() + chunk.len() > max {
            return Err(CallError::BadReply(format!("reply over {max} bytes")));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}
