use std::io::Write;
use std::sync::mpsc;
use std::time::Duration;

use bitcoin::hashes::Hash;
use bitcoin::{Amount, Network, OutPoint, PubkeyHash, ScriptBuf, Transaction, TxOut, Txid};
use tempfile::TempDir;

use super::*;
use crate::tx::{build_and_sign, OutputSpec, Wallet};

/// Runs `f` on a thread and fails the test if it takes longer than `secs`.
fn timed<F: FnOnce() + Send + 'static>(secs: u64, f: F) {
    let (done_tx, done_rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        f();
        let _ = done_tx.send(());
    });
    match done_rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(()) => handle.join().expect("test thread"),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(handle.join().expect_err("thread ended without signalling"))
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("test did not finish within {secs}s"),
    }
}

fn burn_script() -> ScriptBuf {
    ScriptBuf::new_p2pkh(&PubkeyHash::from_byte_array([0; 20]))
}

/// A chain in a tempdir with 101 blocks mined to a fresh wallet (so the
/// coinbases of heights 1 and 2 are mature).
fn funded() -> (TempDir, DevChain, Wallet) {
    let dir = tempfile::tempdir().unwrap();
    let chain = DevChain::open(&dir.path().join("blocks.dat"), Network::Regtest).unwrap();
    let wallet = Wallet::generate(Network::Regtest);
    for _ in 0..101 {
        chain.mine(&wallet.script_pubkey()).unwrap();
    }
    assert_eq!(chain.height(), 101);
    (dir, chain, wallet)
}

fn coinbase_outpoint(chain: &DevChain, height: u64) -> (OutPoint, TxOut) {
    let block = chain.block(height).unwrap();
    let cb = &block.txdata[0];
    (OutPoint::new(cb.compute_txid(), 0), cb.output[0].clone())
}

fn preorder_template() -> Vec<OutputSpec> {
    vec![
        OutputSpec::Data(b"id?0123456789abcdef0123456789abcdef".to_vec()),
        OutputSpec::Change,
        OutputSpec::Pay { script: burn_script(), value: Amount::from_sat(10_000) },
    ]
}

fn spend(wallet: &Wallet, utxo: (OutPoint, TxOut)) -> Transaction {
    build_and_sign(wallet, &[utxo], &preorder_template(), 2).unwrap()
}

#[test]
fn chain_spend_mature_coinbase_and_mine_in_template_order() {
    timed(60, || {
        let (_dir, chain, wallet) = funded();
        assert_eq!(chain.spendable_utxos(&wallet.script_pubkey()).len(), 2);
        let utxo = coinbase_outpoint(&chain, 1);
        let tx = spend(&wallet, utxo.clone());
        let txid = chain.submit(tx.clone()).unwrap();
        assert_eq!(chain.mempool_len(), 1);
        assert_eq!(chain.tx(&txid), Some(tx.clone()));
        let fee = utxo.1.value - tx.output.iter().map(|o| o.value).sum::<Amount>();

        let block = chain.mine(&wallet.script_pubkey()).unwrap();
        assert_eq!(chain.mempool_len(), 0);
        assert_eq!(block.txdata.len(), 2);
        assert_eq!(block.txdata[1], tx);
        let outs = &block.txdata[1].output;
        assert_eq!(outs.len(), 3);
        assert!(outs[0].script_pubkey.is_op_return());
        assert_eq!(&outs[0].script_pubkey.as_bytes()[2..5], b"id?");
        assert_eq!(outs[1].script_pubkey, wallet.script_pubkey());
        assert_eq!(outs[2], TxOut { value: Amount::from_sat(10_000), script_pubkey: burn_script() });
        // Coinbase = subsidy + fee; header is valid and links.
        assert_eq!(block.txdata[0].output[0].value, block_subsidy(102) + fee);
        assert!(block.header.target().is_met_by(block.block_hash()));
        assert!(block.check_merkle_root());
        assert_eq!(block.header.bits.to_consensus(), REGTEST_BITS);
        assert_eq!(block.header.version.to_consensus(), BLOCK_VERSION);
        for h in 1..=102 {
            let b = chain.block(h).unwrap();
            assert_eq!(b.header.prev_blockhash, chain.block_hash(h - 1).unwrap());
            assert_eq!(b.block_hash(), chain.block_hash(h).unwrap());
            assert!(b.header.time > chain.block(h - 1).unwrap().header.time);
        }
        assert_eq!(chain.block(0).unwrap(), genesis_block(Network::Regtest));
        // Spent coinbase gone, change + new coinbase present.
        let utxos = chain.utxos(&wallet.script_pubkey());
        assert!(!utxos.iter().any(|(op, _, _)| *op == utxo.0));
        assert!(utxos.iter().any(|(op, _, c)| *op == OutPoint::new(txid, 1) && *c == 1));
        assert_eq!(utxos.len(), 102);
        // The burn output is indexed; the OP_RETURN is not spendable.
        assert_eq!(chain.utxos(&burn_script()).len(), 1);
    });
}

