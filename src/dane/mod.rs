//! DANE for BNS names (RFC 6698, RFC 7671): TLSA records from the chain's
//! zone files pin a server's key. `tlsa` parses and matches records;
//! `cert` makes a key and certificate for a name and the TLSA line for its
//! zone file; `probe` connects to a server and checks its key against the
//! name's TLSA records.

pub mod cert;
pub mod probe;
pub mod tlsa;
