//! Online DNSSEC for the namespace zones: one per-install key (ECDSA P-256
//! with SHA-256, algorithm 13, RFC 6605) that signs every RRset bns answers
//! with, compact denial of existence (RFC 9824) for names and types that do
//! not exist, and what a validator needs to trust the key (DNSKEY, DS).
//!
//! Sans-I/O: [`key`] holds the key and its DNSKEY/DS, [`sign`] builds RRSIG
//! rdata from RRsets in wire form, [`denial`] builds NSEC rdata. Reading and
//! writing the key file is [`key::ZoneKey::load_or_create`]'s only I/O.

pub mod denial;
pub mod key;
pub mod online;
pub mod sign;
#[cfg(test)]
mod tests;

pub use key::{DnssecError, ZoneKey};
pub use online::Online;

/// DNSSEC algorithm number of ECDSA P-256 with SHA-256.
pub const ALGORITHM: u8 = 13;
/// RR type numbers used here.
pub const T_RRSIG: u16 = 46;
/// NSEC.
pub const T_NSEC: u16 = 47;
/// DNSKEY.
pub const T_DNSKEY: u16 = 48;
/// DS.
pub const T_DS: u16 = 43;
/// NXNAME (RFC 9824): the NSEC bitmap type that says the name does not exist.
pub const T_NXNAME: u16 = 128;
