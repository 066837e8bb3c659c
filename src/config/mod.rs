//! Settings for serving subcommands: one struct that is both the TOML config
//! file and the command-line flags, so every config key is also a flag.
//!
//! Precedence: flag, then `--config FILE` (default `<data-dir>/bns.toml` if it
//! exists), then built-in default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

mod node;
pub use node::{NetworkName, NodeSettings, RpcSettings};

/// Default DNS listen address.
pub const DEFAULT_DNS_ADDR: &str = "127.0.0.1:5300";

/// Default Atlas (zone-file peer network) listen address: Core's port.
pub const DEFAULT_ATLAS_ADDR: &str = "127.0.0.1:6264";

/// Default REST API (and `/metrics`) listen address.
pub const DEFAULT_API_ADDR: &str = "127.0.0.1:6270";

/// Settings of the faces every serving node has (DNS, DoT, REST API), shared
/// by `bns dev` and `bns node`. Flattened into both.
#[derive(Debug, Clone, Default, clap::Args, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct FaceSettings {
    /// DNS listen address, UDP and TCP; port 0 picks a free port [default: 127.0.0.1:5300]
    #[arg(long, value_name = "IP:PORT")]
    pub dns_addr: Option<SocketAddr>,
    /// REST API and /metrics listen address (HTTP); port 0 picks a free port [default: 127.0.0.1:6270]
    #[arg(long, value_name = "IP:PORT")]
    pub api_addr: Option<SocketAddr>,
    /// Upstream resolver for names outside BNS (repeatable; `none` refuses them) [default: nameservers in /etc/resolv.conf other than --dns-addr]
    #[arg(long = "upstream", value_name = "IP:PORT")]
    #[serde(default, alias = "upstream")]
    pub upstreams: Vec<String>,
    /// Collision policy of a namespace, NS=POLICY with POLICY bns, icann or bns-first (repeatable) [default: bns]
    #[arg(long = "namespace-policy", value_name = "NS=POLICY")]
    #[serde(default)]
    pub namespace_policy: Vec<String>,
    /// Bound of the DNS answer cache in bytes; 0 disables it [default: 33554432]
    #[arg(long, value_name = "BYTES")]
    pub cache_size: Option<u64>,
    /// DNS-over-TLS (RFC 7858) listen address; port 0 picks a free port [default: off]
    #[arg(long, value_name = "IP:PORT")]
    pub dot_addr: Option<SocketAddr>,
    /// DANE-enforcing local HTTPS proxy for browsers (PAC at /proxy.pac, CA from `bns dane ca`) [default: off]
    #[arg(long, value_name = "IP:PORT")]
    pub dane_proxy_addr: Option<SocketAddr>,
    /// PEM certificate chain for DNS over TLS [default: <data-dir>/dot-cert.pem, self-signed, generated at first start]
    #[arg(long, value_name = "FILE")]
    pub dot_cert: Option<PathBuf>,
    /// PEM private key for --dot-cert [default: <data-dir>/dot-key.pem]
    #[arg(long, value_name = "FILE")]
    pub dot_key: Option<PathBuf>,
    /// Atlas (zone-file peer network, Core's XML-RPC) listen address; port 0 picks a free port [default: 127.0.0.1:6264]
    #[arg(long, value_name = "IP:PORT")]
    pub atlas_addr: Option<SocketAddr>,
    /// Atlas peer to fetch zone files from and learn other peers from (repeatable)
    #[arg(long = "atlas-peer", value_name = "HOST:PORT")]
    #[serde(default, alias = "atlas-peer")]
    pub atlas_peers: Vec<String>,
    /// HTTP zone-file source (Core's or the Stacks API, or another bns) for files no peer has (repeatable)
    #[arg(long = "zonefile-source", value_name = "URL")]
    #[serde(default, alias = "zonefile-source")]
    pub zonefile_sources: Vec<String>,
    /// Name server announced in every namespace's NS and SOA; bns answers its addresses ahead of any chain data [default: the namespace apex itself]
    #[arg(long, value_name = "NAME")]
    pub ns_name: Option<String>,
    /// Address of that name server (repeatable) [default: the --dns-addr IP, or 127.0.0.1 when that is a wildcard]
    #[arg(long = "ns-addr", value_name = "IP")]
    #[serde(default, alias = "ns-addr")]
    pub ns_addrs: Vec<std::net::IpAddr>,
    /// Log every DNS query at INFO (target bns::dns::query) [default: off]
    #[arg(long)]
    #[serde(default)]
    pub log_queries: bool,
    /// UDP sockets and threads answering DNS (SO_REUSEPORT) [default: one per core, at most 4]
    #[arg(long, value_name = "N")]
    pub udp_workers: Option<usize>,
    /// Clients whose questions outside BNS are forwarded (repeatable CIDR); others get REFUSED [default: 127.0.0.0/8 and ::1]
    #[arg(long = "allow-recursion", value_name = "CIDR")]
    #[serde(default, alias = "allow-recursion")]
    pub allow_recursion: Vec<ipnet::IpNet>,
    /// UDP responses a second per client network (/24, /56) before rate limiting; 0 turns it off [default: 100]
    #[arg(long, value_name = "N")]
    pub rrl_rate: Option<u32>,
    /// Of the rate-limited UDP responses, every Nth goes out truncated (TC: the client retries over TCP), the rest are dropped; 0 drops all [default: 2]
    #[arg(long, value_name = "N")]
    pub rrl_slip: Option<u32>,
    /// Sources never rate limited (repeatable CIDR) [default: 127.0.0.1/32 and ::1]
    #[arg(long = "rrl-exempt", value_name = "CIDR")]
    #[serde(default, alias = "rrl-exempt")]
    pub rrl_exempt: Vec<ipnet::IpNet>,
    /// Forwarded questions in flight at most; more get SERVFAIL at once [default: 256]
    #[arg(long, value_name = "N")]
    pub max_forwards: Option<usize>,
    /// Host name the REST API answers to besides IP literals and localhost (repeatable; others get 403, against DNS rebinding)
    #[arg(long = "api-host", value_name = "NAME")]
    #[serde(default, alias = "api-host")]
    pub api_hosts: Vec<String>,
    /// Open DNS connections at most, for TCP and for DoT each (16 per client address) [default: 512]
    #[arg(long, value_name = "N")]
    pub max_tcp: Option<usize>,
    /// Clients allowed AXFR and IXFR of the namespace zones (repeatable CIDR) [default: nobody]
    #[arg(long = "allow-transfer", value_name = "CIDR")]
    #[serde(default, alias = "allow-transfer")]
    pub allow_transfer: Vec<ipnet::IpNet>,
    /// Secondary sent a NOTIFY for every namespace after each new serial (repeatable) [default: none]
    #[arg(long = "notify", value_name = "IP:PORT")]
    #[serde(default)]
    pub notify: Vec<SocketAddr>,
    /// TSIG key NAME:ALGORITHM:BASE64-SECRET (hmac-sha256/384/512, as tsig-keygen prints); with one, transfers must be signed with a key (from any address unless --allow-transfer narrows it) and NOTIFYs are signed (repeatable; keep it in the 0600 config file on a shared machine)
    #[arg(long = "tsig-key", value_name = "NAME:ALG:SECRET")]
    #[serde(default, alias = "tsig-key")]
    pub tsig_keys: Vec<TsigKeySpec>,
}

