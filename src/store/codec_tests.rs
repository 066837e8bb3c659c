//! Round trips of the binary record encodings.

use super::*;
use crate::hash::PreorderHash;

fn p2pkh(h: u8) -> String {
    format!("76a914{}88ac", hex::encode([h; 20]))
}

fn addr_of(version: u8, h: u8) -> String {
    let mut v = vec![version];
    v.extend_from_slice(&[h; 20]);
    bitcoin::base58::encode_check(&v)
}

fn record() -> NameRecord {
    NameRecord {
        name: "werner.id".into(),
        namespace_id: "id".into(),
        value_hash: Some(ValueHash([7; 20])),
        sender: p2pkh(1),
        sender_pubkey: Some(hex::encode([2u8; 33])),
        address: addr_of(0x6f, 1),
        block_number: 100,
        preorder_block_number: 101,
        first_registered: 102,
        last_renewed: 103,
        revoked: false,
        op: ":".into(),
        txid: hex::encode([9u8; 32]),
        vtxindex: 7,
        op_fee: 6_400_000,
        importer: None,
        importer_address: None,
        last_creation_op: "?".into(),
        last_block: 102,
    }
}

/// Records with every kind of odd field: non-hex scripts, addresses that are
/// not base58check or do not match the script, huge numbers, empty strings.
fn odd_records() -> Vec<NameRecord> {
    let base = record();
    let mut out = vec![base.clone()];
    let mut r = base.clone();
    r.sender = "not hex at all".into();
    r.address = addr_of(0x00, 1);
    out.push(r);
    let mut r = base.clone();
    r.address = addr_of(0x05, 3);
    r.sender = format!("a914{}87", hex::encode([3u8; 20]));
    out.push(r);
    let mut r = base.clone();
    r.address = "1NotBase58Check".into();
    r.sender = "ABCDEF".into();
    r.txid = String::new();
    r.op_fee = u64::MAX;
    r.block_number = u64::MAX;
    r.vtxindex = u32::MAX;
    out.push(r);
    let mut r = base.clone();
    r.importer = Some(p2pkh(4));
    r.importer_address = Some(addr_of(0x6f, 4));
    r.revoked = true;
    r.value_hash = None;
    r.sender_pubkey = Some("abc".into());
    out.push(r);
    let mut r = base;
    r.importer = Some("zz".into());
    r.importer_address = Some(String::new());
    r.address = String::new();
    out.push(r);
    out
}

#[test]
fn name_records_round_trip_through_body_and_whole_encodings() {
    for r in odd_records() {
        let body = name_body(&r).unwrap();
        let mut back = blank_name(&r.name, &r.namespace_id);
        back.sender = r.sender.clone();
        back.value_hash = r.value_hash;
        read_name_body(&mut back, &body).unwrap();
        assert_eq!(back, r);
    }
}

#[test]
fn a_delta_holds_only_changed_fields_and_rebuilds_the_record() {
    let records = odd_records();
    for before in &records {
        for after in &records {
            let mut delta = Vec::new();
            put_name_delta(&mut delta, before, after).unwrap();
            let mut rebuilt = before.clone();
            let mut rd = Reader::new(&delta, "t");
            read_name_delta(&mut rd, &mut rebuilt).unwrap();
            rd.finish().unwrap();
            assert_eq!(&rebuilt, after);
        }
    }
    // An update: new hash and position only.
    let before = record();
    let mut after = before.clone();
    after.value_hash = Some(ValueHash([8; 20]));
    let mut delta = Vec::new();
    put_name_delta(&mut delta, &before, &after).unwrap();
    assert_eq!(delta.len(), 1 + 1 + 20, "mask, option tag, hash: {}", hex::encode(&delta));
    // A transfer: the address follows the new script, so it costs 2 bytes.
    let mut after = before.clone();
    after.sender = p2pkh(5);
    after.address = addr_of(0x6f, 5);
    let mut delta = Vec::new();
    put_name_delta(&mut delta, &before, &after).unwrap();
    let mut rebuilt = before.clone();
    read_name_delta(&mut Reader::new(&delta, "t"), &mut rebuilt).unwrap();
    assert_eq!(rebuilt, after);
    assert!(delta.len() < 1 + 1 + 26 + 3, "{}", delta.len());
}

