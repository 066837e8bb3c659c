//! `bns name register`: the whole flow (preorder, wait, register, wait,
//! update if needed, store the zone file), resumable from what the index
//! shows; and `bns zonefile put`.

use std::path::Path;

use anyhow::{anyhow, bail, Context as _};
use bitcoin::Transaction;

use super::name::parse_fqn;
use super::Owner;
use crate::bns::Liveness;
use crate::hash::ValueHash;
use crate::store::Store;

/// Checks a zone file for `fqn` (size, syntax, no skipped line) before
/// anything is spent on it; returns its hash.
pub fn check_zonefile(fqn: &str, bytes: &[u8]) -> anyhow::Result<ValueHash> {
    let zf = crate::zonefile::check_with_origin(bytes, None, Some(fqn))
        .map_err(|e| anyhow!("the zone file for {fqn} is not valid: {e}"))?;
    if !zf.warnings.is_empty() {
        bail!(
            "the zone file for {fqn} has lines that would be skipped: {}\nfix it before its hash goes on chain \
             (`bns zonefile check FILE --name {fqn}` shows the same)",
            zf.warnings.join("; ")
        );
    }
    Ok(ValueHash::of_zonefile(bytes))
}

/// Stores `bytes` in the index at `data_dir` (source `cli`) if some name on
/// chain has (or had) its hash; a clear error otherwise. Returns the hash.
pub(super) fn store_zonefile(data_dir: &Path, bytes: &[u8]) -> anyhow::Result<ValueHash> {
    let db = crate::node::db_path(data_dir);
    if !db.exists() {
        bail!("no index at {}: start `bns node` with this --data-dir first (or pass --data-dir)", db.display());
    }
    let store = Store::open(&db).with_context(|| format!("cannot open the index {} for writing", db.display()))?;
    let hash = ValueHash::of_zonefile(bytes);
    if bytes.len() > crate::zonefile::MAX_ZONEFILE_LEN {
        bail!("the zone file is {} bytes, over the {}-byte limit", bytes.len(), crate::zonefile::MAX_ZONEFILE_LEN);
    }
    if !store.is_announced(&hash)? {
        bail!(
            "no name on chain has zone-file hash {hash}; register or update a name with it first \
             (`bns name register NAME --zonefile FILE` or `bns name update NAME --zonefile FILE`)"
        );
    }
    // Stored means on disk when this returns (fsynced commit).
    store.sync_commits()?;
    store.put_zonefiles([bytes], "cli")?;
    println!("stored zone file {hash} in the index");
    Ok(hash)
}

/// `bns zonefile put FILE`: stores the zone file in the index at `data_dir`
/// if a name on chain has its hash; the running node serves it from then on.
pub fn zonefile_put(data_dir: &Path, file: &Path) -> anyhow::Result<ValueHash> {
    let bytes = std::fs::read(file).map_err(|e| anyhow!("cannot read {}: {e}", file.display()))?;
    store_zonefile(data_dir, &bytes)
}

impl Owner {
    /// One resumable step: waits for a transaction noted as sent before, or
    /// builds, notes and sends a new one, then waits for the index to accept
    /// it. `Ok(false)` when the flow must stop here (dry run, --no-wait).
    fn step(
        &self,
        op: &str,
        fqn: &str,
        what: &str,
        build: impl FnOnce() -> anyhow::Result<Transaction>,
    ) -> anyhow::Result<bool> {
        if !self.dry_run {
            if let Some(txid) = self.pending(op, fqn)? {
                println!("{what} was sent before (txid {txid}); waiting for it");
                let from = self.tip()?.saturating_sub(2 * crate::bns::epoch::NAME_PREORDER_EXPIRE).max(1);
                return self.settle(op, fqn, self.wait_for_op_from(what, &txid, from));
            }
        }
        let tx = build()?;
        // Noted durably before it is sent: a rerun never pays twice.
        let Some(txid) = self.emit_noted(op, fqn, what, &tx)? else { return Ok(false) };
        if !self.wait {
            println!("not waiting (--no-wait); rerun the same command to continue");
            return Ok(false);
        }
        self.settle(op, fqn, self.wait_for_op(what, &txid))
    }

    /// Forgets the pending note once the op is indexed, accepted or
    /// rejected; keeps it when the wait failed (timeout), so a rerun waits
    /// for the same transaction instead of paying again.
    fn settle(&self, op: &str, fqn: &str, waited: anyhow::Result<u64>) -> anyhow::Result<bool> {
        match waited {
            Ok(_) => {
                self.clear_pending(op, fqn);
                Ok(true)
            }
            Err(e) => {
                if e.downcast_ref::<super::Rejected>().is_some() {
                    self.clear_pending(op, fqn);
                }
                Err(e)
            }
        }
    }

    /// `bns name register NAME [--zonefile FILE]`: preorders `fqn` for this
    /// key, waits, registers it carrying the zone file's hash, waits, updates
    /// the hash if the name was already registered to this key with another,
    /// and stores the zone file in the index. Rerun after a crash or timeout,
    /// it continues from where the index stands.
    pub fn name_register(&self, fqn: &str, zonefile: Option<&[u8]>) -> anyhow::Result<()> {
        let hash = zonefile.map(|z| check_zonefile(fqn, z)).transpose()?;
        let (_, ns_id) = parse_fqn(fqn)?;
        let mine = |o: &Self| -> anyhow::Result<bool> {
            let Some(rec) = o.store.name(fqn)? else { return Ok(false) };
            let Some(ns) = o.store.namespace(ns_id)? else { return Ok(false) };
            let h = o.next_block()? - 1;
            Ok(rec.sender == o.my_script_hex()
                && !rec.revoked
                && rec.liveness(&ns, &o.params.epoch_at(h), h) != Liveness::Expired)
        };
        if mine(self)? {
            println!("{fqn} is already registered to this key ({})", self.me());
        } else {
            self.check_available(fqn)?;
            match self.my_preorder(fqn)? {
                Some((_, Some(why))) => bail!(why),
                Some((pre, None)) => println!("found this key's preorder of {fqn} in block {}", pre.block_number),
                None => {
                    if !self.step("preorder", fqn, &format!("NAME_PREORDER of {fqn}"), || self.preorder_tx(fqn))? {
                        if self.dry_run {
                            println!("dry run: the NAME_REGISTRATION follows once the preorder is indexed");
                        }
                        return Ok(());
                    }
                }
            }
            let what = format!("NAME_REGISTRATION of {fqn}");
            if !self.step("register", fqn, &what, || self.register_tx(fqn, hash))? {
                return Ok(());
            }
        }
        if let Some(hash) = hash {
            let rec =
                self.store.name(fqn)?.ok_or_else(|| anyhow!("{fqn} vanished from the index (a reorg?); rerun"))?;
            if rec.value_hash != Some(hash) {
                let what = format!("NAME_UPDATE of {fqn} to {hash}");
                if !self.step("update", fqn, &what, || self.update_tx(fqn, &hash))? {
                    return Ok(());
                }
            }
            if let Some(z) = zonefile {
                store_zonefile(&self.data_dir, z)?;
            }
        }
        match hash {
            Some(h) => println!("{fqn} is registered to {} with zone-file hash {h}", self.me()),
            None => println!("{fqn} is registered to {}", self.me()),
        }
        Ok(())
    }
}
