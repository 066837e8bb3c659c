//! Atlas end to end, with real processes on loopback: several `bns node`s
//! following one dev chain file that carries real mainnet names, zone files
//! entering one node and reaching all, a wiped node healing, lying and
//! hanging peers (tests/atlas/liar.py), HTTP sources, the genesis import, and
//! Blockstack Core's own client calls (Python's xmlrpc.client).

mod support;

use std::process::Command;
use std::time::Duration;

use support::atlas::{
    assert_holds_exactly, atlas_status, bns, follower, metric, real_chain, wait_all_held, wait_indexed, Liar,
};
use support::{dig, http_get};

/// Real `.id` names on the test chain (one dev wallet may own at most 25).
const NAMES: usize = 24;

#[test]
fn a_zone_file_put_into_one_node_reaches_all_and_a_wiped_node_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let chain = real_chain(dir.path(), NAMES);
    // A line of peers: b <- c <- d (d learns b through peer exchange).
    let b = follower(&dir.path().join("b"), &chain, &[]);
    let c = follower(&dir.path().join("c"), &chain, &["--atlas-peer", &b.atlas.to_string()]);
    let d_dir = dir.path().join("d");
    let d = follower(&d_dir, &chain, &["--atlas-peer", &c.atlas.to_string()]);
    for n in [&b, &c, &d] {
        wait_indexed(n, &chain);
    }
    let (name, _) = &chain.names[5];
    let before = dig(d.dns, &[name, "URI"]);
    assert!(before.contains("SERVFAIL") && before.contains("EDE"), "no zone file yet: {before}");
    assert_eq!(atlas_status(&d)["zonefiles_missing"], NAMES as u64);

    // Half the files enter b by the genesis import (every other one, so the inventory has holes).
    let half = dir.path().join("half.txt");
    let lines: Vec<String> = std::fs::read_to_string(&chain.genesis).unwrap().lines().map(String::from).collect();
    let (imported, pushed): (Vec<_>, Vec<_>) = lines.chunks(2).enumerate().partition(|(i, _)| i % 2 == 0);
    let text: String = imported.iter().map(|(_, c)| format!("{}\n{}\n", c[0], c[1])).collect();
    std::fs::write(&half, text).unwrap();
    let out =
        bns(&["zonefile", "import", half.to_str().unwrap(), "--data-dir", dir.path().join("b").to_str().unwrap()]);
    assert!(
        out.starts_with(&format!("accepted {}, already held 0, not announced 0, hash mismatch 0", NAMES / 2)),
        "{out}"
    );
    let half_held = |s: &serde_json::Value| s["zonefiles_held"] == (NAMES / 2) as u64;
    support::atlas::wait_status(&c, Duration::from_secs(60), "half the files at c", half_held);
    // Core's own client calls against c, whose inventory is half set (bit order shows).
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/atlas/core_client.py");
    let rows = atlas_status(&c)["inventory_rows"].as_u64().unwrap();
    let out = Command::new("python3").arg(&script).arg(c.atlas.to_string()).arg(rows.to_string()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "core_client.py: {text}{}", String::from_utf8_lossy(&out.stderr));
    // The other half is pushed into b with put_zonefiles, as a Core client would.
    let files: Vec<bns::atlas::xmlrpc::Value> = pushed
        .iter()
        .map(|(_, c)| bns::atlas::xmlrpc::Value::Str(bns::atlas::protocol::b64(c[1].replace("\\n", "\n").as_bytes())))
        .collect();
    for batch in files.chunks(5) {
        let body =
            bns::atlas::xmlrpc::encode_call("put_zonefiles", &[bns::atlas::xmlrpc::Value::Array(batch.to_vec())]);
        let req = format!(
            "POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let r = support::http_raw(b.atlas, req.as_bytes()).unwrap();
        let reply = match bns::atlas::xmlrpc::parse_response(r.body.as_bytes()) {
            Ok(Ok(bns::atlas::xmlrpc::Value::Str(json))) => serde_json::from_str::<serde_json::Value>(&json).unwrap(),
            other => panic!("put_zonefiles: {other:?}"),
        };
        assert_eq!(reply["saved"], serde_json::json!(vec![1; batch.len()]), "{reply}");
    }
    assert_eq!(metric(&b, "bns_atlas_zonefiles_stored_total{source=\"push\"}"), (NAMES - NAMES / 2) as f64);
    wait_all_held(&b, &chain, Duration::from_secs(10));
    let took_c = wait_all_held(&c, &chain, Duration::from_secs(60));
    let took_d = wait_all_held(&d, &chain, Duration::from_secs(60));
    println!("replicated {NAMES} files to c in {took_c:?}, to d (two hops) in {took_d:?}");
    for n in [&c, &d] {
        assert_holds_exactly(n, &chain);
    }
    let got =
        |n: &support::DevNode, src: &str| metric(n, &format!("bns_atlas_zonefiles_stored_total{{source=\"{src}\"}}"));
    assert_eq!(got(&d, "peer") + got(&d, "push"), NAMES as f64, "every file reached d by Atlas, once");
    // d learnt b by exchange.
    let peers = http_get(d.api, "/v1/atlas/peers").json();
    assert!(peers["peers"].as_array().unwrap().iter().any(|p| p["addr"] == b.atlas.to_string()), "{peers}");

    // Names answer over DNS, UDP and TCP, with the records of their real zone files.
    for (name, hash) in chain.names.iter().take(10) {
        let zf = String::from_utf8(support::atlas::mainnet_zonefiles().into_iter().find(|(h, _)| h == hash).unwrap().1)
            .unwrap();
        let line = zf.lines().find(|l| l.contains("URI")).unwrap_or_else(|| panic!("{name}: no URI record in {zf}"));
        let uri = line.split('"').nth(1).unwrap().to_string();
        let owner = format!("{}.{name}", line.split_whitespace().next().unwrap());
        for proto in [&[][..], &["+tcp"][..]] {
            let mut args = vec![owner.as_str(), "URI", "+short"];
            args.extend_from_slice(proto);
            let ans = dig(d.dns, &args);
            assert!(ans.contains(&uri), "{name} URI over {proto:?}: {ans:?}, want {uri}");
        }
    }
    let text = bns(&["atlas", "status", "--api-addr", &d.api.to_string()]);
    assert!(text.contains(&format!("zone files      {NAMES} held, 0 missing")), "{text}");
    let text = bns(&["status", "--data-dir", d_dir.to_str().unwrap()]);
    assert!(text.contains(&format!("zone files      {NAMES} held, 0 missing")), "{text}");
    assert!(text.contains(&format!("on {}", d.atlas)), "the live Atlas line is d's own: {text}");

    // d is wiped (kill -9, data dir gone) and comes back with one peer.
    d.kill9();
    std::fs::remove_dir_all(&d_dir).unwrap();
    let d = follower(&d_dir, &chain, &["--atlas-peer", &c.atlas.to_string()]);
    wait_indexed(&d, &chain);
    let took = wait_all_held(&d, &chain, Duration::from_secs(60));
    println!("wiped node recovered {NAMES} files in {took:?} after indexing");
    assert_holds_exactly(&d, &chain);
    assert_eq!(http_get(c.api, &format!("/v1/zonefiles/{}", "00".repeat(20))).status, 404);
}

