//! Read queries shared by the store and an open block transaction, and the
//! `names` row with its undo image.

use bitcoin::hashes::Hash as _;
use bitcoin::BlockHash;
use rusqlite::{params, Connection, OptionalExtension, Params, Row};

use super::codec::{self, put_bytes, put_varint, Reader};
use super::{BlockRow, StoreError};
use crate::bns::{NameRecord, NamespaceRecord, PreorderRecord};
use crate::hash::{ConsensusHash, NameHash128, PreorderHash, ValueHash};

/// Queries over any connection (a plain one or a transaction).
pub(crate) struct Rows<'c>(pub &'c Connection);

pub(crate) fn decode<T: serde::de::DeserializeOwned>(table: &'static str, json: &str) -> Result<T, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt { table, message: e.to_string() })
}

pub(crate) fn encode<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("records are plain data and always serialize")
}

/// The `names.hash128` column: the hash's first 8 bytes, big-endian.
pub(crate) fn hash128_key(h: &NameHash128) -> i64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&h.0[..8]);
    i64::from_be_bytes(b)
}

/// The `names.hash128` column of `name`, by which it is looked up.
pub(crate) fn name_key(name: &str) -> i64 {
    hash128_key(&NameHash128::of_name(name))
}

fn corrupt(table: &'static str, message: impl Into<String>) -> StoreError {
    StoreError::Corrupt { table, message: message.into() }
}

/// Decodes a `preorders.rec` blob.
pub(crate) fn decode_preorder(b: &[u8], hash: PreorderHash) -> Result<PreorderRecord, StoreError> {
    let mut rd = Reader::new(b, "preorders");
    let p = codec::read_preorder(&mut rd, None)?;
    rd.finish()?;
    if p.preorder_hash != hash {
        return Err(corrupt("preorders", "record under another hash"));
    }
    Ok(p)
}

/// The columns of a `names` row, as stored.
pub(crate) struct NameRow {
    pub id: i64,
    pub name: String,
    pub namespace_id: String,
    pub sender: Vec<u8>,
    pub value_hash: Option<Vec<u8>>,
    pub rec: Vec<u8>,
}

/// The `SELECT` list [`NameRow::from_row`] reads.
pub(crate) const NAME_COLUMNS: &str = "id, name, namespace_id, sender, value_hash, rec";

impl NameRow {
    /// Reads [`NAME_COLUMNS`] starting at column `at`.
    pub(crate) fn from_row(r: &Row<'_>, at: usize) -> rusqlite::Result<NameRow> {
        Ok(NameRow {
            id: r.get(at)?,
            name: r.get(at + 1)?,
            namespace_id: r.get(at + 2)?,
            sender: r.get(at + 3)?,
            value_hash: r.get(at + 4)?,
            rec: r.get(at + 5)?,
        })
    }

    /// The decoded record.
    pub(crate) fn record(&self) -> Result<NameRecord, StoreError> {
        let mut r = codec::blank_name(&self.name, &self.namespace_id);
        r.sender = codec::to_hex(&self.sender);
        r.value_hash = match &self.value_hash {
            None => None,
            Some(h) => Some(ValueHash::from_slice(h).map_err(|_| corrupt("names", "value hash length"))?),
        };
        codec::read_name_body(&mut r, &self.rec)?;
        Ok(r)
    }

    /// The row as an undo image.
    pub(crate) fn image(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(64 + self.rec.len());
        put_varint(&mut v, self.id as u64);
        put_bytes(&mut v, self.name.as_bytes());
        put_bytes(&mut v, self.namespace_id.as_bytes());
        put_bytes(&mut v, &self.sender);
        match &self.value_hash {
            None => v.push(0),
            Some(h) => {
                v.push(1);
                put_bytes(&mut v, h);
            }
        }
        put_bytes(&mut v, &self.rec);
        v
    }

