//! DNSSEC conformance by the tools operators use: Zonemaster's DNSSEC test
//! module (zonemaster-cli, Debian's package) with the DS that
//! `bns dnssec anchor` prints, and DNSViz (probe + grok) over the example
//! names. Both speak to port 53 only, so bns listens on 127.0.0.77:53
//! (this needs the right to bind port 53, as root has in CI).

mod support;

use std::process::Command;

use support::DevNode;

/// Where bns listens for the Zonemaster test (and DNSViz's, one up).
const ADDR: &str = "127.0.0.77";
const ADDR_DNSVIZ: &str = "127.0.0.78";

fn output(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e} (scripts/test installs dnsviz and zonemaster-cli)"));
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{cmd:?} failed: {stdout}{stderr}");
    stdout.into_owned()
}

fn start(dir: &std::path::Path, ip: &str) -> DevNode {
    let addr = format!("{ip}:53");
    if let Err(e) = std::net::UdpSocket::bind(&addr) {
        panic!("this test needs {addr} (Zonemaster and DNSViz query port 53 only): {e}; run it as root");
    }
    DevNode::start_with(&dir.join("data"), &support::repo_zones(), &["--dns-addr", &addr])
}

/// `TAG,13,2,DIGEST` of a namespace, from `bns dnssec anchor`.
fn ds_of(dir: &std::path::Path, ns: &str) -> String {
    let anchors =
        output(Command::new(env!("CARGO_BIN_EXE_bns")).args(["dnssec", "anchor", "--data-dir"]).arg(dir.join("data")));
    let line = anchors.lines().find(|l| l.starts_with(&format!("{ns}. IN DS "))).expect("an anchor line");
    line.split_whitespace().skip(3).collect::<Vec<_>>().join(",")
}

fn zonemaster(ns: &str, ds: &str, level: &str) -> String {
    output(
        Command::new("zonemaster-cli")
            .args(["--no-ipv6", "--no-progress", "--raw", "--show-testcase", "--test", "DNSSEC", "--level", level])
            .arg("--ns")
            .arg(format!("{ns}/{ADDR}"))
            .args(["--ds", ds, ns]),
    )
}

#[test]
fn zonemaster_finds_no_dnssec_problem_and_catches_a_wrong_ds() {
    let dir = tempfile::tempdir().unwrap();
    let _node = start(dir.path(), ADDR);
    for ns in ["id", "btc"] {
        let ds = ds_of(dir.path(), ns);
        let seen = zonemaster(ns, &ds, "INFO");
        // It reached the zone: algorithm, signatures and NSEC were examined.
        for tag in ["ALGORITHM_OK", "RRSIG_EXPIRATION", "DS10_HAS_NSEC"] {
            assert!(seen.contains(tag), "{ns}: no {tag} in {seen}");
        }
        let problems: Vec<&str> = seen
            .lines()
            .filter(|l| [" NOTICE ", " WARNING ", " ERROR ", " CRITICAL "].iter().any(|lvl| l.contains(lvl)))
            .collect();
        assert!(problems.is_empty(), "{ns}: Zonemaster reports {problems:#?}");
        // A DS that is not this install's key is caught.
        let digest = ds.rsplit(',').next().unwrap();
        let wrong = ds.replace(digest, &"00".repeat(32));
        let seen = zonemaster(ns, &wrong, "ERROR");
        assert!(seen.contains("DS02_NO_MATCH_DS_DNSKEY"), "{ns}: {seen}");
    }
}

