//! Zone transfers of namespace zones to standard secondaries (Knot, NSD,
//! BIND): AXFR and IXFR over TCP from one snapshot, a journal of one IXFR
//! step per published serial, NOTIFY after each, and the same zone as a
//! master file.
//!
//! What a zone holds is [`content`]'s job; [`journal`] diffs two snapshots
//! into a step; [`serve`] answers requests; [`notify`] tells secondaries;
//! [`text`] writes the master file.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

pub(crate) mod content;
pub mod journal;
pub(crate) mod notify;
pub(crate) mod serve;
#[cfg(test)]
mod tests;
pub mod text;
pub mod tsig;

pub use journal::{record_step, Journal, Step};
pub use text::{export, Exported};
pub use tsig::TsigKey;

/// Who may transfer, and whom to notify.
#[derive(Debug, Clone, Default)]
pub struct Transfers {
    /// Clients allowed AXFR and IXFR (`--allow-transfer`); empty: nobody.
    pub allow: Vec<IpNet>,
    /// Secondaries sent NOTIFY after each new serial (`--notify`).
    pub notify: Vec<SocketAddr>,
    /// TSIG keys (`--tsig-key`): when set, a transfer request must be signed
    /// with one of them, and NOTIFYs are signed with the first.
    pub keys: Vec<TsigKey>,
}

impl Transfers {
    /// True if `ip` may transfer: it is in `allow`, or `allow` is empty and
    /// keys are set (then the signature alone decides).
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        (self.allow.is_empty() && !self.keys.is_empty()) || self.allow.iter().any(|n| n.contains(&ip))
    }

    /// True if transfers or notifications are configured (the journal is then kept).
    pub fn enabled(&self) -> bool {
        !self.allow.is_empty() || !self.notify.is_empty() || !self.keys.is_empty()
    }
}
