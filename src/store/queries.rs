//! Read queries for users and the faces: history, names by owner, counts.

use rusqlite::params;

use super::{Store, StoreError};

/// One accepted op in a name's (or namespace's) history.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HistoryEntry {
    /// Block height.
    pub height: u64,
    /// Position in the block.
    pub vtxindex: u32,
    /// The record as it stood after the op, with the op's own fields
    /// (`opcode`, `op`, `txid`, `consensus_hash`, ...), as Core's history has them.
    pub record: serde_json::Value,
}

/// Where and when a held zone file came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ZoneFileOrigin {
    /// Who handed it over (`bns dev`'s zones directory, a peer, the API).
    pub source: String,
    /// When it was stored (Unix seconds).
    pub received_at: u64,
    /// Its size in bytes.
    pub size: u64,
}

impl Store {
    /// Where and when the zone file with `hash` came from, if held.
    pub fn zonefile_origin(&self, hash: &crate::hash::ValueHash) -> Result<Option<ZoneFileOrigin>, StoreError> {
        use rusqlite::OptionalExtension as _;
        Ok(self
            .conn
            .prepare_cached("SELECT source, received_at, length(content) FROM zonefiles WHERE value_hash = ?1")?
            .query_row([hash.to_hex()], |r| {
                Ok(ZoneFileOrigin {
                    source: r.get(0)?,
                    received_at: r.get::<_, i64>(1)?.max(0) as u64,
                    size: r.get::<_, i64>(2)?.max(0) as u64,
                })
            })
            .optional()?)
    }

    /// Every accepted op on `key` (a name or namespace id), oldest first.
    pub fn history(&self, key: &str) -> Result<Vec<HistoryEntry>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT height, vtxindex, record FROM history WHERE key = ?1 ORDER BY height, vtxindex")?;
        let rows = st
            .query_map(params![key], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(h, v, json)| {
                let record = serde_json::from_str(&json)
                    .map_err(|e| StoreError::Corrupt { table: "history", message: e.to_string() })?;
                Ok(HistoryEntry { height: h as u64, vtxindex: v as u32, record })
            })
            .collect()
    }

    /// Names whose current owner is `address`, sorted.
    pub fn names_by_address(&self, address: &str) -> Result<Vec<String>, StoreError> {
        let mut st = self.conn.prepare_cached("SELECT name FROM names WHERE address = ?1 ORDER BY name")?;
        let names = st.query_map([address], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
        Ok(names)
    }

    /// Names in namespace `ns`, sorted, `limit` from `offset`.
    pub fn names_in_namespace(&self, ns: &str, offset: u64, limit: u64) -> Result<Vec<String>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT name FROM names WHERE namespace_id = ?1 ORDER BY name LIMIT ?2 OFFSET ?3")?;
        let names = st
            .query_map(params![ns, limit as i64, offset as i64], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(names)
    }

    /// Token balance of an address's account (micro-STX), if it has one.
    pub fn token_balance(&self, address: &str) -> Result<Option<u64>, StoreError> {
        self.rows().token_balance(address)
    }
}