#[test]
fn chain_prevout_returns_spent_and_unspent_outputs() {
    timed(60, || {
        let (_dir, chain, wallet) = funded();
        let utxo = coinbase_outpoint(&chain, 1);
        let tx = spend(&wallet, utxo.clone());
        let txid = chain.submit(tx.clone()).unwrap();
        chain.mine(&wallet.script_pubkey()).unwrap();
        let block = chain.block(102).unwrap();
        // The input of the mined tx: its prevout is the (now spent) coinbase output.
        let input = block.txdata[1].input[0].previous_output;
        assert_eq!(chain.prevout(&input).unwrap(), utxo.1);
        assert_eq!(chain.prevout(&OutPoint::new(txid, 2)).unwrap(), tx.output[2]);
        assert_eq!(chain.prevout(&OutPoint::new(txid, 0)).unwrap(), tx.output[0]);
        let err = chain.prevout(&OutPoint::new(txid, 3)).unwrap_err();
        assert_eq!(err.kind, crate::chain::ErrorKind::Persistent);
        assert!(chain.prevout(&OutPoint::new(Txid::all_zeros(), 0)).is_err());
        assert!(chain.block(103).is_err());
        assert!(chain.block_hash(103).is_err());
        assert_eq!(chain.tip_height().unwrap(), 102);
    });
}

#[test]
fn chain_reopen_gives_same_tip_and_utxos() {
    timed(60, || {
        let (dir, chain, wallet) = funded();
        let txid = chain.submit(spend(&wallet, coinbase_outpoint(&chain, 1))).unwrap();
        chain.mine(&wallet.script_pubkey()).unwrap();
        let tip = chain.tip_hash();
        let mut before = chain.utxos(&wallet.script_pubkey());
        let block = chain.block(102).unwrap();
        drop(chain);

        let chain = DevChain::open(&dir.path().join("blocks.dat"), Network::Regtest).unwrap();
        assert_eq!(chain.height(), 102);
        assert_eq!(chain.tip_hash(), tip);
        let mut after = chain.utxos(&wallet.script_pubkey());
        before.sort_by_key(|u| u.0);
        after.sort_by_key(|u| u.0);
        assert_eq!(before, after);
        assert_eq!(chain.block(102).unwrap(), block);
        assert_eq!(chain.tx(&txid).unwrap().compute_txid(), txid);
        // And it keeps working: the other mature coinbase can be spent.
        chain.submit(spend(&wallet, coinbase_outpoint(&chain, 2))).unwrap();
        assert_eq!(chain.mine(&wallet.script_pubkey()).unwrap().txdata.len(), 2);
    });
}

