use base64::Engine as _;
use bitcoin::hashes::{hash160, Hash as _};
use bitcoin::secp256k1::{PublicKey, SecretKey, SECP256K1};

use super::*;
use crate::zonefile;

fn zf(domain: &str, text: &str) -> ZoneFile {
    zonefile::parse(text.as_bytes(), Some(domain)).expect("zone file parses")
}

fn key(n: u8) -> (SecretKey, String) {
    let sk = SecretKey::from_slice(&[n; 32]).expect("key");
    let pk = PublicKey::from_secret_key(SECP256K1, &sk).serialize();
    let mut data = vec![0u8];
    data.extend_from_slice(&hash160::Hash::hash(&pk).to_byte_array());
    (sk, bitcoin::base58::encode_check(&data))
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// A domain zone file line stating `r`.
fn line(label: &str, r: &SubdomainRecord) -> String {
    let strings: Vec<String> = txt_strings(r).iter().map(|s| format!("\"{s}\"")).collect();
    format!("{label} TXT {}\n", strings.join(" "))
}

fn rec(fqn: &str, owner: &str, seqn: u64, zonefile: &[u8]) -> SubdomainRecord {
    SubdomainRecord {
        fqn: fqn.into(),
        signed_name: fqn.split('.').next().unwrap().into(),
        independent: false,
        owner: owner.into(),
        seqn,
        zonefile: zonefile.to_vec(),
        sig: None,
        position: 0,
    }
}

/// The real mainnet zone file of `sub.helloworld` (tests/vectors, from ../shared/data): three
/// records, each with its own zone file.
#[test]
fn the_mainnet_registrar_file_of_sub_helloworld() {
    let data =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/mainnet-zonefiles-sample.txt"))
            .expect("tests/vectors holds the mainnet sample");
    let text =
        data.lines().find(|l| l.starts_with("$ORIGIN sub.helloworld")).expect("sub.helloworld").replace("\\n", "\n");
    let out = parse("sub.helloworld", &zf("sub.helloworld", &text)).expect("no abort");
    let names: Vec<&str> = out.records.iter().map(|r| r.fqn.as_str()).collect();
    assert_eq!(names, ["1yeardaily.sub.helloworld", "2dopequeens.sub.helloworld", "10happier.sub.helloworld"]);
    let first = &out.records[0];
    assert_eq!(
        (first.owner.as_str(), first.seqn, first.sig.as_deref()),
        ("14x2EMRz1gf16UzGbxZh2c6sJg4A8wcHLD", 0, None)
    );
    let sub = String::from_utf8(first.zonefile.clone()).unwrap();
    assert!(
        sub.starts_with(
            "$ORIGIN 1yeardaily\n$TTL 3600\n_http._tcp URI 10 1 \"http://ph.dotpodcast.co/1yeardaily/head.json\""
        ),
        "{sub}"
    );
    assert!(out.skipped.is_empty());
    // The first record is accepted with no signature.
    assert_eq!(judge(None, first), Verdict::Accepted);
}

#[test]
fn the_signed_text_is_canonical_whatever_the_chunking() {
    let big = vec![b'x'; 400]; // 536 base64 characters: 3 canonical pieces
    let (_, owner) = key(1);
    let r = rec("a.name.id", &owner, 0, &big);
    let canonical = plaintext(&r);
    assert!(canonical.starts_with(&format!("a,owner={owner},seqn=0,parts=3,zf0=")), "{canonical}");
    // The same zone file in 4 pieces of another size parses to the same record.
    let enc = b64(&big);
    let pieces: Vec<String> = enc.as_bytes().chunks(150).map(|c| String::from_utf8(c.to_vec()).unwrap()).collect();
    let mut text = format!("$ORIGIN name.id\na TXT \"owner={owner}\" \"seqn=0\" \"parts={}\"", pieces.len());
    for (i, p) in pieces.iter().enumerate() {
        text.push_str(&format!(" \"zf{i}={p}\""));
    }
    let out = parse("name.id", &zf("name.id", &text)).unwrap();
    assert_eq!(plaintext(&out.records[0]), canonical);
    // Base64 padding is signed escaped.
    let r = rec("a.name.id", &owner, 0, b"ab");
    assert!(plaintext(&r).ends_with("zf0=YWI\\="), "{}", plaintext(&r));
    // An empty zone file has no pieces.
    assert!(plaintext(&rec("a.name.id", &owner, 0, b"")).ends_with("parts=0"));
}

#[test]
fn updates_need_the_next_seqn_and_the_previous_owners_signature() {
    let (sk1, a1) = key(1);
    let (sk2, a2) = key(2);
    let first = rec("a.name.id", &a1, 0, b"$ORIGIN a\n");
    assert_eq!(judge(None, &first), Verdict::Accepted);
    let cur = Current { owner: a1.clone(), seqn: 0, zonefile: first.zonefile.clone() };
    assert_eq!(judge(Some(&cur), &first), Verdict::Repeat);

    // A transfer to a2 with a new zone file, signed by a1.
    let mut next = rec("a.name.id", &a2, 1, b"$ORIGIN a\nwww A 10.0.0.1\n");
    assert!(matches!(judge(Some(&cur), &next), Verdict::Rejected(r) if r.contains("no sig")));
    next.sig = Some(sign_single(&sk1, &plaintext(&next)));
    assert_eq!(judge(Some(&cur), &next), Verdict::Accepted);
    // Signed by the new owner instead: not the previous owner's key.
    let mut wrong = next.clone();
    wrong.sig = Some(sign_single(&sk2, &plaintext(&wrong)));
    assert!(matches!(judge(Some(&cur), &wrong), Verdict::Rejected(r) if r.contains("not the previous owner")));
    // Tampered after signing.
    let mut tampered = next.clone();
    tampered.zonefile = b"$ORIGIN a\nwww A 10.6.6.6\n".to_vec();
    assert_eq!(judge(Some(&cur), &tampered), Verdict::Rejected("the signature does not verify".into()));
    // A skipped seqn.
    let mut skip = next.clone();
    skip.seqn = 2;
    assert!(matches!(judge(Some(&cur), &skip), Verdict::Rejected(r) if r.contains("not the next")));
    // A first record that is not seqn 0.
    assert!(matches!(judge(None, &next), Verdict::Rejected(r) if r.contains("seqn=0")));
    // Garbage in sig=.
    let mut junk = next.clone();
    junk.sig = Some("%%%".into());
    assert_eq!(judge(Some(&cur), &junk), Verdict::Rejected("sig= is not a base64 scriptSig".into()));
}

#[test]
fn a_high_s_signature_verifies() {
    let (sk, a) = key(3);
    let text = "a,owner=x,seqn=1,parts=0";
    let sig_b64 = sign_single(&sk, text);
    let script = base64::engine::general_purpose::STANDARD.decode(&sig_b64).unwrap();
    let parts = super::verify::tests_pushes(&script);
    // Flip s to n - s (high S).
    let mut sig = bitcoin::secp256k1::ecdsa::Signature::from_compact(&parts[0]).unwrap().serialize_compact();
    let n = bitcoin::secp256k1::constants::CURVE_ORDER;
    let mut borrow = 0i16;
    for i in (32..64).rev() {
        let v = i16::from(n[i - 32]) - i16::from(sig[i]) - borrow;
        borrow = i16::from(v < 0);
        sig[i] = v.rem_euclid(256) as u8;
    }
    let high = bitcoin::script::Builder::new()
        .push_slice(sig)
        .push_slice(<[u8; 33]>::try_from(&parts[1][..]).unwrap())
        .into_script();
    let high_b64 = b64(high.as_bytes());
    assert_ne!(high_b64, sig_b64);
    assert_eq!(verify_signature(&a, text, Some(&high_b64)), Ok(()));
}

#[test]
fn a_two_of_three_multisig_owner() {
    let keys: Vec<SecretKey> = (4..7).map(|n| key(n).0).collect();
    let pubs: Vec<[u8; 33]> = keys.iter().map(|k| PublicKey::from_secret_key(SECP256K1, k).serialize()).collect();
    let mut b = bitcoin::script::Builder::new().push_int(2);
    for p in &pubs {
        b = b.push_slice(p);
    }
    let redeem = b.push_int(3).push_opcode(bitcoin::opcodes::all::OP_CHECKMULTISIG).into_script();
    let mut data = vec![5u8];
    data.extend_from_slice(&hash160::Hash::hash(redeem.as_bytes()).to_byte_array());
    let owner = bitcoin::base58::encode_check(&data);
    let text = "a,owner=y,seqn=1,parts=0";
    let sig = |k: &SecretKey| {
        let d = bitcoin::secp256k1::Message::from_digest(
            bitcoin::hashes::sha256::Hash::hash(text.as_bytes()).to_byte_array(),
        );
        SECP256K1.sign_ecdsa(&d, k).serialize_compact()
    };
    let script = |sigs: &[[u8; 64]]| {
        let mut b = bitcoin::script::Builder::new().push_opcode(bitcoin::opcodes::all::OP_PUSHBYTES_0);
        for s in sigs {
            b = b.push_slice(s);
        }
        let redeem_push = bitcoin::script::PushBytesBuf::try_from(redeem.as_bytes().to_vec()).unwrap();
        b64(b.push_slice(redeem_push).into_script().as_bytes())
    };
    assert_eq!(verify_signature(&owner, text, Some(&script(&[sig(&keys[0]), sig(&keys[2])]))), Ok(()));
    // Out of key order, or one signature short: rejected.
    assert_eq!(verify_signature(&owner, text, Some(&script(&[sig(&keys[2]), sig(&keys[0])]))), Err(SigError::Invalid));
    assert_eq!(verify_signature(&owner, text, Some(&script(&[sig(&keys[1])]))), Err(SigError::Invalid));
}

#[test]
fn what_skips_a_record_and_what_voids_the_file() {
    let (_, a) = key(1);
    let r = rec("ok.name.id", &a, 0, b"$ORIGIN ok\n");
    let good = line("ok", &r);
    // A skipped record: bad seqn, duplicate key; the rest still counts.
    let text = format!(
        "$ORIGIN name.id\n{good}bad TXT \"owner={a}\" \"seqn=x\" \"parts=0\"\ndup TXT \"owner={a}\" \"owner={a}\" \"seqn=0\" \"parts=0\"\n"
    );
    let out = parse("name.id", &zf("name.id", &text)).unwrap();
    assert_eq!(out.records.len(), 1);
    let reasons: Vec<&str> = out.skipped.iter().map(|s| s.reason.as_str()).collect();
    assert_eq!(reasons, ["seqn=x is not a number", "duplicate owner= string"]);
    // A missing piece, bad base64 or a string without '=' voids every record of the file.
    for bad in [
        format!("x TXT \"owner={a}\" \"seqn=0\" \"parts=2\" \"zf0=YWI=\""),
        format!("x TXT \"owner={a}\" \"seqn=0\" \"parts=1\" \"zf0=YWI\""),
        format!("x TXT \"owner={a}\" \"seqn=0\" \"parts=0\" \"junk\""),
    ] {
        let text = format!("$ORIGIN name.id\n{good}{bad}\n");
        assert!(parse("name.id", &zf("name.id", &text)).is_err(), "{bad}");
    }
    // Another $ORIGIN: nothing.
    let text = format!("$ORIGIN other.id\n{good}");
    assert!(matches!(parse("name.id", &zf("name.id", &text)), Err(Abort::Origin { .. })));
    // One name twice in a file: the lowest seqn is the one.
    let mut r1 = r.clone();
    r1.seqn = 1;
    let text = format!("$ORIGIN name.id\n{}{good}", line("ok", &r1));
    let out = parse("name.id", &zf("name.id", &text)).unwrap();
    assert_eq!(out.records.iter().map(|r| r.seqn).collect::<Vec<_>>(), [0]);
    // _resolver and _missing.
    let text = format!("$ORIGIN name.id\n_resolver URI 10 1 \"https://r.example/\"\n_missing TXT \"3,5\"\n{good}");
    let out = parse("name.id", &zf("name.id", &text)).unwrap();
    assert_eq!(out.resolver.as_deref(), Some("https://r.example/"));
    assert_eq!(out.missing, [3, 5]);
    // An independent record (a full name) parses, and is never accepted.
    let text = format!("$ORIGIN name.id\n{}", line("ok.other.id.", &r));
    let out = parse("name.id", &zf("name.id", &text)).unwrap();
    assert!(out.records[0].independent);
    assert!(matches!(judge(None, &out.records[0]), Verdict::Rejected(_)));
}

#[test]
fn hostile_records_never_panic() {
    let cases = [
        "x TXT \"owner=\" \"seqn=18446744073709551616\" \"parts=1\"",
        "x TXT \"owner=a\" \"seqn=0\" \"parts=99999999999\"",
        "x TXT \"owner=a\" \"seqn=0\" \"parts=1\" \"zf0====\"",
        "UPPER TXT \"owner=a\" \"seqn=0\" \"parts=0\"",
        "a.b TXT \"owner=a\" \"seqn=0\" \"parts=0\"",
    ];
    for c in cases {
        let text = format!("$ORIGIN name.id\n{c}\n");
        let _ = parse("name.id", &zf("name.id", &text));
    }
    assert!(verify_signature("not-an-address", "x", Some("AAAA")).is_err());
    assert!(verify_signature("1111111111111111111114oLvT2", "x", Some("")).is_err());
}