/// A `--tsig-key` as given. It is parsed (and checked) when the faces start,
/// so that no flag or TOML parse error can echo the secret; `Debug` prints
/// `***`.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct TsigKeySpec(String);

impl std::fmt::Debug for TsigKeySpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TsigKeySpec(***)")
    }
}

impl std::str::FromStr for TsigKeySpec {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(TsigKeySpec(s.to_string()))
    }
}

impl TsigKeySpec {
    /// The key; errors name the key, never its secret.
    pub fn key(&self) -> Result<crate::dns::xfr::TsigKey, String> {
        self.0.parse()
    }
}

impl FaceSettings {
    /// Fills every unset field from `other`.
    pub fn or(self, other: FaceSettings) -> FaceSettings {
        FaceSettings {
            dns_addr: self.dns_addr.or(other.dns_addr),
            api_addr: self.api_addr.or(other.api_addr),
            upstreams: if self.upstreams.is_empty() { other.upstreams } else { self.upstreams },
            namespace_policy: if self.namespace_policy.is_empty() {
                other.namespace_policy
            } else {
                self.namespace_policy
            },
            cache_size: self.cache_size.or(other.cache_size),
            dot_addr: self.dot_addr.or(other.dot_addr),
            dane_proxy_addr: self.dane_proxy_addr.or(other.dane_proxy_addr),
            dot_cert: self.dot_cert.or(other.dot_cert),
            dot_key: self.dot_key.or(other.dot_key),
            atlas_addr: self.atlas_addr.or(other.atlas_addr),
            atlas_peers: if self.atlas_peers.is_empty() { other.atlas_peers } else { self.atlas_peers },
            zonefile_sources: if self.zonefile_sources.is_empty() {
                other.zonefile_sources
            } else {
                self.zonefile_sources
            },
            ns_name: self.ns_name.or(other.ns_name),
            ns_addrs: if self.ns_addrs.is_empty() { other.ns_addrs } else { self.ns_addrs },
            log_queries: self.log_queries || other.log_queries,
            udp_workers: self.udp_workers.or(other.udp_workers),
            allow_recursion: if self.allow_recursion.is_empty() { other.allow_recursion } else { self.allow_recursion },
            rrl_rate: self.rrl_rate.or(other.rrl_rate),
            rrl_slip: self.rrl_slip.or(other.rrl_slip),
            rrl_exempt: if self.rrl_exempt.is_empty() { other.rrl_exempt } else { self.rrl_exempt },
            max_forwards: self.max_forwards.or(other.max_forwards),
            max_tcp: self.max_tcp.or(other.max_tcp),
            api_hosts: if self.api_hosts.is_empty() { other.api_hosts } else { self.api_hosts },
            allow_transfer: if self.allow_transfer.is_empty() { other.allow_transfer } else { self.allow_transfer },
            notify: if self.notify.is_empty() { other.notify } else { self.notify },
            tsig_keys: if self.tsig_keys.is_empty() { other.tsig_keys } else { self.tsig_keys },
        }
    }

