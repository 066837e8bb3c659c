//! The owner's commands: build, sign and send BNS operations for one key
//! through the Bitcoin node `bns node` follows, after checking them against
//! that node's index (`<data-dir>/bns.sqlite`, opened read-only).
//!
//! Every command checks the index first and fails with a clear error before
//! anything is built or spent; prices come from the same functions the rules
//! check payments with ([`crate::bns::names::namespace_fee`],
//! [`crate::bns::NamespaceRecord::name_fee`]). Sending commands wait until the
//! index shows the op accepted (or rejected, with the rule's reason) unless
//! told not to. Long flows are resumable: they read where they stand from the
//! index (and a note of unconfirmed transactions in `<data-dir>/pending/`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use bitcoin::consensus::encode::serialize_hex;
use bitcoin::{Network, Transaction, Txid};

use crate::bns::names::NameFee;
use crate::bns::{ChainParams, NamespaceRecord};
use crate::chain::bitcoind::RpcSource;
use crate::chain::BlockSource;
use crate::config::NetworkName;
use crate::hash::ConsensusHash;
use crate::store::Store;
use crate::tx::ops::{self, Funding};
use crate::tx::{TxError, Wallet};

mod args;
mod name;
mod namespace;
mod pending;
mod register;

pub use args::{KeyArgs, OwnerArgs, RevealArgs};
pub use namespace::check_reveal_params;
pub use register::{check_zonefile, zonefile_put};

/// Fee rate used when the node has no estimate (regtest, a fresh node).
pub const FALLBACK_FEE_RATE: u64 = 10;

/// How often the index is polled while waiting for a block.
const POLL: Duration = Duration::from_millis(250);

/// Everything an owner's command needs: the index, the node, the key.
///
/// Invariant: `store` is the index `bns node` writes, opened read-only, and
/// carries the `chain_params` and `network` meta keys; `wallet`'s network kind
/// matches `network`.
pub struct Owner {
    store: Store,
    data_dir: PathBuf,
    rpc: RpcSource,
    wallet: Wallet,
    params: ChainParams,
    network: NetworkName,
    fee_rate: u64,
    dry_run: bool,
    wait: bool,
    wait_timeout: Duration,
}

/// What [`Owner::open`] needs.
#[derive(Debug)]
pub struct OwnerOptions {
    /// Data directory holding `bns.sqlite`.
    pub data_dir: PathBuf,
    /// The node's RPC settings (URL and credentials).
    pub rpc: crate::config::RpcSettings,
    /// The network a config file names, if any (must match the index's).
    pub config_network: Option<NetworkName>,
    /// The owner's key.
    pub wallet: Wallet,
    /// Fee rate in sat/vB; `None` asks the node (`estimatesmartfee 6`).
    pub fee_rate: Option<u64>,
    /// Print signed transactions instead of sending them.
    pub dry_run: bool,
    /// Wait for each sent op to be indexed.
    pub wait: bool,
    /// How long to wait for a block before giving up.
    pub wait_timeout: Duration,
}

/// Reads the index's chain parameters and network, refusing an index that
/// `bns node` did not make.
pub fn index_identity(store: &Store, db: &Path) -> anyhow::Result<(ChainParams, NetworkName)> {
    let not_node = || {
        anyhow!(
            "{}: this index was not made by `bns node` (no `chain_params`/`network` in its meta table); \
             point --data-dir at the data directory of the `bns node` that follows your bitcoind",
            db.display()
        )
    };
    let params: ChainParams = serde_json::from_str(&store.meta("chain_params")?.ok_or_else(not_node)?)
        .context("the index's chain parameters are corrupt")?;
    let network = match store.meta("network")?.ok_or_else(not_node)?.as_str() {
        "mainnet" => NetworkName::Mainnet,
        "testnet" => NetworkName::Testnet,
        "regtest" => NetworkName::Regtest,
        other => bail!("{}: unknown network {other:?} in the index's meta table", db.display()),
    };
    Ok((params, network))
}

