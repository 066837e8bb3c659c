//! Why the dev chain's mempool refused a transaction.

use bitcoin::{Amount, OutPoint, Txid};

/// A transaction rejected by [`DevChain::submit`](super::DevChain::submit).
///
/// Every variant names the offending input index (0-based) or amounts in
/// satoshis, so a failing test says exactly what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DevChainError {
    /// The transaction spends nothing.
    #[error("transaction has no inputs; every transaction must spend at least one output")]
    NoInputs,
    /// The transaction creates nothing.
    #[error("transaction has no outputs; add at least one output")]
    NoOutputs,
    /// Coinbases come only from `mine()`.
    #[error("a coinbase transaction cannot be submitted; mine() creates the coinbase")]
    Coinbase,
    /// Same txid already in the mempool or the chain.
    #[error("transaction {txid} is already in the mempool or the chain")]
    Duplicate {
        /// The repeated txid.
        txid: Txid,
    },
    /// Two inputs of one transaction spend the same outpoint.
    #[error("input {input} spends {outpoint}, which an earlier input of the same transaction already spends")]
    DuplicateInput {
        /// Index of the second spender.
        input: usize,
        /// The outpoint spent twice.
        outpoint: OutPoint,
    },
    /// No transaction with that txid/vout exists (chain or mempool).
    #[error("input {input} spends {outpoint}, which does not exist in the chain or the mempool")]
    MissingInput {
        /// Input index.
        input: usize,
        /// The unknown outpoint.
        outpoint: OutPoint,
    },
    /// The transaction exists but the output is spent in a block, is an
    /// unspendable OP_RETURN output, or its index is out of range.
    #[error("input {input} spends {outpoint}, which is not unspent: already spent in a block, an unspendable OP_RETURN output, or past the end of its transaction's outputs")]
    Spent {
        /// Input index.
        input: usize,
        /// The spent outpoint.
        outpoint: OutPoint,
    },
    /// Another mempool transaction already spends the output.
    #[error("input {input} spends {outpoint}, already spent by mempool transaction {spent_by} (double spend)")]
    DoubleSpend {
        /// Input index.
        input: usize,
        /// The contested outpoint.
        outpoint: OutPoint,
        /// The mempool transaction that spends it first.
        spent_by: Txid,
    },
    /// A coinbase output younger than `required` confirmations.
    #[error("input {input} spends coinbase output {outpoint} with {confirmations} confirmations; coinbase outputs need {required} (mine {} more blocks)", required.saturating_sub(*confirmations))]
    ImmatureCoinbase {
        /// Input index.
        input: usize,
        /// The coinbase outpoint.
        outpoint: OutPoint,
        /// Its confirmations now (tip height - its height + 1).
        confirmations: u32,
        /// COINBASE_MATURITY (100).
        required: u32,
    },
    /// The spent output is not P2PKH; the dev chain verifies nothing else.
    #[error("input {input} spends {outpoint} locked by the non-P2PKH script {script_hex}; the dev chain only accepts P2PKH spends")]
    UnsupportedScript {
        /// Input index.
        input: usize,
        /// The outpoint.
        outpoint: OutPoint,
        /// Its scriptPubKey, hex.
        script_hex: String,
    },
    /// Witness data on a legacy P2PKH spend.
    #[error("input {input} carries witness data; P2PKH spends must have an empty witness")]
    Witness {
        /// Input index.
        input: usize,
    },
    /// scriptSig is not exactly `<sig> <pubkey>`.
    #[error("input {input} has a malformed scriptSig: {reason}; a P2PKH scriptSig is exactly <signature> <pubkey>")]
    BadScriptSig {
        /// Input index.
        input: usize,
        /// What is wrong.
        reason: String,
    },
    /// The pushed public key does not hash to the output's key hash.
    #[error("input {input}: the pushed public key hashes to {got}, but the spent output pays to key hash {expected}")]
    PubkeyMismatch {
        /// Input index.
        input: usize,
        /// hash160 in the spent scriptPubKey, hex.
        expected: String,
        /// hash160 of the pushed key, hex.
        got: String,
    },
    /// Signature unparsable (not strict DER / unknown sighash type) or invalid.
    #[error("input {input}: bad signature: {reason}")]
    BadSignature {
        /// Input index.
        input: usize,
        /// Why it failed.
        reason: String,
    },
    /// Creates money.
    #[error("outputs total {} sat but inputs only {} sat; lower the outputs or add inputs", outputs.to_sat(), inputs.to_sat())]
    OutputsExceedInputs {
        /// Sum of the spent outputs.
        inputs: Amount,
        /// Sum of the new outputs.
        outputs: Amount,
    },
    /// A value or a sum above 21 million BTC.
    #[error("an output value or a sum of values exceeds 21,000,000 BTC")]
    ValueOutOfRange,
}
