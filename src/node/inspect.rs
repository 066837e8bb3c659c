//! What the query commands print. The JSON builders live in the API face
//! ([`crate::api::inspect`], [`crate::api::explain`]) so the CLI and
//! `GET /v1/...` print the same thing; re-exported here for the CLI.

pub use crate::api::explain::explain;
pub use crate::api::inspect::*;

/// `bns namespaces`: every namespace in the index, with its DNS collision policy.
pub fn namespaces(
    store: &crate::store::Store,
    policies: &std::collections::HashMap<String, crate::dns::Policy>,
) -> anyhow::Result<serde_json::Value> {
    let mut out = Vec::new();
    for id in store.namespace_ids()? {
        let Some(ns) = store.namespace(&id)? else { continue };
        let policy = policies.get(&id).copied().unwrap_or_default();
        out.push(serde_json::json!({ "namespace": id, "ready": ns.is_ready(), "policy": policy.to_string() }));
    }
    Ok(serde_json::Value::Array(out))
}
