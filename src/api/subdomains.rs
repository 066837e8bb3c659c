//! Subdomains in the query commands and the API (`bns name show|history`,
//! `bns explain`, `GET /v1/names/{sub.name.ns}`): Core v21's shapes.

use serde_json::{json, Value};

use crate::hash::ValueHash;
use crate::store::{Store, SubdomainRow};
use crate::zonefile::{self, ZoneFile};

/// Does `fqn` have the three labels of a subdomain (`label.name.ns`)?
pub fn is_subdomain_name(fqn: &str) -> bool {
    fqn.split('.').count() == 3 && fqn.split('.').all(|l| !l.is_empty())
}

/// Core's `SubdomainRecord.to_json` for one stored row.
pub fn record_json(r: &SubdomainRow) -> Value {
    json!({
        "fully_qualified_subdomain": r.fqn,
        "domain": r.domain,
        "sequence": r.seqn,
        "owner": r.owner,
        "address": r.owner,
        "zonefile_hash": ValueHash::of_zonefile(&r.zonefile),
        "signature": r.sig,
        "block_height": r.height,
        "parent_zonefile_hash": r.parent_zonefile_hash,
        "parent_zonefile_index": r.inv_index.saturating_sub(1),
        "zonefile_offset": r.position,
        "txid": r.txid,
        "accepted": r.reason.is_none(),
        "reason": r.reason,
        "resolver": r.resolver,
    })
}

/// `bns name show` / `GET /v1/names/{name}` for a subdomain: Core's
/// `registered_subdomain` record, or `available`.
pub fn show(store: &Store, fqn: &str) -> anyhow::Result<Value> {
    let Some(r) = store.subdomain(fqn)? else {
        return Ok(json!({ "name": fqn, "status": "available" }));
    };
    Ok(json!({
        "name": fqn,
        "status": "registered_subdomain",
        "address": r.owner,
        "blockchain": "bitcoin",
        "domain": r.domain,
        "sequence": r.seqn,
        "last_txid": r.txid,
        "zonefile_hash": ValueHash::of_zonefile(&r.zonefile),
        "zonefile": String::from_utf8_lossy(&r.zonefile),
        "resolver": r.resolver,
    }))
}

/// `bns name history` for a subdomain: `{ "<block>": [record, ...] }`, every
/// record its domain's zone files stated, accepted or not.
pub fn history(store: &Store, fqn: &str) -> anyhow::Result<Value> {
    let mut out = serde_json::Map::new();
    for r in store.subdomain_history(fqn)? {
        let entry = out.entry(r.height.to_string()).or_insert_with(|| Value::Array(vec![]));
        if let Value::Array(list) = entry {
            list.push(record_json(&r));
        }
    }
    if out.is_empty() {
        anyhow::bail!("no history for {fqn:?}: no zone file of {} states it", fqn.split_once('.').map_or(fqn, |x| x.1));
    }
    Ok(Value::Object(out))
}

/// For `bns explain` of `owner` under a live name: the subdomain that
/// answers it (`label.name.ns`, its last three labels), if there is one:
/// (its section, its parsed zone file).
pub fn explain(store: &Store, owner: &str) -> anyhow::Result<Option<(Value, Option<ZoneFile>)>> {
    let labels: Vec<&str> = owner.rsplitn(4, '.').collect();
    if labels.len() < 3 {
        return Ok(None);
    }
    let fqn = format!("{}.{}.{}", labels[2], labels[1], labels[0]);
    let Some(r) = store.subdomain(&fqn)? else { return Ok(None) };
    let parsed = zonefile::check_with_origin(&r.zonefile, None, Some(&fqn));
    let (parses, warnings) = match &parsed {
        Ok(zf) => (true, json!(zf.warnings)),
        Err(e) => (false, json!([e.to_string()])),
    };
    let section = json!({
        "name": fqn,
        "record": record_json(&r),
        "records_stated": store.subdomain_history(&fqn)?.len(),
        "zonefile": { "hash": ValueHash::of_zonefile(&r.zonefile), "size": r.zonefile.len(), "parses": parses, "warnings": warnings },
        "summary": format!(
            "subdomain {fqn} (seqn {}) owned by {}, stated by {}'s zone file {} (tx {} at block {})",
            r.seqn, r.owner, r.domain, r.parent_zonefile_hash, r.txid, r.height
        ),
    });
    Ok(Some((section, parsed.ok())))
}
