//! The `Host` check against DNS rebinding: a page at `evil.example` whose name
//! an attacker points at 127.0.0.1 makes the browser send `Host: evil.example`
//! to this API, so only hosts a legitimate client would use are served.
//!
//! Allowed: no `Host` header (not a browser), an IP literal (`127.0.0.1`,
//! `[::1]`, any port), `localhost` and names under it (browsers resolve those to
//! loopback themselves), and the names configured for the node. Anything else
//! gets 403 with a JSON error. Names compare case-insensitively, a trailing dot
//! ignored.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::error;

/// The host names the API answers to besides IP literals and `localhost`.
#[derive(Debug, Clone, Default)]
pub(crate) struct AllowedHosts {
    names: Arc<Vec<String>>,
}

impl AllowedHosts {
    /// Allows `names` (host names without port) too.
    pub(crate) fn new(names: &[String]) -> AllowedHosts {
        AllowedHosts { names: Arc::new(names.iter().map(|n| normalize(n)).collect()) }
    }

    /// True if a request with this `Host` header value may be served.
    pub(crate) fn allows(&self, host_header: &[u8]) -> bool {
        let Ok(text) = std::str::from_utf8(host_header) else { return false };
        let Some(host) = host_part(text.trim()) else { return false };
        if host.parse::<IpAddr>().is_ok() {
            return true;
        }
        let host = normalize(host);
        host == "localhost" || host.ends_with(".localhost") || self.names.contains(&host)
    }
}

/// The host of `host[:port]` / `[v6]:port`, brackets removed; `None` if the port is not a number.
fn host_part(text: &str) -> Option<&str> {
    if let Some(rest) = text.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        return match after {
            "" => Some(v6),
            _ => after.strip_prefix(':').filter(|p| p.parse::<u16>().is_ok()).map(|_| v6),
        };
    }
    match text.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => p.parse::<u16>().ok().map(|_| h),
        Some(_) => None, // a bare IPv6 address is not a valid Host
        None => Some(text),
    }
}

fn normalize(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// Middleware: 403 unless [`AllowedHosts::allows`] the request's `Host`.
pub(crate) async fn check(State(hosts): State<AllowedHosts>, req: Request, next: Next) -> Response {
    let ok = match req.headers().get(header::HOST) {
        None => true,
        Some(h) => hosts.allows(h.as_bytes()),
    };
    if ok {
        next.run(req).await
    } else {
        error(StatusCode::FORBIDDEN, "this API does not serve that Host (DNS rebinding guard)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        let h = AllowedHosts::new(&["Bns.Example.".to_string()]);
        for ok in [
            "127.0.0.1:6270",
            "127.0.0.1",
            "[::1]:6270",
            "[::1]",
            "localhost:1",
            "LOCALHOST",
            "a.localhost",
            "bns.example",
            "BNS.example.:80",
            "10.1.2.3:99",
        ] {
            assert!(h.allows(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:6270",
            "localhost.evil.example",
            "127.0.0.1.evil",
            "",
            "::1",
            "[::1]x",
            "127.0.0.1:x",
            "bns.example:99999",
            "\u{ff}",
        ] {
            assert!(!h.allows(bad.as_bytes()), "{bad}");
        }
        assert!(!AllowedHosts::default().allows(b"bns.example"));
        assert!(!h.allows(b"\xff\xfe"));
    }
}
