//! Snapshot sync: `bns export` / `bns import --trust`. An honest snapshot
//! imports to the same index and answers the same as the node it came from
//! (and follows the chain on from there); a tampered or damaged one is
//! refused with its own reason and leaves nothing behind.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use bitcoin::Network;
use bns::bns::ChainParams;
use bns::chain::devchain::DevChain;
use bns::indexer::Indexer;
use bns::store::{table_rows, Store, DUMP_TABLES};
use support::*;

const NET: Network = Network::Regtest;

/// A dev chain of `n` names (preorder, register, update each) indexed into
/// `dir/a.sqlite`, with one name's zone file held; returns the indexer.
fn indexed_chain(dir: &Path, n: usize) -> (DevChain, Indexer, ChainParams) {
    let chain = DevChain::open(&dir.join("chain.dat"), NET).unwrap();
    let w = bns::tx::Wallet::generate(NET);
    let params = ChainParams::test(1, *b"id").with_allocation(w.address().to_string(), 1_000_000_000_000_000);
    let store = Store::open(&dir.join("a.sqlite")).unwrap();
    store.set_meta("chain_params", &serde_json::to_string(&params).unwrap()).unwrap();
    let mut idx = Indexer::new(store, params.clone(), NET, 1);
    for _ in 0..101 {
        chain.mine(&w.script_pubkey()).unwrap();
    }
    bns::node::generate::register_and_update_names(&chain, &mut idx, &w, "bench", n, 40).unwrap();
    let zf = bns::node::generate::bench_zonefile("n3.bench");
    idx.store().put_zonefile(zf.as_bytes(), "test").unwrap();
    (chain, idx, params)
}

/// Exports a copy of `store` tampered with by `sql` (none: honest).
fn export_tampered(store: &Store, dir: &Path, label: &str, sql: &str) -> PathBuf {
    let tip = store.last_block().unwrap().unwrap().height;
    let copy = dir.join(format!("{label}.sqlite"));
    drop(store.copy_at(tip, &copy).unwrap());
    if !sql.is_empty() {
        let conn = rusqlite::Connection::open(&copy).unwrap();
        let changed = conn.execute(sql, []).unwrap();
        assert!(changed > 0, "{label}: the tampering changed nothing: {sql}");
    }
    let file = dir.join(format!("{label}.snap"));
    bns::fastsync::export(&mut Store::open(&copy).unwrap(), &file, None).unwrap();
    file
}

fn import_into(dir: &Path, label: &str, file: &Path, trust: &bns::hash::ConsensusHash) -> (Store, anyhow::Result<()>) {
    let mut fresh = Store::open(&dir.join(format!("{label}-in.sqlite"))).unwrap();
    let r = bns::fastsync::import(&mut fresh, file, trust).map(|_| ());
    (fresh, r)
}

#[test]
fn honest_snapshots_import_to_the_same_index_and_tampered_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (chain, mut idx, params) = indexed_chain(d, 120);
    let tip = idx.store().last_block().unwrap().unwrap();
    let trusted = tip.consensus_hash;

    // Honest: the same rows, table by table; then both follow new blocks alike.
    let honest = export_tampered(idx.store(), d, "honest", "");
    let (imported, r) = import_into(d, "honest", &honest, &trusted);
    r.expect("an honest snapshot imports");
    for (table, _) in DUMP_TABLES {
        assert_eq!(
            table_rows(&d.join("a.sqlite"), table).unwrap(),
            table_rows(&d.join("honest-in.sqlite"), table).unwrap(),
            "table {table} differs after import"
        );
    }
    assert_eq!(imported.name_count().unwrap(), 120);
    assert_eq!(imported.history("n7.bench").unwrap(), idx.store().history("n7.bench").unwrap());
    assert_eq!(imported.reorg_horizon().unwrap(), tip.height, "nothing below the snapshot can be undone");
    let w = bns::tx::Wallet::generate(NET);
    for _ in 0..3 {
        chain.mine(&w.script_pubkey()).unwrap();
    }
    idx.catch_up(&chain).unwrap();
    let mut follower = Indexer::new(imported, params, NET, 1);
    assert_eq!(follower.catch_up(&chain).unwrap().blocks, 3, "continues from the block after the snapshot");
    assert_eq!(
        follower.store().last_block().unwrap().unwrap().consensus_hash,
        idx.store().last_block().unwrap().unwrap().consensus_hash
    );

    // Tampered: each refused with its reason, nothing imported.
    let mid = tip.height - 3;
    let cases: Vec<(&str, String, &str)> = vec![
        ("owner", "UPDATE names SET value_hash = zeroblob(20) WHERE name = 'n5.bench'".into(), "n5.bench is not what its history leaves"),
        (
            "history",
            "UPDATE ops SET txid = zeroblob(32) WHERE op = ':' AND height = (SELECT MIN(height) FROM ops WHERE op = ':')"
                .into(),
            "its history was altered",
        ),
        ("dropped-op", format!("DELETE FROM ops WHERE op = '?' AND height = {mid}"), "its history was altered"),
        ("prior-hash", format!("UPDATE blocks SET consensus_hash = zeroblob(16) WHERE height = {mid}"), "a prior consensus hash was altered"),
        ("ops-hash", format!("UPDATE blocks SET ops_hash = zeroblob(32) WHERE height = {mid}"), "its history was altered"),
        ("zonefile", "UPDATE zonefiles SET content = CAST('x' AS BLOB)".into(), "does not hash to its key"),
        ("inventory", "UPDATE atlas_inventory SET value_hash = zeroblob(20) WHERE inv_index = 2".into(), "not the hash its op left"),
    ];
    for (label, sql, why) in cases {
        let file = export_tampered(idx.store(), d, label, &sql);
        let tip_now = idx.store().last_block().unwrap().unwrap().consensus_hash;
        let (fresh, r) = import_into(d, label, &file, &tip_now);
        let err = format!("{:#}", r.expect_err(label));
        assert!(err.contains(why), "{label}: {err}");
        assert!(fresh.last_block().unwrap().is_none(), "{label}: a refused import leaves no blocks");
    }

    // Not the trusted chain; a damaged file; a data dir that has an index.
    let (_, r) = import_into(d, "untrusted", &honest, &bns::hash::ConsensusHash([7; 16]));
    assert!(format!("{:#}", r.unwrap_err()).contains("not the trusted"));
    let mut bytes = std::fs::read(&honest).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x40;
    let damaged = d.join("damaged.snap");
    std::fs::write(&damaged, &bytes).unwrap();
    let (fresh, r) = import_into(d, "damaged", &damaged, &trusted);
    assert!(r.is_err(), "a flipped byte is caught");
    assert!(fresh.last_block().unwrap().is_none());
    let (_, r) = import_into(d, "honest", &honest, &trusted);
    assert!(format!("{:#}", r.unwrap_err()).contains("already has an index"));
    let truncated = d.join("truncated.snap");
    std::fs::write(&truncated, &std::fs::read(&honest).unwrap()[..1000]).unwrap();
    let (_, r) = import_into(d, "truncated", &truncated, &trusted);
    assert!(format!("{:#}", r.unwrap_err()).contains("truncated"));
}

