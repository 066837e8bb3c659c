//! Differential tests: for every name and type of `zones/`, of the real
//! mainnet zone files (tests/vectors) and of random queries, the fast path's
//! bytes equal what hickory's slow path sends for the same packet (ID aside:
//! both echo it), over plain, EDNS, DO, RD and odd-case queries, and over the
//! failure states (lag, unfetched, invalid, expired, revoked).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use hickory_net::{runtime::TokioTime, xfer::Protocol};
use hickory_server::server::{Request, RequestHandler};
use rand::{rngs::StdRng, Rng, SeedableRng};

use super::super::fast::{answer, Fast};
use super::super::forward::ResolverOptions;
use super::super::handler::{BnsHandler, Responder, ResponseSink};
use super::super::snapshot::{zone, ApexConfig, ImageMeta, NameState, Snapshot, SnapshotCell};
use super::source;
use crate::zonefile::{self, ZoneFile};

/// Keeps the response the slow path sends.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Option<Vec<u8>>>>);

impl ResponseSink for Capture {
    fn send(&self, datagram: Vec<u8>) {
        *self.0.lock().unwrap() = Some(datagram);
    }
}

/// A query packet: id 0x1234, RD as given, one question, optional OPT.
fn packet(qname: &[u8], qtype: u16, rd: bool, edns: Option<(u16, bool)>) -> Vec<u8> {
    let mut p = vec![0x12, 0x34, if rd { 0x01 } else { 0 }, 0, 0, 1, 0, 0, 0, 0, 0, u8::from(edns.is_some())];
    p.extend_from_slice(qname);
    p.extend_from_slice(&qtype.to_be_bytes());
    p.extend_from_slice(&1u16.to_be_bytes());
    if let Some((size, do_bit)) = edns {
        p.push(0);
        p.extend_from_slice(&41u16.to_be_bytes());
        p.extend_from_slice(&size.to_be_bytes());
        p.extend_from_slice(&[0, 0, if do_bit { 0x80 } else { 0 }, 0, 0, 0]);
    }
    p
}

/// Wire form of a dotted name, with the case of each byte flipped where `mix` says.
fn wire(name: &str, mix: u64) -> Vec<u8> {
    let mut w = zone::name_wire(name).expect("name");
    for (i, b) in w.iter_mut().enumerate() {
        if b.is_ascii_alphabetic() && (mix >> (i % 64)) & 1 == 1 {
            *b ^= 0x20;
        }
    }
    w
}

struct Counts {
    fast: usize,
    slow: usize,
}

/// Runs `queries` through both paths of `snap`; every fast answer must equal the slow one.
async fn compare(snap: Snapshot, queries: &[Vec<u8>]) -> Counts {
    let cell = Arc::new(SnapshotCell::new(snap));
    let handler = BnsHandler::new(cell.clone(), &ResolverOptions::default(), Arc::default());
    let options = ResolverOptions::default();
    let mut out = [0u8; 1232];
    let mut counts = Counts { fast: 0, slow: 0 };
    let src: SocketAddr = (Ipv4Addr::LOCALHOST, 5353).into();
    for q in queries {
        let fast = answer(&cell.load(), &options, false, None, q, &mut out, false);
        let Fast::Answered { len, .. } = fast else {
            counts.slow += 1;
            continue;
        };
        counts.fast += 1;
        let request = Request::from_bytes(q.clone(), src, Protocol::Udp).expect("request decodes");
        let capture = Capture::default();
        handler.handle_request::<_, TokioTime>(&request, Responder(capture.clone())).await;
        let slow = capture.0.lock().unwrap().take().expect("slow path answered");
        assert_eq!(
            &out[..len],
            &slow[..],
            "fast and slow differ for {q:02x?}\nfast {:?}\nslow {:?}",
            hickory_proto::op::Message::from_vec(&out[..len]),
            hickory_proto::op::Message::from_vec(&slow)
        );
    }
    counts
}

