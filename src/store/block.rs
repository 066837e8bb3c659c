//! Writing one block, and undoing blocks on a reorg.
//!
//! Every row a block changes first gets an undo row holding its prior image
//! (NULL = did not exist), in the same SQL transaction. Undo rows are kept
//! for the blocks above the reorg horizon (`depth` blocks below the tip) and
//! deleted as blocks commit; rolling back replays them newest first and
//! deletes everything the undone blocks added. A rollback below the horizon
//! is refused ([`StoreError::BelowReorgHorizon`]).

use std::cell::RefCell;
use std::collections::HashMap;

use bitcoin::hashes::Hash as _;
use bitcoin::BlockHash;
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::codec::{self, put_bytes, put_varint, Reader};
use super::rows::{encode, name_key, NameRow, Rows};
use super::StoreError;
use crate::bns::block::BlockOutcome;
use crate::bns::{
    Effect, HistoryExtra, NameRecord, NamespaceRecord, OpMeta, PreorderRecord, StateStore, StateView, ViewError,
};
use crate::hash::{ConsensusHash, NameHash128, PreorderHash};

/// Undo row tables.
const UNDO_PREORDER: i64 = 1;
const UNDO_NAMESPACE: i64 = 2;
const UNDO_NAME: i64 = 3;
const UNDO_ACCOUNT: i64 = 4;
const UNDO_KEYRING: i64 = 5;

/// Meta keys the block writer keeps current.
pub(super) const META_NAMES_TOTAL: &str = "names_total";
pub(super) const META_PRUNED_TO: &str = "undo_pruned_to";
pub(super) const META_INVENTORY_RESETS: &str = "atlas_inventory_resets";

/// A name row as read, with its decoded record.
type ReadName = (NameRow, NameRecord);

/// The open SQL transaction of one block. Dropping it without
/// [`BlockWriter::commit`] discards everything.
pub struct BlockWriter<'c> {
    tx: Transaction<'c>,
    height: u64,
    block_hash: BlockHash,
    reorg_depth: u64,
    undo_seq: i64,
    /// Inventory length so far (rows are numbered in block, vtxindex order).
    inv_end: i64,
    /// Names created by this block.
    names_added: i64,
    /// Ops whose `ops` row (with its history) is already written.
    written: std::collections::HashSet<(u64, u32)>,
    /// The last name written: its id and its record before the write.
    last_put: Option<(String, i64, Option<NameRecord>)>,
    /// Consensus hashes of earlier blocks read during this block (they
    /// cannot change while it is open): the rules ask for the same 24 per op.
    consensus_hashes: RefCell<HashMap<u64, Option<ConsensusHash>>>,
    /// Namespace records read or written during this block (writes go
    /// through [`BlockWriter::apply_effect`], which keeps this current).
    namespaces: RefCell<HashMap<String, Option<NamespaceRecord>>>,
    /// `names_owned_by` answers read during this block, by owner script; a
    /// `PutName` drops the entries of the name's old and new owner.
    owned: RefCell<HashMap<String, Vec<NameRecord>>>,
    /// The last name the rules read (row and record), so writing it next
    /// needs no second read. Taken by every `PutName`.
    last_name: RefCell<Option<(String, Option<ReadName>)>>,
    /// The last preorder the rules read (its stored image), likewise for
    /// `PutPreorder` and `ConsumePreorder`.
    last_preorder: RefCell<Option<(PreorderHash, Option<Vec<u8>>)>>,
}

