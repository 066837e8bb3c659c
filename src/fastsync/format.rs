//! The snapshot file: writer and (bounded, checksummed) reader.

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use anyhow::Context as _;
use rusqlite::types::Value;
use sha2::{Digest, Sha256};

const MAGIC: &[u8] = b"BNS-SNAPSHOT 1\n";
/// Largest header, column value and column count a reader accepts.
const MAX_HEADER: u64 = 1 << 20;
const MAX_VALUE: u64 = 1 << 20;
const MAX_COLUMNS: u64 = 16;

/// What a snapshot says about itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Header {
    /// Format version (1).
    pub version: u32,
    /// The state is as it stood after this block.
    pub height: u64,
    /// Its Bitcoin block hash.
    pub block_hash: String,
    /// Its BNS consensus hash (as the exporter states it; the importer
    /// trusts only the one it is given).
    pub consensus_hash: String,
    /// The tables, in the order rows refer to them.
    pub tables: Vec<String>,
    /// Store meta carried over (chain parameters, network).
    pub meta: Vec<(String, String)>,
    /// The exporter.
    pub created_by: String,
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Writes a snapshot, hashing as it goes.
pub struct Writer {
    out: BufWriter<std::fs::File>,
    hash: Sha256,
    buf: Vec<u8>,
    bytes: u64,
}

impl Writer {
    pub fn create(path: &Path, header: &Header) -> anyhow::Result<Writer> {
        let file = std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        let mut w =
            Writer { out: BufWriter::with_capacity(1 << 20, file), hash: Sha256::new(), buf: Vec::new(), bytes: 0 };
        let json = serde_json::to_vec(header)?;
        w.buf.extend_from_slice(MAGIC);
        put_varint(&mut w.buf, json.len() as u64);
        w.buf.extend_from_slice(&json);
        w.flush_buf()?;
        Ok(w)
    }

    fn flush_buf(&mut self) -> std::io::Result<()> {
        self.hash.update(&self.buf);
        self.out.write_all(&self.buf)?;
        self.bytes += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// One row of table `table`.
    pub fn row(&mut self, table: usize, vals: &[Value]) -> std::io::Result<()> {
        self.buf.push(table as u8 + 1);
        put_varint(&mut self.buf, vals.len() as u64);
        for v in vals {
            match v {
                Value::Null => self.buf.push(0),
                Value::Integer(i) => {
                    self.buf.push(1);
                    put_varint(&mut self.buf, ((*i << 1) ^ (*i >> 63)) as u64);
                }
                Value::Real(f) => {
                    self.buf.push(2);
                    self.buf.extend_from_slice(&f.to_le_bytes());
                }
                Value::Text(s) => {
                    self.buf.push(3);
                    put_varint(&mut self.buf, s.len() as u64);
                    self.buf.extend_from_slice(s.as_bytes());
                }
                Value::Blob(b) => {
                    self.buf.push(4);
                    put_varint(&mut self.buf, b.len() as u64);
                    self.buf.extend_from_slice(b);
                }
            }
        }
        self.flush_buf()
    }

    /// Ends the file with its checksum and fsyncs it; returns its size.
    pub fn finish(mut self) -> anyhow::Result<u64> {
        self.buf.push(0);
        self.flush_buf()?;
        let digest = self.hash.clone().finalize();
        self.out.write_all(&digest)?;
        let file = self.out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(self.bytes + 32)
    }
}

/// Reads a snapshot, checking sizes as it goes and the checksum at the end.
pub struct Reader {
    input: BufReader<std::fs::File>,
    hash: Sha256,
    header: Header,
    done: bool,
}

impl Reader {
    pub fn open(path: &Path) -> anyhow::Result<Reader> {
        let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let mut r = Reader {
            input: BufReader::with_capacity(1 << 20, file),
            hash: Sha256::new(),
            header: empty(),
            done: false,
        };
        let mut magic = [0u8; MAGIC.len()];
        r.read_exact(&mut magic).context("not a bns snapshot (too short)")?;
        if magic != MAGIC {
            anyhow::bail!("not a bns snapshot (it does not start with {:?})", String::from_utf8_lossy(MAGIC).trim());
        }
        let len = r.varint()?;
        if len > MAX_HEADER {
            anyhow::bail!("snapshot header of {len} bytes is over the {MAX_HEADER}-byte limit");
        }
        let json = r.bytes(len)?;
        r.header = serde_json::from_slice(&json).context("the snapshot header does not parse")?;
        if r.header.version != 1 {
            anyhow::bail!("snapshot format version {} is not one this bns reads (1)", r.header.version);
        }
        Ok(r)
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> anyhow::Result<()> {
        self.input.read_exact(buf).context("the snapshot is truncated")?;
        self.hash.update(&buf[..]);
        Ok(())
    }

    fn byte(&mut self) -> anyhow::Result<u8> {
        let mut b = [0u8];
        self.read_exact(&mut b)?;
        Ok(b[0])
    }

    fn varint(&mut self) -> anyhow::Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        anyhow::bail!("a malformed number in the snapshot")
    }

    fn bytes(&mut self, n: u64) -> anyhow::Result<Vec<u8>> {
        let mut v = vec![0u8; n as usize];
        self.read_exact(&mut v)?;
        Ok(v)
    }

    fn sized(&mut self) -> anyhow::Result<Vec<u8>> {
        let n = self.varint()?;
        if n > MAX_VALUE {
            anyhow::bail!("a value of {n} bytes in the snapshot is over the {MAX_VALUE}-byte limit");
        }
        self.bytes(n)
    }

    /// The next row (table index, values), or `None` at the end once the
    /// checksum matched.
    pub fn next_row(&mut self) -> anyhow::Result<Option<(usize, Vec<Value>)>> {
        if self.done {
            return Ok(None);
        }
        let tag = self.byte()?;
        if tag == 0 {
            let want = self.hash.clone().finalize();
            let mut got = [0u8; 32];
            self.input.read_exact(&mut got).context("the snapshot is truncated (no checksum)")?;
            if got[..] != want[..] {
                anyhow::bail!("the snapshot's checksum does not match its contents: the file is damaged");
            }
            let mut rest = [0u8; 1];
            if self.input.read(&mut rest)? != 0 {
                anyhow::bail!("the snapshot has bytes after its checksum");
            }
            self.done = true;
            return Ok(None);
        }
        let table = usize::from(tag - 1);
        if table >= self.header.tables.len() {
            anyhow::bail!("a row of table {table}, which the snapshot does not have");
        }
        let n = self.varint()?;
        if n > MAX_COLUMNS {
            anyhow::bail!("a row of {n} columns");
        }
        let mut vals = Vec::with_capacity(n as usize);
        for _ in 0..n {
            vals.push(match self.byte()? {
                0 => Value::Null,
                1 => {
                    let z = self.varint()?;
                    Value::Integer(((z >> 1) as i64) ^ -((z & 1) as i64))
                }
                2 => {
                    let mut b = [0u8; 8];
                    self.read_exact(&mut b)?;
                    Value::Real(f64::from_le_bytes(b))
                }
                3 => Value::Text(String::from_utf8(self.sized()?).context("a text value is not UTF-8")?),
                4 => Value::Blob(self.sized()?),
                t => anyhow::bail!("a value of unknown type {t}"),
            });
        }
        Ok(Some((table, vals)))
    }
}

fn empty() -> Header {
    Header {
        version: 0,
        height: 0,
        block_hash: String::new(),
        consensus_hash: String::new(),
        tables: Vec::new(),
        meta: Vec::new(),
        created_by: String::new(),
    }
}
