//! Record types and their text forms (RDATA) as zone files write them.
//!
//! ```text
//! A      1.2.3.4
//! AAAA   2001:db8::1
//! CNAME  target            NS  target
//! MX     preference exchange
//! TXT    "string" bare "another"...     (each piece at most 255 bytes)
//! SRV    priority weight port target
//! URI    priority weight "target"       (RFC 7553; bare target accepted)
//! TLSA   usage selector matching hex [hex...]
//! ```

use std::net::{Ipv4Addr, Ipv6Addr};

use super::lexer::Token;
use super::name::{resolve_token, NameError};
use super::RecordData;

/// Largest character-string in a TXT record, in bytes (RFC 1035 §3.3).
pub const MAX_CHARACTER_STRING: usize = 255;

/// Record types the parser recognizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RType {
    A,
    Aaaa,
    Cname,
    Mx,
    Ns,
    Txt,
    Srv,
    Uri,
    Tlsa,
    /// A type that is known but not served; the line is skipped.
    Unsupported,
}

/// Mnemonics of types that are recognized but not supported.
const UNSUPPORTED: &[&str] = &[
    "SOA",
    "PTR",
    "SPF",
    "CAA",
    "DS",
    "DNSKEY",
    "RRSIG",
    "NSEC",
    "NSEC3",
    "NSEC3PARAM",
    "HINFO",
    "NAPTR",
    "SSHFP",
    "ALIAS",
    "DNAME",
    "RP",
    "LOC",
    "HTTPS",
    "SVCB",
    "CERT",
    "OPENPGPKEY",
    "SMIMEA",
    "CDS",
    "CDNSKEY",
    "AFSDB",
    "KX",
    "MINFO",
    "MB",
    "MG",
    "MR",
    "NULL",
    "WKS",
    "X25",
    "ISDN",
    "RT",
    "TKEY",
    "TSIG",
    "ANY",
    "AXFR",
    "IXFR",
    "OPT",
    "APL",
    "DHCID",
    "HIP",
    "IPSECKEY",
    "KEY",
    "SIG",
    "NXT",
    "ZONEMD",
    "CSYNC",
    "EUI48",
    "EUI64",
    "L32",
    "L64",
    "LP",
    "NID",
    "A6",
    "MD",
    "MF",
];

impl RType {
    /// The type named by `s` (case-insensitive mnemonic or `TYPEnnn`), if `s` names one.
    pub(crate) fn from_mnemonic(s: &str) -> Option<RType> {
        let upper = s.to_ascii_uppercase();
        let t = match upper.as_str() {
            "A" => RType::A,
            "AAAA" => RType::Aaaa,
            "CNAME" => RType::Cname,
            "MX" => RType::Mx,
            "NS" => RType::Ns,
            "TXT" => RType::Txt,
            "SRV" => RType::Srv,
            "URI" => RType::Uri,
            "TLSA" => RType::Tlsa,
            u if UNSUPPORTED.contains(&u) => RType::Unsupported,
            u => {
                let digits = u.strip_prefix("TYPE")?;
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                // RFC 3597 TYPEnnn: recognized as a type, never supported.
                digits.parse::<u16>().ok()?;
                RType::Unsupported
            }
        };
        Some(t)
    }
}

