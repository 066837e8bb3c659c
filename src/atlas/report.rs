//! What `bns atlas status` and `bns atlas peers` print (JSON), built from a
//! running node's state (the API serves them at `/v1/atlas/...`).

use serde_json::{json, Value};

use super::state::AtlasState;

/// Replication status: inventory, held/missing, peers, traffic.
pub fn status(state: &AtlasState, listen: &str) -> Value {
    let chain = state.chain_info();
    let inv = state.read_inv();
    let (held, missing) = inv.counts();
    let rows = inv.len();
    drop(inv);
    let (peers, healthy) = state.peers().counts();
    let (bytes_in, bytes_out) = state.metrics.atlas.bytes();
    let queued = state.push_queue.lock().map(|q| q.len()).unwrap_or(0);
    json!({
        "listen": listen,
        "last_block_processed": chain.last_block_processed,
        "consensus": chain.consensus,
        "inventory_rows": rows,
        "zonefile_count": rows + 1,
        "zonefiles_held": held,
        "zonefiles_missing": missing,
        "peers": peers,
        "healthy_peers": healthy,
        "bytes_in": bytes_in,
        "bytes_out": bytes_out,
        "push_queue": queued,
    })
}

/// Every peer with its health and what it holds, healthiest first.
pub fn peers(state: &AtlasState) -> Value {
    let t = state.peers();
    let mut list: Vec<_> = t.all().collect();
    list.sort_by(|a, b| b.health().total_cmp(&a.health()).then(a.addr.cmp(&b.addr)));
    let rows: Vec<Value> = list
        .into_iter()
        .map(|p| {
            json!({
                "addr": p.addr,
                "seed": p.seed,
                "vetted": p.vetted,
                "health": (p.health() * 1000.0).round() / 1000.0,
                "requests_last_hour": p.requests(),
                "failures_in_row": p.failures_in_row,
                "inventory_held": p.inv.count_held(),
                "last_block_processed": p.info.as_ref().map(|i| i.last_block_processed),
                "server_version": p.info.as_ref().map(|i| i.server_version.clone()),
                "neighbours": p.neighbours.len(),
            })
        })
        .collect();
    json!({ "peers": rows })
}

/// [`status`] as lines.
pub fn status_text(v: &Value) -> String {
    format!(
        "listen          {}\nblock           {}\ninventory       {} rows\nzone files      {} held, {} missing\npeers           {} ({} healthy)\ntraffic         {} bytes in, {} bytes out\npush queue      {}\n",
        v["listen"].as_str().unwrap_or("-"),
        v["last_block_processed"],
        v["inventory_rows"],
        v["zonefiles_held"],
        v["zonefiles_missing"],
        v["peers"],
        v["healthy_peers"],
        v["bytes_in"],
        v["bytes_out"],
        v["push_queue"],
    )
}

/// [`peers`] as a table.
pub fn peers_text(v: &Value) -> String {
    let mut out =
        format!("{:<28} {:>6} {:>8} {:>9} {:>8}  {}\n", "peer", "health", "requests", "held", "block", "state");
    for p in v["peers"].as_array().into_iter().flatten() {
        let state = match (p["seed"].as_bool(), p["vetted"].as_bool()) {
            (Some(true), Some(true)) => "seed",
            (Some(true), _) => "seed, not vetted",
            (_, Some(true)) => "vetted",
            _ => "not vetted",
        };
        out.push_str(&format!(
            "{:<28} {:>6.3} {:>8} {:>9} {:>8}  {}\n",
            p["addr"].as_str().unwrap_or("-"),
            p["health"].as_f64().unwrap_or(0.0),
            p["requests_last_hour"].to_string(),
            p["inventory_held"].to_string(),
            p["last_block_processed"].as_u64().map(|b| b.to_string()).unwrap_or_else(|| "-".into()),
            state
        ));
    }
    out
}
