//! Zone-transfer content, journal steps and master-file text, on in-memory
//! snapshots; and AXFR/IXFR over a real TCP connection to a running server.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::Arc;

use super::super::snapshot::{encode_entry, ApexConfig, ImageMeta, NameState, Snapshot};
use super::content::{contribution, for_each_rr, split};
use super::journal::record_step;
use super::text::{export, present};
use crate::zonefile::parse;

fn apex() -> ApexConfig {
    ApexConfig { ns_name: None, ns_addrs: vec![Ipv4Addr::LOCALHOST.into()], dnskey: None }
}

fn zone(fqn: &str, text: &str) -> NameState {
    NameState::Zone(Arc::new(parse(text.as_bytes(), Some(fqn)).expect("test zone file parses")))
}

fn meta(height: u64) -> ImageMeta {
    ImageMeta { height, serial: height as u32, ..ImageMeta::default() }
}

const PARENT: &str = "$ORIGIN n.id\n$TTL 300\n@ A 10.0.0.1\n@ NS ns.elsewhere.\nwww CNAME @\nwww A 10.0.0.2\n\
alice TXT \"parent's alice\"\nbob TXT \"parent's bob\"\nmail MX 10 mx.example.\n";
const ALICE: &str = "$ORIGIN alice.n.id\n$TTL 60\n@ A 10.1.0.1\nwww A 10.1.0.2\n";

/// `n.id` with subdomain `alice.n.id`, and `other.id`, at `height`.
fn base(height: u64) -> Vec<(String, NameState, Option<u64>)> {
    vec![
        ("n.id".into(), zone("n.id", PARENT), Some(10_000)),
        ("alice.n.id".into(), zone("alice.n.id", ALICE), None),
        ("other.id".into(), zone("other.id", "$ORIGIN other.id\n@ 60 TXT \"hi\"\n"), Some(height + 5)),
    ]
}

fn snap(height: u64, names: Vec<(String, NameState, Option<u64>)>) -> Snapshot {
    Snapshot::build(meta(height), &["id"], names, &apex())
}

/// Every RR of namespace `id` (SOA left out) as master-file lines.
fn lines(s: &Snapshot) -> BTreeSet<String> {
    let ns = s.namespace_list().iter().find(|n| &n.id[..] == b"id").expect("namespace id");
    let mut out = BTreeSet::new();
    for_each_rr(s, ns, |rr| {
        let mut line = String::new();
        present(rr, &mut line);
        assert!(out.insert(line.clone()), "RR {line:?} is contributed twice");
    });
    out
}

fn line_set(s: &[&str]) -> BTreeSet<String> {
    s.iter().map(|l| format!("{l}\n")).collect()
}

#[test]
fn a_zone_is_its_names_and_subdomains_with_shadowed_and_unloadable_records_left_out() {
    let got = lines(&snap(100, base(100)));
    let want = line_set(&[
        "id. 300 IN NS id.",
        "id. 300 IN A 127.0.0.1",
        "n.id. 300 IN A 10.0.0.1",
        "www.n.id. 300 IN A 10.0.0.2",
        "bob.n.id. 300 IN TXT \"parent's bob\"",
        "mail.n.id. 300 IN MX 10 mx.example.",
        "alice.n.id. 60 IN A 10.1.0.1",
        "www.alice.n.id. 60 IN A 10.1.0.2",
        "other.id. 60 IN TXT \"hi\"",
    ]);
    assert_eq!(got, want, "NS at the name, the CNAME beside an A and the parent's alice TXT are left out");
}

#[test]
fn a_subdomain_answers_only_while_its_parent_is_registered() {
    let mut names = base(100);
    names[0].1 = NameState::Revoked;
    let got = lines(&snap(100, names));
    assert!(got.iter().all(|l| !l.contains("n.id.")), "a revoked parent takes its subdomains along: {got:?}");
    let mut names = base(100);
    names[0].1 = NameState::NotFetched("00".repeat(20));
    let got = lines(&snap(100, names));
    assert!(got.contains("alice.n.id. 60 IN A 10.1.0.1\n"), "a parent not fetched yet still lets them answer");
    assert!(!got.iter().any(|l| l.starts_with("n.id.")));
}

