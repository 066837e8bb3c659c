//! Subdomains end to end: judged in chain order whatever order zone files
//! arrive in, rolled back with a reorg, and answered over DNS from a dev
//! node, the real mainnet names and subdomains of tests/vectors included.

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use bitcoin::secp256k1::{SecretKey, SECP256K1};
use bns::hash::ValueHash;
use bns::store::{Store, SubdomainRow};
use bns::subdomain::{self, SubdomainRecord};
use bns::tx::ops;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use support::harness::*;
use support::{query, DevNode, Proto};

/// A key and its regtest P2PKH address.
fn key(n: u8) -> (SecretKey, String) {
    let sk = SecretKey::from_slice(&[n; 32]).unwrap();
    let pk = bitcoin::CompressedPublicKey(sk.public_key(SECP256K1));
    (sk, bitcoin::Address::p2pkh(pk, bitcoin::Network::Regtest).to_string())
}

/// A subdomain record of `domain`; signed by `signer` when given.
fn record(label: &str, domain: &str, owner: &str, seqn: u64, ip: &str, signer: Option<&SecretKey>) -> SubdomainRecord {
    let mut r = SubdomainRecord {
        fqn: format!("{label}.{domain}"),
        signed_name: label.into(),
        independent: false,
        owner: owner.into(),
        seqn,
        zonefile: format!("$ORIGIN {label}\n$TTL 60\n@ A {ip}\n").into_bytes(),
        sig: None,
        position: 0,
    };
    if let Some(sk) = signer {
        r.sig = Some(subdomain::sign_single(sk, &subdomain::plaintext(&r)));
    }
    r
}

/// A domain zone file stating `records`.
fn domain_zonefile(domain: &str, records: &[SubdomainRecord]) -> Vec<u8> {
    let mut text = format!("$ORIGIN {domain}\n$TTL 3600\n_http._tcp URI 10 1 \"https://example.com/{domain}\"\n");
    for r in records {
        let label = r.fqn.split('.').next().unwrap();
        let strings: Vec<String> = subdomain::txt_strings(r).iter().map(|s| format!("\"{s}\"")).collect();
        text.push_str(&format!("{label} TXT {}\n", strings.join(" ")));
    }
    text.into_bytes()
}

/// The three zone files of `registrar.test`, in chain order: alice created
/// (owner A); alice transferred to B by A's signature; a later, conflicting
/// seqn 1 for alice (to C, also signed by A: it loses) and bob created.
fn three_zonefiles() -> [Vec<u8>; 3] {
    let d = "registrar.test";
    let ((ska, a), (_, b), (_, c)) = (key(1), key(2), key(3));
    [
        domain_zonefile(d, &[record("alice", d, &a, 0, "10.0.0.1", None)]),
        domain_zonefile(d, &[record("alice", d, &b, 1, "10.0.0.2", Some(&ska))]),
        domain_zonefile(
            d,
            &[record("alice", d, &c, 1, "10.0.0.3", Some(&ska)), record("bob", d, &a, 0, "10.0.0.9", None)],
        ),
    ]
}

/// A chain registering `registrar.test` with the first zone file and updating
/// it to the other two, a block each; returns the heights of the three ops.
fn registrar_chain(files: &[Vec<u8>; 3]) -> (Harness, [u64; 3]) {
    let mut h = Harness::new();
    let a = h.a.clone();
    let (ch, f) = (h.ch(), h.funding(&a));
    let p = ops::namespace_preorder(&f, MAGIC, "test", &Harness::addr(&a), &ch, 5_500, Some(TEST_NS_STX), NET).unwrap();
    assert_accepted(&h.mine(vec![p])[0]);
    let f = h.funding(&a);
    assert_accepted(&h.mine(vec![ops::namespace_reveal(&f, MAGIC, "test", &params(), &a.script_pubkey()).unwrap()])[0]);
    let f = h.funding(&a);
    assert_accepted(&h.mine(vec![ops::namespace_ready(&f, MAGIC, "test").unwrap()])[0]);
    let name = "registrar.test";
    let (ch, f) = (h.ch(), h.funding(&a));
    assert_accepted(&h.mine1(ops::name_preorder(&f, MAGIC, name, &Harness::addr(&a), &ch, 1_000_000, NET)));
    let f = h.funding(&a);
    let hashes = files.each_ref().map(|z| ValueHash::of_zonefile(z));
    let reg = h.mine1(ops::name_register(&f, MAGIC, name, Some(hashes[0]), &a.script_pubkey()));
    assert_accepted(&reg);
    let mut heights = [reg.height, 0, 0];
    for (i, hash) in hashes.iter().enumerate().skip(1) {
        let (ch, f) = (h.ch(), h.funding(&a));
        let op = h.mine1(ops::name_update(&f, MAGIC, name, &ch, hash));
        assert_accepted(&op);
        heights[i] = op.height;
    }
    (h, heights)
}

