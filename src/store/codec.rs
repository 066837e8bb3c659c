//! Binary encodings of stored records: LEB128 integers, length-prefixed
//! bytes, hex strings kept as their bytes, base58check addresses kept as
//! their payload (or as a reference to the owner script's hash), and name
//! records as a list of fields so a history row holds only the fields an
//! op changed.
//!
//! Invariant: `decode(encode(x)) == x` for every value, byte for byte in
//! every string field (a string that is not lowercase hex, or not a
//! canonical base58check address, is kept verbatim).

use super::StoreError;
use crate::bns::{HistoryExtra, NameRecord, PreorderRecord};
use crate::hash::{ConsensusHash, NameConsensusHash, NameHash128, ValueHash};

/// Appends LEB128 `v`.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends a length-prefixed byte string.
pub(crate) fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Lowercase hex of `b` (the `hex` crate's encoder goes char by char).
pub(crate) fn to_hex(b: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(b.len() * 2);
    for &x in b {
        out.push(DIGITS[(x >> 4) as usize]);
        out.push(DIGITS[(x & 15) as usize]);
    }
    String::from_utf8(out).expect("hex digits are ASCII")
}

/// True for a non-empty lowercase hex string of even length (what `hex::encode` makes).
fn is_lower_hex(s: &str) -> bool {
    s.len().is_multiple_of(2) && s.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

/// Appends a string that is usually lowercase hex: tag 1 + its bytes, else tag 0 + the text.
pub(crate) fn put_hexstr(out: &mut Vec<u8>, s: &str) {
    match is_lower_hex(s).then(|| hex::decode(s).ok()).flatten() {
        Some(b) => {
            out.push(1);
            put_bytes(out, &b);
        }
        None => {
            out.push(0);
            put_bytes(out, s.as_bytes());
        }
    }
}

/// The 20-byte hash a P2PKH or P2SH script pays to.
fn script_hash(script: &[u8]) -> Option<&[u8]> {
    match script {
        [0x76, 0xa9, 0x14, h @ .., 0x88, 0xac] if h.len() == 20 => Some(h),
        [0xa9, 0x14, h @ .., 0x87] if h.len() == 20 => Some(h),
        _ => None,
    }
}

/// Appends a base58check address: tag 2 + version when its payload is
/// `script`'s hash, tag 1 + version + payload, or tag 0 + the text.
pub(crate) fn put_addr(out: &mut Vec<u8>, addr: &str, script: Option<&[u8]>) {
    match bitcoin::base58::decode_check(addr) {
        Ok(v) if v.len() == 21 && script.and_then(script_hash) == Some(&v[1..]) => {
            out.push(2);
            out.push(v[0]);
        }
        Ok(v) if v.len() == 21 && v[1..].iter().all(|b| *b == 0) => {
            // A burn address (hash160 of nothing anyone can sign).
            out.push(3);
            out.push(v[0]);
        }
        Ok(v) if v.len() == 21 => {
            out.push(1);
            out.extend_from_slice(&v);
        }
        _ => {
            out.push(0);
            put_bytes(out, addr.as_bytes());
        }
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_bytes(out, s.as_bytes());
}

fn put_opt<T: ?Sized>(out: &mut Vec<u8>, v: Option<&T>, f: impl FnOnce(&mut Vec<u8>, &T)) {
    match v {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            f(out, v);
        }
    }
}

/// Reads what the `put_*` functions wrote.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    table: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], table: &'static str) -> Self {
        Reader { buf, table }
    }

    fn corrupt(&self, what: &str) -> StoreError {
        StoreError::Corrupt { table: self.table, message: format!("bad {what} in a binary record") }
    }

    pub(crate) fn byte(&mut self) -> Result<u8, StoreError> {
        let (&b, rest) = self.buf.split_first().ok_or_else(|| self.corrupt("length"))?;
        self.buf = rest;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], StoreError> {
        if self.buf.len() < n {
            return Err(self.corrupt("length"));
        }
        let (a, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(a)
    }

    pub(crate) fn varint(&mut self) -> Result<u64, StoreError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.corrupt("integer"))
    }

    fn u32(&mut self) -> Result<u32, StoreError> {
        u32::try_from(self.varint()?).map_err(|_| self.corrupt("u32"))
    }

    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], StoreError> {
        let n = usize::try_from(self.varint()?).map_err(|_| self.corrupt("length"))?;
        self.take(n)
    }

    fn string(&mut self) -> Result<String, StoreError> {
        let b = self.bytes()?;
        String::from_utf8(b.to_vec()).map_err(|_| self.corrupt("string"))
    }

    pub(crate) fn hexstr(&mut self) -> Result<String, StoreError> {
        match self.byte()? {
            0 => self.string(),
            1 => Ok(to_hex(self.bytes()?)),
            _ => Err(self.corrupt("hex tag")),
        }
    }

    fn addr(&mut self, script: Option<&[u8]>) -> Result<String, StoreError> {
        match self.byte()? {
            0 => self.string(),
            1 => Ok(bitcoin::base58::encode_check(self.take(21)?)),
            2 => {
                let version = self.byte()?;
                let hash = script.and_then(script_hash).ok_or_else(|| self.corrupt("address reference"))?;
                let mut v = Vec::with_capacity(21);
                v.push(version);
                v.extend_from_slice(hash);
                Ok(bitcoin::base58::encode_check(&v))
            }
            3 => {
                let mut v = [0u8; 21];
                v[0] = self.byte()?;
                Ok(bitcoin::base58::encode_check(&v))
            }
            _ => Err(self.corrupt("address tag")),
        }
    }

    fn opt<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, StoreError>) -> Result<Option<T>, StoreError> {
        match self.byte()? {
            0 => Ok(None),
            1 => f(self).map(Some),
            _ => Err(self.corrupt("option tag")),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], StoreError> {
        let b = self.take(N)?;
        b.try_into().map_err(|_| self.corrupt("hash"))
    }

    /// Fails unless everything was read.
    pub(crate) fn finish(&self) -> Result<(), StoreError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(self.corrupt("trailing bytes"))
        }
    }
}

