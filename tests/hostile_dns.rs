//! The DNS face against a hostile world, through the real binary: a namespace
//! revealed on the chain cannot take an ICANN TLD away from the user.

mod support;

use std::path::Path;
use std::process::Command;

use support::{copy_zones, dig, DevNode};

fn namespaces(data: &Path, extra: &[&str]) -> Vec<serde_json::Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_bns"))
        .arg("namespaces")
        .args(extra)
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap().as_array().unwrap().clone()
}

fn entry<'a>(list: &'a [serde_json::Value], ns: &str) -> &'a serde_json::Value {
    list.iter().find(|v| v["namespace"] == ns).unwrap_or_else(|| panic!("no {ns} in {list:?}"))
}

/// A `com` namespace revealed and made ready on the chain, with google.com
/// registered in it: forwarded (here: REFUSED, no upstream) unless the user
/// opts `com` in; `id` and `btc` are answered by default.
#[test]
fn a_namespace_named_like_an_icann_tld_is_not_answered_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let zones = copy_zones(&dir.path().join("zones"));
    let toml = std::fs::read_to_string(zones.join("namespaces.toml")).unwrap();
    let com = toml.split("[btc]").nth(1).unwrap();
    std::fs::write(zones.join("namespaces.toml"), format!("{toml}\n[com]{com}")).unwrap();
    std::fs::write(zones.join("google.com.zone"), "$ORIGIN google.com.\n$TTL 3600\n@ IN A 192.0.2.66\n").unwrap();
    let data = dir.path().join("data");

    let node = DevNode::start_args(&data, &zones, &["--upstream", "none"]);
    let out = dig(node.dns, &["google.com", "A"]);
    assert!(out.contains("status: REFUSED") && !out.contains("192.0.2.66"), "{out}");
    assert_eq!(dig(node.dns, &["werner.id", "A", "+short"]).trim(), "192.0.2.10");
    assert!(dig(node.dns, &["satoshi.btc", "A"]).contains("status: NOERROR"));
    drop(node);

    let list = namespaces(&data, &[]);
    let com = entry(&list, "com");
    assert_eq!(com["state"], "ready");
    assert_eq!(com["policy"], "icann");
    assert_eq!(com["answered_from_chain"], false);
    assert!(com["why"].as_str().unwrap().contains("ICANN top-level domain"), "{com}");
    let id = entry(&list, "id");
    assert_eq!((id["policy"].as_str(), id["shadows_icann"].as_bool()), (Some("bns"), Some(true)));
    let btc = entry(&list, "btc");
    assert_eq!((btc["answered_from_chain"].as_bool(), btc["shadows_icann"].as_bool()), (Some(true), Some(false)));

    // Opted in, the chain answers .com, and `bns namespaces` says it shadows ICANN.
    let node = DevNode::start_args(&data, &zones, &["--upstream", "none", "--namespace-policy", "com=bns"]);
    assert_eq!(dig(node.dns, &["google.com", "A", "+short"]).trim(), "192.0.2.66");
    drop(node);
    let list = namespaces(&data, &["--namespace-policy", "com=bns"]);
    assert_eq!(entry(&list, "com")["shadows_icann"], true);
}
