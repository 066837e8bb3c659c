//! The zone-file layer's error: the conditions that reject a whole file.
//!
//! A line that merely fails to parse is not an error: it becomes a warning in
//! [`ZoneFile::warnings`](super::ZoneFile::warnings) and parsing goes on.

use crate::hash::ValueHash;

/// Longest name quoted in an error message, in characters; longer names are cut.
const SHOWN_NAME_CHARS: usize = 80;

/// Why a zone file was rejected as a whole.
///
/// Line numbers are 1-based; line 0 stands for the `default_origin` argument of
/// [`parse`](super::parse). Names quoted in the variants are cut to 80
/// characters (with a trailing `...`), so a hostile file cannot make an error
/// message as large as itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ZoneFileError {
    /// The file is larger than [`MAX_ZONEFILE_LEN`](super::MAX_ZONEFILE_LEN).
    #[error("zone file is {len} bytes, more than the limit of {max}")]
    TooLarge {
        /// Size of the file in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The file's hash160 is not the hash the caller expected.
    #[error("zone file hash is {actual}, expected {expected}")]
    HashMismatch {
        /// The hash the caller asked for.
        expected: ValueHash,
        /// The hash of the bytes given.
        actual: ValueHash,
    },
    /// A relative name (or `@`) appears while neither `$ORIGIN` nor a default origin is known.
    #[error("line {line}: relative name '{name}' with no origin")]
    NoOrigin {
        /// Line of the name.
        line: usize,
        /// The name as written.
        name: String,
    },
    /// A name has an empty label (`a..b`, `.a`).
    #[error("line {line}: name '{name}' has an empty label")]
    EmptyLabel {
        /// Line of the name.
        line: usize,
        /// The name as written.
        name: String,
    },
    /// A label is longer than 63 bytes.
    #[error("line {line}: name '{name}' has a label of {len} bytes, more than 63")]
    LabelTooLong {
        /// Line of the name.
        line: usize,
        /// The name as written.
        name: String,
        /// Length of the longest label, in bytes.
        len: usize,
    },
    /// An absolute name is longer than 253 bytes (255 on the wire).
    #[error("line {line}: name '{name}' is {len} bytes, more than 253")]
    NameTooLong {
        /// Line of the name.
        line: usize,
        /// The absolute name (possibly cut).
        name: String,
        /// Length of the absolute name without its trailing dot, in bytes.
        len: usize,
    },
}

/// A name cut to [`SHOWN_NAME_CHARS`] characters for an error message.
pub(crate) fn shown(name: &str) -> String {
    if name.chars().count() <= SHOWN_NAME_CHARS {
        return name.to_string();
    }
    let mut s: String = name.chars().take(SHOWN_NAME_CHARS).collect();
    s.push_str("...");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_lowercase_and_carry_numbers() {
        let cases: Vec<(ZoneFileError, &str)> = vec![
            (
                ZoneFileError::TooLarge { len: 50_000, max: 40_960 },
                "zone file is 50000 bytes, more than the limit of 40960",
            ),
            (ZoneFileError::NoOrigin { line: 3, name: "www".into() }, "line 3: relative name 'www' with no origin"),
            (
                ZoneFileError::LabelTooLong { line: 2, name: "x".into(), len: 64 },
                "line 2: name 'x' has a label of 64 bytes, more than 63",
            ),
        ];
        for (err, text) in cases {
            assert_eq!(err.to_string(), text);
        }
    }

    #[test]
    fn shown_cuts_long_names_on_char_boundaries() {
        assert_eq!(shown("abc"), "abc");
        let long = "é".repeat(100);
        let s = shown(&long);
        assert_eq!(s.chars().count(), SHOWN_NAME_CHARS + 3);
        assert!(s.ends_with("..."));
    }
}
