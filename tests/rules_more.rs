//! Transfer, revoke, renewal, import, announce and token transfer on a real
//! dev chain: each rule's accept path and each of its rejection reasons.

use bns::hash::{AnnounceHash, ConsensusHash, ValueHash};
use bns::store::OpRow;
use bns::tx::ops::{self, Renewal};
use bns::tx::Wallet;
use bns::virtualchain::consensus::{consensus_hash, prev_consensus_heights, EMPTY_OPS_HASH};
use bns::virtualchain::scan::burn_address;

mod support;

use support::harness::*;

/// Price of a 7+ letter name with a vowel in `test`: 250 * 4^0 * 100 / 10.
const PRICE: u64 = 2_500;

impl Harness {
    /// The consensus serialization of `op`, which must be in the last block mined.
    fn line(&self, op: &OpRow) -> String {
        let outcome = self.indexer.last_block_outcome().expect("a block was mined");
        let found = outcome.ops.iter().find(|o| o.meta.height == op.height && o.meta.vtxindex == op.vtxindex);
        found.expect("op is in the last block").result.clone().expect("op was accepted")
    }

    fn balance(&self, w: &Wallet) -> Option<u64> {
        self.store().token_balance(&w.address().to_string()).unwrap()
    }

    /// Preorders (one block) and registers (next block) `fqn` for `w`.
    fn register(&mut self, w: &Wallet, fqn: &str, zh: Option<ValueHash>) {
        let (ch, f) = (self.ch(), self.funding(w));
        assert_accepted(&self.mine1(ops::name_preorder(&f, MAGIC, fqn, &w.address().to_string(), &ch, PRICE, NET)));
        let f = self.funding(w);
        assert_accepted(&self.mine1(ops::name_register(&f, MAGIC, fqn, zh, &w.script_pubkey())));
    }
}

/// Preorders and reveals namespace `test` (revealer: wallet a).
fn reveal_namespace(h: &mut Harness) {
    let a = h.a.clone();
    let (ch, f) = (h.ch(), h.funding(&a));
    let p = ops::namespace_preorder(&f, MAGIC, "test", &a.address().to_string(), &ch, 5_500, Some(TEST_NS_STX), NET);
    assert_accepted(&h.mine1(p));
    let f = h.funding(&a);
    assert_accepted(&h.mine1(ops::namespace_reveal(&f, MAGIC, "test", &params(), &a.script_pubkey())));
}

fn ready_namespace(h: &mut Harness) {
    reveal_namespace(h);
    let a = h.a.clone();
    let f = h.funding(&a);
    assert_accepted(&h.mine1(ops::namespace_ready(&f, MAGIC, "test")));
}

#[test]
fn transfer_keeps_or_clears_data_and_checks_owner_hash_and_recipient() {
    let mut h = Harness::new();
    ready_namespace(&mut h);
    let (a, b) = (h.a.clone(), h.b.clone());
    let zh = ValueHash([3; 20]);
    h.register(&a, "aliceone.test", Some(zh));

    // Not the owner / stale consensus hash / to itself / no such name.
    let (ch, f) = (h.ch(), h.funding(&b));
    assert_rejected(
        &h.mine1(ops::name_transfer(&f, MAGIC, "aliceone.test", true, &ch, &a.script_pubkey())),
        "does not own",
    );
    let f = h.funding(&a);
    let bogus = ConsensusHash([7; 16]);
    let t = ops::name_transfer(&f, MAGIC, "aliceone.test", true, &bogus, &b.script_pubkey());
    assert_rejected(&h.mine1(t), "consensus hash");
    let (ch, f) = (h.ch(), h.funding(&a));
    assert_rejected(&h.mine1(ops::name_transfer(&f, MAGIC, "aliceone.test", true, &ch, &a.script_pubkey())), "same");
    let (ch, f) = (h.ch(), h.funding(&a));
    let t = ops::name_transfer(&f, MAGIC, "nobody.test", true, &ch, &b.script_pubkey());
    assert_rejected(&h.mine1(t), "not registered");

    // Keep data: b owns it with the same zone-file hash, no sender pubkey.
    let (ch, f) = (h.ch(), h.funding(&a));
    let op = h.mine1(ops::name_transfer(&f, MAGIC, "aliceone.test", true, &ch, &b.script_pubkey()));
    assert_accepted(&op);
    assert_eq!(op.op, ">>");
    let rec = h.store().name("aliceone.test").unwrap().unwrap();
    assert_eq!(
        (rec.address.clone(), rec.value_hash, rec.sender_pubkey.clone()),
        (b.address().to_string(), Some(zh), None)
    );
    // Quirk: no update since the registration, so the transfer's own hash is serialized.
    assert!(h.line(&op).ends_with(&format!("32:{},4:True", ch.to_hex())), "{}", h.line(&op));

    // Clear data: back to a without a zone file.
    let (ch, f) = (h.ch(), h.funding(&b));
    let op = h.mine1(ops::name_transfer(&f, MAGIC, "aliceone.test", false, &ch, &a.script_pubkey()));
    assert_accepted(&op);
    assert_eq!(op.op, ">~");
    let rec = h.store().name("aliceone.test").unwrap().unwrap();
    assert_eq!((rec.address, rec.value_hash), (a.address().to_string(), None));
    assert!(h.line(&op).ends_with(",5:False"), "{}", h.line(&op));
    h.assert_snapshot_verifies();
}

