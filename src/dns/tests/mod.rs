//! End-to-end tests: a real [`DnsServer`] on 127.0.0.1, queried with hickory's
//! client over UDP and TCP, with raw sockets, and with `dig`.
//!
//! This file: fixtures and answer semantics; `wire.rs`: sizes, protocol
//! errors, junk, `dig`, binding.

mod consistency;
mod differential;
mod resolver;
mod wire;

use std::{
    collections::{HashMap, HashSet},
    net::{Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use hickory_net::{
    client::{Client, ClientHandle},
    runtime::TokioRuntimeProvider,
    tcp::TcpClientStream,
    udp::UdpClientStream,
};
use hickory_proto::{
    op::{DnsResponse, ResponseCode},
    rr::{DNSClass, Name, RData, RecordType},
};
use tokio::{sync::oneshot, task::JoinHandle, time::timeout};

use super::snapshot::{ApexConfig, ImageMeta, NameState, Snapshot, SnapshotCell};
use super::{DnsError, DnsServer, SOA_MINIMUM, SOA_TTL};
use crate::zonefile::{RecordData, ZoneFile, ZoneRecord};

const TLSA_DATA: [u8; 32] = [0xab; 32];

/// What a test name is, as the snapshot builder would be told.
#[derive(Debug, Clone)]
enum Lookup {
    Expired,
    Revoked,
    Zone(Arc<ZoneFile>),
    ZoneFileMissing,
    ZoneFileNotFetched { hash: String },
    ZoneFileInvalid { hash: String, reason: String },
}

/// In-memory BNS state, published as a snapshot at height 840,000.
struct MemSource {
    namespaces: HashSet<String>,
    names: HashMap<String, Lookup>,
    lag: Option<u64>,
}

/// Height (and SOA serial) of the test snapshots.
const HEIGHT: u64 = 840_000;

impl MemSource {
    fn snapshot(&self) -> Snapshot {
        let names = self.names.iter().map(|(fqn, l)| {
            let (state, expires) = match l {
                Lookup::Expired => (NameState::Revoked, Some(HEIGHT)),
                Lookup::Revoked => (NameState::Revoked, None),
                Lookup::Zone(z) => (NameState::Zone(z.clone()), None),
                Lookup::ZoneFileMissing => (NameState::Invalid("-".into(), "not held".into()), None),
                Lookup::ZoneFileNotFetched { hash } => (NameState::NotFetched(hash.clone()), None),
                Lookup::ZoneFileInvalid { hash, reason } => (NameState::Invalid(hash.clone(), reason.clone()), None),
            };
            (fqn.clone(), state, expires)
        });
        let ns: Vec<&str> = self.namespaces.iter().map(String::as_str).collect();
        let meta = ImageMeta { height: HEIGHT, serial: HEIGHT as u32, ..ImageMeta::default() };
        let apex = ApexConfig { ns_name: None, ns_addrs: vec![Ipv4Addr::LOCALHOST.into()], dnskey: None };
        Snapshot::build(meta, &ns, names, &apex).with_lag(self.lag)
    }

    fn cell(&self) -> Arc<SnapshotCell> {
        Arc::new(SnapshotCell::new(self.snapshot()))
    }
}

fn rec(owner: &str, ttl: u32, data: RecordData) -> ZoneRecord {
    ZoneRecord { owner: owner.into(), ttl, data }
}

fn zone(records: Vec<ZoneRecord>) -> Lookup {
    Lookup::Zone(Arc::new(ZoneFile { origin: None, ttl: None, records, warnings: Vec::new() }))
}

fn source() -> Arc<MemSource> {
    let big: Vec<Vec<u8>> = (0..4).map(|i| vec![b'a' + i; 200]).collect();
    let huge: Vec<Vec<u8>> = (0..12).map(|i| vec![b'a' + i; 255]).collect();
    let werner = zone(vec![
        rec("werner.id", 300, RecordData::A(Ipv4Addr::new(192, 0, 2, 1))),
        rec("werner.id", 300, RecordData::Aaaa("2001:db8::1".parse::<Ipv6Addr>().expect("ipv6"))),
        rec("werner.id", 120, RecordData::Txt(vec![b"hello".to_vec(), b"world".to_vec()])),
        rec("werner.id", 300, RecordData::Mx { preference: 10, exchange: "mail.werner.id".into() }),
        rec("werner.id", 300, RecordData::Uri { priority: 10, weight: 1, target: "https://werner.example/".into() }),
        rec(
            "_443._tcp.werner.id",
            300,
            RecordData::Tlsa { usage: 3, selector: 1, matching: 1, data: TLSA_DATA.to_vec() },
        ),
        rec(
            "_xmpp._tcp.werner.id",
            300,
            RecordData::Srv { priority: 5, weight: 0, port: 5222, target: "xmpp.werner.id".into() },
        ),
        rec("www.werner.id", 300, RecordData::Cname("werner.id".into())),
        rec("ext.werner.id", 300, RecordData::Cname("example.com".into())),
        rec("mail.werner.id", 300, RecordData::A(Ipv4Addr::new(192, 0, 2, 25))),
        rec("big.werner.id", 300, RecordData::Txt(big)),
        rec("huge.werner.id", 300, RecordData::Txt(huge)),
        // Not werner.id's to speak for: must never be served.
        rec("alice.id", 300, RecordData::A(Ipv4Addr::new(6, 6, 6, 6))),
    ]);
    let alice = zone(vec![rec("alice.id", 300, RecordData::Txt(vec![b"alice".to_vec()]))]);
    let mut names = HashMap::new();
    names.insert("werner.id".to_string(), werner);
    names.insert("alice.id".to_string(), alice);
    names.insert("missing.id".to_string(), Lookup::ZoneFileMissing);
    names.insert("unfetched.id".to_string(), Lookup::ZoneFileNotFetched { hash: "5b1c0ffee".into() });
    names.insert(
        "mismatch.id".to_string(),
        Lookup::ZoneFileInvalid { hash: "77aa".into(), reason: "hash mismatch".into() },
    );
    names.insert("expired.id".to_string(), Lookup::Expired);
    names.insert("revoked.id".to_string(), Lookup::Revoked);
    Arc::new(MemSource { namespaces: ["id", "btc"].iter().map(|s| s.to_string()).collect(), names, lag: None })
}

/// A running server; dropping the handle does not stop it, `stop` does.
struct Running {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), DnsError>>,
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(());
        let result =
            timeout(Duration::from_secs(5), self.task).await.expect("server stops in time").expect("server task");
        result.expect("server result");
    }
}

