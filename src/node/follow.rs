//! `bns node`: follows a real Bitcoin node over JSON-RPC into the index and
//! serves it; `bns status`: where an index stands.

use std::sync::mpsc;
use std::sync::Arc;

use anyhow::Context as _;
use serde_json::json;
use tokio::sync::watch;
use tracing::warn;

use super::names::StoreNames;
use super::{
    check_meta, check_params, db_path, lock_data_dir, Faces, Follower, META_CONFIRMATIONS, META_NETWORK,
    META_SOURCE_ERROR, META_SOURCE_TIP,
};
use crate::chain::bitcoind::{ChainCheck, RpcSource};
use crate::chain::devchain::FollowedChainFile;
use crate::chain::BlockSource;
use crate::config::{NetworkName, NodeSettings};
use crate::indexer::Indexer;
use crate::metrics::Metrics;
use crate::store::Store;

/// Whether bitcoind's `getblockchaininfo.chain` (Bitcoin Core: main, test,
/// testnet4, signet, regtest; bcoin: main, testnet, regtest) is `network`.
pub fn chain_matches(chain: &str, network: NetworkName) -> bool {
    match network {
        NetworkName::Mainnet => chain == "main",
        NetworkName::Testnet => matches!(chain, "test" | "testnet" | "testnet3" | "testnet4"),
        NetworkName::Regtest => chain == "regtest",
    }
}

/// What `bitcoind` must answer in `getblockchaininfo.chain` for `network`.
fn chain_check(network: NetworkName) -> ChainCheck {
    let matches: fn(&str) -> bool = match network {
        NetworkName::Mainnet => |c| chain_matches(c, NetworkName::Mainnet),
        NetworkName::Testnet => |c| chain_matches(c, NetworkName::Testnet),
        NetworkName::Regtest => |c| chain_matches(c, NetworkName::Regtest),
    };
    ChainCheck { network: network.as_str(), matches }
}

/// Asks the node which chain it is on; an error if it is not the one the
/// source expects. `Ok(None)` when the node cannot be reached now: the
/// source checks again when it first answers, before reading any block.
fn probe(rpc: &RpcSource) -> anyhow::Result<Option<u64>> {
    if let Err(e) = rpc.check_chain().and_then(|_| rpc.tip_height()) {
        if let Some(wrong) = rpc.wrong_chain() {
            anyhow::bail!(wrong);
        }
        warn!(url = %rpc.url(), error = %e, "bitcoind is not answering yet; will keep trying");
        return Ok(None);
    }
    Ok(rpc.tip_height().ok())
}

