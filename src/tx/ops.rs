//! BNS transaction layouts (SPEC.md §1): which outputs go where, for each op.
//! BNS reads outputs by position, so every layout here is exact.
//!
//! | op | outputs |
//! |---|---|
//! | namespace preorder `*` | data, change, burn(fee) |
//! | namespace reveal `&` | data, revealer(dust), change (exactly 3) |
//! | namespace ready `!` | data, change |
//! | name preorder `?` | data, change, burn(price) (exactly 3) |
//! | name register `:` | data, owner(dust), change (3: 4+ would be a renewal) |
//! | name update `+` | data, change |
//! | name transfer `>` | data, new owner(dust), change |
//! | name revoke `~` | data, change |
//! | name renewal `:` | data, owner(dust), change, payment(price) (4 outputs = renewal) |
//! | name import `;` | data, recipient(dust), p2pkh(zone-file hash)(dust), change |
//! | announce `#` | data, change |
//! | token transfer `$` | data, recipient(dust), change |

use bitcoin::{Address, Amount, Network, OutPoint, Script, ScriptBuf, Transaction, TxOut};

use super::{build_and_sign, OutputSpec, TxError, Wallet};
use crate::hash::{AnnounceHash, ConsensusHash, NameConsensusHash, NameHash128, ValueHash};
use crate::virtualchain::preorder::{name_preorder_hash, namespace_preorder_hash};
use crate::virtualchain::scan::burn_address;
use crate::virtualchain::wire::{
    payload, Announce, NameImport, NamePreorder, NameRegistration, NameRevoke, NameTransfer, NameUpdate,
    NamespacePreorder, NamespaceReady, NamespaceReveal, Op, TokenBurn, TokenTransfer,
};

/// Value of owner and revealer outputs (Core's default dust fee).
pub const DUST_OUTPUT: Amount = Amount::from_sat(5_500);

/// A wallet and the coins it may spend; [`Funding::next`] chains the change
/// of each built transaction into the next one, so several can go in one block.
pub struct Funding<'a> {
    /// Signs every input.
    pub wallet: &'a Wallet,
    /// Spendable outputs of the wallet.
    pub utxos: Vec<(OutPoint, TxOut)>,
    /// Fee rate in sat/vB.
    pub fee_rate: u64,
}

impl Funding<'_> {
    /// Takes a built transaction: removes the coins it spent and adds its
    /// outputs to the wallet as new coins. Passes errors through, converted.
    pub fn next<E, F: From<E>>(&mut self, tx: Result<Transaction, E>) -> Result<Transaction, F> {
        let tx = tx?;
        let spent: Vec<OutPoint> = tx.input.iter().map(|i| i.previous_output).collect();
        self.utxos.retain(|(op, _)| !spent.contains(op));
        let txid = tx.compute_txid();
        let mine = self.wallet.script_pubkey();
        for (vout, out) in tx.output.iter().enumerate() {
            if out.script_pubkey == mine {
                self.utxos.push((OutPoint { txid, vout: vout as u32 }, out.clone()));
            }
        }
        Ok(tx)
    }

    fn build(&self, outputs: &[OutputSpec]) -> Result<Transaction, TxError> {
        // Never spend the outputs that carry meaning (owner/revealer dust) as funding.
        let utxos: Vec<(OutPoint, TxOut)> = self.utxos.iter().filter(|(_, o)| o.value > DUST_OUTPUT).cloned().collect();
        build_and_sign(self.wallet, &utxos, outputs, self.fee_rate)
    }
}

/// Namespace parameters of a reveal (also the format of `zones/namespaces.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevealParams {
    /// Version bits.
    pub version: u16,
    /// Lifetime in blocks.
    pub lifetime: u32,
    /// Price coefficient.
    pub coeff: u8,
    /// Price base.
    pub base: u8,
    /// Exponents per length.
    pub buckets: [u8; 16],
    /// Non-alphabetic discount.
    pub nonalpha_discount: u8,
    /// No-vowel discount.
    pub no_vowel_discount: u8,
}

