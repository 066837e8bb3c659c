//! Signing at answer time, once per RRset and snapshot: signatures are
//! cached by (serial, owner, type, TTL), so a query whose RRsets were signed
//! before costs a hash and a lookup. Entries live [`REFRESH`]; signatures are
//! valid [`VALID_DAYS`] days from an hour before they were made, so a cached
//! signature always has days left and renews itself.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::sign::{rrsig, Validity};
use super::ZoneKey;

/// How long a signature stays cached (then the RRset is signed again).
pub const REFRESH: Duration = Duration::from_secs(12 * 3600);
/// Days a signature is valid.
pub const VALID_DAYS: u32 = 4;
/// Cached signatures at most.
pub const CAPACITY: u64 = 200_000;

/// A cached signature and what it signs.
#[derive(Debug)]
pub struct Signed {
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
    cache: moka::sync::Cache<u64, Arc<Signed>>,
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
        let cache = moka::sync::Cache::builder().max_capacity(CAPACITY).time_to_live(REFRESH).build();
        Online { key, cache, hasher: Default::default() }
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
        let mut h = self.hasher.build_hasher();
        h.write_u32(serial);
        h.write_u16(rtype);
        h.write_u32(ttl);
        for b in owner {
            h.write_u8(b.to_ascii_lowercase());
        }
        let k = h.finish();
        if let Some(s) = self.cache.get(&k) {
            if s.serial == serial && s.rtype == rtype && s.ttl == ttl && s.owner.eq_ignore_ascii_case(owner) {
                return s;
            }
        }
        let lower = owner.to_ascii_lowercase();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let rdata = rrsig(&self.key, &lower, rtype, ttl, &rdatas(), signer, Validity::around(now, VALID_DAYS));
        let s = Arc::new(Signed { serial, rtype, ttl, owner: lower.into(), rdata: rdata.into() });
        self.cache.insert(k, s.clone());
        s
    }
}
