//! The node against an unlucky operator, through the real binary: numbers out
//! of range in flags and config are clear errors, and an indexer thread that
//! dies stops the node instead of leaving it answering from a frozen index.

mod support;

use std::io::Read as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::DevNode;

fn bns(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_bns")).args(args).env("RUST_LOG", "warn").output().unwrap()
}

#[test]
fn non_finite_and_out_of_range_seconds_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    for bad in ["nan", "inf", "-1", "0", "1e9", "soon"] {
        let out = bns(&["dev", &format!("--block-interval={bad}"), "--data-dir", &d]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{bad}: {err}");
        assert!(
            err.contains("--block-interval") && (err.contains("out of range") || err.contains("not a number")),
            "{bad}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
        let out = bns(&["node", &format!("--poll-interval={bad}"), "--data-dir", &d]);
        assert!(!out.status.success() && !String::from_utf8_lossy(&out.stderr).contains("panicked"));
    }
    // The same check for the config file (TOML has nan and inf literals).
    let cfg = dir.path().join("bns.toml");
    std::fs::write(&cfg, "block-interval = nan\n").unwrap();
    let out = bns(&["dev", "--config", &cfg.display().to_string(), "--data-dir", &d]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("out of range") && !err.contains("panicked"), "{err}");
}

/// The indexer thread panics (a test-build fault hook) at the first block
/// past the ready height: the node exits with an error that says so.
#[test]
fn a_dead_indexer_stops_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let node = DevNode::start_args(&data, &support::repo_zones(), &["--upstream", "none"]);
    let height: u64 =
        node.ready.split("ready at block ").nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap();
    drop(node);
    let zones = support::repo_zones().display().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_bns"))
        .args(["dev", "--block-interval", "0.2", "--upstream", "none", "--zones", &zones])
        .args(support::FREE_PORTS)
        .arg("--data-dir")
        .arg(&data)
        .env("BNS_FAULT_INDEXER_PANIC_AT", height.to_string())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the node kept running with a dead indexer");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(!status.success(), "{err}");
    assert!(err.contains("the indexer thread stopped") && err.contains("fault injected"), "{err}");
}

/// `--api-host` names the REST API answers to; any other name is refused
/// (a page at evil.example whose name resolves to 127.0.0.1 reads nothing).
#[test]
fn the_api_answers_only_its_own_host_names() {
    let dir = tempfile::tempdir().unwrap();
    let node =
        DevNode::start_args(dir.path(), &support::repo_zones(), &["--upstream", "none", "--api-host", "bns.example"]);
    let get = |host: &str| {
        let req = format!("GET /v1/names/werner.id HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        support::http_raw(node.api, req.as_bytes()).unwrap().status
    };
    assert_eq!(get("bns.example"), 200);
    assert_eq!(get(&format!("bns.example:{}", node.api.port())), 200);
    assert_eq!(get(&node.api.to_string()), 200);
    assert_eq!(get("localhost"), 200);
    assert_eq!(get("evil.example"), 403);
}
