//! What the query commands print. The JSON builders live in the API face
//! ([`crate::api::inspect`], [`crate::api::explain`]) so the CLI and
//! `GET /v1/...` print the same thing; re-exported here for the CLI.

use std::collections::HashMap;

use crate::dns::{tld, Policy};

pub use crate::api::explain::explain;
pub use crate::api::inspect::*;

/// `bns namespaces`: every namespace in the index, whether DNS answers it
/// from the chain at the index's height, and why (or why not).
pub fn namespaces(
    store: &crate::store::Store,
    policies: &HashMap<String, Policy>,
) -> anyhow::Result<serde_json::Value> {
    let height = store.last_block()?.map_or(0, |b| b.height);
    let mut out = Vec::new();
    for id in store.namespace_ids()? {
        let Some(ns) = store.namespace(&id)? else { continue };
        let live = ns.is_ready() || ns.is_revealed_at(height);
        let configured = policies.get(&id).copied();
        let policy = configured.unwrap_or_else(|| tld::default_policy(&id));
        let reserved = tld::reserved(&id);
        let state = if ns.is_ready() {
            "ready"
        } else if live {
            "revealed"
        } else {
            "reveal expired"
        };
        let (answered, why) = match (live, policy, reserved, configured) {
            (false, ..) => (false, format!("the reveal at block {} expired without a ready", ns.reveal_block)),
            (true, Policy::Icann, Some(r), None) => {
                (false, format!(".{id} is {}: forwarded (opt in with --namespace-policy {id}=bns)", r.reason()))
            }
            (true, Policy::Icann, ..) => (false, "policy icann: forwarded".to_string()),
            (true, _, Some(r), _) => (true, format!("shadows .{id}, {}: opted in by policy {policy}", r.reason())),
            (true, ..) => (true, format!("policy {policy}")),
        };
        out.push(serde_json::json!({
            "namespace": id,
            "state": state,
            "ready": ns.is_ready(),
            "policy": policy.to_string(),
            "reserved": reserved.map(|r| r.reason()),
            "shadows_icann": answered && reserved.is_some(),
            "answered_from_chain": answered,
            "why": why,
        }));
    }
    Ok(serde_json::Value::Array(out))
}
