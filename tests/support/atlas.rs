//! Atlas test fixtures: a dev chain carrying real mainnet names (their zone
//! files from tests/vectors, registered through real transactions by `bns
//! dev`), `bns node --dev-chain` followers, and the test peers of tests/atlas/.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{http_get, DevNode};

/// The real mainnet zone files (hash, bytes) of the vectors file, in order.
pub fn mainnet_zonefiles() -> Vec<(String, Vec<u8>)> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/mainnet-zonefiles-sample.txt"),
    )
    .unwrap();
    let lines: Vec<&str> = text.split('\n').collect();
    lines
        .chunks(2)
        .filter(|c| c.len() == 2 && !c[0].is_empty())
        .map(|c| (c[0].to_string(), c[1].replace("\\n", "\n").into_bytes()))
        .collect()
}

/// `$ORIGIN` of a zone file, lowercased.
fn origin(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let rest = text.strip_prefix("$ORIGIN")?;
    Some(rest.split_whitespace().next()?.trim_end_matches('.').to_ascii_lowercase())
}

/// A dev chain with `n` real `.id` names, and a genesis-style export of their zone files.
pub struct RealChain {
    /// The chain file (`devchain.dat`).
    pub file: PathBuf,
    /// Its tip height.
    pub height: u64,
    /// `name_zonefiles.txt`-style file with exactly these names' zone files.
    pub genesis: PathBuf,
    /// (name, zone-file hash) of every name registered.
    pub names: Vec<(String, String)>,
}

/// Registers the first `n` `.id` names of the mainnet sample on a fresh dev
/// chain in `dir` (through `bns dev`, which is then stopped).
pub fn real_chain(dir: &Path, n: usize) -> RealChain {
    let zones = dir.join("zones");
    std::fs::create_dir_all(&zones).unwrap();
    std::fs::copy(super::repo_zones().join("namespaces.toml"), zones.join("namespaces.toml")).unwrap();
    let mut names = Vec::new();
    let mut genesis = String::new();
    for (hash, bytes) in mainnet_zonefiles() {
        let Some(name) = origin(&bytes).filter(|o| o.ends_with(".id")) else { continue };
        if names.len() == n {
            break;
        }
        std::fs::write(zones.join(format!("{name}.zone")), &bytes).unwrap();
        genesis.push_str(&format!("{hash}\n{}\n", String::from_utf8(bytes).unwrap().replace('\n', "\\n")));
        names.push((name, hash));
    }
    assert_eq!(names.len(), n, "the sample has enough .id names");
    let genesis_path = dir.join("name_zonefiles.txt");
    std::fs::write(&genesis_path, genesis).unwrap();
    let chain_dir = dir.join("chain");
    let dev = DevNode::start(&chain_dir, &zones);
    let height: u64 =
        dev.ready.split("ready at block ").nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap();
    dev.kill9();
    // Only the chain is shared: the dev node's own store (which holds the files) goes.
    std::fs::remove_file(chain_dir.join("bns.sqlite")).unwrap();
    RealChain { file: chain_dir.join("devchain.dat"), height, genesis: genesis_path, names }
}

/// Starts `bns node` following `chain`, with `extra` flags.
pub fn follower(data_dir: &Path, chain: &RealChain, extra: &[&str]) -> DevNode {
    let mut args = vec!["--dev-chain", chain.file.to_str().unwrap()];
    args.extend_from_slice(extra);
    DevNode::node(data_dir, &args)
}

/// `GET /v1/atlas/status` of a node.
pub fn atlas_status(node: &DevNode) -> serde_json::Value {
    http_get(node.api, "/v1/atlas/status").json()
}

/// Waits until `f(status)` holds for the node, or panics after `timeout` with the last status.
pub fn wait_status(node: &DevNode, timeout: Duration, what: &str, f: impl Fn(&serde_json::Value) -> bool) -> Duration {
    let start = Instant::now();
    loop {
        let s = atlas_status(node);
        if f(&s) {
            return start.elapsed();
        }
        assert!(start.elapsed() < timeout, "{what}: not reached after {timeout:?}; status {s}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until the node indexed the whole chain and holds every zone file of it.
pub fn wait_all_held(node: &DevNode, chain: &RealChain, timeout: Duration) -> Duration {
    let n = chain.names.len() as u64;
    wait_status(node, timeout, "every zone file held", |s| s["zonefiles_held"] == n && s["zonefiles_missing"] == 0)
}

/// Waits until the node indexed the chain's tip.
pub fn wait_indexed(node: &DevNode, chain: &RealChain) {
    wait_status(node, Duration::from_secs(60), "chain indexed", |s| s["last_block_processed"] == chain.height);
}

/// Runs a `bns` subcommand; returns stdout, panicking with stderr on failure.
pub fn bns(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_bns")).args(args).env("RUST_LOG", "warn").output().unwrap();
    assert!(out.status.success(), "bns {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Every zone file of the chain, fetched from the node's API, must hash to its name's hash.
pub fn assert_holds_exactly(node: &DevNode, chain: &RealChain) {
    for (name, hash) in &chain.names {
        let r = http_get(node.api, &format!("/v1/zonefiles/{hash}"));
        assert_eq!(r.status, 200, "{name}: zone file {hash} not served");
        let h = bns::hash::ValueHash::of_zonefile(r.body.as_bytes()).to_hex();
        assert_eq!(&h, hash, "{name}: served bytes do not match the hash");
    }
}

/// A test peer of tests/atlas/liar.py (killed on drop).
pub struct Liar {
    child: Child,
    /// Its Atlas address.
    pub addr: SocketAddr,
}

impl Liar {
    /// Starts `liar.py --mode MODE --honest HONEST`.
    pub fn start(mode: &str, honest: SocketAddr) -> Liar {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/atlas/liar.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(["--mode", mode, "--honest", &honest.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 must be installed");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addr = line.trim().strip_prefix("liar listening on ").unwrap_or_else(|| panic!("liar said {line:?}"));
        Liar { child, addr: addr.parse().unwrap() }
    }
}

impl Drop for Liar {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A metric's value from `/metrics` (0 if absent).
pub fn metric(node: &DevNode, line_prefix: &str) -> f64 {
    let text = http_get(node.api, "/metrics").body;
    text.lines()
        .find(|l| l.starts_with(line_prefix) && l[line_prefix.len()..].starts_with(' '))
        .and_then(|l| l.rsplit_once(' ')?.1.parse().ok())
        .unwrap_or(0.0)
}
