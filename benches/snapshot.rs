//! Criterion benchmark: what a block that changes 1,000 names costs the DNS
//! snapshot at 1,000,000 names: parse and pack the 1,000 zone files, then
//! publish the view with them on top (overlay copy included). Store reads are
//! not part of it (`bench/dns-vs-peers.sh` logs them as "DNS snapshot updated").
//!
//!     cargo bench --bench snapshot

use std::sync::Arc;
use std::time::Duration;

use bns::dns::snapshot::{encode_entry, ImageMeta};
use bns::dns::{ApexConfig, NameState, Snapshot, SnapshotCell};
use bns::zonefile;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const NAMES: usize = 1_000_000;
const CHANGED: usize = 1_000;

/// Name `n<i>.gen`'s zone file with A `10.x.y.z` from `ip`.
fn zone(i: usize, ip: usize) -> Vec<u8> {
    let (a, b, c) = (ip >> 16 & 255, ip >> 8 & 255, ip & 255);
    format!("$ORIGIN n{i}.gen\n$TTL 3600\n@ IN A 10.{a}.{b}.{c}\n@ IN TXT \"bns-bench n{i}.gen\"\n").into_bytes()
}

fn state(i: usize, bytes: &[u8]) -> NameState {
    NameState::Zone(Arc::new(zonefile::parse(bytes, Some(&format!("n{i}.gen"))).expect("zone")))
}

fn bench(c: &mut Criterion) {
    let meta = ImageMeta { height: 100, serial: 100, ..ImageMeta::default() };
    let names = (0..NAMES).map(|i| (format!("n{i}.gen"), state(i, &zone(i, i)), None));
    let base = Snapshot::build(meta, &["gen"], names, &ApexConfig::default());
    let cell = SnapshotCell::new(base.clone());
    let files: Vec<(usize, Vec<u8>)> =
        (0..CHANGED).map(|k| (k * (NAMES / CHANGED), zone(k * (NAMES / CHANGED), k + 7))).collect();
    let mut g = c.benchmark_group("snapshot");
    g.throughput(Throughput::Elements(CHANGED as u64));
    g.measurement_time(Duration::from_secs(10));
    g.bench_function("block_changing_1000_of_1M_names", |b| {
        b.iter(|| {
            let changes = files
                .iter()
                .map(|(i, bytes)| {
                    let fqn = format!("n{i}.gen");
                    let entry = encode_entry(&fqn, &state(*i, bytes), None);
                    (fqn.into_bytes().into_boxed_slice(), Some(entry.into_boxed_slice()))
                })
                .collect();
            cell.publish(base.with_changes(ImageMeta { height: 101, serial: 101, ..meta }, changes));
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
