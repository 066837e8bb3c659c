//! Forwarding, policies, cache, Extended DNS Errors, TCP pipelining, IPv6.
//!
//! The "upstream" here is a second in-process server answering from BNS data;
//! tests/resolver.rs does the same against a real unbound.

use std::{
    collections::{HashMap, HashSet},
    net::{Ipv4Addr, SocketAddr},
    sync::{atomic::Ordering, Arc},
    time::Duration,
};

use hickory_proto::{
    op::{DnsResponse, Message, ResponseCode},
    rr::{RData, RecordType},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::oneshot,
    time::timeout,
};

use super::wire::query_msg;
use super::{ask, ask_opts, rec, source, start, zone, MemSource, Running, BOTH};
use crate::dns::{ede::Ede, forward::parse_policies, DnsServer, DnsStats, ResolverOptions, Upstreams};
use crate::zonefile::RecordData;

async fn start_with(addr: &str, src: Arc<MemSource>, opts: ResolverOptions) -> (Running, Arc<DnsStats>) {
    let server = DnsServer::bind(addr.parse().expect("addr"), src.cell()).await.expect("bind").with_resolver(opts);
    let stats = server.stats();
    let addr = server.local_addr();
    let (stop, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));
    (Running { addr, stop, task }, stats)
}

fn forwarding_to(upstream: SocketAddr, policies: &[&str]) -> ResolverOptions {
    ResolverOptions {
        upstreams: Upstreams::Servers(vec![upstream]),
        policies: parse_policies(policies).expect("policies"),
        ..Default::default()
    }
}

/// A downstream source with namespace `id` holding only `local.id`.
fn local_source() -> Arc<MemSource> {
    let mut names = HashMap::new();
    names.insert("local.id".to_string(), zone(vec![rec("local.id", 60, RecordData::A(Ipv4Addr::new(203, 0, 113, 1)))]));
    names.insert(
        "werner.id".to_string(),
        zone(vec![rec("werner.id", 60, RecordData::A(Ipv4Addr::new(203, 0, 113, 2)))]),
    );
    Arc::new(MemSource { namespaces: HashSet::from(["id".to_string()]), names, lag: None })
}

fn ede(r: &DnsResponse) -> Option<Ede> {
    r.edns.as_ref().and_then(|e| e.option(Ede::edns_code())).and_then(Ede::from_option)
}

fn a_of(r: &DnsResponse) -> Vec<String> {
    r.answers.iter().map(|a| a.data.to_string()).collect()
}

#[tokio::test]
async fn forwards_relays_and_caches() {
    let upstream = start().await;
    let empty = Arc::new(MemSource { namespaces: HashSet::new(), names: HashMap::new(), lag: None });
    let (srv, stats) = start_with("127.0.0.1:0", empty, forwarding_to(upstream.addr, &[])).await;
    for p in BOTH {
        let r = ask(srv.addr, p, "werner.id.", RecordType::A).await;
        assert_eq!(r.metadata.response_code, ResponseCode::NoError);
        assert!(!r.metadata.authoritative, "AA only on BNS answers");
        assert!(r.metadata.recursion_available);
        assert_eq!(a_of(&r), vec!["192.0.2.1"]);

        // Negative: NXDOMAIN with the upstream's SOA.
        let r = ask(srv.addr, p, "nobody.id.", RecordType::A).await;
        assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
        assert!(r.metadata.recursion_available);
        assert_eq!(r.authorities.len(), 1);
        assert_eq!(r.authorities[0].record_type(), RecordType::SOA);
        // NODATA.
        let r = ask(srv.addr, p, "werner.id.", RecordType::SRV).await;
        assert_eq!(r.metadata.response_code, ResponseCode::NoError);
        assert!(r.answers.is_empty());
        assert_eq!(r.authorities[0].record_type(), RecordType::SOA);
        // The upstream's SERVFAIL (with its EDE) and REFUSED are relayed.
        let r = ask(srv.addr, p, "unfetched.id.", RecordType::A).await;
        assert_eq!(r.metadata.response_code, ResponseCode::ServFail);
        let r = ask(srv.addr, p, "example.com.", RecordType::A).await;
        assert_eq!(r.metadata.response_code, ResponseCode::Refused);
        // Big answers: TC over UDP without EDNS, whole over TCP.
        let r = ask_opts(srv.addr, p, "huge.werner.id.", RecordType::TXT, false).await;
        if p == super::Proto::Tcp {
            assert_eq!(r.answers.len(), 1);
        } else {
            assert!(r.metadata.truncation);
        }
    }
    // werner A, nobody A, werner SRV, huge TXT: asked twice each (UDP, TCP); the
    // second time from the cache. SERVFAIL and REFUSED are never cached.
    let (hits, misses) = stats.cache_stats();
    assert!(hits >= 4, "hits {hits} misses {misses}");
    assert_eq!(stats.forwarded.load(Ordering::Relaxed), misses);
    srv.stop().await;
    upstream.stop().await;
}

