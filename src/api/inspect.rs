//! What the query commands print: names, history, namespaces, prices, and
//! decoded ops, as JSON in Core's field names where Core had an equivalent.

use anyhow::{anyhow, bail, Context as _};
use bitcoin::consensus::deserialize;
use bitcoin::{Network, Transaction};
use serde_json::{json, Value};

use crate::bns::names::{quote, split_fqn};
use crate::bns::{ChainParams, Liveness};
use crate::store::Store;
use crate::virtualchain::scan::op_return_data;
use crate::virtualchain::wire::Op;

/// Chain parameters the store was indexed with.
pub fn stored_params(store: &Store) -> anyhow::Result<ChainParams> {
    let json =
        store.meta("chain_params")?.ok_or_else(|| anyhow!("this data dir has no index yet: start `bns dev` first"))?;
    serde_json::from_str(&json).context("stored chain parameters are corrupt")
}

fn tip(store: &Store) -> anyhow::Result<u64> {
    Ok(store.last_block()?.map(|b| b.height).unwrap_or(0))
}

/// `bns name show`: the name's record and status at the indexed tip.
pub fn name_show(store: &Store, fqn: &str) -> anyhow::Result<Value> {
    let params = stored_params(store)?;
    if super::subdomains::is_subdomain_name(fqn) {
        return super::subdomains::show(store, fqn);
    }
    let Some(rec) = store.name(fqn)? else {
        return Ok(json!({ "name": fqn, "status": "available" }));
    };
    let ns = store.namespace(&rec.namespace_id)?.ok_or_else(|| anyhow!("namespace {} missing", rec.namespace_id))?;
    let h = tip(store)?;
    let epoch = params.epoch_at(h);
    let liveness = rec.liveness(&ns, &epoch, h);
    let status = match (rec.revoked, liveness) {
        (true, _) => "revoked",
        (false, Liveness::Expired) => "expired",
        (false, _) => "registered",
    };
    let expire = rec.expire_block(&ns, &epoch);
    let zonefile = match rec.value_hash {
        Some(hash) => store.zonefile(&hash)?.map(|z| String::from_utf8_lossy(&z).into_owned()),
        None => None,
    };
    Ok(json!({
        "name": fqn,
        "status": status,
        "address": rec.address,
        "blockchain": "bitcoin",
        "zonefile_hash": rec.value_hash,
        "zonefile": zonefile,
        "last_txid": rec.txid,
        "expire_block": expire,
        "renewal_deadline": expire.map(|e| e + epoch.grace_period),
        "grace_period": liveness == Liveness::Grace,
        "record": rec,
    }))
}

/// `bns name history`: `{ "<block>": [record, ...] }` as Core's API returns it.
pub fn history(store: &Store, key: &str) -> anyhow::Result<Value> {
    if super::subdomains::is_subdomain_name(key) {
        return super::subdomains::history(store, key);
    }
    let mut out = serde_json::Map::new();
    for e in store.history(key)? {
        let entry = out.entry(e.height.to_string()).or_insert_with(|| Value::Array(vec![]));
        if let Value::Array(list) = entry {
            list.push(e.record);
        }
    }
    if out.is_empty() {
        bail!("no history for {key:?}");
    }
    Ok(Value::Object(out))
}

/// `bns namespace show`.
pub fn namespace_show(store: &Store, id: &str) -> anyhow::Result<Value> {
    let ns = store.namespace(id)?.ok_or_else(|| anyhow!("namespace {id:?} is not revealed"))?;
    let names = store.names_in_namespace(id, 0, u64::MAX)?.len();
    Ok(json!({ "namespace": ns, "ready": ns.is_ready(), "name_count": names }))
}

/// `bns price`: the name's price at the next block, with the rule used.
pub fn price(store: &Store, fqn: &str) -> anyhow::Result<Value> {
    let params = stored_params(store)?;
    let (label, ns_id) = split_fqn(fqn).ok_or_else(|| anyhow!("{fqn:?} is not a valid name (name.namespace)"))?;
    let ns = store.namespace(ns_id)?.ok_or_else(|| anyhow!("namespace {ns_id:?} is not revealed"))?;
    let block = tip(store)? + 1;
    let q = quote(label, &ns.price_function(), &params.epoch_at(block), ns.version == 3);
    Ok(json!({ "name": fqn, "at_block": block, "namespace_version": ns.version, "price": q }))
}

/// `bns op decode`: a raw transaction or an OP_RETURN payload (with or
/// without the magic bytes) to its fields, under the rules of `epoch`.
pub fn op_decode(hex_in: &str, epoch: u8, magic: [u8; 2], network: Network) -> anyhow::Result<Value> {
    let bytes = hex::decode(hex_in.trim()).context("input is not hex")?;
    if let Ok(tx) = deserialize::<Transaction>(&bytes) {
        let payload = op_return_data(&tx).ok_or_else(|| anyhow!("transaction has no OP_RETURN output"))?;
        let outputs: Vec<Value> = tx
            .output
            .iter()
            .map(|o| {
                let address = bitcoin::Address::from_script(&o.script_pubkey, network).ok().map(|a| a.to_string());
                json!({ "value": o.value.to_sat(), "script": hex::encode(o.script_pubkey.as_bytes()), "address": address })
            })
            .collect();
        let op = payload.strip_prefix(&magic[..]).map(|p| Op::decode(p, epoch));
        return Ok(json!({
            "txid": tx.compute_txid().to_string(),
            "outputs": outputs,
            "magic_ok": op.is_some(),
            "op": op.as_ref().map(|r| r.as_ref().map(|o| json!(o)).unwrap_or_else(|e| json!({ "error": e.to_string() }))),
        }));
    }
    let body = bytes.strip_prefix(&magic[..]).unwrap_or(&bytes);
    let op = Op::decode(body, epoch).map_err(|e| anyhow!("not a transaction, and not a BNS payload: {e}"))?;
    Ok(json!({ "epoch": epoch, "op": op }))
}