/// What the index says, in a form two chains with other txids compare by.
fn state(store: &Store) -> Vec<(String, u64, String, String, Option<String>, u32)> {
    let mut out = Vec::new();
    for fqn in ["alice.registrar.test", "bob.registrar.test"] {
        for r in store.subdomain_history(fqn).unwrap() {
            out.push((r.fqn, r.seqn, r.owner, String::from_utf8(r.zonefile).unwrap(), r.reason, r.position));
        }
    }
    out
}

fn current(store: &Store, fqn: &str) -> Option<SubdomainRow> {
    store.subdomain(fqn).unwrap()
}

#[test]
fn subdomains_follow_the_chain_not_arrival_order_and_roll_back_with_a_reorg() {
    let files = three_zonefiles();
    let (_, b) = key(2);
    let (_, a) = key(1);

    // In chain order.
    let (h1, _) = registrar_chain(&files);
    let first = h1.indexer.params().subdomains_first_block();
    for z in &files {
        h1.store().put_zonefile(z, "test").unwrap();
        h1.store().index_subdomains(first).unwrap();
    }
    let in_order = state(h1.store());
    let alice = current(h1.store(), "alice.registrar.test").expect("alice");
    assert_eq!((alice.seqn, alice.owner.as_str()), (1, b.as_str()), "the transfer to B holds");
    assert!(String::from_utf8_lossy(&alice.zonefile).contains("10.0.0.2"));
    assert!(current(h1.store(), "bob.registrar.test").is_some());
    // The conflicting seqn 1 (to C) came later: stale, not stored.
    assert_eq!(in_order.len(), 3, "{in_order:?}");

    // Newest first: the last file alone says nothing valid about alice yet;
    // once the first arrives, the domain is judged again from it.
    let (mut h2, heights) = registrar_chain(&files);
    let store = h2.store();
    store.put_zonefile(&files[2], "test").unwrap();
    let pass = store.index_subdomains(first).unwrap();
    assert!(current(store, "alice.registrar.test").is_none(), "seqn 1 with no seqn 0 before it");
    assert_eq!(pass.changed, ["bob.registrar.test"]);
    let rejected = store.subdomain_history("alice.registrar.test").unwrap();
    assert!(rejected[0].reason.as_deref().unwrap().contains("seqn=0"), "{rejected:?}");
    store.put_zonefile(&files[1], "test").unwrap();
    store.index_subdomains(first).unwrap();
    assert!(current(store, "alice.registrar.test").is_none());
    store.put_zonefile(&files[0], "test").unwrap();
    let pass = store.index_subdomains(first).unwrap();
    assert!(pass.changed.contains(&"alice.registrar.test".to_string()), "{:?}", pass.changed);
    assert_eq!(state(store), in_order, "same state whatever the arrival order");

    // A reorg back below the transfer's block: alice is A's again, bob is gone.
    h2.indexer.store_mut().rollback_to(heights[1] - 1).unwrap();
    let store = h2.store();
    store.index_subdomains(first).unwrap();
    let alice = current(store, "alice.registrar.test").expect("alice");
    assert_eq!((alice.seqn, alice.owner.as_str()), (0, a.as_str()));
    assert!(current(store, "bob.registrar.test").is_none());
    assert_eq!(store.subdomain_history("alice.registrar.test").unwrap().len(), 1);
}

/// `(owner, type)` of the first record of `zf` (parsed for `fqn`) at or below it.
fn first_record(zf: &bns::zonefile::ZoneFile, fqn: &str) -> Option<(String, RecordType)> {
    use bns::zonefile::RecordData as D;
    zf.records.iter().find(|r| r.owner == fqn || r.owner.ends_with(&format!(".{fqn}"))).map(|r| {
        let t = match r.data {
            D::A(_) => RecordType::A,
            D::Aaaa(_) => RecordType::AAAA,
            D::Cname(_) => RecordType::CNAME,
            D::Mx { .. } => RecordType::MX,
            D::Ns(_) => RecordType::NS,
            D::Txt(_) => RecordType::TXT,
            D::Srv { .. } => RecordType::SRV,
            D::Uri { .. } => RecordType::Unknown(256),
            D::Tlsa { .. } => RecordType::TLSA,
            _ => RecordType::ANY,
        };
        (r.owner.clone(), t)
    })
}

