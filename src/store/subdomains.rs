//! The subdomain index: the records of every domain zone file the store
//! holds, judged in chain order ([`crate::subdomain`]).
//!
//! - Order: inventory index (block, then vtxindex), then position in the
//!   zone file. Never arrival order: a zone file that arrives after later
//!   ones were processed re-runs its domain from that index, so two nodes
//!   agree whatever order Atlas delivered files in.
//! - `subdomains` rows: every accepted record (`reason` NULL) and every
//!   rejected one with its reason; repeats and stale copies of earlier
//!   records are not stored. A subdomain's state is its accepted row with
//!   the highest `seqn`.
//! - Reorgs: `rollback_to` deletes rows of inventory rows it removes and
//!   moves the cursor back; a reindex drops the table with the chain tables.
//! - Meta `subdomain_cursor`: the highest inventory index judged;
//!   `subdomain_zf_mark`: the `zonefiles` rowid up to which late arrivals
//!   were looked for.

use std::collections::BTreeMap;

use rusqlite::{params, Connection, OptionalExtension as _};
use tracing::debug;

use super::{meta_in, set_meta_in, Store, StoreError};
use crate::subdomain::{self, Current, Verdict};

/// Meta key: highest inventory index whose zone file was judged.
pub(crate) const META_CURSOR: &str = "subdomain_cursor";
/// Meta key: `zonefiles` rowid watermark of the last pass.
const META_ZF_MARK: &str = "subdomain_zf_mark";
/// Inventory rows judged per SQL transaction.
const BATCH: i64 = 2_000;

/// One stored subdomain record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubdomainRow {
    /// `label.name.ns`.
    pub fqn: String,
    /// The name whose zone file stated it.
    pub domain: String,
    /// `seqn=`.
    pub seqn: u64,
    /// `owner=`.
    pub owner: String,
    /// The subdomain's zone file.
    pub zonefile: Vec<u8>,
    /// `sig=`, as written.
    pub sig: Option<String>,
    /// Inventory index of the domain zone file.
    pub inv_index: u64,
    /// Position of the record in it.
    pub position: u32,
    /// Block of the domain's op that announced the zone file.
    pub height: u64,
    /// Its txid (hex).
    pub txid: String,
    /// The domain zone file's hash (hex).
    pub parent_zonefile_hash: String,
    /// `_resolver` of the domain zone file.
    pub resolver: Option<String>,
    /// `None`: accepted; else why not.
    pub reason: Option<String>,
}

const ROW_SELECT: &str = "SELECT s.fqn, s.domain, s.seqn, s.owner, s.zonefile, s.sig, s.inv_index, s.position,
        i.height, o.txid, i.value_hash, s.resolver, s.reason
     FROM subdomains s JOIN atlas_inventory i ON i.inv_index = s.inv_index
     JOIN ops o ON o.height = i.height AND o.vtxindex = i.vtxindex";

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SubdomainRow> {
    Ok(SubdomainRow {
        fqn: r.get(0)?,
        domain: r.get(1)?,
        seqn: r.get::<_, i64>(2)? as u64,
        owner: r.get(3)?,
        zonefile: r.get(4)?,
        sig: r.get(5)?,
        inv_index: r.get::<_, i64>(6)? as u64,
        position: r.get::<_, i64>(7)? as u32,
        height: r.get::<_, i64>(8)? as u64,
        txid: hex::encode(r.get::<_, Vec<u8>>(9)?),
        parent_zonefile_hash: hex::encode(r.get::<_, Vec<u8>>(10)?),
        resolver: r.get(11)?,
        reason: r.get(12)?,
    })
}

/// What one pass changed.
#[derive(Debug, Default)]
pub struct SubdomainPass {
    /// Subdomains whose state may have changed.
    pub changed: Vec<String>,
    /// Domain zone files judged.
    pub zonefiles: u64,
}