#[test]
fn chain_torn_tail_is_truncated_on_open() {
    timed(60, || {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blocks.dat");
        let script = Wallet::generate(Network::Regtest).script_pubkey();
        let chain = DevChain::open(&path, Network::Regtest).unwrap();
        for _ in 0..5 {
            chain.mine(&script).unwrap();
        }
        let hash4 = chain.block_hash(4).unwrap();
        let hash5 = chain.tip_hash();
        drop(chain);
        let good_len = std::fs::metadata(&path).unwrap().len();

        // Garbage appended after the last complete record.
        for garbage in [&b"\xde\xad\xbe\xef\x01\x02\x03"[..], &[7u8, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7], &[1, 2]] {
            std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(garbage).unwrap();
            let chain = DevChain::open(&path, Network::Regtest).unwrap();
            assert_eq!((chain.height(), chain.tip_hash()), (5, hash5));
            assert_eq!(std::fs::metadata(&path).unwrap().len(), good_len);
        }

        // The last record cut short: reopen at the previous block.
        std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(good_len - 10).unwrap();
        let chain = DevChain::open(&path, Network::Regtest).unwrap();
        assert_eq!((chain.height(), chain.tip_hash()), (4, hash4));
        let new5 = chain.mine(&script).unwrap().block_hash();
        assert_ne!(new5, hash5);
        drop(chain);
        let chain = DevChain::open(&path, Network::Regtest).unwrap();
        assert_eq!((chain.height(), chain.tip_hash()), (5, new5));
        drop(chain);

        // A file of another network is refused, not truncated.
        let err = DevChain::open(&path, Network::Bitcoin).unwrap_err();
        assert!(err.message.contains("prev hash"), "{err}");
        assert!(DevChain::open(&path, Network::Regtest).is_ok());

        // Garbage in the middle (followed by more data) is an error.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[4 + 80 + 1 + 4] ^= 0xff; // inside block 1's coinbase (input count)
        std::fs::write(&path, &bytes).unwrap();
        let err = DevChain::open(&path, Network::Regtest).unwrap_err();
        assert_eq!(err.kind, crate::chain::ErrorKind::Persistent);
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "file must be left untouched");
    });
}

#[test]
fn chain_submit_rejections() {
    timed(60, || {
        let (_dir, chain, wallet) = funded();
        let utxo1 = coinbase_outpoint(&chain, 1);
        let tx1 = spend(&wallet, utxo1.clone());

        // Bad signature: flip a byte inside the DER signature's r value.
        let mut bad = tx1.clone();
        let mut sig_script = bad.input[0].script_sig.to_bytes();
        sig_script[10] ^= 0x01;
        bad.input[0].script_sig = ScriptBuf::from_bytes(sig_script);
        let err = chain.submit(bad).unwrap_err();
        assert!(matches!(err, DevChainError::BadSignature { input: 0, .. }), "{err}");

        // Wrong key: another wallet's signature over the same input.
        let thief = Wallet::generate(Network::Regtest);
        let mut stolen = tx1.clone();
        let theirs = TxOut { value: utxo1.1.value, script_pubkey: thief.script_pubkey() };
        thief.sign_p2pkh_inputs(&mut stolen, &[theirs]).unwrap();
        let err = chain.submit(stolen).unwrap_err();
        assert!(matches!(err, DevChainError::PubkeyMismatch { input: 0, .. }), "{err}");

        // Outputs > inputs (correctly signed).
        let mut rich = tx1.clone();
        rich.output[2].value = utxo1.1.value;
        wallet.sign_p2pkh_inputs(&mut rich, std::slice::from_ref(&utxo1.1)).unwrap();
        let err = chain.submit(rich).unwrap_err();
        assert!(matches!(err, DevChainError::OutputsExceedInputs { .. }), "{err}");
        assert!(err.to_string().contains(&utxo1.1.value.to_sat().to_string()));

        // Nonexistent outpoint.
        let ghost = (OutPoint::new(Txid::from_byte_array([9; 32]), 0), utxo1.1.clone());
        let err = chain.submit(spend(&wallet, ghost)).unwrap_err();
        assert!(matches!(err, DevChainError::MissingInput { input: 0, .. }), "{err}");

        // Immature coinbase: height 3 has 99 confirmations at tip 101.
        let young = coinbase_outpoint(&chain, 3);
        let err = chain.submit(spend(&wallet, young)).unwrap_err();
        assert!(matches!(err, DevChainError::ImmatureCoinbase { confirmations: 99, required: 100, .. }), "{err}");
        assert!(err.to_string().contains("mine 1 more"), "{err}");

        // Accept, then duplicate and double spend.
        let txid1 = chain.submit(tx1.clone()).unwrap();
        assert!(matches!(chain.submit(tx1.clone()), Err(DevChainError::Duplicate { .. })));
        let other = build_and_sign(&wallet, std::slice::from_ref(&utxo1), &[OutputSpec::Change], 5).unwrap();
        let err = chain.submit(other.clone()).unwrap_err();
        assert_eq!(err, DevChainError::DoubleSpend { input: 0, outpoint: utxo1.0, spent_by: txid1 });
        assert_eq!(chain.mempool_len(), 1);

        // Chaining on an unconfirmed output is allowed (and listed with 0 conf).
        let change = (OutPoint::new(txid1, 1), tx1.output[1].clone());
        assert!(chain.utxos(&wallet.script_pubkey()).contains(&(change.0, change.1.clone(), 0)));
        let child = build_and_sign(&wallet, std::slice::from_ref(&change), &[OutputSpec::Change], 1).unwrap();
        let child_id = chain.submit(child).unwrap();
        assert!(!chain.utxos(&wallet.script_pubkey()).iter().any(|u| u.0 == change.0));
        let block = chain.mine(&wallet.script_pubkey()).unwrap();
        assert_eq!(block.txdata[1].compute_txid(), txid1);
        assert_eq!(block.txdata[2].compute_txid(), child_id);

        // Once mined, spending it again is "spent"; a coinbase can't be submitted.
        let err = chain.submit(other).unwrap_err();
        assert!(matches!(err, DevChainError::Spent { input: 0, .. }), "{err}");
        let err = chain.submit(block.txdata[0].clone()).unwrap_err();
        assert_eq!(err, DevChainError::Coinbase);
    });
}

