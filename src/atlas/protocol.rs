//! Core's Atlas replies: JSON objects serialized into the one XML-RPC string
//! a method returns ("jsonrpc within xmlrpc"). Builders for the server side,
//! checkers for what peers send back (every field a peer sends is untrusted).

use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::hash::ValueHash;

/// Version string this node reports (`server_version`): Core's v21 line, so
/// Core peers (which refuse versions below 0.17) take us.
pub const SERVER_VERSION: &str = "21.0.0.4";
/// Most hashes one `get_zonefiles` call may ask for.
pub const MAX_GET_ZONEFILES: usize = 100;
/// Most zone files one `put_zonefiles` call may carry.
pub const MAX_PUT_ZONEFILES: usize = 5;
/// Most neighbours a peer-exchange reply lists (Core's NUM_NEIGHBORS).
pub const NUM_NEIGHBORS: usize = 80;
/// Most rows one `get_zonefiles_by_block` call returns.
pub const MAX_BY_BLOCK: u64 = 100;

/// Where this node's chain stands, for `getinfo` and the reply envelope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainInfo {
    /// The chain tip the block source reported.
    pub last_block_seen: u64,
    /// Highest block processed into the index (0 when none).
    pub last_block_processed: u64,
    /// Its consensus hash (hex; empty when none).
    pub consensus: String,
    /// First block of BNS on this chain.
    pub first_block: u64,
    /// True off mainnet.
    pub testnet: bool,
    /// True while the index is catching up.
    pub indexing: bool,
}

/// `success_response`: `{"status": true, "indexing", "lastblock", ...fields}`.
pub fn success(info: &ChainInfo, fields: Value) -> Value {
    let mut out = Map::new();
    out.insert("status".into(), Value::Bool(true));
    out.insert("indexing".into(), Value::Bool(info.indexing));
    out.insert("lastblock".into(), json!(info.last_block_processed));
    if let Value::Object(f) = fields {
        out.extend(f);
    }
    Value::Object(out)
}

/// An error reply: `{"error": message, "http_status": status}`.
pub fn error(message: &str, http_status: u16) -> Value {
    json!({ "error": message, "http_status": http_status })
}

/// Core's overload reply (an HTTP 200 whose JSON says 429).
pub fn overloaded() -> Value {
    json!({"status": false, "indexing": false, "lastblock": -1, "error": "overloaded", "http_status": 429})
}

/// `getinfo`'s reply.
pub fn getinfo(info: &ChainInfo, zonefile_count: u64) -> Value {
    json!({
        "last_block_seen": info.last_block_seen,
        "consensus": info.consensus,
        "server_version": SERVER_VERSION,
        "last_block_processed": info.last_block_processed,
        "server_alive": true,
        "indexing": info.indexing,
        "testnet": info.testnet,
        "first_block": info.first_block,
        "zonefile_count": zonefile_count,
    })
}

/// Base64 (standard, padded), as Core encodes inventories and zone files.
pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decodes Core's base64 (standard alphabet; empty is allowed).
pub fn unb64(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(text.as_bytes()).ok()
}

/// A peer's `getinfo`, as far as this node uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// Its processed height.
    pub last_block_processed: u64,
    /// Its consensus hash at that height.
    pub consensus: String,
    /// Its version string.
    pub server_version: String,
    /// Its `testnet` flag (any truthy value).
    pub testnet: bool,
    /// Its first block, when it says (Core always sends 373601).
    pub first_block: Option<u64>,
    /// Its `zonefile_count`, when it says.
    pub zonefile_count: Option<u64>,
}

/// Why a peer's reply was not taken.
pub type ReplyError = String;

fn field<'a>(v: &'a Value, key: &str) -> Result<&'a Value, ReplyError> {
    if let Some(e) = v.get("error") {
        return Err(format!("peer replied error: {}", truncate(&e.to_string())));
    }
    v.get(key).ok_or_else(|| format!("reply has no {key:?}"))
}

fn truncate(s: &str) -> String {
    s.chars().take(200).collect()
}

fn uint(v: &Value, key: &str) -> Result<u64, ReplyError> {
    field(v, key)?.as_u64().ok_or_else(|| format!("{key:?} is not a non-negative integer"))
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
    }
}

