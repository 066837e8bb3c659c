//! Provenance: the evidence behind the answer the node gives for a name.
//!
//! `bns explain NAME` and `GET /v1/resolve/NAME` print [`explain`]'s JSON: the
//! namespace, the owner, the transactions that registered and last changed
//! the name, the zone-file hash with where and when the zone file came from,
//! the records that answer the queried owner, and the consensus hash of the
//! tip the answer was read at. For `www.werner.id` the BNS name is
//! `werner.id` (the last two labels) and the records are those its zone file
//! holds for `www.werner.id`.

use anyhow::anyhow;
use serde_json::{json, Value};

use super::inspect::stored_params;
use crate::bns::names::split_fqn;
use crate::bns::Liveness;
use crate::store::{HistoryEntry, Store};
use crate::zonefile::{self, RecordData, ZoneFile, ZoneRecord, MAX_LABEL_LEN, MAX_NAME_LEN};

/// Longest CNAME chain followed inside one zone file (as the DNS face does).
const MAX_CNAME_CHAIN: usize = 8;

/// A queried DNS name split into the BNS name it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The queried owner, lowercase, no trailing dot (`www.werner.id`).
    pub owner: String,
    /// The BNS name: its last two labels (`werner.id`).
    pub name: String,
}

/// Checks and splits a queried name (`www.Werner.ID.` -> `www.werner.id`, `werner.id`).
pub fn parse_query(input: &str) -> Result<Query, String> {
    let owner = input.strip_suffix('.').unwrap_or(input).to_ascii_lowercase();
    if owner.is_empty() || owner.len() > MAX_NAME_LEN {
        return Err(format!("a name is 1 to {MAX_NAME_LEN} bytes"));
    }
    for label in owner.split('.') {
        if label.is_empty() || label.len() > MAX_LABEL_LEN {
            return Err(format!("each label is 1 to {MAX_LABEL_LEN} bytes"));
        }
        if !label.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_') {
            return Err("labels hold only a-z, 0-9, '-' and '_'".into());
        }
    }
    let labels: Vec<&str> = owner.rsplitn(3, '.').collect();
    if labels.len() < 2 {
        return Err("not a BNS name: expected name.namespace (e.g. werner.id)".into());
    }
    let name = format!("{}.{}", labels[1], labels[0]);
    if split_fqn(&name).is_none() {
        return Err(format!("{name:?} is not a valid BNS name"));
    }
    Ok(Query { owner, name })
}