#[test]
fn transfer_serializes_the_last_updates_consensus_hash() {
    let mut h = Harness::new();
    ready_namespace(&mut h);
    let (a, b) = (h.a.clone(), h.b.clone());
    h.register(&a, "aliceone.test", None);
    let update_ch = h.ch();
    let f = h.funding(&a);
    assert_accepted(&h.mine1(ops::name_update(&f, MAGIC, "aliceone.test", &update_ch, &ValueHash([1; 20]))));
    h.mine(vec![]);
    let (ch, f) = (h.ch(), h.funding(&a));
    assert_ne!(ch, update_ch);
    let op = h.mine1(ops::name_transfer(&f, MAGIC, "aliceone.test", true, &ch, &b.script_pubkey()));
    assert_accepted(&op);
    let line = h.line(&op);
    assert!(line.ends_with(&format!("32:{},4:True", update_ch.to_hex())), "{line}");
    // Transfers do not stop the walk: a later transfer still finds the update.
    let (ch, f) = (h.ch(), h.funding(&b));
    let op = h.mine1(ops::name_transfer(&f, MAGIC, "aliceone.test", true, &ch, &a.script_pubkey()));
    assert!(h.line(&op).contains(&update_ch.to_hex()));
    h.assert_snapshot_verifies();
}

#[test]
fn after_a_transfer_only_the_new_owner_can_update() {
    let mut h = Harness::new();
    ready_namespace(&mut h);
    let (a, b) = (h.a.clone(), h.b.clone());
    h.register(&a, "aliceone.test", None);
    let (ch, f) = (h.ch(), h.funding(&a));
    assert_accepted(&h.mine1(ops::name_transfer(&f, MAGIC, "aliceone.test", true, &ch, &b.script_pubkey())));
    let (ch, f) = (h.ch(), h.funding(&a));
    assert_rejected(&h.mine1(ops::name_update(&f, MAGIC, "aliceone.test", &ch, &ValueHash([2; 20]))), "does not own");
    let f = h.funding(&b);
    assert_accepted(&h.mine1(ops::name_update(&f, MAGIC, "aliceone.test", &ch, &ValueHash([2; 20]))));
    assert_eq!(h.store().name("aliceone.test").unwrap().unwrap().value_hash, Some(ValueHash([2; 20])));
}

