//! The 1M-name indexing benchmark's two halves (see `bench/index-1m.sh`).
//!
//!     index_bench gen N DIR [NAMES_PER_BLOCK]   # build (or reuse) a dev chain with N names
//!     index_bench index DIR [DB]                # index DIR's chain from scratch into DB
//!
//! `gen` writes `DIR/devchain.dat` and `DIR/devchain.params.json`: N names,
//! each preordered, registered and updated through real signed transactions
//! (3 BNS ops per name). It skips the work if `DIR/names` already says N.
//! `index` replays the raw blocks into a fresh SQLite store and prints
//! ops/s (wall and per CPU second), peak RSS, bytes per name by table, and
//! the time to export the result as a snapshot and import it (`--trust`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use bitcoin::Network;
use bns::bns::ChainParams;
use bns::chain::devchain::{ChainFile, DevChain};
use bns::indexer::Indexer;
use bns::store::Store;
use bns::tx::Wallet;

const NET: Network = Network::Regtest;

// As the `bns` binary.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: index_bench gen N DIR [NAMES_PER_BLOCK] | index DIR [DB]";
    match args.first().map(String::as_str) {
        Some("gen") => {
            let n: usize = args.get(1).context(usage)?.parse()?;
            let dir = PathBuf::from(args.get(2).context(usage)?);
            let per_block: usize = args.get(3).map(|a| a.parse()).transpose()?.unwrap_or(1000);
            generate(n, &dir, per_block)
        }
        Some("index") => {
            let dir = PathBuf::from(args.get(1).context(usage)?);
            let db = args.get(2).map(PathBuf::from).unwrap_or_else(|| dir.join("index.sqlite"));
            index(&dir, &db)
        }
        _ => anyhow::bail!(usage),
    }
}

fn generate(n: usize, dir: &Path, per_block: usize) -> anyhow::Result<()> {
    let marker = dir.join("names");
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(&n.to_string()) {
        eprintln!("reusing the {n}-name chain in {}", dir.display());
        return Ok(());
    }
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    let t = Instant::now();
    let chain = DevChain::open(&dir.join("devchain.dat"), NET)?;
    let w = Wallet::generate(NET);
    let params = ChainParams::test(1, *b"id").with_allocation(w.address().to_string(), 1_000_000_000_000_000);
    for _ in 0..bns::node::DEV_FUNDING_BLOCKS {
        chain.mine(&w.script_pubkey())?;
    }
    // Saved first, so a partly generated chain can be indexed too.
    bns::node::save_dev_params(dir, &params)?;
    let gen_db = dir.join("gen.sqlite");
    let mut builder = Indexer::new(Store::open(&gen_db)?, params.clone(), NET, 1);
    bns::node::generate::register_and_update_names(&chain, &mut builder, &w, "bench", n, per_block)?;
    let (accepted, rejected) = builder.store().op_totals()?;
    anyhow::ensure!(builder.store().name_count()? == n as u64, "every generated name registers");
    anyhow::ensure!(rejected == 0, "{rejected} generated ops were rejected");
    drop(builder);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", gen_db.display()));
    }
    std::fs::write(&marker, n.to_string())?;
    let secs = t.elapsed().as_secs_f64();
    let size = std::fs::metadata(dir.join("devchain.dat"))?.len();
    println!(
        "generated {n} names ({accepted} accepted ops) in {} blocks, {:.1} MB of blocks, in {secs:.1}s ({:.0} ops/s incl. signing, verifying, mining and indexing)",
        chain.height(),
        size as f64 / 1e6,
        accepted as f64 / secs
    );
    Ok(())
}

