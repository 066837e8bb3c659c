//! The flags every owner's command shares, and the namespace-reveal
//! parameters as flags or a `zones/namespaces.toml`-style file.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};

use super::{Owner, OwnerOptions};
use crate::config::{self, NodeSettings, RpcSettings};
use crate::tx::ops::RevealParams;
use crate::tx::Wallet;

/// Where the owner's key comes from: exactly one of a file or an environment variable.
#[derive(Debug, Clone, Default, clap::Args)]
#[group(required = true, multiple = false)]
pub struct KeyArgs {
    /// File holding the owner's private key as compressed WIF (one line)
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// Environment variable holding the owner's private key as compressed WIF
    #[arg(long, value_name = "VAR")]
    pub key_env: Option<String>,
}

impl KeyArgs {
    /// Reads the key. Errors name the file or variable, never the key.
    pub fn wallet(&self) -> anyhow::Result<Wallet> {
        match (&self.key_file, &self.key_env) {
            (Some(path), None) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| anyhow!("cannot read key file {}: {e}", path.display()))?;
                Wallet::from_wif(&text).map_err(|e| anyhow!("key file {}: {e}", path.display()))
            }
            (None, Some(var)) => {
                let text =
                    std::env::var(var).map_err(|_| anyhow!("environment variable {var} is not set (--key-env)"))?;
                Wallet::from_wif(&text).map_err(|e| anyhow!("environment variable {var}: {e}"))
            }
            _ => bail!("give the owner's key with exactly one of --key-file FILE or --key-env VAR"),
        }
    }
}

/// Flags shared by `bns name ...` and `bns namespace ...` transaction commands.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OwnerArgs {
    /// The `bns node` TOML config to take data-dir and bitcoind settings from [default: <data-dir>/bns.toml if present]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory of the `bns node` whose index is checked [default: ~/.bns]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub rpc: RpcSettings,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub key: KeyArgs,
    /// Fee rate in sat/vB [default: the node's `estimatesmartfee 6`, else 10]
    #[arg(long, value_name = "SAT_PER_VB")]
    pub fee_rate: Option<u64>,
    /// Print the signed transaction (hex and decoded) instead of sending it
    #[arg(long)]
    pub dry_run: bool,
    /// Seconds to wait for an operation to be mined and indexed before giving up
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    pub wait_timeout: u64,
    /// Send and exit without waiting for the index to show the operation
    #[arg(long)]
    pub no_wait: bool,
}

impl OwnerArgs {
    /// Overlays the flags on the config file, reads the key, and opens the
    /// index and the node ([`Owner::open`]).
    pub fn open(&self) -> anyhow::Result<Owner> {
        let flags = NodeSettings { data_dir: self.data_dir.clone(), rpc: self.rpc.clone(), ..Default::default() };
        let file: NodeSettings = match &self.config {
            Some(path) => config::load(path, true)?,
            None => config::load(&flags.data_dir().join("bns.toml"), false)?,
        };
        let settings = flags.or(file);
        let wallet = self.key.wallet()?;
        Owner::open(OwnerOptions {
            data_dir: settings.data_dir(),
            rpc: settings.rpc.clone(),
            config_network: settings.network,
            wallet,
            fee_rate: self.fee_rate,
            dry_run: self.dry_run,
            wait: !self.no_wait,
            wait_timeout: Duration::from_secs(self.wait_timeout),
        })
    }
}

/// A namespace's reveal parameters: `--params FILE` or one flag each.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RevealArgs {
    /// TOML file in `zones/namespaces.toml` format ([NS] table with version, lifetime, coeff, base, buckets, nonalpha_discount, no_vowel_discount); replaces the flags below
    #[arg(long, value_name = "FILE", conflicts_with_all = ["lifetime", "coeff", "base", "buckets", "nonalpha_discount", "no_vowel_discount", "namespace_version"])]
    pub params: Option<PathBuf>,
    /// Namespace version: 1 burns name fees, 2 pays them to the creator for a year, 3 prices names in STACKs
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub namespace_version: u16,
    /// Name lifetime in blocks (4294967295: names never expire)
    #[arg(long, value_name = "BLOCKS")]
    pub lifetime: Option<u32>,
    /// Price coefficient (0-255)
    #[arg(long, value_name = "N")]
    pub coeff: Option<u8>,
    /// Price base (0-255)
    #[arg(long, value_name = "N")]
    pub base: Option<u8>,
    /// 16 price exponents (0-15) for name lengths 1..16+, comma-separated, e.g. 6,5,4,3,2,1,0,0,0,0,0,0,0,0,0,0
    #[arg(long, value_name = "E,E,...")]
    pub buckets: Option<String>,
    /// Price divisor for names with a digit, - or _ (1-15)
    #[arg(long, value_name = "N")]
    pub nonalpha_discount: Option<u8>,
    /// Price divisor for names without a vowel (1-15)
    #[arg(long, value_name = "N")]
    pub no_vowel_discount: Option<u8>,
}

