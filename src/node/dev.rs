//! `bns dev`'s registrar: reveals the namespaces of `zones/namespaces.toml`
//! and registers (or updates) every `zones/<name>.zone` through real BNS
//! transactions mined into the dev chain, then stores the zone files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context as _};
use bitcoin::{Network, Transaction};
use tracing::info;

use crate::bns::names::{namespace_fee, split_fqn};
use crate::bns::{ChainParams, StateView as _};
use crate::chain::devchain::DevChain;
use crate::hash::ValueHash;
use crate::store::Store;
use crate::tx::ops::{self, Funding, RevealParams};
use crate::tx::Wallet;

/// A zone file to register.
#[derive(Debug, Clone)]
pub struct ZoneSpec {
    /// Fully-qualified name, from the file name.
    pub name: String,
    /// Exact bytes.
    pub content: Vec<u8>,
    /// From `--import-zonefiles`: owned by a key of its own batch (an address
    /// may own at most 25 names), not by the dev wallet.
    pub imported: bool,
}

/// Imported names per owner key.
const NAMES_PER_HOLDER: usize = 20;
/// Holder keys are the dev wallet's BIP32 children from this index on.
const HOLDER_BASE_INDEX: u32 = 10_000;

/// What `zones/` asks for.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Namespaces by id.
    pub namespaces: BTreeMap<String, RevealParams>,
    /// Names with their zone files.
    pub zones: Vec<ZoneSpec>,
}

/// The repository's zones/, built into the binary: what `bns dev` registers
/// when neither `--zones` nor `./zones` exists (so it runs anywhere).
pub const BUILTIN_ZONES: &[(&str, &str)] = &[
    ("namespaces.toml", include_str!("../../zones/namespaces.toml")),
    ("0.id.zone", include_str!("../../zones/0.id.zone")),
    ("hal.btc.zone", include_str!("../../zones/hal.btc.zone")),
    ("muneeb.id.zone", include_str!("../../zones/muneeb.id.zone")),
    ("satoshi.btc.zone", include_str!("../../zones/satoshi.btc.zone")),
    ("werner.id.zone", include_str!("../../zones/werner.id.zone")),
];

/// Reads `dir/namespaces.toml` and every `dir/*.zone`.
pub fn load_plan(dir: &Path) -> anyhow::Result<Plan> {
    let ns_path = dir.join("namespaces.toml");
    let text = std::fs::read_to_string(&ns_path).with_context(|| {
        format!("cannot read {}; pass --zones DIR with a namespaces.toml and <name>.zone files", ns_path.display())
    })?;
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "zone"))
        .collect();
    paths.sort();
    let mut files = Vec::new();
    for p in paths {
        let content = std::fs::read(&p).with_context(|| format!("cannot read {}", p.display()))?;
        files.push((p, content));
    }
    plan_from(&ns_path, &text, files)
}

/// The plan of [`BUILTIN_ZONES`].
pub fn builtin_plan() -> anyhow::Result<Plan> {
    let (ns, zones) = BUILTIN_ZONES.split_first().expect("namespaces.toml comes first");
    let files = zones.iter().map(|(f, c)| (Path::new("(built in)").join(f), c.as_bytes().to_vec())).collect();
    plan_from(Path::new("(built in)/namespaces.toml"), ns.1, files)
}

/// Checks namespaces and zone files (named `<name>.zone`) into a plan.
fn plan_from(ns_path: &Path, ns_text: &str, files: Vec<(PathBuf, Vec<u8>)>) -> anyhow::Result<Plan> {
    let namespaces: BTreeMap<String, RevealParams> =
        toml::from_str(ns_text).with_context(|| format!("bad {}", ns_path.display()))?;
    let mut zones = Vec::new();
    for (p, content) in files {
        let file = p.file_name().and_then(|s| s.to_str()).unwrap_or_default();
        let name = file.strip_suffix(".zone").unwrap_or(file).to_ascii_lowercase();
        let (_, ns) = split_fqn(&name).ok_or_else(|| anyhow!("{}: file name is not a valid BNS name", p.display()))?;
        if !namespaces.contains_key(ns) {
            bail!("{}: namespace {ns:?} is not in {}", p.display(), ns_path.display());
        }
        let zf = crate::zonefile::check_with_origin(&content, None, Some(&name))
            .map_err(|e| anyhow!("{}: {e}", p.display()))?;
        if !zf.warnings.is_empty() {
            bail!(
                "{}: {}\nfix the zone file before it goes on chain (`bns zonefile check` shows the same)",
                p.display(),
                zf.warnings.join("; ")
            );
        }
        zones.push(ZoneSpec { name, content, imported: false });
    }
    Ok(Plan { namespaces, zones })
}

