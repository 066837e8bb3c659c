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

/// Reads from `s` until the server closes it (EOF or reset); the bytes read, and when.
fn wait_closed(s: &mut std::net::TcpStream, limit: Duration) -> (Vec<u8>, Duration) {
    use std::io::Read;
    let start = Instant::now();
    s.set_read_timeout(Some(limit)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                panic!("still open after {:?}; read {:?}", start.elapsed(), String::from_utf8_lossy(&got))
            }
            Err(_) => break, // reset: closed too
        }
    }
    (got, start.elapsed())
}

#[test]
fn half_sent_and_idle_connections_are_closed_within_the_header_timeout() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(dir.path(), &repo_zones());
    let mut stalled = std::net::TcpStream::connect(node.api).unwrap();
    stalled.write_all(b"GET /v1/node/pi").unwrap();
    let mut headers_only = std::net::TcpStream::connect(node.api).unwrap();
    headers_only.write_all(b"GET /v1/node/ping HTTP/1.1\r\nHost: 127.0.0.1\r\n").unwrap();
    let mut silent = std::net::TcpStream::connect(node.api).unwrap();
    // Kept alive after one answer, then idle.
    let mut kept = std::net::TcpStream::connect(node.api).unwrap();
    kept.write_all(b"GET /v1/node/ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    {
        use std::io::Read;
        let mut buf = [0u8; 512];
        kept.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let n = kept.read(&mut buf).unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{:?}", String::from_utf8_lossy(&buf[..n]));
    }
    // Meanwhile the server answers others.
    assert_eq!(http_get(node.api, "/v1/node/ping").status, 200);
    // Default header timeout and idle limit: 10 s (a little more for a loaded machine).
    for s in [&mut stalled, &mut headers_only, &mut silent, &mut kept] {
        let (_, after) = wait_closed(s, Duration::from_secs(20));
        assert!(after <= Duration::from_secs(13), "closed only after {after:?}");
    }
    assert_eq!(http_get(node.api, "/v1/node/ping").status, 200, "still serving");
}

#[test]
fn host_header_guards_against_dns_rebinding() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(dir.path(), &repo_zones());
    let port = node.api.port();
    let get = |host: Option<&str>, path: &str| {
        let host = host.map(|h| format!("Host: {h}\r\n")).unwrap_or_default();
        let req = format!("GET {path} HTTP/1.1\r\n{host}Connection: close\r\n\r\n");
        http_raw(node.api, req.as_bytes()).unwrap_or_else(|| panic!("no answer for {host:?}"))
    };
    for host in ["evil.example", &format!("evil.example:{port}"), "localhost.evil.example", "127.0.0.1.nip.example"] {
        for path in ["/v1/node/ping", "/v1/names/werner.id", "/metrics", "/nope"] {
            let r = get(Some(host), path);
            assert_eq!(r.status, 403, "Host {host} {path}: {}", r.body);
            assert!(r.json()["error"].is_string(), "{}", r.body);
            assert!(!r.body.contains("werner") && !r.body.contains("bns_"), "{}", r.body);
        }
    }
    for host in [
        format!("127.0.0.1:{port}"),
        "127.0.0.1".to_string(),
        format!("localhost:{port}"),
        "LocalHost".to_string(),
        format!("[::1]:{port}"),
    ] {
        let r = get(Some(&host), "/v1/names/werner.id");
        assert_eq!(r.status, 200, "Host {host}: {}", r.body);
        assert_eq!(r.json()["name"], "werner.id");
    }
    // HTTP/1.0 without a Host header (no browser sends that).
    let r = http_raw(node.api, b"GET /v1/node/ping HTTP/1.0\r\n\r\n").expect("an answer");
    assert_eq!(r.status, 200, "{}", r.body);
}

