use bitcoin::hashes::Hash;
use bitcoin::script::Instruction;
use bitcoin::secp256k1::{Message, SecretKey, SECP256K1};
use bitcoin::sighash::SighashCache;
use bitcoin::{Amount, Network, OutPoint, PubkeyHash, ScriptBuf, TxOut, Txid};

use super::*;

fn burn() -> ScriptBuf {
    ScriptBuf::new_p2pkh(&PubkeyHash::from_byte_array([0; 20]))
}

fn utxos(wallet: &Wallet, values: &[u64]) -> Vec<(OutPoint, TxOut)> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let op = OutPoint::new(Txid::from_byte_array([i as u8 + 1; 32]), i as u32);
            (op, TxOut { value: Amount::from_sat(*v), script_pubkey: wallet.script_pubkey() })
        })
        .collect()
}

/// Verifies every input's `<sig> <pubkey>` against the legacy sighash.
fn assert_signed(tx: &Transaction, prevouts: &[TxOut], wallet: &Wallet) {
    let cache = SighashCache::new(tx);
    for (i, (txin, prev)) in tx.input.iter().zip(prevouts).enumerate() {
        let items: Vec<_> = txin.script_sig.instructions_minimal().map(|r| r.unwrap()).collect();
        let [Instruction::PushBytes(sig), Instruction::PushBytes(key)] = &items[..] else {
            panic!("scriptSig {i} is not <sig> <pubkey>")
        };
        assert_eq!(key.as_bytes(), &wallet.public_key().to_bytes()[..]);
        let sig = bitcoin::ecdsa::Signature::from_slice(sig.as_bytes()).unwrap();
        assert_eq!(sig.sighash_type, bitcoin::EcdsaSighashType::All);
        let h = cache.legacy_signature_hash(i, &prev.script_pubkey, 1).unwrap();
        let pk = wallet.public_key().0;
        SECP256K1.verify_ecdsa(&Message::from_digest(h.to_byte_array()), &sig.signature, &pk).unwrap();
    }
}

#[test]
fn tx_wallet_wif_roundtrip_and_regtest_address() {
    let w = Wallet::generate(Network::Regtest);
    let wif = w.to_wif();
    assert!(wif.starts_with('c'), "{wif}");
    let back = Wallet::from_wif(&format!("{wif}\n")).unwrap();
    assert_eq!(back.script_pubkey(), w.script_pubkey());
    let addr = w.address().to_string();
    assert!(addr.starts_with('m') || addr.starts_with('n'), "{addr}");
    assert!(w.script_pubkey().is_p2pkh());
    assert_eq!(w.address().script_pubkey(), w.script_pubkey());
    assert_eq!(&w.script_pubkey().as_bytes()[3..23], w.pubkey_hash().as_byte_array());
    assert!(!format!("{w:?}").contains(&wif), "Debug must not leak the key");

    let main = Wallet::generate(Network::Bitcoin);
    assert!(main.address().to_string().starts_with('1'));
    // A known vector: private key 1 -> 1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH.
    let one = Wallet::from_wif("KwDiBf89QgGbjEhKnhXJuH7LrciVrZi3qYjgd9M7rFU73sVHnoWn").unwrap();
    assert_eq!(one.address().to_string(), "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH");

    assert!(matches!(Wallet::from_wif("nonsense"), Err(TxError::InvalidWif(_))));
    let uncompressed = "5HpHagT65TZzG1PH3CSu63k8DbpvD8s5ip4nEB3kEsreAnchuDf";
    assert!(matches!(Wallet::from_wif(uncompressed), Err(TxError::UncompressedKey)));
}

#[test]
fn tx_wallet_load_or_create() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.wif");
    let w = Wallet::load_or_create(&path, Network::Regtest).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = Wallet::load_or_create(&path, Network::Regtest).unwrap();
    assert_eq!(again.to_wif(), w.to_wif());
    // Testnet shares the regtest key kind; mainnet does not.
    assert!(Wallet::load_or_create(&path, Network::Testnet).is_ok());
    let err = Wallet::load_or_create(&path, Network::Bitcoin).unwrap_err();
    assert!(matches!(err, TxError::NetworkMismatch { .. }), "{err}");
    let err = Wallet::load_or_create(&dir.path().join("no/such/dir"), Network::Regtest).unwrap_err();
    assert!(matches!(err, TxError::KeyFile { .. }), "{err}");
}