#[test]
fn revoke_by_owner_only_then_nothing_else() {
    let mut h = Harness::new();
    ready_namespace(&mut h);
    let (a, b) = (h.a.clone(), h.b.clone());
    h.register(&a, "aliceone.test", Some(ValueHash([4; 20])));
    let f = h.funding(&b);
    assert_rejected(&h.mine1(ops::name_revoke(&f, MAGIC, "aliceone.test")), "does not own");
    let f = h.funding(&a);
    assert_rejected(&h.mine1(ops::name_revoke(&f, MAGIC, "nobody.test")), "not registered");
    let f = h.funding(&a);
    let op = h.mine1(ops::name_revoke(&f, MAGIC, "aliceone.test"));
    assert_accepted(&op);
    assert!(h.line(&op).starts_with("~:13:aliceone.test,0:,"), "value hash cleared: {}", h.line(&op));
    let rec = h.store().name("aliceone.test").unwrap().unwrap();
    assert!(rec.revoked);
    assert_eq!(rec.value_hash, None);

    let (ch, f) = (h.ch(), h.funding(&a));
    assert_rejected(&h.mine1(ops::name_update(&f, MAGIC, "aliceone.test", &ch, &ValueHash([5; 20]))), "revoked");
    let f = h.funding(&a);
    assert_rejected(&h.mine1(ops::name_revoke(&f, MAGIC, "aliceone.test")), "revoked");
    let (ch, f) = (h.ch(), h.funding(&a));
    let t = ops::name_transfer(&f, MAGIC, "aliceone.test", true, &ch, &b.script_pubkey());
    assert_rejected(&h.mine1(t), "not registered");
    let renew = Renewal { value_hash: None, tokens: 0, price: PRICE, pay_to: &burn_address(NET) };
    let f = h.funding(&a);
    assert_rejected(&h.mine1(ops::name_renew(&f, MAGIC, "aliceone.test", &a.script_pubkey(), &renew, NET)), "revoked");
    h.assert_snapshot_verifies();
}

#[test]
fn renewal_extends_pays_and_may_set_a_zone_file() {
    let mut h = Harness::new();
    ready_namespace(&mut h);
    let (a, b) = (h.a.clone(), h.b.clone());
    let burn = burn_address(NET);
    h.register(&a, "aliceone.test", Some(ValueHash([6; 20])));
    let registered = h.store().name("aliceone.test").unwrap().unwrap();

    let renew = |value_hash, tokens, price, pay_to| Renewal { value_hash, tokens, price, pay_to };
    let r = renew(None, 0, PRICE, &burn);
    let f = h.funding(&a);
    let op = h.mine1(ops::name_renew(&f, MAGIC, "aliceone.test", &a.script_pubkey(), &r, NET));
    assert_accepted(&op);
    assert_eq!(op.op, "::");
    let rec = h.store().name("aliceone.test").unwrap().unwrap();
    assert_eq!(rec.last_renewed, op.height);
    assert!(rec.last_renewed > registered.last_renewed);
    assert_eq!(
        (rec.first_registered, rec.value_hash, rec.op_fee),
        (registered.first_registered, Some(ValueHash([6; 20])), PRICE)
    );
    assert!(h.line(&op).starts_with("::13:aliceone.test,"), "opchar ':' then the fields: {}", h.line(&op));

    // With a new zone file, to a new owner (allowed from epoch 3).
    let r = renew(Some(ValueHash([7; 20])), 0, PRICE, &burn);
    let f = h.funding(&a);
    assert_accepted(&h.mine1(ops::name_renew(&f, MAGIC, "aliceone.test", &b.script_pubkey(), &r, NET)));
    let rec = h.store().name("aliceone.test").unwrap().unwrap();
    assert_eq!((rec.value_hash, rec.address), (Some(ValueHash([7; 20])), b.address().to_string()));

    // Rejections: not the owner, underpaid, wrong payee, unregistered name.
    let r = renew(None, 0, PRICE, &burn);
    let f = h.funding(&a);
    assert_rejected(&h.mine1(ops::name_renew(&f, MAGIC, "aliceone.test", &a.script_pubkey(), &r, NET)), "does not own");
    let r = renew(None, 0, PRICE - 1, &burn);
    let f = h.funding(&b);
    assert_rejected(
        &h.mine1(ops::name_renew(&f, MAGIC, "aliceone.test", &b.script_pubkey(), &r, NET)),
        "does not cover",
    );
    let a_addr = a.address().to_string();
    let r = renew(None, 0, PRICE, &a_addr);
    let f = h.funding(&b);
    assert_rejected(
        &h.mine1(ops::name_renew(&f, MAGIC, "aliceone.test", &b.script_pubkey(), &r, NET)),
        "wrong address",
    );
    let r = renew(None, 0, PRICE, &burn);
    let f = h.funding(&b);
    assert_rejected(&h.mine1(ops::name_renew(&f, MAGIC, "nobody.test", &b.script_pubkey(), &r, NET)), "not registered");
    h.assert_snapshot_verifies();
}

