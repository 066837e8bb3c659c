//! The zone-file inventory vector, as Core's Atlas exchanges it: one bit per
//! inventory row (row `i`, 1-based, is bit `i - 1`), byte `b / 8`, bit
//! `7 - b % 8` (most significant first); set when the row's zone file is held.
//! A hash announced by several rows sets every one of their bits.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::hash::ValueHash;

/// Largest inventory slice one `get_zonefile_inventory` call returns (bytes).
pub const MAX_INV_SLICE: u64 = 524_288;

/// Whether bit `bit` (0-based) of `bits` is set; bits past the end are clear.
pub fn bit_is_set(bits: &[u8], bit: u64) -> bool {
    let Ok(byte) = usize::try_from(bit / 8) else { return false };
    bits.get(byte).is_some_and(|b| b & (0x80 >> (bit % 8)) != 0)
}

fn set_bit(bits: &mut Vec<u8>, bit: u64, on: bool) {
    let byte = (bit / 8) as usize;
    if bits.len() <= byte {
        bits.resize(byte + 1, 0);
    }
    let mask = 0x80u8 >> (bit % 8);
    if on {
        bits[byte] |= mask;
    } else {
        bits[byte] &= !mask;
    }
}

/// Core's slicing of an inventory: bytes `offset..offset + length`, cut at
/// the end (a short or empty slice tells the caller it reached the end).
pub fn slice(bits: &[u8], offset: u64, length: u64) -> &[u8] {
    let len = bits.len() as u64;
    if offset >= len {
        return &[];
    }
    let end = offset.saturating_add(length).min(len);
    &bits[offset as usize..end as usize]
}

/// This node's inventory: the rows the chain announced and which are held.
///
/// Each distinct hash gets an id; rows hold ids and link to the next row of
/// the same hash, so a name costs about 70 bytes here (one id, two rows)
/// instead of a hash per row plus a vector per hash.
#[derive(Debug, Default)]
pub struct Inventory {
    /// Hash id of each row (`rows[i]` is inventory row `i + 1`).
    rows: Vec<u32>,
    /// The next row (0-based) announcing the same hash, or [`NONE`].
    next: Vec<u32>,
    /// Announced hashes by id.
    hashes: Vec<ValueHash>,
    /// First and last row of each id.
    ends: Vec<(u32, u32)>,
    ids: HashMap<ValueHash, u32>,
    /// Held zone files, one bit per id.
    held_ids: Vec<u64>,
    /// Held zone files the chain has not announced (yet).
    held_unannounced: HashSet<ValueHash>,
    /// Presence bits, one per row.
    bits: Vec<u8>,
    /// Announced hashes not held, by their first row (kept as rows and files come).
    missing: BTreeMap<u32, ValueHash>,
}

/// End of a row chain.
const NONE: u32 = u32::MAX;

/// The rows (0-based) announcing one hash, in order.
#[derive(Debug, Clone, Copy)]
pub struct Rows<'a> {
    next: &'a [u32],
    cur: u32,
}

impl Rows<'_> {
    /// True if the hash has no row (was never announced).
    pub fn is_empty(&self) -> bool {
        self.cur == NONE
    }
}

impl Iterator for Rows<'_> {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        if self.cur == NONE {
            return None;
        }
        let r = self.cur;
        self.cur = self.next.get(r as usize).copied().unwrap_or(NONE);
        Some(r)
    }
}

impl Inventory {
    /// Rows in the inventory.
    pub fn len(&self) -> u64 {
        self.rows.len() as u64
    }

    /// True when the chain announced nothing yet.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Core's `zonefile_count` (getinfo): `MAX(inv_index) + 1`, one more than the rows.
    pub fn zonefile_count(&self) -> u64 {
        self.len() + 1
    }

    /// The presence bits.
    pub fn bits(&self) -> &[u8] {
        &self.bits
    }

    /// Hash of row `row` (0-based).
    pub fn hash_at(&self, row: u64) -> Option<ValueHash> {
        let id = *self.rows.get(usize::try_from(row).ok()?)?;
        self.hashes.get(id as usize).copied()
    }

