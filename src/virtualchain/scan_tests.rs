//! Tests of `scan::decode_tx` on real `bitcoin::Transaction`s: signed p2pkh
//! senders, output rules, registration vs renewal, and the rejections.

use bitcoin::absolute::LockTime;
use bitcoin::hashes::Hash;
use bitcoin::script::{Builder, PushBytesBuf};
use bitcoin::secp256k1::{Message, Secp256k1, SecretKey};
use bitcoin::sighash::{EcdsaSighashType, SighashCache};
use bitcoin::transaction::Version;
use bitcoin::{
    Address, Amount, Network, OutPoint, PublicKey, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid, WPubkeyHash,
    Witness,
};

use super::scan::{burn_address, candidate_payload, decode_tx, op_return_data, Fee, OpKind, Recipient, ScanError};
use super::wire::{
    payload, Expected, NameImport, NamePreorder, NameRegistration, NameTransfer, NamespacePreorder, NamespaceReveal,
    Op, Opcode, TokenTransfer, WireError,
};
use crate::hash::{ConsensusHash, NameHash128, PreorderHash, ValueHash};

const MAGIC: [u8; 2] = *b"id";

fn key(seed: u8, compressed: bool) -> (SecretKey, PublicKey) {
    let sk = SecretKey::from_slice(&[seed; 32]).unwrap();
    let mut pk = PublicKey::new(sk.public_key(&Secp256k1::new()));
    pk.compressed = compressed;
    (sk, pk)
}

fn p2pkh(pk: &PublicKey) -> ScriptBuf {
    ScriptBuf::new_p2pkh(&pk.pubkey_hash())
}

fn op_return(op: &Op) -> ScriptBuf {
    ScriptBuf::new_op_return(PushBytesBuf::try_from(payload(MAGIC, op)).unwrap())
}

fn out(script: ScriptBuf, sat: u64) -> TxOut {
    TxOut { value: Amount::from_sat(sat), script_pubkey: script }
}

fn burn_script() -> ScriptBuf {
    ScriptBuf::from_bytes([&[0x76, 0xa9, 0x14][..], &[0; 20], &[0x88, 0xac]].concat())
}

fn unsigned(n_inputs: usize, outputs: Vec<TxOut>) -> Transaction {
    Transaction {
        version: Version::ONE,
        lock_time: LockTime::ZERO,
        input: (0..n_inputs)
            .map(|i| TxIn {
                previous_output: OutPoint::new(Txid::from_byte_array([i as u8 + 1; 32]), 0),
                script_sig: ScriptBuf::new(),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            })
            .collect(),
        output: outputs,
    }
}

/// Signs input `index` (SIGHASH_ALL) as a p2pkh spend of `prev` by `sk`/`pk`.
fn sign_p2pkh(tx: &mut Transaction, index: usize, prev: &TxOut, sk: &SecretKey, pk: &PublicKey) {
    let secp = Secp256k1::new();
    let sighash = SighashCache::new(&*tx)
        .legacy_signature_hash(index, &prev.script_pubkey, EcdsaSighashType::All.to_u32())
        .unwrap();
    let msg = Message::from_digest(sighash.to_byte_array());
    let sig = secp.sign_ecdsa(&msg, sk);
    secp.verify_ecdsa(&msg, &sig, &pk.inner).unwrap();
    let sig = bitcoin::ecdsa::Signature::sighash_all(sig);
    tx.input[index].script_sig = Builder::new().push_slice(sig.serialize()).push_key(pk).into_script();
}

fn preorder_op() -> Op {
    Op::NamePreorder(NamePreorder {
        preorder_hash: PreorderHash([0x11; 20]),
        consensus_hash: ConsensusHash([0x22; 16]),
        tokens: None,
    })
}

/// A signed single-input tx carrying `op` with `outputs` after the OP_RETURN.
fn signed_tx(op: &Op, rest: Vec<TxOut>, compressed: bool) -> (Transaction, Vec<TxOut>, PublicKey) {
    let (sk, pk) = key(7, compressed);
    let prev = out(p2pkh(&pk), 100_000);
    let mut outputs = vec![out(op_return(op), 0)];
    outputs.extend(rest);
    let mut tx = unsigned(1, outputs);
    sign_p2pkh(&mut tx, 0, &prev, &sk, &pk);
    (tx, vec![prev], pk)
}

