//! Connects to a TLS server and takes its certificate and key, checking
//! only that the server holds that key (the handshake signature), not any
//! CA: the chain's TLSA record is the trust. Then matches it to TLSA.

use std::io::Write as _;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::tlsa::Tlsa;

/// The server's end-entity certificate and its public key.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Certificate, DER.
    pub cert: Vec<u8>,
    /// SubjectPublicKeyInfo, DER.
    pub spki: Vec<u8>,
}

impl Seen {
    /// From a certificate in DER.
    pub fn from_cert(cert: &[u8]) -> anyhow::Result<Seen> {
        let der = CertificateDer::from(cert.to_vec());
        let ee = webpki::EndEntityCert::try_from(&der)
            .map_err(|e| anyhow::anyhow!("the server's certificate does not parse: {e:?}"))?;
        Ok(Seen { cert: cert.to_vec(), spki: ee.subject_public_key_info().as_ref().to_vec() })
    }

    /// The first record of `records` this key matches, or why none does.
    pub fn check<'t>(&self, records: &'t [Tlsa]) -> Result<&'t Tlsa, String> {
        if records.is_empty() {
            return Err("no TLSA record".into());
        }
        records.iter().find(|t| t.matches(&self.cert, &self.spki)).ok_or_else(|| {
            let key = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&self.spki));
            let have: Vec<String> = records.iter().map(|t| t.to_string()).collect();
            format!("the server's key (TLSA 3 1 1 {key}) matches none of the name's TLSA records: {}", have.join("; "))
        })
    }
}

/// Accepts any certificate, but checks the handshake is signed by its key.
#[derive(Debug)]
pub struct PinOnly(pub Arc<CryptoProvider>);

impl ServerCertVerifier for PinOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A rustls client config that pins by key only ([`PinOnly`]).
pub fn pin_only_config() -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinOnly(provider)))
        .with_no_client_auth();
    Arc::new(config)
}

/// Connects to `addr` (HOST:PORT) with SNI `name` and returns what the server showed.
pub fn server_key(addr: &str, name: &str, timeout: Duration) -> anyhow::Result<Seen> {
    let target = addr
        .to_socket_addrs()
        .map_err(|e| anyhow::anyhow!("{addr}: {e} (give HOST:PORT)"))?
        .next()
        .ok_or_else(|| anyhow::anyhow!("{addr}: no address"))?;
    let mut tcp =
        TcpStream::connect_timeout(&target, timeout).map_err(|e| anyhow::anyhow!("cannot connect to {addr}: {e}"))?;
    tcp.set_read_timeout(Some(timeout))?;
    tcp.set_write_timeout(Some(timeout))?;
    let sni = ServerName::try_from(name.trim_end_matches('.').to_string())
        .map_err(|_| anyhow::anyhow!("{name:?} is not a host name"))?;
    let mut conn = rustls::ClientConnection::new(pin_only_config(), sni)?;
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).map_err(|e| anyhow::anyhow!("TLS handshake with {addr} failed: {e}"))?;
    }
    let _ = conn.writer().flush();
    let cert = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .ok_or_else(|| anyhow::anyhow!("{addr} sent no certificate"))?;
    Seen::from_cert(cert.as_ref())
}