/// Fee rate for dev transactions.
const FEE_RATE: u64 = 2;

/// Submits transactions and waits for them to be indexed.
pub trait Miner {
    /// Mines `txs` into a block and returns once the indexer processed it;
    /// returns the block height.
    fn mine_and_index(&self, txs: Vec<Transaction>) -> anyhow::Result<u64>;
}

/// Drives the plan to completion on the dev chain.
pub struct Registrar<'a> {
    /// The chain.
    pub chain: &'a Arc<DevChain>,
    /// Funds every op and owns every name.
    pub wallet: &'a Wallet,
    /// Read-write store handle (zone files; reads).
    pub store: &'a Store,
    /// Chain parameters.
    pub params: &'a ChainParams,
    /// Address network.
    pub network: Network,
}

impl Registrar<'_> {
    fn funding(&self) -> Funding<'_> {
        Funding {
            wallet: self.wallet,
            utxos: self.chain.spendable_utxos(&self.wallet.script_pubkey()),
            fee_rate: FEE_RATE,
        }
    }

    fn tip_ch(&self) -> anyhow::Result<crate::hash::ConsensusHash> {
        Ok(self.store.last_block()?.ok_or_else(|| anyhow!("no block indexed yet"))?.consensus_hash)
    }

    /// Submits each tx (so later ones can spend earlier ones' change), then mines.
    fn round(
        &self,
        miner: &dyn Miner,
        build: &mut dyn FnMut(&Self) -> anyhow::Result<Vec<Transaction>>,
    ) -> anyhow::Result<Option<u64>> {
        let txs = build(self)?;
        if txs.is_empty() {
            return Ok(None);
        }
        let height = miner.mine_and_index(txs.clone())?;
        for tx in &txs {
            let txid = tx.compute_txid().to_string();
            let op = self.store.ops_at(height)?.into_iter().find(|o| o.txid == txid);
            match op {
                Some(o) if o.accepted => {}
                Some(o) => bail!("{} {txid} was rejected: {}", o.op, o.reason.unwrap_or_default()),
                None => bail!("transaction {txid} was not indexed in block {height}"),
            }
        }
        Ok(Some(height))
    }

    /// Reveals missing namespaces, registers missing names, updates changed
    /// zone files, and stores every zone file. Returns names registered+updated.
    pub fn run(&self, plan: &Plan, miner: &dyn Miner) -> anyhow::Result<usize> {
        let me = self.wallet.address().to_string();
        let needed: Vec<(&String, &RevealParams)> =
            plan.namespaces.iter().filter(|(id, _)| self.store.namespace(id).ok().flatten().is_none()).collect();
        let epoch = self.params.epoch_at(self.chain.height() + 1);
        if !needed.is_empty() {
            info!(namespaces = ?needed.iter().map(|n| n.0).collect::<Vec<_>>(), "revealing namespaces");
            self.round(miner, &mut |r| {
                let mut f = r.funding();
                let ch = r.tip_ch()?;
                needed
                    .iter()
                    .map(|(id, _)| {
                        // Epoch >= 4 prices namespaces in STACKs, paid from the token account;
                        // before that, in satoshis burned.
                        let (fee, stx) = namespace_fee(id, &epoch);
                        f.next(ops::namespace_preorder(&f, r.params.magic, id, &me, &ch, fee, stx, r.network))
                    })
                    .collect()
            })?;
            self.round(miner, &mut |r| {
                let mut f = r.funding();
                needed
                    .iter()
                    .map(|(id, p)| f.next(ops::namespace_reveal(&f, r.params.magic, id, p, &r.wallet.script_pubkey())))
                    .collect()
            })?;
            self.round(miner, &mut |r| {
                let mut f = r.funding();
                needed.iter().map(|(id, _)| f.next(ops::namespace_ready(&f, r.params.magic, id))).collect()
            })?;
        }

        let mut to_register = Vec::new();
        let mut to_update = Vec::new();
        for z in &plan.zones {
            let hash = ValueHash::of_zonefile(&z.content);
            match self.store.name(&z.name)? {
                None => to_register.push((z, hash)),
                Some(rec) if rec.value_hash == Some(hash) => {}
                Some(rec) if rec.address == me => to_update.push((z, hash)),
                Some(rec) => {
                    tracing::warn!(name = %z.name, owner = %rec.address, "name is owned by someone else; not updating")
                }
            }
        }
        if !to_register.is_empty() {
            info!(names = to_register.len(), "registering names");
            // Who each name goes to: the dev wallet, or (imported) a holder key
            // with room left (earlier imports into this data dir filled some).
            let mut next_holder = HOLDER_BASE_INDEX;
            let mut room = 0;
            let mut holder = None;
            let holders: Vec<(String, bitcoin::ScriptBuf)> = to_register
                .iter()
                .map(|(z, _)| {
                    if !z.imported {
                        return Ok((me.clone(), self.wallet.script_pubkey()));
                    }
                    while room == 0 {
                        let key = self.wallet.importer_child(next_holder)?;
                        next_holder = next_holder.checked_add(1).ok_or_else(|| anyhow!("no holder key left"))?;
                        let owned = self.store.names_owned_by(&key.script_pubkey().to_hex_string())?.len();
                        room = NAMES_PER_HOLDER.saturating_sub(owned);
                        holder = Some((key.address().to_string(), key.script_pubkey()));
                    }
                    room -= 1;
                    Ok(holder.clone().expect("set with room"))
                })
                .collect::<anyhow::Result<_>>()?;
            self.round(miner, &mut |r| {
                let mut f = r.funding();
                let ch = r.tip_ch()?;
                to_register
                    .iter()
                    .zip(&holders)
                    .map(|((z, _), (to, _))| {
                        let (label, ns_id) = split_fqn(&z.name).ok_or_else(|| anyhow!("bad name {}", z.name))?;
                        let ns = r.store.namespace(ns_id)?.ok_or_else(|| anyhow!("namespace {ns_id} missing"))?;
                        let fee = ns.name_fee(label, &epoch, r.chain.height() + 1);
                        f.next(crate::node::owner::name_preorder_tx(
                            &f,
                            r.params.magic,
                            &z.name,
                            to,
                            &ch,
                            fee,
                            &ns,
                            r.network,
                        ))
                    })
                    .collect()
            })?;
            self.round(miner, &mut |r| {
                let mut f = r.funding();
                to_register
                    .iter()
                    .zip(&holders)
                    .map(|((z, h), (_, script))| {
                        f.next(ops::name_register(&f, r.params.magic, &z.name, Some(*h), script))
                    })
                    .collect()
            })?;
        }
        if !to_update.is_empty() {
            info!(names = to_update.len(), "updating zone files");
            self.round(miner, &mut |r| {
                let mut f = r.funding();
                let ch = r.tip_ch()?;
                to_update.iter().map(|(z, h)| f.next(ops::name_update(&f, r.params.magic, &z.name, &ch, h))).collect()
            })?;
        }
        for z in &plan.zones {
            self.store.put_zonefile(&z.content, "zones/")?;
        }
        Ok(to_register.len() + to_update.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The built-in zones are the repository's zones/, file for file.
    #[test]
    fn builtin_zones_are_the_repository_zones() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("zones");
        let mut on_disk: Vec<String> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        on_disk.sort();
        let mut built: Vec<String> = BUILTIN_ZONES.iter().map(|(f, _)| f.to_string()).collect();
        built.sort();
        assert_eq!(built, on_disk, "add the new file of zones/ to BUILTIN_ZONES");
        let (a, b) = (builtin_plan().unwrap(), load_plan(&dir).unwrap());
        assert_eq!(
            a.zones.iter().map(|z| (&z.name, &z.content)).collect::<Vec<_>>(),
            b.zones.iter().map(|z| (&z.name, &z.content)).collect::<Vec<_>>()
        );
        assert_eq!(a.namespaces.keys().collect::<Vec<_>>(), b.namespaces.keys().collect::<Vec<_>>());
    }
}
