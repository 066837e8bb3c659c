//! The whole path a user takes on a real Bitcoin node (bcoin regtest): `bns
//! node` follows bcoin; the owner's commands reveal a namespace, register a
//! name with a zone file and update it; `dig` through the node answers with
//! the zone file's records; a transfer hands the name to a new owner.

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bitcoin::hashes::Hash;
use bitcoincore_rpc::RpcApi;
use bns::tx::Wallet;
use support::bcoin::Bcoin;
use support::bcoin_chain::NET;
use support::{dig, DevNode};

/// Runs `bns ARGS`; panics with its output unless it succeeds.
fn bns(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_bns")).args(args).env("RUST_LOG", "warn").output().unwrap();
    let (o, e) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "bns {args:?} failed:\n{o}\n{e}");
    o.into_owned()
}

#[test]
fn register_on_bcoin_resolve_with_dig_then_transfer() {
    let b = Bcoin::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let key = dir.path().join("owner.wif");
    let address = bns(&["key", "new", &key.display().to_string(), "--network", "regtest"]);
    let owner = Wallet::from_wif(&std::fs::read_to_string(&key).unwrap()).unwrap();
    assert_eq!(address.trim(), owner.address().to_string());
    b.mine_to(101, &owner.pubkey_hash().to_byte_array());

    let allocation = format!("{}=1000000000000000", owner.address());
    let mut node_args = b.node_args();
    // `test` is a special-use name (RFC 6761): answered from the chain only when opted in.
    node_args.extend(
        ["--token-allocation", &allocation, "--poll-interval", "0.1", "--namespace-policy", "test=bns"]
            .map(String::from),
    );
    let node_args: Vec<&str> = node_args.iter().map(|s| s.as_str()).collect();
    let node = DevNode::node(&data, &node_args);

    // A miner: a block whenever bcoin's mempool holds transactions.
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let client = b.client();
            let burn = Wallet::generate(NET).pubkey_hash().to_byte_array();
            while !stop.load(Ordering::SeqCst) {
                let mempool: Vec<bitcoin::Txid> = client.call("getrawmempool", &[]).unwrap_or_default();
                if !mempool.is_empty() {
                    b.mine_to(1, &burn);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| user_session(&b, &data, &key, &node)));
        stop.store(true, Ordering::SeqCst);
        if let Err(e) = result {
            std::panic::resume_unwind(e);
        }
    });
}

fn user_session(b: &Bcoin, data: &Path, key: &Path, node: &DevNode) {
    let data_s = data.display().to_string();
    let key_s = key.display().to_string();
    let owner_args = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        v.extend(["--data-dir", &data_s, "--key-file", &key_s, "--wait-timeout", "120"].map(String::from));
        v.extend(["--bitcoind-url", &b.url, "--rpc-user", "x", "--rpc-password", &b.key].map(String::from));
        v
    };
    let run = |extra: &[&str]| {
        let args = owner_args(extra);
        bns(&args.iter().map(|s| s.as_str()).collect::<Vec<_>>())
    };

    // A namespace, as its creator would launch it.
    run(&["namespace", "preorder", "test"]);
    run(&[
        "namespace",
        "reveal",
        "test",
        "--lifetime",
        "52595",
        "--coeff",
        "4",
        "--base",
        "4",
        "--buckets",
        "6,5,4,3,2,1,0,0,0,0,0,0,0,0,0,0",
        "--nonalpha-discount",
        "10",
        "--no-vowel-discount",
        "10",
    ]);
    run(&["namespace", "ready", "test"]);

    // Register with a zone file; dig through the node answers from it.
    let zf = data.join("werner.test.zone");
    std::fs::write(&zf, "$ORIGIN werner.test.\n$TTL 3600\n@ IN A 192.0.2.7\n@ IN TXT \"v=bns1\"\nwww IN CNAME @\n")
        .unwrap();
    let out = run(&["name", "register", "werner.test", "--zonefile", &zf.display().to_string()]);
    assert!(out.contains("werner.test"), "{out}");
    // The node sees a zone file another process stored within its 200 ms tick.
    dig_until(node.dns, &["werner.test", "A", "+short"], "192.0.2.7");
    assert_eq!(dig(node.dns, &["werner.test", "TXT", "+short"]).trim(), "\"v=bns1\"");
    assert!(dig(node.dns, &["www.werner.test", "A", "+short"]).contains("192.0.2.7"));

    // Update: a new zone file, a new answer.
    let zf2 = data.join("werner2.zone");
    std::fs::write(&zf2, "$ORIGIN werner.test.\n$TTL 3600\n@ IN A 192.0.2.8\n").unwrap();
    run(&["name", "update", "werner.test", "--zonefile", &zf2.display().to_string()]);
    dig_until(node.dns, &["werner.test", "A", "+short"], "192.0.2.8");
    assert_eq!(dig(node.dns, &["werner.test", "A", "+tcp", "+short"]).trim(), "192.0.2.8");

    // Transfer to a new owner, keeping the zone file: the index and DNS agree.
    let new_owner = Wallet::generate(NET).address().to_string();
    run(&["name", "transfer", "werner.test", "--to", &new_owner, "--keep-data"]);
    let show: serde_json::Value =
        serde_json::from_str(&bns(&["name", "show", "werner.test", "--data-dir", &data_s])).unwrap();
    assert_eq!(show["address"], new_owner, "{show}");
    let owned = bns(&["name", "owned", &new_owner, "--data-dir", &data_s]);
    assert!(owned.contains("werner.test"), "{owned}");
    assert_eq!(dig(node.dns, &["werner.test", "A", "+short"]).trim(), "192.0.2.8");
    // The old key no longer owns it.
    let args = owner_args(&["name", "update", "werner.test", "--zonefile", &zf.display().to_string()]);
    let out = Command::new(env!("CARGO_BIN_EXE_bns")).args(&args).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is owned by"), "{}", String::from_utf8_lossy(&out.stderr));
    let status = bns(&["status", "--data-dir", &data_s]);
    assert!(status.contains("names           1\n") && status.contains("1 held, 0 missing"), "{status}");
}

/// Asks until the answer is `want` (at most 3 s).
fn dig_until(addr: std::net::SocketAddr, args: &[&str], want: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        let got = dig(addr, args);
        if got.trim() == want {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{args:?}: {got:?}, want {want:?}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