#[test]
fn lying_and_hanging_peers_neither_plant_files_nor_stall_replication() {
    let dir = tempfile::tempdir().unwrap();
    let chain = real_chain(dir.path(), NAMES);
    // x: an honest node without files yet; the liars copy its getinfo, so they pass vetting.
    let x_dir = dir.path().join("x");
    let x = follower(&x_dir, &chain, &[]);
    wait_indexed(&x, &chain);
    let liars = ["wrong-bytes", "withhold", "junk", "hang"].map(|mode| Liar::start(mode, x.atlas));
    let mut flags: Vec<String> = liars.iter().flat_map(|l| ["--atlas-peer".to_string(), l.addr.to_string()]).collect();
    flags.extend(["--atlas-peer".to_string(), x.atlas.to_string()]);
    let refs: Vec<&str> = flags.iter().map(|s| s.as_str()).collect();
    // h0 sees only liars claim any file: it asks them, catches the forgeries (and bans that
    // liar) and the withholding (and stops asking it those files).
    let h0 = follower(&dir.path().join("h0"), &chain, &refs);
    wait_indexed(&h0, &chain);
    let start = std::time::Instant::now();
    while metric(&h0, "bns_atlas_rejected_total{reason=\"mismatch\"}") == 0.0 {
        assert!(start.elapsed() < Duration::from_secs(30), "h0 never asked the lying peer");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(atlas_status(&h0)["zonefiles_held"], 0, "nothing forged was stored");
    // Now the real files enter x; h0 and two more honest nodes (liars + the previous one as seeds) get them all.
    bns(&["zonefile", "import", chain.genesis.to_str().unwrap(), "--data-dir", x_dir.to_str().unwrap()]);
    let mut honest = vec![h0];
    for i in 1..3 {
        let mut flags: Vec<String> =
            liars.iter().flat_map(|l| ["--atlas-peer".to_string(), l.addr.to_string()]).collect();
        flags.extend(["--atlas-peer".to_string(), honest[i - 1].atlas.to_string()]);
        let refs: Vec<&str> = flags.iter().map(|s| s.as_str()).collect();
        honest.push(follower(&dir.path().join(format!("h{i}")), &chain, &refs));
    }
    for h in &honest {
        wait_indexed(h, &chain);
        let took = wait_all_held(h, &chain, Duration::from_secs(90));
        println!("honest node holds all {NAMES} files after {took:?} more");
        assert_holds_exactly(h, &chain);
    }
    // The liar that forged files is out of h0's table; the hanging and junk ones are not trusted either.
    let peers = http_get(honest[0].api, "/v1/atlas/peers").json();
    let find = |addr: String| peers["peers"].as_array().unwrap().iter().find(|p| p["addr"] == addr).cloned();
    assert!(find(liars[0].addr.to_string()).is_none(), "the forger was dropped: {peers}");
    for l in &liars[1..] {
        if let Some(p) = find(l.addr.to_string()) {
            assert!(p["health"].as_f64().unwrap() < 1.0 || p["inventory_held"] == 0, "{p}");
        }
    }
    let text = bns(&["atlas", "peers", "--api-addr", &honest[0].api.to_string()]);
    assert!(text.contains(&x.atlas.to_string()), "{text}");
}

#[test]
fn http_sources_and_the_genesis_import_fill_a_node_without_peers() {
    let dir = tempfile::tempdir().unwrap();
    let chain = real_chain(dir.path(), NAMES);
    let b_dir = dir.path().join("b");
    let b = follower(&b_dir, &chain, &[]);
    wait_indexed(&b, &chain);
    // The whole real export: only this chain's names are announced.
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/mainnet-zonefiles-sample.txt");
    let out = bns(&["zonefile", "import", sample.to_str().unwrap(), "--data-dir", b_dir.to_str().unwrap(), "--json"]);
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["accepted"], NAMES as u64, "{r}");
    assert_eq!(r["not_announced"], 814 - NAMES as u64, "{r}");
    assert_eq!(r["hash_mismatch"], 0);
    // A tampered export: one file's bytes changed under its hash.
    let tampered = dir.path().join("tampered.txt");
    let text = std::fs::read_to_string(&chain.genesis).unwrap().replacen("$TTL 3600", "$TTL 3601", 1);
    std::fs::write(&tampered, text).unwrap();
    let out = bns(&["zonefile", "import", tampered.to_str().unwrap(), "--data-dir", b_dir.to_str().unwrap()]);
    assert!(
        out.starts_with(&format!("accepted 0, already held {}, not announced 0, hash mismatch 1", NAMES - 1)),
        "{out}"
    );
    // Core's directory layout, ab/cd/<hash>.txt.
    let core_dir = dir.path().join("zonefiles");
    for (hash, bytes) in support::atlas::mainnet_zonefiles().into_iter().take(100) {
        let d = core_dir.join(&hash[0..2]).join(&hash[2..4]);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(format!("{hash}.txt")), bytes).unwrap();
    }
    let e_dir = dir.path().join("e");
    let e = follower(&e_dir, &chain, &[]);
    wait_indexed(&e, &chain);
    let out = bns(&["zonefile", "import", core_dir.to_str().unwrap(), "--data-dir", e_dir.to_str().unwrap(), "--json"]);
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (r["accepted"].as_u64().unwrap() + r["not_announced"].as_u64().unwrap(), r["hash_mismatch"].as_u64()),
        (100, Some(0)),
        "{r}"
    );

    // A node with no peer at all, only b's REST API as an HTTP source.
    let f = follower(&dir.path().join("f"), &chain, &["--zonefile-source", &format!("http://{}", b.api)]);
    wait_indexed(&f, &chain);
    let took = wait_all_held(&f, &chain, Duration::from_secs(60));
    println!("HTTP source filled a fresh node in {took:?}");
    assert_holds_exactly(&f, &chain);
    assert!(metric(&f, "bns_atlas_zonefiles_stored_total{source=\"http\"}") >= NAMES as f64);
    // The Stacks API path, as bns serves it.
    let (name, hash) = &chain.names[0];
    let r = http_get(b.api, &format!("/v1/names/{name}/zonefile/{hash}")).json();
    assert_eq!(bns::hash::ValueHash::of_zonefile(r["zonefile"].as_str().unwrap().as_bytes()).to_hex(), *hash);
    assert_eq!(http_get(b.api, &format!("/v1/names/{}/zonefile/{hash}", chain.names[1].0)).status, 404);
}

