//! Settings of `bns node`: which Bitcoin network and node to follow, and the
//! consensus parameters that go with it.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{home, FaceSettings, NODE_DATA_DIR};
use crate::bns::ChainParams;
use crate::chain::bitcoind::{redacted, RpcAuth, RpcUrl, Secret};

/// Which Bitcoin network `bns node` follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkName {
    /// Bitcoin mainnet: Core's epochs, first block 373601, magic `id`.
    Mainnet,
    /// testnet3: newest epoch rules from the first block.
    Testnet,
    /// regtest: newest epoch rules from the first block.
    Regtest,
}

impl NetworkName {
    /// rust-bitcoin's network (address encoding).
    pub fn bitcoin(self) -> bitcoin::Network {
        match self {
            NetworkName::Mainnet => bitcoin::Network::Bitcoin,
            NetworkName::Testnet => bitcoin::Network::Testnet,
            NetworkName::Regtest => bitcoin::Network::Regtest,
        }
    }

    /// The name as written in configs and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkName::Mainnet => "mainnet",
            NetworkName::Testnet => "testnet",
            NetworkName::Regtest => "regtest",
        }
    }

    /// Bitcoin Core's default RPC port.
    fn rpc_port(self) -> u16 {
        match self {
            NetworkName::Mainnet => 8332,
            NetworkName::Testnet => 18332,
            NetworkName::Regtest => 18443,
        }
    }

    /// Bitcoin Core's default cookie file for this network.
    fn default_cookie(self) -> PathBuf {
        let dir = home().join(".bitcoin");
        match self {
            NetworkName::Mainnet => dir.join(".cookie"),
            NetworkName::Testnet => dir.join("testnet3/.cookie"),
            NetworkName::Regtest => dir.join("regtest/.cookie"),
        }
    }
}

/// How to reach bitcoind's JSON-RPC. Also flattened into the transaction
/// commands, which send through the same node. `Debug` shows no secret.
#[derive(Clone, Default, clap::Args, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RpcSettings {
    /// bitcoind JSON-RPC URL, credentials in it allowed (http://USER:PASSWORD@HOST:PORT) [default: http://127.0.0.1:8332, 18332 on testnet, 18443 on regtest]
    #[arg(long, value_name = "URL")]
    pub bitcoind_url: Option<String>,
    /// RPC user (rpcuser); bcoin takes any user with its API key as password
    #[arg(long, value_name = "USER")]
    pub rpc_user: Option<String>,
    /// RPC password (rpcpassword); also read from $BNS_RPC_PASSWORD, which `ps` does not show
    #[arg(long, value_name = "PASSWORD", env = "BNS_RPC_PASSWORD", hide_env_values = true)]
    pub rpc_password: Option<Secret>,
    /// bitcoind's cookie file [default: ~/.bitcoin/[testnet3/|regtest/].cookie if no user is set and it exists]
    #[arg(long, value_name = "FILE")]
    pub rpc_cookie: Option<PathBuf>,
}

impl std::fmt::Debug for RpcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcSettings")
            .field("bitcoind_url", &self.bitcoind_url.as_deref().map(redacted))
            .field("rpc_user", &self.rpc_user)
            .field("rpc_password", &self.rpc_password)
            .field("rpc_cookie", &self.rpc_cookie)
            .finish()
    }
}

impl RpcSettings {
    /// Fills every unset field from `other`.
    pub fn or(self, other: RpcSettings) -> RpcSettings {
        RpcSettings {
            bitcoind_url: self.bitcoind_url.or(other.bitcoind_url),
            rpc_user: self.rpc_user.or(other.rpc_user),
            rpc_password: self.rpc_password.or(other.rpc_password),
            rpc_cookie: self.rpc_cookie.or(other.rpc_cookie),
        }
    }

    /// The URL in effect on `network`, as given (it may hold credentials:
    /// show it only through [`redacted`]).
    pub fn url(&self, network: NetworkName) -> String {
        self.bitcoind_url.clone().unwrap_or_else(|| format!("http://127.0.0.1:{}", network.rpc_port()))
    }