    /// The DNS address in effect.
    pub fn dns_addr(&self) -> SocketAddr {
        self.dns_addr.unwrap_or_else(|| DEFAULT_DNS_ADDR.parse().expect("constant address parses"))
    }

    /// The Atlas address in effect.
    pub fn atlas_addr(&self) -> SocketAddr {
        self.atlas_addr.unwrap_or_else(|| DEFAULT_ATLAS_ADDR.parse().expect("constant address parses"))
    }

    /// The API address in effect.
    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr.unwrap_or_else(|| DEFAULT_API_ADDR.parse().expect("constant address parses"))
    }

    /// The DoT certificate and key files, if both are set (`None`: use the
    /// data directory's, generated at first start); an error if only one is.
    pub fn dot_cert_files(&self) -> anyhow::Result<Option<(PathBuf, PathBuf)>> {
        match (&self.dot_cert, &self.dot_key) {
            (Some(cert), Some(key)) => Ok(Some((cert.clone(), key.clone()))),
            (None, None) => Ok(None),
            _ => Err(anyhow::anyhow!("dot-cert and dot-key go together: set both or neither")),
        }
    }
}

/// Largest interval a flag in seconds takes (a day).
pub const MAX_SECONDS: f64 = 86_400.0;

/// Parses a flag in seconds: a finite number from 0.05 to [`MAX_SECONDS`]
/// (`nan`, `inf`, negatives and zero are errors, not panics).
pub fn parse_seconds(s: &str) -> Result<f64, String> {
    let v: f64 = s.trim().parse().map_err(|_| format!("{s:?} is not a number of seconds (e.g. 2 or 0.5)"))?;
    check_seconds(v)
}

fn check_seconds(v: f64) -> Result<f64, String> {
    if v.is_finite() && (0.05..=MAX_SECONDS).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} seconds is out of range: give a number from 0.05 to {MAX_SECONDS}"))
    }
}

/// [`parse_seconds`]'s check for a TOML value.
pub(crate) fn de_seconds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let v: Option<f64> = Option::deserialize(d)?;
    v.map(check_seconds).transpose().map_err(serde::de::Error::custom)
}

/// Settings of `bns dev`. Keys in the TOML file are the flag names
/// (`dns-addr = "127.0.0.1:5300"`).
#[derive(Debug, Clone, Default, clap::Args, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct DevSettings {
    /// Data directory (database, dev chain, keys) [default: ~/.bns-dev]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Seconds between dev-chain blocks when idle; blocks are also mined at once when there is work [default: 10]
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    #[serde(default, deserialize_with = "de_seconds")]
    pub block_interval: Option<f64>,
    /// Directory of zone files (`<name>.zone`) and `namespaces.toml` to register [default: ./zones, else the example zones built into bns]
    #[arg(long, value_name = "DIR")]
    pub zones: Option<PathBuf>,
    /// Registers N synthetic names `n0.gen` .. `n{N-1}.gen` (A + TXT zone files) at first start, for benchmarks [default: 0]
    #[arg(long, value_name = "N")]
    pub generate_names: Option<usize>,
    /// Registers every `$ORIGIN` name of a Stacks-genesis style zone-file list (hash line, then the zone file with `\n` for newlines; e.g. tests/vectors/mainnet-zonefiles-sample.txt) with exactly that zone file, revealing namespaces the dev chain lacks
    #[arg(long, value_name = "FILE")]
    pub import_zonefiles: Option<PathBuf>,
    #[command(flatten)]
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub faces: FaceSettings,
}

