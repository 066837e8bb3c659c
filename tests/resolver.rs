//! The resolver face of the real binary: forwarding to a real unbound (its own
//! test zones, on 127.0.0.1), namespace policies, the cache, large answers,
//! `bns namespaces`, and a query flood.

mod support;

use std::net::UdpSocket;
use std::process::Command;
use std::time::Duration;

use hickory_proto::rr::RecordType;
use support::unbound::{Unbound, TEST_ZONES};
use support::{copy_zones, dig, query, DevNode, Proto};

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
fn ipv6_listener_through_the_binary() {
    UdpSocket::bind("[::1]:0").expect(
        "this test needs the IPv6 loopback address ::1 (enable IPv6 on lo: sysctl net.ipv6.conf.lo.disable_ipv6=0)",
    );
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
