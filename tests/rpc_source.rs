//! `RpcSource` and `bns node` against a small fake bitcoind over real
//! sockets: credentials in the URL, Core's cookie changing under a running
//! client, answers that do not match what was asked, a node that comes up on
//! the wrong chain. A fake server is used because these behaviours need a
//! node that rewrites its cookie or lies on purpose: bcoin (tests/support)
//! knows only an API key and answers honestly, and Bitcoin Core cannot run
//! here. Its chain is a real one, mined by the dev chain.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::{Network, OutPoint, ScriptBuf};
use bns::bns::ChainParams;
use bns::chain::bitcoind::{RpcAuth, RpcSource};
use bns::chain::devchain::DevChain;
use bns::chain::BlockSource;
use bns::indexer::Indexer;
use bns::store::Store;
use serde_json::{json, Value};

/// What the fake node does; tests change it while it runs.
struct State {
    /// `user:password` it accepts as basic auth.
    accept: String,
    /// `getblockchaininfo.chain`.
    chain: String,
    /// Serve blocks with a transaction changed under the same header.
    tamper_blocks: bool,
    /// Serve another transaction than the one asked for.
    tamper_txs: bool,
    /// 401 answers sent.
    unauthorized: u32,
}

struct Fake {
    state: Arc<Mutex<State>>,
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

fn b64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n =
            (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            out.push(if i <= c.len() { A[((n >> (18 - 6 * i)) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Fake {
    /// A fake regtest node with 3 mined blocks on `port` (0: any), accepting `accept`.
    fn start(port: u16, accept: &str) -> Fake {
        let state = State {
            accept: accept.to_string(),
            chain: "regtest".into(),
            tamper_blocks: false,
            tamper_txs: false,
            unauthorized: 0,
        };
        Fake::start_with(port, Arc::new(Mutex::new(state)))
    }

    fn start_with(port: u16, state: Arc<Mutex<State>>) -> Fake {
        let dir = tempfile::tempdir().unwrap();
        let chain = DevChain::open(&dir.path().join("chain.dat"), Network::Regtest).unwrap();
        for _ in 0..3 {
            chain.mine(&ScriptBuf::new()).unwrap();
        }
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((s, _)) => serve(s, &state, &chain),
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        Fake { state, port, stop, thread: Some(thread), _dir: dir }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn set(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.state.lock().unwrap())
    }

    /// Stops listening; returns the state to start again with.
    fn shut(mut self) -> Arc<Mutex<State>> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap();
        self.state.clone()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One HTTP request (the client closes after it or keeps the connection:
/// answered with `Connection: close` either way).
fn serve(mut s: TcpStream, state: &Mutex<State>, chain: &DevChain) {
    s.set_nonblocking(false).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let (mut len, mut auth) = (0usize, String::new());
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            match k.to_ascii_lowercase().as_str() {
                "content-length" => len = v.trim().parse().unwrap_or(0),
                "authorization" => auth = v.trim().to_string(),
                _ => {}
            }
        }
    }
    let mut body = vec![0; len];
    if r.read_exact(&mut body).is_err() {
        return;
    }
    let mut st = state.lock().unwrap();
    let (status, reply) = if auth != format!("Basic {}", b64(st.accept.as_bytes())) {
        st.unauthorized += 1;
        ("401 Unauthorized", String::new())
    } else {
        let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let reply = match &req {
            Value::Array(reqs) => Value::Array(reqs.iter().map(|q| answer(q, &st, chain)).collect()),
            q => answer(q, &st, chain),
        };
        ("200 OK", reply.to_string())
    };
    drop(st);
    let _ = write!(
        s,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
        reply.len()
    );
}

fn answer(q: &Value, st: &State, chain: &DevChain) -> Value {
    let p = &q["params"];
    let result = match q["method"].as_str().unwrap_or("") {
        "getblockchaininfo" => json!({"chain": st.chain, "blocks": chain.height()}),
        "getblockcount" => json!(chain.height()),
        "getblockhash" => json!(chain.block_hash(p[0].as_u64().unwrap()).unwrap().to_string()),
        "getblock" => {
            let hash = p[0].as_str().unwrap();
            let h = (0..=chain.height()).find(|h| chain.block_hash(*h).unwrap().to_string() == hash).unwrap();
            let mut b = chain.block(h).unwrap();
            if st.tamper_blocks {
                b.txdata[0].output[0].value = bitcoin::Amount::from_sat(1);
            }
            json!(serialize_hex(&b))
        }
        "getrawtransaction" => {
            let txid = p[0].as_str().unwrap().parse().unwrap();
            match chain.tx(&txid) {
                Some(mut tx) => {
                    if st.tamper_txs {
                        tx.output[0].value = bitcoin::Amount::from_sat(1);
                    }
                    json!(serialize_hex(&tx))
                }
                None => {
                    return json!({"result": null, "error": {"code": -5, "message": "No such transaction"}, "id": q["id"]})
                }
            }
        }
        m => {
            return json!({"result": null, "error": {"code": -32601, "message": format!("Method not found: {m}")}, "id": q["id"]})
        }
    };
    json!({"result": result, "error": null, "id": q["id"]})
}

#[test]
fn credentials_in_the_url_go_as_basic_auth() {
    let fake = Fake::start(0, "alice:pa ss@word");
    let url = format!("http://alice:pa%20ss%40word@127.0.0.1:{}", fake.port);
    let rpc = RpcSource::new(&url, RpcAuth::None).unwrap();
    assert_eq!(rpc.tip_height().unwrap(), 3);
    let shown = format!("{rpc:?}");
    assert!(shown.contains(&format!("http://alice:***@127.0.0.1:{}", fake.port)) && !shown.contains("word"), "{shown}");
    // Wrong credentials: an error naming the cause, without the password.
    let bad = RpcSource::new(&format!("http://alice:nope-secret@127.0.0.1:{}", fake.port), RpcAuth::None).unwrap();
    let e = bad.tip_height().unwrap_err().to_string();
    assert!(e.contains("401") && !e.contains("nope-secret"), "{e}");
}

#[test]
fn a_new_cookie_is_read_after_a_401() {
    let dir = tempfile::tempdir().unwrap();
    let cookie = dir.path().join(".cookie");
    std::fs::write(&cookie, "__cookie__:first").unwrap();
    let fake = Fake::start(0, "__cookie__:first");
    let rpc = RpcSource::new(&fake.url(), RpcAuth::Cookie(cookie.clone())).unwrap();
    assert_eq!(rpc.tip_height().unwrap(), 3);
    // The node restarted in place (same connection target) with a new cookie.
    std::fs::write(&cookie, "__cookie__:second").unwrap();
    fake.set(|s| s.accept = "__cookie__:second".into());
    assert_eq!(rpc.tip_height().unwrap(), 3, "re-read after the 401 and retried");
    assert_eq!(fake.state.lock().unwrap().unauthorized, 1);
}

#[test]
fn a_new_cookie_is_read_after_a_reconnect() {
    let dir = tempfile::tempdir().unwrap();
    let cookie = dir.path().join(".cookie");
    // bitcoind is down at start: no cookie yet.
    let port = free_port();
    let rpc = RpcSource::new(&format!("http://127.0.0.1:{port}"), RpcAuth::Cookie(cookie.clone())).unwrap();
    assert!(rpc.tip_height().is_err());
    std::fs::write(&cookie, "__cookie__:one").unwrap();
    let fake = Fake::start(port, "__cookie__:one");
    assert_eq!(rpc.tip_height().unwrap(), 3);
    // It goes down and comes back with a new cookie: read before the first call.
    let state = fake.shut();
    assert!(rpc.tip_height().is_err());
    std::fs::write(&cookie, "__cookie__:two").unwrap();
    state.lock().unwrap().accept = "__cookie__:two".into();
    let fake = Fake::start_with(port, state);
    assert_eq!(rpc.tip_height().unwrap(), 3);
    assert_eq!(fake.state.lock().unwrap().unauthorized, 0, "the new cookie was read before asking");
}

#[test]
fn answers_that_do_not_match_what_was_asked_are_refused() {
    let fake = Fake::start(0, "u:p");
    let rpc = RpcSource::new(&fake.url(), RpcAuth::UserPass("u".into(), "p".into())).unwrap();
    let coinbase = rpc.block(2).unwrap().txdata[0].compute_txid();
    fake.set(|s| s.tamper_blocks = true);
    let e = rpc.block(1).unwrap_err().to_string();
    assert!(e.contains("merkle root") && e.contains("nothing indexed"), "{e}");
    // The indexer stops at it: nothing stored.
    let dir = tempfile::tempdir().unwrap();
    let mut indexer = Indexer::new(
        Store::open(&dir.path().join("bns.sqlite")).unwrap(),
        ChainParams::test(1, *b"id"),
        Network::Regtest,
        1,
    );
    assert!(indexer.catch_up(&rpc).is_err());
    assert!(indexer.store().last_block().unwrap().is_none());
    // A fresh source (the first one cached block 2's transactions).
    let fresh = RpcSource::new(&fake.url(), RpcAuth::UserPass("u".into(), "p".into())).unwrap();
    fake.set(|s| (s.tamper_blocks, s.tamper_txs) = (false, true));
    let e = fresh.prevout(&OutPoint { txid: coinbase, vout: 0 }).unwrap_err().to_string();
    assert!(e.contains("returned transaction"), "{e}");
    fake.set(|s| s.tamper_txs = false);
    assert!(fresh.prevout(&OutPoint { txid: coinbase, vout: 0 }).is_ok());
    assert_eq!(indexer.catch_up(&rpc).unwrap().height, Some(3));
}

/// `bns node` with the password in the URL: down at start (retries logged),
/// then up on the wrong chain. It stops with a clear error, and nothing it
/// prints, at any log level, holds the password.
#[test]
fn bns_node_never_prints_the_password_and_checks_the_chain_when_bitcoind_comes_up() {
    const PASSWORD: &str = "Hunter2-not-for-logs";
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (dir.path().join("out"), dir.path().join("err"));
    let url = format!("http://bob:{PASSWORD}@127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_bns"))
        .args(["node", "--network", "regtest", "--bitcoind-url", &url, "--upstream", "none"])
        .args(["--dns-addr", "127.0.0.1:0", "--api-addr", "127.0.0.1:0", "--atlas-addr", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env("RUST_LOG", "debug")
        .stdout(Stdio::from(std::fs::File::create(&out_path).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&err_path).unwrap()))
        .spawn()
        .unwrap();
    let output = || std::fs::read_to_string(&out_path).unwrap() + &std::fs::read_to_string(&err_path).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while output().matches("block source unreachable").count() < 2 {
        assert!(Instant::now() < deadline, "no retries logged:\n{}", output());
        assert!(child.try_wait().unwrap().is_none(), "bns node exited:\n{}", output());
        std::thread::sleep(Duration::from_millis(100));
    }
    let fake = Fake::start(port, &format!("bob:{PASSWORD}"));
    fake.set(|s| s.chain = "main".into());
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline + Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("bns node kept running on the wrong chain:\n{}", output());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let all = output();
    assert!(!status.success(), "{all}");
    assert!(all.contains("is on chain \"main\", but this node follows regtest"), "{all}");
    assert!(all.contains(&format!("bob:***@127.0.0.1:{port}")), "the URL is shown redacted:\n{all}");
    assert!(!all.contains(PASSWORD), "the password was printed:\n{all}");
    let store = Store::open_readonly(&dir.path().join("data/bns.sqlite")).unwrap();
    assert!(store.last_block().unwrap().is_none(), "nothing indexed from the wrong chain");
}