impl<'c> BlockWriter<'c> {
    pub(super) fn begin(
        conn: &'c mut Connection,
        height: u64,
        block_hash: BlockHash,
        reorg_depth: u64,
    ) -> Result<Self, StoreError> {
        // IMMEDIATE: take the write lock up front. A deferred transaction that
        // reads first fails with SQLITE_BUSY at its first write (no busy wait)
        // when another connection (Atlas, `bns zonefile put`) wrote meanwhile.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let inv_end: i64 = tx.query_row("SELECT COALESCE(MAX(inv_index), 0) FROM atlas_inventory", [], |r| r.get(0))?;
        Ok(BlockWriter {
            tx,
            height,
            block_hash,
            reorg_depth,
            undo_seq: 0,
            inv_end,
            names_added: 0,
            written: Default::default(),
            last_put: None,
            consensus_hashes: RefCell::default(),
            namespaces: RefCell::default(),
            owned: RefCell::default(),
            last_name: RefCell::default(),
            last_preorder: RefCell::default(),
        })
    }

    fn rows(&self) -> Rows<'_> {
        Rows(&self.tx)
    }

    fn save_undo(&mut self, tbl: i64, key: &[u8], prev: Option<Vec<u8>>) -> Result<(), StoreError> {
        self.undo_seq += 1;
        self.tx
            .prepare_cached("INSERT INTO undo(height, seq, tbl, key, prev) VALUES (?1, ?2, ?3, ?4, ?5)")?
            .execute(params![self.height as i64, self.undo_seq, tbl, key, prev])?;
        Ok(())
    }

    fn apply_effect(&mut self, effect: &Effect) -> Result<(), StoreError> {
        match effect {
            Effect::PutPreorder(rec) => {
                let prev = self.preorder_image(&rec.preorder_hash)?;
                self.save_undo(UNDO_PREORDER, &rec.preorder_hash.0, prev)?;
                write_preorder(&self.tx, rec)
            }
            Effect::ConsumePreorder(hash) => {
                // Nothing reads a consumed preorder (Core deletes it too); the
                // undo row brings it back on a reorg.
                if let Some(prev) = self.preorder_image(hash)? {
                    self.save_undo(UNDO_PREORDER, &hash.0, Some(prev))?;
                    self.tx.prepare_cached("DELETE FROM preorders WHERE preorder_hash = ?1")?.execute([&hash.0[..]])?;
                }
                Ok(())
            }
            Effect::PutNamespace(rec) => {
                let prev: Option<String> = self
                    .tx
                    .prepare_cached("SELECT record FROM namespaces WHERE namespace_id = ?1")?
                    .query_row([&rec.namespace_id], |r| r.get(0))
                    .optional()?;
                self.save_undo(UNDO_NAMESPACE, rec.namespace_id.as_bytes(), prev.map(String::into_bytes))?;
                self.namespaces.borrow_mut().insert(rec.namespace_id.clone(), Some(rec.clone()));
                write_namespace(&self.tx, rec)
            }
            Effect::PutBalance { address, balance } => {
                let prev = self.rows().token_balance(address)?.map(|b| {
                    let mut v = Vec::new();
                    put_varint(&mut v, b);
                    v
                });
                self.save_undo(UNDO_ACCOUNT, address.as_bytes(), prev)?;
                write_balance(&self.tx, address, *balance)
            }
            Effect::PutImportKeyring { namespace_id, pubkey } => {
                let prev = self.rows().import_keyring(namespace_id)?;
                self.save_undo(UNDO_KEYRING, namespace_id.as_bytes(), prev.map(String::into_bytes))?;
                write_import_keyring(&self.tx, namespace_id, pubkey)
            }
            Effect::PutName(rec) => {
                let cached = self.last_name.borrow_mut().take();
                let prior = match cached {
                    Some((name, prior)) if name == rec.name => prior,
                    _ => self.rows().name_row(&rec.name)?.map(|row| row.record().map(|r| (row, r))).transpose()?,
                };
                {
                    let mut owned = self.owned.borrow_mut();
                    owned.remove(&rec.sender);
                    if let Some((_, before)) = &prior {
                        owned.remove(&before.sender);
                    }
                }
                let image = prior.as_ref().map(|(row, _)| row.image());
                self.save_undo(UNDO_NAME, rec.name.as_bytes(), image)?;
                let id = write_name(&self.tx, rec, prior.as_ref().map(|(row, _)| row))?;
                self.names_added += prior.is_none() as i64;
                self.last_put = Some((rec.name.clone(), id, prior.map(|(_, r)| r)));
                Ok(())
            }
        }
    }

    /// The stored image of a preorder row (its `rec`), if any.
    fn preorder_image(&self, hash: &PreorderHash) -> Result<Option<Vec<u8>>, StoreError> {
        match self.last_preorder.borrow_mut().take() {
            Some((h, image)) if h == *hash => Ok(image),
            _ => self.rows().preorder_image(hash),
        }
    }

    /// Stores the block's ops and consensus hash, prunes undo rows below
    /// the reorg horizon and commits the block.
    pub fn commit(self, outcome: &BlockOutcome, rejected_early: &[(u32, String, String)]) -> Result<(), StoreError> {
        let h = self.height as i64;
        let (mut accepted, mut rejected) = (0i64, 0i64);
        {
            let mut st = self.tx.prepare_cached(
                "INSERT OR REPLACE INTO ops(height, vtxindex, txid, op, reason) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for op in &outcome.ops {
                let reason = op.result.as_ref().err().map(|r| r.to_string());
                accepted += reason.is_none() as i64;
                rejected += reason.is_some() as i64;
                if reason.is_none() && self.written.contains(&(op.meta.height, op.meta.vtxindex)) {
                    continue;
                }
                let txid = codec::hex_col("ops", &op.meta.txid)?;
                st.execute(params![h, op.meta.vtxindex, txid, op.meta.op, reason])?;
            }
            for (vtx, txid, reason) in rejected_early {
                rejected += 1;
                let txid = codec::hex_col("ops", txid)?;
                st.execute(params![h, vtx, txid, "", reason])?;
            }
        }
        self.tx.execute(
            "INSERT INTO blocks(height, block_hash, consensus_hash, ops_hash, accepted, rejected, inv_end)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                h,
                &self.block_hash.to_byte_array()[..],
                &outcome.consensus_hash.0[..],
                codec::hex_col("blocks", &outcome.ops_hash)?,
                accepted,
                rejected,
                self.inv_end
            ],
        )?;
        if self.names_added != 0 {
            add_meta_count(&self.tx, META_NAMES_TOTAL, self.names_added)?;
        }
        if let Some(cutoff) = self.height.checked_sub(self.reorg_depth).filter(|c| *c > 0) {
            self.tx.prepare_cached("DELETE FROM undo WHERE height <= ?1")?.execute([cutoff as i64])?;
            self.tx
                .prepare_cached(
                    "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value
                     WHERE CAST(value AS INTEGER) < CAST(excluded.value AS INTEGER)",
                )?
                .execute(params![META_PRUNED_TO, cutoff.to_string()])?;
        }
        self.tx.commit()?;
        Ok(())
    }
}

