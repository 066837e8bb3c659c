//! Namespace operations: preorder, reveal, ready. The key that preorders
//! reveals (to itself) and launches.

use anyhow::{anyhow, bail};
use bitcoin::Txid;

use super::Owner;
use crate::bns::names::{is_valid_namespace_id, namespace_fee};
use crate::bns::{NamespaceRecord, StateView};
use crate::tx::ops::{self, RevealParams};
use crate::virtualchain::preorder::namespace_preorder_hash;

fn check_id(ns_id: &str) -> anyhow::Result<()> {
    if !is_valid_namespace_id(ns_id) {
        bail!("{ns_id:?} is not a valid namespace id: 1 to 19 characters of a-z 0-9 - _");
    }
    Ok(())
}

/// Errors for parameters the reveal rules would reject at `epoch`.
pub fn check_reveal_params(p: &RevealParams, epoch: u8) -> anyhow::Result<()> {
    match p.version {
        1 => {}
        2 if epoch >= 3 => {}
        3 if epoch >= 4 => {}
        v => bail!("namespace version {v} is not allowed in epoch {epoch}: use 1 (burn), 2 (pay the creator, epoch >= 3) or 3 (STACKs, epoch >= 4)"),
    }
    if !(1..=15).contains(&p.nonalpha_discount) || !(1..=15).contains(&p.no_vowel_discount) {
        bail!("discounts must be 1 to 15 (got nonalpha {}, no-vowel {})", p.nonalpha_discount, p.no_vowel_discount);
    }
    if let Some(b) = p.buckets.iter().find(|b| **b > 15) {
        bail!("bucket exponents must be 0 to 15 (got {b})");
    }
    if p.lifetime == 0 {
        bail!("a lifetime of 0 blocks would expire every name at once; give blocks, or 4294967295 for never");
    }
    Ok(())
}

impl Owner {
    /// Errors if `ns_id` is ready, or revealed and not yet expired.
    fn check_not_revealed(&self, ns_id: &str) -> anyhow::Result<Option<NamespaceRecord>> {
        let existing = self.store.namespace(ns_id)?;
        if let Some(ns) = &existing {
            if let Some(ready) = ns.ready_block {
                bail!(
                    "namespace {ns_id} already exists (ready since block {ready}, revealed by {})",
                    ns.recipient_address
                );
            }
            if ns.is_revealed_at(self.next_block()? - 1) {
                bail!(
                    "namespace {ns_id} is already revealed (block {}) by {}; its revealer makes it ready with \
                     `bns namespace ready {ns_id}`",
                    ns.reveal_block,
                    ns.recipient_address
                );
            }
        }
        Ok(existing)
    }

    fn my_namespace_preorder(&self, ns_id: &str) -> anyhow::Result<Option<crate::bns::PreorderRecord>> {
        let hash = namespace_preorder_hash(ns_id, &self.wallet.script_pubkey(), &self.me())
            .map_err(|_| anyhow!("{ns_id:?} is not a valid namespace id"))?;
        Ok(StateView::preorder(&self.store, &hash)?.filter(|p| p.op == "*"))
    }

    /// `bns namespace preorder NS`: commits to `ns_id`, revealed later by this
    /// key; pays the namespace price (satoshis burned, STACKs from epoch 4).
    pub fn namespace_preorder(&self, ns_id: &str) -> anyhow::Result<Option<Txid>> {
        check_id(ns_id)?;
        self.check_not_revealed(ns_id)?;
        if let Some(pre) = self.my_namespace_preorder(ns_id)? {
            bail!(
                "this key already preordered namespace {ns_id} in block {} (txid {}); reveal it with \
                 `bns namespace reveal {ns_id} ...`",
                pre.block_number,
                pre.txid
            );
        }
        let next = self.next_block()?;
        let (sats, stx) = namespace_fee(ns_id, &self.params.epoch_at(next));
        if let Some(need) = stx {
            self.check_tokens(need, &format!("the price of namespace {ns_id}"))?;
        }
        let f = self.funding()?;
        let ch = self.consensus_hash()?;
        let tx =
            self.built(ops::namespace_preorder(&f, self.magic(), ns_id, &self.me(), &ch, sats, stx, self.net()))?;
        self.send_and_wait(&format!("NAMESPACE_PREORDER of {ns_id}"), &tx)
    }

    /// `bns namespace reveal NS ...`: reveals `ns_id` with price function and
    /// lifetime `p`, from this key's preorder; this key becomes the revealer.
    pub fn namespace_reveal(&self, ns_id: &str, p: &RevealParams) -> anyhow::Result<Option<Txid>> {
        check_id(ns_id)?;
        check_reveal_params(p, self.params.epoch_at(self.next_block()?).number)?;
        self.check_not_revealed(ns_id)?;
        if self.my_namespace_preorder(ns_id)?.is_none() {
            bail!(
                "no preorder of namespace {ns_id} by this key ({}) in the index; run `bns namespace preorder \
                 {ns_id}` and wait for it to be mined and indexed",
                self.me()
            );
        }
        let f = self.funding()?;
        let tx = self.built(ops::namespace_reveal(&f, self.magic(), ns_id, p, &self.wallet.script_pubkey()))?;
        self.send_and_wait(&format!("NAMESPACE_REVEAL of {ns_id}"), &tx)
    }

    /// `bns namespace ready NS`: launches `ns_id`; only its revealer may.
    pub fn namespace_ready(&self, ns_id: &str) -> anyhow::Result<Option<Txid>> {
        check_id(ns_id)?;
        let ns = self.store.namespace(ns_id)?.ok_or_else(|| {
            anyhow!("namespace {ns_id} is not revealed; run `bns namespace preorder` and `reveal` first")
        })?;
        if let Some(ready) = ns.ready_block {
            bail!("namespace {ns_id} is already ready (block {ready})");
        }
        if !ns.is_revealed_at(self.next_block()? - 1) {
            bail!(
                "the reveal of namespace {ns_id} (block {}) has expired; preorder and reveal it again",
                ns.reveal_block
            );
        }
        if ns.recipient != self.my_script_hex() {
            bail!(
                "namespace {ns_id} was revealed by {}, not by this key ({}); use the revealer's key",
                ns.recipient_address,
                self.me()
            );
        }
        let f = self.funding()?;
        let tx = self.built(ops::namespace_ready(&f, self.magic(), ns_id))?;
        self.send_and_wait(&format!("NAMESPACE_READY of {ns_id}"), &tx)
    }
}
