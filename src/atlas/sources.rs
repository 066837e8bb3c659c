//! HTTP zone-file sources (`--zonefile-source URL`): servers that hand out a
//! zone file by hash (Core's REST API, `GET /v1/zonefiles/{hash}`) or by name
//! and hash (the Stacks API, `GET /v1/names/{name}/zonefile/{hash}`). A reply
//! is the raw file or JSON `{"zonefile": "..."}`; either way its hash160 must
//! be the hash asked for, or it is dropped. bns's own API serves both paths.

use std::sync::Arc;
use std::time::Duration;

use tracing::debug;

use super::client::Client;
use super::state::{AtlasState, Origin};
use crate::hash::ValueHash;

/// Timeout of one source request.
pub const SOURCE_TIMEOUT: Duration = Duration::from_secs(15);
/// Largest reply body taken (a 40,960-byte file, JSON-escaped).
pub const MAX_SOURCE_BODY: usize = 256 * 1024;

/// The zone file in a source's reply body: JSON `{"zonefile": text}` or the raw bytes.
pub fn zonefile_in_reply(body: &[u8]) -> Vec<u8> {
    if body.first() == Some(&b'{') {
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body) {
            if let Some(serde_json::Value::String(text)) = map.get("zonefile") {
                return text.as_bytes().to_vec();
            }
        }
    }
    body.to_vec()
}

/// A source base URL as given (`http://host:port` or with a path), without a trailing `/`.
pub fn normalize_base(url: &str) -> Result<String, String> {
    let u = url.trim().trim_end_matches('/');
    let parsed = reqwest::Url::parse(u).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(format!("{url:?}: a zone-file source is an http:// or https:// URL"));
    }
    Ok(u.to_string())
}

/// `url` without a password, for logs and the store's `source` column.
pub fn redacted(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("redacted"));
            u.to_string().trim_end_matches('/').to_string()
        }
        _ => url.to_string(),
    }
}

/// Tries every source for `hash`; true if the file is held afterwards.
pub async fn fetch(state: &Arc<AtlasState>, client: &Client, sources: &[String], hash: ValueHash) -> bool {
    let st = state.clone();
    let name = tokio::task::spawn_blocking(move || st.with_store(|s| s.inventory_name_of(&hash)))
        .await
        .ok()
        .and_then(|r| r.ok())
        .flatten();
    for base in sources {
        let mut urls = vec![format!("{base}/v1/zonefiles/{hash}")];
        if let Some(n) = &name {
            urls.push(format!("{base}/v1/names/{n}/zonefile/{hash}"));
        }
        for url in urls {
            let body = match client.get(&url, MAX_SOURCE_BODY, SOURCE_TIMEOUT).await {
                Ok(Some(b)) => b,
                Ok(None) => continue,
                Err(e) => {
                    debug!(url = %redacted(&url), error = %e, "atlas: zone-file source failed");
                    state.metrics.atlas.rejected("bad_reply");
                    break;
                }
            };
            let file = zonefile_in_reply(&body);
            if ValueHash::of_zonefile(&file) != hash {
                debug!(url = %redacted(&url), "atlas: zone-file source sent bytes that do not match the hash");
                state.metrics.atlas.rejected("mismatch");
                continue;
            }
            let (st, origin) = (state.clone(), Origin::Http(redacted(base)));
            let verdict = tokio::task::spawn_blocking(move || st.store_verified(&[(Some(hash), file)], &origin)).await;
            if verdict.is_ok_and(|v| v[0].is_held()) {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_raw_or_json() {
        assert_eq!(zonefile_in_reply(b"$ORIGIN a.id\n"), b"$ORIGIN a.id\n");
        assert_eq!(zonefile_in_reply(br#"{"zonefile":"$ORIGIN a.id\n"}"#), b"$ORIGIN a.id\n");
        assert_eq!(zonefile_in_reply(b"{not json"), b"{not json", "kept raw; the hash check decides");
        assert_eq!(normalize_base("http://127.0.0.1:6270/").unwrap(), "http://127.0.0.1:6270");
        assert!(normalize_base("ftp://x").is_err() && normalize_base("nope").is_err());
        assert_eq!(redacted("https://u:secret@h:1/api"), "https://u:redacted@h:1/api");
        assert_eq!(redacted("http://h:6270"), "http://h:6270");
    }
}
