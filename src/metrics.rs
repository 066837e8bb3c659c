//! Node metrics: a small registry of atomics rendered in the Prometheus text
//! exposition format (version 0.0.4), served at `/metrics` on the API port.
//!
//! A leaf module (it imports nothing of the crate), so every layer that has
//! something to count can hold an `Arc<Metrics>`: the DNS face records each
//! query, the node sets the chain and store gauges after each indexer step,
//! and the DNS cache plugs in through [`CacheStats`].
//!
//! Label sets are fixed and small: query types outside [`QTYPES`] count as
//! `OTHER`, response codes outside [`RCODES`] as `OTHER`, so a client sending
//! every type number cannot grow the output.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, RwLock};
use std::time::Duration;

mod atlas;
pub use atlas::{AtlasMetrics, REJECT_REASONS, STORED_SOURCES};

/// Query types with their own label (type number, name); others are `OTHER`.
pub const QTYPES: &[(u16, &str)] = &[
    (1, "A"),
    (2, "NS"),
    (5, "CNAME"),
    (6, "SOA"),
    (12, "PTR"),
    (15, "MX"),
    (16, "TXT"),
    (28, "AAAA"),
    (33, "SRV"),
    (43, "DS"),
    (48, "DNSKEY"),
    (52, "TLSA"),
    (64, "SVCB"),
    (65, "HTTPS"),
    (255, "ANY"),
    (256, "URI"),
    (257, "CAA"),
];

/// Response codes with their own label (code, name); others are `OTHER`.
pub const RCODES: &[(u16, &str)] =
    &[(0, "NOERROR"), (1, "FORMERR"), (2, "SERVFAIL"), (3, "NXDOMAIN"), (4, "NOTIMP"), (5, "REFUSED"), (16, "BADVERS")];

/// Upper bounds (seconds) of the DNS latency histogram buckets; `+Inf` follows.
pub const LATENCY_BUCKETS: &[f64] = &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0];

const NQ: usize = QTYPES.len() + 1;
const NR: usize = RCODES.len() + 1;

/// One worker's DNS counters, merged into [`Metrics`] by [`Metrics::merge_dns`].
#[derive(Debug, Clone)]
pub struct DnsCounts {
    queries: [[u64; NR]; NQ],
    latency: [u64; LATENCY_BUCKETS.len() + 1],
    nanos: u64,
    total: u64,
}

impl Default for DnsCounts {
    fn default() -> Self {
        DnsCounts { queries: [[0; NR]; NQ], latency: [0; LATENCY_BUCKETS.len() + 1], nanos: 0, total: 0 }
    }
}

impl DnsCounts {
    /// Counts one answered query.
    pub fn record(&mut self, qtype: u16, rcode: u16, elapsed: Duration) {
        self.queries[index_of(QTYPES, qtype)][index_of(RCODES, rcode)] += 1;
        let secs = elapsed.as_secs_f64();
        let bucket = LATENCY_BUCKETS.iter().position(|le| secs <= *le).unwrap_or(LATENCY_BUCKETS.len());
        self.latency[bucket] += 1;
        self.nanos += u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.total += 1;
    }
}

/// Counters the DNS face keeps itself (its cache, malformed requests).
pub trait CacheStats: Send + Sync {
    /// Lookups answered from the cache.
    fn hits(&self) -> u64;
    /// Lookups the cache could not answer.
    fn misses(&self) -> u64;
    /// Malformed requests the DNS face refused.
    fn malformed(&self) -> u64 {
        0
    }
}

