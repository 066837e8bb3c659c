//! SQLite storage of BNS state (rusqlite, bundled SQLite).
//!
//! Invariant: everything one block changes (ops, state, history, undo rows,
//! consensus hash, locator row) commits in ONE SQL transaction
//! ([`BlockWriter`]), so a kill at any moment leaves the store at the end of
//! some block and a restart resumes at the next one.

mod atlas;
mod block;
mod dns_view;
mod queries;
mod rows;
mod schema;
#[cfg(test)]
mod tests;

use std::path::Path;

use bitcoin::BlockHash;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

pub use atlas::{InventoryRow, PeerRow, PutOutcome};
pub use block::BlockWriter;
pub use queries::{HistoryEntry, ZoneFileOrigin};
use rows::Rows;

use crate::bns::{NameRecord, NamespaceRecord, ViewError};
use crate::hash::{ConsensusHash, ValueHash};

/// Store errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite failed.
    #[error("sqlite: {0}")]
    Sql(#[from] rusqlite::Error),
    /// A stored row did not decode.
    #[error("corrupt row in {table}: {message}")]
    Corrupt {
        /// Table.
        table: &'static str,
        /// What failed.
        message: String,
    },
    /// The database was written by a newer bns.
    #[error("database schema version {found} is newer than this bns supports ({supported}); upgrade bns")]
    TooNew {
        /// Version on disk.
        found: i64,
        /// Newest this build knows.
        supported: i64,
    },
    /// A zone file was refused.
    #[error("zone file refused: {0}")]
    ZoneFileRefused(String),
}

impl From<StoreError> for ViewError {
    fn from(e: StoreError) -> Self {
        ViewError(e.to_string())
    }
}

/// A processed block, as the locator remembers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockRow {
    /// Height.
    pub height: u64,
    /// Bitcoin block hash.
    pub block_hash: BlockHash,
    /// BNS consensus hash.
    pub consensus_hash: ConsensusHash,
    /// Accepted ops.
    pub accepted: u64,
    /// Rejected ops.
    pub rejected: u64,
}

/// One stored op, accepted or rejected.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OpRow {
    /// Block height.
    pub height: u64,
    /// Position in block.
    pub vtxindex: u32,
    /// Transaction id.
    pub txid: String,
    /// Core's op string.
    pub op: String,
    /// Whether the rules accepted it.
    pub accepted: bool,
    /// Why it was rejected.
    pub reason: Option<String>,
}

