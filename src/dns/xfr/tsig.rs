//! TSIG (RFC 8945) for zone transfers and NOTIFY: shared HMAC keys
//! (hmac-sha256/384/512) that sign a request and every message of its
//! answer, so a secondary knows the zone came from bns and bns knows who
//! asked. Sans-I/O: checks and signs whole DNS messages in wire form.
//!
//! A key's secret never leaves this module: `Debug` prints `***` and errors
//! name the key, not its bytes.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use ring::hmac;

use super::super::snapshot::zone::name_wire;

/// RR type of TSIG.
pub const T_TSIG: u16 = 250;
const CLASS_ANY: u16 = 255;
/// Seconds a signature's time may differ from ours.
pub const FUDGE: u16 = 300;
/// TSIG error: the MAC does not verify.
pub const BADSIG: u16 = 16;
/// TSIG error: the key or its algorithm is not one of ours.
pub const BADKEY: u16 = 17;
/// TSIG error: signed outside the fudge window.
pub const BADTIME: u16 = 18;

/// A TSIG algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

impl Algorithm {
    const ALL: [Algorithm; 3] = [Algorithm::HmacSha256, Algorithm::HmacSha384, Algorithm::HmacSha512];

    /// The name as written in configs (`hmac-sha256`).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::HmacSha256 => "hmac-sha256",
            Algorithm::HmacSha384 => "hmac-sha384",
            Algorithm::HmacSha512 => "hmac-sha512",
        }
    }

    fn wire(self) -> Vec<u8> {
        name_wire(self.name()).expect("a valid name")
    }

    fn ring(self) -> hmac::Algorithm {
        match self {
            Algorithm::HmacSha256 => hmac::HMAC_SHA256,
            Algorithm::HmacSha384 => hmac::HMAC_SHA384,
            Algorithm::HmacSha512 => hmac::HMAC_SHA512,
        }
    }
}

/// A shared TSIG key: `NAME:ALGORITHM:BASE64-SECRET` as Knot's and BIND's
/// `tsig-keygen` print them.
#[derive(Clone)]
pub struct TsigKey {
    name: String,
    wire: Vec<u8>,
    alg: Algorithm,
    key: hmac::Key,
}

impl TsigKey {
    /// The key's name (lowercase, no trailing dot).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

impl fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TsigKey({}:{}:***)", self.name, self.alg.name())
    }
}

impl FromStr for TsigKey {
    type Err = String;

    fn from_str(s: &str) -> Result<TsigKey, String> {
        let mut parts = s.splitn(3, ':');
        let (Some(name), Some(alg), Some(secret)) = (parts.next(), parts.next(), parts.next()) else {
            return Err("a TSIG key is NAME:ALGORITHM:BASE64-SECRET (e.g. xfr-key:hmac-sha256:...)".into());
        };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let wire =
            name_wire(&name).filter(|_| !name.is_empty()).ok_or(format!("TSIG key name {name:?} is not a DNS name"))?;
        let alg = Algorithm::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(alg))
            .ok_or(format!("TSIG key {name}: algorithm {alg:?} is not hmac-sha256, hmac-sha384 or hmac-sha512"))?;
        let secret = base64::engine::general_purpose::STANDARD
            .decode(secret.trim())
            .map_err(|_| format!("TSIG key {name}: the secret is not base64"))?;
        if secret.len() < 16 {
            return Err(format!(
                "TSIG key {name}: the secret is {} bytes; use at least 16 (tsig-keygen makes 32)",
                secret.len()
            ));
        }
        Ok(TsigKey { key: hmac::Key::new(alg.ring(), &secret), name, wire, alg })
    }
}

/// What a request's TSIG says.
#[derive(Debug)]
pub(crate) enum Checked {
    /// No TSIG record.
    Unsigned,
    /// Signed with `key`; answer through [`Signer::answer`].
    Valid(Signer),
    /// Signed, but not acceptably: answer NOTAUTH with this error (a
    /// [`Signer`] for BADTIME, whose answer is signed; otherwise unsigned).
    Invalid { error: u16, signer: Option<Signer>, key_name: Vec<u8>, alg: Vec<u8>, id: u16 },
}

/// The parts of a TSIG RR that a check needs.
struct Found {
    /// Offset of the TSIG RR (end of the rest of the message).
    start: usize,
    key_name: Vec<u8>,
    alg: Vec<u8>,
    time: u64,
    fudge: u16,
    mac: Vec<u8>,
    orig_id: u16,
    error: u16,
    other: Vec<u8>,
}

