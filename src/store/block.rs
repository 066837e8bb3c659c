//! Writing one block, and undoing blocks on a reorg.
//!
//! Every row a block changes first gets an undo row holding its prior value
//! (NULL = did not exist), in the same SQL transaction. Rolling back to a
//! fork point replays those undo rows newest first and deletes everything
//! the undone blocks added.

use std::cell::RefCell;
use std::collections::HashMap;

use bitcoin::BlockHash;
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::rows::{decode, encode, Rows};
use super::StoreError;
use crate::bns::block::BlockOutcome;
use crate::bns::{Effect, NameRecord, NamespaceRecord, OpMeta, PreorderRecord, StateStore, StateView, ViewError};
use crate::hash::{ConsensusHash, NameHash128, PreorderHash};

/// The open SQL transaction of one block. Dropping it without
/// [`BlockWriter::commit`] discards everything.
pub struct BlockWriter<'c> {
    tx: Transaction<'c>,
    height: u64,
    block_hash: BlockHash,
    undo_seq: i64,
    /// Consensus hashes of earlier blocks read during this block (they
    /// cannot change while it is open): the rules ask for the same 24 per op.
    consensus_hashes: RefCell<HashMap<u64, Option<ConsensusHash>>>,
    /// Namespace records read or written during this block (writes go
    /// through [`BlockWriter::apply_effect`], which keeps this current).
    namespaces: RefCell<HashMap<String, Option<NamespaceRecord>>>,
    /// `names_owned_by` answers since the last name write (an update's
    /// check asks twice for the same sender). Cleared by every `PutName`.
    owned: RefCell<HashMap<String, Vec<NameRecord>>>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct PreorderRow {
    consumed: bool,
    record: PreorderRecord,
}

