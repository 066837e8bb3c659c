//! The answer cache (moka), bounded in bytes.
//!
//! * Forwarded answers live for their TTL: the smallest TTL in the answer
//!   section, or for negative answers (NXDOMAIN, NODATA) `min(SOA TTL, SOA
//!   MINIMUM)` (RFC 2308); SERVFAIL and answers without a TTL are not kept.
//!   A hit returns the records with their TTLs reduced by the time spent in
//!   the cache.
//! * BNS answers are not cached: the snapshot answers them faster than a
//!   cache lookup would.
//!
//! Each entry weighs about its wire size; moka evicts (approximately LRU/LFU)
//! past the configured byte bound.

use std::{
    sync::{atomic::Ordering, Arc},
    time::{Duration, Instant},
};

use hickory_proto::{
    op::ResponseCode,
    rr::{Name, RData, Record},
    serialize::binary::BinEncodable,
};
use moka::{sync::Cache, Expiry};

use super::resolve::Answer;
use super::DnsStats;

/// Longest a forwarded answer stays cached, whatever its TTL.
pub const MAX_TTL: u32 = 86_400;

/// Which data an entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Origin {
    /// An upstream resolver (with the DO bit as asked).
    Upstream { dnssec_ok: bool },
}

/// Cache key: lowercase question name, type, origin.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    name: Box<str>,
    qtype: u16,
    origin: Origin,
}

impl Key {
    pub(crate) fn new(qname: &Name, qtype: u16, origin: Origin) -> Key {
        Key { name: qname.to_lowercase().to_ascii().into_boxed_str(), qtype, origin }
    }
}

struct Entry {
    answer: Answer,
    stored: Instant,
    ttl: Duration,
    /// Reduce TTLs by the age on a hit (forwarded answers).
    age_ttls: bool,
    weight: u32,
}

struct PerEntry;

impl Expiry<Key, Arc<Entry>> for PerEntry {
    fn expire_after_create(&self, _key: &Key, value: &Arc<Entry>, _created_at: Instant) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// Answers by question, bounded in bytes.
pub(crate) struct AnswerCache {
    inner: Option<Cache<Key, Arc<Entry>>>,
    stats: Arc<DnsStats>,
}

impl AnswerCache {
    /// A cache of at most about `bytes` bytes (0: no caching).
    pub(crate) fn new(bytes: u64, stats: Arc<DnsStats>) -> AnswerCache {
        let inner = (bytes > 0).then(|| {
            Cache::builder()
                .max_capacity(bytes)
                .weigher(|_k: &Key, v: &Arc<Entry>| v.weight)
                .expire_after(PerEntry)
                .build()
        });
        AnswerCache { inner, stats }
    }

