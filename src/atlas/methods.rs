//! The Atlas methods, with Core's argument checks, error strings and reply
//! shapes (SPEC §6). Blocking: the server runs them on the blocking pool.

use std::net::SocketAddr;
use std::time::Instant;

use serde_json::{json, Map, Value as Json};

use super::inventory::{self, MAX_INV_SLICE};
use super::protocol::{self, b64, error, success, MAX_BY_BLOCK, MAX_GET_ZONEFILES, MAX_PUT_ZONEFILES};
use super::state::{AtlasState, Origin, Verdict};
use super::xmlrpc::{Fault, Value};
use crate::hash::ValueHash;

/// Who is calling.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The caller's socket address.
    pub addr: SocketAddr,
    /// The port this server listens on (Core assumes callers listen on the same).
    pub our_port: u16,
}

/// Core's mainnet `check_block` bounds.
const FIRST_BLOCK_MAINNET: u64 = 373_601;
const MAX_BLOCK: u64 = 10_000_000;

/// Runs `method`; an unknown method or a wrong argument count is an
/// XML-RPC fault (as Python's dispatcher answers), everything else a JSON reply.
pub fn dispatch(state: &AtlasState, method: &str, params: &[Value], caller: &Caller) -> Result<Json, Fault> {
    let arity = |n: usize| {
        if params.len() == n {
            Ok(())
        } else {
            Err(Fault {
                code: 1,
                message: format!(
                    "<type 'exceptions.TypeError'>:{method}() takes {n} argument(s) ({} given)",
                    params.len()
                ),
            })
        }
    };
    match method {
        "ping" => arity(0).map(|_| json!({"status": "alive", "version": protocol::SERVER_VERSION})),
        "getinfo" => arity(0).map(|_| protocol::getinfo(&state.chain_info(), state.read_inv().zonefile_count())),
        "get_zonefile_inventory" => arity(2).map(|_| inventory(state, &params[0], &params[1])),
        "get_zonefiles" => arity(1).map(|_| get_zonefiles(state, &params[0])),
        "put_zonefiles" => arity(1).map(|_| put_zonefiles(state, &params[0], caller)),
        "get_atlas_peers" => arity(0).map(|_| peers(state, caller, None)),
        "atlas_peer_exchange" => arity(1).map(|_| peers(state, caller, Some(&params[0]))),
        "get_zonefiles_by_block" => arity(4).map(|_| by_block(state, params)),
        other => Err(Fault {
            code: 1,
            message: format!(
                "<type 'exceptions.Exception'>:method \"{}\" is not supported",
                other.chars().take(64).collect::<String>()
            ),
        }),
    }
}

fn uint(v: &Value, max: u64) -> Option<u64> {
    v.as_i64().and_then(|i| u64::try_from(i).ok()).filter(|i| *i <= max)
}

fn inventory(state: &AtlasState, offset: &Value, length: &Value) -> Json {
    let Some(offset) = uint(offset, u64::MAX) else { return error("invalid offset", 400) };
    let Some(length) = uint(length, MAX_INV_SLICE) else { return error("invalid length", 400) };
    let inv = state.read_inv();
    let bits = inventory::slice(inv.bits(), offset, length);
    success(&state.chain_info(), json!({ "inv": b64(bits) }))
}

fn get_zonefiles(state: &AtlasState, hashes: &Value) -> Json {
    let Some(list) = hashes.as_array() else { return error("Invalid zonefile hashes", 400) };
    if list.len() > MAX_GET_ZONEFILES {
        return error("Too many requests (no more than 100 allowed)", 400);
    }
    let mut wanted = Vec::with_capacity(list.len());
    for h in list {
        match h.as_str().filter(|s| s.len() == 40).and_then(|s| s.parse::<ValueHash>().ok()) {
            Some(hash) => wanted.push(hash),
            None => return error("Invalid zone file hash", 400),
        }
    }
    let found = state.with_store(|s| {
        let mut out = Map::new();
        for hash in &wanted {
            if let Some(bytes) = s.zonefile(hash)? {
                // Never serve bytes that do not match their key (a corrupt store).
                if ValueHash::of_zonefile(&bytes) == *hash {
                    out.insert(hash.to_hex(), Json::String(b64(&bytes)));
                }
            }
        }
        Ok(out)
    });
    match found {
        Ok(map) => success(&state.chain_info(), json!({ "zonefiles": map })),
        Err(e) => {
            tracing::warn!(error = %e, "atlas: reading zone files failed");
            error("Failed to read zone files", 500)
        }
    }
}

