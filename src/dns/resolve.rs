//! Answer logic: from a question to response sections. Pure apart from the
//! [`NameSource`] calls; no networking here.

use hickory_proto::{
    op::ResponseCode,
    rr::{Name, Record, RecordType},
};

use super::ede::{self, Ede};
use super::records::{ns_record, parse_name, record_type, soa_record, to_record};
use super::{Lookup, NameSource, SYNC_LAG_TOLERANCE};
use crate::zonefile::{RecordData, ZoneFile, ZoneRecord};

/// Longest CNAME chain followed inside one zone file.
const MAX_CNAME_CHAIN: usize = 8;

/// What to do with a question.
#[derive(Debug)]
pub(crate) enum Resolution {
    /// The name is not under a BNS namespace. The handler decides what that means
    /// (forwarding, or REFUSED without upstreams).
    Outside,
    /// An answer from BNS data.
    Answer(Answer),
}

/// Response code, flags and sections of an answer (from BNS data, or relayed
/// from an upstream resolver).
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub rcode: ResponseCode,
    pub authoritative: bool,
    pub recursion_available: bool,
    pub answers: Vec<Record>,
    pub authorities: Vec<Record>,
    pub additionals: Vec<Record>,
    /// Extended DNS Error to attach (RFC 8914).
    pub ede: Option<Ede>,
    /// The BNS name is not registered (or expired): a `bns-first` namespace forwards it.
    pub unregistered: bool,
}

impl Answer {
    pub(crate) fn new(rcode: ResponseCode, authoritative: bool) -> Self {
        Answer {
            rcode,
            authoritative,
            recursion_available: false,
            answers: Vec::new(),
            authorities: Vec::new(),
            additionals: Vec::new(),
            ede: None,
            unregistered: false,
        }
    }

    fn servfail(ede: Option<Ede>) -> Self {
        Answer { ede, ..Answer::new(ResponseCode::ServFail, false) }
    }
}

/// Lowercase text of one label, or `None` if it cannot occur in a zone-file
/// name (not UTF-8, or contains a dot).
fn label_text(label: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(label).ok()?;
    if s.contains('.') {
        return None;
    }
    Some(s.to_ascii_lowercase())
}

/// True if `name` equals `apex` or lies below it (both as zone-file strings).
///
/// Compares bytes (ASCII case-insensitively), so it never slices inside a
/// multi-byte character.
fn within(name: &str, apex: &str) -> bool {
    let (name, apex) = (name.as_bytes(), apex.as_bytes());
    if name.len() == apex.len() {
        return name.eq_ignore_ascii_case(apex);
    }
    name.len() > apex.len() + 1
        && name[name.len() - apex.len() - 1] == b'.'
        && name[name.len() - apex.len()..].eq_ignore_ascii_case(apex)
}

/// True if `name` lies strictly below `apex`.
fn strictly_below(name: &str, apex: &str) -> bool {
    name.len() > apex.len() && within(name, apex)
}

/// Resolves one question against BNS state.
///
/// `qname` keeps the case the client used; answers at `qname` echo it.
pub(crate) fn resolve(source: &dyn NameSource, qname: &Name, qtype: RecordType) -> Resolution {
    let labels: Vec<Option<String>> = qname.iter().map(label_text).collect();
    let Some(Some(ns)) = labels.last() else {
        return Resolution::Outside;
    };
    if !source.is_namespace(ns) {
        return Resolution::Outside;
    }
    let Some(apex) = parse_name(ns) else {
        return Resolution::Outside;
    };
    let serial = source.serial();
    let negative = |rcode| Answer { authorities: vec![soa_record(&apex, serial, true)], ..Answer::new(rcode, true) };
    // Behind the chain tip: answers may be stale, and "not registered" may be wrong.
    let lag = source.sync_lag().filter(|lag| *lag > SYNC_LAG_TOLERANCE);
    let lag_ede = lag.map(|lag| {
        Ede::new(ede::NOT_READY, format!("chain not synced: index at block {serial} is {lag} blocks behind the tip"))
    });

    let mut answer = if labels.len() == 1 {
        namespace_apex(&apex, serial, qname, qtype)
    } else if let Some(name) = &labels[labels.len() - 2] {
        // The BNS name is the last two labels.
        let fqn = format!("{name}.{ns}");
        match source.lookup(&fqn) {
            Lookup::NotRegistered if lag.is_some() => Answer::servfail(None),
            Lookup::NotRegistered => Answer { unregistered: true, ..negative(ResponseCode::NXDomain) },
            Lookup::Expired => Answer {
                unregistered: true,
                ede: Some(Ede::new(ede::OTHER, format!("name {fqn} has expired"))),
                ..negative(ResponseCode::NXDomain)
            },
            Lookup::Revoked => Answer {
                ede: Some(Ede::new(ede::OTHER, format!("name {fqn} was revoked by its owner"))),
                ..negative(ResponseCode::NXDomain)
            },
            Lookup::ZoneFileMissing => Answer::servfail(None),
            Lookup::ZoneFileNotFetched { hash } => {
                Answer::servfail(Some(Ede::new(ede::NOT_READY, format!("zone file {hash} of {fqn} not yet fetched"))))
            }
            Lookup::ZoneFileInvalid { hash, reason } => Answer::servfail(Some(Ede::new(
                ede::INVALID_DATA,
                format!("zone file {hash} of {fqn} is unusable: {reason}"),
            ))),
            Lookup::Zone(zone) => {
                let parts: Option<Vec<String>> = labels.into_iter().collect();
                match parts {
                    // A label with a dot or non-UTF-8 bytes matches no zone-file owner.
                    None => negative(ResponseCode::NXDomain),
                    Some(parts) => {
                        let q = parts.join(".");
                        let found = in_zone(&zone, &fqn, &q, qname, qtype);
                        let authorities =
                            if found.negative { vec![soa_record(&apex, serial, true)] } else { Vec::new() };
                        Answer { answers: found.answers, authorities, ..Answer::new(found.rcode, true) }
                    }
                }
            }
        }
    } else {
        negative(ResponseCode::NXDomain)
    };
    if answer.ede.is_none() {
        answer.ede = lag_ede;
    }
    Resolution::Answer(answer)
}

