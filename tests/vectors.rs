//! SPEC.md §8 vectors and derived price cases, read from tests/vectors/spec.json.

use bns::bns::names::{name_price, namespace_price_sats, Price, PriceFunction};
use bns::bns::ChainParams;
use bns::hash::{ConsensusHash, NameConsensusHash, NameHash128, ValueHash};
use bns::virtualchain::b40::b40_to_bin;
use bns::virtualchain::consensus::py2_float_str as py2_float;
use bns::virtualchain::preorder::name_preorder_hash;
use serde_json::Value;

fn spec() -> Value {
    serde_json::from_str(include_str!("vectors/spec.json")).unwrap()
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect()
}

#[test]
fn hashes_and_encodings() {
    let s = spec();
    for c in s["b40"].as_array().unwrap() {
        let c = strs(c);
        assert_eq!(hex::encode(b40_to_bin(c[0]).unwrap()), c[1]);
    }
    for c in s["hash128"].as_array().unwrap() {
        let c = strs(c);
        let ch: ConsensusHash = c[1].parse().unwrap();
        assert_eq!(NameConsensusHash::of(c[0], &ch).to_hex(), c[2]);
    }
    for c in s["name_hash128"].as_array().unwrap() {
        let c = strs(c);
        assert_eq!(NameHash128::of_name(c[0]).to_hex(), c[1]);
    }
    for c in s["name_preorder_hash"].as_array().unwrap() {
        let c = strs(c);
        let script = bitcoin::ScriptBuf::from_hex(c[1]).unwrap();
        assert_eq!(name_preorder_hash(c[0], &script, c[2]).unwrap().to_hex(), c[3]);
    }
    for c in s["zonefile_hash"].as_array().unwrap() {
        let c = strs(c);
        assert_eq!(ValueHash::of_zonefile(c[0].as_bytes()).to_hex(), c[1]);
    }
    assert_eq!(bns::virtualchain::burn_address(bitcoin::Network::Bitcoin), s["burn_address"].as_str().unwrap());
}

#[test]
fn prices_per_epoch() {
    let s = spec();
    let f: PriceFunction = {
        let n = &s["id_namespace"];
        let buckets: Vec<u8> = n["buckets"].as_array().unwrap().iter().map(|b| b.as_u64().unwrap() as u8).collect();
        PriceFunction {
            coeff: n["coeff"].as_u64().unwrap() as u8,
            base: n["base"].as_u64().unwrap() as u8,
            buckets: buckets.try_into().unwrap(),
            nonalpha_discount: n["nonalpha_discount"].as_u64().unwrap() as u8,
            no_vowel_discount: n["no_vowel_discount"].as_u64().unwrap() as u8,
        }
    };
    let mainnet = ChainParams::mainnet();
    for c in s["prices"].as_array().unwrap() {
        let (name, height) = (c[0].as_str().unwrap(), c[1].as_u64().unwrap());
        let got = name_price(name, &f, &mainnet.epoch_at(height), false);
        match (&c[2], got) {
            (Value::String(want), Price::Float(p)) => assert_eq!(&py2_float(p), want, "{name} at {height}"),
            (Value::Number(want), Price::Int(p)) => assert_eq!(p, want.as_u64().unwrap(), "{name} at {height}"),
            (want, got) => panic!("{name} at {height}: want {want}, got {got:?}"),
        }
    }
    for c in s["namespace_price_sats"].as_array().unwrap() {
        let (ns, height) = (c[0].as_str().unwrap(), c[1].as_u64().unwrap());
        assert_eq!(namespace_price_sats(ns, &mainnet.epoch_at(height)), c[2].as_u64(), "{ns} at {height}");
    }
}
