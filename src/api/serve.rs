//! The API's HTTP/1.1 connection loop (hyper), with the guards `axum::serve`
//! does not have: a header-read timeout (hyper's: it also closes a connection
//! that sends nothing, fresh or kept alive after an answer), a whole-request
//! timeout, a connection lifetime, a cap on open connections (more wait in the
//! kernel's backlog) and on requests being handled (more get 503 with a JSON
//! error at once).

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::Response;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tower::ServiceExt as _;
use tracing::{debug, warn};

use super::{error, ApiOptions};

/// Serves `router` on `listener` until `shutdown`, then lets open connections
/// finish their current request (at most `options.request_timeout` more).
pub(super) async fn serve<F>(listener: TcpListener, router: Router, options: ApiOptions, shutdown: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let connections = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let in_flight = Arc::new(Semaphore::new(options.max_in_flight.max(1)));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut open = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        while open.try_join_next().is_some() {}
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            p = connections.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    warn!(error = %e, "API: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let (router, in_flight, options, mut stop) =
            (router.clone(), in_flight.clone(), options.clone(), stop_rx.clone());
        open.spawn(async move {
            let timeout = options.request_timeout;
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let (router, in_flight) = (router.clone(), in_flight.clone());
                async move { Ok::<_, Infallible>(handle(router, req, &in_flight, timeout).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(options.header_timeout)
                .max_buf_size(64 * 1024)
                .serve_connection(TokioIo::new(stream), service);
            let served = async move {
                tokio::pin!(conn);
                tokio::select! {
                    r = conn.as_mut() => return r,
                    _ = async { drop(stop.wait_for(|s| *s).await) } => {}
                }
                // Shutting down: finish the request being served, then close.
                conn.as_mut().graceful_shutdown();
                conn.await
            };
            match tokio::time::timeout(options.connection_lifetime, served).await {
                Ok(Err(e)) => debug!(%peer, error = %e, "API: connection ended with an error"),
                Err(_) => debug!(%peer, "API: connection closed after its lifetime"),
                Ok(Ok(())) => {}
            }
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let grace = options.request_timeout + Duration::from_secs(1);
    if tokio::time::timeout(grace, async { while open.join_next().await.is_some() {} }).await.is_err() {
        debug!("API: connections still open after shutdown; dropping them");
    }
}

/// One request: 503 beyond the in-flight cap or past the request timeout.
async fn handle(router: Router, req: Request<Incoming>, in_flight: &Semaphore, timeout: Duration) -> Response {
    let Ok(_permit) = in_flight.try_acquire() else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "too many requests at once; try again");
    };
    match tokio::time::timeout(timeout, router.oneshot(req.map(Body::new))).await {
        Ok(Ok(r)) => r,
        Ok(Err(never)) => match never {},
        Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "request timed out"),
    }
}
