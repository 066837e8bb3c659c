//! What a namespace zone holds, as a secondary must see it: RRs in wire form
//! with absolute owners, derived from the snapshot entry by entry.
//!
//! Every entry's *contribution* is disjoint from every other's, so a zone is
//! the union of its entries' contributions and a change is the difference of
//! the changed entries' contributions:
//!
//! - a name `name.ns` whose zone file is held and live gives its records,
//!   except those at or below a label `L` for which `L.name.ns` is a
//!   subdomain the DNS face answers from (held, or unusable: SERVFAIL);
//! - a subdomain `L.name.ns` gives its own records while its parent is
//!   registered (held, not fetched or unusable) and its zone file is held.
//!
//! A name or subdomain without records (not fetched, revoked, expired) gives
//! nothing: a secondary cannot say SERVFAIL for one owner, so it answers
//! NXDOMAIN there. What no standard secondary can load is left out the same
//! way in AXFR, IXFR and the exported file: NS at a name's own owner (bns
//! answers it as data, a secondary would make it a delegation), a CNAME
//! beside other data at one owner (the other data stays: bns answers it
//! first) and every CNAME after the first at one owner.

use super::super::snapshot::{
    zone::{name_wire, rrs},
    NameView, Namespace, Snapshot,
};

const T_NS: u16 = 2;
const T_CNAME: u16 = 5;

/// One RR in wire form: absolute owner (lowercase, uncompressed), type, class
/// IN, TTL, rdata length and rdata (names uncompressed).
pub(crate) type WireRr = Box<[u8]>;

/// Appends an RR in wire form to `out`.
pub(crate) fn push_wire(out: &mut Vec<u8>, owner_rel: &[u8], owner_base: &[u8], rtype: u16, ttl: u32, rdata: &[u8]) {
    out.extend_from_slice(owner_rel);
    out.extend_from_slice(owner_base);
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(rdata);
}

/// The entry key's parent name (`name.ns` of `L.name.ns`), if it is a subdomain key.
pub(crate) fn parent_key(key: &[u8]) -> Option<&[u8]> {
    let dots = key.iter().filter(|b| **b == b'.').count();
    if dots != 2 {
        return None;
    }
    let first = key.iter().position(|b| *b == b'.')?;
    Some(&key[first + 1..])
}

/// The namespace id of an entry key (its last label).
pub(crate) fn key_namespace(key: &[u8]) -> &[u8] {
    match key.iter().rposition(|b| *b == b'.') {
        Some(i) => &key[i + 1..],
        None => key,
    }
}

/// Whether a parent in this state lets its subdomains answer.
pub(crate) fn parent_live(view: NameView<'_>) -> bool {
    matches!(view, NameView::Zone(_) | NameView::NotFetched(_) | NameView::Invalid(..))
}

/// Whether a subdomain in this state shadows its parent's records below its label.
fn shadows(view: NameView<'_>) -> bool {
    matches!(view, NameView::Zone(_) | NameView::Invalid(..) | NameView::Broken)
}

/// The last wire label of a relative owner (the label right below the name).
fn last_label(rel: &[u8]) -> Option<&[u8]> {
    let mut at = 0;
    let mut last = None;
    while at < rel.len() {
        let l = usize::from(rel[at]);
        last = rel.get(at + 1..at + 1 + l);
        at += 1 + l;
    }
    last
}

/// Appends the contribution of entry `key` in `snap` to `out` (sorted, no
/// duplicates). `scratch` is reused between calls.
pub(crate) fn contribution(snap: &Snapshot, key: &[u8], out: &mut Vec<WireRr>) {
    let Ok(text) = std::str::from_utf8(key) else { return };
    let Some(base) = name_wire(text) else { return };
    let start = out.len();
    let ns_host = snap.ns_host().map(|(host, _)| host);
    match parent_key(key) {
        None => {
            let NameView::Zone(blob) = snap.name(key) else { return };
            let mut shadowed: Vec<(&[u8], bool)> = Vec::new();
            let mut sub_key = Vec::with_capacity(key.len() + 64);
            let kept = rrs(blob).filter(|rr| {
                let Some(label) = last_label(rr.owner) else { return true };
                if let Some(&(_, s)) = shadowed.iter().find(|(l, _)| *l == label) {
                    return !s;
                }
                sub_key.clear();
                sub_key.extend_from_slice(label);
                sub_key.push(b'.');
                sub_key.extend_from_slice(key);
                let s = shadows(snap.name(&sub_key));
                shadowed.push((label, s));
                !s
            });
            push_sanitized(kept.map(|rr| (rr.owner, rr.rtype, rr.ttl, rr.rdata)), &base, ns_host, out);
        }
        Some(parent) => {
            if !parent_live(snap.name(parent)) {
                return;
            }
            let NameView::Zone(blob) = snap.name(key) else { return };
            push_sanitized(rrs(blob).map(|rr| (rr.owner, rr.rtype, rr.ttl, rr.rdata)), &base, ns_host, out);
        }
    }
    out[start..].sort_unstable();
    let mut tail = out.split_off(start);
    tail.dedup();
    out.extend(tail);
}