/// Hex-decodes a script or key column (lowercase hex, as the rules make them).
pub(crate) fn hex_col(table: &'static str, s: &str) -> Result<Vec<u8>, StoreError> {
    hex::decode(s).map_err(|_| StoreError::Corrupt { table, message: format!("{s:?} is not hex") })
}

/// Fields of a name record other than its name and namespace, in the order
/// they are encoded. The first two are columns of `names`; the rest is the
/// row's `rec` blob.
const NAME_FIELDS: usize = 17;
/// Index of the first field kept in `names.rec`.
const BODY_START: usize = 2;

fn put_name_field(out: &mut Vec<u8>, r: &NameRecord, i: usize) -> Result<(), StoreError> {
    let sender = || hex::decode(&r.sender).ok();
    match i {
        0 => put_opt(out, r.value_hash.as_ref(), |o, h| o.extend_from_slice(&h.0)),
        1 => put_hexstr(out, &r.sender),
        2 => put_opt(out, r.sender_pubkey.as_deref(), put_hexstr),
        3 => put_addr(out, &r.address, sender().as_deref()),
        4 => put_varint(out, r.block_number),
        5 => put_varint(out, r.preorder_block_number),
        6 => put_varint(out, r.first_registered),
        7 => put_varint(out, r.last_renewed),
        8 => out.push(r.revoked as u8),
        9 => put_str(out, &r.op),
        10 => put_hexstr(out, &r.txid),
        11 => put_varint(out, u64::from(r.vtxindex)),
        12 => put_varint(out, r.op_fee),
        13 => put_opt(out, r.importer.as_deref(), put_hexstr),
        14 => {
            let importer = r.importer.as_deref().and_then(|s| hex::decode(s).ok());
            put_opt(out, r.importer_address.as_deref(), |o, a| put_addr(o, a, importer.as_deref()))
        }
        15 => put_str(out, &r.last_creation_op),
        16 => put_varint(out, r.last_block),
        _ => return Err(StoreError::Corrupt { table: "names", message: format!("no field {i}") }),
    }
    Ok(())
}

