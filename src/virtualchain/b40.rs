//! Base-40 name encoding and the name / namespace-id syntax rules (SPEC.md §2, §4).
//!
//! ```text
//! alphabet  0123456789abcdefghijklmnopqrstuvwxyz-_.+   (digit values 0..=39)
//!
//! b40_to_bin("muneeb.id")
//!   = "muneeb.id" read as a big-endian base-40 integer   149190078205533
//!   -> minimal big-endian bytes (one 0x00 for zero)       87 b0 05 9d 8e 5d
//! ```
//!
//! Leading `0` characters carry no value, so `b40_to_bin` is not injective:
//! `"0a"` and `"a"` give the same bytes, exactly as in Blockstack Core.

/// The base-40 alphabet, indexed by digit value.
pub const B40_CHARS: &[u8; 40] = b"0123456789abcdefghijklmnopqrstuvwxyz-_.+";

/// Longest fully-qualified name, in bytes (`LENGTHS['blockchain_id_name']`).
pub const MAX_NAME_LEN: usize = 37;

/// Longest namespace id, in bytes (`LENGTHS['blockchain_id_namespace_id']`).
pub const MAX_NAMESPACE_ID_LEN: usize = 19;

/// Error converting text to base-40.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum B40Error {
    /// A byte outside the base-40 alphabet.
    #[error("byte 0x{byte:02x} at offset {offset} is not in the base-40 alphabet")]
    BadChar {
        /// Byte offset in the input.
        offset: usize,
        /// The offending byte.
        byte: u8,
    },
}

/// The digit value of `c` in the base-40 alphabet, if it is in it.
pub fn b40_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'z' => Some(c - b'a' + 10),
        b'-' => Some(36),
        b'_' => Some(37),
        b'.' => Some(38),
        b'+' => Some(39),
        _ => None,
    }
}

/// True if every byte of `s` is in the base-40 alphabet (the empty string is).
pub fn is_b40(s: &str) -> bool {
    s.bytes().all(|c| b40_digit(c).is_some())
}

/// Reads `s` as a big-endian base-40 integer and returns its minimal
/// big-endian bytes (`[0x00]` for zero), like Core's `b40_to_bin`.
pub fn b40_to_bin(s: &str) -> Result<Vec<u8>, B40Error> {
    let mut num: Vec<u8> = Vec::new();
    for (offset, byte) in s.bytes().enumerate() {
        let digit = b40_digit(byte).ok_or(B40Error::BadChar { offset, byte })?;
        mul_add(&mut num, 40, u32::from(digit));
    }
    if num.is_empty() {
        num.push(0);
    }
    Ok(num)
}

/// Reads `bytes` as a big-endian integer and writes it in base 40 without
/// leading zeros (`"0"` for zero), like Core's `bin_to_b40`.
pub fn bin_to_b40(bytes: &[u8]) -> String {
    let mut num: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    let mut digits: Vec<u8> = Vec::new();
    while !num.is_empty() {
        let mut rem: u32 = 0;
        for b in num.iter_mut() {
            let cur = (rem << 8) | u32::from(*b);
            // cur < 40 * 256, so the quotient fits in a byte.
            *b = (cur / 40) as u8;
            rem = cur % 40;
        }
        digits.push(B40_CHARS[rem as usize]);
        let zeros = num.iter().take_while(|b| **b == 0).count();
        num.drain(..zeros);
    }
    if digits.is_empty() {
        digits.push(B40_CHARS[0]);
    }
    digits.reverse();
    digits.into_iter().map(char::from).collect()
}

/// `num = num * mul + add` on a big-endian byte vector (empty = zero).
fn mul_add(num: &mut Vec<u8>, mul: u32, add: u32) {
    let mut carry = add;
    for b in num.iter_mut().rev() {
        let v = u32::from(*b) * mul + carry;
        *b = (v & 0xff) as u8;
        carry = v >> 8;
    }
    while carry > 0 {
        num.insert(0, (carry & 0xff) as u8);
        carry >>= 8;
    }
}