/// Checks a `getinfo` reply against Core's client schema.
pub fn parse_getinfo(v: &Value) -> Result<PeerInfo, ReplyError> {
    uint(v, "last_block_seen")?;
    let consensus = field(v, "consensus")?.as_str().ok_or("\"consensus\" is not a string")?.to_string();
    let server_version = field(v, "server_version")?.as_str().ok_or("\"server_version\" is not a string")?;
    if !field(v, "server_alive")?.is_boolean() || !field(v, "indexing")?.is_boolean() {
        return Err("\"server_alive\" or \"indexing\" is not a boolean".into());
    }
    if v.get("stale").and_then(|s| s.as_bool()) == Some(true) {
        return Err("peer says it is stale".into());
    }
    Ok(PeerInfo {
        last_block_processed: uint(v, "last_block_processed")?,
        consensus: truncate(&consensus),
        server_version: truncate(server_version),
        testnet: truthy(v.get("testnet")),
        first_block: v.get("first_block").and_then(|f| f.as_u64()),
        zonefile_count: v.get("zonefile_count").and_then(|f| f.as_u64()),
    })
}

/// True if `version` is at least 0.17 (major.minor; what Core accepts).
pub fn version_ok(version: &str) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u64>());
    match (parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor))) => (major, minor) >= (0, 17),
        _ => false,
    }
}

fn check_status(v: &Value) -> Result<(), ReplyError> {
    match field(v, "status")? {
        Value::Bool(true) => Ok(()),
        other => Err(format!("\"status\" is {}", truncate(&other.to_string()))),
    }
}

/// Checks a `get_zonefile_inventory` reply: base64 bits, at most `asked` bytes.
pub fn parse_inventory(v: &Value, asked: u64) -> Result<Vec<u8>, ReplyError> {
    check_status(v)?;
    let text = field(v, "inv")?.as_str().ok_or("\"inv\" is not a string")?;
    let bits = unb64(text).ok_or("\"inv\" is not base64")?;
    if bits.len() as u64 > asked {
        return Err(format!("inventory of {} bytes, {asked} asked", bits.len()));
    }
    Ok(bits)
}

/// Checks a `get_zonefiles` reply: `{"zonefiles": {hash: base64}}`. Entries
/// for hashes not asked for are dropped; the bytes are NOT verified here.
pub fn parse_zonefiles(v: &Value, asked: &[ValueHash]) -> Result<Vec<(ValueHash, Vec<u8>)>, ReplyError> {
    check_status(v)?;
    let map = field(v, "zonefiles")?.as_object().ok_or("\"zonefiles\" is not an object")?;
    let mut out = Vec::new();
    for (key, data) in map {
        let hash: ValueHash = key.parse().map_err(|_| format!("zone file key {:?} is not a hash", truncate(key)))?;
        let text = data.as_str().ok_or("a zone file is not a string")?;
        let bytes = unb64(text).ok_or("a zone file is not base64")?;
        if asked.contains(&hash) {
            out.push((hash, bytes));
        }
    }
    Ok(out)
}

/// Checks a `put_zonefiles` reply: one 0/1 per zone file sent.
pub fn parse_saved(v: &Value, sent: usize) -> Result<Vec<bool>, ReplyError> {
    check_status(v)?;
    let saved = field(v, "saved")?.as_array().ok_or("\"saved\" is not a list")?;
    if saved.len() != sent {
        return Err(format!("{} verdicts for {sent} zone files", saved.len()));
    }
    saved
        .iter()
        .map(|s| match s.as_u64() {
            Some(0) => Ok(false),
            Some(1) => Ok(true),
            _ => Err("a verdict is not 0 or 1".to_string()),
        })
        .collect()
}

/// Checks a peer-exchange reply: `host:port` strings; a bad entry is dropped,
/// more than [`NUM_NEIGHBORS`] is an error.
pub fn parse_peers(v: &Value) -> Result<Vec<String>, ReplyError> {
    check_status(v)?;
    let peers = field(v, "peers")?.as_array().ok_or("\"peers\" is not a list")?;
    if peers.len() > NUM_NEIGHBORS {
        return Err(format!("{} peers, more than {NUM_NEIGHBORS}", peers.len()));
    }
    // Core's client schema: `^([^:]+):([1-9][0-9]{1,4})$` (two digits or more).
    let two_digits = |p: &String| p.rsplit_once(':').is_some_and(|(_, port)| port.len() >= 2);
    Ok(peers.iter().filter_map(|p| p.as_str()).filter_map(normalize_peer).filter(two_digits).collect())
}