impl DevSettings {
    /// Fills every unset field from `other`.
    pub fn or(self, other: DevSettings) -> DevSettings {
        DevSettings {
            data_dir: self.data_dir.or(other.data_dir),
            block_interval: self.block_interval.or(other.block_interval),
            zones: self.zones.or(other.zones),
            generate_names: self.generate_names.or(other.generate_names),
            import_zonefiles: self.import_zonefiles.or(other.import_zonefiles),
            faces: self.faces.or(other.faces),
        }
    }

    /// The data directory in effect.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(|| home().join(DEV_DATA_DIR))
    }

    /// The block interval in effect.
    pub fn block_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.block_interval.unwrap_or(10.0).clamp(0.05, 86_400.0))
    }

    /// The zones directory in effect: `--zones`, else `./zones` if it exists;
    /// `None` means the zones built into the binary.
    pub fn zones(&self) -> Option<PathBuf> {
        self.zones.clone().or_else(|| Some(PathBuf::from("zones")).filter(|d| d.is_dir()))
    }

    /// Synthetic names to generate (0 = none).
    pub fn generate_names(&self) -> usize {
        self.generate_names.unwrap_or(0)
    }
}

/// `bns dev`'s data directory under $HOME.
pub const DEV_DATA_DIR: &str = ".bns-dev";
/// `bns node`'s data directory under $HOME.
pub const NODE_DATA_DIR: &str = ".bns";

/// The data directory a query command reads when none is given: `~/.bns` if
/// a node has indexed there, else `~/.bns-dev`.
pub fn default_index_dir() -> PathBuf {
    let node = home().join(NODE_DATA_DIR);
    if node.join("bns.sqlite").exists() {
        node
    } else {
        home().join(DEV_DATA_DIR)
    }
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."))
}

/// Reads a settings file (default: absent is empty unless `required`) with [`from_toml`].
pub fn load<T: for<'de> Deserialize<'de> + Default + clap::Args>(path: &Path, required: bool) -> anyhow::Result<T> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => return Ok(T::default()),
        Err(e) => return Err(anyhow::anyhow!("cannot read config {}: {e}", path.display())),
    };
    from_toml(&text)
        .map_err(|e| anyhow::anyhow!("config {}: {e}\nfix the file or pass --config with another one", path.display()))
}

/// Parses settings from TOML text. Every top-level key must be one of
/// [`known_keys`] of `T`, so a typo is an error rather than a silently
/// ignored setting. Never panics on any text.
pub fn from_toml<T: for<'de> Deserialize<'de> + Default + clap::Args>(text: &str) -> Result<T, String> {
    let table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
    let known = known_keys::<T>();
    if let Some(key) = table.keys().find(|k| !known.contains(&k[..])) {
        let mut keys: Vec<&String> = known.iter().collect();
        keys.sort();
        let list = keys.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ");
        return Err(format!("unknown key `{key}` (known keys: {list})"));
    }
    toml::from_str(text).map_err(|e| e.to_string())
}

/// Reads only the face settings (DNS, API, resolver) of a `bns dev` or
/// `bns node` config file, for commands that need just those.
pub fn load_faces(path: &Path, required: bool) -> anyhow::Result<FaceSettings> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => return Ok(FaceSettings::default()),
        Err(e) => return Err(anyhow::anyhow!("cannot read config {}: {e}", path.display())),
    };
    let mut table: toml::Table =
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("config {}: {e}", path.display()))?;
    let known = known_keys::<FaceSettings>();
    table.retain(|k, _| known.contains(k));
    table.try_into().map_err(|e| anyhow::anyhow!("config {}: {e}", path.display()))
}

