//! The dev-flow rules on a real dev chain: every rejected op is stored with
//! its reason, and accepted ops change state as Core's rules say.

use bitcoin::Transaction;
use bns::hash::{ConsensusHash, ValueHash};
use bns::tx::ops::{self, RevealParams};
use bns::tx::{build_and_sign, OutputSpec};

mod support;

use support::harness::*;

#[test]
fn namespace_and_name_lifecycle_with_rejections() {
    let mut h = Harness::new();
    let (a, b) = (h.a.clone(), h.b.clone());
    let a_addr = Harness::addr(&a);

    // Namespace preorder with a consensus hash from nowhere: rejected.
    let mut f = h.funding(&a);
    let bogus = ConsensusHash([7; 16]);
    let stale = f.next::<_, bns::tx::TxError>(ops::namespace_preorder(
        &f,
        MAGIC,
        "test",
        &a_addr,
        &bogus,
        1000,
        Some(TEST_NS_STX),
        NET,
    ));
    let ops = h.mine(vec![stale.unwrap()]);
    assert_rejected(&ops[0], "consensus hash");

    // A good one, then a duplicate of the same hash in the next block.
    let ch = h.ch();
    let f = h.funding(&a);
    let pre = ops::namespace_preorder(&f, MAGIC, "test", &a_addr, &ch, 5_500, Some(TEST_NS_STX), NET).unwrap();
    assert_accepted(&h.mine(vec![pre])[0]);
    let ch = h.ch();
    let f = h.funding(&a);
    let dup = ops::namespace_preorder(&f, MAGIC, "test", &a_addr, &ch, 5_500, Some(TEST_NS_STX), NET).unwrap();
    assert_rejected(&h.mine(vec![dup])[0], "already used");

    // B cannot reveal A's preorder; A can.
    let f = h.funding(&b);
    let rb = ops::namespace_reveal(&f, MAGIC, "test", &params(), &a.script_pubkey()).unwrap();
    assert_rejected(&h.mine(vec![rb])[0], "no preorder");
    let f = h.funding(&a);
    let ra = ops::namespace_reveal(&f, MAGIC, "test", &params(), &a.script_pubkey()).unwrap();
    assert_accepted(&h.mine(vec![ra])[0]);
    let ns = h.indexer.store().namespace("test").unwrap().unwrap();
    assert_eq!((ns.coeff, ns.lifetime, ns.ready_block), (250, 52_595, None));

    // Registering before the namespace is ready fails.
    let ch = h.ch();
    let f = h.funding(&a);
    let p = ops::name_preorder(&f, MAGIC, "early.test", &a_addr, &ch, 1_000_000, NET).unwrap();
    assert_accepted(&h.mine(vec![p])[0]);
    let f = h.funding(&a);
    let r = ops::name_register(&f, MAGIC, "early.test", None, &a.script_pubkey()).unwrap();
    assert_rejected(&h.mine(vec![r])[0], "is not ready");

    // Only the revealer may launch it.
    let f = h.funding(&b);
    let rdy = ops::namespace_ready(&f, MAGIC, "test").unwrap();
    assert_rejected(&h.mine(vec![rdy])[0], "does not own");
    let f = h.funding(&a);
    let rdy = ops::namespace_ready(&f, MAGIC, "test").unwrap();
    assert_accepted(&h.mine(vec![rdy])[0]);
    assert!(h.indexer.store().namespace("test").unwrap().unwrap().is_ready());

    // A preorder made before ready cannot be used after it.
    let f = h.funding(&a);
    let r = ops::name_register(&f, MAGIC, "early.test", None, &a.script_pubkey()).unwrap();
    assert_rejected(&h.mine(vec![r])[0], "before the namespace was ready");

    // Underpaid: "abc" costs 250*4^4*100/10 = 640000 sat in epoch >= 4.
    let ch = h.ch();
    let f = h.funding(&a);
    let p = ops::name_preorder(&f, MAGIC, "abc.test", &a_addr, &ch, 639_999, NET).unwrap();
    assert_accepted(&h.mine(vec![p])[0]);
    let f = h.funding(&a);
    let r = ops::name_register(&f, MAGIC, "abc.test", None, &a.script_pubkey()).unwrap();
    assert_rejected(&h.mine(vec![r])[0], "does not cover price");

    // Paid in full, with a zone-file hash: accepted.
    let zf = b"$ORIGIN abcd.test\n$TTL 3600\n@ IN A 192.0.2.1\n";
    let zh = ValueHash::of_zonefile(zf);
    let ch = h.ch();
    let f = h.funding(&a);
    let p = ops::name_preorder(&f, MAGIC, "abcd.test", &a_addr, &ch, 160_000, NET).unwrap();
    assert_accepted(&h.mine(vec![p])[0]);
    let f = h.funding(&a);
    let r = ops::name_register(&f, MAGIC, "abcd.test", Some(zh), &a.script_pubkey()).unwrap();
    let reg_ops = h.mine(vec![r]);
    assert_accepted(&reg_ops[0]);
    let rec = h.indexer.store().name("abcd.test").unwrap().unwrap();
    assert_eq!(rec.value_hash, Some(zh));
    assert_eq!(rec.address, a_addr);
    assert_eq!(rec.first_registered, reg_ops[0].height);
    h.indexer.store().put_zonefile(zf, "test").unwrap();
    // A zone file nobody announced is refused.
    let err = h.indexer.store().put_zonefile(b"$ORIGIN x.test\n", "test").unwrap_err();
    assert!(err.to_string().contains("not announced"), "{err}");

    // Registered names cannot be registered again.
    let ch = h.ch();
    let f = h.funding(&a);
    let p = ops::name_preorder(&f, MAGIC, "abcd.test", &a_addr, &ch, 160_000, NET).unwrap();
    assert_accepted(&h.mine(vec![p])[0]);
    let f = h.funding(&a);
    let r = ops::name_register(&f, MAGIC, "abcd.test", None, &a.script_pubkey()).unwrap();
    assert_rejected(&h.mine(vec![r])[0], "already registered");

    // B cannot update A's name; A can.
    let new_hash = ValueHash([9; 20]);
    let ch = h.ch();
    let f = h.funding(&b);
    let u = ops::name_update(&f, MAGIC, "abcd.test", &ch, &new_hash).unwrap();
    assert_rejected(&h.mine(vec![u])[0], "does not own");
    let f = h.funding(&a);
    let u = ops::name_update(&f, MAGIC, "abcd.test", &ch, &new_hash).unwrap();
    assert_accepted(&h.mine(vec![u])[0]);
    assert_eq!(h.indexer.store().name("abcd.test").unwrap().unwrap().value_hash, Some(new_hash));

    // Two valid registrations of one name in one block: both fail.
    let ch = h.ch();
    let mut fa = h.funding(&a);
    let mut fb = h.funding(&b);
    let pa = fa.next::<_, bns::tx::TxError>(ops::name_preorder(&fa, MAGIC, "twin.test", &a_addr, &ch, 160_000, NET));
    let pb = fb.next::<_, bns::tx::TxError>(ops::name_preorder(
        &fb,
        MAGIC,
        "twin.test",
        &Harness::addr(&b),
        &ch,
        160_000,
        NET,
    ));
    let pre_ops = h.mine(vec![pa.unwrap(), pb.unwrap()]);
    pre_ops.iter().for_each(assert_accepted);
    let fa = h.funding(&a);
    let fb = h.funding(&b);
    let ra = ops::name_register(&fa, MAGIC, "twin.test", None, &a.script_pubkey()).unwrap();
    let rb = ops::name_register(&fb, MAGIC, "twin.test", None, &b.script_pubkey()).unwrap();
    let reg = h.mine(vec![ra, rb]);
    assert_eq!(reg.len(), 2);
    reg.iter().for_each(|o| assert_rejected(o, "more than once"));
    assert!(h.indexer.store().name("twin.test").unwrap().is_none());
}

