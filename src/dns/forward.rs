//! Forwarding names outside BNS to upstream resolvers, with hickory-resolver's
//! name-server pool (UDP first, TCP when the answer is truncated), and the
//! per-namespace collision [`Policy`].

use std::{
    collections::HashMap,
    fmt,
    net::{IpAddr, SocketAddr},
    str::FromStr,
    sync::Arc,
    time::Duration,
};

use hickory_net::{
    runtime::TokioRuntimeProvider,
    xfer::{DnsHandle, FirstAnswer as _},
    DnsError, NetError,
};
use hickory_proto::{
    op::{DnsRequest, DnsRequestOptions, Query, ResponseCode},
    rr::Record,
};
use hickory_resolver::{
    config::{ConnectionConfig, NameServerConfig, ResolverOpts, ServerOrderingStrategy},
    NameServerPool, PoolContext, TlsConfig,
};
use ipnet::IpNet;
use tracing::debug;

use super::ede::Ede;

/// Default size bound of the answer cache, in bytes.
pub const DEFAULT_CACHE_SIZE: u64 = 32 * 1024 * 1024;

/// How long one forwarded question may take, all upstreams together.
pub const FORWARD_TIMEOUT: Duration = Duration::from_secs(3);

/// What a BNS namespace whose name could also exist in the ICANN DNS answers from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// Answer from the chain only (default).
    #[default]
    Bns,
    /// Ignore the chain: forward every question under this namespace upstream.
    Icann,
    /// Answer from the chain; forward names the chain does not have (not
    /// registered, or expired).
    BnsFirst,
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Policy::Bns => "bns",
            Policy::Icann => "icann",
            Policy::BnsFirst => "bns-first",
        })
    }
}

impl FromStr for Policy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "bns" => Ok(Policy::Bns),
            "icann" => Ok(Policy::Icann),
            "bns-first" => Ok(Policy::BnsFirst),
            other => Err(format!("unknown policy {other:?} (bns, icann or bns-first)")),
        }
    }
}

/// Parses `NS=POLICY` entries (`id=bns-first`) into a map keyed by lowercase namespace.
pub fn parse_policies<S: AsRef<str>>(entries: &[S]) -> Result<HashMap<String, Policy>, String> {
    let mut out = HashMap::new();
    for e in entries {
        let e = e.as_ref();
        let (ns, policy) = e.split_once('=').ok_or_else(|| format!("namespace policy {e:?} is not NS=POLICY"))?;
        let ns = ns.trim().trim_end_matches('.').to_ascii_lowercase();
        if ns.is_empty() || ns.contains('.') {
            return Err(format!("namespace policy {e:?}: {ns:?} is not a namespace id"));
        }
        out.insert(ns, policy.trim().parse()?);
    }
    Ok(out)
}

/// Where names outside BNS go.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Upstreams {
    /// Nowhere: REFUSED.
    #[default]
    None,
    /// These resolvers, tried in order.
    Servers(Vec<SocketAddr>),
}

impl Upstreams {
    /// Parses `--upstream` values: `IP:PORT`, `IP` (port 53), `[v6]:PORT`, or
    /// the single value `none`. An empty list means "not configured".
    pub fn parse<S: AsRef<str>>(values: &[S]) -> Result<Option<Upstreams>, String> {
        if values.is_empty() {
            return Ok(None);
        }
        if values.iter().any(|v| v.as_ref().eq_ignore_ascii_case("none")) {
            if values.len() > 1 {
                return Err("--upstream none cannot be combined with other upstreams".into());
            }
            return Ok(Some(Upstreams::None));
        }
        let mut out = Vec::new();
        for v in values {
            let v = v.as_ref().trim();
            let addr = match v.parse::<SocketAddr>() {
                Ok(a) => a,
                Err(_) => match v.parse::<IpAddr>() {
                    Ok(ip) => SocketAddr::new(ip, 53),
                    Err(_) => return Err(format!("upstream {v:?} is not IP:PORT")),
                },
            };
            out.push(addr);
        }
        Ok(Some(Upstreams::Servers(out)))
    }

    /// The name servers of resolv.conf text, leaving out `own` (bns's own
    /// listen address: forwarding to ourselves would loop).
    pub fn from_resolv_conf(text: &[u8], own: SocketAddr) -> Upstreams {
        let Ok((config, _)) = hickory_resolver::system_conf::parse_resolv_conf(text) else {
            return Upstreams::None;
        };
        let mut out: Vec<SocketAddr> = Vec::new();
        for ns in config.name_servers() {
            let port = ns.connections.first().map(|c| c.port).unwrap_or(53);
            let addr = SocketAddr::new(ns.ip, port);
            let is_self =
                addr == own || (own.ip().is_unspecified() && addr.port() == own.port() && (ns.ip.is_loopback()));
            if !is_self && !out.contains(&addr) {
                out.push(addr);
            }
        }
        if out.is_empty() {
            Upstreams::None
        } else {
            Upstreams::Servers(out)
        }
    }