/// Answers at a namespace apex (`id.`): synthetic SOA and NS, NODATA otherwise.
fn namespace_apex(apex: &Name, serial: u32, qname: &Name, qtype: RecordType) -> Answer {
    let mut owner_soa = soa_record(apex, serial, false);
    owner_soa.name = qname.clone();
    let mut owner_ns = ns_record(apex);
    owner_ns.name = qname.clone();
    let (answers, authorities) = match qtype {
        RecordType::SOA => (vec![owner_soa], Vec::new()),
        RecordType::NS => (vec![owner_ns], Vec::new()),
        RecordType::ANY => (vec![owner_soa, owner_ns], Vec::new()),
        _ => (Vec::new(), vec![soa_record(apex, serial, true)]),
    };
    Answer { answers, authorities, ..Answer::new(ResponseCode::NoError, true) }
}

/// Outcome of a lookup inside one zone file.
struct ZoneAnswer {
    rcode: ResponseCode,
    /// Answer section (CNAME chain first, then the data).
    answers: Vec<Record>,
    /// True for NXDOMAIN / NODATA at the end of the chain: the caller adds the SOA.
    negative: bool,
}

/// Answers `q` (lowercase text of `qname`) from the zone file of BNS name `fqn`.
///
/// Only records whose owner is `fqn` or below it are considered, so a zone file
/// cannot speak for other names.
fn in_zone(zone: &ZoneFile, fqn: &str, q: &str, qname: &Name, qtype: RecordType) -> ZoneAnswer {
    let owned: Vec<&ZoneRecord> =
        zone.records.iter().filter(|r| within(&r.owner, fqn) && record_type(&r.data).is_some()).collect();
    let mut answers: Vec<Record> = Vec::new();
    let mut current = q.to_string();
    let mut current_name = qname.clone();
    let mut seen: Vec<String> = Vec::new();

    for _ in 0..MAX_CNAME_CHAIN {
        seen.push(current.clone());
        let at: Vec<&ZoneRecord> = owned.iter().copied().filter(|r| r.owner.eq_ignore_ascii_case(&current)).collect();
        if at.is_empty() {
            // The BNS name itself exists (it is registered); so does an empty
            // non-terminal above some owner.
            let exists = current.eq_ignore_ascii_case(fqn) || owned.iter().any(|r| strictly_below(&r.owner, &current));
            return ZoneAnswer {
                rcode: if exists { ResponseCode::NoError } else { ResponseCode::NXDomain },
                answers,
                negative: true,
            };
        }
        let matching: Vec<Record> = at
            .iter()
            .filter(|r| qtype == RecordType::ANY || record_type(&r.data) == Some(qtype))
            .filter_map(|r| to_record(r, &current_name))
            .collect();
        if !matching.is_empty() {
            answers.extend(matching);
            return ZoneAnswer { rcode: ResponseCode::NoError, answers, negative: false };
        }
        let cname = at.iter().find_map(|r| match &r.data {
            RecordData::Cname(target) if qtype != RecordType::CNAME => {
                let record = to_record(r, &current_name)?;
                let target = target.strip_suffix('.').unwrap_or(target).to_ascii_lowercase();
                let target_name = parse_name(&target)?;
                Some((record, target, target_name))
            }
            _ => None,
        });
        let Some((record, target, target_name)) = cname else {
            // NODATA.
            return ZoneAnswer { rcode: ResponseCode::NoError, answers, negative: true };
        };
        answers.push(record);
        if !within(&target, fqn) || seen.contains(&target) {
            // Outside this zone file (the client chases it), or a loop.
            break;
        }
        current = target;
        current_name = target_name;
    }
    ZoneAnswer { rcode: ResponseCode::NoError, answers, negative: false }
}