#[test]
fn garbage_payloads_are_stored_as_rejected_and_never_stop_indexing() {
    let mut h = Harness::new();
    let a = h.a.clone();
    let junk: Vec<Vec<u8>> = vec![
        b"id?short".to_vec(),
        b"id:".to_vec(),
        b"id&\x00\x00".to_vec(),
        b"id+0123456789".to_vec(),
        [b"id>".to_vec(), vec![0xff; 40]].concat(),
        [b"id!".to_vec(), vec![0x80, 0x81]].concat(),
    ];
    let mut f = h.funding(&a);
    let txs: Vec<Transaction> = junk
        .iter()
        .map(|j| {
            let utxos = f.utxos.clone();
            f.next::<_, bns::tx::TxError>(build_and_sign(
                &a,
                &utxos,
                &[OutputSpec::Data(j.clone()), OutputSpec::Change],
                2,
            ))
            .unwrap()
        })
        .collect();
    let ops = h.mine(txs);
    assert_eq!(ops.len(), junk.len(), "every junk op is recorded: {ops:?}");
    for op in &ops {
        assert!(!op.accepted && op.reason.as_deref().is_some_and(|r| !r.is_empty()), "{op:?}");
    }
    // The next block indexes normally.
    assert!(h.mine(vec![]).is_empty());
}

