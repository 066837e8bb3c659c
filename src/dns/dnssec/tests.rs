//! Key tag and DS against a key validated by delv and unbound, signatures
//! verified with ring, bitmaps byte for byte, and the key file.

use base64::Engine as _;
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};

use super::denial::{nodata, nxname, type_bitmap, NSEC_MAX};
use super::key::{ds_digest, key_tag, FLAGS};
use super::sign::{canonical_rdata, labels, rrsig, Validity};
use super::{ZoneKey, ALGORITHM};
use crate::dns::snapshot::zone::name_wire;

/// A DNSKEY made elsewhere, whose DS (`example.test. DS 56823 13 2 941BE2…`)
/// delv 9.18 and unbound 1.17 validated a signed zone with.
const PUBLIC: &str = "5XFDSPMWuWnSdTdo1LMsGYV9nlpFNPYvWpKBHKhDr3UskisuygJI+Jyg0v6rhgxknIzoGZWSmfYPhMJXP5EPfQ==";

#[test]
fn key_tag_and_ds_match_a_key_real_validators_accepted() {
    let mut rdata = FLAGS.to_be_bytes().to_vec();
    rdata.extend_from_slice(&[3, ALGORITHM]);
    rdata.extend(base64::engine::general_purpose::STANDARD.decode(PUBLIC).unwrap());
    assert_eq!(key_tag(&rdata), 56823);
    let ds = ds_digest(&name_wire("example.test.").unwrap(), &rdata);
    assert_eq!(hex::encode_upper(ds), "941BE2FFF9AB9670778C14FA7EFC0D500908A2EE8EA59CDCC19FC2EDF2179DCB");
}

fn verify(key: &ZoneKey, sig_rdata: &[u8], owner: &[u8], rtype: u16, ttl: u32, rdatas: &[&[u8]]) -> bool {
    let signer_end = 18 + crate::dns::snapshot::zone::wire_name_len(&sig_rdata[18..]).unwrap();
    let mut data = sig_rdata[..signer_end].to_vec();
    let mut sorted: Vec<Vec<u8>> = rdatas.iter().map(|r| canonical_rdata(rtype, r).into_owned()).collect();
    sorted.sort();
    sorted.dedup();
    for rd in &sorted {
        data.extend_from_slice(owner);
        data.extend_from_slice(&rtype.to_be_bytes());
        data.extend_from_slice(&[0, 1]);
        data.extend_from_slice(&ttl.to_be_bytes());
        data.extend_from_slice(&(rd.len() as u16).to_be_bytes());
        data.extend_from_slice(rd);
    }
    let mut point = vec![4u8];
    point.extend_from_slice(&key.dnskey()[4..]);
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).verify(&data, &sig_rdata[signer_end..]).is_ok()
}

#[test]
fn an_rrset_signature_verifies_whatever_order_and_case_its_records_come_in() {
    let dir = tempfile::tempdir().unwrap();
    let (key, made) = ZoneKey::load_or_create(&dir.path().join("dnssec.key")).unwrap();
    assert!(made);
    let owner = name_wire("werner.id.").unwrap();
    let zone = name_wire("id.").unwrap();
    let v = Validity::around(1_800_000_000, 7);
    let (a, b) = ([192u8, 0, 2, 1], [192u8, 0, 2, 2]);
    let sig = rrsig(&key, &owner, 1, 3600, &[&b, &a, &a], &zone, v);
    assert_eq!(&sig[..2], &[0, 1], "type covered");
    assert_eq!((sig[2], sig[3]), (ALGORITHM, 2), "algorithm and labels");
    assert_eq!(u16::from_be_bytes([sig[16], sig[17]]), key.tag());
    assert_eq!(sig.len(), 18 + zone.len() + 64);
    assert!(verify(&key, &sig, &owner, 1, 3600, &[&a, &b]));
    assert!(!verify(&key, &sig, &owner, 1, 3601, &[&a, &b]), "another TTL");
    assert!(!verify(&key, &sig, &owner, 1, 3600, &[&a]), "another RRset");
    // MX with a mixed-case exchange: signed as lowercase.
    let mx = [&[0u8, 10][..], &name_wire("Mail.Example.").unwrap()].concat();
    let sig = rrsig(&key, &owner, 15, 300, &[&mx], &zone, v);
    let lower = [&[0u8, 10][..], &name_wire("mail.example.").unwrap()].concat();
    assert!(verify(&key, &sig, &owner, 15, 300, &[&lower]));
    assert_eq!(canonical_rdata(16, b"\x02Ab"), &b"\x02Ab"[..], "TXT is not a name");
}

