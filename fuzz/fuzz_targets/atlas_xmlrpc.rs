//! Arbitrary bytes -> the Atlas XML-RPC body decoders (`parse_call`,
//! `parse_response` of `bns::atlas::xmlrpc`) and, for a response carrying a
//! string, the JSON reply checks of `bns::atlas::protocol`. Never panics;
//! whatever decodes is encoded again and must decode to the same value
//! (compared by its encoding, so NaN doubles compare equal).
#![no_main]

use bns::atlas::protocol;
use bns::atlas::xmlrpc::{encode_call, encode_fault, encode_response, parse_call, parse_response, Value};
use bns::hash::ValueHash;
use libfuzzer_sys::fuzz_target;

fn call_round_trip(data: &[u8]) {
    let Ok((method, params)) = parse_call(data) else { return };
    let once = encode_call(&method, &params);
    let (m2, p2) = parse_call(once.as_bytes()).unwrap_or_else(|e| panic!("re-decoding {once:?}: {e}"));
    assert_eq!(method, m2);
    assert_eq!(once, encode_call(&m2, &p2), "call changed on a round trip");
}

fn response_round_trip(data: &[u8]) {
    match parse_response(data) {
        Ok(Ok(v)) => {
            let once = encode_response(&v);
            match parse_response(once.as_bytes()) {
                Ok(Ok(v2)) => assert_eq!(once, encode_response(&v2), "response changed on a round trip"),
                other => panic!("re-decoding {once:?}: {other:?}"),
            }
            if let Value::Str(text) = &v {
                replies(text);
            }
        }
        Ok(Err(fault)) => {
            let once = encode_fault(&fault);
            assert_eq!(parse_response(once.as_bytes()), Ok(Err(fault)), "fault changed on a round trip: {once:?}");
        }
        Err(_) => {}
    }
}

/// The JSON a peer puts in its string reply, through every reply check.
fn replies(text: &str) {
    let Ok(json) = serde_json::from_str::<serde_json::Value>(text) else { return };
    let asked = [ValueHash::of_zonefile(b"fuzz"), ValueHash::of_zonefile(b"")];
    let _ = protocol::parse_getinfo(&json);
    if let Ok(inv) = protocol::parse_inventory(&json, 64) {
        assert!(inv.len() <= 64);
    }
    if let Ok(files) = protocol::parse_zonefiles(&json, &asked) {
        assert!(files.iter().all(|(h, _)| asked.contains(h)), "a file not asked for was kept");
    }
    if let Ok(saved) = protocol::parse_saved(&json, 3) {
        assert_eq!(saved.len(), 3);
    }
    if let Ok(peers) = protocol::parse_peers(&json) {
        assert!(peers.len() <= protocol::NUM_NEIGHBORS);
        for p in peers {
            assert_eq!(protocol::normalize_peer(&p).as_deref(), Some(p.as_str()), "normalize_peer is not idempotent");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    call_round_trip(data);
    response_round_trip(data);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(p) = protocol::normalize_peer(text) {
            assert_eq!(protocol::normalize_peer(&p).as_deref(), Some(p.as_str()), "normalize_peer is not idempotent");
        }
        replies(text);
    }
});