async fn start() -> Running {
    let server = DnsServer::bind("127.0.0.1:0".parse().expect("addr"), source().cell()).await.expect("bind");
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0);
    let (stop, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));
    Running { addr, stop, task }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Proto {
    Udp,
    Tcp,
}

const BOTH: [Proto; 2] = [Proto::Udp, Proto::Tcp];

async fn ask_opts(addr: SocketAddr, proto: Proto, name: &str, rtype: RecordType, edns: bool) -> DnsResponse {
    let name = Name::from_ascii(name).expect("name");
    let provider = TokioRuntimeProvider::default();
    let mut client = match proto {
        Proto::Udp => {
            let conn = UdpClientStream::builder(addr, provider).with_timeout(Some(Duration::from_secs(5))).build();
            let (client, bg) = Client::<TokioRuntimeProvider>::from_sender(conn);
            tokio::spawn(bg);
            client
        }
        Proto::Tcp => {
            let (stream, sender) = TcpClientStream::new(addr, None, Some(Duration::from_secs(5)), provider);
            let stream = stream.await.expect("tcp connect");
            let (client, bg) = Client::<TokioRuntimeProvider>::new(stream, sender);
            tokio::spawn(bg);
            client
        }
    };
    if !edns {
        client.disable_edns();
    }
    client.query(name, DNSClass::IN, rtype).await.unwrap_or_else(|e| panic!("{proto:?} query: {e}"))
}

async fn ask(addr: SocketAddr, proto: Proto, name: &str, rtype: RecordType) -> DnsResponse {
    ask_opts(addr, proto, name, rtype, true).await
}

fn assert_negative(r: &DnsResponse, rcode: ResponseCode) {
    assert_eq!(r.metadata.response_code, rcode, "{r:?}");
    assert!(r.metadata.authoritative);
    assert!(r.answers.is_empty(), "{:?}", r.answers);
    assert_eq!(r.authorities.len(), 1, "{:?}", r.authorities);
    let soa = &r.authorities[0];
    assert_eq!(soa.name, Name::from_ascii("id.").expect("name"));
    assert_eq!(soa.ttl, SOA_MINIMUM.min(SOA_TTL));
    match &soa.data {
        RData::SOA(soa) => {
            assert_eq!(soa.serial, 840_000);
            // The NS is the apex itself: no registration can own it.
            assert_eq!(soa.mname.to_ascii(), "id.");
            assert_eq!(soa.rname.to_ascii(), "hostmaster.bns.invalid.");
        }
        other => panic!("not a SOA: {other:?}"),
    }
}

