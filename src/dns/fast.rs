//! The fast path: one UDP query in, one response out, written straight from
//! the snapshot into a caller's buffer. No allocation, no lock, no syscall.
//!
//! It takes only plain queries (QUERY opcode, one IN question, no answer or
//! authority records, at most an OPT of EDNS version 0) for names the snapshot
//! answers under the `bns` policy (or `bns-first` when the name is
//! registered, or no upstream is configured). Anything else, and any answer
//! that would not fit the client's UDP size, is [`Fast::Slow`]: hickory-server
//! handles it from the same snapshot.
//!
//! The bytes are those hickory would send for the same answer (the
//! differential tests hold it to that): the question copied as the client
//! wrote it, names compressed the way hickory's encoder does (a pointer to the
//! earliest identical label sequence written, at most 64 candidates, names in
//! SRV rdata written whole), OPT last.

use std::fmt::Write as _;

use super::dnssec::{denial, denial::NSEC_MAX, Online, T_NSEC, T_RRSIG};
use super::ede::{INVALID_DATA, NOT_READY, OTHER};
use super::forward::{Policy, ResolverOptions};
use super::handler::MAX_UDP_PAYLOAD;
use super::plan::{plan, Denial, Ede, Owner, Plan, QName, Set};
use super::snapshot::{zone::rdata_target, Snapshot};

/// What the fast path did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fast {
    /// The response is `out[..len]`; `rcode` and `qtype` for the counters.
    Answered { len: usize, rcode: u8, qtype: u16 },
    /// Hand the packet to the slow path.
    Slow,
    /// Not a query at all (a response, shorter than a header): drop it.
    Drop,
}

/// What the request said, beyond the question.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Request<'a> {
    pub id: [u8; 2],
    /// RD and CD as sent.
    pub rd: bool,
    pub cd: bool,
    pub qname: QName<'a>,
    pub qtype: u16,
    /// The question section as sent (name, type, class).
    pub question: &'a [u8],
    /// EDNS: (UDP payload size, DO bit), if the request had an OPT record.
    pub edns: Option<(u16, bool)>,
    /// The CO bit (RFC 9824: compact denial may say NXDOMAIN).
    pub co: bool,
}

/// Parses a plain query; `None` for anything the fast path does not take.
pub(crate) fn parse(req: &[u8]) -> Option<Request<'_>> {
    let h = req.get(..12)?;
    let flags = u16::from_be_bytes([h[2], h[3]]);
    let counts = [u16::from_be_bytes([h[4], h[5]]), u16::from_be_bytes([h[6], h[7]])];
    let (an_ns, ar) = (u16::from_be_bytes([h[8], h[9]]), u16::from_be_bytes([h[10], h[11]]));
    if flags & 0x8000 != 0 || (flags >> 11) & 0xF != 0 || counts != [1, 0] || an_ns != 0 || ar > 1 {
        return None;
    }
    let qname = QName::parse(&req[12..])?;
    let at = 12 + qname.wire.len();
    let tc = req.get(at..at + 4)?;
    let (qtype, qclass) = (u16::from_be_bytes([tc[0], tc[1]]), u16::from_be_bytes([tc[2], tc[3]]));
    if qclass != 1 || matches!(qtype, 41 | 251 | 252 | 0) {
        return None;
    }
    let mut end = at + 4;
    let mut co = false;
    let edns = if ar == 1 {
        // OPT: root owner, type 41, class = payload, ttl = ext-rcode/version/flags.
        let opt = req.get(end..end + 11)?;
        if opt[0] != 0 || u16::from_be_bytes([opt[1], opt[2]]) != 41 || opt[6] != 0 {
            return None;
        }
        let payload = u16::from_be_bytes([opt[3], opt[4]]);
        let do_bit = opt[7] & 0x80 != 0;
        co = opt[7] & 0x40 != 0;
        let rdlen = usize::from(u16::from_be_bytes([opt[9], opt[10]]));
        end += 11 + rdlen;
        Some((payload, do_bit))
    } else {
        None
    };
    if end != req.len() {
        return None;
    }
    Some(Request {
        id: [h[0], h[1]],
        rd: flags & 0x0100 != 0,
        cd: flags & 0x0010 != 0,
        qname,
        qtype,
        question: &req[12..at + 4],
        edns,
        co,
    })
}

