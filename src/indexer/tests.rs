use bitcoin::hashes::Hash as _;
use bitcoin::{Block, BlockHash, Network, OutPoint, ScriptBuf, TxOut};

use super::*;
use crate::chain::devchain::DevChain;

/// A dev chain whose block 0 reads as another hash once `other_genesis` is set.
struct Source {
    chain: DevChain,
    other_genesis: std::sync::atomic::AtomicBool,
}

impl BlockSource for Source {
    fn tip_height(&self) -> Result<u64, ChainError> {
        self.chain.tip_height()
    }
    fn block_hash(&self, height: u64) -> Result<BlockHash, ChainError> {
        if self.other_genesis.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(BlockHash::from_byte_array([height as u8 + 1; 32]));
        }
        self.chain.block_hash(height)
    }
    fn block(&self, height: u64) -> Result<Block, ChainError> {
        self.chain.block(height)
    }
    fn prevout(&self, outpoint: &OutPoint) -> Result<TxOut, ChainError> {
        self.chain.prevout(outpoint)
    }
}

#[test]
fn first_block_zero_indexes_genesis_and_refuses_another_genesis() {
    let dir = tempfile::tempdir().unwrap();
    let chain = DevChain::open(&dir.path().join("chain.dat"), Network::Regtest).unwrap();
    for _ in 0..3 {
        chain.mine(&ScriptBuf::new()).unwrap();
    }
    let source = Source { chain, other_genesis: false.into() };
    let store = Store::open(&dir.path().join("bns.sqlite")).unwrap();
    let mut indexer = Indexer::new(store, ChainParams::test(0, *b"id"), Network::Regtest, 1);
    let r = indexer.catch_up(&source).unwrap();
    assert_eq!((r.blocks, r.height), (4, Some(3)), "blocks 0..=3 are processed");
    source.other_genesis.store(true, std::sync::atomic::Ordering::SeqCst);
    match indexer.step(&source, 10) {
        Err(e @ IndexerError::OtherGenesis { .. }) => assert!(e.to_string().contains("another chain"), "{e}"),
        other => panic!("expected OtherGenesis, got {other:?}"),
    }
    assert_eq!(indexer.store().last_block().unwrap().map(|b| b.height), Some(3), "nothing was undone");
}
