//! Answering AXFR (RFC 5936) and IXFR (RFC 1995) for namespace zones.
//!
//! Over TCP a transfer is a run of messages written straight from one
//! snapshot (a transfer never mixes heights): AXFR is SOA, every RR, SOA;
//! IXFR is the journal's steps from the client's serial (each old SOA,
//! deletions, new SOA, additions, between the current SOA twice), one SOA
//! when the client is current, or the whole zone when the journal does not
//! reach back to its serial. Over UDP an IXFR gets the current SOA alone
//! (the client then comes over TCP) and an AXFR FORMERR. Clients outside
//! `--allow-transfer` get REFUSED; a zone that is no namespace NOTAUTH.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use hickory_proto::op::{Message, MessageType, OpCode};
use hickory_proto::rr::{RData, RecordType};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::time::timeout;
use tracing::{debug, info};

use super::super::snapshot::{zone::name_wire, Namespace, Snapshot, SnapshotCell};
use super::content::{apex_rrs, contribution, key_namespace, soa};
use super::tsig::{self, Checked, Signer};
use super::Transfers;
use crate::metrics::Metrics;

const T_IXFR: u16 = 251;
const T_AXFR: u16 = 252;
const REFUSED: u8 = 5;
const FORMERR: u8 = 1;
const NOTAUTH: u8 = 9;
/// A message is closed once it holds this many bytes (RFC 5936 allows up to 65,535).
const MESSAGE_BYTES: usize = 16 * 1024;
/// Framed bytes buffered before they are written out.
const FLUSH_BYTES: usize = 256 * 1024;

/// The question type if `msg` is a query for AXFR or IXFR (opcode QUERY, one question).
pub(crate) fn transfer_type(msg: &[u8]) -> Option<u16> {
    if msg.len() < 12 || msg[2] & 0xf8 != 0 || msg[4..6] != [0, 1] {
        return None;
    }
    let q = &msg[12..];
    let nlen = super::super::snapshot::zone::wire_name_len(q)?;
    let t = q.get(nlen..nlen + 2)?;
    let t = u16::from_be_bytes([t[0], t[1]]);
    matches!(t, T_IXFR | T_AXFR).then_some(t)
}

/// A decoded transfer request.
struct Request {
    id: u16,
    /// The question as sent (name, type, class).
    question: Vec<u8>,
    /// The zone, lowercase wire form.
    zone: Vec<u8>,
    qtype: u16,
    /// IXFR: the serial the client holds.
    serial: Option<u32>,
}

fn decode(msg: &[u8]) -> Option<Request> {
    let m = Message::from_vec(msg).ok()?;
    if m.metadata.message_type != MessageType::Query || m.metadata.op_code != OpCode::Query || m.queries.len() != 1 {
        return None;
    }
    let q = &m.queries[0];
    let zone = name_wire(&q.name().to_ascii().to_ascii_lowercase())?;
    let nlen = super::super::snapshot::zone::wire_name_len(&msg[12..])?;
    let question = msg.get(12..12 + nlen + 4)?.to_vec();
    let serial = m.authorities.iter().find_map(|r| match &r.data {
        RData::SOA(s) if r.record_type() == RecordType::SOA => Some(s.serial),
        _ => None,
    });
    Some(Request { id: m.metadata.id, question, zone, qtype: u16::from(q.query_type()), serial })
}

/// Builds the messages of one transfer as length-prefixed frames.
struct Frames {
    id: u16,
    question: Vec<u8>,
    out: Vec<u8>,
    /// Start of the current message's length prefix in `out`, and its RR count.
    msg_at: usize,
    count: u16,
    pub messages: usize,
    pub rrs: u64,
    pub bytes: u64,
    /// Signs each message when the request was signed.
    signer: Option<Signer>,
}

/// Room left in a message for its TSIG RR.
const TSIG_ROOM: usize = 512;

impl Frames {
    fn new(id: u16, question: Vec<u8>, signer: Option<Signer>) -> Frames {
        let mut f =
            Frames { id, question, out: Vec::new(), msg_at: 0, count: 0, messages: 0, rrs: 0, bytes: 0, signer };
        f.open();
        f
    }

