//! Compact denial of existence (RFC 9824): an NSEC at the query name whose
//! next name is `\000.<qname>`, so it covers nothing else. For a name that
//! does not exist its bitmap is RRSIG, NSEC and NXNAME; for a type that does
//! not exist, the types that do, plus RRSIG and NSEC.

use super::{T_NSEC, T_NXNAME, T_RRSIG};

/// The next name of a compact NSEC at `qname` (lowercase wire): `\000.qname`.
pub fn next_name(qname: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(qname.len() + 2);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(qname);
    out
}

/// RFC 4034 §4.1.2 type bitmap of `types` (any order, duplicates ignored).
pub fn type_bitmap(types: &[u16]) -> Vec<u8> {
    let mut sorted = types.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let window = (sorted[i] >> 8) as u8;
        let mut bits = [0u8; 32];
        let mut len = 0;
        while i < sorted.len() && (sorted[i] >> 8) as u8 == window {
            let low = (sorted[i] & 0xff) as usize;
            bits[low / 8] |= 0x80 >> (low % 8);
            len = low / 8 + 1;
            i += 1;
        }
        out.push(window);
        out.push(len as u8);
        out.extend_from_slice(&bits[..len]);
    }
    out
}

/// NSEC rdata saying `qname` does not exist.
pub fn nxname(qname: &[u8]) -> Vec<u8> {
    let mut out = next_name(qname);
    out.extend_from_slice(&type_bitmap(&[T_RRSIG, T_NSEC, T_NXNAME]));
    out
}

/// NSEC rdata saying `qname` exists with `types` only.
pub fn nodata(qname: &[u8], types: &[u16]) -> Vec<u8> {
    let mut all = types.to_vec();
    all.extend_from_slice(&[T_RRSIG, T_NSEC]);
    let mut out = next_name(qname);
    out.extend_from_slice(&type_bitmap(&all));
    out
}
