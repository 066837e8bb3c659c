//! `bns dev` end to end: names registered by BNS transactions mined into the
//! dev chain, answered over UDP and TCP, through kill -9 and restart.

mod support;

use std::net::UdpSocket;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};
use support::{copy_zones, dig, query, repo_zones, DevNode, Proto};

fn rdata_strings(resp: &hickory_proto::op::DnsResponse) -> Vec<String> {
    resp.answers.iter().map(|r| r.data.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_registered_names_over_udp_and_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(dir.path(), &repo_zones());
    assert!(node.ready.contains("5 names registered"), "{}", node.ready);
    for proto in [Proto::Udp, Proto::Tcp] {
        let r = query(node.dns, proto, "werner.id.", RecordType::A).await;
        assert_eq!(r.metadata.response_code, ResponseCode::NoError);
        assert!(r.metadata.authoritative, "{proto:?}: AA must be set");
        assert_eq!(rdata_strings(&r), vec!["192.0.2.10"], "{proto:?}");
        assert_eq!(r.answers[0].ttl, 3600);

        let r = query(node.dns, proto, "werner.id.", RecordType::AAAA).await;
        assert_eq!(rdata_strings(&r), vec!["2001:db8::10"]);

        let r = query(node.dns, proto, "werner.id.", RecordType::TXT).await;
        let RData::TXT(txt) = &r.answers[0].data else { panic!("not TXT") };
        let strings: Vec<&[u8]> = txt.txt_data.iter().map(|s| &s[..]).collect();
        assert_eq!(strings, vec![&b"v=bns1"[..], b"owner=werner", b"note=registered on the bns dev chain"]);

        let r = query(node.dns, proto, "werner.id.", RecordType::MX).await;
        assert_eq!(rdata_strings(&r), vec!["10 mail.werner.id."]);

        let r = query(node.dns, proto, "_443._tcp.werner.id.", RecordType::TLSA).await;
        assert_eq!(r.answers.len(), 1, "{proto:?} TLSA");
        let RData::TLSA(tlsa) = &r.answers[0].data else { panic!("not TLSA") };
        assert_eq!(hex::encode(&tlsa.cert_data), "8cd4e3a2c2cb2f30b8bdb2d8a2f5f0a4c1b0e6a9d3f7b2c5e8a1d4f7b0c3e6a9");

        let r = query(node.dns, proto, "_xmpp._tcp.werner.id.", RecordType::SRV).await;
        assert_eq!(rdata_strings(&r), vec!["10 5 5222 chat.werner.id."]);

        // URI (type 256) from a real mainnet zone file.
        let r = query(node.dns, proto, "_http._tcp.muneeb.id.", RecordType::Unknown(256)).await;
        assert_eq!(r.metadata.response_code, ResponseCode::NoError);
        assert_eq!(r.answers.len(), 1, "URI answer for muneeb.id");

        // Second namespace.
        let r = query(node.dns, proto, "satoshi.btc.", RecordType::A).await;
        assert_eq!(rdata_strings(&r), vec!["198.51.100.1"]);
        let r = query(node.dns, proto, "HAL.BTC.", RecordType::AAAA).await;
        assert_eq!(rdata_strings(&r), vec!["2001:db8::2"], "case-insensitive");

        // Unregistered: NXDOMAIN with the namespace SOA.
        let r = query(node.dns, proto, "nobody.id.", RecordType::A).await;
        assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
        assert!(r.authorities.iter().any(|a| a.record_type() == RecordType::SOA), "SOA in authority");

        // NODATA, and an empty non-terminal.
        for (name, t) in [("werner.id.", RecordType::SRV), ("_tcp.werner.id.", RecordType::A)] {
            let r = query(node.dns, proto, name, t).await;
            assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{name}");
            assert!(r.answers.is_empty(), "{name}");
            assert!(r.authorities.iter().any(|a| a.record_type() == RecordType::SOA), "{name}");
        }

        // Namespace apex SOA; names outside BNS are refused.
        let r = query(node.dns, proto, "id.", RecordType::SOA).await;
        assert_eq!(r.answers.len(), 1);
        let r = query(node.dns, proto, "example.com.", RecordType::A).await;
        assert_eq!(r.metadata.response_code, ResponseCode::Refused);
    }
}

#[test]
fn dig_answers_txt_and_tlsa() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(dir.path(), &repo_zones());
    let out = dig(node.dns, &["werner.id", "TXT"]);
    assert!(out.contains("status: NOERROR"), "{out}");
    assert!(out.contains(" aa "), "authoritative flag: {out}");
    assert!(out.contains("\"v=bns1\" \"owner=werner\""), "{out}");
    let out = dig(node.dns, &["_443._tcp.werner.id", "TLSA", "+tcp", "+short"]);
    assert_eq!(
        out.trim().to_ascii_lowercase().replace(' ', ""),
        "311 8cd4e3a2c2cb2f30b8bdb2d8a2f5f0a4c1b0e6a9d3f7b2c5e8a1d4f7b0c3e6a9".replace(' ', "")
    );
    let out = dig(node.dns, &["nobody.id", "A"]);
    assert!(out.contains("status: NXDOMAIN"), "{out}");
}

