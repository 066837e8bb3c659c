//! DANE for BNS names (RFC 6698, RFC 7671): TLSA records from the chain's
//! zone files pin a server's key. `tlsa` parses and matches records;
//! `cert` makes a key and certificate for a name and the TLSA line for its
//! zone file; `probe` connects to a server and checks its key against the
//! name's TLSA records; `ca` is the per-install, name-constrained CA and
//! `proxy` the local HTTPS proxy that lets a browser through only to keys
//! the chain pins.

pub mod ca;
pub mod cert;
pub mod probe;
pub mod proxy;
pub mod tlsa;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tlsa::Tlsa;

/// What the verified snapshot says, as DANE needs it (the node implements
/// it over the DNS face's snapshot; `dane` names no other layer).
pub trait Records: Send + Sync + 'static {
    /// The rdata (wire form) DNS answers for (`fqn`, `rtype`), CNAMEs inside
    /// a zone file followed, or why there is none.
    fn lookup(&self, fqn: &str, rtype: u16) -> Result<Vec<Vec<u8>>, String>;
    /// The namespaces whose names are pinned (DNS policy `bns`), lowercase.
    fn namespaces(&self) -> Vec<String>;
}

/// The TLSA records pinning `name` on TCP `port`, or why there are none.
pub fn pins(records: &dyn Records, name: &str, port: u16) -> Result<Vec<Tlsa>, String> {
    let at = tlsa::owner(name, port);
    let found: Vec<Tlsa> = records.lookup(&at, 52)?.iter().filter_map(|r| Tlsa::parse(r)).collect();
    if found.is_empty() {
        return Err(format!("{at} has no usable TLSA record"));
    }
    Ok(found)
}

/// The addresses (A, then AAAA) of `name`, with `port`, or why there are none.
pub fn addresses(records: &dyn Records, name: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    let mut out = Vec::new();
    let mut why = Vec::new();
    for rtype in [1u16, 28] {
        match records.lookup(name, rtype) {
            Ok(rdatas) => out.extend(rdatas.iter().filter_map(|r| match r.len() {
                4 => Some(IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(r.as_slice()).ok()?))),
                16 => Some(IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(r.as_slice()).ok()?))),
                _ => None,
            })),
            Err(e) => why.push(e),
        }
    }
    if out.is_empty() {
        return Err(format!("{name} has no address in its zone file ({})", why.join("; ")));
    }
    Ok(out.into_iter().map(|ip| SocketAddr::new(ip, port)).collect())
}
