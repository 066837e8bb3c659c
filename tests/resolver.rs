//! The resolver face of the real binary: forwarding to a real unbound (its own
//! test zones, on 127.0.0.1), namespace policies, the cache, large answers,
//! `bns namespaces`, and a query flood.

mod support;

use std::net::UdpSocket;
use std::process::Command;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use support::unbound::{Unbound, TEST_ZONES};
use support::{copy_zones, dig, query, rss_kib, DevNode, Proto};

fn big_txt_zone() -> String {
    let strings: Vec<String> = ["a", "b", "c", "d"].iter().map(|c| format!("\"{}\"", c.repeat(200))).collect();
    format!("$ORIGIN bigtxt.id.\n$TTL 3600\n@ IN TXT {}\n", strings.join(" "))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwards_to_unbound_with_policies_and_cache() {
    let unbound = Unbound::start(TEST_ZONES);
    let dir = tempfile::tempdir().unwrap();
    let zones = copy_zones(&dir.path().join("zones"));
    std::fs::write(zones.join("bigtxt.id.zone"), big_txt_zone()).unwrap();
    let data = dir.path().join("data");
    let up = unbound.addr.to_string();
    let node = DevNode::start_args(
        &data,
        &zones,
        &["--upstream", &up, "--namespace-policy", "id=bns-first", "--namespace-policy", "btc=icann"],
    );

    // Forwarded A, as unbound has it: RA, no AA.
    let out = dig(node.dns, &["name1.example", "A"]);
    assert!(out.contains("status: NOERROR"), "{out}");
    assert!(out.contains("flags: qr rd ra;"), "{out}");
    assert!(out.contains("10.0.0.1"), "{out}");
    // Forwarded NXDOMAIN with the SOA.
    let out = dig(node.dns, &["nothere.example", "A"]);
    assert!(out.contains("status: NXDOMAIN"), "{out}");
    assert!(out.contains("AUTHORITY: 1"), "{out}");
    assert!(out.contains("SOA\tns.example. hostmaster.example."), "{out}");
    // Cached: the TTL counts down (unbound's local-data always says 3600).
    for proto in [Proto::Udp, Proto::Tcp] {
        let r = query(node.dns, proto, "name1.example.", RecordType::A).await;
        assert_eq!(r.answers.len(), 1);
    }
    std::thread::sleep(Duration::from_millis(2100));
    let r = query(node.dns, Proto::Udp, "name1.example.", RecordType::A).await;
    assert!(r.answers[0].ttl <= 3598, "served from the cache: ttl {}", r.answers[0].ttl);
    // A forwarded TXT set over 512 bytes, with dig's defaults (EDNS 1232).
    let out = dig(node.dns, &["big.example", "TXT"]);
    assert!(out.contains("status: NOERROR") && !out.contains(" tc"), "{out}");
    assert!(out.contains(&"c".repeat(200)), "{out}");

    // bns-first on id: the chain's werner.id (unbound's 10.9.9.9 loses) ...
    let out = dig(node.dns, &["werner.id", "A", "+short"]);
    assert_eq!(out.trim(), "192.0.2.10");
    let out = dig(node.dns, &["werner.id", "A"]);
    assert!(out.contains(" aa"), "{out}");
    // ... and unbound's answer for a name not on the chain.
    let out = dig(node.dns, &["notonchain.id", "A"]);
    assert!(out.contains("10.0.0.2") && !out.contains(" aa"), "{out}");
    // icann on btc: unbound answers, though satoshi.btc is on the chain too.
    let out = dig(node.dns, &["satoshi.btc", "A", "+short"]);
    assert_eq!(out.trim(), "10.0.0.3");

    // A BNS TXT set over 512 bytes through dig's defaults; whole over TCP too.
    for extra in ["+notcp", "+tcp"] {
        let out = dig(node.dns, &["bigtxt.id", "TXT", extra]);
        assert!(out.contains("status: NOERROR") && out.contains(" aa") && !out.contains(" tc"), "{out}");
        assert!(out.contains(&"d".repeat(200)), "{out}");
        let size: usize = out.split("MSG SIZE  rcvd: ").nth(1).unwrap().trim().parse().unwrap();
        assert!(size > 512, "{size}");
    }

    // `bns namespaces` lists the chain's namespaces with their policy.
    let out = Command::new(env!("CARGO_BIN_EXE_bns"))
        .args(["namespaces", "--namespace-policy", "id=bns-first", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let policy = |ns: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|v| v["namespace"] == ns)
            .map(|v| v["policy"].as_str().unwrap().to_string())
    };
    assert_eq!(policy("id").as_deref(), Some("bns-first"));
    assert_eq!(policy("btc").as_deref(), Some("bns"));
    drop(node);
    drop(unbound);
}

#[test]
fn upstream_none_refuses_outside_names() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start_args(dir.path(), &support::repo_zones(), &["--upstream", "none"]);
    let out = dig(node.dns, &["name1.example", "A"]);
    assert!(out.contains("status: REFUSED"), "{out}");
    assert!(dig(node.dns, &["werner.id", "A", "+short"]).contains("192.0.2.10"));
}

