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
//! bodies are capped at [`MAX_BODY`]. A failed store read is logged and
//! answered `500 {"error": "internal error"}`: SQL and SQLite text never
//! reaches a client. Store reads run on the blocking pool over a pool of
//! read-only SQLite connections ([`ApiOptions::readers`]).
//!
//! Hostile clients ([`ApiOptions`]): headers must arrive within
//! `header_timeout`, a request is answered within `request_timeout`, a
//! connection lives at most `connection_lifetime`, at most `max_connections`
//! are open and `max_in_flight` requests handled at once (503 beyond), and
//! a `Host` that is not an IP literal, `localhost` or one of
//! `allowed_hosts` gets 403 (DNS rebinding, see [`host`]).

pub mod explain;
mod host;
pub mod inspect;
mod readers;
mod serve;
pub mod subdomains;
mod zonefiles;

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tracing::{info, warn};

use self::host::AllowedHosts;
use self::readers::{ReadError, Readers};

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

/// How the API face guards itself against slow, many or hostile clients.
#[derive(Debug, Clone)]
pub struct ApiOptions {
    /// Time allowed for a request's headers (also the keep-alive idle limit).
    pub header_timeout: Duration,
    /// Time allowed for answering a request, from its headers on (503 beyond).
    pub request_timeout: Duration,
    /// Longest a connection stays open.
    pub connection_lifetime: Duration,
    /// Most connections open at once; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// Most requests handled at once; more get 503 at once.
    pub max_in_flight: usize,
    /// Read-only SQLite connections, that is store reads running at once.
    pub readers: usize,
    /// Host names served besides IP literals and `localhost` (DNS rebinding guard).
    pub allowed_hosts: Vec<String>,
    /// Test hook: every store read first sleeps this long. Zero in production.
    #[doc(hidden)]
    pub read_delay: Duration,
}

impl Default for ApiOptions {
    fn default() -> Self {
        ApiOptions {
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            connection_lifetime: Duration::from_secs(120),
            max_connections: 256,
            max_in_flight: 64,
            readers: readers::default_size(),
            allowed_hosts: Vec::new(),
            read_delay: Duration::ZERO,
        }
    }
}

#[derive(Clone)]
struct Ctx {
    readers: Arc<Readers>,
    metrics: Arc<Metrics>,
    /// The node's Atlas state and listen address, when it runs one.
    atlas: Option<(Arc<AtlasState>, String)>,
}

/// A bound, not yet serving API server.
pub struct ApiServer {
    listener: TcpListener,
    local_addr: SocketAddr,
    router: Router,
    options: ApiOptions,
}

impl std::fmt::Debug for ApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiServer").field("local_addr", &self.local_addr).finish_non_exhaustive()
    }
}

impl ApiServer {
    /// Binds `addr` (port 0 picks a free port) and opens a read-only view of the database at `db`.
    /// `atlas`: the node's Atlas (state, listen address) for `/v1/atlas/...`. Default [`ApiOptions`].
    pub async fn bind(
        addr: SocketAddr,
        db: &Path,
        metrics: Arc<Metrics>,
        atlas: Option<(Arc<AtlasState>, String)>,
    ) -> Result<ApiServer, ApiError> {
        ApiServer::bind_with(addr, db, metrics, atlas, ApiOptions::default()).await
    }

    /// [`ApiServer::bind`] with these options.
    pub async fn bind_with(
        addr: SocketAddr,
        db: &Path,
        metrics: Arc<Metrics>,
        atlas: Option<(Arc<AtlasState>, String)>,
        options: ApiOptions,
    ) -> Result<ApiServer, ApiError> {
        let router = router(db, metrics, atlas, &options)?;
        let listener = TcpListener::bind(addr).await.map_err(|source| ApiError::Bind { addr, source })?;
        let local_addr = listener.local_addr().map_err(|source| ApiError::Bind { addr, source })?;
        Ok(ApiServer { listener, local_addr, router, options })
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
        serve::serve(self.listener, self.router, self.options, shutdown).await;
        Ok(())
    }
}

/// The API's routes over the database at `db` (read-only), with the `Host`
/// check but without the connection guards of [`ApiServer::run`]: what the
/// server calls per request (and what a test or fuzzer can call directly).
pub fn router(
    db: &Path,
    metrics: Arc<Metrics>,
    atlas: Option<(Arc<AtlasState>, String)>,
    options: &ApiOptions,
) -> Result<Router, ApiError> {
    let readers = Arc::new(Readers::open(db, options.readers, options.read_delay)?);
    let hosts = AllowedHosts::new(&options.allowed_hosts);
    Ok(routes(Ctx { readers, metrics, atlas }).layer(axum::middleware::from_fn_with_state(hosts, host::check)))
}

fn routes(ctx: Ctx) -> Router {
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

/// Runs `f` on a pooled read-only connection; a failure is logged and becomes
/// a JSON 500 that says only "internal error" (no SQL, table or file names).
async fn with_store<T, F>(ctx: &Ctx, f: F) -> Result<T, Failure>
where
    T: Send + 'static,
    F: FnOnce(&Store) -> anyhow::Result<T> + Send + 'static,
{
    match ctx.readers.read(f).await {
        Ok(v) => Ok(v),
        Err(ReadError::Failed(e)) => {
            warn!(error = %format!("{e:#}"), "API store read failed");
            Err(fail(StatusCode::INTERNAL_SERVER_ERROR, "internal error"))
        }
        Err(ReadError::Lost(e)) => {
            warn!(error = %e, "API store task failed");
            Err(fail(StatusCode::INTERNAL_SERVER_ERROR, "internal error"))
        }
    }
}

async fn name(State(ctx): State<Ctx>, path: Result<UrlPath<String>, PathRejection>) -> Result<Response, Failure> {
    let name = path_name(path)?.to_ascii_lowercase();
    let subdomain = subdomains::is_subdomain_name(&name)
        && name
            .split_once('.')
            .is_some_and(|(label, parent)| crate::subdomain::valid_label(label) && split_fqn(parent).is_some());
    if split_fqn(&name).is_none() && !subdomain {
        return Err(fail(
            StatusCode::BAD_REQUEST,
            format!("{name:?} is not a valid name (name.namespace or subdomain.name.namespace)"),
        ));
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