/// Checks the TSIG of `msg` (the last additional RR, if any) against `keys` at `now` (Unix seconds).
pub(crate) fn check(msg: &[u8], keys: &[TsigKey], now: u64) -> Checked {
    let Some(found) = find(msg) else { return Checked::Unsigned };
    let invalid = |error, signer| Checked::Invalid {
        error,
        signer,
        key_name: found.key_name.clone(),
        alg: found.alg.clone(),
        id: found.orig_id,
    };
    let Some(key) = keys.iter().find(|k| k.wire == found.key_name && k.alg.wire() == found.alg) else {
        return invalid(BADKEY, None);
    };
    let mut data = Vec::with_capacity(found.start + 128);
    data.extend_from_slice(&msg[..found.start]);
    data[..2].copy_from_slice(&found.orig_id.to_be_bytes());
    let ar = u16::from_be_bytes([data[10], data[11]]).saturating_sub(1);
    data[10..12].copy_from_slice(&ar.to_be_bytes());
    push_variables(&mut data, key, found.time, found.fudge, found.error, &found.other);
    if found.mac.len() != key.alg.ring().digest_algorithm().output_len()
        || hmac::verify(&key.key, &data, &found.mac).is_err()
    {
        return invalid(BADSIG, None);
    }
    let signer = Signer { key: key.clone(), prior: found.mac, time: now, first: true, error: 0, other: Vec::new() };
    if now.abs_diff(found.time) > u64::from(found.fudge) {
        let mut s = signer;
        s.error = BADTIME;
        s.other = now.to_be_bytes()[2..].to_vec();
        s.time = found.time;
        return invalid(BADTIME, Some(s));
    }
    Checked::Valid(signer)
}

/// Signs the messages of one exchange, in order.
#[derive(Debug)]
pub(crate) struct Signer {
    key: TsigKey,
    /// The MAC the next one chains from (the request's, then each message's).
    prior: Vec<u8>,
    time: u64,
    first: bool,
    error: u16,
    other: Vec<u8>,
}

impl Signer {
    /// Signs a request of ours (NOTIFY) at `now`.
    pub(crate) fn request(key: &TsigKey, now: u64) -> Signer {
        Signer { key: key.clone(), prior: Vec::new(), time: now, first: true, error: 0, other: Vec::new() }
    }

    /// Appends a TSIG RR signing `msg` (a whole message, ARCOUNT as it
    /// stands) and counts it in ARCOUNT. The first message is signed with the
    /// request's MAC and every variable; each later one with the MAC before
    /// it and the timers (RFC 8945 §5.3.1).
    pub(crate) fn sign(&mut self, msg: &mut Vec<u8>) {
        let mut ctx = hmac::Context::with_key(&self.key.key);
        if !self.prior.is_empty() {
            ctx.update(&(self.prior.len() as u16).to_be_bytes());
            ctx.update(&self.prior);
        }
        ctx.update(msg);
        let mut vars = Vec::with_capacity(64);
        if self.first {
            push_variables(&mut vars, &self.key, self.time, FUDGE, self.error, &self.other);
        } else {
            vars.extend_from_slice(&self.time.to_be_bytes()[2..]);
            vars.extend_from_slice(&FUDGE.to_be_bytes());
        }
        ctx.update(&vars);
        let mac = ctx.sign().as_ref().to_vec();
        let id = u16::from_be_bytes([msg[0], msg[1]]);
        append_rr(msg, &self.key.wire, &self.key.alg.wire(), self.time, &mac, id, self.error, &self.other);
        self.prior = mac;
        self.first = false;
    }
}

/// Appends an unsigned TSIG RR carrying `error` (BADKEY, BADSIG answers).
pub(crate) fn append_unsigned(msg: &mut Vec<u8>, key_name: &[u8], alg: &[u8], id: u16, error: u16, now: u64) {
    append_rr(msg, key_name, alg, now, &[], id, error, &[]);
}