/// 20,000 queries (random unregistered names, registered names, junk) from two
/// sockets as fast as they go, at most 30 s; the node must keep answering and
/// its memory stay bounded.
#[test]
fn flood_keeps_answering_with_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let node =
        DevNode::start_args(dir.path(), &support::repo_zones(), &["--upstream", "none", "--cache-size", "4000000"]);
    let rss_before = rss_kib(node.pid());
    let started = Instant::now();
    let deadline = started + Duration::from_secs(30);
    let addr = node.dns;
    let senders: Vec<_> = (0..2u64)
        .map(|t| {
            std::thread::spawn(move || {
                let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
                sock.set_nonblocking(true).unwrap();
                let mut buf = [0u8; 2048];
                let (mut sent, mut received) = (0u64, 0u64);
                let mut x = 0x9E3779B97F4A7C15u64 ^ t;
                for i in 0..10_000u64 {
                    if Instant::now() > deadline {
                        break;
                    }
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let bytes = match i % 10 {
                        0 => x.to_le_bytes().repeat((x % 8) as usize + 1), // junk
                        1 | 2 => msg(i as u16, "werner.id.", RecordType::A),
                        _ => msg(i as u16, &format!("r{x:x}.id."), RecordType::A),
                    };
                    if sock.send_to(&bytes, addr).is_ok() {
                        sent += 1;
                    }
                    while sock.recv(&mut buf).is_ok() {
                        received += 1;
                    }
                }
                let end = Instant::now() + Duration::from_millis(500);
                while Instant::now() < end {
                    match sock.recv(&mut buf) {
                        Ok(_) => received += 1,
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
                (sent, received)
            })
        })
        .collect();
    let (mut sent, mut received) = (0, 0);
    for s in senders {
        let (a, b) = s.join().unwrap();
        sent += a;
        received += b;
    }
    let secs = started.elapsed().as_secs_f64();
    let rss_after = rss_kib(node.pid());
    eprintln!(
        "flood: {sent} sent, {received} answered in {secs:.1}s ({:.0} q/s); RSS {rss_before} KiB -> {rss_after} KiB",
        sent as f64 / secs
    );
    assert!(sent >= 10_000, "{sent}");
    assert!(rss_after < 256 * 1024, "RSS {rss_after} KiB");
    assert_eq!(dig(node.dns, &["werner.id", "A", "+short"]).trim(), "192.0.2.10");
    assert_eq!(dig(node.dns, &["werner.id", "A", "+short", "+tcp"]).trim(), "192.0.2.10");
}

fn msg(id: u16, name: &str, t: RecordType) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), t));
    m.to_vec().unwrap()
}

#[test]
fn ipv6_listener_through_the_binary() {
    if UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("no ::1 here; skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let node =
        DevNode::start_args(dir.path(), &support::repo_zones(), &["--upstream", "none", "--dns-addr", "[::1]:0"]);
    assert!(node.dns.is_ipv6());
    let out = Command::new("dig")
        .args(["@::1", "-p", &node.dns.port().to_string(), "werner.id", "A", "+short", "+time=5", "+tries=1"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "192.0.2.10");
}
