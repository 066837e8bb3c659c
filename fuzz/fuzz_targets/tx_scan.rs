//! Arbitrary bytes -> a Bitcoin transaction (consensus-deserialized if the
//! bytes are one, else carved out of the bytes so that most carry an
//! `OP_RETURN "id" <opcode> ...` output) plus the outputs its inputs spend;
//! then `candidate_payload` and `decode_tx` for every epoch on mainnet and
//! regtest. Never panics; a decoded op is the payload's `Op::decode`.
#![no_main]

use std::sync::OnceLock;

use arbitrary::{Result, Unstructured};
use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use bitcoin::{
    absolute, transaction, Amount, Network, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid, Witness,
};
use bns::hash::hash160;
use bns::virtualchain::scan::{candidate_payload, decode_tx, ScanError};
use bns::virtualchain::wire::{Op, Opcode, MAX_EPOCH, MIN_EPOCH};
use libfuzzer_sys::fuzz_target;

const MAGIC: [u8; 2] = *b"id";

/// Public keys as keylib accepts them: compressed, uncompressed, raw x||y.
fn pubkeys() -> &'static [Vec<u8>] {
    static KEYS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let secp = Secp256k1::new();
        let mut keys = Vec::new();
        for k in 1u8..=3 {
            let sk = SecretKey::from_slice(&[k; 32]).expect("key");
            let pk = PublicKey::from_secret_key(&secp, &sk);
            keys.push(pk.serialize().to_vec());
            let full = pk.serialize_uncompressed();
            keys.push(full.to_vec());
            keys.push(full[1..].to_vec());
        }
        keys
    })
}

fn p2pkh(h: &[u8; 20]) -> ScriptBuf {
    let mut s = vec![0x76, 0xa9, 0x14];
    s.extend_from_slice(h);
    s.extend_from_slice(&[0x88, 0xac]);
    ScriptBuf::from_bytes(s)
}

fn p2sh(h: &[u8; 20]) -> ScriptBuf {
    let mut s = vec![0xa9, 0x14];
    s.extend_from_slice(h);
    s.push(0x87);
    ScriptBuf::from_bytes(s)
}

fn segwit(u: &mut Unstructured) -> Result<ScriptBuf> {
    let mut s = if u.arbitrary()? { vec![0x00, 0x14] } else { vec![0x00, 0x20] };
    let n = if s[1] == 0x14 { 20 } else { 32 };
    s.extend_from_slice(u.bytes(n.min(u.len()))?);
    Ok(ScriptBuf::from_bytes(s))
}

fn garbage(u: &mut Unstructured, max: usize) -> Result<Vec<u8>> {
    let n = u.int_in_range(0..=max)?;
    Ok(u.bytes(n.min(u.len()))?.to_vec())
}

/// `data` as one push, in the encodings virtualchain's tokenizer reads
/// (sometimes with a lying length).
fn push(u: &mut Unstructured, data: &[u8]) -> Result<Vec<u8>> {
    let mut s = Vec::with_capacity(data.len() + 5);
    match u.int_in_range(0..=7)? {
        0 => {
            s.push(0x4c);
            s.push(data.len() as u8);
        }
        1 => {
            s.push(0x4d);
            s.extend_from_slice(&(data.len() as u16).to_le_bytes());
        }
        2 => {
            s.push(0x4e);
            s.extend_from_slice(&(data.len() as u32).to_le_bytes());
        }
        3 => s.push(u.int_in_range(1..=78)?), // any length byte
        _ if data.len() <= 75 => s.push(data.len() as u8),
        _ => {
            s.push(0x4c);
            s.push(data.len() as u8);
        }
    }
    s.extend_from_slice(data);
    Ok(s)
}

fn name(u: &mut Unstructured) -> Result<Vec<u8>> {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789-_+.";
    let n = u.int_in_range(1..=16)?;
    let mut s = Vec::new();
    for _ in 0..n {
        s.push(CHARS[u.choose_index(CHARS.len())?]);
    }
    if u.ratio(7, 8)? {
        s.extend_from_slice(if u.arbitrary()? { b".id" } else { b".btc" });
    }
    Ok(s)
}

