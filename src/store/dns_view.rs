//! Reads the DNS snapshot builder needs: every name with its zone file in one
//! pass, and what changed between two heights.

use rusqlite::params;

use super::rows::{NameRow, NAME_COLUMNS};
use super::{Store, StoreError};
use crate::bns::NameRecord;

impl Store {
    /// Calls `f` for every name record with the bytes of its current zone
    /// file, if held, in one pass over the `names` table.
    pub fn for_each_name_with_zonefile(
        &self,
        mut f: impl FnMut(NameRecord, Option<Vec<u8>>),
    ) -> Result<(), StoreError> {
        let cols = NAME_COLUMNS.split(", ").map(|c| format!("n.{c}")).collect::<Vec<_>>().join(", ");
        let mut st = self.conn.prepare(&format!(
            "SELECT {cols}, z.content FROM names n LEFT JOIN zonefiles z ON z.value_hash = n.value_hash"
        ))?;
        let mut rows = st.query([])?;
        while let Some(row) = rows.next()? {
            let rec = NameRow::from_row(row, 0)?.record()?;
            let content: Option<Vec<u8>> = row.get(6)?;
            f(rec, content);
        }
        Ok(())
    }

    /// Names and namespace ids with an accepted op in a block above `from`
    /// and at most `to`.
    pub fn history_keys_between(&self, from: u64, to: u64) -> Result<Vec<String>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT n.name FROM ops o JOIN names n ON n.id = o.subject
               WHERE o.height > ?1 AND o.height <= ?2 AND o.subject IS NOT NULL
             UNION SELECT ns_subject FROM ops WHERE height > ?1 AND height <= ?2 AND ns_subject IS NOT NULL",
        )?;
        let keys = st.query_map(params![from as i64, to as i64], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
        Ok(keys)
    }

    /// Names whose current zone-file hash is one of the zone files stored
    /// after row `rowid`.
    pub fn names_with_zonefiles_after(&self, rowid: i64) -> Result<Vec<String>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT DISTINCT n.name FROM zonefiles z
               JOIN atlas_inventory i ON i.value_hash = z.value_hash
               JOIN names n ON n.id = i.name_id
             WHERE z.rowid > ?1 AND n.value_hash = z.value_hash",
        )?;
        let names = st.query_map([rowid], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
        Ok(names)
    }

    /// Hands this connection's unused page cache back (after a full scan).
    pub fn shrink_memory(&self) -> Result<(), StoreError> {
        self.conn.execute_batch("PRAGMA shrink_memory")?;
        Ok(())
    }

    /// Caps this connection's page cache at `kib` KiB.
    pub fn set_cache_size_kib(&self, kib: i64) -> Result<(), StoreError> {
        self.conn.pragma_update(None, "cache_size", -kib)?;
        Ok(())
    }
}
