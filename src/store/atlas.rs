//! What Atlas keeps in the store: the zone-file inventory (written with each
//! block by [`super::BlockWriter`], rolled back with it), the peer table, and
//! zone files stored in batches with a verdict per file.

use rusqlite::{params, OptionalExtension as _};

use super::{Store, StoreError};
use crate::hash::ValueHash;

/// One row of the zone-file inventory: an accepted op that set (or, for a
/// renewal, re-announced) a name's value hash. Row `index` is bit
/// `index - 1` of the inventory vector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryRow {
    /// Core's `inv_index` (1-based, in block then vtxindex order).
    pub index: u64,
    /// The name the op was for.
    pub name: String,
    /// The announced zone-file hash.
    pub hash: ValueHash,
    /// The op's transaction id (hex).
    pub txid: String,
    /// Its block.
    pub height: u64,
}

/// What became of one zone file handed to [`Store::put_zonefile_batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    /// Newly stored.
    Stored(ValueHash),
    /// Already held (nothing written).
    AlreadyHeld(ValueHash),
    /// Over the size limit.
    TooLarge(usize),
    /// No name on the chain has (or had) this hash.
    NotAnnounced(ValueHash),
}

impl PutOutcome {
    /// True if the store holds the file now.
    pub fn is_held(&self) -> bool {
        matches!(self, PutOutcome::Stored(_) | PutOutcome::AlreadyHeld(_))
    }
}

/// A row of the Atlas peer table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRow {
    /// `host:port` of the peer's Atlas (XML-RPC) endpoint.
    pub addr: String,
    /// When it was first added (Unix seconds).
    pub added_at: u64,
    /// When it last answered (Unix seconds).
    pub last_ok: u64,
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn hash_col(table: &'static str, b: &[u8]) -> Result<ValueHash, StoreError> {
    ValueHash::from_slice(b)
        .map_err(|_| StoreError::Corrupt { table, message: format!("bad value hash {}", hex::encode(b)) })
}

/// The columns [`Store::inventory_query`] reads, with the name and txid joined in.
const INVENTORY_SELECT: &str = "SELECT i.inv_index, n.name, i.value_hash, o.txid, i.height FROM atlas_inventory i
     JOIN names n ON n.id = i.name_id JOIN ops o ON o.height = i.height AND o.vtxindex = i.vtxindex";