#[test]
fn the_atlas_server_survives_hostile_requests() {
    use support::http_raw;
    let dir = tempfile::tempdir().unwrap();
    let dev = support::DevNode::start(&dir.path().join("dev"), &support::repo_zones());
    let post = |body: &str| {
        let req = format!(
            "POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        http_raw(dev.atlas, req.as_bytes())
    };
    let call = |method: &str, params: &str| {
        format!(
            "<?xml version='1.0'?><methodCall><methodName>{method}</methodName><params>{params}</params></methodCall>"
        )
    };
    // Junk, truncated XML, a DTD with entity expansion, deep nesting, wrong types: a fault or an
    // error reply, never a dropped connection.
    let deep = format!(
        "<param><value>{}1{}</value></param>",
        "<array><data><value>".repeat(200),
        "</value></data></array>".repeat(200)
    );
    let bomb = "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]><methodCall><methodName>&b;</methodName></methodCall>";
    for body in [
        "not xml at all".to_string(),
        call("getinfo", "")[..30].to_string(),
        bomb.to_string(),
        call("get_zonefiles", &deep),
        call(
            "get_zonefile_inventory",
            "<param><value><string>0</string></value></param><param><value><int>8</int></value></param>",
        ),
        call("get_zonefiles", "<param><value><string>not a list</string></value></param>"),
        call(
            "put_zonefiles",
            "<param><value><array><data><value><string>@@@</string></value></data></array></value></param>",
        ),
        call("no_such_method", ""),
        call("getinfo", "<param><value><int>1</int></value></param>"),
    ] {
        let r = post(&body).unwrap_or_else(|| panic!("no reply to {body:.60}"));
        assert_eq!(r.status, 200, "{body:.60}: {r:?}");
        assert!(
            r.body.contains("<fault>") || r.body.contains("error") || r.body.contains("saved"),
            "{body:.60}: {}",
            r.body
        );
    }
    // An over-long body is refused before it is read (Core's 400).
    let req = format!("POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", 600_000);
    assert_eq!(http_raw(dev.atlas, req.as_bytes()).unwrap().status, 400);
    // A client that sends half its headers and stops does not hold the server: others are served.
    let mut slow = std::net::TcpStream::connect(dev.atlas).unwrap();
    std::io::Write::write_all(&mut slow, b"POST /RPC2 HTTP/1.1\r\nHost: x\r\n").unwrap();
    let r = post(&call("ping", "")).unwrap();
    assert!(r.body.contains("alive"), "{}", r.body);
    drop(slow);
}
