//! The `bns` command line as a user runs it: help, zone-file hash and check.

mod support;

use std::process::{Command, Output};

use support::{repo_zones, DevNode};

fn bns(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bns")).args(args).output().expect("run bns")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn zone(name: &str) -> String {
    format!("{}/zones/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_command_has_help() {
    for args in [&["--help"][..], &["dev", "--help"], &["zonefile", "--help"], &["zonefile", "check", "--help"]] {
        let o = bns(args);
        assert!(o.status.success(), "{args:?}");
        assert!(stdout(&o).contains("Usage:"), "{args:?}: {}", stdout(&o));
    }
    let dev = stdout(&bns(&["dev", "--help"]));
    for flag in ["--data-dir", "--dns-addr", "--block-interval", "--zones", "--config"] {
        assert!(dev.contains(flag), "bns dev --help lists {flag}");
    }
}

#[test]
fn zonefile_hash_matches_the_mainnet_hash() {
    // zones/muneeb.id.zone holds muneeb.id's real mainnet zone file, byte for byte.
    let o = bns(&["zonefile", "hash", &zone("muneeb.id.zone")]);
    assert!(o.status.success());
    assert_eq!(stdout(&o).trim(), "37aecf837c6ae9bdc9dbd98a268f263dacd00361");
}

#[test]
fn zonefile_check_accepts_good_files_and_exits_1_with_the_reason() {
    let o = bns(&["zonefile", "check", &zone("werner.id.zone")]);
    assert!(o.status.success(), "{}", stdout(&o));
    assert!(stdout(&o).starts_with("ok: 10 records"), "{}", stdout(&o));

    let o = bns(&["zonefile", "check", &zone("muneeb.id.zone"), "--hash", "37aecf837c6ae9bdc9dbd98a268f263dacd00361"]);
    assert!(o.status.success(), "{}", stdout(&o));

    let o = bns(&["zonefile", "check", &zone("muneeb.id.zone"), "--hash", "0000000000000000000000000000000000000000"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("37aecf837c6ae9bdc9dbd98a268f263dacd00361"), "says the actual hash: {}", stdout(&o));

    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.zone");
    std::fs::write(&big, format!("$ORIGIN big.id\n@ TXT \"{}\"\n", "x".repeat(41_000))).unwrap();
    let o = bns(&["zonefile", "check", big.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("40960"), "{}", stdout(&o));

    let bad = dir.path().join("bad.zone");
    std::fs::write(&bad, "$ORIGIN bad.id\n@ A 192.0.2.1\nwww A not-an-address\n").unwrap();
    let o = bns(&["zonefile", "check", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("line 3"), "{}", stdout(&o));

    let o = bns(&["zonefile", "check", "/nonexistent/zone"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read"));
}

fn json(args: &[&str]) -> serde_json::Value {
    let o = bns(args);
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn query_commands_read_the_index_of_a_dev_node() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    DevNode::start(dir.path(), &repo_zones()).kill9();
    let zf = std::fs::read(repo_zones().join("werner.id.zone")).unwrap();
    let want_hash = bns::hash::ValueHash::of_zonefile(&zf).to_hex();

    let show = json(&["name", "show", "werner.id", "--data-dir", data]);
    assert_eq!(show["status"], "registered");
    assert_eq!(show["zonefile_hash"], want_hash.as_str());
    assert_eq!(show["zonefile"].as_str().unwrap().as_bytes(), &zf[..]);
    let owner = show["address"].as_str().unwrap().to_string();

    let hist = json(&["name", "history", "werner.id", "--data-dir", data]);
    let entries: Vec<&serde_json::Value> =
        hist.as_object().unwrap().values().flat_map(|v| v.as_array().unwrap()).collect();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["opcode"], "NAME_REGISTRATION");
    assert_eq!(entries[0]["value_hash"], want_hash.as_str());

    let owned = json(&["name", "owned", &owner, "--data-dir", data]);
    assert_eq!(owned.as_array().unwrap().len(), 5, "the dev wallet owns every zones/ name");
    assert_eq!(json(&["name", "show", "nobody.id", "--data-dir", data])["status"], "available");
    assert_eq!(
        json(&["name", "show", "WERNER.ID", "--data-dir", data])["status"],
        "registered",
        "names are case-insensitive"
    );

    // werner: 6 letters -> bucket 1: 250 * 4 * 100 // 1 // 10 = 10000 satoshis.
    let price = json(&["price", "werner.id", "--data-dir", data]);
    assert_eq!(price["price"]["amount"], 10000);
    assert_eq!(price["price"]["units"], "satoshis");

    let ns = json(&["namespace", "show", "id", "--data-dir", data]);
    assert_eq!(ns["ready"], true);
    assert_eq!(ns["name_count"], 3);
    assert_eq!(ns["namespace"]["coeff"], 250);

    // A raw transaction straight from the dev chain: the block-105 name preorders.
    let chain =
        bns::chain::devchain::DevChain::open(&dir.path().join("devchain.dat"), bitcoin::Network::Regtest).unwrap();
    let block = bns::chain::BlockSource::block(&chain, 105).unwrap();
    let raw = bitcoin::consensus::encode::serialize_hex(&block.txdata[1]);
    let decoded = json(&["op", "decode", &raw, "--network", "regtest"]);
    assert_eq!(decoded["op"]["type"], "NAME_PREORDER");
    // The change output pays the dev wallet, in the dev chain's (regtest) address format.
    assert_eq!(decoded["outputs"][1]["address"], owner.as_str());
    assert_eq!(decoded["outputs"].as_array().unwrap().len(), 3);

    let o = bns(&["name", "show", "werner.id", "--data-dir", "/nonexistent"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("start `bns node` or `bns dev`"));
}

#[test]
fn op_decode_reads_mainnet_payloads_by_epoch() {
    // patrickstanley.id's preorder payload (SPEC.md §8) at mainnet block 445838 (epoch 2).
    let p = "69643f26bf7874706ac761afdd403ed6b3b9578fb01a3417ac43c1d8549c3181b200f1bf97eb7d";
    let v = json(&["op", "decode", p, "--height", "445838"]);
    assert_eq!(v["epoch"], 2);
    assert_eq!(v["op"]["fields"]["preorder_hash"], "26bf7874706ac761afdd403ed6b3b9578fb01a34");
    let o = bns(&["op", "decode", "zz"]);
    assert_eq!(o.status.code(), Some(1));
}

/// A bad `--tsig-key`, on the command line or in the config file, stops
/// `bns dev` before anything starts, names the key and never shows the secret.
#[test]
fn a_bad_tsig_key_fails_at_once_without_showing_its_secret() {
    let secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg==";
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("bns.toml");
    std::fs::write(&conf, format!("tsig-keys = [\"xfr:hmac-md5:{secret}\"]\n")).unwrap();
    let data = dir.path().join("data");
    for extra in [&["--tsig-key", &format!("xfr:hmac-md5:{secret}")][..], &["--config", conf.to_str().unwrap()]] {
        let mut args = vec!["dev", "--data-dir", data.to_str().unwrap(), "--dns-addr", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let o = bns(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{extra:?}");
        assert!(err.contains("--tsig-key: TSIG key xfr: algorithm \"hmac-md5\""), "{extra:?}: {err}");
        assert!(!err.contains(secret) && !stdout(&o).contains(secret), "{extra:?}: the secret was shown");
        assert!(!data.join("devchain.dat").exists(), "nothing was set up");
    }
}
