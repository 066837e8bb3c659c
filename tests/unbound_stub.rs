//! unbound as a real client, the way an OS-level resolver would use bns:
//! `stub-zone` sends `.id` to bns over plain DNS, and `forward-zone` with
//! `forward-tls-upstream` sends `.btc` to bns's DNS-over-TLS port, verifying
//! the self-signed certificate bns generated in its data dir. `dig` then asks
//! unbound, never bns. Fails loudly if unbound is missing (scripts/test
//! installs it).

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{dig, repo_zones, DevNode};

/// An unbound process, killed on drop.
struct Unbound {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Unbound {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts unbound on a free port; on another if the port was taken before unbound bound it.
fn start_unbound(dir: &Path, bns: SocketAddr, dot: SocketAddr, cert: &Path) -> Unbound {
    for _ in 0..5 {
        let mut u = try_start_unbound(dir, bns, dot, cert);
        // unbound exits at once when it cannot bind its port.
        std::thread::sleep(Duration::from_millis(300));
        if u.child.try_wait().unwrap().is_none() {
            return u;
        }
    }
    panic!("unbound could not bind a free port in 5 tries");
}

fn try_start_unbound(dir: &Path, bns: SocketAddr, dot: SocketAddr, cert: &Path) -> Unbound {
    let port = support::unbound::free_port();
    let conf = format!(
        r#"server:
  do-daemonize: no
  interface: 127.0.0.1
  port: {port}
  username: ""
  chroot: ""
  directory: "{dir}"
  pidfile: ""
  use-syslog: no
  logfile: ""
  verbosity: 1
  num-threads: 1
  do-ip6: no
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  do-not-query-localhost: no
  domain-insecure: "id."
  domain-insecure: "btc."
  tls-cert-bundle: "{cert}"
stub-zone:
  name: "id."
  stub-addr: 127.0.0.1@{bns_port}
forward-zone:
  name: "btc."
  forward-addr: 127.0.0.1@{dot_port}#localhost
  forward-tls-upstream: yes
"#,
        dir = dir.display(),
        cert = cert.display(),
        bns_port = bns.port(),
        dot_port = dot.port(),
    );
    let path = dir.join("unbound.conf");
    std::fs::write(&path, conf).unwrap();
    let check = Command::new("unbound-checkconf")
        .arg(&path)
        .output()
        .expect("unbound-checkconf must be installed (scripts/test installs unbound)");
    assert!(check.status.success(), "unbound-checkconf: {}", String::from_utf8_lossy(&check.stdout));
    #[allow(clippy::zombie_processes)] // Unbound's Drop kills and waits.
    let child = Command::new("unbound")
        .arg("-c")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("unbound must be installed (scripts/test installs it)");
    Unbound { child, addr: SocketAddr::from(([127, 0, 0, 1], port)) }
}

/// Asks unbound until the answer is NOERROR (it starts in well under a second).
fn dig_until_answered(addr: SocketAddr, args: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = Command::new("dig")
            .arg(format!("@{}", addr.ip()))
            .args(["-p", &addr.port().to_string(), "+time=2", "+tries=1"])
            .args(args)
            .output()
            .expect("dig must be installed");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if text.contains("status: NOERROR") && !text.contains("ANSWER: 0") {
            return text;
        }
        assert!(Instant::now() < deadline, "unbound never answered {args:?}: {text}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn unbound_resolves_bns_names_over_a_stub_zone_and_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("bns");
    let node = DevNode::start_with(&data, &repo_zones(), &["--dot-addr", "127.0.0.1:0"]);
    let unb_dir = dir.path().join("unbound");
    std::fs::create_dir_all(&unb_dir).unwrap();
    let mut unbound = start_unbound(&unb_dir, node.dns, node.dot.unwrap(), &data.join("dot-cert.pem"));

    let out = dig_until_answered(unbound.addr, &["werner.id", "TXT"]);
    assert!(out.contains("\"v=bns1\" \"owner=werner\""), "through unbound: {out}");
    assert!(!out.contains(" aa "), "the answer comes from unbound's cache, not bns: {out}");
    assert!(out.contains(" ra"), "unbound is the recursive resolver: {out}");
    assert_eq!(dig(unbound.addr, &["werner.id", "A", "+short"]).trim(), "192.0.2.10");
    // unbound asks with DO and without CO, so a missing name comes as bns's
    // compact denial (RFC 9824): NOERROR, no answer, an NSEC whose bitmap
    // says NXNAME (TYPE128); direct queries without DO still get NXDOMAIN.
    let out = dig(unbound.addr, &["nobody.id", "A", "+dnssec"]);
    assert!(out.contains("status: NOERROR") && out.contains("ANSWER: 0") && out.contains("NSEC"), "{out}");
    assert!(out.contains("TYPE128") || out.contains("NXNAME"), "{out}");
    assert!(dig(node.dns, &["nobody.id", "A"]).contains("status: NXDOMAIN"));

    // .btc through unbound's TLS upstream to bns's DoT port.
    let out = dig_until_answered(unbound.addr, &["satoshi.btc", "A"]);
    assert!(out.contains("198.51.100.1"), "over TLS: {out}");

    assert!(unbound.child.try_wait().unwrap().is_none(), "unbound still running");
}