    fn open(&mut self) {
        self.msg_at = self.out.len();
        self.count = 0;
        self.out.extend_from_slice(&[0, 0]);
        self.out.extend_from_slice(&self.id.to_be_bytes());
        self.out.extend_from_slice(&[0x84, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
        self.out.extend_from_slice(&self.question);
    }

    fn close(&mut self) {
        self.out[self.msg_at + 8..self.msg_at + 10].copy_from_slice(&self.count.to_be_bytes());
        if let Some(signer) = &mut self.signer {
            let mut msg = self.out.split_off(self.msg_at + 2);
            signer.sign(&mut msg);
            self.out.extend_from_slice(&msg);
        }
        let len = (self.out.len() - self.msg_at - 2) as u16;
        self.out[self.msg_at..self.msg_at + 2].copy_from_slice(&len.to_be_bytes());
        self.messages += 1;
    }

    fn push(&mut self, rr: &[u8]) {
        let header = 12 + self.question.len() + TSIG_ROOM;
        if rr.len() + header > usize::from(u16::MAX) {
            debug!(len = rr.len(), "RR too long for a transfer message: left out");
            return;
        }
        let used = self.out.len() - self.msg_at - 2;
        if self.count > 0 && (used + rr.len() > MESSAGE_BYTES || used + rr.len() + TSIG_ROOM > usize::from(u16::MAX)) {
            self.close();
            self.open();
        }
        self.out.extend_from_slice(rr);
        self.count += 1;
        self.rrs += 1;
    }

    /// Takes the finished frames (all but the open message).
    fn take_finished(&mut self) -> Vec<u8> {
        let rest = self.out.split_off(self.msg_at);
        let done = std::mem::replace(&mut self.out, rest);
        self.msg_at = 0;
        self.bytes += done.len() as u64;
        done
    }

    fn finish(mut self) -> (Vec<u8>, Frames) {
        self.close();
        let all = std::mem::take(&mut self.out);
        self.bytes += all.len() as u64;
        (all, self)
    }
}

/// A one-message error answer (question echoed).
fn error_reply(id: u16, question: &[u8], rcode: u8) -> Vec<u8> {
    let mut m = Vec::with_capacity(12 + question.len());
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&[0x80, rcode, 0, u8::from(!question.is_empty()), 0, 0, 0, 0, 0, 0]);
    m.extend_from_slice(question);
    m
}

fn namespace<'a>(snap: &'a Snapshot, zone: &[u8]) -> Option<&'a Namespace> {
    snap.namespace_list().iter().find(|n| &n.wire[..] == zone)
}

