//! The REST API face (HTTP, default 127.0.0.1:6270): Prometheus metrics,
//! provenance, and the start of Blockstack's `/v1` API (SPEC §7).
//!
//! | route | answer |
//! |---|---|
//! | `GET /metrics` | Prometheus text format ([`crate::metrics`]) |
//! | `GET /v1/node/ping` | `{"status":"alive","version":...}` |
//! | `GET /v1/names/{name}` | the name's record ([`inspect::name_show`]); 404 `{"status":"available"}` |
//! | `GET /v1/resolve/{name}` | the evidence behind the answer ([`explain::explain`]) |
//! | `GET /v1/zonefiles/{hash}`, `/v1/names/{name}/zonefile/{hash}`, `/v1/atlas/status`, `/v1/atlas/peers` | see [`zonefiles`] |
//!
//! Every error is JSON (`{"error": ...}`) with a 4xx/5xx status; request
//! bodies are capped at [`MAX_BODY`]. Store reads run on the blocking pool
//! over one read-only SQLite connection.

pub mod explain;
pub mod inspect;
mod zonefiles;

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::atlas::AtlasState;
use crate::bns::names::split_fqn;
use crate::metrics::Metrics;
use crate::store::Store;

/// Largest request body accepted, in bytes.
pub const MAX_BODY: usize = 64 * 1024;

/// Content type of `/metrics` (Prometheus text exposition format).
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Errors of the API face.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The listener could not be bound.
    #[error("cannot bind API listener on {addr}")]
    Bind {
        /// Address asked for.
        addr: SocketAddr,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The database could not be opened.
    #[error("cannot open the index for the API")]
    Store(#[from] crate::store::StoreError),
    /// Serving failed.
    #[error("API server failed")]
    Serve(#[source] std::io::Error),
}

#[derive(Clone)]
struct Ctx {
    store: Arc<Mutex<Store>>,
    metrics: Arc<Metrics>,
    /// The node's Atlas state and listen address, when it runs one.
    atlas: Option<(Arc<AtlasState>, String)>,
}

/// A bound, not yet serving API server.
pub struct ApiServer {
    listener: TcpListener,
    local_addr: SocketAddr,
    router: Router,
}

impl std::fmt::Debug for ApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiServer").field("local_addr", &self.local_addr).finish_non_exhaustive()
    }
}

impl ApiServer {
    /// Binds `addr` (port 0 picks a free port) and opens a read-only view of the database at `db`.
    /// `atlas`: the node's Atlas (state, listen address) for `/v1/atlas/...`.
    pub async fn bind(
        addr: SocketAddr,
        db: &Path,
        metrics: Arc<Metrics>,
        atlas: Option<(Arc<AtlasState>, String)>,
    ) -> Result<ApiServer, ApiError> {
        let store = Store::open_readonly(db)?;
        let listener = TcpListener::bind(addr).await.map_err(|source| ApiError::Bind { addr, source })?;
        let local_addr = listener.local_addr().map_err(|source| ApiError::Bind { addr, source })?;
        let router = router(Ctx { store: Arc::new(Mutex::new(store)), metrics, atlas });
        Ok(ApiServer { listener, local_addr, router })
    }

    /// The address bound (with the real port when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` completes, then finishes open requests and returns.
    pub async fn run<F>(self, shutdown: F) -> Result<(), ApiError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        info!(addr = %self.local_addr, "API server listening");
        axum::serve(self.listener, self.router).with_graceful_shutdown(shutdown).await.map_err(ApiError::Serve)
    }
}

fn router(ctx: Ctx) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/v1/node/ping", get(ping))
        .route("/v1/names/{name}", get(name))
        .route("/v1/resolve/{name}", get(resolve))
        .route("/v1/zonefiles/{hash}", get(zonefiles::by_hash))
        .route("/v1/names/{name}/zonefile/{hash}", get(zonefiles::by_name_and_hash))
        .route("/v1/atlas/status", get(zonefiles::atlas_status))
        .route("/v1/atlas/peers", get(zonefiles::atlas_peers))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(ctx)
}

/// A JSON error answer: `{"error": message}` with `status`.
#[derive(Debug)]
struct Failure {
    status: StatusCode,
    message: String,
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    fail(status, message).into_response()
}

fn fail(status: StatusCode, message: impl Into<String>) -> Failure {
    Failure { status, message: message.into() }
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such endpoint")
}

async fn method_not_allowed() -> Response {
    error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
}

async fn metrics(State(ctx): State<Ctx>) -> Response {
    ([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], ctx.metrics.render()).into_response()
}

async fn ping() -> Json<Value> {
    Json(json!({ "status": "alive", "version": env!("CARGO_PKG_VERSION") }))
}

/// The `{name}` path segment, or a JSON 400.
fn path_name(path: Result<UrlPath<String>, PathRejection>) -> Result<String, Failure> {
    match path {
        Ok(UrlPath(name)) if name.len() <= crate::zonefile::MAX_NAME_LEN + 1 => Ok(name),
        Ok(_) => Err(fail(StatusCode::BAD_REQUEST, "name too long")),
        Err(e) => Err(fail(StatusCode::BAD_REQUEST, format!("bad path: {}", e.body_text()))),
    }
}

/// Runs `f` on the store on the blocking pool; failures become a JSON 500.
async fn with_store<T, F>(ctx: &Ctx, f: F) -> Result<T, Failure>
where
    T: Send + 'static,
    F: FnOnce(&Store) -> anyhow::Result<T> + Send + 'static,
{
    let store = ctx.store.clone();
    let result = tokio::task::spawn_blocking(move || {
        let store = store.lock().map_err(|_| anyhow::anyhow!("store lock poisoned"))?;
        f(&store)
    })
    .await;
    match result {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            warn!(error = %format!("{e:#}"), "API store read failed");
            Err(fail(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")))
        }
        Err(e) => {
            warn!(error = %e, "API store task failed");
            Err(fail(StatusCode::INTERNAL_SERVER_ERROR, "internal error"))
        }
    }
}

async fn name(State(ctx): State<Ctx>, path: Result<UrlPath<String>, PathRejection>) -> Result<Response, Failure> {
    let name = path_name(path)?.to_ascii_lowercase();
    if split_fqn(&name).is_none() {
        return Err(fail(StatusCode::BAD_REQUEST, format!("{name:?} is not a valid name (name.namespace)")));
    }
    let v = with_store(&ctx, move |s| inspect::name_show(s, &name)).await?;
    Ok(if v["status"] == "available" {
        (StatusCode::NOT_FOUND, Json(json!({ "status": "available" }))).into_response()
    } else {
        Json(v).into_response()
    })
}

async fn resolve(State(ctx): State<Ctx>, path: Result<UrlPath<String>, PathRejection>) -> Result<Response, Failure> {
    let name = path_name(path)?;
    explain::parse_query(&name).map_err(|e| fail(StatusCode::BAD_REQUEST, e))?;
    let v = with_store(&ctx, move |s| explain::explain(s, &name)).await?;
    let status = if v["status"] == "available" { StatusCode::NOT_FOUND } else { StatusCode::OK };
    Ok((status, Json(v)).into_response())
}