#[test]
fn chain_rewind_then_mine_a_different_branch() {
    timed(60, || {
        let (dir, chain, wallet) = funded();
        let utxo = coinbase_outpoint(&chain, 1);
        let txid = chain.submit(spend(&wallet, utxo.clone())).unwrap();
        chain.mine(&wallet.script_pubkey()).unwrap(); // 102 holds the spend
        chain.mine(&wallet.script_pubkey()).unwrap(); // 103
        let old102 = chain.block_hash(102).unwrap();

        // A pending tx that stays valid after the rewind survives it.
        let pending = spend(&wallet, coinbase_outpoint(&chain, 2));
        chain.submit(pending.clone()).unwrap();
        // And one that spends the dropped tx's change is dropped.
        let orphan = (OutPoint::new(txid, 1), chain.prevout(&OutPoint::new(txid, 1)).unwrap());
        chain.submit(build_and_sign(&wallet, &[orphan], &[OutputSpec::Change], 1).unwrap()).unwrap();
        assert_eq!(chain.mempool_len(), 2);

        assert!(chain.rewind_to(104).is_err());
        chain.rewind_to(101).unwrap();
        assert_eq!(chain.height(), 101);
        assert_eq!(chain.mempool_len(), 1);
        assert!(chain.tx(&txid).is_none(), "dropped blocks' txs are discarded");
        assert!(chain.utxos(&wallet.script_pubkey()).iter().any(|u| u.0 == utxo.0));

        let other = chain.mine(&burn_script()).unwrap();
        assert_eq!(other.txdata[1], pending);
        assert_ne!(chain.block_hash(102).unwrap(), old102);
        assert_eq!(chain.block_hash(102).unwrap(), other.block_hash());
        assert_eq!(other.header.prev_blockhash, chain.block_hash(101).unwrap());

        // The same height re-mined with identical inputs still differs.
        let again = chain.block_hash(102).unwrap();
        chain.rewind_to(101).unwrap();
        assert_ne!(chain.mine(&burn_script()).unwrap().block_hash(), again);
        let tip = chain.tip_hash();
        drop(chain);
        let chain = DevChain::open(&dir.path().join("blocks.dat"), Network::Regtest).unwrap();
        assert_eq!((chain.height(), chain.tip_hash()), (102, tip));
        chain.rewind_to(0).unwrap();
        assert_eq!(chain.height(), 0);
        assert_eq!(std::fs::metadata(chain.path()).unwrap().len(), 0);
    });
}

#[test]
fn chain_subsidy_halves_every_150_blocks() {
    assert_eq!(block_subsidy(1), Amount::from_btc(50.0).unwrap());
    assert_eq!(block_subsidy(149), Amount::from_btc(50.0).unwrap());
    assert_eq!(block_subsidy(150), Amount::from_btc(25.0).unwrap());
    assert_eq!(block_subsidy(300), Amount::from_btc(12.5).unwrap());
    assert_eq!(block_subsidy(150 * 64), Amount::ZERO);
}

