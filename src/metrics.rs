//! Node metrics, served at `/metrics` on the API port in the Prometheus text format
//! (version 0.0.4), encoded by `prometheus-client`.
//!
//! A leaf module (it imports nothing of the crate), so every layer that has
//! something to count can hold an `Arc<Metrics>`: the DNS face records each
//! query, the node sets the chain and store gauges after each indexer step,
//! and the DNS cache plugs in through [`CacheStats`].
//!
//! Label sets are fixed and small: query types outside [`QTYPES`] count as
//! `OTHER`, response codes outside [`RCODES`] as `OTHER`, so a client sending
//! every type number cannot grow the output. Every counter of a label set exists from
//! [`Metrics::new`] on and is held by index, so counting takes no lock and no lookup.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

mod atlas;
mod collect;
mod dane;
mod xfr;
pub use atlas::{AtlasMetrics, REJECT_REASONS, STORED_SOURCES};
use collect::{CounterTable, DnsFace, Latency};
pub use dane::{DaneMetrics, DANE_VERDICTS};
pub use xfr::{XfrMetrics, NOTIFY_RESULTS, TRANSFER_KINDS};

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
        self.latency[Latency::bucket(elapsed.as_secs_f64())] += 1;
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
    /// What the DNS face's limits turned away: (questions refused recursion,
    /// UDP responses dropped by RRL, sent truncated by RRL, TCP/DoT
    /// connections refused over the cap).
    fn limited(&self) -> [u64; 4] {
        [0; 4]
    }
}

/// A gauge of a count.
type CountGauge = Gauge<u64, AtomicU64>;