#[test]
fn tx_template_order_fee_and_change() {
    let w = Wallet::generate(Network::Regtest);
    let coins = utxos(&w, &[1_000, 50_000, 20_000]);
    let template = [
        OutputSpec::Data(b"id?payload".to_vec()),
        OutputSpec::Change,
        OutputSpec::Pay { script: burn(), value: Amount::from_sat(30_000) },
    ];
    let tx = build_and_sign(&w, &coins, &template, 3).unwrap();
    // Largest first: the 50k coin alone covers 30k + fee + dust.
    assert_eq!(tx.input.len(), 1);
    assert_eq!(tx.input[0].previous_output, coins[1].0);
    assert_eq!(tx.input[0].sequence, INPUT_SEQUENCE);
    assert_eq!(tx.output.len(), 3);
    assert_eq!(tx.output[0].script_pubkey.as_bytes(), b"\x6a\x0aid?payload");
    assert_eq!(tx.output[0].value, Amount::ZERO);
    assert_eq!(tx.output[1].script_pubkey, w.script_pubkey());
    assert_eq!(tx.output[2], TxOut { value: Amount::from_sat(30_000), script_pubkey: burn() });
    let vsize = estimate_vsize(1, &[12, 25, 25]);
    assert_eq!(vsize, 8 + 1 + 1 + 148 + (8 + 1 + 12) + 2 * (8 + 1 + 25));
    assert!(tx.vsize() as u64 <= vsize, "estimate {vsize} < real {}", tx.vsize());
    assert!(vsize - (tx.vsize() as u64) < 10);
    assert_eq!(tx.output[1].value, Amount::from_sat(50_000 - 30_000 - 3 * vsize));
    assert_signed(&tx, &[coins[1].1.clone()], &w);

    // Needing more than the largest coin pulls in the next largest.
    let big = [OutputSpec::Pay { script: burn(), value: Amount::from_sat(60_000) }, OutputSpec::Change];
    let tx = build_and_sign(&w, &coins, &big, 1).unwrap();
    assert_eq!(tx.input.iter().map(|i| i.previous_output).collect::<Vec<_>>(), vec![coins[1].0, coins[2].0]);
    assert_signed(&tx, &[coins[1].1.clone(), coins[2].1.clone()], &w);
    assert!(tx.vsize() as u64 <= estimate_vsize(2, &[25, 25]));
}