    /// Rows (0-based) announcing `hash`.
    pub fn rows_of(&self, hash: &ValueHash) -> Rows<'_> {
        let cur = self.ids.get(hash).map_or(NONE, |&id| self.ends[id as usize].0);
        Rows { next: &self.next, cur }
    }

    /// True if the chain announced `hash`.
    pub fn is_announced(&self, hash: &ValueHash) -> bool {
        self.ids.contains_key(hash)
    }

    fn id_held(&self, id: u32) -> bool {
        self.held_ids.get(id as usize / 64).is_some_and(|w| w & (1 << (id % 64)) != 0)
    }

    fn set_id_held(&mut self, id: u32) {
        let w = id as usize / 64;
        if self.held_ids.len() <= w {
            self.held_ids.resize(w + 1, 0);
        }
        self.held_ids[w] |= 1 << (id % 64);
    }

    /// True if the zone file with `hash` is held.
    pub fn is_held(&self, hash: &ValueHash) -> bool {
        match self.ids.get(hash) {
            Some(&id) => self.id_held(id),
            None => self.held_unannounced.contains(hash),
        }
    }

    /// Distinct announced hashes held / not held.
    pub fn counts(&self) -> (u64, u64) {
        ((self.ids.len() - self.missing.len()) as u64, self.missing.len() as u64)
    }

    /// Appends the next row (its index must be `len() + 1`).
    pub fn push_row(&mut self, hash: ValueHash) {
        let row = self.rows.len() as u32;
        let id = match self.ids.get(&hash) {
            Some(&id) => {
                let last = self.ends[id as usize].1;
                self.next[last as usize] = row;
                self.ends[id as usize].1 = row;
                id
            }
            None => {
                let id = self.hashes.len() as u32;
                self.hashes.push(hash);
                self.ends.push((row, row));
                self.ids.insert(hash, id);
                if self.held_unannounced.remove(&hash) {
                    self.set_id_held(id);
                } else {
                    self.missing.insert(row, hash);
                }
                id
            }
        };
        self.rows.push(id);
        self.next.push(NONE);
        let held = self.id_held(id);
        set_bit(&mut self.bits, row as u64, held);
    }

    /// Records that the zone file `hash` is held; true if that is news.
    pub fn mark_held(&mut self, hash: ValueHash) -> bool {
        let Some(&id) = self.ids.get(&hash) else { return self.held_unannounced.insert(hash) };
        if self.id_held(id) {
            return false;
        }
        self.set_id_held(id);
        let first = self.ends[id as usize].0;
        self.missing.remove(&first);
        let mut row = first;
        while row != NONE {
            set_bit(&mut self.bits, row as u64, true);
            row = self.next[row as usize];
        }
        true
    }

    /// Announced hashes not held, each once, in the order of their first row.
    pub fn missing(&self) -> impl Iterator<Item = (u32, ValueHash)> + '_ {
        self.missing.iter().map(|(row, hash)| (*row, *hash))
    }

    /// The first row (0-based) whose zone file is not held, if any.
    pub fn first_missing_row(&self) -> Option<u64> {
        self.missing.first_key_value().map(|(row, _)| *row as u64)
    }
}

/// What this node knows of a peer's inventory: bits as the peer last sent them.
#[derive(Debug, Default, Clone)]
pub struct PeerInventory {
    bits: Vec<u8>,
}

impl PeerInventory {
    /// True if the peer said it holds row `row` (0-based).
    pub fn has_row(&self, row: u64) -> bool {
        bit_is_set(&self.bits, row)
    }

    /// True if the peer holds any of `rows`.
    pub fn has_any(&self, rows: impl IntoIterator<Item = u32>) -> bool {
        rows.into_iter().any(|r| self.has_row(r as u64))
    }

    /// Length of the known vector in bytes.
    pub fn byte_len(&self) -> u64 {
        self.bits.len() as u64
    }

