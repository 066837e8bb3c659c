//! The REST API face of `bns dev`: /metrics after real DNS queries,
//! provenance (`/v1/resolve/NAME` and `bns explain`), and hostile HTTP.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{dig, http_get, http_raw, repo_zones, DevNode};

/// The value of the sample line `series` (name with labels) in a scrape.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn scrape(node: &DevNode) -> String {
    let r = http_get(node.api, "/metrics");
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap_or("").starts_with("text/plain; version=0.0.4"), "{:?}", r.headers);
    r.body
}

fn bns_json(args: &[&str], data: &std::path::Path) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_bns")).args(args).arg("--data-dir").arg(data).output().unwrap();
    assert!(out.status.success(), "bns {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn metrics_count_dns_queries_and_follow_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(dir.path(), &repo_zones());
    let tip: f64 =
        node.ready.split("ready at block ").nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap();

    let ping = http_get(node.api, "/v1/node/ping");
    assert_eq!(ping.status, 200);
    assert_eq!(ping.json()["status"], "alive");

    let a_ok = "bns_dns_queries_total{qtype=\"A\",rcode=\"NOERROR\"}";
    let txt_ok = "bns_dns_queries_total{qtype=\"TXT\",rcode=\"NOERROR\"}";
    let a_nx = "bns_dns_queries_total{qtype=\"A\",rcode=\"NXDOMAIN\"}";
    let txt_nx = "bns_dns_queries_total{qtype=\"TXT\",rcode=\"NXDOMAIN\"}";
    let before = scrape(&node);
    assert_eq!(sample(&before, a_ok), None, "no queries yet:\n{before}");

    assert_eq!(dig(node.dns, &["werner.id", "A", "+short"]).trim(), "192.0.2.10");
    assert_eq!(dig(node.dns, &["werner.id", "A", "+short", "+tcp"]).trim(), "192.0.2.10");
    assert!(dig(node.dns, &["werner.id", "TXT"]).contains("status: NOERROR"));
    assert!(dig(node.dns, &["nobody.id", "A"]).contains("status: NXDOMAIN"));
    assert!(dig(node.dns, &["nobody.id", "TXT"]).contains("status: NXDOMAIN"));
    let after = scrape(&node);
    assert_eq!(sample(&after, a_ok), Some(2.0), "{after}");
    assert_eq!(sample(&after, txt_ok), Some(1.0), "{after}");
    assert_eq!(sample(&after, a_nx), Some(1.0), "{after}");
    assert_eq!(sample(&after, txt_nx), Some(1.0), "{after}");

    // Counters only grow.
    dig(node.dns, &["werner.id", "A", "+short"]);
    let later = scrape(&node);
    assert_eq!(sample(&later, a_ok), Some(3.0), "{later}");

    // The latency histogram: cumulative buckets ending in +Inf = count.
    let h = "bns_dns_query_duration_seconds";
    let count = sample(&later, &format!("{h}_count")).unwrap();
    assert_eq!(count, 6.0, "{later}");
    assert_eq!(sample(&later, &format!("{h}_bucket{{le=\"+Inf\"}}")), Some(count));
    assert!(sample(&later, &format!("{h}_bucket{{le=\"1\"}}")).unwrap() <= count);
    assert!(sample(&later, &format!("{h}_sum")).unwrap() > 0.0);
    assert!(later.contains("# TYPE bns_dns_query_duration_seconds histogram"));
    // BNS answers come from the snapshot, never from the (forwarding) cache.
    assert_eq!(sample(&later, "bns_dns_cache_hits_total"), Some(0.0), "{later}");
    assert_eq!(sample(&later, "bns_dns_cache_misses_total"), Some(0.0), "{later}");
    assert!(sample(&later, "bns_dns_malformed_total").is_some());

    // Chain and store gauges (the indexer thread refreshes them every second).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let m = scrape(&node);
        let ok = sample(&m, "bns_chain_height") == Some(tip)
            && sample(&m, "bns_chain_tip") == Some(tip)
            && sample(&m, "bns_chain_lag_blocks") == Some(0.0)
            && sample(&m, "bns_zonefiles_held") == Some(5.0)
            && sample(&m, "bns_zonefiles_missing") == Some(0.0)
            && sample(&m, "bns_names") == Some(5.0);
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "chain/store gauges never matched tip {tip}:\n{m}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn resolve_and_explain_show_the_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(dir.path(), &repo_zones());

    let r = http_get(node.api, "/v1/resolve/werner.id");
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["name"], "werner.id");
    assert_eq!(v["status"], "registered");

    // The registering transaction is the NAME_REGISTRATION in `bns name history`.
    let history = bns_json(&["name", "history", "werner.id"], dir.path());
    let reg: Vec<(&String, &Value)> = history
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(h, ops)| ops.as_array().unwrap().iter().map(move |op| (h, op)))
        .filter(|(_, op)| op["opcode"] == "NAME_REGISTRATION")
        .collect();
    assert_eq!(reg.len(), 1, "{history}");
    assert_eq!(v["registered_by"]["txid"], reg[0].1["txid"]);
    assert_eq!(v["registered_by"]["height"].to_string(), *reg[0].0);
    assert!(v["last_update"]["txid"].is_string());

    // The zone-file hash is hash160 of zones/werner.id.zone; it came from zones/.
    let zone = std::fs::read(repo_zones().join("werner.id.zone")).unwrap();
    let hash = bns::hash::ValueHash::of_zonefile(&zone).to_hex();
    assert_eq!(v["zonefile"]["hash"], hash.as_str());
    assert_eq!(v["zonefile"]["held"], true);
    assert_eq!(v["zonefile"]["source"], "zones/");
    assert!(v["zonefile"]["received_at"].as_u64().unwrap() > 1_600_000_000);
    assert_eq!(v["zonefile_hash_set_by"]["txid"], v["registered_by"]["txid"]);

    // Namespace and the tip's consensus hash.
    assert_eq!(v["namespace"]["id"], "id");
    assert_eq!(v["namespace"]["ready"], true);
    assert!(v["namespace"]["revealed_by"]["txid"].is_string());
    let store = bns::store::Store::open_readonly(&dir.path().join("bns.sqlite")).unwrap();
    let tip = store.last_block().unwrap().unwrap();
    assert_eq!(v["chain"]["tip_height"], tip.height);
    assert_eq!(v["chain"]["consensus_hash"], tip.consensus_hash.to_string());
    assert!(v["owner"]["address"].is_string());
    assert!(v["dns"].as_str().unwrap().starts_with("NOERROR"), "{}", v["dns"]);

    // `bns explain` prints the same JSON.
    assert_eq!(bns_json(&["explain", "werner.id"], dir.path()), v);

    // A name below a BNS name: explained by werner.id's zone file, CNAME followed.
    let r = http_get(node.api, "/v1/resolve/WWW.werner.id.");
    assert_eq!(r.status, 200, "{}", r.body);
    let w = r.json();
    assert_eq!(w["query"], "www.werner.id");
    assert_eq!(w["name"], "werner.id");
    assert_eq!(w["registered_by"], v["registered_by"]);
    let recs = w["answer"]["records"].as_array().unwrap();
    assert_eq!(recs[0]["owner"], "www.werner.id");
    assert_eq!(recs[0]["type"], "CNAME");
    assert!(recs.iter().any(|r| r["type"] == "A" && r["data"] == "192.0.2.10"), "{recs:?}");
    let tlsa = bns_json(&["explain", "_443._tcp.werner.id"], dir.path());
    assert_eq!(tlsa["answer"]["records"][0]["type"], "TLSA");

    // Unregistered: 404 with the evidence that it is available.
    let r = http_get(node.api, "/v1/resolve/nobody.id");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["status"], "available");

    // /v1/names/{name}: the record, or 404 {"status":"available"}.
    let r = http_get(node.api, "/v1/names/werner.id");
    assert_eq!(r.status, 200);
    let n = r.json();
    assert_eq!(n["zonefile_hash"], hash.as_str());
    assert_eq!(n["address"], v["owner"]["address"]);
    let r = http_get(node.api, "/v1/names/nobody.id");
    assert_eq!((r.status, r.json()), (404, serde_json::json!({ "status": "available" })));
}