fn data(magic: [u8; 2], op: &Op) -> OutputSpec {
    OutputSpec::Data(payload(magic, op))
}

/// The layout of ops that name a recipient in output 1: data, recipient (dust), change.
fn to_recipient(f: &Funding<'_>, magic: [u8; 2], op: &Op, recipient: &Script) -> Result<Transaction, TxError> {
    f.build(&[
        data(magic, op),
        OutputSpec::Pay { script: recipient.to_owned(), value: DUST_OUTPUT },
        OutputSpec::Change,
    ])
}

fn address_script(addr: &str, network: Network) -> Result<ScriptBuf, TxError> {
    let a: Address<bitcoin::address::NetworkUnchecked> =
        addr.parse().map_err(|e| TxError::InvalidWif(format!("address {addr}: {e}")))?;
    Ok(a.require_network(network).map_err(|e| TxError::InvalidWif(format!("address {addr}: {e}")))?.script_pubkey())
}

fn bad_name(name: &str) -> TxError {
    TxError::InvalidWif(format!("{name:?} is not a valid BNS name"))
}

/// `*`: commits to `ns_id` revealed by this wallet to `reveal_address`;
/// burns `fee` satoshis and, from epoch 4, `stx_fee` micro-STX from the
/// sender's token account (`None` writes the 36-byte pre-epoch-4 payload).
#[allow(clippy::too_many_arguments)]
pub fn namespace_preorder(
    f: &Funding<'_>,
    magic: [u8; 2],
    ns_id: &str,
    reveal_address: &str,
    ch: &ConsensusHash,
    fee: u64,
    stx_fee: Option<u64>,
    network: Network,
) -> Result<Transaction, TxError> {
    let sender = f.wallet.script_pubkey();
    let hash = namespace_preorder_hash(ns_id, &sender, reveal_address).map_err(|_| bad_name(ns_id))?;
    let op = Op::NamespacePreorder(NamespacePreorder { preorder_hash: hash, consensus_hash: *ch, stx_fee });
    let burn = address_script(&burn_address(network), network)?;
    f.build(&[data(magic, &op), OutputSpec::Change, OutputSpec::Pay { script: burn, value: Amount::from_sat(fee) }])
}

/// `&`: reveals `ns_id` with `p`; output 1 names the revealer.
pub fn namespace_reveal(
    f: &Funding<'_>,
    magic: [u8; 2],
    ns_id: &str,
    p: &RevealParams,
    revealer: &Script,
) -> Result<Transaction, TxError> {
    let op = Op::NamespaceReveal(NamespaceReveal {
        lifetime: p.lifetime,
        coeff: p.coeff,
        base: p.base,
        buckets: p.buckets,
        nonalpha_discount: p.nonalpha_discount,
        no_vowel_discount: p.no_vowel_discount,
        version: p.version,
        namespace_id: ns_id.to_string(),
    });
    to_recipient(f, magic, &op, revealer)
}

/// `!`: launches `ns_id`; must be sent by the revealer.
pub fn namespace_ready(f: &Funding<'_>, magic: [u8; 2], ns_id: &str) -> Result<Transaction, TxError> {
    let op = Op::NamespaceReady(NamespaceReady { namespace_id: ns_id.to_string() });
    f.build(&[data(magic, &op), OutputSpec::Change])
}

/// `?`: commits to `fqn` registered by this wallet to `register_address`; burns `price`.
pub fn name_preorder(
    f: &Funding<'_>,
    magic: [u8; 2],
    fqn: &str,
    register_address: &str,
    ch: &ConsensusHash,
    price: u64,
    network: Network,
) -> Result<Transaction, TxError> {
    let burn = address_script(&burn_address(network), network)?;
    name_preorder_paying(f, magic, fqn, register_address, ch, price, &burn)
}