/// A peer address as `host:port` (port 1-65535, as Core's `url_to_host_port`;
/// `localhost` is 127.0.0.1), or `None` if it is not one.
pub fn normalize_peer(addr: &str) -> Option<String> {
    let (host, port) = addr.trim().rsplit_once(':')?;
    let port: u16 = port.parse().ok().filter(|p| *p > 0)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.len() > 253 || host.contains(':') && host.parse::<std::net::Ipv6Addr>().is_err() {
        return None;
    }
    if !host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':')) {
        return None;
    }
    let host = if host.eq_ignore_ascii_case("localhost") { "127.0.0.1".to_string() } else { host.to_ascii_lowercase() };
    Some(if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_and_errors_are_cores() {
        let info = ChainInfo { last_block_processed: 7, ..Default::default() };
        let v = success(&info, json!({"inv": "gA=="}));
        assert_eq!(v, json!({"status": true, "indexing": false, "lastblock": 7, "inv": "gA=="}));
        assert_eq!(error("invalid offset", 400), json!({"error": "invalid offset", "http_status": 400}));
        assert_eq!(overloaded()["http_status"], 429);
    }

    #[test]
    fn getinfo_round_trips_through_the_checker() {
        let info = ChainInfo {
            last_block_seen: 12,
            last_block_processed: 10,
            consensus: "ab".repeat(16),
            first_block: 1,
            testnet: true,
            indexing: false,
        };
        let p = parse_getinfo(&getinfo(&info, 5)).unwrap();
        assert_eq!(p.last_block_processed, 10);
        assert!(p.testnet && version_ok(&p.server_version));
        assert_eq!((p.first_block, p.zonefile_count), (Some(1), Some(5)));
        assert!(parse_getinfo(&json!({"error": "x", "http_status": 500})).is_err());
        assert!(parse_getinfo(&json!({"last_block_seen": -1})).is_err());
        let mut stale = getinfo(&info, 5);
        stale["stale"] = json!(true);
        assert!(parse_getinfo(&stale).is_err());
        assert!(!version_ok("0.14.9") && version_ok("0.17.0") && version_ok("21.0.0.4") && !version_ok("x"));
    }

    #[test]
    fn replies_from_peers_are_checked() {
        let info = ChainInfo::default();
        assert_eq!(parse_inventory(&success(&info, json!({"inv": "/wA="})), 2).unwrap(), vec![0xff, 0]);
        assert!(parse_inventory(&success(&info, json!({"inv": "/wA="})), 1).is_err(), "longer than asked");
        assert!(parse_inventory(&success(&info, json!({"inv": "!!"})), 9).is_err());
        assert!(parse_inventory(&json!({"inv": "/wA="}), 9).is_err(), "no status");
        let h = ValueHash([1; 20]);
        let v = success(&info, json!({"zonefiles": {h.to_hex(): b64(b"x"), ValueHash([2; 20]).to_hex(): b64(b"y")}}));
        assert_eq!(parse_zonefiles(&v, &[h]).unwrap(), vec![(h, b"x".to_vec())], "unasked entries dropped");
        assert!(parse_zonefiles(&success(&info, json!({"zonefiles": {"zz": "eA=="}})), &[h]).is_err());
        assert_eq!(parse_saved(&success(&info, json!({"saved": [1, 0]})), 2).unwrap(), vec![true, false]);
        assert!(parse_saved(&success(&info, json!({"saved": [1]})), 2).is_err());
        let peers = success(&info, json!({"peers": ["localhost:6264", "bad", "10.0.0.1:0", "a.b:6270", "c:9"]}));
        assert_eq!(parse_peers(&peers).unwrap(), vec!["127.0.0.1:6264", "a.b:6270"]);
        let many: Vec<String> = (0..81).map(|i| format!("10.0.0.{i}:6264")).collect();
        assert!(parse_peers(&success(&info, json!({ "peers": many }))).is_err());
        assert_eq!(normalize_peer("[::1]:6264").as_deref(), Some("[::1]:6264"));
        assert_eq!(normalize_peer("h/x:6264"), None);
    }
}