/// Asks `dns` for the first record of each (name, zone file); returns the
/// names that answered with data, and why each other one did not.
/// Records at or below a subdomain of the name are left to the subdomain
/// (`shadowed`: the subdomain names).
async fn ask_all(
    dns: SocketAddr,
    names: &[(String, Vec<u8>)],
    shadowed: &[String],
) -> (usize, BTreeMap<String, String>) {
    let (mut ok, mut failed) = (0, BTreeMap::new());
    for (fqn, content) in names {
        let parsed = bns::zonefile::parse(content, Some(fqn)).map(|mut zf| {
            zf.records.retain(|r| !shadowed.iter().any(|s| r.owner == *s || r.owner.ends_with(&format!(".{s}"))));
            zf
        });
        let Some((owner, rtype)) = parsed.as_ref().ok().and_then(|zf| first_record(zf, fqn)) else {
            let why = match &parsed {
                Ok(zf) if zf.warnings.is_empty() => "its zone file has no records at or below the name".to_string(),
                Ok(zf) => format!("no usable records: {}", zf.warnings.join("; ")),
                Err(e) => format!("its zone file does not parse: {e}"),
            };
            // It must still exist: NOERROR (no data), never NXDOMAIN.
            let r = query(dns, Proto::Udp, &format!("{fqn}."), RecordType::SOA).await;
            failed.insert(fqn.clone(), format!("{why} (DNS: {})", r.metadata.response_code));
            continue;
        };
        let r = query(dns, Proto::Udp, &format!("{owner}."), rtype).await;
        if r.metadata.response_code == ResponseCode::NoError && !r.answers.is_empty() {
            ok += 1;
        } else {
            failed.insert(
                fqn.clone(),
                format!("{owner} {rtype}: {} with {} answers", r.metadata.response_code, r.answers.len()),
            );
        }
    }
    (ok, failed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_mainnet_names_and_subdomains_answer_from_a_fresh_dev_node() {
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/mainnet-zonefiles-sample.txt");
    let genesis = bns::node::genesis_zones::read(std::path::Path::new(sample)).unwrap();
    assert!(genesis.skipped.is_empty(), "{:?}", genesis.skipped);
    let dir = tempfile::tempdir().unwrap();
    let zones = tempfile::tempdir().unwrap();
    std::fs::write(zones.path().join("namespaces.toml"), "").unwrap();
    let node = DevNode::start_with(dir.path(), zones.path(), &["--import-zonefiles", sample]);
    let names: Vec<(String, Vec<u8>)> = genesis.zones.iter().map(|z| (z.name.clone(), z.content.clone())).collect();
    assert!(node.ready.contains(&format!("{} names registered", names.len())), "{}", node.ready);

    // Every subdomain record the real zone files state.
    let mut subs = Vec::new();
    for (fqn, content) in &names {
        let zf = bns::zonefile::parse(content, Some(fqn)).unwrap();
        if let Ok(recs) = subdomain::parse(fqn, &zf) {
            subs.extend(recs.records.into_iter().map(|r| (r.fqn, r.zonefile)));
        }
    }
    assert!(subs.len() >= 10, "the sample states {} subdomains", subs.len());

    let sub_names: Vec<String> = subs.iter().map(|s| s.0.clone()).collect();
    let (names_ok, names_failed) = ask_all(node.dns, &names, &sub_names).await;
    let (subs_ok, subs_failed) = ask_all(node.dns, &subs, &[]).await;
    println!("real mainnet names: {names_ok} of {} answer with records", names.len());
    println!("real mainnet subdomains: {subs_ok} of {} answer with records", subs.len());
    for (n, why) in names_failed.iter().chain(&subs_failed) {
        println!("  {n}: {why}");
    }
    // Whatever does not answer with data exists (NOERROR) and says why.
    for (n, why) in names_failed.iter().chain(&subs_failed) {
        assert!(why.contains("(DNS: No Error)"), "{n}: {why}");
    }
    assert!(names_ok * 100 >= names.len() * 95, "{names_ok} of {}", names.len());
    assert!(
        subs_ok + subs_failed.len() == subs.len() && subs_ok * 100 >= subs.len() * 80,
        "{subs_ok} of {}",
        subs.len()
    );

    // The API and explain agree with DNS for a subdomain.
    let v = support::http_get(node.api, "/v1/names/1yeardaily.sub.helloworld").json();
    assert_eq!(v["status"], "registered_subdomain", "{v}");
    assert_eq!(v["address"], "14x2EMRz1gf16UzGbxZh2c6sJg4A8wcHLD");
    let v = support::http_get(node.api, "/v1/resolve/_http._tcp.1yeardaily.sub.helloworld").json();
    assert_eq!(v["subdomain"]["name"], "1yeardaily.sub.helloworld", "{v}");
    assert!(v["dns"].as_str().unwrap().starts_with("NOERROR: 1 record"), "{v}");
    // A label the registrar never stated is not a subdomain: the parent's zone file answers (NXDOMAIN).
    let r = query(node.dns, Proto::Udp, "nobody.sub.helloworld.", RecordType::A).await;
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain);
}

async fn addr_of(dns: SocketAddr) -> Vec<String> {
    let r = query(dns, Proto::Tcp, "alice.registrar.id.", RecordType::A).await;
    r.answers.iter().map(|a| a.data.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_transfer_reaches_dns_and_a_forged_one_does_not() {
    let ((ska, a), (skb, b), (_, c)) = (key(1), key(2), key(3));
    let d = "registrar.id";
    let dir = tempfile::tempdir().unwrap();
    let zones = tempfile::tempdir().unwrap();
    std::fs::copy(support::repo_zones().join("namespaces.toml"), zones.path().join("namespaces.toml")).unwrap();
    let write = |records: &[SubdomainRecord]| {
        std::fs::write(zones.path().join(format!("{d}.zone")), domain_zonefile(d, records)).unwrap();
    };

    write(&[record("alice", d, &a, 0, "10.0.0.1", None)]);
    let node = DevNode::start(dir.path(), zones.path());
    assert_eq!(addr_of(node.dns).await, ["10.0.0.1"]);
    drop(node);

    // The owner A signs seqn 1 over to B with a new address.
    write(&[record("alice", d, &b, 1, "10.0.0.2", Some(&ska))]);
    let node = DevNode::start(dir.path(), zones.path());
    assert_eq!(addr_of(node.dns).await, ["10.0.0.2"]);
    drop(node);

    // A (no longer the owner) signs seqn 2 to C: rejected, B's record stays.
    write(&[record("alice", d, &c, 2, "10.6.6.6", Some(&ska))]);
    let node = DevNode::start(dir.path(), zones.path());
    assert_eq!(addr_of(node.dns).await, ["10.0.0.2"]);
    let hist =
        support::atlas::bns(&["name", "history", "alice.registrar.id", "--data-dir", dir.path().to_str().unwrap()]);
    assert!(hist.contains("not the previous owner"), "{hist}");
    drop(node);

    // B signs seqn 2: accepted.
    write(&[record("alice", d, &c, 2, "10.0.0.3", Some(&skb))]);
    let node = DevNode::start(dir.path(), zones.path());
    assert_eq!(addr_of(node.dns).await, ["10.0.0.3"]);
    let show = support::atlas::bns(&["name", "show", "alice.registrar.id", "--data-dir", dir.path().to_str().unwrap()]);
    assert!(show.contains(&c) && show.contains("registered_subdomain"), "{show}");
}

/// Imports into a data dir that already holds imported names find holder keys
/// with room (an address may own at most 25 names), so every name registers.
#[test]
fn a_second_import_into_the_same_data_dir_registers_every_name() {
    let ids: Vec<(String, Vec<u8>)> = support::atlas::mainnet_zonefiles()
        .into_iter()
        .filter(|(_, z)| String::from_utf8_lossy(z).lines().next().is_some_and(|l| l.trim_end().ends_with(".id")))
        .take(30)
        .collect();
    assert_eq!(ids.len(), 30);
    let dir = tempfile::tempdir().unwrap();
    let zones = tempfile::tempdir().unwrap();
    std::fs::write(zones.path().join("namespaces.toml"), "").unwrap();
    for (i, part) in ids.chunks(15).enumerate() {
        let file = dir.path().join(format!("import{i}.txt"));
        let text: String =
            part.iter().map(|(h, z)| format!("{h}\n{}\n", String::from_utf8_lossy(z).replace('\n', "\\n"))).collect();
        std::fs::write(&file, text).unwrap();
        let node = DevNode::start_with(
            &dir.path().join("data"),
            zones.path(),
            &["--import-zonefiles", file.to_str().unwrap()],
        );
        assert!(node.ready.contains("15 names registered"), "import {i}: {}", node.ready);
    }
}
