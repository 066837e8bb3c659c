//! Connects to a TLS server and takes its certificate and key, checking
//! only that the server holds that key (the handshake signature), not any
//! CA: the chain's TLSA record is the trust. Then matches it to TLSA.

use std::net::{SocketAddr, ToSocketAddrs};
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

/// A rustls client config that pins by key only ([`PinOnly`]), offering `alpn`.
pub fn pin_only_config(alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinOnly(provider)))
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// A TLS connection whose server proved it holds the key of [`Seen`].
pub type Pinned = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

/// Connects to the first of `addrs` that answers, with SNI `name`, and
/// returns what the server showed and the open connection (nothing has been
/// sent on it yet). Each address gets `timeout` for TCP and TLS.
pub async fn connect(
    addrs: &[SocketAddr],
    name: &str,
    alpn: &[&[u8]],
    timeout: Duration,
) -> Result<(Seen, Pinned), String> {
    let sni = ServerName::try_from(name.trim_end_matches('.').to_string())
        .map_err(|_| format!("{name:?} is not a host name"))?;
    let connector = tokio_rustls::TlsConnector::from(pin_only_config(alpn));
    let mut why = format!("{name} has no address");
    for addr in addrs {
        let tcp =
            match within(timeout, tokio::net::TcpStream::connect(addr), || format!("cannot connect to {addr}")).await {
                Ok(tcp) => tcp,
                Err(e) => {
                    why = e;
                    continue;
                }
            };
        let handshake = connector.connect(sni.clone(), tcp);
        let tls = match within(timeout, handshake, || format!("TLS handshake with {addr} failed")).await {
            Ok(tls) => tls,
            Err(e) => {
                why = e;
                continue;
            }
        };
        let seen = match tls.get_ref().1.peer_certificates().and_then(|c| c.first()) {
            Some(cert) => Seen::from_cert(cert.as_ref()).map_err(|e| format!("{addr}: {e}"))?,
            None => return Err(format!("{addr} sent no certificate")),
        };
        return Ok((seen, tls));
    }
    Err(why)
}

/// `step` within `timeout`; the error says which step failed (`what`) and how.
async fn within<T, E: std::fmt::Display>(
    timeout: Duration,
    step: impl std::future::Future<Output = Result<T, E>>,
    what: impl Fn() -> String,
) -> Result<T, String> {
    match tokio::time::timeout(timeout, step).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{}: {e}", what())),
        Err(_) => Err(format!("{}: no answer within {}s", what(), timeout.as_secs())),
    }
}

/// Connects to `addr` (HOST:PORT) with SNI `name` and returns what the server
/// showed ([`connect`] on a runtime of its own, for the command line).
pub fn server_key(addr: &str, name: &str, timeout: Duration) -> anyhow::Result<Seen> {
    let targets: Vec<SocketAddr> =
        addr.to_socket_addrs().map_err(|e| anyhow::anyhow!("{addr}: {e} (give HOST:PORT)"))?.collect();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (seen, _) = rt.block_on(connect(&targets, name, &[], timeout)).map_err(anyhow::Error::msg)?;
    Ok(seen)
}
