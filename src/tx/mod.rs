//! Generic transaction building and P2PKH signing. Knows nothing of BNS: the
//! BNS layer supplies an ordered [`OutputSpec`] template (BNS reads outputs by
//! position) and gets back a signed legacy transaction with exactly those
//! outputs in exactly that order.

use std::collections::HashSet;
use std::path::PathBuf;

use bitcoin::script::PushBytesBuf;
use bitcoin::transaction::Version;
use bitcoin::{absolute, Amount, NetworkKind, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Witness};

pub mod ops;
#[cfg(test)]
mod tests;
mod wallet;

pub use wallet::Wallet;

/// Smallest change output created (Bitcoin Core's dust threshold for a P2PKH
/// output at the default 3 sat/vB dust relay fee).
pub const DUST_LIMIT: Amount = Amount::from_sat(546);
/// Virtual size charged per input (a signed P2PKH input is at most 147 bytes).
pub const P2PKH_INPUT_VBYTES: u64 = 148;
/// Largest [`OutputSpec::Data`] payload (Core's classic 80-byte OP_RETURN
/// relay limit; every BNS payload fits).
pub const MAX_DATA_LEN: usize = 80;
/// nSequence of every input: final for lock time, signals BIP125 RBF.
pub const INPUT_SEQUENCE: Sequence = Sequence::ENABLE_RBF_NO_LOCKTIME;

/// One output of an ordered template. Output `i` of the built transaction is
/// made from template entry `i`; nothing is added, dropped or reordered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputSpec {
    /// `OP_RETURN <one push of these bytes>`, value 0. At most [`MAX_DATA_LEN`] bytes.
    Data(Vec<u8>),
    /// Pays `value` to `script` as given (no dust check: bitcoind refuses to
    /// relay outputs below its dust threshold, the dev chain accepts them).
    Pay {
        /// The scriptPubKey.
        script: ScriptBuf,
        /// The amount.
        value: Amount,
    },
    /// Change back to the wallet's P2PKH script: inputs - payments - fee,
    /// always at least [`DUST_LIMIT`]. At most one per template.
    Change,
}

/// Why a transaction could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TxError {
    /// The UTXOs can't pay the outputs, the fee and (if templated) a
    /// dust-sized change output.
    #[error("insufficient funds: need {} sat (payments + fee + change of at least {} sat if templated), have {} sat; fund the wallet (mine or send to its address), pass more UTXOs, or lower the fee rate", needed.to_sat(), DUST_LIMIT.to_sat(), available.to_sat())]
    InsufficientFunds {
        /// Payments + fee (with every UTXO as input) + dust change if templated.
        needed: Amount,
        /// Sum of the UTXOs offered.
        available: Amount,
    },
    /// The template is empty.
    #[error("the output template is empty; give at least one OutputSpec")]
    EmptyTemplate,
    /// More than one [`OutputSpec::Change`].
    #[error("the template has {count} Change outputs; use at most one OutputSpec::Change")]
    MultipleChange {
        /// How many there were.
        count: usize,
    },
    /// A [`OutputSpec::Data`] payload is too long.
    #[error("Data output {index} carries {len} bytes but OP_RETURN payloads are limited to {max} bytes; shorten the payload")]
    DataTooLarge {
        /// Template index.
        index: usize,
        /// Payload length.
        len: usize,
        /// [`MAX_DATA_LEN`].
        max: usize,
    },
    /// A UTXO or prevout does not pay to the wallet's P2PKH script.
    #[error("UTXO {outpoint} is locked by script {script_hex}, not this wallet's P2PKH script; pass only outputs paying wallet.script_pubkey()")]
    ForeignUtxo {
        /// The outpoint.
        outpoint: OutPoint,
        /// Its scriptPubKey, hex.
        script_hex: String,
    },
    /// The same outpoint was offered twice.
    #[error("UTXO {outpoint} is listed twice; pass each outpoint once")]
    DuplicateUtxo {
        /// The repeated outpoint.
        outpoint: OutPoint,
    },
    /// No Change in the template, and the selected inputs exceed payments +
    /// fee by at least [`DUST_LIMIT`] (that surplus would go to the miner).
    #[error("without a Change output {} sat above the {} sat fee would go to the miner; add OutputSpec::Change to the template or pass UTXOs that match the payments", surplus.to_sat(), fee.to_sat())]
    ExcessFee {
        /// What the inputs leave over above the estimated fee.
        surplus: Amount,
        /// The estimated fee.
        fee: Amount,
    },
    /// Amounts or fee overflow the 21 million BTC range.
    #[error("payments or fee exceed 21,000,000 BTC; check the amounts and the fee rate")]
    AmountOverflow,
    /// Not a valid WIF string.
    #[error("invalid WIF private key ({0}); expected a base58check WIF such as Wallet::to_wif() produces")]
    InvalidWif(String),
    /// WIF for an uncompressed key.
    #[error("the WIF encodes an uncompressed key; re-export it as a compressed WIF (starting with K, L or c)")]
    UncompressedKey,
    /// The key file's key is for another network kind.
    #[error("key file {path} holds a {found:?} key but a {expected:?} key was requested; use the matching network or another key file")]
    NetworkMismatch {
        /// The key file.
        path: PathBuf,
        /// Kind in the file.
        found: NetworkKind,
        /// Kind asked for.
        expected: NetworkKind,
    },
    /// Reading or writing the key file failed.
    #[error("key file {path}: {source}; check the path and its permissions")]
    KeyFile {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Signing failed (mismatched prevouts).
    #[error("cannot sign input {input}: {reason}")]
    Signing {
        /// Input index.
        input: usize,
        /// Why.
        reason: String,
    },
}

