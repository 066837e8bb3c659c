//! Conversion of zone-file records to hickory wire records, and the timers of
//! the synthetic namespace SOA.

use hickory_proto::rr::{
    rdata::{
        tlsa::{CertUsage, Matching, Selector},
        CNAME, MX, NS, NULL, SRV, TLSA, TXT,
    },
    Name, RData, Record, RecordType,
};

use crate::zonefile::{RecordData, ZoneRecord};

/// RR type code of URI (RFC 7553); hickory has no URI rdata, so it goes out as opaque data.
pub(crate) const URI_TYPE: u16 = 256;

/// TTL of the namespace SOA and NS records in positive answers.
pub const SOA_TTL: u32 = 300;
/// SOA `REFRESH`.
pub const SOA_REFRESH: i32 = 600;
/// SOA `RETRY`.
pub const SOA_RETRY: i32 = 60;
/// SOA `EXPIRE`.
pub const SOA_EXPIRE: i32 = 86_400;
/// SOA `MINIMUM`: the negative-caching TTL (RFC 2308).
pub const SOA_MINIMUM: u32 = 60;

/// The DNS record type of a zone-file record, if this module knows how to serve it.
pub(crate) fn record_type(data: &RecordData) -> Option<RecordType> {
    Some(match data {
        RecordData::A(_) => RecordType::A,
        RecordData::Aaaa(_) => RecordType::AAAA,
        RecordData::Cname(_) => RecordType::CNAME,
        RecordData::Mx { .. } => RecordType::MX,
        RecordData::Ns(_) => RecordType::NS,
        RecordData::Txt(_) => RecordType::TXT,
        RecordData::Srv { .. } => RecordType::SRV,
        RecordData::Uri { .. } => RecordType::Unknown(URI_TYPE),
        RecordData::Tlsa { .. } => RecordType::TLSA,
        #[allow(unreachable_patterns)]
        _ => return None,
    })
}

/// Parses an absolute domain name as the zone-file module writes it (lowercase,
/// labels separated by `.`, no trailing dot; the empty string is the root).
///
/// Labels are taken as raw bytes: no escape processing. `None` if a label is
/// empty or longer than 63 bytes, or the name is too long.
pub(crate) fn parse_name(s: &str) -> Option<Name> {
    let s = s.strip_suffix('.').unwrap_or(s);
    if s.is_empty() {
        return Some(Name::root());
    }
    if s.split('.').any(str::is_empty) {
        return None;
    }
    let mut name = Name::from_labels(s.split('.').map(str::as_bytes)).ok()?;
    name.set_fqdn(true);
    Some(name)
}

/// Builds the wire record for `rec`, owned by `owner`.
///
/// `None` if the record cannot be represented (bad target name, unknown type).
pub(crate) fn to_record(rec: &ZoneRecord, owner: &Name) -> Option<Record> {
    let rdata = match &rec.data {
        RecordData::A(ip) => RData::A((*ip).into()),
        RecordData::Aaaa(ip) => RData::AAAA((*ip).into()),
        RecordData::Cname(target) => RData::CNAME(CNAME(parse_name(target)?)),
        RecordData::Ns(target) => RData::NS(NS(parse_name(target)?)),
        RecordData::Mx { preference, exchange } => RData::MX(MX::new(*preference, parse_name(exchange)?)),
        RecordData::Txt(strings) => RData::TXT(txt(strings)),
        RecordData::Srv { priority, weight, port, target } => {
            RData::SRV(SRV::new(*priority, *weight, *port, parse_name(target)?))
        }
        RecordData::Uri { priority, weight, target } => {
            // RFC 7553 section 4.5: priority(2) weight(2) target (rest of the RDATA, no length byte).
            let mut wire = Vec::with_capacity(4 + target.len());
            wire.extend_from_slice(&priority.to_be_bytes());
            wire.extend_from_slice(&weight.to_be_bytes());
            wire.extend_from_slice(target.as_bytes());
            RData::Unknown { code: RecordType::Unknown(URI_TYPE), rdata: NULL::with(wire) }
        }
        RecordData::Tlsa { usage, selector, matching, data } => RData::TLSA(TLSA::new(
            CertUsage::from(*usage),
            Selector::from(*selector),
            Matching::from(*matching),
            data.clone(),
        )),
        #[allow(unreachable_patterns)]
        _ => return None,
    };
    Some(Record::from_rdata(owner.clone(), rec.ttl, rdata))
}

/// TXT rdata preserving every character-string; over-long strings (which the
/// zone-file parser should not produce) are split at 255 bytes, and an empty
/// list becomes one empty string so the RDATA stays well-formed.
fn txt(strings: &[Vec<u8>]) -> TXT {
    let mut parts: Vec<&[u8]> = Vec::with_capacity(strings.len().max(1));
    for s in strings {
        if s.is_empty() {
            parts.push(&[]);
        } else {
            parts.extend(s.chunks(255));
        }
    }
    if parts.is_empty() {
        parts.push(&[]);
    }
    TXT::from_bytes(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(parse_name(""), Some(Name::root()));
        assert_eq!(parse_name("_443._tcp.werner.id").map(|n| n.to_ascii()), Some("_443._tcp.werner.id.".to_string()));
        assert_eq!(parse_name("a..id"), None);
        assert_eq!(parse_name(&"x".repeat(64)), None);
    }

    #[test]
    fn uri_wire_format() {
        let rec = ZoneRecord {
            owner: "werner.id".into(),
            ttl: 60,
            data: RecordData::Uri { priority: 10, weight: 1, target: "https://x/".into() },
        };
        let owner = parse_name("werner.id").expect("name");
        let r = to_record(&rec, &owner).expect("record");
        assert_eq!(r.record_type(), RecordType::Unknown(256));
        match r.data {
            RData::Unknown { rdata, .. } => {
                assert_eq!(&rdata.anything[..4], &[0, 10, 0, 1]);
                assert_eq!(&rdata.anything[4..], b"https://x/");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn txt_split_and_empty() {
        let t = txt(&[vec![b'a'; 300], vec![]]);
        let lens: Vec<usize> = t.txt_data.iter().map(|s| s.len()).collect();
        assert_eq!(lens, vec![255, 45, 0]);
        assert_eq!(txt(&[]).txt_data.len(), 1);
    }
}