/// The TOML keys `T` accepts: its long flag names and its field names in kebab case.
pub fn known_keys<T: clap::Args>() -> std::collections::HashSet<String> {
    let cmd = T::augment_args(clap::Command::new("config"));
    let mut keys = std::collections::HashSet::new();
    for arg in cmd.get_arguments() {
        keys.insert(arg.get_id().as_str().replace('_', "-"));
        if let Some(long) = arg.get_long() {
            keys.insert(long.to_string());
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<T: for<'de> Deserialize<'de> + Default + clap::Args>(text: &str) -> anyhow::Result<T> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bns.toml");
        std::fs::write(&path, text).unwrap();
        load(&path, true)
    }

    #[test]
    fn toml_keys_are_flag_names_and_flags_win() {
        let file: DevSettings =
            parse("dns-addr = \"127.0.0.1:5353\"\nblock-interval = 2.5\napi-addr = \"127.0.0.1:0\"\n").unwrap();
        let flags = DevSettings { block_interval: Some(1.0), ..Default::default() };
        let s = flags.or(file);
        assert_eq!(s.faces.dns_addr().port(), 5353);
        assert_eq!(s.block_interval().as_secs_f64(), 1.0);
        assert_eq!(s.faces.api_addr().port(), 0);
        assert_eq!(FaceSettings::default().api_addr().port(), 6270);
        let err = parse::<DevSettings>("dns_adr = 1").unwrap_err().to_string();
        assert!(err.contains("unknown key `dns_adr`") && err.contains("dns-addr"), "{err}");

        let file: DevSettings =
            parse("dot-addr = \"127.0.0.1:8530\"\ndot-cert = \"c.pem\"\ngenerate-names = 10\n").unwrap();
        assert_eq!(file.faces.dot_addr.unwrap().port(), 8530);
        assert_eq!(file.generate_names(), 10);
        assert!(file.faces.dot_cert_files().is_err(), "cert without key");
        assert!(FaceSettings::default().dot_cert_files().unwrap().is_none());
        assert!(load::<DevSettings>(Path::new("/nonexistent/bns.toml"), false).is_ok());
        assert!(load::<DevSettings>(Path::new("/nonexistent/bns.toml"), true).is_err());
    }

    #[test]
    fn resolver_keys() {
        let file: DevSettings =
            parse("upstreams = [\"127.0.0.1:5399\"]\nnamespace-policy = [\"id=bns-first\"]\ncache-size = 1000\n")
                .unwrap();
        let flags = DevSettings {
            faces: FaceSettings { upstreams: vec!["none".into()], ..Default::default() },
            ..Default::default()
        };
        let s = flags.or(file);
        assert_eq!(s.faces.upstreams, vec!["none"]);
        assert_eq!(s.faces.namespace_policy, vec!["id=bns-first"]);
        assert_eq!(s.faces.cache_size, Some(1000));
        let flag_name: DevSettings = parse("upstream = [\"127.0.0.1:5399\"]\n").unwrap();
        assert_eq!(flag_name.faces.upstreams, vec!["127.0.0.1:5399"], "the flag's name works as a key too");
    }

    #[test]
    fn node_keys() {
        let s: NodeSettings = parse(
            "network = \"regtest\"\nbitcoind-url = \"http://127.0.0.1:1\"\nrpc-user = \"u\"\nrpc-password = \"p\"\n\
             confirmations = 3\ntoken-allocation = [\"a=1\"]\ndns-addr = \"127.0.0.1:5353\"\n",
        )
        .unwrap();
        assert_eq!(s.network(), NetworkName::Regtest);
        assert_eq!(s.confirmations(), 3);
        assert_eq!(s.rpc.url(s.network()), "http://127.0.0.1:1");
        assert_eq!(s.faces.dns_addr().port(), 5353);
        assert!(parse::<NodeSettings>("block-interval = 1").is_err(), "a dev key is not a node key");
        assert!(parse::<NodeSettings>("network = \"simnet\"").is_err());
        let a: NodeSettings = parse(
            "atlas-addr = \"127.0.0.1:7264\"\natlas-peers = [\"10.0.0.1:6264\"]\nzonefile-source = [\"http://h:6270\"]\n",
        )
        .unwrap();
        assert_eq!(a.faces.atlas_addr().port(), 7264);
        assert_eq!(a.faces.atlas_peers, vec!["10.0.0.1:6264"]);
        assert_eq!(a.faces.zonefile_sources, vec!["http://h:6270"]);
        assert_eq!(FaceSettings::default().atlas_addr().port(), 6264);
    }
}