    /// Replaces the vector from byte `offset` on with `fresh` (a refresh that
    /// started there); bytes before `offset` are kept (clear, if they were
    /// never known), so byte `offset` of the peer's vector stays at `offset`.
    pub fn replace_from(&mut self, offset: u64, fresh: &[u8]) {
        let offset = usize::try_from(offset).unwrap_or(usize::MAX);
        self.bits.resize(offset, 0);
        self.bits.extend_from_slice(fresh);
    }

    /// Marks rows as held (it took them in a push) or not (it did not send them when asked).
    pub fn set_rows(&mut self, rows: impl IntoIterator<Item = u32>, held: bool) {
        for r in rows {
            set_bit(&mut self.bits, r as u64, held);
        }
    }

    /// Rows the peer says it holds.
    pub fn count_held(&self) -> u64 {
        self.bits.iter().map(|b| b.count_ones() as u64).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(i: u8) -> ValueHash {
        ValueHash([i; 20])
    }

    #[test]
    fn bits_are_msb_first_per_row() {
        let mut inv = Inventory::default();
        for i in 0..10 {
            inv.push_row(h(i));
        }
        assert_eq!(inv.bits(), &[0, 0]);
        assert_eq!(inv.zonefile_count(), 11, "Core's off-by-one");
        inv.mark_held(h(0));
        inv.mark_held(h(9));
        assert_eq!(inv.bits(), &[0b1000_0000, 0b0100_0000]);
        assert!(bit_is_set(inv.bits(), 0) && bit_is_set(inv.bits(), 9) && !bit_is_set(inv.bits(), 8));
        assert!(!bit_is_set(inv.bits(), 1_000_000));
        assert_eq!(inv.counts(), (2, 8));
        assert_eq!(inv.first_missing_row(), Some(1));
    }

    #[test]
    fn a_hash_in_several_rows_sets_every_bit() {
        let mut inv = Inventory::default();
        inv.push_row(h(1));
        inv.push_row(h(2));
        inv.push_row(h(1)); // a renewal re-announcing the hash
        assert_eq!(inv.counts(), (0, 2));
        assert!(inv.mark_held(h(1)));
        assert!(!inv.mark_held(h(1)), "no news twice");
        assert_eq!(inv.bits(), &[0b1010_0000]);
        assert_eq!(inv.missing().collect::<Vec<_>>(), vec![(1, h(2))]);
        // Held before it is announced: the row comes in set.
        inv.mark_held(h(7));
        inv.push_row(h(7));
        assert_eq!(inv.bits(), &[0b1011_0000]);
        assert_eq!(inv.counts(), (2, 1));
    }

    #[test]
    fn slices_as_core_does() {
        let bits = [1u8, 2, 3, 4, 5];
        assert_eq!(slice(&bits, 0, 524_288), &bits);
        assert_eq!(slice(&bits, 3, 10), &[4, 5]);
        assert_eq!(slice(&bits, 5, 10), &[] as &[u8]);
        assert_eq!(slice(&bits, u64::MAX, u64::MAX), &[] as &[u8]);
        assert_eq!(slice(&bits, 1, 0), &[] as &[u8]);
    }

    #[test]
    fn peer_inventory_refreshes_from_an_offset() {
        let mut p = PeerInventory::default();
        p.replace_from(0, &[0xff, 0x00]);
        assert!(p.has_row(7) && !p.has_row(8));
        p.replace_from(1, &[0x80, 0x01]);
        assert_eq!(p.byte_len(), 3);
        assert!(p.has_row(0) && p.has_row(8) && p.has_row(23));
        p.set_rows([8], false);
        assert!(!p.has_any([8, 9]));
        p.replace_from(10, &[0xff]); // past the end: bytes 3..10 unknown (clear)
        assert_eq!(p.byte_len(), 11);
        assert!(p.has_row(80) && !p.has_row(79) && p.has_row(23));
        assert_eq!(p.count_held(), 8 + 1 + 8);
    }
}
