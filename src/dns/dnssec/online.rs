//! Signing at answer time, once per RRset and snapshot: signatures are
//! cached by (serial, owner, type, TTL) in a 4-way set-associative table of
//! [`SLOTS`] atomic slots, so a query whose RRsets were signed before costs
//! a keyed hash, a look at the set's four tags (one cache line) and one
//! entry (owner and signature in one allocation): no lock, no allocation,
//! no reference count touched. A tag is only a hint; the entry itself is
//! compared before it is used. An RRset whose slot another took is simply
//! signed again. Entries are used for
//! [`REFRESH`]; signatures are valid [`VALID_DAYS`] days from an hour before
//! they were made, so a cached signature always has days left and renews
//! itself.

use std::hash::{BuildHasher as _, Hasher as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::{ArcSwapOption, Guard};

use super::sign::{rrsig, Validity};
use super::ZoneKey;

/// How long a signature stays cached (then the RRset is signed again).
pub const REFRESH: Duration = Duration::from_secs(12 * 3600);
/// Days a signature is valid.
pub const VALID_DAYS: u32 = 4;
/// Slots of the signature table (a power of two; sets of [`WAYS`]).
pub const SLOTS: usize = 1 << 19;
/// Slots an RRset may take.
pub const WAYS: usize = 4;

/// A cached signature and what it signs.
#[derive(Debug)]
pub struct Signed {
    /// [`coarse_secs`] when made.
    made: u64,
    serial: u32,
    rtype: u16,
    ttl: u32,
    owner_len: usize,
    /// The owner (lowercase wire), then the RRSIG rdata.
    bytes: Box<[u8]>,
}

impl Signed {
    fn owner(&self) -> &[u8] {
        &self.bytes[..self.owner_len]
    }

    /// The RRSIG rdata.
    pub fn rdata(&self) -> &[u8] {
        &self.bytes[self.owner_len..]
    }
}

/// A signature from [`Online::rrsig`]: borrowed from the table on a hit (no
/// reference count touched), or just made.
pub enum Sig {
    Cached(Guard<Option<Arc<Signed>>>),
    Fresh(Arc<Signed>),
}

impl Sig {
    /// The RRSIG rdata.
    pub fn rdata(&self) -> &[u8] {
        match self {
            Sig::Cached(g) => g.as_ref().map_or(&[][..], |s| s.rdata()),
            Sig::Fresh(s) => s.rdata(),
        }
    }
}

/// Seconds of the coarse monotonic clock (a few nanoseconds to read; the
/// cache needs no finer time).
fn coarse_secs() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    if rc == 0 {
        ts.tv_sec as u64
    } else {
        0
    }
}

/// The zone key and its signature cache.
pub struct Online {
    key: ZoneKey,
    slots: Box<[ArcSwapOption<Signed>]>,
    /// The hash of what each slot holds (0: nothing), read before the slot.
    tags: Box<[AtomicU64]>,
    /// Keyed hash (SipHash, per-install random keys), so no client can aim at one slot.
    hasher: std::collections::hash_map::RandomState,
}

impl std::fmt::Debug for Online {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Online").field("key", &self.key).finish_non_exhaustive()
    }
}

impl Online {
    /// Signs with `key`.
    pub fn new(key: ZoneKey) -> Online {
        let slots = (0..SLOTS).map(|_| ArcSwapOption::empty()).collect();
        let tags = (0..SLOTS).map(|_| AtomicU64::new(0)).collect();
        Online { key, slots, tags, hasher: std::collections::hash_map::RandomState::new() }
    }

    /// The key.
    pub fn key(&self) -> &ZoneKey {
        &self.key
    }

    /// The RRSIG rdata for the RRset (`owner` in any case, `rtype`, `ttl`,
    /// the rdata `rdatas` yields) of the zone `signer` (lowercase wire) in the
    /// snapshot with `serial`.
    pub fn rrsig<'r>(
        &self,
        serial: u32,
        owner: &[u8],
        rtype: u16,
        ttl: u32,
        rdatas: impl FnOnce() -> Vec<&'r [u8]>,
        signer: &[u8],
    ) -> Sig {
        let mut hasher = self.hasher.build_hasher();
        hasher.write_u32(serial);
        hasher.write_u16(rtype);
        hasher.write_u32(ttl);
        for b in owner {
            hasher.write_u8(b.to_ascii_lowercase());
        }
        let h = hasher.finish() | 1;
        let base = h as usize & (SLOTS - 1) & !(WAYS - 1);
        let now = coarse_secs();
        let fresh = |s: &Signed| now.saturating_sub(s.made) < REFRESH.as_secs();
        for i in base..base + WAYS {
            if self.tags[i].load(Ordering::Acquire) != h {
                continue;
            }
            let held = self.slots[i].load();
            if held.as_ref().is_some_and(|s| {
                s.serial == serial
                    && s.rtype == rtype
                    && s.ttl == ttl
                    && s.owner().eq_ignore_ascii_case(owner)
                    && fresh(s)
            }) {
                return Sig::Cached(held);
            }
        }
        // An empty or stale slot of the set, else one picked by the hash.
        let stale = |i: &usize| {
            self.tags[*i].load(Ordering::Relaxed) == 0
                || self.slots[*i].load().as_ref().is_none_or(|s| s.serial != serial || !fresh(s))
        };
        let i = (base..base + WAYS).find(stale).unwrap_or(base + (h >> 40) as usize % WAYS);
        let lower = owner.to_ascii_lowercase();
        let unix = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let rdata = rrsig(&self.key, &lower, rtype, ttl, &rdatas(), signer, Validity::around(unix, VALID_DAYS));
        let owner_len = lower.len();
        let mut bytes = lower;
        bytes.extend_from_slice(&rdata);
        let s = Arc::new(Signed { made: now, serial, rtype, ttl, owner_len, bytes: bytes.into() });
        self.slots[i].store(Some(s.clone()));
        self.tags[i].store(h, Ordering::Release);
        Sig::Fresh(s)
    }
}
