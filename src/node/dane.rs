//! DANE as the node wires it: the verified snapshot as [`Records`], the
//! proxy face (`--dane-proxy-addr`), `bns dane ca` and `bns tls verify`.

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use crate::dane::ca::{LocalCa, CA_CERT_FILE};
use crate::dane::proxy::DaneProxy;
use crate::dane::{pins, Records};
use crate::dns::{Policy, Snapshot, SnapshotCell};

use super::anchor::pinned_namespaces;

/// Which snapshot DANE reads: the node's live one, or one built for a command.
enum View {
    Live(Arc<SnapshotCell>),
    Fixed(Arc<Snapshot>),
}

/// The DNS face's verified snapshot, with the namespace policies that say
/// which namespaces are pinned.
pub struct SnapshotRecords {
    view: View,
    policies: HashMap<String, Policy>,
}

impl SnapshotRecords {
    /// Over the node's live snapshot.
    pub fn live(cell: Arc<SnapshotCell>, policies: HashMap<String, Policy>) -> SnapshotRecords {
        SnapshotRecords { view: View::Live(cell), policies }
    }

    /// Over one snapshot.
    pub fn fixed(snap: Arc<Snapshot>, policies: HashMap<String, Policy>) -> SnapshotRecords {
        SnapshotRecords { view: View::Fixed(snap), policies }
    }

    fn with<T>(&self, f: impl FnOnce(&Snapshot) -> T) -> T {
        match &self.view {
            View::Live(cell) => f(&cell.load()),
            View::Fixed(snap) => f(snap),
        }
    }
}

impl Records for SnapshotRecords {
    fn lookup(&self, fqn: &str, rtype: u16) -> Result<Vec<Vec<u8>>, String> {
        self.with(|s| crate::dns::lookup(s, fqn, rtype))
    }

    fn namespaces(&self) -> Vec<String> {
        let ids = self.with(|s| s.namespace_ids());
        let ids = ids.iter().map(|id| String::from_utf8_lossy(id).to_ascii_lowercase());
        pinned_namespaces(ids, &self.policies, "pinned").0
    }
}

/// Binds the DANE proxy of `addr` over the live snapshot and serves it
/// until `stop` completes; returns where it listens.
pub async fn start_proxy(
    addr: std::net::SocketAddr,
    data_dir: &Path,
    records: SnapshotRecords,
    metrics: Arc<crate::metrics::Metrics>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<std::net::SocketAddr> {
    use anyhow::Context as _;
    let proxy = DaneProxy::bind(addr, data_dir.to_path_buf(), Arc::new(records), Some(metrics))
        .await
        .with_context(|| format!("DANE proxy on {addr}: pass --dane-proxy-addr IP:PORT (port 0 picks a free one)"))?;
    let local = proxy.local_addr();
    if !local.ip().is_loopback() {
        tracing::warn!(%local, "the DANE proxy listens beyond this host: anyone who reaches it can tunnel through it");
    }
    tokio::spawn(proxy.run(async move {
        let _ = stop.wait_for(|s| *s).await;
    }));
    Ok(local)
}

/// `bns dane ca`: the CA's certificate (made now if there is none, or with
/// `renew`), to `out` or stdout; what it covers and how to install it on stderr.
pub fn ca_command(
    data_dir: &Path,
    policies: &HashMap<String, Policy>,
    renew: bool,
    out: Option<&Path>,
) -> anyhow::Result<()> {
    let db = super::db_path(data_dir);
    if !db.exists() {
        anyhow::bail!("no index at {}: start `bns node` (or `bns dev`) with this --data-dir first", db.display());
    }
    let store = crate::store::Store::open_readonly(&db)?;
    let (pinned, skipped) = pinned_namespaces(store.namespace_ids()?, policies, "covered");
    for note in &skipped {
        eprintln!("bns dane ca: {note}");
    }
    let ca = match (renew, LocalCa::load(data_dir)?) {
        (false, Some(ca)) => ca,
        _ => {
            let ca = LocalCa::create(data_dir, &pinned)?;
            eprintln!("bns dane ca: made a new CA in {} (a running proxy picks it up)", data_dir.display());
            ca
        }
    };
    let missing: Vec<&String> = pinned.iter().filter(|n| !ca.namespaces().contains(n)).collect();
    if !missing.is_empty() {
        eprintln!("bns dane ca: the CA predates {missing:?}; names there are refused until you run `bns dane ca --renew` and import it again");
    }
    let shown = match out {
        Some(path) => {
            crate::fsutil::write_durable(path, ca.pem().as_bytes(), Some(0o644))?;
            path.display().to_string()
        }
        None => {
            print!("{}", ca.pem());
            data_dir.join(CA_CERT_FILE).display().to_string()
        }
    };
    let covers: Vec<String> = ca.namespaces().iter().map(|n| format!(".{n}")).collect();
    eprintln!(
        "bns dane ca: valid only for names under {} (name constraints); import it once:\n  \
         Chromium: certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n 'bns DANE CA' -i {shown}\n  \
         Firefox:  the same with -d sql:<profile dir>, or Settings > Certificates > Import",
        covers.join(" ")
    );
    Ok(())
}

/// `bns tls verify`: the key of the server at `addr` against the name's TLSA
/// records in the index at `dir`; exit 0 when it matches, 1 when not.
pub fn tls_verify(addr: &str, name: &str, port: Option<u16>, dir: &Path) -> anyhow::Result<ExitCode> {
    let given: u16 = addr
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("{addr}: give HOST:PORT"))?;
    let port = port.unwrap_or(given);
    let records = SnapshotRecords::fixed(super::zone::view(dir)?, HashMap::new());
    let records = match pins(&records, name, port) {
        Ok(r) => r,
        Err(why) => {
            println!("no: {why} (the chain pins no key for {name} on port {port})");
            return Ok(ExitCode::from(1));
        }
    };
    let seen = crate::dane::probe::server_key(addr, name, std::time::Duration::from_secs(10))?;
    match seen.check(&records) {
        Ok(t) => {
            println!("yes: the key of {addr} matches {} TLSA {t}", crate::dane::tlsa::owner(name, port));
            Ok(ExitCode::SUCCESS)
        }
        Err(why) => {
            println!("no: {why}");
            Ok(ExitCode::from(1))
        }
    }
}