fn decode(tx: &Transaction, prevouts: &[TxOut], epoch: u8) -> Result<super::OpTx, ScanError> {
    decode_tx(tx, 5, prevouts, MAGIC, epoch, Network::Bitcoin)
}

#[test]
fn signed_preorder_gives_sender_address_pubkey_and_fee() {
    for compressed in [true, false] {
        let (_, change) = key(9, true);
        let op = preorder_op();
        let (tx, prevouts, pk) = signed_tx(&op, vec![out(p2pkh(&change), 5000), out(burn_script(), 6400)], compressed);
        assert_eq!(candidate_payload(&tx, MAGIC), Some(&payload(MAGIC, &op)[2..]));
        let got = decode(&tx, &prevouts, 1).unwrap();
        assert_eq!(got.txid, tx.compute_txid());
        assert_eq!(got.vtxindex, 5);
        assert_eq!(got.op, op);
        assert_eq!(got.kind, OpKind::NamePreorder);
        assert_eq!(got.op_string(), "?");
        assert_eq!(got.sender, p2pkh(&pk));
        assert_eq!(got.address, Address::p2pkh(pk, Network::Bitcoin).to_string());
        assert_eq!(got.sender_pubkey, Some(pk.to_bytes()));
        assert_eq!(got.sender_pubkey.as_ref().unwrap().len(), if compressed { 33 } else { 65 });
        assert_eq!(got.fee, Some(Fee { amount: 6400, address: "1111111111111111111114oLvT2".to_string() }));
        assert_eq!(got.recipient, None);
        // Testnet renders the same scripts with testnet version bytes.
        let t = decode_tx(&tx, 5, &prevouts, MAGIC, 1, Network::Testnet).unwrap();
        assert_eq!(t.address, Address::p2pkh(pk, Network::Testnet).to_string());
    }
}

#[test]
fn id_namespace_preorder_from_mainnet_docs() {
    // /v1/namespaces/id: sender, uncompressed pubkey, 40 BTC burn.
    let sender = ScriptBuf::from_hex("76a914cc4c07c0ef988b7bae982ce1ece51615258a15e388ac").unwrap();
    let pubkey = "047c7f6d1f71780ccd373a7d2a020a1aeb7d47639e86fe951f5ba23a9ca8d6f7cfb03ed7ca411b22fa5244b9998d27d9c7bf7f0603f1997d1c7b3dc5a9b342c554";
    let op = Op::NamespacePreorder(NamespacePreorder {
        preorder_hash: "9f1ad5039dbdabc2d98a87486ae1c478f03cd564".parse().unwrap(),
        consensus_hash: "17ac43c1d8549c3181b200f1bf97eb7d".parse().unwrap(),
        stx_fee: None,
    });
    let mut tx = unsigned(1, vec![out(op_return(&op), 0), out(sender.clone(), 1), out(burn_script(), 4_000_000_000)]);
    let pk = PushBytesBuf::try_from(hex::decode(pubkey).unwrap()).unwrap();
    tx.input[0].script_sig = Builder::new().push_slice([0x30u8; 71]).push_slice(pk).into_script();
    let got = decode(&tx, &[out(sender, 4_100_000_000)], 1).unwrap();
    assert_eq!(got.address, "1KdDvp1DJ4EYUZc8savutRN4vv1ZwvGfQf");
    assert_eq!(got.sender_pubkey_hex().as_deref(), Some(pubkey));
    assert_eq!(got.fee, Some(Fee { amount: 4_000_000_000, address: burn_address(Network::Bitcoin) }));
    assert_eq!(got.op_string(), "*");
}

