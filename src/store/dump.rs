//! The chain state as rows of plain values, for a snapshot to carry
//! (`fastsync`), and what an imported copy must be checked against: each
//! accepted op's consensus material rebuilt from the rows, and the current
//! state rebuilt from the history.

use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::codec::{self, Reader};
use super::rows::{decode, NameRow, NAME_COLUMNS};
use super::{block, Store, StoreError};
use crate::bns::{HistoryExtra, NameRecord, NamespaceRecord, PreorderRecord};

/// The tables a snapshot carries, in order, with the order rows go in.
/// (`undo` stays behind: an imported index cannot be rolled back below its
/// height. `zonefiles` in arrival order, which the Atlas watermark follows.)
pub const DUMP_TABLES: &[(&str, &str)] = &[
    ("blocks", "height"),
    ("names", "id"),
    ("ops", "height, vtxindex"),
    ("namespaces", "namespace_id"),
    ("preorders", "preorder_hash"),
    ("accounts", "address"),
    ("import_keyrings", "namespace_id"),
    ("atlas_inventory", "inv_index"),
    ("zonefiles", "rowid"),
];

/// What an accepted op's consensus serialization is rebuilt from.
#[derive(Debug, Clone, PartialEq)]
pub enum Material {
    /// A name op: the record it left.
    Name(NameRecord),
    /// A namespace op: the record it left.
    Namespace(NamespaceRecord),
    /// A name or namespace preorder.
    Preorder(PreorderRecord),
    /// The serialization itself (token transfers).
    Line(String),
}

/// One accepted op that has a consensus serialization.
#[derive(Debug, Clone, PartialEq)]
pub struct OpEvidence {
    /// Block.
    pub height: u64,
    /// Position.
    pub vtxindex: u32,
    /// Opcode name (`NAME_UPDATE`, ...).
    pub opcode: String,
    /// The op's own fields.
    pub extra: HistoryExtra,
    /// What the serialization is rebuilt from.
    pub material: Material,
}

/// A processed block as a snapshot states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockFacts {
    /// Height.
    pub height: u64,
    /// Its BNS consensus hash, as stored.
    pub consensus_hash: crate::hash::ConsensusHash,
    /// Its ops hash (hex), as stored.
    pub ops_hash: String,
    /// Accepted ops, as stored.
    pub accepted: u64,
}

fn corrupt(table: &'static str, m: impl Into<String>) -> StoreError {
    StoreError::Corrupt { table, message: m.into() }
}

impl Store {
    /// Calls `f(table index in DUMP_TABLES, row)` for every row of the
    /// snapshot tables, in one read transaction (a consistent state).
    pub fn dump(&mut self, f: &mut dyn FnMut(usize, &[Value]) -> std::io::Result<()>) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Deferred)?;
        for (i, (table, order)) in DUMP_TABLES.iter().enumerate() {
            // Zone files only if the state announces them (a past height may not yet).
            let filter = if *table == "zonefiles" {
                "WHERE EXISTS (SELECT 1 FROM atlas_inventory i WHERE i.value_hash = zonefiles.value_hash)"
            } else {
                ""
            };
            let mut st = tx.prepare(&format!("SELECT * FROM {table} {filter} ORDER BY {order}"))?;
            let n = st.column_count();
            let mut rows = st.query([])?;
            let mut vals = Vec::with_capacity(n);
            while let Some(r) = rows.next()? {
                vals.clear();
                for c in 0..n {
                    vals.push(r.get::<_, Value>(c)?);
                }
                f(i, &vals).map_err(|e| corrupt("dump", format!("write: {e}")))?;
            }
        }
        Ok(())
    }

    /// A copy of this store as it stood after block `height` (`VACUUM INTO`
    /// `path`, then the blocks above rolled back there); this store is
    /// only read.
    pub fn copy_at(&self, height: u64, path: &std::path::Path) -> Result<Store, StoreError> {
        let horizon = self.reorg_horizon()?;
        if height < horizon {
            return Err(StoreError::BelowReorgHorizon { fork: height, horizon });
        }
        let _ = std::fs::remove_file(path);
        self.conn.execute("VACUUM INTO ?1", [path.to_string_lossy()])?;
        let mut copy = Store::open(path)?;
        copy.rollback_to(height)?;
        Ok(copy)
    }

    /// Starts filling this (empty) store from snapshot rows; nothing is
    /// visible until [`Import::commit`].
    pub fn begin_import(&mut self) -> Result<Import<'_>, StoreError> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let blocks: i64 = tx.query_row("SELECT COUNT(*) FROM blocks", [], |r| r.get(0))?;
        if blocks > 0 {
            return Err(corrupt("blocks", "this data dir already has an index: import into a fresh --data-dir"));
        }
        let mut statements = Vec::new();
        for (table, _) in DUMP_TABLES {
            let n = tx.prepare(&format!("SELECT * FROM {table}"))?.column_count();
            let marks = (1..=n).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ");
            statements.push((format!("INSERT INTO {table} VALUES ({marks})"), n));
        }
        Ok(Import { tx, statements })
    }
}

