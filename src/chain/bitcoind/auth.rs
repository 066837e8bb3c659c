//! Credentials for bitcoind's RPC and the URL they may come in.
//!
//! Invariant: no secret (password, API key, cookie) is ever formatted by
//! `Display` or `Debug`: [`Secret`] prints `***`, and [`RpcUrl`] holds the
//! URL with its userinfo taken out, so what is logged, shown in errors or
//! handed to the HTTP transport is `scheme://host:port/path` only.

use std::fmt;
use std::path::PathBuf;

/// A secret string (an RPC password, bcoin's API key, a cookie's token).
/// `Display` and `Debug` print `***`; [`Secret::expose`] is the only way to
/// the bytes, for the `Authorization` header.
#[derive(Clone, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps `s`.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret itself: only for sending it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Secret {
        Secret(s.to_string())
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Secret {
        Secret(s)
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Secret, Self::Err> {
        Ok(Secret(s.to_string()))
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How to reach and authenticate to the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RpcAuth {
    /// No credentials.
    None,
    /// `rpcuser` / `rpcpassword` (bcoin: any user, the API key as password).
    UserPass(String, Secret),
    /// The node's `.cookie` file (`__cookie__:<token>`), re-read whenever the
    /// node may have restarted (Core writes a new one at every start).
    Cookie(PathBuf),
}

impl RpcAuth {
    /// What the log may say about these credentials.
    pub fn describe(&self) -> String {
        match self {
            RpcAuth::None => "no credentials".to_string(),
            RpcAuth::UserPass(u, _) => format!("user {u:?}"),
            RpcAuth::Cookie(p) => format!("cookie {}", p.display()),
        }
    }
}

/// Reads a cookie file: `(user, token)`.
pub(super) fn read_cookie(path: &std::path::Path) -> Result<(String, Secret), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read cookie file {}: {e}", path.display()))?;
    let (user, token) =
        text.trim().split_once(':').ok_or_else(|| format!("cookie file {} is not `user:token`", path.display()))?;
    Ok((user.to_string(), Secret::new(token)))
}

/// A node URL without its userinfo, plus the credentials it carried
/// (`http://user:pass@host:port`, percent-decoded).
#[derive(Clone, PartialEq, Eq)]
pub struct RpcUrl {
    /// `scheme://host:port/path`: never holds a secret.
    base: String,
    /// The userinfo's user and password, if the URL had them.
    credentials: Option<(String, Secret)>,
}

impl RpcUrl {
    /// Splits `url` into the URL without userinfo and its credentials. An
    /// error (that never quotes the password) for an empty host or bad
    /// percent-encoding.
    pub fn parse(url: &str) -> Result<RpcUrl, String> {
        let url = url.trim();
        let (scheme, rest) = match url.split_once("://") {
            Some((s, r)) => (s, r),
            None => ("http", url),
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        let (userinfo, host) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let base = format!("{scheme}://{host}{path}");
        if host.is_empty() {
            return Err(format!("bitcoind URL {}: no host", redact(scheme, userinfo, host, path)));
        }
        let credentials = match userinfo {
            None => None,
            Some(u) => {
                let (user, pass) = u.split_once(':').unwrap_or((u, ""));
                let bad = |what| {
                    format!("bitcoind URL {}: bad percent-encoding in the {what}", redact(scheme, userinfo, host, path))
                };
                Some((
                    percent_decode(user).ok_or_else(|| bad("user"))?,
                    Secret(percent_decode(pass).ok_or_else(|| bad("password"))?),
                ))
            }
        };
        Ok(RpcUrl { base, credentials })
    }

    /// The URL without userinfo: what the transport connects to.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The user and password the URL carried.
    pub fn credentials(&self) -> Option<&(String, Secret)> {
        self.credentials.as_ref()
    }
}

fn redact(scheme: &str, userinfo: Option<&str>, host: &str, path: &str) -> String {
    match userinfo.map(|u| u.split_once(':').map_or(u, |(user, _)| user)) {
        Some(user) => format!("{scheme}://{user}:***@{host}{path}"),
        None => format!("{scheme}://{host}{path}"),
    }
}

/// `http://user:***@host:port/path` (or without userinfo): the URL as logs
/// and errors show it.
impl fmt::Display for RpcUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.credentials {
            Some((user, _)) => {
                let (scheme, rest) = self.base.split_once("://").unwrap_or(("http", &self.base));
                write!(f, "{scheme}://{user}:***@{rest}")
            }
            None => f.write_str(&self.base),
        }
    }
}

impl fmt::Debug for RpcUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RpcUrl({self})")
    }
}

/// `url` as logs may show it: its password replaced by `***`; a URL that
/// does not parse is shown as `<bad URL>`.
pub fn redacted(url: &str) -> String {
    RpcUrl::parse(url).map(|u| u.to_string()).unwrap_or_else(|_| "<bad URL>".to_string())
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `Basic <base64(user:pass)>` for `auth`, reading a cookie file afresh;
/// `None` without credentials.
pub(super) fn basic_auth_header(auth: &RpcAuth) -> Result<Option<String>, String> {
    let pair = match auth {
        RpcAuth::None => return Ok(None),
        RpcAuth::UserPass(u, p) => format!("{u}:{}", p.expose()),
        RpcAuth::Cookie(path) => {
            let (u, p) = read_cookie(path)?;
            format!("{u}:{}", p.expose())
        }
    };
    Ok(Some(format!("Basic {}", base64_encode(pair.as_bytes()))))
}

/// Standard base64 (RFC 4648, padded), enough for an HTTP Basic header.
fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_credentials_are_split_out_and_never_shown() {
        let u = RpcUrl::parse("http://alice:s%40cret:x@127.0.0.1:18443/wallet/w").unwrap();
        assert_eq!(u.base(), "http://127.0.0.1:18443/wallet/w");
        let (user, pass) = u.credentials().unwrap();
        assert_eq!((user.as_str(), pass.expose()), ("alice", "s@cret:x"));
        assert_eq!(u.to_string(), "http://alice:***@127.0.0.1:18443/wallet/w");
        assert!(!format!("{u:?} {pass:?} {pass}").contains("cret"));
        let plain = RpcUrl::parse("http://127.0.0.1:8332").unwrap();
        assert_eq!((plain.base(), plain.credentials()), ("http://127.0.0.1:8332", None));
        assert_eq!(plain.to_string(), "http://127.0.0.1:8332");
        assert_eq!(RpcUrl::parse("127.0.0.1:8332").unwrap().base(), "http://127.0.0.1:8332");
        let e = RpcUrl::parse("http://u:topsecret@").unwrap_err();
        assert!(e.contains("no host") && !e.contains("topsecret"), "{e}");
        let e = RpcUrl::parse("http://u:top%zzsecret@h:1").unwrap_err();
        assert!(e.contains("percent") && !e.contains("topsecret"), "{e}");
        assert_eq!(redacted("http://u:pw@h:1"), "http://u:***@h:1");
        let auth = RpcAuth::UserPass("u".into(), "pw-value".into());
        assert!(!format!("{auth:?} {}", auth.describe()).contains("pw-value"));
    }

    #[test]
    fn basic_auth_is_base64() {
        assert_eq!(base64_encode(b"x:bnstest"), "eDpibnN0ZXN0");
        assert_eq!(base64_encode(b"ab"), "YWI=");
        assert_eq!(base64_encode(b"a"), "YQ==");
        let h = basic_auth_header(&RpcAuth::UserPass("x".into(), "bnstest".into())).unwrap();
        assert_eq!(h.as_deref(), Some("Basic eDpibnN0ZXN0"));
    }
}
