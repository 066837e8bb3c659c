//! bns
pub mod hash;
pub mod zonefile;