/// Answers `req` into `out` if the fast path can (signed with `dnssec` when
/// the query has DO). A UDP answer is capped at the client's payload size;
/// on a `stream` (TCP) it may take the whole of `out`.
pub(crate) fn answer(
    snap: &Snapshot,
    options: &ResolverOptions,
    forwarder: bool,
    dnssec: Option<&Online>,
    req: &[u8],
    out: &mut [u8],
    stream: bool,
) -> Fast {
    if req.len() < 12 || req[2] & 0x80 != 0 {
        return Fast::Drop;
    }
    let Some(r) = parse(req) else { return Fast::Slow };
    let n = r.qname.len();
    if n == 0 {
        return Fast::Slow;
    }
    let policy = policy_of(options, r.qname.label(n - 1));
    if policy == Policy::Icann {
        return Fast::Slow;
    }
    let p = plan(snap, &r.qname, r.qtype);
    if p.outside || (p.unregistered && policy == Policy::BnsFirst && forwarder) {
        return Fast::Slow;
    }
    let max = match r.edns {
        Some((payload, _)) => usize::from(payload.clamp(512, MAX_UDP_PAYLOAD)),
        None => 512,
    };
    let limit = if stream { out.len() } else { max.min(out.len()) };
    let signer = dnssec.filter(|_| r.edns.is_some_and(|e| e.1) && p.authoritative && p.namespace.is_some());
    match write(snap, &r, &p, signer, &mut out[..limit]) {
        Some((len, rcode)) => Fast::Answered { len, rcode, qtype: r.qtype },
        None => Fast::Slow,
    }
}

/// The response a rate-limited query gets when it slips through: header and
/// question, TC set, no records (RFC 5452 spirit: a real client retries over
/// TCP). `None` for a request the fast path does not parse (dropped).
pub(crate) fn truncated(req: &[u8], out: &mut [u8]) -> Option<usize> {
    let r = parse(req)?;
    let len = 12 + r.question.len();
    let out = out.get_mut(..len)?;
    let mut flags: u16 = 0x8000 | 0x0200;
    if r.rd {
        flags |= 0x0100;
    }
    if r.cd {
        flags |= 0x0010;
    }
    out[..2].copy_from_slice(&r.id);
    out[2..4].copy_from_slice(&flags.to_be_bytes());
    out[4..12].copy_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    out[12..].copy_from_slice(r.question);
    Some(len)
}

fn policy_of(options: &ResolverOptions, label: &[u8]) -> Policy {
    let mut buf = [0u8; 63];
    let Some(b) = buf.get_mut(..label.len()) else { return Policy::Bns };
    b.copy_from_slice(label);
    b.make_ascii_lowercase();
    std::str::from_utf8(b).map(|s| options.policy(s)).unwrap_or(Policy::Bns)
}

/// Compression candidates: (offset in the message, label sequence written
/// there), as hickory's encoder keeps them.
const CANDIDATES: usize = 64;
/// Names hickory compresses per message at most.
const COMPRESSED_NAMES: usize = 120;

struct Writer<'o, 's> {
    out: &'o mut [u8],
    len: usize,
    cands: [(u16, &'s [u8]); CANDIDATES],
    ncands: usize,
    compressed: usize,
    full: bool,
}

impl<'o, 's> Writer<'o, 's> {
    fn bytes(&mut self, b: &[u8]) {
        match self.out.get_mut(self.len..self.len + b.len()) {
            Some(dst) => {
                dst.copy_from_slice(b);
                self.len += b.len();
            }
            None => self.full = true,
        }
    }

    fn u16(&mut self, v: u16) {
        self.bytes(&v.to_be_bytes());
    }

    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_be_bytes());
    }

    fn store(&mut self, start: usize, content: &'s [u8]) {
        if self.len < 0x3FFF && self.ncands < CANDIDATES {
            self.cands[self.ncands] = (start as u16, content);
            self.ncands += 1;
        }
    }

    /// Writes a name given as wire labels with root byte (`labels`).
    fn name(&mut self, wire: &'s [u8], compress: bool) {
        let labels = &wire[..wire.len().saturating_sub(1)];
        let base = self.len;
        self.bytes(labels);
        if self.full {
            return;
        }
        let compress = compress && self.compressed < COMPRESSED_NAMES;
        if compress {
            self.compressed += 1;
        }
        let mut i = 0;
        while i < labels.len() {
            let content = &labels[i..];
            if compress {
                let hit = self.cands[..self.ncands].iter().find(|(_, c)| *c == content).map(|(at, _)| *at);
                if let Some(loc) = hit.filter(|l| l & 0xC000 == 0) {
                    self.len = base + i;
                    let cut = self.len;
                    let mut keep = 0;
                    for k in 0..self.ncands {
                        if usize::from(self.cands[k].0) < cut {
                            self.cands[keep] = self.cands[k];
                            keep += 1;
                        }
                    }
                    self.ncands = keep;
                    self.u16(0xC000 | loc);
                    return;
                }
            }
            self.store(base + i, content);
            i += 1 + usize::from(labels[i]);
        }
        self.bytes(&[0]);
    }

