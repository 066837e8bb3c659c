//! A real, independent Bitcoin node for tests: bcoin on regtest (npm), as
//! ../shared/PEERS.md describes. scripts/test installs it into tools/bcoin.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bitcoincore_rpc::{Auth, Client, RpcApi};

/// bcoin's regtest P2PKH address version byte (not Bitcoin Core's 0x6f).
pub const BCOIN_REGTEST_P2PKH: u8 = 0x3c;

/// A stopped persistent bcoin: its chain directory and port.
pub struct Stopped {
    dir: tempfile::TempDir,
    port: u16,
}

/// A running bcoin, killed on drop.
pub struct Bcoin {
    child: Child,
    /// JSON-RPC URL.
    pub url: String,
    /// RPC password (the API key).
    pub key: String,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Where scripts/test installs bcoin.
pub fn bcoin_bin() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/bcoin/node_modules/bcoin/bin/node")
}

impl Bcoin {
    /// Starts bcoin regtest in memory on free ports and waits for its RPC.
    pub fn start() -> Bcoin {
        let dir = tempfile::tempdir().unwrap();
        Bcoin::start_at(dir, free_port(), true)
    }

    /// Starts bcoin regtest keeping its chain on disk in `dir`, so that
    /// [`Bcoin::restart`] brings the same chain back on the same port.
    pub fn start_persistent() -> Bcoin {
        let dir = tempfile::tempdir().unwrap();
        Bcoin::start_at(dir, free_port(), false)
    }

    /// Stops bcoin (the `stop` RPC, so its chain is flushed to disk) and
    /// returns what [`Bcoin::restart`] needs.
    pub fn stop(mut self) -> Stopped {
        let _: Result<serde_json::Value, _> = self.client().call("stop", &[]);
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let port = self.url.rsplit(':').next().unwrap().parse().unwrap();
        let dir = std::mem::replace(&mut self._dir, tempfile::tempdir().unwrap());
        Stopped { dir, port }
    }

    /// Starts a stopped persistent bcoin again (same chain, same port).
    pub fn restart(stopped: Stopped) -> Bcoin {
        Bcoin::start_at(stopped.dir, stopped.port, false)
    }

    fn start_at(dir: tempfile::TempDir, http: u16, memory: bool) -> Bcoin {
        let bin = bcoin_bin();
        assert!(bin.exists(), "bcoin is not installed at {}: run scripts/test, which installs it", bin.display());
        let key = "bnstest".to_string();
        let child = Command::new("node")
            .arg(&bin)
            .args(["--network=regtest", "--index-tx=true", "--index-address=true", "--listen=false"])
            .args(["--only=127.0.0.1", &format!("--memory={memory}")])
            .args(["--workers=false", "--log-level=warning", "--http-host=127.0.0.1"])
            .arg(format!("--prefix={}", dir.path().display()))
            .arg(format!("--http-port={http}"))
            .arg("--no-wallet=true")
            .arg(format!("--api-key={key}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start bcoin (node must be installed)");
        let b = Bcoin { child, url: format!("http://127.0.0.1:{http}"), key, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while b.client().get_block_count().is_err() {
            assert!(Instant::now() < deadline, "bcoin did not answer RPC within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        b
    }

    /// Flags for `bns node` to follow this bcoin.
    pub fn node_args(&self) -> Vec<String> {
        ["--network", "regtest", "--bitcoind-url", &self.url, "--rpc-user", "x", "--rpc-password", &self.key]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    /// A fresh RPC client.
    pub fn client(&self) -> Client {
        Client::new(&self.url, Auth::UserPass("x".into(), self.key.clone())).unwrap()
    }

    /// Mines `n` blocks paying `pubkey_hash` (P2PKH); returns their hashes.
    pub fn mine_to(&self, n: u64, pubkey_hash: &[u8; 20]) -> Vec<bitcoin::BlockHash> {
        let mut payload = vec![BCOIN_REGTEST_P2PKH];
        payload.extend_from_slice(pubkey_hash);
        let addr = bitcoin::base58::encode_check(&payload);
        self.client().call("generatetoaddress", &[n.into(), addr.into()]).unwrap()
    }
}

impl Drop for Bcoin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
