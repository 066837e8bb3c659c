//! Atlas counters and gauges (zone-file replication), rendered with the rest.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Where stored zone files came from (label `source`).
pub const STORED_SOURCES: &[&str] = &["peer", "push", "http"];
/// Why zone files or replies were refused (label `reason`).
pub const REJECT_REASONS: &[&str] = &["mismatch", "oversize", "not_announced", "bad_reply", "timeout"];

/// Atlas metrics. Label sets are the fixed lists above.
#[derive(Debug, Default)]
pub struct AtlasMetrics {
    inventory_rows: AtomicU64,
    held: AtomicU64,
    missing: AtomicU64,
    peers: AtomicU64,
    peers_healthy: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    requests: AtomicU64,
    stored: [AtomicU64; 3],
    rejected: [AtomicU64; 5],
}

impl AtlasMetrics {
    /// Sets the inventory gauges: rows, and distinct announced hashes held / missing.
    pub fn set_inventory(&self, rows: u64, held: u64, missing: u64) {
        self.inventory_rows.store(rows, Relaxed);
        self.held.store(held, Relaxed);
        self.missing.store(missing, Relaxed);
    }

    /// Sets the peer gauges.
    pub fn set_peers(&self, peers: u64, healthy: u64) {
        self.peers.store(peers, Relaxed);
        self.peers_healthy.store(healthy, Relaxed);
    }

    /// Counts bytes received from and sent to peers and sources (HTTP bodies).
    pub fn traffic(&self, bytes_in: u64, bytes_out: u64) {
        self.bytes_in.fetch_add(bytes_in, Relaxed);
        self.bytes_out.fetch_add(bytes_out, Relaxed);
    }

    /// Counts one request sent to a peer or source.
    pub fn request(&self) {
        self.requests.fetch_add(1, Relaxed);
    }

    /// Counts zone files newly stored from `source` (one of [`STORED_SOURCES`]).
    pub fn stored(&self, n: u64, source: &str) {
        if let Some(i) = STORED_SOURCES.iter().position(|s| *s == source) {
            self.stored[i].fetch_add(n, Relaxed);
        }
    }

    /// Counts one refusal for `reason` (one of [`REJECT_REASONS`]).
    pub fn rejected(&self, reason: &str) {
        if let Some(i) = REJECT_REASONS.iter().position(|s| *s == reason) {
            self.rejected[i].fetch_add(1, Relaxed);
        }
    }

    /// (held, missing) distinct zone-file hashes of the inventory.
    pub fn held_missing(&self) -> (u64, u64) {
        (self.held.load(Relaxed), self.missing.load(Relaxed))
    }

    /// (bytes in, bytes out).
    pub fn bytes(&self) -> (u64, u64) {
        (self.bytes_in.load(Relaxed), self.bytes_out.load(Relaxed))
    }

    pub(super) fn render(&self, o: &mut String) {
        let g = |o: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        let c = |o: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        };
        g(
            o,
            "bns_atlas_inventory_rows",
            "Rows of the zone-file inventory (ops that announced a hash).",
            self.inventory_rows.load(Relaxed),
        );
        g(o, "bns_atlas_zonefiles_held", "Announced zone-file hashes whose file is held.", self.held.load(Relaxed));
        g(
            o,
            "bns_atlas_zonefiles_missing",
            "Announced zone-file hashes whose file is not held yet.",
            self.missing.load(Relaxed),
        );
        g(o, "bns_atlas_peers", "Peers in the Atlas peer table.", self.peers.load(Relaxed));
        g(
            o,
            "bns_atlas_peers_healthy",
            "Peers whose health (answers/requests over the last hour) is at least 0.5.",
            self.peers_healthy.load(Relaxed),
        );
        c(
            o,
            "bns_atlas_bytes_in_total",
            "Bytes received from Atlas peers and zone-file sources.",
            self.bytes_in.load(Relaxed),
        );
        c(
            o,
            "bns_atlas_bytes_out_total",
            "Bytes sent to Atlas peers and zone-file sources.",
            self.bytes_out.load(Relaxed),
        );
        c(
            o,
            "bns_atlas_requests_total",
            "Requests sent to Atlas peers and zone-file sources.",
            self.requests.load(Relaxed),
        );
        let name = "bns_atlas_zonefiles_stored_total";
        let _ = writeln!(
            o,
            "# HELP {name} Zone files verified and stored, by where they came from.\n# TYPE {name} counter"
        );
        for (i, s) in STORED_SOURCES.iter().enumerate() {
            let _ = writeln!(o, "{name}{{source=\"{s}\"}} {}", self.stored[i].load(Relaxed));
        }
        let name = "bns_atlas_rejected_total";
        let _ = writeln!(o, "# HELP {name} Zone files and peer replies refused, by reason.\n# TYPE {name} counter");
        for (i, r) in REJECT_REASONS.iter().enumerate() {
            let _ = writeln!(o, "{name}{{reason=\"{r}\"}} {}", self.rejected[i].load(Relaxed));
        }
    }
}