impl Store {
    /// Judges every held domain zone file not judged yet, and re-runs the
    /// domains of zone files that arrived after later ones were judged.
    /// `first_block`: zone files announced below it carry no subdomains
    /// (Core's `SUBDOMAINS_FIRST_BLOCK`).
    pub fn index_subdomains(&self, first_block: u64) -> Result<SubdomainPass, StoreError> {
        let mut pass = SubdomainPass::default();
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, rusqlite::TransactionBehavior::Immediate)?;
        let cursor: i64 = meta_in(&tx, META_CURSOR)?.and_then(|v| v.parse().ok()).unwrap_or(0);
        let mark: i64 = meta_in(&tx, META_ZF_MARK)?.and_then(|v| v.parse().ok()).unwrap_or(0);
        let watermark: i64 = tx.query_row("SELECT COALESCE(MAX(rowid), 0) FROM zonefiles", [], |r| r.get(0))?;
        // Late arrivals: judged-past rows whose zone file came after the mark
        // (read from the new files; CROSS JOIN keeps SQLite from scanning the
        // inventory). A file without `owner=` holds no subdomain record, so
        // judging it again could change nothing.
        let mut redo: BTreeMap<String, i64> = BTreeMap::new();
        {
            let mut st = tx.prepare_cached(
                "SELECT n.name, MIN(i.inv_index) FROM zonefiles z
                   CROSS JOIN atlas_inventory i ON i.value_hash = z.value_hash JOIN names n ON n.id = i.name_id
                 WHERE z.rowid > ?1 AND i.inv_index <= ?2 AND i.height >= ?3
                   AND instr(z.content, CAST('owner=' AS BLOB)) > 0
                 GROUP BY n.name",
            )?;
            let rows = st.query_map(params![mark, cursor, first_block as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
            for row in rows {
                let (name, from): (String, i64) = row?;
                redo.insert(name, from);
            }
        }
        for (domain, from) in &redo {
            pass.changed.extend(forget_from(&tx, domain, *from)?);
            let rows = inventory_of(&tx, Some(domain), *from, cursor, first_block)?;
            for (index, name) in rows {
                pass.zonefiles += u64::from(judge_zonefile(&tx, index, &name, &mut pass.changed)?);
            }
        }
        set_meta_in(&tx, META_ZF_MARK, &watermark.to_string())?;
        tx.commit()?;
        // Then everything past the cursor, a batch per transaction.
        let mut cursor = cursor;
        loop {
            let tx = rusqlite::Transaction::new_unchecked(&self.conn, rusqlite::TransactionBehavior::Immediate)?;
            let end: i64 = tx.query_row("SELECT COALESCE(MAX(inv_index), 0) FROM atlas_inventory", [], |r| r.get(0))?;
            if cursor >= end {
                break;
            }
            let hi = end.min(cursor + BATCH);
            for (index, name) in inventory_of(&tx, None, cursor + 1, hi, first_block)? {
                pass.zonefiles += u64::from(judge_zonefile(&tx, index, &name, &mut pass.changed)?);
            }
            cursor = hi;
            set_meta_in(&tx, META_CURSOR, &cursor.to_string())?;
            tx.commit()?;
        }
        pass.changed.sort();
        pass.changed.dedup();
        Ok(pass)
    }

    /// The current state of subdomain `fqn`, if it has an accepted record.
    pub fn subdomain(&self, fqn: &str) -> Result<Option<SubdomainRow>, StoreError> {
        let mut st = self.conn.prepare_cached(&format!(
            "{ROW_SELECT} WHERE s.fqn = ?1 AND s.reason IS NULL ORDER BY s.seqn DESC LIMIT 1"
        ))?;
        Ok(st.query_row([fqn], read_row).optional()?)
    }

    /// Every record of `fqn`, accepted and rejected, in chain order.
    pub fn subdomain_history(&self, fqn: &str) -> Result<Vec<SubdomainRow>, StoreError> {
        let mut st =
            self.conn.prepare_cached(&format!("{ROW_SELECT} WHERE s.fqn = ?1 ORDER BY s.inv_index, s.position"))?;
        let rows = st.query_map([fqn], read_row)?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Subdomains with a record from a block above `from` and at most `to`,
    /// or from a zone file stored after `zonefiles` row `zf_after` (what a
    /// snapshot at `from` must look at again, whichever process judged them).
    pub fn subdomain_keys_between(&self, from: u64, to: u64, zf_after: i64) -> Result<Vec<String>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT s.fqn FROM subdomains s JOIN atlas_inventory i ON i.inv_index = s.inv_index
               WHERE i.height > ?1 AND i.height <= ?2
             UNION SELECT s.fqn FROM zonefiles z JOIN atlas_inventory i ON i.value_hash = z.value_hash
               JOIN subdomains s ON s.inv_index = i.inv_index WHERE z.rowid > ?3",
        )?;
        let rows = st
            .query_map(params![from.min(i64::MAX as u64) as i64, to.min(i64::MAX as u64) as i64, zf_after], |r| {
                r.get(0)
            })?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(rows)
    }

    /// The current subdomains of `domain` (names, sorted).
    pub fn subdomains_of(&self, domain: &str) -> Result<Vec<String>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT DISTINCT fqn FROM subdomains WHERE domain = ?1 AND reason IS NULL ORDER BY fqn")?;
        let rows = st.query_map([domain], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
        Ok(rows)
    }

    /// Number of subdomains with an accepted record.
    pub fn subdomain_count(&self) -> Result<u64, StoreError> {
        let n: i64 =
            self.conn.query_row("SELECT COUNT(DISTINCT fqn) FROM subdomains WHERE reason IS NULL", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Calls `f(fqn, zone file)` for the current state of every subdomain.
    pub fn for_each_subdomain(&self, mut f: impl FnMut(String, Vec<u8>)) -> Result<(), StoreError> {
        let mut st = self.conn.prepare(
            "SELECT fqn, zonefile FROM (SELECT fqn, zonefile,
                 ROW_NUMBER() OVER (PARTITION BY fqn ORDER BY seqn DESC) AS rn
               FROM subdomains WHERE reason IS NULL) WHERE rn = 1",
        )?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            f(r.get(0)?, r.get(1)?);
        }
        Ok(())
    }
}

