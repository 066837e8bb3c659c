//! Arbitrary bytes -> zone-file `parse` (with and without a default origin)
//! and `check_with_origin`: never panics; owners are lowercase, <= 253 bytes.
#![no_main]

use bns::zonefile::{check_with_origin, parse, ZoneFile, MAX_NAME_LEN, MAX_TTL};
use libfuzzer_sys::fuzz_target;

fn invariants(zf: &ZoneFile, what: &str) {
    for r in &zf.records {
        assert!(r.owner.len() <= 253 && r.owner.len() <= MAX_NAME_LEN, "{what}: owner too long: {:?}", r.owner);
        assert!(!r.owner.bytes().any(|b| b.is_ascii_uppercase()), "{what}: owner not lowercase: {:?}", r.owner);
        assert!(!r.owner.ends_with('.'), "{what}: owner has trailing dot: {:?}", r.owner);
        if !r.owner.is_empty() {
            for label in r.owner.split('.') {
                assert!((1..=63).contains(&label.len()), "{what}: bad label in owner {:?}", r.owner);
            }
        }
        assert!(r.ttl <= MAX_TTL, "{what}: ttl {} too big", r.ttl);
    }
    if let Some(o) = &zf.origin {
        assert!(!o.bytes().any(|b| b.is_ascii_uppercase()), "{what}: origin not lowercase: {o:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let with = parse(data, Some("fuzz.id"));
    if let Ok(zf) = &with {
        invariants(zf, "parse(Some)");
    }
    if let Ok(zf) = parse(data, None) {
        invariants(&zf, "parse(None)");
    }
    let checked = check_with_origin(data, None, Some("fuzz.id"));
    if let Ok(zf) = &checked {
        invariants(zf, "check_with_origin");
    }
    assert_eq!(with, checked, "check_with_origin(None hash) differs from parse");
});