fn read_name_field(rd: &mut Reader<'_>, r: &mut NameRecord, i: usize) -> Result<(), StoreError> {
    match i {
        0 => r.value_hash = rd.opt(|rd| rd.array().map(ValueHash))?,
        1 => r.sender = rd.hexstr()?,
        2 => r.sender_pubkey = rd.opt(Reader::hexstr)?,
        3 => r.address = rd.addr(hex::decode(&r.sender).ok().as_deref())?,
        4 => r.block_number = rd.varint()?,
        5 => r.preorder_block_number = rd.varint()?,
        6 => r.first_registered = rd.varint()?,
        7 => r.last_renewed = rd.varint()?,
        8 => r.revoked = rd.byte()? != 0,
        9 => r.op = rd.string()?,
        10 => r.txid = rd.hexstr()?,
        11 => r.vtxindex = rd.u32()?,
        12 => r.op_fee = rd.varint()?,
        13 => r.importer = rd.opt(Reader::hexstr)?,
        14 => {
            let importer = r.importer.as_deref().and_then(|s| hex::decode(s).ok());
            r.importer_address = rd.opt(|rd| rd.addr(importer.as_deref()))?
        }
        15 => r.last_creation_op = rd.string()?,
        16 => r.last_block = rd.varint()?,
        _ => return Err(rd.corrupt("field index")),
    }
    Ok(())
}

/// An empty record for `name` (the state before its first op).
pub(crate) fn blank_name(name: &str, namespace_id: &str) -> NameRecord {
    NameRecord {
        name: name.to_string(),
        namespace_id: namespace_id.to_string(),
        value_hash: None,
        sender: String::new(),
        sender_pubkey: None,
        address: String::new(),
        block_number: 0,
        preorder_block_number: 0,
        first_registered: 0,
        last_renewed: 0,
        revoked: false,
        op: String::new(),
        txid: String::new(),
        vtxindex: 0,
        op_fee: 0,
        importer: None,
        importer_address: None,
        last_creation_op: String::new(),
        last_block: 0,
    }
}

/// The `names.rec` blob: every field but name, namespace, sender and value hash.
pub(crate) fn name_body(r: &NameRecord) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::with_capacity(96);
    for i in BODY_START..NAME_FIELDS {
        put_name_field(&mut out, r, i)?;
    }
    Ok(out)
}

/// Fills `r`'s body fields from a `names.rec` blob (`r.sender` must be set).
pub(crate) fn read_name_body(r: &mut NameRecord, body: &[u8]) -> Result<(), StoreError> {
    let mut rd = Reader::new(body, "names");
    for i in BODY_START..NAME_FIELDS {
        read_name_field(&mut rd, r, i)?;
    }
    rd.finish()
}

/// The fields of `after` that differ from `before` (a bit mask, then those
/// fields in order). `before` is the record as the previous op left it
/// (or [`blank_name`]), with the op's own position already put in by
/// [`set_op_position`], so an op's txid, op string, vtxindex and block
/// cost nothing.
pub(crate) fn put_name_delta(out: &mut Vec<u8>, before: &NameRecord, after: &NameRecord) -> Result<(), StoreError> {
    let mut mask = 0u64;
    let mut fields = Vec::with_capacity(96);
    for i in (0..NAME_FIELDS).filter(|&i| !name_field_eq(before, after, i)) {
        mask |= 1 << i;
        put_name_field(&mut fields, after, i)?;
    }
    put_varint(out, mask);
    out.extend_from_slice(&fields);
    Ok(())
}