/// `?` paying `price` to `payee` instead of burning it: a version-2
/// namespace's creator receives name fees during its first year.
pub fn name_preorder_paying(
    f: &Funding<'_>,
    magic: [u8; 2],
    fqn: &str,
    register_address: &str,
    ch: &ConsensusHash,
    price: u64,
    payee: &Script,
) -> Result<Transaction, TxError> {
    let sender = f.wallet.script_pubkey();
    let hash = name_preorder_hash(fqn, &sender, register_address).map_err(|_| bad_name(fqn))?;
    let op = Op::NamePreorder(NamePreorder { preorder_hash: hash, consensus_hash: *ch, tokens: None });
    let pay = OutputSpec::Pay { script: payee.to_owned(), value: Amount::from_sat(price) };
    f.build(&[data(magic, &op), OutputSpec::Change, pay])
}

/// `?` paying `micro_stx` STACKs from the sender's token account (the
/// 63-byte form, epoch >= 4; version-3 namespaces), with a dust burn output.
#[allow(clippy::too_many_arguments)]
pub fn name_preorder_stacks(
    f: &Funding<'_>,
    magic: [u8; 2],
    fqn: &str,
    register_address: &str,
    ch: &ConsensusHash,
    micro_stx: u64,
    network: Network,
) -> Result<Transaction, TxError> {
    let sender = f.wallet.script_pubkey();
    let hash = name_preorder_hash(fqn, &sender, register_address).map_err(|_| bad_name(fqn))?;
    let tokens = Some(TokenBurn { amount: micro_stx, units: "STACKS".to_string() });
    let op = Op::NamePreorder(NamePreorder { preorder_hash: hash, consensus_hash: *ch, tokens });
    let burn = address_script(&burn_address(network), network)?;
    f.build(&[data(magic, &op), OutputSpec::Change, OutputSpec::Pay { script: burn, value: DUST_OUTPUT }])
}

/// `:`: registers `fqn` to `owner`, pointing at `value_hash`.
pub fn name_register(
    f: &Funding<'_>,
    magic: [u8; 2],
    fqn: &str,
    value_hash: Option<ValueHash>,
    owner: &Script,
) -> Result<Transaction, TxError> {
    let op = Op::NameRegistration(NameRegistration { name: fqn.to_string(), value_hash, tokens: None });
    to_recipient(f, magic, &op, owner)
}

/// `+`: points `fqn` (owned by this wallet) at `value_hash`; `ch` is a
/// consensus hash from the last 24 blocks.
pub fn name_update(
    f: &Funding<'_>,
    magic: [u8; 2],
    fqn: &str,
    ch: &ConsensusHash,
    value_hash: &ValueHash,
) -> Result<Transaction, TxError> {
    let op =
        Op::NameUpdate(NameUpdate { name_consensus_hash: NameConsensusHash::of(fqn, ch), value_hash: *value_hash });
    f.build(&[data(magic, &op), OutputSpec::Change])
}

/// `>`: gives `fqn` (owned by this wallet) to `new_owner`, keeping or
/// clearing its zone-file hash; `ch` is a consensus hash from the last 24 blocks.
pub fn name_transfer(
    f: &Funding<'_>,
    magic: [u8; 2],
    fqn: &str,
    keep_data: bool,
    ch: &ConsensusHash,
    new_owner: &Script,
) -> Result<Transaction, TxError> {
    let op = Op::NameTransfer(NameTransfer { keep_data, name_hash128: NameHash128::of_name(fqn), consensus_hash: *ch });
    to_recipient(f, magic, &op, new_owner)
}

/// `~`: revokes `fqn` (owned by this wallet).
pub fn name_revoke(f: &Funding<'_>, magic: [u8; 2], fqn: &str) -> Result<Transaction, TxError> {
    let op = Op::NameRevoke(NameRevoke { name: fqn.to_string() });
    f.build(&[data(magic, &op), OutputSpec::Change])
}

