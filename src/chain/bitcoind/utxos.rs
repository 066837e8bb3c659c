//! What a wallet needs from the node besides blocks: the spendable outputs
//! paying a script, and a fee-rate estimate.
//!
//! Two node dialects answer the UTXO question:
//! - Bitcoin Core >= 0.17: `scantxoutset "start" [{"desc": "raw(<script hex>)"}]`
//!   (the confirmed UTXO set; no wallet or index needed);
//! - bcoin started with `--index-address=true`: REST `GET /coin/address/<hash160 hex>`
//!   (confirmed and mempool coins, minus those the mempool spends).
//!
//! Core is asked first; a "method not found" (-32601) answer switches to bcoin's REST.

use bitcoin::{Amount, OutPoint, Script, TxOut, Txid};
use bitcoincore_rpc::RpcApi;
use serde_json::{json, Value};

use super::{classify, RpcSource};
use crate::chain::{BlockSource, ChainError};

/// Confirmations a coinbase output needs before it may be spent (a spend
/// mined in block `tip + 1` needs `tip + 1 - height >= 100`).
pub const COINBASE_MATURITY: u64 = 100;

const NO_UTXO_QUERY: &str = "the node can list neither UTXOs by script (Bitcoin Core >= 0.17 `scantxoutset`) \
     nor coins by address (bcoin REST `/coin/address`, needs bcoin started with `--index-address=true`); \
     use one of those nodes";

fn method_not_found(e: &bitcoincore_rpc::Error) -> bool {
    use bitcoincore_rpc::jsonrpc::Error as J;
    match e {
        bitcoincore_rpc::Error::JsonRpc(J::Rpc(r)) => {
            r.code == -32601 || r.message.to_ascii_lowercase().contains("method not found")
        }
        _ => false,
    }
}

fn mature(coinbase: bool, height: Option<u64>, tip: u64) -> bool {
    match (coinbase, height) {
        (false, _) => true,
        (true, Some(h)) => tip.saturating_add(1).saturating_sub(h) >= COINBASE_MATURITY,
        // A coinbase without a height (in no block?) is never spendable.
        (true, None) => false,
    }
}

fn bad(what: &str, why: impl std::fmt::Display) -> ChainError {
    ChainError::persistent(format!("{what}: unexpected reply ({why})"))
}

/// Parses Bitcoin Core's `scantxoutset` reply: the unspent outputs paying
/// `script`, without coinbase outputs that are not yet mature at the reply's
/// `height` (nodes before v22 send no `coinbase` flag: their outputs all count).
pub fn parse_scantxoutset(reply: &Value, script: &Script) -> Result<Vec<(OutPoint, TxOut)>, ChainError> {
    const WHAT: &str = "scantxoutset";
    if reply.get("success").and_then(Value::as_bool) == Some(false) {
        return Err(ChainError::transient("scantxoutset: the node aborted the scan; try again"));
    }
    let tip = reply.get("height").and_then(Value::as_u64);
    let unspents = reply.get("unspents").and_then(Value::as_array).ok_or_else(|| bad(WHAT, "no `unspents` list"))?;
    let mut out = Vec::with_capacity(unspents.len());
    for u in unspents {
        let txid: Txid = u
            .get("txid")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad(WHAT, "an unspent without a valid `txid`"))?;
        let vout = u.get("vout").and_then(Value::as_u64).and_then(|v| u32::try_from(v).ok());
        let vout = vout.ok_or_else(|| bad(WHAT, "an unspent without a valid `vout`"))?;
        let btc = u.get("amount").and_then(Value::as_f64).ok_or_else(|| bad(WHAT, "an unspent without `amount`"))?;
        let value = Amount::from_btc(btc).map_err(|e| bad(WHAT, format!("amount {btc}: {e}")))?;
        let spk = u.get("scriptPubKey").and_then(Value::as_str).and_then(|s| hex::decode(s).ok());
        if spk.as_deref().is_some_and(|s| s != script.as_bytes()) {
            continue;
        }
        let coinbase = u.get("coinbase").and_then(Value::as_bool).unwrap_or(false);
        let height = u.get("height").and_then(Value::as_u64);
        if coinbase && !mature(coinbase, height, tip.unwrap_or(0)) {
            continue;
        }
        out.push((OutPoint { txid, vout }, TxOut { value, script_pubkey: script.to_owned() }));
    }
    Ok(out)
}