/// The node's metrics registry. Cheap to update from any thread.
pub struct Metrics {
    /// Handles to the counters of `bns_dns_queries_total`, by (qtype, rcode) index.
    queries: [[Counter; NR]; NQ],
    latency: Arc<Latency>,
    malformed: Counter,
    cache: Arc<RwLock<Option<Arc<dyn CacheStats>>>>,
    chain_height: CountGauge,
    chain_tip: CountGauge,
    chain_lag: CountGauge,
    names: CountGauge,
    zonefiles_held: CountGauge,
    zonefiles_missing: CountGauge,
    source_up: CountGauge,
    source_errors: Counter,
    source_retry_secs: CountGauge,
    blocks_undone: Counter,
    reorgs: Counter,
    /// Zone-file replication (Atlas).
    pub atlas: AtlasMetrics,
    /// Zone transfers and NOTIFY.
    pub xfr: XfrMetrics,
    /// The DANE proxy.
    pub dane: DaneMetrics,
    registry: Registry,
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
        let queries: [[Counter; NR]; NQ] = Default::default();
        let latency = Arc::new(Latency::new());
        let malformed = Counter::default();
        let cache = Arc::new(RwLock::new(None));
        let mut registry = Registry::default();
        let rows = (0..NQ)
            .flat_map(|q| (0..NR).map(move |r| (q, r)))
            .map(|(q, r)| (vec![("qtype", label(QTYPES, q)), ("rcode", label(RCODES, r))], queries[q][r].clone()))
            .collect();
        registry.register_collector(Box::new(CounterTable {
            name: "bns_dns_queries",
            help: "DNS queries answered, by query type and response code.",
            rows,
            skip_zero: true,
        }));
        registry.register_collector(Box::new(latency.clone()));
        registry.register_collector(Box::new(DnsFace { cache: cache.clone(), malformed: malformed.clone() }));
        let mut gauge = |name: &str, help: &str| {
            let g = CountGauge::default();
            registry.register(name, help, g.clone());
            g
        };
        let chain_height = gauge("bns_chain_height", "Highest block processed into the index");
        let chain_tip = gauge("bns_chain_tip", "Chain tip reported by the block source");
        let chain_lag = gauge("bns_chain_lag_blocks", "Blocks the index is behind the chain tip");
        let names = gauge("bns_names", "Name records in the index");
        let zonefiles_held = gauge("bns_zonefiles_held", "Zone files held for current names");
        let zonefiles_missing =
            gauge("bns_zonefiles_missing", "Zone-file hashes of current names whose zone file is not held");
        let source_up = gauge("bns_chain_source_up", "1 if the last call to the block source (bitcoind) succeeded");
        let source_retry_secs =
            gauge("bns_chain_source_retry_seconds", "Back-off before the next attempt after a failure (0 when up)");
        let mut counter = |name: &str, help: &str| {
            let c = Counter::default();
            registry.register(name, help, c.clone());
            c
        };
        let source_errors = counter("bns_chain_source_errors", "Failed attempts to read the block source");
        let reorgs = counter("bns_chain_reorgs", "Reorgs that undid processed blocks");
        let blocks_undone = counter("bns_chain_blocks_undone", "Processed blocks undone by reorgs");
        let atlas = AtlasMetrics::new(&mut registry);
        let xfr = XfrMetrics::new(&mut registry);
        let dane = DaneMetrics::new(&mut registry);
        Metrics {
            queries,
            latency,
            malformed,
            cache,
            chain_height,
            chain_tip,
            chain_lag,
            names,
            zonefiles_held,
            zonefiles_missing,
            source_up,
            source_errors,
            source_retry_secs,
            blocks_undone,
            reorgs,
            atlas,
            xfr,
            dane,
            registry,
        }
    }

    /// Records one answered DNS query: its type number, the response code
    /// sent, and the time from receipt to answer.
    pub fn record_dns_query(&self, qtype: u16, rcode: u16, elapsed: Duration) {
        self.queries[index_of(QTYPES, qtype)][index_of(RCODES, rcode)].inc();
        self.latency.buckets[Latency::bucket(elapsed.as_secs_f64())].inc();
        self.latency.sum_nanos.inc_by(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX));
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
                    self.queries[q][r].inc_by(*n);
                    *n = 0;
                }
            }
        }
        for (b, n) in local.latency.iter_mut().enumerate() {
            if *n > 0 {
                self.latency.buckets[b].inc_by(*n);
                *n = 0;
            }
        }
        self.latency.sum_nanos.inc_by(local.nanos);
        local.nanos = 0;
        local.total = 0;
    }

    /// Counts one DNS message that could not be parsed or was not a well-formed query.
    pub fn record_malformed(&self) {
        self.malformed.inc();
    }

    /// Plugs in the DNS cache's counters (replacing any earlier ones).
    pub fn set_cache_stats(&self, stats: Arc<dyn CacheStats>) {
        if let Ok(mut slot) = self.cache.write() {
            *slot = Some(stats);
        }
    }

    /// Sets the processed height and the source's tip.
    pub fn set_chain(&self, height: u64, tip: u64) {
        self.chain_height.set(height);
        self.chain_tip.set(tip);
        self.chain_lag.set(tip.saturating_sub(height));
    }

    /// Sets the store gauges: names, and zone files held / missing among current names' hashes.
    pub fn set_store_counts(&self, names: u64, zonefiles_held: u64, zonefiles_missing: u64) {
        self.names.set(names);
        self.zonefiles_held.set(zonefiles_held);
        self.zonefiles_missing.set(zonefiles_missing);
    }

    /// The block source answered: up, nothing to retry.
    pub fn source_ok(&self) {
        self.source_up.set(1);
        self.source_retry_secs.set(0);
    }

    /// The block source failed; the next attempt is in `retry_in`.
    pub fn source_failed(&self, retry_in: Duration) {
        self.source_up.set(0);
        self.source_errors.inc();
        self.source_retry_secs.set(retry_in.as_secs());
    }

    /// Counts a reorg that undid `blocks` processed blocks.
    pub fn record_reorg(&self, blocks: u64) {
        if blocks > 0 {
            self.reorgs.inc();
            self.blocks_undone.inc_by(blocks);
        }
    }

    /// Total DNS queries recorded of type `qtype` answered with `rcode`.
    pub fn dns_queries(&self, qtype: u16, rcode: u16) -> u64 {
        self.queries[index_of(QTYPES, qtype)][index_of(RCODES, rcode)].get()
    }

    /// Renders every metric in the Prometheus text format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        // Encoding into a String fails only if a collector does, and ours do not.
        if let Err(e) = prometheus_text::encode(&mut out, &self.registry) {
            tracing::warn!("encoding the metrics failed: {e}");
        }
        out
    }
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

    const EXPECTED_TYPES: &[&str] = &[
        "# TYPE bns_atlas_bytes_in_total counter",
        "# TYPE bns_atlas_bytes_out_total counter",
        "# TYPE bns_atlas_inventory_rows gauge",
        "# TYPE bns_atlas_peers gauge",
        "# TYPE bns_atlas_peers_healthy gauge",
        "# TYPE bns_atlas_rejected_total counter",
        "# TYPE bns_atlas_requests_total counter",
        "# TYPE bns_atlas_zonefiles_held gauge",
        "# TYPE bns_atlas_zonefiles_missing gauge",
        "# TYPE bns_atlas_zonefiles_stored_total counter",
        "# TYPE bns_chain_blocks_undone_total counter",
        "# TYPE bns_chain_height gauge",
        "# TYPE bns_chain_lag_blocks gauge",
        "# TYPE bns_chain_reorgs_total counter",
        "# TYPE bns_chain_source_errors_total counter",
        "# TYPE bns_chain_source_retry_seconds gauge",
        "# TYPE bns_chain_source_up gauge",
        "# TYPE bns_chain_tip gauge",
        "# TYPE bns_dane_proxy_requests_total counter",
        "# TYPE bns_dns_cache_hits_total counter",
        "# TYPE bns_dns_cache_misses_total counter",
        "# TYPE bns_dns_malformed_total counter",
        "# TYPE bns_dns_notifies_total counter",
        "# TYPE bns_dns_queries_total counter",
        "# TYPE bns_dns_query_duration_seconds histogram",
        "# TYPE bns_dns_recursion_refused_total counter",
        "# TYPE bns_dns_rrl_dropped_total counter",
        "# TYPE bns_dns_rrl_slipped_total counter",
        "# TYPE bns_dns_tcp_refused_total counter",
        "# TYPE bns_dns_transfer_bytes_total counter",
        "# TYPE bns_dns_transfers_total counter",
        "# TYPE bns_names gauge",
        "# TYPE bns_zonefiles_held gauge",
        "# TYPE bns_zonefiles_missing gauge",
    ];

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
        // The families, their types and help texts, as before the port to prometheus-client.
        let mut types: Vec<&str> = text.lines().filter(|l| l.starts_with("# TYPE ")).collect();
        types.sort();
        assert_eq!(types, EXPECTED_TYPES, "{text}");
        assert!(text.contains("# HELP bns_chain_height Highest block processed into the index.\n"), "{text}");
        assert!(text.contains("# HELP bns_dns_queries_total DNS queries answered, by query type and response code.\n"));
        assert!(!text.contains(".."), "{text}");
        assert!(text.contains("bns_atlas_rejected_total{reason=\"timeout\"} 0\n"), "{text}");
        m.atlas.stored(2, "http");
        m.atlas.stored(1, "nowhere");
        assert!(m.render().contains("bns_atlas_zonefiles_stored_total{source=\"http\"} 2\n"));
        m.xfr.transfer("ixfr", 300);
        m.xfr.transfer("nonsense", 5);
        m.xfr.notify("answered");
        let text = m.render();
        assert!(text.contains("bns_dns_transfers_total{kind=\"ixfr\"} 1\n"), "{text}");
        assert!(text.contains("bns_dns_transfers_total{kind=\"axfr\"} 0\n"));
        assert!(text.contains("bns_dns_transfer_bytes_total 305\n"));
        assert!(text.contains("bns_dns_notifies_total{result=\"answered\"} 1\n"));
        m.dane.request("pinned");
        m.dane.request("nonsense");
        let text = m.render();
        assert!(text.contains("bns_dane_proxy_requests_total{verdict=\"pinned\"} 1\n"), "{text}");
        assert!(text.contains("bns_dane_proxy_requests_total{verdict=\"mismatch\"} 0\n"));
        // Every sample line is `name{labels} value` or `name value`.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, v) = line.rsplit_once(' ').unwrap();
            assert!(v.parse::<f64>().is_ok(), "{line}");
        }
    }
}
