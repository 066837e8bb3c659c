//! Wires one node together: chain, indexer, store and the faces (DNS, REST API).

pub mod dev;
pub mod generate;
pub mod inspect;
pub mod names;
pub mod owner;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context as _};
use bitcoin::{Network, Transaction};
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::api::ApiServer;
use crate::bns::ChainParams;
use crate::chain::devchain::DevChain;
use crate::chain::BlockSource;
use crate::config::{DevSettings, FaceSettings};
use crate::dns::forward::{parse_policies, DEFAULT_CACHE_SIZE};
use crate::dns::tls::{CertSource, DotListener};
use crate::dns::{DnsServer, Policy, ResolverOptions, Upstreams};
use crate::indexer::Indexer;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::tx::Wallet;
use names::StoreNames;

/// The namespace policies of `settings` (`--namespace-policy NS=POLICY`).
pub fn namespace_policies(settings: &FaceSettings) -> anyhow::Result<std::collections::HashMap<String, Policy>> {
    parse_policies(&settings.namespace_policy).map_err(|e| anyhow!("--namespace-policy: {e}"))
}

/// Forwarding, namespace policies and cache size for the DNS face. Without
/// `--upstream`, the nameservers of /etc/resolv.conf (other than this node's
/// own DNS address) are used.
pub fn resolver_options(settings: &FaceSettings) -> anyhow::Result<ResolverOptions> {
    let upstreams = match Upstreams::parse(&settings.upstreams).map_err(|e| anyhow!("--upstream: {e}"))? {
        Some(u) => u,
        None => Upstreams::system_default(settings.dns_addr()),
    };
    Ok(ResolverOptions {
        upstreams,
        policies: namespace_policies(settings)?,
        cache_size: settings.cache_size.unwrap_or(DEFAULT_CACHE_SIZE),
    })
}

/// Blocks mined at the dev chain's first start so the wallet has mature coins.
pub const DEV_FUNDING_BLOCKS: u64 = 101;

/// File names inside the data directory.
pub fn db_path(data_dir: &Path) -> PathBuf {
    data_dir.join("bns.sqlite")
}

/// Sets the chain and store gauges from `store` and the source's `tip`.
fn publish_metrics(metrics: &Metrics, store: &Store, tip: u64) -> Result<(), crate::store::StoreError> {
    let height = store.last_block()?.map(|b| b.height).unwrap_or(0);
    metrics.set_chain(height, tip);
    let (held, missing) = store.zonefile_counts()?;
    metrics.set_store_counts(store.name_count()?, held, missing);
    Ok(())
}

/// Runs the indexer on its own thread: catches up whenever `wake` fires (or
/// every second), then publishes the processed height on `height` and the
/// chain and store gauges in `metrics`.
fn spawn_indexer(
    mut indexer: Indexer,
    source: Arc<dyn BlockSource>,
    names: Arc<StoreNames>,
    wake: mpsc::Receiver<()>,
    height: watch::Sender<u64>,
    metrics: Arc<Metrics>,
) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("indexer".into())
        .spawn(move || loop {
            match indexer.catch_up(&*source) {
                Ok(r) => {
                    if let Ok(tip) = source.tip_height() {
                        names.set_chain_tip(tip);
                    }
                    if let Err(e) = names.refresh() {
                        warn!(error = %e, "refreshing the DNS view failed");
                    }
                    if let Err(e) = publish_metrics(&metrics, indexer.store(), r.tip) {
                        warn!(error = %e, "reading metrics from the store failed");
                    }
                    if let Some(h) = r.height {
                        height.send_replace(h);
                    }
                }
                Err(e) => error!(error = %e, "indexing failed; retrying in 1s"),
            }
            match wake.recv_timeout(Duration::from_secs(1)) {
                Ok(()) | Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        })
        .expect("spawning a thread only fails when the OS is out of resources")
}

/// Mines submitted transactions and waits for the indexer to see them.
struct DevMiner {
    chain: Arc<DevChain>,
    coinbase: bitcoin::ScriptBuf,
    wake: mpsc::Sender<()>,
    height: watch::Receiver<u64>,
}

