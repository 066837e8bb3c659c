//! Real secondaries for zone-transfer tests: Knot DNS and NSD (Debian
//! packages `knot` and `nsd`, installed by scripts/test) on loopback, each
//! configured to transfer one zone from a bns node and to take its NOTIFYs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Knot,
    Nsd,
}

/// A running secondary, killed on drop.
pub struct Secondary {
    pub kind: Kind,
    pub addr: SocketAddr,
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

fn sbin(name: &str) -> String {
    let p = Path::new("/usr/sbin").join(name);
    if p.exists() {
        p.display().to_string()
    } else {
        name.to_string()
    }
}

impl Secondary {
    /// Starts `kind` as a secondary of `zone` from `primary`, accepting
    /// NOTIFY from loopback, and waits until it listens. Panics if the
    /// server is not installed.
    /// `port`: a free loopback port (UDP and TCP), e.g. from `unbound::free_port`;
    /// `key`: a TSIG key `NAME:ALG:SECRET` that signs transfers and NOTIFYs.
    pub fn start(kind: Kind, zone: &str, primary: SocketAddr, port: u16, key: Option<&str>) -> Secondary {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let (mp, mh) = (primary.port(), primary.ip());
        let conf = dir.path().join("server.conf");
        let key: Option<Vec<&str>> = key.map(|k| k.splitn(3, ':').collect());
        let (knot_key, knot_use, nsd_key, nsd_use) = match &key {
            Some(k) => (
                format!("key:\n  - id: {}\n    algorithm: {}\n    secret: {}\n", k[0], k[1], k[2]),
                format!("    key: {}\n", k[0]),
                format!("key:\n    name: \"{}\"\n    algorithm: {}\n    secret: \"{}\"\n", k[0], k[1], k[2]),
                k[0].to_string(),
            ),
            None => (String::new(), String::new(), String::new(), "NOKEY".to_string()),
        };
        let log = dir.path().join("server.log");
        let (exe, args, text) = match kind {
            Kind::Knot => (
                sbin("knotd"),
                vec!["-c".to_string(), conf.display().to_string()],
                format!(
                    "server:\n    rundir: \"{d}\"\n    listen: 127.0.0.1@{port}\n    background-workers: 1\n    \
                     udp-workers: 1\n    tcp-workers: 1\n\
                     log:\n  - target: stderr\n    any: info\n\
                     database:\n    storage: \"{d}\"\n{knot_key}\
                     remote:\n  - id: bns\n    address: {mh}@{mp}\n{knot_use}\
                     acl:\n  - id: from_bns\n    address: {mh}\n{knot_use}    action: notify\n\
                     template:\n  - id: default\n    storage: \"{d}\"\n    zonefile-sync: -1\n    \
                     zonefile-load: none\n    journal-content: changes\n\
                     zone:\n  - domain: {zone}\n    master: bns\n    acl: from_bns\n"
                ),
            ),
            Kind::Nsd => (
                sbin("nsd"),
                vec!["-d".to_string(), "-c".to_string(), conf.display().to_string()],
                format!(
                    "server:\n    ip-address: 127.0.0.1@{port}\n    port: {port}\n    username: \"\"\n    chroot: \"\"\n    \
                     zonesdir: \"{d}\"\n    pidfile: \"{d}/nsd.pid\"\n    database: \"\"\n    \
                     xfrdfile: \"{d}/xfrd.state\"\n    xfrdir: \"{d}\"\n    zonelistfile: \"{d}/zone.list\"\n    \
                     server-count: 1\n    verbosity: 2\n    do-ip6: no\n\
                     remote-control:\n    control-enable: no\n{nsd_key}\
                     zone:\n    name: {zone}\n    zonefile: \"{zone}.zone\"\n    \
                     request-xfr: {mh}@{mp} {nsd_use}\n    allow-notify: {mh} {nsd_use}\n"
                ),
            ),
        };
        std::fs::write(&conf, text).unwrap();
        let err = std::fs::File::create(&log).unwrap();
        #[allow(clippy::zombie_processes)] // Drop kills and waits.
        let child = Command::new(&exe)
            .args(&args)
            .stdout(err.try_clone().unwrap())
            .stderr(err)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{exe} must be installed (scripts/test installs knot and nsd): {e}"));
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut me = Secondary { kind, addr, child, log, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(addr).is_err() {
            if let Some(status) = me.child.try_wait().unwrap() {
                panic!("{kind:?} exited ({status}) at start:\n{}", me.log());
            }
            assert!(Instant::now() < deadline, "{kind:?} did not listen on {addr}:\n{}", me.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        me
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Secondary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
