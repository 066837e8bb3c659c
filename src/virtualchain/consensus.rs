//! Consensus-hash math (SPEC.md §3), pure functions of strings and hashes.
//!
//! ```text
//! serialize_op:  opchar ":" len(v1) ":" v1 "," len(v2) ":" v2 ...     v = Python-2 str(value)
//! op_hash:       hex(dsha256(serialized))
//! ops_hash:      Merkle(sorted(op hashes))        (no ops: [hex(dsha256(""))])
//! Merkle:        leaves = unhex(h) reversed; pair up (odd: repeat last); parent = dsha256(l || r);
//!                root = hex(last node reversed)
//! consensus:     root = Merkle(sorted(prev consensus hashes of B-1, B-3, B-7, ... + [ops_hash]))
//!                consensus_hash = hash160(unhex(root))[0..16]
//! ```

use crate::hash::{dsha256, hash160, ConsensusHash};

/// `hex(dsha256(""))`: the ops hash of a block without operations.
pub const EMPTY_OPS_HASH: &str = "5df6e0e2761359d30a8275058e299fcc0381534545f55cf43e41983f5d4c9456";

/// Error in the consensus math (only on malformed caller input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConsensusError {
    /// A Merkle tree needs at least one leaf.
    #[error("merkle tree of zero leaves")]
    EmptyMerkle,
    /// Leaf `index` is not hex.
    #[error("merkle leaf {index} is not hex: {leaf:?}")]
    NotHex {
        /// Position in the (unsorted) input.
        index: usize,
        /// The leaf text.
        leaf: String,
    },
}

/// One field value of a consensus record, as Python 2 would `str()` it.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    /// `None`: serializes as the empty string.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// A Python int or long, in decimal.
    Int(i128),
    /// A Python float, per [`py2_float_str`].
    Float(f64),
    /// A Python str, verbatim.
    Str(String),
    /// A list of ints: `[6, 5, 4]`.
    IntList(Vec<i64>),
}

impl Field {
    /// Python 2 `str(value)`.
    pub fn py_str(&self) -> String {
        match self {
            Field::None => String::new(),
            Field::Bool(true) => "True".to_string(),
            Field::Bool(false) => "False".to_string(),
            Field::Int(i) => i.to_string(),
            Field::Float(f) => py2_float_str(*f),
            Field::Str(s) => s.clone(),
            Field::IntList(v) => {
                let items: Vec<String> = v.iter().map(|i| i.to_string()).collect();
                format!("[{}]", items.join(", "))
            }
        }
    }
}

impl From<&str> for Field {
    fn from(s: &str) -> Self {
        Field::Str(s.to_string())
    }
}

impl From<String> for Field {
    fn from(s: String) -> Self {
        Field::Str(s)
    }
}

impl From<bool> for Field {
    fn from(b: bool) -> Self {
        Field::Bool(b)
    }
}

impl From<i64> for Field {
    fn from(i: i64) -> Self {
        Field::Int(i128::from(i))
    }
}

impl From<u64> for Field {
    fn from(i: u64) -> Self {
        Field::Int(i128::from(i))
    }
}

impl From<u32> for Field {
    fn from(i: u32) -> Self {
        Field::Int(i128::from(i))
    }
}

impl<T: Into<Field>> From<Option<T>> for Field {
    fn from(v: Option<T>) -> Self {
        v.map_or(Field::None, Into::into)
    }
}

/// Python 2.7 `str(float)`: 12 significant digits, round-half-even;
/// exponent form when the decimal exponent is < -4 or >= 11 (so
/// `str(1e11) == "1e+11"`, one power earlier than C's `%.12g`); `.0`
/// appended to integral fixed-point values (`100000.0`, `2500.0`).
pub fn py2_float_str(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    let sign = if x.is_sign_negative() { "-" } else { "" };
    if x == 0.0 {
        return format!("{sign}0.0");
    }
    // d.ddddddddddde<exp>: 12 correctly rounded significant digits.
    let sci = format!("{:.11e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    let decpt = exp + 1; // digits are 0.d1d2... x 10^decpt
    let body = if decpt <= -4 || decpt > 11 {
        let mut m = digits[..1].to_string();
        if digits.len() > 1 {
            m.push('.');
            m.push_str(&digits[1..]);
        }
        let e = decpt - 1;
        format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
    } else if decpt <= 0 {
        format!("0.{}{digits}", "0".repeat(decpt.unsigned_abs() as usize))
    } else {
        let point = decpt as usize;
        if point >= digits.len() {
            format!("{digits}{}.0", "0".repeat(point - digits.len()))
        } else {
            format!("{}.{}", &digits[..point], &digits[point..])
        }
    };
    format!("{sign}{body}")
}

/// Core's `serialize_op`: `opchar:len:v,len:v,...` with `len` the byte
/// length of the Python-2 `str()` of each value.
pub fn serialize_op(opchar: char, fields: &[Field]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(32 + 48 * fields.len());
    out.push(opchar);
    out.push(':');
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let v = f.py_str();
        let _ = write!(out, "{}:", v.len());
        out.push_str(&v);
    }
    out
}