#[test]
fn an_unusable_subdomain_still_shadows_its_parents_records() {
    let mut names = base(100);
    names[1].1 = NameState::Invalid("00".repeat(20), "bad signature".into());
    let got = lines(&snap(100, names));
    assert!(!got.iter().any(|l| l.contains("alice.n.id.")), "bns says SERVFAIL there, the zone says nothing: {got:?}");
}

/// Applies `step`'s diff for `id` to `before` (lines).
fn apply(before: &BTreeSet<String>, s: &Snapshot) -> BTreeSet<String> {
    let step = s.journal().path(s.journal().oldest().expect("a step")).expect("a path")[0].clone();
    let mut out = before.clone();
    if let Some(d) = step.diff(b"id") {
        for rr in &d.deleted {
            let mut l = String::new();
            present(rr, &mut l);
            assert!(out.remove(&l), "step deletes {l:?}, which the old zone did not hold");
        }
        for rr in &d.added {
            let mut l = String::new();
            present(rr, &mut l);
            assert!(out.insert(l.clone()), "step adds {l:?}, which the old zone held");
        }
    }
    out
}

/// `old` and `new` with a step recorded both ways: from the changed keys
/// named, and by comparing every entry. Both must lead from `old` to `new`.
fn check_step(
    old: Snapshot,
    new_names: Vec<(String, NameState, Option<u64>)>,
    height: u64,
    changed: &[&str],
) -> Snapshot {
    let new = snap(height, new_names);
    let by_keys = record_step(&old, new.clone(), Some(changed.iter().map(|k| k.as_bytes())));
    let by_compare = record_step(&old, new.clone(), None::<std::iter::Empty<&[u8]>>);
    let (before, after) = (lines(&old), lines(&new));
    assert_eq!(apply(&before, &by_keys), after, "incremental step from {changed:?}");
    assert_eq!(apply(&before, &by_compare), after, "step from a full compare");
    by_keys
}

#[test]
fn steps_lead_from_one_zone_to_the_next_incrementally_or_by_full_compare() {
    // A zone-file update of the parent.
    let mut names = base(101);
    names[0].1 = zone("n.id", "$ORIGIN n.id\n$TTL 300\n@ A 10.0.0.9\nalice TXT \"x\"\n");
    check_step(snap(100, base(100)), names, 101, &["n.id"]);
    // A new subdomain shadows what its parent had at its label.
    let mut names = base(101);
    names.push(("bob.n.id".into(), zone("bob.n.id", "$ORIGIN bob.n.id\n@ 60 A 10.2.0.1\n"), None));
    check_step(snap(100, base(100)), names, 101, &["bob.n.id"]);
    // A revoked parent removes its subdomains (only the parent is named as changed).
    let mut names = base(101);
    names[0].1 = NameState::Revoked;
    let s = check_step(snap(100, base(100)), names, 101, &["n.id"]);
    let d = s.journal().path(100).unwrap()[0].diff(b"id").map(|d| d.deleted.len());
    assert_eq!(d, Some(6), "the parent's 4 RRs and its subdomain's 2");
    // A name that expires between the two heights, with no op naming it.
    check_step(snap(100, base(100)), base(100), 106, &[]);
}

#[test]
fn a_step_that_changes_nothing_in_the_zone_still_advances_the_serial() {
    let old = snap(100, base(100));
    let new = record_step(&old, snap(101, base(100)), Some(std::iter::empty()));
    let path = new.journal().path(100).expect("one step from 100");
    assert_eq!((path.len(), path[0].from, path[0].to), (1, 100, 101));
    assert!(path[0].diffs.is_empty());
    assert!(new.journal().path(99).is_none(), "no path from a serial the journal never held");
    // Two steps chain.
    let third = record_step(&new, snap(102, base(100)), Some(["n.id".as_bytes()].into_iter()));
    assert_eq!(third.journal().path(100).map(|p| p.len()), Some(2));
    assert_eq!(third.journal().path(101).map(|p| p.len()), Some(1));
}

