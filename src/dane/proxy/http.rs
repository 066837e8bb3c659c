//! The little HTTP/1.1 the proxy speaks: a request head (parsed by
//! `httparse`, at most [`MAX_HEAD`] bytes), and whole responses it writes
//! itself: the refusal page, the PAC file, the CA, redirects.

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

/// Largest request head read.
pub const MAX_HEAD: usize = 16 * 1024;

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub method: String,
    /// The request target as sent: `host:port` for CONNECT, a path or an absolute URL otherwise.
    pub target: String,
    /// The `Host` header, if any.
    pub host: Option<String>,
    /// Bytes read after the head (a client should send none before it is answered).
    pub rest: Vec<u8>,
}

/// Reads one request head from `io`; `Err` says why it is not one.
pub async fn read_head<R: AsyncRead + Unpin>(io: &mut R) -> Result<Head, String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let n = io.read(&mut chunk).await.map_err(|e| format!("reading the request: {e}"))?;
        if n == 0 {
            return Err("the connection closed before a whole request head".into());
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => {
                let host = req
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("host"))
                    .and_then(|h| std::str::from_utf8(h.value).ok())
                    .map(|h| h.trim().to_string());
                return Ok(Head {
                    method: req.method.unwrap_or_default().to_string(),
                    target: req.path.unwrap_or_default().to_string(),
                    host,
                    rest: buf[len..].to_vec(),
                });
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => continue,
            Ok(httparse::Status::Partial) => return Err(format!("request head longer than {MAX_HEAD} bytes")),
            Err(e) => return Err(format!("not an HTTP request: {e}")),
        }
    }
}

/// `host:port` of a CONNECT target (`[v6]:port` too); the host lowercased,
/// without a trailing dot.
pub fn authority(target: &str) -> Option<(String, u16)> {
    let (host, port) = target.rsplit_once(':')?;
    let port: u16 = port.parse().ok().filter(|p| *p != 0)?;
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() || host.len() > 253 || host.bytes().any(|b| b.is_ascii_whitespace() || b == b'/' || b == b'@') {
        return None;
    }
    Some((host, port))
}

/// Host and port of an absolute `http://` URL (`None` for other forms).
pub fn absolute_http(target: &str) -> Option<(String, u16, &str)> {
    let rest = target.strip_prefix("http://").or_else(|| target.strip_prefix("HTTP://"))?;
    let (auth, path) = rest.find('/').map(|i| rest.split_at(i)).unwrap_or((rest, "/"));
    let (host, port) = match authority(auth) {
        Some(hp) => hp,
        None => (auth.trim_end_matches('.').to_ascii_lowercase(), 80),
    };
    Some((host, port, path))
}

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page a refused name gets: what was asked, and why it was refused.
pub fn refusal_page(url: &str, why: &str) -> String {
    let (url, why) = (escape(url), escape(why));
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>bns refused {url}</title></head>\n\
         <body><h1>bns refused {url}</h1>\n<p id=\"why\">{why}</p>\n\
         <p>This name is a BNS name: its TLS key is pinned by TLSA records in its zone file, whose hash is on \
         the Bitcoin chain. bns does not fall back to public certificate authorities for it.</p>\n</body></html>\n"
    )
}

/// The PAC file: names under `namespaces` go to the proxy at `proxy`
/// (`host:port`), all others direct.
pub fn pac(namespaces: &[String], proxy: &str) -> String {
    let list: Vec<String> = namespaces.iter().map(|n| format!("\"{n}\"")).collect();
    format!(
        "// bns DANE proxy: BNS names go through the proxy, every other name directly.\n\
         function FindProxyForURL(url, host) {{\n  \
           host = host.toLowerCase();\n  \
           var bns = [{}];\n  \
           for (var i = 0; i < bns.length; i++) {{\n    \
             if (host == bns[i] || dnsDomainIs(host, \".\" + bns[i])) return \"PROXY {proxy}\";\n  \
           }}\n  \
           return \"DIRECT\";\n\
         }}\n",
        list.join(", ")
    )
}

/// Writes a whole response with `body` and closes the exchange
/// (`Connection: close`).
pub async fn respond<W: AsyncWrite + Unpin>(
    io: &mut W,
    status: &str,
    content_type: &str,
    extra: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    io.write_all(head.as_bytes()).await?;
    io.write_all(body).await?;
    io.flush().await?;
    io.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities() {
        assert_eq!(authority("werner.id:443"), Some(("werner.id".into(), 443)));
        assert_eq!(authority("WERNER.ID.:8443"), Some(("werner.id".into(), 8443)));
        assert_eq!(authority("[::1]:443"), Some(("::1".into(), 443)));
        for bad in ["werner.id", "werner.id:0", "werner.id:99999", ":443", "a/b:443", "u@h:443", "a b:443"] {
            assert_eq!(authority(bad), None, "{bad}");
        }
        assert_eq!(absolute_http("http://werner.id/x?y"), Some(("werner.id".into(), 80, "/x?y")));
        assert_eq!(absolute_http("http://werner.id:81"), Some(("werner.id".into(), 81, "/")));
        assert_eq!(absolute_http("/proxy.pac"), None);
    }

    #[test]
    fn pages_escape_what_they_show() {
        let page = refusal_page("https://a.id/<x>", "key \"b\" & <c>");
        assert!(page.contains("https://a.id/&lt;x&gt;") && page.contains("key &quot;b&quot; &amp; &lt;c&gt;"));
        let pac = pac(&["id".into(), "btc".into()], "127.0.0.1:8443");
        assert!(pac.contains("var bns = [\"id\", \"btc\"];") && pac.contains("PROXY 127.0.0.1:8443"));
    }

    #[tokio::test]
    async fn heads_are_parsed_or_refused() {
        let mut ok: &[u8] = b"CONNECT werner.id:443 HTTP/1.1\r\nHost: werner.id:443\r\n\r\nextra";
        let h = read_head(&mut ok).await.unwrap();
        assert_eq!((h.method.as_str(), h.target.as_str()), ("CONNECT", "werner.id:443"));
        assert_eq!((h.host.as_deref(), h.rest.as_slice()), (Some("werner.id:443"), &b"extra"[..]));
        let mut short: &[u8] = b"GET / HTTP/1.1\r\nHost: x";
        assert!(read_head(&mut short).await.unwrap_err().contains("closed"));
        let mut junk: &[u8] = b"\x16\x03\x01\x02\x00garbage\r\n\r\n";
        assert!(read_head(&mut junk).await.unwrap_err().contains("not an HTTP request"));
        let long = format!("GET / HTTP/1.1\r\nX: {}\r\n", "a".repeat(MAX_HEAD));
        let mut long = long.as_bytes();
        assert!(read_head(&mut long).await.unwrap_err().contains("longer"));
    }
}