/// Opens the index at `data_dir/bns.sqlite` read-only, with a clear error if absent.
pub fn open_index(data_dir: &Path) -> anyhow::Result<Store> {
    let db = crate::node::db_path(data_dir);
    if !db.exists() {
        bail!("no index at {}: start `bns node` with this --data-dir first (or pass --data-dir)", db.display());
    }
    Store::open_readonly(&db).with_context(|| format!("cannot open the index {}", db.display()))
}

/// Most blocks the index may trail the node before ops are built: half the
/// 24-block window in which the rules accept a consensus hash (mainnet's 10
/// confirmations leave the index 9 behind). A node run with more
/// confirmations raises it to what they imply.
pub const MAX_INDEX_LAG: u64 = 12;

impl Owner {
    /// Opens the index read-only, checks it was made by `bns node`, connects
    /// to the node and settles the fee rate (printing a note when it falls
    /// back to [`FALLBACK_FEE_RATE`]).
    pub fn open(o: OwnerOptions) -> anyhow::Result<Owner> {
        let store = open_index(&o.data_dir)?;
        let (params, network) = index_identity(&store, &crate::node::db_path(&o.data_dir))?;
        if let Some(cfg) = o.config_network.filter(|n| *n != network) {
            bail!(
                "the config says network {} but the index at {} follows {}; fix the config or --data-dir",
                cfg.as_str(),
                o.data_dir.display(),
                network.as_str()
            );
        }
        let kind = bitcoin::NetworkKind::from(network.bitcoin());
        if o.wallet.network_kind() != kind {
            bail!(
                "the key is a {:?} key but the index follows {}; use a key for that network",
                o.wallet.network_kind(),
                network.as_str()
            );
        }
        let url = o.rpc.url(network);
        let rpc = RpcSource::new(&url, o.rpc.auth(network)?)?;
        let fee_rate = match o.fee_rate {
            Some(0) => bail!("--fee-rate 0: give at least 1 sat/vB"),
            Some(r) => r,
            None => match rpc.estimate_fee_rate(6) {
                Ok(Some(r)) => r,
                Ok(None) => {
                    eprintln!("note: the node has no fee estimate; using {FALLBACK_FEE_RATE} sat/vB (set --fee-rate)");
                    FALLBACK_FEE_RATE
                }
                Err(e) => {
                    bail!("cannot reach the node at {} ({e}); check --bitcoind-url and the RPC credentials", rpc.url())
                }
            },
        };
        let owner = Owner {
            store,
            data_dir: o.data_dir,
            rpc,
            wallet: o.wallet,
            params,
            network,
            fee_rate,
            dry_run: o.dry_run,
            wait: o.wait,
            wait_timeout: o.wait_timeout,
        };
        owner.wait_for_sync()?;
        Ok(owner)
    }

    /// Ops carry the index tip's consensus hash, which the rules accept for
    /// 24 blocks: an index far behind the node (still syncing, or `bns node`
    /// stopped) would make them stale. Waits until the index is at most
    /// [`MAX_INDEX_LAG`] blocks behind the node (or fails at once with
    /// `--no-wait`).
    fn wait_for_sync(&self) -> anyhow::Result<()> {
        let node_tip = self.rpc.tip_height().map_err(|e| anyhow!("cannot ask the node for its tip: {e}"))?;
        // A node with N confirmations keeps its index N - 1 behind by design.
        let confirmations: u64 =
            self.store.meta(crate::node::META_CONFIRMATIONS)?.and_then(|c| c.parse().ok()).unwrap_or(1);
        let max_lag = MAX_INDEX_LAG.max(confirmations.saturating_sub(1) + 2);
        let synced = |me: &Self| -> anyhow::Result<bool> { Ok(me.tip()? + max_lag >= node_tip) };
        if synced(self)? {
            return Ok(());
        }
        if !self.wait {
            bail!(
                "the index is at block {} but the node is at block {node_tip}: an op built now would carry a stale \
                 consensus hash; wait for `bns node` to catch up (`bns status` shows the lag)",
                self.tip()?
            );
        }
        self.wait_until(&format!("the index to catch up with the node at block {node_tip}"), |me| {
            Ok(synced(me)?.then_some(()))
        })
    }

    fn net(&self) -> Network {
        self.network.bitcoin()
    }

