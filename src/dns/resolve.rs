//! The slow path's answers: a [`Plan`] turned into hickory records. The
//! fast path writes the same plan to the wire itself ([`super::fast`]).

use hickory_proto::{
    op::ResponseCode,
    rr::{Name, Record, RecordType},
    serialize::binary::{BinDecodable, BinDecoder, BinEncodable, BinEncoder, NameEncoding},
};

use super::ede::Ede;
use super::fast::{ede_text, owner_wire};
use super::plan::{plan, Owner, Plan, QName, Set};
use super::snapshot::{zone::to_hickory, Snapshot};

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
}

/// TTL of the answers for `localhost.` names.
const LOCALHOST_TTL: u32 = 3600;

/// RFC 6761 section 6.3: `localhost.` and every name under it is this host,
/// answered here and never forwarded: A 127.0.0.1, AAAA ::1 (both for ANY),
/// other types NODATA with a SOA. `None` for other names.
pub(crate) fn localhost(qname: &Name, qtype: RecordType) -> Option<Answer> {
    let last = qname.iter().next_back()?;
    if !last.eq_ignore_ascii_case(b"localhost") {
        return None;
    }
    use hickory_proto::rr::rdata::{A, AAAA, SOA};
    use hickory_proto::rr::RData;
    let mut answer = Answer::new(ResponseCode::NoError, true);
    let rr = |rdata: RData| Record::from_rdata(qname.clone(), LOCALHOST_TTL, rdata);
    if matches!(qtype, RecordType::A | RecordType::ANY) {
        answer.answers.push(rr(RData::A(A::new(127, 0, 0, 1))));
    }
    if matches!(qtype, RecordType::AAAA | RecordType::ANY) {
        answer.answers.push(rr(RData::AAAA(AAAA::new(0, 0, 0, 0, 0, 0, 0, 1))));
    }
    if answer.answers.is_empty() {
        let apex = Name::from_ascii("localhost.").ok()?;
        let rname = Name::from_ascii("nobody.invalid.").ok()?;
        let soa = SOA::new(apex.clone(), rname, 1, 3600, 1200, 604_800, LOCALHOST_TTL);
        answer.authorities.push(Record::from_rdata(apex, LOCALHOST_TTL, RData::SOA(soa)));
    }
    Some(answer)
}

/// Resolves one question against `snap`.
///
/// `qname` keeps the case the client used; answers at `qname` echo it.
pub(crate) fn resolve(snap: &Snapshot, qname: &Name, qtype: RecordType) -> Resolution {
    let mut wire = Vec::with_capacity(64);
    {
        let mut enc = BinEncoder::new(&mut wire);
        enc.set_name_encoding(NameEncoding::Uncompressed);
        if qname.emit(&mut enc).is_err() {
            return Resolution::Outside;
        }
    }
    let Some(q) = QName::parse(&wire) else { return Resolution::Outside };
    let p = plan(snap, &q, u16::from(qtype));
    if p.outside {
        return Resolution::Outside;
    }
    let ede = p.ede.as_ref().map(|e| {
        let mut text = String::new();
        let code = ede_text(e, &q, snap.height(), &mut text);
        Ede::new(code, text)
    });
    Resolution::Answer(Answer {
        answers: records(snap, &p, &q, qname, p.answer.iter()),
        authorities: records(snap, &p, &q, qname, p.authority.iter()),
        additionals: records(snap, &p, &q, qname, p.additional.iter()),
        ede,
        unregistered: p.unregistered,
        ..Answer::new(ResponseCode::from(0, p.rcode), p.authoritative)
    })
}

