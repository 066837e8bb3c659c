//! Zone transfers to the DNS servers people run: Knot and NSD as
//! secondaries of a `bns node` that follows bcoin (regtest), holding real
//! mainnet `.id` names and their subdomains. After the first AXFR, after new
//! blocks (IXFR) and after a reorg (the inverse IXFR step), `dig` against
//! each secondary answers what bns answers; a client outside
//! `--allow-transfer` is refused.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use bitcoin::hashes::Hash;
use bitcoincore_rpc::RpcApi;
use bns::chain::BlockSource;
use bns::hash::ValueHash;
use bns::store::Store;
use bns::tx::{ops, Wallet};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use support::atlas::{bns, mainnet_zonefiles};
use support::bcoin::Bcoin;
use support::bcoin_chain::{rpc, NameChain, MAGIC, NET};
use support::secondary::{Kind, Secondary};
use support::unbound::free_port;
use support::{dig, http_get, DevNode};

/// The TSIG key bns and both secondaries share (as `bns --tsig-key` takes it) ...
const KEY: &str = "xfr-key:hmac-sha256:c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg==";
/// ... and as `dig -y` takes it.
const DIG_KEY: &str = "hmac-sha256:xfr-key:c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg==";

/// A name whose zone file (about 30 KB of TXT records) takes several transfer
/// messages, so each secondary checks TSIG chained across messages.
fn big_zonefile() -> (String, Vec<u8>) {
    let mut z = String::from("$ORIGIN bigzone.id\n$TTL 3600\n");
    for i in 0..300 {
        z.push_str(&format!("t{i} TXT \"record {i} of a zone file that does not fit one transfer message\"\n"));
    }
    ("bigzone.id".into(), z.into_bytes())
}

/// The sample's `.id` registrars with subdomains, then plain `.id` names: 20 in all.
fn sample() -> Vec<(String, Vec<u8>)> {
    let files = mainnet_zonefiles();
    let origin = |z: &[u8]| -> Option<String> {
        let t = String::from_utf8_lossy(z);
        let o = t.strip_prefix("$ORIGIN")?.split_whitespace().next()?.trim_end_matches('.').to_ascii_lowercase();
        o.ends_with(".id").then_some(o)
    };
    let with_subs = |z: &[u8]| String::from_utf8_lossy(z).contains("owner=");
    let mut out: Vec<(String, Vec<u8>)> =
        files.iter().filter(|(_, z)| with_subs(z)).filter_map(|(_, z)| Some((origin(z)?, z.clone()))).collect();
    let plain = files.iter().filter(|(_, z)| !with_subs(z)).filter_map(|(_, z)| Some((origin(z)?, z.clone())));
    let mut seen: BTreeSet<String> = out.iter().map(|(n, _)| n.clone()).collect();
    for (n, z) in plain {
        if out.len() == 20 {
            break;
        }
        if seen.insert(n.clone()) {
            out.push((n, z));
        }
    }
    assert!(out.len() == 20 && out.iter().filter(|(_, z)| with_subs(z)).count() >= 8, "the sample has registrars");
    out
}

fn height(data: &Path) -> u64 {
    Store::open_readonly(&data.join("bns.sqlite"))
        .ok()
        .and_then(|s| s.last_block().ok().flatten())
        .map_or(0, |b| b.height)
}

