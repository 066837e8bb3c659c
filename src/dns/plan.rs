//! What to answer, decided once for both paths: from a question and a
//! [`Snapshot`] to response code, flags and sections made of RR sets that
//! point into the snapshot's packed records. The fast path ([`super::fast`])
//! writes a plan straight to the wire; the slow path ([`super::resolve`]) turns
//! it into hickory records. Allocates nothing.
//!
//! Rules: the BNS name is the question's last two labels. Its zone file speaks
//! only for owners at or below it. In-zone CNAMEs are followed (at most
//! [`MAX_CNAME_CHAIN`], loops stop); a missing owner under an existing closest
//! encloser is synthesized from `*.<encloser>` (RFC 4592); NS records at an
//! owner below the name are a zone cut: queries at or below it get a referral
//! (no AA, NS in authority, in-zone glue in additional); `ANY` gets one RR set
//! (RFC 8482); negative answers carry the namespace SOA with TTL
//! `min(SOA TTL, MINIMUM)` (RFC 2308).

use super::records::{SOA_MINIMUM, SOA_TTL};
use super::snapshot::{
    zone::{rdata_target, rr_at, Rr},
    NameView, Namespace, Snapshot,
};

/// Longest CNAME chain followed inside one zone file.
pub(crate) const MAX_CNAME_CHAIN: usize = 8;

const T_A: u16 = 1;
const T_NS: u16 = 2;
const T_CNAME: u16 = 5;
const T_SOA: u16 = 6;
const T_AAAA: u16 = 28;
/// QTYPE ANY.
pub(crate) const T_ANY: u16 = 255;

/// A question name in wire form, labels indexed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QName<'a> {
    /// Labels and the root byte, in the client's case.
    pub wire: &'a [u8],
    offs: [u8; 128],
    n: usize,
}

impl<'a> QName<'a> {
    /// Parses an uncompressed name at the start of `b`; `None` if it is
    /// compressed, longer than 255 bytes or runs past `b`.
    pub(crate) fn parse(b: &'a [u8]) -> Option<QName<'a>> {
        let mut offs = [0u8; 128];
        let (mut i, mut n) = (0usize, 0usize);
        loop {
            let l = usize::from(*b.get(i)?);
            if l == 0 {
                return Some(QName { wire: b.get(..i + 1)?, offs, n });
            }
            if l > 63 || n == 127 || i + 1 + l + 1 > 255 {
                return None;
            }
            offs[n] = i as u8;
            n += 1;
            i += 1 + l;
        }
    }

    /// Number of labels (the root not counted).
    pub(crate) fn len(&self) -> usize {
        self.n
    }

    /// Label `i` (0 = leftmost).
    pub(crate) fn label(&self, i: usize) -> &'a [u8] {
        let at = usize::from(self.offs[i]);
        &self.wire[at + 1..at + 1 + usize::from(self.wire[at])]
    }

    /// Offset of label `i` in `wire` (`len()` gives the root byte's).
    pub(crate) fn offset(&self, i: usize) -> usize {
        if i >= self.n {
            self.wire.len() - 1
        } else {
            usize::from(self.offs[i])
        }
    }

    /// The name from label `i` on, root byte included.
    pub(crate) fn suffix(&self, i: usize) -> &'a [u8] {
        &self.wire[self.offset(i)..]
    }
}

/// Whose name an RR set is written under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    /// The question name as the client wrote it.
    Qname,
    /// The question name from label `i` on (a zone cut above the question).
    Suffix(u8),
    /// The namespace apex, lowercase.
    Apex,
    /// The configured NS host name.
    NsHost,
    /// The name in the rdata of the RR at this offset of the set's blob (a
    /// CNAME target, an NS target).
    Rdata(usize),
}

/// A run of RRs of one owner and type inside a packed blob.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Set<'a> {
    pub owner: Owner,
    pub blob: &'a [u8],
    pub start: usize,
    pub end: usize,
    /// TTL for every RR instead of the stored one.
    pub ttl: Option<u32>,
}