fn assert_ok(r: &DnsResponse) {
    assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r:?}");
    assert!(r.metadata.authoritative);
    assert!(!r.metadata.truncation);
}

#[tokio::test]
async fn positive_answers() {
    let srv = start().await;
    for p in BOTH {
        let r = ask(srv.addr, p, "werner.id.", RecordType::A).await;
        assert_ok(&r);
        assert_eq!(r.answers.len(), 1);
        assert_eq!(r.answers[0].ttl, 300);
        assert_eq!(r.answers[0].data, RData::A(Ipv4Addr::new(192, 0, 2, 1).into()));

        let r = ask(srv.addr, p, "werner.id.", RecordType::AAAA).await;
        assert_ok(&r);
        let want: Ipv6Addr = "2001:db8::1".parse().expect("ipv6");
        assert_eq!(r.answers[0].data, RData::AAAA(want.into()));

        let r = ask(srv.addr, p, "werner.id.", RecordType::TXT).await;
        assert_ok(&r);
        assert_eq!(r.answers.len(), 1);
        assert_eq!(r.answers[0].ttl, 120);
        match &r.answers[0].data {
            RData::TXT(t) => {
                let strings: Vec<&[u8]> = t.txt_data.iter().map(|s| &s[..]).collect();
                assert_eq!(strings, vec![&b"hello"[..], &b"world"[..]]);
            }
            other => panic!("{other:?}"),
        }

        let r = ask(srv.addr, p, "werner.id.", RecordType::MX).await;
        assert_ok(&r);
        match &r.answers[0].data {
            RData::MX(mx) => {
                assert_eq!(mx.preference, 10);
                assert_eq!(mx.exchange.to_ascii(), "mail.werner.id.");
            }
            other => panic!("{other:?}"),
        }

        let r = ask(srv.addr, p, "werner.id.", RecordType::Unknown(256)).await;
        assert_ok(&r);
        assert_eq!(r.answers.len(), 1);
        assert_eq!(r.answers[0].record_type(), RecordType::Unknown(256));
        match &r.answers[0].data {
            RData::Unknown { rdata, .. } => {
                let mut want = vec![0, 10, 0, 1];
                want.extend_from_slice(b"https://werner.example/");
                assert_eq!(rdata.anything, want);
            }
            other => panic!("{other:?}"),
        }

        let r = ask(srv.addr, p, "_443._tcp.werner.id.", RecordType::TLSA).await;
        assert_ok(&r);
        match &r.answers[0].data {
            RData::TLSA(t) => {
                assert_eq!(u8::from(t.cert_usage), 3);
                assert_eq!(u8::from(t.selector), 1);
                assert_eq!(u8::from(t.matching), 1);
                assert_eq!(t.cert_data, TLSA_DATA.to_vec());
            }
            other => panic!("{other:?}"),
        }

        let r = ask(srv.addr, p, "_xmpp._tcp.werner.id.", RecordType::SRV).await;
        assert_ok(&r);
        match &r.answers[0].data {
            RData::SRV(s) => {
                assert_eq!((s.priority, s.weight, s.port), (5, 0, 5222));
                assert_eq!(s.target.to_ascii(), "xmpp.werner.id.");
            }
            other => panic!("{other:?}"),
        }
    }
    srv.stop().await;
}

#[tokio::test]
async fn cname_handling() {
    let srv = start().await;
    for p in BOTH {
        // Chased inside the zone file.
        let r = ask(srv.addr, p, "www.werner.id.", RecordType::A).await;
        assert_ok(&r);
        assert_eq!(r.answers.len(), 2, "{:?}", r.answers);
        assert_eq!(r.answers[0].record_type(), RecordType::CNAME);
        assert_eq!(r.answers[0].name.to_ascii(), "www.werner.id.");
        assert_eq!(r.answers[1].name.to_ascii(), "werner.id.");
        assert_eq!(r.answers[1].data, RData::A(Ipv4Addr::new(192, 0, 2, 1).into()));

        // Asked for the CNAME itself.
        let r = ask(srv.addr, p, "www.werner.id.", RecordType::CNAME).await;
        assert_ok(&r);
        assert_eq!(r.answers.len(), 1);

        // Target outside the zone file: only the CNAME.
        let r = ask(srv.addr, p, "ext.werner.id.", RecordType::A).await;
        assert_ok(&r);
        assert_eq!(r.answers.len(), 1);
        match &r.answers[0].data {
            RData::CNAME(c) => assert_eq!(c.0.to_ascii(), "example.com."),
            other => panic!("{other:?}"),
        }
    }
    srv.stop().await;
}