/// Every RRSIG, proof and RRset status and every error code in DNSViz's
/// grok JSON, with where it was found.
fn findings(v: &serde_json::Value, path: &str, out: &mut Vec<(String, String, String)>) {
    match v {
        serde_json::Value::Object(map) => {
            for key in ["errors", "warnings"] {
                for e in map.get(key).and_then(|e| e.as_array()).into_iter().flatten() {
                    out.push((path.to_string(), key.to_string(), e["code"].as_str().unwrap_or("?").to_string()));
                }
            }
            if let Some(status) = map.get("status").and_then(|s| s.as_str()) {
                out.push((path.to_string(), "status".into(), status.to_string()));
            }
            for (k, child) in map {
                if k != "errors" && k != "warnings" {
                    findings(child, &format!("{path}/{k}"), out);
                }
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                let id = item.get("id").and_then(|i| i.as_str()).unwrap_or("");
                findings(item, &format!("{path}[{id}]"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn dnsviz_validates_answers_and_denials_from_the_published_key() {
    let dir = tempfile::tempdir().unwrap();
    let _node = start(dir.path(), ADDR_DNSVIZ);
    const ADDR: &str = ADDR_DNSVIZ;
    let names = ["id", "werner.id", "_443._tcp.werner.id", "www.werner.id", "nope.id", "hal.btc"];
    // DNSViz asks bns as it would a resolver (it has no way to reach a root
    // here); the anchor is the apex DNSKEY, whose DS Zonemaster checked.
    let probe = output(
        Command::new("/usr/bin/python3")
            .args(["/usr/bin/dnsviz", "probe", "-4", "-s", ADDR, "-a", "id"])
            .args(&names[..5]),
    );
    let probe_btc = output(Command::new("/usr/bin/python3").args([
        "/usr/bin/dnsviz",
        "probe",
        "-4",
        "-s",
        ADDR,
        "-a",
        "btc",
        names[5],
    ]));
    let mut anchors = String::new();
    for ns in ["id", "btc"] {
        let dnskey = support::dig(format!("{ADDR}:53").parse().unwrap(), &[ns, "DNSKEY", "+short"]);
        anchors.push_str(&format!("{ns}. IN DNSKEY {}\n", dnskey.trim()));
    }
    let tk = dir.path().join("trusted-keys");
    std::fs::write(&tk, anchors).unwrap();
    let shim = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/dnssec/dnsviz_grok.py");
    let mut found = Vec::new();
    for (probe, ns) in [(probe, "id"), (probe_btc, "btc")] {
        let input = dir.path().join(format!("probe-{ns}.json"));
        std::fs::write(&input, probe).unwrap();
        let grok = output(
            Command::new("/usr/bin/python3").arg(shim).args(["-P", "-l", "info", "-t"]).arg(&tk).arg("-r").arg(&input),
        );
        findings(&serde_json::from_str(&grok).expect("grok prints JSON"), "", &mut found);
    }
    // Asked as a resolver, an authoritative server never sets RA; and a DS
    // query for a namespace apex belongs to the root, which bns does not
    // serve (it answers from the namespace's zone, as BIND does for a child
    // zone it alone serves). Everything else must be secure and valid.
    let parent_side = |p: &str| p.contains("/IN/DS]") || p.contains("/delegation");
    let mut bad = Vec::new();
    for (path, kind, code) in &found {
        let ok = match kind.as_str() {
            "status" => ["SECURE", "VALID", "NOERROR", "NXDOMAIN"].contains(&code.as_str()) || parent_side(path),
            _ => code == "RECURSION_NOT_AVAILABLE" || parent_side(path),
        };
        if !ok {
            bad.push(format!("{path}: {kind} {code}"));
        }
    }
    assert!(bad.is_empty(), "DNSViz finds: {bad:#?}");
    for want in [
        "/werner.id./queries/werner.id./IN/A/answer[werner.id./IN/A]",
        "/_443._tcp.werner.id./queries/_443._tcp.werner.id./IN/TLSA/answer[_443._tcp.werner.id./IN/TLSA]",
        "/nope.id./queries/nope.id./IN/A/nodata[nope.id./IN/A]",
        "/hal.btc./queries/hal.btc./IN/A/answer[hal.btc./IN/A]",
    ] {
        assert!(
            found.iter().any(|(p, k, c)| p == want && k == "status" && c == "SECURE"),
            "{want} is not SECURE: {found:#?}"
        );
    }
}