impl<'a> Set<'a> {
    /// The RRs of the set.
    pub(crate) fn rrs(&self) -> impl Iterator<Item = Rr<'a>> + 'a {
        let (blob, end) = (self.blob, self.end);
        let mut at = self.start;
        std::iter::from_fn(move || {
            if at >= end {
                return None;
            }
            let rr = rr_at(blob, at)?;
            at = rr.end;
            Some(rr)
        })
    }
}

const EMPTY: Set<'static> = Set { owner: Owner::Qname, blob: &[], start: 0, end: 0, ttl: None };

/// A section: at most `N` sets, inline.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sets<'a, const N: usize> {
    items: [Set<'a>; N],
    len: usize,
}

impl<'a, const N: usize> Sets<'a, N> {
    fn new() -> Self {
        Sets { items: [EMPTY; N], len: 0 }
    }

    fn push(&mut self, s: Set<'a>) {
        if self.len < N && s.start < s.end {
            self.items[self.len] = s;
            self.len += 1;
        }
    }

    /// The sets in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Set<'a>> {
        self.items[..self.len].iter()
    }

    /// The sets in order, as a slice.
    pub(crate) fn as_slice(&self) -> &[Set<'a>] {
        &self.items[..self.len]
    }
}

/// Why an answer carries an Extended DNS Error (RFC 8914).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ede<'a> {
    Expired,
    Revoked,
    NotFetched(&'a str),
    Invalid(&'a str, &'a str),
    /// The index trails the chain by this many blocks beyond tolerance.
    Lag(u64),
}

/// What a negative answer denies, for its NSEC (RFC 9824) at the query name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Denial<'a> {
    /// Nothing to prove (a positive answer, or a denial elsewhere than the query name).
    None,
    /// The query name does not exist.
    NxName,
    /// It exists with the types of these packed RRs (`blob[start..end)`) only.
    NoData(&'a [u8], usize, usize),
    /// It exists with no RRs (an empty non-terminal).
    Empty,
}

/// The decision for one question.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan<'a> {
    /// Not under a BNS namespace: the caller routes it elsewhere.
    pub outside: bool,
    pub rcode: u8,
    pub authoritative: bool,
    pub answer: Sets<'a, 10>,
    pub authority: Sets<'a, 2>,
    pub additional: Sets<'a, 16>,
    pub ede: Option<Ede<'a>>,
    /// The BNS name is not registered or has expired (`bns-first` forwards it).
    pub unregistered: bool,
    pub namespace: Option<&'a Namespace>,
    pub denial: Denial<'a>,
}

const NOERROR: u8 = 0;
const SERVFAIL: u8 = 2;
const NXDOMAIN: u8 = 3;

impl<'a> Plan<'a> {
    fn new(rcode: u8, authoritative: bool) -> Self {
        Plan {
            outside: false,
            rcode,
            authoritative,
            answer: Sets::new(),
            authority: Sets::new(),
            additional: Sets::new(),
            ede: None,
            unregistered: false,
            namespace: None,
            denial: Denial::None,
        }
    }

    fn outside() -> Self {
        Plan { outside: true, ..Plan::new(NOERROR, false) }
    }

    /// Adds the namespace SOA to the authority section (negative answers).
    fn negative(&mut self, ns: &'a Namespace) {
        if let Some((s, e)) = run_of_type(&ns.apex, 0, ns.apex.len(), T_SOA) {
            let ttl = SOA_TTL.min(SOA_MINIMUM);
            self.authority.push(Set { owner: Owner::Apex, blob: &ns.apex, start: s, end: e, ttl: Some(ttl) });
        }
    }
}

