//! A name's records in the packed form the snapshot keeps: one byte string per
//! name, RRs sorted by (owner, type), rdata already in wire format.
//!
//! Layout of one RR (all integers big-endian):
//!
//! ```text
//! owner_len u8 | owner (wire labels relative to the BNS name, lowercase, no root byte)
//! type u16 | ttl u32 | rdlen u16 | rdata (names uncompressed, as the zone file wrote them)
//! ```
//!
//! The packed bytes may come from a file on disk, so every reader bounds-checks
//! and stops at the first malformed RR instead of trusting lengths.

use hickory_proto::{
    rr::{Name, RData, Record, RecordType},
    serialize::binary::{BinDecoder, BinEncodable, BinEncoder, Restrict},
};

use crate::dns::records::{parse_name, record_type, to_record};
use crate::zonefile::ZoneFile;

/// Bytes an RR takes besides its owner and rdata.
const FIXED: usize = 1 + 2 + 4 + 2;

/// One packed RR, borrowed from the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rr<'a> {
    /// Owner relative to the BNS name: wire labels, lowercase, no root byte.
    pub owner: &'a [u8],
    pub rtype: u16,
    pub ttl: u32,
    pub rdata: &'a [u8],
    /// Offset of this RR in the packed bytes, and of the next one.
    pub at: usize,
    pub end: usize,
}

/// Reads the RR starting at `at`; `None` at the end or on malformed bytes.
pub(crate) fn rr_at(blob: &[u8], at: usize) -> Option<Rr<'_>> {
    let olen = usize::from(*blob.get(at)?);
    let owner = blob.get(at + 1..at + 1 + olen)?;
    let p = at + 1 + olen;
    let fixed = blob.get(p..p + 8)?;
    let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
    let ttl = u32::from_be_bytes([fixed[2], fixed[3], fixed[4], fixed[5]]);
    let rdlen = usize::from(u16::from_be_bytes([fixed[6], fixed[7]]));
    let rdata = blob.get(p + 8..p + 8 + rdlen)?;
    Some(Rr { owner, rtype, ttl, rdata, at, end: p + 8 + rdlen })
}

/// Iterates the RRs of a packed blob.
pub(crate) fn rrs(blob: &[u8]) -> impl Iterator<Item = Rr<'_>> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let rr = rr_at(blob, at)?;
        at = rr.end;
        Some(rr)
    })
}

/// Packs the records of `zone` that lie at or below BNS name `fqn` (lowercase
/// "name.ns"). Records outside it, or that cannot be put on the wire, are left
/// out (the zone-file parser already warned about unparsable lines).
pub(crate) fn pack(zone: &ZoneFile, fqn: &str) -> Vec<u8> {
    let mut items: Vec<(Vec<u8>, u16, u32, Vec<u8>)> = Vec::with_capacity(zone.records.len());
    for rec in &zone.records {
        let Some(owner) = relative_owner(&rec.owner, fqn) else { continue };
        let Some(rtype) = record_type(&rec.data) else { continue };
        let Some(rdata) = rdata_wire(rec) else { continue };
        if owner.len() > 255 || rdata.len() > usize::from(u16::MAX) {
            continue;
        }
        items.push((owner, u16::from(rtype), rec.ttl, rdata));
    }
    // Stable: RRs of one set keep their file order.
    items.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    let mut out = Vec::with_capacity(items.iter().map(|i| FIXED + i.0.len() + i.3.len()).sum());
    for (owner, rtype, ttl, rdata) in items {
        push_rr(&mut out, &owner, rtype, ttl, &rdata);
    }
    out
}

/// Appends one RR in the packed layout.
pub(crate) fn push_rr(out: &mut Vec<u8>, owner: &[u8], rtype: u16, ttl: u32, rdata: &[u8]) {
    out.push(owner.len() as u8);
    out.extend_from_slice(owner);
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(rdata);
}

/// Wire labels of `owner` relative to `fqn` (no root byte), if it is `fqn` or below.
fn relative_owner(owner: &str, fqn: &str) -> Option<Vec<u8>> {
    let (o, f) = (owner.as_bytes(), fqn.as_bytes());
    let prefix = if o.len() == f.len() {
        if !o.eq_ignore_ascii_case(f) {
            return None;
        }
        &[][..]
    } else if o.len() > f.len() + 1
        && o[o.len() - f.len() - 1] == b'.'
        && o[o.len() - f.len()..].eq_ignore_ascii_case(f)
    {
        &o[..o.len() - f.len() - 1]
    } else {
        return None;
    };
    let mut wire = Vec::with_capacity(prefix.len() + 1);
    if prefix.is_empty() {
        return Some(wire);
    }
    for label in prefix.split(|b| *b == b'.') {
        if label.is_empty() || label.len() > 63 {
            return None;
        }
        wire.push(label.len() as u8);
        wire.extend(label.iter().map(u8::to_ascii_lowercase));
    }
    Some(wire)
}