impl<'c> BlockWriter<'c> {
    pub(super) fn begin(conn: &'c mut Connection, height: u64, block_hash: BlockHash) -> Result<Self, StoreError> {
        // IMMEDIATE: take the write lock up front. A deferred transaction that
        // reads first fails with SQLITE_BUSY at its first write (no busy wait)
        // when another connection (Atlas, `bns zonefile put`) wrote meanwhile.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        Ok(BlockWriter {
            tx,
            height,
            block_hash,
            undo_seq: 0,
            consensus_hashes: RefCell::default(),
            namespaces: RefCell::default(),
            owned: RefCell::default(),
        })
    }

    fn rows(&self) -> Rows<'_> {
        Rows(&self.tx)
    }

    fn save_undo(&mut self, tbl: &str, key: &str, prev: Option<String>) -> Result<(), StoreError> {
        self.undo_seq += 1;
        self.tx
            .prepare_cached("INSERT INTO undo(height, seq, tbl, key, prev) VALUES (?1, ?2, ?3, ?4, ?5)")?
            .execute(params![self.height as i64, self.undo_seq, tbl, key, prev])?;
        Ok(())
    }

    fn prior(&self, sql: &str, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.tx.prepare_cached(sql)?.query_row([key], |r| r.get(0)).optional()?)
    }

    fn apply_effect(&mut self, effect: &Effect) -> Result<(), StoreError> {
        match effect {
            Effect::PutPreorder(rec) => {
                let key = rec.preorder_hash.to_hex();
                let prev = self.preorder_row(&key)?;
                self.save_undo("preorders", &key, prev)?;
                write_preorder(&self.tx, &PreorderRow { consumed: false, record: rec.clone() })
            }
            Effect::ConsumePreorder(hash) => {
                let key = hash.to_hex();
                let prev = self.preorder_row(&key)?;
                let existed = prev.is_some();
                self.save_undo("preorders", &key, prev)?;
                if existed {
                    self.tx
                        .prepare_cached("UPDATE preorders SET consumed = 1 WHERE preorder_hash = ?1")?
                        .execute([&key])?;
                }
                Ok(())
            }
            Effect::PutNamespace(rec) => {
                let prev = self.prior("SELECT record FROM namespaces WHERE namespace_id = ?1", &rec.namespace_id)?;
                self.save_undo("namespaces", &rec.namespace_id, prev)?;
                self.namespaces.borrow_mut().insert(rec.namespace_id.clone(), Some(rec.clone()));
                write_namespace(&self.tx, rec)
            }
            Effect::PutBalance { address, balance } => {
                let prev = self.rows().token_balance(address)?.map(|b| b.to_string());
                self.save_undo("accounts", address, prev)?;
                write_balance(&self.tx, address, *balance)
            }
            Effect::PutImportKeyring { namespace_id, pubkey } => {
                let prev = self.rows().import_keyring(namespace_id)?;
                self.save_undo("import_keyrings", namespace_id, prev)?;
                write_import_keyring(&self.tx, namespace_id, pubkey)
            }
            Effect::PutName(rec) => {
                self.owned.borrow_mut().clear();
                let prev = self.prior("SELECT record FROM names WHERE name = ?1", &rec.name)?;
                self.save_undo("names", &rec.name, prev)?;
                write_name(&self.tx, rec)
            }
        }
    }

    fn preorder_row(&self, key: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(i64, String)> = self
            .tx
            .prepare_cached("SELECT consumed, record FROM preorders WHERE preorder_hash = ?1")?
            .query_row([key], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        // The stored record is `encode(&record)`, so splicing it in gives
        // exactly `encode(&PreorderRow { consumed, record })` without a
        // decode/encode round trip.
        Ok(row.map(|(c, rec)| format!("{{\"consumed\":{},\"record\":{rec}}}", c != 0)))
    }

    /// Stores the block's ops and consensus hash and commits the block.
    pub fn commit(self, outcome: &BlockOutcome, rejected_early: &[(u32, String, String)]) -> Result<(), StoreError> {
        let mut accepted = 0i64;
        let mut rejected = 0i64;
        {
            let mut st = self.tx.prepare_cached(
                "INSERT OR REPLACE INTO ops(height, vtxindex, txid, op, accepted, reason, consensus_line)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for op in &outcome.ops {
                let (ok, reason, line) = match &op.result {
                    Ok(line) => (1, None, Some(line.as_str())),
                    Err(r) => (0, Some(r.to_string()), None),
                };
                accepted += ok;
                rejected += 1 - ok;
                st.execute(params![self.height as i64, op.meta.vtxindex, op.meta.txid, op.meta.op, ok, reason, line])?;
            }
            for (vtx, txid, reason) in rejected_early {
                rejected += 1;
                st.execute(params![self.height as i64, vtx, txid, "", 0, reason, None::<String>])?;
            }
        }
        self.tx.execute(
            "INSERT INTO blocks(height, block_hash, consensus_hash, ops_hash, accepted, rejected) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                self.height as i64,
                self.block_hash.to_string(),
                outcome.consensus_hash.to_hex(),
                outcome.ops_hash,
                accepted,
                rejected
            ],
        )?;
        self.tx.commit()?;
        Ok(())
    }
}

fn write_preorder(tx: &Connection, row: &PreorderRow) -> Result<(), StoreError> {
    tx.prepare_cached("INSERT OR REPLACE INTO preorders(preorder_hash, consumed, record) VALUES (?1, ?2, ?3)")?
        .execute(params![row.record.preorder_hash.to_hex(), row.consumed as i64, encode(&row.record)])?;
    Ok(())
}

fn write_namespace(tx: &Connection, rec: &NamespaceRecord) -> Result<(), StoreError> {
    tx.prepare_cached("INSERT OR REPLACE INTO namespaces(namespace_id, ready, record) VALUES (?1, ?2, ?3)")?
        .execute(params![rec.namespace_id, rec.is_ready() as i64, encode(rec)])?;
    Ok(())
}

fn write_name(tx: &Connection, rec: &NameRecord) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO names(name, namespace_id, sender, address, value_hash, first_registered, record, name_hash128)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT(name) DO UPDATE SET namespace_id = excluded.namespace_id, sender = excluded.sender,
           address = excluded.address, value_hash = excluded.value_hash,
           first_registered = excluded.first_registered, record = excluded.record,
           name_hash128 = excluded.name_hash128",
    )?
    .execute(params![
        rec.name,
        rec.namespace_id,
        rec.sender,
        rec.address,
        rec.value_hash.map(|h| h.to_hex()),
        rec.first_registered as i64,
        encode(rec),
        crate::hash::NameHash128::of_name(&rec.name).to_hex()
    ])?;
    Ok(())
}

