//! The DNS face against a hostile world, through the real binary: a namespace
//! revealed on the chain cannot take an ICANN TLD away from the user, only
//! allowed clients may recurse, and UDP answers are rate limited.

mod support;

use std::path::Path;
use std::process::Command;

use support::{copy_zones, dig, DevNode};

fn namespaces(data: &Path, extra: &[&str]) -> Vec<serde_json::Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_bns"))
        .arg("namespaces")
        .args(extra)
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap().as_array().unwrap().clone()
}

fn entry<'a>(list: &'a [serde_json::Value], ns: &str) -> &'a serde_json::Value {
    list.iter().find(|v| v["namespace"] == ns).unwrap_or_else(|| panic!("no {ns} in {list:?}"))
}

/// A `com` namespace revealed and made ready on the chain, with google.com
/// registered in it: forwarded (here: REFUSED, no upstream) unless the user
/// opts `com` in; `id` and `btc` are answered by default.
#[test]
fn a_namespace_named_like_an_icann_tld_is_not_answered_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let zones = copy_zones(&dir.path().join("zones"));
    let toml = std::fs::read_to_string(zones.join("namespaces.toml")).unwrap();
    let com = toml.split("[btc]").nth(1).unwrap();
    std::fs::write(zones.join("namespaces.toml"), format!("{toml}\n[com]{com}")).unwrap();
    std::fs::write(zones.join("google.com.zone"), "$ORIGIN google.com.\n$TTL 3600\n@ IN A 192.0.2.66\n").unwrap();
    let data = dir.path().join("data");

    let node = DevNode::start_args(&data, &zones, &["--upstream", "none"]);
    let out = dig(node.dns, &["google.com", "A"]);
    assert!(out.contains("status: REFUSED") && !out.contains("192.0.2.66"), "{out}");
    assert_eq!(dig(node.dns, &["werner.id", "A", "+short"]).trim(), "192.0.2.10");
    assert!(dig(node.dns, &["satoshi.btc", "A"]).contains("status: NOERROR"));
    drop(node);

    let list = namespaces(&data, &[]);
    let com = entry(&list, "com");
    assert_eq!(com["state"], "ready");
    assert_eq!(com["policy"], "icann");
    assert_eq!(com["answered_from_chain"], false);
    assert!(com["why"].as_str().unwrap().contains("ICANN top-level domain"), "{com}");
    let id = entry(&list, "id");
    assert_eq!((id["policy"].as_str(), id["shadows_icann"].as_bool()), (Some("bns"), Some(true)));
    let btc = entry(&list, "btc");
    assert_eq!((btc["answered_from_chain"].as_bool(), btc["shadows_icann"].as_bool()), (Some(true), Some(false)));

    // Opted in, the chain answers .com, and `bns namespaces` says it shadows ICANN.
    let node = DevNode::start_args(&data, &zones, &["--upstream", "none", "--namespace-policy", "com=bns"]);
    assert_eq!(dig(node.dns, &["google.com", "A", "+short"]).trim(), "192.0.2.66");
    drop(node);
    let list = namespaces(&data, &["--namespace-policy", "com=bns"]);
    assert_eq!(entry(&list, "com")["shadows_icann"], true);
}

/// Forwarding only for `--allow-recursion`: another client gets REFUSED with
/// EDE 18 for a name outside BNS, and still gets BNS answers.
#[test]
fn recursion_only_for_allowed_clients() {
    let unbound = support::unbound::Unbound::start(support::unbound::TEST_ZONES);
    let dir = tempfile::tempdir().unwrap();
    let up = unbound.addr.to_string();
    let node = DevNode::start_args(
        dir.path(),
        &support::repo_zones(),
        &["--upstream", &up, "--allow-recursion", "127.0.0.1/32"],
    );
    let out = dig(node.dns, &["-b", "127.0.0.1", "name1.example", "A"]);
    assert!(out.contains("status: NOERROR") && out.contains("10.0.0.1"), "{out}");
    for proto in ["+notcp", "+tcp"] {
        let out = dig(node.dns, &["-b", "127.0.0.2", "name1.example", "A", proto]);
        assert!(out.contains("status: REFUSED") && !out.contains("10.0.0.1"), "{out}");
        assert!(out.contains("EDE: 18 (Prohibited)"), "{out}");
        let out = dig(node.dns, &["-b", "127.0.0.2", "werner.id", "A", "+short", proto]);
        assert_eq!(out.trim(), "192.0.2.10");
    }
}