/// Core's `is_namespace_valid`: 1..=19 base-40 bytes without `.` or `+`.
///
/// Core's regex also lets one trailing `\n` through (Python's `$`); bns does
/// not: such an id can never be revealed (hashing it raises in Core).
pub fn is_namespace_id_valid(ns: &str) -> bool {
    !ns.is_empty()
        && ns.len() <= MAX_NAMESPACE_ID_LEN
        && ns.bytes().all(|c| b40_digit(c).is_some() && c != b'.' && c != b'+')
}

/// Core's `is_name_valid` for a fully-qualified `name.namespace`: exactly one
/// `.`, a non-empty base-40 name part without `+`, a valid namespace id, and
/// at most 37 bytes in all.
pub fn is_name_valid(fqn: &str) -> bool {
    if fqn.len() > MAX_NAME_LEN {
        return false;
    }
    let Some((name, ns)) = fqn.split_once('.') else {
        return false;
    };
    !name.is_empty()
        && name.bytes().all(|c| b40_digit(c).is_some() && c != b'.' && c != b'+')
        && is_namespace_id_valid(ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_vectors() {
        assert_eq!(hex::encode(b40_to_bin("muneeb.id").unwrap()), "87b0059d8e5d");
        assert_eq!(hex::encode(b40_to_bin("patrickstanley.id").unwrap()), "0381b828fc90005bc6ed845d");
        assert_eq!(bin_to_b40(&hex::decode("87b0059d8e5d").unwrap()), "muneeb.id");
    }

    #[test]
    fn core_doctests() {
        // charset_to_int / int_to_charset doctests in Core's b40.py.
        assert_eq!(b40_to_bin("abcd").unwrap(), 658093u32.to_be_bytes()[1..].to_vec());
        assert_eq!(b40_to_bin("10").unwrap(), vec![40]);
        assert_eq!(b40_to_bin("0").unwrap(), vec![0]);
        assert_eq!(b40_to_bin("").unwrap(), vec![0]);
        assert_eq!(b40_to_bin("00a").unwrap(), vec![10]);
        assert_eq!(bin_to_b40(&[]), "0");
        assert_eq!(bin_to_b40(&[0, 0]), "0");
        assert_eq!(bin_to_b40(&[40]), "10");
        assert_eq!(b40_to_bin("A"), Err(B40Error::BadChar { offset: 0, byte: b'A' }));
        assert!(b40_to_bin("ab\n").is_err());
    }

    #[test]
    fn round_trip_without_leading_zeros() {
        for s in ["a", "zz", "muneeb.id", "a-b_c.d+e", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz.zzz"] {
            assert_eq!(bin_to_b40(&b40_to_bin(s).unwrap()), s);
        }
    }

    #[test]
    fn name_rules_match_core_doctests() {
        for (fqn, ok) in [
            ("abcd", false),
            ("abcd.", false),
            (".abcd", false),
            ("Abcd.abcd", false),
            ("abcd.abc.d", false),
            ("abcd.abc+d", false),
            ("a.b.c", false),
            ("", false),
            ("abcdabcdabcdabcdabcdabcdabcdabcda.bcd", true),
            ("abcdabcdabcdabcdabcdabcdabcdabcdab.bcd", false),
            ("abcdabcdabcdabcdabcdabcdabcdabcdabc.d", true),
            ("a+b.c", false),
            ("a_b.c", true),
            ("muneeb.id\n", false),
        ] {
            assert_eq!(is_name_valid(fqn), ok, "{fqn:?}");
        }
        for (ns, ok) in [
            ("abcd", true),
            ("+abcd", false),
            ("abc.def", false),
            (".abcd", false),
            ("abcdabcdabcdabcdabcd", false),
            ("abcdabcdabcdabcdabc", true),
            ("", false),
        ] {
            assert_eq!(is_namespace_id_valid(ns), ok, "{ns:?}");
        }
    }
}