/// The node's metrics registry. Cheap to update from any thread.
pub struct Metrics {
    queries: [[AtomicU64; NR]; NQ],
    /// Per bucket (not cumulative); the last one is `+Inf`.
    latency: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    latency_sum_nanos: AtomicU64,
    malformed: AtomicU64,
    cache: RwLock<Option<Arc<dyn CacheStats>>>,
    chain_height: AtomicU64,
    chain_tip: AtomicU64,
    names: AtomicU64,
    zonefiles_held: AtomicU64,
    zonefiles_missing: AtomicU64,
    source_up: AtomicU64,
    source_errors: AtomicU64,
    source_retry_secs: AtomicU64,
    blocks_undone: AtomicU64,
    reorgs: AtomicU64,
    /// Zone-file replication (Atlas).
    pub atlas: AtlasMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn index_of(table: &[(u16, &str)], code: u16) -> usize {
    table.iter().position(|(c, _)| *c == code).unwrap_or(table.len())
}

fn label(table: &[(u16, &'static str)], i: usize) -> &'static str {
    table.get(i).map(|(_, n)| *n).unwrap_or("OTHER")
}

impl Metrics {
    /// An empty registry.
    pub fn new() -> Self {
        Metrics {
            queries: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            latency: std::array::from_fn(|_| AtomicU64::new(0)),
            latency_sum_nanos: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
            cache: RwLock::new(None),
            chain_height: AtomicU64::new(0),
            chain_tip: AtomicU64::new(0),
            names: AtomicU64::new(0),
            zonefiles_held: AtomicU64::new(0),
            zonefiles_missing: AtomicU64::new(0),
            source_up: AtomicU64::new(0),
            source_errors: AtomicU64::new(0),
            source_retry_secs: AtomicU64::new(0),
            blocks_undone: AtomicU64::new(0),
            reorgs: AtomicU64::new(0),
            atlas: AtlasMetrics::default(),
        }
    }

    /// Records one answered DNS query: its type number, the response code
    /// sent, and the time from receipt to answer.
    pub fn record_dns_query(&self, qtype: u16, rcode: u16, elapsed: Duration) {
        self.queries[index_of(QTYPES, qtype)][index_of(RCODES, rcode)].fetch_add(1, Relaxed);
        let secs = elapsed.as_secs_f64();
        let bucket = LATENCY_BUCKETS.iter().position(|le| secs <= *le).unwrap_or(LATENCY_BUCKETS.len());
        self.latency[bucket].fetch_add(1, Relaxed);
        self.latency_sum_nanos.fetch_add(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX), Relaxed);
    }

    /// Adds a worker's local counts and zeroes them (the UDP fast path keeps
    /// its own and merges them once per batch, so queries share no cache line).
    pub fn merge_dns(&self, local: &mut DnsCounts) {
        if local.total == 0 {
            return;
        }
        for (q, row) in local.queries.iter_mut().enumerate() {
            for (r, n) in row.iter_mut().enumerate() {
                if *n > 0 {
                    self.queries[q][r].fetch_add(*n, Relaxed);
                    *n = 0;
                }
            }
        }
        for (b, n) in local.latency.iter_mut().enumerate() {
            if *n > 0 {
                self.latency[b].fetch_add(*n, Relaxed);
                *n = 0;
            }
        }
        self.latency_sum_nanos.fetch_add(local.nanos, Relaxed);
        local.nanos = 0;
        local.total = 0;
    }

    /// Counts one DNS message that could not be parsed or was not a well-formed query.
    pub fn record_malformed(&self) {
        self.malformed.fetch_add(1, Relaxed);
    }

    /// Plugs in the DNS cache's counters (replacing any earlier ones).
    pub fn set_cache_stats(&self, stats: Arc<dyn CacheStats>) {
        if let Ok(mut slot) = self.cache.write() {
            *slot = Some(stats);
        }
    }

    /// Sets the processed height and the source's tip.
    pub fn set_chain(&self, height: u64, tip: u64) {
        self.chain_height.store(height, Relaxed);
        self.chain_tip.store(tip, Relaxed);
    }

    /// Sets the store gauges: names, and zone files held / missing among current names' hashes.
    pub fn set_store_counts(&self, names: u64, zonefiles_held: u64, zonefiles_missing: u64) {
        self.names.store(names, Relaxed);
        self.zonefiles_held.store(zonefiles_held, Relaxed);
        self.zonefiles_missing.store(zonefiles_missing, Relaxed);
    }

    /// The block source answered: up, nothing to retry.
    pub fn source_ok(&self) {
        self.source_up.store(1, Relaxed);
        self.source_retry_secs.store(0, Relaxed);
    }

    /// The block source failed; the next attempt is in `retry_in`.
    pub fn source_failed(&self, retry_in: Duration) {
        self.source_up.store(0, Relaxed);
        self.source_errors.fetch_add(1, Relaxed);
        self.source_retry_secs.store(retry_in.as_secs(), Relaxed);
    }

    /// Counts a reorg that undid `blocks` processed blocks.
    pub fn record_reorg(&self, blocks: u64) {
        if blocks > 0 {
            self.reorgs.fetch_add(1, Relaxed);
            self.blocks_undone.fetch_add(blocks, Relaxed);
        }
    }

    /// Total DNS queries recorded of type `qtype` answered with `rcode`.
    pub fn dns_queries(&self, qtype: u16, rcode: u16) -> u64 {
        self.queries[index_of(QTYPES, qtype)][index_of(RCODES, rcode)].load(Relaxed)
    }

    /// Renders every metric in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        // Writing to a String cannot fail.
        let o = &mut out;
        header(o, "bns_dns_queries_total", "counter", "DNS queries answered, by query type and response code.");
        for (qi, row) in self.queries.iter().enumerate() {
            for (ri, n) in row.iter().enumerate() {
                let n = n.load(Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        o,
                        "bns_dns_queries_total{{qtype=\"{}\",rcode=\"{}\"}} {n}",
                        label(QTYPES, qi),
                        label(RCODES, ri)
                    );
                }
            }
        }

        let name = "bns_dns_query_duration_seconds";
        header(o, name, "histogram", "Time from receiving a DNS query to sending its answer.");
        let mut cumulative = 0u64;
        for (i, n) in self.latency.iter().enumerate() {
            cumulative += n.load(Relaxed);
            match LATENCY_BUCKETS.get(i) {
                Some(le) => {
                    let _ = writeln!(o, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
                }
                None => {
                    let _ = writeln!(o, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
                }
            }
        }
        let sum = self.latency_sum_nanos.load(Relaxed) as f64 / 1e9;
        let _ = writeln!(o, "{name}_sum {sum}");
        let _ = writeln!(o, "{name}_count {cumulative}");

        let cache = self.cache.read().ok().and_then(|c| c.clone());
        let (hits, misses, dns_malformed) = cache.map(|c| (c.hits(), c.misses(), c.malformed())).unwrap_or((0, 0, 0));
        counter(o, "bns_dns_cache_hits_total", "DNS answers served from the cache.", hits);
        counter(o, "bns_dns_cache_misses_total", "DNS lookups the cache could not answer.", misses);
        counter(
            o,
            "bns_dns_malformed_total",
            "DNS messages dropped or refused as malformed.",
            self.malformed.load(Relaxed) + dns_malformed,
        );

        let height = self.chain_height.load(Relaxed);
        let tip = self.chain_tip.load(Relaxed);
        gauge(o, "bns_chain_height", "Highest block processed into the index.", height);
        gauge(o, "bns_chain_tip", "Chain tip reported by the block source.", tip);
        gauge(o, "bns_chain_lag_blocks", "Blocks the index is behind the chain tip.", tip.saturating_sub(height));
        gauge(o, "bns_names", "Name records in the index.", self.names.load(Relaxed));
        gauge(o, "bns_zonefiles_held", "Zone files held for current names.", self.zonefiles_held.load(Relaxed));
        gauge(
            o,
            "bns_zonefiles_missing",
            "Zone-file hashes of current names whose zone file is not held.",
            self.zonefiles_missing.load(Relaxed),
        );
        gauge(
            o,
            "bns_chain_source_up",
            "1 if the last call to the block source (bitcoind) succeeded.",
            self.source_up.load(Relaxed),
        );
        counter(
            o,
            "bns_chain_source_errors_total",
            "Failed attempts to read the block source.",
            self.source_errors.load(Relaxed),
        );
        gauge(
            o,
            "bns_chain_source_retry_seconds",
            "Back-off before the next attempt after a failure (0 when up).",
            self.source_retry_secs.load(Relaxed),
        );
        counter(o, "bns_chain_reorgs_total", "Reorgs that undid processed blocks.", self.reorgs.load(Relaxed));
        counter(
            o,
            "bns_chain_blocks_undone_total",
            "Processed blocks undone by reorgs.",
            self.blocks_undone.load(Relaxed),
        );
        self.atlas.render(o);
        out
    }
}

fn header(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn counter(o: &mut String, name: &str, help: &str, v: u64) {
    header(o, name, "counter", help);
    let _ = writeln!(o, "{name} {v}");
}

fn gauge(o: &mut String, name: &str, help: &str, v: u64) {
    header(o, name, "gauge", help);
    let _ = writeln!(o, "{name} {v}");
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;
    impl CacheStats for Fixed {
        fn hits(&self) -> u64 {
            7
        }
        fn misses(&self) -> u64 {
            3
        }
    }

    #[test]
    fn renders_counters_histogram_and_gauges() {
        let m = Metrics::new();
        m.record_dns_query(1, 0, Duration::from_micros(50));
        m.record_dns_query(1, 0, Duration::from_millis(3));
        m.record_dns_query(16, 3, Duration::from_secs(5));
        m.record_dns_query(9999, 99, Duration::from_millis(1));
        m.record_malformed();
        m.set_chain(100, 103);
        m.set_store_counts(5, 4, 1);
        let text = m.render();
        assert!(text.contains("bns_dns_queries_total{qtype=\"A\",rcode=\"NOERROR\"} 2\n"), "{text}");
        assert!(text.contains("bns_dns_queries_total{qtype=\"TXT\",rcode=\"NXDOMAIN\"} 1\n"));
        assert!(text.contains("bns_dns_queries_total{qtype=\"OTHER\",rcode=\"OTHER\"} 1\n"));
        assert!(text.contains("bns_dns_query_duration_seconds_bucket{le=\"0.0001\"} 1\n"));
        assert!(text.contains("bns_dns_query_duration_seconds_bucket{le=\"0.005\"} 3\n"));
        assert!(text.contains("bns_dns_query_duration_seconds_bucket{le=\"1\"} 3\n"));
        assert!(text.contains("bns_dns_query_duration_seconds_bucket{le=\"+Inf\"} 4\n"));
        assert!(text.contains("bns_dns_query_duration_seconds_count 4\n"));
        assert!(text.contains("bns_dns_cache_hits_total 0\n"));
        assert!(text.contains("bns_dns_malformed_total 1\n"));
        assert!(text.contains("bns_chain_lag_blocks 3\n"));
        assert!(text.contains("bns_zonefiles_missing 1\n"));
        m.set_cache_stats(Arc::new(Fixed));
        let text = m.render();
        assert!(text.contains("bns_dns_cache_hits_total 7\n"));
        assert!(text.contains("bns_dns_cache_misses_total 3\n"));
        // Every sample line is `name{labels} value` or `name value`.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, v) = line.rsplit_once(' ').unwrap();
            assert!(v.parse::<f64>().is_ok(), "{line}");
        }
    }
}