#[cfg(test)]
mod tests {
    use std::{net::Ipv4Addr, sync::Arc};

    use super::*;
    use crate::zonefile::ZoneRecord;

    struct One(Lookup);

    impl NameSource for One {
        fn is_namespace(&self, ns: &str) -> bool {
            ns == "id"
        }
        fn lookup(&self, fqn: &str) -> Lookup {
            if fqn == "n.id" {
                self.0.clone()
            } else {
                Lookup::NotRegistered
            }
        }
        fn serial(&self) -> u32 {
            7
        }
    }

    fn cname(owner: &str, target: &str) -> ZoneRecord {
        ZoneRecord { owner: owner.into(), ttl: 60, data: RecordData::Cname(target.into()) }
    }

    fn ask_name(records: Vec<ZoneRecord>, qname: &Name, t: RecordType) -> Answer {
        let zone = ZoneFile { origin: None, ttl: None, records, warnings: Vec::new() };
        let src = One(Lookup::Zone(Arc::new(zone)));
        match resolve(&src, qname, t) {
            Resolution::Answer(a) => a,
            Resolution::Outside => panic!("outside"),
        }
    }

    fn ask(records: Vec<ZoneRecord>, q: &str, t: RecordType) -> Answer {
        ask_name(records, &Name::from_ascii(q).expect("name"), t)
    }

    #[test]
    fn within_works() {
        assert!(within("werner.id", "werner.id"));
        assert!(within("WWW.werner.id", "werner.id"));
        assert!(within("_443._tcp.werner.id", "werner.id"));
        assert!(!within("xwerner.id", "werner.id"));
        assert!(!within("id", "werner.id"));
        assert!(!strictly_below("werner.id", "werner.id"));
        assert!(strictly_below("a.werner.id", "werner.id"));
        // Multi-byte characters: no slicing panic.
        assert!(!within("é.werner.id", "éwerner.id"));
        assert!(!within("aé", "é"));
        assert!(within("x.é", "é"));
    }

    #[test]
    fn cname_chain_to_missing_owner_is_nxdomain_with_soa() {
        let a = ask(vec![cname("a.n.id", "gone.n.id")], "a.n.id.", RecordType::A);
        assert_eq!(a.rcode, ResponseCode::NXDomain);
        assert_eq!(a.answers.len(), 1);
        assert_eq!(a.authorities.len(), 1);
    }

    #[test]
    fn cname_chain_to_nodata_and_loops() {
        let recs = vec![cname("a.n.id", "n.id"), cname("l1.n.id", "l2.n.id"), cname("l2.n.id", "l1.n.id")];
        let a = ask(recs.clone(), "a.n.id.", RecordType::A);
        assert_eq!(a.rcode, ResponseCode::NoError);
        assert_eq!((a.answers.len(), a.authorities.len()), (1, 1));
        let a = ask(recs, "l1.n.id.", RecordType::A);
        assert_eq!(a.rcode, ResponseCode::NoError);
        assert_eq!(a.answers.len(), 2);
    }

    #[test]
    fn registered_name_without_records_is_nodata() {
        let other = ZoneRecord { owner: "www.n.id".into(), ttl: 60, data: RecordData::A(Ipv4Addr::LOCALHOST) };
        let a = ask(vec![other], "n.id.", RecordType::A);
        assert_eq!(a.rcode, ResponseCode::NoError);
        assert!(a.answers.is_empty());
        assert_eq!(a.authorities.len(), 1);
    }

    #[test]
    fn odd_labels() {
        // A label with a literal dot byte cannot match a zone-file owner.
        let recs = vec![cname("b.n.id", "n.id")];
        let qname = Name::from_labels(vec![&b"a.b"[..], b"n", b"id"]).expect("name");
        let a = ask_name(recs.clone(), &qname, RecordType::A);
        assert_eq!(a.rcode, ResponseCode::NXDomain);
        assert_eq!(a.authorities.len(), 1);
        let qname = Name::from_labels(vec![&b"\xff"[..], b"n", b"id"]).expect("name");
        let a = ask_name(recs, &qname, RecordType::A);
        assert_eq!(a.rcode, ResponseCode::NXDomain);
        let qname = Name::from_labels(vec!["é".as_bytes(), b"n", b"id"]).expect("name");
        let a = ask_name(vec![cname("b.n.id", "n.id")], &qname, RecordType::A);
        assert_eq!(a.rcode, ResponseCode::NXDomain);
        // Odd bytes in the namespace label: not BNS.
        let src = One(Lookup::NotRegistered);
        let qname = Name::from_labels(vec![&b"n"[..], b"i\xffd"]).expect("name");
        assert!(matches!(resolve(&src, &qname, RecordType::A), Resolution::Outside));
        let root = Name::root();
        assert!(matches!(resolve(&src, &root, RecordType::NS), Resolution::Outside));
    }
}