/// Response-rate limiting: a source over `--rrl-rate` gets a few answers, then
/// every `--rrl-slip`-th response truncated and nothing else; the exempt
/// local address and TCP are not limited.
#[test]
fn udp_responses_are_rate_limited_with_slip() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start_args(
        dir.path(),
        &support::repo_zones(),
        &["--upstream", "none", "--rrl-rate", "10", "--rrl-slip", "2"],
    );
    let count = |src: &str| {
        let sock = std::net::UdpSocket::bind((src, 0)).unwrap();
        sock.set_read_timeout(Some(std::time::Duration::from_millis(500))).unwrap();
        let q = query_bytes("werner.id.");
        for _ in 0..100 {
            sock.send_to(&q, node.dns).unwrap();
        }
        let (mut full, mut tc) = (0, 0);
        let mut buf = [0u8; 1500];
        while let Ok(n) = sock.recv(&mut buf) {
            let m = hickory_proto::op::Message::from_vec(&buf[..n]).unwrap();
            if m.metadata.truncation {
                assert!(m.answers.is_empty());
                tc += 1;
            } else {
                assert_eq!(m.answers.len(), 1);
                full += 1;
            }
        }
        (full, tc)
    };
    let (full, tc) = count("127.0.0.2");
    // 10 a second (20 if the burst straddles a second), then half of the rest truncated.
    assert!((10..=20).contains(&full), "{full} full answers");
    assert!((35..=45).contains(&tc), "{tc} truncated answers");
    // Another address of the same /24 shares the budget ...
    let (full, _) = count("127.0.0.3");
    assert!(full <= 10, "{full}");
    // ... but 127.0.0.1 is exempt by default, and TCP is never limited.
    assert_eq!(count("127.0.0.1"), (100, 0));
    let out = dig(node.dns, &["-b", "127.0.0.2", "werner.id", "A", "+short", "+tcp"]);
    assert_eq!(out.trim(), "192.0.2.10");
}

fn query_bytes(name: &str) -> Vec<u8> {
    use hickory_proto::op::{Message, MessageType, OpCode, Query};
    let mut m = Message::new(7, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(hickory_proto::rr::Name::from_ascii(name).unwrap(), hickory_proto::rr::RecordType::A));
    m.to_vec().unwrap()
}

/// One client address may hold 16 connections: the 17th is closed at once,
/// the first 16 are answered, and another address still gets in.
#[test]
fn tcp_connections_are_capped_per_client() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start_args(dir.path(), &support::repo_zones(), &["--upstream", "none"]);
    let connect = |src: &str| {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        s.bind(&format!("{src}:0").parse::<std::net::SocketAddr>().unwrap().into()).unwrap();
        s.connect(&node.dns.into()).unwrap();
        let s: std::net::TcpStream = s.into();
        s.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
        s
    };
    let ask = |s: &mut std::net::TcpStream| -> Option<usize> {
        let q = query_bytes("werner.id.");
        let mut framed = (q.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&q);
        s.write_all(&framed).ok()?;
        let mut len = [0u8; 2];
        s.read_exact(&mut len).ok()?;
        Some(u16::from_be_bytes(len).into())
    };
    let mut held: Vec<_> = (0..bns::dns::MAX_TCP_PER_CLIENT).map(|_| connect("127.0.0.9")).collect();
    for s in &mut held {
        assert!(ask(s).is_some_and(|n| n > 12));
    }
    let mut over = connect("127.0.0.9");
    assert_eq!(ask(&mut over), None, "the 17th connection was answered");
    assert!(ask(&mut connect("127.0.0.8")).is_some());
    drop(held);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(ask(&mut connect("127.0.0.9")).is_some(), "closed connections still counted");
}

/// A new user's first run: `bns dev` outside the repository (no ./zones)
/// registers the built-in example zones; `localhost.` names are this host
/// (RFC 6761), answered locally even with no upstream.
#[test]
fn bns_dev_runs_anywhere_and_answers_localhost_itself() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start_in(dir.path(), &dir.path().join("data"), &["--upstream", "none"]);
    assert!(node.output.iter().any(|l| l.contains("example zones built into bns")), "{:?}", node.output);
    assert!(!dig(node.dns, &["werner.id", "TXT", "+short"]).trim().is_empty());
    assert_eq!(dig(node.dns, &["werner.id", "A", "+short"]).trim(), "192.0.2.10");
    for (name, ty, want) in
        [("localhost", "A", "127.0.0.1"), ("app.LOCALHOST", "AAAA", "::1"), ("x.y.localhost.", "A", "127.0.0.1")]
    {
        let out = dig(node.dns, &[name, ty]);
        assert!(out.contains("status: NOERROR") && out.contains(" aa") && out.contains(want), "{out}");
    }
    let out = dig(node.dns, &["localhost", "MX", "+tcp"]);
    assert!(out.contains("status: NOERROR") && out.contains("ANSWER: 0") && out.contains("SOA"), "{out}");
}
