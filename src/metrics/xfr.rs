//! Zone-transfer counters: transfers served by kind, bytes sent, NOTIFYs.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;

use super::collect::counter_table;

/// What a transfer request got (label `kind`).
pub const TRANSFER_KINDS: &[&str] = &["axfr", "ixfr", "ixfr_whole_zone", "ixfr_current", "refused"];
/// How a NOTIFY ended (label `result`).
pub const NOTIFY_RESULTS: &[&str] = &["answered", "unanswered"];

/// Transfer metrics; every series of the fixed label lists is shown, zero or not.
#[derive(Debug)]
pub struct XfrMetrics {
    /// By index in [`TRANSFER_KINDS`].
    transfers: Vec<Counter>,
    bytes: Counter,
    /// By index in [`NOTIFY_RESULTS`].
    notifies: Vec<Counter>,
}

impl XfrMetrics {
    /// Makes the transfer metrics and registers them in `registry`.
    pub(super) fn new(registry: &mut Registry) -> Self {
        let mut table = |name, help, key, values: &[&'static str]| counter_table(registry, name, help, key, values);
        let transfers = table(
            "bns_dns_transfers",
            "Zone-transfer requests (AXFR, IXFR) answered over TCP, by what they got.",
            "kind",
            TRANSFER_KINDS,
        );
        let notifies = table(
            "bns_dns_notifies",
            "NOTIFY messages to secondaries, by whether they answered.",
            "result",
            NOTIFY_RESULTS,
        );
        let bytes = Counter::default();
        registry.register("bns_dns_transfer_bytes", "Bytes of zone-transfer answers sent", bytes.clone());
        XfrMetrics { transfers, bytes, notifies }
    }

    /// Counts one transfer of `kind` (one of [`TRANSFER_KINDS`]) that sent `bytes`.
    pub fn transfer(&self, kind: &str, bytes: u64) {
        if let Some(i) = TRANSFER_KINDS.iter().position(|k| *k == kind) {
            self.transfers[i].inc();
        }
        self.bytes.inc_by(bytes);
    }

    /// Counts one NOTIFY that ended with `result` (one of [`NOTIFY_RESULTS`]).
    pub fn notify(&self, result: &str) {
        if let Some(i) = NOTIFY_RESULTS.iter().position(|k| *k == result) {
            self.notifies[i].inc();
        }
    }
}
