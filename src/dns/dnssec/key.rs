//! The per-install signing key: created at first start, kept as PKCS#8 in
//! the data dir with mode 0600, never logged. One key signs everything
//! (a combined signing key, flags 257: zone key + secure entry point).

use std::path::Path;

use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use sha2::{Digest, Sha256};

use super::ALGORITHM;

/// DNSKEY flags: zone key (bit 7) and secure entry point (bit 15).
pub const FLAGS: u16 = 257;

/// Why a key could not be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum DnssecError {
    /// The key file could not be read or written.
    #[error("DNSSEC key {path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// The key file does not hold a P-256 PKCS#8 key.
    #[error("DNSSEC key {path} is not an ECDSA P-256 PKCS#8 key ({why}); move it away to make a new key (validators must then get the new anchor: `bns dnssec anchor`)")]
    Bad { path: String, why: String },
}

/// The signing key with its DNSKEY rdata and key tag.
pub struct ZoneKey {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
    dnskey: Vec<u8>,
    tag: u16,
}

impl std::fmt::Debug for ZoneKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ZoneKey(tag {}, algorithm {ALGORITHM}, private key ***)", self.tag)
    }
}

impl ZoneKey {
    /// Reads the key at `path`, or makes one and writes it there (0600,
    /// durably) if there is none. Returns whether it was made.
    pub fn load_or_create(path: &Path) -> Result<(ZoneKey, bool), DnssecError> {
        let io = |source| DnssecError::Io { path: path.display().to_string(), source };
        match std::fs::read(path) {
            Ok(der) => Ok((
                Self::from_pkcs8(&der).map_err(|why| DnssecError::Bad { path: path.display().to_string(), why })?,
                false,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let rng = SystemRandom::new();
                let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map_err(|_| io(std::io::Error::other("no randomness for a new key")))?;
                crate::fsutil::write_durable(path, doc.as_ref(), Some(0o600)).map_err(io)?;
                let key = Self::from_pkcs8(doc.as_ref())
                    .map_err(|why| DnssecError::Bad { path: path.display().to_string(), why })?;
                Ok((key, true))
            }
            Err(e) => Err(io(e)),
        }
    }

    /// The key in PKCS#8 DER `der`.
    pub fn from_pkcs8(der: &[u8]) -> Result<ZoneKey, String> {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng).map_err(|e| e.to_string())?;
        let point = pair.public_key().as_ref();
        let mut dnskey = Vec::with_capacity(4 + 64);
        dnskey.extend_from_slice(&FLAGS.to_be_bytes());
        dnskey.extend_from_slice(&[3, ALGORITHM]);
        dnskey.extend_from_slice(&point[1..]);
        let tag = key_tag(&dnskey);
        Ok(ZoneKey { pair, rng, dnskey, tag })
    }

    /// DNSKEY rdata: flags, protocol 3, algorithm 13, the public point X‖Y.
    pub fn dnskey(&self) -> &[u8] {
        &self.dnskey
    }

    /// Key tag (RFC 4034 appendix B).
    pub fn tag(&self) -> u16 {
        self.tag
    }

    /// SHA-256 DS digest of this key at zone `zone_wire` (lowercase wire name).
    pub fn ds_digest(&self, zone_wire: &[u8]) -> [u8; 32] {
        ds_digest(zone_wire, &self.dnskey)
    }

    /// The 64-byte signature (r‖s) of `data`.
    pub fn sign(&self, data: &[u8]) -> Vec<u8> {
        self.pair.sign(&self.rng, data).map(|s| s.as_ref().to_vec()).unwrap_or_default()
    }
}

/// SHA-256 DS digest (digest type 2) of DNSKEY rdata `dnskey` at `zone_wire`.
pub fn ds_digest(zone_wire: &[u8], dnskey: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(zone_wire);
    h.update(dnskey);
    h.finalize().into()
}

/// RFC 4034 appendix B key tag of DNSKEY rdata.
pub fn key_tag(rdata: &[u8]) -> u16 {
    let mut ac: u32 = 0;
    for (i, b) in rdata.iter().enumerate() {
        ac += if i & 1 == 1 { u32::from(*b) } else { u32::from(*b) << 8 };
    }
    ac += (ac >> 16) & 0xffff;
    (ac & 0xffff) as u16
}
