//! Hash primitives and hash newtypes shared by every layer (SPEC.md §2).
//!
//! Each hash BNS carries has its own type, so a consensus hash can never be
//! passed where a zone-file hash belongs. All of them display as lowercase hex
//! in byte order (no reversal: BNS hashes are not Bitcoin txids).

use ripemd::Ripemd160;
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// SHA-256 applied twice (Bitcoin's `dsha`).
pub fn dsha256(data: &[u8]) -> [u8; 32] {
    sha256(&sha256(data))
}

/// RIPEMD-160 of SHA-256 of `data`.
pub fn hash160(data: &[u8]) -> [u8; 20] {
    Ripemd160::digest(sha256(data)).into()
}

/// First 16 bytes of SHA-256 of `data` (Core's `hash256_trunc128`).
pub fn hash128(data: &[u8]) -> [u8; 16] {
    let full = sha256(data);
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

/// Error parsing a hash from hex.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HashParseError {
    /// The text was not hexadecimal.
    #[error("not hex: {0}")]
    NotHex(String),
    /// The decoded hash had the wrong length.
    #[error("expected {expected} bytes, got {got}")]
    Length {
        /// Bytes required by the type.
        expected: usize,
        /// Bytes found.
        got: usize,
    },
}

macro_rules! hash_newtype {
    ($(#[$meta:meta])* $name:ident, $len:expr) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// Length of this hash in bytes.
            pub const LEN: usize = $len;

            /// Builds the hash from a slice, which must be exactly `LEN` bytes.
            pub fn from_slice(bytes: &[u8]) -> Result<Self, HashParseError> {
                let arr: [u8; $len] = bytes.try_into().map_err(|_| HashParseError::Length {
                    expected: $len,
                    got: bytes.len(),
                })?;
                Ok(Self(arr))
            }

            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }

            /// Lowercase hex, in byte order.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex::encode(self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), hex::encode(self.0))
            }
        }

        impl FromStr for $name {
            type Err = HashParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let bytes = hex::decode(s).map_err(|_| HashParseError::NotHex(s.to_string()))?;
                Self::from_slice(&bytes)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_hex())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

hash_newtype!(
    /// hash160 of a zone file: the value a name points at.
    ValueHash,
    20
);
hash_newtype!(
    /// hash160 committed by a name or namespace preorder.
    PreorderHash,
    20
);
hash_newtype!(
    /// A block's 16-byte consensus hash.
    ConsensusHash,
    16
);
hash_newtype!(
    /// `hash128(fqn)`, as carried by a transfer.
    NameHash128,
    16
);
hash_newtype!(
    /// `hash128(fqn + consensus_hash_hex)`, as carried by an update.
    NameConsensusHash,
    16
);
hash_newtype!(
    /// 20-byte message hash carried by an announce.
    AnnounceHash,
    20
);

impl ValueHash {
    /// The zone-file hash of `zonefile` (hash160 of its raw bytes).
    pub fn of_zonefile(zonefile: &[u8]) -> Self {
        Self(hash160(zonefile))
    }
}

impl NameHash128 {
    /// `hash128(fqn)`.
    pub fn of_name(fqn: &str) -> Self {
        Self(hash128(fqn.as_bytes()))
    }
}

impl NameConsensusHash {
    /// `hash128(fqn + consensus_hash_hex)`.
    pub fn of(fqn: &str, ch: &ConsensusHash) -> Self {
        let mut s = String::with_capacity(fqn.len() + 32);
        s.push_str(fqn);
        s.push_str(&ch.to_hex());
        Self(hash128(s.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash128_vector_from_wire_format_doc() {
        let ch: ConsensusHash = "8d8762c37d82360b84cf4d87f32f7754".parse().unwrap();
        assert_eq!(NameConsensusHash::of("jude.id", &ch).to_hex(), "d1062edb9ec9c85ad1aca6d37f2f5793");
    }

    #[test]
    fn name_hash128_vectors() {
        assert_eq!(NameHash128::of_name("muneeb.id").to_hex(), "deb7fe99776122b77925cbf0a24ab6f8");
        assert_eq!(NameHash128::of_name("ablankstein.id").to_hex(), "943b8e0613d975c05a05ccd5472e2a72");
        assert_eq!(NameHash128::of_name("fpenrose.id").to_hex(), "7af28a9834934a0af81a19ee14a45f8e");
    }

    #[test]
    fn zonefile_hash_vector() {
        let zf =
            "$ORIGIN muneeb.id\n$TTL 3600\n_http._tcp IN URI 10 1 \"https://blockstack.s3.amazonaws.com/muneeb.id\"\n";
        assert_eq!(ValueHash::of_zonefile(zf.as_bytes()).to_hex(), "b100a68235244b012854a95f9114695679002af9");
    }

    #[test]
    fn parse_rejects_wrong_length_and_non_hex() {
        assert!(matches!("abcd".parse::<ConsensusHash>(), Err(HashParseError::Length { expected: 16, got: 2 })));
        assert!(matches!("zz".parse::<ValueHash>(), Err(HashParseError::NotHex(_))));
    }
}