#[allow(clippy::too_many_arguments)]
fn append_rr(msg: &mut Vec<u8>, key: &[u8], alg: &[u8], time: u64, mac: &[u8], id: u16, error: u16, other: &[u8]) {
    let rdlen = alg.len() + 6 + 2 + 2 + mac.len() + 2 + 2 + 2 + other.len();
    msg.extend_from_slice(key);
    msg.extend_from_slice(&T_TSIG.to_be_bytes());
    msg.extend_from_slice(&CLASS_ANY.to_be_bytes());
    msg.extend_from_slice(&0u32.to_be_bytes());
    msg.extend_from_slice(&(rdlen as u16).to_be_bytes());
    msg.extend_from_slice(alg);
    msg.extend_from_slice(&time.to_be_bytes()[2..]);
    msg.extend_from_slice(&FUDGE.to_be_bytes());
    msg.extend_from_slice(&(mac.len() as u16).to_be_bytes());
    msg.extend_from_slice(mac);
    msg.extend_from_slice(&id.to_be_bytes());
    msg.extend_from_slice(&error.to_be_bytes());
    msg.extend_from_slice(&(other.len() as u16).to_be_bytes());
    msg.extend_from_slice(other);
    let ar = u16::from_be_bytes([msg[10], msg[11]]).saturating_add(1);
    msg[10..12].copy_from_slice(&ar.to_be_bytes());
}

/// The TSIG variables (RFC 8945 §4.3.3), canonical names.
fn push_variables(out: &mut Vec<u8>, key: &TsigKey, time: u64, fudge: u16, error: u16, other: &[u8]) {
    out.extend_from_slice(&key.wire);
    out.extend_from_slice(&CLASS_ANY.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&key.alg.wire());
    out.extend_from_slice(&time.to_be_bytes()[2..]);
    out.extend_from_slice(&fudge.to_be_bytes());
    out.extend_from_slice(&error.to_be_bytes());
    out.extend_from_slice(&(other.len() as u16).to_be_bytes());
    out.extend_from_slice(other);
}

/// A name at `at` (compression followed), lowercase and uncompressed, and the offset after it.
fn read_name(msg: &[u8], mut at: usize) -> Option<(Vec<u8>, usize)> {
    let (mut out, mut end, mut jumps) = (Vec::new(), None, 0);
    loop {
        let l = usize::from(*msg.get(at)?);
        if l & 0xc0 == 0xc0 {
            end = end.or(Some(at + 2));
            jumps += 1;
            if jumps > 32 {
                return None;
            }
            at = ((l & 0x3f) << 8) | usize::from(*msg.get(at + 1)?);
            continue;
        }
        if l > 63 || out.len() + l + 1 > 255 {
            return None;
        }
        out.push(l as u8);
        if l == 0 {
            return Some((out, end.unwrap_or(at + 1)));
        }
        out.extend(msg.get(at + 1..at + 1 + l)?.iter().map(u8::to_ascii_lowercase));
        at += 1 + l;
    }
}

fn u16_at(msg: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*msg.get(at)?, *msg.get(at + 1)?]))
}

/// The message's TSIG RR, if its last additional RR is one and parses to the end.
fn find(msg: &[u8]) -> Option<Found> {
    let counts: Vec<usize> = (0..4).map(|i| u16_at(msg, 4 + 2 * i).map(usize::from)).collect::<Option<_>>()?;
    if counts[3] == 0 {
        return None;
    }
    let mut at = 12;
    for _ in 0..counts[0] {
        at = read_name(msg, at)?.1 + 4;
    }
    for _ in 0..counts[1] + counts[2] + counts[3] - 1 {
        at = read_name(msg, at)?.1;
        at += 10 + usize::from(u16_at(msg, at + 8)?);
    }
    let start = at;
    let (key_name, at) = read_name(msg, at)?;
    if u16_at(msg, at)? != T_TSIG {
        return None;
    }
    let rdlen = usize::from(u16_at(msg, at + 8)?);
    let rd = at + 10;
    if rd + rdlen != msg.len() {
        return None;
    }
    let (alg, p) = read_name(msg, rd)?;
    let time = msg.get(p..p + 6)?.iter().fold(0u64, |t, b| (t << 8) | u64::from(*b));
    let fudge = u16_at(msg, p + 6)?;
    let mac_len = usize::from(u16_at(msg, p + 8)?);
    let mac = msg.get(p + 10..p + 10 + mac_len)?.to_vec();
    let q = p + 10 + mac_len;
    let (orig_id, error, other_len) = (u16_at(msg, q)?, u16_at(msg, q + 2)?, usize::from(u16_at(msg, q + 4)?));
    let other = msg.get(q + 6..q + 6 + other_len)?.to_vec();
    (q + 6 + other_len == msg.len()).then_some(Found { start, key_name, alg, time, fudge, mac, orig_id, error, other })
}
