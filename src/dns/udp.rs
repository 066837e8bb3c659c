//! UDP workers: one blocking thread per socket, each socket bound to the same
//! address with SO_REUSEPORT (the kernel spreads clients over them), reading
//! and answering in batches with `recvmmsg`/`sendmmsg`. Every buffer is
//! allocated once per thread; a batch loads the snapshot once, so its answers
//! come from one height. Packets the fast path does not take go, copied, to
//! the slow path (hickory's handler on the tokio runtime), which answers
//! through the same socket.

use std::{
    io,
    mem::{size_of, zeroed},
    net::{SocketAddr, UdpSocket},
    os::fd::AsRawFd,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::fast::{answer, truncated, Fast};
use super::forward::ResolverOptions;
use super::handler::MAX_UDP_PAYLOAD;
use super::rrl::{Rrl, Verdict};
use super::snapshot::SnapshotCell;
use super::DnsStats;
use crate::metrics::{DnsCounts, Metrics};

/// Datagrams read or written per system call.
const BATCH: usize = 32;
/// Largest request read (larger ones are cut and then fail to parse).
const MAX_REQUEST: usize = 4096;
/// Receive buffer asked for per socket.
const RECV_BUFFER: usize = 4 << 20;
/// How often a blocked worker wakes to check for shutdown.
const WAKE: Duration = Duration::from_millis(200);
/// Requests waiting for the slow path; more are dropped (the client retries).
pub(crate) const SLOW_QUEUE: usize = 1024;

/// A request for the slow path: the datagram, its sender, and the socket to answer on.
pub(crate) struct SlowQuery {
    pub packet: Vec<u8>,
    pub src: SocketAddr,
    pub socket: Arc<UdpSocket>,
}

/// What the workers need besides their socket.
#[derive(Clone)]
pub(crate) struct WorkerContext {
    pub cell: Arc<SnapshotCell>,
    pub options: Arc<ResolverOptions>,
    pub forwarder: bool,
    pub slow: mpsc::Sender<SlowQuery>,
    pub metrics: Option<Arc<Metrics>>,
    pub log_queries: bool,
    pub stop: Arc<AtomicBool>,
    pub rrl: Arc<Rrl>,
    pub stats: Arc<DnsStats>,
    pub dnssec: Option<Arc<super::dnssec::Online>>,
}

/// Binds `n` UDP sockets on `addr` (SO_REUSEPORT; with port 0 the first
/// picks the port and the others join it).
pub(crate) fn bind(addr: SocketAddr, n: usize) -> io::Result<Vec<UdpSocket>> {
    let mut out = Vec::with_capacity(n);
    let mut at = addr;
    for _ in 0..n.max(1) {
        let s = Socket::new(Domain::for_address(at), Type::DGRAM, Some(Protocol::UDP))?;
        s.set_reuse_port(true)?;
        // Room for bursts (as NSD and Knot ask); the kernel caps it at rmem_max.
        let _ = s.set_recv_buffer_size(RECV_BUFFER);
        if at.is_ipv6() {
            s.set_only_v6(true)?;
        }
        s.bind(&at.into())?;
        s.set_read_timeout(Some(WAKE))?;
        let std: UdpSocket = s.into();
        at = std.local_addr()?;
        out.push(std);
    }
    Ok(out)
}

/// Starts one worker thread per socket.
pub(crate) fn spawn(sockets: Vec<UdpSocket>, cx: &WorkerContext) -> io::Result<Vec<JoinHandle<()>>> {
    let mut handles = Vec::with_capacity(sockets.len());
    for (i, s) in sockets.into_iter().enumerate() {
        let socket = Arc::new(s);
        let cx = cx.clone();
        let h = std::thread::Builder::new().name(format!("bns-udp-{i}")).spawn(move || worker(&socket, &cx))?;
        handles.push(h);
    }
    Ok(handles)
}

struct Buffers {
    req: Box<[[u8; MAX_REQUEST]; BATCH]>,
    resp: Box<[[u8; MAX_UDP_PAYLOAD as usize]; BATCH]>,
    addrs: [libc::sockaddr_storage; BATCH],
    iov_in: [libc::iovec; BATCH],
    iov_out: [libc::iovec; BATCH],
    hdr_in: [libc::mmsghdr; BATCH],
    hdr_out: [libc::mmsghdr; BATCH],
}

fn worker(socket: &Arc<UdpSocket>, cx: &WorkerContext) {
    // SAFETY: all-zero is a valid value for these plain C structs.
    let mut b: Box<Buffers> = Box::new(Buffers {
        req: Box::new([[0; MAX_REQUEST]; BATCH]),
        resp: Box::new([[0; MAX_UDP_PAYLOAD as usize]; BATCH]),
        addrs: unsafe { zeroed() },
        iov_in: unsafe { zeroed() },
        iov_out: unsafe { zeroed() },
        hdr_in: unsafe { zeroed() },
        hdr_out: unsafe { zeroed() },
    });
    let mut counts = DnsCounts::default();
    let fd = socket.as_raw_fd();
    while !cx.stop.load(Ordering::Relaxed) {
        let b = &mut *b;
        for i in 0..BATCH {
            b.iov_in[i] = libc::iovec { iov_base: b.req[i].as_mut_ptr().cast(), iov_len: MAX_REQUEST };
            b.hdr_in[i].msg_hdr.msg_name = (&mut b.addrs[i] as *mut libc::sockaddr_storage).cast();
            b.hdr_in[i].msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            b.hdr_in[i].msg_hdr.msg_iov = &mut b.iov_in[i];
            b.hdr_in[i].msg_hdr.msg_iovlen = 1;
            b.hdr_in[i].msg_hdr.msg_control = std::ptr::null_mut();
            b.hdr_in[i].msg_hdr.msg_controllen = 0;
            b.hdr_in[i].msg_len = 0;
        }
        // SAFETY: every header points at buffers of this thread that outlive the call.
        let got = unsafe {
            libc::recvmmsg(fd, b.hdr_in.as_mut_ptr(), BATCH as libc::c_uint, libc::MSG_WAITFORONE, std::ptr::null_mut())
        };
        if got < 0 {
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted => continue,
                _ => {
                    warn!(error = %e, "UDP receive failed");
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
            }
        }
        let started = Instant::now();
        let snap = cx.cell.load();
        let mut out = 0usize;
        for i in 0..got as usize {
            let len = (b.hdr_in[i].msg_len as usize).min(MAX_REQUEST);
            let req = &b.req[i][..len];
            let verdict = match sockaddr_to(&b.addrs[i]) {
                Some(src) if !cx.rrl.is_off() => cx.rrl.check(src.ip()),
                _ => Verdict::Answer,
            };
            let fast = match verdict {
                Verdict::Answer => {
                    answer(&snap, &cx.options, cx.forwarder, cx.dnssec.as_deref(), req, &mut b.resp[out], false)
                }
                Verdict::Slip => {
                    cx.stats.rrl_slipped.fetch_add(1, Ordering::Relaxed);
                    match truncated(req, &mut b.resp[out]) {
                        Some(len) => Fast::Answered { len, rcode: 0, qtype: 0 },
                        None => Fast::Drop,
                    }
                }
                Verdict::Drop => {
                    cx.stats.rrl_dropped.fetch_add(1, Ordering::Relaxed);
                    Fast::Drop
                }
            };
            match fast {
                Fast::Answered { len, rcode, qtype } => {
                    if cx.log_queries {
                        log_query(&b.addrs[i], req, qtype, rcode);
                    }
                    counts.record(qtype, u16::from(rcode), started.elapsed());
                    b.iov_out[out] = libc::iovec { iov_base: b.resp[out].as_mut_ptr().cast(), iov_len: len };
                    b.hdr_out[out].msg_hdr.msg_name = (&mut b.addrs[i] as *mut libc::sockaddr_storage).cast();
                    b.hdr_out[out].msg_hdr.msg_namelen = b.hdr_in[i].msg_hdr.msg_namelen;
                    b.hdr_out[out].msg_hdr.msg_iov = &mut b.iov_out[out];
                    b.hdr_out[out].msg_hdr.msg_iovlen = 1;
                    b.hdr_out[out].msg_len = 0;
                    out += 1;
                }
                Fast::Slow => {
                    if let Some(src) = sockaddr_to(&b.addrs[i]) {
                        let q = SlowQuery { packet: req.to_vec(), src, socket: socket.clone() };
                        if cx.slow.try_send(q).is_err() {
                            debug!(%src, "slow path queue full: dropping a query");
                        }
                    }
                }
                Fast::Drop => {}
            }
        }
        drop(snap);
        let mut sent = 0;
        while sent < out {
            // SAFETY: as above; headers [sent, out) are filled.
            let n = unsafe { libc::sendmmsg(fd, b.hdr_out[sent..].as_mut_ptr(), (out - sent) as libc::c_uint, 0) };
            if n <= 0 {
                debug!(error = %io::Error::last_os_error(), "UDP send failed");
                // Skip the datagram that failed (e.g. an unreachable sender).
                sent += 1;
                continue;
            }
            sent += n as usize;
        }
        if let Some(m) = &cx.metrics {
            m.merge_dns(&mut counts);
        }
    }
}

fn log_query(addr: &libc::sockaddr_storage, req: &[u8], qtype: u16, rcode: u8) {
    use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
    let src = sockaddr_to(addr);
    let mut d = BinDecoder::new(req.get(12..).unwrap_or(&[]));
    let qname = hickory_proto::rr::Name::read(&mut d).map(|n| n.to_string()).unwrap_or_default();
    info!(target: "bns::dns::query", src = ?src, %qname, qtype, rcode, "query");
}

/// The socket address in a `sockaddr_storage` the kernel filled.
fn sockaddr_to(s: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(s.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says this storage holds a sockaddr_in.
            let a: &libc::sockaddr_in = unsafe { &*(s as *const libc::sockaddr_storage).cast() };
            let ip = std::net::Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Some(SocketAddr::new(ip.into(), u16::from_be(a.sin_port)))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says this storage holds a sockaddr_in6.
            let a: &libc::sockaddr_in6 = unsafe { &*(s as *const libc::sockaddr_storage).cast() };
            let ip = std::net::Ipv6Addr::from(a.sin6_addr.s6_addr);
            Some(SocketAddr::new(ip.into(), u16::from_be(a.sin6_port)))
        }
        _ => None,
    }
}
