//! Compact denial of existence (RFC 9824): an NSEC at the query name whose
//! next name is `\000.<qname>`, so it covers nothing else. For a name that
//! does not exist its bitmap is RRSIG, NSEC and NXNAME; for a type that does
//! not exist, the types that do, plus RRSIG and NSEC.

use super::{T_NSEC, T_NXNAME, T_RRSIG};

/// Room for the longest NSEC rdata written here: a 255-byte next name and
/// the bitmap of 34 types, each in a window of its own.
pub const NSEC_MAX: usize = 2 + 255 + 34 * 34;

/// RFC 4034 §4.1.2 type bitmap of `types` (any order, duplicates ignored).
pub fn type_bitmap(types: &[u16]) -> Vec<u8> {
    let mut buf = [0u8; 34 * 40];
    let mut sorted = [0u16; 40];
    let n = types.len().min(sorted.len());
    sorted[..n].copy_from_slice(&types[..n]);
    let len = bitmap_into(&mut sorted[..n], &mut buf);
    buf[..len].to_vec()
}

/// Writes the bitmap of `types` (sorted here) into `out`; returns its length
/// (`out` holds at least 34 bytes per window used).
fn bitmap_into(types: &mut [u16], out: &mut [u8]) -> usize {
    types.sort_unstable();
    let mut len_out = 0;
    let mut i = 0;
    while i < types.len() {
        let window = (types[i] >> 8) as u8;
        let mut bits = [0u8; 32];
        let mut len = 0;
        while i < types.len() && (types[i] >> 8) as u8 == window {
            let low = (types[i] & 0xff) as usize;
            bits[low / 8] |= 0x80 >> (low % 8);
            len = low / 8 + 1;
            i += 1;
        }
        if len_out + 2 + len > out.len() {
            break;
        }
        out[len_out] = window;
        out[len_out + 1] = len as u8;
        out[len_out + 2..len_out + 2 + len].copy_from_slice(&bits[..len]);
        len_out += 2 + len;
    }
    len_out
}

/// NSEC rdata saying `qname` does not exist, written into `buf`.
pub fn nxname<'b>(qname: &[u8], buf: &'b mut [u8; NSEC_MAX]) -> &'b [u8] {
    nsec_into(qname, &mut [T_RRSIG, T_NSEC, T_NXNAME], buf)
}

/// NSEC rdata saying `qname` exists with `types` (at most 32) only, written into `buf`.
pub fn nodata<'b>(qname: &[u8], types: &[u16], buf: &'b mut [u8; NSEC_MAX]) -> &'b [u8] {
    let mut all = [0u16; 34];
    let n = types.len().min(32);
    all[..n].copy_from_slice(&types[..n]);
    all[n] = T_RRSIG;
    all[n + 1] = T_NSEC;
    nsec_into(qname, &mut all[..n + 2], buf)
}

/// Next name `\000.qname`, then the bitmap of `types`.
fn nsec_into<'b>(qname: &[u8], types: &mut [u16], buf: &'b mut [u8; NSEC_MAX]) -> &'b [u8] {
    let q = qname.len().min(255);
    buf[..2].copy_from_slice(&[1, 0]);
    buf[2..2 + q].copy_from_slice(&qname[..q]);
    let len = bitmap_into(types, &mut buf[2 + q..]);
    &buf[..2 + q + len]
}
