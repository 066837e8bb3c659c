//! kill -9 at any moment loses nothing committed: a node killed again and
//! again while replaying a chain ends with exactly the state of an
//! uninterrupted replay.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use bns::chain::devchain::DevChain;
use bns::indexer::Indexer;
use bns::store::Store;
use support::{build_name_chain, DevNode};

#[test]
fn kill9_during_replay_then_restart_equals_an_uninterrupted_replay() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("chain.dat");
    let (height, params) = build_name_chain(&src, 1500);

    // Reference: one uninterrupted replay.
    let chain = DevChain::open(&src, bitcoin::Network::Regtest).unwrap();
    let store = Store::open(&dir.path().join("ref.sqlite")).unwrap();
    let mut reference = Indexer::new(store, params.clone(), bitcoin::Network::Regtest, 1);
    reference.catch_up(&chain).unwrap();
    drop(chain);

    // A node with the same chain and no database, killed repeatedly mid-sync.
    let data = dir.path().join("node");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::copy(&src, data.join("devchain.dat")).unwrap();
    bns::node::save_dev_params(&data, &params).unwrap();
    let zones = dir.path().join("zones");
    std::fs::create_dir_all(&zones).unwrap();
    std::fs::write(zones.join("namespaces.toml"), "").unwrap();
    let mut seen = Vec::new();
    for ms in [150u64, 300, 500, 800, 1200, 1700] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bns"))
            .arg("dev")
            .args(support::FREE_PORTS)
            .args(["--block-interval", "3600"])
            .arg("--data-dir")
            .arg(&data)
            .arg("--zones")
            .arg(&zones)
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(ms));
        child.kill().unwrap();
        child.wait().unwrap();
        let h = Store::open_readonly(&data.join("bns.sqlite"))
            .ok()
            .and_then(|s| s.last_block().ok().flatten())
            .map(|b| b.height)
            .unwrap_or(0);
        seen.push(h);
    }
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "progress is never lost: {seen:?}");
    assert!(seen.iter().any(|h| *h > 0 && *h < height), "some kill must land mid-sync: {seen:?} of {height}");

    // Final start runs to completion.
    let node = DevNode::start(&data, &zones);
    node.kill9();
    let node_store = Store::open_readonly(&data.join("bns.sqlite")).unwrap();
    let last = node_store.last_block().unwrap().unwrap().height;
    assert_eq!(last, height);
    for h in 1..=height {
        assert_eq!(node_store.block_at(h).unwrap(), reference.store().block_at(h).unwrap(), "block {h}");
    }
    assert_eq!(node_store.name_count().unwrap(), 1500);
    assert_eq!(node_store.rejected_ops().unwrap().len(), 0, "nothing applied twice");
}
