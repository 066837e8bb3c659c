//! A namespace zone as an RFC 1035 master file: the same RRs AXFR sends,
//! one per line, absolute owners, in the presentation format Knot, NSD and
//! BIND load (URI as RFC 7553 writes it, unknown types as RFC 3597 `\#`).

use std::io::{self, Write};
use std::net::{Ipv4Addr, Ipv6Addr};

use super::super::snapshot::{zone::wire_name_len, Snapshot};
use super::content::{for_each_rr, soa, split};

/// What [`export`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exported {
    /// RRs written, both SOA lines not counted twice (the SOA once).
    pub rrs: u64,
    /// Entries (names and subdomains) of the namespace seen.
    pub entries: usize,
    /// SOA serial of the view written.
    pub serial: u32,
}

/// Writes namespace `ns` of `snap` to `w`; `None` if `ns` is no namespace of it.
pub fn export(snap: &Snapshot, ns: &str, w: &mut impl Write) -> io::Result<Option<Exported>> {
    let ns = ns.trim_end_matches('.').to_ascii_lowercase();
    let Some(zone) = snap.namespace_list().iter().find(|n| &n.id[..] == ns.as_bytes()) else { return Ok(None) };
    writeln!(w, "; BNS namespace {ns}, height {}, serial {}", snap.height(), snap.serial())?;
    writeln!(w, "$ORIGIN {ns}.")?;
    let mut line = String::with_capacity(512);
    let mut rrs = 1u64;
    let mut err = None;
    present(&soa(zone, snap.serial()), &mut line);
    w.write_all(line.as_bytes())?;
    let entries = for_each_rr(snap, zone, |rr| {
        if err.is_some() {
            return;
        }
        line.clear();
        present(rr, &mut line);
        rrs += 1;
        if let Err(e) = w.write_all(line.as_bytes()) {
            err = Some(e);
        }
    });
    if let Some(e) = err {
        return Err(e);
    }
    Ok(Some(Exported { rrs, entries, serial: snap.serial() }))
}

/// One RR as a master-file line (with its newline).
pub(crate) fn present(rr: &[u8], out: &mut String) {
    use std::fmt::Write as _;
    let Some((owner, rtype, ttl, rdata)) = split(rr) else { return };
    name(owner, out);
    let _ = write!(out, " {ttl} IN ");
    if !typed(rtype, rdata, out) {
        let _ = write!(out, "TYPE{rtype} \\# {}", rdata.len());
        if !rdata.is_empty() {
            out.push(' ');
            hex(rdata, out);
        }
    }
    out.push('\n');
}

/// Writes type and rdata of the known types; false (nothing written) for
/// another type or rdata that does not parse.
fn typed(rtype: u16, d: &[u8], out: &mut String) -> bool {
    use std::fmt::Write as _;
    let start = out.len();
    let ok = match rtype {
        1 => <[u8; 4]>::try_from(d).map(|a| write!(out, "A {}", Ipv4Addr::from(a))).is_ok(),
        28 => <[u8; 16]>::try_from(d).map(|a| write!(out, "AAAA {}", Ipv6Addr::from(a))).is_ok(),
        2 | 5 => {
            out.push_str(if rtype == 2 { "NS " } else { "CNAME " });
            whole_name(d, out)
        }
        6 => soa_text(d, out),
        15 if d.len() >= 3 => {
            let _ = write!(out, "MX {} ", u16::from_be_bytes([d[0], d[1]]));
            whole_name(&d[2..], out)
        }
        33 if d.len() >= 7 => {
            let n = |i: usize| u16::from_be_bytes([d[i], d[i + 1]]);
            let _ = write!(out, "SRV {} {} {} ", n(0), n(2), n(4));
            whole_name(&d[6..], out)
        }
        16 => {
            out.push_str("TXT");
            let mut at = 0;
            while at < d.len() {
                let l = usize::from(d[at]);
                let Some(s) = d.get(at + 1..at + 1 + l) else { break };
                out.push(' ');
                quoted(s, out);
                at += 1 + l;
            }
            at == d.len() && !d.is_empty()
        }
        256 if d.len() >= 4 => {
            let _ = write!(out, "URI {} {} ", u16::from_be_bytes([d[0], d[1]]), u16::from_be_bytes([d[2], d[3]]));
            quoted(&d[4..], out);
            true
        }
        52 if d.len() >= 3 => {
            let _ = write!(out, "TLSA {} {} {} ", d[0], d[1], d[2]);
            if d.len() == 3 {
                out.push('-');
            }
            hex(&d[3..], out);
            true
        }
        _ => false,
    };
    if !ok {
        out.truncate(start);
    }
    ok
}

fn soa_text(d: &[u8], out: &mut String) -> bool {
    use std::fmt::Write as _;
    out.push_str("SOA ");
    let Some(m) = wire_name_len(d) else { return false };
    let Some(r) = d.get(m..).and_then(wire_name_len) else { return false };
    if d.len() != m + r + 20 {
        return false;
    }
    name(&d[..m], out);
    out.push(' ');
    name(&d[m..m + r], out);
    for i in 0..5 {
        let at = m + r + 4 * i;
        let _ = write!(out, " {}", u32::from_be_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]]));
    }
    true
}

/// A name that must fill the rest of the rdata.
fn whole_name(d: &[u8], out: &mut String) -> bool {
    if wire_name_len(d) != Some(d.len()) {
        return false;
    }
    name(d, out);
    true
}

/// A wire name as absolute text: letters, digits, `-`, `_` and a leading
/// `*` as they are, everything else `\DDD`.
pub(crate) fn name(wire: &[u8], out: &mut String) {
    use std::fmt::Write as _;
    if wire.first().is_none_or(|&b| b == 0) {
        out.push('.');
        return;
    }
    let mut at = 0;
    while at < wire.len() {
        let l = usize::from(wire[at]);
        if l == 0 {
            break;
        }
        let label = &wire[at + 1..(at + 1 + l).min(wire.len())];
        for (i, &b) in label.iter().enumerate() {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || (b == b'*' && l == 1 && i == 0) {
                out.push(char::from(b));
            } else {
                let _ = write!(out, "\\{b:03}");
            }
        }
        out.push('.');
        at += 1 + l;
    }
}

/// A character-string in double quotes: `"` and `\` escaped, bytes outside
/// printable ASCII as `\DDD`.
fn quoted(s: &[u8], out: &mut String) {
    use std::fmt::Write as _;
    out.push('"');
    for &b in s {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
    out.push('"');
}

fn hex(b: &[u8], out: &mut String) {
    use std::fmt::Write as _;
    for x in b {
        let _ = write!(out, "{x:02X}");
    }
}