#[test]
fn rejects_segwit_senders_wrong_counts_and_nonstandard_outputs() {
    let (_, change) = key(9, true);
    let op = preorder_op();
    let (tx, prevouts, _) = signed_tx(&op, vec![out(p2pkh(&change), 5000), out(burn_script(), 6400)], true);

    // A native segwit sender (any input) disqualifies the tx.
    let wpkh = out(ScriptBuf::new_p2wpkh(&WPubkeyHash::from_byte_array([3; 20])), 1000);
    assert_eq!(decode(&tx, std::slice::from_ref(&wpkh), 1), Err(ScanError::BadSender { input: 0 }));
    let mut two = tx.clone();
    two.input.push(two.input[0].clone());
    assert_eq!(decode(&two, &[prevouts[0].clone(), wpkh.clone()], 1), Err(ScanError::BadSender { input: 1 }));
    assert_eq!(decode(&two, &prevouts, 1), Err(ScanError::PrevoutCount { inputs: 2, prevouts: 1 }));

    // A preorder needs exactly 3 outputs.
    let mut four = tx.clone();
    four.output.push(out(p2pkh(&change), 1));
    assert_eq!(
        decode(&four, &prevouts, 1),
        Err(ScanError::OutputCount { op: Opcode::NamePreorder, count: 4, expected: Expected::Exactly(3) })
    );

    // Output 2 must be nulldata / p2pkh / p2sh.
    let mut bad = tx.clone();
    bad.output[2] = wpkh;
    assert_eq!(decode(&bad, &prevouts, 1), Err(ScanError::OutputType { op: Opcode::NamePreorder, index: 2 }));
    // An OP_RETURN burn output would pass the type check, but as the last
    // OP_RETURN it replaces the payload (bare 0x6a: no payload at all).
    let mut data_burn = tx.clone();
    data_burn.output[2] = out(ScriptBuf::from_bytes(vec![0x6a]), 6400);
    assert_eq!(decode(&data_burn, &prevouts, 1), Err(ScanError::NoPayload));

    // Payload errors surface as wire errors; the tx is a candidate though.
    let mut short = tx.clone();
    short.output[0] = out(ScriptBuf::new_op_return(b"id?abc"), 0);
    assert!(candidate_payload(&short, MAGIC).is_some());
    assert!(matches!(decode(&short, &prevouts, 1), Err(ScanError::Wire(WireError::BadLength { .. }))));

    let mut coinbase = tx.clone();
    coinbase.input[0].previous_output = OutPoint::null();
    assert_eq!(decode(&coinbase, &prevouts, 1), Err(ScanError::Coinbase));
}

#[test]
fn last_op_return_output_decides() {
    let (_, change) = key(9, true);
    let op = preorder_op();
    let (tx, prevouts, _) = signed_tx(&op, vec![out(p2pkh(&change), 5000), out(burn_script(), 6400)], true);
    assert!(op_return_data(&tx).is_some());
    assert_eq!(decode(&tx, &prevouts, 9), Err(ScanError::Wire(WireError::BadEpoch(9))));
    assert_eq!(decode_tx(&tx, 0, &prevouts, *b"xx", 1, Network::Bitcoin), Err(ScanError::NoPayload));

    // A later OP_RETURN without the magic wins over an earlier one with it.
    let mut later = tx.clone();
    later.output.push(out(ScriptBuf::new_op_return(b"hello"), 0));
    assert_eq!(candidate_payload(&later, MAGIC), None);
    // A later malformed OP_RETURN (no push, or two pushes) hides it too.
    for junk in [vec![0x6a], vec![0x6a, 0x52], vec![0x6a, 0x01, 0x01, 0x01, 0x02]] {
        let mut t = tx.clone();
        t.output.push(out(ScriptBuf::from_bytes(junk), 0));
        assert_eq!(candidate_payload(&t, MAGIC), None);
    }
    // A truncated push still yields the bytes present (Python slicing).
    let mut t = tx.clone();
    t.output[0] = out(ScriptBuf::from_bytes(vec![0x6a, 0x09, b'i', b'd', b'!', b'.', b'i', b'd']), 0);
    assert_eq!(candidate_payload(&t, MAGIC), Some(&b"!.id"[..]));
    // Unknown opcode byte: not a candidate.
    t.output[0] = out(ScriptBuf::new_op_return(b"idZ"), 0);
    assert_eq!(candidate_payload(&t, MAGIC), None);
}