#[test]
fn the_first_view_of_a_start_has_no_journal() {
    let first = record_step(&Snapshot::empty(), snap(100, base(100)), None::<std::iter::Empty<&[u8]>>);
    assert!(first.journal().is_empty());
}

#[test]
fn contributions_are_sorted_and_hold_absolute_lowercase_owners() {
    let s = snap(100, base(100));
    let mut out = Vec::new();
    contribution(&s, b"n.id", &mut out);
    assert!(out.windows(2).all(|w| w[0] < w[1]));
    for rr in &out {
        let (owner, _, _, _) = split(rr).expect("a well-formed RR");
        assert!(owner.ends_with(b"\x01n\x02id\x00"), "{owner:?}");
    }
}

#[test]
fn master_file_text_escapes_what_a_parser_would_misread() {
    let z = "$ORIGIN q.id\n@ 60 TXT \"a \\\"quoted\\\" \\\\ back\\009tab\"\n";
    let names = vec![("q.id".to_string(), zone("q.id", z), None)];
    let s = snap(7, names);
    let mut out = Vec::new();
    let done = export(&s, "ID.", &mut out).unwrap().expect("namespace id exists");
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("q.id. 60 IN TXT \"a \\\"quoted\\\" \\\\ back\\009tab\"\n"), "{text}");
    assert!(text.contains("id. 300 IN SOA id. hostmaster.bns.invalid. 7 "), "{text}");
    assert_eq!(done.serial, 7);
    assert_eq!(done.rrs as usize, text.lines().filter(|l| !l.starts_with(';') && !l.starts_with('$')).count());
    assert!(export(&s, "nope", &mut Vec::new()).unwrap().is_none());
    // An odd byte in a label.
    let mut line = String::new();
    let mut rr = Vec::new();
    super::content::push_wire(&mut rr, b"\x03a.b", b"\x02id\x00", 16, 1, b"\x01x");
    present(&rr, &mut line);
    assert_eq!(line, "a\\046b.id. 1 IN TXT \"x\"\n");
    // An unknown type as RFC 3597.
    line.clear();
    rr.clear();
    super::content::push_wire(&mut rr, b"", b"\x02id\x00", 65280, 1, b"\xde\xad");
    present(&rr, &mut line);
    assert_eq!(line, "id. 1 IN TYPE65280 \\# 2 DEAD\n");
}

#[test]
fn a_damaged_entry_contributes_nothing() {
    let names = base(100);
    let mut entries: Vec<(Box<[u8]>, Vec<u8>)> =
        names.iter().map(|(f, st, e)| (f.as_bytes().into(), encode_entry(f, st, *e))).collect();
    entries[0].1.truncate(3);
    let ids: Vec<Box<[u8]>> = vec![b"id".as_slice().into()];
    let image = super::super::snapshot::Image::build(meta(100), &ids, entries.iter().map(|(k, v)| (&k[..], &v[..])));
    let s = Snapshot::from_image(Arc::new(image), &apex());
    let got = lines(&s);
    assert!(!got.iter().any(|l| l.starts_with("n.id.")));
    assert!(!got.iter().any(|l| l.contains("alice")), "a damaged parent does not answer for its subdomains: {got:?}");
}

mod tsig {
    use super::super::tsig::{check, Checked, Signer, TsigKey, BADKEY, BADSIG, BADTIME};
    use hickory_proto::op::{Message, MessageType, OpCode, Query};
    use hickory_proto::rr::{Name, RecordType};

    const SECRET: &str = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg==";

    fn key(spec: &str) -> TsigKey {
        spec.parse().unwrap()
    }

    fn query() -> Vec<u8> {
        let mut m = Message::new(4242, MessageType::Query, OpCode::Query);
        m.add_query(Query::query(Name::from_ascii("id.").unwrap(), RecordType::AXFR));
        m.to_vec().unwrap()
    }