/// Writes the RRs of one entry (sorted by relative owner, then type) under
/// `base`, leaving out what a secondary cannot load (see the module doc) and
/// owners equal to the configured NS host (answered ahead of chain data).
fn push_sanitized<'a>(
    items: impl Iterator<Item = (&'a [u8], u16, u32, &'a [u8])>,
    base: &[u8],
    ns_host: Option<&[u8]>,
    out: &mut Vec<WireRr>,
) {
    let items: Vec<_> = items.collect();
    let mut i = 0;
    while i < items.len() {
        let owner = items[i].0;
        let mut j = i;
        while j < items.len() && items[j].0 == owner {
            j += 1;
        }
        let run = &items[i..j];
        i = j;
        let mut wire = Vec::with_capacity(owner.len() + base.len());
        wire.extend_from_slice(owner);
        wire.extend_from_slice(base);
        if ns_host.is_some_and(|h| h == wire.as_slice()) {
            continue;
        }
        let other_data = run.iter().any(|r| r.1 != T_CNAME && !(owner.is_empty() && r.1 == T_NS));
        let mut cname_seen = false;
        for &(_, rtype, ttl, rdata) in run {
            if owner.is_empty() && rtype == T_NS {
                continue;
            }
            if rtype == T_CNAME {
                if other_data || cname_seen {
                    continue;
                }
                cname_seen = true;
            }
            let mut rr = Vec::with_capacity(owner.len() + base.len() + 10 + rdata.len());
            push_wire(&mut rr, owner, base, rtype, ttl, rdata);
            out.push(rr.into_boxed_slice());
        }
    }
}

/// The records at a namespace apex other than its SOA and DNSKEY (NS, and the NS
/// host's addresses when it is the apex), then the configured NS host's
/// addresses when that host lies inside this namespace.
pub(crate) fn apex_rrs(snap: &Snapshot, ns: &Namespace, out: &mut Vec<WireRr>) {
    // Not the DNSKEY: a secondary serves no signatures, so a key there would
    // only make validators fail at it.
    for rr in rrs(&ns.apex).filter(|rr| rr.rtype != 6 && rr.rtype != crate::dns::dnssec::T_DNSKEY) {
        let mut w = Vec::new();
        push_wire(&mut w, &[], &ns.wire, rr.rtype, rr.ttl, rr.rdata);
        out.push(w.into_boxed_slice());
    }
    if let Some((host, blob)) = snap.ns_host() {
        if at_or_below(host, &ns.wire) {
            for rr in rrs(blob) {
                let mut w = Vec::new();
                push_wire(&mut w, &[], host, rr.rtype, rr.ttl, rr.rdata);
                out.push(w.into_boxed_slice());
            }
        }
    }
}

/// Whether wire name `name` is `zone` or below it (both lowercase).
pub(crate) fn at_or_below(name: &[u8], zone: &[u8]) -> bool {
    let mut at = 0;
    while at < name.len() {
        if &name[at..] == zone {
            return true;
        }
        at += 1 + usize::from(name[at]);
    }
    false
}

/// The apex SOA of `ns` in wire form with `serial` in place of the view's.
pub(crate) fn soa(ns: &Namespace, serial: u32) -> WireRr {
    let mut w = Vec::new();
    if let Some(rr) = rrs(&ns.apex).find(|rr| rr.rtype == 6) {
        let mut rdata = rr.rdata.to_vec();
        let at = rdata.len().saturating_sub(20);
        if rdata.len() >= 20 {
            rdata[at..at + 4].copy_from_slice(&serial.to_be_bytes());
        }
        push_wire(&mut w, &[], &ns.wire, 6, rr.ttl, &rdata);
    }
    w.into_boxed_slice()
}

/// Calls `f` with every RR of namespace `ns` in `snap` except the SOA: the
/// apex records, then entry by entry. Returns the number of entries seen.
pub(crate) fn for_each_rr(snap: &Snapshot, ns: &Namespace, mut f: impl FnMut(&[u8])) -> usize {
    let mut buf = Vec::new();
    apex_rrs(snap, ns, &mut buf);
    buf.iter().for_each(|rr| f(rr));
    let mut entries = 0;
    for (key, _) in snap.entries() {
        if key_namespace(key) != &ns.id[..] || !key.contains(&b'.') {
            continue;
        }
        entries += 1;
        buf.clear();
        contribution(snap, key, &mut buf);
        buf.iter().for_each(|rr| f(rr));
    }
    entries
}

/// Owner, type, TTL and rdata of a wire RR made by this module.
pub(crate) fn split(rr: &[u8]) -> Option<(&[u8], u16, u32, &[u8])> {
    let olen = super::super::snapshot::zone::wire_name_len(rr)?;
    let fixed = rr.get(olen..olen + 10)?;
    let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
    let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
    let rdlen = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
    Some((&rr[..olen], rtype, ttl, rr.get(olen + 10..olen + 10 + rdlen)?))
}