#[tokio::test]
async fn cache_hit_rate_and_ttl_decrease() {
    let upstream = start().await;
    let empty = Arc::new(MemSource { namespaces: HashSet::new(), names: HashMap::new(), lag: None });
    let (srv, stats) = start_with("127.0.0.1:0", empty, forwarding_to(upstream.addr, &[])).await;
    let r = ask(srv.addr, super::Proto::Udp, "werner.id.", RecordType::A).await;
    assert_eq!(r.answers[0].ttl, 300);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = ask(srv.addr, super::Proto::Udp, "werner.id.", RecordType::A).await;
    assert!(r.answers[0].ttl <= 298, "TTL decreases in the cache: {}", r.answers[0].ttl);
    // 1,000 questions over 10 names (half forwarded answers, half NXDOMAIN). Name and type
    // both follow i, so these are 10 distinct questions asked 100 times each: each misses at
    // most once. That shows the cache works; it is no real-world hit rate.
    let names: Vec<String> =
        (0..10).map(|i| if i % 2 == 0 { "werner.id.".into() } else { format!("n{i}.id.") }).collect();
    let types = [RecordType::A, RecordType::AAAA, RecordType::TXT, RecordType::MX, RecordType::A];
    let before = stats.cache_stats();
    for i in 0..1000 {
        let name = &names[i % names.len()];
        let r = ask(srv.addr, super::Proto::Udp, name, types[i % types.len()]).await;
        assert!(matches!(r.metadata.response_code, ResponseCode::NoError | ResponseCode::NXDomain));
    }
    let (hits, misses) = stats.cache_stats();
    let (hits, misses) = (hits - before.0, misses - before.1);
    assert_eq!(hits + misses, 1000);
    assert!(misses <= 10, "10 distinct questions, each a miss once at most: {hits} hits, {misses} misses");
    srv.stop().await;
    upstream.stop().await;
}

#[tokio::test]
async fn namespace_policies() {
    let upstream = start().await;
    // bns-first: the chain's answer for registered names, upstream for the rest.
    let (srv, _) = start_with("127.0.0.1:0", local_source(), forwarding_to(upstream.addr, &["id=bns-first"])).await;
    for p in BOTH {
        let r = ask(srv.addr, p, "werner.id.", RecordType::A).await;
        assert_eq!(a_of(&r), vec!["203.0.113.2"], "chain wins for a registered name");
        assert!(r.metadata.authoritative);
        let r = ask(srv.addr, p, "alice.id.", RecordType::TXT).await;
        assert_eq!(r.metadata.response_code, ResponseCode::NoError);
        assert!(!r.metadata.authoritative);
        assert_eq!(r.answers.len(), 1, "unregistered on this chain: forwarded");
        let r = ask(srv.addr, p, "nobody.id.", RecordType::A).await;
        assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
        assert!(!r.metadata.authoritative, "the upstream's NXDOMAIN");
    }
    srv.stop().await;

    // icann: everything under id goes upstream.
    let (srv, _) = start_with("127.0.0.1:0", local_source(), forwarding_to(upstream.addr, &["id=icann"])).await;
    let r = ask(srv.addr, super::Proto::Udp, "werner.id.", RecordType::A).await;
    assert_eq!(a_of(&r), vec!["192.0.2.1"]);
    let r = ask(srv.addr, super::Proto::Udp, "local.id.", RecordType::A).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
    srv.stop().await;

    // bns (default): chain only; no upstream at all: REFUSED outside.
    let (srv, _) = start_with("127.0.0.1:0", local_source(), ResolverOptions::default()).await;
    let r = ask(srv.addr, super::Proto::Udp, "alice.id.", RecordType::TXT).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
    assert!(r.metadata.authoritative);
    let r = ask(srv.addr, super::Proto::Udp, "name1.example.", RecordType::A).await;
    assert_eq!(r.metadata.response_code, ResponseCode::Refused);
    srv.stop().await;
    upstream.stop().await;
}