/// The record's rdata in wire format, names uncompressed.
fn rdata_wire(rec: &crate::zonefile::ZoneRecord) -> Option<Vec<u8>> {
    let record = to_record(rec, &Name::root())?;
    let mut out = Vec::with_capacity(64);
    let mut enc = BinEncoder::new(&mut out);
    record.data.emit(&mut enc).ok()?;
    Some(out)
}

/// The wire form of a zone-file name (absolute, lowercase), with the root byte.
pub(crate) fn name_wire(name: &str) -> Option<Vec<u8>> {
    let n = parse_name(name)?;
    let mut out = Vec::with_capacity(name.len() + 2);
    let mut enc = BinEncoder::new(&mut out);
    enc.set_name_encoding(hickory_proto::serialize::binary::NameEncoding::Uncompressed);
    n.emit(&mut enc).ok()?;
    Some(out)
}

/// A hickory record for packed RR `rr`, owned by `owner` (the slow path's view).
pub(crate) fn to_hickory(rr: &Rr<'_>, owner: &Name, ttl: u32) -> Option<Record> {
    let rtype = RecordType::from(rr.rtype);
    let mut dec = BinDecoder::new(rr.rdata);
    let len = u16::try_from(rr.rdata.len()).ok()?;
    let data = RData::read(&mut dec, rtype, Restrict::new(len)).ok()?;
    Some(Record::from_rdata(owner.clone(), ttl, data))
}

/// The name an rdata of type `rtype` points at, as wire labels with the root
/// byte (CNAME, NS, MX exchange, SRV target), or `None` for types without one.
pub(crate) fn rdata_target(rtype: u16, rdata: &[u8]) -> Option<&[u8]> {
    let skip = match RecordType::from(rtype) {
        RecordType::CNAME | RecordType::NS => 0,
        RecordType::MX => 2,
        RecordType::SRV => 6,
        _ => return None,
    };
    let name = rdata.get(skip..)?;
    let len = wire_name_len(name)?;
    name.get(..len)
}

/// Length of the uncompressed wire name at the start of `b`, root byte included.
pub(crate) fn wire_name_len(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    loop {
        let l = usize::from(*b.get(i)?);
        if l == 0 {
            return Some(i + 1);
        }
        if l > 63 {
            return None;
        }
        i += 1 + l;
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::zonefile::{RecordData, ZoneRecord};

    fn rec(owner: &str, data: RecordData) -> ZoneRecord {
        ZoneRecord { owner: owner.into(), ttl: 60, data }
    }

    #[test]
    fn packs_sorted_and_relative() {
        let zone = ZoneFile {
            origin: None,
            ttl: None,
            records: vec![
                rec("www.n.id", RecordData::A(Ipv4Addr::new(1, 2, 3, 4))),
                rec("n.id", RecordData::Txt(vec![b"x".to_vec()])),
                rec("n.id", RecordData::A(Ipv4Addr::new(5, 6, 7, 8))),
                rec("other.id", RecordData::A(Ipv4Addr::new(9, 9, 9, 9))),
                rec("xn.id", RecordData::A(Ipv4Addr::new(9, 9, 9, 9))),
                rec("a.n.id", RecordData::Cname("n.id".into())),
            ],
            warnings: vec![],
        };
        let blob = pack(&zone, "n.id");
        let got: Vec<(Vec<u8>, u16)> = rrs(&blob).map(|r| (r.owner.to_vec(), r.rtype)).collect();
        assert_eq!(got, vec![(vec![], 1), (vec![], 16), (b"\x01a".to_vec(), 5), (b"\x03www".to_vec(), 1)]);
        let cname = rrs(&blob).find(|r| r.rtype == 5).unwrap();
        assert_eq!(rdata_target(5, cname.rdata), Some(&b"\x01n\x02id\x00"[..]));
        // Truncated bytes end the iteration, never panic.
        for cut in 0..blob.len() {
            let _ = rrs(&blob[..cut]).count();
        }
    }
}
