//! The snapshot's position-independent byte image: a header, the namespace
//! list, an open-addressing hash table of `u32` offsets and the entries. It is
//! what gets written to `dns.snapshot` and memory-mapped back at start.
//!
//! ```text
//! header (HEADER bytes, little-endian):
//!   magic[8] height u64 block_hash[32] zonefile_watermark i64 serial u32
//!   names u32 slots u32 namespaces_len u32 entries_len u64 crc32 u32 pad u32
//! namespaces: ([len u8][id])*
//! slots: u32 * slots   (0 = empty, else 1 + offset of an entry in `entries`)
//! entries: ([key_len u8][key][value_len u32][value])*
//! ```
//!
//! Invariants: `slots` is a power of two at least twice `names`; the CRC covers
//! every byte after the header. [`Image::from_bytes`] checks both and every
//! length before the image is used, and lookups bounds-check again, so a torn
//! or hostile file is rejected or answers nothing; it never panics.

use std::{fs::File, io, path::Path};

const MAGIC: &[u8; 8] = b"BNSSNAP\x01";
const HEADER: usize = 96;

/// What the image was built from: checked against the store at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImageMeta {
    /// Indexed height.
    pub height: u64,
    /// Block hash at that height (internal byte order).
    pub block_hash: [u8; 32],
    /// Newest `zonefiles` row the image has seen.
    pub zonefile_watermark: i64,
    /// SOA serial published with it.
    pub serial: u32,
}

/// Why an image file was not used.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Reading or writing the file failed.
    #[error("snapshot file: {0}")]
    Io(#[from] io::Error),
    /// The bytes are not a whole, intact image.
    #[error("snapshot file is damaged: {0}")]
    Damaged(&'static str),
}

enum Bytes {
    Owned(Vec<u8>),
    Mapped(memmap2::Mmap),
}

/// Entries in the image's framing, appended one by one (one allocation for all).
#[derive(Debug, Default)]
pub struct EntryBuf {
    bytes: Vec<u8>,
    count: usize,
}

impl EntryBuf {
    /// Appends `key` (at most 255 bytes) and its value.
    pub fn push(&mut self, key: &[u8], value: &[u8]) {
        let key = &key[..key.len().min(255)];
        self.bytes.push(key.len() as u8);
        self.bytes.extend_from_slice(key);
        self.bytes.extend_from_slice(&(value.len() as u32).to_le_bytes());
        self.bytes.extend_from_slice(value);
        self.count += 1;
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// (offset, key) of every entry.
    fn keys(&self) -> impl Iterator<Item = (usize, &[u8])> {
        let b = &self.bytes;
        let mut at = 0;
        std::iter::from_fn(move || {
            let klen = usize::from(*b.get(at)?);
            let key = b.get(at + 1..at + 1 + klen)?;
            let vlen = u32_at(b, at + 1 + klen)? as usize;
            let this = at;
            at += 5 + klen + vlen;
            Some((this, key))
        })
    }
}

/// An immutable image, owned or memory-mapped.
pub struct Image {
    bytes: Bytes,
    meta: ImageMeta,
    names: u32,
    slots: u32,
    ns: (usize, usize),
    table: usize,
    entries: (usize, usize),
}

impl std::fmt::Debug for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Image").field("meta", &self.meta).field("names", &self.names).finish_non_exhaustive()
    }
}