#[test]
fn the_address_of_the_owner_script_costs_two_bytes() {
    let r = record();
    let mut out = Vec::new();
    put_addr(&mut out, &r.address, hex::decode(&r.sender).ok().as_deref());
    assert_eq!(out, [2, 0x6f]);
    let mut out = Vec::new();
    put_addr(&mut out, &addr_of(0x6f, 0), None);
    assert_eq!(out, [3, 0x6f], "a burn address is its version byte");
    assert_eq!(Reader::new(&out, "t").addr(None).unwrap(), addr_of(0x6f, 0));
}

#[test]
fn preorders_and_history_heads_round_trip() {
    let p = PreorderRecord {
        preorder_hash: PreorderHash([1; 20]),
        consensus_hash: ConsensusHash([2; 16]),
        sender: p2pkh(3),
        sender_pubkey: None,
        address: addr_of(0x6f, 3),
        block_number: 5,
        op_fee: 6,
        burn_address: Some(addr_of(0x00, 0)),
        token_fee: 7,
        token_units: Some("STACKS".into()),
        op: "?".into(),
        txid: hex::encode([4u8; 32]),
        vtxindex: 9,
    };
    let txid = p.txid.clone();
    let (own, other) = (Some((p.block_number, p.vtxindex, txid.as_str())), Some((p.block_number, 10, txid.as_str())));
    let mut sizes = Vec::new();
    for at in [None, own, other] {
        let mut out = Vec::new();
        put_preorder(&mut out, &p, at);
        let mut rd = Reader::new(&out, "t");
        assert_eq!(read_preorder(&mut rd, at).unwrap(), p, "at {at:?}");
        rd.finish().unwrap();
        sizes.push(out.len());
    }
    assert!(sizes[1] + 32 < sizes[2], "in its own ops row a preorder leaves out its position: {sizes:?}");
    let mut own_row = Vec::new();
    put_preorder(&mut own_row, &p, own);
    assert!(read_preorder(&mut Reader::new(&own_row, "t"), None).is_err(), "a position it left out is not made up");
    for (opcode, x) in [
        ("NAME_UPDATE", HistoryExtra { consensus_hash: Some(ConsensusHash([1; 16])), ..Default::default() }),
        (
            "NAME_TRANSFER",
            HistoryExtra {
                name_hash128: Some(NameHash128([3; 16])),
                consensus_hash: Some(ConsensusHash([4; 16])),
                keep_data: Some(false),
                name_consensus_hash: Some(NameConsensusHash([5; 16])),
            },
        ),
        ("SOMETHING_NEW", HistoryExtra::default()),
    ] {
        let mut out = Vec::new();
        put_history_head(&mut out, opcode, &x);
        let mut rd = Reader::new(&out, "t");
        assert_eq!(read_history_head(&mut rd).unwrap(), (opcode.to_string(), x));
        rd.finish().unwrap();
    }
}

#[test]
fn truncated_or_garbage_bytes_are_errors_not_panics() {
    let r = record();
    let body = name_body(&r).unwrap();
    for n in 0..body.len() {
        let mut back = blank_name(&r.name, &r.namespace_id);
        back.sender = r.sender.clone();
        assert!(read_name_body(&mut back, &body[..n]).is_err(), "{n} of {} bytes", body.len());
    }
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..2_000 {
        let junk: Vec<u8> = (0..(seed % 97) as usize)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        let mut back = record();
        let _ = read_name_body(&mut back, &junk);
        let _ = read_preorder(&mut Reader::new(&junk, "t"), None);
        let _ = read_history_head(&mut Reader::new(&junk, "t"));
        let mut rec = record();
        let _ = read_name_delta(&mut Reader::new(&junk, "t"), &mut rec);
    }
}

#[test]
fn to_hex_matches_the_hex_crate() {
    let all: Vec<u8> = (0..=255).collect();
    assert_eq!(to_hex(&all), hex::encode(&all));
    assert_eq!(to_hex(&[]), "");
}