/// An op payload (opcode byte first) shaped like a real one most of the time.
fn op_payload(u: &mut Unstructured) -> Result<Vec<u8>> {
    let mut p =
        vec![if u.ratio(15, 16)? { Opcode::ALL[u.choose_index(Opcode::ALL.len())?].byte() } else { u.arbitrary()? }];
    match u.int_in_range(0..=5)? {
        0 => p.extend(garbage(u, 80)?),
        1 | 2 => {
            let len = *u.choose(&[20usize, 33, 36, 43, 44, 57, 63, 65, 18, 19])?;
            let start = p.len();
            p.resize(start + len, 0);
            u.fill_buffer(&mut p[start..])?;
            match (p[0], len) {
                (b'>', 33) => p[start] = if u.arbitrary()? { b'>' } else { b'~' },
                (b':', 57 | 65) => {
                    let n = name(u)?;
                    let k = n.len().min(37);
                    p[start..start + 37].fill(0);
                    p[start..start + k].copy_from_slice(&n[..k]);
                }
                (b'?', 63) => {
                    p[start + 36..start + 44].fill(0);
                    p[start + 44..start + 63].fill(0);
                    p[start + 44..start + 50].copy_from_slice(b"STACKS");
                }
                (b'$', 43) => {
                    p[start + 16..start + 35].fill(0);
                    p[start + 16..start + 22].copy_from_slice(b"STACKS");
                }
                _ => {}
            }
        }
        3 => p.extend(name(u)?),
        4 => {
            p.push(b'.');
            p.extend(garbage(u, 3)?.iter().map(|b| b'a' + b % 26));
        }
        _ => {
            // Namespace reveal: 17 header bytes then an id.
            let mut h = [0u8; 17];
            u.fill_buffer(&mut h)?;
            h[15] = 0;
            h[16] = u.int_in_range(1..=3)?;
            p.extend_from_slice(&h);
            p.extend(garbage(u, 4)?.iter().map(|b| b'a' + b % 26));
        }
    }
    Ok(p)
}

fn output_script(u: &mut Unstructured, magic: [u8; 2]) -> Result<ScriptBuf> {
    let mut h = [0u8; 20];
    Ok(match u.int_in_range(0..=9)? {
        0..=2 => {
            let mut data = magic.to_vec();
            data.extend(op_payload(u)?);
            let mut s = vec![0x6a];
            s.extend(push(u, &data)?);
            if u.ratio(1, 16)? {
                s.extend(garbage(u, 4)?);
            }
            ScriptBuf::from_bytes(s)
        }
        3 | 4 => {
            u.fill_buffer(&mut h)?;
            p2pkh(&h)
        }
        5 => {
            u.fill_buffer(&mut h)?;
            p2sh(&h)
        }
        6 => segwit(u)?,
        7 => {
            let mut s = vec![0x6a];
            s.extend(garbage(u, 20)?);
            ScriptBuf::from_bytes(s)
        }
        _ => ScriptBuf::from_bytes(garbage(u, 40)?),
    })
}

struct Case {
    tx: Transaction,
    prevouts: Vec<TxOut>,
    magic: [u8; 2],
    vtxindex: u32,
}

