//! `bns dev`: the node on an embedded dev chain, mining the blocks that
//! register the names of `zones/` (and, for benchmarks, synthetic names).

use std::path::Path;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context as _};
use bitcoin::{Network, Transaction};
use tokio::sync::watch;
use tracing::{error, info, warn};

use super::names::StoreNames;
use super::{check_params, db_path, dev, generate, lock_data_dir, publish_metrics, Faces, Follower};
use crate::bns::ChainParams;
use crate::chain::devchain::DevChain;
use crate::chain::BlockSource;
use crate::config::DevSettings;
use crate::indexer::Indexer;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::tx::Wallet;

/// Blocks mined at the dev chain's first start so the wallet has mature coins.
pub const DEV_FUNDING_BLOCKS: u64 = 101;
/// With `--import-zonefiles`: 200 more mature coinbases (10,000 BTC) pay for
/// hundreds of real names, short ones included.
const IMPORT_FUNDING_BLOCKS: u64 = 301;

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
    // Temp file, fsync, rename, directory fsync: a crash leaves the old file or the new one.
    let path = data_dir.join(DEV_PARAMS_FILE);
    let text = serde_json::to_string_pretty(params)?;
    crate::fsutil::write_durable(&path, text.as_bytes(), None)
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
    super::check_faces(&settings.faces)?;
    let data_dir = settings.data_dir();
    // One node per data dir: a second one would mine into the same chain file.
    let _lock = lock_data_dir(&data_dir)?;
    let network = Network::Regtest;
    let started = Instant::now();

    let plan = match settings.zones() {
        Some(dir) => dev::load_plan(&dir)?,
        None => {
            println!(
                "bns dev: no ./zones here: registering the example zones built into bns (--zones DIR for your own)"
            );
            dev::builtin_plan()?
        }
    };
    let mut plan = plan;
    if let Some(file) = &settings.import_zonefiles {
        let genesis = super::genesis_zones::read(file)?;
        for (line, why) in &genesis.skipped {
            println!("bns dev: {}:{line}: left out: {why}", file.display());
        }
        let n = genesis.zones.len();
        let shadowed = super::genesis_zones::extend_plan(&mut plan, genesis);
        for name in &shadowed {
            println!("bns dev: {name} from {} left out: the zones directory has its own zone file", file.display());
        }
        println!("bns dev: importing {} names from {}", n - shadowed.len(), file.display());
    }
    let funding_blocks = if settings.import_zonefiles.is_some() { IMPORT_FUNDING_BLOCKS } else { DEV_FUNDING_BLOCKS };
    let chain = Arc::new(DevChain::open(&data_dir.join("devchain.dat"), network)?);
    let wallet = Wallet::load_or_create(&data_dir.join("dev-wallet.wif"), network)?;
    let params = load_or_create_dev_params(&data_dir, &wallet)?;
    if chain.height() < funding_blocks {
        let n = funding_blocks - chain.height();
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
    let dnssec = super::dnssec_key(&data_dir)?;
    let names =
        Arc::new(StoreNames::open_with(&db, params.clone(), super::apex_config(&settings.faces, Some(&dnssec))?)?);
    let indexer = Indexer::new(store, params.clone(), network, 1);
    let (wake_tx, wake_rx) = mpsc::channel();
    let (height_tx, height_rx) = watch::channel(0u64);
    let metrics = Arc::new(Metrics::new());
    let indexer = Follower {
        indexer,
        source: chain.clone() as Arc<dyn BlockSource>,
        names: names.clone(),
        wake: wake_rx,
        height: height_tx,
        metrics: metrics.clone(),
        poll: Duration::from_secs(1),
        source_name: "the dev chain".into(),
    }
    .spawn()
    .context("cannot start the indexer thread")?;
    let faces = Faces::start(
        "bns dev",
        &settings.faces,
        &data_dir,
        &params,
        names.clone(),
        metrics.clone(),
        Some(dnssec.clone()),
    )
    .await?;

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

    // What starting up allocated and freed goes back to the system.
    super::names::trim_heap();
    let r = faces.serve_until_interrupted(indexer).await;
    mine_loop.abort();
    // The next start maps the snapshot instead of catching up.
    tokio::task::spawn_blocking(move || names.persist()).await?;
    r
}