/// Every (name, zone file) of `zones/` and of the mainnet sample, parsed per name.
fn real_names() -> Vec<(String, ZoneFile)> {
    let mut out = Vec::new();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("zones");
    for e in std::fs::read_dir(&dir).expect("zones/") {
        let path = e.expect("entry").path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".zone")) else {
            continue;
        };
        let bytes = std::fs::read(&path).expect("zone file");
        out.push((name.to_string(), zonefile::parse(&bytes, Some(name)).expect("zones/ parse")));
    }
    let sample = include_str!("../../../tests/vectors/mainnet-zonefiles-sample.txt");
    for (i, pair) in sample.lines().collect::<Vec<_>>().chunks(2).enumerate() {
        let bytes = pair[1].replace("\\n", "\n").into_bytes();
        let first = zonefile::parse(&bytes, Some("x.id")).ok();
        let origin = first.as_ref().and_then(|z| z.origin.clone()).filter(|o| o.matches('.').count() == 1);
        let name = origin.unwrap_or_else(|| format!("noorigin{i}.id"));
        if let Ok(zf) = zonefile::parse(&bytes, Some(&name)) {
            out.push((name, zf));
        }
    }
    out
}

const TYPES: [u16; 13] = [1, 2, 5, 6, 15, 16, 28, 33, 52, 256, 255, 99, 65];

#[tokio::test]
async fn fast_path_bytes_equal_the_slow_path_for_real_zone_files() {
    let names = real_names();
    assert!(names.len() > 800, "{}", names.len());
    let mut namespaces: Vec<String> = names.iter().filter_map(|(n, _)| n.split('.').nth(1).map(String::from)).collect();
    namespaces.sort();
    namespaces.dedup();
    let ns: Vec<&str> = namespaces.iter().map(String::as_str).collect();
    let meta = ImageMeta { height: 100, serial: 100, ..ImageMeta::default() };
    let entries = names.iter().map(|(n, z)| (n.clone(), NameState::Zone(Arc::new(z.clone())), None));
    let apex = ApexConfig { ns_name: None, ns_addrs: vec![Ipv4Addr::LOCALHOST.into()], dnskey: None };
    let snap = Snapshot::build(meta, &ns, entries, &apex);

    let mut queries = Vec::new();
    let mut rng = StdRng::seed_from_u64(7);
    for (name, zf) in &names {
        let mut owners: Vec<String> = zf.records.iter().map(|r| r.owner.clone()).collect();
        owners.push(name.clone());
        owners.push(format!("nothing-here.{name}"));
        owners.sort();
        owners.dedup();
        for owner in owners.iter().filter(|o| o.len() < 200) {
            for t in TYPES {
                let edns = match rng.gen_range(0..4) {
                    0 => None,
                    1 => Some((512, false)),
                    2 => Some((1232, true)),
                    _ => Some((4096, rng.gen())),
                };
                queries.push(packet(&wire(owner, rng.gen()), t, rng.gen(), edns));
            }
        }
    }
    for n in &ns {
        for t in TYPES {
            queries.push(packet(&wire(n, rng.gen()), t, true, Some((1232, false))));
        }
    }
    let c = compare(snap, &queries).await;
    assert!(c.fast * 10 >= queries.len() * 9, "fast path took only {} of {}", c.fast, queries.len());
}

#[tokio::test]
async fn fast_path_bytes_equal_the_slow_path_for_failures_and_random_queries() {
    let fixture = source();
    let mut rng = StdRng::seed_from_u64(11);
    let known: Vec<&str> =
        vec!["werner.id", "alice.id", "missing.id", "unfetched.id", "mismatch.id", "expired.id", "revoked.id"];
    let mut queries = Vec::new();
    for _ in 0..4000 {
        let name = match rng.gen_range(0..4) {
            0 => known[rng.gen_range(0..known.len())].to_string(),
            1 => format!(
                "{}.{}",
                ["www", "_443._tcp", "mail", "big", "huge", "ext", "x.y"][rng.gen_range(0..7)],
                known[rng.gen_range(0..2)]
            ),
            2 => format!("n{}.{}", rng.gen::<u16>(), ["id", "btc"][rng.gen_range(0..2)]),
            _ => ["id", "btc"][rng.gen_range(0..2)].to_string(),
        };
        let t = TYPES[rng.gen_range(0..TYPES.len())];
        let edns = if rng.gen() { Some((rng.gen_range(0..5000), rng.gen())) } else { None };
        queries.push(packet(&wire(&name, rng.gen()), t, rng.gen(), edns));
    }
    let c = compare(fixture.snapshot(), &queries).await;
    assert!(c.fast * 10 >= queries.len() * 8, "fast path took only {} of {}", c.fast, queries.len());
    // The same while the index lags: every BNS answer carries the EDE.
    let lagging = fixture.snapshot().with_lag(Some(12));
    let c = compare(lagging, &queries).await;
    assert!(c.fast > 0);
}