/// Reveals and launches namespace `test` (owned by wallet a).
fn ready_namespace(h: &mut Harness) {
    let a = h.a.clone();
    let (ch, f) = (h.ch(), h.funding(&a));
    let p = ops::namespace_preorder(&f, MAGIC, "test", &Harness::addr(&a), &ch, 5_500, Some(TEST_NS_STX), NET).unwrap();
    assert_accepted(&h.mine(vec![p])[0]);
    let f = h.funding(&a);
    assert_accepted(&h.mine(vec![ops::namespace_reveal(&f, MAGIC, "test", &params(), &a.script_pubkey()).unwrap()])[0]);
    let f = h.funding(&a);
    assert_accepted(&h.mine(vec![ops::namespace_ready(&f, MAGIC, "test").unwrap()])[0]);
}

#[test]
fn genesis_consensus_hash_is_valid_in_the_first_blocks() {
    // BNS processing starts at block 103; its ops may carry the genesis snapshot hash.
    let mut h = Harness::with(103, STX_ALLOCATION, &[]);
    assert_eq!(h.chain.height(), 102);
    let a = h.a.clone();
    let genesis: ConsensusHash = "17ac43c1d8549c3181b200f1bf97eb7d".parse().unwrap();
    let f = h.funding(&a);
    let p = ops::namespace_preorder(&f, MAGIC, "test", &Harness::addr(&a), &genesis, 5_500, Some(TEST_NS_STX), NET);
    let ops = h.mine(vec![p.unwrap()]);
    assert_eq!(ops[0].height, 103);
    assert_accepted(&ops[0]);
}

#[test]
fn namespace_prices_are_paid_in_stacks_from_a_token_account() {
    // b has no token account.
    let mut h = Harness::new();
    let (a, b) = (h.a.clone(), h.b.clone());
    let (ch, f) = (h.ch(), h.funding(&b));
    let p = ops::namespace_preorder(&f, MAGIC, "test", &Harness::addr(&b), &ch, 5_500, Some(TEST_NS_STX), NET);
    assert_rejected(&h.mine(vec![p.unwrap()])[0], "has no token account");
    // a pays one micro-STX too little: the preorder passes, the reveal fails.
    let (ch, f) = (h.ch(), h.funding(&a));
    let p = ops::namespace_preorder(&f, MAGIC, "test", &Harness::addr(&a), &ch, 5_500, Some(TEST_NS_STX - 1), NET);
    assert_accepted(&h.mine(vec![p.unwrap()])[0]);
    let f = h.funding(&a);
    let r = ops::namespace_reveal(&f, MAGIC, "test", &params(), &a.script_pubkey()).unwrap();
    assert_rejected(&h.mine(vec![r])[0], "namespace price in STACKs");
    // More than the account holds.
    let mut h = Harness::with(1, TEST_NS_STX - 1, &[]);
    let a = h.a.clone();
    let (ch, f) = (h.ch(), h.funding(&a));
    let p = ops::namespace_preorder(&f, MAGIC, "test", &Harness::addr(&a), &ch, 5_500, Some(TEST_NS_STX), NET);
    assert_rejected(&h.mine(vec![p.unwrap()])[0], "needs 6400000000");
}

#[test]
fn a_name_created_earlier_in_the_block_cannot_be_created_again() {
    let mut h = Harness::new();
    ready_namespace(&mut h);
    let (a, b) = (h.a.clone(), h.b.clone());
    let ch = h.ch();
    let f = h.funding(&a);
    let p = ops::name_preorder(&f, MAGIC, "dup.test", &Harness::addr(&a), &ch, 640_000, NET).unwrap();
    assert_accepted(&h.mine(vec![p])[0]);
    // One block: a registers (valid), b preorders, b registers (passes its own
    // check because a's name is not live until the next block): b must fail.
    let fa = h.funding(&a);
    let ra = ops::name_register(&fa, MAGIC, "dup.test", None, &a.script_pubkey()).unwrap();
    let mut fb = h.funding(&b);
    let pb = fb
        .next::<_, bns::tx::TxError>(ops::name_preorder(&fb, MAGIC, "dup.test", &Harness::addr(&b), &ch, 640_000, NET))
        .unwrap();
    let rb = ops::name_register(&fb, MAGIC, "dup.test", None, &b.script_pubkey()).unwrap();
    let ops = h.mine(vec![ra, pb, rb]);
    assert_accepted(&ops[0]);
    assert_accepted(&ops[1]);
    assert_rejected(&ops[2], "more than once");
    assert_eq!(h.indexer.store().name("dup.test").unwrap().unwrap().address, Harness::addr(&a));
}

