//! Atlas counters and gauges (zone-file replication), registered with the rest.

use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::collect::counter_table;

/// Where stored zone files came from (label `source`).
pub const STORED_SOURCES: &[&str] = &["peer", "push", "http"];
/// Why zone files or replies were refused (label `reason`).
pub const REJECT_REASONS: &[&str] = &["mismatch", "oversize", "not_announced", "bad_reply", "timeout"];

type CountGauge = Gauge<u64, AtomicU64>;

/// Atlas metrics. Label sets are the fixed lists above; each of their series is shown,
/// zero or not.
#[derive(Debug)]
pub struct AtlasMetrics {
    inventory_rows: CountGauge,
    held: CountGauge,
    missing: CountGauge,
    peers: CountGauge,
    peers_healthy: CountGauge,
    bytes_in: Counter,
    bytes_out: Counter,
    requests: Counter,
    /// By index in [`STORED_SOURCES`].
    stored: Vec<Counter>,
    /// By index in [`REJECT_REASONS`].
    rejected: Vec<Counter>,
}

impl AtlasMetrics {
    /// Makes the Atlas metrics and registers them in `registry`.
    pub(super) fn new(registry: &mut Registry) -> Self {
        let mut gauge = |name: &str, help: &str| {
            let g = CountGauge::default();
            registry.register(name, help, g.clone());
            g
        };
        let inventory_rows =
            gauge("bns_atlas_inventory_rows", "Rows of the zone-file inventory (ops that announced a hash)");
        let held = gauge("bns_atlas_zonefiles_held", "Announced zone-file hashes whose file is held");
        let missing = gauge("bns_atlas_zonefiles_missing", "Announced zone-file hashes whose file is not held yet");
        let peers = gauge("bns_atlas_peers", "Peers in the Atlas peer table");
        let peers_healthy = gauge(
            "bns_atlas_peers_healthy",
            "Peers whose health (answers/requests over the last hour) is at least 0.5",
        );
        let mut counter = |name: &str, help: &str| {
            let c = Counter::default();
            registry.register(name, help, c.clone());
            c
        };
        let bytes_in = counter("bns_atlas_bytes_in", "Bytes received from Atlas peers and zone-file sources");
        let bytes_out = counter("bns_atlas_bytes_out", "Bytes sent to Atlas peers and zone-file sources");
        let requests = counter("bns_atlas_requests", "Requests sent to Atlas peers and zone-file sources");
        let mut table = |name, help, key, values: &[&'static str]| counter_table(registry, name, help, key, values);
        let stored = table(
            "bns_atlas_zonefiles_stored",
            "Zone files verified and stored, by where they came from.",
            "source",
            STORED_SOURCES,
        );
        let rejected =
            table("bns_atlas_rejected", "Zone files and peer replies refused, by reason.", "reason", REJECT_REASONS);
        AtlasMetrics {
            inventory_rows,
            held,
            missing,
            peers,
            peers_healthy,
            bytes_in,
            bytes_out,
            requests,
            stored,
            rejected,
        }
    }

    /// Sets the inventory gauges: rows, and distinct announced hashes held / missing.
    pub fn set_inventory(&self, rows: u64, held: u64, missing: u64) {
        self.inventory_rows.set(rows);
        self.held.set(held);
        self.missing.set(missing);
    }

    /// Sets the peer gauges.
    pub fn set_peers(&self, peers: u64, healthy: u64) {
        self.peers.set(peers);
        self.peers_healthy.set(healthy);
    }

    /// Counts bytes received from and sent to peers and sources (HTTP bodies).
    pub fn traffic(&self, bytes_in: u64, bytes_out: u64) {
        self.bytes_in.inc_by(bytes_in);
        self.bytes_out.inc_by(bytes_out);
    }

    /// Counts one request sent to a peer or source.
    pub fn request(&self) {
        self.requests.inc();
    }

    /// Counts zone files newly stored from `source` (one of [`STORED_SOURCES`]).
    pub fn stored(&self, n: u64, source: &str) {
        if let Some(i) = STORED_SOURCES.iter().position(|s| *s == source) {
            self.stored[i].inc_by(n);
        }
    }

    /// Counts one refusal for `reason` (one of [`REJECT_REASONS`]).
    pub fn rejected(&self, reason: &str) {
        if let Some(i) = REJECT_REASONS.iter().position(|s| *s == reason) {
            self.rejected[i].inc();
        }
    }

    /// (held, missing) distinct zone-file hashes of the inventory.
    pub fn held_missing(&self) -> (u64, u64) {
        (self.held.get(), self.missing.get())
    }

    /// (bytes in, bytes out).
    pub fn bytes(&self) -> (u64, u64) {
        (self.bytes_in.get(), self.bytes_out.get())
    }
}
