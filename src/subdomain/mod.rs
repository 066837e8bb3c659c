//! Subdomains (SPEC.md §5): names like `alice.id.blockstack` that live as
//! signed TXT records inside their parent name's zone file, as Core v21's
//! `subdomains.py` indexed them. Pure: no I/O.
//!
//! A subdomain record is a TXT record of several strings, among them
//! `owner=<address>`, `seqn=<n>` and `parts=<k>`, then `zf0=`..`zf{k-1}=`
//! (the base64 of the subdomain's own zone file) and optionally
//! `sig=<base64 scriptSig>`. The record's owner label is the subdomain label
//! (`alice` in the zone file of `id.blockstack`).
//!
//! - [`parse`] finds the records of one domain zone file, in file order. A
//!   record that does not parse is reported and skipped; a missing `zfN`
//!   piece, undecodable base64 or a string without `=` aborts the whole zone
//!   file (Core raised outside its `ParseError` there), so nothing of it counts.
//! - [`plaintext`] is the text a record's signature covers, rebuilt
//!   canonically (base64 re-chunked into 250-character pieces, `=` escaped as
//!   `\=` in every value), whatever chunking the TXT record used.
//! - [`rules::judge`] decides one record against the subdomain's current
//!   state; the store applies the records of every zone file in inventory
//!   order (chain order), so every node reaches the same state whatever
//!   order Atlas delivered the files in.

use base64::Engine as _;

use crate::zonefile::{RecordData, ZoneFile};

pub mod rules;
mod verify;

#[cfg(test)]
mod tests;

pub use rules::{judge, Current, Verdict};
pub use verify::{sign_single, verify_signature, SigError};

/// Characters of one `zfN` piece in the canonical (signed) form.
pub const PIECE_LEN: usize = 250;

/// One subdomain record as its domain's zone file states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubdomainRecord {
    /// `label.name.ns`, lowercase.
    pub fqn: String,
    /// The record name as the signed text names it: the label, or the full
    /// name for an independent record.
    pub signed_name: String,
    /// The record names a full `a.b.c` name instead of a label of its domain
    /// (never accepted: Core requires creation from the domain).
    pub independent: bool,
    /// `owner=`: the address (base58) allowed to sign the next record.
    pub owner: String,
    /// `seqn=`.
    pub seqn: u64,
    /// The subdomain's zone file (decoded `zf0..`).
    pub zonefile: Vec<u8>,
    /// `sig=`: base64 of a scriptSig, as written.
    pub sig: Option<String>,
    /// Index of the TXT record among the domain zone file's records.
    pub position: u32,
}

/// A TXT record that looked like a subdomain record but was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The owner name the record had in the zone file.
    pub owner: String,
    /// Index among the zone file's records.
    pub position: u32,
    /// Why.
    pub reason: String,
}

/// What one domain zone file says about subdomains.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainRecords {
    /// Parsed records in file order, at most one per name (the lowest `seqn`
    /// when a file repeats a name).
    pub records: Vec<SubdomainRecord>,
    /// Records that were skipped, with the reason.
    pub skipped: Vec<Skipped>,
    /// `_resolver` URI: where the registrar serves its subdomains.
    pub resolver: Option<String>,
    /// `_missing`: inventory indexes the registrar says hold pending records
    /// (informational: it never changes what is accepted).
    pub missing: Vec<u64>,
}

/// Why a whole zone file yields no subdomains.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Abort {
    /// `$ORIGIN` names another name.
    #[error("$ORIGIN {origin} is not the domain {domain}")]
    Origin {
        /// What the file says.
        origin: String,
        /// The name the file belongs to.
        domain: String,
    },
    /// A record lacks one of the `zfN` pieces its `parts=` promises.
    #[error("{owner}: no zf{index}= piece (parts={parts})")]
    MissingPiece {
        /// Record owner.
        owner: String,
        /// The absent piece.
        index: u64,
        /// `parts=`.
        parts: u64,
    },
    /// The `zf` pieces are not base64.
    #[error("{owner}: the zone file pieces are not base64")]
    Base64 {
        /// Record owner.
        owner: String,
    },
    /// A string of a subdomain record has no `key=value` form.
    #[error("{owner}: string {string:?} has no '='")]
    NoEquals {
        /// Record owner.
        owner: String,
        /// The string (cut at 40 bytes).
        string: String,
    },
}

