//! Wire tests: Core-differential vectors, a round-trip table for every op
//! and epoch variant, and seeded randomized decode / round-trip checks.

use super::*;
use crate::hash::{AnnounceHash, ConsensusHash, NameConsensusHash, NameHash128, PreorderHash, ValueHash};
use crate::virtualchain::b40::B40_CHARS;
use crate::virtualchain::preorder::namespace_preorder_hash;
use bitcoin::ScriptBuf;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

const CORE_VECTORS: &str = include_str!("../../../tests/vectors/wire_core_parse.json");

/// The dict Core's `parse()` returns for `op`, restricted to the fields the
/// vector generator kept.
fn core_view(op: &Op, epoch: u8, reveal_sender: &ScriptBuf, reveal_addr: &str) -> Value {
    match op {
        Op::NamePreorder(p) => json!({
            "preorder_hash": p.preorder_hash.to_hex(),
            "consensus_hash": p.consensus_hash.to_hex(),
            "token_fee": p.tokens.as_ref().map(|t| t.amount),
            "token_units": p.tokens.as_ref().map(|t| t.units.clone()),
        }),
        Op::NameRegistration(r) => json!({
            "name": r.name,
            "value_hash": r.value_hash.map(|h| h.to_hex()),
            "token_fee": r.token_fee(epoch),
        }),
        Op::NameUpdate(u) => json!({
            "name_consensus_hash": u.name_consensus_hash.to_hex(),
            "value_hash": u.value_hash.to_hex(),
        }),
        Op::NameTransfer(t) => json!({
            "name_hash128": t.name_hash128.to_hex(),
            "consensus_hash": t.consensus_hash.to_hex(),
            "keep_data": t.keep_data,
        }),
        Op::NameRevoke(r) => json!({ "name": r.name }),
        Op::NameImport(i) => json!({ "name": i.name }),
        Op::NamespacePreorder(p) => json!({
            "preorder_hash": p.preorder_hash.to_hex(),
            "consensus_hash": p.consensus_hash.to_hex(),
            "token_fee": p.stx_fee,
        }),
        Op::NamespaceReveal(r) => json!({
            "lifetime": r.lifetime,
            "coeff": r.coeff,
            "base": r.base,
            "buckets": r.buckets.to_vec(),
            "version": r.version,
            "nonalpha_discount": r.nonalpha_discount,
            "no_vowel_discount": r.no_vowel_discount,
            "namespace_id": r.namespace_id,
            "preorder_hash": namespace_preorder_hash(&r.namespace_id, reveal_sender, reveal_addr)
                .unwrap()
                .to_hex(),
        }),
        Op::NamespaceReady(r) => json!({ "namespace_id": r.namespace_id }),
        Op::Announce(a) => json!({ "message_hash": a.hash.to_hex() }),
        Op::TokenTransfer(t) => json!({
            "consensus_hash": t.consensus_hash.to_hex(),
            "token_units": t.token_type,
            "token_fee": t.amount,
            "scratch_area": hex::encode(&t.scratch),
        }),
    }
}

#[test]
fn matches_core_parse_on_every_vector() {
    let doc: Value = serde_json::from_str(CORE_VECTORS).unwrap();
    let sender = ScriptBuf::from_hex(doc["reveal_sender"].as_str().unwrap()).unwrap();
    let addr = doc["reveal_address"].as_str().unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() > 1000);
    let (mut accepted, mut rejected) = (0, 0);
    for case in cases {
        let opchar = case["op"].as_str().unwrap().as_bytes()[0];
        let epoch = case["epoch"].as_u64().unwrap() as u8;
        let mut payload = vec![opchar];
        payload.extend(hex::decode(case["body"].as_str().unwrap()).unwrap());
        let got = Op::decode(&payload, epoch);
        match &case["core"] {
            Value::Null => {
                assert!(got.is_err(), "core rejects, bns accepts: {case} -> {got:?}");
                rejected += 1;
            }
            want => {
                let op = got.unwrap_or_else(|e| panic!("core accepts, bns rejects: {case}: {e}"));
                assert_eq!(&core_view(&op, epoch, &sender, addr), want, "{case}");
                // Whatever was decoded re-encodes to something that decodes the same.
                assert_eq!(Op::decode(&op.encode(), epoch).as_ref(), Ok(&op), "{case}");
                accepted += 1;
            }
        }
    }
    assert!(accepted > 200 && rejected > 800, "{accepted} accepted, {rejected} rejected");
}

fn h20(b: u8) -> [u8; 20] {
    [b; 20]
}
fn h16(b: u8) -> [u8; 16] {
    [b; 16]
}

