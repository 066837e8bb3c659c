//! Read queries shared by the store and an open block transaction.

use bitcoin::BlockHash;
use rusqlite::{Connection, OptionalExtension, Params};

use super::{BlockRow, StoreError};
use crate::bns::{NameRecord, NamespaceRecord, PreorderRecord};
use crate::hash::{ConsensusHash, NameHash128, PreorderHash};

/// Queries over any connection (a plain one or a transaction).
pub(crate) struct Rows<'c>(pub &'c Connection);

pub(crate) fn decode<T: serde::de::DeserializeOwned>(table: &'static str, json: &str) -> Result<T, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt { table, message: e.to_string() })
}

pub(crate) fn encode<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("records are plain data and always serialize")
}

impl Rows<'_> {
    pub(crate) fn block_row<P: Params>(&self, clause: &str, p: P) -> Result<Option<BlockRow>, StoreError> {
        let sql = format!("SELECT height, block_hash, consensus_hash, accepted, rejected FROM blocks {clause}");
        let row = self
            .0
            .prepare_cached(&sql)?
            .query_row(p, |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })
            .optional()?;
        let Some((h, bh, ch, a, rj)) = row else { return Ok(None) };
        let corrupt = |m: String| StoreError::Corrupt { table: "blocks", message: m };
        Ok(Some(BlockRow {
            height: h as u64,
            block_hash: bh.parse().map_err(|e| corrupt(format!("{e}")))?,
            consensus_hash: ch.parse().map_err(|e| corrupt(format!("{e}")))?,
            accepted: a as u64,
            rejected: rj as u64,
        }))
    }

    pub(crate) fn consensus_hash(&self, height: u64) -> Result<Option<ConsensusHash>, StoreError> {
        let ch: Option<String> = self
            .0
            .prepare_cached("SELECT consensus_hash FROM blocks WHERE height = ?1")?
            .query_row([height as i64], |r| r.get(0))
            .optional()?;
        ch.map(|c| c.parse().map_err(|e| StoreError::Corrupt { table: "blocks", message: format!("{e}") })).transpose()
    }

    pub(crate) fn block_hash(&self, height: u64) -> Result<Option<BlockHash>, StoreError> {
        Ok(self.block_row("WHERE height = ?1", [height as i64])?.map(|b| b.block_hash))
    }

    pub(crate) fn preorder(&self, hash: &PreorderHash) -> Result<Option<PreorderRecord>, StoreError> {
        let json: Option<String> = self
            .0
            .prepare_cached("SELECT record FROM preorders WHERE preorder_hash = ?1 AND consumed = 0")?
            .query_row([hash.to_hex()], |r| r.get(0))
            .optional()?;
        json.map(|j| decode("preorders", &j)).transpose()
    }

    pub(crate) fn namespace(&self, id: &str) -> Result<Option<NamespaceRecord>, StoreError> {
        let json: Option<String> = self
            .0
            .prepare_cached("SELECT record FROM namespaces WHERE namespace_id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        json.map(|j| decode("namespaces", &j)).transpose()
    }

    pub(crate) fn name(&self, fqn: &str) -> Result<Option<NameRecord>, StoreError> {
        let json: Option<String> = self
            .0
            .prepare_cached("SELECT record FROM names WHERE name = ?1")?
            .query_row([fqn], |r| r.get(0))
            .optional()?;
        json.map(|j| decode("names", &j)).transpose()
    }

    pub(crate) fn token_balance(&self, address: &str) -> Result<Option<u64>, StoreError> {
        let b: Option<i64> = self
            .0
            .prepare_cached("SELECT balance FROM accounts WHERE address = ?1")?
            .query_row([address], |r| r.get(0))
            .optional()?;
        Ok(b.map(|b| b as u64))
    }

    pub(crate) fn names_by_hash128(&self, hash: &NameHash128) -> Result<Vec<NameRecord>, StoreError> {
        let mut st = self.0.prepare_cached("SELECT record FROM names WHERE name_hash128 = ?1 ORDER BY rowid")?;
        let jsons = st.query_map([hash.to_hex()], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
        jsons.iter().map(|j| decode("names", j)).collect()
    }

    /// Walks `name`'s history newest first from just before (`height`,
    /// `vtxindex`): a NAME_UPDATE gives its consensus hash; a registration or
    /// import (or the start of history) gives `None`.
    pub(crate) fn last_update_consensus_hash(
        &self,
        name: &str,
        height: u64,
        vtxindex: u32,
    ) -> Result<Option<ConsensusHash>, StoreError> {
        let mut st = self.0.prepare_cached(
            "SELECT op, record FROM history WHERE key = ?1 AND (height < ?2 OR (height = ?2 AND vtxindex < ?3))
             ORDER BY height DESC, vtxindex DESC",
        )?;
        let mut rows = st.query(rusqlite::params![name, height as i64, vtxindex])?;
        let corrupt = |m: String| StoreError::Corrupt { table: "history", message: m };
        while let Some(row) = rows.next()? {
            let op: String = row.get(0)?;
            match op.as_str() {
                ":" | ";" => return Ok(None),
                "+" => {
                    let record: String = row.get(1)?;
                    let v: serde_json::Value = decode("history", &record)?;
                    let ch = v
                        .get("consensus_hash")
                        .and_then(|c| c.as_str())
                        .ok_or_else(|| corrupt(format!("update of {name} at {height} has no consensus_hash")))?;
                    return ch.parse().map(Some).map_err(|e| corrupt(format!("{e}")));
                }
                _ => {}
            }
        }
        Ok(None)
    }

    pub(crate) fn import_keyring(&self, ns: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .0
            .prepare_cached("SELECT pubkey FROM import_keyrings WHERE namespace_id = ?1")?
            .query_row([ns], |r| r.get(0))
            .optional()?)
    }

    pub(crate) fn names_owned_by(&self, sender: &str) -> Result<Vec<NameRecord>, StoreError> {
        let mut st = self.0.prepare_cached("SELECT record FROM names WHERE sender = ?1 ORDER BY rowid")?;
        let jsons = st.query_map([sender], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
        jsons.iter().map(|j| decode("names", j)).collect()
    }
}

/// Implements `StateView` for a type with a `rows()` method, so the store and
/// an open block transaction answer the rules with the same queries.
macro_rules! state_view_via_rows {
    ($t:ty) => {
        impl $crate::bns::StateView for $t {
            fn consensus_hash(
                &self,
                height: u64,
            ) -> Result<Option<$crate::hash::ConsensusHash>, $crate::bns::ViewError> {
                Ok(self.rows().consensus_hash(height)?)
            }
            fn preorder(
                &self,
                hash: &$crate::hash::PreorderHash,
            ) -> Result<Option<$crate::bns::PreorderRecord>, $crate::bns::ViewError> {
                Ok(self.rows().preorder(hash)?)
            }
            fn namespace(&self, id: &str) -> Result<Option<$crate::bns::NamespaceRecord>, $crate::bns::ViewError> {
                Ok(self.rows().namespace(id)?)
            }
            fn name(&self, fqn: &str) -> Result<Option<$crate::bns::NameRecord>, $crate::bns::ViewError> {
                Ok(self.rows().name(fqn)?)
            }
            fn names_owned_by(&self, sender: &str) -> Result<Vec<$crate::bns::NameRecord>, $crate::bns::ViewError> {
                Ok(self.rows().names_owned_by(sender)?)
            }
            fn token_balance(&self, address: &str) -> Result<Option<u64>, $crate::bns::ViewError> {
                Ok(self.rows().token_balance(address)?)
            }
            fn names_by_hash128(
                &self,
                hash: &$crate::hash::NameHash128,
            ) -> Result<Vec<$crate::bns::NameRecord>, $crate::bns::ViewError> {
                Ok(self.rows().names_by_hash128(hash)?)
            }
            fn last_update_consensus_hash(
                &self,
                name: &str,
                height: u64,
                vtxindex: u32,
            ) -> Result<Option<$crate::hash::ConsensusHash>, $crate::bns::ViewError> {
                Ok(self.rows().last_update_consensus_hash(name, height, vtxindex)?)
            }
            fn import_keyring(&self, ns: &str) -> Result<Option<String>, $crate::bns::ViewError> {
                Ok(self.rows().import_keyring(ns)?)
            }
        }
    };
}
pub(crate) use state_view_via_rows;