#[test]
fn renewal_may_pay_in_stacks_from_the_owners_account() {
    let mut h = Harness::new();
    ready_namespace(&mut h);
    let (a, b) = (h.a.clone(), h.b.clone());
    h.register(&a, "aliceone.test", None);
    h.register(&b, "bobbyone.test", None);
    let burn = burn_address(NET);
    let stx = PRICE * 650 / 15;
    let before = h.balance(&a).unwrap();
    let r = Renewal { value_hash: Some(ValueHash([8; 20])), tokens: stx - 1, price: 0, pay_to: &burn };
    let f = h.funding(&a);
    assert_rejected(&h.mine1(ops::name_renew(&f, MAGIC, "aliceone.test", &a.script_pubkey(), &r, NET)), "STACKs");
    let r = Renewal { tokens: stx, ..r };
    let f = h.funding(&a);
    assert_accepted(&h.mine1(ops::name_renew(&f, MAGIC, "aliceone.test", &a.script_pubkey(), &r, NET)));
    assert_eq!(h.balance(&a), Some(before - stx));
    // b has no token account.
    let f = h.funding(&b);
    let op = h.mine1(ops::name_renew(&f, MAGIC, "bobbyone.test", &b.script_pubkey(), &r, NET));
    assert_rejected(&op, "no token account");
    h.assert_snapshot_verifies();
}

#[test]
fn imports_come_from_the_revealers_keyring_until_ready() {
    let mut h = Harness::new();
    reveal_namespace(&mut h);
    let (a, b) = (h.a.clone(), h.b.clone());
    let child = a.importer_child(5).unwrap();
    let stranger = Wallet::generate(NET);
    h.fund(&child);
    h.fund(&stranger);
    let (z1, z2) = (ValueHash([0x11; 20]), ValueHash([0x22; 20]));

    // The first import must come from the revealer, not even from its keyring.
    let f = h.funding(&child);
    let op = h.mine1(ops::name_import(&f, MAGIC, "imported.test", &b.script_pubkey(), &z1));
    assert_rejected(&op, "not an importer");
    let f = h.funding(&a);
    let first = h.mine1(ops::name_import(&f, MAGIC, "imported.test", &b.script_pubkey(), &z1));
    assert_accepted(&first);
    let rec = h.store().name("imported.test").unwrap().unwrap();
    assert_eq!((rec.address.clone(), rec.value_hash), (b.address().to_string(), Some(z1)));
    assert_eq!(rec.importer_address, Some(a.address().to_string()));
    assert_eq!(rec.sender_pubkey, Some(hex::encode(a.public_key().to_bytes())));
    assert_eq!((rec.first_registered, rec.last_creation_op.as_str()), (first.height, ";"));
    // op_fee is a float: 2500 -> "6:2500.0".
    assert!(h.line(&first).contains(",6:2500.0,"), "{}", h.line(&first));

    // Keyring child 5 may re-import (overwrite) and import more; a stranger may not.
    let f = h.funding(&child);
    assert_accepted(&h.mine1(ops::name_import(&f, MAGIC, "imported.test", &a.script_pubkey(), &z2)));
    let rec = h.store().name("imported.test").unwrap().unwrap();
    assert_eq!((rec.address.clone(), rec.value_hash), (a.address().to_string(), Some(z2)));
    assert_eq!((rec.first_registered, rec.block_number), (first.height, first.height));
    assert_eq!(rec.importer_address, Some(child.address().to_string()));
    let f = h.funding(&stranger);
    let op = h.mine1(ops::name_import(&f, MAGIC, "other.test", &b.script_pubkey(), &z1));
    assert_rejected(&op, "not an importer");
    assert!(h.store().name("other.test").unwrap().is_none());

    // Ready: imports end; the imported name is registered and its owner can use it.
    let f = h.funding(&a);
    assert_accepted(&h.mine1(ops::namespace_ready(&f, MAGIC, "test")));
    let f = h.funding(&a);
    let op = h.mine1(ops::name_import(&f, MAGIC, "late.test", &b.script_pubkey(), &z1));
    assert_rejected(&op, "is not revealed");
    let (ch, f) = (h.ch(), h.funding(&a));
    let op = h.mine1(ops::name_update(&f, MAGIC, "imported.test", &ch, &z1));
    assert_accepted(&op);
    // Still created by an import: the update's op_fee is a float too.
    assert!(h.line(&op).contains(",6:2500.0,"), "{}", h.line(&op));
    let (ch, f) = (h.ch(), h.funding(&a));
    let taken = ops::name_preorder(&f, MAGIC, "imported.test", &a.address().to_string(), &ch, PRICE, NET);
    assert_accepted(&h.mine1(taken));
    let f = h.funding(&a);
    let op = h.mine1(ops::name_register(&f, MAGIC, "imported.test", None, &a.script_pubkey()));
    assert_rejected(&op, "already registered");
    h.assert_snapshot_verifies();
}