/// Parses the RDATA `toks` of a record of type `rt` found on `line`, resolving
/// names against `origin`.
pub(crate) fn parse_rdata(
    rt: RType,
    toks: &[Token],
    origin: Option<&str>,
    line: usize,
) -> Result<RecordData, NameError> {
    let mut r = Reader { toks, at: 0 };
    let data = match rt {
        RType::A => RecordData::A(r.plain_parse::<Ipv4Addr>("ipv4 address")?),
        RType::Aaaa => RecordData::Aaaa(r.plain_parse::<Ipv6Addr>("ipv6 address")?),
        RType::Cname => RecordData::Cname(r.name(origin, line)?),
        RType::Ns => RecordData::Ns(r.name(origin, line)?),
        RType::Mx => {
            let preference = r.number("preference")?;
            RecordData::Mx { preference, exchange: r.name(origin, line)? }
        }
        RType::Srv => {
            let priority = r.number("priority")?;
            let weight = r.number("weight")?;
            let port = r.number("port")?;
            RecordData::Srv { priority, weight, port, target: r.name(origin, line)? }
        }
        RType::Uri => {
            let priority = r.number("priority")?;
            let weight = r.number("weight")?;
            let tok = r.next("target")?;
            let target =
                String::from_utf8(tok.bytes.clone()).map_err(|_| skip("uri target is not valid utf-8".into()))?;
            if target.is_empty() {
                return Err(skip("empty uri target".into()));
            }
            RecordData::Uri { priority, weight, target }
        }
        RType::Txt => {
            if toks.is_empty() {
                return Err(skip("txt record without strings".into()));
            }
            r.at = toks.len();
            RecordData::Txt(split_strings(toks))
        }
        RType::Tlsa => {
            let usage = r.number("usage")?;
            let selector = r.number("selector")?;
            let matching = r.number("matching type")?;
            let rest = toks.get(r.at..).unwrap_or_default();
            r.at = toks.len();
            RecordData::Tlsa { usage, selector, matching, data: tlsa_data(rest)? }
        }
        RType::Unsupported => return Err(skip("unsupported record type".into())),
    };
    let extra = toks.len().saturating_sub(r.at);
    if extra > 0 {
        return Err(skip(format!("{extra} unexpected tokens after the record data")));
    }
    Ok(data)
}

fn skip(reason: String) -> NameError {
    NameError::Skip(reason)
}

/// TXT strings: each token's bytes, cut into pieces of at most 255 bytes.
/// An empty string stays one empty string.
fn split_strings(toks: &[Token]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for t in toks {
        if t.bytes.is_empty() {
            out.push(Vec::new());
        }
        out.extend(t.bytes.chunks(MAX_CHARACTER_STRING).map(<[u8]>::to_vec));
    }
    out
}

/// TLSA association data: the hex tokens concatenated, then decoded.
fn tlsa_data(toks: &[Token]) -> Result<Vec<u8>, NameError> {
    let mut hex_text = String::new();
    for t in toks {
        let s = t.plain().ok_or_else(|| skip("tlsa data must be plain hex".into()))?;
        hex_text.push_str(s);
    }
    if hex_text.is_empty() {
        return Err(skip("tlsa record without association data".into()));
    }
    hex::decode(&hex_text).map_err(|e| skip(format!("tlsa data is not hex: {}", e.to_string().to_lowercase())))
}

/// Walks RDATA tokens.
struct Reader<'a> {
    toks: &'a [Token],
    at: usize,
}