impl RevealArgs {
    /// The parameters for namespace `ns_id`.
    pub fn params(&self, ns_id: &str) -> anyhow::Result<RevealParams> {
        if let Some(path) = &self.params {
            let text = std::fs::read_to_string(path).map_err(|e| anyhow!("cannot read {}: {e}", path.display()))?;
            let mut all: BTreeMap<String, RevealParams> = toml::from_str(&text)
                .with_context(|| format!("{}: not in zones/namespaces.toml format", path.display()))?;
            return all.remove(ns_id).ok_or_else(|| anyhow!("{} has no [{ns_id}] table", path.display()));
        }
        let need = |flag: &str| anyhow!("--{flag} is required (or give --params FILE)");
        let buckets_text = self.buckets.as_deref().ok_or_else(|| need("buckets"))?;
        let list: Vec<u8> = buckets_text
            .split(',')
            .map(|b| b.trim().parse::<u8>())
            .collect::<Result<_, _>>()
            .map_err(|_| anyhow!("--buckets {buckets_text:?}: give 16 comma-separated numbers 0-15"))?;
        let buckets: [u8; 16] =
            list.try_into().map_err(|_| anyhow!("--buckets {buckets_text:?}: give exactly 16 numbers"))?;
        Ok(RevealParams {
            version: self.namespace_version,
            lifetime: self.lifetime.ok_or_else(|| need("lifetime"))?,
            coeff: self.coeff.ok_or_else(|| need("coeff"))?,
            base: self.base.ok_or_else(|| need("base"))?,
            buckets,
            nonalpha_discount: self.nonalpha_discount.ok_or_else(|| need("nonalpha-discount"))?,
            no_vowel_discount: self.no_vowel_discount.ok_or_else(|| need("no-vowel-discount"))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reveal_params_from_flags_and_file() {
        let a = RevealArgs {
            lifetime: Some(52_595),
            coeff: Some(250),
            base: Some(4),
            buckets: Some("6,5,4,3,2,1,0,0,0,0,0,0,0,0,0,0".into()),
            nonalpha_discount: Some(10),
            no_vowel_discount: Some(10),
            namespace_version: 1,
            params: None,
        };
        let p = a.params("id").unwrap();
        assert_eq!((p.lifetime, p.coeff, p.buckets[0], p.buckets[15]), (52_595, 250, 6, 0));
        let short = RevealArgs { buckets: Some("1,2".into()), ..a.clone() };
        assert!(short.params("id").unwrap_err().to_string().contains("exactly 16"));
        let missing = RevealArgs { coeff: None, ..a };
        assert!(missing.params("id").unwrap_err().to_string().contains("--coeff"));

        let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("zones/namespaces.toml");
        let from_file = RevealArgs { params: Some(file), ..Default::default() };
        assert!(from_file.params("id").is_ok());
        assert!(from_file.params("nope").unwrap_err().to_string().contains("[nope]"));
    }

    #[test]
    fn key_from_env_and_errors_never_show_the_key() {
        let w = Wallet::generate(bitcoin::Network::Regtest);
        std::env::set_var("BNS_OWNER_ARGS_TEST_KEY", w.to_wif());
        let k = KeyArgs { key_env: Some("BNS_OWNER_ARGS_TEST_KEY".into()), key_file: None };
        assert_eq!(k.wallet().unwrap().address(), w.address());
        std::env::set_var("BNS_OWNER_ARGS_TEST_KEY", "not-a-key");
        let err = k.wallet().unwrap_err().to_string();
        assert!(err.contains("BNS_OWNER_ARGS_TEST_KEY"), "{err}");
        let none = KeyArgs::default();
        assert!(none.wallet().is_err());
    }
}
