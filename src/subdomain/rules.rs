//! Which subdomain records are accepted (Core v21's
//! `check_initial_subdomain` / `check_subdomain_transition`).
//!
//! Records are judged one at a time, in chain order (the inventory order of
//! their domain zone files, then position in the file), each against the
//! subdomain's state left by the records accepted before it:
//! - the first record of a name must have `seqn=0` and be stated by its own
//!   domain (not independent); no signature is needed (the domain's owner
//!   published the zone file on chain);
//! - every later one must have `seqn` = the current one + 1 and be signed by
//!   the current owner; it may name a new owner (a transfer) and a new zone
//!   file;
//! - so for each `seqn` the earliest valid record wins, and a record
//!   repeating the current one (registrars republish them) changes nothing.

use super::{plaintext, verify_signature, SubdomainRecord};

/// The accepted state of a subdomain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Current {
    /// Owner address.
    pub owner: String,
    /// Sequence number of the last accepted record.
    pub seqn: u64,
    /// Its zone file.
    pub zonefile: Vec<u8>,
}

/// What a record does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// It becomes the subdomain's state.
    Accepted,
    /// It repeats the current record (same seqn, owner, zone file).
    Repeat,
    /// It is ignored, for this reason.
    Rejected(String),
}

/// Judges `r` against `current`, the state before it (`None`: no record yet).
pub fn judge(current: Option<&Current>, r: &SubdomainRecord) -> Verdict {
    if r.independent {
        return Verdict::Rejected("independent subdomain records are not accepted (Core v21)".into());
    }
    let Some(cur) = current else {
        return if r.seqn == 0 {
            Verdict::Accepted
        } else {
            Verdict::Rejected(format!("first record of {} must have seqn=0, not {}", r.fqn, r.seqn))
        };
    };
    if r.seqn == cur.seqn && r.owner == cur.owner && r.zonefile == cur.zonefile {
        return Verdict::Repeat;
    }
    if Some(r.seqn) != cur.seqn.checked_add(1) {
        return Verdict::Rejected(format!("seqn={} is not the next after {}", r.seqn, cur.seqn));
    }
    match verify_signature(&cur.owner, &plaintext(r), r.sig.as_deref()) {
        Ok(()) => Verdict::Accepted,
        Err(e) => Verdict::Rejected(e.to_string()),
    }
}