/// `hex(dsha256(serialized))`: one op's Merkle leaf.
pub fn op_hash(serialized: &str) -> String {
    hex::encode(op_digest(serialized))
}

/// The bytes of [`op_hash`].
pub fn op_digest(serialized: &str) -> [u8; 32] {
    dsha256(serialized.as_bytes())
}

/// virtualchain's `MerkleTree(hex_list).root()`, over the list as given
/// (callers sort). Items may differ in length.
pub fn merkle_root<S: AsRef<str>>(hex_list: &[S]) -> Result<String, ConsensusError> {
    if hex_list.is_empty() {
        return Err(ConsensusError::EmptyMerkle);
    }
    let mut row = Vec::with_capacity(hex_list.len());
    for (index, leaf) in hex_list.iter().enumerate() {
        let leaf = leaf.as_ref();
        let mut bytes = hex::decode(leaf).map_err(|_| ConsensusError::NotHex { index, leaf: leaf.to_string() })?;
        bytes.reverse();
        row.push(bytes);
    }
    while row.len() > 1 {
        if row.len() % 2 == 1 {
            let last = row[row.len() - 1].clone();
            row.push(last);
        }
        row = row.chunks(2).map(|pair| dsha256(&[pair[0].as_slice(), pair[1].as_slice()].concat()).to_vec()).collect();
    }
    let mut root = row.pop().unwrap_or_default();
    root.reverse();
    Ok(hex::encode(root))
}

/// Core's `make_ops_snapshot`: the Merkle root of the sorted op hashes of
/// `serialized_ops` ([`EMPTY_OPS_HASH`] when there are none).
pub fn ops_hash<S: AsRef<str>>(serialized_ops: &[S]) -> String {
    ops_hash_of_leaves(serialized_ops.iter().map(|s| op_hash(s.as_ref())).collect())
}

/// [`ops_hash`] from the ops' leaves ([`op_hash`] of each), in any order.
pub fn ops_hash_of_leaves(mut leaves: Vec<String>) -> String {
    if leaves.is_empty() {
        return EMPTY_OPS_HASH.to_string();
    }
    leaves.sort();
    // Leaves are our own lowercase hex and the list is non-empty.
    merkle_root(&leaves).unwrap_or_default()
}

/// Heights whose consensus hashes block `block` mixes in: `block - (2^i - 1)`
/// for i = 1, 2, ... while `>= first_block` (B-1, B-3, B-7, B-15, ...).
pub fn prev_consensus_heights(block: u64, first_block: u64) -> Vec<u64> {
    let mut out = Vec::new();
    for i in 1..=64u32 {
        let back = u64::MAX >> (64 - i); // 2^i - 1
        match block.checked_sub(back) {
            Some(k) if k >= first_block => out.push(k),
            _ => break,
        }
    }
    out
}

/// Core's `make_snapshot_from_ops_hash`: the consensus hash of a block from
/// its `ops_hash` and the consensus hashes at [`prev_consensus_heights`]
/// (any order: they are sorted here, as hex strings).
pub fn consensus_hash(ops_hash: &str, prev: &[ConsensusHash]) -> Result<ConsensusHash, ConsensusError> {
    let mut all: Vec<String> = prev.iter().map(ConsensusHash::to_hex).collect();
    all.push(ops_hash.to_string());
    all.sort();
    let root = hex::decode(merkle_root(&all)?)
        .map_err(|_| ConsensusError::NotHex { index: all.len(), leaf: ops_hash.to_string() })?;
    let mut out = [0u8; 16];
    out.copy_from_slice(&hash160(&root)[..16]);
    Ok(ConsensusHash(out))
}

#[cfg(test)]
#[path = "consensus_tests.rs"]
mod tests;