/// Drops `domain`'s rows from inventory index `from` on; returns the names they were for.
fn forget_from(tx: &Connection, domain: &str, from: i64) -> Result<Vec<String>, StoreError> {
    let mut st = tx.prepare_cached("SELECT DISTINCT fqn FROM subdomains WHERE domain = ?1 AND inv_index >= ?2")?;
    let names = st.query_map(params![domain, from], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
    tx.prepare_cached("DELETE FROM subdomains WHERE domain = ?1 AND inv_index >= ?2")?
        .execute(params![domain, from])?;
    Ok(names)
}

/// Inventory rows `from..=to` (of `domain` only, if given) at or above
/// `first_block`: (index, name).
fn inventory_of(
    tx: &Connection,
    domain: Option<&str>,
    from: i64,
    to: i64,
    first_block: u64,
) -> Result<Vec<(i64, String)>, StoreError> {
    let mut st = tx.prepare_cached(match domain {
        // By `atlas_inventory_by_name`: only this domain's rows.
        Some(_) => {
            "SELECT i.inv_index, n.name FROM names n CROSS JOIN atlas_inventory i ON i.name_id = n.id
             WHERE n.hash128 = ?5 AND n.name = ?4 AND i.inv_index >= ?1 AND i.inv_index <= ?2 AND i.height >= ?3
             ORDER BY i.inv_index"
        }
        None => {
            "SELECT i.inv_index, n.name FROM atlas_inventory i JOIN names n ON n.id = i.name_id
             WHERE i.inv_index >= ?1 AND i.inv_index <= ?2 AND i.height >= ?3 AND ?4 IS NULL AND ?5 IS NULL
             ORDER BY i.inv_index"
        }
    })?;
    let key = domain.map(super::rows::name_key);
    let rows = st.query_map(params![from, to, first_block as i64, domain, key], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Judges the records of the zone file at inventory row `index` (if held);
/// returns whether it was held.
fn judge_zonefile(tx: &Connection, index: i64, domain: &str, changed: &mut Vec<String>) -> Result<bool, StoreError> {
    let content: Option<Vec<u8>> = tx
        .prepare_cached(
            "SELECT z.content FROM atlas_inventory i JOIN zonefiles z ON z.value_hash = i.value_hash
             WHERE i.inv_index = ?1",
        )?
        .query_row([index], |r| r.get(0))
        .optional()?;
    let Some(content) = content else { return Ok(false) };
    // Cheap test first: most zone files have no subdomain records.
    if !content.windows(6).any(|w| w == b"owner=") {
        return Ok(true);
    }
    let zf = match crate::zonefile::parse(&content, Some(domain)) {
        Ok(zf) => zf,
        Err(e) => {
            debug!(domain, index, error = %e, "zone file does not parse: no subdomains from it");
            return Ok(true);
        }
    };
    let recs = match subdomain::parse(domain, &zf) {
        Ok(r) => r,
        Err(e) => {
            debug!(domain, index, error = %e, "zone file voided for subdomains");
            return Ok(true);
        }
    };
    for s in &recs.skipped {
        debug!(domain, index, owner = %s.owner, reason = %s.reason, "subdomain record skipped");
    }
    for r in &recs.records {
        let current: Option<Current> = tx
            .prepare_cached(
                "SELECT owner, seqn, zonefile FROM subdomains WHERE fqn = ?1 AND reason IS NULL
                 ORDER BY seqn DESC LIMIT 1",
            )?
            .query_row([&r.fqn], |row| {
                Ok(Current { owner: row.get(0)?, seqn: row.get::<_, i64>(1)? as u64, zonefile: row.get(2)? })
            })
            .optional()?;
        let reason = match subdomain::judge(current.as_ref(), r) {
            Verdict::Accepted => None,
            Verdict::Repeat => continue,
            // Older copies (registrars republish them) say nothing new.
            Verdict::Rejected(_) if current.as_ref().is_some_and(|c| r.seqn <= c.seqn) => continue,
            Verdict::Rejected(why) => Some(why),
        };
        tx.prepare_cached(
            "INSERT OR REPLACE INTO subdomains(inv_index, position, fqn, domain, seqn, owner, zonefile, sig, resolver, reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?
        .execute(params![
            index,
            r.position,
            r.fqn,
            domain,
            r.seqn.min(i64::MAX as u64) as i64,
            r.owner,
            r.zonefile,
            r.sig,
            recs.resolver,
            reason
        ])?;
        if reason.is_none() {
            changed.push(r.fqn.clone());
        }
    }
    Ok(true)
}

/// Inside `rollback_to`'s transaction: forgets what inventory rows past
/// `inv_end` stated, and moves the cursor back to it.
pub(super) fn rollback(tx: &Connection, inv_end: i64) -> Result<(), StoreError> {
    tx.execute("DELETE FROM subdomains WHERE inv_index > ?1", [inv_end])?;
    let cursor: i64 = meta_in(tx, META_CURSOR)?.and_then(|v| v.parse().ok()).unwrap_or(0);
    if cursor > inv_end {
        set_meta_in(tx, META_CURSOR, &inv_end.to_string())?;
    }
    Ok(())
}
