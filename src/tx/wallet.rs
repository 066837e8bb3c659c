//! A single-key P2PKH wallet.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::path::Path;

use bitcoin::hashes::Hash;
use bitcoin::script::Builder;
use bitcoin::secp256k1::{Message, PublicKey, Scalar, SecretKey, SECP256K1};
use bitcoin::sighash::{EcdsaSighashType, SighashCache};
use bitcoin::{
    Address, CompressedPublicKey, Network, NetworkKind, PrivateKey, PubkeyHash, ScriptBuf, Transaction, TxOut,
};

use super::TxError;

/// One secp256k1 key with its compressed public key.
///
/// Invariants: the public key is always used compressed (33 bytes), so the
/// wallet's script is `OP_DUP OP_HASH160 <hash160(33-byte key)> OP_EQUALVERIFY
/// OP_CHECKSIG`; the network kind only affects the WIF and address encodings
/// (mainnet: WIF `5/K/L`, address version 0x00 `1...`; every test network:
/// WIF `9/c`, address version 0x6f `m.../n...`). `Debug` never prints the key.
/// Signatures are low-R (see [`Wallet::sign_p2pkh_inputs`]) unless the wallet
/// came from [`Wallet::without_low_r`].
#[derive(Clone)]
pub struct Wallet {
    key: PrivateKey,
    pubkey: CompressedPublicKey,
    low_r: bool,
}

impl std::fmt::Debug for Wallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wallet").field("address", &self.address().to_string()).finish()
    }
}

impl Wallet {
    fn from_key(key: PrivateKey) -> Self {
        let pubkey = CompressedPublicKey(key.inner.public_key(SECP256K1));
        Wallet { key, pubkey, low_r: true }
    }

    /// This wallet, signing without grinding for a low R: about half the
    /// signing time (a low R comes with every second nonce, so grinding takes
    /// two tries on average), at the price of a one byte longer signature
    /// half the time. [`P2PKH_INPUT_VBYTES`](super::P2PKH_INPUT_VBYTES) still
    /// covers such an input. For bulk synthetic chains.
    pub fn without_low_r(mut self) -> Wallet {
        self.low_r = false;
        self
    }

    /// The wallet of the next key: this key plus one (signing the same way),
    /// its public key found by one point addition (a few microseconds, a
    /// fraction of a fresh key's cost). Knowing one key of such a sequence
    /// gives all the others: for synthetic chains, never for real coins.
    /// `None` only for the largest key (the curve order minus one).
    pub fn successor(&self) -> Option<Wallet> {
        static G: std::sync::OnceLock<PublicKey> = std::sync::OnceLock::new();
        let g = G.get_or_init(|| {
            let one = SecretKey::from_slice(&Scalar::ONE.to_be_bytes()).expect("1 is a valid secret key");
            one.public_key(SECP256K1)
        });
        let secret = self.key.inner.add_tweak(&Scalar::ONE).ok()?;
        let pubkey = CompressedPublicKey(self.pubkey.0.combine(g).ok()?);
        let key = PrivateKey::new(secret, self.key.network);
        Some(Wallet { key, pubkey, low_r: self.low_r })
    }

    /// A fresh random key (OS randomness) for `network`.
    pub fn generate(network: Network) -> Wallet {
        let secret = SecretKey::new(&mut rand::thread_rng());
        Self::from_key(PrivateKey::new(secret, network))
    }

    /// Parses a compressed-key WIF. Errors if it is not valid base58check WIF
    /// or encodes an uncompressed key.
    pub fn from_wif(wif: &str) -> Result<Wallet, TxError> {
        let key = PrivateKey::from_wif(wif.trim()).map_err(|e| TxError::InvalidWif(e.to_string()))?;
        if !key.compressed {
            return Err(TxError::UncompressedKey);
        }
        Ok(Self::from_key(key))
    }

    /// The key as compressed WIF (round-trips through [`Wallet::from_wif`]).
    pub fn to_wif(&self) -> String {
        self.key.to_wif()
    }

    /// Loads the WIF key in `path`, or creates the file with a fresh key
    /// (permissions 0600 on Unix, created exclusively, fsynced). An existing
    /// key must belong to `network`'s kind (mainnet vs test networks).
    pub fn load_or_create(path: &Path, network: Network) -> Result<Wallet, TxError> {
        let io = |source| TxError::KeyFile { path: path.to_owned(), source };
        if !path.exists() {
            // Written whole to a temporary file, then linked into place (never over an existing
            // key): a kill at any moment leaves either no key file or a complete one.
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            let _ = std::fs::remove_file(&tmp);
            let mut options = OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let wallet = Wallet::generate(network);
            let mut file = options.open(&tmp).map_err(io)?;
            file.write_all(format!("{}\n", wallet.to_wif()).as_bytes()).map_err(io)?;
            file.sync_all().map_err(io)?;
            drop(file);
            let linked = std::fs::hard_link(&tmp, path);
            let _ = std::fs::remove_file(&tmp);
            match linked {
                Ok(()) => {
                    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
                    }
                    tracing::info!(path = %path.display(), address = %wallet.address(), "created wallet key");
                    return Ok(wallet);
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io(e)),
            }
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        let wallet = Wallet::from_wif(&text)?;
        let expected = NetworkKind::from(network);
        if wallet.network_kind() != expected {
            return Err(TxError::NetworkMismatch { path: path.to_owned(), found: wallet.network_kind(), expected });
        }
        Ok(wallet)
    }