#[test]
fn the_key_file_is_made_once_private_and_read_back() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dnssec.key");
    let (first, made) = ZoneKey::load_or_create(&path).unwrap();
    assert!(made);
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    let (again, made) = ZoneKey::load_or_create(&path).unwrap();
    assert!(!made);
    assert_eq!((again.tag(), again.dnskey()), (first.tag(), first.dnskey()));
    assert!(format!("{first:?}").contains("***"));
    std::fs::write(&path, b"not a key").unwrap();
    let e = ZoneKey::load_or_create(&path).unwrap_err().to_string();
    assert!(e.contains("not an ECDSA P-256 PKCS#8 key") && e.contains("bns dnssec anchor"), "{e}");
}

#[test]
fn compact_denial_bitmaps_are_byte_exact() {
    let bits = type_bitmap(&[47, 46, 128, 46]);
    let mut want = vec![0u8, 17, 0, 0, 0, 0, 0, 0x03];
    want.extend_from_slice(&[0; 10]);
    want.push(0x80);
    assert_eq!(bits, want, "RRSIG NSEC NXNAME");
    let q = name_wire("nope.id.").unwrap();
    let mut buf = [0u8; NSEC_MAX];
    let nx = nxname(&q, &mut buf).to_vec();
    assert_eq!(&nx[..2], &[1, 0], "next name \\000.nope.id.");
    assert_eq!(&nx[2..2 + q.len()], &q[..]);
    let nd = nodata(&q, &[1, 16], &mut buf).to_vec();
    assert_eq!(&nd[2 + q.len()..], &[0, 6, 0x40, 0, 0x80, 0, 0, 0x03][..], "A TXT RRSIG NSEC");
    assert_eq!(type_bitmap(&[1, 256]), vec![0, 1, 0x40, 1, 1, 0x80], "two windows (A, URI)");
    assert_eq!(labels(&name_wire("*.a.id.").unwrap()), 2);
    assert_eq!(labels(&name_wire("a.id.").unwrap()), 2);
    assert_eq!(labels(&[0]), 0);
}

#[test]
fn the_signature_cache_signs_each_rrset_once_per_serial() {
    use super::online::{Online, Sig};
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = ZoneKey::load_or_create(&dir.path().join("k")).unwrap();
    let online = Online::new(key);
    let zone = name_wire("id.").unwrap();
    let owner = name_wire("werner.id.").unwrap();
    let upper = name_wire("WERNER.id.").unwrap();
    let a: &[u8] = &[192, 0, 2, 10];
    let signs = std::cell::Cell::new(0);
    let get = |serial, owner: &[u8], ttl| {
        let sig = online.rrsig(
            serial,
            owner,
            1,
            ttl,
            || {
                signs.set(signs.get() + 1);
                vec![a]
            },
            &zone,
        );
        (matches!(sig, Sig::Cached(_)), sig.rdata().to_vec())
    };
    let (cached, first) = get(7, &owner, 3600);
    assert!(!cached && signs.get() == 1);
    assert!(verify(online.key(), &first, &owner, 1, 3600, &[a]));
    // The same RRset, any case: the cached signature, not signed again.
    assert_eq!(get(7, &owner, 3600), (true, first.clone()));
    assert_eq!(get(7, &upper, 3600), (true, first.clone()));
    assert_eq!(signs.get(), 1);
    // A new snapshot or another TTL is another RRset to sign.
    let (cached, other) = get(8, &owner, 3600);
    assert!(!cached && other != first && signs.get() == 2);
    let (cached, _) = get(8, &owner, 60);
    assert!(!cached && signs.get() == 3);
    assert!(get(8, &owner, 3600).0, "both stay cached side by side");
}
