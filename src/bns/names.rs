//! Name syntax and prices (SPEC.md §4).

use super::epoch::{Epoch, PriceRule};

/// Longest fully-qualified name (`name.ns`).
pub const MAX_FQN_LEN: usize = 37;
/// Longest namespace id.
pub const MAX_NAMESPACE_LEN: usize = 19;
/// Price unit of a BTC-priced name, in satoshis.
pub const NAME_COST_UNIT_SATS: u64 = 100;
/// Price unit of a STACKS-priced (version 3) name, in micro-STX.
pub const NAME_COST_UNIT_STACKS: u64 = 1733;

fn is_label_char(c: u8) -> bool {
    c.is_ascii_digit() || c.is_ascii_lowercase() || c == b'-' || c == b'_'
}

/// True if `ns` is a valid namespace id: 1..=19 chars of `0-9a-z-_`.
pub fn is_valid_namespace_id(ns: &str) -> bool {
    !ns.is_empty() && ns.len() <= MAX_NAMESPACE_LEN && ns.bytes().all(is_label_char)
}

/// Splits a valid fully-qualified name into (name part, namespace id).
///
/// Valid means exactly one `.`, a non-empty name part of `0-9a-z-_`, a valid
/// namespace id, and at most 37 bytes in all.
pub fn split_fqn(fqn: &str) -> Option<(&str, &str)> {
    if fqn.len() > MAX_FQN_LEN {
        return None;
    }
    let (name, ns) = fqn.split_once('.')?;
    if name.is_empty() || !name.bytes().all(is_label_char) || !is_valid_namespace_id(ns) {
        return None;
    }
    Some((name, ns))
}

/// The price parameters a namespace reveal sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriceFunction {
    /// Coefficient.
    pub coeff: u8,
    /// Base.
    pub base: u8,
    /// Exponent per name length 1..=16 (16 = 16 or longer).
    pub buckets: [u8; 16],
    /// Discount for names with a digit, `-` or `_`.
    pub nonalpha_discount: u8,
    /// Discount for names without a vowel (`aeiouy`).
    pub no_vowel_discount: u8,
}

/// A name price: a float in epochs 1-3 (as Core computed it), an integer after.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Price {
    /// Epochs 1-3.
    Float(f64),
    /// Epoch >= 4.
    Int(u64),
}

impl Price {
    /// True if `paid` (satoshis or micro-STX) covers this price.
    pub fn is_covered_by(&self, paid: u64) -> bool {
        match *self {
            Price::Float(p) => (paid as f64) >= p,
            Price::Int(p) => paid >= p,
        }
    }

    /// The price rounded up to whole units, for building transactions.
    pub fn ceil(&self) -> u64 {
        match *self {
            Price::Float(p) => p.ceil() as u64,
            Price::Int(p) => p,
        }
    }
}

/// The terms of a name's price: bucket exponent and discount (with why).
fn price_terms(name: &str, f: &PriceFunction) -> (u32, u64, &'static str) {
    let n = name.len().max(1);
    let exp = f.buckets[(n - 1).min(15)] as u32;
    let mut discount: u64 = 1;
    let mut why = "none";
    if !name.bytes().any(|c| b"aeiouy".contains(&c)) && f.no_vowel_discount as u64 > discount {
        discount = f.no_vowel_discount as u64;
        why = "no vowel";
    }
    if name.bytes().any(|c| c.is_ascii_digit() || c == b'-' || c == b'_') && f.nonalpha_discount as u64 > discount {
        discount = f.nonalpha_discount as u64;
        why = "non-alphabetic character";
    }
    (exp, discount.max(1), why)
}

