//! Hash-checked vectors: `check`, and the SPEC.md §8 zone files (muneeb.id,
//! verified.podcast and its 1yeardaily subdomain).

use super::tests::{rec, txt, uri};
use super::*;
use crate::hash::ValueHash;

#[test]
fn check_size_then_hash_then_parse() {
    let text = b"$ORIGIN a.id\n@ A 1.1.1.1\n";
    let good = ValueHash::of_zonefile(text);
    let bad = ValueHash([7; 20]);
    assert_eq!(check(text, Some(&good)).map(|z| z.records.len()), Ok(1));
    assert_eq!(check(text, None).map(|z| z.records.len()), Ok(1));
    assert_eq!(check(text, Some(&bad)), Err(ZoneFileError::HashMismatch { expected: bad, actual: good }));
    let big = vec![b'a'; MAX_ZONEFILE_LEN + 1];
    assert!(matches!(check(&big, Some(&bad)), Err(ZoneFileError::TooLarge { len: 40_961, max: 40_960 })));
    let exact = vec![b' '; MAX_ZONEFILE_LEN];
    assert!(check(&exact, None).is_ok());
    // check has no default origin; check_with_origin has one, after the same checks.
    let no_origin = b"@ A 1.1.1.1";
    let h = ValueHash::of_zonefile(no_origin);
    assert_eq!(
        check_with_origin(no_origin, Some(&h), Some("n.id")).map(|z| z.records[0].owner.clone()),
        Ok("n.id".to_string())
    );
    assert!(matches!(check_with_origin(no_origin, Some(&bad), Some("n.id")), Err(ZoneFileError::HashMismatch { .. })));
    assert!(matches!(check(b"@ A 1.1.1.1", None), Err(ZoneFileError::NoOrigin { line: 1, .. })));
}

/// SPEC.md §8: the muneeb.id zone file (docs/api-specs.md).
#[test]
fn spec_vector_muneeb_id() {
    let text =
        b"$ORIGIN muneeb.id\n$TTL 3600\n_http._tcp IN URI 10 1 \"https://blockstack.s3.amazonaws.com/muneeb.id\"\n";
    let expected: ValueHash = "b100a68235244b012854a95f9114695679002af9".parse().unwrap();
    let zf = check(text, Some(&expected)).unwrap();
    assert_eq!(zf.origin.as_deref(), Some("muneeb.id"));
    assert_eq!(zf.ttl, Some(3600));
    assert_eq!(
        zf.records,
        vec![rec("_http._tcp.muneeb.id", 3600, uri(10, 1, "https://blockstack.s3.amazonaws.com/muneeb.id"))]
    );
    assert!(zf.warnings.is_empty());
    assert!(zf.has_names_below("muneeb.id"));
    assert!(zf.has_names_below("_tcp.muneeb.id"));
    assert_eq!(zf.records_for("_HTTP._tcp.muneeb.id.").count(), 1);
}

/// SPEC.md §8: verified.podcast (docs/naming/subdomains.md, with final newline).
const VERIFIED_PODCAST: &str = include_str!("testdata/verified.podcast.txt");

#[test]
fn spec_vector_verified_podcast() {
    let expected: ValueHash = "247121450ca0e9af45e85a82e61cd525cd7ba023".parse().unwrap();
    let zf = check(VERIFIED_PODCAST.as_bytes(), Some(&expected)).unwrap();
    assert!(zf.warnings.is_empty(), "{:?}", zf.warnings);
    assert_eq!(zf.records.len(), 10);
    let sub: Vec<&ZoneRecord> = zf.records_for("1yeardaily.verified.podcast").collect();
    assert_eq!(
        sub,
        vec![&rec(
            "1yeardaily.verified.podcast",
            3600,
            txt(&[
                "owner=1MwPD6dH4fE3gQ9mCov81L1DEQWT7E85qH",
                "seqn=0",
                "parts=1",
                "zf0=JE9SSUdJTiAxeWVhcmRhaWx5CiRUVEwgMzYwMApfaHR0cC5fdGNwIFVSSSAxMCAxICJodHRwczovL3BoLmRvdHBvZGNhc3QuY28vMXllYXJkYWlseS9oZWFkLmpzb24iCg==",
            ])
        )]
    );
    assert_eq!(zf.records_for("359.verified.podcast").count(), 1);
    let last = zf.records.last().unwrap();
    assert_eq!(last, &rec("_http._tcp.verified.podcast", 3600, uri(10, 1, "https://dotpodcast.co/")));
}

/// SPEC.md §8: the 1yeardaily subdomain's zone file (zf0 above, decoded), and
/// the `$ORIGIN <label>` rule for subdomain zone files.
#[test]
fn spec_vector_subdomain_1yeardaily() {
    let text =
        b"$ORIGIN 1yeardaily\n$TTL 3600\n_http._tcp URI 10 1 \"https://ph.dotpodcast.co/1yeardaily/head.json\"\n";
    assert_eq!(super::corpus_tests::base64_decode("JE9SSUdJTiAxeWVhcmRhaWx5CiRUVEwgMzYwMApfaHR0cC5fdGNwIFVSSSAxMCAxICJodHRwczovL3BoLmRvdHBvZGNhc3QuY28vMXllYXJkYWlseS9oZWFkLmpzb24iCg=="), Some(text.to_vec()));
    assert_eq!(ValueHash::of_zonefile(text).to_hex(), "e7acc97fd42c48ed94fd4d41f674eddbee5557e3");
    let target = uri(10, 1, "https://ph.dotpodcast.co/1yeardaily/head.json");
    let cases: Vec<(Option<&str>, &str)> = vec![
        (None, "_http._tcp.1yeardaily"),
        (Some("1yeardaily.verified.podcast"), "_http._tcp.1yeardaily.verified.podcast"),
        (Some("other.podcast"), "_http._tcp.1yeardaily"),
    ];
    for (default_origin, owner) in cases {
        let zf = parse(text, default_origin).unwrap();
        assert_eq!(zf.origin.as_deref(), Some("1yeardaily"), "origin reports what the file says");
        assert_eq!(zf.records, vec![rec(owner, 3600, target.clone())], "{default_origin:?}");
    }
    // A trailing dot means the file really meant the one-label name.
    let abs = parse(b"$ORIGIN 1yeardaily.\nx A 1.1.1.1", Some("1yeardaily.verified.podcast")).unwrap();
    assert_eq!(abs.records[0].owner, "x.1yeardaily");
}
