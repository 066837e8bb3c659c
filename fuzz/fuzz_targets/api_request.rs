//! Arbitrary bytes -> one HTTP request to the API's real axum Router
//! (`bns::api::router`, Host check included) over a small store made once,
//! called with `tower::ServiceExt::oneshot`. Never panics; never a 5xx for
//! any method, path or body; error answers are JSON and never carry SQL or
//! SQLite text; a `Host` that is not ours is 403.
//!
//! Input: `[method u8][host u8][path bytes up to the first '\n'][body]`.
#![no_main]

use std::sync::{Arc, LazyLock};

use axum::body::Body;
use axum::http::{Method, Request};
use axum::Router;
use bns::api::{router, ApiOptions};
use bns::bns::ChainParams;
use bns::metrics::Metrics;
use bns::store::Store;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt as _;

const METHODS: [&str; 8] = ["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "BREW"];

struct App {
    router: Router,
    rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

/// A migrated store with regtest-like chain parameters and no names.
static APP: LazyLock<App> = LazyLock::new(|| {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("bns.sqlite");
    let store = Store::open(&db).expect("create store");
    let params = serde_json::to_string(&ChainParams::test(1, *b"id")).expect("params encode");
    store.set_meta("chain_params", &params).expect("set chain params");
    drop(store);
    let options = ApiOptions { allowed_hosts: vec!["bns.example".into()], ..ApiOptions::default() };
    let router = router(&db, Arc::new(Metrics::new()), None, &options).expect("router");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    App { router, rt, _dir: dir }
});

/// `text` with `%XX` escapes decoded (lossily), as the router decodes path segments.
fn percent_decoded(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (b[i], hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fuzz_target!(|data: &[u8]| {
    let [m, h, rest @ ..] = data else { return };
    let (path, body) = match rest.iter().position(|&b| b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let Ok(method) = Method::from_bytes(METHODS[*m as usize % METHODS.len()].as_bytes()) else { return };
    let path = String::from_utf8_lossy(path);
    let uri = if path.starts_with('/') { path.into_owned() } else { format!("/{path}") };
    let (host, foreign) = match h % 4 {
        0 => (None, false),
        1 => (Some("127.0.0.1:6270"), false),
        2 => (Some("bns.example"), false),
        _ => (Some("evil.example"), true),
    };
    let mut req = Request::builder().method(method.clone()).uri(uri.as_str());
    if let Some(host) = host {
        req = req.header("host", host);
    }
    // Hyper refuses what does not parse as a request target; those never reach the router.
    let Ok(req) = req.body(Body::from(body.to_vec())) else { return };
    let app = &*APP;
    let resp = app.rt.block_on(app.router.clone().oneshot(req)).expect("the router is infallible");
    let status = resp.status();
    let bytes = app.rt.block_on(axum::body::to_bytes(resp.into_body(), 1 << 20)).expect("answers are small");
    let text = String::from_utf8_lossy(&bytes);
    assert!(!status.is_server_error(), "{method} {uri:?}: {status} {text}");
    if foreign {
        assert_eq!(status, 403, "{method} {uri:?} with a foreign Host: {status}");
    }
    if status.is_client_error() && method != Method::HEAD {
        let v: serde_json::Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{method} {uri:?}: {status} body not JSON ({e}): {text}"));
        assert!(v["error"].is_string() || v["status"] == "available", "{method} {uri:?}: {status} {text}");
    }
    // SQLite's error phrases, unless the path itself carried them (answers quote a bad name).
    let (lower, asked) = (text.to_ascii_lowercase(), percent_decoded(&uri).to_ascii_lowercase());
    for leak in ["sql", "no such table", "error code", "constraint"] {
        assert!(!lower.contains(leak) || asked.contains(leak), "{method} {uri:?}: SQL text leaked: {text}");
    }
});