#[test]
fn registration_renewal_and_token_fields() {
    let (_, owner) = key(9, true);
    let reg = |tokens: Option<u64>| {
        Op::NameRegistration(NameRegistration {
            name: "muneeb.id".into(),
            value_hash: Some(ValueHash([0x33; 20])),
            tokens,
        })
    };
    let recipient = Recipient { script: p2pkh(&owner), address: Address::p2pkh(owner, Network::Bitcoin).to_string() };

    let (tx, prev, _) = signed_tx(&reg(None), vec![out(p2pkh(&owner), 5500)], true);
    let got = decode(&tx, &prev, 3).unwrap();
    assert_eq!((got.kind, got.op_string()), (OpKind::NameRegistration, ":"));
    assert_eq!(got.recipient.as_ref(), Some(&recipient));
    assert_eq!(got.fee, None);
    assert!(decode(&tx, &prev, 4).is_ok()); // 57 bytes: fine for a registration

    let (tx, prev, _) = signed_tx(&reg(Some(5)), vec![out(p2pkh(&owner), 5500)], true);
    assert_eq!(decode(&tx, &prev, 4), Err(ScanError::RegistrationTokens(5)));
    let (tx, prev, _) = signed_tx(&reg(Some(0)), vec![out(p2pkh(&owner), 5500)], true);
    assert!(decode(&tx, &prev, 4).is_ok());

    let renew_outs = || vec![out(p2pkh(&owner), 5500), out(p2pkh(&owner), 1), out(burn_script(), 2500)];
    let (tx, prev, _) = signed_tx(&reg(Some(9)), renew_outs(), true);
    let got = decode(&tx, &prev, 4).unwrap();
    assert_eq!((got.kind, got.op_string(), got.kind.name()), (OpKind::NameRenewal, "::", "NAME_RENEWAL"));
    assert_eq!(got.fee, Some(Fee { amount: 2500, address: burn_address(Network::Bitcoin) }));
    assert_eq!(got.recipient, Some(recipient));

    let (tx, prev, _) = signed_tx(&reg(None), renew_outs(), true);
    assert_eq!(decode(&tx, &prev, 4), Err(ScanError::RenewalWithoutTokens { epoch: 4 }));
    assert!(decode(&tx, &prev, 3).is_ok()); // epoch 3: token_fee is 0

    // The payment output is not type-checked, but must have an address:
    // v0 segwit has one (payment checks reject it later), p2pk does not.
    let mut outs = renew_outs();
    outs[2] = out(ScriptBuf::new_p2wpkh(&WPubkeyHash::from_byte_array([3; 20])), 2500);
    let (tx, prev, _) = signed_tx(&reg(Some(9)), outs.clone(), true);
    assert!(decode(&tx, &prev, 4).unwrap().fee.unwrap().address.starts_with("bc1q"));
    outs[2] = out(ScriptBuf::new_p2pk(&owner), 2500);
    let (tx, prev, _) = signed_tx(&reg(Some(9)), outs, true);
    assert_eq!(decode(&tx, &prev, 4), Err(ScanError::NoAddress { op: Opcode::NameRegistration, index: 3 }));

    // Owner output must be p2pkh / p2sh.
    let wpkh = out(ScriptBuf::new_p2wpkh(&WPubkeyHash::from_byte_array([3; 20])), 1);
    let (tx, prev, _) = signed_tx(&reg(None), vec![wpkh], true);
    assert_eq!(decode(&tx, &prev, 3), Err(ScanError::OutputType { op: Opcode::NameRegistration, index: 1 }));
    let (tx, prev, _) = signed_tx(&reg(None), vec![], true);
    assert!(matches!(decode(&tx, &prev, 3), Err(ScanError::OutputCount { count: 1, .. })));
}

