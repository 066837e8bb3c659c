//! Shared helpers for integration tests: start the real `bns` binary, query
//! it with hickory's client and with `dig`.
#![allow(dead_code)]

pub mod atlas;
pub mod bcoin;
pub mod bcoin_chain;
pub mod esv;
pub mod harness;
pub mod secondary;
pub mod unbound;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hickory_net::client::{Client, ClientHandle};
use hickory_net::runtime::TokioRuntimeProvider;
use hickory_net::tcp::TcpClientStream;
use hickory_net::udp::UdpClientStream;
use hickory_proto::op::DnsResponse;
use hickory_proto::rr::{DNSClass, Name, RecordType};

/// A rustls server config (ring) presenting `cert` signed by `key`: the TLS
/// origins of the DANE tests.
pub fn tls_server_config(
    cert: rustls::pki_types::CertificateDer<'static>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
) -> std::sync::Arc<rustls::ServerConfig> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    std::sync::Arc::new(config)
}

/// The repository's zones/ directory.
pub fn repo_zones() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("zones")
}

/// Copies the repository's zones/ into `dir` (so a test can edit them).
pub fn copy_zones(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    for e in std::fs::read_dir(repo_zones()).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
    }
    dir.to_path_buf()
}

/// Flags that put every listener of a node on a free port.
pub const FREE_PORTS: [&str; 6] =
    ["--dns-addr", "127.0.0.1:0", "--api-addr", "127.0.0.1:0", "--atlas-addr", "127.0.0.1:0"];

/// A running `bns dev`, killed (SIGKILL) on drop.
pub struct DevNode {
    pub child: Child,
    pub dns: SocketAddr,
    /// REST API / metrics address.
    pub api: SocketAddr,
    /// DNS-over-TLS address, when started with `--dot-addr`.
    pub dot: Option<SocketAddr>,
    /// Atlas (XML-RPC) address.
    pub atlas: SocketAddr,
    /// Every line printed up to "ready".
    pub output: Vec<String>,
    /// The "ready" line it printed.
    pub ready: String,
    lines: mpsc::Receiver<String>,
}

impl DevNode {
    /// Starts `bns dev` on a free port with no upstream resolver (names
    /// outside BNS are refused: tests never reach the internet) and waits
    /// until it says it is ready.
    pub fn start(data_dir: &Path, zones: &Path) -> DevNode {
        DevNode::start_args(data_dir, zones, &["--upstream", "none"])
    }

    /// [`DevNode::start`] with extra flags (e.g. `--dot-addr 127.0.0.1:0`), still with no upstream.
    pub fn start_with(data_dir: &Path, zones: &Path, extra: &[&str]) -> DevNode {
        let mut args = extra.to_vec();
        if !extra.contains(&"--upstream") {
            args.extend(["--upstream", "none"]);
        }
        DevNode::start_args(data_dir, zones, &args)
    }

    /// Like [`DevNode::start`], with extra flags (and no default `--upstream`).
    pub fn start_args(data_dir: &Path, zones: &Path, extra: &[&str]) -> DevNode {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bns"));
        cmd.args(["dev", "--block-interval", "3600"]).arg("--zones").arg(zones);
        DevNode::spawn(cmd, "bns dev", data_dir, extra)
    }

    /// `bns dev` run from `cwd` without `--zones`, as a new user runs it.
    pub fn start_in(cwd: &Path, data_dir: &Path, extra: &[&str]) -> DevNode {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bns"));
        cmd.current_dir(cwd).args(["dev", "--block-interval", "3600"]);
        DevNode::spawn(cmd, "bns dev", data_dir, extra)
    }

    /// Starts `bns node` (following a Bitcoin node; `extra` gives network,
    /// URL and credentials) on free ports with no upstream resolver, and
    /// waits until it serves.
    pub fn node(data_dir: &Path, extra: &[&str]) -> DevNode {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bns"));
        cmd.arg("node");
        let mut args = extra.to_vec();
        if !extra.contains(&"--upstream") {
            args.extend(["--upstream", "none"]);
        }
        DevNode::spawn(cmd, "bns node", data_dir, &args)
    }

