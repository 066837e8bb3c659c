//! DNS over TLS (RFC 7858): the same handler as UDP/TCP, behind rustls on its
//! own TCP port (853 by convention; `--dot-addr`).
//!
//! The certificate comes from PEM files ([`CertSource::Files`]) or, by
//! default, is a self-signed one generated on first start for `localhost` and
//! the listen IP and kept in the data directory ([`CertSource::DataDir`]:
//! `dot-cert.pem`, `dot-key.pem` with mode 0600), so restarts present the same
//! certificate and a client can pin its fingerprint ([`DotListener::fingerprint`]).
//!
//! ```text
//! kdig +tls @127.0.0.1 -p 8530 werner.id TXT
//! ```
//!
//! Crypto is rustls 0.23 with the ring provider (the rustls hickory-server 0.26
//! is built against); ALPN `dot`. A connection has [`super::TCP_IDLE_TIMEOUT`]
//! to finish its handshake and between queries.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use sha2::{Digest as _, Sha256};
use tokio::net::TcpListener;
use tracing::info;

use super::DnsServer;

/// File name of the generated certificate inside the data directory.
pub const CERT_FILE: &str = "dot-cert.pem";
/// File name of the generated private key inside the data directory.
pub const KEY_FILE: &str = "dot-key.pem";
/// ALPN protocol id of DNS over TLS.
pub const ALPN_DOT: &[u8] = b"dot";

/// Where the TLS certificate and key come from.
#[derive(Debug, Clone)]
pub enum CertSource {
    /// PEM files given by the user (`dot-cert`, `dot-key`): the certificate
    /// chain (leaf first) and its private key (PKCS#8, PKCS#1 or SEC1).
    Files {
        /// Certificate chain.
        cert: PathBuf,
        /// Private key.
        key: PathBuf,
    },
    /// `dir/dot-cert.pem` + `dir/dot-key.pem`, generated (self-signed) if both
    /// are absent, reused if both are present.
    DataDir(PathBuf),
}

/// Errors setting up DNS over TLS.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A certificate or key file could not be read, written or parsed.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Generating the self-signed certificate failed.
    #[error("cannot generate a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the certificate/key pair.
    #[error("TLS configuration refused: {0}")]
    Config(#[from] rustls::Error),
    /// The listener could not be bound.
    #[error("cannot bind DNS-over-TLS listener on {addr}")]
    Bind {
        /// Address asked for.
        addr: SocketAddr,
        /// Cause.
        #[source]
        source: io::Error,
    },
}

fn file_err(path: &Path, message: impl std::fmt::Display) -> TlsError {
    TlsError::File { path: path.to_path_buf(), message: message.to_string() }
}

/// A bound DoT listener with its TLS configuration, ready to hand to
/// [`DnsServer::with_dot`].
pub struct DotListener {
    listener: TcpListener,
    local_addr: SocketAddr,
    config: Arc<ServerConfig>,
    fingerprint: String,
}