#[tokio::test]
async fn extended_dns_errors() {
    let srv = start().await;
    let cases: [(&str, ResponseCode, u16, &str); 4] = [
        ("unfetched.id.", ResponseCode::ServFail, 14, "zone file 5b1c0ffee of unfetched.id not yet fetched"),
        ("mismatch.id.", ResponseCode::ServFail, 24, "zone file 77aa of mismatch.id is unusable: hash mismatch"),
        ("expired.id.", ResponseCode::NXDomain, 0, "name expired.id has expired"),
        ("revoked.id.", ResponseCode::NXDomain, 0, "name revoked.id was revoked by its owner"),
    ];
    for p in BOTH {
        for (name, rcode, code, text) in cases {
            let r = ask(srv.addr, p, name, RecordType::A).await;
            assert_eq!(r.metadata.response_code, rcode, "{name}");
            assert_eq!(ede(&r), Some(Ede::new(code, text)), "{name}");
            // Without EDNS there is no OPT to carry it.
            let r = ask_opts(srv.addr, p, name, RecordType::A, false).await;
            assert!(r.edns.is_none());
        }
    }
    // dig prints them as EDE lines.
    if std::path::Path::new("/usr/bin/dig").exists() {
        for (name, _, code, text) in cases {
            let out = tokio::process::Command::new("dig")
                .args(["@127.0.0.1", "-p", &srv.addr.port().to_string(), name, "A", "+time=3", "+tries=1"])
                .output()
                .await
                .expect("dig");
            let out = String::from_utf8_lossy(&out.stdout);
            assert!(out.contains(&format!("EDE: {code}")), "{out}");
            assert!(out.contains(text), "{out}");
        }
    }
    srv.stop().await;

    // Index behind the chain tip: NXDOMAIN can't be trusted (SERVFAIL), answers carry Not Ready.
    let mut names = HashMap::new();
    names.insert("werner.id".to_string(), zone(vec![rec("werner.id", 60, RecordData::A(Ipv4Addr::LOCALHOST))]));
    let lagging = Arc::new(MemSource { namespaces: HashSet::from(["id".to_string()]), names, lag: Some(12) });
    let (srv, _) = start_with("127.0.0.1:0", lagging, ResolverOptions::default()).await;
    let r = ask(srv.addr, super::Proto::Udp, "nobody.id.", RecordType::A).await;
    assert_eq!(r.metadata.response_code, ResponseCode::ServFail);
    let e = ede(&r).expect("ede");
    assert_eq!(e.code, 14);
    assert!(e.text.contains("12 blocks behind"), "{e:?}");
    let r = ask(srv.addr, super::Proto::Udp, "werner.id.", RecordType::A).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert_eq!(ede(&r).map(|e| e.code), Some(14));
    srv.stop().await;
}

#[tokio::test]
async fn tcp_pipelining() {
    let srv = start().await;
    let mut stream = TcpStream::connect(srv.addr).await.expect("connect");
    let names = ["werner.id.", "alice.id.", "nobody.id.", "missing.id.", "www.werner.id.", "id."];
    let mut out = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let bytes = query_msg(100 + i as u16, &[n]).to_vec().expect("enc");
        out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
        out.extend_from_slice(&bytes);
    }
    // All queries in one write, before reading anything.
    stream.write_all(&out).await.expect("write");
    let mut ids = HashSet::new();
    for _ in 0..names.len() {
        let mut len = [0u8; 2];
        timeout(Duration::from_secs(5), stream.read_exact(&mut len)).await.expect("in time").expect("len");
        let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
        stream.read_exact(&mut buf).await.expect("body");
        let m = Message::from_vec(&buf).expect("parse");
        let i = (m.metadata.id - 100) as usize;
        assert_eq!(m.queries[0].name().to_ascii(), names[i]);
        ids.insert(m.metadata.id);
    }
    assert_eq!(ids.len(), names.len(), "one answer per query, in any order");
    srv.stop().await;
}

#[tokio::test]
async fn ipv6_listener() {
    std::net::UdpSocket::bind("[::1]:0").expect(
        "this test needs the IPv6 loopback address ::1 (enable IPv6 on lo: sysctl net.ipv6.conf.lo.disable_ipv6=0)",
    );
    let (srv, _) = start_with("[::1]:0", source(), ResolverOptions::default()).await;
    assert!(srv.addr.is_ipv6());
    for p in BOTH {
        let r = ask(srv.addr, p, "werner.id.", RecordType::A).await;
        assert_eq!(r.answers[0].data, RData::A(Ipv4Addr::new(192, 0, 2, 1).into()));
    }
    srv.stop().await;
}

#[tokio::test]
async fn malformed_requests_are_counted() {
    let (srv, stats) = start_with("127.0.0.1:0", source(), ResolverOptions::default()).await;
    let two = query_msg(7, &["werner.id.", "alice.id."]);
    let none = query_msg(8, &[]);
    for m in [two, none] {
        let r = super::wire::raw_udp(srv.addr, &m.to_vec().expect("enc")).await.expect("reply");
        assert_eq!(r.metadata.response_code, ResponseCode::FormErr);
    }
    assert_eq!(stats.malformed(), 2);
    srv.stop().await;
}
