//! DNS over TLS (RFC 7858) with a real client: `kdig +tls` against `bns dev
//! --dot-addr`, and the generated certificate surviving a restart.

mod support;

use support::{kdig, repo_zones, DevNode};

fn fingerprint(node: &DevNode) -> String {
    let line = node.output.iter().find(|l| l.starts_with("bns dev: DoT listening on")).expect("DoT line printed");
    line.split("sha256 ").nth(1).expect("fingerprint printed").trim_end_matches(')').to_string()
}

#[test]
fn kdig_over_tls_gets_the_answer_and_a_restart_keeps_the_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start_with(dir.path(), &repo_zones(), &["--dot-addr", "127.0.0.1:0"]);
    let dot = node.dot.expect("DoT address printed");
    assert_ne!(dot.port(), node.dns.port());

    let out = kdig(dot, &["+tls", "werner.id", "TXT"]);
    assert!(out.contains("TLS session"), "kdig did not use TLS: {out}");
    assert!(out.contains("status: NOERROR"), "{out}");
    assert!(out.contains("\"v=bns1\" \"owner=werner\""), "{out}");
    assert!(out.contains("(TCP)"), "{out}");
    let out = kdig(dot, &["+tls", "nobody.id", "A"]);
    assert!(out.contains("status: NXDOMAIN"), "{out}");

    // The certificate is in the data dir, key readable by the owner only.
    let pem = std::fs::read_to_string(dir.path().join("dot-cert.pem")).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("dot-key.pem")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let first = fingerprint(&node);
    node.kill9();

    let node = DevNode::start_with(dir.path(), &repo_zones(), &["--dot-addr", "127.0.0.1:0"]);
    assert_eq!(fingerprint(&node), first, "restart must reuse the certificate");
    let out = kdig(node.dot.unwrap(), &["+tls", "+short", "werner.id", "A"]);
    assert_eq!(out.trim(), "192.0.2.10");
}

#[test]
fn dot_with_configured_pem_files() {
    let dir = tempfile::tempdir().unwrap();
    // Make a key pair in another directory by starting once there.
    let certs = dir.path().join("certs");
    let node = DevNode::start_with(&certs, &repo_zones(), &["--dot-addr", "127.0.0.1:0"]);
    let expected = fingerprint(&node);
    drop(node);
    let (cert, key) = (certs.join("dot-cert.pem"), certs.join("dot-key.pem"));
    let data = dir.path().join("data");
    let node = DevNode::start_with(
        &data,
        &repo_zones(),
        &["--dot-addr", "127.0.0.1:0", "--dot-cert", cert.to_str().unwrap(), "--dot-key", key.to_str().unwrap()],
    );
    assert_eq!(fingerprint(&node), expected);
    assert!(!data.join("dot-cert.pem").exists(), "configured files are used, none generated");
    let out = kdig(node.dot.unwrap(), &["+tls", "+short", "satoshi.btc", "A"]);
    assert_eq!(out.trim(), "198.51.100.1");
}

#[test]
fn generate_names_registers_them_with_zone_files_once() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start_with(dir.path(), &repo_zones(), &["--generate-names", "300"]);
    assert!(node.output.iter().any(|l| l.contains("generated 300/300 names")), "{:?}", node.output);
    for (name, want) in [("n0.gen", "10.0.0.0"), ("n299.gen", "10.0.1.43")] {
        assert_eq!(support::dig(node.dns, &[name, "A", "+short"]).trim(), want);
    }
    assert_eq!(support::dig(node.dns, &["n7.gen", "TXT", "+short"]).trim(), "\"bns-bench n7.gen\"");
    let out = support::dig(node.dns, &["n300.gen", "A"]);
    assert!(out.contains("status: NXDOMAIN"), "{out}");
    node.kill9();

    // Restart with the same flag: nothing generated again.
    let node = DevNode::start_with(dir.path(), &repo_zones(), &["--generate-names", "300"]);
    assert!(!node.output.iter().any(|l| l.contains("generating")), "{:?}", node.output);
    assert_eq!(support::dig(node.dns, &["n42.gen", "A", "+short"]).trim(), "10.0.0.42");
}
