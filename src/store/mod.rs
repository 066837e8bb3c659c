//! SQLite storage of BNS state (rusqlite, bundled SQLite).
//!
//! Invariant: everything one block changes (ops, state, history, undo rows,
//! consensus hash, locator row) commits in ONE SQL transaction
//! ([`BlockWriter`]), so a kill at any moment leaves the store at the end of
//! some block and a restart resumes at the next one.

mod atlas;
mod block;
mod codec;
mod dns_view;
mod dump;
mod queries;
mod rows;
mod schema;
mod subdomains;
#[cfg(test)]
mod tests;
mod wal;

use std::path::Path;

use bitcoin::BlockHash;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

pub use atlas::{InventoryRow, PeerRow, PutOutcome};
pub use block::BlockWriter;
pub use dump::{table_rows, BlockFacts, Import, Material, OpEvidence, DUMP_TABLES};
pub use queries::{HistoryEntry, ZoneFileOrigin};
use rows::Rows;
pub use subdomains::{SubdomainPass, SubdomainRow};

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
    /// A reorg reaches below the blocks whose undo rows are kept.
    #[error("the chain reorganised back to block {fork}, below the reorg horizon (undo data is kept only above block {horizon}): stop bns and restart it with --reindex (zone files are kept), and raise --reorg-depth if this chain reorganises that deep")]
    BelowReorgHorizon {
        /// The fork point asked for.
        fork: u64,
        /// The lowest height a rollback can still go back to.
        horizon: u64,
    },
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

/// Blocks below the tip whose undo rows are kept by default: Bitcoin's
/// deepest reorg since 2010 was 24 blocks (the 2013 fork); this is a day.
pub const DEFAULT_REORG_DEPTH: u64 = 144;

/// The BNS database.
pub struct Store {
    conn: Connection,
    reorg_depth: u64,
    /// Copies committed WAL frames into the database file off this thread.
    _checkpointer: Option<wal::Checkpointer>,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Bulk indexing: a 64 MiB page cache (128 MiB measured no faster at
        // 1M names, and 70 MB more RSS), temporaries in memory, and
        // fewer (larger) WAL checkpoints, most of whose copying a thread of
        // its own has done by then (see `wal`). Durability is unchanged: WAL +
        // synchronous=NORMAL commits each block atomically.
        conn.pragma_update(None, "cache_size", -65_536)?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.pragma_update(None, "wal_autocheckpoint", 8_192)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        // Every statement of a block stays prepared (the default 16 is fewer
        // than one block uses, so they were re-parsed over and over).
        conn.set_prepared_statement_cache_capacity(128);
        let checkpointer = Some(wal::Checkpointer::start(path)?);
        let mut store = Store { conn, reorg_depth: DEFAULT_REORG_DEPTH, _checkpointer: checkpointer };
        store.migrate()?;
        Ok(store)
    }

    /// Makes every later commit of this connection durable against power loss
    /// too (`synchronous=FULL`: the WAL is fsynced at each commit), for
    /// commands whose write must be on disk when they return.
    pub fn sync_commits(&self) -> Result<(), StoreError> {
        Ok(self.conn.pragma_update(None, "synchronous", "FULL")?)
    }

