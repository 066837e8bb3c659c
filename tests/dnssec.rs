//! Online DNSSEC as validators see it: a `bns dev` node's answers checked by
//! `delv` and by a real validating unbound, both trusting only the anchor
//! `bns dnssec anchor` prints; and a relay that flips one byte of an answer,
//! which both must reject.

mod support;

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::atlas::bns;
use support::unbound::Unbound;
use support::{dig, DevNode};

/// `delv @addr -a anchors +root=ROOT ARGS`, stdout and stderr together.
fn delv(addr: SocketAddr, anchors: &Path, root: &str, args: &[&str]) -> String {
    let out = Command::new("delv")
        .arg(format!("@{}", addr.ip()))
        .args(["-p", &addr.port().to_string(), "-a"])
        .arg(anchors)
        .arg(format!("+root={root}"))
        .args(args)
        .output()
        .expect("delv must be installed (scripts/test installs bind9-dnsutils)");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// A UDP relay to `to` that changes the A record 192.0.2.10 of every answer
/// into 192.0.2.11 (the signature no longer matches); stops on drop.
struct Tamper {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Tamper {
    fn start(to: SocketAddr) -> Tamper {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        let addr = sock.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            let upstream = UdpSocket::bind("127.0.0.1:0").unwrap();
            upstream.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut buf = [0u8; 4096];
            while !flag.load(Ordering::Relaxed) {
                let Ok((n, client)) = sock.recv_from(&mut buf) else { continue };
                upstream.send_to(&buf[..n], to).unwrap();
                let Ok(m) = upstream.recv(&mut buf) else { continue };
                let answer = &mut buf[..m];
                if let Some(i) = answer.windows(4).position(|w| w == [192, 0, 2, 10]) {
                    answer[i + 3] = 11;
                }
                let _ = sock.send_to(answer, client);
            }
        });
        Tamper { addr, stop }
    }
}