#[test]
fn chain_is_send_sync_and_shares_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<DevChain>();
    timed(30, || {
        let dir = tempfile::tempdir().unwrap();
        let chain = std::sync::Arc::new(DevChain::open(&dir.path().join("b"), Network::Regtest).unwrap());
        let script = burn_script();
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (chain, script) = (chain.clone(), script.clone());
                std::thread::spawn(move || {
                    for _ in 0..10 {
                        chain.mine(&script).unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(chain.height(), 20);
    });
}

#[test]
fn chain_file_answers_like_the_dev_chain() {
    timed(60, || {
        let (_dir, chain, wallet) = funded();
        let utxo = coinbase_outpoint(&chain, 1);
        let tx = spend(&wallet, utxo.clone());
        let txid = chain.submit(tx.clone()).unwrap();
        chain.mine(&wallet.script_pubkey()).unwrap();
        let file = super::ChainFile::open(chain.path(), chain.network()).unwrap();
        assert_eq!(file.tip_height().unwrap(), chain.tip_height().unwrap());
        for h in [0, 1, 101, 102] {
            assert_eq!(file.block_hash(h).unwrap(), chain.block_hash(h).unwrap());
            assert_eq!(file.block(h).unwrap(), chain.block(h).unwrap());
        }
        let input = chain.block(102).unwrap().txdata[1].input[0].previous_output;
        assert_eq!(file.prevout(&input).unwrap(), utxo.1);
        assert_eq!(file.prevout(&OutPoint::new(txid, 2)).unwrap(), tx.output[2]);
        assert!(file.prevout(&OutPoint::new(txid, 3)).is_err());
        assert!(file.prevout(&OutPoint::new(Txid::all_zeros(), 0)).is_err());
        assert!(file.block(103).is_err());
    });
}

#[test]
fn chain_submit_presigned_checks_all_but_the_signature_which_verify_input_checks() {
    timed(60, || {
        let (_dir, chain, wallet) = funded();
        let utxo1 = coinbase_outpoint(&chain, 1);
        let good = spend(&wallet, utxo1.clone());
        assert_eq!(verify_input(&good, 0, &utxo1.1), Ok(()));
        assert!(verify_input(&good, 1, &utxo1.1).is_err(), "no input 1");

        // A broken signature gets in (it is trusted) but fails verify_input.
        let mut bad = good.clone();
        let mut sig_script = bad.input[0].script_sig.to_bytes();
        sig_script[10] ^= 0x01;
        bad.input[0].script_sig = ScriptBuf::from_bytes(sig_script);
        let err = verify_input(&bad, 0, &utxo1.1).unwrap_err();
        assert!(matches!(err, DevChainError::BadSignature { input: 0, .. }), "{err}");
        assert!(matches!(chain.submit(bad.clone()), Err(DevChainError::BadSignature { .. })));

        // Everything else is still checked: another key, a missing coin, an immature coinbase.
        let thief = Wallet::generate(Network::Regtest);
        let mut stolen = good.clone();
        let theirs = TxOut { value: utxo1.1.value, script_pubkey: thief.script_pubkey() };
        thief.sign_p2pkh_inputs(&mut stolen, &[theirs]).unwrap();
        let err = chain.submit_presigned(stolen).unwrap_err();
        assert!(matches!(err, DevChainError::PubkeyMismatch { input: 0, .. }), "{err}");
        let ghost = (OutPoint::new(Txid::from_byte_array([9; 32]), 0), utxo1.1.clone());
        let err = chain.submit_presigned(spend(&wallet, ghost)).unwrap_err();
        assert!(matches!(err, DevChainError::MissingInput { .. }), "{err}");
        let err = chain.submit_presigned(spend(&wallet, coinbase_outpoint(&chain, 3))).unwrap_err();
        assert!(matches!(err, DevChainError::ImmatureCoinbase { .. }), "{err}");
        let mut shape = good.clone();
        shape.input[0].script_sig = ScriptBuf::from_bytes(vec![0x51]);
        let err = chain.submit_presigned(shape).unwrap_err();
        assert!(matches!(err, DevChainError::BadScriptSig { input: 0, .. }), "{err}");

        chain.submit_presigned(bad).unwrap();
        let err = chain.submit_presigned(good).unwrap_err();
        assert!(matches!(err, DevChainError::DoubleSpend { input: 0, .. }), "{err}");
        assert_eq!(chain.mine(&wallet.script_pubkey()).unwrap().txdata.len(), 2);
    });
}
