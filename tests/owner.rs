//! The owner's commands (`bns namespace ...`, `bns name ...`, `bns zonefile
//! put`) against a real Bitcoin node: bcoin regtest with its address index
//! (`--index-address`), which lists coins by REST since bcoin has no
//! `scantxoutset`. The index is written in-process by an indexer thread that
//! also mines a block whenever bcoin's mempool holds transactions, standing
//! in for `bns node`; the real `bns` binary does the rest.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bitcoin::hashes::Hash;
use bitcoin::Network;
use bitcoincore_rpc::{Auth, Client, RpcApi};
use bns::bns::ChainParams;
use bns::chain::bitcoind::{RpcAuth, RpcSource};
use bns::hash::ValueHash;
use bns::indexer::Indexer;
use bns::node::names::StoreNames;
use bns::store::Store;
use bns::tx::Wallet;
use support::bcoin::{Bcoin, BCOIN_REGTEST_P2PKH};

const NET: Network = Network::Regtest;

struct Env {
    bcoin: Bcoin,
    dir: tempfile::TempDir,
    stop: Arc<AtomicBool>,
    /// Cleared, the thread stops mining (transactions stay in the mempool).
    mining: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    a: Wallet,
    params: ChainParams,
}

fn bcoin_address(w: &Wallet) -> String {
    let mut payload = vec![BCOIN_REGTEST_P2PKH];
    payload.extend_from_slice(&w.pubkey_hash().to_byte_array());
    bitcoin::base58::encode_check(&payload)
}

