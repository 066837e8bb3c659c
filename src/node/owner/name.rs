//! Name operations: preorder, registration (one step), update, transfer,
//! revoke, renew. Each checks the index before building anything.

use anyhow::{anyhow, bail};
use bitcoin::address::NetworkUnchecked;
use bitcoin::{Address, Transaction, Txid};

use super::register::{check_zonefile, store_zonefile};
use super::Owner;
use crate::bns::epoch::{MAX_NAMES_PER_SENDER, NAME_PREORDER_EXPIRE};
use crate::bns::names::{split_fqn, NameFee};
use crate::bns::{Liveness, NameRecord, NamespaceRecord, PreorderRecord, StateView};
use crate::hash::{PreorderHash, ValueHash};
use crate::tx::ops::{self, Renewal};
use crate::virtualchain::preorder::name_preorder_hash;
use crate::virtualchain::scan::burn_address;

/// `fqn` split into (name part, namespace id), or a clear error.
pub(super) fn parse_fqn(fqn: &str) -> anyhow::Result<(&str, &str)> {
    split_fqn(fqn).ok_or_else(|| {
        anyhow!("{fqn:?} is not a valid BNS name: write name.namespace, lowercase a-z 0-9 - _, at most 37 characters")
    })
}

fn expiry_text(rec: &NameRecord, ns: &NamespaceRecord, o: &Owner) -> String {
    let epoch = o.params.epoch_at(o.tip().unwrap_or(0));
    match rec.expire_block(ns, &epoch) {
        Some(b) => format!("expires at block {b}"),
        None => "never expires".into(),
    }
}

impl Owner {
    /// The name's liveness as the next block's rules see it (state as of the tip).
    fn liveness(&self, rec: &NameRecord, ns: &NamespaceRecord) -> anyhow::Result<Liveness> {
        let h = self.next_block()? - 1;
        Ok(rec.liveness(ns, &self.params.epoch_at(h), h))
    }

    /// Errors unless `fqn` can be registered: a ready namespace, and the name
    /// unregistered or expired. Returns the namespace.
    pub(super) fn check_available(&self, fqn: &str) -> anyhow::Result<NamespaceRecord> {
        let (_, ns_id) = parse_fqn(fqn)?;
        let ns = self.ready_namespace(ns_id)?;
        if let Some(rec) = self.store.name(fqn)? {
            if self.liveness(&rec, &ns)? != Liveness::Expired {
                let exp = expiry_text(&rec, &ns, self);
                if rec.revoked {
                    bail!("name {fqn} was revoked and stays taken until it expires ({exp})");
                }
                if rec.sender == self.my_script_hex() {
                    bail!("name {fqn} is already registered to this key ({}, {exp})", rec.address);
                }
                bail!("name {fqn} is taken: owned by {} ({exp}); pick another name", rec.address);
            }
        }
        Ok(ns)
    }

    /// The name record of `fqn` if this key owns it, it is not revoked and
    /// (unless `grace_ok`) not in its grace period; a clear error otherwise.
    pub(super) fn owned_name(&self, fqn: &str, grace_ok: bool) -> anyhow::Result<(NameRecord, NamespaceRecord)> {
        let (_, ns_id) = parse_fqn(fqn)?;
        let rec = self
            .store
            .name(fqn)?
            .ok_or_else(|| anyhow!("name {fqn} is not registered; register it first with `bns name register {fqn}`"))?;
        let ns = self.ready_namespace(ns_id)?;
        if rec.sender != self.my_script_hex() {
            bail!(
                "name {fqn} is owned by {}, not by this key ({}); use the owner's key (--key-file/--key-env)",
                rec.address,
                self.me()
            );
        }
        if rec.revoked {
            bail!("name {fqn} was revoked (txid {}); a revoked name cannot be changed", rec.txid);
        }
        match self.liveness(&rec, &ns)? {
            Liveness::Live => {}
            Liveness::Grace if grace_ok => {}
            Liveness::Grace => bail!(
                "name {fqn} has expired and is in its grace period ({}); only `bns name renew {fqn}` is allowed",
                expiry_text(&rec, &ns, self)
            ),
            Liveness::Expired => {
                bail!("name {fqn} has expired ({}); register it again", expiry_text(&rec, &ns, self))
            }
        }
        Ok((rec, ns))
    }

    /// The preorder hash of `fqn` sent by this key for itself.
    pub(super) fn my_preorder_hash(&self, fqn: &str) -> anyhow::Result<PreorderHash> {
        name_preorder_hash(fqn, &self.wallet.script_pubkey(), &self.me())
            .map_err(|_| anyhow!("{fqn:?} is not a valid BNS name"))
    }