/// What a renewal pays and sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Renewal<'a> {
    /// New zone-file hash, if any.
    pub value_hash: Option<ValueHash>,
    /// STACKs to pay from the owner's token account (needs `value_hash`:
    /// the token field follows it on the wire).
    pub tokens: u64,
    /// Satoshis paid in output 3.
    pub price: u64,
    /// Address output 3 pays (the burn address, or a v2 namespace creator).
    pub pay_to: &'a str,
}

/// `:` with 4 outputs: renews `fqn` (owned by this wallet) for `owner`.
pub fn name_renew(
    f: &Funding<'_>,
    magic: [u8; 2],
    fqn: &str,
    owner: &Script,
    r: &Renewal<'_>,
    network: Network,
) -> Result<Transaction, TxError> {
    if r.value_hash.is_none() && r.tokens != 0 {
        return Err(TxError::InvalidWif("a renewal paying STACKs must carry a zone-file hash".into()));
    }
    let tokens = r.value_hash.map(|_| r.tokens);
    let op = Op::NameRegistration(NameRegistration { name: fqn.to_string(), value_hash: r.value_hash, tokens });
    let pay = address_script(r.pay_to, network)?;
    f.build(&[
        data(magic, &op),
        OutputSpec::Pay { script: owner.to_owned(), value: DUST_OUTPUT },
        OutputSpec::Change,
        OutputSpec::Pay { script: pay, value: Amount::from_sat(r.price) },
    ])
}

/// `;`: imports `fqn` for `recipient` with zone-file hash `value_hash`
/// (sent by the namespace revealer or a key of its importer keyring).
pub fn name_import(
    f: &Funding<'_>,
    magic: [u8; 2],
    fqn: &str,
    recipient: &Script,
    value_hash: &ValueHash,
) -> Result<Transaction, TxError> {
    let op = Op::NameImport(NameImport { name: fqn.to_string() });
    let hash_out = ScriptBuf::new_p2pkh(&bitcoin::hashes::Hash::from_byte_array(value_hash.0));
    f.build(&[
        data(magic, &op),
        OutputSpec::Pay { script: recipient.to_owned(), value: DUST_OUTPUT },
        OutputSpec::Pay { script: hash_out, value: DUST_OUTPUT },
        OutputSpec::Change,
    ])
}

/// `#`: announces the message with hash160 `hash`.
pub fn announce(f: &Funding<'_>, magic: [u8; 2], hash: &AnnounceHash) -> Result<Transaction, TxError> {
    let op = Op::Announce(Announce { hash: *hash });
    f.build(&[data(magic, &op), OutputSpec::Change])
}

/// `$`: sends `amount` micro-STX from this wallet's token account to `recipient`.
pub fn token_transfer(
    f: &Funding<'_>,
    magic: [u8; 2],
    ch: &ConsensusHash,
    amount: u64,
    scratch: &[u8],
    recipient: &Script,
) -> Result<Transaction, TxError> {
    let op = Op::TokenTransfer(TokenTransfer {
        consensus_hash: *ch,
        token_type: "STACKS".to_string(),
        amount,
        scratch: scratch.to_vec(),
    });
    to_recipient(f, magic, &op, recipient)
}

/// `+` like [`name_update`], but spending exactly `coin` of `wallet` (e.g. the
/// owner output a registration paid, which [`Funding`] never spends), with the
/// change back to `wallet`.
pub fn name_update_from_coin(
    wallet: &Wallet,
    coin: (OutPoint, TxOut),
    magic: [u8; 2],
    fqn: &str,
    ch: &ConsensusHash,
    value_hash: &ValueHash,
) -> Result<Transaction, TxError> {
    let op =
        Op::NameUpdate(NameUpdate { name_consensus_hash: NameConsensusHash::of(fqn, ch), value_hash: *value_hash });
    build_and_sign(wallet, &[coin], &[data(magic, &op), OutputSpec::Change], 1)
}
