//! The `bns` command line as a user runs it: help, zone-file hash and check.

use std::process::{Command, Output};

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