#[tokio::test]
async fn negative_answers() {
    let srv = start().await;
    for p in BOTH {
        // Owner exists, no such type.
        let r = ask(srv.addr, p, "werner.id.", RecordType::SRV).await;
        assert_negative(&r, ResponseCode::NoError);
        // Empty non-terminal.
        let r = ask(srv.addr, p, "_tcp.werner.id.", RecordType::A).await;
        assert_negative(&r, ResponseCode::NoError);
        // No such owner in the zone file.
        let r = ask(srv.addr, p, "nope.werner.id.", RecordType::A).await;
        assert_negative(&r, ResponseCode::NXDomain);
        // Name not registered.
        let r = ask(srv.addr, p, "nobody.id.", RecordType::A).await;
        assert_negative(&r, ResponseCode::NXDomain);
        let r = ask(srv.addr, p, "deep.under.nobody.id.", RecordType::TXT).await;
        assert_negative(&r, ResponseCode::NXDomain);
        // werner.id's file has an `alice.id` record: ignored, alice.id's own file rules.
        let r = ask(srv.addr, p, "alice.id.", RecordType::A).await;
        assert_negative(&r, ResponseCode::NoError);
        let r = ask(srv.addr, p, "alice.id.", RecordType::TXT).await;
        assert_ok(&r);
        // Zone file missing.
        let r = ask(srv.addr, p, "missing.id.", RecordType::A).await;
        assert_eq!(r.metadata.response_code, ResponseCode::ServFail);
        // Outside every namespace.
        let r = ask(srv.addr, p, "example.com.", RecordType::A).await;
        assert_eq!(r.metadata.response_code, ResponseCode::Refused);
        assert!(!r.metadata.authoritative);
        let r = ask(srv.addr, p, ".", RecordType::NS).await;
        assert_eq!(r.metadata.response_code, ResponseCode::Refused);
    }
    srv.stop().await;
}

#[tokio::test]
async fn namespace_apex_and_case() {
    let srv = start().await;
    for p in BOTH {
        let r = ask(srv.addr, p, "id.", RecordType::SOA).await;
        assert_ok(&r);
        assert_eq!(r.answers.len(), 1);
        match &r.answers[0].data {
            RData::SOA(soa) => assert_eq!(soa.serial, 840_000),
            other => panic!("{other:?}"),
        }
        let r = ask(srv.addr, p, "id.", RecordType::NS).await;
        assert_ok(&r);
        match &r.answers[0].data {
            RData::NS(ns) => assert_eq!(ns.0.to_ascii(), "id."),
            other => panic!("{other:?}"),
        }
        // With its address, which bns answers itself.
        assert_eq!(r.additionals.iter().filter(|g| g.record_type() == RecordType::A).count(), 1);
        let r = ask(srv.addr, p, "id.", RecordType::A).await;
        assert_eq!(r.answers[0].data, RData::A(Ipv4Addr::LOCALHOST.into()));
        let r = ask(srv.addr, p, "btc.", RecordType::MX).await;
        assert_eq!(r.metadata.response_code, ResponseCode::NoError);
        assert!(r.answers.is_empty());
        assert_eq!(r.authorities[0].record_type(), RecordType::SOA);

        // Upper case: matched case-insensitively, question echoed as asked.
        let r = ask(srv.addr, p, "WeRnEr.ID.", RecordType::A).await;
        assert_ok(&r);
        assert_eq!(r.answers.len(), 1);
        assert!(r.queries[0].name.eq_case(&Name::from_ascii("WeRnEr.ID.").expect("n")));
        assert!(r.answers[0].name.eq_case(&Name::from_ascii("WeRnEr.ID.").expect("n")));
        let r = ask(srv.addr, p, "_443._TCP.Werner.Id.", RecordType::TLSA).await;
        assert_ok(&r);
        assert_eq!(r.answers.len(), 1);

        // ANY gets one RR set (RFC 8482), here the A.
        let r = ask(srv.addr, p, "werner.id.", RecordType::ANY).await;
        assert_ok(&r);
        assert_eq!(r.answers.len(), 1);
        assert_eq!(r.answers[0].record_type(), RecordType::A);
    }
    srv.stop().await;
}