    /// This key's unconsumed preorder of `fqn`, if any, with whether it is
    /// too old (or too early) to register from in the next block.
    pub(super) fn my_preorder(&self, fqn: &str) -> anyhow::Result<Option<(PreorderRecord, Option<String>)>> {
        let hash = self.my_preorder_hash(fqn)?;
        let Some(pre) = StateView::preorder(&self.store, &hash)?.filter(|p| p.op == "?") else { return Ok(None) };
        let next = self.next_block()?;
        let (_, ns_id) = parse_fqn(fqn)?;
        let ready = self.store.namespace(ns_id)?.and_then(|n| n.ready_block);
        let why = if self.params.epoch_at(next).number >= 4 && pre.block_number + NAME_PREORDER_EXPIRE < next {
            Some(format!(
                "the preorder of {fqn} by this key (block {}) is older than {NAME_PREORDER_EXPIRE} blocks and has \
                 expired; a preorder hash can't be reused, so register {fqn} with another key",
                pre.block_number
            ))
        } else if ready.is_some_and(|r| pre.block_number < r) {
            Some(format!(
                "the preorder of {fqn} by this key (block {}) was made before the namespace was ready; \
                 register {fqn} with another key",
                pre.block_number
            ))
        } else {
            None
        };
        Ok(Some((pre, why)))
    }

    /// `bns name preorder NAME`: commits to `fqn` for this key, paying the
    /// namespace's price. Errors if the name is taken, the namespace not ready,
    /// or this key already has an unconsumed preorder of it.
    pub fn name_preorder(&self, fqn: &str) -> anyhow::Result<Option<Txid>> {
        let tx = self.preorder_tx(fqn)?;
        self.send_and_wait(&format!("NAME_PREORDER of {fqn}"), &tx)
    }

    /// The checked and signed NAME_PREORDER of `fqn` for this key.
    pub(super) fn preorder_tx(&self, fqn: &str) -> anyhow::Result<Transaction> {
        let ns = self.check_available(fqn)?;
        if let Some((pre, _)) = self.my_preorder(fqn)? {
            bail!(
                "this key already preordered {fqn} in block {} (txid {}); run `bns name register {fqn}` to continue",
                pre.block_number,
                pre.txid
            );
        }
        let owned = self.store.names_owned_by(&self.my_script_hex())?;
        let live = owned.iter().filter(|r| !r.revoked).count();
        if live >= MAX_NAMES_PER_SENDER {
            bail!("this key already owns {live} names, the most one key may own; use another key");
        }
        let (label, _) = parse_fqn(fqn)?;
        let next = self.next_block()?;
        let fee = ns.name_fee(label, &self.params.epoch_at(next), next);
        if let NameFee::Stacks(need) = fee {
            self.check_tokens(need, &format!("the price of {fqn}"))?;
        }
        let f = self.funding()?;
        let ch = self.consensus_hash()?;
        self.built(super::name_preorder_tx(&f, self.magic(), fqn, &self.me(), &ch, fee, &ns, self.net()))
    }

    /// Errors unless this key's token account holds `need` micro-STX.
    pub(super) fn check_tokens(&self, need: u64, what: &str) -> anyhow::Result<()> {
        let have = self.store.token_balance(&self.me())?.unwrap_or(0);
        if have < need {
            bail!(
                "{what} is {need} micro-STX but the token account of {} holds {have}; this key cannot pay it",
                self.me()
            );
        }
        Ok(())
    }

    /// `bns name register NAME --from-preorder`: only the NAME_REGISTRATION,
    /// from this key's existing preorder, owned by this key.
    pub fn name_register_only(&self, fqn: &str, value_hash: Option<ValueHash>) -> anyhow::Result<Option<Txid>> {
        let tx = self.register_tx(fqn, value_hash)?;
        self.send_and_wait(&format!("NAME_REGISTRATION of {fqn}"), &tx)
    }

    /// The checked and signed NAME_REGISTRATION of `fqn` to this key.
    pub(super) fn register_tx(&self, fqn: &str, value_hash: Option<ValueHash>) -> anyhow::Result<Transaction> {
        self.check_available(fqn)?;
        let (_, why) = self.my_preorder(fqn)?.ok_or_else(|| {
            anyhow!(
                "no preorder of {fqn} by this key ({}) in the index; run `bns name preorder {fqn}` and wait for \
                 it to be mined and indexed (or run `bns name register {fqn}` without --from-preorder)",
                self.me()
            )
        })?;
        if let Some(why) = why {
            bail!(why);
        }
        let f = self.funding()?;
        self.built(ops::name_register(&f, self.magic(), fqn, value_hash, &self.wallet.script_pubkey()))
    }