/// Price of `name` (the part before the dot) in a namespace, at `epoch`.
///
/// Discounts take the max, not the product, as Core does. `stacks` selects
/// the micro-STX unit of version-3 namespaces.
pub fn name_price(name: &str, f: &PriceFunction, epoch: &Epoch, stacks: bool) -> Price {
    let (exp, discount, _) = price_terms(name, f);
    let unit = if stacks { NAME_COST_UNIT_STACKS } else { NAME_COST_UNIT_SATS };
    let power = (f.base as u128).checked_pow(exp).unwrap_or(u128::MAX);
    match epoch.price {
        PriceRule::Float(mult) => {
            let mut p = (f.coeff as f64 * power as f64) / discount as f64 * unit as f64;
            if p < unit as f64 {
                p = unit as f64;
            }
            Price::Float(p * mult)
        }
        PriceRule::IntDivision => {
            // Python longs never overflow; saturating keeps "unaffordable" unaffordable.
            let product = (f.coeff as u128).checked_mul(power).and_then(|p| p.checked_mul(unit as u128));
            let mut p = product.unwrap_or(u128::MAX) / discount as u128;
            if p < unit as u128 {
                p = unit as u128;
            }
            let divisor = if stacks { 1 } else { 10 };
            Price::Int(u64::try_from(p / divisor).unwrap_or(u64::MAX))
        }
    }
}

/// A name price with the rule that produced it, for people.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PriceQuote {
    /// Name part priced.
    pub name: String,
    /// Its length.
    pub length: usize,
    /// Epoch whose rule applied.
    pub epoch: u8,
    /// Bucket exponent for this length.
    pub bucket_exponent: u32,
    /// Discount divisor applied.
    pub discount: u64,
    /// Why that discount.
    pub discount_reason: &'static str,
    /// `satoshis` or `micro-STX`.
    pub units: &'static str,
    /// The price.
    pub amount: u64,
    /// The formula with the numbers filled in.
    pub rule: String,
}

/// [`name_price`] with its working shown.
pub fn quote(name: &str, f: &PriceFunction, epoch: &Epoch, stacks: bool) -> PriceQuote {
    let (exp, discount, why) = price_terms(name, f);
    let unit = if stacks { NAME_COST_UNIT_STACKS } else { NAME_COST_UNIT_SATS };
    let price = name_price(name, f, epoch, stacks);
    let rule = match epoch.price {
        PriceRule::Float(mult) => format!(
            "max({} * {}^{} / {} * {unit}, {unit}) * {mult} (float, epochs 1-3)",
            f.coeff, f.base, exp, discount
        ),
        PriceRule::IntDivision => format!(
            "max({} * {}^{} * {unit} // {}, {unit}) // {} (integer, epoch >= 4)",
            f.coeff,
            f.base,
            exp,
            discount,
            if stacks { 1 } else { 10 }
        ),
    };
    PriceQuote {
        name: name.to_string(),
        length: name.len(),
        epoch: epoch.number,
        bucket_exponent: exp,
        discount,
        discount_reason: why,
        units: if stacks { "micro-STX" } else { "satoshis" },
        amount: price.ceil(),
        rule,
    }
}

/// Namespace price in satoshis by id length, or `None` where the epoch has no
/// BTC price (epoch >= 4: any BTC fee passes, a Core quirk).
pub fn namespace_price_sats(ns: &str, epoch: &Epoch) -> Option<u64> {
    let base: u64 = match ns.len() {
        0 | 1 => 40_000_000_000,
        2..=3 => 4_000_000_000,
        4..=7 => 400_000_000,
        _ => 40_000_000,
    };
    match epoch.number {
        1 | 2 => Some(base),
        3 => Some(base / 10),
        _ => None,
    }
}

/// Namespace price in micro-STX by id length (epoch >= 4).
pub fn namespace_price_stacks(ns: &str) -> u64 {
    match ns.len() {
        0 | 1 => 640_000_000_000,
        2..=3 => 64_000_000_000,
        4..=7 => 6_400_000_000,
        _ => 640_000_000,
    }
}

/// Satoshis a namespace preorder burns when its epoch prices namespaces in
/// STACKs (any BTC fee passes then; Core's wallet sent this dust amount).
pub const NAMESPACE_STACKS_ERA_BURN: u64 = 5_500;

/// What a namespace preorder at `epoch` pays, as the rules check it:
/// (satoshis burned, micro-STX debited from the sender's token account from
/// epoch 4 on).
pub fn namespace_fee(ns: &str, epoch: &Epoch) -> (u64, Option<u64>) {
    match namespace_price_sats(ns, epoch) {
        Some(sats) => (sats, None),
        None => (NAMESPACE_STACKS_ERA_BURN, Some(namespace_price_stacks(ns))),
    }
}