/// Parses bcoin's `GET /coin/address/<addr>` reply (a JSON list of coins with
/// `hash`, `index`, `value` in satoshis, `script` hex, `height` (-1 in the
/// mempool) and `coinbase`): the coins paying `script`, without coinbase
/// outputs not yet mature at `tip`.
pub fn parse_bcoin_coins(reply: &Value, script: &Script, tip: u64) -> Result<Vec<(OutPoint, TxOut)>, ChainError> {
    const WHAT: &str = "bcoin /coin/address";
    let coins = reply.as_array().ok_or_else(|| bad(WHAT, "not a JSON list"))?;
    let mut out = Vec::with_capacity(coins.len());
    for c in coins {
        let txid: Txid = c
            .get("hash")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad(WHAT, "a coin without a valid `hash`"))?;
        let vout = c.get("index").and_then(Value::as_u64).and_then(|v| u32::try_from(v).ok());
        let vout = vout.ok_or_else(|| bad(WHAT, "a coin without a valid `index`"))?;
        let value = c.get("value").and_then(Value::as_u64).ok_or_else(|| bad(WHAT, "a coin without `value`"))?;
        let spk = c.get("script").and_then(Value::as_str).and_then(|s| hex::decode(s).ok());
        if spk.as_deref() != Some(script.as_bytes()) {
            continue;
        }
        let coinbase = c.get("coinbase").and_then(Value::as_bool).unwrap_or(false);
        let height = c.get("height").and_then(Value::as_i64).and_then(|h| u64::try_from(h).ok());
        if !mature(coinbase, height, tip) {
            continue;
        }
        out.push((OutPoint { txid, vout }, TxOut { value: Amount::from_sat(value), script_pubkey: script.to_owned() }));
    }
    Ok(out)
}

/// A fee rate in sat/vB from an estimate in BTC per 1000 vB (what
/// `estimatesmartfee` answers), rounded up; `None` for no estimate (absent,
/// zero, negative or not finite: regtest nodes without history answer so).
pub fn fee_rate_from_btc_per_kvb(btc_per_kvb: Option<f64>) -> Option<u64> {
    let btc = btc_per_kvb.filter(|b| b.is_finite() && *b > 0.0 && *b < 21e6)?;
    let sat_per_kvb = (btc * 1e8).round() as u64;
    Some(sat_per_kvb.div_ceil(1000).max(1))
}

impl RpcSource {
    /// The spendable outputs paying `script`: unspent, and if coinbase, mature
    /// (at least [`COINBASE_MATURITY`] confirmations). Core's `scantxoutset`
    /// first, bcoin's address index if Core's call is unknown to the node.
    pub fn utxos(&self, script: &Script) -> Result<Vec<(OutPoint, TxOut)>, ChainError> {
        let desc = json!([{ "desc": format!("raw({})", hex::encode(script.as_bytes())) }]);
        match self.with_client(true, |c| c.call::<Value>("scantxoutset", &["start".into(), desc.clone()])) {
            Ok(reply) => parse_scantxoutset(&reply, script),
            Err(e) if method_not_found(&e) => self.bcoin_coins(script),
            Err(bitcoincore_rpc::Error::JsonRpc(bitcoincore_rpc::jsonrpc::Error::Rpc(r))) if r.code == -8 => {
                Err(ChainError::transient(format!(
                    "scantxoutset: {} (the node runs one scan at a time: wait for it to finish, or stop it with \
                     `bitcoin-cli scantxoutset abort`, then rerun)",
                    r.message
                )))
            }
            Err(e) => Err(classify("scantxoutset", e)),
        }
    }

    fn bcoin_coins(&self, script: &Script) -> Result<Vec<(OutPoint, TxOut)>, ChainError> {
        // bcoin takes a 40-hex pubkey hash (or script hash) where it takes an address.
        let hash = if script.is_p2pkh() {
            &script.as_bytes()[3..23]
        } else if script.is_p2sh() {
            &script.as_bytes()[2..22]
        } else {
            return Err(ChainError::persistent(format!(
                "bcoin indexes coins by address: script {} is neither P2PKH nor P2SH",
                hex::encode(script.as_bytes())
            )));
        };
        let tip = self.tip_height()?;
        let url = format!("{}/coin/address/{}", self.url.base().trim_end_matches('/'), hex::encode(hash));
        let mut req = minreq::get(&url).with_timeout(super::RPC_TIMEOUT.as_secs());
        if let Some(header) = self.basic_auth_header()? {
            req = req.with_header("Authorization", header);
        }
        let resp = req.send().map_err(|e| ChainError::transient(format!("GET {url}: {e}")))?;
        let body = resp.as_str().unwrap_or("");
        if resp.status_code == 404 {
            return Err(ChainError::persistent(format!("{NO_UTXO_QUERY} (GET {url}: 404)")));
        }
        if resp.status_code != 200 {
            return Err(ChainError::persistent(format!(
                "GET {url}: HTTP {} {}; {NO_UTXO_QUERY}",
                resp.status_code,
                body.chars().take(200).collect::<String>()
            )));
        }
        let reply: Value = serde_json::from_str(body).map_err(|e| bad("bcoin /coin/address", e))?;
        // Without --index-address bcoin answers an empty list: indistinguishable from no coins.
        parse_bcoin_coins(&reply, script, tip)
    }