/// One op per type and epoch variant, with the epochs it is valid in and
/// its exact payload (after magic) in hex.
fn table() -> Vec<(Op, std::ops::RangeInclusive<u8>, String)> {
    let reveal = NamespaceReveal {
        lifetime: 52595,
        coeff: 250,
        base: 4,
        buckets: [6, 5, 4, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        nonalpha_discount: 10,
        no_vowel_discount: 10,
        version: 1,
        namespace_id: "id".into(),
    };
    let hx = |s: &str| s.to_string();
    vec![
        (
            Op::NamePreorder(NamePreorder {
                preorder_hash: PreorderHash(h20(0x11)),
                consensus_hash: ConsensusHash(h16(0x22)),
                tokens: None,
            }),
            1..=6,
            format!("3f{}{}", "11".repeat(20), "22".repeat(16)),
        ),
        (
            Op::NamePreorder(NamePreorder {
                preorder_hash: PreorderHash(h20(0x11)),
                consensus_hash: ConsensusHash(h16(0x22)),
                tokens: Some(TokenBurn { amount: 0x0102, units: "STACKS".into() }),
            }),
            4..=6,
            format!(
                "3f{}{}0000000000000102{}{}",
                "11".repeat(20),
                "22".repeat(16),
                hex::encode("STACKS"),
                "00".repeat(13)
            ),
        ),
        (
            Op::NameRegistration(NameRegistration { name: "muneeb.id".into(), value_hash: None, tokens: None }),
            1..=6,
            format!("3a{}", hex::encode("muneeb.id")),
        ),
        (
            Op::NameRegistration(NameRegistration {
                name: "muneeb.id".into(),
                value_hash: Some(ValueHash(h20(0x33))),
                tokens: None,
            }),
            3..=6,
            format!("3a{}{}{}", hex::encode("muneeb.id"), "00".repeat(28), "33".repeat(20)),
        ),
        (
            Op::NameRegistration(NameRegistration {
                name: "muneeb.id".into(),
                value_hash: Some(ValueHash(h20(0x33))),
                tokens: Some(7),
            }),
            4..=6,
            format!("3a{}{}{}0000000000000007", hex::encode("muneeb.id"), "00".repeat(28), "33".repeat(20)),
        ),
        (
            Op::NameUpdate(NameUpdate {
                name_consensus_hash: NameConsensusHash(h16(0x44)),
                value_hash: ValueHash(h20(0x55)),
            }),
            1..=6,
            format!("2b{}{}", "44".repeat(16), "55".repeat(20)),
        ),
        (
            Op::NameTransfer(NameTransfer {
                keep_data: true,
                name_hash128: NameHash128(h16(0x66)),
                consensus_hash: ConsensusHash(h16(0x77)),
            }),
            1..=6,
            format!("3e3e{}{}", "66".repeat(16), "77".repeat(16)),
        ),
        (
            Op::NameTransfer(NameTransfer {
                keep_data: false,
                name_hash128: NameHash128(h16(0x66)),
                consensus_hash: ConsensusHash(h16(0x77)),
            }),
            1..=6,
            format!("3e7e{}{}", "66".repeat(16), "77".repeat(16)),
        ),
        (Op::NameRevoke(NameRevoke { name: "muneeb.id".into() }), 1..=6, format!("7e{}", hex::encode("muneeb.id"))),
        (Op::NameImport(NameImport { name: "muneeb.id".into() }), 1..=6, format!("3b{}", hex::encode("muneeb.id"))),
        (
            Op::NamespacePreorder(NamespacePreorder {
                preorder_hash: PreorderHash(h20(0x88)),
                consensus_hash: ConsensusHash(h16(0x99)),
                stx_fee: None,
            }),
            1..=3,
            format!("2a{}{}", "88".repeat(20), "99".repeat(16)),
        ),
        (
            Op::NamespacePreorder(NamespacePreorder {
                preorder_hash: PreorderHash(h20(0x88)),
                consensus_hash: ConsensusHash(h16(0x99)),
                stx_fee: Some(640_000_000),
            }),
            4..=6,
            format!("2a{}{}000000002625a000", "88".repeat(20), "99".repeat(16)),
        ),
        (Op::NamespaceReveal(reveal), 1..=6, hx("260000cd73fa046543210000000000aa00016964")),
        (Op::NamespaceReady(NamespaceReady { namespace_id: "id".into() }), 1..=6, hx("212e6964")),
        (Op::Announce(Announce { hash: AnnounceHash(h20(0xaa)) }), 1..=6, format!("23{}", "aa".repeat(20))),
        (
            Op::TokenTransfer(TokenTransfer {
                consensus_hash: ConsensusHash(h16(0xbb)),
                token_type: "STACKS".into(),
                amount: 1,
                scratch: b"hi".to_vec(),
            }),
            4..=6,
            format!(
                "24{}{}{}0000000000000001{}",
                "bb".repeat(16),
                hex::encode("STACKS"),
                "00".repeat(13),
                hex::encode("hi")
            ),
        ),
    ]
}

#[test]
fn round_trip_table_every_op_and_epoch_variant() {
    let rows = table();
    let covered: std::collections::BTreeSet<Opcode> = rows.iter().map(|r| r.0.opcode()).collect();
    assert_eq!(covered.len(), Opcode::ALL.len());
    for (op, epochs, hex_payload) in rows {
        let bytes = op.encode();
        assert_eq!(hex::encode(&bytes), hex_payload, "{op:?}");
        assert_eq!(payload(*b"id", &op)[..2], *b"id");
        assert_eq!(payload(*b"id", &op)[2..], bytes[..]);
        for epoch in MIN_EPOCH..=MAX_EPOCH {
            let decoded = Op::decode(&bytes, epoch);
            if epochs.contains(&epoch) {
                assert_eq!(decoded.as_ref(), Ok(&op), "epoch {epoch}");
                assert_eq!(decoded.unwrap().encode(), bytes);
                assert_eq!(op.try_encode(epoch), Ok(bytes.clone()));
            } else {
                assert!(decoded.is_err() || decoded.as_ref() != Ok(&op), "epoch {epoch}: {op:?}");
            }
        }
    }
}

#[test]
fn errors_carry_numbers() {
    assert_eq!(Op::decode(&[], 1), Err(WireError::Empty));
    assert_eq!(Op::decode(b"x", 1), Err(WireError::UnknownOpcode(b'x')));
    assert_eq!(Op::decode(b"?", 0), Err(WireError::BadEpoch(0)));
    assert_eq!(Op::decode(b"?", 7), Err(WireError::BadEpoch(7)));
    assert_eq!(
        Op::decode(&[b'?'; 65], 4),
        Err(WireError::BadLength { op: Opcode::NamePreorder, len: 64, expected: Expected::Either(36, 63) })
    );
    assert_eq!(Op::decode(&[b'$'; 50], 3), Err(WireError::NotInEpoch { op: Opcode::TokenTransfer, epoch: 3 }));
    assert_eq!(
        Op::decode(b"~caf\xc3\xa9.id", 1),
        Err(WireError::NotAscii { op: Opcode::NameRevoke, offset: 3, byte: 0xc3 })
    );
    assert!(matches!(Op::decode(b"~Muneeb.id", 1), Err(WireError::InvalidName { .. })));
    assert_eq!(Op::decode(b"!id", 1), Err(WireError::MissingDot(b'i')));
    let mut t = vec![b'>', b'x'];
    t.extend([0u8; 32]);
    assert_eq!(Op::decode(&t, 1), Err(WireError::BadDisposition(b'x')));
    let msg = WireError::BadLength { op: Opcode::NameUpdate, len: 3, expected: Expected::Exactly(36) }.to_string();
    assert_eq!(msg, "NAME_UPDATE ('+') body is 3 bytes, expected exactly 36");
}

#[test]
fn try_encode_refuses_unrepresentable_ops() {
    let tokens_without_value =
        Op::NameRegistration(NameRegistration { name: "a.id".into(), value_hash: None, tokens: Some(5) });
    assert_eq!(tokens_without_value.try_encode(4), Err(WireError::NotCanonical(Opcode::NameRegistration)));
    let long_units = Op::TokenTransfer(TokenTransfer {
        consensus_hash: ConsensusHash::default(),
        token_type: "X".repeat(20),
        amount: 0,
        scratch: vec![],
    });
    assert!(long_units.try_encode(4).is_err());
    let bad_nibble = Op::NamespaceReveal(NamespaceReveal {
        lifetime: 1,
        coeff: 1,
        base: 1,
        buckets: [16; 16],
        nonalpha_discount: 1,
        no_vowel_discount: 1,
        version: 1,
        namespace_id: "x".into(),
    });
    assert_eq!(bad_nibble.try_encode(1), Err(WireError::NotCanonical(Opcode::NamespaceReveal)));
}

// ---- randomized ----

fn rand_label(rng: &mut StdRng, min: usize, max: usize) -> String {
    let n = rng.gen_range(min..=max);
    (0..n)
        .map(|_| loop {
            let c = B40_CHARS[rng.gen_range(0..40)];
            if c != b'.' && c != b'+' {
                break char::from(c);
            }
        })
        .collect()
}

fn rand_name(rng: &mut StdRng) -> String {
    let ns = rand_label(rng, 1, 19);
    let name = rand_label(rng, 1, 36 - ns.len());
    format!("{name}.{ns}")
}

fn rand_units(rng: &mut StdRng) -> String {
    let n = rng.gen_range(0..=19);
    let mut s: Vec<u8> = (0..n).map(|_| rng.gen_range(0u8..0x80)).collect();
    if let Some(first) = s.first_mut() {
        *first = rng.gen_range(1u8..0x80);
    }
    if let Some(last) = s.last_mut() {
        *last = rng.gen_range(1u8..0x80);
    }
    s.into_iter().map(char::from).collect()
}

/// A random op valid in `epoch`.
fn rand_op(rng: &mut StdRng, epoch: u8) -> Op {
    let tokens_ok = epoch >= EPOCH_TOKENS;
    loop {
        let op = match rng.gen_range(0..11) {
            0 => Op::NamePreorder(NamePreorder {
                preorder_hash: PreorderHash(rng.gen()),
                consensus_hash: ConsensusHash(rng.gen()),
                tokens: (tokens_ok && rng.gen()).then(|| TokenBurn { amount: rng.gen(), units: rand_units(rng) }),
            }),
            1 => {
                let value_hash = (epoch >= EPOCH_VALUE_HASH && rng.gen()).then(|| ValueHash(rng.gen()));
                let tokens = (value_hash.is_some() && tokens_ok && rng.gen()).then(|| rng.gen());
                Op::NameRegistration(NameRegistration { name: rand_name(rng), value_hash, tokens })
            }
            2 => Op::NameUpdate(NameUpdate {
                name_consensus_hash: NameConsensusHash(rng.gen()),
                value_hash: ValueHash(rng.gen()),
            }),
            3 => Op::NameTransfer(NameTransfer {
                keep_data: rng.gen(),
                name_hash128: NameHash128(rng.gen()),
                consensus_hash: ConsensusHash(rng.gen()),
            }),
            4 => Op::NameRevoke(NameRevoke { name: rand_name(rng) }),
            5 => Op::NameImport(NameImport { name: rand_name(rng) }),
            6 => Op::NamespacePreorder(NamespacePreorder {
                preorder_hash: PreorderHash(rng.gen()),
                consensus_hash: ConsensusHash(rng.gen()),
                stx_fee: tokens_ok.then(|| rng.gen()),
            }),
            7 => {
                let mut buckets = [0u8; 16];
                buckets.iter_mut().for_each(|b| *b = rng.gen_range(0..16));
                Op::NamespaceReveal(NamespaceReveal {
                    lifetime: rng.gen(),
                    coeff: rng.gen(),
                    base: rng.gen(),
                    buckets,
                    nonalpha_discount: rng.gen_range(1..16),
                    no_vowel_discount: rng.gen_range(1..16),
                    version: rng.gen_range(1..=3),
                    namespace_id: rand_label(rng, 1, 19),
                })
            }
            8 => Op::NamespaceReady(NamespaceReady { namespace_id: rand_label(rng, 1, 19) }),
            9 => Op::Announce(Announce { hash: AnnounceHash(rng.gen()) }),
            _ if tokens_ok => Op::TokenTransfer(TokenTransfer {
                consensus_hash: ConsensusHash(rng.gen()),
                token_type: rand_units(rng),
                amount: rng.gen(),
                scratch: (0..rng.gen_range(0..40)).map(|_| rng.gen()).collect(),
            }),
            _ => continue,
        };
        return op;
    }
}

#[test]
fn random_bytes_never_panic_and_random_ops_round_trip() {
    let seed = 0x626e_7377_6972_6521;
    let mut rng = StdRng::seed_from_u64(seed);
    let opcodes: Vec<u8> = Opcode::ALL.iter().map(|o| o.byte()).collect();
    let mut decoded_ok = 0usize;
    for i in 0..50_000 {
        // Random bytes, mostly behind a real opcode, lengths around the limits.
        let len = rng.gen_range(0..100);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
        if let Some(first) = bytes.first_mut() {
            if rng.gen_bool(0.9) {
                *first = opcodes[rng.gen_range(0..opcodes.len())];
            }
        }
        let epoch = rng.gen_range(0..=7);
        if let Ok(op) = Op::decode(&bytes, epoch) {
            decoded_ok += 1;
            assert_eq!(Op::decode(&op.encode(), epoch), Ok(op.clone()), "seed {seed:#x} iter {i}");
        }

        // A random valid op survives encode -> decode -> encode.
        let epoch = rng.gen_range(MIN_EPOCH..=MAX_EPOCH);
        let op = rand_op(&mut rng, epoch);
        let enc = op.try_encode(epoch).unwrap_or_else(|e| panic!("iter {i}: {op:?}: {e}"));
        let back = Op::decode(&enc, epoch).unwrap();
        assert_eq!(back, op, "seed {seed:#x} iter {i}");
        assert_eq!(back.encode(), enc);
    }
    assert!(decoded_ok > 100, "only {decoded_ok} random payloads decoded");
}
