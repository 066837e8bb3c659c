//! The owner's DANE tools as a user runs them: `bns tls cert` makes a key,
//! a certificate and the TLSA line; the line goes into the name's zone file
//! on the dev chain; `bns tls verify` against real TLS servers (rustls, on
//! loopback) says yes for the pinned key, no for another key and no for a
//! name without TLSA.

mod support;

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::Command;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use support::DevNode;

/// A TLS server on loopback presenting `cert`/`key` (PEM files) to every
/// client, in a thread that lives as long as the test.
fn tls_server(cert: &Path, key: &Path) -> SocketAddr {
    let cert = CertificateDer::from_pem_file(cert).unwrap();
    let config = support::tls_server_config(cert, PrivateKeyDer::from_pem_file(key).unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut tcp in listener.incoming().flatten() {
            let mut conn = rustls::ServerConnection::new(config.clone()).unwrap();
            while conn.is_handshaking() {
                if conn.complete_io(&mut tcp).is_err() {
                    break;
                }
            }
        }
    });
    addr
}

fn bns(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bns")).args(args).env("RUST_LOG", "warn").output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_key_made_by_bns_tls_cert_and_pinned_on_chain_is_verified_and_another_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let other = dir.path().join("other");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::create_dir_all(&other).unwrap();
    let (ok, line, err) = bns(&["tls", "cert", "werner.id", "--out-dir", keys.to_str().unwrap()]);
    assert!(ok && line.starts_with("_443._tcp IN TLSA 3 1 1 ") && line.trim().len() == 24 + 64, "{line}{err}");
    let key_mode = std::fs::metadata(keys.join("werner.id.key.pem")).unwrap();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&key_mode.permissions()) & 0o777, 0o600);
    let (ok, _, err) = bns(&["tls", "cert", "werner.id", "--out-dir", keys.to_str().unwrap()]);
    assert!(!ok && err.contains("exists"), "never overwrites: {err}");
    assert!(bns(&["tls", "cert", "werner.id", "--out-dir", other.to_str().unwrap()]).0);

    // The name's zone file pins the key: its TLSA line replaced by ours.
    let zones = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(support::repo_zones()).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, zones.path().join(f.file_name().unwrap())).unwrap();
    }
    let zf = zones.path().join("werner.id.zone");
    let text = std::fs::read_to_string(&zf).unwrap();
    let pinned: String = text
        .lines()
        .map(|l| if l.starts_with("_443._tcp") { line.trim().to_string() } else { l.to_string() })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&zf, pinned + "\n").unwrap();
    let data = dir.path().join("data");
    let _node = DevNode::start(&data, zones.path());
    let data_s = data.to_str().unwrap();

    let good = tls_server(&keys.join("werner.id.cert.pem"), &keys.join("werner.id.key.pem"));
    let bad = tls_server(&other.join("werner.id.cert.pem"), &other.join("werner.id.key.pem"));
    let verify = |addr: SocketAddr, name: &str| {
        bns(&["tls", "verify", &addr.to_string(), "--name", name, "--port", "443", "--data-dir", data_s])
    };
    let (ok, out, err) = verify(good, "werner.id");
    assert!(ok && out.starts_with("yes: ") && out.contains(line.trim().rsplit(' ').next().unwrap()), "{out}{err}");
    let (ok, out, _) = verify(bad, "werner.id");
    assert!(!ok && out.starts_with("no: the server's key") && out.contains("matches none"), "{out}");
    let (ok, out, _) = verify(good, "muneeb.id");
    assert!(!ok && out.contains("_443._tcp.muneeb.id does not exist"), "{out}");
    let (ok, _, err) = verify("127.0.0.1:1".parse().unwrap(), "werner.id");
    assert!(!ok && err.contains("cannot connect"), "{err}");
}
