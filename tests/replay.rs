//! A second node replaying the same dev chain from its raw blocks reaches the
//! same consensus hash at every height.

mod support;

use bns::bns::ChainParams;
use bns::chain::devchain::DevChain;
use bns::indexer::Indexer;
use bns::store::Store;
use support::{repo_zones, DevNode};

#[test]
fn second_node_replaying_the_dev_chain_gets_identical_consensus_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first");
    let node = DevNode::start(&first, &repo_zones());
    node.kill9();

    let second = dir.path().join("second");
    std::fs::create_dir_all(&second).unwrap();
    std::fs::copy(first.join("devchain.dat"), second.join("devchain.dat")).unwrap();
    let params_file = std::fs::read_to_string(first.join(bns::node::DEV_PARAMS_FILE)).unwrap();
    let params: ChainParams = serde_json::from_str(&params_file).unwrap();
    assert_eq!(params.token_allocations.len(), 1, "the dev wallet's token account");
    let chain = DevChain::open(&second.join("devchain.dat"), bitcoin::Network::Regtest).unwrap();
    let store = Store::open(&second.join("bns.sqlite")).unwrap();
    let mut indexer = Indexer::new(store, params, bitcoin::Network::Regtest, 1);
    let report = indexer.catch_up(&chain).unwrap();
    assert_eq!(report.height, Some(chain.height()));

    let original = Store::open_readonly(&first.join("bns.sqlite")).unwrap();
    let last = original.last_block().unwrap().unwrap().height;
    assert!(last >= 106, "dev start mines funding blocks and BNS rounds, got {last}");
    let mut accepted = 0;
    for h in 1..=last {
        let a = original.block_at(h).unwrap().unwrap();
        let b = indexer.store().block_at(h).unwrap().unwrap();
        assert_eq!(a, b, "block {h} differs between the nodes: {:?}", indexer.store().ops_at(h).unwrap());
        accepted += a.accepted;
    }
    // 2 namespaces x (preorder, reveal, ready) + 5 names x (preorder, register).
    assert_eq!(accepted, 16);
    assert_eq!(indexer.store().name_count().unwrap(), 5);
}