#[test]
fn junk_packets_do_not_stop_the_server() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(dir.path(), &repo_zones());
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut seed = 0x2545F4914F6CDD1Du64;
    for i in 0..500 {
        let len = (i % 600) + 1;
        let junk: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        sock.send_to(&junk, node.dns).unwrap();
    }
    for junk in [&b"\x00\x05hello"[..], b"\xff\xff", b"GET / HTTP/1.1\r\n\r\n"] {
        let mut tcp = std::net::TcpStream::connect(node.dns).unwrap();
        tcp.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
        let _ = tcp.write_all(junk);
    }
    let out = dig(node.dns, &["werner.id", "A", "+short"]);
    assert_eq!(out.trim(), "192.0.2.10");
    let out = dig(node.dns, &["werner.id", "A", "+short", "+tcp"]);
    assert_eq!(out.trim(), "192.0.2.10");
}

#[test]
fn kill9_restart_resumes_and_an_edited_zone_file_becomes_an_update() {
    let dir = tempfile::tempdir().unwrap();
    let zones = copy_zones(&dir.path().join("zones"));
    let data = dir.path().join("data");
    let node = DevNode::start(&data, &zones);
    assert_eq!(dig(node.dns, &["werner.id", "A", "+short"]).trim(), "192.0.2.10");
    node.kill9();

    // Restart: nothing re-registered, same answers.
    let node = DevNode::start(&data, &zones);
    assert!(node.ready.contains("(0 names registered"), "{}", node.ready);
    assert_eq!(dig(node.dns, &["werner.id", "A", "+short"]).trim(), "192.0.2.10");
    node.kill9();

    // Edit the zone file: the next start sends a NAME_UPDATE and serves it.
    let path = zones.join("werner.id.zone");
    let text = std::fs::read_to_string(&path).unwrap().replace("192.0.2.10", "192.0.2.99");
    std::fs::write(&path, text).unwrap();
    let node = DevNode::start(&data, &zones);
    assert!(node.ready.contains("(1 names registered or updated"), "{}", node.ready);
    assert_eq!(dig(node.dns, &["werner.id", "A", "+short"]).trim(), "192.0.2.99");
    assert_eq!(dig(node.dns, &["hal.btc", "A", "+short"]).trim(), "198.51.100.2");
}

#[test]
fn one_node_per_data_dir_and_ctrl_c_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = DevNode::start(dir.path(), &repo_zones());
    let second = std::process::Command::new(env!("CARGO_BIN_EXE_bns"))
        .arg("dev")
        .args(support::FREE_PORTS)
        .args(["--upstream", "none"])
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--zones")
        .arg(repo_zones())
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&second.stderr).contains("another bns is using"), "{second:?}");

    // SIGINT (Ctrl-C) ends the process, interval miner and all.
    let pid = node.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = node.child.try_wait().unwrap() {
            assert!(status.success(), "{status:?}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "bns dev did not exit after SIGINT");
        std::thread::sleep(Duration::from_millis(50));
    }
}