    /// The default: resolv.conf's name servers other than `own`.
    pub fn system_default(own: SocketAddr) -> Upstreams {
        match std::fs::read("/etc/resolv.conf") {
            Ok(text) => Upstreams::from_resolv_conf(&text, own),
            Err(_) => Upstreams::None,
        }
    }
}

/// Forwarding, policies and cache size of a DNS server.
#[derive(Debug, Clone)]
pub struct ResolverOptions {
    /// Upstream resolvers for names outside BNS.
    pub upstreams: Upstreams,
    /// Collision policy per namespace (lowercase id); absent: see [`ResolverOptions::policy`].
    pub policies: HashMap<String, Policy>,
    /// Bound of the answer cache in bytes (0 disables caching).
    pub cache_size: u64,
    /// Clients whose questions outside BNS are forwarded; others get REFUSED
    /// (an open resolver is a reflector for anyone who can reach the port).
    pub allow_recursion: Vec<IpNet>,
    /// Forwarded questions in flight at most; beyond, SERVFAIL at once.
    pub max_forwards: usize,
}

/// Default of [`ResolverOptions::allow_recursion`]: this host only.
pub fn loopback_nets() -> Vec<IpNet> {
    ["127.0.0.0/8", "::1/128"].iter().map(|n| n.parse().expect("constant network parses")).collect()
}

/// Namespaces answered from the chain although their ids are reserved outside
/// BNS (`id` is Indonesia's TLD): opted in unless the user says otherwise.
pub const DEFAULT_OPT_IN: &[&str] = &["id", "btc"];

/// [`DEFAULT_OPT_IN`] as `bns` policies.
pub fn default_policies() -> HashMap<String, Policy> {
    DEFAULT_OPT_IN.iter().map(|ns| (ns.to_string(), Policy::Bns)).collect()
}

/// Default of [`ResolverOptions::max_forwards`].
pub const DEFAULT_MAX_FORWARDS: usize = 256;

impl Default for ResolverOptions {
    fn default() -> Self {
        ResolverOptions {
            upstreams: Upstreams::None,
            policies: default_policies(),
            cache_size: DEFAULT_CACHE_SIZE,
            allow_recursion: loopback_nets(),
            max_forwards: DEFAULT_MAX_FORWARDS,
        }
    }
}

impl ResolverOptions {
    /// Whether questions from `ip` may be forwarded.
    pub fn may_recurse(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.allow_recursion.iter().any(|n| n.contains(&ip))
    }

    /// The policy of namespace `ns` (lowercase): as configured, else `icann`
    /// for an ICANN TLD or special-use name ([`super::tld`]), else `bns`.
    pub fn policy(&self, ns: &str) -> Policy {
        match self.policies.get(ns) {
            Some(p) => *p,
            None => super::tld::default_policy(ns),
        }
    }
}

/// An upstream answer, as relayed.
#[derive(Debug, Clone)]
pub(crate) struct Forwarded {
    pub rcode: ResponseCode,
    pub answers: Vec<Record>,
    pub authorities: Vec<Record>,
    pub additionals: Vec<Record>,
    pub ede: Option<Ede>,
    /// False when no upstream answered (timeout, network error): SERVFAIL, not cached.
    pub answered: bool,
}

/// Sends questions to the upstream resolvers, at most `max_forwards` at once.
pub(crate) struct Forwarder {
    pool: NameServerPool<TokioRuntimeProvider>,
    in_flight: tokio::sync::Semaphore,
}

impl Forwarder {
    /// A forwarder to the upstreams of `options`, or `None` for no upstreams.
    pub(crate) fn new(options: &ResolverOptions) -> Option<Forwarder> {
        let Upstreams::Servers(servers) = &options.upstreams else { return None };
        if servers.is_empty() {
            return None;
        }
        let configs = servers.iter().map(|a| {
            let mut udp = ConnectionConfig::udp();
            udp.port = a.port();
            let mut tcp = ConnectionConfig::tcp();
            tcp.port = a.port();
            NameServerConfig::new(a.ip(), true, vec![udp, tcp])
        });
        let mut opts = ResolverOpts::default();
        opts.timeout = FORWARD_TIMEOUT;
        opts.attempts = 2;
        opts.server_ordering_strategy = ServerOrderingStrategy::UserProvidedOrder;
        let tls = TlsConfig::new().ok()?;
        let cx = Arc::new(PoolContext::new(opts, tls));
        Some(Forwarder {
            pool: NameServerPool::from_config(configs, cx, TokioRuntimeProvider::default()),
            in_flight: tokio::sync::Semaphore::new(options.max_forwards.max(1)),
        })
    }