impl dev::Miner for DevMiner {
    fn mine_and_index(&self, txs: Vec<Transaction>) -> anyhow::Result<u64> {
        for tx in txs {
            self.chain.submit(tx).map_err(|e| anyhow!("dev chain refused a transaction: {e}"))?;
        }
        let block = self.chain.mine(&self.coinbase)?;
        let h = self.chain.height();
        info!(height = h, txs = block.txdata.len() - 1, "mined dev block");
        let _ = self.wake.send(());
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut rx = self.height.clone();
        while *rx.borrow_and_update() < h {
            if Instant::now() > deadline {
                return Err(anyhow!("indexer did not reach block {h} within 60s"));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(h)
    }
}

/// File next to `devchain.dat` holding the dev chain's consensus parameters
/// (first block, magic, token allocations): part of the chain, so a copy of
/// the chain replays to the same state.
pub const DEV_PARAMS_FILE: &str = "devchain.params.json";

/// Micro-STX the dev wallet's token account starts with (enough for namespaces).
pub const DEV_TOKEN_ALLOCATION: u64 = 1_000_000_000_000_000;

/// Writes a dev chain's parameters into `data_dir`.
pub fn save_dev_params(data_dir: &Path, params: &ChainParams) -> anyhow::Result<()> {
    let path = data_dir.join(DEV_PARAMS_FILE);
    std::fs::write(&path, serde_json::to_string_pretty(params)?)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Reads the dev chain's parameters, creating them (with a token account for
/// `wallet`) on first start.
fn load_or_create_dev_params(data_dir: &Path, wallet: &Wallet) -> anyhow::Result<ChainParams> {
    let path = data_dir.join(DEV_PARAMS_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).with_context(|| format!("bad {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let params =
                ChainParams::test(1, *b"id").with_allocation(wallet.address().to_string(), DEV_TOKEN_ALLOCATION);
            save_dev_params(data_dir, &params)?;
            Ok(params)
        }
        Err(e) => Err(anyhow!("cannot read {}: {e}", path.display())),
    }
}

/// Refuses a database indexed under other consensus parameters.
fn check_params(store: &Store, params: &ChainParams) -> anyhow::Result<()> {
    let json = serde_json::to_string(params)?;
    match store.meta("chain_params")? {
        Some(stored) if stored != json => Err(anyhow!(
            "this database was indexed with other chain parameters ({stored}); delete {} to reindex",
            "bns.sqlite"
        )),
        Some(_) => Ok(()),
        None => Ok(store.set_meta("chain_params", &json)?),
    }
}

/// Namespace of the names `bns dev --generate-names N` registers.
pub const GENERATED_NAMESPACE: &str = "gen";

/// Store meta keys: names generated on chain, and names whose zone files are stored too.
const META_GENERATED_CHAIN: &str = "generated_names_chain";
const META_GENERATED: &str = "generated_names";

/// `bns dev --generate-names N`: registers `n0.gen` .. `n{N-1}.gen` through
/// real preorder/register/update transactions (the pipelined generator,
/// [`generate::register_and_update_names_with_progress`]) and stores each
/// name's zone file ([`generate::bench_zonefile`]: A + TXT). Skipped when
/// this data directory already holds them; resumes storing zone files if a
/// previous start stopped after the chain part.
fn generate_dev_names(
    chain: &DevChain,
    store: Store,
    wallet: &Wallet,
    params: &ChainParams,
    n: usize,
) -> anyhow::Result<()> {
    fn done(store: &Store, key: &str) -> anyhow::Result<Option<usize>> {
        Ok(store.meta(key)?.and_then(|v| v.parse().ok()))
    }
    match done(&store, META_GENERATED)? {
        Some(m) if m == n => return Ok(()),
        Some(m) => anyhow::bail!("this data dir already has {m} generated names, not {n}; use a fresh --data-dir"),
        None => {}
    }
    let mut idx = Indexer::new(store, params.clone(), chain.network(), 1);
    idx.catch_up(chain)?;
    let started = Instant::now();
    match done(idx.store(), META_GENERATED_CHAIN)? {
        Some(m) if m == n => {}
        Some(m) => anyhow::bail!("this data dir already has {m} generated names, not {n}; use a fresh --data-dir"),
        None if idx.store().namespace(GENERATED_NAMESPACE)?.is_some() => anyhow::bail!(
            "namespace {GENERATED_NAMESPACE:?} exists but its names were not all generated (interrupted?); use a fresh --data-dir"
        ),
        None => {
            println!("bns dev: generating {n} names in .{GENERATED_NAMESPACE} (3 ops each, 1000 names per block)");
            let mut last = Instant::now();
            let mut progress = |k: usize| {
                if last.elapsed() >= Duration::from_secs(5) || k == n {
                    last = Instant::now();
                    let secs = started.elapsed().as_secs_f64();
                    println!(
                        "bns dev: generated {k}/{n} names ({:.0}%) in {secs:.0}s, {:.0} names/s",
                        100.0 * k as f64 / n as f64,
                        k as f64 / secs
                    );
                }
            };
            generate::register_and_update_names_with_progress(
                chain,
                &mut idx,
                wallet,
                GENERATED_NAMESPACE,
                n,
                1000,
                &mut progress,
            )?;
            idx.store().set_meta(META_GENERATED_CHAIN, &n.to_string())?;
        }
    }
    let store = idx.store();
    const BATCH: usize = 50_000;
    for start in (0..n).step_by(BATCH) {
        let files: Vec<String> = (start..(start + BATCH).min(n))
            .map(|i| generate::bench_zonefile(&format!("n{i}.{GENERATED_NAMESPACE}")))
            .collect();
        store.put_zonefiles(files.iter().map(|f| f.as_bytes()), "generated")?;
    }
    store.set_meta(META_GENERATED, &n.to_string())?;
    println!("bns dev: {n} generated names with zone files ready after {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}

/// `bns dev`: the whole node on the embedded dev chain, with the names in
/// the zones directory registered on it.
pub async fn run_dev(settings: DevSettings) -> anyhow::Result<()> {
    let data_dir = settings.data_dir();
    std::fs::create_dir_all(&data_dir).with_context(|| format!("cannot create data dir {}", data_dir.display()))?;
    // One node per data dir: a second one would mine into the same chain file.
    let lock_path = data_dir.join("bns.lock");
    let _lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("cannot open {}", lock_path.display()))?;
    _lock
        .try_lock()
        .map_err(|_| anyhow!("another bns is using {}: stop it, or pass another --data-dir", data_dir.display()))?;
    let network = Network::Regtest;
    let started = Instant::now();

    let plan = dev::load_plan(&settings.zones())?;
    let chain = Arc::new(DevChain::open(&data_dir.join("devchain.dat"), network)?);
    let wallet = Wallet::load_or_create(&data_dir.join("dev-wallet.wif"), network)?;
    let params = load_or_create_dev_params(&data_dir, &wallet)?;
    if chain.height() < DEV_FUNDING_BLOCKS {
        let n = DEV_FUNDING_BLOCKS - chain.height();
        info!(blocks = n, "funding the dev wallet");
        for _ in 0..n {
            chain.mine(&wallet.script_pubkey())?;
        }
    }

    let db = db_path(&data_dir);
    let store = Store::open(&db).with_context(|| format!("cannot open {}", db.display()))?;
    check_params(&store, &params)?;
    if settings.generate_names() > 0 {
        let (chain, wallet, params, n) = (chain.clone(), wallet.clone(), params.clone(), settings.generate_names());
        let store = Store::open(&db)?;
        tokio::task::spawn_blocking(move || generate_dev_names(&chain, store, &wallet, &params, n)).await??;
    }
    let names = Arc::new(StoreNames::open(&db, params.clone())?);
    let indexer = Indexer::new(store, params.clone(), network, 1);
    let (wake_tx, wake_rx) = mpsc::channel();
    let (height_tx, height_rx) = watch::channel(0u64);
    let metrics = Arc::new(Metrics::new());
    spawn_indexer(indexer, chain.clone() as Arc<dyn BlockSource>, names.clone(), wake_rx, height_tx, metrics.clone());

    let resolver = resolver_options(&settings.faces)?;
    let upstreams = match &resolver.upstreams {
        Upstreams::None => "none (names outside BNS are refused)".to_string(),
        Upstreams::Servers(s) => s.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", "),
    };
    let server = DnsServer::bind(settings.faces.dns_addr(), names.clone())
        .await
        .with_context(|| {
            format!("DNS on {}: pass --dns-addr IP:PORT (port 0 picks a free one)", settings.faces.dns_addr())
        })?
        .with_resolver(resolver)
        .with_metrics(metrics.clone());
    metrics.set_cache_stats(server.stats());
    let dns_addr = server.local_addr();
    let api_server = ApiServer::bind(settings.faces.api_addr(), &db, metrics.clone()).await.with_context(|| {
        format!("API on {}: pass --api-addr IP:PORT (port 0 picks a free one)", settings.faces.api_addr())
    })?;
    println!("bns dev: forwarding to {upstreams}");
    println!("bns dev: DNS listening on {dns_addr} (UDP and TCP)");
    let dot_files = settings.faces.dot_cert_files()?;
    if dot_files.is_some() && settings.faces.dot_addr.is_none() {
        anyhow::bail!("dot-cert and dot-key need dot-addr (the DNS-over-TLS listen address)");
    }
    let server = match settings.faces.dot_addr {
        Some(addr) => {
            let certs = match dot_files {
                Some((cert, key)) => CertSource::Files { cert, key },
                None => CertSource::DataDir(data_dir.clone()),
            };
            let dot = DotListener::bind(addr, &certs).await?;
            println!("bns dev: DoT listening on {} (certificate sha256 {})", dot.local_addr(), dot.fingerprint());
            server.with_dot(dot)
        }
        None => server,
    };
    println!("bns dev: API listening on {}", api_server.local_addr());
    println!("bns dev: data dir {}", data_dir.display());
    let (stop_tx, stop_rx) = watch::channel(false);
    let dns = {
        let mut stop = stop_rx.clone();
        tokio::spawn(server.run(async move {
            let _ = stop.wait_for(|s| *s).await;
        }))
    };
    let api = {
        let mut stop = stop_rx;
        tokio::spawn(api_server.run(async move {
            let _ = stop.wait_for(|s| *s).await;
        }))
    };

    // Register what zones/ asks for, then keep mining on the interval.
    let miner = Arc::new(DevMiner {
        chain: chain.clone(),
        coinbase: wallet.script_pubkey(),
        wake: wake_tx.clone(),
        height: height_rx,
    });
    let reg = {
        let (chain, miner, db, params, metrics) =
            (chain.clone(), miner.clone(), db.clone(), params.clone(), metrics.clone());
        tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
            let store = Store::open(&db)?;
            // Wait for the indexer to reach the chain tip before reading state.
            let deadline = Instant::now() + Duration::from_secs(600);
            while store.last_block()?.map(|b| b.height).unwrap_or(0) < chain.height() {
                if Instant::now() > deadline {
                    return Err(anyhow!("indexer did not catch up with the dev chain"));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let r = dev::Registrar { chain: &chain, wallet: &wallet, store: &store, params: &params, network };
            let n = r.run(&plan, &*miner)?;
            publish_metrics(&metrics, &store, chain.height())?;
            Ok(n)
        })
    };
    match reg.await? {
        Ok(n) => {
            names.refresh()?;
            println!(
                "bns dev: ready at block {} ({n} names registered or updated this start) after {:.2}s",
                chain.height(),
                started.elapsed().as_secs_f64()
            );
        }
        Err(e) => {
            error!(error = %e, "registering the dev names failed");
            println!("bns dev: registering names failed: {e:#}");
        }
    }

    let interval = settings.block_interval();
    // An async loop (not a blocking one) so that aborting it at shutdown ends it.
    let mine_loop = {
        let miner = miner.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let miner = miner.clone();
                match tokio::task::spawn_blocking(move || dev::Miner::mine_and_index(&*miner, vec![])).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => warn!(error = %e, "mining an interval block failed"),
                    Err(e) => warn!(error = %e, "mining task failed"),
                }
            }
        })
    };

    tokio::select! {
        r = tokio::signal::ctrl_c() => { r?; info!("interrupted; shutting down"); }
        r = dns => { r??; }
        r = api => { r??; }
    }
    let _ = stop_tx.send(true);
    mine_loop.abort();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolver_options_from_settings() {
        let s = FaceSettings {
            upstreams: vec!["127.0.0.1:5399".into()],
            namespace_policy: vec!["id=bns-first".into()],
            cache_size: Some(1000),
            ..Default::default()
        };
        let r = resolver_options(&s).unwrap();
        assert_eq!(r.upstreams, Upstreams::Servers(vec!["127.0.0.1:5399".parse().unwrap()]));
        assert_eq!(r.policy("id"), Policy::BnsFirst);
        assert_eq!(r.policy("btc"), Policy::Bns);
        assert_eq!(r.cache_size, 1000);
        let none = FaceSettings { upstreams: vec!["none".into()], ..Default::default() };
        assert_eq!(resolver_options(&none).unwrap().upstreams, Upstreams::None);
        let bad = FaceSettings { namespace_policy: vec!["id=maybe".into()], ..Default::default() };
        assert!(resolver_options(&bad).is_err());
    }
}