/// An import in progress: one SQL transaction over a fresh store.
pub struct Import<'c> {
    tx: Transaction<'c>,
    statements: Vec<(String, usize)>,
}

impl Import<'_> {
    /// Inserts one row of table `DUMP_TABLES[table]` as given (STRICT
    /// tables refuse values of the wrong type).
    pub fn insert(&self, table: usize, row: &[Value]) -> Result<(), StoreError> {
        let (sql, n) = self.statements.get(table).ok_or_else(|| corrupt("import", format!("no table {table}")))?;
        if row.len() != *n {
            return Err(corrupt("import", format!("{} has {n} columns, the row {}", DUMP_TABLES[table].0, row.len())));
        }
        self.tx.prepare_cached(sql)?.execute(rusqlite::params_from_iter(row))?;
        Ok(())
    }

    /// Every stored block, in height order.
    pub fn blocks(&self) -> Result<Vec<BlockFacts>, StoreError> {
        let mut st =
            self.tx.prepare("SELECT height, consensus_hash, ops_hash, accepted FROM blocks ORDER BY height")?;
        let rows = st
            .query_map([], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, Vec<u8>>(2)?, r.get::<_, i64>(3)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(h, ch, oh, a)| {
                Ok(BlockFacts {
                    height: h as u64,
                    consensus_hash: crate::hash::ConsensusHash::from_slice(&ch)
                        .map_err(|_| corrupt("blocks", "consensus hash length"))?,
                    ops_hash: codec::to_hex(&oh),
                    accepted: a.max(0) as u64,
                })
            })
            .collect()
    }

    /// Calls `f` with every accepted op that has a consensus serialization,
    /// each name's ops in order (its record rebuilt op by op), then the
    /// other ops; fails if a name's or namespace's stored record is not
    /// what its history leaves.
    /// Then checks the Atlas inventory and the zone files against that
    /// history; returns the number of inventory rows.
    pub fn for_each_op(&self, f: &mut dyn FnMut(OpEvidence) -> Result<(), String>) -> Result<u64, StoreError> {
        let fail = |m: String| corrupt("ops", m);
        let mut inventory: Vec<(u64, u32, [u8; 20])> = Vec::new();
        // Names, one at a time.
        let mut names = self.tx.prepare(&format!("SELECT {NAME_COLUMNS}, hash128 FROM names ORDER BY id"))?;
        let mut ops = self.tx.prepare(
            "SELECT height, vtxindex, txid, op, delta FROM ops WHERE subject = ?1 ORDER BY height, vtxindex",
        )?;
        let dup: Option<String> = self
            .tx
            .query_row("SELECT name FROM names GROUP BY name HAVING COUNT(*) > 1 LIMIT 1", [], |r| r.get(0))
            .optional()?;
        if let Some(name) = dup {
            return Err(corrupt("names", format!("name {name} appears more than once")));
        }
        let mut rows = names.query([])?;
        while let Some(r) = rows.next()? {
            let row = NameRow::from_row(r, 0)?;
            if r.get::<_, i64>(6)? != super::rows::name_key(&row.name) {
                return Err(corrupt("names", format!("name {} is filed under another hash128", row.name)));
            }
            let mut rec = codec::blank_name(&row.name, &row.namespace_id);
            let mut any = false;
            let mut hist = ops.query([row.id])?;
            while let Some(o) = hist.next()? {
                any = true;
                let (height, vtxindex) = (o.get::<_, i64>(0)? as u64, o.get::<_, i64>(1)? as u32);
                let (txid, op, delta): (Vec<u8>, String, Vec<u8>) = (o.get(2)?, o.get(3)?, o.get(4)?);
                codec::set_op_position(&mut rec, &op, &codec::to_hex(&txid), vtxindex, height);
                let mut rd = Reader::new(&delta, "ops");
                let (opcode, extra) = codec::read_history_head(&mut rd)?;
                codec::read_name_delta(&mut rd, &mut rec)?;
                rd.finish()?;
                if let (Some(h), true) = (rec.value_hash, block::carries_zonefile(&opcode)) {
                    inventory.push((height, vtxindex, h.0));
                }
                f(OpEvidence { height, vtxindex, opcode, extra, material: Material::Name(rec.clone()) })
                    .map_err(fail)?;
            }
            if !any || rec != row.record()? {
                return Err(fail(format!("name {} is not what its history leaves", row.name)));
            }
        }
        // Namespaces, and ops without a name.
        let mut st = self.tx.prepare(
            "SELECT height, vtxindex, ns_subject, delta, txid FROM ops
             WHERE subject IS NULL AND delta IS NOT NULL ORDER BY height, vtxindex",
        )?;
        let mut last_ns: std::collections::HashMap<String, NamespaceRecord> = Default::default();
        let mut rows = st.query([])?;
        while let Some(o) = rows.next()? {
            let (height, vtxindex) = (o.get::<_, i64>(0)? as u64, o.get::<_, i64>(1)? as u32);
            let (ns, delta, txid): (Option<String>, Vec<u8>, Vec<u8>) = (o.get(2)?, o.get(3)?, o.get(4)?);
            let mut rd = Reader::new(&delta, "ops");
            let (opcode, extra) = codec::read_history_head(&mut rd)?;
            let material = match ns {
                Some(ns) => {
                    let json = std::str::from_utf8(rd.bytes()?).map_err(|_| fail("namespace record".into()))?;
                    let rec: NamespaceRecord = decode("ops", json)?;
                    if rec.namespace_id != ns {
                        return Err(fail(format!("namespace op at {height}/{vtxindex} is for {}", rec.namespace_id)));
                    }
                    last_ns.insert(ns, rec.clone());
                    Material::Namespace(rec)
                }
                None => match rd.byte()? {
                    codec::OP_PREORDER => {
                        let txid = codec::to_hex(&txid);
                        Material::Preorder(codec::read_preorder(&mut rd, Some((height, vtxindex, &txid)))?)
                    }
                    codec::OP_LINE => Material::Line(
                        String::from_utf8(rd.bytes()?.to_vec()).map_err(|_| fail("line is not text".into()))?,
                    ),
                    k => return Err(fail(format!("op at {height}/{vtxindex}: unknown kind {k}"))),
                },
            };
            rd.finish()?;
            f(OpEvidence { height, vtxindex, opcode, extra, material }).map_err(fail)?;
        }
        let mut st = self.tx.prepare("SELECT namespace_id, record FROM namespaces")?;
        let stored = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut n = 0;
        for row in stored {
            let (id, json) = row?;
            let rec: NamespaceRecord = decode("namespaces", &json)?;
            if last_ns.get(&id) != Some(&rec) {
                return Err(fail(format!("namespace {id} is not what its history leaves")));
            }
            n += 1;
        }
        if n != last_ns.len() {
            return Err(fail("a namespace with history has no record".into()));
        }
        inventory.sort_unstable();
        self.check_inventory(&inventory)
    }

    /// Checks the Atlas inventory against the history `for_each_op` rebuilt
    /// (`expected`: the (height, vtxindex, value hash) of every accepted
    /// registration, update, import or renewal that left a hash, in order),
    /// each block's `inv_end`, and every zone file against its hash and the
    /// inventory. Returns the number of inventory rows.
    fn check_inventory(&self, expected: &[(u64, u32, [u8; 20])]) -> Result<u64, StoreError> {
        let fail = |m: String| corrupt("atlas_inventory", m);
        let mut st = self
            .tx
            .prepare("SELECT inv_index, height, vtxindex, value_hash FROM atlas_inventory ORDER BY inv_index")?;
        let mut rows = st.query([])?;
        let mut heights = Vec::with_capacity(expected.len());
        let mut n = 0usize;
        while let Some(r) = rows.next()? {
            let (i, h, v, hash): (i64, i64, i64, Vec<u8>) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
            let want = expected.get(n);
            n += 1;
            if i != n as i64 || want.map(|(wh, wv, wx)| (*wh, *wv, &wx[..])) != Some((h as u64, v as u32, &hash[..])) {
                return Err(fail(format!("row {i} is not the hash its op left, in order")));
            }
            heights.push(h as u64);
        }
        if n != expected.len() {
            return Err(fail(format!("{} rows, the ops announce {}", n, expected.len())));
        }
        let mut st = self.tx.prepare("SELECT height, inv_end FROM blocks ORDER BY height")?;
        let mut rows = st.query([])?;
        let mut at = 0usize;
        while let Some(r) = rows.next()? {
            let (h, end): (i64, i64) = (r.get(0)?, r.get(1)?);
            while at < heights.len() && heights[at] <= h as u64 {
                at += 1;
            }
            if end != at as i64 {
                return Err(fail(format!("block {h} states an inventory length of {end}, the rows give {at}")));
            }
        }
        let mut st = self.tx.prepare("SELECT value_hash, content FROM zonefiles")?;
        let mut rows = st.query([])?;
        let mut announced = self.tx.prepare("SELECT EXISTS(SELECT 1 FROM atlas_inventory WHERE value_hash = ?1)")?;
        while let Some(r) = rows.next()? {
            let (hash, content): (Vec<u8>, Vec<u8>) = (r.get(0)?, r.get(1)?);
            let actual = crate::hash::ValueHash::of_zonefile(&content);
            if actual.0[..] != hash[..] || content.len() > crate::zonefile::MAX_ZONEFILE_LEN {
                return Err(corrupt(
                    "zonefiles",
                    format!("zone file {} does not hash to its key", codec::to_hex(&hash)),
                ));
            }
            if !announced.query_row([&hash], |r| r.get::<_, bool>(0))? {
                return Err(corrupt("zonefiles", format!("zone file {actual} was never announced")));
            }
        }
        Ok(n as u64)
    }

    /// The outstanding preorders, as stored.
    pub fn preorders(&self) -> Result<Vec<(crate::hash::PreorderHash, PreorderRecord)>, StoreError> {
        let mut st = self.tx.prepare("SELECT preorder_hash, rec FROM preorders")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (k, rec) = row?;
            let hash = crate::hash::PreorderHash::from_slice(&k).map_err(|_| corrupt("preorders", "key length"))?;
            out.push((hash, super::rows::decode_preorder(&rec, hash)?));
        }
        Ok(out)
    }

    /// Rows of the tables an import takes as given: (accounts, import keyrings).
    pub fn unverified_counts(&self) -> Result<(u64, u64), StoreError> {
        let a: i64 = self.tx.query_row("SELECT COUNT(*) FROM accounts", [], |r| r.get(0))?;
        let k: i64 = self.tx.query_row("SELECT COUNT(*) FROM import_keyrings", [], |r| r.get(0))?;
        Ok((a as u64, k as u64))
    }

    /// Names imported.
    pub fn name_count(&self) -> Result<u64, StoreError> {
        Ok(self.tx.query_row("SELECT COUNT(*) FROM names", [], |r| r.get::<_, i64>(0))? as u64)
    }

    /// Makes the import visible: records `meta` pairs, the name counter and
    /// that nothing below `height` can be rolled back.
    pub fn commit(self, height: u64, meta: &[(&str, String)]) -> Result<(), StoreError> {
        let names: i64 = self.tx.query_row("SELECT COUNT(*) FROM names", [], |r| r.get(0))?;
        super::set_meta_in(&self.tx, block::META_NAMES_TOTAL, &names.to_string())?;
        super::set_meta_in(&self.tx, block::META_PRUNED_TO, &height.to_string())?;
        for (k, v) in meta {
            super::set_meta_in(&self.tx, k, v)?;
        }
        self.tx.commit()?;
        Ok(())
    }
}

/// Rows of `table` (for tests that compare two stores).
pub fn table_rows(conn_path: &std::path::Path, table: &str) -> Result<Vec<Vec<Value>>, StoreError> {
    let conn = Connection::open(conn_path)?;
    let mut st = conn.prepare(&format!("SELECT * FROM {table} ORDER BY 1"))?;
    let n = st.column_count();
    let rows = st.query_map(params![], |r| (0..n).map(|c| r.get::<_, Value>(c)).collect::<Result<Vec<_>, _>>())?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}