    /// Runs `cmd` with `extra`, free DNS and API ports unless given, and
    /// waits for the line "`who`: ready".
    fn spawn(mut cmd: Command, who: &str, data_dir: &Path, extra: &[&str]) -> DevNode {
        #[allow(clippy::zombie_processes)] // DevNode's Drop kills and waits.
        let mut child = cmd
            .args(if extra.contains(&"--dns-addr") { &[][..] } else { &["--dns-addr", "127.0.0.1:0"][..] })
            .args(if extra.contains(&"--api-addr") { &[][..] } else { &["--api-addr", "127.0.0.1:0"][..] })
            .args(if extra.contains(&"--atlas-addr") { &[][..] } else { &["--atlas-addr", "127.0.0.1:0"][..] })
            .args(extra)
            .arg("--data-dir")
            .arg(data_dir)
            .env("RUST_LOG", std::env::var("BNS_TEST_LOG").unwrap_or_else(|_| "warn".into()))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start bns");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(120);
        let (mut dns, mut api, mut dot, mut atlas, mut output) = (None, None, None, None, Vec::new());
        let addr = |line: &str, what: &str| {
            line.strip_prefix(&format!("{who}: {what} listening on "))
                .map(|rest| rest.split_whitespace().next().unwrap().parse::<SocketAddr>().unwrap())
        };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match rx.recv_timeout(left) {
                Ok(line) => line,
                Err(e) => {
                    let _ = child.kill();
                    panic!("{who} did not become ready ({e}); it printed: {output:?}")
                }
            };
            dns = dns.or(addr(&line, "DNS"));
            api = api.or(addr(&line, "API"));
            dot = dot.or(addr(&line, "DoT"));
            atlas = atlas.or(addr(&line, "Atlas"));
            output.push(line.clone());
            if line.contains("registering names failed") {
                let _ = child.kill();
                panic!("{line}");
            }
            if line.starts_with(&format!("{who}: ready")) {
                let dns = dns.expect("address printed before ready");
                let api = api.expect("API address printed before ready");
                let atlas = atlas.expect("Atlas address printed before ready");
                return DevNode { child, dns, api, dot, atlas, output, ready: line, lines: rx };
            }
        }
    }

    /// The process id (for /proc/<pid>/status).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGKILL and waits for the process to go.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for DevNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP response read by [`http_raw`].
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    /// Header lines, lowercase names.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// Sends `request` (raw bytes, any junk) to `addr` and reads the response
/// until the server closes (requests should carry `Connection: close`).
/// `None` if the server closed without an HTTP response.
pub fn http_raw(addr: SocketAddr, request: &[u8]) -> Option<HttpResponse> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect to API");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(request);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect::<Vec<_>>();
    let body = if headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")) {
        dechunk(body)
    } else {
        body.to_string()
    };
    Some(HttpResponse { status, headers, body })
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].strip_prefix("\r\n").unwrap_or(&rest[n..]);
    }
    out
}

/// `GET path` over HTTP/1.1; panics if no response comes.
pub fn http_get(addr: SocketAddr, path: &str) -> HttpResponse {
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    http_raw(addr, req.as_bytes()).unwrap_or_else(|| panic!("no HTTP response for GET {path}"))
}

/// Transport for a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Udp,
    Tcp,
}

/// One query with hickory's client.
pub async fn query(addr: SocketAddr, proto: Proto, name: &str, rtype: RecordType) -> DnsResponse {
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
    let name = Name::from_ascii(name).unwrap();
    client.query(name, DNSClass::IN, rtype).await.unwrap_or_else(|e| panic!("{proto:?} query: {e}"))
}

/// Resident set size of process `pid` in KiB (VmRSS of /proc/<pid>/status).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS line");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Runs `dig @addr -p port ARGS` and returns its stdout; panics if dig is missing.
pub fn dig(addr: SocketAddr, args: &[&str]) -> String {
    let out = Command::new("dig")
        .arg(format!("@{}", addr.ip()))
        .args(["-p", &addr.port().to_string(), "+time=5", "+tries=1"])
        .args(args)
        .output()
        .expect("dig must be installed (scripts/test installs dnsutils)");
    assert!(out.status.success(), "dig {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `kdig` with ARGS against `addr` and returns its stdout; panics if kdig
/// is missing (scripts/test installs knot-dnsutils) or fails.
pub fn kdig(addr: SocketAddr, args: &[&str]) -> String {
    let out = Command::new("kdig")
        .arg(format!("@{}", addr.ip()))
        .args(["-p", &addr.port().to_string(), "+timeout=5", "+retry=0"])
        .args(args)
        .output()
        .expect("kdig must be installed (scripts/test installs knot-dnsutils)");
    assert!(out.status.success(), "kdig {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Builds a dev chain at `path` carrying `n` name registrations in namespace
/// `bench` (real signed preorder + register transactions). Returns its height
/// and the chain's consensus parameters (the funder's token account).
pub fn build_name_chain(path: &Path, n: usize) -> (u64, bns::bns::ChainParams) {
    use bns::bns::ChainParams;
    use bns::chain::devchain::DevChain;
    use bns::indexer::Indexer;
    use bns::store::Store;
    let net = bitcoin::Network::Regtest;
    let chain = DevChain::open(path, net).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(&tmp.path().join("b.sqlite")).unwrap();
    let w = bns::tx::Wallet::generate(net);
    let params = ChainParams::test(1, *b"id").with_allocation(w.address().to_string(), 1_000_000_000_000_000);
    let mut idx = Indexer::new(store, params.clone(), net, 1);
    for _ in 0..101 {
        chain.mine(&w.script_pubkey()).unwrap();
    }
    bns::node::generate::register_names(&chain, &mut idx, &w, "bench", n).unwrap();
    assert_eq!(idx.store().name_count().unwrap(), n as u64, "every built name registers");
    (chain.height(), params)
}