    /// The cached answer for `key`, with owner names at the question rewritten
    /// to `qname`'s case; counts a hit or a miss.
    pub(crate) fn get(&self, key: &Key, qname: &Name) -> Option<Answer> {
        let inner = self.inner.as_ref()?;
        let Some(entry) = inner.get(key) else {
            self.stats.cache_misses.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        let age = entry.stored.elapsed();
        if age >= entry.ttl {
            self.stats.cache_misses.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
        let mut answer = entry.answer.clone();
        let secs = u32::try_from(age.as_secs()).unwrap_or(u32::MAX);
        for r in answer.answers.iter_mut().chain(answer.authorities.iter_mut()).chain(answer.additionals.iter_mut()) {
            if entry.age_ttls {
                r.ttl = r.ttl.saturating_sub(secs);
            }
            if r.name == *qname {
                r.name = qname.clone();
            }
        }
        Some(answer)
    }

    /// Keeps a forwarded answer for its TTL (nothing if it has none).
    pub(crate) fn insert_forwarded(&self, key: Key, answer: &Answer) {
        if let Some(ttl) = forwarded_ttl(answer) {
            if ttl > 0 {
                self.insert(key, answer, Duration::from_secs(u64::from(ttl.min(MAX_TTL))), true);
            }
        }
    }

    fn insert(&self, key: Key, answer: &Answer, ttl: Duration, age_ttls: bool) {
        let Some(inner) = &self.inner else { return };
        let weight = weight(&key, answer);
        let entry = Entry { answer: answer.clone(), stored: Instant::now(), ttl, age_ttls, weight };
        inner.insert(key, Arc::new(entry));
    }

    /// Entries and weighted size (approximate: moka applies writes lazily).
    #[cfg(test)]
    pub(crate) fn usage(&self) -> (u64, u64) {
        match &self.inner {
            Some(c) => {
                c.run_pending_tasks();
                (c.entry_count(), c.weighted_size())
            }
            None => (0, 0),
        }
    }
}

/// Approximate wire size of an entry, plus bookkeeping overhead.
fn weight(key: &Key, answer: &Answer) -> u32 {
    let records: usize = answer
        .answers
        .iter()
        .chain(&answer.authorities)
        .chain(&answer.additionals)
        .map(|r| r.to_bytes().map(|b| b.len()).unwrap_or(512) + std::mem::size_of::<Record>())
        .sum();
    let ede = answer.ede.as_ref().map_or(0, |e| e.text.len() + 32);
    u32::try_from(128 + key.name.len() + records + ede).unwrap_or(u32::MAX)
}

/// How long a forwarded answer may be cached (RFC 2308 for negative answers);
/// `None` for answers that must not be (SERVFAIL, REFUSED, no SOA).
pub(crate) fn forwarded_ttl(answer: &Answer) -> Option<u32> {
    let negative = matches!(answer.rcode, ResponseCode::NXDomain)
        || (answer.rcode == ResponseCode::NoError && answer.answers.is_empty());
    if negative {
        return answer.authorities.iter().find_map(|r| match &r.data {
            RData::SOA(soa) => Some(r.ttl.min(soa.minimum)),
            _ => None,
        });
    }
    if answer.rcode != ResponseCode::NoError {
        return None;
    }
    answer.answers.iter().map(|r| r.ttl).min()
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use hickory_proto::rr::rdata::SOA;

    use super::*;

    fn a(name: &str, ttl: u32) -> Record {
        Record::from_rdata(Name::from_ascii(name).unwrap(), ttl, RData::A(Ipv4Addr::LOCALHOST.into()))
    }

    #[test]
    fn ttls() {
        let mut ans = Answer::new(ResponseCode::NoError, false);
        ans.answers = vec![a("x.example.", 300), a("x.example.", 60)];
        assert_eq!(forwarded_ttl(&ans), Some(60));
        let soa = SOA::new(Name::root(), Name::root(), 1, 1, 1, 1, 30);
        let mut neg = Answer::new(ResponseCode::NXDomain, false);
        neg.authorities = vec![Record::from_rdata(Name::from_ascii("example.").unwrap(), 900, RData::SOA(soa))];
        assert_eq!(forwarded_ttl(&neg), Some(30));
        assert_eq!(forwarded_ttl(&Answer::new(ResponseCode::NXDomain, false)), None);
        assert_eq!(forwarded_ttl(&Answer::new(ResponseCode::ServFail, false)), None);
    }

    #[test]
    fn hit_keeps_case_and_ages_ttls() {
        let stats = Arc::new(DnsStats::default());
        let cache = AnswerCache::new(1 << 20, stats.clone());
        let lower = Name::from_ascii("x.example.").unwrap();
        let upper = Name::from_ascii("X.Example.").unwrap();
        let key = Key::new(&upper, 1, Origin::Upstream { dnssec_ok: false });
        assert!(cache.get(&key, &upper).is_none());
        let mut ans = Answer::new(ResponseCode::NoError, false);
        ans.answers = vec![a("x.example.", 300)];
        cache.insert_forwarded(Key::new(&lower, 1, Origin::Upstream { dnssec_ok: false }), &ans);
        let hit = cache.get(&key, &upper).expect("hit");
        assert!(hit.answers[0].name.eq_case(&upper));
        assert!(hit.answers[0].ttl <= 300);
        assert_eq!(stats.cache_stats(), (1, 1));
        // The DO bit is part of the key.
        assert!(cache.get(&Key::new(&lower, 1, Origin::Upstream { dnssec_ok: true }), &lower).is_none());
    }

    #[test]
    fn bounded_in_bytes() {
        let cache = AnswerCache::new(64 * 1024, Arc::default());
        let mut ans = Answer::new(ResponseCode::NoError, false);
        ans.answers = vec![a("x.example.", 300)];
        for i in 0..5_000 {
            let n = Name::from_ascii(format!("n{i}.example.")).unwrap();
            cache.insert_forwarded(Key::new(&n, 1, Origin::Upstream { dnssec_ok: false }), &ans);
        }
        let (_, size) = cache.usage();
        assert!(size <= 64 * 1024, "{size}");
    }
}