impl Drop for Tamper {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A validating unbound trusting `anchor_file`, with `id.` stubbed to `stub`
/// (the support unbound, `validator iterator`; `example.` only marks it ready).
fn validator(anchor_file: &Path, stub: SocketAddr) -> Unbound {
    Unbound::start(&format!(
        "  local-zone: \"example.\" static\n  \
         local-data: \"example. 3600 IN SOA ns.example. hostmaster.example. 1 3600 600 86400 300\"\n  \
         module-config: \"validator iterator\"\n  trust-anchor-file: \"{}\"\n  val-log-level: 2\n\
         stub-zone:\n  name: \"id.\"\n  stub-addr: {}@{}\n",
        anchor_file.display(),
        stub.ip(),
        stub.port()
    ))
}

fn flags_and_status(out: &str) -> (String, String) {
    let status = out.lines().find_map(|l| l.split("status: ").nth(1)).unwrap_or("").split(',').next().unwrap();
    let flags = out.lines().find_map(|l| l.strip_prefix(";; flags: ")).unwrap_or("").split(';').next().unwrap();
    (flags.to_string(), status.to_string())
}

#[test]
fn validators_with_the_printed_anchor_validate_answers_and_reject_a_tampered_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let node = DevNode::start(&data, &support::repo_zones());
    let data_s = data.to_str().unwrap();
    let key = std::fs::metadata(data.join("dnssec.key")).expect("the key is made at the first start");
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&key.permissions()) & 0o777, 0o600);

    // The anchor, in each format.
    let ds = bns(&["dnssec", "anchor", "--data-dir", data_s]);
    let id_ds = ds.lines().find(|l| l.starts_with("id. IN DS ")).unwrap_or_else(|| panic!("{ds}"));
    let fields: Vec<&str> = id_ds.split_whitespace().collect();
    assert_eq!((fields[4], fields[5], fields[6].len()), ("13", "2", 64), "{id_ds}");
    let unbound_fmt = bns(&["dnssec", "anchor", "--data-dir", data_s, "--format", "unbound"]);
    assert!(
        unbound_fmt.contains(&format!("trust-anchor: \"id. DS {} 13 2 {}\"", fields[3], fields[6])),
        "{unbound_fmt}"
    );
    let bind = bns(&["dnssec", "anchor", "--data-dir", data_s, "--format", "bind"]);
    assert!(bind.starts_with("trust-anchors {\n") && bind.contains(&format!("\"id.\" static-ds {} 13 2", fields[3])));
    let anchors = dir.path().join("anchors.conf");
    std::fs::write(&anchors, &bind).unwrap();
    let ta = dir.path().join("ta.ds");
    std::fs::write(&ta, &ds).unwrap();
    // A bns-first namespace is not anchored, and says why.
    let out = Command::new(env!("CARGO_BIN_EXE_bns"))
        .args(["dnssec", "anchor", "--data-dir", data_s, "--namespace-policy", "id=bns-first"])
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!stdout.contains("id. IN DS") && stdout.contains("btc. IN DS"), "{stdout}");
    assert!(stderr.contains(".id is not anchored: its policy is bns-first"), "{stderr}");

    // delv: positive and negative answers, UDP and TCP, fully validated.
    for (q, t, want) in [
        ("werner.id", "A", "; fully validated"),
        ("_443._tcp.werner.id", "TLSA", "; fully validated"),
        ("www.werner.id", "A", "; fully validated"),
        ("id", "DNSKEY", "; fully validated"),
        ("nosuchname.id", "A", "; negative response, fully validated"),
        ("werner.id", "SRV", "; negative response, fully validated"),
        ("a.b.werner.id", "TXT", "; negative response, fully validated"),
    ] {
        for tcp in ["+notcp", "+tcp"] {
            let out = delv(node.dns, &anchors, "id", &[q, t, tcp]);
            assert!(out.contains(want), "delv {q} {t} {tcp}: {out}");
        }
    }
    // Without DO the answers are as before: no signatures.
    assert!(!dig(node.dns, &["werner.id", "A"]).contains("RRSIG"));
    // A client that sends CO (RFC 9824) gets NXDOMAIN for a missing name, still signed.
    let mut q = vec![0x11, 0x11, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1];
    q.extend_from_slice(b"\x0anosuchname\x02id\x00\x00\x01\x00\x01");
    q.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0xc0, 0x00, 0, 0]); // OPT: DO and CO
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    sock.send_to(&q, node.dns).unwrap();
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).unwrap();
    let r = &buf[..n];
    assert_eq!(r[3] & 0x0f, 3, "NXDOMAIN with CO");
    assert_eq!(u16::from_be_bytes([r[8], r[9]]), 4, "SOA, NSEC and their RRSIGs");
    assert_eq!(&r[n - 4..n - 2], &[0xc0, 0x00], "DO and CO in the answer");

    // unbound, validating, trusting the DS file: AD on a TLSA answer and on a missing name.
    let v = validator(&ta, node.dns);
    let tlsa = dig(v.addr, &["_443._tcp.werner.id", "TLSA", "+dnssec"]);
    let (flags, status) = flags_and_status(&tlsa);
    assert!(flags.split_whitespace().any(|f| f == "ad") && status == "NOERROR", "{tlsa}");
    let missing = dig(v.addr, &["nosuchname.id", "A", "+dnssec"]);
    let (flags, _) = flags_and_status(&missing);
    assert!(flags.split_whitespace().any(|f| f == "ad"), "{missing}");

    // One byte changed on the way: delv and unbound refuse it.
    let relay = Tamper::start(node.dns);
    let out = delv(relay.addr, &anchors, "id", &["werner.id", "A", "+notcp"]);
    assert!(out.contains("RRSIG failed to verify") && !out.contains("fully validated"), "{out}");
    let bad = validator(&ta, relay.addr);
    let answer = dig(bad.addr, &["werner.id", "A", "+dnssec"]);
    assert_eq!(flags_and_status(&answer).1, "SERVFAIL", "{answer}");
    drop(node);

    // The key survives a restart: the same anchor.
    let _node = DevNode::start(&data, &support::repo_zones());
    assert_eq!(bns(&["dnssec", "anchor", "--data-dir", data_s]), ds);
}