#[test]
fn transfer_import_reveal_and_token_transfer_outputs() {
    let (_, owner) = key(9, true);
    for (keep, s) in [(true, ">>"), (false, ">~")] {
        let op = Op::NameTransfer(NameTransfer {
            keep_data: keep,
            name_hash128: NameHash128::of_name("muneeb.id"),
            consensus_hash: ConsensusHash([1; 16]),
        });
        let (tx, prev, _) = signed_tx(&op, vec![out(p2pkh(&owner), 5500)], true);
        let got = decode(&tx, &prev, 2).unwrap();
        assert_eq!(got.op_string(), s);
        assert_eq!(got.recipient.unwrap().script, p2pkh(&owner));
    }

    let import = Op::NameImport(NameImport { name: "muneeb.id".into() });
    let value_script = ScriptBuf::from_bytes([&[0x76, 0xa9, 0x14][..], &[0x5a; 20], &[0x88, 0xac]].concat());
    let (tx, prev, _) = signed_tx(&import, vec![out(p2pkh(&owner), 1), out(value_script, 1)], true);
    let got = decode(&tx, &prev, 1).unwrap();
    assert_eq!(got.import_value_hash, Some(ValueHash([0x5a; 20])));
    assert_eq!(got.op_string(), ";");
    let (tx, prev, _) = signed_tx(&import, vec![out(p2pkh(&owner), 1), out(ScriptBuf::new_op_return(b"x"), 1)], true);
    assert_eq!(decode(&tx, &prev, 1), Err(ScanError::NoPayload)); // last OP_RETURN wins

    let reveal = Op::NamespaceReveal(NamespaceReveal {
        lifetime: 52595,
        coeff: 250,
        base: 4,
        buckets: [6, 5, 4, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        nonalpha_discount: 10,
        no_vowel_discount: 10,
        version: 1,
        namespace_id: "id".into(),
    });
    let (tx, prev, _) = signed_tx(&reveal, vec![out(p2pkh(&owner), 1), out(p2pkh(&owner), 1)], true);
    assert!(decode(&tx, &prev, 1).unwrap().recipient.is_some());
    let (tx, prev, _) = signed_tx(&reveal, vec![out(p2pkh(&owner), 1)], true);
    assert!(matches!(decode(&tx, &prev, 1), Err(ScanError::OutputCount { expected: Expected::Exactly(3), .. })));

    // Core never looks up the sender's public key for a token transfer.
    let tt = Op::TokenTransfer(TokenTransfer {
        consensus_hash: ConsensusHash([0; 16]),
        token_type: "STACKS".into(),
        amount: 10,
        scratch: vec![],
    });
    let (tx, prev, _) = signed_tx(&tt, vec![out(p2pkh(&owner), 5500)], true);
    let got = decode(&tx, &prev, 5).unwrap();
    assert_eq!((got.sender_pubkey.clone(), got.op_string()), (None, "$"));
    assert!(matches!(decode(&tx, &prev, 3), Err(ScanError::Wire(WireError::NotInEpoch { .. }))));
}

#[test]
fn sender_pubkey_scan_rules() {
    let (_, change) = key(9, true);
    let op = preorder_op();
    let rest = || vec![out(p2pkh(&change), 5000), out(burn_script(), 6400)];

    // p2sh sender: no pubkey lookup, base58 '3' address.
    let (mut tx, _, pk) = signed_tx(&op, rest(), true);
    let p2sh = out(ScriptBuf::new_p2sh(&ScriptBuf::new_p2pkh(&pk.pubkey_hash()).script_hash()), 1);
    let got = decode(&tx, &[p2sh], 1).unwrap();
    assert!(got.address.starts_with('3'));
    assert_eq!(got.sender_pubkey, None);

    // The pubkey may sit in any input's scriptSig; the first match wins.
    let (sk2, pk2) = key(8, true);
    let prev2 = out(p2pkh(&pk2), 1);
    tx.input.insert(0, tx.input[0].clone());
    tx.input[0].previous_output.vout = 1;
    sign_p2pkh(&mut tx, 0, &prev2, &sk2, &pk2);
    let prev1 = out(p2pkh(&pk), 1);
    let got = decode(&tx, &[prev1.clone(), prev2.clone()], 1).unwrap();
    assert_eq!(got.sender_pubkey, Some(pk.to_bytes()));

    // Three pushes, or a key that does not hash to the sender: no pubkey.
    let mut three = tx.clone();
    for i in 0..2 {
        three.input[i].script_sig =
            Builder::new().push_slice([1u8; 10]).push_slice([2u8; 10]).push_key(&pk).into_script();
    }
    assert_eq!(decode(&three, &[prev1.clone(), prev2.clone()], 1).unwrap().sender_pubkey, None);
    assert_eq!(decode(&tx, &[prev2.clone(), prev2.clone()], 1).unwrap().sender_pubkey, Some(pk2.to_bytes()));

    // A hybrid (0x06/0x07) encoding of the right key is not accepted by keylib.
    let (_, upk) = key(7, false);
    let mut hybrid = upk.to_bytes();
    hybrid[0] = 6 + (hybrid[64] & 1);
    let mut h = tx.clone();
    h.input.truncate(1);
    h.input[0].script_sig = Builder::new()
        .push_slice([0x30u8; 71])
        .push_slice(PushBytesBuf::try_from(hybrid.clone()).unwrap())
        .into_script();
    let hybrid_sender = out(ScriptBuf::new_p2pkh(&bitcoin::PubkeyHash::hash(&hybrid)), 1);
    assert_eq!(decode(&h, &[hybrid_sender], 1).unwrap().sender_pubkey, None);
}

#[test]
fn burn_address_per_network() {
    assert_eq!(burn_address(Network::Bitcoin), "1111111111111111111114oLvT2");
    assert_ne!(burn_address(Network::Regtest), burn_address(Network::Bitcoin));
    assert_eq!(burn_address(Network::Regtest), burn_address(Network::Testnet));
}