    /// Writes an RR's rdata with its length, names as hickory writes them.
    fn rdata(&mut self, rtype: u16, rdata: &'s [u8]) {
        let len_at = self.len;
        self.u16(0);
        let start = self.len;
        match rtype {
            5 | 2 => self.name_or_raw(rdata, 0, true),
            15 => self.name_or_raw(rdata, 2, true),
            33 => self.name_or_raw(rdata, 6, false),
            6 => {
                let m = rdata_target(2, rdata).map(<[u8]>::len);
                let r = m.and_then(|m| rdata_target(2, &rdata[m..]).map(|r| (m, r.len())));
                match r {
                    Some((m, rl)) if rdata.len() == m + rl + 20 => {
                        self.name(&rdata[..m], true);
                        self.name(&rdata[m..m + rl], true);
                        self.bytes(&rdata[m + rl..]);
                    }
                    _ => self.bytes(rdata),
                }
            }
            _ => self.bytes(rdata),
        }
        let len = (self.len - start) as u16;
        if let Some(dst) = self.out.get_mut(len_at..len_at + 2) {
            dst.copy_from_slice(&len.to_be_bytes());
        }
    }

    fn name_or_raw(&mut self, rdata: &'s [u8], skip: usize, compress: bool) {
        let rtype = match skip {
            0 => 5,
            2 => 15,
            _ => 33,
        };
        match rdata_target(rtype, rdata) {
            Some(name) if skip + name.len() == rdata.len() => {
                self.bytes(&rdata[..skip]);
                self.name(name, compress);
            }
            _ => self.bytes(rdata),
        }
    }
}

/// The wire name (with root byte) an owner stands for.
pub(crate) fn owner_wire<'s>(snap: &'s Snapshot, p: &Plan<'s>, q: &QName<'s>, set: &Set<'s>) -> Option<&'s [u8]> {
    match set.owner {
        Owner::Qname => Some(q.wire),
        Owner::Suffix(i) => Some(q.suffix(usize::from(i))),
        Owner::Apex => p.namespace.map(|ns| &ns.wire[..]),
        Owner::NsHost => snap.ns_host().map(|(n, _)| n),
        Owner::Rdata(at) => {
            let rr = super::snapshot::zone::rr_at(set.blob, at)?;
            rdata_target(rr.rtype, rr.rdata)
        }
    }
}

/// The info code and text of an EDE, the one wording both paths use.
pub(crate) fn ede_text(ede: &Ede<'_>, q: &QName<'_>, height: u64, w: &mut impl std::fmt::Write) -> u16 {
    let fqn = Fqn(q);
    let _ = match ede {
        Ede::Expired => write!(w, "name {fqn} has expired"),
        Ede::Revoked => write!(w, "name {fqn} was revoked by its owner"),
        Ede::NotFetched(h) => write!(w, "zone file {h} of {fqn} not yet fetched"),
        Ede::Invalid(h, r) => write!(w, "zone file {h} of {fqn} is unusable: {r}"),
        Ede::Lag(lag) => write!(w, "chain not synced: index at block {height} is {lag} blocks behind the tip"),
    };
    match ede {
        Ede::Expired | Ede::Revoked => OTHER,
        Ede::NotFetched(_) | Ede::Lag(_) => NOT_READY,
        Ede::Invalid(..) => INVALID_DATA,
    }
}

/// The BNS name of a question (its last two labels), lowercase.
struct Fqn<'q, 'a>(&'q QName<'a>);

impl std::fmt::Display for Fqn<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.len();
        let first = n.saturating_sub(2);
        for i in first..n {
            if i > first {
                f.write_char('.')?;
            }
            for b in self.0.label(i) {
                f.write_char(char::from(b.to_ascii_lowercase()))?;
            }
        }
        Ok(())
    }
}

