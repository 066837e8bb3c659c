//! Real mainnet zone files and 20,000 garbage inputs.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::hash::ValueHash;

/// Mainnet zone files (tests/vectors): pairs of lines, hash160 hex then the
/// file with each newline written as the two characters `\n`.
const MAINNET: &str = include_str!("../../tests/vectors/mainnet-zonefiles-sample.txt");

/// Files of the sample that parse with zero warnings (measured: all 814 do).
const MAINNET_CLEAN_AT_LEAST: usize = 814;

/// (hash, zone file bytes) for every file of the sample.
fn mainnet() -> Vec<(ValueHash, Vec<u8>)> {
    let lines: Vec<&str> = MAINNET.lines().collect();
    assert_eq!(lines.len() % 2, 0, "sample must be pairs of lines");
    lines
        .chunks(2)
        .map(|pair| {
            let hash: ValueHash = pair[0].parse().unwrap_or_else(|e| panic!("bad hash {:?}: {e}", pair[0]));
            (hash, pair[1].replace("\\n", "\n").into_bytes())
        })
        .collect()
}

/// Parses every sample file; returns them by origin, with the warnings grouped.
fn parsed() -> (BTreeMap<String, ZoneFile>, BTreeMap<String, usize>) {
    let mut by_origin = BTreeMap::new();
    let mut warnings = BTreeMap::new();
    for (hash, bytes) in mainnet() {
        let zf = match check(&bytes, Some(&hash)) {
            Ok(zf) => zf,
            Err(e) => panic!("{hash}: {e}"),
        };
        for w in &zf.warnings {
            // Group by reason, without the line number.
            let reason = w.split_once(": ").map_or(w.as_str(), |(_, r)| r);
            *warnings.entry(reason.to_string()).or_insert(0) += 1;
        }
        let origin = zf.origin.clone().unwrap_or_else(|| format!("<none {hash}>"));
        by_origin.insert(origin, zf);
    }
    (by_origin, warnings)
}

#[test]
fn mainnet_sample_hashes_match_and_files_parse() {
    let files = mainnet();
    assert_eq!(files.len(), 814);
    for (hash, bytes) in &files {
        assert_eq!(ValueHash::of_zonefile(bytes), *hash);
    }
    let (by_origin, warnings) = parsed();
    let clean = by_origin.values().filter(|zf| zf.warnings.is_empty()).count();
    assert!(clean >= MAINNET_CLEAN_AT_LEAST, "clean {clean}, warnings {warnings:#?}");
    let records: Vec<&ZoneRecord> = by_origin.values().flat_map(|zf| &zf.records).collect();
    let uris = records.iter().filter(|r| matches!(r.data, RecordData::Uri { .. })).count();
    let txts = records.iter().filter(|r| matches!(r.data, RecordData::Txt(_))).count();
    assert_eq!((records.len(), uris, txts), (900, 872, 28));
    for zf in by_origin.values() {
        assert_eq!(zf.ttl, Some(3600));
    }
}

#[test]
fn mainnet_specific_names() {
    let (by_origin, _) = parsed();
    let get = |name: &str| by_origin.get(name).unwrap_or_else(|| panic!("{name} missing"));

    // Tab-separated profile URI, blank lines after it.
    assert_eq!(
        get("0.id").records,
        vec![ZoneRecord {
            owner: "_http._tcp.0.id".into(),
            ttl: 3600,
            data: RecordData::Uri {
                priority: 10,
                weight: 1,
                target: "https://gaia.blockstack.org/hub/1A4aeTdM35rYtUoiCiV81jKwKyi1Egzb32/profile.json".into(),
            },
        }]
    );

    // Legacy multi-URI file with a pubkey TXT.
    let z21 = get("21.id");
    let pubkey: Vec<&ZoneRecord> = z21.records_for("pubkey.21.id").collect();
    assert_eq!(
        pubkey.first().map(|r| &r.data),
        Some(&RecordData::Txt(vec![
            b"pubkey:data:022707532134a71a29288db6483329f42add9598e6b5e7c64039f2673cdcc813f3".to_vec()
        ]))
    );
    let https: Vec<&RecordData> = z21.records_for("_https._tcp.21.id").map(|r| &r.data).collect();
    assert_eq!(https.len(), 3);
    assert_eq!(
        https.last(),
        Some(&&RecordData::Uri { priority: 10, weight: 1, target: "https://blockstack.s3.amazonaws.com/21.id".into() })
    );
    assert_eq!(z21.records.len(), 6);
    assert!(z21.has_names_below("_udp.21.id"));

    // The `$ORIGIN x $TTL 3600` line, and a trailing blank after the URI.
    let tp = get("test-personal.id");
    assert_eq!((tp.ttl, tp.warnings.len()), (Some(3600), 0));
    assert_eq!(
        tp.records,
        vec![ZoneRecord {
            owner: "_resolver.test-personal.id".into(),
            ttl: 3600,
            data: RecordData::Uri { priority: 10, weight: 1, target: "https://test-registrar.blockstack.org".into() },
        }]
    );

    // Subdomain TXT record with four strings.
    let crux = get("cruxdev_crux.id");
    let sub: Vec<&ZoneRecord> = crux.records_for("coinswitchdev.cruxdev_crux.id").collect();
    let [only] = sub.as_slice() else { panic!("{sub:?}") };
    let RecordData::Txt(strings) = &only.data else { panic!("{only:?}") };
    let text: Vec<String> = strings.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect();
    assert_eq!(text[..3], ["owner=189dTPxntJY57z7zaXujaSoC6g6dSTo5ig", "seqn=0", "parts=1"]);
    let zf0 = text[3].strip_prefix("zf0=").unwrap();
    let inner = base64_decode(zf0).unwrap();
    // Its subdomain zone file has a bare URI target, and parses too.
    let inner = parse(&inner, Some("coinswitchdev.cruxdev_crux.id")).unwrap();
    assert_eq!(inner.records_for("_https._tcp.coinswitchdev.cruxdev_crux.id").count(), 1);
}

