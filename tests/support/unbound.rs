//! A real unbound on 127.0.0.1, serving a test zone from `local-data`: the
//! upstream resolver bns forwards to in tests (never the internet).

use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running unbound, killed (by its PID) on drop.
pub struct Unbound {
    child: Child,
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

/// The test data: zones `example.`, `id.` and `btc.` (static local zones).
pub const TEST_ZONES: &str = r#"
      local-zone: "example." static
      local-data: "example. 3600 IN SOA ns.example. hostmaster.example. 1 3600 600 86400 300"
      local-data: "name1.example. 3600 IN A 10.0.0.1"
      local-data: "big.example. 3600 IN TXT \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" \"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\" \"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\""
      local-zone: "id." static
      local-data: "id. 3600 IN SOA ns.example. hostmaster.example. 1 3600 600 86400 300"
      local-data: "notonchain.id. 3600 IN A 10.0.0.2"
      local-data: "werner.id. 3600 IN A 10.9.9.9"
      local-zone: "btc." static
      local-data: "btc. 3600 IN SOA ns.example. hostmaster.example. 1 3600 600 86400 300"
      local-data: "satoshi.btc. 3600 IN A 10.0.0.3"
"#;

/// A loopback port free for both UDP and TCP right now (unbound binds both).
pub fn free_port() -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

impl Unbound {
    /// Starts unbound with `local` (server-section lines) on a free port and
    /// waits until it answers. Panics if unbound is not installed
    /// (scripts/test installs it).
    pub fn start(local: &str) -> Unbound {
        // The free port can be taken by another process before unbound binds it: try again on another.
        for _ in 0..5 {
            if let Some(u) = Unbound::try_start(local) {
                return u;
            }
        }
        panic!("unbound could not bind a free port in 5 tries");
    }

    fn try_start(local: &str) -> Option<Unbound> {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let conf = dir.path().join("unbound.conf");
        std::fs::write(
            &conf,
            format!(
                "server:\n  do-daemonize: no\n  interface: 127.0.0.1\n  port: {port}\n  username: \"\"\n  chroot: \"\"\n  directory: \"{}\"\n  pidfile: \"\"\n  use-syslog: no\n  logfile: \"\"\n  num-threads: 1\n  do-ip6: no\n  access-control: 127.0.0.0/8 allow\n  module-config: \"iterator\"\n  do-not-query-localhost: no\n{local}\n",
                dir.path().display()
            ),
        )
        .unwrap();
        #[allow(clippy::zombie_processes)] // Drop kills and waits.
        let exe = if std::path::Path::new("/usr/sbin/unbound").exists() { "/usr/sbin/unbound" } else { "unbound" };
        let child = Command::new(exe)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("unbound must be installed (scripts/test installs it)");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut me = Unbound { child, addr, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if me.child.try_wait().unwrap().is_some() {
                return None; // it could not bind (or failed): the caller tries another port
            }
            let out = Command::new("dig")
                .args([&format!("@{}", addr.ip()), "-p", &port.to_string(), "example.", "SOA", "+short", "+time=1"])
                .args(["+tries=1"])
                .output()
                .unwrap();
            // Only our unbound has this zone: another server on the port would not say so.
            if String::from_utf8_lossy(&out.stdout).contains("ns.example.") {
                return Some(me);
            }
            assert!(Instant::now() < deadline, "unbound did not answer on {addr}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Unbound {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