/// Fills the EDE text into a fixed buffer (truncated at its size).
struct TextBuf<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl std::fmt::Write for TextBuf<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let room = self.buf.len() - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// Writes the whole response, signed by `signer` (RRSIGs on the answer and
/// authority RRsets, compact denial for negative answers); `None` if it does
/// not fit. Returns the length and the response code sent.
fn write<'s>(
    snap: &'s Snapshot,
    r: &Request<'s>,
    p: &Plan<'s>,
    signer: Option<&Online>,
    out: &mut [u8],
) -> Option<(usize, u8)> {
    let mut w = Writer { out, len: 0, cands: [(0, &[][..]); CANDIDATES], ncands: 0, compressed: 0, full: false };
    // Compact denial (RFC 9824): a name that does not exist is NOERROR with
    // an NXNAME NSEC, unless the client said it takes NXDOMAIN (CO).
    let compact = signer.is_some() && p.denial == Denial::NxName;
    let rcode = if compact && !r.co { 0 } else { p.rcode };
    let mut flags: u16 = 0x8000;
    if p.authoritative {
        flags |= 0x0400;
    }
    if r.rd {
        flags |= 0x0100;
    }
    if r.cd {
        flags |= 0x0010;
    }
    flags |= u16::from(rcode & 0xF);
    w.bytes(&r.id);
    w.u16(flags);
    w.u16(1);
    w.bytes(&[0; 6]); // counts, set below
    w.bytes(r.question);
    // hickory stores the whole question section as one candidate; it never
    // matches a name, but it takes a slot.
    w.store(12, r.question);
    let mut counts = [0u16; 3];
    let sections = [(0, p.answer.as_slice()), (1, p.authority.as_slice()), (2, p.additional.as_slice())];
    for (section, sets) in sections {
        for set in sets.iter() {
            let owner = owner_wire(snap, p, &r.qname, set)?;
            let mut ttl_max = 0;
            let mut rtype = 0;
            for rr in set.rrs() {
                let ttl = set.ttl.unwrap_or(rr.ttl);
                ttl_max = ttl_max.max(ttl);
                rtype = rr.rtype;
                w.name(owner, true);
                w.u16(rr.rtype);
                w.u16(1);
                w.u32(ttl);
                w.rdata(rr.rtype, rr.rdata);
                counts[section] += 1;
            }
            if let (Some(signer), Some(ns), true) = (signer, p.namespace, section < 2 && rtype != 0) {
                let sig = signer.rrsig(
                    snap.serial(),
                    owner,
                    rtype,
                    ttl_max,
                    || set.rrs().map(|rr| rr.rdata).collect(),
                    &ns.wire,
                );
                w.name(owner, true);
                w.u16(T_RRSIG);
                w.u16(1);
                w.u32(ttl_max);
                w.u16(sig.rdata().len() as u16);
                w.bytes(sig.rdata());
                counts[section] += 1;
            }
        }
        if let (1, Some(signer), Some(ns)) = (section, signer, p.namespace) {
            let mut lower = [0u8; 255];
            let qname = &mut lower[..r.qname.wire.len().min(255)];
            qname.copy_from_slice(&r.qname.wire[..qname.len()]);
            qname.make_ascii_lowercase();
            let qname = &*qname;
            let mut nsec_buf = [0u8; NSEC_MAX];
            let nsec = match p.denial {
                Denial::None => None,
                Denial::NxName => Some(denial::nxname(qname, &mut nsec_buf)),
                Denial::Empty => Some(denial::nodata(qname, &[], &mut nsec_buf)),
                Denial::NoData(blob, start, end) => {
                    let mut types = [0u16; 32];
                    let mut n = 0;
                    let mut at = start;
                    while let Some(rr) = super::snapshot::zone::rr_at(blob, at).filter(|_| at < end) {
                        if n < types.len() && !types[..n].contains(&rr.rtype) {
                            types[n] = rr.rtype;
                            n += 1;
                        }
                        at = rr.end;
                    }
                    Some(denial::nodata(qname, &types[..n], &mut nsec_buf))
                }
            };
            if let Some(nsec) = nsec {
                let ttl = super::SOA_TTL.min(super::SOA_MINIMUM);
                let sig = signer.rrsig(snap.serial(), qname, T_NSEC, ttl, || vec![nsec], &ns.wire);
                for (t, rdata) in [(T_NSEC, nsec), (T_RRSIG, sig.rdata())] {
                    w.name(r.qname.wire, true);
                    w.u16(t);
                    w.u16(1);
                    w.u32(ttl);
                    w.u16(rdata.len() as u16);
                    w.bytes(rdata);
                    counts[1] += 1;
                }
            }
        }
    }
    if let Some((payload, do_bit)) = r.edns {
        w.bytes(&[0]);
        w.u16(41);
        w.u16(payload.clamp(512, MAX_UDP_PAYLOAD));
        w.u32(if do_bit { 0x8000 } else { 0 } | if compact && r.co { 0x4000 } else { 0 });
        match &p.ede {
            None => w.u16(0),
            Some(ede) => {
                let mut text = [0u8; 1500];
                let mut tb = TextBuf { buf: &mut text, len: 0 };
                let code = ede_text(ede, &r.qname, snap.height(), &mut tb);
                let tl = tb.len;
                w.u16((4 + 2 + tl) as u16);
                w.u16(super::ede::EDE_OPTION);
                w.u16((2 + tl) as u16);
                w.u16(code);
                w.bytes(&text[..tl]);
            }
        }
    }
    if w.full {
        return None;
    }
    let ar = counts[2] + u16::from(r.edns.is_some());
    for (i, c) in [counts[0], counts[1], ar].into_iter().enumerate() {
        w.out[6 + 2 * i..8 + 2 * i].copy_from_slice(&c.to_be_bytes());
    }
    Some((w.len, rcode))
}