/// ASCII case-insensitive equality of wire label sequences.
fn eq_wire(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The RRs in `blob[start..end)` of type `t`, as a (start, end) range.
fn run_of_type(blob: &[u8], start: usize, end: usize, t: u16) -> Option<(usize, usize)> {
    let mut at = start;
    let mut found: Option<(usize, usize)> = None;
    while at < end {
        let rr = rr_at(blob, at)?;
        if rr.rtype == t {
            found = Some((found.map_or(rr.at, |f| f.0), rr.end));
        } else if found.is_some() {
            break;
        }
        at = rr.end;
    }
    found
}

/// The RRs whose owner is `owner` (relative wire, any case): a contiguous run
/// because the blob is sorted by owner.
fn run_of_owner(blob: &[u8], owner: &[u8]) -> Option<(usize, usize)> {
    let mut at = 0;
    let mut found: Option<(usize, usize)> = None;
    while let Some(rr) = rr_at(blob, at) {
        if eq_wire(rr.owner, owner) {
            found = Some((found.map_or(rr.at, |f| f.0), rr.end));
        } else if found.is_some() {
            break;
        }
        at = rr.end;
    }
    found
}

/// True if `below` (relative wire) is strictly below `owner`: it ends with
/// `owner` at a label boundary and is longer.
fn strictly_below(below: &[u8], owner: &[u8]) -> bool {
    if below.len() <= owner.len() {
        return false;
    }
    let mut i = 0;
    while i < below.len() {
        if eq_wire(&below[i..], owner) && i > 0 {
            return true;
        }
        i += 1 + usize::from(below[i]);
    }
    owner.is_empty()
}

/// True if some owner in `blob` lies strictly below `owner` (an empty
/// non-terminal, or the name itself with records below it).
fn has_below(blob: &[u8], owner: &[u8]) -> bool {
    super::snapshot::zone::rrs(blob).any(|rr| strictly_below(rr.owner, owner))
}

/// The first RR set of the run (`ANY`, RFC 8482).
fn first_set(blob: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    let first = rr_at(blob, start)?;
    run_of_type(blob, start, end, first.rtype)
}

/// Decides the answer to (`q`, `qtype`) from `snap`.
pub(crate) fn plan<'a>(snap: &'a Snapshot, q: &QName<'_>, qtype: u16) -> Plan<'a> {
    let n = q.len();
    if n == 0 {
        return Plan::outside();
    }
    let Some(ns) = snap.namespace(q.label(n - 1)) else { return Plan::outside() };
    let mut p = in_namespace(snap, ns, q, qtype);
    p.namespace = Some(ns);
    if p.ede.is_none() {
        p.ede = snap.lag().map(Ede::Lag);
    }
    p
}

fn in_namespace<'a>(snap: &'a Snapshot, ns: &'a Namespace, q: &QName<'_>, qtype: u16) -> Plan<'a> {
    let n = q.len();
    if let Some((host, blob)) = snap.ns_host() {
        if eq_wire(q.wire, host) {
            return at_owner_simple(ns, blob, qtype);
        }
    }
    if n == 1 {
        let mut p = at_owner_simple(ns, &ns.apex, qtype);
        if qtype == T_NS {
            glue_for_apex(snap, ns, &mut p);
        }
        return p;
    }
    let name_label = q.label(n - 2);
    let mut key = [0u8; 128];
    let klen = name_label.len() + 1 + q.label(n - 1).len();
    if name_label.contains(&b'.') || klen > key.len() {
        let mut p = Plan::new(NXDOMAIN, true);
        p.negative(ns);
        p.denial = Denial::NxName;
        return p;
    }
    key[..name_label.len()].copy_from_slice(name_label);
    key[name_label.len()] = b'.';
    key[name_label.len() + 1..klen].copy_from_slice(q.label(n - 1));
    key[..klen].make_ascii_lowercase();
    let neg = |rcode: u8, ede: Option<Ede<'a>>, unregistered: bool| {
        let mut p = Plan::new(rcode, true);
        p.negative(ns);
        p.ede = ede;
        p.unregistered = unregistered;
        p.denial = Denial::NxName;
        p
    };
    let parent = snap.name(&key[..klen]);
    // A subdomain (`label.name.ns`, its own zone file) answers for itself and
    // below while its parent name is registered.
    if n >= 3 && matches!(parent, NameView::Zone(_) | NameView::NotFetched(_) | NameView::Invalid(..)) {
        let sub = q.label(n - 3);
        let slen = sub.len() + 1 + klen;
        if !sub.contains(&b'.') && slen <= key.len() {
            key.copy_within(..klen, sub.len() + 1);
            key[..sub.len()].copy_from_slice(sub);
            key[sub.len()] = b'.';
            key[..sub.len()].make_ascii_lowercase();
            match snap.name(&key[..slen]) {
                NameView::Zone(blob) => return in_zone(ns, blob, q, qtype, n - 3),
                NameView::Invalid(h, r) => {
                    return Plan { ede: Some(Ede::Invalid(h, r)), ..Plan::new(SERVFAIL, false) };
                }
                NameView::Broken => return Plan::new(SERVFAIL, false),
                _ => {}
            }
        }
    }
    match parent {
        NameView::NotRegistered if snap.lag().is_some() => Plan::new(SERVFAIL, false),
        NameView::NotRegistered => neg(NXDOMAIN, None, true),
        NameView::Expired => neg(NXDOMAIN, Some(Ede::Expired), true),
        NameView::Revoked => neg(NXDOMAIN, Some(Ede::Revoked), false),
        NameView::NotFetched(h) => Plan { ede: Some(Ede::NotFetched(h)), ..Plan::new(SERVFAIL, false) },
        NameView::Invalid(h, r) => Plan { ede: Some(Ede::Invalid(h, r)), ..Plan::new(SERVFAIL, false) },
        NameView::Broken => Plan::new(SERVFAIL, false),
        NameView::Zone(blob) => in_zone(ns, blob, q, qtype, n - 2),
    }
}

