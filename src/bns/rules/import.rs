//! Name import (`;`) into a revealed, not yet ready namespace, sent by a key
//! of the namespace's importer keyring.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use bitcoin::bip32::{ChainCode, ChildNumber, Fingerprint, Xpub};
use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{PublicKey, SECP256K1};
use bitcoin::NetworkKind;

use super::*;
use crate::hash::hash160;

/// Children derived from the first importer's key (Core's `NAME_IMPORT_KEYRING_SIZE`).
pub const NAME_IMPORT_KEYRING_SIZE: u32 = 300;

/// A pushed public key as keylib reads it: raw 64-byte `x||y` keys get the `04` prefix.
fn key_bytes(pubkey: &[u8]) -> Vec<u8> {
    if pubkey.len() == 64 {
        [&[4u8][..], pubkey].concat()
    } else {
        pubkey.to_vec()
    }
}

/// The p2pkh address of a public key, in the form given (compressed or not).
fn p2pkh_address(pubkey: &[u8], network: bitcoin::Network) -> String {
    let hash = bitcoin::PubkeyHash::from_byte_array(hash160(&key_bytes(pubkey)));
    bitcoin::Address::p2pkh(hash, NetworkKind::from(network)).to_string()
}

/// The addresses allowed to import into a namespace whose first import was
/// sent with public key `root` (as pushed): the p2pkh addresses of the
/// non-hardened children `0..300` (compressed) of the BIP32 xpub with depth 0,
/// parent fingerprint 0, child number 0, a chain code of 32 zero bytes and
/// `root` as key, plus `root`'s own address. `None` if `root` is not a key.
pub fn import_keyring(root: &[u8], network: bitcoin::Network) -> Option<HashSet<String>> {
    let key = PublicKey::from_slice(&key_bytes(root)).ok()?;
    let xpub = Xpub {
        network: NetworkKind::from(network),
        depth: 0,
        parent_fingerprint: Fingerprint::default(),
        child_number: ChildNumber::Normal { index: 0 },
        public_key: key,
        chain_code: ChainCode::from([0u8; 32]),
    };
    let mut out = HashSet::with_capacity(NAME_IMPORT_KEYRING_SIZE as usize + 1);
    for index in 0..NAME_IMPORT_KEYRING_SIZE {
        let child = xpub.ckd_pub(SECP256K1, ChildNumber::Normal { index }).ok()?;
        out.insert(p2pkh_address(&child.public_key.serialize(), network));
    }
    out.insert(p2pkh_address(root, network));
    Some(out)
}

/// [`import_keyring`], memoized (imports come in long runs with one root).
fn cached_keyring(root: &[u8], network: bitcoin::Network) -> Option<std::sync::Arc<HashSet<String>>> {
    type Cache = Mutex<Vec<((Vec<u8>, bitcoin::Network), std::sync::Arc<HashSet<String>>)>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(Vec::new()));
    let key = (root.to_vec(), network);
    if let Ok(c) = cache.lock() {
        if let Some((_, ring)) = c.iter().find(|(k, _)| *k == key) {
            return Some(ring.clone());
        }
    }
    let ring = std::sync::Arc::new(import_keyring(root, network)?);
    if let Ok(mut c) = cache.lock() {
        if c.len() >= 8 {
            c.remove(0);
        }
        c.push((key, ring.clone()));
    }
    Some(ring)
}

pub(super) fn name_import(
    view: &dyn StateView,
    ctx: &Ctx<'_>,
    tx: &OpTx,
    op: &wire::NameImport,
) -> Result<Accepted, Rejection> {
    let fqn = op.name.as_str();
    let pubkey = tx.sender_pubkey.as_deref().ok_or(Rejection::Missing("a p2pkh sender with a public key"))?;
    let (label, ns_id) = split_fqn(fqn).ok_or_else(|| Rejection::InvalidName(fqn.to_string()))?;
    let ns = view.namespace(ns_id)?.ok_or(Rejection::Namespace { ns: ns_id.into(), why: "is not revealed" })?;
    if !ns.is_revealed_at(ctx.h()) {
        return Err(Rejection::Namespace { ns: ns_id.into(), why: "is not revealed (or is already ready)" });
    }
    let sender_address = p2pkh_address(pubkey, ctx.network);
    let mut effects = Vec::with_capacity(2);
    let root = match view.import_keyring(ns_id)? {
        Some(root) => hex::decode(&root).map_err(|e| Rejection::View(format!("import keyring of {ns_id}: {e}")))?,
        None => {
            // The first import must come from the revealer, whose key roots the keyring.
            if sender_address != ns.recipient_address {
                return Err(Rejection::NotImporter(sender_address));
            }
            effects.push(Effect::PutImportKeyring { namespace_id: ns_id.to_string(), pubkey: hex::encode(pubkey) });
            pubkey.to_vec()
        }
    };
    let ring = cached_keyring(&root, ctx.network).ok_or_else(|| Rejection::NotImporter(sender_address.clone()))?;
    if !ring.contains(&sender_address) {
        return Err(Rejection::NotImporter(sender_address));
    }
    let r = tx.recipient.clone().ok_or(Rejection::Missing("a recipient output"))?;
    let value_hash = tx.import_value_hash.ok_or(Rejection::Missing("a zone-file hash output"))?;
    // A re-import overwrites the name but keeps its first import's blocks.
    let prev = view.name(fqn)?.filter(|p| {
        p.liveness(&ns, &ctx.params.epoch_at(ctx.h()), ctx.h()) != Liveness::Expired
            && (p.block_number < ctx.block || (p.block_number == ctx.block && p.vtxindex < tx.vtxindex))
    });
    let (block_number, preorder_block_number, first_registered, last_renewed) = match &prev {
        Some(p) => (p.block_number, p.preorder_block_number, p.first_registered, p.last_renewed),
        None => (ctx.block, ctx.block, ctx.block, ctx.block),
    };
    // QUIRK: op_fee is float(price) in satoshis; STACKs namespaces record 0.
    let op_fee = if ns.version == 3 {
        0
    } else {
        match name_price(label, &ns.price_function(), &ctx.params.epoch_at(ctx.block), false) {
            crate::bns::names::Price::Float(p) => p as u64,
            crate::bns::names::Price::Int(p) => p,
        }
    };
    let rec = NameRecord {
        name: fqn.to_string(),
        namespace_id: ns_id.to_string(),
        value_hash: Some(value_hash),
        sender: hexs(&r.script),
        sender_pubkey: pubkey_hex(tx),
        address: r.address,
        block_number,
        preorder_block_number,
        first_registered,
        last_renewed,
        revoked: false,
        op: ";".into(),
        txid: tx.txid.to_string(),
        vtxindex: tx.vtxindex,
        op_fee,
        importer: Some(hexs(&tx.sender)),
        importer_address: Some(sender_address),
        last_creation_op: ";".into(),
        last_block: ctx.block,
    };
    let fields = cf::name_renew_or_import(&rec);
    effects.push(Effect::PutName(rec));
    Ok(Accepted { opchar: ';', fields, history_extra: HistoryExtra::default(), effects })
}
