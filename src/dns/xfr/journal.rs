//! The IXFR journal: one step per published serial, the RRs it deleted and
//! added per namespace (RFC 1995), kept in the snapshot it leads to.
//!
//! A step is the difference of the changed entries' contributions
//! ([`super::content`]) between two snapshots, so a reorg is simply the step
//! that undoes what the orphaned blocks did. The journal holds at most
//! [`MAX_STEPS`] steps and [`MAX_BYTES`] of RRs; a client whose serial is
//! older than its first step gets the whole zone (an AXFR-style answer).

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use super::super::snapshot::{entry_expiry, Snapshot};
use super::content::{contribution, key_namespace, parent_key, parent_live, WireRr};

/// Steps kept (a week of blocks).
pub const MAX_STEPS: usize = 1024;
/// RR bytes kept in all steps.
pub const MAX_BYTES: usize = 64 << 20;
/// Changed entries beyond which a step is not recorded (the journal starts over).
pub const MAX_STEP_ENTRIES: usize = 200_000;

/// What one serial change did to one namespace.
#[derive(Debug, Default)]
pub struct NsDiff {
    /// Namespace id.
    pub ns: Box<[u8]>,
    /// RRs removed (wire form, absolute owners).
    pub deleted: Vec<WireRr>,
    /// RRs added.
    pub added: Vec<WireRr>,
}

/// One serial change.
#[derive(Debug, Default)]
pub struct Step {
    /// Serial before.
    pub from: u32,
    /// Serial after.
    pub to: u32,
    /// Namespaces that changed (others changed only their SOA serial).
    pub diffs: Vec<NsDiff>,
}

impl Step {
    fn bytes(&self) -> usize {
        self.diffs.iter().flat_map(|d| d.deleted.iter().chain(&d.added)).map(|r| r.len() + 16).sum::<usize>() + 64
    }

    /// The diff of namespace `ns`, if it changed.
    pub fn diff(&self, ns: &[u8]) -> Option<&NsDiff> {
        self.diffs.iter().find(|d| &d.ns[..] == ns)
    }
}

/// Steps in serial order; the last one ends at its snapshot's serial.
#[derive(Debug, Default, Clone)]
pub struct Journal {
    steps: VecDeque<Arc<Step>>,
    bytes: usize,
}

impl Journal {
    /// The steps from serial `from` to the last, if the journal holds that
    /// whole path.
    pub fn path(&self, from: u32) -> Option<Vec<Arc<Step>>> {
        let first = self.steps.iter().position(|s| s.from == from)?;
        let path: Vec<Arc<Step>> = self.steps.iter().skip(first).cloned().collect();
        path.windows(2).all(|w| w[0].to == w[1].from).then_some(path)
    }

    /// Number of steps held.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// True if no step is held.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The oldest serial a client may hold and still get an incremental answer.
    pub fn oldest(&self) -> Option<u32> {
        self.steps.front().map(|s| s.from)
    }

    fn push(&self, step: Step) -> Journal {
        let mut next = self.clone();
        next.bytes += step.bytes();
        next.steps.push_back(Arc::new(step));
        while next.steps.len() > MAX_STEPS || (next.bytes > MAX_BYTES && next.steps.len() > 1) {
            if let Some(old) = next.steps.pop_front() {
                next.bytes -= old.bytes();
            }
        }
        if next.bytes > MAX_BYTES {
            return Journal::default();
        }
        next
    }
}

/// `new` with `old`'s journal and one step from `old` to `new` appended.
/// `changed`: the entry keys that may differ between the two (`None`:
/// compare every entry, after a rebuild). Names whose expiry lies between
/// the two heights, parents of changed subdomains and subdomains of parents
/// that started or stopped answering are added here.
pub fn record_step<'a>(old: &Snapshot, new: Snapshot, changed: Option<impl Iterator<Item = &'a [u8]>>) -> Snapshot {
    if old.serial() == new.serial() {
        return new.with_journal(old.journal().clone());
    }
    if old.namespace_ids().is_empty() && old.height() == 0 {
        // The first view of a start: nothing a secondary could hold.
        return new.with_journal(Arc::default());
    }
    let mut keys: HashSet<Box<[u8]>> = match changed {
        Some(k) => k.map(Box::from).collect(),
        None => differing(old, &new),
    };
    let (lo, hi) = (old.height().min(new.height()), old.height().max(new.height()));
    if lo != hi {
        for (k, v) in new.entries() {
            if entry_expiry(v).is_some_and(|e| u64::from(e) > lo && u64::from(e) <= hi) {
                keys.insert(k.into());
            }
        }
    }
    if keys.len() > MAX_STEP_ENTRIES {
        return new.with_journal(Arc::default());
    }
    let parents: Vec<Box<[u8]>> = keys.iter().filter_map(|k| parent_key(k)).map(Box::from).collect();
    let flipped: HashSet<Box<[u8]>> = keys
        .iter()
        .filter(|k| parent_key(k).is_none() && parent_live(old.name(k)) != parent_live(new.name(k)))
        .cloned()
        .collect();
    keys.extend(parents);
    if !flipped.is_empty() {
        for snap in [old, &new] {
            for (k, _) in snap.entries() {
                if parent_key(k).is_some_and(|p| flipped.contains(p)) {
                    keys.insert(k.into());
                }
            }
        }
    }
    let mut sorted: Vec<Box<[u8]>> = keys.into_iter().collect();
    sorted.sort_unstable_by(|a, b| key_namespace(a).cmp(key_namespace(b)).then(a.cmp(b)));
    let mut step = Step { from: old.serial(), to: new.serial(), diffs: Vec::new() };
    let (mut before, mut after) = (Vec::new(), Vec::new());
    for key in &sorted {
        before.clear();
        after.clear();
        contribution(old, key, &mut before);
        contribution(&new, key, &mut after);
        if before == after {
            continue;
        }
        let ns = key_namespace(key);
        if step.diffs.last().is_none_or(|d| &d.ns[..] != ns) {
            step.diffs.push(NsDiff { ns: ns.into(), ..NsDiff::default() });
        }
        let d = step.diffs.last_mut().expect("pushed above");
        d.deleted.extend(before.iter().filter(|r| after.binary_search(r).is_err()).cloned());
        d.added.extend(after.iter().filter(|r| before.binary_search(r).is_err()).cloned());
    }
    let journal = old.journal().push(step);
    new.with_journal(Arc::new(journal))
}

/// Keys whose encoded entries differ between `a` and `b` (present in one only, or unequal).
fn differing(a: &Snapshot, b: &Snapshot) -> HashSet<Box<[u8]>> {
    let mut out = HashSet::new();
    for (k, v) in b.entries() {
        if a.raw(k) != Some(v) {
            out.insert(k.into());
        }
    }
    for (k, _) in a.entries() {
        if b.raw(k).is_none() {
            out.insert(k.into());
        }
    }
    out
}
