//! Consensus-hash vectors computed with Core's own Python 2 code.
use super::*;
use serde_json::Value;

const VECTORS: &str = include_str!("../../tests/vectors/consensus.json");

fn doc() -> Value {
    serde_json::from_str(VECTORS).unwrap()
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

fn field(v: &Value) -> Field {
    match v {
        Value::Null => Field::None,
        Value::Bool(b) => Field::Bool(*b),
        Value::Number(n) if n.is_u64() => Field::Int(i128::from(n.as_u64().unwrap())),
        Value::Number(n) if n.is_i64() => Field::Int(i128::from(n.as_i64().unwrap())),
        Value::Number(n) => Field::Float(n.as_f64().unwrap()),
        Value::String(s) => Field::Str(s.clone()),
        Value::Array(a) => Field::IntList(a.iter().map(|i| i.as_i64().unwrap()).collect()),
        Value::Object(_) => panic!("no object fields"),
    }
}

#[test]
fn spec_vectors() {
    assert_eq!(op_hash(""), EMPTY_OPS_HASH);
    assert_eq!(ops_hash::<&str>(&[]), EMPTY_OPS_HASH);
    assert_eq!(consensus_hash(EMPTY_OPS_HASH, &[]).unwrap().to_hex(), "2a9148d8b13939723d2aca16c75c6d68");
    let genesis: ConsensusHash = "17ac43c1d8549c3181b200f1bf97eb7d".parse().unwrap();
    assert_eq!(consensus_hash(EMPTY_OPS_HASH, &[genesis]).unwrap().to_hex(), "3aaf179c00b2e46d5b42cbfe59100139");
}

#[test]
fn id_namespace_preorder_and_block_373601() {
    let d = doc();
    let case = &d["serialize"][0];
    let fields: Vec<Field> = case["fields"].as_array().unwrap().iter().map(field).collect();
    let ser = serialize_op('*', &fields);
    assert_eq!(ser, case["expected"].as_str().unwrap());
    assert!(ser.starts_with("*:40:9f1ad5039dbdabc2d98a87486ae1c478f03cd564,32:17ac43c1"));
    let oh = ops_hash(&[ser]);
    assert_eq!(oh, d["id_block_373601"]["ops_hash"].as_str().unwrap());
    // SPEC §8 (marked unverified there: not checked against chain data).
    assert_eq!(consensus_hash(&oh, &[]).unwrap().to_hex(), "0a9ffa9f9575d3da21819208ea5c0f6c");
}

#[test]
fn python2_str_of_floats_and_lists() {
    let d = doc();
    let cases = d["py2_str_float"].as_array().unwrap();
    assert!(cases.len() > 250);
    for case in cases {
        let bits = u64::from_str_radix(case[0].as_str().unwrap(), 16).unwrap();
        let x = f64::from_bits(bits);
        assert_eq!(py2_float_str(x), case[1].as_str().unwrap(), "{x:e} ({bits:016x})");
    }
    for case in d["py2_str_int_list"].as_array().unwrap() {
        assert_eq!(field(&case[0]).py_str(), case[1].as_str().unwrap());
    }
    assert_eq!(py2_float_str(1e11), "1e+11"); // not %.12g's "100000000000"
    assert_eq!(py2_float_str(12345678901.25), "12345678901.2"); // half-even
    assert_eq!(Field::from(Some(true)).py_str(), "True");
    assert_eq!(Field::from(None::<u64>).py_str(), "");
}

#[test]
fn serialization_of_every_field_kind() {
    for case in doc()["serialize"].as_array().unwrap() {
        let opchar = case["opchar"].as_str().unwrap().chars().next().unwrap();
        let fields: Vec<Field> = case["fields"].as_array().unwrap().iter().map(field).collect();
        assert_eq!(serialize_op(opchar, &fields), case["expected"].as_str().unwrap());
    }
}

#[test]
fn merkle_odd_and_even_counts() {
    let d = doc();
    let cases = d["merkle"].as_array().unwrap();
    assert_eq!(cases.len(), 9); // 1..=9 leaves
    for case in cases {
        let leaves = strs(&case[0]);
        assert_eq!(merkle_root(&leaves).unwrap(), case[1].as_str().unwrap(), "{leaves:?}");
    }
    assert_eq!(merkle_root::<&str>(&[]), Err(ConsensusError::EmptyMerkle));
    assert!(matches!(merkle_root(&["zz"]), Err(ConsensusError::NotHex { index: 0, .. })));
    // A single leaf is its own root; upper-case hex reads the same.
    assert_eq!(merkle_root(&["ABCD"]).unwrap(), "abcd");
}

#[test]
fn ops_hash_and_consensus_hash_vectors() {
    let d = doc();
    for case in d["ops_hash"].as_array().unwrap() {
        assert_eq!(ops_hash(&strs(&case[0])), case[1].as_str().unwrap());
    }
    for case in d["consensus_hash"].as_array().unwrap() {
        let prev: Vec<ConsensusHash> = strs(&case[1]).iter().map(|h| h.parse().unwrap()).collect();
        let got = consensus_hash(case[0].as_str().unwrap(), &prev).unwrap();
        assert_eq!(got.to_hex(), case[2].as_str().unwrap());
    }
    assert!(consensus_hash("not hex", &[]).is_err());
}

#[test]
fn previous_heights_skip_list() {
    for case in doc()["prev_heights"].as_array().unwrap() {
        let want: Vec<u64> = case[2].as_array().unwrap().iter().map(|h| h.as_u64().unwrap()).collect();
        assert_eq!(prev_consensus_heights(case[0].as_u64().unwrap(), case[1].as_u64().unwrap()), want);
    }
    assert_eq!(prev_consensus_heights(373608, 373601), vec![373607, 373605, 373601]);
    assert!(prev_consensus_heights(373601, 373601).is_empty());
    assert_eq!(prev_consensus_heights(u64::MAX, 0).len(), 64);
}
