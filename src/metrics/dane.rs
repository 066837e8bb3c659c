//! DANE proxy counters: browser connections by what the proxy did with them.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;

use super::collect::counter_table;

/// What a connection to the DANE proxy got (label `verdict`): `pinned` (the
/// server's key matched the name's TLSA and the browser was tunnelled),
/// `mismatch`, `no_tlsa`, `unreachable` (no address, or no TLS handshake),
/// `passthrough` (not a BNS name: tunnelled untouched), `local` (the PAC file or
/// the CA), `bad_request`.
pub const DANE_VERDICTS: &[&str] =
    &["pinned", "mismatch", "no_tlsa", "unreachable", "passthrough", "local", "bad_request"];

/// DANE proxy metrics; every series of the fixed label list is shown, zero or not.
#[derive(Debug)]
pub struct DaneMetrics {
    /// By index in [`DANE_VERDICTS`].
    connections: Vec<Counter>,
}

impl DaneMetrics {
    /// Makes the proxy metrics and registers them in `registry`.
    pub(super) fn new(registry: &mut Registry) -> Self {
        let connections = counter_table(
            registry,
            "bns_dane_proxy_requests",
            "Requests to the DANE proxy (CONNECT and plain), by what the proxy did.",
            "verdict",
            DANE_VERDICTS,
        );
        DaneMetrics { connections }
    }

    /// Counts one request that ended with `verdict` (one of [`DANE_VERDICTS`]).
    pub fn request(&self, verdict: &str) {
        if let Some(i) = DANE_VERDICTS.iter().position(|k| *k == verdict) {
            self.connections[i].inc();
        }
    }
}