/// Does this TXT record carry `owner=`, `seqn=` and `parts=` (Core's
/// `is_subdomain_record`)? Single-string TXT records never do.
fn is_subdomain_txt(strings: &[Vec<u8>]) -> bool {
    if strings.len() < 2 {
        return false;
    }
    let has = |k: &[u8]| strings.iter().any(|s| s.starts_with(k));
    has(b"owner=") && has(b"seqn=") && has(b"parts=")
}

/// The subdomain records of `zf`, the zone file of `domain` ("name.ns",
/// lowercase), parsed with `domain` as its default origin.
pub fn parse(domain: &str, zf: &ZoneFile) -> Result<DomainRecords, Abort> {
    if let Some(origin) = &zf.origin {
        if origin != domain {
            return Err(Abort::Origin { origin: origin.clone(), domain: domain.to_string() });
        }
    }
    let mut out = DomainRecords::default();
    let suffix = format!(".{domain}");
    for (i, rec) in zf.records.iter().enumerate() {
        let position = u32::try_from(i).unwrap_or(u32::MAX);
        let rel = rec.owner.strip_suffix(&suffix);
        match (&rec.data, rel) {
            (RecordData::Uri { target, .. }, Some("_resolver")) if out.resolver.is_none() => {
                out.resolver = Some(target.clone());
            }
            (RecordData::Txt(strings), Some("_missing")) => {
                let text: Vec<u8> = strings.concat();
                out.missing = String::from_utf8_lossy(&text).split(',').filter_map(|s| s.trim().parse().ok()).collect();
            }
            (RecordData::Txt(strings), _) if is_subdomain_txt(strings) => {
                match record(domain, &rec.owner, rel, strings, position)? {
                    Ok(r) => push_lowest(&mut out.records, r),
                    Err(reason) => out.skipped.push(Skipped { owner: rec.owner.clone(), position, reason }),
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Keeps one record per name: the first with the lowest `seqn`.
fn push_lowest(records: &mut Vec<SubdomainRecord>, r: SubdomainRecord) {
    match records.iter_mut().find(|x| x.fqn == r.fqn) {
        Some(x) if r.seqn < x.seqn => *x = r,
        Some(_) => {}
        None => records.push(r),
    }
}

/// One record: `Err(Abort)` for what voids the whole file, `Ok(Err(reason))`
/// for a record that is skipped.
fn record(
    domain: &str,
    owner: &str,
    rel: Option<&str>,
    strings: &[Vec<u8>],
    position: u32,
) -> Result<Result<SubdomainRecord, String>, Abort> {
    let mut fields: Vec<(String, String)> = Vec::with_capacity(strings.len());
    for s in strings {
        let text = String::from_utf8_lossy(s);
        let Some((k, v)) = text.split_once('=') else {
            return Err(Abort::NoEquals { owner: owner.into(), string: text.chars().take(40).collect() });
        };
        if fields.iter().any(|(fk, _)| fk == k) {
            return Ok(Err(format!("duplicate {k}= string")));
        }
        fields.push((k.to_string(), v.replace("\\=", "=")));
    }
    let get = |k: &str| fields.iter().find(|(fk, _)| fk == k).map(|(_, v)| v.as_str());
    let (Some(addr), Some(seqn), Some(parts)) = (get("owner"), get("seqn"), get("parts")) else {
        return Ok(Err("owner=, seqn= or parts= missing".into()));
    };
    let Ok(seqn) = seqn.parse::<u64>() else { return Ok(Err(format!("seqn={seqn} is not a number"))) };
    let Ok(parts) = parts.parse::<u64>() else { return Ok(Err(format!("parts={parts} is not a number"))) };
    if parts > 1024 {
        return Ok(Err(format!("parts={parts} is more than a zone file can hold")));
    }
    let mut b64 = String::new();
    for i in 0..parts {
        let Some(piece) = get(&format!("zf{i}")) else {
            return Err(Abort::MissingPiece { owner: owner.into(), index: i, parts });
        };
        b64.push_str(piece);
    }
    let zonefile = decode_lenient(&b64).ok_or_else(|| Abort::Base64 { owner: owner.into() })?;
    // The owner relative to the domain: a label, or (independent) a full name.
    let (fqn, signed_name, independent) = match rel {
        Some(label) if !label.contains('.') => (format!("{label}.{domain}"), label.to_string(), false),
        _ => {
            let full = rel.unwrap_or(owner);
            if full.split('.').count() != 3 {
                return Ok(Err(format!("{owner} is neither a label of {domain} nor a subdomain name")));
            }
            (full.to_string(), full.to_string(), true)
        }
    };
    let label = fqn.split('.').next().unwrap_or_default();
    if !valid_label(label) {
        return Ok(Err(format!("{label:?} is not a valid subdomain label")));
    }
    Ok(Ok(SubdomainRecord {
        fqn,
        signed_name,
        independent,
        owner: addr.to_string(),
        seqn,
        zonefile,
        sig: get("sig").map(str::to_string),
        position,
    }))
}

/// Subdomain labels: what a BNS name label may hold (`a-z 0-9 - _ +`), 1 to
/// 37 characters.
pub fn valid_label(label: &str) -> bool {
    (1..=37).contains(&label.len())
        && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_+".contains(&b))
}

/// Python 2's `base64.b64decode`: characters outside the alphabet are
/// dropped, then the padding must be right.
fn decode_lenient(s: &str) -> Option<Vec<u8>> {
    let clean: String = s.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=')).collect();
    if !clean.len().is_multiple_of(4) || clean.trim_end_matches('=').contains('=') {
        return None;
    }
    let padded = clean;
    base64::engine::general_purpose::STANDARD.decode(padded.as_bytes()).ok()
}

/// `key=value` with every `=` of the value escaped (Core's `txt_encode_key_value`).
fn kv(key: &str, value: &str) -> String {
    format!("{key}={}", value.replace('=', "\\="))
}

/// The strings of `r` as Core packs them: name, owner, seqn, parts, the
/// canonical 250-character pieces, then `sig` when `with_sig` and present.
pub fn pack(r: &SubdomainRecord, with_sig: bool) -> Vec<String> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(&r.zonefile);
    let pieces: Vec<&str> =
        encoded.as_bytes().chunks(PIECE_LEN).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
    let mut out = vec![
        r.signed_name.clone(),
        kv("owner", &r.owner),
        kv("seqn", &r.seqn.to_string()),
        kv("parts", &pieces.len().to_string()),
    ];
    out.extend(pieces.iter().enumerate().map(|(i, p)| kv(&format!("zf{i}"), p)));
    if with_sig {
        if let Some(sig) = &r.sig {
            out.push(kv("sig", sig));
        }
    }
    out
}

/// The text a record's `sig=` signs: its packed strings without the
/// signature, joined with commas.
pub fn plaintext(r: &SubdomainRecord) -> String {
    pack(r, false).join(",")
}

/// The TXT strings that state `r` in a domain zone file (for registrars and
/// tests): `key=value` as registrars wrote them, values unescaped.
pub fn txt_strings(r: &SubdomainRecord) -> Vec<String> {
    pack(r, true).into_iter().skip(1).map(|s| s.replace("\\=", "=")).collect()
}