/// The BNS database.
pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Bulk indexing: a 64 MiB page cache, temporaries in memory, and
        // fewer (larger) WAL checkpoints. Durability is unchanged: WAL +
        // synchronous=NORMAL commits each block atomically.
        conn.pragma_update(None, "cache_size", -65_536)?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.pragma_update(None, "wal_autocheckpoint", 8_192)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        // Every statement of a block stays prepared (the default 16 is fewer
        // than one block uses, so they were re-parsed over and over).
        conn.set_prepared_statement_cache_capacity(128);
        let mut store = Store { conn };
        store.migrate()?;
        Ok(store)
    }

    /// Makes every later commit of this connection durable against power loss
    /// too (`synchronous=FULL`: the WAL is fsynced at each commit), for
    /// commands whose write must be on disk when they return.
    pub fn sync_commits(&self) -> Result<(), StoreError> {
        Ok(self.conn.pragma_update(None, "synchronous", "FULL")?)
    }

    /// Opens an existing database read-only (for the faces).
    pub fn open_readonly(path: &Path) -> Result<Store, StoreError> {
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        Ok(Store { conn })
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let version: i64 = self.conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let supported = schema::MIGRATIONS.len() as i64;
        if version > supported {
            return Err(StoreError::TooNew { found: version, supported });
        }
        for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        self.backfill_name_hash128()
    }

    /// Sets `names.name_hash128` on rows written before migration 3.
    fn backfill_name_hash128(&mut self) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let names: Vec<String> = {
            let mut st = tx.prepare("SELECT name FROM names WHERE name_hash128 IS NULL")?;
            let rows = st.query_map([], |r| r.get(0))?.collect::<Result<Vec<_>, _>>()?;
            rows
        };
        for name in names {
            tx.execute(
                "UPDATE names SET name_hash128 = ?1 WHERE name = ?2",
                params![crate::hash::NameHash128::of_name(&name).to_hex(), name],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn rows(&self) -> Rows<'_> {
        Rows(&self.conn)
    }

    /// Reads a `meta` value.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()?)
    }

    /// Writes a `meta` value.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        Ok(())
    }

    /// The highest processed block.
    pub fn last_block(&self) -> Result<Option<BlockRow>, StoreError> {
        self.rows().block_row("ORDER BY height DESC LIMIT 1", params![])
    }

    /// The processed block at `height`.
    pub fn block_at(&self, height: u64) -> Result<Option<BlockRow>, StoreError> {
        self.rows().block_row("WHERE height = ?1", params![height as i64])
    }

    /// Starts the SQL transaction that will hold block `height`.
    pub fn begin_block(&mut self, height: u64, block_hash: BlockHash) -> Result<BlockWriter<'_>, StoreError> {
        BlockWriter::begin(&mut self.conn, height, block_hash)
    }

    /// Undoes every block above `height`, in one SQL transaction.
    pub fn rollback_to(&mut self, height: u64) -> Result<u64, StoreError> {
        block::rollback_to(&mut self.conn, height)
    }

    /// A name record.
    pub fn name(&self, fqn: &str) -> Result<Option<NameRecord>, StoreError> {
        self.rows().name(fqn)
    }

    /// A namespace record.
    pub fn namespace(&self, id: &str) -> Result<Option<NamespaceRecord>, StoreError> {
        self.rows().namespace(id)
    }

    /// Every namespace id, revealed or ready.
    pub fn namespace_ids(&self) -> Result<Vec<String>, StoreError> {
        let mut st = self.conn.prepare_cached("SELECT namespace_id FROM namespaces ORDER BY namespace_id")?;
        let ids = st.query_map([], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
        Ok(ids)
    }

    /// Number of name records.
    pub fn name_count(&self) -> Result<u64, StoreError> {
        Ok(self.conn.query_row("SELECT COUNT(*) FROM names", [], |r| r.get::<_, i64>(0))? as u64)
    }

    /// Ops accepted and rejected over every processed block.
    pub fn op_totals(&self) -> Result<(u64, u64), StoreError> {
        let (a, r): (i64, i64) = self.conn.query_row(
            "SELECT COALESCE(SUM(accepted), 0), COALESCE(SUM(rejected), 0) FROM blocks",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((a as u64, r as u64))
    }

    /// Ops stored for a block, accepted and rejected.
    pub fn ops_at(&self, height: u64) -> Result<Vec<OpRow>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT height, vtxindex, txid, op, accepted, reason FROM ops WHERE height = ?1 ORDER BY vtxindex",
        )?;
        let rows = st
            .query_map([height as i64], |r| {
                Ok(OpRow {
                    height: r.get::<_, i64>(0)? as u64,
                    vtxindex: r.get::<_, i64>(1)? as u32,
                    txid: r.get(2)?,
                    op: r.get(3)?,
                    accepted: r.get::<_, i64>(4)? != 0,
                    reason: r.get(5)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The consensus serialization of the accepted op at (`height`,
    /// `vtxindex`) (empty for a stateless op); `None` if there is no such
    /// accepted op.
    pub fn consensus_line(&self, height: u64, vtxindex: u32) -> Result<Option<String>, StoreError> {
        let line: Option<Option<String>> = self
            .conn
            .prepare_cached("SELECT consensus_line FROM ops WHERE height = ?1 AND vtxindex = ?2 AND accepted = 1")?
            .query_row(params![height as i64, vtxindex], |r| r.get(0))
            .optional()?;
        Ok(line.flatten())
    }

    /// Every rejected op, oldest first.
    pub fn rejected_ops(&self) -> Result<Vec<OpRow>, StoreError> {
        let mut st = self.conn.prepare_cached("SELECT DISTINCT height FROM ops WHERE accepted = 0 ORDER BY height")?;
        let heights = st.query_map([], |r| r.get::<_, i64>(0))?.collect::<Result<Vec<_>, _>>()?;
        let mut out = Vec::new();
        for h in heights {
            out.extend(self.ops_at(h as u64)?.into_iter().filter(|o| !o.accepted));
        }
        Ok(out)
    }

    /// True if some name points at `hash` now or did at some point.
    pub fn is_announced(&self, hash: &ValueHash) -> Result<bool, StoreError> {
        let h = hash.to_hex();
        let n: i64 = self.conn.query_row(
            "SELECT (SELECT COUNT(*) FROM names WHERE value_hash = ?1) + (SELECT COUNT(*) FROM history WHERE value_hash = ?1)",
            [&h],
            |r| r.get(0),
        )?;
        Ok(n > 0)
    }

    /// Stores a zone file, if the chain announced its hash and it is within
    /// the size limit. Returns its hash; `Ok` also when it was already held.
    pub fn put_zonefile(&self, content: &[u8], source: &str) -> Result<ValueHash, StoreError> {
        if content.len() > crate::zonefile::MAX_ZONEFILE_LEN {
            return Err(StoreError::ZoneFileRefused(format!(
                "{} bytes is over the {}-byte limit",
                content.len(),
                crate::zonefile::MAX_ZONEFILE_LEN
            )));
        }
        let hash = ValueHash::of_zonefile(content);
        if !self.is_announced(&hash)? {
            return Err(StoreError::ZoneFileRefused(format!("hash {hash} was not announced by any name on the chain")));
        }
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        self.conn.execute(
            "INSERT OR IGNORE INTO zonefiles(value_hash, content, source, received_at) VALUES (?1, ?2, ?3, ?4)",
            params![hash.to_hex(), content, source, now as i64],
        )?;
        Ok(hash)
    }

    /// [`Store::put_zonefile`] for many zone files in one SQL transaction
    /// (all or none); returns how many were given.
    pub fn put_zonefiles<'a>(
        &self,
        contents: impl IntoIterator<Item = &'a [u8]>,
        source: &str,
    ) -> Result<usize, StoreError> {
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, rusqlite::TransactionBehavior::Immediate)?;
        let mut n = 0;
        for content in contents {
            self.put_zonefile(content, source)?;
            n += 1;
        }
        tx.commit()?;
        Ok(n)
    }

    /// The zone file with this hash, if held.
    pub fn zonefile(&self, hash: &ValueHash) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT content FROM zonefiles WHERE value_hash = ?1")?
            .query_row([hash.to_hex()], |r| r.get(0))
            .optional()?)
    }

    /// A number that grows whenever a zone file is stored (its newest rowid; 0 if none).
    pub fn zonefile_watermark(&self) -> Result<i64, StoreError> {
        Ok(self.conn.query_row("SELECT COALESCE(MAX(rowid), 0) FROM zonefiles", [], |r| r.get(0))?)
    }

    /// Counts of zone files (held, missing) among current names' hashes.
    pub fn zonefile_counts(&self) -> Result<(u64, u64), StoreError> {
        let (held, missing): (i64, i64) = self.conn.query_row(
            "SELECT COUNT(z.value_hash), COUNT(*) - COUNT(z.value_hash) FROM
               (SELECT DISTINCT value_hash FROM names WHERE value_hash IS NOT NULL) n
               LEFT JOIN zonefiles z ON z.value_hash = n.value_hash",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((held as u64, missing as u64))
    }
}

rows::state_view_via_rows!(Store);