/// Answers at an owner whose RRs are all of `blob` (apex, NS host).
fn at_owner_simple<'a>(ns: &'a Namespace, blob: &'a [u8], qtype: u16) -> Plan<'a> {
    let mut p = Plan::new(NOERROR, true);
    let run = if qtype == T_ANY { first_set(blob, 0, blob.len()) } else { run_of_type(blob, 0, blob.len(), qtype) };
    match run {
        Some((s, e)) => p.answer.push(Set { owner: Owner::Qname, blob, start: s, end: e, ttl: None }),
        None => {
            p.negative(ns);
            p.denial = Denial::NoData(blob, 0, blob.len());
        }
    }
    p
}

/// Address records of the NS target in the additional section of an apex NS answer.
fn glue_for_apex<'a>(snap: &'a Snapshot, ns: &'a Namespace, p: &mut Plan<'a>) {
    let (blob, owner) = match snap.ns_host() {
        Some((_, blob)) => (blob, Owner::NsHost),
        None => (&ns.apex[..], Owner::Apex),
    };
    for t in [T_A, T_AAAA] {
        if let Some((s, e)) = run_of_type(blob, 0, blob.len(), t) {
            p.additional.push(Set { owner, blob, start: s, end: e, ttl: None });
        }
    }
}

/// Answers `q` from the packed records of the name made of its labels from
/// `base` on (a BNS name: `n - 2`; a subdomain: `n - 3`).
fn in_zone<'a>(ns: &'a Namespace, blob: &'a [u8], q: &QName<'_>, qtype: u16, base: usize) -> Plan<'a> {
    let n = q.len();
    // The part of the question below the name, as relative wire labels.
    let rel_q = &q.wire[..q.offset(base)];
    let mut p = Plan::new(NOERROR, true);

    if let Some(cut) = zone_cut(blob, rel_q) {
        // Referral: the owner of the NS set is the question from the label
        // where the cut's owner starts.
        let (s, e, owner_len) = cut;
        let label = (0..n).find(|&i| q.offset(base) - q.offset(i) == owner_len).unwrap_or(0);
        p.authoritative = false;
        p.authority.push(Set { owner: Owner::Suffix(label as u8), blob, start: s, end: e, ttl: None });
        glue(blob, q, s, e, &mut p);
        return p;
    }

    let mut owner = Owner::Qname;
    let mut rel: &[u8] = rel_q;
    let mut seen = [usize::MAX; MAX_CNAME_CHAIN + 1];
    for step in 0..MAX_CNAME_CHAIN {
        let run = run_of_owner(blob, rel).or_else(|| {
            if rel.is_empty() || has_below(blob, rel) {
                None
            } else {
                wildcard(blob, rel)
            }
        });
        let Some((rs, re)) = run else {
            let exists = rel.is_empty() || has_below(blob, rel);
            p.rcode = if exists { NOERROR } else { NXDOMAIN };
            p.negative(ns);
            if step == 0 {
                p.denial = if exists { Denial::Empty } else { Denial::NxName };
            }
            return p;
        };
        if seen.contains(&rs) {
            return p;
        }
        seen[step] = rs;
        let hit = if qtype == T_ANY { first_set(blob, rs, re) } else { run_of_type(blob, rs, re, qtype) };
        if let Some((s, e)) = hit {
            p.answer.push(Set { owner, blob, start: s, end: e, ttl: None });
            return p;
        }
        let cname = if qtype == T_CNAME { None } else { run_of_type(blob, rs, re, T_CNAME) };
        let Some((cs, _)) = cname else {
            p.negative(ns);
            if step == 0 {
                p.denial = Denial::NoData(blob, rs, re);
            }
            return p;
        };
        let Some(first) = rr_at(blob, cs) else { return p };
        p.answer.push(Set { owner, blob, start: cs, end: first.end, ttl: None });
        let Some(target) = rdata_target(T_CNAME, first.rdata) else { return p };
        // Inside this zone file only: the target must end with the name.
        let name_suffix = q.suffix(base);
        if target.len() < name_suffix.len() || !eq_wire(&target[target.len() - name_suffix.len()..], name_suffix) {
            return p;
        }
        rel = &target[..target.len() - name_suffix.len()];
        owner = Owner::Rdata(cs);
    }
    p
}