#[test]
fn export_at_a_past_height_imports_and_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (chain, idx, params) = indexed_chain(d, 60);
    let tip = idx.store().last_block().unwrap().unwrap().height;
    let past = tip - 2;
    let trusted = idx.store().block_at(past).unwrap().unwrap().consensus_hash;
    let file = d.join("past.snap");
    let mut a = Store::open(&d.join("a.sqlite")).unwrap();
    let r = bns::fastsync::export(&mut a, &file, Some(past)).unwrap();
    assert_eq!((r.height, r.consensus_hash), (past, trusted));
    assert_eq!(idx.store().last_block().unwrap().unwrap().height, tip, "the source index is not rolled back");
    let (imported, r) = import_into(d, "past", &file, &trusted);
    r.unwrap();
    let mut follower = Indexer::new(imported, params, NET, 1);
    assert_eq!(follower.catch_up(&chain).unwrap().blocks, 2);
    // The zone file announced after the snapshot's height stays behind (Atlas brings it).
    for (table, _) in DUMP_TABLES.iter().filter(|(t, _)| *t != "zonefiles") {
        assert_eq!(
            table_rows(&d.join("a.sqlite"), table).unwrap(),
            table_rows(&d.join("past-in.sqlite"), table).unwrap(),
            "table {table} differs after import and catch-up"
        );
    }
    assert!(table_rows(&d.join("past-in.sqlite"), "zonefiles").unwrap().is_empty());
    let err = bns::fastsync::export(&mut a, &file, Some(tip + 5)).unwrap_err();
    assert!(format!("{err:#}").contains("above the index's tip"));
}

fn bns(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_bns")).args(args).output().unwrap()
}

#[test]
fn a_node_started_from_an_imported_snapshot_answers_like_the_one_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let zones = copy_zones(dir.path());
    let a_dir = dir.path().join("a");
    let a = DevNode::start(&a_dir, &zones);
    let file = dir.path().join("state.snap");
    let out = bns(&["export", file.to_str().unwrap(), "--data-dir", a_dir.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let ch = text.lines().find_map(|l| l.strip_prefix("consensus hash at block ")).unwrap();
    let (height, ch) = ch.split_once(": ").unwrap();
    // The hash to trust comes from the node itself, not from the file.
    let a_store = Store::open_readonly(&a_dir.join("bns.sqlite")).unwrap();
    let stated = a_store.block_at(height.parse().unwrap()).unwrap().unwrap().consensus_hash;
    assert_eq!(ch, stated.to_hex());

    let b_dir = dir.path().join("b");
    let bad =
        bns(&["import", file.to_str().unwrap(), "--trust", &"ab".repeat(16), "--data-dir", b_dir.to_str().unwrap()]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("not the trusted"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let ok = bns(&["import", file.to_str().unwrap(), "--trust", ch, "--data-dir", b_dir.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&ok.stdout).to_string();
    assert!(ok.status.success(), "{said}{}", String::from_utf8_lossy(&ok.stderr));
    assert!(said.contains("verified") && said.contains("not verified"), "{said}");

    let chain_file = a_dir.join("devchain.dat");
    let b = DevNode::node(&b_dir, &["--dev-chain", chain_file.to_str().unwrap(), "--namespace-policy", "test=bns"]);
    let mut names: Vec<String> = std::fs::read_dir(&zones)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok()?.strip_suffix(".zone").map(str::to_string))
        .collect();
    names.sort();
    assert!(names.len() >= 3, "{names:?}");
    for name in &names {
        for qtype in ["A", "TXT", "AAAA", "MX"] {
            let q = [name.as_str(), qtype, "+short"];
            assert_eq!(dig(a.dns, &q), dig(b.dns, &q), "{name} {qtype}");
        }
        let a_hist = a_store.history(name).unwrap();
        let b_hist = Store::open_readonly(&b_dir.join("bns.sqlite")).unwrap().history(name).unwrap();
        assert_eq!(a_hist, b_hist, "history of {name}");
    }
    let txt = dig(b.dns, &["werner.id", "TXT", "+short"]);
    assert!(!txt.trim().is_empty(), "the imported node answers werner.id TXT");
    drop(b);
    drop(a);
}