/// Resolves once `rpc` (if any) answered on the wrong chain, with that error.
async fn wrong_chain(rpc: Option<Arc<RpcSource>>) -> anyhow::Error {
    let Some(rpc) = rpc else { return std::future::pending().await };
    loop {
        if let Some(wrong) = rpc.wrong_chain() {
            return anyhow::anyhow!(wrong);
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Where `bns node` reads blocks from.
struct Source {
    blocks: Arc<dyn BlockSource>,
    /// Names it in log lines.
    name: String,
    params: crate::bns::ChainParams,
    /// Store meta `network`: mainnet, testnet, regtest, or dev.
    label: &'static str,
    bitcoin: bitcoin::Network,
    confirmations: u64,
    /// bitcoind, to ask which chain it is on.
    rpc: Option<Arc<RpcSource>>,
}

fn open_source(settings: &NodeSettings) -> anyhow::Result<Source> {
    if let Some(file) = &settings.dev_chain {
        let dir = file.parent().unwrap_or(std::path::Path::new("."));
        let params_path = dir.join(super::DEV_PARAMS_FILE);
        let text = std::fs::read_to_string(&params_path).with_context(|| {
            format!(
                "--dev-chain {}: cannot read {} beside it (is it a bns dev chain?)",
                file.display(),
                params_path.display()
            )
        })?;
        let params = serde_json::from_str(&text).with_context(|| format!("bad {}", params_path.display()))?;
        let chain = FollowedChainFile::open(file, bitcoin::Network::Regtest)
            .with_context(|| format!("--dev-chain {}", file.display()))?;
        return Ok(Source {
            blocks: Arc::new(chain),
            name: format!("dev chain file {}", file.display()),
            params,
            label: "dev",
            bitcoin: bitcoin::Network::Regtest,
            confirmations: 1,
            rpc: None,
        });
    }
    let network = settings.network();
    let auth = settings.rpc.auth(network)?;
    let rpc = Arc::new(RpcSource::new(&settings.rpc.url(network), auth)?.expect_chain(chain_check(network)));
    Ok(Source {
        blocks: rpc.clone(),
        name: format!("bitcoind at {} ({})", rpc.url(), rpc.auth().describe()),
        params: settings.chain_params()?,
        label: network.as_str(),
        bitcoin: network.bitcoin(),
        confirmations: settings.confirmations(),
        rpc: Some(rpc),
    })
}

/// `bns node`: indexes the BNS operations of the chain bitcoind serves (or
/// a `bns dev` chain file), `confirmations` deep, and answers DNS, HTTP and
/// Atlas from the index.
pub async fn run_node(settings: NodeSettings) -> anyhow::Result<()> {
    super::check_faces(&settings.faces)?;
    let data_dir = settings.data_dir();
    let _lock = lock_data_dir(&data_dir)?;
    let network = settings.network();
    let source = open_source(&settings)?;
    let params = source.params.clone();

    let db = db_path(&data_dir);
    let mut store = Store::open(&db).with_context(|| format!("cannot open {}", db.display()))?;
    store.set_reorg_depth(settings.reorg_depth()?);
    if settings.reindex {
        store.reindex().context("cannot drop the chain state for --reindex")?;
        println!("bns node: --reindex: chain state dropped; replaying from the first block (zone files kept)");
    }
    check_params(&store, &params)?;
    check_meta(&store, META_NETWORK, source.label)?;
    let confirmations = source.confirmations;
    // The owner's commands size the lag they tolerate from it.
    store.set_meta(META_CONFIRMATIONS, &confirmations.to_string())?;
    let from = store.last_block()?.map(|b| b.height + 1).unwrap_or(params.first_block);
    println!(
        "bns node: following {}, {} network, {confirmations} confirmation(s), from block {from}",
        source.name, source.label
    );
    if let Some(rpc) = source.rpc.clone() {
        if let Some(blocks) = tokio::task::spawn_blocking(move || probe(&rpc)).await?? {
            println!("bns node: bitcoind is on the {} chain at block {blocks}", network.as_str());
        }
    }

    let params_first = params.first_block;
    let dnssec = super::dnssec_key(&data_dir)?;
    let names =
        Arc::new(StoreNames::open_with(&db, params.clone(), super::apex_config(&settings.faces, Some(&dnssec))?)?);
    let indexer = Indexer::new(store, params.clone(), source.bitcoin, confirmations);
    let (wake_tx, wake_rx) = mpsc::channel::<()>();
    let (height_tx, _height_rx) = watch::channel(0u64);
    let metrics = Arc::new(Metrics::new());
    let source_name = source.name.split(" (").next().unwrap_or_default().to_string();
    let indexer = Follower {
        indexer,
        source: source.blocks,
        names: names.clone(),
        wake: wake_rx,
        height: height_tx,
        metrics: metrics.clone(),
        poll: settings.poll_interval(),
        source_name,
    }
    .spawn()
    .context("cannot start the indexer thread")?;
    let faces =
        Faces::start("bns node", &settings.faces, &data_dir, &params, names.clone(), metrics, Some(dnssec.clone()))
            .await?;
    match from.checked_sub(1).filter(|h| *h >= params_first) {
        Some(h) => {
            println!("bns node: ready: serving the index at block {h}; syncing on in the background (`bns status`)")
        }
        None => println!("bns node: ready: serving; the index is empty until the first block syncs (`bns status`)"),
    }
    // What starting up allocated and freed goes back to the system.
    super::names::trim_heap();
    // bitcoind down at start, then up on another chain: stop with its error.
    let r = tokio::select! {
        r = faces.serve_until_interrupted(indexer) => r,
        e = wrong_chain(source.rpc.clone()) => Err(e),
    };
    drop(wake_tx);
    // The next start maps the snapshot instead of catching up.
    tokio::task::spawn_blocking(move || names.persist()).await?;
    r
}

/// `bns status`: the index's height and consensus hash, the chain tip the
/// node last saw, names and zone files (JSON).
pub fn status(store: &Store) -> anyhow::Result<serde_json::Value> {
    let last = store.last_block()?;
    let height = last.as_ref().map(|b| b.height);
    let tip: Option<u64> = store.meta(META_SOURCE_TIP)?.and_then(|t| t.parse().ok());
    let (held, missing) = store.zonefile_counts()?;
    let error = store.meta(META_SOURCE_ERROR)?.filter(|e| !e.is_empty());
    let network = store.meta(META_NETWORK)?.unwrap_or_else(|| "dev".to_string());
    Ok(json!({
        "network": network,
        "height": height,
        "block_hash": last.as_ref().map(|b| b.block_hash.to_string()),
        "consensus_hash": last.as_ref().map(|b| b.consensus_hash.to_string()),
        "tip": tip,
        "lag": match (tip, height) { (Some(t), Some(h)) => Some(t.saturating_sub(h)), (Some(t), None) => Some(t), _ => None },
        "names": store.name_count()?,
        "zonefiles_held": held,
        "zonefiles_missing": missing,
        "source": match &error { Some(e) => format!("failing: {e}"), None => "ok".to_string() },
    }))
}

/// GETs `path` from a running node's REST API at `addr` as JSON (`timeout` seconds).
pub fn api_get(addr: std::net::SocketAddr, path: &str, timeout: u64) -> anyhow::Result<serde_json::Value> {
    let url = format!("http://{addr}{path}");
    let resp = minreq::get(&url).with_timeout(timeout).send().map_err(|e| {
        anyhow::anyhow!(
            "cannot reach the node's API at {addr} ({e}): is `bns node` (or `bns dev`) running? pass --api-addr"
        )
    })?;
    let v: serde_json::Value = serde_json::from_slice(resp.as_bytes())
        .map_err(|_| anyhow::anyhow!("{url} did not answer JSON (HTTP {})", resp.status_code))?;
    if resp.status_code != 200 {
        anyhow::bail!("{url}: HTTP {}: {}", resp.status_code, v["error"].as_str().unwrap_or("error"));
    }
    Ok(v)
}

/// [`status`] as the lines `bns status` prints.
pub fn status_text(v: &serde_json::Value) -> String {
    let s = |k: &str| match &v[k] {
        serde_json::Value::Null => "-".to_string(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let atlas = match &v["atlas"] {
        serde_json::Value::Null => "node not answering on its API (start it to see peers)".to_string(),
        a => format!(
            "{} peers ({} healthy), {} bytes in, {} bytes out, on {}",
            a["peers"],
            a["healthy_peers"],
            a["bytes_in"],
            a["bytes_out"],
            a["listen"].as_str().unwrap_or("-")
        ),
    };
    format!(
        "network         {}\nheight          {}\nblock hash      {}\ntip             {}\nlag             {} blocks\nconsensus hash  {}\nnames           {}\nzone files      {} held, {} missing\nsource          {}\natlas           {atlas}\n",
        s("network"),
        s("height"),
        s("block_hash"),
        s("tip"),
        s("lag"),
        s("consensus_hash"),
        s("names"),
        s("zonefiles_held"),
        s("zonefiles_missing"),
        s("source"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_names_of_core_and_bcoin() {
        assert!(chain_matches("main", NetworkName::Mainnet));
        assert!(chain_matches("test", NetworkName::Testnet));
        assert!(chain_matches("testnet", NetworkName::Testnet));
        assert!(chain_matches("regtest", NetworkName::Regtest));
        assert!(!chain_matches("regtest", NetworkName::Mainnet));
        assert!(!chain_matches("signet", NetworkName::Testnet));
    }

    #[test]
    fn status_of_an_empty_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("bns.sqlite")).unwrap();
        let v = status(&store).unwrap();
        assert_eq!(v["height"], serde_json::Value::Null);
        assert_eq!(v["names"], 0);
        store.set_meta(META_SOURCE_TIP, "12").unwrap();
        store.set_meta(META_SOURCE_ERROR, "getblockcount: connection refused").unwrap();
        let v = status(&store).unwrap();
        assert_eq!(v["lag"], 12);
        let text = status_text(&v);
        assert!(text.contains("tip             12\n"), "{text}");
        assert!(text.contains("failing: getblockcount: connection refused"), "{text}");
    }
}