#[test]
fn an_address_owns_at_most_25_names() {
    let mut h = Harness::new();
    ready_namespace(&mut h);
    let a = h.a.clone();
    let me = Harness::addr(&a);
    let names: Vec<String> = (0..26).map(|i| format!("name{i:02}x.test")).collect();
    let ch = h.ch();
    let mut f = h.funding(&a);
    let pre: Vec<_> = names
        .iter()
        .map(|n| f.next::<_, bns::tx::TxError>(ops::name_preorder(&f, MAGIC, n, &me, &ch, 2_500, NET)).unwrap())
        .collect();
    h.mine(pre).iter().for_each(assert_accepted);
    let mut f = h.funding(&a);
    let reg: Vec<_> = names
        .iter()
        .map(|n| f.next::<_, bns::tx::TxError>(ops::name_register(&f, MAGIC, n, None, &a.script_pubkey())).unwrap())
        .collect();
    let ops = h.mine(reg);
    ops[..25].iter().for_each(assert_accepted);
    assert_rejected(&ops[25], "limit is 25");
    // With 25 names, a may not even preorder another.
    let (ch, f) = (h.ch(), h.funding(&a));
    let p = ops::name_preorder(&f, MAGIC, "one-more.test", &me, &ch, 2_500, NET).unwrap();
    assert_rejected(&h.mine(vec![p])[0], "limit is 25");
}

#[test]
fn consensus_hashes_are_valid_for_24_blocks() {
    let mut h = Harness::new();
    let a = h.a.clone();
    let old = h.ch();
    for _ in 0..23 {
        h.mine(vec![]);
    }
    // The next block is 24 after `old`'s: still inside the window.
    let f = h.funding(&a);
    let p = ops::namespace_preorder(&f, MAGIC, "test", &Harness::addr(&a), &old, 5_500, Some(TEST_NS_STX), NET);
    assert_accepted(&h.mine(vec![p.unwrap()])[0]);
    // One block later it is 25 blocks old.
    let f = h.funding(&a);
    let p = ops::namespace_preorder(&f, MAGIC, "tset", &Harness::addr(&a), &old, 5_500, Some(TEST_NS_STX), NET);
    assert_rejected(&h.mine(vec![p.unwrap()])[0], "not one of the last 24 blocks");
}

#[test]
fn version_2_namespaces_pay_their_creator_in_the_first_year() {
    let mut h = Harness::new();
    let (a, b) = (h.a.clone(), h.b.clone());
    let (ch, f) = (h.ch(), h.funding(&a));
    let p = ops::namespace_preorder(&f, MAGIC, "test", &Harness::addr(&a), &ch, 5_500, Some(TEST_NS_STX), NET).unwrap();
    assert_accepted(&h.mine(vec![p])[0]);
    let v2 = RevealParams { version: 2, ..params() };
    let f = h.funding(&a);
    assert_accepted(&h.mine(vec![ops::namespace_reveal(&f, MAGIC, "test", &v2, &a.script_pubkey()).unwrap()])[0]);
    let f = h.funding(&a);
    assert_accepted(&h.mine(vec![ops::namespace_ready(&f, MAGIC, "test").unwrap()])[0]);
    // b buys two names: one burning the fee (wrong for v2), one paying a (the creator).
    let b_addr = Harness::addr(&b);
    let ch = h.ch();
    let mut f = h.funding(&b);
    let burned =
        f.next::<_, bns::tx::TxError>(ops::name_preorder(&f, MAGIC, "burnt.test", &b_addr, &ch, 160_000, NET)).unwrap();
    let paid = ops::name_preorder_paying(&f, MAGIC, "paidd.test", &b_addr, &ch, 160_000, &a.script_pubkey()).unwrap();
    h.mine(vec![burned, paid]).iter().for_each(assert_accepted);
    let mut f = h.funding(&b);
    let r1 =
        f.next::<_, bns::tx::TxError>(ops::name_register(&f, MAGIC, "burnt.test", None, &b.script_pubkey())).unwrap();
    let r2 = ops::name_register(&f, MAGIC, "paidd.test", None, &b.script_pubkey()).unwrap();
    let ops = h.mine(vec![r1, r2]);
    assert_rejected(&ops[0], "wrong address");
    assert_accepted(&ops[1]);
}