#[test]
fn tx_insufficient_funds_and_dust_change() {
    let w = Wallet::generate(Network::Regtest);
    let coins = utxos(&w, &[10_000]);
    let fee = 10 * estimate_vsize(1, &[25, 25]);
    // Change would be below dust: insufficient, with exact numbers.
    let pay = 10_000 - fee - 545;
    let template = [OutputSpec::Pay { script: burn(), value: Amount::from_sat(pay) }, OutputSpec::Change];
    let err = build_and_sign(&w, &coins, &template, 10).unwrap_err();
    match &err {
        TxError::InsufficientFunds { needed, available } => {
            assert_eq!(needed.to_sat(), pay + fee + 546);
            assert_eq!(available.to_sat(), 10_000);
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("10000 sat"), "{err}");
    // Exactly dust change is fine.
    let template = [OutputSpec::Pay { script: burn(), value: Amount::from_sat(pay - 1) }, OutputSpec::Change];
    let tx = build_and_sign(&w, &coins, &template, 10).unwrap();
    assert_eq!(tx.output[1].value, DUST_LIMIT);
    // No UTXOs at all.
    let err = build_and_sign(&w, &[], &[OutputSpec::Change], 1).unwrap_err();
    assert!(matches!(err, TxError::InsufficientFunds { available, .. } if available == Amount::ZERO));
}

#[test]
fn tx_template_and_utxo_errors() {
    let w = Wallet::generate(Network::Regtest);
    let coins = utxos(&w, &[100_000]);
    assert!(matches!(build_and_sign(&w, &coins, &[], 1), Err(TxError::EmptyTemplate)));
    let two = [OutputSpec::Change, OutputSpec::Change];
    assert!(matches!(build_and_sign(&w, &coins, &two, 1), Err(TxError::MultipleChange { count: 2 })));
    let long = [OutputSpec::Data(vec![0; 81]), OutputSpec::Change];
    assert!(matches!(build_and_sign(&w, &coins, &long, 1), Err(TxError::DataTooLarge { index: 0, len: 81, max: 80 })));
    let ok80 = [OutputSpec::Data(vec![0; 80]), OutputSpec::Change];
    assert!(build_and_sign(&w, &coins, &ok80, 1).is_ok());

    let other = Wallet::generate(Network::Regtest);
    let mut mixed = coins.clone();
    mixed.extend(utxos(&other, &[0, 5]).into_iter().skip(1));
    assert!(matches!(build_and_sign(&w, &mixed, &ok80, 1), Err(TxError::ForeignUtxo { .. })));
    let dup = [coins[0].clone(), coins[0].clone()];
    assert!(matches!(build_and_sign(&w, &dup, &ok80, 1), Err(TxError::DuplicateUtxo { .. })));

    // Without Change a big leftover is refused; an exact fit is accepted.
    let pay = |v| [OutputSpec::Data(b"x".to_vec()), OutputSpec::Pay { script: burn(), value: Amount::from_sat(v) }];
    let err = build_and_sign(&w, &coins, &pay(50_000), 1).unwrap_err();
    assert!(matches!(err, TxError::ExcessFee { .. }), "{err}");
    let fee = estimate_vsize(1, &[3, 25]);
    let tx = build_and_sign(&w, &coins, &pay(100_000 - fee - 100), 1).unwrap();
    assert_eq!(tx.output.len(), 2);
    assert!(matches!(build_and_sign(&w, &coins, &ok80, u64::MAX), Err(TxError::AmountOverflow)));
}

#[test]
fn tx_without_low_r_signs_high_r_too_and_stays_within_the_estimate() {
    let w = Wallet::generate(Network::Regtest).without_low_r();
    let coins = utxos(&w, &[50_000]);
    let der_len = |tx: &Transaction| tx.input[0].script_sig.as_bytes()[0] as usize - 1;
    let mut lens = std::collections::BTreeSet::new();
    // Each of 64 messages has a high R with probability 1/2.
    for i in 0..64u64 {
        let template = [OutputSpec::Data(i.to_le_bytes().to_vec()), OutputSpec::Change];
        let tx = build_and_sign(&w, &coins, &template, 1).unwrap();
        assert_signed(&tx, std::slice::from_ref(&coins[0].1), &w);
        assert!(tx.vsize() as u64 <= estimate_vsize(1, &[10, 25]), "estimate < real {}", tx.vsize());
        lens.insert(der_len(&tx));
    }
    assert!(lens.contains(&71), "some signature has a 33-byte (high) R: {lens:?}");
    // The default wallet grinds: never a high R.
    let low = Wallet::generate(Network::Regtest);
    let coins = utxos(&low, &[50_000]);
    for i in 0..16u64 {
        let tx = build_and_sign(&low, &coins, &[OutputSpec::Data(i.to_le_bytes().to_vec()), OutputSpec::Change], 1);
        assert!(der_len(&tx.unwrap()) <= 70);
    }
}

#[test]
fn tx_successor_is_the_next_key_with_its_public_key() {
    let w = Wallet::generate(Network::Regtest).without_low_r();
    let mut keys = std::collections::HashSet::new();
    let mut k = w.clone();
    for _ in 0..20 {
        let next = k.successor().unwrap();
        // The same key loaded the slow way has the same public key.
        let reloaded = Wallet::from_wif(&next.to_wif()).unwrap();
        assert_eq!(next.public_key(), reloaded.public_key());
        assert_eq!(next.address(), reloaded.address());
        assert!(keys.insert(next.public_key()), "keys repeat");
        k = next;
    }
    // It signs like its parent (no low-R grinding) and its signatures verify.
    let coins = utxos(&k, &[50_000]);
    let tx = build_and_sign(&k, &coins, &[OutputSpec::Change], 1).unwrap();
    assert_signed(&tx, std::slice::from_ref(&coins[0].1), &k);
    // The last key has no successor.
    let max = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140";
    let secret = SecretKey::from_slice(&hex::decode(max).unwrap()).unwrap();
    let last = Wallet::from_wif(&bitcoin::PrivateKey::new(secret, Network::Regtest).to_wif()).unwrap();
    assert!(last.successor().is_none());
}