#[test]
fn hostile_http_gets_4xx_and_the_server_stays_up() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(dir.path(), &repo_zones());
    let long = format!("/v1/resolve/{}.id", "a".repeat(5000));
    for path in [
        "/v1/resolve/bad..name",
        "/v1/resolve/%FF%FE.id",
        "/v1/resolve/id",
        "/v1/resolve/w%20x.id",
        long.as_str(),
        "/v1/names/not_a_name",
        "/v1/names/%00.id",
        "/nope",
        "/v1/resolve/",
    ] {
        let r = http_get(node.api, path);
        assert!((400..500).contains(&r.status), "{path}: {} {}", r.status, r.body);
        assert!(r.json()["error"].is_string(), "{path}: JSON error body");
    }
    // Far past any sane request line, raw non-UTF-8 bytes, garbage, a big body.
    let huge = format!("GET /v1/resolve/{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "a".repeat(200_000));
    let body = "x".repeat(1 << 20);
    let big_post = format!(
        "POST /v1/node/ping HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    for req in [
        huge.as_bytes(),
        b"GET /v1/resolve/\xff\xfe.id HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"\x00\x01\x02garbage\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        big_post.as_bytes(),
    ] {
        let what = String::from_utf8_lossy(&req[..req.len().min(40)]).into_owned();
        let r = http_raw(node.api, req).unwrap_or_else(|| panic!("{what:?}: no HTTP answer"));
        assert!((400..500).contains(&r.status), "{what:?}: {}", r.status);
    }
    let r = http_get(node.api, "/v1/node/ping");
    assert_eq!(r.status, 200, "still serving");
    assert_eq!(http_get(node.api, "/v1/resolve/werner.id").status, 200);
}
