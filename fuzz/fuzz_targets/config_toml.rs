//! Arbitrary bytes -> the TOML settings parser the node uses
//! (`bns::config::from_toml`, what `load` runs on a config file) for
//! `bns dev`, `bns node` and the face settings alone. Never panics; what
//! parses has only known top-level keys, and an unknown key put in front of
//! any text is an error.
#![no_main]

use bns::config::{from_toml, known_keys, DevSettings, FaceSettings, NodeSettings};
use libfuzzer_sys::fuzz_target;

/// A key no settings struct has.
const UNKNOWN: &str = "zz-fuzz-unknown-key";

fn check<T>(text: &str)
where
    T: for<'de> serde::Deserialize<'de> + Default + clap::Args + std::fmt::Debug,
{
    if let Ok(settings) = from_toml::<T>(text) {
        let table: toml::Table = toml::from_str(text).expect("settings parsed, so the table does");
        let known = known_keys::<T>();
        for key in table.keys() {
            assert!(known.contains(key), "unknown key {key:?} accepted: {settings:?}");
        }
    }
    let with_unknown = format!("{UNKNOWN} = 1\n{text}");
    assert!(from_toml::<T>(&with_unknown).is_err(), "unknown key accepted in {with_unknown:?}");
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    check::<DevSettings>(text);
    check::<NodeSettings>(text);
    check::<FaceSettings>(text);
});