fn wait_for(what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out after {secs}s waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The SOA serial `addr` answers for `id.`, if any.
fn serial(addr: SocketAddr) -> Option<u32> {
    dig(addr, &["id.", "SOA", "+short", "+norecurse"]).split_whitespace().nth(2)?.parse().ok()
}

/// Status and sorted answer lines (owner, TTL, class, type, rdata) of one query.
fn answer(addr: SocketAddr, name: &str, rtype: &str) -> (String, Vec<String>) {
    let out = dig(addr, &[name, rtype, "+norecurse", "+noall", "+comments", "+answer"]);
    let status = out
        .lines()
        .find_map(|l| l.split("status: ").nth(1))
        .map(|s| s.split(',').next().unwrap().to_string())
        .unwrap_or_else(|| panic!("no status from {addr} for {name} {rtype}: {out}"));
    let mut lines: Vec<String> = out
        .lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    lines.sort();
    (status, lines)
}

/// (owner, type) of every RR bns sends by AXFR for `id.`, SOA left out.
fn zone_rrsets(bns_dns: SocketAddr) -> BTreeSet<(String, String)> {
    let out = dig(bns_dns, &["-y", DIG_KEY, "id.", "AXFR", "+tcp"]);
    assert!(!out.contains("Transfer failed") && !out.to_lowercase().contains("verify"), "{out}");
    let mut big = 0;
    out.lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 5 && f[3] != "SOA" && f[3] != "TSIG").then(|| (f[0].to_string(), f[3].to_string()))
        })
        // A few of the big zone file's 300 owners are enough.
        .filter(|(o, _)| {
            !o.ends_with(".bigzone.id.") || {
                big += 1;
                big <= 5
            }
        })
        .collect()
}

/// Waits until every secondary has bns's serial, then checks that each
/// answers every query of `queries` exactly as bns does.
fn assert_in_step(node: &DevNode, secondaries: &[Secondary], queries: &BTreeSet<(String, String)>, phase: &str) {
    let want = serial(node.dns).expect("bns answers its SOA");
    for s in secondaries {
        wait_for(&format!("{:?} to reach serial {want} ({phase})", s.kind), 60, || serial(s.addr) == Some(want));
    }
    let mut checked = 0;
    for (owner, rtype) in queries {
        let expected = answer(node.dns, owner, rtype);
        for s in secondaries {
            let got = answer(s.addr, owner, rtype);
            assert_eq!(got, expected, "{phase}: {:?} and bns differ on {owner} {rtype}\n{}", s.kind, s.log());
        }
        checked += 1;
    }
    eprintln!("{phase}: serial {want}; {checked} queries answered alike by bns, Knot and NSD");
}