/// An API server of this process over a fresh store (chain parameters, no
/// names), with `options`; serves until dropped.
struct InProcess {
    addr: std::net::SocketAddr,
    db: std::path::PathBuf,
    _rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

impl InProcess {
    fn start(options: bns::api::ApiOptions, prepare: impl FnOnce(&std::path::Path)) -> InProcess {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("bns.sqlite");
        let store = bns::store::Store::open(&db).unwrap();
        let params = serde_json::to_string(&bns::bns::ChainParams::test(1, *b"id")).unwrap();
        store.set_meta("chain_params", &params).unwrap();
        drop(store);
        prepare(&db);
        let rt = tokio::runtime::Runtime::new().unwrap();
        let metrics = std::sync::Arc::new(bns::metrics::Metrics::new());
        let server = rt
            .block_on(bns::api::ApiServer::bind_with("127.0.0.1:0".parse().unwrap(), &db, metrics, None, options))
            .unwrap();
        let addr = server.local_addr();
        rt.spawn(server.run(std::future::pending()));
        InProcess { addr, db, _rt: rt, _dir: dir }
    }
}

#[test]
fn store_errors_do_not_leak_sql() {
    // A store whose tables are not what the API expects: every read fails in SQLite.
    let api = InProcess::start(bns::api::ApiOptions::default(), |db| {
        let c = rusqlite::Connection::open(db).unwrap();
        c.execute_batch("ALTER TABLE names RENAME TO gone_names; ALTER TABLE zonefiles RENAME TO gone_zonefiles;")
            .unwrap();
    });
    let hash = "ab".repeat(20);
    for path in
        ["/v1/names/werner.id".to_string(), "/v1/resolve/www.werner.id".to_string(), format!("/v1/zonefiles/{hash}")]
    {
        let r = http_get(api.addr, &path);
        assert_eq!(r.status, 500, "{path}: {}", r.body);
        assert_eq!(r.json(), serde_json::json!({ "error": "internal error" }), "{path}");
        let lower = r.body.to_ascii_lowercase();
        for leak in ["sql", "table", "names", "zonefiles", "bns.sqlite", api.db.to_str().unwrap()] {
            assert!(!lower.contains(leak), "{path}: {leak:?} in {}", r.body);
        }
    }
    assert_eq!(http_get(api.addr, "/v1/node/ping").status, 200);
}

/// `n` GETs of `path` at once, each on its own connection; (status, seconds) of each.
fn parallel_gets(addr: std::net::SocketAddr, path: &str, n: usize) -> Vec<std::thread::JoinHandle<(u16, f64)>> {
    (0..n)
        .map(|_| {
            let path = path.to_string();
            std::thread::spawn(move || {
                let t = Instant::now();
                (http_get(addr, &path).status, t.elapsed().as_secs_f64())
            })
        })
        .collect()
}

#[test]
fn slow_reads_run_in_parallel_and_do_not_block_others() {
    let options = bns::api::ApiOptions { readers: 4, read_delay: Duration::from_millis(1500), ..Default::default() };
    let api = InProcess::start(options, |_| {});
    let start = Instant::now();
    let slow = parallel_gets(api.addr, "/v1/names/someone.id", 4);
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    assert_eq!(http_get(api.addr, "/v1/node/ping").status, 200);
    assert!(t.elapsed() < Duration::from_millis(500), "ping waited {:?} behind slow reads", t.elapsed());
    for h in slow {
        let (status, _) = h.join().unwrap();
        assert_eq!(status, 404, "an available name");
    }
    // One connection behind a lock would take 4 x 1.5 s.
    assert!(start.elapsed() < Duration::from_millis(2900), "4 slow reads took {:?}: serialized", start.elapsed());
}

#[test]
fn requests_beyond_the_caps_wait_or_get_503() {
    // In flight: two slow reads fill the cap; a third request gets 503 at once.
    let options =
        bns::api::ApiOptions { max_in_flight: 2, read_delay: Duration::from_millis(1500), ..Default::default() };
    let api = InProcess::start(options, |_| {});
    let slow = parallel_gets(api.addr, "/v1/names/someone.id", 2);
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    let r = http_get(api.addr, "/v1/node/ping");
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.json()["error"].is_string());
    assert!(t.elapsed() < Duration::from_millis(500), "the 503 took {:?}", t.elapsed());
    for h in slow {
        assert_eq!(h.join().unwrap().0, 404);
    }
    assert_eq!(http_get(api.addr, "/v1/node/ping").status, 200, "free again");

    // Request timeout: a read slower than it gets 503.
    let options = bns::api::ApiOptions {
        request_timeout: Duration::from_millis(300),
        read_delay: Duration::from_millis(1500),
        ..Default::default()
    };
    let api = InProcess::start(options, |_| {});
    let t = Instant::now();
    let r = http_get(api.addr, "/v1/names/someone.id");
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.json()["error"], "request timed out");
    assert!(t.elapsed() < Duration::from_millis(1200), "timed out only after {:?}", t.elapsed());

    // Connections: with two open (idle), a third waits until one closes.
    let options = bns::api::ApiOptions { max_connections: 2, ..Default::default() };
    let api = InProcess::start(options, |_| {});
    let idle: Vec<_> = (0..2).map(|_| std::net::TcpStream::connect(api.addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200));
    let waiting = parallel_gets(api.addr, "/v1/node/ping", 1).pop().unwrap();
    std::thread::sleep(Duration::from_millis(700));
    assert!(!waiting.is_finished(), "a third connection was served while two were open");
    drop(idle);
    let (status, secs) = waiting.join().unwrap();
    assert_eq!(status, 200);
    assert!(secs < 5.0, "served {secs} s after asking");
}