    fn basic_auth_header(&self) -> Result<Option<String>, ChainError> {
        super::auth::basic_auth_header(&self.auth).map_err(ChainError::persistent)
    }

    /// The node's fee-rate estimate for confirmation within `blocks` blocks,
    /// in sat/vB rounded up (`estimatesmartfee`; Core answers `feerate`,
    /// bcoin `fee`, both BTC/kvB). `Ok(None)` when the node has no estimate.
    pub fn estimate_fee_rate(&self, blocks: u16) -> Result<Option<u64>, ChainError> {
        use bitcoincore_rpc::jsonrpc::Error as J;
        let reply: Value = match self.call("estimatesmartfee", &[blocks.into()]) {
            Ok(v) => v,
            // The node answered but cannot estimate (bcoin without a fee estimator, an old node).
            Err(bitcoincore_rpc::Error::JsonRpc(J::Rpc(_))) => return Ok(None),
            Err(e) => return Err(classify(&format!("estimatesmartfee {blocks}"), e)),
        };
        let btc = reply.get("feerate").or_else(|| reply.get("fee")).and_then(Value::as_f64);
        Ok(fee_rate_from_btc_per_kvb(btc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::hashes::Hash;
    use bitcoin::ScriptBuf;

    fn script() -> ScriptBuf {
        ScriptBuf::new_p2pkh(&bitcoin::PubkeyHash::from_byte_array([7; 20]))
    }

    #[test]
    fn core_scantxoutset_reply() {
        let s = script();
        let hex = hex::encode(s.as_bytes());
        let txid = "11".repeat(32);
        let reply = json!({
            "success": true, "txouts": 4, "height": 200,
            "unspents": [
                {"txid": txid, "vout": 0, "scriptPubKey": hex, "amount": 50.0, "coinbase": true, "height": 101},
                {"txid": txid, "vout": 1, "scriptPubKey": hex, "amount": 50.0, "coinbase": true, "height": 102},
                {"txid": txid, "vout": 2, "scriptPubKey": hex, "amount": 0.00012345, "coinbase": false, "height": 200},
                {"txid": txid, "vout": 3, "scriptPubKey": "00", "amount": 1.0, "height": 150},
            ],
            "total_amount": 101.0
        });
        let got = parse_scantxoutset(&reply, &s).unwrap();
        let vouts: Vec<u32> = got.iter().map(|(o, _)| o.vout).collect();
        // 101: 200 + 1 - 101 = 100 confirmations' worth, mature; 102 is one short.
        assert_eq!(vouts, vec![0, 2]);
        assert_eq!(got[1].1.value, Amount::from_sat(12_345));
        assert_eq!(got[0].1.script_pubkey, s);
        assert!(parse_scantxoutset(&json!({"success": false}), &s).is_err());
        assert!(parse_scantxoutset(&json!({"unspents": [{"vout": 0}]}), &s).is_err());
    }

    #[test]
    fn bcoin_coin_reply() {
        let s = script();
        let hex = hex::encode(s.as_bytes());
        let h = "ab".repeat(32);
        let reply = json!([
            {"version": 1, "height": 50, "value": 5_000_000_000u64, "script": hex, "coinbase": true, "hash": h, "index": 0},
            {"version": 1, "height": 120, "value": 5_000_000_000u64, "script": hex, "coinbase": true, "hash": h, "index": 1},
            {"version": 2, "height": -1, "value": 7_000, "script": hex, "coinbase": false, "hash": h, "index": 2},
            {"version": 2, "height": 10, "value": 9, "script": "6a", "coinbase": false, "hash": h, "index": 3},
        ]);
        let got = parse_bcoin_coins(&reply, &s, 200).unwrap();
        let vouts: Vec<u32> = got.iter().map(|(o, _)| o.vout).collect();
        assert_eq!(vouts, vec![0, 2], "immature coinbase and foreign scripts are left out; mempool coins count");
        assert_eq!(got[1].1.value, Amount::from_sat(7_000));
        assert_eq!(got[0].0.txid.to_string(), h);
        assert!(parse_bcoin_coins(&json!({"error": "x"}), &s, 1).is_err());
    }

    #[test]
    fn fee_rates_round_up_to_sat_per_vb() {
        assert_eq!(fee_rate_from_btc_per_kvb(Some(0.00001)), Some(1));
        assert_eq!(fee_rate_from_btc_per_kvb(Some(0.00010001)), Some(11));
        assert_eq!(fee_rate_from_btc_per_kvb(Some(0.0002)), Some(20));
        assert_eq!(fee_rate_from_btc_per_kvb(Some(0.000000001)), Some(1));
        for none in [None, Some(-1.0), Some(0.0), Some(f64::NAN)] {
            assert_eq!(fee_rate_from_btc_per_kvb(none), None);
        }
    }
}
