//! NOTIFY (RFC 1996): tells each configured secondary, for every namespace,
//! that a new serial is out, so it transfers at once instead of at its SOA
//! refresh. Each NOTIFY is sent over UDP from an ephemeral port and retried
//! (every [`RETRY`], at most [`ATTEMPTS`] times) until the secondary answers
//! with the same ID; a newer serial replaces the notifications in flight.
//! With TSIG keys configured, each NOTIFY is signed with the first.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::task::JoinSet;
use tokio::time::{interval, timeout, MissedTickBehavior};
use tracing::{debug, info, warn};

use super::super::snapshot::SnapshotCell;
use super::content::soa;
use super::tsig::{Signer, TsigKey};
use crate::metrics::Metrics;

/// How often the published serial is looked at.
pub const POLL: Duration = Duration::from_millis(250);
/// Wait for an answer before sending again.
pub const RETRY: Duration = Duration::from_secs(2);
/// Sends per secondary and zone.
pub const ATTEMPTS: usize = 5;

/// Runs until dropped: notifies `targets` of every namespace whenever the
/// published serial changes (and once at start).
pub(crate) async fn run(
    cell: Arc<SnapshotCell>,
    targets: Vec<SocketAddr>,
    key: Option<TsigKey>,
    metrics: Option<Arc<Metrics>>,
) {
    let mut last = None;
    let mut tick = interval(POLL);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut inflight = JoinSet::new();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            Some(_) = inflight.join_next(), if !inflight.is_empty() => continue,
        }
        let snap = cell.load_full();
        if last == Some(snap.serial()) || snap.namespace_list().is_empty() {
            continue;
        }
        last = Some(snap.serial());
        inflight.abort_all();
        for ns in snap.namespace_list() {
            let mut msg = Vec::with_capacity(64 + ns.wire.len() * 2);
            msg.extend_from_slice(&[0, 0, 0x24, 0x00, 0, 1, 0, 1, 0, 0, 0, 0]);
            msg.extend_from_slice(&ns.wire);
            msg.extend_from_slice(&[0, 6, 0, 1]);
            msg.extend_from_slice(&soa(ns, snap.serial()));
            let zone = String::from_utf8_lossy(&ns.id).into_owned();
            for &target in &targets {
                inflight.spawn(notify_one(
                    target,
                    msg.clone(),
                    zone.clone(),
                    snap.serial(),
                    key.clone(),
                    metrics.clone(),
                ));
            }
        }
    }
}

async fn notify_one(
    target: SocketAddr,
    mut msg: Vec<u8>,
    zone: String,
    serial: u32,
    key: Option<TsigKey>,
    metrics: Option<Arc<Metrics>>,
) {
    let count = |result: &str| {
        if let Some(m) = &metrics {
            m.xfr.notify(result);
        }
    };
    let local: SocketAddr =
        if target.is_ipv4() { (Ipv4Addr::UNSPECIFIED, 0).into() } else { (Ipv6Addr::UNSPECIFIED, 0).into() };
    let socket = match UdpSocket::bind(local).await {
        Ok(s) => s,
        Err(error) => return warn!(%target, %error, "cannot open a socket for NOTIFY"),
    };
    let id: u16 = rand::random();
    msg[..2].copy_from_slice(&id.to_be_bytes());
    if let Some(key) = &key {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Signer::request(key, now).sign(&mut msg);
    }
    let mut buf = [0u8; 512];
    for attempt in 1..=ATTEMPTS {
        if let Err(error) = socket.send_to(&msg, target).await {
            debug!(%target, %error, attempt, "NOTIFY not sent");
        }
        let deadline = tokio::time::Instant::now() + RETRY;
        while let Ok(Ok((n, from))) = timeout(deadline - tokio::time::Instant::now(), socket.recv_from(&mut buf)).await
        {
            if from == target && n >= 12 && buf[..2] == id.to_be_bytes() && buf[2] & 0x80 != 0 {
                let rcode = buf[3] & 0x0f;
                count("answered");
                return info!(%target, zone, serial, rcode, attempt, "NOTIFY answered");
            }
        }
    }
    count("unanswered");
    warn!(%target, zone, serial, attempts = ATTEMPTS, "secondary did not answer NOTIFY");
}