    fn me(&self) -> String {
        self.wallet.address().to_string()
    }

    fn my_script_hex(&self) -> String {
        hex::encode(self.wallet.script_pubkey().as_bytes())
    }

    fn magic(&self) -> [u8; 2] {
        self.params.magic
    }

    /// Height of the index's tip (0 before the first block).
    fn tip(&self) -> anyhow::Result<u64> {
        Ok(self.store.last_block()?.map(|b| b.height).unwrap_or(0))
    }

    /// The height the next op will be mined at, at the earliest.
    fn next_block(&self) -> anyhow::Result<u64> {
        let node = self.rpc.tip_height().map_err(|e| anyhow!("cannot ask the node for its tip: {e}"))?;
        Ok(node.max(self.tip()?) + 1)
    }

    /// The index tip's consensus hash (valid in ops for 24 more blocks).
    fn consensus_hash(&self) -> anyhow::Result<ConsensusHash> {
        let tip = self.store.last_block()?;
        Ok(tip.ok_or_else(|| anyhow!("the index has no block yet; wait for `bns node` to sync"))?.consensus_hash)
    }

    /// This key's spendable coins, as a [`Funding`].
    fn funding(&self) -> anyhow::Result<Funding<'_>> {
        let utxos =
            self.rpc.utxos(&self.wallet.script_pubkey()).map_err(|e| anyhow!("listing this key's coins: {e}"))?;
        Ok(Funding { wallet: &self.wallet, utxos, fee_rate: self.fee_rate })
    }

    /// Adds what to do next to a build error (the address to fund).
    fn built(&self, tx: Result<Transaction, TxError>) -> anyhow::Result<Transaction> {
        tx.map_err(|e| match e {
            TxError::InsufficientFunds { .. } => {
                anyhow!("{e}\nthis key's address is {} (send coins there and wait for a confirmation)", self.me())
            }
            e => anyhow!(e),
        })
    }

    /// Sends `tx` (or prints it on a dry run); returns its txid if sent.
    fn emit(&self, what: &str, tx: &Transaction) -> anyhow::Result<Option<Txid>> {
        if self.dry_run {
            let hex = serialize_hex(tx);
            let decoded = crate::node::inspect::op_decode(
                &hex,
                self.params.epoch_at(self.tip()? + 1).number,
                self.magic(),
                self.net(),
            )?;
            println!("dry run: {what} (not sent; txid {})", tx.compute_txid());
            println!("{hex}");
            println!("{}", serde_json::to_string_pretty(&decoded)?);
            return Ok(None);
        }
        let txid = self.rpc.send(tx).map_err(|e| {
            anyhow!(
                "the node refused {what}: {e}\n(if an earlier transaction of this key is still unconfirmed, \
                 wait for it to be mined and run the command again)"
            )
        })?;
        println!("sent {what}: txid {txid}");
        Ok(Some(txid))
    }

    /// [`Owner::emit`], then (unless told not to) waits for the index to
    /// show the op: `Ok` once accepted, an error with the rule's reason if
    /// rejected.
    fn send_and_wait(&self, what: &str, tx: &Transaction) -> anyhow::Result<Option<Txid>> {
        let txid = self.emit(what, tx)?;
        if let (Some(txid), true) = (txid, self.wait) {
            self.wait_for_op(what, &txid)?;
        }
        Ok(txid)
    }

    /// Polls the index until `check` answers `Some`, printing a progress line
    /// per new block; errors after the wait timeout.
    fn wait_until<T>(
        &self,
        what: &str,
        mut check: impl FnMut(&Self) -> anyhow::Result<Option<T>>,
    ) -> anyhow::Result<T> {
        let deadline = Instant::now() + self.wait_timeout;
        let mut seen = None;
        loop {
            if let Some(v) = check(self)? {
                return Ok(v);
            }
            let tip = self.tip()?;
            if seen != Some(tip) {
                eprintln!("waiting for block {} ({what}; the index is at block {tip}) …", tip + 1);
                seen = Some(tip);
            }
            if Instant::now() >= deadline {
                bail!(
                    "timed out after {} s waiting for {what} (the index is at block {tip}); check that `bns node` \
                     is running and the node is mining, then rerun the same command to continue (or raise --wait-timeout)",
                    self.wait_timeout.as_secs()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// Waits until the index holds the op of `txid` (sent just now);
    /// rejects bubble up as errors.
    fn wait_for_op(&self, what: &str, txid: &Txid) -> anyhow::Result<u64> {
        self.wait_for_op_from(what, txid, self.tip()? + 1)
    }

    /// [`Owner::wait_for_op`] looking at blocks from `from` on.
    fn wait_for_op_from(&self, what: &str, txid: &Txid, from: u64) -> anyhow::Result<u64> {
        let txid_s = txid.to_string();
        let mut next = from;
        self.wait_until(&format!("{what} {txid} to be indexed"), |me| {
            let tip = me.tip()?;
            while next <= tip {
                if let Some(op) = me.store.ops_at(next)?.into_iter().find(|o| o.txid == txid_s) {
                    if !op.accepted {
                        let reason = op.reason.unwrap_or_default();
                        return Err(Rejected(format!("{what} {txid} was rejected in block {next}: {reason}")).into());
                    }
                    println!("{what} accepted in block {next}");
                    return Ok(Some(next));
                }
                next += 1;
            }
            Ok(None)
        })
    }

    /// A namespace that exists, is ready, and is not the cause of an error.
    fn ready_namespace(&self, ns_id: &str) -> anyhow::Result<NamespaceRecord> {
        let ns = self.store.namespace(ns_id)?.ok_or_else(|| {
            anyhow!(
                "namespace {ns_id:?} does not exist in the index; it must be preordered, revealed and made ready first"
            )
        })?;
        if !ns.is_ready() {
            bail!(
                "namespace {ns_id:?} is revealed (block {}) but not ready; its revealer {} must send \
                 `bns namespace ready {ns_id}` first",
                ns.reveal_block,
                ns.recipient_address
            );
        }
        Ok(ns)
    }

    /// After an op carrying `zonefile`'s hash was sent (`txid`): stores the
    /// zone file if the op was waited for (so it is indexed), else says how
    /// to store it once mined.
    pub fn store_zonefile_after(&self, txid: Option<Txid>, zonefile: &[u8]) -> anyhow::Result<()> {
        match (txid, self.wait) {
            (Some(_), true) => register::store_zonefile(&self.data_dir, zonefile).map(|_| ()),
            (Some(txid), false) => {
                println!(
                    "the zone file is not stored yet: once {txid} is mined, run `bns zonefile put FILE` so the node serves it"
                );
                Ok(())
            }
            (None, _) => Ok(()),
        }
    }
}

/// The index shows an op rejected by the rules (as opposed to a wait that
/// timed out or failed): a transaction noted as pending is settled.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Rejected(pub String);

/// Builds the NAME_PREORDER of `fqn` for `register_address` paying `fee`
/// the way `ns`'s version requires: satoshis burned, satoshis to the
/// namespace creator (version 2 in its fee period), or STACKs (version 3).
#[allow(clippy::too_many_arguments)]
pub fn name_preorder_tx(
    f: &Funding<'_>,
    magic: [u8; 2],
    fqn: &str,
    register_address: &str,
    ch: &ConsensusHash,
    fee: NameFee,
    ns: &NamespaceRecord,
    network: Network,
) -> Result<Transaction, TxError> {
    match fee {
        NameFee::Sats { amount, to_creator: false } => {
            ops::name_preorder(f, magic, fqn, register_address, ch, amount, network)
        }
        NameFee::Sats { amount, to_creator: true } => {
            // Never pay the creator's share to an empty (anyone-can-spend) script.
            let script =
                hex::decode(&ns.sender).ok().filter(|s| !s.is_empty()).map(bitcoin::ScriptBuf::from_bytes).ok_or_else(
                    || TxError::InvalidWif(format!("namespace creator script {:?} is unusable", ns.sender)),
                )?;
            ops::name_preorder_paying(f, magic, fqn, register_address, ch, amount, &script)
        }
        NameFee::Stacks(micro_stx) => {
            ops::name_preorder_stacks(f, magic, fqn, register_address, ch, micro_stx, network)
        }
    }
}