    /// The credentials in effect: those in the URL, else user/password, else
    /// the cookie file given, else Bitcoin Core's default cookie if present,
    /// else none.
    pub fn auth(&self, network: NetworkName) -> anyhow::Result<RpcAuth> {
        let url = RpcUrl::parse(&self.url(network)).map_err(|e| anyhow::anyhow!(e))?;
        if let Some((user, pass)) = url.credentials() {
            if self.rpc_user.is_some() || self.rpc_password.is_some() || self.rpc_cookie.is_some() {
                anyhow::bail!(
                    "bitcoind-url {url} has credentials: do not also set rpc-user, rpc-password or rpc-cookie"
                );
            }
            return Ok(RpcAuth::UserPass(user.clone(), pass.clone()));
        }
        match (&self.rpc_user, &self.rpc_password, &self.rpc_cookie) {
            (Some(_), _, Some(_)) | (None, Some(_), Some(_)) => {
                Err(anyhow::anyhow!("rpc-cookie and rpc-user/rpc-password are alternatives: set one"))
            }
            (u, Some(p), None) => Ok(RpcAuth::UserPass(u.clone().unwrap_or_default(), p.clone())),
            (Some(_), None, None) => Err(anyhow::anyhow!("rpc-user needs rpc-password")),
            (None, None, Some(c)) => Ok(RpcAuth::Cookie(c.clone())),
            (None, None, None) => {
                let cookie = network.default_cookie();
                Ok(if cookie.exists() { RpcAuth::Cookie(cookie) } else { RpcAuth::None })
            }
        }
    }
}

/// Settings of `bns node`. Keys in the TOML file are the flag names.
#[derive(Debug, Clone, Default, clap::Args, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct NodeSettings {
    /// Data directory (database, zone files, DoT certificate) [default: ~/.bns]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Bitcoin network to follow [default: mainnet]
    #[arg(long, value_enum)]
    pub network: Option<NetworkName>,
    /// First block whose BNS operations are processed (fixed at 373601 on mainnet) [default: 1 on testnet and regtest]
    #[arg(long, value_name = "HEIGHT")]
    pub first_block: Option<u64>,
    /// Magic bytes in front of every BNS payload, 2 ASCII characters (fixed `id` on mainnet) [default: id]
    #[arg(long, value_name = "XY")]
    pub magic: Option<String>,
    /// Blocks processed only this deep below the node's tip (1 = the tip itself) [default: 10, 1 on regtest]
    #[arg(long, value_name = "N")]
    pub confirmations: Option<u64>,
    /// Blocks below the tip whose undo data is kept: a reorg deeper than this is refused (it needs --reindex) [default: 144]
    #[arg(long, value_name = "BLOCKS")]
    pub reorg_depth: Option<u64>,
    /// Drop the chain state and replay the chain from the first block (zone files and Atlas peers are kept)
    #[arg(long)]
    #[serde(skip)]
    pub reindex: bool,
    /// Token account created at the first block, ADDRESS=MICRO_STX (repeatable; testnet and regtest only: namespace fees are paid in STX from epoch 4)
    #[arg(long = "token-allocation", value_name = "ADDRESS=MICRO_STX")]
    #[serde(default)]
    pub token_allocation: Vec<String>,
    /// Follow the chain file of a `bns dev` (its `devchain.dat`, read-only; the consensus parameters come
    /// from `devchain.params.json` beside it) instead of bitcoind: a second node on one machine [default: off]
    #[arg(long, value_name = "FILE")]
    pub dev_chain: Option<PathBuf>,
    /// Seconds between polls of the node's tip [default: 2]
    #[arg(long, value_name = "SECS", value_parser = super::parse_seconds)]
    #[serde(default, deserialize_with = "super::de_seconds")]
    pub poll_interval: Option<f64>,
    #[command(flatten)]
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub rpc: RpcSettings,
    #[command(flatten)]
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub faces: FaceSettings,
}

impl NodeSettings {
    /// Fills every unset field from `other`.
    pub fn or(self, other: NodeSettings) -> NodeSettings {
        NodeSettings {
            data_dir: self.data_dir.or(other.data_dir),
            network: self.network.or(other.network),
            first_block: self.first_block.or(other.first_block),
            magic: self.magic.or(other.magic),
            confirmations: self.confirmations.or(other.confirmations),
            reorg_depth: self.reorg_depth.or(other.reorg_depth),
            reindex: self.reindex || other.reindex,
            token_allocation: if self.token_allocation.is_empty() {
                other.token_allocation
            } else {
                self.token_allocation
            },
            poll_interval: self.poll_interval.or(other.poll_interval),
            dev_chain: self.dev_chain.or(other.dev_chain),
            rpc: self.rpc.or(other.rpc),
            faces: self.faces.or(other.faces),
        }
    }