/// Hickory records for the RR sets `sets` of plan `p`.
fn records<'a>(
    snap: &'a Snapshot,
    p: &Plan<'a>,
    q: &QName<'a>,
    qname: &Name,
    sets: impl Iterator<Item = &'a Set<'a>>,
) -> Vec<Record> {
    let mut out = Vec::new();
    for set in sets {
        let owner = match set.owner {
            Owner::Qname => Some(qname.clone()),
            _ => owner_wire(snap, p, q, set).and_then(|w| Name::read(&mut BinDecoder::new(w)).ok()),
        };
        let Some(owner) = owner else { continue };
        out.extend(set.rrs().filter_map(|rr| to_hickory(&rr, &owner, set.ttl.unwrap_or(rr.ttl))));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::{net::Ipv4Addr, sync::Arc};

    use hickory_proto::rr::RData;

    use super::*;
    use crate::dns::snapshot::{ApexConfig, ImageMeta, NameState};
    use crate::zonefile::{RecordData, ZoneFile, ZoneRecord};

    fn cname(owner: &str, target: &str) -> ZoneRecord {
        ZoneRecord { owner: owner.into(), ttl: 60, data: RecordData::Cname(target.into()) }
    }

    fn a(owner: &str, last: u8) -> ZoneRecord {
        ZoneRecord { owner: owner.into(), ttl: 60, data: RecordData::A(Ipv4Addr::new(10, 0, 0, last)) }
    }

    fn snap(records: Vec<ZoneRecord>, apex: &ApexConfig) -> Snapshot {
        let zone = ZoneFile { origin: None, ttl: None, records, warnings: Vec::new() };
        let meta = ImageMeta { height: 7, serial: 7, ..ImageMeta::default() };
        Snapshot::build(meta, &["id"], [("n.id".to_string(), NameState::Zone(Arc::new(zone)), None)], apex)
    }

    fn ask_name(records: Vec<ZoneRecord>, qname: &Name, t: RecordType) -> Answer {
        match resolve(&snap(records, &ApexConfig::default()), qname, t) {
            Resolution::Answer(a) => a,
            Resolution::Outside => panic!("outside"),
        }
    }

    fn ask(records: Vec<ZoneRecord>, q: &str, t: RecordType) -> Answer {
        ask_name(records, &Name::from_ascii(q).expect("name"), t)
    }

    fn addrs(a: &Answer) -> Vec<String> {
        a.answers.iter().map(|r| format!("{} {}", r.name, r.data)).collect()
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
        let a = ask(vec![a("www.n.id", 1)], "n.id.", RecordType::A);
        assert_eq!(a.rcode, ResponseCode::NoError);
        assert!(a.answers.is_empty());
        assert_eq!(a.authorities.len(), 1);
    }

    #[test]
    fn wildcards_are_expanded_under_the_closest_encloser() {
        let recs = vec![a("*.n.id", 1), a("www.n.id", 2), a("*.sub.n.id", 3), a("x.deep.n.id", 4)];
        // No owner: synthesized from *.n.id, owned by the question.
        assert_eq!(addrs(&ask(recs.clone(), "Any.n.id.", RecordType::A)), vec!["Any.n.id. 10.0.0.1"]);
        assert_eq!(addrs(&ask(recs.clone(), "a.b.n.id.", RecordType::A)), vec!["a.b.n.id. 10.0.0.1"]);
        // An existing owner wins; the closest encloser's own wildcard applies.
        assert_eq!(addrs(&ask(recs.clone(), "www.n.id.", RecordType::A)), vec!["www.n.id. 10.0.0.2"]);
        assert_eq!(addrs(&ask(recs.clone(), "q.sub.n.id.", RecordType::A)), vec!["q.sub.n.id. 10.0.0.3"]);
        // deep.n.id is an empty non-terminal: it exists, so no wildcard below
        // n.id covers it, and y.deep.n.id has no wildcard of its own.
        let ent = ask(recs.clone(), "deep.n.id.", RecordType::A);
        assert_eq!((ent.rcode, ent.answers.len()), (ResponseCode::NoError, 0));
        let nx = ask(recs, "y.deep.n.id.", RecordType::A);
        assert_eq!(nx.rcode, ResponseCode::NXDomain);
    }

    #[test]
    fn ns_below_the_name_is_a_referral() {
        let ns = ZoneRecord { owner: "sub.n.id".into(), ttl: 60, data: RecordData::Ns("ns1.sub.n.id".into()) };
        let recs = vec![ns, a("ns1.sub.n.id", 9), a("x.sub.n.id", 5), a("n.id", 1)];
        let r = ask(recs.clone(), "www.SUB.n.id.", RecordType::A);
        assert_eq!(r.rcode, ResponseCode::NoError);
        assert!(!r.authoritative, "a referral is not authoritative data");
        assert!(r.answers.is_empty());
        assert_eq!(r.authorities.len(), 1);
        assert_eq!(r.authorities[0].name.to_string(), "SUB.n.id.");
        assert_eq!(r.additionals.iter().map(|g| g.data.to_string()).collect::<Vec<_>>(), vec!["10.0.0.9"]);
        // Data below the cut is not served as authoritative.
        assert!(ask(recs.clone(), "x.sub.n.id.", RecordType::A).answers.is_empty());
        // The name itself is still answered.
        assert_eq!(addrs(&ask(recs, "n.id.", RecordType::A)), vec!["n.id. 10.0.0.1"]);
    }

    #[test]
    fn any_gets_one_rrset() {
        let txt = ZoneRecord { owner: "n.id".into(), ttl: 60, data: RecordData::Txt(vec![b"t".to_vec()]) };
        let r = ask(vec![txt, a("n.id", 1), a("n.id", 2)], "n.id.", RecordType::ANY);
        assert_eq!(r.answers.len(), 2);
        assert!(r.answers.iter().all(|x| x.record_type() == RecordType::A));
    }

    #[test]
    fn apex_ns_is_answered_with_its_address_and_a_configured_host_wins_over_the_chain() {
        let apex = ApexConfig { ns_name: None, ns_addrs: vec![Ipv4Addr::new(192, 0, 2, 53).into()], dnskey: None };
        let s = snap(vec![], &apex);
        let Resolution::Answer(r) = resolve(&s, &Name::from_ascii("id.").unwrap(), RecordType::NS) else { panic!() };
        assert_eq!(r.answers[0].data.to_string(), "id.");
        assert_eq!(r.additionals[0].data, RData::A(Ipv4Addr::new(192, 0, 2, 53).into()));
        let apex = ApexConfig {
            ns_name: Some("n.id".into()),
            ns_addrs: vec![Ipv4Addr::new(192, 0, 2, 54).into()],
            dnskey: None,
        };
        let s = snap(vec![a("n.id", 1)], &apex);
        let Resolution::Answer(r) = resolve(&s, &Name::from_ascii("N.id.").unwrap(), RecordType::A) else { panic!() };
        assert_eq!(addrs(&r), vec!["N.id. 192.0.2.54"]);
        let Resolution::Answer(r) = resolve(&s, &Name::from_ascii("id.").unwrap(), RecordType::SOA) else { panic!() };
        let RData::SOA(soa) = &r.answers[0].data else { panic!() };
        assert_eq!((soa.mname.to_string(), soa.rname.to_string()), ("n.id.".into(), "hostmaster.bns.invalid.".into()));
        assert_eq!(soa.serial, 7);
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
        // Odd bytes in the namespace label: not BNS.
        let s = snap(vec![], &ApexConfig::default());
        let qname = Name::from_labels(vec![&b"n"[..], b"i\xffd"]).expect("name");
        assert!(matches!(resolve(&s, &qname, RecordType::A), Resolution::Outside));
        assert!(matches!(resolve(&s, &Name::root(), RecordType::NS), Resolution::Outside));
    }
}
