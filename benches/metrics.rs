//! The DNS hot path's share of the metrics: a UDP worker records each query in its own
//! `DnsCounts` and merges them into the shared registry once per batch of 32.
//! `cargo bench --bench metrics`.

use std::hint::black_box;
use std::time::Duration;

use bns::metrics::{DnsCounts, Metrics};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn bench(c: &mut Criterion) {
    let m = Metrics::new();
    let mut local = DnsCounts::default();
    let mut g = c.benchmark_group("metrics");
    g.throughput(Throughput::Elements(32));
    g.bench_function("32 records + merge_dns", |b| {
        b.iter(|| {
            for j in 0..32u64 {
                let qtype = if j % 4 == 0 { 28 } else { 1 };
                local.record(black_box(qtype), black_box(0), black_box(Duration::from_nanos(40_000 + j)));
            }
            m.merge_dns(black_box(&mut local));
        })
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("record_dns_query", |b| {
        b.iter(|| m.record_dns_query(black_box(1), black_box(0), black_box(Duration::from_micros(40))))
    });
    g.bench_function("render", |b| b.iter(|| black_box(m.render())));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