fn write_import_keyring(tx: &Connection, namespace_id: &str, pubkey: &str) -> Result<(), StoreError> {
    tx.prepare_cached("INSERT OR REPLACE INTO import_keyrings(namespace_id, pubkey) VALUES (?1, ?2)")?
        .execute(params![namespace_id, pubkey])?;
    Ok(())
}

fn write_balance(tx: &Connection, address: &str, balance: u64) -> Result<(), StoreError> {
    let balance = i64::try_from(balance)
        .map_err(|_| StoreError::Corrupt { table: "accounts", message: format!("balance {balance} too large") })?;
    tx.prepare_cached("INSERT OR REPLACE INTO accounts(address, balance) VALUES (?1, ?2)")?
        .execute(params![address, balance])?;
    Ok(())
}

/// Undoes every block above `height`; returns how many blocks were undone.
pub(super) fn rollback_to(conn: &mut Connection, height: u64) -> Result<u64, StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let h = height as i64;
    let undo: Vec<(String, String, Option<String>)> = {
        let mut st = tx.prepare("SELECT tbl, key, prev FROM undo WHERE height > ?1 ORDER BY height DESC, seq DESC")?;
        let rows = st.query_map([h], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<Result<Vec<_>, _>>()?;
        rows
    };
    for (tbl, key, prev) in undo {
        match (tbl.as_str(), prev) {
            ("preorders", None) => tx.execute("DELETE FROM preorders WHERE preorder_hash = ?1", [&key]).map(|_| ())?,
            ("preorders", Some(p)) => write_preorder(&tx, &decode::<PreorderRow>("undo", &p)?)?,
            ("namespaces", None) => tx.execute("DELETE FROM namespaces WHERE namespace_id = ?1", [&key]).map(|_| ())?,
            ("namespaces", Some(p)) => write_namespace(&tx, &decode("undo", &p)?)?,
            ("names", None) => tx.execute("DELETE FROM names WHERE name = ?1", [&key]).map(|_| ())?,
            ("names", Some(p)) => write_name(&tx, &decode("undo", &p)?)?,
            ("import_keyrings", None) => {
                tx.execute("DELETE FROM import_keyrings WHERE namespace_id = ?1", [&key]).map(|_| ())?
            }
            ("import_keyrings", Some(p)) => write_import_keyring(&tx, &key, &p)?,
            ("accounts", None) => tx.execute("DELETE FROM accounts WHERE address = ?1", [&key]).map(|_| ())?,
            ("accounts", Some(p)) => write_balance(&tx, &key, decode("undo", &p)?)?,
            (other, _) => {
                return Err(StoreError::Corrupt { table: "undo", message: format!("unknown table {other:?}") });
            }
        }
    }
    let undone = tx.execute("DELETE FROM blocks WHERE height > ?1", [h])? as u64;
    for table in ["undo", "ops", "history"] {
        tx.execute(&format!("DELETE FROM {table} WHERE height > ?1"), [h])?;
    }
    // Readers that mirror the inventory (Atlas) reload it when this counter moves.
    if tx.execute("DELETE FROM atlas_inventory WHERE height > ?1", [h])? > 0 {
        tx.execute(
            "INSERT INTO meta(key, value) VALUES ('atlas_inventory_resets', '1')
             ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)",
            [],
        )?;
    }
    tx.commit()?;
    Ok(undone)
}

