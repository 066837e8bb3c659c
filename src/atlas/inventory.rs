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
#[derive(Debug, Default)]
pub struct Inventory {
    /// `rows[i]` = hash of inventory row `i + 1`.
    rows: Vec<ValueHash>,
    /// Presence bits, one per row.
    bits: Vec<u8>,
    /// Rows (0-based) of each announced hash.
    rows_of: HashMap<ValueHash, Vec<u32>>,
    /// Every held zone file's hash, announced in a row or not (yet).
    held: HashSet<ValueHash>,
    /// Announced hashes not held, by their first row (kept as rows and files come).
    missing: BTreeMap<u32, ValueHash>,
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
        self.rows.get(usize::try_from(row).ok()?).copied()
    }

    /// Rows (0-based) announcing `hash`.
    pub fn rows_of(&self, hash: &ValueHash) -> &[u32] {
        self.rows_of.get(hash).map(|v| v.as_slice()).unwrap_or(&[])
    }

    /// True if the chain announced `hash`.
    pub fn is_announced(&self, hash: &ValueHash) -> bool {
        self.rows_of.contains_key(hash)
    }

    /// True if the zone file with `hash` is held.
    pub fn is_held(&self, hash: &ValueHash) -> bool {
        self.held.contains(hash)
    }

    /// Distinct announced hashes held / not held.
    pub fn counts(&self) -> (u64, u64) {
        ((self.rows_of.len() - self.missing.len()) as u64, self.missing.len() as u64)
    }

    /// Appends the next row (its index must be `len() + 1`).
    pub fn push_row(&mut self, hash: ValueHash) {
        let row = self.rows.len() as u32;
        self.rows.push(hash);
        let rows = self.rows_of.entry(hash).or_default();
        if rows.is_empty() && !self.held.contains(&hash) {
            self.missing.insert(row, hash);
        }
        rows.push(row);
        let held = self.held.contains(&hash);
        set_bit(&mut self.bits, row as u64, held);
    }

    /// Records that the zone file `hash` is held; true if that is news.
    pub fn mark_held(&mut self, hash: ValueHash) -> bool {
        if !self.held.insert(hash) {
            return false;
        }
        if let Some(rows) = self.rows_of.get(&hash) {
            self.missing.remove(&rows[0]);
            for &row in rows {
                set_bit(&mut self.bits, row as u64, true);
            }
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
    pub fn has_any(&self, rows: &[u32]) -> bool {
        rows.iter().any(|r| self.has_row(*r as u64))
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
    pub fn set_rows(&mut self, rows: &[u32], held: bool) {
        for &r in rows {
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
        p.set_rows(&[8], false);
        assert!(!p.has_any(&[8, 9]));
        p.replace_from(10, &[0xff]); // past the end: bytes 3..10 unknown (clear)
        assert_eq!(p.byte_len(), 11);
        assert!(p.has_row(80) && !p.has_row(79) && p.has_row(23));
        assert_eq!(p.count_held(), 8 + 1 + 8);
    }
}
