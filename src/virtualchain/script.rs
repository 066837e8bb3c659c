//! Script reading exactly as virtualchain does it (`btc_script_deserialize`,
//! `btc_script_classify`, `btc_script_hex_to_address`), quirks included.
//!
//! ```text
//! byte      0x00        0x01..=0x4b      0x4c/0x4d/0x4e            0x4f..=0x60      other
//! token     OP_0        push N bytes     PUSHDATA1/2/4 + LE len    small int        opcode
//!           (None)      (data)           (data)                    (int)            (int)
//! ```
//!
//! Truncated pushes are NOT errors: the push just holds the bytes that are
//! there (Python slicing), which is what Core saw.

use bitcoin::{Address, Network, NetworkKind, Script};

/// One element of a script as virtualchain's deserializer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token<'a> {
    /// `OP_0` (Python `None`).
    Zero,
    /// A data push (Python `str`), possibly truncated.
    Push(&'a [u8]),
    /// Any other opcode, including `OP_1NEGATE..OP_16` (Python `int`).
    Op(u8),
}

/// Splits `script` into tokens the way `btc_script_deserialize` does.
pub(crate) fn tokenize(script: &[u8]) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    let len = script.len();
    while pos < len {
        let code = script[pos];
        match code {
            0 => {
                out.push(Token::Zero);
                pos += 1;
            }
            1..=75 => {
                let start = pos + 1;
                let end = start.saturating_add(usize::from(code));
                out.push(Token::Push(slice(script, start, end)));
                pos = end;
            }
            76..=78 => {
                let width = 1usize << (code - 76);
                // Little-endian length from the bytes that exist.
                let size = slice(script, pos + 1, pos + 1 + width)
                    .iter()
                    .rev()
                    .fold(0usize, |acc, b| acc.saturating_mul(256).saturating_add(usize::from(*b)));
                let start = pos + 1 + width;
                let end = start.saturating_add(size);
                out.push(Token::Push(slice(script, start, end)));
                pos = end;
            }
            _ => {
                out.push(Token::Op(code));
                pos += 1;
            }
        }
    }
    out
}

/// Python's `s[start:end]` for `0 <= start`, `start <= end`.
fn slice(s: &[u8], start: usize, end: usize) -> &[u8] {
    let start = start.min(s.len());
    let end = end.clamp(start, s.len());
    &s[start..end]
}

/// `btc_script_classify` without private-key hints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScriptClass {
    /// `76 a9 14 <20> 88 ac`.
    P2pkh,
    /// `a9 14 <20> 87`.
    P2sh,
    /// `00 14 <20>`.
    P2wpkh,
    /// `00 20 <32>`.
    P2wsh,
    /// Starts with `OP_RETURN`.
    Nulldata,
    /// Anything else (multisig, p2pk, nonstandard, empty).
    Other,
}

/// Classifies an output script like virtualchain.
pub(crate) fn classify(script: &[u8]) -> ScriptClass {
    match script {
        [0x76, 0xa9, 0x14, .., 0x88, 0xac] if script.len() == 25 => ScriptClass::P2pkh,
        [0xa9, 0x14, .., 0x87] if script.len() == 23 => ScriptClass::P2sh,
        [0x00, 0x14, ..] if script.len() == 22 => ScriptClass::P2wpkh,
        [0x00, 0x20, ..] if script.len() == 34 => ScriptClass::P2wsh,
        [0x6a, ..] => ScriptClass::Nulldata,
        _ => ScriptClass::Other,
    }
}

/// Whether Core's `check_tx_output_types` accepts this output script
/// (nulldata, p2pkh or p2sh in every epoch).
pub(crate) fn is_supported_output(script: &[u8]) -> bool {
    matches!(classify(script), ScriptClass::Nulldata | ScriptClass::P2pkh | ScriptClass::P2sh)
}

/// The 20-byte hash inside a p2pkh or p2sh script.
pub(crate) fn embedded_hash160(script: &[u8]) -> Option<[u8; 20]> {
    let range = match classify(script) {
        ScriptClass::P2pkh => 3..23,
        ScriptClass::P2sh => 2..22,
        _ => return None,
    };
    script[range].try_into().ok()
}

/// Base58check address of a p2pkh / p2sh script for `network`.
pub(crate) fn base58_address(script: &[u8], network: Network) -> Option<String> {
    let main = NetworkKind::from(network) == NetworkKind::Main;
    let version = match (classify(script), main) {
        (ScriptClass::P2pkh, true) => 0x00,
        (ScriptClass::P2pkh, false) => 0x6f,
        (ScriptClass::P2sh, true) => 0x05,
        (ScriptClass::P2sh, false) => 0xc4,
        _ => return None,
    };
    let hash = embedded_hash160(script)?;
    Some(base58check(version, &hash))
}