/// `bns_dns_transfers_total` by kind.
fn transfers(node: &DevNode) -> BTreeMap<String, u64> {
    let body = http_get(node.api, "/metrics").body;
    body.lines()
        .filter_map(|l| l.strip_prefix("bns_dns_transfers_total{kind=\""))
        .filter_map(|l| {
            let (k, v) = l.split_once("\"} ")?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// An AXFR request for `id.` over TCP from source address `from`: the response code.
async fn axfr_rcode_from(from: &str, to: SocketAddr) -> ResponseCode {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let mut s = sock.connect(to).await.unwrap();
    let mut m = Message::new(7, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(Name::from_ascii("id.").unwrap(), RecordType::AXFR));
    let bytes = m.to_vec().unwrap();
    s.write_all(&(bytes.len() as u16).to_be_bytes()).await.unwrap();
    s.write_all(&bytes).await.unwrap();
    let len = s.read_u16().await.unwrap();
    let mut buf = vec![0; usize::from(len)];
    s.read_exact(&mut buf).await.unwrap();
    Message::from_vec(&buf).unwrap().metadata.response_code
}

fn put_zonefile(data: &Path, dir: &Path, name: &str, bytes: &[u8]) {
    let f = dir.join(format!("{name}.zone"));
    std::fs::write(&f, bytes).unwrap();
    bns(&["zonefile", "put", f.to_str().unwrap(), "--data-dir", data.to_str().unwrap()]);
}

#[test]
fn knot_and_nsd_secondaries_follow_new_blocks_and_a_reorg() {
    let b = Bcoin::start();
    let mut c = NameChain::start(&b, "id");
    let mut names = sample();
    names.push(big_zonefile());
    let (me, script) = (c.wallet.address().to_string(), c.wallet.script_pubkey());
    let ch = c.ch();
    c.mine(&b, |f| names.iter().map(|(n, _)| f.next(ops::name_preorder(f, MAGIC, n, &me, &ch, 100, NET))).collect());
    c.mine(&b, |f| {
        names
            .iter()
            .map(|(n, z)| f.next(ops::name_register(f, MAGIC, n, Some(ValueHash::of_zonefile(z)), &script)))
            .collect()
    });

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let (bns_port, knot_port, nsd_port) = (free_port(), free_port(), free_port());
    let dns_addr = format!("127.0.0.1:{bns_port}");
    let (notify_knot, notify_nsd) = (format!("127.0.0.1:{knot_port}"), format!("127.0.0.1:{nsd_port}"));
    let mut args = b.node_args();
    for (addr, amount) in &c.params.token_allocations {
        args.extend(["--token-allocation".to_string(), format!("{addr}={amount}")]);
    }
    args.extend(
        [
            "--namespace-policy",
            "id=bns",
            "--confirmations",
            "1",
            "--poll-interval",
            "0.1",
            "--dns-addr",
            &dns_addr,
            "--allow-transfer",
            "127.0.0.1/32",
            "--notify",
            &notify_knot,
            "--notify",
            &notify_nsd,
            "--tsig-key",
            KEY,
        ]
        .map(String::from),
    );
    let node = DevNode::node(&data, &args.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    let r = rpc(&b);
    let tip = r.tip_height().unwrap();
    wait_for("the node to index the chain", 60, || height(&data) == tip);
    for (n, z) in &names {
        put_zonefile(&data, dir.path(), n, z);
    }
    let first = &names[names.len() - 1].0;
    wait_for("the zone files to answer", 30, || answer(node.dns, first, "SOA").0 == "NOERROR");

    let secondaries = vec![
        Secondary::start(Kind::Knot, "id", node.dns, knot_port, Some(KEY)),
        Secondary::start(Kind::Nsd, "id", node.dns, nsd_port, Some(KEY)),
    ];

    // 1. The first transfer: every RRset bns holds, and names it does not.
    let mut queries = zone_rrsets(node.dns);
    let registrar = names[0].0.clone();
    // Subdomains (`label.registrar.id`, from the `owner=` records) whose own zone files give records.
    let subdomains: BTreeSet<String> = names
        .iter()
        .flat_map(|(n, z)| {
            let text = String::from_utf8_lossy(z).into_owned();
            let labels: Vec<String> = text
                .lines()
                .filter(|l| l.contains("owner="))
                .filter_map(|l| l.split_whitespace().next().map(|s| s.to_ascii_lowercase()))
                .collect();
            labels.into_iter().map(move |l| format!("{l}.{n}."))
        })
        .filter(|sub| queries.iter().any(|(o, _)| o.ends_with(&format!(".{sub}")) || o == sub))
        .collect();
    assert!(subdomains.len() >= 8, "subdomains with records in the zone: {subdomains:?}");
    let sub_rr = queries
        .iter()
        .find(|(o, _)| o.ends_with(&format!(".{registrar}.")) && subdomains.iter().any(|s| o.ends_with(s.as_str())))
        .cloned()
        .unwrap_or_else(|| panic!("{registrar} has a subdomain with records"));
    let plain = names.iter().find(|(_, z)| !String::from_utf8_lossy(z).contains("owner=")).unwrap().0.clone();
    for extra in ["nosuchname.id.".to_string(), format!("nosuch.{registrar}."), format!("fresh.{plain}.")] {
        for t in ["A", "TXT"] {
            queries.insert((extra.clone(), t.to_string()));
        }
    }
    assert_in_step(&node, &secondaries, &queries, "after the first transfer");
    let before = transfers(&node);

    // 2. New blocks: an update of a plain name (new zone file), then a revoke of a registrar.
    let updated = format!("$ORIGIN {plain}\n$TTL 3600\n@ A 192.0.2.77\nfresh TXT \"after the update\"\n");
    let ch = c.ch();
    let update_height = c.mine(&b, |f| {
        vec![f.next(ops::name_update(f, MAGIC, &plain, &ch, &ValueHash::of_zonefile(updated.as_bytes())))]
    });
    wait_for("the update to be indexed", 30, || height(&data) == update_height);
    put_zonefile(&data, dir.path(), &format!("{plain}-2"), updated.as_bytes());
    c.mine(&b, |f| vec![f.next(ops::name_revoke(f, MAGIC, &registrar))]);
    let tip = r.tip_height().unwrap();
    wait_for("the revoke to be indexed", 30, || height(&data) == tip);
    wait_for("bns to answer the update", 10, || {
        answer(node.dns, &format!("fresh.{plain}."), "TXT").1.len() == 1
            && answer(node.dns, &sub_rr.0, &sub_rr.1).0 != "NOERROR"
    });
    assert_in_step(&node, &secondaries, &queries, "after an update and a revoke");
    for s in &secondaries {
        let (_, txt) = answer(s.addr, &format!("fresh.{plain}."), "TXT");
        assert!(txt[0].contains("after the update"), "{:?}: {txt:?}", s.kind);
        assert_eq!(answer(s.addr, &sub_rr.0, &sub_rr.1).0, "NXDOMAIN", "{:?}: a revoked parent's subdomain", s.kind);
    }
    let after = transfers(&node);
    assert!(after["ixfr"] >= before["ixfr"] + 2, "each secondary took an IXFR: {before:?} -> {after:?}");
    assert_eq!(
        (after["axfr"], after["ixfr_whole_zone"]),
        (before["axfr"], before["ixfr_whole_zone"]),
        "no whole-zone transfer for a new block"
    );

    // 3. A reorg drops both blocks: the secondaries get the inverse step.
    let client = b.client();
    let hash = r.block_hash(update_height).unwrap();
    let _: serde_json::Value = client.call("invalidateblock", &[hash.to_string().into()]).unwrap();
    b.mine_to(3, &Wallet::generate(NET).pubkey_hash().to_byte_array());
    let tip = r.tip_height().unwrap();
    wait_for("the node to roll back and follow", 60, || height(&data) == tip);
    wait_for("bns to answer the old zone file", 10, || {
        answer(node.dns, &format!("fresh.{plain}."), "TXT").0 == "NXDOMAIN"
            && answer(node.dns, &sub_rr.0, &sub_rr.1).0 == "NOERROR"
    });
    assert_in_step(&node, &secondaries, &queries, "after a reorg");
    for s in &secondaries {
        assert_eq!(answer(s.addr, &sub_rr.0, &sub_rr.1).0, "NOERROR", "{:?}: the subdomain is back", s.kind);
    }
    let reorged = transfers(&node);
    assert!(reorged["ixfr"] >= after["ixfr"] + 2, "{after:?} -> {reorged:?}");
    assert_eq!((reorged["axfr"], reorged["ixfr_whole_zone"]), (after["axfr"], after["ixfr_whole_zone"]));

    // 4. The transfer is signed message by message; unsigned, wrongly signed
    // and outside requests are refused.
    let out = support::kdig(node.dns, &["-y", DIG_KEY, "id.", "AXFR", "+noall", "+stat"]);
    let messages: usize = out
        .lines()
        .find_map(|l| l.strip_prefix(";; Received "))
        .and_then(|l| l.split('(').nth(1)?.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("kdig: {out}"));
    assert!(messages >= 2, "the zone takes {messages} messages: {out}");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    assert_eq!(rt.block_on(axfr_rcode_from("127.0.0.1", node.dns)), ResponseCode::Refused, "unsigned");
    let dig_raw = |args: &[&str]| {
        let out =
            std::process::Command::new("dig").args(["@127.0.0.1", "-p", &bns_port.to_string()]).args(args).output();
        String::from_utf8_lossy(&out.unwrap().stdout).into_owned()
    };
    let outside = dig_raw(&["-b", "127.0.0.2", "-y", DIG_KEY, "id.", "AXFR"]);
    assert!(outside.contains("Transfer failed"), "signed, from 127.0.0.2: {outside}");
    let wrong = dig_raw(&["-y", "hmac-sha256:xfr-key:d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA==", "id.", "AXFR"]);
    assert!(wrong.contains("BADSIG") && wrong.contains("Transfer failed"), "another secret: {wrong}");
    assert!(transfers(&node)["refused"] >= 3, "{:?}", transfers(&node));
}