fn compact_size_len(n: u64) -> u64 {
    match n {
        0..=0xfc => 1,
        0xfd..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// Estimated virtual size of a legacy transaction with `n_inputs` signed
/// P2PKH inputs and outputs whose scriptPubKeys have the given lengths:
/// `8 (version + lock time) + cs(n_inputs) + cs(n_outputs) + 148 * n_inputs +
/// sum(8 + cs(len) + len)`, where `cs` is the CompactSize length (1 byte below
/// 253). Never below the real size of what [`build_and_sign`] produces.
pub fn estimate_vsize(n_inputs: usize, output_script_lens: &[usize]) -> u64 {
    let outputs: u64 = output_script_lens.iter().map(|&l| 8 + compact_size_len(l as u64) + l as u64).sum();
    8 + compact_size_len(n_inputs as u64)
        + compact_size_len(output_script_lens.len() as u64)
        + P2PKH_INPUT_VBYTES * n_inputs as u64
        + outputs
}

/// Builds and signs a transaction spending some of `utxos` (all must pay to
/// `wallet.script_pubkey()`), with outputs exactly as `outputs` lists them.
///
/// Coin selection takes UTXOs largest first (ties by outpoint) until they
/// cover sum(Pay) + fee (+ [`DUST_LIMIT`] if the template has a Change),
/// where fee = `fee_rate_sat_per_vb` x [`estimate_vsize`] for the inputs
/// chosen so far. The Change output gets everything left over after payments
/// and fee (so the real fee is the estimate, not the real size). Without a
/// Change, a leftover of [`DUST_LIMIT`] or more is an error rather than a
/// gift to the miner. Inputs appear in selection order, version 2, lock time
/// 0, sequence [`INPUT_SEQUENCE`], each signed SIGHASH_ALL. The caller must
/// not offer immature coinbase outputs (the builder can't tell them apart).
pub fn build_and_sign(
    wallet: &Wallet,
    utxos: &[(OutPoint, TxOut)],
    outputs: &[OutputSpec],
    fee_rate_sat_per_vb: u64,
) -> Result<Transaction, TxError> {
    if outputs.is_empty() {
        return Err(TxError::EmptyTemplate);
    }
    let change_count = outputs.iter().filter(|o| matches!(o, OutputSpec::Change)).count();
    if change_count > 1 {
        return Err(TxError::MultipleChange { count: change_count });
    }
    let own = wallet.script_pubkey();
    let mut txouts = Vec::with_capacity(outputs.len());
    let mut payments = Amount::ZERO;
    for (index, spec) in outputs.iter().enumerate() {
        txouts.push(match spec {
            OutputSpec::Data(data) => {
                if data.len() > MAX_DATA_LEN {
                    return Err(TxError::DataTooLarge { index, len: data.len(), max: MAX_DATA_LEN });
                }
                let push = PushBytesBuf::try_from(data.clone()).expect("<= 80 bytes fits a push");
                TxOut { value: Amount::ZERO, script_pubkey: ScriptBuf::new_op_return(push) }
            }
            OutputSpec::Pay { script, value } => {
                payments = payments.checked_add(*value).ok_or(TxError::AmountOverflow)?;
                TxOut { value: *value, script_pubkey: script.clone() }
            }
            OutputSpec::Change => TxOut { value: Amount::ZERO, script_pubkey: own.clone() },
        });
    }
    if payments > Amount::MAX_MONEY {
        return Err(TxError::AmountOverflow);
    }
    let mut seen = HashSet::new();
    for (outpoint, txout) in utxos {
        if txout.script_pubkey != own {
            return Err(TxError::ForeignUtxo {
                outpoint: *outpoint,
                script_hex: hex::encode(txout.script_pubkey.as_bytes()),
            });
        }
        if !seen.insert(*outpoint) {
            return Err(TxError::DuplicateUtxo { outpoint: *outpoint });
        }
    }
    let script_lens: Vec<usize> = txouts.iter().map(|o| o.script_pubkey.len()).collect();
    let fee_for = |n_inputs: usize| {
        fee_rate_sat_per_vb
            .checked_mul(estimate_vsize(n_inputs, &script_lens))
            .map(Amount::from_sat)
            .filter(|f| *f <= Amount::MAX_MONEY)
            .ok_or(TxError::AmountOverflow)
    };
    let change_floor = if change_count == 1 { DUST_LIMIT } else { Amount::ZERO };
    let needed_for = |n_inputs: usize| -> Result<Amount, TxError> { Ok(payments + fee_for(n_inputs)? + change_floor) };

    let mut sorted: Vec<&(OutPoint, TxOut)> = utxos.iter().collect();
    sorted.sort_by(|a, b| b.1.value.cmp(&a.1.value).then(a.0.cmp(&b.0)));
    let mut selected: Vec<&(OutPoint, TxOut)> = Vec::new();
    let mut total = Amount::ZERO;
    let mut fee = None;
    for utxo in sorted {
        selected.push(utxo);
        total = total.checked_add(utxo.1.value).ok_or(TxError::AmountOverflow)?;
        if total >= needed_for(selected.len())? {
            fee = Some(fee_for(selected.len())?);
            break;
        }
    }
    let Some(fee) = fee else {
        return Err(TxError::InsufficientFunds { needed: needed_for(utxos.len().max(1))?, available: total });
    };
    let leftover = total - payments - fee;
    if let Some(idx) = outputs.iter().position(|o| matches!(o, OutputSpec::Change)) {
        txouts[idx].value = leftover;
    } else if leftover >= DUST_LIMIT {
        return Err(TxError::ExcessFee { surplus: leftover, fee });
    }
    let mut tx = Transaction {
        version: Version::TWO,
        lock_time: absolute::LockTime::ZERO,
        input: selected
            .iter()
            .map(|(outpoint, _)| TxIn {
                previous_output: *outpoint,
                script_sig: ScriptBuf::new(),
                sequence: INPUT_SEQUENCE,
                witness: Witness::new(),
            })
            .collect(),
        output: txouts,
    };
    let prevouts: Vec<TxOut> = selected.iter().map(|(_, o)| o.clone()).collect();
    wallet.sign_p2pkh_inputs(&mut tx, &prevouts)?;
    Ok(tx)
}