impl StateView for BlockWriter<'_> {
    fn consensus_hash(&self, height: u64) -> Result<Option<ConsensusHash>, ViewError> {
        if let Some(ch) = self.consensus_hashes.borrow().get(&height) {
            return Ok(*ch);
        }
        let ch = self.rows().consensus_hash(height)?;
        self.consensus_hashes.borrow_mut().insert(height, ch);
        Ok(ch)
    }
    fn preorder(&self, hash: &PreorderHash) -> Result<Option<PreorderRecord>, ViewError> {
        Ok(self.rows().preorder(hash)?)
    }
    fn namespace(&self, id: &str) -> Result<Option<NamespaceRecord>, ViewError> {
        if let Some(ns) = self.namespaces.borrow().get(id) {
            return Ok(ns.clone());
        }
        let ns = self.rows().namespace(id)?;
        self.namespaces.borrow_mut().insert(id.to_string(), ns.clone());
        Ok(ns)
    }
    fn name(&self, fqn: &str) -> Result<Option<NameRecord>, ViewError> {
        Ok(self.rows().name(fqn)?)
    }
    fn names_owned_by(&self, sender: &str) -> Result<Vec<NameRecord>, ViewError> {
        if let Some(names) = self.owned.borrow().get(sender) {
            return Ok(names.clone());
        }
        let names = self.rows().names_owned_by(sender)?;
        self.owned.borrow_mut().insert(sender.to_string(), names.clone());
        Ok(names)
    }
    fn token_balance(&self, address: &str) -> Result<Option<u64>, ViewError> {
        Ok(self.rows().token_balance(address)?)
    }
    fn names_by_hash128(&self, hash: &NameHash128) -> Result<Vec<NameRecord>, ViewError> {
        Ok(self.rows().names_by_hash128(hash)?)
    }
    fn last_update_consensus_hash(
        &self,
        name: &str,
        height: u64,
        vtxindex: u32,
    ) -> Result<Option<ConsensusHash>, ViewError> {
        Ok(self.rows().last_update_consensus_hash(name, height, vtxindex)?)
    }
    fn import_keyring(&self, ns: &str) -> Result<Option<String>, ViewError> {
        Ok(self.rows().import_keyring(ns)?)
    }
}

impl StateStore for BlockWriter<'_> {
    fn apply(&mut self, effect: &Effect, _op: &OpMeta) -> Result<(), ViewError> {
        Ok(self.apply_effect(effect)?)
    }

    fn record_history(&mut self, effects: &[Effect], op: &OpMeta, extra: &serde_json::Value) -> Result<(), ViewError> {
        for effect in effects {
            let (key, value_hash, record) = match effect {
                Effect::PutName(r) => (r.name.as_str(), r.value_hash.map(|h| h.to_hex()), encode(r)),
                Effect::PutNamespace(r) => (r.namespace_id.as_str(), None, encode(r)),
                _ => continue,
            };
            // The record's JSON object, with the op's own fields appended
            // (spliced as text: no round trip through `serde_json::Value`).
            let mut json = record;
            json.pop();
            if let Some(more) = extra.as_object() {
                for (k, v) in more {
                    json.push_str(&format!(",{}:{}", serde_json::Value::from(k.as_str()), v));
                }
            }
            json.push_str(&format!(",\"opcode\":\"{}\"}}", op.opcode));
            self.tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO history(key, height, vtxindex, txid, op, value_hash, record)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .and_then(|mut st| {
                    st.execute(params![key, op.height as i64, op.vtxindex, op.txid, op.op, value_hash, json])
                })
                .map_err(|e| ViewError(e.to_string()))?;
            if let (Effect::PutName(r), true) = (effect, carries_zonefile(op.opcode)) {
                if let Some(hash) = r.value_hash {
                    self.tx
                        .prepare_cached(
                            "INSERT OR IGNORE INTO atlas_inventory(name, value_hash, txid, height, vtxindex)
                             VALUES (?1, ?2, ?3, ?4, ?5)",
                        )
                        .and_then(|mut st| {
                            st.execute(params![r.name, hash.to_hex(), op.txid, op.height as i64, op.vtxindex])
                        })
                        .map_err(|e| ViewError(e.to_string()))?;
                }
            }
        }
        Ok(())
    }
}

/// Whether an accepted op of this opcode adds a row to the Atlas inventory
/// (when the name it leaves behind has a value hash): Core's
/// `get_atlas_zonefile_info_at`. A renewal without a new hash re-adds the
/// inherited one; a transfer never adds a row.
fn carries_zonefile(opcode: &str) -> bool {
    matches!(opcode, "NAME_REGISTRATION" | "NAME_UPDATE" | "NAME_IMPORT" | "NAME_RENEWAL")
}

impl BlockWriter<'_> {
    /// Block hash stored at `height` (through this transaction).
    pub fn block_hash_at(&self, height: u64) -> Result<Option<BlockHash>, StoreError> {
        self.rows().block_hash(height)
    }
}