/// The evidence behind the answer for `input` (a BNS name or a name below one).
pub fn explain(store: &Store, input: &str) -> anyhow::Result<Value> {
    let q = parse_query(input).map_err(|e| anyhow!("{input:?}: {e}"))?;
    let params = stored_params(store)?;
    let tip = store.last_block()?;
    let chain = json!({
        "tip_height": tip.as_ref().map(|b| b.height),
        "tip_block_hash": tip.as_ref().map(|b| b.block_hash.to_string()),
        "consensus_hash": tip.as_ref().map(|b| b.consensus_hash),
    });
    let height = tip.as_ref().map(|b| b.height).unwrap_or(0);

    let Some(rec) = store.name(&q.name)? else {
        return Ok(json!({
            "query": q.owner,
            "name": q.name,
            "status": "available",
            "dns": "NXDOMAIN: no such name on the chain",
            "chain": chain,
        }));
    };
    let ns = store.namespace(&rec.namespace_id)?.ok_or_else(|| anyhow!("namespace {} missing", rec.namespace_id))?;
    let epoch = params.epoch_at(height);
    let liveness = rec.liveness(&ns, &epoch, height);
    let status = match (rec.revoked, liveness) {
        (true, _) => "revoked",
        (false, Liveness::Expired) => "expired",
        (false, _) => "registered",
    };
    let expire = rec.expire_block(&ns, &epoch);

    let history = store.history(&q.name)?;
    let registered =
        history.iter().rev().find(|e| matches!(opcode(e), "NAME_REGISTRATION" | "NAME_IMPORT")).map(entry_json);
    let last_update = history.last().map(entry_json);
    let hash_hex = rec.value_hash.map(|h| h.to_hex());
    let hash_set_by = hash_set_by(&history, hash_hex.as_deref()).map(entry_json);
    let ns_history = store.history(&ns.namespace_id)?;
    let ns_op = |name: &str| ns_history.iter().rev().find(|e| opcode(e) == name).map(entry_json);

    let mut zone: Option<ZoneFile> = None;
    let zonefile = match rec.value_hash {
        None => Value::Null,
        Some(hash) => match store.zonefile_origin(&hash)? {
            None => json!({ "hash": hash, "held": false }),
            Some(origin) => {
                let bytes = store.zonefile(&hash)?.unwrap_or_default();
                let parsed = zonefile::check_with_origin(&bytes, Some(&hash), Some(&q.name));
                let (valid, warnings) = match &parsed {
                    Ok(zf) => (true, json!(zf.warnings)),
                    Err(e) => (false, json!([e.to_string()])),
                };
                zone = parsed.ok();
                json!({
                    "hash": hash,
                    "held": true,
                    "source": origin.source,
                    "received_at": origin.received_at,
                    "size": origin.size,
                    "parses": valid,
                    "warnings": warnings,
                })
            }
        },
    };

    let live = status == "registered";
    let subdomain = if live { super::subdomains::explain(store, &q.owner)? } else { None };
    let (dns, answer) = match (live, rec.value_hash, &zone) {
        (true, _, _) if subdomain.is_some() => match subdomain.as_ref().and_then(|s| s.1.as_ref()) {
            Some(zf) => {
                let (outcome, records) = answer_from(zf, &q.owner);
                (format!("{outcome} (the subdomain's own)"), json!({ "owner": q.owner, "records": records }))
            }
            None => ("SERVFAIL: the subdomain's zone file does not parse".to_string(), Value::Null),
        },
        (false, _, _) => (format!("NXDOMAIN: {} is {status}", q.name), Value::Null),
        (true, None, _) => ("NOERROR with no data: the name has no zone-file hash".to_string(), Value::Null),
        (true, Some(_), None) => ("SERVFAIL: the zone file the chain announced is not held".to_string(), Value::Null),
        (true, Some(_), Some(zf)) => {
            let (outcome, records) = answer_from(zf, &q.owner);
            (outcome, json!({ "owner": q.owner, "records": records }))
        }
    };

    let summary = format!(
        "{} -> BNS name {} ({status}) in namespace {} (version {}); owner {}; {}; {}; read at block {height}{}",
        q.owner,
        q.name,
        ns.namespace_id,
        ns.version,
        rec.address,
        match &registered {
            Some(r) => format!("registered by tx {} at block {}", r["txid"].as_str().unwrap_or("?"), r["height"]),
            None => "registration not in the history".into(),
        },
        match (&hash_hex, zonefile.get("source")) {
            (None, _) => "no zone-file hash".to_string(),
            (Some(h), Some(src)) => format!("zone file {h} held, from {}", src.as_str().unwrap_or("?")),
            (Some(h), None) => format!("zone file {h} missing"),
        },
        tip.as_ref().map(|b| format!(" (consensus hash {})", b.consensus_hash)).unwrap_or_default(),
    );

    Ok(json!({
        "query": q.owner,
        "name": q.name,
        "status": status,
        "grace_period": liveness == Liveness::Grace,
        "dns": dns,
        "answer": answer,
        "namespace": {
            "id": ns.namespace_id,
            "version": ns.version,
            "reveal_block": ns.reveal_block,
            "ready_block": ns.ready_block,
            "ready": ns.is_ready(),
            "lifetime": ns.lifetime,
            "revealed_by": ns_op("NAMESPACE_REVEAL"),
            "readied_by": ns_op("NAMESPACE_READY"),
        },
        "owner": { "address": rec.address, "script": rec.sender },
        "registered_by": registered,
        "last_update": last_update,
        "zonefile_hash_set_by": hash_set_by,
        "expire_block": expire,
        "renewal_deadline": expire.map(|e| e + epoch.grace_period),
        "zonefile": zonefile,
        "subdomain": subdomain.map(|s| s.0),
        "chain": chain,
        "summary": summary,
    }))
}

fn opcode(e: &HistoryEntry) -> &str {
    e.record.get("opcode").and_then(Value::as_str).unwrap_or("")
}

fn entry_json(e: &HistoryEntry) -> Value {
    json!({
        "txid": e.record.get("txid"),
        "height": e.height,
        "vtxindex": e.vtxindex,
        "opcode": opcode(e),
    })
}