/// Adds `delta` to an integer meta value.
pub(super) fn add_meta_count(tx: &Connection, key: &str, delta: i64) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO meta(key, value) VALUES (?1, CAST(?2 AS TEXT))
         ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + ?2 AS TEXT)",
    )?
    .execute(params![key, delta])?;
    Ok(())
}

fn write_preorder(tx: &Connection, rec: &PreorderRecord) -> Result<(), StoreError> {
    let mut blob = Vec::with_capacity(128);
    codec::put_preorder(&mut blob, rec, None);
    tx.prepare_cached("INSERT OR REPLACE INTO preorders(preorder_hash, block_number, rec) VALUES (?1, ?2, ?3)")?
        .execute(params![&rec.preorder_hash.0[..], rec.block_number as i64, blob])?;
    Ok(())
}

fn write_namespace(tx: &Connection, rec: &NamespaceRecord) -> Result<(), StoreError> {
    tx.prepare_cached("INSERT OR REPLACE INTO namespaces(namespace_id, ready, record) VALUES (?1, ?2, ?3)")?
        .execute(params![rec.namespace_id, rec.is_ready() as i64, encode(rec)])?;
    Ok(())
}

/// Writes a name (keeping the id of an existing row); returns its id.
fn write_name(tx: &Connection, rec: &NameRecord, prior: Option<&NameRow>) -> Result<i64, StoreError> {
    let sender = codec::hex_col("names", &rec.sender)?;
    let body = codec::name_body(rec)?;
    let value_hash = rec.value_hash.map(|h| h.0);
    match prior {
        // Only the columns that can change, so the name and sender indexes
        // are left alone when they did not.
        Some(p) if p.sender == sender => {
            tx.prepare_cached("UPDATE names SET value_hash = ?2, rec = ?3 WHERE id = ?1")?.execute(params![
                p.id,
                value_hash.as_ref().map(|h| &h[..]),
                body
            ])?;
            Ok(p.id)
        }
        Some(p) => {
            tx.prepare_cached("UPDATE names SET sender = ?2, value_hash = ?3, rec = ?4 WHERE id = ?1")?
                .execute(params![p.id, sender, value_hash.as_ref().map(|h| &h[..]), body])?;
            Ok(p.id)
        }
        None => Ok(tx
            .prepare_cached(
                "INSERT INTO names(name, namespace_id, sender, value_hash, hash128, rec)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
            )?
            .query_row(
                params![
                    rec.name,
                    rec.namespace_id,
                    sender,
                    value_hash.as_ref().map(|h| &h[..]),
                    name_key(&rec.name),
                    body
                ],
                |r| r.get(0),
            )?),
    }
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
/// Below the first stored block this is a reindex from scratch.
pub(super) fn rollback_to(conn: &mut Connection, height: u64) -> Result<u64, StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let h = height as i64;
    let first: Option<i64> = tx.query_row("SELECT MIN(height) FROM blocks", [], |r| r.get(0))?;
    let Some(first) = first else { return Ok(0) };
    if h < first {
        let undone: i64 = tx.query_row("SELECT COUNT(*) FROM blocks", [], |r| r.get(0))?;
        super::reset_chain_tables(&tx)?;
        tx.commit()?;
        return Ok(undone as u64);
    }
    let pruned_to: u64 = super::meta_in(&tx, META_PRUNED_TO)?.and_then(|v| v.parse().ok()).unwrap_or(0);
    if height < pruned_to {
        return Err(StoreError::BelowReorgHorizon { fork: height, horizon: pruned_to });
    }
    let undo: Vec<(i64, Vec<u8>, Option<Vec<u8>>)> = {
        let mut st = tx.prepare("SELECT tbl, key, prev FROM undo WHERE height > ?1 ORDER BY height DESC, seq DESC")?;
        let rows = st.query_map([h], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<Result<Vec<_>, _>>()?;
        rows
    };
    let text = |b: Vec<u8>| String::from_utf8(b).map_err(|_| corrupt_undo("key is not text"));
    for (tbl, key, prev) in undo {
        match (tbl, prev) {
            (UNDO_PREORDER, None) => {
                tx.execute("DELETE FROM preorders WHERE preorder_hash = ?1", [&key]).map(|_| ())?
            }
            (UNDO_PREORDER, Some(p)) => {
                let rec = codec::read_preorder(&mut Reader::new(&p, "undo"), None)?;
                if rec.preorder_hash.0[..] != key[..] {
                    return Err(corrupt_undo("preorder key"));
                }
                tx.execute(
                    "INSERT OR REPLACE INTO preorders(preorder_hash, block_number, rec) VALUES (?1, ?2, ?3)",
                    params![key, rec.block_number as i64, p],
                )?;
            }
            (UNDO_NAMESPACE, None) => {
                tx.execute("DELETE FROM namespaces WHERE namespace_id = ?1", [text(key)?]).map(|_| ())?
            }
            (UNDO_NAMESPACE, Some(p)) => write_namespace(&tx, &super::rows::decode("undo", &text(p)?)?)?,
            (UNDO_NAME, None) => {
                let name = text(key)?;
                tx.execute("DELETE FROM names WHERE hash128 = ?1 AND name = ?2", params![name_key(&name), name])?;
            }
            (UNDO_NAME, Some(p)) => NameRow::from_image(&p)?.restore(&tx)?,
            (UNDO_KEYRING, None) => {
                tx.execute("DELETE FROM import_keyrings WHERE namespace_id = ?1", [text(key)?]).map(|_| ())?
            }
            (UNDO_KEYRING, Some(p)) => write_import_keyring(&tx, &text(key)?, &text(p)?)?,
            (UNDO_ACCOUNT, None) => tx.execute("DELETE FROM accounts WHERE address = ?1", [text(key)?]).map(|_| ())?,
            (UNDO_ACCOUNT, Some(p)) => write_balance(&tx, &text(key)?, Reader::new(&p, "undo").varint()?)?,
            (other, _) => return Err(corrupt_undo(&format!("unknown table {other}"))),
        }
    }
    let inv_end: i64 =
        tx.query_row("SELECT COALESCE((SELECT inv_end FROM blocks WHERE height = ?1), 0)", [h], |r| r.get(0))?;
    let undone = tx.execute("DELETE FROM blocks WHERE height > ?1", [h])? as u64;
    tx.execute("DELETE FROM undo WHERE height > ?1", [h])?;
    tx.execute("DELETE FROM ops WHERE height > ?1", [h])?;
    // Readers that mirror the inventory (Atlas) reload it when this counter moves.
    if tx.execute("DELETE FROM atlas_inventory WHERE inv_index > ?1", [inv_end])? > 0 {
        add_meta_count(&tx, META_INVENTORY_RESETS, 1)?;
    }
    super::subdomains::rollback(&tx, inv_end)?;
    let names: i64 = tx.query_row("SELECT COUNT(*) FROM names", [], |r| r.get(0))?;
    super::set_meta_in(&tx, META_NAMES_TOTAL, &names.to_string())?;
    tx.commit()?;
    Ok(undone)
}

fn corrupt_undo(message: &str) -> StoreError {
    StoreError::Corrupt { table: "undo", message: message.to_string() }
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
        let image = self.preorder_image(hash)?;
        let rec = image.as_deref().map(|b| super::rows::decode_preorder(b, *hash)).transpose()?;
        *self.last_preorder.borrow_mut() = Some((*hash, image));
        Ok(rec)
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
        let cached = self.last_name.borrow_mut().take();
        let found = match cached {
            Some((name, found)) if name == fqn => found,
            _ => self.rows().name_row(fqn)?.map(|row| row.record().map(|r| (row, r))).transpose()?,
        };
        let rec = found.as_ref().map(|(_, r)| r.clone());
        *self.last_name.borrow_mut() = Some((fqn.to_string(), found));
        Ok(rec)
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

    fn record_history(
        &mut self,
        effects: &[Effect],
        op: &OpMeta,
        extra: &HistoryExtra,
        line: &str,
    ) -> Result<(), ViewError> {
        Ok(self.history_row(effects, op, extra, line)?)
    }
}

impl BlockWriter<'_> {
    /// Writes the `ops` row of an accepted op with what its consensus
    /// serialization can be rebuilt from (`schema::CREATE_CHAIN_TABLES`),
    /// and its Atlas inventory row. Written at once: later ops of the block
    /// read it (the transfer quirk).
    fn history_row(
        &mut self,
        effects: &[Effect],
        op: &OpMeta,
        extra: &HistoryExtra,
        line: &str,
    ) -> Result<(), StoreError> {
        let records = effects
            .iter()
            .filter(|e| matches!(e, Effect::PutName(_) | Effect::PutNamespace(_) | Effect::PutPreorder(_)))
            .count();
        if records == 0 && !line.is_empty() {
            // A token transfer: its line as is (rare).
            let mut delta = Vec::with_capacity(16 + line.len());
            codec::put_history_head(&mut delta, op.opcode, extra);
            delta.push(codec::OP_LINE);
            put_bytes(&mut delta, line.as_bytes());
            return self.write_op_row(op, None, None, &delta);
        }
        for effect in effects {
            let mut delta = Vec::with_capacity(64);
            codec::put_history_head(&mut delta, op.opcode, extra);
            let (subject, ns_subject) = match effect {
                Effect::PutPreorder(p) => {
                    delta.push(codec::OP_PREORDER);
                    codec::put_preorder(&mut delta, p, Some((op.height, op.vtxindex, &op.txid)));
                    (None, None)
                }
                Effect::PutName(r) => {
                    let (id, before) = match self.last_put.take() {
                        Some((name, id, before)) if name == r.name => (id, before),
                        _ => return Err(internal("a name's history without its write")),
                    };
                    let mut before = before.unwrap_or_else(|| codec::blank_name(&r.name, &r.namespace_id));
                    codec::set_op_position(&mut before, &op.op, &op.txid, op.vtxindex, op.height);
                    codec::put_name_delta(&mut delta, &before, r)?;
                    if let (Some(hash), true) = (r.value_hash, carries_zonefile(op.opcode)) {
                        self.inv_end += 1;
                        self.tx
                            .prepare_cached(
                                "INSERT INTO atlas_inventory(inv_index, name_id, value_hash, height, vtxindex)
                                 VALUES (?1, ?2, ?3, ?4, ?5)",
                            )?
                            .execute(params![self.inv_end, id, &hash.0[..], op.height as i64, op.vtxindex])?;
                    }
                    (Some(id), None)
                }
                Effect::PutNamespace(r) => {
                    put_bytes(&mut delta, encode(r).as_bytes());
                    (None, Some(r.namespace_id.as_str()))
                }
                _ => continue,
            };
            self.write_op_row(op, subject, ns_subject, &delta)?;
        }
        Ok(())
    }

    fn write_op_row(
        &mut self,
        op: &OpMeta,
        subject: Option<i64>,
        ns_subject: Option<&str>,
        delta: &[u8],
    ) -> Result<(), StoreError> {
        if !self.written.insert((op.height, op.vtxindex)) {
            return Err(internal("one op wrote two records"));
        }
        let txid = codec::hex_col("ops", &op.txid)?;
        self.tx
            .prepare_cached(
                "INSERT OR REPLACE INTO ops(height, vtxindex, txid, op, reason, subject, ns_subject, delta)
                 VALUES (?1, ?2, ?3, ?4, NULL, ?5, ?6, ?7)",
            )?
            .execute(params![op.height as i64, op.vtxindex, txid, op.op, subject, ns_subject, delta])?;
        Ok(())
    }

    /// Block hash stored at `height` (through this transaction).
    pub fn block_hash_at(&self, height: u64) -> Result<Option<BlockHash>, StoreError> {
        self.rows().block_hash(height)
    }
}

fn internal(message: &str) -> StoreError {
    StoreError::Corrupt { table: "ops", message: message.to_string() }
}

/// Whether an accepted op of this opcode adds a row to the Atlas inventory
/// (when the name it leaves behind has a value hash): Core's
/// `get_atlas_zonefile_info_at`. A renewal without a new hash re-adds the
/// inherited one; a transfer never adds a row.
pub(super) fn carries_zonefile(opcode: &str) -> bool {
    matches!(opcode, "NAME_REGISTRATION" | "NAME_UPDATE" | "NAME_IMPORT" | "NAME_RENEWAL")
}
