//! Which namespace ids collide with names the rest of the DNS already owns.
//!
//! Anyone can reveal a namespace on Bitcoin for a fee, so a reveal of `com`
//! must not take `.com` away from a bns user. A namespace id that is an ICANN
//! top-level domain (the ICANN section of the public suffix list, compiled
//! into the binary by the `psl` crate) or a special-use name (RFC 6761 and
//! its successors) defaults to [`Policy::Icann`]: forwarded, never answered
//! from the chain, unless the user opts it in with `--namespace-policy`.

use super::forward::Policy;

/// Special-use top-level names (IANA's special-use domain registry): not
/// delegated in the root zone, handled by resolvers or kept for local use.
const SPECIAL_USE: &[&str] = &["alt", "arpa", "example", "internal", "invalid", "local", "localhost", "onion", "test"];

/// Why a namespace id is not BNS's to answer by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reserved {
    /// A top-level domain of the ICANN root zone.
    IcannTld,
    /// A special-use name (RFC 6761, RFC 6762, RFC 7686, RFC 9476, ...).
    SpecialUse,
}

impl Reserved {
    /// A short reason, for `bns namespaces` and logs.
    pub fn reason(self) -> &'static str {
        match self {
            Reserved::IcannTld => "an ICANN top-level domain",
            Reserved::SpecialUse => "a special-use name (RFC 6761)",
        }
    }
}

/// Whether the single label `ns` (any case) is reserved outside BNS.
pub fn reserved(ns: &str) -> Option<Reserved> {
    if ns.is_empty() || ns.len() > 63 || ns.contains('.') {
        return None;
    }
    let mut buf = [0u8; 63];
    let lower = &mut buf[..ns.len()];
    lower.copy_from_slice(ns.as_bytes());
    lower.make_ascii_lowercase();
    if SPECIAL_USE.iter().any(|s| s.as_bytes() == lower) {
        return Some(Reserved::SpecialUse);
    }
    let icann = psl::suffix(lower)
        .is_some_and(|s| s.typ() == Some(psl::Type::Icann) && s.is_known() && s.as_bytes() == &lower[..]);
    icann.then_some(Reserved::IcannTld)
}

/// The policy of a namespace nobody configured: `icann` if its id is
/// reserved outside BNS, else `bns`.
pub fn default_policy(ns: &str) -> Policy {
    match reserved(ns) {
        Some(_) => Policy::Icann,
        None => Policy::Bns,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icann_tlds_and_special_use_names_are_reserved() {
        for tld in ["com", "COM", "org", "net", "id", "io", "de", "xn--p1ai", "app"] {
            assert_eq!(reserved(tld), Some(Reserved::IcannTld), "{tld}");
        }
        for name in ["localhost", "onion", "local", "test", "invalid", "arpa", "alt", "example"] {
            assert_eq!(reserved(name), Some(Reserved::SpecialUse), "{name}");
        }
        // BNS's own namespaces on mainnet that ICANN never delegated.
        for ns in ["btc", "podcast", "helloworld", "graphite", "stacks", "miner"] {
            assert_eq!(reserved(ns), None, "{ns}");
        }
        for junk in ["", "a.b", "co.uk", &"x".repeat(64)] {
            assert_eq!(reserved(junk), None, "{junk:?}");
        }
        assert_eq!(default_policy("com"), Policy::Icann);
        assert_eq!(default_policy("btc"), Policy::Bns);
    }
}
