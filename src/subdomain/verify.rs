//! The signature of a subdomain update (Core's `subdomains.verify`).
//!
//! `sig=` is the base64 of a scriptSig over sha256 of the record's
//! [`super::plaintext`]:
//! - single-sig (owner is a P2PKH address): `push(sig) push(pubkey)`, the
//!   pubkey hashing to the owner's hash160;
//! - multisig (owner is a P2SH address): `OP_0 push(sig)... push(redeemScript)`,
//!   the redeem script (`m <pubkeys> n OP_CHECKMULTISIG`) hashing to the
//!   owner, with `m` signatures matching the keys in order.
//!
//! Each signature is 64 bytes `r || s` (compact, no DER, no sighash byte);
//! high-S values verify too (the signer's library did not normalize them).
//! The owner's version byte is not compared (Core re-encoded addresses to the
//! chain's network before comparing): only its kind and hash160.

use base64::Engine as _;
use bitcoin::hashes::{hash160, sha256, Hash as _};
use bitcoin::opcodes::all::{OP_CHECKMULTISIG, OP_PUSHBYTES_0};
use bitcoin::script::{Instruction, Script};
use bitcoin::secp256k1::{ecdsa::Signature, Message, PublicKey, SECP256K1};

/// Why a signature does not authorize an update.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    /// The update carries no `sig=`.
    #[error("no sig= (an update must be signed by the previous owner)")]
    Missing,
    /// `sig=` is not base64, or not a script of pushes.
    #[error("sig= is not a base64 scriptSig")]
    Malformed,
    /// The previous owner is not a base58check P2PKH or P2SH address.
    #[error("previous owner {0} is not a P2PKH or P2SH address")]
    Owner(String),
    /// The key (or redeem script) is not the previous owner's.
    #[error("the signing key is not the previous owner's ({0})")]
    WrongKey(String),
    /// The signature does not verify.
    #[error("the signature does not verify")]
    Invalid,
}

/// Address kinds by version byte (mainnet, testnet/regtest).
fn owner_kind(address: &str) -> Option<(bool, [u8; 20])> {
    let data = bitcoin::base58::decode_check(address).ok()?;
    let (&version, hash) = data.split_first()?;
    let hash: [u8; 20] = hash.try_into().ok()?;
    match version {
        0 | 111 => Some((false, hash)),
        5 | 196 => Some((true, hash)),
        _ => None,
    }
}

/// The pushes of a script; `None` if any instruction is not a push.
fn pushes(script: &Script) -> Option<Vec<Vec<u8>>> {
    script
        .instructions()
        .map(|i| match i.ok()? {
            Instruction::PushBytes(b) => Some(b.as_bytes().to_vec()),
            Instruction::Op(op) if op == OP_PUSHBYTES_0 => Some(Vec::new()),
            Instruction::Op(_) => None,
        })
        .collect()
}

fn verifies(digest: &Message, sig: &[u8], key: &[u8]) -> bool {
    let (Ok(mut sig), Ok(key)) = (Signature::from_compact(sig), PublicKey::from_slice(key)) else { return false };
    sig.normalize_s();
    SECP256K1.verify_ecdsa(digest, &sig, &key).is_ok()
}

/// Checks that `sig_b64` signs `plaintext` for `previous_owner`.
pub fn verify_signature(previous_owner: &str, plaintext: &str, sig_b64: Option<&str>) -> Result<(), SigError> {
    let sig_b64 = sig_b64.ok_or(SigError::Missing)?;
    let script = base64::engine::general_purpose::STANDARD.decode(sig_b64.trim()).map_err(|_| SigError::Malformed)?;
    let parts = pushes(Script::from_bytes(&script)).ok_or(SigError::Malformed)?;
    let (p2sh, owner_hash) = owner_kind(previous_owner).ok_or_else(|| SigError::Owner(previous_owner.into()))?;
    let digest = Message::from_digest(sha256::Hash::hash(plaintext.as_bytes()).to_byte_array());
    if !p2sh {
        let [sig, key] = &parts[..] else { return Err(SigError::Malformed) };
        if hash160::Hash::hash(key).to_byte_array() != owner_hash {
            return Err(SigError::WrongKey(previous_owner.into()));
        }
        return if verifies(&digest, sig, key) { Ok(()) } else { Err(SigError::Invalid) };
    }
    let [first, sigs @ .., redeem] = &parts[..] else { return Err(SigError::Malformed) };
    if !first.is_empty() {
        return Err(SigError::Malformed);
    }
    if hash160::Hash::hash(redeem).to_byte_array() != owner_hash {
        return Err(SigError::WrongKey(previous_owner.into()));
    }
    let (m, keys) = multisig_keys(redeem).ok_or(SigError::Malformed)?;
    if sigs.len() != m {
        return Err(SigError::Invalid);
    }
    // Signatures match keys in order; a key is used at most once.
    let mut next_key = 0;
    for sig in sigs {
        loop {
            let Some(key) = keys.get(next_key) else { return Err(SigError::Invalid) };
            next_key += 1;
            if verifies(&digest, sig, key) {
                break;
            }
        }
    }
    Ok(())
}

/// `m <pubkeys> n OP_CHECKMULTISIG` → (m, keys).
fn multisig_keys(redeem: &[u8]) -> Option<(usize, Vec<Vec<u8>>)> {
    let script = Script::from_bytes(redeem);
    let ins: Vec<Instruction<'_>> = script.instructions().collect::<Result<_, _>>().ok()?;
    let small = |i: &Instruction<'_>| {
        let op = i.opcode()?.to_u8();
        (0x51..=0x60).contains(&op).then(|| usize::from(op - 0x50))
    };
    let (first, rest) = ins.split_first()?;
    let (last, rest) = rest.split_last()?;
    let (n_ins, keys) = rest.split_last()?;
    if last.opcode() != Some(OP_CHECKMULTISIG) {
        return None;
    }
    let (m, n) = (small(first)?, small(n_ins)?);
    let keys: Vec<Vec<u8>> =
        keys.iter().map(|k| k.push_bytes().map(|b| b.as_bytes().to_vec())).collect::<Option<_>>()?;
    (keys.len() == n && (1..=n).contains(&m)).then_some((m, keys))
}

/// Signs `plaintext` with `secret` as a single-sig `sig=` value (for
/// registrars and tests): base64 of `push(r||s) push(compressed pubkey)`.
pub fn sign_single(secret: &bitcoin::secp256k1::SecretKey, plaintext: &str) -> String {
    let digest = Message::from_digest(sha256::Hash::hash(plaintext.as_bytes()).to_byte_array());
    let sig = SECP256K1.sign_ecdsa(&digest, secret).serialize_compact();
    let key = PublicKey::from_secret_key(SECP256K1, secret).serialize();
    let script = bitcoin::script::Builder::new().push_slice(sig).push_slice(key).into_script();
    base64::engine::general_purpose::STANDARD.encode(script.as_bytes())
}

#[cfg(test)]
pub(super) fn tests_pushes(script: &[u8]) -> Vec<Vec<u8>> {
    pushes(Script::from_bytes(script)).unwrap_or_default()
}
