//! The DANE proxy's per-install certificate authority. The browser trusts it
//! once (`bns dane ca` exports it); the proxy signs a short-lived certificate
//! for each BNS name whose server matched the chain's TLSA. Its name
//! constraints permit only the BNS namespaces it was made for and exclude
//! every IP address, so a stolen CA key cannot impersonate `example.com` or
//! an address to a browser that honours RFC 5280 §4.2.1.10.
//!
//! Files in the data dir: `dane-ca.key` (PKCS#8, 0600, never logged),
//! `dane-ca.pem` (what users install) and `dane-ca.namespaces` (one id per
//! line: the constraints, so a reload rebuilds the same issuer).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context as _};
use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DnType, ExtendedKeyUsagePurpose, GeneralSubtree, IsCa, KeyPair,
    KeyUsagePurpose, NameConstraints, SanType, SerialNumber,
};
use ring::rand::SecureRandom as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};

/// The CA key, PKCS#8 PEM, 0600.
pub const CA_KEY_FILE: &str = "dane-ca.key";
/// The CA certificate, PEM: what a browser imports.
pub const CA_CERT_FILE: &str = "dane-ca.pem";
/// The namespaces the CA is constrained to, one per line.
pub const CA_NAMESPACES_FILE: &str = "dane-ca.namespaces";
/// How long a certificate the proxy signs for a name is valid.
pub const LEAF_VALIDITY: Duration = Duration::from_secs(7 * 24 * 3600);

/// A loaded CA: it signs certificates for names under its namespaces.
pub struct LocalCa {
    key: KeyPair,
    issuer: rcgen::Certificate,
    pem: String,
    namespaces: Vec<String>,
    /// One key for every certificate this CA signs while loaded.
    leaf_key: KeyPair,
}

impl std::fmt::Debug for LocalCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCa").field("namespaces", &self.namespaces).finish_non_exhaustive()
    }
}

/// Whether `id` can be a name constraint and a browser host's last label.
pub fn usable_namespace(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 63
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
        && !id.ends_with('-')
}

fn paths(dir: &Path) -> [PathBuf; 3] {
    [dir.join(CA_KEY_FILE), dir.join(CA_CERT_FILE), dir.join(CA_NAMESPACES_FILE)]
}

fn serial() -> anyhow::Result<SerialNumber> {
    let mut b = [0u8; 16];
    ring::rand::SystemRandom::new().fill(&mut b).map_err(|_| anyhow::anyhow!("no system randomness"))?;
    b[0] = (b[0] & 0x7f) | 0x01; // positive, 16 bytes
    Ok(SerialNumber::from(b.to_vec()))
}

/// The CA's parameters: a function of its key and namespaces only, so the
/// issuer rebuilt at every load has the subject the stored certificate has.
fn ca_params(key: &KeyPair, namespaces: &[String]) -> anyhow::Result<CertificateParams> {
    let mut p = CertificateParams::default();
    let install = hex::encode(&Sha256::digest(key.public_key_der())[..8]);
    p.distinguished_name.push(DnType::CommonName, format!("bns local DANE CA {install}"));
    p.distinguished_name.push(DnType::OrganizationName, "bns (this install only)");
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    p.name_constraints = Some(NameConstraints {
        permitted_subtrees: namespaces.iter().map(|n| GeneralSubtree::DnsName(n.clone())).collect(),
        excluded_subtrees: vec![
            GeneralSubtree::IpAddress(CidrSubnet::V4([0; 4], [0; 4])),
            GeneralSubtree::IpAddress(CidrSubnet::V6([0; 16], [0; 16])),
        ],
    });
    p.not_before = rcgen::date_time_ymd(2025, 1, 1);
    p.not_after = rcgen::date_time_ymd(2045, 1, 1);
    Ok(p)
}