    /// Reads what [`NameRow::image`] wrote.
    pub(crate) fn from_image(b: &[u8]) -> Result<NameRow, StoreError> {
        let mut rd = Reader::new(b, "undo");
        let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| corrupt("undo", "name is not text"));
        let id = i64::try_from(rd.varint()?).map_err(|_| corrupt("undo", "name id"))?;
        let name = text(rd.bytes()?)?;
        let namespace_id = text(rd.bytes()?)?;
        let sender = rd.bytes()?.to_vec();
        let value_hash = match rd.byte()? {
            0 => None,
            _ => Some(rd.bytes()?.to_vec()),
        };
        let rec = rd.bytes()?.to_vec();
        rd.finish()?;
        Ok(NameRow { id, name, namespace_id, sender, value_hash, rec })
    }

    /// Writes the row back as it was (same id).
    pub(crate) fn restore(&self, tx: &Connection) -> Result<(), StoreError> {
        tx.execute(
            "INSERT OR REPLACE INTO names(id, name, namespace_id, sender, value_hash, hash128, rec)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                self.id,
                self.name,
                self.namespace_id,
                self.sender,
                self.value_hash,
                hash128_key(&NameHash128::of_name(&self.name)),
                self.rec
            ],
        )?;
        Ok(())
    }
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
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })
            .optional()?;
        let Some((h, bh, ch, a, rj)) = row else { return Ok(None) };
        Ok(Some(BlockRow {
            height: h as u64,
            block_hash: BlockHash::from_slice(&bh).map_err(|_| corrupt("blocks", "block hash length"))?,
            consensus_hash: ConsensusHash::from_slice(&ch).map_err(|_| corrupt("blocks", "consensus hash length"))?,
            accepted: a as u64,
            rejected: rj as u64,
        }))
    }

    pub(crate) fn consensus_hash(&self, height: u64) -> Result<Option<ConsensusHash>, StoreError> {
        let ch: Option<Vec<u8>> = self
            .0
            .prepare_cached("SELECT consensus_hash FROM blocks WHERE height = ?1")?
            .query_row([height as i64], |r| r.get(0))
            .optional()?;
        ch.map(|c| ConsensusHash::from_slice(&c).map_err(|_| corrupt("blocks", "consensus hash length"))).transpose()
    }

    pub(crate) fn block_hash(&self, height: u64) -> Result<Option<BlockHash>, StoreError> {
        Ok(self.block_row("WHERE height = ?1", [height as i64])?.map(|b| b.block_hash))
    }

    pub(crate) fn preorder_image(&self, hash: &PreorderHash) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .0
            .prepare_cached("SELECT rec FROM preorders WHERE preorder_hash = ?1")?
            .query_row([&hash.0[..]], |r| r.get(0))
            .optional()?)
    }

    pub(crate) fn preorder(&self, hash: &PreorderHash) -> Result<Option<PreorderRecord>, StoreError> {
        self.preorder_image(hash)?.map(|b| decode_preorder(&b, *hash)).transpose()
    }

    pub(crate) fn namespace(&self, id: &str) -> Result<Option<NamespaceRecord>, StoreError> {
        let json: Option<String> = self
            .0
            .prepare_cached("SELECT record FROM namespaces WHERE namespace_id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        json.map(|j| decode("namespaces", &j)).transpose()
    }

    pub(crate) fn name_row(&self, fqn: &str) -> Result<Option<NameRow>, StoreError> {
        let sql = format!("SELECT {NAME_COLUMNS} FROM names WHERE hash128 = ?1 AND name = ?2");
        Ok(self
            .0
            .prepare_cached(&sql)?
            .query_row(params![name_key(fqn), fqn], |r| NameRow::from_row(r, 0))
            .optional()?)
    }

    pub(crate) fn name(&self, fqn: &str) -> Result<Option<NameRecord>, StoreError> {
        self.name_row(fqn)?.map(|r| r.record()).transpose()
    }

    /// Name records matching `WHERE <clause>` (one parameter), oldest first.
    /// (Sorted here: an `ORDER BY id` makes SQLite's planner, built with
    /// STAT4, re-prepare the statement at every execution.)
    fn names_where(&self, clause: &str, p: impl rusqlite::ToSql) -> Result<Vec<NameRecord>, StoreError> {
        let sql = format!("SELECT {NAME_COLUMNS} FROM names WHERE {clause}");
        let mut st = self.0.prepare_cached(&sql)?;
        let mut rows = st.query_map([p], |r| NameRow::from_row(r, 0))?.collect::<Result<Vec<_>, _>>()?;
        rows.sort_unstable_by_key(|r| r.id);
        rows.iter().map(NameRow::record).collect()
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
        let mut names = self.names_where("hash128 = ?1", hash128_key(hash))?;
        names.retain(|r| NameHash128::of_name(&r.name) == *hash);
        Ok(names)
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
        let Some(id) = self.name_id(name)? else { return Ok(None) };
        let mut st = self.0.prepare_cached(
            "SELECT op, delta FROM ops WHERE subject = ?1 AND (height < ?2 OR (height = ?2 AND vtxindex < ?3))
             ORDER BY height DESC, vtxindex DESC",
        )?;
        let mut rows = st.query(params![id, height as i64, vtxindex])?;
        while let Some(row) = rows.next()? {
            let op: String = row.get(0)?;
            match op.as_str() {
                ":" | ";" => return Ok(None),
                "+" => {
                    let delta: Vec<u8> = row.get(1)?;
                    let (_, extra) = codec::read_history_head(&mut Reader::new(&delta, "ops"))?;
                    return extra
                        .consensus_hash
                        .map(Some)
                        .ok_or_else(|| corrupt("ops", format!("update of {name} at {height} has no consensus_hash")));
                }
                _ => {}
            }
        }
        Ok(None)
    }

    /// The `names.id` of `name`.
    pub(crate) fn name_id(&self, name: &str) -> Result<Option<i64>, StoreError> {
        Ok(self
            .0
            .prepare_cached("SELECT id FROM names WHERE hash128 = ?1 AND name = ?2")?
            .query_row(params![name_key(name), name], |r| r.get(0))
            .optional()?)
    }

    pub(crate) fn import_keyring(&self, ns: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .0
            .prepare_cached("SELECT pubkey FROM import_keyrings WHERE namespace_id = ?1")?
            .query_row([ns], |r| r.get(0))
            .optional()?)
    }

    pub(crate) fn names_owned_by(&self, sender: &str) -> Result<Vec<NameRecord>, StoreError> {
        match hex::decode(sender) {
            Ok(script) => self.names_where("sender = ?1", script),
            Err(_) => Ok(Vec::new()),
        }
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