fn index(dir: &Path, db: &Path) -> anyhow::Result<()> {
    let params: ChainParams = serde_json::from_str(
        &std::fs::read_to_string(dir.join(bns::node::DEV_PARAMS_FILE)).context("run `index_bench gen` first")?,
    )?;
    remove_db(db);
    let t = Instant::now();
    // Read-only, compact index: no UTXO set, no txid hash map.
    let chain = ChainFile::open(&dir.join("devchain.dat"), NET)?;
    let open_secs = t.elapsed().as_secs_f64();
    let store = Store::open(db)?;
    // What `bns dev` and `bns node` record, so the index can be exported.
    store.set_meta("chain_params", &serde_json::to_string(&params)?)?;
    let mut idx = Indexer::new(store, params, NET, 1);
    let (t, cpu) = (Instant::now(), cpu_secs());
    let r = idx.catch_up(&chain)?;
    let (secs, cpu) = (t.elapsed().as_secs_f64(), cpu_secs() - cpu);
    let (accepted, rejected) = idx.store().op_totals()?;
    let names = idx.store().name_count()?;
    let tip = idx.store().last_block()?.context("nothing indexed")?;
    let store = idx.store_mut();
    let ops = accepted + rejected;
    println!("chain open (block file scan + index): {open_secs:.2}s");
    println!(
        "indexed {} blocks, {ops} name ops ({accepted} accepted, {rejected} rejected), {names} names in {secs:.2}s",
        r.blocks
    );
    println!("ops/s (wall): {:.0}", ops as f64 / secs);
    println!("ops per CPU second: {:.0} ({cpu:.2} CPU s over {secs:.2}s wall)", ops as f64 / cpu);
    println!("peak RSS while indexing (VmHWM): {}", peak_rss().unwrap_or_else(|| "unknown".into()));
    println!("total time (open + index): {:.2}s", open_secs + secs);

    store.checkpoint()?;
    sizes(db, names)?;

    let snap = db.with_extension("snapshot");
    let t = Instant::now();
    let e = bns::fastsync::export(store, &snap, None)?;
    println!(
        "export: {:.1} MB at block {} in {:.2}s (trust {})",
        e.bytes as f64 / 1e6,
        e.height,
        t.elapsed().as_secs_f64(),
        e.consensus_hash
    );
    drop(idx);
    let imported = db.with_extension("imported.sqlite");
    remove_db(&imported);
    let t = Instant::now();
    let mut fresh = Store::open(&imported)?;
    let report = bns::fastsync::import(&mut fresh, &snap, &tip.consensus_hash)?;
    println!(
        "import --trust: {} ops and {} names verified in {:.2}s; not verified: {}",
        report.ops,
        report.names,
        t.elapsed().as_secs_f64(),
        report.not_verified.join("; ")
    );
    anyhow::ensure!(fresh.name_count()? == names, "the imported store holds every name");
    drop(fresh);
    remove_db(&imported);
    let _ = std::fs::remove_file(&snap);
    Ok(())
}

/// Bytes per name of each table with its indexes, from SQLite's dbstat.
fn sizes(db: &Path, names: u64) -> anyhow::Result<()> {
    let conn = rusqlite::Connection::open(db)?;
    let mut st = conn.prepare(
        "SELECT COALESCE(m.tbl_name, d.name), SUM(d.pgsize) FROM dbstat d
           LEFT JOIN sqlite_schema m ON m.name = d.name GROUP BY 1 ORDER BY 2 DESC",
    )?;
    let rows: Vec<(String, i64)> = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
    let total: i64 = rows.iter().map(|r| r.1).sum();
    let file = std::fs::metadata(db)?.len();
    println!("db size: {:.1} MB ({:.0} bytes per name)", file as f64 / 1e6, file as f64 / names.max(1) as f64);
    for (table, bytes) in rows.iter().filter(|r| r.1 > 0) {
        println!(
            "  {table:<18} {:>10.1} MB {:>7.1} bytes/name",
            *bytes as f64 / 1e6,
            *bytes as f64 / names.max(1) as f64
        );
    }
    println!(
        "  {:<18} {:>10.1} MB {:>7.1} bytes/name",
        "(all pages)",
        total as f64 / 1e6,
        total as f64 / names.max(1) as f64
    );
    Ok(())
}

fn remove_db(db: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
}

/// CPU seconds this process has used (every thread, user + system).
fn cpu_secs() -> f64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage for the duration of the call.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return f64::NAN;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn peak_rss() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find(|l| l.starts_with("VmHWM")).map(|l| l["VmHWM:".len()..].trim().to_string())
}
