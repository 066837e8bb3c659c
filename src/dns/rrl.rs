//! Response-rate limiting on UDP (the idea of BIND's and Knot's RRL): a spoofed
//! source cannot turn the node into a reflector. Each client network (/24 for
//! IPv4, /56 for IPv6) may get `rate` responses a second; beyond that, every
//! `slip`-th response is sent truncated (TC, no records: a real client retries
//! over TCP, which is not limited) and the others are dropped.
//!
//! The table is a fixed array of atomics shared by every UDP worker, indexed
//! by a hash of the network: no allocation and no lock per query, and memory
//! that no flood can grow. Two networks hashing to one slot share a budget,
//! which errs on the side of limiting.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use ipnet::IpNet;

/// Slots in the table (a power of two).
const SLOTS: usize = 1 << 16;

/// Default responses a second per client network.
pub const DEFAULT_RATE: u32 = 100;
/// Default slip: every 2nd limited response goes out truncated.
pub const DEFAULT_SLIP: u32 = 2;

/// What to do with one UDP response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the rate: answer.
    Answer,
    /// Over the rate: send an empty truncated response.
    Slip,
    /// Over the rate: send nothing.
    Drop,
}

/// The limiter; one per DNS server.
pub struct Rrl {
    rate: u32,
    slip: u32,
    exempt: Vec<IpNet>,
    epoch: Instant,
    /// Per slot: (second since `epoch` << 32) | responses in that second.
    slots: Box<[AtomicU64]>,
}

impl std::fmt::Debug for Rrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rrl").field("rate", &self.rate).field("slip", &self.slip).finish_non_exhaustive()
    }
}

impl Rrl {
    /// `rate` responses a second per client network (0: no limit), `slip`
    /// (0: never truncate, 1: truncate every limited response), and sources
    /// never limited.
    pub fn new(rate: u32, slip: u32, exempt: Vec<IpNet>) -> Rrl {
        let slots = if rate == 0 { Vec::new() } else { (0..SLOTS).map(|_| AtomicU64::new(0)).collect() };
        Rrl { rate, slip, exempt, epoch: Instant::now(), slots: slots.into_boxed_slice() }
    }

    /// True if nothing is ever limited.
    pub fn is_off(&self) -> bool {
        self.rate == 0
    }

    /// Counts one response to `ip` now and says what to send.
    pub fn check(&self, ip: IpAddr) -> Verdict {
        if self.rate == 0 || self.exempt.iter().any(|n| n.contains(&ip)) {
            return Verdict::Answer;
        }
        let second = self.epoch.elapsed().as_secs();
        self.check_at(ip, second)
    }

    fn check_at(&self, ip: IpAddr, second: u64) -> Verdict {
        let slot = &self.slots[slot_of(ip)];
        let mut cur = slot.load(Ordering::Relaxed);
        let count = loop {
            let (s, c) = (cur >> 32, cur & 0xffff_ffff);
            let next_count = if s == second & 0xffff_ffff { c.saturating_add(1).min(0xffff_ffff) } else { 1 };
            let next = ((second & 0xffff_ffff) << 32) | next_count;
            match slot.compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => break next_count,
                Err(now) => cur = now,
            }
        };
        if count <= u64::from(self.rate) {
            Verdict::Answer
        } else if self.slip != 0 && (count - u64::from(self.rate)) % u64::from(self.slip) == 0 {
            Verdict::Slip
        } else {
            Verdict::Drop
        }
    }
}

/// The slot of `ip`'s network (/24 or /56; IPv4-mapped IPv6 as IPv4).
fn slot_of(ip: IpAddr) -> usize {
    let key: u64 = match ip.to_canonical() {
        IpAddr::V4(v4) => u64::from(u32::from(v4) >> 8) | (4 << 56),
        IpAddr::V6(v6) => (u128::from(v6) >> 72) as u64 | (6 << 56),
    };
    // Fibonacci hashing: the top bits of a multiply by 2^64 / phi.
    (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - SLOTS.trailing_zeros())) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn limits_per_network_with_slip() {
        let r = Rrl::new(5, 2, vec!["127.0.0.1/32".parse().unwrap()]);
        let got: Vec<Verdict> = (0..9).map(|_| r.check_at(ip("192.0.2.1"), 7)).collect();
        use Verdict::*;
        assert_eq!(got, [Answer, Answer, Answer, Answer, Answer, Drop, Slip, Drop, Slip]);
        // The same /24 shares the budget; another network has its own.
        assert_eq!(r.check_at(ip("192.0.2.200"), 7), Drop);
        assert_eq!(r.check_at(ip("198.51.100.1"), 7), Answer);
        // A new second starts afresh.
        assert_eq!(r.check_at(ip("192.0.2.1"), 8), Answer);
        // Exempt sources and a rate of 0 are never limited.
        assert!((0..100).all(|_| r.check(ip("127.0.0.1")) == Answer));
        let off = Rrl::new(0, 2, Vec::new());
        assert!(off.is_off() && (0..100).all(|_| off.check(ip("192.0.2.1")) == Answer));
        // slip 0: drop everything over the rate.
        let never = Rrl::new(1, 0, Vec::new());
        assert_eq!((0..4).map(|_| never.check_at(ip("::1"), 1)).collect::<Vec<_>>(), [Answer, Drop, Drop, Drop]);
    }

    #[test]
    fn ipv6_networks_are_slash_56() {
        assert_eq!(slot_of(ip("2001:db8:0:100::1")), slot_of(ip("2001:db8:0:1ff::9")));
        assert_eq!(slot_of(ip("::ffff:192.0.2.9")), slot_of(ip("192.0.2.1")));
    }
}