#[test]
fn importer_child_keys_match_the_rules_keyring() {
    let a = Wallet::generate(NET);
    let ring = bns::bns::rules::import_keyring(&a.public_key().to_bytes(), NET).unwrap();
    assert_eq!(ring.len(), 301);
    assert!(ring.contains(&a.address().to_string()));
    for i in [0, 5, 299] {
        assert!(ring.contains(&a.importer_child(i).unwrap().address().to_string()), "child {i}");
    }
    assert!(!ring.contains(&a.importer_child(300).unwrap().address().to_string()));
}

#[test]
fn token_transfer_moves_balance() {
    let mut h = Harness::new();
    let (a, b) = (h.a.clone(), h.b.clone());
    let (ch, f) = (h.ch(), h.funding(&a));
    let op = h.mine1(ops::token_transfer(&f, MAGIC, &ch, 1_000, b"memo", &b.script_pubkey()));
    assert_accepted(&op);
    assert_eq!((h.balance(&a), h.balance(&b)), (Some(STX_ALLOCATION - 1_000), Some(1_000)));
    let line = h.line(&op);
    assert!(line.starts_with("$:") && line.contains(",6:STACKS,4:1000,") && line.ends_with(",8:6d656d6f"), "{line}");

    // All-zero consensus hash is fine from epoch 5; a bogus one is not.
    let f = h.funding(&b);
    assert_accepted(&h.mine1(ops::token_transfer(&f, MAGIC, &ConsensusHash([0; 16]), 400, b"", &a.script_pubkey())));
    assert_eq!((h.balance(&a), h.balance(&b)), (Some(STX_ALLOCATION - 600), Some(600)));
    let f = h.funding(&b);
    let op = h.mine1(ops::token_transfer(&f, MAGIC, &ConsensusHash([9; 16]), 1, b"", &a.script_pubkey()));
    assert_rejected(&op, "consensus hash");

    let (ch, f) = (h.ch(), h.funding(&b));
    assert_rejected(&h.mine1(ops::token_transfer(&f, MAGIC, &ch, 601, b"", &a.script_pubkey())), "needs 601");
    let (ch, f) = (h.ch(), h.funding(&a));
    assert_rejected(&h.mine1(ops::token_transfer(&f, MAGIC, &ch, 0, b"", &b.script_pubkey())), "zero-value");
    let (ch, f) = (h.ch(), h.funding(&a));
    assert_rejected(&h.mine1(ops::token_transfer(&f, MAGIC, &ch, 5, b"", &a.script_pubkey())), "same");
    let c = Wallet::generate(NET);
    h.fund(&c);
    let (ch, f) = (h.ch(), h.funding(&c));
    assert_rejected(&h.mine1(ops::token_transfer(&f, MAGIC, &ch, 5, b"", &a.script_pubkey())), "no token account");
    assert_eq!(h.balance(&b), Some(600));
    h.assert_snapshot_verifies();
}