impl Env {
    fn start() -> Env {
        let bcoin = Bcoin::start();
        let a = Wallet::generate(NET);
        bcoin.mine_to(110, &a.pubkey_hash().to_byte_array());
        let dir = tempfile::tempdir().unwrap();
        let params = ChainParams::test(1, *b"id").with_allocation(a.address().to_string(), 1_000_000_000_000_000);
        let store = Store::open(&dir.path().join("bns.sqlite")).unwrap();
        // What `bns node` records in its index.
        store.set_meta("network", "regtest").unwrap();
        store.set_meta("chain_params", &serde_json::to_string(&params).unwrap()).unwrap();
        let mut indexer = Indexer::new(store, params.clone(), NET, 1);
        let rpc = RpcSource::new(&bcoin.url, RpcAuth::UserPass("x".into(), bcoin.key.clone().into())).unwrap();
        indexer.catch_up(&rpc).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let mining = Arc::new(AtomicBool::new(true));
        let (url, key, miner) = (bcoin.url.clone(), bcoin.key.clone(), bcoin_address(&a));
        let thread = {
            let (stop, mining) = (stop.clone(), mining.clone());
            std::thread::spawn(move || {
                let client = Client::new(&url, Auth::UserPass("x".into(), key)).unwrap();
                while !stop.load(Ordering::SeqCst) {
                    let mempool: Vec<bitcoin::Txid> = client.call("getrawmempool", &[]).unwrap_or_default();
                    if !mempool.is_empty() && mining.load(Ordering::SeqCst) {
                        let _: serde_json::Value =
                            client.call("generatetoaddress", &[1.into(), miner.clone().into()]).unwrap();
                    }
                    indexer.catch_up(&rpc).unwrap();
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        Env { bcoin, dir, stop, mining, thread: Some(thread), a, params }
    }

    fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    fn store(&self) -> Store {
        Store::open_readonly(&self.data_dir().join("bns.sqlite")).unwrap()
    }

    fn key_file(&self, label: &str, w: &Wallet) -> PathBuf {
        let path = self.data_dir().join(format!("{label}.wif"));
        std::fs::write(&path, format!("{}\n", w.to_wif())).unwrap();
        path
    }

    fn file(&self, name: &str, content: &str) -> String {
        let path = self.data_dir().join(name);
        std::fs::write(&path, content).unwrap();
        path.display().to_string()
    }

    /// Runs `bns ARGS` as it is, returning (success, stdout, stderr).
    fn raw(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_bns")).args(args).env("RUST_LOG", "warn").output().unwrap();
        let (o, e) =
            (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
        (out.status.success(), o, e)
    }

    /// Runs an owner's command with the node, index and `key`.
    fn run(&self, key: &Path, args: &[&str]) -> (bool, String, String) {
        self.raw(&self.args(&self.bcoin.url, key, args).iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// Starts an owner's command reaching the node at `url`, its output piped.
    fn spawn(&self, url: &str, key: &Path, args: &[&str]) -> std::process::Child {
        Command::new(env!("CARGO_BIN_EXE_bns"))
            .args(self.args(url, key, args))
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// `args` plus the index, the node at `url`, its credentials and `key`.
    fn args(&self, url: &str, key: &Path, args: &[&str]) -> Vec<String> {
        let dir = self.data_dir().display().to_string();
        let key = key.display().to_string();
        let mut all: Vec<&str> = args.to_vec();
        all.extend([
            "--data-dir",
            &dir,
            "--bitcoind-url",
            url,
            "--rpc-user",
            "x",
            "--rpc-password",
            &self.bcoin.key,
            "--key-file",
            &key,
        ]);
        if !args.contains(&"--wait-timeout") {
            all.extend(["--wait-timeout", "120"]);
        }
        all.into_iter().map(String::from).collect()
    }

    fn ok(&self, key: &Path, args: &[&str]) -> String {
        let (ok, out, err) = self.run(key, args);
        assert!(ok, "bns {args:?} failed:\nstdout: {out}\nstderr: {err}");
        out
    }

    /// Runs a command that must fail with `needle` in its error.
    fn fails(&self, key: &Path, args: &[&str], needle: &str) {
        let (ok, out, err) = self.run(key, args);
        assert!(!ok, "bns {args:?} should fail:\nstdout: {out}\nstderr: {err}");
        assert!(err.contains(needle), "bns {args:?}: expected {needle:?} in:\n{err}");
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The first A record the DNS face's view gives for `fqn`.
fn a_record(names: &StoreNames, fqn: &str) -> Option<String> {
    let snap = names.snapshot();
    assert!(snap.describe(fqn).starts_with("zone"), "{fqn}: expected a zone, got {}", snap.describe(fqn));
    snap.addresses(fqn).iter().find(|ip| ip.is_ipv4()).map(|ip| ip.to_string())
}

fn zone(name: &str, ip: &str) -> String {
    format!("$ORIGIN {name}\n$TTL 3600\n@ IN A {ip}\n")
}

#[test]
fn namespace_and_name_lifecycle_through_the_cli() {
    let env = Env::start();
    let a = env.key_file("a", &env.a);
    let a_addr = env.a.address().to_string();

    // Namespace: preorder, reveal, ready, each waiting for the index.
    env.ok(&a, &["namespace", "preorder", "test"]);
    let reveal = [
        "namespace",
        "reveal",
        "test",
        "--lifetime",
        "52595",
        "--coeff",
        "250",
        "--base",
        "4",
        "--buckets",
        "6,5,4,3,2,1,0,0,0,0,0,0,0,0,0,0",
        "--nonalpha-discount",
        "10",
        "--no-vowel-discount",
        "10",
    ];
    env.ok(&a, &reveal);
    env.fails(&a, &["namespace", "ready", "nope"], "is not revealed");
    env.ok(&a, &["namespace", "ready", "test"]);
    assert!(env.store().namespace("test").unwrap().unwrap().ready_block.is_some());
    env.fails(&a, &["namespace", "preorder", "test"], "already exists");

    // The whole registration flow, with the zone file stored at the end.
    let z1 = zone("werner.test", "192.0.2.1");
    let h1 = ValueHash::of_zonefile(z1.as_bytes());
    let z1_path = env.file("z1.zone", &z1);
    let (ok, out, err) = env.run(&a, &["name", "register", "werner.test", "--zonefile", &z1_path]);
    assert!(ok, "{out}\n{err}");
    assert!(err.contains("waiting for block"), "progress lines: {err}");
    assert!(out.contains("NAME_PREORDER of werner.test accepted") && out.contains("NAME_REGISTRATION"), "{out}");
    let rec = env.store().name("werner.test").unwrap().unwrap();
    assert_eq!((rec.address.as_str(), rec.value_hash), (a_addr.as_str(), Some(h1)));
    assert_eq!(env.store().zonefile(&h1).unwrap().as_deref(), Some(z1.as_bytes()));
    // Rerunning finds it done and sends nothing.
    let out = env.ok(&a, &["name", "register", "werner.test", "--zonefile", &z1_path]);
    assert!(out.contains("already registered to this key") && !out.contains("sent "), "{out}");

    // --dry-run prints a signed NAME_UPDATE that `bns op decode` reads back; nothing changes.
    let z2 = zone("werner.test", "192.0.2.2");
    let h2 = ValueHash::of_zonefile(z2.as_bytes());
    let z2_path = env.file("z2.zone", &z2);
    let out = env.ok(&a, &["name", "update", "werner.test", "--zonefile", &z2_path, "--dry-run"]);
    let mut lines = out.lines().skip_while(|l| !l.starts_with("dry run: NAME_UPDATE"));
    let hex = lines.nth(1).expect("hex line after the dry-run line").trim().to_string();
    let (ok, decoded, err) = env.raw(&["op", "decode", &hex, "--network", "regtest"]);
    assert!(ok, "{err}");
    let decoded: serde_json::Value = serde_json::from_str(&decoded).unwrap();
    assert_eq!(decoded["op"]["type"], "NAME_UPDATE", "{decoded}");
    assert_eq!(decoded["op"]["fields"]["value_hash"], h2.to_string(), "{decoded}");
    assert_eq!(env.store().name("werner.test").unwrap().unwrap().value_hash, Some(h1));

    // The DNS face's view of the index, as a running node holds it.
    let names = StoreNames::open(&env.data_dir().join("bns.sqlite"), env.params.clone()).unwrap();
    assert_eq!(a_record(&names, "werner.test").as_deref(), Some("192.0.2.1"));

    // Update without waiting: the hash changes on chain, the zone file is not held yet...
    env.ok(&a, &["name", "update", "werner.test", "--zonefile", &z2_path, "--no-wait"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while env.store().name("werner.test").unwrap().unwrap().value_hash != Some(h2) {
        assert!(Instant::now() < deadline, "the update was not indexed");
        std::thread::sleep(Duration::from_millis(100));
    }
    names.refresh().unwrap();
    assert!(names.snapshot().describe("werner.test").starts_with("not fetched"));
    // ...until `bns zonefile put` (another process) stores it; the node's next refresh serves it.
    let serial = names.snapshot().serial();
    let dir = env.data_dir().display().to_string();
    let (ok, out, err) = env.raw(&["zonefile", "put", &z2_path, "--data-dir", &dir]);
    assert!(ok && out.contains(&h2.to_string()), "{out}\n{err}");
    names.refresh().unwrap();
    assert!(names.snapshot().serial() > serial, "a new zone file is published with a higher SOA serial");
    assert_eq!(a_record(&names, "werner.test").as_deref(), Some("192.0.2.2"));
    // The same update again has nothing to send.
    let out = env.ok(&a, &["name", "update", "werner.test", "--zonefile", &z2_path]);
    assert!(out.contains("already points at") && !out.contains("sent "), "{out}");

    // Renew (no new zone file): last_renewed moves, hash kept.
    let before = env.store().name("werner.test").unwrap().unwrap().last_renewed;
    env.ok(&a, &["name", "renew", "werner.test"]);
    let rec = env.store().name("werner.test").unwrap().unwrap();
    assert!(rec.last_renewed > before && rec.value_hash == Some(h2), "{rec:?}");

    // A dry run of the whole flow shows its first step and stops.
    let out = env.ok(&a, &["name", "register", "dry.test", "--dry-run"]);
    assert!(out.contains("dry run: NAME_PREORDER of dry.test") && out.contains("\"type\": \"NAME_PREORDER\""), "{out}");
    assert!(out.contains("NAME_REGISTRATION follows") && !out.contains("sent "), "{out}");
    assert!(env.store().name("dry.test").unwrap().is_none());

    // Clear errors, nothing sent.
    let b_wallet = Wallet::generate(NET);
    let b = env.key_file("b", &b_wallet);
    let b_addr = b_wallet.address().to_string();
    env.fails(&b, &["name", "register", "werner.test"], &format!("werner.test is taken: owned by {a_addr}"));
    env.fails(&b, &["name", "preorder", "other.test"], "insufficient funds");
    env.fails(&b, &["name", "preorder", "other.test"], &format!("this key's address is {b_addr}"));
    env.fails(&a, &["name", "register", "second.test", "--from-preorder"], "no preorder of second.test by this key");
    env.fails(&a, &["name", "preorder", "x.nope"], "namespace \"nope\" does not exist");
    let bad_zone = env.file("bad.zone", "$ORIGIN werner.test\n@ IN A not-an-ip\n");
    env.fails(&a, &["name", "update", "werner.test", "--zonefile", &bad_zone], "zone file for werner.test");

    // Transfer to B (clearing the zone-file hash); A's key no longer owns it.
    env.ok(&a, &["name", "transfer", "werner.test", "--to", &b_addr]);
    let rec = env.store().name("werner.test").unwrap().unwrap();
    assert_eq!((rec.address.as_str(), rec.value_hash), (b_addr.as_str(), None));
    env.fails(
        &a,
        &["name", "update", "werner.test", "--zonefile", &z1_path],
        &format!("werner.test is owned by {b_addr}, not by this key ({a_addr})"),
    );

    // Two-step registration (preorder, then register --from-preorder), then revoke.
    env.ok(&a, &["name", "preorder", "second.test"]);
    env.fails(&a, &["name", "preorder", "second.test"], "already preordered second.test");
    env.ok(&a, &["name", "register", "second.test", "--from-preorder"]);
    assert_eq!(env.store().name("second.test").unwrap().unwrap().address, a_addr);
    env.ok(&a, &["name", "revoke", "second.test"]);
    assert!(env.store().name("second.test").unwrap().unwrap().revoked);
    env.fails(&a, &["name", "renew", "second.test"], "was revoked");

    // Resumable: stop after the preorder is sent, rerun to finish.
    let z3 = zone("third.test", "192.0.2.3");
    let z3_path = env.file("z3.zone", &z3);
    let out = env.ok(&a, &["name", "register", "third.test", "--zonefile", &z3_path, "--no-wait"]);
    assert!(out.contains("sent NAME_PREORDER") && out.contains("rerun"), "{out}");
    assert!(env.store().name("third.test").unwrap().is_none());
    let out = env.ok(&a, &["name", "register", "third.test", "--zonefile", &z3_path]);
    assert!(out.contains("was sent before") || out.contains("found this key's preorder"), "{out}");
    assert!(!out.contains("sent NAME_PREORDER"), "the preorder is not paid twice: {out}");
    let h3 = ValueHash::of_zonefile(z3.as_bytes());
    assert_eq!(env.store().name("third.test").unwrap().unwrap().value_hash, Some(h3));
    assert!(env.store().zonefile(&h3).unwrap().is_some());

    // A timeout (no block comes) is a clear error; the rerun waits for the same preorder.
    env.mining.store(false, Ordering::SeqCst);
    let z4_path = env.file("z4.zone", &zone("fourth.test", "192.0.2.4"));
    let (ok, out, err) =
        env.run(&a, &["name", "register", "fourth.test", "--zonefile", &z4_path, "--wait-timeout", "2"]);
    assert!(!ok && out.contains("sent NAME_PREORDER"), "{out}\n{err}");
    assert!(
        err.contains("timed out after 2 s waiting for NAME_PREORDER of fourth.test") && err.contains("rerun"),
        "{err}"
    );
    env.mining.store(true, Ordering::SeqCst);
    let out = env.ok(&a, &["name", "register", "fourth.test", "--zonefile", &z4_path]);
    assert!(out.contains("was sent before") && !out.contains("sent NAME_PREORDER"), "{out}");
    assert_eq!(env.store().name("fourth.test").unwrap().unwrap().address, a_addr);

    // zonefile put: only hashes a name has on chain.
    let (ok, _, err) =
        env.raw(&["zonefile", "put", &env.file("u.zone", &zone("u.test", "192.0.2.9")), "--data-dir", &dir]);
    assert!(!ok && err.contains("no name on chain has zone-file hash"), "{err}");
    let (ok, out, err) = env.raw(&["zonefile", "put", &z1_path, "--data-dir", &dir]);
    assert!(ok && out.contains(&h1.to_string()), "{out}\n{err}");
}

#[test]
fn refuses_an_index_not_made_by_bns_node() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(&dir.path().join("bns.sqlite")).unwrap());
    let key = dir.path().join("k.wif");
    std::fs::write(&key, Wallet::generate(NET).to_wif()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_bns"))
        .args(["name", "preorder", "a.test", "--data-dir"])
        .arg(dir.path())
        .args(["--bitcoind-url", "http://127.0.0.1:9", "--key-file"])
        .arg(&key)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("this index was not made by `bns node`"), "{err}");
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_bns"))
        .args(["name", "preorder", "a.test", "--key-file"])
        .arg(&key)
        .arg("--data-dir")
        .arg(empty.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("no index at"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_bns"))
        .args(["name", "preorder", "a.test", "--key-env", "BNS_NO_SUCH_VAR"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("BNS_NO_SUCH_VAR is not set"), "{err}");
}

/// A TCP proxy in front of bcoin that passes everything through until a
/// request holding `sendrawtransaction` passes; that connection then never
/// answers. With `forward` bcoin gets the transaction and only its reply is
/// lost (an RPC timeout, or a crash right after broadcasting); without it
/// the transaction never reaches bcoin.
struct HoldingProxy {
    port: u16,
    saw_send: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl HoldingProxy {
    fn start(target_url: &str, forward: bool) -> HoldingProxy {
        let target = target_url.trim_start_matches("http://").to_string();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let (saw_send, stop) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
        let (saw, st) = (saw_send.clone(), stop.clone());
        std::thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                client.set_nonblocking(false).unwrap();
                let server = std::net::TcpStream::connect(&target).unwrap();
                let held = Arc::new(AtomicBool::new(false));
                let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (held_in, saw) = (held.clone(), saw.clone());
                std::thread::spawn(move || {
                    use std::io::{Read, Write};
                    let (mut buf, mut seen) = ([0u8; 65536], Vec::new());
                    while let Ok(n @ 1..) = c_in.read(&mut buf) {
                        seen.extend_from_slice(&buf[..n]);
                        if seen.windows(18).any(|w| w == b"sendrawtransaction") {
                            held_in.store(true, Ordering::SeqCst);
                            saw.store(true, Ordering::SeqCst);
                            if !forward {
                                continue;
                            }
                        }
                        if s_out.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = s_out.shutdown(std::net::Shutdown::Both);
                });
                let (mut s_in, mut c_out) = (server, client);
                std::thread::spawn(move || {
                    use std::io::{Read, Write};
                    let mut buf = [0u8; 65536];
                    while let Ok(n @ 1..) = s_in.read(&mut buf) {
                        if !held.load(Ordering::SeqCst) && c_out.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    if !held.load(Ordering::SeqCst) {
                        let _ = c_out.shutdown(std::net::Shutdown::Both);
                    }
                });
            }
        });
        HoldingProxy { port, saw_send, stop }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for HoldingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// `bns name register` killed between handing the preorder to the node and
/// hearing back (the reply lost, or the transaction never arriving): the
/// rerun finds the note written before sending, waits for that transaction
/// (or sends the same one again) and never pays for a second preorder.
#[test]
fn a_register_killed_while_sending_never_pays_twice() {
    let env = Env::start();
    let a = env.key_file("a", &env.a);
    env.ok(&a, &["namespace", "preorder", "kill"]);
    let reveal = ["namespace", "reveal", "kill", "--lifetime", "52595", "--coeff", "250", "--base", "4"];
    let buckets = ["--buckets", "6,5,4,3,2,1,0,0,0,0,0,0,0,0,0,0", "--nonalpha-discount", "10"];
    env.ok(&a, &[&reveal[..], &buckets[..], &["--no-vowel-discount", "10"]].concat());
    env.ok(&a, &["namespace", "ready", "kill"]);
    let from = env.store().last_block().unwrap().unwrap().height + 1;
    for (name, forward) in [("held.kill", true), ("lost.kill", false)] {
        env.mining.store(false, Ordering::SeqCst);
        let proxy = HoldingProxy::start(&env.bcoin.url, forward);
        let mut first = env.spawn(&proxy.url(), &a, &["name", "register", name]);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !proxy.saw_send.load(Ordering::SeqCst) {
            assert!(first.try_wait().unwrap().is_none(), "{name}: the command ended before sending");
            assert!(Instant::now() < deadline, "{name}: no sendrawtransaction within 60 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        if forward {
            while env.bcoin.client().call::<Vec<bitcoin::Txid>>("getrawmempool", &[]).unwrap().is_empty() {
                assert!(Instant::now() < deadline, "{name}: the preorder never reached bcoin");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        first.kill().unwrap();
        first.wait().unwrap();
        // Rerun while nothing is mined: it must not build a second preorder.
        let rerun = env.spawn(&env.bcoin.url, &a, &["name", "register", name]);
        std::thread::sleep(Duration::from_secs(4));
        env.mining.store(true, Ordering::SeqCst);
        let out = rerun.wait_with_output().unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{name}: rerun failed:\n{stdout}\n{stderr}");
        assert!(stdout.contains("was sent before") && !stdout.contains("sent NAME_PREORDER"), "{name}: {stdout}");
        if !forward {
            assert!(stdout.contains("sent the same transaction again"), "{name}: {stdout}");
        }
        assert_eq!(env.store().name(name).unwrap().unwrap().address, env.a.address().to_string());
    }
    let store = env.store();
    let tip = store.last_block().unwrap().unwrap().height;
    let preorders: Vec<_> = (from..=tip).flat_map(|h| store.ops_at(h).unwrap()).filter(|o| o.op == "?").collect(); // Core's op string of NAME_PREORDER
    assert_eq!(preorders.len(), 2, "one preorder per name, none paid twice: {preorders:?}");
    assert!(preorders.iter().all(|o| o.accepted), "{preorders:?}");
}