/// Longest base64 text of one zone file Core takes: ((4 * 40960) / 3) + 3.
const MAX_B64_LEN: usize = (4 * crate::zonefile::MAX_ZONEFILE_LEN) / 3 + 3;

fn put_zonefiles(state: &AtlasState, datas: &Value, caller: &Caller) -> Json {
    let Some(list) = datas.as_array() else { return error("Invalid data", 400) };
    if list.len() > MAX_PUT_ZONEFILES {
        return error("Too many zonefiles", 400);
    }
    let mut texts = Vec::with_capacity(list.len());
    for d in list {
        // Core's OP_BASE64_EMPTY_PATTERN: the base64 alphabet, padding at the end only.
        let base64_text = |s: &&str| {
            let body = s.trim_end_matches('=');
            s.len() - body.len() <= 2 && body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
        };
        match d.as_str().filter(|s| s.len() <= MAX_B64_LEN).filter(base64_text) {
            Some(s) => texts.push(s),
            None => {
                return json!({"error": "Invalid zone file payload (exceeds 40960 bytes and/or not base64-encoded)"})
            }
        }
    }
    let mut files = Vec::new();
    let mut slots = Vec::new();
    for t in &texts {
        match protocol::unb64(t) {
            Some(bytes) => {
                slots.push(Some(files.len()));
                files.push((None, bytes));
            }
            None => slots.push(None),
        }
    }
    let verdicts = state.store_verified(&files, &Origin::Pushed(caller.addr.ip().to_string()));
    let saved: Vec<u8> = slots.iter().map(|s| s.map(|i| verdicts[i].is_held() as u8).unwrap_or(0)).collect();
    let stored = verdicts.iter().filter(|v| **v == Verdict::Stored).count();
    if stored > 0 {
        tracing::info!(caller = %caller.addr, stored, "atlas: zone files pushed to us");
    }
    success(&state.chain_info(), json!({ "saved": saved }))
}

fn peers(state: &AtlasState, caller: &Caller, remote: Option<&Value>) -> Json {
    let ip = caller.addr.ip();
    let host = if ip.is_ipv6() { format!("[{ip}]") } else { ip.to_string() };
    // Core takes `remote_peer` as given only from loopback; others are their
    // socket's host. bns also takes the port they name (Core assumes its own).
    let theirs = match remote {
        None => Some(format!("{host}:{}", caller.our_port)),
        Some(v) => {
            let Some(named) = v.as_str().and_then(protocol::normalize_peer) else {
                return error("Invalid remote peer address", 400);
            };
            let port = named.rsplit_once(':').map(|(_, p)| p.to_string()).unwrap_or_default();
            Some(if ip.is_loopback() { named } else { format!("{host}:{port}") })
        }
    };
    let mut rng = rand::thread_rng();
    let mut table = state.peers();
    let exclude = theirs.clone().unwrap_or_default();
    let list = table.live_neighbours(&exclude, &mut rng);
    if let Some(t) = &theirs {
        table.enqueue(t, Instant::now());
    }
    drop(table);
    state.wake.notify_one();
    success(&state.chain_info(), json!({ "peers": list }))
}

fn by_block(state: &AtlasState, p: &[Value]) -> Json {
    let testnet = state.chain_info().testnet;
    let block = |v: &Value| uint(v, MAX_BLOCK).filter(|b| if testnet { *b > 0 } else { *b >= FIRST_BLOCK_MAINNET });
    let Some(from) = block(&p[0]) else { return error("Invalid from_block height", 400) };
    let Some(to) = block(&p[1]) else { return error("Invalid to_block height", 400) };
    let Some(offset) = uint(&p[2], u64::MAX) else { return error("invalid offset", 400) };
    let Some(count) = uint(&p[3], MAX_BY_BLOCK) else { return error("invalid count", 400) };
    match state.with_store(|s| s.inventory_by_block(from, to, offset, count)) {
        Ok(rows) => {
            let info: Vec<Json> = rows
                .into_iter()
                .map(|r| {
                    json!({"name": r.name, "zonefile_hash": r.hash.to_hex(), "txid": r.txid,
                           "block_height": r.height, "inv_index": r.index})
                })
                .collect();
            success(&state.chain_info(), json!({ "zonefile_info": info }))
        }
        Err(e) => {
            tracing::warn!(error = %e, "atlas: reading the inventory failed");
            error("Failed to read the inventory", 500)
        }
    }
}