impl Store {
    /// SQLite's `PRAGMA data_version`: changes when another connection commits.
    pub fn data_version(&self) -> Result<u64, StoreError> {
        Ok(self.conn.query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0))? as u64)
    }

    /// How many times a reorg removed inventory rows (a mirror of the
    /// inventory reloads when this changes).
    pub fn inventory_resets(&self) -> Result<u64, StoreError> {
        Ok(self.meta("atlas_inventory_resets")?.and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    /// Rows of the inventory: `zonefile_count` in Core's getinfo is this + 1.
    pub fn inventory_len(&self) -> Result<u64, StoreError> {
        let n: i64 =
            self.conn.query_row("SELECT COALESCE(MAX(inv_index), 0) FROM atlas_inventory", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Up to `limit` inventory rows with `index > after`, in order.
    pub fn inventory_rows(&self, after: u64, limit: u64) -> Result<Vec<InventoryRow>, StoreError> {
        self.inventory_query(
            &format!("{INVENTORY_SELECT} WHERE i.inv_index > ?1 ORDER BY i.inv_index LIMIT ?2"),
            &[after, limit],
        )
    }

    /// The inventory length after the highest processed block at or below `height`.
    fn inventory_end_at(&self, height: Option<u64>) -> Result<u64, StoreError> {
        let Some(h) = height else { return Ok(0) };
        let n: i64 = self
            .conn
            .prepare_cached(
                "SELECT COALESCE((SELECT inv_end FROM blocks WHERE height <= ?1 ORDER BY height DESC LIMIT 1), 0)",
            )?
            .query_row([h.min(i64::MAX as u64) as i64], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Core's `get_zonefiles_by_block`: rows of blocks `from..=to`, in
    /// inventory order, `count` of them after skipping `offset`.
    pub fn inventory_by_block(
        &self,
        from: u64,
        to: u64,
        offset: u64,
        count: u64,
    ) -> Result<Vec<InventoryRow>, StoreError> {
        if to < from {
            return Ok(Vec::new());
        }
        // Rows are numbered in block order: a block range is an index range.
        let lo = self.inventory_end_at(from.checked_sub(1))?;
        let hi = self.inventory_end_at(Some(to))?;
        self.inventory_query(
            &format!("{INVENTORY_SELECT} WHERE i.inv_index > ?1 AND i.inv_index <= ?2 ORDER BY i.inv_index LIMIT ?3 OFFSET ?4"),
            &[lo, hi, count, offset],
        )
    }

    /// Runs a `SELECT inv_index, name, value_hash, txid, height` with integer parameters.
    fn inventory_query(&self, sql: &str, args: &[u64]) -> Result<Vec<InventoryRow>, StoreError> {
        let args: Vec<i64> = args.iter().map(|v| (*v).min(i64::MAX as u64) as i64).collect();
        let mut st = self.conn.prepare_cached(sql)?;
        let rows = st
            .query_map(rusqlite::params_from_iter(args), |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(i, name, h, txid, height)| {
                Ok(InventoryRow {
                    index: i as u64,
                    name,
                    hash: hash_col("atlas_inventory", &h)?,
                    txid: super::codec::to_hex(&txid),
                    height: height as u64,
                })
            })
            .collect()
    }

    /// Zone files stored after row `after` of the `zonefiles` table: (rowid, hash), in order.
    pub fn zonefiles_since(&self, after: i64, limit: u64) -> Result<Vec<(i64, ValueHash)>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT rowid, value_hash FROM zonefiles WHERE rowid > ?1 ORDER BY rowid LIMIT ?2")?;
        let rows = st
            .query_map(params![after, limit.min(i64::MAX as u64) as i64], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(|(id, h)| Ok((id, hash_col("zonefiles", &h)?))).collect()
    }

    /// Stores many zone files in one SQL transaction, each checked on its own
    /// (size, announced on the chain); the verdicts come back in order.
    pub fn put_zonefile_batch(&self, contents: &[&[u8]], source: &str) -> Result<Vec<PutOutcome>, StoreError> {
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, rusqlite::TransactionBehavior::Immediate)?;
        let now = now_secs();
        let mut out = Vec::with_capacity(contents.len());
        for content in contents {
            if content.len() > crate::zonefile::MAX_ZONEFILE_LEN {
                out.push(PutOutcome::TooLarge(content.len()));
                continue;
            }
            let hash = ValueHash::of_zonefile(content);
            if !self.is_announced(&hash)? {
                out.push(PutOutcome::NotAnnounced(hash));
                continue;
            }
            let n = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO zonefiles(value_hash, content, source, received_at) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![&hash.0[..], content, source, now])?;
            out.push(if n == 1 { PutOutcome::Stored(hash) } else { PutOutcome::AlreadyHeld(hash) });
        }
        tx.commit()?;
        Ok(out)
    }

    /// Every row of the peer table.
    pub fn atlas_peers(&self) -> Result<Vec<PeerRow>, StoreError> {
        let mut st = self.conn.prepare_cached("SELECT addr, added_at, last_ok FROM atlas_peers ORDER BY addr")?;
        let rows = st
            .query_map([], |r| {
                Ok(PeerRow {
                    addr: r.get(0)?,
                    added_at: r.get::<_, i64>(1)?.max(0) as u64,
                    last_ok: r.get::<_, i64>(2)?.max(0) as u64,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Adds a peer, or marks it as having answered now.
    pub fn put_atlas_peer(&self, addr: &str) -> Result<(), StoreError> {
        let now = now_secs();
        self.conn
            .prepare_cached(
                "INSERT INTO atlas_peers(addr, added_at, last_ok) VALUES (?1, ?2, ?2)
                 ON CONFLICT(addr) DO UPDATE SET last_ok = excluded.last_ok",
            )?
            .execute(params![addr, now])?;
        Ok(())
    }

    /// Drops a peer from the table.
    pub fn remove_atlas_peer(&self, addr: &str) -> Result<(), StoreError> {
        self.conn.prepare_cached("DELETE FROM atlas_peers WHERE addr = ?1")?.execute([addr])?;
        Ok(())
    }

    /// The name of the newest inventory row announcing `hash`, if any.
    pub fn inventory_name_of(&self, hash: &ValueHash) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT n.name FROM atlas_inventory i JOIN names n ON n.id = i.name_id
                 WHERE i.value_hash = ?1 ORDER BY i.inv_index DESC LIMIT 1",
            )?
            .query_row([&hash.0[..]], |r| r.get(0))
            .optional()?)
    }
}