    /// Asks the upstreams `query` (recursion desired) and returns what they
    /// said; SERVFAIL at once (not `answered`) when too many are in flight.
    pub(crate) async fn forward(&self, query: Query, dnssec_ok: bool) -> Forwarded {
        let Ok(_permit) = self.in_flight.try_acquire() else {
            return Forwarded {
                rcode: ResponseCode::ServFail,
                answers: Vec::new(),
                authorities: Vec::new(),
                additionals: Vec::new(),
                ede: Some(Ede::new(0, "too many forwarded questions in flight")),
                answered: false,
            };
        };
        let mut options = DnsRequestOptions::default();
        options.use_edns = true;
        options.edns_payload_len = super::MAX_UDP_PAYLOAD;
        options.edns_set_dnssec_ok = dnssec_ok;
        options.recursion_desired = true;
        let request = DnsRequest::from_query(query, options);
        let result = self.pool.send(request).first_answer().await;
        let mut out = Forwarded {
            rcode: ResponseCode::ServFail,
            answers: Vec::new(),
            authorities: Vec::new(),
            additionals: Vec::new(),
            ede: None,
            answered: true,
        };
        match result {
            Ok(response) => {
                let response = response.into_message();
                out.rcode = response.metadata.response_code;
                out.ede = response.edns.as_ref().and_then(|e| e.option(Ede::edns_code())).and_then(Ede::from_option);
                out.answers = response.answers;
                out.authorities = response.authorities;
                out.additionals = response.additionals;
            }
            // Negative answers come back as errors from the pool: rebuild them.
            Err(NetError::Dns(DnsError::NoRecordsFound(nr))) => {
                out.rcode = nr.response_code;
                out.authorities = nr.authorities.map(|a| a.to_vec()).unwrap_or_default();
                if out.authorities.is_empty() {
                    if let Some(soa) = nr.soa {
                        out.authorities.push((*soa).into_record_of_rdata());
                    }
                }
            }
            Err(NetError::Dns(DnsError::ResponseCode(code))) => out.rcode = code,
            Err(error) => {
                debug!(%error, "forwarding failed");
                out.answered = false;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_upstreams_and_policies() {
        assert_eq!(Upstreams::parse::<&str>(&[]), Ok(None));
        assert_eq!(Upstreams::parse(&["none"]), Ok(Some(Upstreams::None)));
        assert!(Upstreams::parse(&["none", "1.1.1.1"]).is_err());
        assert_eq!(
            Upstreams::parse(&["127.0.0.1:5399", "::1", "[::1]:53"]),
            Ok(Some(Upstreams::Servers(vec![
                "127.0.0.1:5399".parse().unwrap(),
                "[::1]:53".parse().unwrap(),
                "[::1]:53".parse().unwrap()
            ])))
        );
        assert!(Upstreams::parse(&["example.com"]).is_err());
        let p = parse_policies(&["id=bns-first", "BTC.=icann"]).unwrap();
        assert_eq!(p.get("id"), Some(&Policy::BnsFirst));
        assert_eq!(p.get("btc"), Some(&Policy::Icann));
        assert!(parse_policies(&["id"]).is_err());
        assert!(parse_policies(&["id=maybe"]).is_err());
        assert_eq!("bns-first".parse::<Policy>().unwrap().to_string(), "bns-first");
    }

    #[test]
    fn resolv_conf_default_skips_own_address() {
        let text = b"nameserver 127.0.0.1\nnameserver 10.0.0.2\nsearch example\n";
        let own: SocketAddr = "127.0.0.1:53".parse().unwrap();
        assert_eq!(Upstreams::from_resolv_conf(text, own), Upstreams::Servers(vec!["10.0.0.2:53".parse().unwrap()]));
        let own: SocketAddr = "0.0.0.0:53".parse().unwrap();
        assert_eq!(Upstreams::from_resolv_conf(text, own), Upstreams::Servers(vec!["10.0.0.2:53".parse().unwrap()]));
        let own: SocketAddr = "127.0.0.1:5300".parse().unwrap();
        assert_eq!(
            Upstreams::from_resolv_conf(text, own),
            Upstreams::Servers(vec!["127.0.0.1:53".parse().unwrap(), "10.0.0.2:53".parse().unwrap()])
        );
        assert_eq!(
            Upstreams::from_resolv_conf(b"nameserver 127.0.0.1\n", "127.0.0.1:53".parse().unwrap()),
            Upstreams::None
        );
    }
}
