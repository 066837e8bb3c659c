//! The collectors that `prometheus-client` encodes beside its own metrics: those whose
//! samples have a fixed order and label set, or are read at render time.

use std::sync::{Arc, RwLock};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::MetricType;

use super::{CacheStats, LATENCY_BUCKETS};

/// One counter family whose label sets are fixed when it is made, encoded in that order.
/// With `skip_zero`, series that never counted are left out (the query table has ~150).
#[derive(Debug)]
pub(super) struct CounterTable {
    pub name: &'static str,
    /// Ends with a period (a collector's help is written as it is).
    pub help: &'static str,
    pub rows: Vec<(Vec<(&'static str, &'static str)>, Counter)>,
    pub skip_zero: bool,
}

impl Collector for CounterTable {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(self.name, self.help, None, MetricType::Counter)?;
        for (labels, counter) in &self.rows {
            if !self.skip_zero || counter.get() > 0 {
                counter.encode(family.encode_family(labels)?)?;
            }
        }
        Ok(())
    }
}

/// Registers a [`CounterTable`] with one counter per label value (each
/// shown, zero or not); returns the counters in `values`' order.
pub(super) fn counter_table(
    registry: &mut prometheus_client::registry::Registry,
    name: &'static str,
    help: &'static str,
    key: &'static str,
    values: &[&'static str],
) -> Vec<Counter> {
    let counters: Vec<Counter> = values.iter().map(|_| Counter::default()).collect();
    let rows = values.iter().zip(&counters).map(|(v, c)| (vec![(key, *v)], c.clone())).collect();
    registry.register_collector(Box::new(CounterTable { name, help, rows, skip_zero: false }));
    counters
}

/// The DNS latency histogram: a counter per bucket (not cumulative; the last is `+Inf`)
/// and the sum in nanoseconds, so a worker can add a batch of observations at once.
#[derive(Debug)]
pub(super) struct Latency {
    pub buckets: Vec<Counter>,
    pub sum_nanos: Counter,
}

impl Latency {
    pub fn new() -> Self {
        Latency {
            buckets: (0..=LATENCY_BUCKETS.len()).map(|_| Counter::default()).collect(),
            sum_nanos: Counter::default(),
        }
    }

    /// The bucket a latency of `secs` falls in.
    pub fn bucket(secs: f64) -> usize {
        LATENCY_BUCKETS.iter().position(|le| secs <= *le).unwrap_or(LATENCY_BUCKETS.len())
    }
}

impl Collector for Latency {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let name = "bns_dns_query_duration_seconds";
        let help = "Time from receiving a DNS query to sending its answer.";
        let upper = LATENCY_BUCKETS.iter().copied().chain([f64::INFINITY]);
        let buckets: Vec<(f64, u64)> = upper.zip(self.buckets.iter().map(Counter::get)).collect();
        let count = buckets.iter().map(|(_, n)| n).sum();
        let sum = self.sum_nanos.get() as f64 / 1e9;
        encoder
            .encode_descriptor(name, help, None, MetricType::Histogram)?
            .encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }
}

/// The DNS face's own counters ([`CacheStats`]), read when rendering, plus the malformed
/// messages counted through [`super::Metrics::record_malformed`].
pub(super) struct DnsFace {
    pub cache: Arc<RwLock<Option<Arc<dyn CacheStats>>>>,
    pub malformed: Counter,
}

impl std::fmt::Debug for DnsFace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsFace").finish_non_exhaustive()
    }
}

impl Collector for DnsFace {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let cache = self.cache.read().ok().and_then(|c| c.clone());
        let (hits, misses, malformed) =
            cache.as_ref().map(|c| (c.hits(), c.misses(), c.malformed())).unwrap_or((0, 0, 0));
        let [refused, dropped, slipped, tcp] = cache.map(|c| c.limited()).unwrap_or([0; 4]);
        for (name, help, v) in [
            ("bns_dns_cache_hits", "DNS answers served from the cache.", hits),
            ("bns_dns_cache_misses", "DNS lookups the cache could not answer.", misses),
            ("bns_dns_malformed", "DNS messages dropped or refused as malformed.", self.malformed.get() + malformed),
            (
                "bns_dns_recursion_refused",
                "Questions outside BNS refused: the client is not in --allow-recursion.",
                refused,
            ),
            ("bns_dns_rrl_dropped", "UDP responses dropped by response-rate limiting.", dropped),
            ("bns_dns_rrl_slipped", "UDP responses sent truncated by response-rate limiting.", slipped),
            ("bns_dns_tcp_refused", "TCP and DoT connections closed at once: too many open.", tcp),
        ] {
            ConstCounter::new(v).encode(encoder.encode_descriptor(name, help, None, MetricType::Counter)?)?;
        }
        Ok(())
    }
}
