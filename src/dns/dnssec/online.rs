//! Signing at answer time, once per RRset and snapshot: signatures are
//! cached by (serial, owner, type, TTL) in a 4-way set-associative table of
//! [`SLOTS`] atomic slots, so a query whose RRsets were signed before costs
//! a hash and a few atomic loads and compares: no lock, no allocation. An
//! RRset whose slot another took is simply signed again. Entries are used for
//! [`REFRESH`]; signatures are valid [`VALID_DAYS`] days from an hour before
//! they were made, so a cached signature always has days left and renews
//! itself.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwapOption;

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
    made: Instant,
    serial: u32,
    rtype: u16,
    ttl: u32,
    owner: Box<[u8]>,
    /// RRSIG rdata.
    pub rdata: Box<[u8]>,
}

/// The zone key and its signature cache.
pub struct Online {
    key: ZoneKey,
    slots: Box<[ArcSwapOption<Signed>]>,
    /// Per-install hash seed, so no client can aim at one slot.
    seed: u64,
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
        Online { key, slots, seed: rand::random::<u64>() | 1 }
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
    ) -> Arc<Signed> {
        // FNV-1a over the key, seeded.
        let mut h = 0xcbf2_9ce4_8422_2325u64 ^ self.seed;
        let mut mix = |b: u8| h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        serial.to_le_bytes().into_iter().chain(rtype.to_le_bytes()).chain(ttl.to_le_bytes()).for_each(&mut mix);
        owner.iter().for_each(|b| mix(b.to_ascii_lowercase()));
        let h = h ^ (h >> 29);
        let set = &self.slots[h as usize & (SLOTS - 1) & !(WAYS - 1)..][..WAYS];
        for slot in set {
            if let Some(s) = slot.load().as_ref() {
                if s.serial == serial
                    && s.rtype == rtype
                    && s.ttl == ttl
                    && s.owner.eq_ignore_ascii_case(owner)
                    && s.made.elapsed() < REFRESH
                {
                    return s.clone();
                }
            }
        }
        // An empty or stale slot of the set, else one picked by the hash.
        let stale = |slot: &&ArcSwapOption<Signed>| {
            slot.load().as_ref().is_none_or(|s| s.serial != serial || s.made.elapsed() >= REFRESH)
        };
        let slot = set.iter().find(stale).unwrap_or(&set[(h >> 40) as usize % WAYS]);
        let lower = owner.to_ascii_lowercase();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let rdata = rrsig(&self.key, &lower, rtype, ttl, &rdatas(), signer, Validity::around(now, VALID_DAYS));
        let s = Arc::new(Signed { made: Instant::now(), serial, rtype, ttl, owner: lower.into(), rdata: rdata.into() });
        slot.store(Some(s.clone()));
        s
    }
}
