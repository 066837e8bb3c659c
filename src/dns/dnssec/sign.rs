//! RRSIG rdata for one RRset in wire form (RFC 4034 §3.1.8.1): the RRSIG
//! fields up to the signer's name, then every RR in canonical form
//! (lowercase uncompressed owner and embedded names, the original TTL,
//! sorted by rdata, duplicates once), signed with the zone key.

use std::borrow::Cow;

use super::super::xfr::content::push_wire;
use super::{ZoneKey, ALGORITHM};

/// When a signature is valid: inception and expiration, Unix seconds (mod 2³²).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub inception: u32,
    pub expiration: u32,
}

impl Validity {
    /// From an hour before `now` (clocks drift) for `days` days.
    pub fn around(now: u64, days: u32) -> Validity {
        let now = now as u32;
        Validity { inception: now.wrapping_sub(3600), expiration: now.wrapping_add(days * 86_400) }
    }
}

/// Labels of a wire name, not counting the root or a leading `*` (the RRSIG Labels field).
pub fn labels(wire: &[u8]) -> u8 {
    let (mut n, mut at) = (0u8, 0);
    while let Some(&l) = wire.get(at) {
        if l == 0 {
            break;
        }
        if !(at == 0 && l == 1 && wire.get(1) == Some(&b'*')) {
            n = n.saturating_add(1);
        }
        at += 1 + usize::from(l);
    }
    n
}

/// The rdata of type `rtype` with its embedded names lowercased (RFC 4034
/// §6.2, RFC 6840 §5.1: NS, CNAME, SOA, MX, SRV and the other old types; our
/// rdata is never compressed).
pub fn canonical_rdata(rtype: u16, rdata: &[u8]) -> Cow<'_, [u8]> {
    // (offset of the first name, names in a row)
    let names: Option<(usize, usize)> = match rtype {
        2 | 5 | 12 | 39 => Some((0, 1)), // NS, CNAME, PTR, DNAME
        6 => Some((0, 2)),               // SOA: MNAME, RNAME
        15 => Some((2, 1)),              // MX: preference, exchange
        33 => Some((6, 1)),              // SRV: priority, weight, port, target
        _ => None,
    };
    let Some((start, count)) = names else { return Cow::Borrowed(rdata) };
    let mut out = rdata.to_vec();
    let mut at = start;
    for _ in 0..count {
        while let Some(&l) = out.get(at) {
            if l == 0 || l > 63 {
                at += 1;
                break;
            }
            let end = (at + 1 + usize::from(l)).min(out.len());
            out[at + 1..end].make_ascii_lowercase();
            at = end;
        }
    }
    Cow::Owned(out)
}

/// RRSIG rdata signing the RRset (`owner`, `rtype`, `ttl`, `rdatas`) of zone
/// `signer` (both lowercase wire names) with `key`.
pub fn rrsig(
    key: &ZoneKey,
    owner: &[u8],
    rtype: u16,
    ttl: u32,
    rdatas: &[&[u8]],
    signer: &[u8],
    v: Validity,
) -> Vec<u8> {
    let mut fields = Vec::with_capacity(18 + signer.len() + 64);
    fields.extend_from_slice(&rtype.to_be_bytes());
    fields.push(ALGORITHM);
    fields.push(labels(owner));
    fields.extend_from_slice(&ttl.to_be_bytes());
    fields.extend_from_slice(&v.expiration.to_be_bytes());
    fields.extend_from_slice(&v.inception.to_be_bytes());
    fields.extend_from_slice(&key.tag().to_be_bytes());
    fields.extend_from_slice(signer);
    let mut canon: Vec<Cow<'_, [u8]>> = rdatas.iter().map(|r| canonical_rdata(rtype, r)).collect();
    canon.sort();
    canon.dedup();
    let mut data = fields.clone();
    for rd in &canon {
        push_wire(&mut data, owner, &[], rtype, ttl, rd);
    }
    fields.extend_from_slice(&key.sign(&data));
    fields
}