    /// Moves every committed page from the WAL into the database file and
    /// truncates the WAL (for measuring the file, or before copying it).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        Ok(self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?)
    }

    /// A second read-write connection to a database [`Store::open`] has
    /// migrated (for a helper writing its own tables, such as the subdomain
    /// index): no migration, no checkpointer thread of its own.
    pub fn open_aux(path: &Path) -> Result<Store, StoreError> {
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "cache_size", -4_096)?;
        Ok(Store { conn, reorg_depth: DEFAULT_REORG_DEPTH, _checkpointer: None })
    }

    /// Opens an existing database read-only (for the faces).
    pub fn open_readonly(path: &Path) -> Result<Store, StoreError> {
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        Ok(Store { conn, reorg_depth: DEFAULT_REORG_DEPTH, _checkpointer: None })
    }

    /// Keeps undo rows for the `depth` blocks below the tip (at least 1);
    /// a reorg deeper than that is refused ([`StoreError::BelowReorgHorizon`]).
    pub fn set_reorg_depth(&mut self, depth: u64) {
        self.reorg_depth = depth.max(1);
    }

    /// Drops every chain-derived table (keeping zone files, Atlas peers and
    /// meta), so the indexer replays the chain from the first block.
    pub fn reindex(&mut self) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        reset_chain_tables(&tx)?;
        tx.commit()?;
        Ok(())
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let version: i64 = self.conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let supported = schema::MIGRATIONS.len() as i64;
        if version > supported {
            return Err(StoreError::TooNew { found: version, supported });
        }
        let had_chain = (1..6).contains(&version) && self.old_blocks()? > 0;
        for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        self.conn.execute_batch(schema::CREATE_CHAIN_TABLES)?;
        if had_chain {
            tracing::warn!(
                "this data dir was written by an older bns (store v1): its chain state was dropped and is being \
                 replayed from the first block into the compact store v2; zone files and Atlas peers are kept"
            );
        }
        Ok(())
    }

    /// Blocks in a store v1 (before migration 6), for the reindex warning.
    fn old_blocks(&self) -> Result<i64, StoreError> {
        Ok(self.conn.query_row("SELECT COUNT(*) FROM blocks", [], |r| r.get(0)).optional()?.unwrap_or(0))
    }

    fn rows(&self) -> Rows<'_> {
        Rows(&self.conn)
    }

    /// Reads a `meta` value.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        meta_in(&self.conn, key)
    }

    /// Writes a `meta` value.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        set_meta_in(&self.conn, key, value)
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
        BlockWriter::begin(&mut self.conn, height, block_hash, self.reorg_depth)
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

    /// Number of name records (a counter the block writer keeps).
    pub fn name_count(&self) -> Result<u64, StoreError> {
        Ok(self.meta(block::META_NAMES_TOTAL)?.and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    /// The lowest height a rollback can go back to (undo rows below it are pruned).
    pub fn reorg_horizon(&self) -> Result<u64, StoreError> {
        Ok(self.meta(block::META_PRUNED_TO)?.and_then(|v| v.parse().ok()).unwrap_or(0))
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
        let mut st = self
            .conn
            .prepare_cached("SELECT height, vtxindex, txid, op, reason FROM ops WHERE height = ?1 ORDER BY vtxindex")?;
        let rows = st
            .query_map([height as i64], |r| {
                let reason: Option<String> = r.get(4)?;
                Ok(OpRow {
                    height: r.get::<_, i64>(0)? as u64,
                    vtxindex: r.get::<_, i64>(1)? as u32,
                    txid: hex::encode(r.get::<_, Vec<u8>>(2)?),
                    op: r.get(3)?,
                    accepted: reason.is_none(),
                    reason,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Every rejected op, oldest first.
    pub fn rejected_ops(&self) -> Result<Vec<OpRow>, StoreError> {
        let mut st =
            self.conn.prepare_cached("SELECT DISTINCT height FROM ops WHERE reason IS NOT NULL ORDER BY height")?;
        let heights = st.query_map([], |r| r.get::<_, i64>(0))?.collect::<Result<Vec<_>, _>>()?;
        let mut out = Vec::new();
        for h in heights {
            out.extend(self.ops_at(h as u64)?.into_iter().filter(|o| !o.accepted));
        }
        Ok(out)
    }

    /// True if some name points at `hash` now or did at some point.
    pub fn is_announced(&self, hash: &ValueHash) -> Result<bool, StoreError> {
        // Every hash a name ever had came with an op that has an inventory row.
        Ok(self
            .conn
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM atlas_inventory WHERE value_hash = ?1)")?
            .query_row([&hash.0[..]], |r| r.get(0))?)
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
            params![&hash.0[..], content, source, now as i64],
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
            .query_row([&hash.0[..]], |r| r.get(0))
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

/// Reads a `meta` value over any connection.
pub(crate) fn meta_in(conn: &Connection, key: &str) -> Result<Option<String>, StoreError> {
    Ok(conn.prepare_cached("SELECT value FROM meta WHERE key = ?1")?.query_row([key], |r| r.get(0)).optional()?)
}

/// Writes a `meta` value over any connection.
pub(crate) fn set_meta_in(conn: &Connection, key: &str, value: &str) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    )?
    .execute([key, value])?;
    Ok(())
}

/// Drops and re-creates the chain-derived tables (see [`Store::reindex`]);
/// an Atlas mirror of the inventory reloads.
pub(crate) fn reset_chain_tables(tx: &Connection) -> Result<(), StoreError> {
    for t in schema::CHAIN_TABLES {
        tx.execute_batch(&format!("DROP TABLE IF EXISTS {t}"))?;
    }
    tx.execute_batch(schema::CREATE_CHAIN_TABLES)?;
    set_meta_in(tx, block::META_NAMES_TOTAL, "0")?;
    set_meta_in(tx, block::META_PRUNED_TO, "0")?;
    set_meta_in(tx, subdomains::META_CURSOR, "0")?;
    block::add_meta_count(tx, block::META_INVENTORY_RESETS, 1)
}