/// The highest zone cut at or above `rel` (an NS set at an owner strictly
/// below the name): (start, end, owner length).
fn zone_cut(blob: &[u8], rel: &[u8]) -> Option<(usize, usize, usize)> {
    let mut best: Option<(usize, usize, usize)> = None;
    let mut at = 0;
    while let Some(rr) = rr_at(blob, at) {
        at = rr.end;
        if rr.rtype != T_NS || rr.owner.is_empty() {
            continue;
        }
        if !(eq_wire(rr.owner, rel) || strictly_below(rel, rr.owner)) {
            continue;
        }
        if best.is_some_and(|b| b.2 < rr.owner.len()) {
            continue;
        }
        let (s, e) = run_of_type(blob, rr.at, blob.len(), T_NS)?;
        best = Some((s, e, rr.owner.len()));
    }
    best
}

/// Glue: A and AAAA of each NS target in `blob[s..e)` that lies inside the zone file.
fn glue<'a>(blob: &'a [u8], q: &QName<'_>, s: usize, e: usize, p: &mut Plan<'a>) {
    let name_suffix = q.suffix(q.len() - 2);
    let mut at = s;
    while at < e {
        let Some(rr) = rr_at(blob, at) else { return };
        at = rr.end;
        let Some(target) = rdata_target(T_NS, rr.rdata) else { continue };
        if target.len() < name_suffix.len() || !eq_wire(&target[target.len() - name_suffix.len()..], name_suffix) {
            continue;
        }
        let rel = &target[..target.len() - name_suffix.len()];
        let Some((os, oe)) = run_of_owner(blob, rel) else { continue };
        for t in [T_A, T_AAAA] {
            if let Some((gs, ge)) = run_of_type(blob, os, oe, t) {
                p.additional.push(Set { owner: Owner::Rdata(rr.at), blob, start: gs, end: ge, ttl: None });
            }
        }
    }
}

/// The `*.<closest encloser>` run for a missing `rel` (RFC 4592): strip
/// labels from the left until an owner exists (or the name itself is
/// reached), then look for the wildcard directly below it.
fn wildcard(blob: &[u8], rel: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i < rel.len() {
        i += 1 + usize::from(rel[i]);
        let encloser = &rel[i.min(rel.len())..];
        if encloser.is_empty() || run_of_owner(blob, encloser).is_some() || has_below(blob, encloser) {
            let mut wild = [0u8; 256];
            if encloser.len() + 2 > wild.len() {
                return None;
            }
            wild[0] = 1;
            wild[1] = b'*';
            wild[2..2 + encloser.len()].copy_from_slice(encloser);
            return run_of_owner(blob, &wild[..2 + encloser.len()]);
        }
    }
    None
}