/// Whether field `i` (in [`put_name_field`]'s numbering) has the same value in `a` and `b`.
fn name_field_eq(a: &NameRecord, b: &NameRecord, i: usize) -> bool {
    match i {
        0 => a.value_hash == b.value_hash,
        1 => a.sender == b.sender,
        2 => a.sender_pubkey == b.sender_pubkey,
        3 => a.address == b.address,
        4 => a.block_number == b.block_number,
        5 => a.preorder_block_number == b.preorder_block_number,
        6 => a.first_registered == b.first_registered,
        7 => a.last_renewed == b.last_renewed,
        8 => a.revoked == b.revoked,
        9 => a.op == b.op,
        10 => a.txid == b.txid,
        11 => a.vtxindex == b.vtxindex,
        12 => a.op_fee == b.op_fee,
        13 => a.importer == b.importer,
        14 => a.importer_address == b.importer_address,
        15 => a.last_creation_op == b.last_creation_op,
        _ => a.last_block == b.last_block,
    }
}

/// Applies a delta written by [`put_name_delta`] to `r`.
pub(crate) fn read_name_delta(rd: &mut Reader<'_>, r: &mut NameRecord) -> Result<(), StoreError> {
    let mask = rd.varint()?;
    if mask >> NAME_FIELDS != 0 {
        return Err(rd.corrupt("field mask"));
    }
    for i in (0..NAME_FIELDS).filter(|i| mask & (1 << i) != 0) {
        read_name_field(rd, r, i)?;
    }
    Ok(())
}

/// Sets the op string, txid, vtxindex and block of the op at this
/// position (what every op sets on the record it writes).
pub(crate) fn set_op_position(r: &mut NameRecord, op: &str, txid: &str, vtxindex: u32, height: u64) {
    op.clone_into(&mut r.op);
    txid.clone_into(&mut r.txid);
    r.vtxindex = vtxindex;
    r.last_block = height;
}

/// Opcode names a history row stores as one byte (others as text).
const OPCODES: [&str; 12] = [
    "NAME_PREORDER",
    "NAME_REGISTRATION",
    "NAME_UPDATE",
    "NAME_TRANSFER",
    "NAME_REVOKE",
    "NAME_IMPORT",
    "NAMESPACE_PREORDER",
    "NAMESPACE_REVEAL",
    "NAMESPACE_READY",
    "ANNOUNCE",
    "TOKEN_TRANSFER",
    "NAME_RENEWAL",
];

/// A history row's head: the opcode, then the op's own fields.
pub(crate) fn put_history_head(out: &mut Vec<u8>, opcode: &str, x: &HistoryExtra) {
    match OPCODES.iter().position(|o| *o == opcode) {
        Some(i) => out.push(i as u8),
        None => {
            out.push(0xff);
            put_str(out, opcode);
        }
    }
    let mask = x.name_consensus_hash.is_some() as u8
        | (x.consensus_hash.is_some() as u8) << 1
        | (x.name_hash128.is_some() as u8) << 2
        | (x.keep_data.is_some() as u8) << 3;
    out.push(mask);
    for h in [x.name_consensus_hash.map(|h| h.0), x.consensus_hash.map(|h| h.0), x.name_hash128.map(|h| h.0)]
        .into_iter()
        .flatten()
    {
        out.extend_from_slice(&h);
    }
    if let Some(k) = x.keep_data {
        out.push(k as u8);
    }
}

/// Reads what [`put_history_head`] wrote.
pub(crate) fn read_history_head(rd: &mut Reader<'_>) -> Result<(String, HistoryExtra), StoreError> {
    let opcode = match rd.byte()? {
        0xff => rd.string()?,
        i => (*OPCODES.get(i as usize).ok_or_else(|| rd.corrupt("opcode"))?).to_string(),
    };
    let mask = rd.byte()?;
    if mask >> 4 != 0 {
        return Err(rd.corrupt("extra mask"));
    }
    let mut x = HistoryExtra::default();
    if mask & 1 != 0 {
        x.name_consensus_hash = Some(NameConsensusHash(rd.array()?));
    }
    if mask & 2 != 0 {
        x.consensus_hash = Some(ConsensusHash(rd.array()?));
    }
    if mask & 4 != 0 {
        x.name_hash128 = Some(NameHash128(rd.array()?));
    }
    if mask & 8 != 0 {
        x.keep_data = Some(rd.byte()? != 0);
    }
    Ok((opcode, x))
}

