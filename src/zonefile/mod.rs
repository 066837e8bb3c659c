//! Zone files: RFC 1035 text as BNS names carry it (SPEC.md §5). Pure: no I/O.
//!
//! A zone file is hostile input. Parsing never panics; it returns the records it
//! understood plus a warning for each line it skipped, or an error when the file
//! breaks a hard limit (size, hash, DNS name limits, a relative name with no
//! origin). Any bytes are accepted: invalid UTF-8 only costs the lines where it
//! lands in a name or URI (TXT strings are bytes).
//!
//! Entry points: [`parse`], [`check`] and [`check_with_origin`] (size, then
//! hash160, then parse), and the lookup helpers [`ZoneFile::records_for`] and
//! [`ZoneFile::has_names_below`].

use std::net::{Ipv4Addr, Ipv6Addr};

#[cfg(test)]
mod corpus_tests;
mod error;
mod lexer;
mod lookup;
mod name;
mod parse;
mod rdata;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod vector_tests;

pub use error::ZoneFileError;
pub use name::{MAX_LABEL_LEN, MAX_NAME_LEN};
pub use parse::{check, check_with_origin, parse, MAX_TTL};
pub use rdata::MAX_CHARACTER_STRING;

/// Largest zone file BNS accepts (Core's `RPC_MAX_ZONEFILE_LEN`).
pub const MAX_ZONEFILE_LEN: usize = 40_960;

/// TTL used when neither the record nor `$TTL` gives one.
pub const DEFAULT_TTL: u32 = 3600;

/// A parsed zone file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneFile {
    /// `$ORIGIN`, lowercase, without trailing dot, if the file has one.
    pub origin: Option<String>,
    /// `$TTL`, if the file has one.
    pub ttl: Option<u32>,
    /// Records in file order.
    pub records: Vec<ZoneRecord>,
    /// One message per line that was skipped (line number and reason).
    pub warnings: Vec<String>,
}

/// One resource record, with an absolute owner name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneRecord {
    /// Absolute owner, lowercase, no trailing dot (`werner.id`, `_443._tcp.werner.id`).
    pub owner: String,
    /// TTL in seconds.
    pub ttl: u32,
    /// The record's data.
    pub data: RecordData,
}

/// Record data for the types BNS zone files use.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordData {
    /// IPv4 address.
    A(Ipv4Addr),
    /// IPv6 address.
    Aaaa(Ipv6Addr),
    /// Canonical name (absolute, no trailing dot).
    Cname(String),
    /// Mail exchange.
    Mx {
        /// Preference.
        preference: u16,
        /// Exchange host (absolute, no trailing dot).
        exchange: String,
    },
    /// Name server (absolute, no trailing dot).
    Ns(String),
    /// Text: one or more character-strings, each at most 255 bytes.
    Txt(Vec<Vec<u8>>),
    /// Service locator.
    Srv {
        /// Priority.
        priority: u16,
        /// Weight.
        weight: u16,
        /// Port.
        port: u16,
        /// Target host (absolute, no trailing dot).
        target: String,
    },
    /// URI record (RFC 7553).
    Uri {
        /// Priority.
        priority: u16,
        /// Weight.
        weight: u16,
        /// Target URI.
        target: String,
    },
    /// TLSA certificate association (RFC 6698).
    Tlsa {
        /// Certificate usage.
        usage: u8,
        /// Selector.
        selector: u8,
        /// Matching type.
        matching: u8,
        /// Association data.
        data: Vec<u8>,
    },
}
