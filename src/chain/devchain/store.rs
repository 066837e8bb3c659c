//! The dev chain's block file: an append-only sequence of records
//! `[u32 little-endian length][consensus-encoded block]`.
//!
//! Invariants: every record but the last was fsynced before the next one was
//! written, so only the final record can be torn by a crash. A record that is
//! incomplete or undecodable *and reaches the end of the file* is a torn tail
//! and is truncated away; an undecodable record followed by more data is
//! corruption and is reported, never silently dropped.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;

use bitcoin::consensus::deserialize;
use bitcoin::Block;

use crate::chain::ChainError;

/// Bytes of the length prefix in front of each record.
pub(super) const PREFIX_LEN: u64 = 4;

/// Largest record accepted (a block's serialized size can't exceed 4 MB).
pub(super) const MAX_RECORD_LEN: u32 = 4_000_000;

/// Where a record lives in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Record {
    /// Offset of the length prefix.
    pub offset: u64,
    /// Length of the encoded block (without the prefix).
    pub len: u32,
}

impl Record {
    /// Offset of the encoded block.
    pub fn body(&self) -> u64 {
        self.offset + PREFIX_LEN
    }
    /// Offset just past this record.
    pub fn end(&self) -> u64 {
        self.body() + u64::from(self.len)
    }
}

fn io_err(path: &Path, what: &str, e: std::io::Error) -> ChainError {
    ChainError::transient(format!("dev chain file {}: {what}: {e}", path.display()))
}

/// Reads every record in order, handing each decoded block to `accept`.
///
/// An error from `accept` aborts the scan (the block decoded fine but is not
/// valid here, which no crash can cause). A torn tail is truncated (and the
/// truncation fsynced) with a warning. Returns the length of the valid file.
pub(super) fn scan(
    file: &mut File,
    path: &Path,
    truncate_torn: bool,
    mut accept: impl FnMut(Record, Block) -> Result<(), ChainError>,
) -> Result<u64, ChainError> {
    let file_len = file.metadata().map_err(|e| io_err(path, "stat", e))?.len();
    file.seek(SeekFrom::Start(0)).map_err(|e| io_err(path, "seek", e))?;
    let mut reader = BufReader::new(&*file);
    let mut pos = 0u64;
    let mut count = 0u64;
    let torn: Option<String> = loop {
        let remaining = file_len - pos;
        if remaining == 0 {
            break None;
        }
        if remaining < PREFIX_LEN {
            break Some(format!("{remaining}-byte partial length prefix"));
        }
        let mut prefix = [0u8; 4];
        reader.read_exact(&mut prefix).map_err(|e| io_err(path, "read", e))?;
        let len = u32::from_le_bytes(prefix);
        let record = Record { offset: pos, len };
        if u64::from(len) > remaining - PREFIX_LEN {
            break Some(format!("record claims {len} bytes but only {} remain", remaining - PREFIX_LEN));
        }
        let at_eof = record.end() == file_len;
        let bad = |reason: String| {
            ChainError::persistent(format!(
                "dev chain file {} is corrupt: record {count} at offset {pos}: {reason}; \
                 the file holds more data after it, so it was not truncated automatically \
                 (truncate the file to {pos} bytes to keep the first {count} blocks)",
                path.display()
            ))
        };
        if len == 0 || len > MAX_RECORD_LEN {
            let reason = format!("implausible record length {len}");
            if at_eof {
                break Some(reason);
            }
            return Err(bad(reason));
        }
        let mut body = vec![0u8; len as usize];
        reader.read_exact(&mut body).map_err(|e| io_err(path, "read", e))?;
        match deserialize::<Block>(&body) {
            Ok(block) => accept(record, block)?,
            Err(e) if at_eof => break Some(format!("undecodable block: {e}")),
            Err(e) => return Err(bad(format!("undecodable block: {e}"))),
        }
        pos = record.end();
        count += 1;
    };
    drop(reader);
    if let (Some(reason), false) = (&torn, truncate_torn) {
        // Read-only: the writer may be appending this record right now.
        tracing::debug!(path = %path.display(), kept_blocks = count, "dev chain file ends in a partial record ({reason}); ignoring it");
        return Ok(pos);
    }
    if let Some(reason) = torn {
        tracing::warn!(
            path = %path.display(),
            kept_blocks = count,
            dropped_bytes = file_len - pos,
            "dev chain file has a torn last record ({reason}) at offset {pos}; truncating it away"
        );
        file.set_len(pos).map_err(|e| io_err(path, "truncate torn tail", e))?;
        file.sync_all().map_err(|e| io_err(path, "fsync", e))?;
    }
    Ok(pos)
}

/// Appends one record at `file_len` (the current valid length) and fsyncs.
/// On failure the file is cut back to `file_len` so no partial record stays.
pub(super) fn append(file: &mut File, path: &Path, file_len: u64, block_bytes: &[u8]) -> Result<Record, ChainError> {
    let len = u32::try_from(block_bytes.len()).ok().filter(|l| *l <= MAX_RECORD_LEN).ok_or_else(|| {
        ChainError::persistent(format!(
            "block of {} bytes exceeds the {MAX_RECORD_LEN}-byte record limit",
            block_bytes.len()
        ))
    })?;
    let mut buf = Vec::with_capacity(block_bytes.len() + 4);
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(block_bytes);
    let result = file.write_all(&buf).and_then(|()| file.sync_data());
    if let Err(e) = result {
        // Best effort: drop whatever part of the record made it to the file.
        let _ = file.set_len(file_len).and_then(|()| file.sync_data());
        return Err(io_err(path, "append block", e));
    }
    Ok(Record { offset: file_len, len })
}

/// Cuts the file to `len` bytes and fsyncs.
pub(super) fn truncate(file: &File, path: &Path, len: u64) -> Result<(), ChainError> {
    file.set_len(len).map_err(|e| io_err(path, "truncate", e))?;
    file.sync_all().map_err(|e| io_err(path, "fsync", e))
}

/// Reads `len` bytes at `offset` without moving a shared cursor (safe under a
/// read lock).
pub(super) fn read_at(file: &File, path: &Path, offset: u64, len: u32) -> Result<Vec<u8>, ChainError> {
    let mut buf = vec![0u8; len as usize];
    read_exact_at(file, &mut buf, offset).map_err(|e| io_err(path, "read", e))?;
    Ok(buf)
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