fn carve(u: &mut Unstructured) -> Result<Case> {
    let magic = if u.ratio(1, 16)? { u.arbitrary()? } else { MAGIC };
    let vtxindex = u.arbitrary()?;
    let keys = pubkeys();
    let n_in = u.int_in_range(0..=4)?;
    let mut input = Vec::with_capacity(n_in);
    let mut signer: Vec<Option<&Vec<u8>>> = Vec::with_capacity(n_in);
    for _ in 0..n_in {
        let previous_output = if u.ratio(1, 16)? {
            OutPoint::null()
        } else {
            OutPoint { txid: Txid::from_byte_array(u.arbitrary()?), vout: u.arbitrary()? }
        };
        let (script_sig, key) = match u.int_in_range(0..=3)? {
            0 | 1 => {
                let key = &keys[u.choose_index(keys.len())?];
                let sig = garbage(u, 72)?;
                let mut s = push(u, &sig)?;
                s.extend(push(u, key)?);
                (s, Some(key))
            }
            2 => (garbage(u, 120)?, None),
            _ => (Vec::new(), None),
        };
        signer.push(key);
        input.push(TxIn {
            previous_output,
            script_sig: ScriptBuf::from_bytes(script_sig),
            sequence: Sequence(u.arbitrary()?),
            witness: Witness::new(),
        });
    }
    let n_out = u.int_in_range(0..=6)?;
    let mut output = Vec::with_capacity(n_out);
    for _ in 0..n_out {
        output.push(TxOut { value: Amount::from_sat(u.arbitrary()?), script_pubkey: output_script(u, magic)? });
    }
    let mut n_prev = n_in;
    if u.ratio(1, 32)? {
        n_prev = u.int_in_range(0..=5)?;
    }
    let mut prevouts = Vec::with_capacity(n_prev);
    for i in 0..n_prev {
        let mut h = [0u8; 20];
        let script = match u.int_in_range(0..=7)? {
            0..=2 => match signer.get(i).copied().flatten() {
                Some(key) => p2pkh(&hash160(key)),
                None => {
                    u.fill_buffer(&mut h)?;
                    p2pkh(&h)
                }
            },
            3 => {
                // Some other input's key, or any key.
                let key = &keys[u.choose_index(keys.len())?];
                p2pkh(&hash160(key))
            }
            4 => {
                u.fill_buffer(&mut h)?;
                p2sh(&h)
            }
            5 => segwit(u)?,
            _ => ScriptBuf::from_bytes(garbage(u, 30)?),
        };
        prevouts.push(TxOut { value: Amount::from_sat(u.arbitrary()?), script_pubkey: script });
    }
    let tx = Transaction {
        version: transaction::Version(u.arbitrary()?),
        lock_time: absolute::LockTime::from_consensus(u.arbitrary()?),
        input,
        output,
    };
    Ok(Case { tx, prevouts, magic, vtxindex })
}

/// Prevouts for a deserialized transaction: p2pkh of the key its scriptSig
/// seems to push last, else p2sh of its hash.
fn prevouts_for(tx: &Transaction) -> Vec<TxOut> {
    tx.input
        .iter()
        .enumerate()
        .map(|(i, txin)| {
            let sig = txin.script_sig.as_bytes();
            let script = match sig.len() {
                n if n >= 33 && i % 2 == 0 => p2pkh(&hash160(&sig[n - 33..])),
                _ => p2sh(&hash160(sig)),
            };
            TxOut { value: Amount::ZERO, script_pubkey: script }
        })
        .collect()
}

fn scan(case: &Case) {
    let Case { tx, prevouts, magic, vtxindex } = case;
    let payload = candidate_payload(tx, *magic);
    for epoch in MIN_EPOCH..=MAX_EPOCH {
        for network in [Network::Bitcoin, Network::Regtest] {
            let r = decode_tx(tx, *vtxindex, prevouts, *magic, epoch, network);
            match (&r, payload) {
                (Err(ScanError::NoPayload), None) => {}
                (_, None) => panic!("no candidate payload but decode_tx gave {r:?}"),
                (Ok(optx), Some(p)) => {
                    assert_eq!(Op::decode(p, epoch).as_ref(), Ok(&optx.op), "op differs from payload decode");
                    assert_eq!(optx.txid, tx.compute_txid());
                    assert_eq!(optx.vtxindex, *vtxindex);
                    assert_eq!(Some(&optx.sender), prevouts.first().map(|p| &p.script_pubkey));
                    assert_eq!(optx.opcode().byte(), p[0]);
                }
                (Err(_), Some(_)) => {}
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(tx) = bitcoin::consensus::deserialize::<Transaction>(data) {
        let prevouts = prevouts_for(&tx);
        scan(&Case { tx, prevouts, magic: MAGIC, vtxindex: 1 });
        return;
    }
    let mut u = Unstructured::new(data);
    if let Ok(case) = carve(&mut u) {
        scan(&case);
    }
});
