//! The DNS snapshot of a real `bns dev`: zone files parsed per name, the
//! snapshot file across restarts (clean, kill -9 at random moments, torn or
//! damaged files), and a locked store that answers neither wait on nor fail with.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use bns::dns::snapshot::Image;
use support::{copy_zones, dig, DevNode};

/// The same zone file, without `$ORIGIN`, for two names: relative owners
/// mean something different under each.
const TWIN: &str = "$TTL 300\n@ IN A 192.0.2.77\nwww IN A 192.0.2.78\n";

fn zones_with_twins(dir: &Path) -> std::path::PathBuf {
    let zones = copy_zones(&dir.join("zones"));
    std::fs::write(zones.join("twina.id.zone"), TWIN).unwrap();
    std::fs::write(zones.join("twinb.id.zone"), TWIN).unwrap();
    zones
}

fn check_answers(node: &DevNode) {
    assert_eq!(dig(node.dns, &["werner.id", "A", "+short"]).trim(), "192.0.2.10");
    for twin in ["twina.id", "twinb.id"] {
        assert_eq!(dig(node.dns, &[twin, "A", "+short"]).trim(), "192.0.2.77", "{twin}");
        let www = dig(node.dns, &[&format!("www.{twin}"), "A"]);
        assert!(www.contains(&format!("www.{twin}.")) && www.contains("192.0.2.78"), "{www}");
    }
    assert!(dig(node.dns, &["nobody.id", "A"]).contains("status: NXDOMAIN"));
}

/// Stops a node with SIGINT (as Ctrl-C) and waits for a clean exit.
fn interrupt(mut node: DevNode) {
    let pid = node.child.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while node.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "bns dev did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn mtime(p: &Path) -> SystemTime {
    std::fs::metadata(p).unwrap().modified().unwrap()
}

#[test]
fn a_zone_file_shared_by_two_names_answers_for_each() {
    let dir = tempfile::tempdir().unwrap();
    let zones = zones_with_twins(dir.path());
    let node = DevNode::start(&dir.path().join("data"), &zones);
    check_answers(&node);
    // Neither name's file speaks for the other's owners.
    let cross = dig(node.dns, &["www.twina.id", "A"]);
    assert!(!cross.contains("twinb"), "{cross}");
}

#[test]
fn the_snapshot_file_survives_restarts_and_a_damaged_one_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let zones = zones_with_twins(dir.path());
    let data = dir.path().join("data");
    let file = data.join("dns.snapshot");
    let node = DevNode::start(&data, &zones);
    check_answers(&node);
    interrupt(node);
    // A clean stop leaves a whole snapshot at the indexed height.
    let image = Image::open(&file).expect("intact snapshot file");
    assert!(image.len() >= 7, "{}", image.len());
    let written = mtime(&file);

    // Restart: the file is mapped as it is (not rebuilt, so not rewritten).
    std::thread::sleep(Duration::from_millis(20));
    let node = DevNode::start(&data, &zones);
    check_answers(&node);
    interrupt(node);
    assert_eq!(mtime(&file), written, "a matching snapshot file is used, not rebuilt");

    // Torn, flipped or foreign files, and a leftover temporary file from a
    // killed writer: detected, never served; the next start rebuilds.
    let whole = std::fs::read(&file).unwrap();
    let mut flipped = whole.clone();
    let at = flipped.len() - 10;
    flipped[at] ^= 0xff;
    for damaged in [whole[..whole.len() / 2].to_vec(), flipped, b"not a snapshot".to_vec(), Vec::new()] {
        std::fs::write(&file, &damaged).unwrap();
        std::fs::write(data.join("dns.snapshot.tmp"), &whole[..whole.len() / 3]).unwrap();
        let node = DevNode::start(&data, &zones);
        check_answers(&node);
        interrupt(node);
        let again = Image::open(&file).expect("rebuilt and written whole").meta();
        let before = image.meta();
        assert_eq!(
            (again.height, again.block_hash, again.zonefile_watermark),
            (before.height, before.block_hash, before.zonefile_watermark)
        );
        // RFC 1982: a rebuild never takes the SOA serial back.
        assert!(again.serial > before.serial, "{} after {}", again.serial, before.serial);
    }
}

#[test]
fn kill9_at_random_moments_never_leaves_a_snapshot_that_answers_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let zones = zones_with_twins(dir.path());
    let data = dir.path().join("data");
    DevNode::start(&data, &zones).kill9();
    for delay_ms in [5u64, 40, 90, 150, 260, 400] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bns"))
            .args(["dev", "--block-interval", "3600", "--upstream", "none"])
            .args(support::FREE_PORTS)
            .arg("--zones")
            .arg(&zones)
            .arg("--data-dir")
            .arg(&data)
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap();
        child.wait().unwrap();
        let node = DevNode::start(&data, &zones);
        check_answers(&node);
        node.kill9();
    }
}

#[test]
fn a_locked_store_is_never_answered_as_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let zones = zones_with_twins(dir.path());
    let data = dir.path().join("data");
    let node = DevNode::start(&data, &zones);
    check_answers(&node);
    // Another process holds the store's write lock (as a long write would):
    // the indexer and refreshes wait or fail meanwhile; answers come from the
    // snapshot and neither wait nor change.
    let db = data.join("bns.sqlite");
    assert!(db.exists(), "{}", db.display());
    let mut lock = Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys,time; c=sqlite3.connect(sys.argv[1], isolation_level=None); \
             c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(6)",
        ])
        .arg(&db)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(lock.stdout.as_mut().unwrap()), &mut line).unwrap();
    assert_eq!(line.trim(), "locked");
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until {
        check_answers(&node);
    }
    lock.wait().unwrap();
    check_answers(&node);
}

#[test]
fn the_apex_announces_a_name_server_bns_answers_and_the_do_bit_is_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Default: the apex is its own name server, at the DNS address.
    let node = DevNode::start(&data, &support::repo_zones());
    let ns = dig(node.dns, &["id", "NS"]);
    assert!(ns.contains("id.\t\t\t300\tIN\tNS\tid.") || ns.contains("IN\tNS\tid."), "{ns}");
    assert_eq!(dig(node.dns, &["id", "A", "+short"]).trim(), "127.0.0.1");
    let soa = dig(node.dns, &["id", "SOA", "+short"]);
    assert!(soa.starts_with("id. hostmaster.bns.invalid. "), "{soa}");
    // RFC 3225: DO set in the query, DO set in the answer (UDP and TCP).
    for tcp in ["+notcp", "+tcp"] {
        let out = dig(node.dns, &["werner.id", "A", "+dnssec", tcp]);
        assert!(out.contains("flags: do;"), "{out}");
    }
    node.kill9();
    // Configured: an NS name under a namespace is answered by bns, ahead of the chain.
    let node =
        DevNode::start_with(&data, &support::repo_zones(), &["--ns-name", "werner.id", "--ns-addr", "192.0.2.53"]);
    assert_eq!(dig(node.dns, &["id", "NS", "+short"]).trim(), "werner.id.");
    assert_eq!(dig(node.dns, &["werner.id", "A", "+short"]).trim(), "192.0.2.53");
    assert_eq!(dig(node.dns, &["hal.btc", "A", "+short"]).trim(), "198.51.100.2");
}