impl<'a> Reader<'a> {
    fn next(&mut self, what: &str) -> Result<&'a Token, NameError> {
        let t = self.toks.get(self.at).ok_or_else(|| skip(format!("missing {what}")))?;
        self.at += 1;
        Ok(t)
    }

    fn plain(&mut self, what: &str) -> Result<&'a str, NameError> {
        self.next(what)?.plain().ok_or_else(|| skip(format!("{what} must be a plain token")))
    }

    fn plain_parse<T: std::str::FromStr>(&mut self, what: &str) -> Result<T, NameError> {
        let s = self.plain(what)?;
        s.parse().map_err(|_| skip(format!("invalid {what} '{}'", super::error::shown(s))))
    }

    /// An unsigned decimal number (digits only) that fits `T`.
    fn number<T: TryFrom<u64>>(&mut self, what: &str) -> Result<T, NameError> {
        let s = self.plain(what)?;
        let bad = || skip(format!("invalid {what} '{}'", super::error::shown(s)));
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let n: u64 = s.parse().map_err(|_| bad())?;
        T::try_from(n).map_err(|_| bad())
    }

    fn name(&mut self, origin: Option<&str>, line: usize) -> Result<String, NameError> {
        let tok = self.next("target name")?;
        resolve_token(tok, origin, line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zonefile::lexer::lex;

    fn rdata(rt: RType, text: &str) -> Result<RecordData, String> {
        let toks = match lex(text.as_bytes()).into_iter().next() {
            Some(Ok(e)) => e.tokens,
            None => Vec::new(),
            Some(Err(f)) => return Err(f.reason),
        };
        parse_rdata(rt, &toks, Some("foo.id"), 1).map_err(|e| match e {
            NameError::Skip(s) => s,
            NameError::Fatal(e) => format!("fatal: {e}"),
        })
    }

    #[test]
    fn mnemonics() {
        let cases = [
            ("a", Some(RType::A)),
            ("AaAa", Some(RType::Aaaa)),
            ("uri", Some(RType::Uri)),
            ("SOA", Some(RType::Unsupported)),
            ("TYPE65534", Some(RType::Unsupported)),
            ("TYPE65536", None),
            ("TYPE", None),
            ("IN", None),
            ("3600", None),
            ("foo", None),
        ];
        for (s, want) in cases {
            assert_eq!(RType::from_mnemonic(s), want, "{s}");
        }
    }

    #[test]
    fn rdata_table() {
        let long: String = "x".repeat(600);
        let cases: Vec<(RType, String, Result<RecordData, String>)> = vec![
            (RType::A, "1.2.3.4".into(), Ok(RecordData::A(Ipv4Addr::new(1, 2, 3, 4)))),
            (RType::A, "1.2.3".into(), Err("invalid ipv4 address '1.2.3'".into())),
            (RType::A, "\"1.2.3.4\"".into(), Err("ipv4 address must be a plain token".into())),
            (RType::A, "".into(), Err("missing ipv4 address".into())),
            (RType::A, "1.2.3.4 5.6.7.8".into(), Err("1 unexpected tokens after the record data".into())),
            (RType::Aaaa, "2001:DB8::1".into(), Ok(RecordData::Aaaa("2001:db8::1".parse().unwrap()))),
            (RType::Cname, "www".into(), Ok(RecordData::Cname("www.foo.id".into()))),
            (RType::Ns, "ns1.Example.COM.".into(), Ok(RecordData::Ns("ns1.example.com".into()))),
            (RType::Mx, "10 @".into(), Ok(RecordData::Mx { preference: 10, exchange: "foo.id".into() })),
            (RType::Mx, "0 .".into(), Ok(RecordData::Mx { preference: 0, exchange: "".into() })),
            (RType::Mx, "65536 mail".into(), Err("invalid preference '65536'".into())),
            (RType::Mx, "-1 mail".into(), Err("invalid preference '-1'".into())),
            (RType::Mx, "+1 mail".into(), Err("invalid preference '+1'".into())),
            (
                RType::Srv,
                "0 5 5060 sip.example.com.".into(),
                Ok(RecordData::Srv { priority: 0, weight: 5, port: 5060, target: "sip.example.com".into() }),
            ),
            (RType::Srv, "0 5 sip".into(), Err("invalid port 'sip'".into())),
            (
                RType::Uri,
                "10 1 \"https://example.com/a b\"".into(),
                Ok(RecordData::Uri { priority: 10, weight: 1, target: "https://example.com/a b".into() }),
            ),
            (
                RType::Uri,
                "10 1 https://hub.cruxpay.com".into(),
                Ok(RecordData::Uri { priority: 10, weight: 1, target: "https://hub.cruxpay.com".into() }),
            ),
            (RType::Uri, "10 1 \"\"".into(), Err("empty uri target".into())),
            (RType::Uri, "10 1".into(), Err("missing target".into())),
            (
                RType::Txt,
                "\"a b\" c \"\"".into(),
                Ok(RecordData::Txt(vec![b"a b".to_vec(), b"c".to_vec(), Vec::new()])),
            ),
            (
                RType::Txt,
                format!("\"{long}\""),
                Ok(RecordData::Txt(vec![vec![b'x'; 255], vec![b'x'; 255], vec![b'x'; 90]])),
            ),
            (RType::Txt, "".into(), Err("txt record without strings".into())),
            (
                RType::Tlsa,
                "3 1 1 0A0b 0c".into(),
                Ok(RecordData::Tlsa { usage: 3, selector: 1, matching: 1, data: vec![0x0a, 0x0b, 0x0c] }),
            ),
            (RType::Tlsa, "3 1 1".into(), Err("tlsa record without association data".into())),
            (RType::Tlsa, "3 1 256 00".into(), Err("invalid matching type '256'".into())),
            (RType::Tlsa, "3 1 1 0g".into(), Err("tlsa data is not hex: invalid character 'g' at position 1".into())),
            (RType::Unsupported, "x".into(), Err("unsupported record type".into())),
        ];
        for (rt, text, want) in cases {
            assert_eq!(rdata(rt, &text), want, "{rt:?} {text:?}");
        }
    }

    #[test]
    fn bad_target_label_is_fatal() {
        assert!(rdata(RType::Cname, "a..b").unwrap_err().starts_with("fatal: line 1: name 'a..b'"));
    }
}