    /// Child `index` of this key's BNS importer keyring: the non-hardened
    /// BIP32 child of the extended key with this key, depth 0, parent
    /// fingerprint 0, child number 0 and a chain code of 32 zero bytes (the
    /// keys Core lets import names once this wallet's key sent the first
    /// NAME_IMPORT of a namespace). Errors for hardened indexes.
    pub fn importer_child(&self, index: u32) -> Result<Wallet, TxError> {
        use bitcoin::bip32::{ChainCode, ChildNumber, Fingerprint, Xpriv};
        let xpriv = Xpriv {
            network: self.key.network,
            depth: 0,
            parent_fingerprint: Fingerprint::default(),
            child_number: ChildNumber::Normal { index: 0 },
            private_key: self.key.inner,
            chain_code: ChainCode::from([0u8; 32]),
        };
        let number = ChildNumber::from_normal_idx(index).map_err(|e| TxError::InvalidWif(e.to_string()))?;
        let child = xpriv.derive_priv(SECP256K1, &[number]).map_err(|e| TxError::InvalidWif(e.to_string()))?;
        Ok(Self::from_key(PrivateKey::new(child.private_key, self.key.network)))
    }

    /// Mainnet or test networks, as encoded in the WIF.
    pub fn network_kind(&self) -> NetworkKind {
        self.key.network
    }

    /// The compressed public key.
    pub fn public_key(&self) -> CompressedPublicKey {
        self.pubkey
    }

    /// hash160 of the compressed public key.
    pub fn pubkey_hash(&self) -> PubkeyHash {
        self.pubkey.pubkey_hash()
    }

    /// The wallet's P2PKH scriptPubKey (25 bytes).
    pub fn script_pubkey(&self) -> ScriptBuf {
        ScriptBuf::new_p2pkh(&self.pubkey_hash())
    }

    /// The wallet's base58check P2PKH address for its network kind.
    pub fn address(&self) -> Address {
        Address::p2pkh(self.pubkey_hash(), self.key.network)
    }

    /// Signs every input of `tx` as a P2PKH spend by this wallet, SIGHASH_ALL,
    /// `prevouts[i]` being the output input `i` spends. Each scriptSig becomes
    /// `<DER sig + 0x01> <33-byte pubkey>`; signatures are low-R/low-S
    /// (deterministic RFC 6979), so a scriptSig is at most 106 bytes and a
    /// signed input at most 147 bytes (low-S only for a
    /// [`Wallet::without_low_r`]: at most 107 and 148 bytes). Errors if a prevout is not this
    /// wallet's script or the counts differ.
    pub fn sign_p2pkh_inputs(&self, tx: &mut Transaction, prevouts: &[TxOut]) -> Result<(), TxError> {
        if prevouts.len() != tx.input.len() {
            return Err(TxError::Signing {
                input: prevouts.len().min(tx.input.len()),
                reason: format!("{} inputs but {} prevouts given", tx.input.len(), prevouts.len()),
            });
        }
        let own = self.script_pubkey();
        let mut sigs = Vec::with_capacity(prevouts.len());
        {
            let cache = SighashCache::new(&*tx);
            for (input, prev) in prevouts.iter().enumerate() {
                if prev.script_pubkey != own {
                    return Err(TxError::ForeignUtxo {
                        outpoint: tx.input[input].previous_output,
                        script_hex: hex::encode(prev.script_pubkey.as_bytes()),
                    });
                }
                let sighash = cache
                    .legacy_signature_hash(input, &own, EcdsaSighashType::All.to_u32())
                    .map_err(|e| TxError::Signing { input, reason: e.to_string() })?;
                let msg = Message::from_digest(sighash.to_byte_array());
                let signature = if self.low_r {
                    SECP256K1.sign_ecdsa_low_r(&msg, &self.key.inner)
                } else {
                    SECP256K1.sign_ecdsa(&msg, &self.key.inner)
                };
                sigs.push(bitcoin::ecdsa::Signature::sighash_all(signature));
            }
        }
        for (txin, sig) in tx.input.iter_mut().zip(sigs) {
            txin.script_sig =
                Builder::new().push_slice(sig.serialize()).push_slice(self.pubkey.to_bytes()).into_script();
        }
        Ok(())
    }
}
