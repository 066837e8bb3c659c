//! Read queries for users and the faces: history, names by owner, counts.

use rusqlite::params;

use super::codec::{self, Reader};
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
            .query_row([&hash.0[..]], |r| {
                Ok(ZoneFileOrigin {
                    source: r.get(0)?,
                    received_at: r.get::<_, i64>(1)?.max(0) as u64,
                    size: r.get::<_, i64>(2)?.max(0) as u64,
                })
            })
            .optional()?)
    }

    /// Every accepted op on `key` (a name or namespace id), oldest first:
    /// each record rebuilt from the ops' changes, as Core's history shows it.
    pub fn history(&self, key: &str) -> Result<Vec<HistoryEntry>, StoreError> {
        if let Some(row) = self.rows().name_row(key)? {
            return self.name_history(&row.name, &row.namespace_id, row.id);
        }
        let mut st = self.conn.prepare_cached(
            "SELECT height, vtxindex, txid, op, delta FROM ops WHERE ns_subject = ?1 ORDER BY height, vtxindex",
        )?;
        let rows = st.query_map([key], history_columns)?.collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(height, vtxindex, _, _, delta)| {
                let mut rd = Reader::new(&delta, "ops");
                let (opcode, extra) = codec::read_history_head(&mut rd)?;
                let json = std::str::from_utf8(rd.bytes()?)
                    .map_err(|_| StoreError::Corrupt { table: "ops", message: "namespace record".into() })?;
                let rec: crate::bns::NamespaceRecord = super::rows::decode("ops", json)?;
                Ok(HistoryEntry { height, vtxindex, record: entry_json(&rec, &extra, &opcode) })
            })
            .collect()
    }

    fn name_history(&self, name: &str, ns: &str, id: i64) -> Result<Vec<HistoryEntry>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT height, vtxindex, txid, op, delta FROM ops WHERE subject = ?1 ORDER BY height, vtxindex",
        )?;
        let rows = st.query_map([id], history_columns)?.collect::<Result<Vec<_>, _>>()?;
        let mut rec = codec::blank_name(name, ns);
        rows.into_iter()
            .map(|(height, vtxindex, txid, op, delta)| {
                codec::set_op_position(&mut rec, &op, &hex::encode(txid), vtxindex, height);
                let mut rd = Reader::new(&delta, "ops");
                let (opcode, extra) = codec::read_history_head(&mut rd)?;
                codec::read_name_delta(&mut rd, &mut rec)?;
                rd.finish()?;
                Ok(HistoryEntry { height, vtxindex, record: entry_json(&rec, &extra, &opcode) })
            })
            .collect()
    }

    /// Names whose current owner is `address`, sorted (through the owner
    /// script's index for P2PKH and P2SH addresses).
    pub fn names_by_address(&self, address: &str) -> Result<Vec<String>, StoreError> {
        let Ok(addr) = address.parse::<bitcoin::Address<bitcoin::address::NetworkUnchecked>>() else {
            return Ok(Vec::new());
        };
        let script = addr.assume_checked_ref().script_pubkey();
        let mut names: Vec<String> = self
            .rows()
            .names_owned_by(&hex::encode(script.as_bytes()))?
            .into_iter()
            .filter(|r| r.address == address)
            .map(|r| r.name)
            .collect();
        names.sort();
        Ok(names)
    }

    /// Names in namespace `ns`, sorted, `limit` from `offset`.
    pub fn names_in_namespace(&self, ns: &str, offset: u64, limit: u64) -> Result<Vec<String>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT name FROM names WHERE namespace_id = ?1 ORDER BY name LIMIT ?2 OFFSET ?3")?;
        let names = st
            .query_map(params![ns, limit.min(i64::MAX as u64) as i64, offset.min(i64::MAX as u64) as i64], |r| {
                r.get(0)
            })?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(names)
    }

    /// Token balance of an address's account (micro-STX), if it has one.
    pub fn token_balance(&self, address: &str) -> Result<Option<u64>, StoreError> {
        self.rows().token_balance(address)
    }
}

type HistoryColumns = (u64, u32, Vec<u8>, String, Vec<u8>);

fn history_columns(r: &rusqlite::Row<'_>) -> rusqlite::Result<HistoryColumns> {
    Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u32, r.get(2)?, r.get(3)?, r.get(4)?))
}

/// A history entry's JSON: the record, the op's own fields, its opcode.
fn entry_json(rec: &impl serde::Serialize, extra: &crate::bns::HistoryExtra, opcode: &str) -> serde_json::Value {
    let mut v = serde_json::to_value(rec).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        extra.add_to(obj);
        obj.insert("opcode".into(), opcode.into());
    }
    v
}
