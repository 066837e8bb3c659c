//! The NAME_TRANSFER consensus-hash quirk over stored history.

use bitcoin::hashes::Hash;
use bitcoin::BlockHash;

use super::Store;
use crate::bns::{Effect, HistoryExtra, NameRecord, OpMeta, StateStore, StateView};
use crate::hash::ConsensusHash;

fn rec() -> NameRecord {
    NameRecord {
        name: "quirk.id".into(),
        namespace_id: "id".into(),
        value_hash: None,
        sender: "76a914".into(),
        sender_pubkey: None,
        address: "addr".into(),
        block_number: 1,
        preorder_block_number: 1,
        first_registered: 2,
        last_renewed: 2,
        revoked: false,
        op: ":".into(),
        txid: String::new(),
        vtxindex: 0,
        op_fee: 0,
        importer: None,
        importer_address: None,
        last_creation_op: "?".into(),
        last_block: 2,
    }
}

#[test]
fn transfer_quirk_walks_history_back_to_the_last_update_or_creation() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("s.sqlite")).unwrap();
    let mut w = store.begin_block(10, BlockHash::all_zeros()).unwrap();
    let ch = |b: u8| ConsensusHash([b; 16]);
    let put = |w: &mut super::BlockWriter<'_>, height: u64, vtxindex: u32, op: &str, ch: Option<ConsensusHash>| {
        let txid = format!("{:064x}", height * 1000 + u64::from(vtxindex));
        let meta = OpMeta { height, vtxindex, txid, op: op.into(), opcode: "TEST" };
        let effects = [Effect::PutName(rec())];
        w.apply(&effects[0], &meta).unwrap();
        w.record_history(&effects, &meta, &HistoryExtra { consensus_hash: ch, ..HistoryExtra::default() }, "").unwrap();
    };
    let last = |w: &super::BlockWriter<'_>, h, v| w.last_update_consensus_hash("quirk.id", h, v).unwrap();
    assert_eq!(last(&w, 100, 0), None, "no history");
    put(&mut w, 2, 1, ":", None);
    assert_eq!(last(&w, 3, 0), None, "registration first: the transfer's own hash");
    put(&mut w, 3, 4, "+", Some(ch(1)));
    put(&mut w, 4, 0, ">>", Some(ch(9)));
    put(&mut w, 5, 0, "::", None);
    assert_eq!(last(&w, 6, 0), Some(ch(1)), "skips transfers and renewals back to the update");
    assert_eq!(last(&w, 3, 4), None, "ignores the update itself and anything later");
    assert_eq!(last(&w, 3, 5), Some(ch(1)));
    put(&mut w, 7, 2, ";", None);
    assert_eq!(last(&w, 8, 0), None, "an import ends the walk");
    put(&mut w, 8, 3, "+", Some(ch(2)));
    assert_eq!(last(&w, 8, 9), Some(ch(2)), "same block, earlier tx");
}

#[test]
fn a_store_v1_data_dir_opens_with_its_zone_files_and_peers_and_replays_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.sqlite");
    let zonefile = b"$ORIGIN old.id\n$TTL 3600\nold TXT \"kept\"\n".to_vec();
    let hash = crate::hash::ValueHash::of_zonefile(&zonefile);
    {
        // A data dir as bns wrote it before store v2: schema 1-5, hex keys, JSON records.
        let conn = rusqlite::Connection::open(&path).unwrap();
        for sql in &super::schema::MIGRATIONS[..5] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 5).unwrap();
        conn.execute("INSERT INTO blocks VALUES (7, ?1, ?2, ?2, 1, 0)", [format!("{:064x}", 7), format!("{:032x}", 1)])
            .unwrap();
        conn.execute(
            "INSERT INTO names VALUES ('old.id', 'id', '76a914', 'addr', ?1, 7, '{}', NULL)",
            [hash.to_string()],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO zonefiles VALUES (?1, ?2, 'atlas', 1)",
            rusqlite::params![hash.to_string(), zonefile],
        )
        .unwrap();
        conn.execute("INSERT INTO zonefiles VALUES ('not hex', x'00', 'atlas', 2)", []).unwrap();
        conn.execute("INSERT INTO atlas_peers VALUES ('127.0.0.1:6264', 1, 1)", []).unwrap();
        conn.execute("INSERT INTO meta VALUES ('chain_params', 'kept')", []).unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.last_block().unwrap(), None, "chain state dropped: the indexer replays from the first block");
    assert_eq!(store.name("old.id").unwrap(), None);
    assert_eq!(store.name_count().unwrap(), 0);
    assert_eq!(store.zonefile(&hash).unwrap(), Some(zonefile), "zone files survive, under their binary key");
    assert_eq!(store.atlas_peers().unwrap().len(), 1, "Atlas peers survive");
    assert_eq!(store.meta("chain_params").unwrap().as_deref(), Some("kept"));
    drop(store);
    // Opening it again is a no-op (migrations ran once).
    drop(Store::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    let rows: i64 = conn.query_row("SELECT COUNT(*) FROM zonefiles", [], |r| r.get(0)).unwrap();
    assert_eq!(rows, 1, "the one row whose key was not a hash is dropped");
}
