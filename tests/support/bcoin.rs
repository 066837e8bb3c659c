//! A real, independent Bitcoin node for tests: bcoin on regtest (npm), as
//! ../shared/PEERS.md describes. scripts/test installs it into tools/bcoin.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bitcoincore_rpc::{Auth, Client, RpcApi};

/// bcoin's regtest P2PKH address version byte (not Bitcoin Core's 0x6f).
pub const BCOIN_REGTEST_P2PKH: u8 = 0x3c;

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
        let bin = bcoin_bin();
        assert!(bin.exists(), "bcoin is not installed at {}: run scripts/test, which installs it", bin.display());
        let dir = tempfile::tempdir().unwrap();
        let (http, wallet) = (free_port(), free_port());
        let key = "bnstest".to_string();
        let child = Command::new("node")
            .arg(&bin)
            .args(["--network=regtest", "--memory=true", "--index-tx=true", "--index-address=true"])
            .args(["--listen=false", "--only=127.0.0.1"])
            .args(["--workers=false", "--log-level=warning", "--http-host=127.0.0.1"])
            .arg(format!("--prefix={}", dir.path().display()))
            .arg(format!("--http-port={http}"))
            .arg(format!("--wallet-http-port={wallet}"))
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
