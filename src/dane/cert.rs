//! `bns tls cert NAME`: a new key and self-signed certificate for a BNS
//! name, and the `TLSA 3 1 1` line (SHA-256 of the key) for its zone file.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::tlsa;

/// What [`make`] wrote.
#[derive(Debug)]
pub struct Made {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The zone-file line, relative to the name (`_443._tcp IN TLSA 3 1 1 ...`).
    pub tlsa_line: String,
}

/// Makes a P-256 key and a certificate for `name` (valid for it and
/// `*.name`), written to `dir` as `NAME.cert.pem` and `NAME.key.pem` (0600);
/// never overwrites.
pub fn make(name: &str, port: u16, dir: &Path) -> anyhow::Result<Made> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let (cert_path, key_path) = (dir.join(format!("{name}.cert.pem")), dir.join(format!("{name}.key.pem")));
    for p in [&cert_path, &key_path] {
        if p.exists() {
            anyhow::bail!("{} exists; move it away or pass another --out-dir", p.display());
        }
    }
    let key = rcgen::KeyPair::generate()?;
    let mut params = rcgen::CertificateParams::new(vec![name.clone(), format!("*.{name}")])?;
    params.distinguished_name.push(rcgen::DnType::CommonName, name.clone());
    let cert = params.self_signed(&key)?;
    crate::fsutil::write_durable(&key_path, key.serialize_pem().as_bytes(), Some(0o600))?;
    crate::fsutil::write_durable(&cert_path, cert.pem().as_bytes(), Some(0o644))?;
    let pin = hex::encode(Sha256::digest(key.public_key_der()));
    let rel = tlsa::owner(&name, port);
    let rel = rel.strip_suffix(&format!(".{name}")).unwrap_or(&rel).to_string();
    Ok(Made { cert: cert_path, key: key_path, tlsa_line: format!("{rel} IN TLSA 3 1 1 {pin}") })
}