/// FNV-1a over the key bytes: fixed, so images are portable between runs.
pub(crate) fn key_hash(key: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

impl Image {
    /// Builds an image from `entries` (keys unique, lowercase "name.ns").
    pub fn build<'a>(
        meta: ImageMeta,
        namespaces: &[Box<[u8]>],
        entries: impl Iterator<Item = (&'a [u8], &'a [u8])>,
    ) -> Image {
        let mut buf = EntryBuf::default();
        for (k, v) in entries {
            buf.push(k, v);
        }
        Image::from_entries(meta, namespaces, buf)
    }

    /// Builds an image around `entries`, whose bytes already have the
    /// entries section's framing (so nothing is re-encoded).
    pub fn from_entries(meta: ImageMeta, namespaces: &[Box<[u8]>], entries: EntryBuf) -> Image {
        let names = entries.count;
        let slots = (names * 2).next_power_of_two().max(16);
        let mut ns_bytes = Vec::new();
        for id in namespaces {
            ns_bytes.push(id.len().min(255) as u8);
            ns_bytes.extend_from_slice(&id[..id.len().min(255)]);
        }
        let mut out = Vec::with_capacity(HEADER + ns_bytes.len() + slots * 4 + entries.bytes.len());
        out.resize(HEADER, 0);
        out.extend_from_slice(&ns_bytes);
        let table_at = out.len();
        out.resize(table_at + slots * 4, 0);
        let mask = slots - 1;
        for (offset, key) in entries.keys() {
            let mut i = (key_hash(key) as usize) & mask;
            while out[table_at + i * 4..table_at + i * 4 + 4] != [0; 4] {
                i = (i + 1) & mask;
            }
            let slot = u32::try_from(offset + 1).unwrap_or(u32::MAX);
            out[table_at + i * 4..table_at + i * 4 + 4].copy_from_slice(&slot.to_le_bytes());
        }
        out.extend_from_slice(&entries.bytes);
        drop(entries);
        let crc = crc32fast::hash(&out[HEADER..]);
        let mut h = Vec::with_capacity(HEADER);
        h.extend_from_slice(MAGIC);
        h.extend_from_slice(&meta.height.to_le_bytes());
        h.extend_from_slice(&meta.block_hash);
        h.extend_from_slice(&meta.zonefile_watermark.to_le_bytes());
        h.extend_from_slice(&meta.serial.to_le_bytes());
        h.extend_from_slice(&(names as u32).to_le_bytes());
        h.extend_from_slice(&(slots as u32).to_le_bytes());
        h.extend_from_slice(&(ns_bytes.len() as u32).to_le_bytes());
        h.extend_from_slice(&((out.len() - HEADER - ns_bytes.len() - slots * 4) as u64).to_le_bytes());
        h.extend_from_slice(&crc.to_le_bytes());
        h.resize(HEADER, 0);
        out[..HEADER].copy_from_slice(&h);
        Image::parse_trusted(out, meta, names as u32, slots as u32, ns_bytes.len())
    }

    fn parse_trusted(bytes: Vec<u8>, meta: ImageMeta, names: u32, slots: u32, ns_len: usize) -> Image {
        let table = HEADER + ns_len;
        let entries = table + slots as usize * 4;
        let end = bytes.len();
        Image { bytes: Bytes::Owned(bytes), meta, names, slots, ns: (HEADER, table), table, entries: (entries, end) }
    }

    /// An image with no names and no namespaces.
    pub fn empty() -> Image {
        Image::build(ImageMeta::default(), &[], std::iter::empty())
    }

    fn parse(bytes: Bytes) -> Result<Image, ImageError> {
        let b: &[u8] = match &bytes {
            Bytes::Owned(v) => v,
            Bytes::Mapped(m) => m,
        };
        let damaged = ImageError::Damaged;
        if b.len() < HEADER || &b[..8] != MAGIC {
            return Err(damaged("not a bns snapshot"));
        }
        let field = |at| u32_at(b, at).ok_or(damaged("short header"));
        let height = u64_at(b, 8).ok_or(damaged("short header"))?;
        let mut block_hash = [0u8; 32];
        block_hash.copy_from_slice(&b[16..48]);
        let zonefile_watermark = u64_at(b, 48).ok_or(damaged("short header"))? as i64;
        let serial = field(56)?;
        let names = field(60)?;
        let slots = field(64)?;
        let ns_len = field(68)? as usize;
        let entries_len = u64_at(b, 72).ok_or(damaged("short header"))? as usize;
        let crc = field(80)?;
        if !slots.is_power_of_two() || (slots as u64) < 2 * names as u64 {
            return Err(damaged("bad table size"));
        }
        let table = HEADER.checked_add(ns_len).ok_or(damaged("bad lengths"))?;
        let entries = table.checked_add(slots as usize * 4).ok_or(damaged("bad lengths"))?;
        if entries.checked_add(entries_len) != Some(b.len()) {
            return Err(damaged("torn file (length does not match its header)"));
        }
        if crc32fast::hash(&b[HEADER..]) != crc {
            return Err(damaged("checksum mismatch"));
        }
        let meta = ImageMeta { height, block_hash, zonefile_watermark, serial };
        Ok(Image { bytes, meta, names, slots, ns: (HEADER, table), table, entries: (entries, entries + entries_len) })
    }

    fn raw(&self) -> &[u8] {
        match &self.bytes {
            Bytes::Owned(v) => v,
            Bytes::Mapped(m) => m,
        }
    }

    /// What the image was built from.
    pub fn meta(&self) -> ImageMeta {
        self.meta
    }

    /// Number of names.
    pub fn len(&self) -> usize {
        self.names as usize
    }

    /// True if it holds no names.
    pub fn is_empty(&self) -> bool {
        self.names == 0
    }

    /// Bytes the image takes.
    pub fn size(&self) -> usize {
        self.raw().len()
    }

    /// The namespace ids it was built with.
    pub fn namespaces(&self) -> Vec<Box<[u8]>> {
        let b = self.raw().get(self.ns.0..self.ns.1).unwrap_or(&[]);
        let mut out = Vec::new();
        let mut i = 0;
        while let Some(&len) = b.get(i) {
            let Some(id) = b.get(i + 1..i + 1 + len as usize) else { break };
            out.push(id.into());
            i += 1 + len as usize;
        }
        out
    }

    /// The entry at `offset` of the entries section: (key, value).
    fn entry(&self, offset: usize) -> Option<(&[u8], &[u8])> {
        let b = self.raw().get(self.entries.0..self.entries.1)?;
        let klen = usize::from(*b.get(offset)?);
        let key = b.get(offset + 1..offset + 1 + klen)?;
        let vlen = u32_at(b, offset + 1 + klen)? as usize;
        let vstart = offset + 5 + klen;
        Some((key, b.get(vstart..vstart + vlen)?))
    }

    /// The value stored for `key`.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        let b = self.raw();
        let mask = self.slots as usize - 1;
        let mut i = (key_hash(key) as usize) & mask;
        for _ in 0..self.slots {
            let slot = u32_at(b, self.table + i * 4)? as usize;
            if slot == 0 {
                return None;
            }
            let (k, v) = self.entry(slot - 1)?;
            if k == key {
                return Some(v);
            }
            i = (i + 1) & mask;
        }
        None
    }

    /// Every (key, value), in storage order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        let mut at = 0;
        let len = self.entries.1 - self.entries.0;
        std::iter::from_fn(move || {
            if at >= len {
                return None;
            }
            let (k, v) = self.entry(at)?;
            at += 5 + k.len() + v.len();
            Some((k, v))
        })
    }

    /// Writes the image to `path` atomically: a temporary file beside it,
    /// fsynced, then renamed over it (and the directory fsynced), so a crash
    /// leaves either the old file or the new one, never a mix.
    pub fn write_to(&self, path: &Path) -> Result<(), ImageError> {
        Ok(crate::fsutil::write_durable(path, self.raw(), None)?)
    }

    /// Maps the image file at `path` and checks it whole (length, checksum).
    pub fn open(path: &Path) -> Result<Image, ImageError> {
        let f = File::open(path)?;
        // SAFETY: the file is written only by `write_to` (a new inode renamed
        // into place), never modified in place, so the mapping does not change
        // under us; its contents are checked before use and bounds-checked on
        // every read.
        let map = unsafe { memmap2::Mmap::map(&f)? };
        Image::parse(Bytes::Mapped(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn sample() -> Image {
        let keys: Vec<(Vec<u8>, Vec<u8>)> =
            (0..1000).map(|i| (format!("n{i}.id").into_bytes(), vec![i as u8; i % 7])).collect();
        let meta = ImageMeta { height: 42, block_hash: [7; 32], zonefile_watermark: 9, serial: 43 };
        Image::build(meta, &[b"id".to_vec().into()], keys.iter().map(|(k, v)| (&k[..], &v[..])))
    }

    #[test]
    fn lookups_and_round_trip_through_a_file() {
        let img = sample();
        assert_eq!(img.len(), 1000);
        assert_eq!(img.get(b"n5.id"), Some(&[5u8; 5][..]));
        assert_eq!(img.get(b"n6.id").map(<[u8]>::len), Some(6));
        assert_eq!(img.get(b"n1000.id"), None);
        assert_eq!(img.iter().count(), 1000);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dns.snapshot");
        img.write_to(&path).unwrap();
        let back = Image::open(&path).unwrap();
        assert_eq!(back.meta(), img.meta());
        assert_eq!(back.namespaces(), vec![Box::from(&b"id"[..])]);
        assert_eq!(back.get(b"n999.id"), img.get(b"n999.id"));
    }

    #[test]
    fn torn_or_flipped_files_are_rejected() {
        let img = sample();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dns.snapshot");
        img.write_to(&path).unwrap();
        let whole = fs::read(&path).unwrap();
        for cut in [0, 10, HEADER, whole.len() / 2, whole.len() - 1] {
            fs::write(&path, &whole[..cut]).unwrap();
            assert!(Image::open(&path).is_err(), "cut at {cut}");
        }
        let mut flipped = whole.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 1;
        fs::write(&path, &flipped).unwrap();
        assert!(matches!(Image::open(&path), Err(ImageError::Damaged(_))));
    }
}