/// `btc_script_hex_to_address`: base58 for p2pkh / p2sh, bech32 for v0
/// p2wpkh / p2wsh, `None` otherwise.
///
/// Core renders the segwit cases with witness version 1 (a virtualchain
/// quirk); bns renders them as standard v0 addresses. Only a renewal's
/// payment output can reach this branch, and such a renewal fails its
/// payment check either way.
pub(crate) fn script_address(script: &[u8], network: Network) -> Option<String> {
    match classify(script) {
        ScriptClass::P2pkh | ScriptClass::P2sh => base58_address(script, network),
        ScriptClass::P2wpkh | ScriptClass::P2wsh => {
            Address::from_script(Script::from_bytes(script), network).ok().map(|a| a.to_string())
        }
        _ => None,
    }
}

/// `base58check(version || payload)`.
pub(crate) fn base58check(version: u8, payload: &[u8]) -> String {
    let mut data = Vec::with_capacity(1 + payload.len());
    data.push(version);
    data.extend_from_slice(payload);
    let Ok(key) = <[u8; 21]>::try_from(data.as_slice()) else {
        return bitcoin::base58::encode_check(&data);
    };
    // The same few addresses (a funder, the burn address) recur in op after
    // op, and base58check is a double sha256 plus a quadratic division.
    ADDRESS_MEMO.with(|memo| {
        let mut memo = memo.borrow_mut();
        if let Some(a) = memo.get(&key) {
            return a.clone();
        }
        if memo.len() >= MEMO_CAP {
            memo.clear();
        }
        let address = bitcoin::base58::encode_check(&data);
        memo.insert(key, address.clone());
        address
    })
}

/// Entries a per-thread memo holds before it starts over.
pub(crate) const MEMO_CAP: usize = 1024;

thread_local! {
    static ADDRESS_MEMO: std::cell::RefCell<std::collections::HashMap<[u8; 21], String>> =
        std::cell::RefCell::default();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_matches_python_slicing() {
        assert_eq!(tokenize(&[]), vec![]);
        assert_eq!(tokenize(&[0x6a]), vec![Token::Op(0x6a)]);
        assert_eq!(tokenize(&[0x6a, 0x00]), vec![Token::Op(0x6a), Token::Zero]);
        assert_eq!(tokenize(&[0x6a, 0x52]), vec![Token::Op(0x6a), Token::Op(0x52)]);
        // Truncated direct push keeps what is there.
        assert_eq!(tokenize(&[0x6a, 0x05, b'i', b'd']), vec![Token::Op(0x6a), Token::Push(b"id")]);
        // PUSHDATA1 with no length byte pushes nothing.
        assert_eq!(tokenize(&[0x6a, 0x4c]), vec![Token::Op(0x6a), Token::Push(b"")]);
        // PUSHDATA2 length is little-endian.
        let mut s = vec![0x6a, 0x4d, 0x03, 0x00];
        s.extend_from_slice(b"abcd");
        assert_eq!(tokenize(&s), vec![Token::Op(0x6a), Token::Push(b"abc"), Token::Op(b'd')]);
        // PUSHDATA4 with a huge length does not overflow.
        assert_eq!(tokenize(&[0x4e, 0xff, 0xff, 0xff, 0xff, 1]), vec![Token::Push(&[1])]);
    }

    #[test]
    fn classes_and_addresses() {
        let burn = hex::decode("76a914000000000000000000000000000000000000000088ac").unwrap();
        assert_eq!(classify(&burn), ScriptClass::P2pkh);
        assert_eq!(base58_address(&burn, Network::Bitcoin).as_deref(), Some("1111111111111111111114oLvT2"));
        let p2sh = hex::decode("a914000000000000000000000000000000000000000087").unwrap();
        assert_eq!(classify(&p2sh), ScriptClass::P2sh);
        assert!(base58_address(&p2sh, Network::Bitcoin).unwrap().starts_with('3'));
        assert!(base58_address(&p2sh, Network::Testnet).unwrap().starts_with('2'));
        let wpkh = hex::decode("0014000000000000000000000000000000000000000a").unwrap();
        assert_eq!(classify(&wpkh), ScriptClass::P2wpkh);
        assert!(!is_supported_output(&wpkh));
        assert!(script_address(&wpkh, Network::Bitcoin).unwrap().starts_with("bc1q"));
        assert!(is_supported_output(&[0x6a]));
        assert!(!is_supported_output(&[]));
        assert_eq!(script_address(&[0x6a, 0x01, 0x00], Network::Bitcoin), None);
    }
}