impl LocalCa {
    /// The CA in `dir`, if one was made there.
    pub fn load(dir: &Path) -> anyhow::Result<Option<LocalCa>> {
        let [key_path, cert_path, ns_path] = paths(dir);
        if !key_path.exists() {
            return Ok(None);
        }
        let read = |p: &Path| std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()));
        let key = KeyPair::from_pem(&read(&key_path)?).map_err(|e| {
            anyhow::anyhow!("{} is not a PKCS#8 key ({e}); remove it and run `bns dane ca`", key_path.display())
        })?;
        let pem = read(&cert_path)?;
        let namespaces: Vec<String> =
            read(&ns_path)?.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect();
        if let Some(bad) = namespaces.iter().find(|n| !usable_namespace(n)) {
            bail!("{}: {bad:?} is not a namespace id; run `bns dane ca --renew`", ns_path.display());
        }
        let issuer = ca_params(&key, &namespaces)?.self_signed(&key)?;
        Ok(Some(LocalCa { key, issuer, pem, namespaces, leaf_key: KeyPair::generate()? }))
    }

    /// Makes a new CA for `namespaces` in `dir`, replacing any there (whose
    /// certificate browsers then no longer need).
    pub fn create(dir: &Path, namespaces: &[String]) -> anyhow::Result<LocalCa> {
        let mut namespaces: Vec<String> = namespaces.iter().filter(|n| usable_namespace(n)).cloned().collect();
        namespaces.sort();
        namespaces.dedup();
        if namespaces.is_empty() {
            bail!("no namespace to constrain the DANE CA to: the index has no namespace whose DNS policy is `bns` yet");
        }
        let key = KeyPair::generate()?;
        let mut params = ca_params(&key, &namespaces)?;
        params.serial_number = Some(serial()?);
        let cert = params.self_signed(&key)?;
        let [key_path, cert_path, ns_path] = paths(dir);
        // The key last: `load` reads a CA whose key exists.
        crate::fsutil::write_durable(&ns_path, format!("{}\n", namespaces.join("\n")).as_bytes(), Some(0o644))?;
        crate::fsutil::write_durable(&cert_path, cert.pem().as_bytes(), Some(0o644))?;
        crate::fsutil::write_durable(&key_path, key.serialize_pem().as_bytes(), Some(0o600))?;
        let issuer = ca_params(&key, &namespaces)?.self_signed(&key)?;
        Ok(LocalCa { key, issuer, pem: cert.pem(), namespaces, leaf_key: KeyPair::generate()? })
    }

    /// The CA in `dir`, made for `namespaces` if there is none; `true` if made now.
    pub fn load_or_create(dir: &Path, namespaces: &[String]) -> anyhow::Result<(LocalCa, bool)> {
        match LocalCa::load(dir)? {
            Some(ca) => Ok((ca, false)),
            None => Ok((LocalCa::create(dir, namespaces)?, true)),
        }
    }

    /// The certificate browsers import, PEM.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// The namespaces it may sign for.
    pub fn namespaces(&self) -> &[String] {
        &self.namespaces
    }

    /// Whether a certificate for `host` falls inside the name constraints.
    pub fn covers(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.namespaces.iter().any(|n| host == *n || host.strip_suffix(n.as_str()).is_some_and(|h| h.ends_with('.')))
    }

    /// Signs a certificate for `name` alone (valid from an hour ago for
    /// [`LEAF_VALIDITY`]), with the key this CA uses for all of them.
    /// Signs any name: callers check [`LocalCa::covers`] (outside it, a
    /// browser that honours name constraints rejects the certificate).
    pub fn issue(&self, name: &str) -> anyhow::Result<(CertificateDer<'static>, PrivateKeyDer<'static>)> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let mut p = CertificateParams::default();
        p.subject_alt_names = vec![SanType::DnsName(name.clone().try_into()?)];
        p.distinguished_name.push(DnType::CommonName, name);
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        p.use_authority_key_identifier_extension = true;
        p.serial_number = Some(serial()?);
        let now = SystemTime::now();
        p.not_before = (now - Duration::from_secs(3600)).into();
        p.not_after = (now + LEAF_VALIDITY).into();
        let cert = p.signed_by(&self.leaf_key, &self.issuer, &self.key)?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.leaf_key.serialize_der()));
        Ok((cert.der().clone(), key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::{pem::PemObject as _, UnixTime};

    /// Checks `leaf` against the stored CA certificate as webpki does for a
    /// TLS client (path, validity, EKU, name constraints).
    fn verify(ca_pem: &str, leaf: &CertificateDer<'_>) -> Result<(), webpki::Error> {
        let ca = CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap();
        let anchor = webpki::anchor_from_trusted_cert(&ca).unwrap();
        let ee = webpki::EndEntityCert::try_from(leaf).unwrap();
        let now = UnixTime::now();
        ee.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &[anchor],
            &[],
            now,
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )
        .map(|_| ())
    }

    #[test]
    fn a_reloaded_ca_signs_names_under_its_namespaces_only() {
        let dir = tempfile::tempdir().unwrap();
        assert!(LocalCa::load(dir.path()).unwrap().is_none());
        let ns = vec!["id".to_string(), "btc".into(), "Bad_ns".into(), "id".into()];
        let (made, fresh) = LocalCa::load_or_create(dir.path(), &ns).unwrap();
        assert!(fresh);
        assert_eq!(made.namespaces(), ["btc", "id"], "sorted, deduplicated, unusable ids left out");
        let mode = std::fs::metadata(dir.path().join(CA_KEY_FILE)).unwrap();
        assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777, 0o600);

        // A reload (a restart) signs leaves that chain to the certificate made at first.
        let (ca, fresh) = LocalCa::load_or_create(dir.path(), &[]).unwrap();
        assert!(!fresh);
        assert_eq!(ca.pem(), made.pem());
        for name in ["werner.id", "sub.werner.id", "hal.btc", "id"] {
            assert!(ca.covers(name), "{name}");
            verify(ca.pem(), &ca.issue(name).unwrap().0).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        }
        for name in ["example.com", "notid", "werner.idx", "btc.com"] {
            assert!(!ca.covers(name), "{name}");
            let e = verify(ca.pem(), &ca.issue(name).unwrap().0).unwrap_err();
            assert!(matches!(e, webpki::Error::NameConstraintViolation), "{name}: {e:?}");
        }
        // Another install's CA is not an issuer of these.
        let other = tempfile::tempdir().unwrap();
        let stranger = LocalCa::create(other.path(), &ns).unwrap();
        assert!(verify(stranger.pem(), &ca.issue("werner.id").unwrap().0).is_err());
    }

    #[test]
    fn no_namespace_or_a_damaged_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = LocalCa::create(dir.path(), &["Not Usable".into()]).unwrap_err().to_string();
        assert!(e.contains("no namespace"), "{e}");
        LocalCa::create(dir.path(), &["id".into()]).unwrap();
        std::fs::write(dir.path().join(CA_NAMESPACES_FILE), "id\n../x\n").unwrap();
        let e = LocalCa::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("--renew"), "{e}");
        std::fs::write(dir.path().join(CA_KEY_FILE), "junk").unwrap();
        let e = LocalCa::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("not a PKCS#8 key"), "{e}");
    }
}