    /// The data directory in effect.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(|| home().join(NODE_DATA_DIR))
    }

    /// The network in effect.
    pub fn network(&self) -> NetworkName {
        self.network.unwrap_or(NetworkName::Mainnet)
    }

    /// Confirmations in effect.
    pub fn confirmations(&self) -> u64 {
        self.confirmations.unwrap_or(if self.network() == NetworkName::Regtest { 1 } else { 10 }).max(1)
    }

    /// Reorg depth in effect (undo rows kept for this many blocks below the tip).
    pub fn reorg_depth(&self) -> anyhow::Result<u64> {
        match self.reorg_depth {
            None => Ok(crate::store::DEFAULT_REORG_DEPTH),
            Some(d) if d < self.confirmations() => anyhow::bail!(
                "reorg-depth {d} is less than confirmations {}: give at least that many blocks",
                self.confirmations()
            ),
            Some(d) => Ok(d),
        }
    }

    /// Poll interval in effect.
    pub fn poll_interval(&self) -> Duration {
        Duration::from_secs_f64(self.poll_interval.unwrap_or(2.0).clamp(0.05, 3600.0))
    }

    /// The consensus parameters these settings describe; an error for
    /// settings mainnet's consensus fixes, or malformed values.
    pub fn chain_params(&self) -> anyhow::Result<ChainParams> {
        let magic = match &self.magic {
            Some(m) => <[u8; 2]>::try_from(m.as_bytes())
                .map_err(|_| anyhow::anyhow!("magic {m:?}: give exactly 2 ASCII characters"))?,
            None => *b"id",
        };
        if self.network() == NetworkName::Mainnet {
            let p = ChainParams::mainnet();
            if self.first_block.is_some_and(|b| b != p.first_block) || magic != p.magic {
                anyhow::bail!("first-block and magic are fixed on mainnet (373601, \"id\"): remove them, or pick --network testnet|regtest");
            }
            if !self.token_allocation.is_empty() {
                anyhow::bail!(
                    "token-allocation is for test chains: mainnet's accounts come from the Stacks genesis block"
                );
            }
            return Ok(p);
        }
        let mut p = ChainParams::test(self.first_block.unwrap_or(1), magic);
        for a in &self.token_allocation {
            let (addr, amount) = a
                .split_once('=')
                .and_then(|(addr, n)| Some((addr, n.trim().parse::<u64>().ok()?)))
                .ok_or_else(|| anyhow::anyhow!("token-allocation {a:?}: write ADDRESS=MICRO_STX"))?;
            p = p.with_allocation(addr.trim(), amount);
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_per_network() {
        let s = NodeSettings::default();
        assert_eq!(s.network(), NetworkName::Mainnet);
        assert_eq!(s.confirmations(), 10);
        assert_eq!(s.rpc.url(s.network()), "http://127.0.0.1:8332");
        assert_eq!(s.chain_params().unwrap(), ChainParams::mainnet());
        let r = NodeSettings { network: Some(NetworkName::Regtest), ..Default::default() };
        assert_eq!(r.confirmations(), 1);
        assert_eq!(r.rpc.url(r.network()), "http://127.0.0.1:18443");
        assert_eq!(r.chain_params().unwrap(), ChainParams::test(1, *b"id"));
    }

    #[test]
    fn mainnet_consensus_is_fixed_and_test_chains_configurable() {
        let bad = NodeSettings { magic: Some("xx".into()), ..Default::default() };
        assert!(bad.chain_params().is_err());
        let t = NodeSettings {
            network: Some(NetworkName::Testnet),
            magic: Some("xx".into()),
            first_block: Some(7),
            token_allocation: vec!["mxyz=1000".into()],
            ..Default::default()
        };
        assert_eq!(t.chain_params().unwrap(), ChainParams::test(7, *b"xx").with_allocation("mxyz", 1000));
        let t = NodeSettings { token_allocation: vec!["nope".into()], ..t };
        assert!(t.chain_params().is_err());
    }

    #[test]
    fn credentials_in_the_url_count_and_are_never_shown() {
        let n = NetworkName::Regtest;
        let s = RpcSettings { bitcoind_url: Some("http://bob:hunter2@127.0.0.1:1".into()), ..Default::default() };
        assert_eq!(s.auth(n).unwrap(), RpcAuth::UserPass("bob".into(), "hunter2".into()));
        let both = RpcSettings { rpc_password: Some("hunter3".into()), ..s.clone() };
        let e = both.auth(n).unwrap_err().to_string();
        assert!(e.contains("has credentials") && !e.contains("hunter"), "{e}");
        let shown = format!("{:?}", NodeSettings { rpc: both, ..Default::default() });
        assert!(shown.contains("bob:***@127.0.0.1:1") && !shown.contains("hunter"), "{shown}");
    }

    #[test]
    fn rpc_auth_choices() {
        let n = NetworkName::Regtest;
        let up = RpcSettings { rpc_user: Some("u".into()), rpc_password: Some("p".into()), ..Default::default() };
        assert_eq!(up.auth(n).unwrap(), RpcAuth::UserPass("u".into(), "p".into()));
        let both = RpcSettings { rpc_cookie: Some("c".into()), ..up };
        assert!(both.auth(n).is_err());
        let user_only = RpcSettings { rpc_user: Some("u".into()), ..Default::default() };
        assert!(user_only.auth(n).is_err());
        let cookie = RpcSettings { rpc_cookie: Some("/x/.cookie".into()), ..Default::default() };
        assert_eq!(cookie.auth(n).unwrap(), RpcAuth::Cookie("/x/.cookie".into()));
    }
}
