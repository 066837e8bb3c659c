//! bns: a Blockstack naming system node built around a local DNS resolver.
//!
//! Data flows one way: [`chain`] → [`virtualchain`] → [`bns`] → [`store`] →
//! faces ([`dns`], [`api`]), with the [`indexer`] driving the first four and [`node`]
//! wiring everything together. See docs/ARCHITECTURE.md.

pub mod api;
pub mod atlas;
pub mod bns;
pub mod chain;
pub mod config;
pub mod dane;
pub mod dns;
pub mod fastsync;
pub mod fsutil;
pub mod hash;
pub mod indexer;
pub mod metrics;
pub mod node;
pub mod store;
pub mod subdomain;
pub mod tx;
pub mod virtualchain;
pub mod zonefile;