    /// `bns name update NAME --zonefile FILE`: points the name at the zone
    /// file's hash; once indexed, stores the zone file in the index.
    pub fn name_update(&self, fqn: &str, zonefile: &[u8]) -> anyhow::Result<Option<Txid>> {
        let hash = check_zonefile(fqn, zonefile)?;
        let (rec, _) = self.owned_name(fqn, false)?;
        if rec.value_hash == Some(hash) {
            println!("{fqn} already points at zone-file hash {hash}; nothing to send");
            if !self.dry_run {
                store_zonefile(&self.data_dir, zonefile)?;
            }
            return Ok(None);
        }
        let tx = self.update_tx(fqn, &hash)?;
        let txid = self.send_and_wait(&format!("NAME_UPDATE of {fqn}"), &tx)?;
        self.store_zonefile_after(txid, zonefile)?;
        Ok(txid)
    }

    /// The checked and signed NAME_UPDATE of `fqn` (owned by this key) to `hash`.
    pub(super) fn update_tx(&self, fqn: &str, hash: &ValueHash) -> anyhow::Result<Transaction> {
        self.owned_name(fqn, false)?;
        let f = self.funding()?;
        let ch = self.consensus_hash()?;
        self.built(ops::name_update(&f, self.magic(), fqn, &ch, hash))
    }

    /// `bns name transfer NAME --to ADDRESS`: gives the name to `to`,
    /// keeping its zone-file hash if `keep_data` (else clearing it, Core's default).
    pub fn name_transfer(&self, fqn: &str, to: &str, keep_data: bool) -> anyhow::Result<Option<Txid>> {
        let (_, _) = self.owned_name(fqn, false)?;
        let addr: Address<NetworkUnchecked> =
            to.parse().map_err(|e| anyhow!("--to {to}: not a Bitcoin address ({e})"))?;
        let script = addr
            .require_network(self.net())
            .map_err(|_| anyhow!("--to {to}: not a {} address", self.network.as_str()))?
            .script_pubkey();
        if !script.is_p2pkh() && !script.is_p2sh() {
            bail!("--to {to}: BNS owners must be P2PKH or P2SH addresses");
        }
        let f = self.funding()?;
        let ch = self.consensus_hash()?;
        let tx = self.built(ops::name_transfer(&f, self.magic(), fqn, keep_data, &ch, &script))?;
        self.send_and_wait(&format!("NAME_TRANSFER of {fqn} to {to}"), &tx)
    }

    /// `bns name revoke NAME`: revokes the name for good (it resolves no more).
    pub fn name_revoke(&self, fqn: &str) -> anyhow::Result<Option<Txid>> {
        self.owned_name(fqn, false)?;
        let f = self.funding()?;
        let tx = self.built(ops::name_revoke(&f, self.magic(), fqn))?;
        self.send_and_wait(&format!("NAME_REVOKE of {fqn}"), &tx)
    }

    /// `bns name renew NAME [--zonefile FILE]`: pays the name's price again
    /// (also in its grace period), optionally pointing it at a new zone file.
    pub fn name_renew(&self, fqn: &str, zonefile: Option<&[u8]>) -> anyhow::Result<Option<Txid>> {
        let new_hash = zonefile.map(|z| check_zonefile(fqn, z)).transpose()?;
        let (rec, ns) = self.owned_name(fqn, true)?;
        let (label, _) = parse_fqn(fqn)?;
        let next = self.next_block()?;
        let burn = burn_address(self.net());
        let (price, pay_to, tokens, value_hash) = match ns.name_fee(label, &self.params.epoch_at(next), next) {
            NameFee::Sats { amount, to_creator } => {
                (amount, if to_creator { ns.address.clone() } else { burn }, 0, new_hash)
            }
            NameFee::Stacks(need) => {
                self.check_tokens(need, &format!("renewing {fqn}"))?;
                // The token field follows the value hash on the wire: carry the current one.
                let vh = new_hash.or(rec.value_hash).ok_or_else(|| {
                    anyhow!("{fqn} has no zone-file hash; renewing it in STACKs needs --zonefile FILE")
                })?;
                (ops::DUST_OUTPUT.to_sat(), burn, need, Some(vh))
            }
        };
        let f = self.funding()?;
        let r = Renewal { value_hash, tokens, price, pay_to: &pay_to };
        let tx = self.built(ops::name_renew(&f, self.magic(), fqn, &self.wallet.script_pubkey(), &r, self.net()))?;
        let txid = self.send_and_wait(&format!("NAME_RENEWAL of {fqn}"), &tx)?;
        if let (Some(z), Some(_), true) = (zonefile, txid, self.wait) {
            store_zonefile(&self.data_dir, z)?;
        }
        Ok(txid)
    }
}
