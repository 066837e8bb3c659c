//! Atlas: every zone file the chain announced, from peers nobody needs to
//! trust (whitepaper §4, SPEC §6). A file is stored only if its hash160 is a
//! hash some name's op announced on the chain, so a lying peer can waste
//! time but never plant data.
//!
//! - [`inventory`]: the inventory bit vector Core nodes exchange.
//! - [`protocol`], [`xmlrpc`], [`methods`], [`server`]: Core's XML-RPC
//!   methods with Core's JSON-in-XML-RPC replies, on the Atlas port.
//! - [`peers`], [`crawl`]: the peer table, vetting, health, MHRWDA walk.
//! - [`replicate`], [`sources`]: rarest-first fetching from peers, then HTTP sources.
//! - [`import`]: `bns zonefile import` (Stacks genesis export, Core's directory).
//!
//! [`Atlas::start`] runs the server and the replication loop on the caller's
//! tokio runtime; the node tells it where the chain stands through
//! [`Atlas::chain_advanced`].

pub mod client;
pub mod crawl;
pub mod import;
pub mod inventory;
pub mod methods;
pub mod peers;
pub mod progress;
pub mod protocol;
pub mod replicate;
pub mod report;
pub mod server;
pub mod sources;
pub mod state;
pub mod xmlrpc;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;

use crate::metrics::Metrics;
use crate::store::Store;
pub use state::{AtlasState, Origin, Verdict};

/// How one node takes part in Atlas.
#[derive(Debug, Clone)]
pub struct AtlasOptions {
    /// Listen address (port 0 picks one).
    pub addr: SocketAddr,
    /// Seed peers, `host:port`.
    pub peers: Vec<String>,
    /// HTTP zone-file sources (base URLs).
    pub sources: Vec<String>,
    /// First block of BNS on this chain (getinfo; peers must match).
    pub first_block: u64,
    /// Off mainnet.
    pub testnet: bool,
}

/// Why Atlas could not start.
#[derive(Debug, thiserror::Error)]
pub enum AtlasError {
    /// The listener could not be bound.
    #[error("cannot bind the Atlas listener on {addr}: {source}")]
    Bind {
        /// Address asked for.
        addr: SocketAddr,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A seed peer or source is not an address.
    #[error("{0}")]
    BadAddress(String),
    /// The store failed.
    #[error("atlas store: {0}")]
    Store(#[from] crate::store::StoreError),
    /// The HTTP client could not be built.
    #[error("atlas HTTP client: {0}")]
    Client(#[from] client::CallError),
}

/// A running Atlas node.
#[derive(Debug, Clone)]
pub struct Atlas {
    /// Where the XML-RPC server listens.
    pub local_addr: SocketAddr,
    /// The shared state.
    pub state: Arc<AtlasState>,
}

impl Atlas {
    /// Binds the server and starts serving and replicating over `store`
    /// (a read-write connection for Atlas alone) until `stop` turns true.
    /// `on_stored` runs after zone files are stored (refresh the DNS view).
    pub async fn start(
        opts: AtlasOptions,
        store: Store,
        metrics: Arc<Metrics>,
        on_stored: Box<dyn Fn() + Send + Sync>,
        stop: watch::Receiver<bool>,
    ) -> Result<Atlas, AtlasError> {
        let server = server::AtlasServer::bind(opts.addr)
            .await
            .map_err(|source| AtlasError::Bind { addr: opts.addr, source })?;
        let local_addr = server.local_addr();
        let me = local_addr.to_string();
        let mut seeds = Vec::new();
        for p in &opts.peers {
            seeds.push(
                protocol::normalize_peer(p)
                    .ok_or_else(|| AtlasError::BadAddress(format!("--atlas-peer {p:?}: expected HOST:PORT")))?,
            );
        }
        let mut sources_ = Vec::new();
        for s in &opts.sources {
            sources_.push(sources::normalize_base(s).map_err(|_| {
                AtlasError::BadAddress(format!(
                    "--zonefile-source {}: expected an http:// or https:// URL",
                    sources::redacted(s)
                ))
            })?);
        }
        let mut mine = vec![me.clone()];
        if local_addr.ip().is_loopback() || local_addr.ip().is_unspecified() {
            mine.push(format!("127.0.0.1:{}", local_addr.port()));
            mine.push(format!("localhost:{}", local_addr.port()));
        }
        let mut table = peers::PeerTable::new(mine);
        let now = Instant::now();
        let known = store.atlas_peers()?;
        if seeds.is_empty() && sources_.is_empty() && known.is_empty() {
            tracing::info!(
                "atlas: no peer and no zone-file source: zone files arrive only by `bns zonefile import`/`put` \
                 or from peers that contact this node; pass --atlas-peer HOST:PORT or --zonefile-source URL"
            );
        }
        for s in &seeds {
            table.add_seed(s, now);
        }
        for p in known {
            table.add_known(&p.addr, now);
        }
        let state = AtlasState::new(store, opts.first_block, opts.testnet, metrics.clone(), table, on_stored)?;
        let client = client::Client::new(metrics)?;
        let replicator = replicate::Replicator::new(state.clone(), client, sources_, me);
        let until = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        tokio::spawn(server.run(state.clone(), until(stop.clone())));
        tokio::spawn(replicator.run(until(stop)));
        Ok(Atlas { local_addr, state })
    }

    /// The node processed blocks: the chain tip it saw, and whether it is still catching up.
    pub fn chain_advanced(&self, tip: u64, indexing: bool) {
        self.state.chain_tip.store(tip, Ordering::Relaxed);
        self.state.indexing.store(indexing, Ordering::Relaxed);
        self.state.wake.notify_one();
    }
}
