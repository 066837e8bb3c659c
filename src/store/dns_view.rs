//! Reads the DNS snapshot builder needs: every name with its zone file in one
//! pass, and what changed between two heights.

use rusqlite::params;

use super::rows::decode;
use super::{Store, StoreError};
use crate::bns::NameRecord;

impl Store {
    /// Calls `f` for every name record with the bytes of its current zone
    /// file, if held, in one pass over the `names` table.
    pub fn for_each_name_with_zonefile(
        &self,
        mut f: impl FnMut(NameRecord, Option<Vec<u8>>),
    ) -> Result<(), StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT n.record, z.content FROM names n LEFT JOIN zonefiles z ON z.value_hash = n.value_hash")?;
        let mut rows = st.query([])?;
        while let Some(row) = rows.next()? {
            let json: String = row.get(0)?;
            let content: Option<Vec<u8>> = row.get(1)?;
            f(decode("names", &json)?, content);
        }
        Ok(())
    }

    /// Names and namespace ids with an accepted op in a block above `from`
    /// and at most `to`.
    pub fn history_keys_between(&self, from: u64, to: u64) -> Result<Vec<String>, StoreError> {
        let mut st = self.conn.prepare_cached("SELECT DISTINCT key FROM history WHERE height > ?1 AND height <= ?2")?;
        let keys = st.query_map(params![from as i64, to as i64], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
        Ok(keys)
    }

    /// Names whose current zone-file hash is one of the zone files stored
    /// after row `rowid`.
    pub fn names_with_zonefiles_after(&self, rowid: i64) -> Result<Vec<String>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT n.name FROM zonefiles z JOIN names n ON n.value_hash = z.value_hash WHERE z.rowid > ?1",
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