/// Standard base64 (with padding) for tests: `None` on anything else.
pub(super) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let body = s.trim_end_matches('=');
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in body.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Bytes that steer the lexer and parser into their corners.
const SPICE: &[&[u8]] = &[
    b"\"",
    b"\\",
    b"\\0",
    b"\\255",
    b"\\999",
    b";",
    b"(",
    b")",
    b"\n",
    b"\r\n",
    b" ",
    b"\t",
    b"$ORIGIN ",
    b"$TTL ",
    b"@",
    b".",
    b"..",
    b"IN ",
    b"TXT ",
    b"URI ",
    b"A ",
    b"AAAA ",
    b"MX ",
    b"SRV ",
    b"TLSA ",
    b"SOA ",
    b"TYPE65535 ",
    b"CLASS1 ",
    b"99999999999 ",
    b"1w2d3h ",
    b"\xff",
    b"\xc3",
    b"\0",
    b"*",
];

fn mutate(rng: &mut StdRng, base: &[u8]) -> Vec<u8> {
    let mut v = base.to_vec();
    for _ in 0..rng.gen_range(1..8) {
        let at = rng.gen_range(0..=v.len());
        match rng.gen_range(0..5) {
            0 if at < v.len() => v[at] = rng.gen(),
            1 => {
                let spice = SPICE[rng.gen_range(0..SPICE.len())];
                v.splice(at..at, spice.iter().copied());
            }
            2 if at < v.len() => {
                let end = rng.gen_range(at..=v.len().min(at + 20));
                v.drain(at..end);
            }
            3 => {
                let label = vec![b'a'; rng.gen_range(60..70)];
                v.splice(at..at, label);
            }
            _ => v.truncate(at),
        }
    }
    v
}

fn random_input(rng: &mut StdRng, corpus: &[(ValueHash, Vec<u8>)]) -> Vec<u8> {
    match rng.gen_range(0..3) {
        0 => (0..rng.gen_range(0..400)).map(|_| rng.gen()).collect(),
        1 => {
            let mut v = Vec::new();
            for _ in 0..rng.gen_range(0..60) {
                v.extend_from_slice(SPICE[rng.gen_range(0..SPICE.len())]);
                if rng.gen_bool(0.3) {
                    v.extend((0..rng.gen_range(1..6)).map(|_| rng.gen_range(b'0'..=b'z')));
                }
            }
            v
        }
        _ => {
            let base = &corpus[rng.gen_range(0..corpus.len())].1;
            mutate(rng, base)
        }
    }
}

/// Checks the documented output invariants of a successful parse.
fn assert_invariants(zf: &ZoneFile, input: &[u8]) {
    let valid_name = |n: &str| {
        n.len() <= MAX_NAME_LEN
            && (n.is_empty() || n.split('.').all(|l| !l.is_empty() && l.len() <= MAX_LABEL_LEN))
            && n.bytes().all(|b| b.is_ascii_graphic() && !b.is_ascii_uppercase())
    };
    for r in &zf.records {
        assert!(valid_name(&r.owner), "owner {:?} from {input:?}", r.owner);
        assert!(r.ttl <= MAX_TTL);
        match &r.data {
            RecordData::Txt(s) => assert!(s.iter().all(|s| s.len() <= MAX_CHARACTER_STRING)),
            RecordData::Cname(n) | RecordData::Ns(n) => assert!(valid_name(n)),
            RecordData::Mx { exchange, .. } => assert!(valid_name(exchange)),
            RecordData::Srv { target, .. } => assert!(valid_name(target)),
            _ => {}
        }
    }
    assert!(zf.warnings.iter().all(|w| w.starts_with("line ")));
}

#[test]
fn garbage_never_panics() {
    let corpus = mainnet();
    let mut rng = StdRng::seed_from_u64(0x0b45_2f11_e5ee_d001);
    let (mut ok, mut err) = (0, 0);
    for i in 0..20_000 {
        let input = random_input(&mut rng, &corpus);
        let origin = match i % 3 {
            0 => None,
            1 => Some("foo.id"),
            _ => Some("sub.foo.id."),
        };
        match std::panic::catch_unwind(|| parse(&input, origin)) {
            Ok(Ok(zf)) => {
                assert_invariants(&zf, &input);
                ok += 1;
            }
            Ok(Err(_)) => err += 1,
            Err(_) => panic!("input {i} panicked: {:?}", String::from_utf8_lossy(&input)),
        }
    }
    // Both outcomes are exercised.
    assert!(ok > 1000 && err > 100, "ok {ok} err {err}");
}
