//! `bns node` following a real, independent Bitcoin node (bcoin regtest over
//! JSON-RPC), as a user runs it: kill -9 during a long sync, bitcoind going
//! away and coming back, reorgs shallower and deeper than `confirmations`.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use bitcoin::hashes::Hash;
use bitcoincore_rpc::RpcApi;
use bns::chain::BlockSource;
use bns::hash::ValueHash;
use bns::indexer::Indexer;
use bns::store::Store;
use bns::tx::ops;
use bns::tx::Wallet;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use support::bcoin::Bcoin;
use support::bcoin_chain::{assert_same_blocks, rpc, NameChain, MAGIC, NET};
use support::{http_get, DevNode};

fn height(data: &Path) -> u64 {
    Store::open_readonly(&data.join("bns.sqlite"))
        .ok()
        .and_then(|s| s.last_block().ok().flatten())
        .map(|b| b.height)
        .unwrap_or(0)
}

fn wait_for(what: &str, timeout_secs: u64, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(timeout_secs);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out after {timeout_secs}s waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn metric(node: &DevNode, name: &str) -> u64 {
    let body = http_get(node.api, "/metrics").body;
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name} not in /metrics:\n{body}"))
        .trim()
        .parse()
        .unwrap()
}

fn status(data: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_bns")).arg("status").arg("--data-dir").arg(data).output().unwrap();
    assert!(out.status.success(), "bns status failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Flags for `bns node` to follow `b` with `c`'s consensus parameters, plus `extra`.
fn node_args(b: &Bcoin, c: &NameChain, extra: &[&str]) -> Vec<String> {
    let mut args = b.node_args();
    for (addr, amount) in &c.params.token_allocations {
        args.extend(["--token-allocation".to_string(), format!("{addr}={amount}")]);
    }
    // `test` is a special-use name (RFC 6761): DNS answers it from the chain only when opted in.
    args.extend(["--namespace-policy".to_string(), "test=bns".to_string()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(|s| s.as_str()).collect()
}

#[test]
fn kill9_during_an_rpc_sync_then_restart_equals_an_uninterrupted_sync() {
    let b = Bcoin::start();
    let mut c = NameChain::start(&b, "test");
    // 300 names in 15 rounds, each followed by 40 empty blocks: ~750 blocks.
    let burner = Wallet::generate(NET);
    for _ in 0..15 {
        c.register(&b, "test", 20, 20);
        b.mine_to(40, &burner.pubkey_hash().to_byte_array());
        c.sync(&b);
    }
    c.sync(&b);
    let tip = rpc(&b).tip_height().unwrap();
    let args = node_args(&b, &c, &[]);
    let args = strs(&args);

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let mut seen = vec![];
    for target in [tip / 4, tip / 2, 3 * tip / 4] {
        let node = DevNode::node(&data, &args);
        wait_for("the sync to pass the kill point", 120, || height(&data) >= target);
        node.kill9();
        seen.push(height(&data));
    }
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "progress is never lost: {seen:?}");
    assert!(seen.iter().any(|h| *h < tip), "some kill must land mid-sync: {seen:?} of {tip}");

    let node = DevNode::node(&data, &args);
    wait_for("the node to reach the tip", 120, || height(&data) == tip);
    wait_for("status to show no lag", 30, || status(&data).contains("lag             0 blocks"));
    let text = status(&data);
    node.kill9();
    let store = Store::open_readonly(&data.join("bns.sqlite")).unwrap();
    assert_same_blocks(&store, c.reference.store(), 1, tip);
    assert_eq!(store.name_count().unwrap(), 300);
    assert_eq!(store.rejected_ops().unwrap().len(), 0, "nothing applied twice");
    let ch = c.ch().to_string();
    assert!(text.contains(&format!("height          {tip}\n")), "{text}");
    assert!(text.contains(&format!("consensus hash  {ch}\n")), "{text}");
    assert!(text.contains("names           300\n") && text.contains("lag             0 blocks"), "{text}");
}

#[test]
fn bitcoind_outage_is_logged_in_metrics_and_status_then_sync_resumes() {
    let b = Bcoin::start_persistent();
    let mut c = NameChain::start(&b, "test");
    c.register(&b, "test", 3, 3);
    let tip = rpc(&b).tip_height().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let args = node_args(&b, &c, &["--poll-interval", "0.2"]);
    let node = DevNode::node(&data, &strs(&args));
    wait_for("the first sync", 60, || height(&data) == tip);
    // The gauge is set right after the step that committed the height.
    wait_for("source up", 10, || metric(&node, "bns_chain_source_up") == 1);

    let stopped = b.stop();
    wait_for("the node to notice", 30, || metric(&node, "bns_chain_source_up") == 0);
    assert!(metric(&node, "bns_chain_source_errors_total") >= 1);
    assert!(metric(&node, "bns_chain_source_retry_seconds") >= 1);
    let text = status(&data);
    assert!(text.contains("source          failing:"), "{text}");
    // DNS keeps answering from the index while the chain is away.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let answer = rt.block_on(support::query(node.dns, support::Proto::Udp, "n0.test.", RecordType::TXT));
    assert_eq!(answer.metadata.response_code, ResponseCode::ServFail, "the zone file is not held, the name is known");
    assert!(
        rt.block_on(support::query(node.dns, support::Proto::Udp, "nope.test.", RecordType::A)).metadata.response_code
            == ResponseCode::NXDomain
    );

    let b = Bcoin::restart(stopped);
    assert_eq!(rpc(&b).tip_height().unwrap(), tip, "bcoin kept its chain");
    b.mine_to(2, &c.wallet.pubkey_hash().to_byte_array());
    // The back-off is at most 60 s; a wake-up comes within it.
    wait_for("the node to resume", 90, || height(&data) == tip + 2);
    wait_for("source up again", 10, || metric(&node, "bns_chain_source_up") == 1);
    let text = status(&data);
    assert!(text.contains("source          ok"), "{text}");
}

#[test]
fn reorgs_shallower_and_deeper_than_confirmations() {
    let b = Bcoin::start();
    let mut c = NameChain::start(&b, "test");
    c.register_own(&b, "werner.test", None);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let args = node_args(&b, &c, &["--confirmations", "3", "--poll-interval", "0.1"]);
    let node = DevNode::node(&data, &strs(&args));
    let r = rpc(&b);
    let client = b.client();
    let invalidate = |h: u64| {
        let hash = r.block_hash(h).unwrap();
        let _: serde_json::Value = client.call("invalidateblock", &[hash.to_string().into()]).unwrap();
    };
    let other = Wallet::generate(NET);
    let confirmed = |tip: u64| tip - 2;

    // Shallow: the two newest (empty) blocks are replaced; the node never processed them.
    b.mine_to(2, &other.pubkey_hash().to_byte_array());
    let tip = r.tip_height().unwrap();
    wait_for("the first sync", 60, || height(&data) == confirmed(tip));
    invalidate(tip - 1);
    b.mine_to(3, &other.pubkey_hash().to_byte_array());
    let tip = r.tip_height().unwrap();
    wait_for("the node to follow", 30, || height(&data) == confirmed(tip));
    assert_eq!(metric(&node, "bns_chain_reorgs_total"), 0, "a reorg above the confirmed height undoes nothing");
    c.sync(&b);

    // Deep: updates in four blocks, all processed, then a fork below them all.
    let name = c.names[0].clone();
    let mut update_heights = vec![];
    for i in 0..4u8 {
        let ch = c.ch();
        update_heights.push(c.mine(&b, |f| vec![f.next(ops::name_update(f, MAGIC, &name, &ch, &ValueHash([i; 20])))]));
    }
    b.mine_to(2, &other.pubkey_hash().to_byte_array());
    let tip = r.tip_height().unwrap();
    wait_for("the updates to be processed", 30, || height(&data) == confirmed(tip));
    let fork = update_heights[0] - 1;
    let depth = height(&data) - fork;
    assert!(depth > 3, "the reorg ({depth} processed blocks) is deeper than confirmations");
    invalidate(fork + 1);
    b.mine_to(tip - fork + 2, &other.pubkey_hash().to_byte_array());
    let tip = r.tip_height().unwrap();
    wait_for("the node to roll back and follow", 60, || {
        height(&data) == confirmed(tip) && metric(&node, "bns_chain_reorgs_total") == 1
    });
    assert_eq!(metric(&node, "bns_chain_blocks_undone_total"), depth);
    node.kill9();

    // Same as a fresh sync of the new chain, 3 confirmations deep.
    let fresh_dir = tempfile::tempdir().unwrap();
    let mut fresh = Indexer::new(Store::open(&fresh_dir.path().join("f.sqlite")).unwrap(), c.params.clone(), NET, 3);
    fresh.catch_up(&r).unwrap();
    let store = Store::open_readonly(&data.join("bns.sqlite")).unwrap();
    assert_same_blocks(&store, fresh.store(), 1, confirmed(tip));
    assert_eq!(fresh.store().last_block().unwrap(), store.last_block().unwrap());
    assert_eq!(store.name(&name).unwrap(), fresh.store().name(&name).unwrap());
    assert_eq!(store.history(&name).unwrap(), fresh.store().history(&name).unwrap());
}