impl std::fmt::Debug for DotListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DotListener")
            .field("local_addr", &self.local_addr)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl DotListener {
    /// Loads (or generates) the certificate, then binds TCP on `addr` (port 0
    /// picks a free one).
    pub async fn bind(addr: SocketAddr, certs: &CertSource) -> Result<DotListener, TlsError> {
        let (chain, key) = match certs {
            CertSource::Files { cert, key } => (read_certs(cert)?, read_key(key)?),
            CertSource::DataDir(dir) => load_or_generate(dir, addr.ip())?,
        };
        let fingerprint = hex::encode(Sha256::digest(chain[0].as_ref()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        config.alpn_protocols = vec![ALPN_DOT.to_vec()];
        let listener = TcpListener::bind(addr).await.map_err(|source| TlsError::Bind { addr, source })?;
        let local_addr = listener.local_addr().map_err(|source| TlsError::Bind { addr, source })?;
        Ok(DotListener { listener, local_addr, config: Arc::new(config), fingerprint })
    }

    /// The address bound (with the real port when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// SHA-256 of the leaf certificate (DER), lowercase hex: what
    /// `openssl x509 -fingerprint -sha256` prints, without colons.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The listener and a TLS acceptor for its connections.
    pub(super) fn into_parts(self) -> (TcpListener, tokio_rustls::TlsAcceptor) {
        info!(local_addr = %self.local_addr, "DNS-over-TLS listening");
        (self.listener, tokio_rustls::TlsAcceptor::from(self.config))
    }
}

impl DnsServer {
    /// Also serves DNS over TLS on `dot` once [`DnsServer::run`] starts.
    pub fn with_dot(mut self, dot: DotListener) -> DnsServer {
        self.dot = Some(dot);
        self
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_err(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_err(path, e))?;
    if chain.is_empty() {
        return Err(file_err(path, "no CERTIFICATE in PEM file"));
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| file_err(path, e))
}

/// Reads `dir/dot-cert.pem` and `dir/dot-key.pem`, or generates both when
/// neither exists (self-signed, for `localhost` and `ip`; an unspecified
/// `ip` becomes 127.0.0.1). One without the other is an error rather than a
/// silent replacement of a certificate clients may have pinned.
pub fn load_or_generate(
    dir: &Path,
    ip: IpAddr,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let (cert_path, key_path) = (dir.join(CERT_FILE), dir.join(KEY_FILE));
    match (cert_path.exists(), key_path.exists()) {
        (true, true) => return Ok((read_certs(&cert_path)?, read_key(&key_path)?)),
        (true, false) => {
            return Err(file_err(&key_path, "missing, but the certificate exists; restore it or delete both"))
        }
        (false, true) => return Err(file_err(&cert_path, "missing, but the key exists; restore it or delete both")),
        (false, false) => {}
    }
    let ip = if ip.is_unspecified() { IpAddr::V4(Ipv4Addr::LOCALHOST) } else { ip };
    let mut sans = vec!["localhost".to_string(), ip.to_string()];
    sans.dedup();
    let mut params = rcgen::CertificateParams::new(sans)?;
    params.distinguished_name.push(rcgen::DnType::CommonName, "bns DNS-over-TLS (self-signed)");
    let key_pair = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&key_pair)?;
    // Key first (0600 from creation), then the certificate; each through a
    // temporary file so a crash never leaves half a PEM behind.
    write_atomic(&key_path, key_pair.serialize_pem().as_bytes(), 0o600)?;
    write_atomic(&cert_path, cert.pem().as_bytes(), 0o644)?;
    info!(cert = %cert_path.display(), "generated a self-signed DNS-over-TLS certificate");
    Ok((read_certs(&cert_path)?, read_key(&key_path)?))
}

fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), TlsError> {
    crate::fsutil::write_durable(path, bytes, Some(mode)).map_err(|e| file_err(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_certificate_is_kept_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let (a, _) = load_or_generate(dir.path(), ip).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "key file mode {mode:o}");
        }
        let (b, _) = load_or_generate(dir.path(), ip).unwrap();
        assert_eq!(a, b, "second start reuses the certificate");

        std::fs::remove_file(dir.path().join(KEY_FILE)).unwrap();
        let err = load_or_generate(dir.path(), ip).unwrap_err().to_string();
        assert!(err.contains("missing"), "{err}");
    }

    #[tokio::test]
    async fn bind_with_pem_files_and_reject_garbage() {
        let dir = tempfile::tempdir().unwrap();
        load_or_generate(dir.path(), "0.0.0.0".parse().unwrap()).unwrap();
        let files = CertSource::Files { cert: dir.path().join(CERT_FILE), key: dir.path().join(KEY_FILE) };
        let dot = DotListener::bind("127.0.0.1:0".parse().unwrap(), &files).await.unwrap();
        assert_ne!(dot.local_addr().port(), 0);
        assert_eq!(dot.fingerprint().len(), 64);

        std::fs::write(dir.path().join("junk.pem"), "not a pem").unwrap();
        let junk = CertSource::Files { cert: dir.path().join("junk.pem"), key: dir.path().join(KEY_FILE) };
        let err = DotListener::bind("127.0.0.1:0".parse().unwrap(), &junk).await.unwrap_err();
        assert!(err.to_string().contains("junk.pem"), "{err}");
    }
}