/// An address kept as text (tag 0 of [`put_addr`]): no base58 work.
fn put_addr_text(out: &mut Vec<u8>, addr: &str) {
    out.push(0);
    put_bytes(out, addr.as_bytes());
}

/// What follows the head of an `ops.delta` that has no name or namespace
/// subject: a preorder record, or a consensus line as text.
pub(crate) const OP_PREORDER: u8 = 1;
/// See [`OP_PREORDER`].
pub(crate) const OP_LINE: u8 = 2;

/// Where an ops row stands: its height, vtxindex and txid (hex), which a
/// preorder record written there leaves out when they are its own.
pub(crate) type RowPosition<'a> = (u64, u32, &'a str);

/// A preorder record with its hash. `at`: written in the ops row at that
/// position, addresses as base58 payloads and (when they match the row) no
/// block number, vtxindex or txid; `None`: the `preorders` rows, which live a
/// few blocks and are read by the rules: addresses as text, no base58 work.
pub(crate) fn put_preorder(out: &mut Vec<u8>, p: &PreorderRecord, at: Option<RowPosition<'_>>) {
    let compact = at.is_some();
    let sender = if compact { hex::decode(&p.sender).ok() } else { None };
    let addr = |out: &mut Vec<u8>, a: &str, script: Option<&[u8]>| {
        if compact {
            put_addr(out, a, script)
        } else {
            put_addr_text(out, a)
        }
    };
    let own_position = at == Some((p.block_number, p.vtxindex, p.txid.as_str()));
    out.push(own_position as u8);
    out.extend_from_slice(&p.preorder_hash.0);
    out.extend_from_slice(&p.consensus_hash.0);
    put_hexstr(out, &p.sender);
    put_opt(out, p.sender_pubkey.as_deref(), put_hexstr);
    addr(out, &p.address, sender.as_deref());
    put_varint(out, p.op_fee);
    put_opt(out, p.burn_address.as_deref(), |o, a| addr(o, a, None));
    put_varint(out, p.token_fee);
    put_opt(out, p.token_units.as_deref(), put_str);
    put_str(out, &p.op);
    if !own_position {
        put_varint(out, p.block_number);
        put_hexstr(out, &p.txid);
        put_varint(out, u64::from(p.vtxindex));
    }
}

/// Reads what [`put_preorder`] wrote at `at`.
pub(crate) fn read_preorder(rd: &mut Reader<'_>, at: Option<RowPosition<'_>>) -> Result<PreorderRecord, StoreError> {
    let own_position = match rd.byte()? {
        0 => false,
        1 => true,
        _ => return Err(rd.corrupt("preorder position tag")),
    };
    let preorder_hash = crate::hash::PreorderHash(rd.array()?);
    let consensus_hash = ConsensusHash(rd.array()?);
    let sender = rd.hexstr()?;
    let sender_pubkey = rd.opt(Reader::hexstr)?;
    let address = rd.addr(hex::decode(&sender).ok().as_deref())?;
    let (op_fee, burn_address, token_fee, token_units, op) =
        (rd.varint()?, rd.opt(|rd| rd.addr(None))?, rd.varint()?, rd.opt(Reader::string)?, rd.string()?);
    let (block_number, txid, vtxindex) = match (own_position, at) {
        (true, Some((height, vtxindex, txid))) => (height, txid.to_string(), vtxindex),
        (true, None) => return Err(rd.corrupt("preorder position outside an ops row")),
        (false, _) => (rd.varint()?, rd.hexstr()?, rd.u32()?),
    };
    Ok(PreorderRecord {
        preorder_hash,
        consensus_hash,
        sender,
        sender_pubkey,
        address,
        block_number,
        op_fee,
        burn_address,
        token_fee,
        token_units,
        op,
        txid,
        vtxindex,
    })
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