/// What a name preorder (or renewal) must pay, as the rules' payment check
/// (Core's `check_payment_v1/v2/v3`) accepts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameFee {
    /// `amount` satoshis to the burn address, or to the namespace creator's
    /// address when `to_creator` (version 2, inside its fee period).
    Sats {
        /// Satoshis (the price rounded up).
        amount: u64,
        /// Pay the namespace's address instead of burning.
        to_creator: bool,
    },
    /// micro-STX burned from the payer's token account (version 3); the
    /// satoshi output still goes to the burn address.
    Stacks(u64),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bns::epoch::{ChainParams, FIRST_BLOCK_MAINNET};

    const ID: PriceFunction = PriceFunction {
        coeff: 250,
        base: 4,
        buckets: [6, 5, 4, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        nonalpha_discount: 10,
        no_vowel_discount: 10,
    };

    #[test]
    fn id_namespace_prices_per_epoch() {
        let p = ChainParams::mainnet();
        let e1 = p.epoch_at(FIRST_BLOCK_MAINNET);
        let e3 = p.epoch_at(500_000);
        let e4 = p.epoch_at(560_000);
        for (name, f1, f3, i4) in [
            ("a", 102_400_000.0, 10_240_000.0, 10_240_000),
            ("muneeb", 100_000.0, 10_000.0, 10_000),
            ("patrick", 25_000.0, 2_500.0, 2_500),
            ("abcdefghijklmnopqrstu", 25_000.0, 2_500.0, 2_500),
        ] {
            assert_eq!(name_price(name, &ID, &e1, false), Price::Float(f1), "{name}");
            assert_eq!(name_price(name, &ID, &e3, false), Price::Float(f3), "{name}");
            assert_eq!(name_price(name, &ID, &e4, false), Price::Int(i4), "{name}");
        }
    }

    #[test]
    fn discounts_take_the_max_not_the_product() {
        let f = PriceFunction { nonalpha_discount: 4, no_vowel_discount: 5, ..ID };
        let e4 = ChainParams::mainnet().epoch_at(560_000);
        // "b4" has no vowel and a digit: discount = max(4, 5) = 5, not 20.
        // bucket[1] = 5: 250 * 4^5 * 100 / 5 / 10 = 512000
        assert_eq!(name_price("b4", &f, &e4, false), Price::Int(512_000));
    }

    #[test]
    fn huge_parameters_saturate_instead_of_wrapping() {
        let f = PriceFunction { coeff: 255, base: 255, buckets: [15; 16], nonalpha_discount: 1, no_vowel_discount: 1 };
        let e4 = ChainParams::mainnet().epoch_at(560_000);
        assert_eq!(name_price("a", &f, &e4, true), Price::Int(u64::MAX));
        assert!(!name_price("a", &f, &e4, false).is_covered_by(u64::MAX - 1));
    }

    #[test]
    fn namespace_prices() {
        let p = ChainParams::mainnet();
        assert_eq!(namespace_price_sats("id", &p.epoch_at(FIRST_BLOCK_MAINNET)), Some(4_000_000_000));
        assert_eq!(namespace_price_sats("id", &p.epoch_at(500_000)), Some(400_000_000));
        assert_eq!(namespace_price_sats("id", &p.epoch_at(600_000)), None);
        assert_eq!(namespace_price_stacks("helloworld"), 640_000_000);
    }

    #[test]
    fn fqn_syntax() {
        assert_eq!(split_fqn("werner.id"), Some(("werner", "id")));
        for bad in ["werner", "a.b.c", ".id", "x.", "Werner.id", "a+b.id", "x.abcdefghijklmnopqrst"] {
            assert_eq!(split_fqn(bad), None, "{bad}");
        }
        assert!(split_fqn(&format!("{}.id", "a".repeat(34))).is_some());
        assert!(split_fqn(&format!("{}.id", "a".repeat(35))).is_none());
    }
}