/// `error_reply`, signed when the request was.
fn reply(id: u16, question: &[u8], rcode: u8, signer: Option<&mut Signer>) -> Vec<u8> {
    let mut m = error_reply(id, question, rcode);
    if let Some(s) = signer {
        s.sign(&mut m);
    }
    m
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Whether request `msg` from `src` may transfer: its signer (when signed),
/// or the answer to send instead and why. With `--tsig-key`, a request must
/// be signed with one of the keys; either way it must come from
/// `--allow-transfer`.
fn authorize(msg: &[u8], req: &Request, src: IpAddr, t: &Transfers) -> Result<Option<Signer>, (Vec<u8>, &'static str)> {
    let mut signer = match tsig::check(msg, &t.keys, now()) {
        Checked::Unsigned if !t.keys.is_empty() => {
            return Err((reply(req.id, &req.question, REFUSED, None), "not signed with a --tsig-key"));
        }
        Checked::Unsigned => None,
        Checked::Invalid { error, signer, key_name, alg, id } => {
            let mut m = error_reply(req.id, &req.question, NOTAUTH);
            match signer {
                Some(mut s) => s.sign(&mut m),
                None => tsig::append_unsigned(&mut m, &key_name, &alg, id, error, now()),
            }
            let why = match error {
                tsig::BADKEY => "TSIG key unknown (BADKEY)",
                tsig::BADSIG => "TSIG signature does not verify (BADSIG)",
                _ => "TSIG time outside the fudge window (BADTIME)",
            };
            return Err((m, why));
        }
        Checked::Valid(s) => Some(s),
    };
    if !t.allows(src) {
        return Err((reply(req.id, &req.question, REFUSED, signer.as_mut()), "not in --allow-transfer"));
    }
    Ok(signer)
}

/// The answer to a transfer request over UDP, or `None` for a message that
/// is not one.
pub(crate) fn udp_answer(cell: &SnapshotCell, transfers: &Transfers, msg: &[u8], src: IpAddr) -> Option<Vec<u8>> {
    transfer_type(msg)?;
    let Some(req) = decode(msg) else { return Some(error_reply(u16::from_be_bytes([msg[0], msg[1]]), &[], FORMERR)) };
    let mut signer = match authorize(msg, &req, src, transfers) {
        Ok(s) => s,
        Err((m, _)) => return Some(m),
    };
    if req.qtype == T_AXFR {
        return Some(reply(req.id, &req.question, FORMERR, signer.as_mut()));
    }
    let snap = cell.load_full();
    let Some(ns) = namespace(&snap, &req.zone) else {
        return Some(reply(req.id, &req.question, NOTAUTH, signer.as_mut()));
    };
    let mut f = Frames::new(req.id, req.question, signer);
    f.push(&soa(ns, snap.serial()));
    let (framed, _) = f.finish();
    Some(framed[2..].to_vec())
}

/// Serves one AXFR or IXFR request `msg` on a stream. An error means the
/// connection is no longer usable.
pub(crate) async fn serve_stream<S: AsyncWrite + Unpin>(
    s: &mut S,
    msg: &[u8],
    src: SocketAddr,
    cell: &SnapshotCell,
    transfers: &Transfers,
    metrics: Option<&Metrics>,
) -> std::io::Result<()> {
    let started = Instant::now();
    let Some(req) = decode(msg) else {
        return write(s, &frame(&error_reply(u16::from_be_bytes([msg[0], msg[1]]), &[], FORMERR))).await;
    };
    let mut signer = match authorize(msg, &req, src.ip(), transfers) {
        Ok(signer) => signer,
        Err((answer, why)) => {
            info!(%src, why, "zone transfer refused");
            if let Some(m) = metrics {
                m.xfr.transfer("refused", 0);
            }
            return write(s, &frame(&answer)).await;
        }
    };
    let snap = cell.load_full();
    let Some(ns) = namespace(&snap, &req.zone) else {
        return write(s, &frame(&reply(req.id, &req.question, NOTAUTH, signer.as_mut()))).await;
    };
    let serial = snap.serial();
    let current = soa(ns, serial);
    let signed = signer.is_some();
    let mut f = Frames::new(req.id, req.question.clone(), signer);
    f.push(&current);
    let kind = match (req.qtype, req.serial) {
        (T_IXFR, Some(have)) if !serial_lt(have, serial) => ("IXFR (current)", "ixfr_current"),
        (T_IXFR, Some(have)) => match snap.journal().path(have) {
            Some(steps) => {
                for step in &steps {
                    f.push(&soa(ns, step.from));
                    let diff = step.diff(&ns.id);
                    for rr in diff.iter().flat_map(|d| &d.deleted) {
                        f.push(rr);
                    }
                    f.push(&soa(ns, step.to));
                    for rr in diff.iter().flat_map(|d| &d.added) {
                        f.push(rr);
                    }
                    if f.out.len() > FLUSH_BYTES {
                        write(s, &f.take_finished()).await?;
                    }
                }
                f.push(&current);
                ("IXFR", "ixfr")
            }
            None => {
                whole_zone(s, &snap, ns, &mut f).await?;
                ("IXFR (whole zone)", "ixfr_whole_zone")
            }
        },
        _ => {
            whole_zone(s, &snap, ns, &mut f).await?;
            ("AXFR", "axfr")
        }
    };
    let (kind, label) = kind;
    let (rest, f) = f.finish();
    write(s, &rest).await?;
    info!(%src, zone = %String::from_utf8_lossy(&ns.id), kind, serial, client_serial = ?req.serial, signed,
        rrs = f.rrs, messages = f.messages, bytes = f.bytes, ms = started.elapsed().as_millis() as u64,
        "zone transfer sent");
    if let Some(m) = metrics {
        m.xfr.transfer(label, f.bytes);
    }
    Ok(())
}

/// Every RR of the zone after the opening SOA, then the closing SOA.
async fn whole_zone<S: AsyncWrite + Unpin>(
    s: &mut S,
    snap: &Snapshot,
    ns: &Namespace,
    f: &mut Frames,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    apex_rrs(snap, ns, &mut buf);
    for (key, _) in snap.entries() {
        if key_namespace(key) != &ns.id[..] || !key.contains(&b'.') {
            continue;
        }
        contribution(snap, key, &mut buf);
        for rr in buf.drain(..) {
            f.push(&rr);
        }
        if f.out.len() > FLUSH_BYTES {
            write(s, &f.take_finished()).await?;
        }
    }
    for rr in buf.drain(..) {
        f.push(&rr);
    }
    f.push(&soa(ns, snap.serial()));
    Ok(())
}

/// RFC 1982 serial comparison: `a` before `b`.
pub(crate) fn serial_lt(a: u32, b: u32) -> bool {
    a != b && b.wrapping_sub(a) < 0x8000_0000
}

fn frame(msg: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(msg.len() + 2);
    f.extend_from_slice(&(msg.len() as u16).to_be_bytes());
    f.extend_from_slice(msg);
    f
}

async fn write<S: AsyncWrite + Unpin>(s: &mut S, bytes: &[u8]) -> std::io::Result<()> {
    match timeout(super::super::TCP_IDLE_TIMEOUT, s.write_all(bytes)).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "zone transfer write timed out")),
    }
}