    #[test]
    fn keys_parse_as_tsig_keygen_prints_them_and_never_show_the_secret() {
        let k = key(&format!("Xfr-Key.:HMAC-SHA256:{SECRET}"));
        assert_eq!((k.name(), k.algorithm().name()), ("xfr-key", "hmac-sha256"));
        let shown = format!("{k:?}");
        assert!(shown.contains("***") && !shown.contains(SECRET), "{shown}");
        for (bad, why) in [
            ("xfr-key", "NAME:ALGORITHM"),
            (&format!("k:hmac-md5:{SECRET}") as &str, "not hmac-sha256"),
            ("k:hmac-sha256:not base64!", "not base64"),
            ("k:hmac-sha256:c2hvcnQ=", "at least 16"),
        ] {
            let e = bad.parse::<TsigKey>().unwrap_err();
            assert!(e.contains(why) && !e.contains(SECRET), "{bad}: {e}");
        }
    }

    #[test]
    fn a_signed_request_verifies_and_any_change_is_caught() {
        let k = key(&format!("xfr-key:hmac-sha256:{SECRET}"));
        let mut msg = query();
        Signer::request(&k, 1_000_000).sign(&mut msg);
        assert_eq!(u16::from_be_bytes([msg[10], msg[11]]), 1, "ARCOUNT counts the TSIG RR");
        let keys = [k.clone()];
        assert!(matches!(check(&msg, &keys, 1_000_100), Checked::Valid(_)));
        assert!(matches!(check(&query(), &keys, 1_000_100), Checked::Unsigned));
        let mut tampered = msg.clone();
        tampered[13] ^= 0x20; // the question's first letter
        assert!(matches!(check(&tampered, &keys, 1_000_100), Checked::Invalid { error: BADSIG, .. }));
        let other = [key(&format!("xfr-key:hmac-sha512:{SECRET}")), key(&format!("other:hmac-sha256:{SECRET}"))];
        assert!(matches!(check(&msg, &other, 1_000_100), Checked::Invalid { error: BADKEY, .. }));
        let wrong = [key("xfr-key:hmac-sha256:d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA==")];
        assert!(matches!(check(&msg, &wrong, 1_000_100), Checked::Invalid { error: BADSIG, .. }));
        match check(&msg, &keys, 1_000_301) {
            Checked::Invalid { error: BADTIME, signer: Some(_), .. } => {}
            other => panic!("{other:?}"),
        }
        // Truncated or junk after the TSIG: not a TSIG we accept.
        for cut in [1, 5, 20] {
            let short = &msg[..msg.len() - cut];
            assert!(!matches!(check(short, &keys, 1_000_100), Checked::Valid(_)));
        }
    }

    #[test]
    fn hostile_messages_never_panic_the_check() {
        let k = key(&format!("xfr-key:hmac-sha256:{SECRET}"));
        let keys = [k.clone()];
        let mut msg = query();
        Signer::request(&k, 1_000).sign(&mut msg);
        // Every single-byte change and every truncation of a signed request.
        for i in 0..msg.len() {
            for x in [0x01u8, 0x40, 0xc0, 0xff] {
                let mut m = msg.clone();
                m[i] ^= x;
                let _ = check(&m, &keys, 1_000);
            }
            let _ = check(&msg[..i], &keys, 1_000);
        }
        // Junk with a header that claims records.
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2_000 {
            let mut m = vec![0u8; 12 + (rng % 200) as usize];
            for b in m.iter_mut() {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                *b = rng as u8;
            }
            m[10] = 0;
            m[11] = 1 + (rng % 3) as u8;
            let _ = check(&m, &keys, 1_000);
        }
    }

    #[test]
    fn an_answer_chains_each_message_to_the_one_before() {
        let k = key(&format!("xfr-key:hmac-sha256:{SECRET}"));
        let mut req = query();
        Signer::request(&k, 7_000).sign(&mut req);
        let Checked::Valid(mut signer) = check(&req, std::slice::from_ref(&k), 7_000) else { panic!() };
        let (mut a, mut b) = (query(), query());
        signer.sign(&mut a);
        signer.sign(&mut b);
        // The second message's MAC covers the first's: same bytes, other MAC.
        let mac = |m: &[u8]| m[m.len() - 6 - 32..m.len() - 6].to_vec();
        assert_ne!(mac(&a), mac(&b));
    }
}
