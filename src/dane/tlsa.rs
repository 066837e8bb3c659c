//! TLSA rdata (RFC 6698 §2.1): usage, selector, matching type, data; and
//! whether a certificate matches. bns pins keys, so usages 3 (DANE-EE) and
//! 1 (PKIX-EE: bns has no PKIX path check, the key pin alone is enforced)
//! are matched against the server's own certificate; 0 and 2 (trust anchors
//! in the chain) are not supported and never match.

use sha2::{Digest, Sha256, Sha512};

/// One TLSA record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlsa {
    pub usage: u8,
    pub selector: u8,
    pub matching: u8,
    pub data: Vec<u8>,
}

impl Tlsa {
    /// From rdata in wire form.
    pub fn parse(rdata: &[u8]) -> Option<Tlsa> {
        let (&usage, rest) = rdata.split_first()?;
        let (&selector, rest) = rest.split_first()?;
        let (&matching, data) = rest.split_first()?;
        Some(Tlsa { usage, selector, matching, data: data.to_vec() })
    }

    /// Whether the server certificate `cert` (DER) with public key `spki`
    /// (SubjectPublicKeyInfo DER) matches this record.
    pub fn matches(&self, cert: &[u8], spki: &[u8]) -> bool {
        if !matches!(self.usage, 1 | 3) {
            return false;
        }
        let content = match self.selector {
            0 => cert,
            1 => spki,
            _ => return false,
        };
        match self.matching {
            0 => content == self.data.as_slice(),
            1 => Sha256::digest(content).as_slice() == self.data.as_slice(),
            2 => Sha512::digest(content).as_slice() == self.data.as_slice(),
            _ => false,
        }
    }
}

impl std::fmt::Display for Tlsa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {} {}", self.usage, self.selector, self.matching, hex::encode(&self.data))
    }
}

/// The owner of a service's TLSA records: `_PORT._tcp.NAME`.
pub fn owner(name: &str, port: u16) -> String {
    format!("_{port}._tcp.{}", name.trim_end_matches('.').to_ascii_lowercase())
}