/// The op that set the name's current zone-file hash: the oldest entry of the
/// newest run of entries carrying it.
fn hash_set_by<'a>(history: &'a [HistoryEntry], hash: Option<&str>) -> Option<&'a HistoryEntry> {
    let hash = hash?;
    let carries = |e: &HistoryEntry| e.record.get("value_hash").and_then(Value::as_str) == Some(hash);
    let run = history.iter().rev().take_while(|e| carries(e)).count();
    (run > 0).then(|| &history[history.len() - run])
}

/// What the zone file answers for `owner`: an outcome line and the records
/// (CNAMEs inside the zone file followed, as the DNS face does).
fn answer_from(zf: &ZoneFile, owner: &str) -> (String, Vec<Value>) {
    let mut records = Vec::new();
    let mut at = owner.to_string();
    for _ in 0..MAX_CNAME_CHAIN {
        let here: Vec<&ZoneRecord> = zf.records_for(&at).collect();
        records.extend(here.iter().map(|r| record_json(r)));
        match here.as_slice() {
            [ZoneRecord { data: RecordData::Cname(target), .. }] if zf.records_for(target).next().is_some() => {
                at = target.clone();
            }
            [] if records.is_empty() && zf.has_names_below(owner) => {
                return ("NOERROR with no data: an empty non-terminal in the zone file".into(), records)
            }
            [] if records.is_empty() => {
                return ("NXDOMAIN: the zone file has no records at or below it".into(), records)
            }
            _ => break,
        }
    }
    (format!("NOERROR: {} record(s) from the zone file", records.len()), records)
}

/// One record in zone-file presentation form.
fn record_json(r: &ZoneRecord) -> Value {
    let (rtype, data) = match &r.data {
        RecordData::A(ip) => ("A", ip.to_string()),
        RecordData::Aaaa(ip) => ("AAAA", ip.to_string()),
        RecordData::Cname(t) => ("CNAME", format!("{t}.")),
        RecordData::Mx { preference, exchange } => ("MX", format!("{preference} {exchange}.")),
        RecordData::Ns(t) => ("NS", format!("{t}.")),
        RecordData::Txt(strings) => ("TXT", strings.iter().map(|s| quoted(s)).collect::<Vec<_>>().join(" ")),
        RecordData::Srv { priority, weight, port, target } => ("SRV", format!("{priority} {weight} {port} {target}.")),
        RecordData::Uri { priority, weight, target } => {
            ("URI", format!("{priority} {weight} {}", quoted(target.as_bytes())))
        }
        RecordData::Tlsa { usage, selector, matching, data } => {
            ("TLSA", format!("{usage} {selector} {matching} {}", hex::encode(data)))
        }
    };
    json!({ "owner": r.owner, "ttl": r.ttl, "type": rtype, "data": data })
}

/// A character-string in quotes, with `"`, `\` and non-printable bytes escaped.
fn quoted(s: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in s {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\{b:03}")),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_split_into_the_bns_name() {
        let q = parse_query("WWW.Werner.ID.").unwrap();
        assert_eq!((q.owner.as_str(), q.name.as_str()), ("www.werner.id", "werner.id"));
        assert_eq!(parse_query("werner.id").unwrap().name, "werner.id");
        assert_eq!(parse_query("_443._tcp.werner.id").unwrap().name, "werner.id");
        for bad in
            ["", ".", "id", "a..id", "wer ner.id", "wérner.id", &"a".repeat(300), &format!("{}.id", "a".repeat(64))]
        {
            assert!(parse_query(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn answers_follow_cnames_inside_the_zone_file() {
        let zf = zonefile::parse(
            b"$ORIGIN werner.id\n$TTL 60\n@ A 192.0.2.1\nwww CNAME @\n_443._tcp TLSA 3 1 1 00ff\n@ TXT \"a\\\"b\"\n",
            None,
        )
        .unwrap();
        let (outcome, recs) = answer_from(&zf, "www.werner.id");
        assert!(outcome.starts_with("NOERROR"), "{outcome}");
        let types: Vec<&str> = recs.iter().map(|r| r["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["CNAME", "A", "TXT"]);
        assert_eq!(recs[0]["data"], "werner.id.");
        assert_eq!(recs[2]["data"], "\"a\\\"b\"");
        assert!(answer_from(&zf, "_tcp.werner.id").0.contains("empty non-terminal"));
        assert!(answer_from(&zf, "nope.werner.id").0.starts_with("NXDOMAIN"));
    }
}