#[test]
fn announce_only_from_an_announcer_names_owner_and_hashes_like_an_empty_block() {
    let mut h = Harness::with(1, STX_ALLOCATION, &["aliceone.test"]);
    ready_namespace(&mut h);
    let (a, b) = (h.a.clone(), h.b.clone());
    let msg = AnnounceHash([0xab; 20]);
    let f = h.funding(&a);
    assert_rejected(&h.mine1(ops::announce(&f, MAGIC, &msg)), "announcer");
    h.register(&a, "aliceone.test", None);
    let f = h.funding(&b);
    assert_rejected(&h.mine1(ops::announce(&f, MAGIC, &msg)), "announcer");
    let f = h.funding(&a);
    let op = h.mine1(ops::announce(&f, MAGIC, &msg));
    assert_accepted(&op);
    assert_eq!(h.line(&op), "");
    // It contributes nothing: the block hashes as if it had no ops.
    let prev: Vec<ConsensusHash> = prev_consensus_heights(op.height, 1)
        .into_iter()
        .map(|k| h.store().block_at(k).unwrap().unwrap().consensus_hash)
        .collect();
    let expected = consensus_hash(EMPTY_OPS_HASH, &prev).unwrap();
    assert_eq!(h.store().block_at(op.height).unwrap().unwrap().consensus_hash, expected);
    h.assert_snapshot_verifies();
}

#[test]
fn atlas_inventory_has_a_row_per_op_that_announces_a_hash_and_rolls_back_with_its_block() {
    let mut h = Harness::new();
    ready_namespace(&mut h);
    let (a, b) = (h.a.clone(), h.b.clone());
    let burn = burn_address(NET);
    h.register(&a, "aliceone.test", Some(ValueHash([1; 20])));
    h.register(&a, "bobbytwo.test", None); // no hash: no row
    let ch = h.ch();
    let f = h.funding(&a);
    assert_accepted(&h.mine1(ops::name_update(&f, MAGIC, "bobbytwo.test", &ch, &ValueHash([2; 20]))));
    // A renewal without a new hash re-announces the inherited one (Core's quirk: another row).
    let r = Renewal { value_hash: None, tokens: 0, price: PRICE, pay_to: &burn };
    let f = h.funding(&a);
    assert_accepted(&h.mine1(ops::name_renew(&f, MAGIC, "aliceone.test", &a.script_pubkey(), &r, NET)));
    let renewed_at = h.chain.height();
    // A transfer keeping the data adds nothing.
    let ch = h.ch();
    let f = h.funding(&a);
    assert_accepted(&h.mine1(ops::name_transfer(&f, MAGIC, "bobbytwo.test", true, &ch, &b.script_pubkey())));
    let rows = h.store().inventory_rows(0, 100).unwrap();
    let got: Vec<(u64, &str, ValueHash)> = rows.iter().map(|r| (r.index, r.name.as_str(), r.hash)).collect();
    assert_eq!(
        got,
        vec![
            (1, "aliceone.test", ValueHash([1; 20])),
            (2, "bobbytwo.test", ValueHash([2; 20])),
            (3, "aliceone.test", ValueHash([1; 20])),
        ]
    );
    assert_eq!(h.store().inventory_len().unwrap(), 3);
    assert_eq!(h.store().inventory_by_block(renewed_at, renewed_at, 0, 100).unwrap().len(), 1);
    // Undo the renewal's block (and the transfer's): its row goes with it.
    h.indexer.store_mut().rollback_to(renewed_at - 1).unwrap();
    assert_eq!(h.store().inventory_len().unwrap(), 2);
    assert_eq!(h.store().inventory_rows(0, 100).unwrap().last().unwrap().name, "bobbytwo.test");
}
